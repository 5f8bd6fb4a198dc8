"""The sanity checks around each measurement: the trigger counters of a
variant's server (trigger_counters) and the check that its trigger did, or
did not, run (check_after_measurement)."""

from .common import CHECK_KEY, BenchError, log
from .resp import pairs


def trigger_counters(variant, client):
    """The counters the checks compare before and after a measurement:
    {"triggered": n, "failed": n}, summed over the server's triggers, plus
    "libraries" for our module. Empty for the variants without counters."""
    if variant.kind == "wasm":
        info = client.info("triggers")
        return {"triggered": int(info["triggers_num_triggered"]),
                "failed": int(info["triggers_num_failed"]),
                "libraries": int(info["triggers_libraries"]),
                "outbox": int(info.get("triggers_outbox_appended", 0)),
                "outbox_failed": int(info.get("triggers_outbox_failed", 0))}
    if variant.kind == "gears":
        triggered = failed = 0
        for library in client.command("TFUNCTION", "LIST", "vvv"):
            for trigger in pairs(library)["keyspace_triggers"]:
                stats = pairs(trigger)
                triggered += stats["num_trigger"]
                failed += stats["num_failed"]
        return {"triggered": triggered, "failed": failed}
    return {}


def check_after_measurement(variant, client, before, requests):
    """Checks that the variant's trigger did (or did not) run during the
    measurement. Raises BenchError with a clear message if not."""
    after = trigger_counters(variant, client)
    name = f"({variant.letter}) {variant.description}"
    if "failed" in after and after["failed"] != before["failed"]:
        raise BenchError(f"{name}: {after['failed'] - before['failed']} trigger executions "
                         "failed during the measurement")
    if variant.kind == "wasm" and not variant.library and after["libraries"] != 0:
        raise BenchError(f"{name}: {after['libraries']} libraries loaded, expected none")
    if variant.library == "empty":
        grew = after["triggered"] - before["triggered"]
        if grew <= 0:
            raise BenchError(f"{name}: the empty trigger did not run "
                             f"(num_triggered stayed at {after['triggered']})")
        if grew < requests:
            log(f"  note: {name}: num_triggered grew by {grew} for {requests} requests")
    if variant.library == "never_matches":
        if after["triggered"] != 0:
            raise BenchError(f"{name}: the never-matching trigger ran "
                             f"{after['triggered']} times")
        if client.command("EXISTS", "never:matches:count") != 0:
            raise BenchError(f"{name}: never:matches:count exists: the trigger ran")
    # (i), (j) and (k) write an entry for each hash event: only the HSET
    # workloads have them.
    hashes = client.command("EXISTS", "h:000000000001") or client.command("SCAN", 0, "MATCH",
                                                                          "h:*", "COUNT", 1000)[1]
    if variant.rule or variant.library == "outbox_append":
        appended = after["outbox"] - before["outbox"]
        failed = after["outbox_failed"] - before["outbox_failed"]
        if failed or (hashes and appended <= 0):
            raise BenchError(f"{name}: the outbox got {appended} entries, {failed} failed")
    if variant.library == "xadd_itself" and hashes and client.command("XLEN", "bench:events") == 0:
        raise BenchError(f"{name}: the trigger wrote nothing to bench:events")
    if variant.stamps:
        client.command("DEL", CHECK_KEY)
        client.command("HSET", CHECK_KEY, "f", "v")
        stamp = client.command("HGET", CHECK_KEY, "__last_updated__")
        if stamp is None:
            raise BenchError(f"{name}: HSET {CHECK_KEY} did not get a __last_updated__ field")

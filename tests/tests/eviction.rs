//! Triggers and `maxmemory`. A trigger's writes are part of its command's
//! effect, like the command's own: `run` does not honour `maxmemory` (its
//! calls do not carry the `M` flag), so a trigger never fails a command's
//! event for lack of memory, and what it adds is reclaimed by the evictions
//! that follow. A trigger on `evicted` that writes runs for every evicted
//! key, each eviction pays for its write, and memory stays bounded.

use wasm_triggers_tests::*;

on_all_servers!(fn every_eviction_fires_and_memory_stays_bounded(server) {
    let mut con = server.connect();
    load(&mut con, "recorder");
    // Only the cache keys (with a TTL) are evicted; the log is kept whole.
    let limit = limit_memory_of_volatile_keys(&mut con, 2 << 20);

    let value = "v".repeat(1024);
    for chunk in 0..30 {
        let mut pipe = redis::pipe();
        for i in 0..200 {
            let key = format!("cache:{}", chunk * 200 + i);
            pipe.cmd("SET").arg(key).arg(&value).arg("EX").arg(3600).ignore();
        }
        let () = pipe.query(&mut con).expect("SETs");
    }
    // The log is not evictable: it may take the memory the cache gave up,
    // but the total stays at the limit, give or take a write.
    let used = info_number(&mut con, "memory", "used_memory");
    assert!(used <= limit + (64 << 10), "used {used}, limit {limit}");
    // Any command may evict before it runs: evictions are stopped before
    // they are counted.
    let _: String = query(&mut con, &["CONFIG", "SET", "maxmemory", "0"]);
    let evicted = info_number(&mut con, "stats", "evicted_keys");
    assert!(evicted > 1000, "{evicted} keys evicted");
    let logged: i64 = query(&mut con, &["LLEN", "log:evicted_only"]);
    assert_eq!(logged, evicted, "every eviction fired the trigger once");
    assert_eq!(stat(&mut con, "recorder", "evicted_only", "num_failed"), 0);
    let pong: String = query(&mut con, &["PING"]);
    assert_eq!(pong, "PONG");
});

//! A library's configuration (`TRIGGER LOAD CONFIG <json>`): one build of
//! `expired_orders`, loaded with another prefix, without a rebuild. The
//! configuration is listed, checked, saved (RDB and AOF), replicated, and
//! part of `REPLACE`'s no-op check.

use wasm_triggers_tests::*;

fn load_with(con: &mut Connection, config: Option<&str>) -> redis::RedisResult<String> {
    let mut cmd = redis::cmd("TRIGGER");
    cmd.arg("LOAD").arg("REPLACE");
    if let Some(config) = config {
        cmd.arg("CONFIG").arg(config);
    }
    cmd.arg(wasm("expired_orders")).query(con)
}

/// The library's `config` and its trigger's `prefix`, from `TRIGGER LIST`.
fn listed(con: &mut Connection) -> (String, String) {
    let library = libraries(con)
        .into_iter()
        .find(|l| text(&l["name"]) == "expired_orders");
    let library = library.expect("expired_orders is loaded");
    let trigger = as_map(&array(&library["triggers"])[0]);
    (text(&library["config"]), text(&trigger["prefix"]))
}

/// The orders `expired_orders` recorded, in order.
fn orders(con: &mut Connection) -> Vec<String> {
    outbox_entries(con)
        .iter()
        .map(|e| e.field("order").to_string())
        .collect()
}

on_all_servers!(fn one_build_runs_with_another_prefix(server) {
    let mut con = server.connect();
    // Without a configuration: the default prefix.
    load_with(&mut con, None).expect("TRIGGER LOAD");
    assert_eq!(listed(&mut con), (String::new(), "checkout:".into()));
    // The same bytes, configured.
    let config = r#"{"prefix": "basket:"}"#;
    load_with(&mut con, Some(config)).expect("TRIGGER LOAD CONFIG");
    assert_eq!(listed(&mut con), (config.into(), "basket:".into()));
    let _: String = query(&mut con, &["SET", "basket:7", "cart", "PX", "10"]);
    let _: String = query(&mut con, &["SET", "checkout:8", "cart", "PX", "10"]);
    eventually("basket:7 expired and recorded", || orders(&mut server.connect()) == ["7"]);
    // Both keys are gone by now; only the configured prefix fired.
    eventually("checkout:8 expired too", || {
        let n: i64 = query(&mut server.connect(), &["DBSIZE"]);
        n == 1 // the outbox stream
    });
    assert_eq!(orders(&mut con), ["7"]);
    // REPLACE with the same configuration changes nothing (the statistics stay).
    load_with(&mut con, Some(config)).expect("the same again");
    assert_eq!(stat(&mut con, "expired_orders", "order_expired", "num_success"), 1);
});

on_all_servers!(fn a_bad_configuration_is_refused_and_changes_nothing(server) {
    let mut con = server.connect();
    load_with(&mut con, Some(r#"{"prefix": "basket:"}"#)).expect("TRIGGER LOAD");
    let before = listed(&mut con);
    for (config, expected) in [
        ("not json", "CONFIG must be a JSON object"),
        ("[1, 2]", "CONFIG must be a JSON object"),
        (r#"{"prefix": 5}"#, "the library's configuration: invalid type: integer `5`, expected a string"),
    ] {
        let error = load_with(&mut con, Some(config)).expect_err(config).to_string();
        assert!(error.contains(expected), "{config}: {error}");
        assert_eq!(listed(&mut con), before, "{config} changed the library");
    }
});

on_each_flavor!(fn the_configuration_is_saved_and_replicated(flavor) {
    let mut server = Server::start_with(flavor, &["--appendonly", "yes"]);
    let mut con = server.connect();
    let config = r#"{"prefix": "basket:"}"#;
    load_with(&mut con, Some(config)).expect("TRIGGER LOAD CONFIG");
    let expected = (config.to_string(), "basket:".to_string());
    // RDB (format 5).
    let _: String = query(&mut con, &["DEBUG", "RELOAD"]);
    assert_eq!(listed(&mut con), expected, "after DEBUG RELOAD");
    // A replica.
    let replica = Server::start(flavor);
    replicaof(&replica, &server);
    eventually("the library on the replica", || !libraries(&mut replica.connect()).is_empty());
    assert_eq!(listed(&mut replica.connect()), expected, "on the replica");
    // The AOF: a change goes there as TRIGGER LOAD … CONFIG, and comes back
    // with a restart.
    let changed = r#"{"prefix": "cart:"}"#;
    load_with(&mut con, Some(changed)).expect("TRIGGER LOAD CONFIG");
    let aof = aof_commands(&server);
    assert!(
        aof.iter().any(|c| c.first().is_some_and(|a| a.eq_ignore_ascii_case("trigger"))
            && c.iter().any(|a| a.eq_ignore_ascii_case("config"))
            && c.iter().any(|a| a == changed)),
        "TRIGGER LOAD … CONFIG in the AOF: {aof:?}"
    );
    server.restart();
    assert_eq!(
        listed(&mut server.connect()),
        (changed.to_string(), "cart:".to_string()),
        "after a restart from the AOF"
    );
});

// In a cluster, the configuration travels with the code to every node,
// and a node that pulls the whole set gets it too.
on_each_flavor!(fn the_configuration_reaches_every_cluster_node(flavor) {
    let cluster = Cluster::start(flavor, 3, 0);
    let config = r#"{"prefix": "basket:"}"#;
    load_with(&mut cluster.nodes[0].connect(), Some(config)).expect("TRIGGER LOAD CONFIG");
    for node in &cluster.nodes {
        eventually("the library on every node", || !libraries(&mut node.connect()).is_empty());
        assert_eq!(listed(&mut node.connect()), (config.to_string(), "basket:".to_string()));
    }
});

//! What a trigger's own calls raise: its writes (and its reads' `keymiss`)
//! fire no trigger, but a key that expires because the trigger read it is
//! an expiry like any other, and fires `expired` triggers once the trigger
//! returns.

use wasm_triggers_tests::*;

on_all_servers!(fn an_expiry_inside_a_trigger_fires_after_it(server) {
    let mut con = server.connect();
    for library in ["reader", "expired_orders", "recorder"] {
        load(&mut con, library);
    }
    // Only the trigger's read may expire the order.
    let _: String = query(&mut con, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let _: String = query(&mut con, &["SET", "checkout:42", "cart", "PX", "20"]);
    std::thread::sleep(std::time::Duration::from_millis(50));
    let exists: i64 = query(&mut con, &["DBSIZE"]);
    assert_eq!(exists, 1, "the order is still in the keyspace, past its expiry");

    let _: String = query(&mut con, &["SET", "read:go", "checkout:42"]);
    assert_eq!(stat(&mut con, "reader", "reader", "num_success"), 1);
    // The GET inside the trigger expired the order: recorded.
    let orders: Vec<String> = outbox_entries(&mut con)
        .iter()
        .map(|e| e.field("order").to_string())
        .collect();
    assert_eq!(orders, ["42"], "the order's expiry was recorded");
    // The trigger's own write to user:from_trigger fired nothing.
    let value: String = query(&mut con, &["GET", "user:from_trigger"]);
    assert_eq!(value, "1");
    assert!(list(&mut con, "log:by_prefix").is_empty(), "a trigger's write fired a trigger");
});

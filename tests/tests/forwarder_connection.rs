//! The forwarder's connection to a real broker: `amqps://` with the
//! broker's CA and a client certificate, each missing piece a clear error
//! that keeps the backlog; and a clean close at `SHUTDOWN`.

use lapin::types::FieldTable;
use wasm_triggers_tests::forwarding::*;
use wasm_triggers_tests::*;

// A broker that serves TLS with a certificate of its own CA and asks the
// client for one: without the CA, without a client certificate, with a
// certificate but no key, the error says why and entries wait; with all
// three, every entry arrives.
on_each_flavor!(fn amqps_with_a_ca_and_a_client_certificate(flavor) {
    let certificates = Certificates::generate();
    let broker = Broker::start_with_tls(&certificates);
    let (server, client) = forwarding(flavor, &broker, "key_evt_amqp", FieldTable::default());
    let mut con = server.connect();
    let tls_port = broker.tls_port.expect("a TLS port");
    let url = format!("amqps://guest:guest@127.0.0.1:{tls_port}/%2f");
    let path = |p: &std::path::Path| p.display().to_string();
    let steps = [
        ("triggers.amqp-url", url.clone(), "UnknownIssuer"),
        ("triggers.amqp-tls-ca-file", path(&certificates.ca), "CertificateRequired"),
        ("triggers.amqp-tls-cert-file", path(&certificates.client_cert), "go together"),
    ];
    let mut written = 0;
    for (setting, value, why) in &steps {
        let _: String = query(&mut con, &["CONFIG", "SET", setting, value]);
        writes_wait_and_say_why(&server, &mut con, &mut written, why);
    }
    assert!(client.take(QUEUE).is_empty());
    let key = path(&certificates.client_key);
    let _: String = query(&mut con, &["CONFIG", "SET", "triggers.amqp-tls-key-file", &key]);
    let got = receive(&server, &client, written);
    assert_in_order_per_stream(&got, written);
    assert_eq!(forwarder_info(&mut con, "state"), "connected");
    assert!(forwarder_info(&mut con, "url").starts_with("amqps://guest:***@"));
});

// SHUTDOWN closes the connection as AMQP says (the broker logs no
// dropped connection), after the last entries were confirmed.
on_each_flavor!(fn shutdown_closes_the_connection(flavor) {
    let broker = Broker::start();
    let (mut server, client) = forwarding(flavor, &broker, "key_evt_amqp", FieldTable::default());
    let mut con = server.connect();
    write(&mut con, 0..20);
    receive(&server, &client, 20);
    eventually("the broker saw the connection", || {
        broker.log().contains("wasm-triggers forwarder")
    });
    let started = std::time::Instant::now();
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut con);
    eventually("the server gone", || !server.is_alive());
    eprintln!("SHUTDOWN took {:?}", started.elapsed());
    // The broker logs either the close or the drop of the connection.
    let forwarder = || {
        broker
            .log()
            .lines()
            .filter(|l| l.contains("wasm-triggers forwarder") || l.contains("unexpectedly closed"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    eventually("the broker saw the connection end", || {
        forwarder().iter().any(|l| l.contains("closing AMQP connection") || l.contains("unexpectedly"))
    });
    let lines = forwarder();
    assert!(lines.iter().any(|l| l.contains("closing AMQP connection")), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("unexpectedly")), "{lines:#?}");
});

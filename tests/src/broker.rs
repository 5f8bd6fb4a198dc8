//! A real RabbitMQ broker for the tests: Debian's `rabbitmq-server`
//! (installed by `scripts/setup.sh`), started unprivileged in a temporary
//! directory on free loopback ports, with its own `epmd`; killed on drop.
//! And a client (lapin) that binds a queue and reads what reached it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions, QueuePurgeOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

use crate::{free_port, Certificates};

const RABBITMQ: &str = "/usr/lib/rabbitmq/bin";

/// A broker, killed with its `epmd` on drop.
pub struct Broker {
    pub port: u16,
    /// Where it serves `amqps://`, if started with [`Broker::start_with_tls`].
    pub tls_port: Option<u16>,
    node: String,
    epmd_port: u16,
    dir: tempfile::TempDir,
    epmd: Child,
    server: Option<Child>,
}

impl Broker {
    /// Starts a broker and waits until it serves AMQP.
    pub fn start() -> Broker {
        Broker::launch(None)
    }

    /// A broker that also serves `amqps://` on [`Broker::tls_port`], with
    /// the server certificate of `certificates`, and that refuses a TLS
    /// client without a certificate of their CA.
    pub fn start_with_tls(certificates: &Certificates) -> Broker {
        Broker::launch(Some(certificates))
    }

    /// Starts a broker on ports found free. Another test's server may take
    /// one of them before the broker binds it (the broker then exits while
    /// it boots): then it starts again on other ports.
    fn launch(tls: Option<&Certificates>) -> Broker {
        assert!(
            Path::new(RABBITMQ).join("rabbitmq-server").exists(),
            "RabbitMQ is not installed: run scripts/setup.sh"
        );
        let mut last_error = String::new();
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("a temporary directory");
            std::fs::write(dir.path().join("plugins"), "[].\n").expect("the plugins file");
            let epmd_port = free_port();
            let epmd = Command::new(epmd_binary())
                .args(["-port", &epmd_port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("epmd");
            let node = format!("t{}@localhost", free_port());
            let tls_port = tls.map(|certificates| {
                let port = free_port();
                let config = format!(
                    "listeners.ssl.1 = 127.0.0.1:{port}\n\
                     ssl_options.cacertfile = {}\n\
                     ssl_options.certfile = {}\n\
                     ssl_options.keyfile = {}\n\
                     ssl_options.verify = verify_peer\n\
                     ssl_options.fail_if_no_peer_cert = true\n",
                    certificates.ca.display(),
                    certificates.server_cert.display(),
                    certificates.server_key.display(),
                );
                std::fs::write(dir.path().join("rabbitmq.conf"), config).expect("the config file");
                port
            });
            let mut broker = Broker {
                port: free_port(),
                tls_port,
                node,
                epmd_port,
                dir,
                epmd,
                server: None,
            };
            match broker.boot() {
                Ok(()) => return broker,
                // Dropping it stops what it started.
                Err(e) => {
                    eprintln!("RabbitMQ did not start; again on other ports: {e}");
                    last_error = e;
                }
            }
        }
        panic!("RabbitMQ did not start in 5 tries, each on other ports:\n{last_error}");
    }

    fn env(&self, command: &mut Command) {
        let dir = self.dir.path();
        // An Erlang VM that crashes writes erl_crash.dump in its working
        // directory: the broker's own.
        command
            .current_dir(dir)
            .env("HOME", dir)
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("plugins"))
            .env("RABBITMQ_DIST_PORT", free_port().to_string())
            .env("ERL_EPMD_PORT", self.epmd_port.to_string());
        if self.tls_port.is_some() {
            command.env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq.conf"));
        }
    }

    /// Starts the stopped broker again, with the same data and AMQP port,
    /// and waits for it. Its distribution port is chosen anew on each try.
    pub fn start_server(&mut self) {
        let mut last_error = String::new();
        for _ in 0..5 {
            match self.boot() {
                Ok(()) => return,
                Err(e) => last_error = e,
            }
        }
        panic!("RabbitMQ did not start again in 5 tries:\n{last_error}");
    }

    /// Starts the broker's server and waits until it serves AMQP. An error
    /// if it (or its `epmd`) exits first, as when a port it was given has
    /// been taken; the server is then stopped.
    fn boot(&mut self) -> Result<(), String> {
        let mut command = Command::new(Path::new(RABBITMQ).join("rabbitmq-server"));
        self.env(&mut command);
        let log = std::fs::File::create(self.dir.path().join("out.log")).expect("a log file");
        let server = command
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("rabbitmq-server");
        self.server = Some(server);
        let result = self.wait_ready();
        if result.is_err() {
            self.kill_server();
        }
        result
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        // The port opens before the broker serves: wait for a connection.
        // Starting takes from 3 s to a minute on a busy 2-core machine.
        loop {
            if let Some(exited) = self.exited() {
                return Err(exited);
            }
            let why_not = match std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                Err(e) => e.to_string(),
                Ok(_) => {
                    let url = self.url();
                    match block_on(async move {
                        tokio::time::timeout(
                            Duration::from_secs(5),
                            Connection::connect(&url, ConnectionProperties::default()),
                        )
                        .await
                    }) {
                        Ok(Ok(_)) => return Ok(()),
                        Ok(Err(e)) => e.to_string(),
                        Err(_) => "no answer in 5 s".to_string(),
                    }
                }
            };
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "RabbitMQ did not serve AMQP in 180 s ({}):\n{}",
                why_not,
                self.out_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Why the server or its `epmd` is gone, if one of them is.
    fn exited(&mut self) -> Option<String> {
        if let Ok(Some(status)) = self.epmd.try_wait() {
            return Some(format!("epmd exited ({status})"));
        }
        let server = self.server.as_mut()?;
        match server.try_wait() {
            Ok(Some(status)) => Some(format!(
                "rabbitmq-server exited ({status}) while it started:\n{}",
                self.out_log()
            )),
            _ => None,
        }
    }

    fn out_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("out.log")).unwrap_or_default()
    }

    /// Stops the server process and the Erlang VM it started.
    fn kill_server(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
        // The Erlang VM runs in a child of the script: stop it by its node.
        let mut command = Command::new(Path::new(RABBITMQ).join("rabbitmqctl"));
        self.env(&mut command);
        let _ = command.args(["-n", &self.node, "stop"]).output();
    }

    /// Stops the broker (its data stays), as an outage.
    pub fn stop_server(&mut self) {
        let mut command = Command::new(Path::new(RABBITMQ).join("rabbitmqctl"));
        self.env(&mut command);
        let _ = command.args(["-n", &self.node, "stop"]).output();
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the broker logged so far.
    pub fn log(&self) -> String {
        let mut log = String::new();
        for entry in std::fs::read_dir(self.dir.path().join("log"))
            .into_iter()
            .flatten()
            .flatten()
        {
            log += &std::fs::read_to_string(entry.path()).unwrap_or_default();
        }
        log
    }

    /// The URL with the default user, for `triggers.amqp-url`.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// A client connection and channel.
    pub fn client(&self) -> Client {
        let connection = block_on(Connection::connect(
            &self.url(),
            ConnectionProperties::default(),
        ))
        .expect("a client connection");
        let channel = block_on(connection.create_channel()).expect("a channel");
        Client {
            _connection: connection,
            channel,
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill_server();
        let _ = self.epmd.kill();
        let _ = self.epmd.wait();
    }
}

fn epmd_binary() -> PathBuf {
    std::fs::read_dir("/usr/lib/erlang")
        .expect("Erlang is installed")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin/epmd"))
        .find(|p| p.exists())
        .expect("epmd")
}

/// Runs a future on the tests' one runtime, which outlives every client
/// connection (a connection's tasks live on the runtime that made it).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    static RUNTIME: std::sync::LazyLock<tokio::runtime::Runtime> = std::sync::LazyLock::new(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime")
    });
    RUNTIME.block_on(future)
}

/// A test's client of the broker.
pub struct Client {
    _connection: Connection,
    pub channel: Channel,
}

/// A message as a consumer got it.
#[derive(Debug, Clone)]
pub struct Got {
    pub body: Vec<u8>,
    pub properties: BasicProperties,
}

impl Got {
    /// A header's value, as text.
    pub fn header(&self, name: &str) -> String {
        let headers = self.properties.headers().clone().unwrap_or_default();
        match headers.inner().get(name) {
            Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
            Some(other) => format!("{other:?}"),
            None => String::new(),
        }
    }

    pub fn message_id(&self) -> String {
        self.properties
            .message_id()
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default()
    }
}

impl Client {
    /// Declares a durable queue bound to `exchange` with `routing_key`,
    /// with the queue arguments `arguments`.
    pub fn bind(&self, queue: &str, exchange: &str, routing_key: &str, arguments: FieldTable) {
        block_on(self.channel.queue_declare(
            queue.into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        ))
        .expect("queue_declare");
        block_on(self.channel.queue_bind(
            queue.into(),
            exchange.into(),
            routing_key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        ))
        .expect("queue_bind");
    }

    /// Every message waiting in `queue` now.
    pub fn take(&self, queue: &str) -> Vec<Got> {
        let mut got = Vec::new();
        while let Some(message) = block_on(
            self.channel
                .basic_get(queue.into(), BasicGetOptions { no_ack: true }),
        )
        .expect("basic_get")
        {
            got.push(Got {
                body: message.delivery.data.clone(),
                properties: message.delivery.properties.clone(),
            });
        }
        got
    }

    pub fn purge(&self, queue: &str) {
        block_on(
            self.channel
                .queue_purge(queue.into(), QueuePurgeOptions::default()),
        )
        .expect("queue_purge");
    }
}

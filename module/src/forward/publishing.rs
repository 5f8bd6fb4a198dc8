//! The broker side, on the forwarder's own Tokio runtime (never on Redis'
//! main thread): one connection and one channel in confirm mode, every
//! message published `mandatory`, and each one's fate from the broker —
//! confirmed, nacked, or returned as unroutable. Sending a batch and
//! waiting for its confirms are two steps, so that later batches go out
//! while the broker still writes earlier ones to disk. Every wait is
//! bounded, so a broker that accepts connections and never answers is an
//! error, not a hang.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::types::{LongString, ShortString};
use lapin::{Channel, Connect, Connection, ConnectionProperties, PublisherConfirm};
use tokio::time::timeout;

use super::message::Message;
use super::settings::{Settings, TlsFiles};

/// How long the broker may take to accept a connection, or to confirm a
/// batch.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);
pub const CONNECTION_NAME: &str = "wasm-triggers forwarder";

pub struct Broker {
    connection: Arc<Connection>,
    channel: Channel,
    /// The settings it connected with: other settings need a new connection.
    url: String,
    heartbeat: u16,
    tls: TlsFiles,
}

/// What the broker did with one message.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Confirmed,
    Nacked,
    /// Unroutable, with the broker's reason.
    Returned(String),
}

impl Broker {
    pub async fn connect(settings: &Settings) -> Result<Broker, String> {
        let separator = if settings.url.contains('?') { '&' } else { '?' };
        let uri = if settings.url.contains("heartbeat=") {
            settings.url.clone()
        } else {
            format!(
                "{}{separator}heartbeat={}",
                settings.url, settings.heartbeat
            )
        };
        let tls = tls_config(&settings.tls)?;
        let runtime = lapin::runtime::default_runtime()
            .map_err(|e| format!("no runtime for the connection: {e}"))?;
        let connect = async {
            let connection = uri
                .as_str()
                .connect_with_config(properties(), tls, runtime)
                .await?;
            let channel = connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            Ok::<_, lapin::Error>((connection, channel))
        };
        let (connection, channel) = timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| "the broker did not answer the connection in 5 s".to_string())?
            .map_err(|e| format!("cannot connect to the broker: {e}"))?;
        Ok(Broker {
            connection: Arc::new(connection),
            channel,
            url: settings.url.clone(),
            heartbeat: settings.heartbeat,
            tls: settings.tls.clone(),
        })
    }

    /// Whether this connection still serves `settings`.
    pub fn serves(&self, settings: &Settings) -> bool {
        self.url == settings.url
            && self.heartbeat == settings.heartbeat
            && self.tls == settings.tls
            && self.connection.status().connected()
            && self.channel.status().connected()
    }

    /// Publishes `messages` in order, without waiting for the broker's
    /// word on them: the confirms to wait for, one per message (see
    /// [`outcomes`]). An error means the connection is no longer usable.
    pub async fn send(
        &self,
        exchange: &str,
        messages: &[Message],
    ) -> Result<Vec<PublisherConfirm>, String> {
        let send_all = async {
            let mut confirms = Vec::with_capacity(messages.len());
            for message in messages {
                let options = BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                };
                let confirm = self
                    .channel
                    .basic_publish(
                        ShortString::from(exchange),
                        ShortString::from(message.routing_key.as_str()),
                        options,
                        &message.body,
                        message.properties.clone(),
                    )
                    .await?;
                confirms.push(confirm);
            }
            Ok::<_, lapin::Error>(confirms)
        };
        timeout(CONFIRM_TIMEOUT, send_all)
            .await
            .map_err(|_| "the broker did not take a batch in 10 s".to_string())?
            .map_err(|e| format!("publishing failed: {e}"))
    }

    /// Closes the connection, waiting at most half a second for the broker.
    pub async fn close(self) {
        let _ = timeout(
            Duration::from_millis(500),
            self.connection.close(200, ShortString::from("bye")),
        )
        .await;
    }
}

/// The broker's word on each message of a batch, in order, within
/// [`CONFIRM_TIMEOUT`]. An error means the connection is no longer usable.
pub async fn outcomes(confirms: Vec<PublisherConfirm>) -> Result<Vec<Outcome>, String> {
    let wait_all = async {
        let mut outcomes = Vec::with_capacity(confirms.len());
        for confirm in confirms {
            let confirmation = confirm.await?;
            outcomes.push(if confirmation.is_ack() {
                match confirmation.take_message() {
                    Some(returned) => Outcome::Returned(returned.reply_text.to_string()),
                    None => Outcome::Confirmed,
                }
            } else {
                Outcome::Nacked
            });
        }
        Ok::<_, lapin::Error>(outcomes)
    };
    timeout(CONFIRM_TIMEOUT, wait_all)
        .await
        .map_err(|_| "the broker did not confirm a batch in 10 s".to_string())?
        .map_err(|e| format!("publishing failed: {e}"))
}

/// The connection in use and its runtime, for `SHUTDOWN` to close it when
/// the forwarder's thread cannot: that thread may be waiting for the
/// server lock, which `SHUTDOWN` holds.
static IN_USE: Mutex<Option<(Arc<Connection>, tokio::runtime::Handle)>> = Mutex::new(None);

/// The connection `broker` holds is the one in use (`None`: none is).
pub fn set_in_use(broker: Option<(&Broker, tokio::runtime::Handle)>) {
    *IN_USE.lock().unwrap_or_else(PoisonError::into_inner) =
        broker.map(|(broker, handle)| (Arc::clone(&broker.connection), handle));
}

/// At `SHUTDOWN`, on the main thread: closes the connection in use as AMQP
/// says, on the runtime's own thread (the main thread does no network
/// I/O), and waits up to `patience` for it. False if none was in use.
pub fn close_in_use(patience: Duration) -> bool {
    let in_use = IN_USE.lock().unwrap_or_else(PoisonError::into_inner).take();
    let Some((connection, handle)) = in_use else {
        return false;
    };
    let (done, closed) = std::sync::mpsc::channel();
    handle.spawn(async move {
        let _ = timeout(patience, connection.close(200, ShortString::from("bye"))).await;
        let _ = done.send(());
    });
    let _ = closed.recv_timeout(patience);
    true
}

/// The connection's name, as the broker's log and management show it.
fn properties() -> ConnectionProperties {
    ConnectionProperties::default().with_connection_name(LongString::from(CONNECTION_NAME))
}

/// The certificates `amqps://` trusts (the system's, and the CA file's)
/// and the client's own, read from their files now.
fn tls_config(files: &TlsFiles) -> Result<OwnedTLSConfig, String> {
    let read = |setting: &str, path: &str| {
        std::fs::read(path).map_err(|e| format!("cannot read triggers.{setting} '{path}': {e}"))
    };
    let cert_chain = match files.ca.as_str() {
        "" => None,
        path => Some(
            String::from_utf8(read("amqp-tls-ca-file", path)?)
                .map_err(|_| format!("triggers.amqp-tls-ca-file '{path}' is not PEM text"))?,
        ),
    };
    let identity = match (files.cert.as_str(), files.key.as_str()) {
        ("", "") => None,
        ("", _) | (_, "") => {
            return Err(
                "triggers.amqp-tls-cert-file and triggers.amqp-tls-key-file go together".into(),
            )
        }
        (cert, key) => Some(OwnedIdentity::PKCS8 {
            pem: read("amqp-tls-cert-file", cert)?,
            key: read("amqp-tls-key-file", key)?,
        }),
    };
    Ok(OwnedTLSConfig {
        identity,
        cert_chain,
    })
}

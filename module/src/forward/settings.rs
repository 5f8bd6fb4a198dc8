//! The forwarder's settings: module configuration (`MODULE LOAD` arguments,
//! `redis.conf`, `CONFIG SET triggers.amqp-…`), read by the forwarder's
//! thread as a [`Settings`] snapshot before each batch.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};

use redis_module::configuration::{ConfigurationContext, ConfigurationValue};
use redis_module::{RedisError, RedisString};

use crate::server::{set_command_filter, FilteredCommand};

/// `triggers.amqp-format`: the message body. (One enum per module: the
/// macro imports a trait.)
mod format {
    redis_module::enum_configuration! {
        #[allow(non_camel_case_types)]
        #[derive(Copy, PartialEq, Debug)]
        pub enum Format {
            /// key_evt_amqp's body: `<db>\n<event>\n<key>`.
            key_evt_amqp = 0,
            /// A JSON object with every field of the outbox entry.
            json = 1,
        }
    }
}

/// `triggers.amqp-delivery-mode`.
mod delivery_mode {
    redis_module::enum_configuration! {
        #[allow(non_camel_case_types)]
        #[derive(Copy, PartialEq, Debug)]
        pub enum DeliveryMode {
            /// Delivery mode 2: written to disk by the broker.
            persistent = 2,
            /// Delivery mode 1.
            transient = 1,
        }
    }
}

pub use delivery_mode::DeliveryMode;
pub use format::Format;

/// A string setting. For the URL, whose password `CONFIG GET` must not
/// show, see [`redacted_url`].
pub struct Text(Mutex<String>);

impl Text {
    pub const fn new() -> Self {
        Text(Mutex::new(String::new()))
    }

    pub fn value(&self) -> String {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl ConfigurationValue<RedisString> for Text {
    fn get(&self, _: &ConfigurationContext) -> RedisString {
        RedisString::create(None, self.value().as_str())
    }

    fn set(&self, _: &ConfigurationContext, value: RedisString) -> Result<(), RedisError> {
        let value = value
            .try_as_str()
            .map_err(|_| RedisError::Str("the value must be UTF-8 text"))?;
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = value.to_owned();
        Ok(())
    }
}

/// `triggers.amqp-exchange`.
pub static EXCHANGE: Text = Text::new();
/// `triggers.amqp-routing-key`: fixed, or with `{event}`, `{source}` and
/// `{db}` replaced by the entry's.
pub static ROUTING_KEY: Text = Text::new();
/// `triggers.amqp-rules`: `*` for every entry, or the names of the rules
/// (and `<library>.<trigger>` triggers) whose entries are forwarded.
pub static RULES: Text = Text::new();
/// `triggers.amqp-tls-ca-file`: PEM certificates trusted for `amqps://`
/// besides the system's (as Redis' own `tls-ca-cert-file`).
pub static TLS_CA_FILE: Text = Text::new();
/// `triggers.amqp-tls-cert-file` and `triggers.amqp-tls-key-file`: a
/// client certificate (PEM) and its key (PEM, PKCS#8, PKCS#1 or SEC1), for
/// a broker that asks for one.
pub static TLS_CERT_FILE: Text = Text::new();
pub static TLS_KEY_FILE: Text = Text::new();
/// `triggers.amqp-heartbeat`, in seconds.
pub static HEARTBEAT: AtomicI64 = AtomicI64::new(30);
pub static FORMAT: Mutex<Format> = Mutex::new(Format::key_evt_amqp);
pub static DELIVERY_MODE: Mutex<DeliveryMode> = Mutex::new(DeliveryMode::persistent);

/// `triggers.amqp-url`: `amqp://user:password@host:port/vhost` (or
/// `amqps://`); empty (the default) forwards nothing. `CONFIG GET` shows it
/// without its password; `CONFIG REWRITE` writes it whole.
pub static URL: Url = Url(Text::new());

/// The URL setting.
pub struct Url(Text);

impl Url {
    pub fn value(&self) -> String {
        self.0.value()
    }
}

impl ConfigurationValue<RedisString> for Url {
    fn get(&self, ctx: &ConfigurationContext) -> RedisString {
        if CONFIG_GET_RUNNING.load(Ordering::Relaxed) {
            return RedisString::create(None, redacted_url(&self.value()).as_str());
        }
        self.0.get(ctx)
    }

    fn set(&self, ctx: &ConfigurationContext, value: RedisString) -> Result<(), RedisError> {
        let url = value.to_string_lossy();
        check_url(&url).map_err(RedisError::String)?;
        self.0.set(ctx, value)?;
        watch_config_get(&url).map_err(RedisError::String)
    }
}

/// Has the command filter tell `CONFIG GET` from `CONFIG REWRITE` while
/// the URL has a password to hide, and only then (a filter costs every
/// command).
fn watch_config_get(url: &str) -> Result<(), String> {
    set_command_filter(
        note_config_get,
        redacted_url(url) != url,
        "tells CONFIG GET from CONFIG REWRITE",
    )
}

/// An error unless `url` is empty or an AMQP URL as the client reads it.
/// The error does not quote the URL (it may hold a password).
fn check_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Ok(());
    }
    url.parse::<lapin::uri::AMQPUri>().map(drop).map_err(|e| {
        let why = if e.contains(url) {
            String::new()
        } else {
            format!(" ({e})")
        };
        format!(
            "triggers.amqp-url is not an AMQP URL{why}: amqp://user:password@host:port/vhost, \
             or amqps://…"
        )
    })
}

/// Whether the command running is `CONFIG GET`, as the command filter
/// registered by [`init`] last saw.
static CONFIG_GET_RUNNING: AtomicBool = AtomicBool::new(false);

/// At `MODULE LOAD`, once the server part is ready: the command filter
/// that tells `CONFIG GET` (which must not show the password) from `CONFIG
/// REWRITE` (which must write it), if the URL given has a password.
pub fn init() -> Result<(), String> {
    watch_config_get(&URL.value())
}

/// The command filter: runs before every command.
fn note_config_get(command: &mut FilteredCommand) {
    let is = |index: usize, word: &[u8]| {
        command
            .arg(index)
            .is_some_and(|arg| arg.eq_ignore_ascii_case(word))
    };
    let running = is(0, b"config") && is(1, b"get");
    CONFIG_GET_RUNNING.store(running, Ordering::Relaxed);
}

/// The settings, as one batch uses them.
#[derive(Clone, PartialEq, Debug)]
pub struct Settings {
    pub url: String,
    pub heartbeat: u16,
    pub exchange: String,
    pub routing_key: String,
    pub rules: Vec<String>,
    pub format: Format,
    pub delivery_mode: u8,
    pub tls: TlsFiles,
}

/// The files of `amqps://`, by path: read at each connection, on the
/// forwarder's thread.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct TlsFiles {
    pub ca: String,
    pub cert: String,
    pub key: String,
}

impl Settings {
    pub fn now() -> Settings {
        let format = *FORMAT.lock().unwrap_or_else(PoisonError::into_inner);
        let mode = *DELIVERY_MODE.lock().unwrap_or_else(PoisonError::into_inner);
        Settings {
            url: URL.value(),
            heartbeat: HEARTBEAT.load(Ordering::Relaxed).clamp(0, 3600) as u16,
            exchange: EXCHANGE.value(),
            routing_key: ROUTING_KEY.value(),
            rules: RULES
                .value()
                .split([',', ' '])
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect(),
            format,
            delivery_mode: i32::from(mode) as u8,
            tls: TlsFiles {
                ca: TLS_CA_FILE.value(),
                cert: TLS_CERT_FILE.value(),
                key: TLS_KEY_FILE.value(),
            },
        }
    }

    /// Whether forwarding is configured at all.
    pub fn enabled(&self) -> bool {
        !self.url.is_empty()
    }

    /// Whether an entry sent by `source` (`rule:<a>,<b>` or
    /// `trigger:<library>.<trigger>`) is forwarded.
    pub fn forwards(&self, source: &str) -> bool {
        if self.rules.iter().any(|r| r == "*") {
            return true;
        }
        let names = match source.split_once(':') {
            Some(("rule", names)) => names,
            Some(("trigger", name)) => name,
            _ => source,
        };
        names
            .split(',')
            .any(|name| self.rules.iter().any(|r| r == name))
    }
}

/// The URL as `CONFIG GET` and `INFO` show it: the password replaced by
/// `***`.
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// Applies `MODULE LOAD` arguments that name a forwarder setting (pairs
/// such as `amqp-url amqp://…`); others are not this module's to judge.
pub fn apply_module_args(pairs: &[(String, String)]) -> Result<(), String> {
    let set = |m: &Mutex<String>, value: &str| {
        *m.lock().unwrap_or_else(PoisonError::into_inner) = value.to_owned();
    };
    for (name, value) in pairs {
        match name.as_str() {
            "amqp-url" => {
                check_url(value)?;
                set(&URL.0 .0, value);
                watch_config_get(value)?;
            }
            "amqp-exchange" => set(&EXCHANGE.0, value),
            "amqp-routing-key" => set(&ROUTING_KEY.0, value),
            "amqp-rules" => set(&RULES.0, value),
            "amqp-tls-ca-file" => set(&TLS_CA_FILE.0, value),
            "amqp-tls-cert-file" => set(&TLS_CERT_FILE.0, value),
            "amqp-tls-key-file" => set(&TLS_KEY_FILE.0, value),
            "amqp-heartbeat" => match value.parse::<i64>() {
                Ok(seconds) if (0..=3600).contains(&seconds) => {
                    HEARTBEAT.store(seconds, Ordering::Relaxed)
                }
                _ => return Err(format!("bad value '{value}' for amqp-heartbeat: 0 to 3600")),
            },
            "amqp-format" => {
                *FORMAT.lock().unwrap_or_else(PoisonError::into_inner) = match value.as_str() {
                    "key_evt_amqp" => Format::key_evt_amqp,
                    "json" => Format::json,
                    _ => {
                        return Err(format!(
                            "bad value '{value}' for amqp-format: key_evt_amqp or json"
                        ))
                    }
                }
            }
            "amqp-delivery-mode" => {
                *DELIVERY_MODE.lock().unwrap_or_else(PoisonError::into_inner) = match value.as_str()
                {
                    "persistent" => DeliveryMode::persistent,
                    "transient" => DeliveryMode::transient,
                    _ => {
                        return Err(format!(
                            "bad value '{value}' for amqp-delivery-mode: persistent or transient"
                        ))
                    }
                }
            }
            _ => return Err(format!("unknown module argument '{name}'")),
        }
    }
    Ok(())
}

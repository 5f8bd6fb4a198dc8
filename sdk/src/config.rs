//! The library's configuration, given when it is loaded:
//! `TRIGGER LOAD CONFIG '{"prefix": "order:"}' <library>`. The same build
//! runs with other settings without being rebuilt.

use serde::de::DeserializeOwned;

use crate::__bindings::redis::triggers::host;
use crate::{Error, Result};

/// The configuration as a `T` (any serde type; fields the JSON object
/// lacks take their `#[serde(default)]`), or an error that says which
/// field is wrong. Works in [`library!`](crate::library) too, so a trigger's
/// prefix or events can come from it.
///
/// ```no_run
/// use serde::Deserialize;
/// use wasm_triggers_sdk::{config, library, outbox, Event, Result, Trigger};
///
/// #[derive(Deserialize)]
/// struct Settings {
///     #[serde(default = "default_prefix")]
///     prefix: String,
/// }
///
/// fn default_prefix() -> String {
///     "checkout:".into()
/// }
///
/// fn settings() -> Settings {
///     config().unwrap_or(Settings { prefix: default_prefix() })
/// }
///
/// library! {
///     name: "orders",
///     triggers: [
///         Trigger::new("expired")
///             .prefix(settings().prefix)
///             .events(["expired"])
///             .run(|event: &Event| -> Result<()> { outbox::append(event, &[]) }),
///     ],
/// }
/// ```
pub fn config<T: DeserializeOwned>() -> Result<T> {
    serde_json::from_str(&config_json())
        .map_err(|e| Error::new(format!("the library's configuration: {e}")))
}

/// The configuration as the JSON text it was given in (`{}` when none).
///
/// ```no_run
/// let text = wasm_triggers_sdk::config_json();
/// assert!(text.starts_with('{'));
/// ```
pub fn config_json() -> String {
    host::config()
}

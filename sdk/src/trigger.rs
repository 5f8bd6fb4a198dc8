use std::sync::Once;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::__bindings::redis::triggers::{host, types};
use crate::Result;

/// The keyspace event that fired a trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    name: String,
    key: Vec<u8>,
    db: i32,
}

impl Event {
    /// An event, as Redis would send it. Useful to unit-test a trigger's logic.
    pub fn new(name: impl Into<String>, key: impl Into<Vec<u8>>, db: i32) -> Self {
        Event {
            name: name.into(),
            key: key.into(),
            db,
        }
    }

    /// The event's name, for example `hset`, `del` or `expired`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key, as bytes: keys need not be UTF-8.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The key as text, or `None` if it is not UTF-8.
    ///
    /// ```
    /// use wasm_triggers_sdk::Event;
    ///
    /// assert_eq!(Event::new("set", "user:1", 0).key_str(), Some("user:1"));
    /// assert_eq!(Event::new("set", b"\xff".to_vec(), 0).key_str(), None);
    /// ```
    pub fn key_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.key).ok()
    }

    /// The logical database of the key.
    pub fn db(&self) -> i32 {
        self.db
    }
}

impl From<types::Event> for Event {
    fn from(event: types::Event) -> Self {
        Event {
            name: event.name,
            key: event.key,
            db: event.db,
        }
    }
}

type RunFn = Box<dyn Fn(&Event, Option<&[u8]>) -> Result<()> + Send + Sync>;
type OnFiredFn = Box<dyn Fn(&Event) -> Result<Option<Vec<u8>>> + Send + Sync>;

/// A trigger: its name, the keys and events it fires on, and its code.
///
/// Start with [`Trigger::new`], narrow it with [`prefix`](Trigger::prefix)
/// and [`events`](Trigger::events), and finish with [`run`](Trigger::run),
/// or with [`on_fired`](Trigger::on_fired) and then [`OnFired::run`].
///
/// ```no_run
/// use wasm_triggers_sdk::{call, Event, Result, Trigger};
///
/// // Counts the orders that expire.
/// let trigger = Trigger::new("expired_orders")
///     .prefix("order:")
///     .events(["expired"])
///     .run(|_event: &Event| -> Result<()> {
///         call("INCR", ["orders:expired"])?;
///         Ok(())
///     });
/// ```
pub struct Trigger {
    name: String,
    description: String,
    prefix: Vec<u8>,
    events: Vec<String>,
    on_fired: Option<OnFiredFn>,
    run: Option<RunFn>,
}

impl Trigger {
    /// A trigger named `name` (made of `[A-Za-z0-9_]`), on every key and
    /// every event until narrowed.
    pub fn new(name: impl Into<String>) -> Self {
        Trigger {
            name: name.into(),
            description: String::new(),
            prefix: Vec::new(),
            events: Vec::new(),
            on_fired: None,
            run: None,
        }
    }

    /// What the trigger does, in a sentence, shown by `TRIGGER LIST`.
    ///
    /// ```
    /// use wasm_triggers_sdk::Trigger;
    ///
    /// let trigger = Trigger::new("stamp").description("Sets __last_updated__ on every hash that changes");
    /// ```
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Fire only on keys that start with these bytes.
    pub fn prefix(mut self, prefix: impl AsRef<[u8]>) -> Self {
        self.prefix = prefix.as_ref().to_vec();
        self
    }

    /// Fire only on these events: names such as `"hset"`, `"del"` or
    /// `"expired"`, and classes such as `"@hash"`, `"@string"`,
    /// `"@generic"`, `"@new"` or `"@keymiss"`. Without this call, every
    /// event of `"@all"`. `TRIGGER LOAD` refuses a name no server raises
    /// (`"exipred"`), with a hint.
    pub fn events<S: AsRef<str>>(mut self, events: impl IntoIterator<Item = S>) -> Self {
        self.events = events.into_iter().map(|e| e.as_ref().to_owned()).collect();
        self
    }

    /// The trigger's code, run atomically with the command that fired the
    /// event, where it may write.
    pub fn run(mut self, run: impl Fn(&Event) -> Result<()> + Send + Sync + 'static) -> Self {
        self.run = Some(Box::new(move |event, _payload| run(event)));
        self
    }

    /// Code that runs inside the keyspace notification, when the event
    /// happens, and may only read.
    ///
    /// Inside `MULTI`/`EXEC` or a script, `run` is called after the whole
    /// transaction; `on_fired` is called at each event and sees the data as
    /// it was then. It returns `Ok(None)` when there is nothing more to do,
    /// or `Ok(Some(payload))` to have `run` called with that payload (any
    /// serde type; the SDK encodes it with bincode).
    ///
    /// ```no_run
    /// use wasm_triggers_sdk::{call, Event, Result, Trigger};
    ///
    /// fn read_name(event: &Event) -> Result<Option<String>> {
    ///     Ok(call("HGET", (event.key(), "name"))?.into_string())
    /// }
    ///
    /// fn count_name(_event: &Event, name: String) -> Result<()> {
    ///     call("INCR", [format!("name_{name}")])?;
    ///     Ok(())
    /// }
    ///
    /// let trigger = Trigger::new("names").events(["hset"]).on_fired(read_name).run(count_name);
    /// ```
    pub fn on_fired<P, F>(self, on_fired: F) -> OnFired<P>
    where
        P: Serialize + DeserializeOwned + 'static,
        F: Fn(&Event) -> Result<Option<P>> + Send + Sync + 'static,
    {
        OnFired {
            trigger: self,
            on_fired: Box::new(on_fired),
        }
    }
}

/// A trigger with an `on_fired` step whose payload is a `P`; finish it with
/// [`OnFired::run`].
pub struct OnFired<P> {
    trigger: Trigger,
    #[allow(clippy::type_complexity)]
    on_fired: Box<dyn Fn(&Event) -> Result<Option<P>> + Send + Sync>,
}

impl<P: Serialize + DeserializeOwned + 'static> OnFired<P> {
    /// The trigger's code, run atomically with the command that fired the
    /// event, with the payload `on_fired` returned.
    pub fn run(self, run: impl Fn(&Event, P) -> Result<()> + Send + Sync + 'static) -> Trigger {
        let OnFired {
            mut trigger,
            on_fired,
        } = self;
        let config = bincode::config::standard();
        trigger.on_fired = Some(Box::new(move |event| match on_fired(event)? {
            Some(payload) => Ok(Some(bincode::serde::encode_to_vec(&payload, config)?)),
            None => Ok(None),
        }));
        trigger.run = Some(Box::new(move |event, payload| {
            let Some(payload) = payload else {
                return Err("run was called without the payload of on_fired".into());
            };
            let (payload, _) = bincode::serde::decode_from_slice::<P, _>(payload, config)?;
            run(event, payload)
        }));
        trigger
    }
}

/// A library of triggers; made by [`library!`](crate::library).
pub struct Library {
    name: String,
    triggers: Vec<Trigger>,
}

impl Library {
    #[doc(hidden)]
    pub fn new(name: impl Into<String>, triggers: Vec<Trigger>) -> Self {
        Library {
            name: name.into(),
            triggers,
        }
    }

    fn trigger(&self, index: u32) -> std::result::Result<&Trigger, String> {
        self.triggers
            .get(index as usize)
            .ok_or_else(|| format!("no trigger number {index} in library '{}'", self.name))
    }
}

/// Reports panics to the host before the guest aborts, so that the panic
/// message becomes the trigger's `last_error`: `panicked at
/// <crate>/src/<file>:<line>:<column>:` and the message, without the
/// directories of the machine that built the library.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = match info.location() {
                Some(at) => format!(
                    "panicked at {}:{}:{}:\n{}",
                    short_path(at.file()),
                    at.line(),
                    at.column(),
                    info.payload_as_str().unwrap_or("Box<dyn Any>")
                ),
                None => info.to_string(),
            };
            host::report_panic(&message)
        }));
    });
}

/// A source path from the crate's directory on: `/home/me/shop/src/lib.rs`
/// gives `shop/src/lib.rs`, `~/.cargo/registry/…/serde-1.0.0/src/de.rs`
/// gives `serde-1.0.0/src/de.rs`; a relative path (a crate of the
/// workspace being built) stays as it is.
fn short_path(file: &str) -> &str {
    let file_start = |i: usize| file[..i].rfind(['/', '\\']).map_or(0, |j| j + 1);
    if file.starts_with("src/") || file.starts_with("src\\") {
        return file;
    }
    match file.rfind("/src/").or_else(|| file.rfind("\\src\\")) {
        Some(src) => &file[file_start(src)..],
        None => &file[file_start(file.len())..],
    }
}

pub fn describe(library: &Library) -> types::LibraryInfo {
    install_panic_hook();
    // A trigger without code is a mistake in the library: refuse to load it.
    for trigger in &library.triggers {
        if trigger.run.is_none() {
            panic!(
                "trigger '{}' has no run function: finish it with .run(...)",
                trigger.name
            );
        }
    }
    types::LibraryInfo {
        name: library.name.clone(),
        triggers: library
            .triggers
            .iter()
            .map(|t| types::TriggerInfo {
                name: t.name.clone(),
                prefix: t.prefix.clone(),
                events: t.events.clone(),
                has_on_fired: t.on_fired.is_some(),
            })
            .collect(),
    }
}

pub fn describe_triggers(library: &Library) -> Vec<String> {
    install_panic_hook();
    library
        .triggers
        .iter()
        .map(|t| t.description.clone())
        .collect()
}

pub fn on_fired(
    library: &Library,
    trigger: u32,
    event: types::Event,
) -> std::result::Result<Option<Vec<u8>>, String> {
    install_panic_hook();
    let trigger = library.trigger(trigger)?;
    let event = Event::from(event);
    match &trigger.on_fired {
        Some(on_fired) => on_fired(&event).map_err(String::from),
        // Without on_fired, run is called directly; answer as if it had
        // asked for run anyway.
        None => Ok(Some(Vec::new())),
    }
}

pub fn run(
    library: &Library,
    trigger: u32,
    event: types::Event,
    payload: Option<Vec<u8>>,
) -> std::result::Result<(), String> {
    install_panic_hook();
    let trigger = library.trigger(trigger)?;
    let event = Event::from(event);
    match &trigger.run {
        Some(run) => run(&event, payload.as_deref()).map_err(String::from),
        None => Err(format!(
            "trigger '{}' has no run function: finish it with .run(...)",
            trigger.name
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::short_path;

    #[test]
    fn panic_paths_start_at_the_crate() {
        assert_eq!(short_path("/home/me/shop/src/lib.rs"), "shop/src/lib.rs");
        assert_eq!(
            short_path("/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/serde-1.0.0/src/de/mod.rs"),
            "serde-1.0.0/src/de/mod.rs"
        );
        assert_eq!(
            short_path("last_updated/src/lib.rs"),
            "last_updated/src/lib.rs"
        );
        assert_eq!(short_path("src/lib.rs"), "src/lib.rs");
        assert_eq!(short_path("/tmp/build/generated.rs"), "generated.rs");
        assert_eq!(short_path(r"C:\work\shop\src\lib.rs"), r"shop\src\lib.rs");
    }
}

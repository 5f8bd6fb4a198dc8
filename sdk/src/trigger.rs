//! Declaring a trigger: [`Trigger`], its name, prefix and events, and the
//! code it runs (`run`, or `on_fired` then [`OnFired::run`]).

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Event, Result};

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
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) prefix: Vec<u8>,
    pub(crate) events: Vec<String>,
    pub(crate) on_fired: Option<OnFiredFn>,
    pub(crate) run: Option<RunFn>,
    pub(crate) removed_value: bool,
}

impl Trigger {
    /// A trigger named `name` (made of `[A-Za-z0-9_]`), on every key and
    /// every event until narrowed.
    ///
    /// ```
    /// use wasm_triggers_sdk::{Event, Result, Trigger};
    ///
    /// let trigger = Trigger::new("audit").run(|_event: &Event| -> Result<()> { Ok(()) });
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        Trigger {
            name: name.into(),
            description: String::new(),
            prefix: Vec::new(),
            events: Vec::new(),
            on_fired: None,
            run: None,
            removed_value: false,
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
    ///
    /// ```
    /// use wasm_triggers_sdk::Trigger;
    ///
    /// let users = Trigger::new("users").prefix("user:");
    /// let binary = Trigger::new("binary").prefix(b"\xff\x00");
    /// ```
    pub fn prefix(mut self, prefix: impl AsRef<[u8]>) -> Self {
        self.prefix = prefix.as_ref().to_vec();
        self
    }

    /// Fire only on these events: names such as `"hset"`, `"del"` or
    /// `"expired"`, and classes such as `"@hash"`, `"@string"`,
    /// `"@generic"`, `"@new"` or `"@keymiss"`. Without this call, every
    /// event of `"@all"`. `TRIGGER LOAD` refuses a name no server raises
    /// (`"exipred"`), with a hint.
    ///
    /// ```
    /// use wasm_triggers_sdk::Trigger;
    ///
    /// let expiries = Trigger::new("expiries").events(["expired", "evicted"]);
    /// let hashes = Trigger::new("hashes").events(["@hash"]);
    /// let misses = Trigger::new("misses").prefix("cache:").events(["keymiss"]);
    /// ```
    pub fn events<S: AsRef<str>>(mut self, events: impl IntoIterator<Item = S>) -> Self {
        self.events = events.into_iter().map(|e| e.as_ref().to_owned()).collect();
        self
    }

    /// Have [`Event::removed`] give the value the event took out of its key:
    /// what a `del`, `expired` or `evicted` removed, what a `set` (or
    /// `rename_to`, `restore`, `copy_to`, a `…store` command) overwrote.
    ///
    /// The server reads the value before it frees it, only for the keys of
    /// triggers that ask, and only while one is loaded: other triggers cost
    /// nothing more. A value larger than `triggers.max-removed-value-size`
    /// (1 MB by default, in RESP3) or of another module's type is withheld:
    /// the trigger gets its type and length (see [`Removed`](crate::Removed)).
    ///
    /// ```no_run
    /// use wasm_triggers_sdk::{call, Event, Result, Trigger};
    ///
    /// // Keeps a copy of every user deleted.
    /// let trigger = Trigger::new("archive")
    ///     .prefix("user:")
    ///     .events(["del"])
    ///     .with_removed_value()
    ///     .run(|event: &Event| -> Result<()> {
    ///         if let Some(fields) = event.removed_value().and_then(|v| v.as_map()) {
    ///             call("XADD", ("archive", "*", "key", event.key(), "fields", fields.len()))?;
    ///         }
    ///         Ok(())
    ///     });
    /// ```
    pub fn with_removed_value(mut self) -> Self {
        self.removed_value = true;
        self
    }

    /// The trigger's code, run atomically with the command that fired the
    /// event, where it may write.
    ///
    /// ```no_run
    /// use wasm_triggers_sdk::{call, Event, Result, Trigger};
    ///
    /// fn count(event: &Event) -> Result<()> {
    ///     call("INCR", [format!("count:{}", event.name())])?;
    ///     Ok(())
    /// }
    /// let trigger = Trigger::new("counter").run(count);
    /// ```
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
///
/// ```no_run
/// use wasm_triggers_sdk::{call_as, Event, OnFired, Result, Trigger};
///
/// let step: OnFired<i64> = Trigger::new("sizes").on_fired(|event: &Event| -> Result<Option<i64>> {
///     Ok(Some(call_as("HLEN", [event.key()])?))
/// });
/// let trigger: Trigger = step.run(|_event: &Event, fields: i64| -> Result<()> { Ok(()) });
/// ```
pub struct OnFired<P> {
    trigger: Trigger,
    #[allow(clippy::type_complexity)]
    on_fired: Box<dyn Fn(&Event) -> Result<Option<P>> + Send + Sync>,
}

impl<P: Serialize + DeserializeOwned + 'static> OnFired<P> {
    /// The trigger's code, run atomically with the command that fired the
    /// event, with the payload `on_fired` returned.
    ///
    /// ```no_run
    /// use wasm_triggers_sdk::{call, call_as, Event, Result, Trigger};
    ///
    /// let trigger = Trigger::new("moves")
    ///     .on_fired(|event: &Event| -> Result<Option<String>> { call_as("GET", [event.key()]) })
    ///     .run(|event: &Event, before: String| -> Result<()> {
    ///         call("SET", (format!("previous:{}", event.key_str().unwrap_or("?")), before))?;
    ///         Ok(())
    ///     });
    /// ```
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
///
/// ```no_run
/// use wasm_triggers_sdk::{library, Event, Result, Trigger};
///
/// // The macro makes the crate's one Library.
/// library! {
///     name: "shop",
///     triggers: [Trigger::new("orders").prefix("order:").run(|_: &Event| -> Result<()> { Ok(()) })],
/// }
/// ```
pub struct Library {
    pub(crate) name: String,
    pub(crate) triggers: Vec<Trigger>,
}

impl Library {
    #[doc(hidden)]
    pub fn new(name: impl Into<String>, triggers: Vec<Trigger>) -> Self {
        Library {
            name: name.into(),
            triggers,
        }
    }

    pub(crate) fn trigger(&self, index: u32) -> std::result::Result<&Trigger, String> {
        self.triggers
            .get(index as usize)
            .ok_or_else(|| format!("no trigger number {index} in library '{}'", self.name))
    }
}

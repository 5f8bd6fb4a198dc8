//! What the host calls: the `library` interface's `describe`, `on-fired`
//! and `run`, which [`library!`](crate::library) wires to the crate's
//! [`Library`], and the panic hook that turns a panic into the trigger's
//! `last_error`.

use std::sync::Once;

use crate::__bindings::redis::triggers::{host, types};
use crate::{Event, Library};

/// Reports panics to the host before the guest aborts, so that the panic
/// message becomes the trigger's `last_error`: `panicked at
/// <crate>/src/<file>:<line>:<column>:` and the message, without the
/// directories of the machine that built the library.
pub fn install_panic_hook() {
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
    library_info(library)
}

/// What `describe` returns, without the panic hook (which would report to
/// a host the unit tests do not have).
fn library_info(library: &Library) -> types::LibraryInfo {
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
                description: t.description.clone(),
                prefix: t.prefix.clone(),
                events: t.events.clone(),
                has_on_fired: t.on_fired.is_some(),
                reads_removed_value: t.removed_value,
            })
            .collect(),
    }
}

pub fn on_fired(
    library: &Library,
    trigger: u32,
    event: types::Event,
) -> std::result::Result<Option<Vec<u8>>, String> {
    install_panic_hook();
    let trigger = library.trigger(trigger)?;
    let event = Event::from_wit(event)?;
    match &trigger.on_fired {
        Some(on_fired) => on_fired(&event).map_err(String::from),
        // Without on_fired, run is called directly; answer as if it had
        // asked for run anyway.
        None => Ok(Some(Vec::new())),
    }
}

/// `run`: an error's message goes to the host with `host.fail`, before the
/// bare `err` the contract returns.
#[allow(clippy::result_unit_err)] // The contract's `result`, with no payload.
pub fn run(
    library: &Library,
    trigger: u32,
    event: types::Event,
    payload: Option<Vec<u8>>,
) -> std::result::Result<(), ()> {
    run_trigger(library, trigger, event, payload).map_err(|message| host::fail(&message))
}

fn run_trigger(
    library: &Library,
    trigger: u32,
    event: types::Event,
    payload: Option<Vec<u8>>,
) -> std::result::Result<(), String> {
    install_panic_hook();
    let trigger = library.trigger(trigger)?;
    let event = Event::from_wit(event)?;
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
    use super::{library_info, short_path};
    use crate::{Event, Library, Result, Trigger};

    #[test]
    fn describe_says_what_each_trigger_does_and_reads() {
        let done = |_: &Event| -> Result<()> { Ok(()) };
        let library = Library::new(
            "l",
            vec![
                Trigger::new("a").run(done),
                Trigger::new("b")
                    .description("keeps deleted users")
                    .with_removed_value()
                    .run(done),
                Trigger::new("c").run(done),
                Trigger::new("d").with_removed_value().run(done),
            ],
        );
        let info = library_info(&library);
        let reads: Vec<bool> = info
            .triggers
            .iter()
            .map(|t| t.reads_removed_value)
            .collect();
        assert_eq!(reads, [false, true, false, true]);
        let descriptions: Vec<&str> = info.triggers.iter().map(|t| &*t.description).collect();
        assert_eq!(descriptions, ["", "keeps deleted users", "", ""]);
    }

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

//! `host.outbox-append`: an entry for the outbox, from a trigger's `run`.

use wasmtime::StoreContextMut;

use crate::outbox::{self, Appended, Entry};
use crate::server::KeyName;
use crate::server::{select_db, selected_db};
use crate::wasm::bindings::v0_1::Event;
use crate::wasm::bindings::v0_2;
use crate::wasm::contract::bytes_from;
use crate::wasm::event_names::name_string;
use crate::wasm::store::CallMode;
use crate::wasm::store::HostState;

/// The outbox's own fields, which a trigger's fields may not use.
const RESERVED: [&str; 5] = ["db", "event", "key", "time", "source"];

pub(super) fn append(
    mut store: StoreContextMut<'_, HostState>,
    event: Event,
    fields: Vec<(String, Vec<u8>)>,
) -> Result<(), String> {
    let data = store.data_mut();
    let Some(ctx) = data.ctx.context() else {
        return Err("outbox-append is not available in describe".into());
    };
    if data.mode != CallMode::Write {
        return Err("outbox-append is only available in run: on_fired may not write".into());
    }
    if let Some((name, _)) = fields.iter().find(|(n, _)| RESERVED.contains(&n.as_str())) {
        return Err(format!(
            "the outbox field name '{name}' is the entry's own: use another name"
        ));
    }
    // An entry is about a key: its owner must be allowed to read it, as for
    // the event that fired the trigger.
    if let Some(user) = data.user.as_mut() {
        if !user.may_read_key(KeyName::Bytes(&event.key))? {
            return Err(format!(
                "the library's owner, ACL user '{}', may not read the key of this outbox entry",
                user.owner()
            ));
        }
    }
    let trigger = data
        .triggers
        .get(data.trigger as usize)
        .map_or("", String::as_str);
    let source = format!("trigger:{}.{trigger}", data.library);
    let fields: Vec<(&[u8], &[u8])> = fields
        .iter()
        .map(|(name, value)| (name.as_bytes(), value.as_slice()))
        .collect();
    let entry = Entry {
        db: event.db,
        event: &event.name,
        key: &event.key,
        source: &source,
        fields: &fields,
    };
    let selected = selected_db(&ctx);
    if !select_db(&ctx, event.db) {
        return Err(format!("there is no database {}", event.db));
    }
    let appended = outbox::append(&ctx, &entry);
    select_db(&ctx, selected);
    match appended? {
        Appended::Written => Ok(()),
        Appended::Dropped => Err(
            "the outbox stream of this key is full of entries not yet acknowledged \
             (triggers.outbox-max-length): the entry was not written"
                .into(),
        ),
    }
}

/// 0.2's `host.outbox-append`: the event in 0.2's terms, as 0.1's.
pub(super) fn append_v0_2(
    store: StoreContextMut<'_, HostState>,
    event: v0_2::Event,
    fields: Vec<(String, Vec<u8>)>,
) -> Result<(), String> {
    let Some(key) = bytes_from(&event.key) else {
        return Err("outbox-append: the event's key says it is longer than it is".into());
    };
    let event = Event {
        name: name_string(&event.name),
        key,
        db: event.db,
    };
    append(store, event, fields)
}

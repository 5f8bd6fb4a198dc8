//! The versions of the contract (`wit/`) a library may be built against:
//! which one a component uses, told apart by its imports and exports, and
//! the calls into each. The rest of the module sees one set of types: 0.1's
//! `LibraryInfo`, [`Described`] and the host's [`Event`].

use wasmtime::component::{Component, Instance, InstancePre};
use wasmtime::{Engine, Store};

use super::bindings::{v0_1, v0_2, LibraryInfo};
use super::event::Event;
use super::store::HostState;

/// The contract's package; a library imports `<PACKAGE>/host@<version>`.
const PACKAGE: &str = "redis:triggers/";
/// What a 0.2 library exports.
const LIBRARY_V0_2: &str = "redis:triggers/library@0.2.0";
/// The versions this host runs, for messages.
const VERSIONS: &str = "0.1.0 and 0.2.0";

/// A version of the contract.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Version {
    /// `wit/0.1/`: world-level exports `describe`, `on-fired`, `run`.
    V0_1,
    /// `wit/triggers.wit`: the `library` interface.
    V0_2,
}

/// Which version `component` was built against, or why it cannot run here.
pub(super) fn version_of(component: &Component, engine: &Engine) -> Result<Version, String> {
    let ty = component.component_type();
    let names = ty
        .imports(engine)
        .map(|(name, _)| name)
        .chain(ty.exports(engine).map(|(name, _)| name));
    for name in names {
        let Some(versioned) = name.strip_prefix(PACKAGE) else {
            continue;
        };
        let version = versioned.split_once('@').map_or("", |(_, v)| v);
        if version != "0.1.0" && version != "0.2.0" {
            return Err(format!(
                "the library was built for version {version} of the redis:triggers contract \
                 ({name}); this module runs {VERSIONS}: rebuild the library with the SDK of \
                 this module's release, or load it into a module that knows {version}"
            ));
        }
    }
    if ty.get_export(engine, LIBRARY_V0_2).is_some() {
        return Ok(Version::V0_2);
    }
    if ty.get_export(engine, "run").is_some() {
        return Ok(Version::V0_1);
    }
    Err(format!(
        "the component does not export the redis:triggers/trigger-library world (neither \
         {LIBRARY_V0_2} nor 0.1's describe, on-fired and run): build it with the SDK"
    ))
}

/// A component linked and checked against its version's world.
pub(super) enum LibraryPre {
    V0_1(v0_1::TriggerLibraryPre<HostState>),
    V0_2(v0_2::TriggerLibraryPre<HostState>),
}

impl LibraryPre {
    pub(super) fn new(version: Version, pre: InstancePre<HostState>) -> wasmtime::Result<Self> {
        Ok(match version {
            Version::V0_1 => LibraryPre::V0_1(v0_1::TriggerLibraryPre::new(pre)?),
            Version::V0_2 => LibraryPre::V0_2(v0_2::TriggerLibraryPre::new(pre)?),
        })
    }

    pub(super) fn instance_pre(&self) -> &InstancePre<HostState> {
        match self {
            LibraryPre::V0_1(pre) => pre.instance_pre(),
            LibraryPre::V0_2(pre) => pre.instance_pre(),
        }
    }

    pub(super) fn version(&self) -> Version {
        match self {
            LibraryPre::V0_1(_) => Version::V0_1,
            LibraryPre::V0_2(_) => Version::V0_2,
        }
    }
}

/// What a library says of itself.
pub struct Described {
    pub info: LibraryInfo,
    /// Each trigger's description, in order; empty for a 0.1 library built
    /// before descriptions existed.
    pub descriptions: Vec<String>,
    /// Indices of the triggers that read removed values.
    pub removed_value: Vec<u32>,
}

/// A live instance's exports.
pub(super) enum Exports {
    V0_1(v0_1::TriggerLibrary),
    V0_2(v0_2::TriggerLibrary),
}

impl Exports {
    pub(super) fn new(
        pre: &LibraryPre,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> wasmtime::Result<Self> {
        Ok(match pre {
            LibraryPre::V0_1(_) => Exports::V0_1(v0_1::TriggerLibrary::new(store, instance)?),
            LibraryPre::V0_2(_) => Exports::V0_2(v0_2::TriggerLibrary::new(store, instance)?),
        })
    }

    /// `describe`. For 0.1, only its own export: the two optional ones are
    /// called by the instance, which knows how to look them up.
    pub(super) fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<Described> {
        match self {
            Exports::V0_1(library) => Ok(Described {
                info: library.call_describe(store)?,
                descriptions: Vec::new(),
                removed_value: Vec::new(),
            }),
            Exports::V0_2(library) => {
                let info = library.redis_triggers_library().call_describe(store)?;
                Ok(described_v0_2(info))
            }
        }
    }

    pub(super) fn on_fired(
        &self,
        store: &mut Store<HostState>,
        trigger: u32,
        event: &Event,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, String>> {
        match self {
            Exports::V0_1(library) => library.call_on_fired(store, trigger, &event.v0_1()),
            Exports::V0_2(library) => {
                library
                    .redis_triggers_library()
                    .call_on_fired(store, trigger, &event.v0_2())
            }
        }
    }

    pub(super) fn run(
        &self,
        store: &mut Store<HostState>,
        trigger: u32,
        event: &Event,
        payload: Option<&[u8]>,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Exports::V0_1(library) => library.call_run(store, trigger, &event.v0_1(), payload),
            Exports::V0_2(library) => {
                let ran = library.redis_triggers_library().call_run(
                    &mut *store,
                    trigger,
                    &event.v0_2(),
                    payload,
                )?;
                // The message of an `err` came before it, with `host.fail`.
                let failure = store.data_mut().failure.take();
                Ok(ran.map_err(|()| {
                    failure.unwrap_or_else(|| "run failed without saying why".into())
                }))
            }
        }
    }
}

fn described_v0_2(info: v0_2::LibraryInfo) -> Described {
    let mut descriptions = Vec::with_capacity(info.triggers.len());
    let mut removed_value = Vec::new();
    let mut triggers = Vec::with_capacity(info.triggers.len());
    for (index, trigger) in (0..).zip(info.triggers) {
        descriptions.push(trigger.description);
        if trigger.reads_removed_value {
            removed_value.push(index);
        }
        triggers.push(v0_1::redis::triggers::types::TriggerInfo {
            name: trigger.name,
            prefix: trigger.prefix,
            events: trigger.events,
            has_on_fired: trigger.has_on_fired,
        });
    }
    Described {
        info: LibraryInfo {
            name: info.name,
            triggers,
        },
        descriptions,
        removed_value,
    }
}

/// The longest `bytes` sent in place.
pub(super) const SHORT_BYTES: usize = 40;

/// The longest `bytes` sent in one word (`tiny`).
const TINY_BYTES: usize = 7;

/// `bytes`: in place when they fit, in the smallest case they fit.
#[inline]
pub(super) fn bytes(bytes: &[u8]) -> v0_2::Bytes {
    if bytes.len() <= TINY_BYTES {
        let mut word = [0u8; 8];
        word[..bytes.len()].copy_from_slice(bytes);
        // At most 7: the check above.
        word[TINY_BYTES] = bytes.len() as u8;
        return v0_2::Bytes::Tiny(u64::from_le_bytes(word));
    }
    if bytes.len() > SHORT_BYTES {
        return v0_2::Bytes::Long(bytes.to_vec());
    }
    let mut padded = [0u8; SHORT_BYTES];
    padded[..bytes.len()].copy_from_slice(bytes);
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&padded[i * 8..i * 8 + 8]);
        u64::from_le_bytes(w)
    };
    v0_2::Bytes::Short(v0_2::ShortBytes {
        // At most 40: the check above.
        length: bytes.len() as u8,
        bytes: (word(0), word(1), word(2), word(3), word(4)),
    })
}

/// The bytes a library sent as `bytes`, or `None` if a case in place
/// says it holds more than it can (over 7 in `tiny`, over 40 in `short`).
pub(super) fn bytes_from(bytes: &v0_2::Bytes) -> Option<Vec<u8>> {
    match bytes {
        v0_2::Bytes::Long(long) => Some(long.clone()),
        v0_2::Bytes::Tiny(word) => {
            let word = word.to_le_bytes();
            let length = usize::from(word[TINY_BYTES]);
            (length <= TINY_BYTES).then(|| word[..length].to_vec())
        }
        v0_2::Bytes::Short(short) => {
            let (a, b, c, d, e) = short.bytes;
            let mut all = Vec::with_capacity(SHORT_BYTES);
            for word in [a, b, c, d, e] {
                all.extend_from_slice(&word.to_le_bytes());
            }
            let length = usize::from(short.length);
            (length <= SHORT_BYTES).then(|| {
                all.truncate(length);
                all
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_go_in_place_up_to_40_and_come_back() {
        for len in [0, 1, 6, 7, 8, 9, 39, 40, 41, 200] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 1) as u8).collect();
            let sent = bytes(&data);
            let case = match sent {
                v0_2::Bytes::Tiny(_) => 7,
                v0_2::Bytes::Short(_) => 40,
                v0_2::Bytes::Long(_) => usize::MAX,
            };
            let smallest = [7, 40, usize::MAX].into_iter().find(|&c| len <= c);
            assert_eq!(Some(case), smallest, "{len} bytes");
            assert_eq!(bytes_from(&sent).as_deref(), Some(&data[..]), "{len}");
        }
        // In one word, its last byte the length.
        let v0_2::Bytes::Tiny(word) = bytes(b"+OK\r\n") else {
            panic!("tiny bytes");
        };
        assert_eq!(word, u64::from_le_bytes(*b"+OK\r\n\0\0\x05"));
        assert_eq!(bytes_from(&v0_2::Bytes::Tiny(8 << 56)), None);
        // Byte i is byte i % 8 of word i / 8, little-endian.
        let v0_2::Bytes::Short(short) = bytes(b"abcdefghi") else {
            panic!("short bytes");
        };
        assert_eq!(short.bytes.0, u64::from_le_bytes(*b"abcdefgh"));
        assert_eq!(short.bytes.1, u64::from(b'i'));
        let lying = v0_2::Bytes::Short(v0_2::ShortBytes {
            length: 41,
            bytes: (0, 0, 0, 0, 0),
        });
        assert_eq!(bytes_from(&lying), None);
    }
}

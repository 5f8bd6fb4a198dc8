//! Unit tests of what a trigger allocates: a global allocator that counts,
//! per thread, the calls into it, and the steps of
//! `examples-wasm/last_updated`'s trigger, which should allocate nothing
//! once warm.
//!
//! Each step is taken as `call` and `call_as` take it, on either side of
//! `host::call`: the request encoded into the kept buffer, and the host's
//! answer, literal replies in place as the host sends them, read into the
//! trigger's types. The crossing itself (the generated bindings lift a
//! `short` key or reply, a `known` event name and a `none` payload from
//! the call's arguments and return area, without allocating) is measured
//! against Redis, by the benchmarks.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use crate::__bindings::redis::triggers::types::{self, EventName, KnownEvent};
use crate::call::{answer_as, answer_value, with_request};
use crate::small_bytes::SmallBytes;
use crate::{Event, KeyType, Pipeline, Result, Value};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the allocator may run while the thread is torn down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every method hands the call to `System` as it is; counting only
// touches a thread-local integer, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's guarantees for `layout` are `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` and `layout` come from this allocator, that is
        // from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `realloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// How many times `f` called the allocator (on this thread).
fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.get();
    f();
    ALLOCATIONS.get() - before
}

/// An `hset` of `key`, as the host sends it.
fn hset(key: &[u8]) -> types::Event {
    types::Event {
        name: EventName::Known(KnownEvent::Hset),
        key: SmallBytes::to_wit(key),
        db: 0,
    }
}

/// The host's answer with `replies`, in place (they are short here), as
/// the host sends them.
fn answer(replies: &[u8]) -> types::Replies {
    types::Replies::Resp3(SmallBytes::to_wit(replies))
}

const TIME: &[u8] = b"*2\r\n$10\r\n1700000000\r\n$6\r\n123456\r\n";

/// What `stamp` in `examples-wasm/last_updated` does for `event`, step by
/// step, with `kind` for `TYPE`'s reply:
///
/// ```text
/// if call_as::<KeyType>("TYPE", [event.key()])? != KeyType::Hash {
///     return Ok(());
/// }
/// let (seconds, _micros): (i64, i64) = call_as("TIME", ())?;
/// call("HSET", (event.key(), "__last_updated__", seconds))?;
/// ```
///
/// Each request is checked against what the host should be sent (a
/// comparison, which does not allocate).
fn stamp(event: types::Event, kind: &[u8]) -> Result<()> {
    let event = Event::from_wit(event)?;
    with_request("TYPE", [event.key()], |sent| {
        assert_eq!(
            (&sent.strings[..], &sent.lengths[..]),
            (&b"TYPEuser:1000"[..], &[2, 4, 9][..])
        )
    });
    if answer_as::<KeyType>(answer(kind), "TYPE")? != KeyType::Hash {
        return Ok(());
    }
    with_request("TIME", (), |sent| {
        assert_eq!(
            (&sent.strings[..], &sent.lengths[..]),
            (&b"TIME"[..], &[1, 4][..])
        )
    });
    let (seconds, _micros): (i64, i64) = answer_as(answer(TIME), "TIME")?;
    let hset = (event.key(), "__last_updated__", seconds);
    with_request("HSET", hset, |sent| {
        assert_eq!(
            (&sent.strings[..], &sent.lengths[..]),
            (
                &b"HSETuser:1000__last_updated__1700000000"[..],
                &[4, 4, 9, 16, 10][..]
            )
        )
    });
    assert_eq!(answer_value(answer(b":0\r\n"))?, Value::Int(0));
    Ok(())
}

#[test]
fn last_updated_allocates_nothing() {
    // The counter counts.
    assert_eq!(allocations_in(|| drop(std::hint::black_box(vec![1u8]))), 1);
    // The first round warms up the kept buffer; the second is measured.
    let mut hash = 0;
    for _ in 0..2 {
        let event = hset(b"user:1000");
        hash = allocations_in(|| stamp(event, b"+hash\r\n").expect("stamped"));
    }
    assert_eq!(hash, 0, "no allocation for a hash");

    // The other path: the hash is gone by the time the trigger runs.
    let event = hset(b"user:1000");
    let gone = allocations_in(|| stamp(event, b"+none\r\n").expect("skipped"));
    assert_eq!(gone, 0);
    // A type this SDK does not name is read into a String.
    let event = hset(b"user:1000");
    let other = allocations_in(|| stamp(event, b"+vectorset\r\n").expect("skipped"));
    assert_eq!(other, 1);
}

#[test]
fn a_pipeline_allocates_only_what_its_replies_are_read_into() {
    let replies = [&b"+hash\r\n"[..], TIME].concat();
    let run = || {
        allocations_in(|| {
            let mut pipeline = Pipeline::new();
            pipeline.call("TYPE", [&b"user:1000"[..]]).call("TIME", ());
            let mut replies = pipeline.into_replies(answer(&replies)).expect("ran");
            let kind: KeyType = replies.next_as().expect("TYPE");
            let (seconds, _): (i64, i64) = replies.next_as().expect("TIME");
            assert_eq!((kind, seconds), (KeyType::Hash, 1_700_000_000));
        })
    };
    run();
    assert_eq!(run(), 0, "no allocation");
}

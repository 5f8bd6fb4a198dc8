//! The WASI a guest gets: what Rust's standard library needs, and nothing
//! that can block Redis' main thread.
//!
//! wasmtime-wasi's synchronous bindings wait in host code (`poll`,
//! `pollable.block`, blocking stream writes), on a Tokio runtime that they
//! start inside the server; the epoch deadline only interrupts Wasm code, so
//! a guest's `std::thread::sleep(5 s)` held the server for 5 s. Here:
//!
//! - `wasi:io/poll` and `wasi:io/streams` never wait: an operation that is
//!   ready now completes, one that would wait (a sleep, a poll on a timer
//!   not yet due) is refused with a trap that says why ([`Refused`]);
//! - `wasi:clocks/monotonic-clock` reads the time, and its timers are plain
//!   deadlines;
//! - stdout and stderr go to the Redis log at debug level, a line at a time,
//!   truncated and rate-limited (`guest_log.rs`); stdin is empty;
//! - wall clock, randomness, an empty environment, `exit` (a trap) and a
//!   filesystem with no directories come from wasmtime-wasi as they are:
//!   none of them waits;
//! - `wasi:sockets` is not linked at all: a library that imports it is
//!   refused at `TRIGGER LOAD`.
//!
//! No Tokio runtime is ever started.

use std::future::Future;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random, sync};
use wasmtime_wasi::p2::pipe::ClosedInputStream;
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, DynPollable, Pollable, StreamError, StreamResult,
};
use wasmtime_wasi::random::WasiRandom;
use wasmtime_wasi::WasiView;
use wasmtime_wasi_io::bindings::wasi::io::{error, poll as async_poll, streams as async_streams};
use wasmtime_wasi_io::streams::InputStream;

use super::guest_log::LogStream;
use super::store::HostState;

/// Why a guest's WASI call was refused: it would have waited.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn refused(what: &str) -> wasmtime::Error {
    wasmtime::Error::new(Refused(format!(
        "{what} would wait, and a trigger may not wait: it runs on Redis' main thread \
         (std::thread::sleep, polling a timer or a stream that is not ready)"
    )))
}

/// Runs `future` to completion if it completes now, without waiting.
fn now_or_never<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

fn no_wait<T>(
    what: &str,
    future: impl Future<Output = wasmtime::Result<T>>,
) -> wasmtime::Result<T> {
    now_or_never(future).unwrap_or_else(|| Err(refused(what)))
}

fn no_wait_stream<T>(what: &str, future: impl Future<Output = StreamResult<T>>) -> StreamResult<T> {
    now_or_never(future).unwrap_or_else(|| Err(StreamError::Trap(refused(what))))
}

/// What our WASI functions see of a library's store.
pub struct GuestIo<'a> {
    table: &'a mut ResourceTable,
    library: &'a str,
}

struct HasGuestIo;

impl HasData for HasGuestIo {
    type Data<'a> = GuestIo<'a>;
}

fn guest_io(state: &mut HostState) -> GuestIo<'_> {
    GuestIo {
        table: &mut state.table,
        library: &state.library,
    }
}

struct HasTable;

impl HasData for HasTable {
    type Data<'a> = &'a mut ResourceTable;
}

/// Adds the WASI described above to the linker.
pub fn add_to_linker(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    type T = HostState;
    // Ours: never wait.
    sync::io::poll::add_to_linker::<T, HasGuestIo>(l, guest_io)?;
    sync::io::streams::add_to_linker::<T, HasGuestIo>(l, guest_io)?;
    clocks::monotonic_clock::add_to_linker::<T, HasGuestIo>(l, guest_io)?;
    cli::stdin::add_to_linker::<T, HasGuestIo>(l, guest_io)?;
    cli::stdout::add_to_linker::<T, HasGuestIo>(l, guest_io)?;
    cli::stderr::add_to_linker::<T, HasGuestIo>(l, guest_io)?;
    // wasmtime-wasi's, which never wait.
    error::add_to_linker::<T, HasTable>(l, |t| &mut t.table)?;
    clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    random::random::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    // No preopened directories: a guest can reach no file.
    filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    sync::filesystem::types::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    Ok(())
}

// --- wasi:io/poll ------------------------------------------------------------

impl sync::io::poll::Host for GuestIo<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        no_wait("poll", async_poll::Host::poll(self.table, pollables))
    }
}

impl sync::io::poll::HostPollable for GuestIo<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        no_wait(
            "pollable.ready",
            async_poll::HostPollable::ready(self.table, pollable),
        )
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        no_wait(
            "pollable.block",
            async_poll::HostPollable::block(self.table, pollable),
        )
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        async_poll::HostPollable::drop(self.table, pollable)
    }
}

// --- wasi:io/streams ---------------------------------------------------------

use async_streams::{HostInputStream as AsyncInput, HostOutputStream as AsyncOutput};

impl sync::io::streams::Host for GuestIo<'_> {
    fn convert_stream_error(
        &mut self,
        err: StreamError,
    ) -> wasmtime::Result<sync::io::streams::StreamError> {
        Ok(async_streams::Host::convert_stream_error(self.table, err)?.into())
    }
}

impl sync::io::streams::HostOutputStream for GuestIo<'_> {
    fn drop(&mut self, stream: Resource<DynOutputStream>) -> wasmtime::Result<()> {
        no_wait("closing a stream", AsyncOutput::drop(self.table, stream))
    }

    fn check_write(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<u64> {
        AsyncOutput::check_write(self.table, stream)
    }

    fn write(&mut self, stream: Resource<DynOutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
        AsyncOutput::write(self.table, stream, bytes)
    }

    fn blocking_write_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        bytes: Vec<u8>,
    ) -> StreamResult<()> {
        no_wait_stream(
            "a blocking write",
            AsyncOutput::blocking_write_and_flush(self.table, stream, bytes),
        )
    }

    fn blocking_write_zeroes_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        len: u64,
    ) -> StreamResult<()> {
        no_wait_stream(
            "a blocking write",
            AsyncOutput::blocking_write_zeroes_and_flush(self.table, stream, len),
        )
    }

    fn subscribe(
        &mut self,
        stream: Resource<DynOutputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        AsyncOutput::subscribe(self.table, stream)
    }

    fn write_zeroes(&mut self, stream: Resource<DynOutputStream>, len: u64) -> StreamResult<()> {
        AsyncOutput::write_zeroes(self.table, stream, len)
    }

    fn flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        AsyncOutput::flush(self.table, stream)
    }

    fn blocking_flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        no_wait_stream(
            "a blocking flush",
            AsyncOutput::blocking_flush(self.table, stream),
        )
    }

    fn splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        AsyncOutput::splice(self.table, dst, src, len)
    }

    fn blocking_splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        no_wait_stream(
            "a blocking splice",
            AsyncOutput::blocking_splice(self.table, dst, src, len),
        )
    }
}

impl sync::io::streams::HostInputStream for GuestIo<'_> {
    fn drop(&mut self, stream: Resource<DynInputStream>) -> wasmtime::Result<()> {
        no_wait("closing a stream", AsyncInput::drop(self.table, stream))
    }

    fn read(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        AsyncInput::read(self.table, stream, len)
    }

    fn blocking_read(
        &mut self,
        stream: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<Vec<u8>> {
        no_wait_stream(
            "a blocking read",
            AsyncInput::blocking_read(self.table, stream, len),
        )
    }

    fn skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        AsyncInput::skip(self.table, stream, len)
    }

    fn blocking_skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        no_wait_stream(
            "a blocking skip",
            AsyncInput::blocking_skip(self.table, stream, len),
        )
    }

    fn subscribe(
        &mut self,
        stream: Resource<DynInputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        AsyncInput::subscribe(self.table, stream)
    }
}

// --- wasi:clocks/monotonic-clock -------------------------------------------

/// The monotonic clock's zero: the first time a guest reads it.
fn clock_zero() -> Instant {
    static ZERO: OnceLock<Instant> = OnceLock::new();
    *ZERO.get_or_init(Instant::now)
}

/// A timer: ready once its deadline has passed, and never waited for.
struct Deadline(Instant);

#[wasmtime_wasi::async_trait]
impl Pollable for Deadline {
    async fn ready(&mut self) {
        let deadline = self.0;
        std::future::poll_fn(|_| {
            if Instant::now() >= deadline {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

impl GuestIo<'_> {
    fn timer(&mut self, deadline: Instant) -> wasmtime::Result<Resource<DynPollable>> {
        let timer = self.table.push(Deadline(deadline))?;
        wasmtime_wasi::p2::subscribe(self.table, timer)
    }
}

impl clocks::monotonic_clock::Host for GuestIo<'_> {
    fn now(&mut self) -> wasmtime::Result<u64> {
        let since = Instant::now().saturating_duration_since(clock_zero());
        Ok(u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        Ok(1)
    }

    fn subscribe_instant(&mut self, when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        let deadline = clock_zero()
            .checked_add(Duration::from_nanos(when))
            .unwrap_or_else(far_future);
        self.timer(deadline)
    }

    fn subscribe_duration(&mut self, duration: u64) -> wasmtime::Result<Resource<DynPollable>> {
        let deadline = Instant::now()
            .checked_add(Duration::from_nanos(duration))
            .unwrap_or_else(far_future);
        self.timer(deadline)
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

// --- wasi:cli stdin, stdout, stderr -----------------------------------------

impl cli::stdin::Host for GuestIo<'_> {
    fn get_stdin(&mut self) -> wasmtime::Result<Resource<DynInputStream>> {
        let stream: Box<dyn InputStream> = Box::new(ClosedInputStream);
        Ok(self.table.push(stream)?)
    }
}

impl cli::stdout::Host for GuestIo<'_> {
    fn get_stdout(&mut self) -> wasmtime::Result<Resource<DynOutputStream>> {
        let stream: DynOutputStream = Box::new(LogStream::new(self.library, "stdout"));
        Ok(self.table.push(stream)?)
    }
}

impl cli::stderr::Host for GuestIo<'_> {
    fn get_stderr(&mut self) -> wasmtime::Result<Resource<DynOutputStream>> {
        let stream: DynOutputStream = Box::new(LogStream::new(self.library, "stderr"));
        Ok(self.table.push(stream)?)
    }
}

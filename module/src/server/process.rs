//! The server's process, beyond the module API: its fault signal handlers,
//! which Redis replaces when `crash-log-enabled` changes, its heap, and its
//! user.

use std::sync::OnceLock;

/// The signals a fault raises.
const FAULT_SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// The fault handlers saved by [`save_fault_handlers`].
struct Saved([libc::sigaction; 4]);

// SAFETY: plain data (handler addresses, masks and flags), only read.
unsafe impl Send for Saved {}
// SAFETY: as above.
unsafe impl Sync for Saved {}

static SAVED: OnceLock<Saved> = OnceLock::new();

/// Saves the fault handlers in place now (once: later calls do nothing).
pub fn save_fault_handlers() -> Result<(), String> {
    // SAFETY: `sigaction` is plain data, for which all zeroes is valid.
    let mut saved: [libc::sigaction; 4] = unsafe { std::mem::zeroed() };
    for (signal, action) in FAULT_SIGNALS.iter().zip(saved.iter_mut()) {
        // SAFETY: reads the current action into `action`.
        if unsafe { libc::sigaction(*signal, std::ptr::null(), action) } != 0 {
            return Err("cannot read the signal handlers".into());
        }
    }
    let _ = SAVED.set(Saved(saved));
    Ok(())
}

/// Puts the handlers saved by [`save_fault_handlers`] back.
pub fn restore_fault_handlers() -> Result<(), String> {
    let Some(Saved(saved)) = SAVED.get() else {
        return Ok(());
    };
    for (signal, action) in FAULT_SIGNALS.iter().zip(saved.iter()) {
        // SAFETY: `action` was read from the kernel by `sigaction`.
        if unsafe { libc::sigaction(*signal, action, std::ptr::null_mut()) } != 0 {
            return Err("cannot restore the signal handlers".into());
        }
    }
    Ok(())
}

/// Gives the heap's free memory back to the system (glibc's
/// `malloc_trim`: the module's allocator is the system's).
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: glibc's `malloc_trim` only releases free memory.
        unsafe { malloc_trim(0) };
    }
}

/// The process's effective user id.
pub fn effective_uid() -> u32 {
    // SAFETY: `geteuid` cannot fail and has no preconditions.
    unsafe { libc::geteuid() }
}

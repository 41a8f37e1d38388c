//! Proof, on the running audio thread, that a section makes no system call.
//!
//! Linux's syscall user dispatch (`prctl(PR_SET_SYSCALL_USER_DISPATCH)`, kernel 5.11 and
//! later) lets a thread name a byte of its own memory, the *selector*, that the kernel
//! reads at every system call the thread makes: while it says "block", the call is not
//! made and the thread gets `SIGSYS` instead. Setting the byte is a plain store, so a
//! section can be guarded at the cost of two stores, with no system call of its own.
//!
//! [`forbid_syscalls`] blocks for the duration of its closure. A call made inside is
//! counted by the `SIGSYS` handler ([`install`]), which then lets the thread through: it
//! opens the selector for the rest of the section and steps the thread back onto its
//! system-call instruction, so the call is made as written, once. The show goes on,
//! and the count (with the number of the last call caught, for the message) says what
//! happened, as [`crate::alloc_guard`] does for allocations.
//!
//! A thread is armed by its first guarded section (one `prctl`, before the section
//! blocks). Where the kernel or the architecture has no syscall user dispatch (only
//! x86-64 Linux is supported) sections run unguarded and [`status`] says why.
//!
//! ```
//! use troubadour_rt::syscall_guard::{forbid_syscalls, install, thread_violations};
//!
//! let _ = install();
//! let before = thread_violations();
//! let sum = forbid_syscalls(|| (1..=4).sum::<u32>());
//! assert_eq!(sum, 10);
//! assert_eq!(thread_violations(), before);
//! ```

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicUsize, Ordering, compiler_fence};

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod linux_x86_64;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
use linux_x86_64 as imp;

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
mod imp {
    pub(super) fn install() -> Result<(), String> {
        Err("syscall user dispatch is supported on x86-64 Linux only".into())
    }
    pub(super) fn arm(_selector: *mut u8) -> bool {
        false
    }
    pub(super) fn name(_nr: i64) -> Option<&'static str> {
        None
    }
}

/// What the kernel reads: let calls through.
const ALLOW: u8 = 0;
/// What the kernel reads: turn calls into `SIGSYS`.
const BLOCK: u8 = 1;

const UNARMED: u8 = 0;
const ARMED: u8 = 1;
const UNAVAILABLE: u8 = 2;

thread_local! {
    /// This thread's selector. `const` initialised and without `Drop`: static TLS, at a
    /// fixed address for the thread's whole life, which is what the kernel holds.
    static SELECTOR: Cell<u8> = const { Cell::new(ALLOW) };
    /// Whether this thread has asked the kernel to read its selector.
    static ARM: Cell<u8> = const { Cell::new(UNARMED) };
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    static THREAD_VIOLATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Process-wide: `UNARMED` until [`install`] ran, then `ARMED` (handler in place) or
/// `UNAVAILABLE`.
static HANDLER: AtomicU8 = AtomicU8::new(UNARMED);
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
static VIOLATIONS: AtomicUsize = AtomicUsize::new(0);
static LAST_SYSCALL: AtomicI64 = AtomicI64::new(-1);
static ARMED_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Installs the `SIGSYS` handler that counts calls made in guarded sections. Until it
/// has run, sections run unguarded (an armed thread without a handler would be killed
/// by its first call). Idempotent; the error says why the guard cannot work here.
pub fn install() -> Result<(), String> {
    INSTALLED
        .get_or_init(|| {
            let result = imp::install();
            let state = if result.is_ok() { ARMED } else { UNAVAILABLE };
            HANDLER.store(state, Ordering::Release);
            result
        })
        .clone()
}

/// Whether guarded sections are checked in this process (`Err` says why not).
pub fn status() -> Result<(), String> {
    INSTALLED.get().cloned().unwrap_or_else(|| {
        Err("the SIGSYS handler is not installed (troubadour_rt::syscall_guard::install)".into())
    })
}

/// Runs `f` with system calls forbidden on this thread: each one made inside (in
/// this thread's code, libraries included) is counted as a violation and then made.
/// Nests; only the outermost section opens the selector again.
#[inline]
pub fn forbid_syscalls<R>(f: impl FnOnce() -> R) -> R {
    if !armed_here() {
        return f();
    }
    struct Section;
    impl Drop for Section {
        fn drop(&mut self) {
            compiler_fence(Ordering::SeqCst);
            let depth = DEPTH.with(|d| {
                d.set(d.get() - 1);
                d.get()
            });
            if depth == 0 {
                set_selector(ALLOW);
            }
        }
    }
    DEPTH.with(|d| d.set(d.get() + 1));
    set_selector(BLOCK);
    let _section = Section;
    compiler_fence(Ordering::SeqCst);
    f()
}

/// System calls caught in guarded sections so far, on any thread.
pub fn violations() -> usize {
    VIOLATIONS.load(Ordering::Relaxed)
}

/// System calls caught in guarded sections of the calling thread so far.
pub fn thread_violations() -> usize {
    THREAD_VIOLATIONS.with(Cell::get)
}

/// The number (as in `<asm/unistd.h>`) of the last system call caught, if any.
pub fn last_syscall() -> Option<i64> {
    Some(LAST_SYSCALL.load(Ordering::Relaxed)).filter(|n| *n >= 0)
}

/// The name of system call `nr` where it is one a callback might plausibly make (for a
/// message), `None` otherwise.
pub fn syscall_name(nr: i64) -> Option<&'static str> {
    imp::name(nr)
}

/// Threads armed so far (each audio thread once): a test's proof that its sections were
/// really guarded.
pub fn armed_threads() -> usize {
    ARMED_THREADS.load(Ordering::Relaxed)
}

/// Whether this thread's sections are guarded, arming it on first use.
#[inline]
fn armed_here() -> bool {
    match ARM.with(Cell::get) {
        ARMED => true,
        UNAVAILABLE => false,
        _ => {
            if HANDLER.load(Ordering::Acquire) != ARMED {
                // Not installed (yet): try again next time, it may be by then.
                return false;
            }
            let ok = imp::arm(SELECTOR.with(Cell::as_ptr));
            ARM.with(|a| a.set(if ok { ARMED } else { UNAVAILABLE }));
            if ok {
                ARMED_THREADS.fetch_add(1, Ordering::Relaxed);
            }
            ok
        }
    }
}

#[inline]
fn set_selector(value: u8) {
    let selector = SELECTOR.with(Cell::as_ptr);
    // SAFETY: the thread's own selector, a live `Cell<u8>` of static TLS; volatile so the
    // store is made where it is written (the kernel, not the program, reads it).
    unsafe { std::ptr::write_volatile(selector, value) };
}

/// The handler's side: a call was caught on this thread (`counted`: as a violation).
/// Only atomics and const TLS, which is all a signal handler may touch.
fn caught(syscall: i64, counted: bool) {
    set_selector(ALLOW);
    if !counted {
        return;
    }
    VIOLATIONS.fetch_add(1, Ordering::Relaxed);
    LAST_SYSCALL.store(syscall, Ordering::Relaxed);
    let _ = THREAD_VIOLATIONS.try_with(|v| v.set(v.get() + 1));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    fn a_system_call_in_a_section_is_counted_and_still_made() {
        install().expect("syscall user dispatch on this kernel");
        std::thread::spawn(|| {
            let before = thread_violations();
            // Pure work: nothing caught.
            let x = forbid_syscalls(|| std::hint::black_box(21u64) * 2);
            assert_eq!(x, 42);
            assert_eq!(thread_violations(), before);
            assert_eq!(
                ARM.with(Cell::get),
                ARMED,
                "the first section armed the thread"
            );
            // A real call (getpid: it has a result to check) inside: caught, then made.
            // SAFETY: getpid has no preconditions.
            let pid = forbid_syscalls(|| unsafe { libc::syscall(libc::SYS_getpid) });
            assert_eq!(
                pid as u32,
                std::process::id(),
                "the call was made after all"
            );
            assert_eq!(thread_violations(), before + 1);
            assert_eq!(last_syscall(), Some(libc::SYS_getpid));
            // Out of the section, calls are free again and not counted.
            // SAFETY: as above.
            let again = unsafe { libc::syscall(libc::SYS_getpid) };
            assert_eq!(again, pid);
            assert_eq!(thread_violations(), before + 1);
            // Two calls in one section count once: the first opens the selector.
            forbid_syscalls(|| {
                // SAFETY: as above.
                unsafe {
                    libc::syscall(libc::SYS_getpid);
                    libc::syscall(libc::SYS_getppid);
                }
            });
            assert_eq!(thread_violations(), before + 2);
            // A nested section's end does not open the outer one; a call after it is
            // caught.
            forbid_syscalls(|| {
                forbid_syscalls(|| ());
                // SAFETY: as above.
                unsafe { libc::syscall(libc::SYS_getpid) };
            });
            assert_eq!(thread_violations(), before + 3);
            // A blocking call (a sleep) and a futex wake (what `unpark` does to a
            // sleeping thread) are caught like any other.
            forbid_syscalls(|| std::thread::sleep(std::time::Duration::from_micros(10)));
            assert_eq!(thread_violations(), before + 4);
        })
        .join()
        .unwrap();
    }

    #[test]
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    fn another_signal_handler_inside_a_section_returns_without_counting_or_dying() {
        use std::sync::atomic::AtomicBool;
        static ARRIVED: AtomicBool = AtomicBool::new(false);
        static IN_SECTION: AtomicBool = AtomicBool::new(false);
        extern "C" fn on_usr1(_: libc::c_int) {
            ARRIVED.store(true, Ordering::Release);
        }
        install().expect("syscall user dispatch on this kernel");
        // SAFETY: a handler that only stores an atomic, installed for SIGUSR1, which
        // nothing else in this test binary uses.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_usr1 as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            assert_eq!(
                libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
                0
            );
        }
        std::thread::spawn(|| {
            // SAFETY: pthread_self has no preconditions.
            let me = unsafe { libc::pthread_self() } as usize;
            let sender = std::thread::spawn(move || {
                while !IN_SECTION.load(Ordering::Acquire) {
                    std::thread::yield_now();
                }
                // SAFETY: `me` is alive: it spins until the signal arrives.
                unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGUSR1) };
            });
            let before = thread_violations();
            let arrived = forbid_syscalls(|| {
                IN_SECTION.store(true, Ordering::Release);
                // No system call in here: the handler runs inside the section and
                // returns through rt_sigreturn, the trampoline armed threads may use.
                (0..20_000_000_000u64).any(|_| {
                    std::hint::spin_loop();
                    ARRIVED.load(Ordering::Acquire)
                })
            });
            sender.join().unwrap();
            assert_eq!(ARM.with(Cell::get), ARMED, "the section was guarded");
            assert!(arrived, "the signal never came");
            assert_eq!(
                thread_violations(),
                before,
                "a handler's return is not ours"
            );
        })
        .join()
        .unwrap();
    }

    #[test]
    fn sections_run_unguarded_on_a_thread_before_install_is_known() {
        // A thread whose arming failed runs its sections as plain calls.
        std::thread::spawn(|| {
            ARM.with(|a| a.set(UNAVAILABLE));
            assert_eq!(forbid_syscalls(|| 7), 7);
            assert_eq!(thread_violations(), 0);
        })
        .join()
        .unwrap();
    }
}

//! Proof, by test, that a section of code does not allocate.
//!
//! A test binary installs [`GuardedAllocator`] as its global allocator and runs the
//! audio path inside [`forbid_alloc`]; every allocation, reallocation or free made on
//! that thread inside the section is counted as a violation. The allocator never panics
//! (a panic would itself allocate); the test asserts on [`violations`] afterwards.
//!
//! ```
//! use troubadour_rt::alloc_guard::{forbid_alloc, violations};
//!
//! // This section allocates nothing, so it counts nothing. (Doc tests run without the
//! // guarded allocator installed; the engine's `no_alloc` test installs it.)
//! let before = violations();
//! forbid_alloc(|| {
//!     let x = 2 + 2;
//!     assert_eq!(x, 4);
//! });
//! assert_eq!(violations(), before);
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

thread_local! {
    /// Depth of nested `forbid_alloc` sections on this thread. `const` initialised and
    /// without `Drop`, so touching it never allocates or registers a destructor.
    static FORBIDDEN: Cell<u32> = const { Cell::new(0) };
    /// Violations on this thread, so parallel tests cannot see each other's.
    static THREAD_VIOLATIONS: Cell<usize> = const { Cell::new(0) };
}

static VIOLATIONS: AtomicUsize = AtomicUsize::new(0);
static LAST_VIOLATION_SIZE: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);

/// A global allocator that counts allocations and flags those made inside
/// [`forbid_alloc`]. Wraps [`System`].
///
/// ```no_run
/// use troubadour_rt::alloc_guard::GuardedAllocator;
///
/// #[global_allocator]
/// static ALLOC: GuardedAllocator = GuardedAllocator;
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct GuardedAllocator;

#[inline]
fn check(size: usize) {
    // `try_with` so an allocation during thread teardown (after the slot is gone) is
    // simply not checked rather than aborting.
    if FORBIDDEN.try_with(|f| f.get() > 0).unwrap_or(false) {
        VIOLATIONS.fetch_add(1, Ordering::Relaxed);
        LAST_VIOLATION_SIZE.store(size, Ordering::Relaxed);
        let _ = THREAD_VIOLATIONS.try_with(|v| v.set(v.get() + 1));
    }
}

#[inline]
fn grew(size: usize) {
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    let live = LIVE_BYTES.fetch_add(size, Ordering::Relaxed) + size;
    PEAK_BYTES.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// bookkeeping around it only touches atomics and a const thread-local, which allocate
// nothing.
unsafe impl GlobalAlloc for GuardedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        grew(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        grew(layout.size());
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        check(layout.size());
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged; `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check(new_size);
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        grew(new_size);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` with allocation forbidden on this thread: with [`GuardedAllocator`]
/// installed, any allocation or free inside counts as a violation.
pub fn forbid_alloc<R>(f: impl FnOnce() -> R) -> R {
    struct Section;
    impl Drop for Section {
        fn drop(&mut self) {
            FORBIDDEN.with(|c| c.set(c.get() - 1));
        }
    }
    FORBIDDEN.with(|c| c.set(c.get() + 1));
    let _section = Section;
    f()
}

/// Runs `f` with allocation allowed again inside a [`forbid_alloc`] section, for the
/// rare spot that must (test scaffolding, never the audio path).
pub fn permit_alloc<R>(f: impl FnOnce() -> R) -> R {
    let saved = FORBIDDEN.with(|c| c.replace(0));
    struct Restore(u32);
    impl Drop for Restore {
        fn drop(&mut self) {
            FORBIDDEN.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(saved);
    f()
}

/// Allocations, reallocations and frees made inside [`forbid_alloc`] sections so far,
/// on any thread.
pub fn violations() -> usize {
    VIOLATIONS.load(Ordering::Relaxed)
}

/// Violations made on the calling thread so far: what a test should assert on, since
/// tests run in parallel and [`violations`] counts every thread's.
pub fn thread_violations() -> usize {
    THREAD_VIOLATIONS.with(|v| v.get())
}

/// Size in bytes of the most recent violating request (0 if none): a clue to what it was.
pub fn last_violation_size() -> usize {
    LAST_VIOLATION_SIZE.load(Ordering::Relaxed)
}

/// Allocations (including reallocations) since the program started.
pub fn allocations() -> usize {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// Bytes currently allocated through the guarded allocator.
pub fn live_bytes() -> usize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

/// The highest [`live_bytes`] seen since the start or the last [`reset_peak_bytes`].
pub fn peak_bytes() -> usize {
    PEAK_BYTES.load(Ordering::Relaxed)
}

/// Restarts peak tracking from the current live byte count.
pub fn reset_peak_bytes() {
    PEAK_BYTES.store(live_bytes(), Ordering::Relaxed);
}

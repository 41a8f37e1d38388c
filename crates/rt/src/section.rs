//! A section of the audio path run with allocation and system calls forbidden, and
//! what it made of each (see [`crate::alloc_guard`] and [`crate::syscall_guard`]).

use crate::{alloc_guard, syscall_guard};

/// What a section made that it must not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Made {
    /// Allocations, reallocations and frees (with the guarded allocator installed).
    pub allocations: u64,
    /// System calls (with the syscall guard installed).
    pub syscalls: u64,
}

/// Runs `f` with allocation and system calls forbidden on this thread; returns its
/// value and what it made. A few thread-local reads and two stores.
#[inline]
pub fn forbidden<R>(f: impl FnOnce() -> R) -> (R, Made) {
    let allocations = alloc_guard::thread_violations();
    let syscalls = syscall_guard::thread_violations();
    let result = alloc_guard::forbid_alloc(|| syscall_guard::forbid_syscalls(f));
    let made = Made {
        allocations: alloc_guard::thread_violations().wrapping_sub(allocations) as u64,
        syscalls: syscall_guard::thread_violations().wrapping_sub(syscalls) as u64,
    };
    (result, made)
}

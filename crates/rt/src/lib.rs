//! Real-time primitives for Troubadour.
//!
//! Everything here may be used on the audio thread: no method called there allocates,
//! frees, locks, blocks or makes a system call.
//!
//! - [`ring`]: the lock-free SPSC [`ring::LockFreeRingBuffer`].
//! - [`atomic_float`]: `f32` values and meters shared through atomics.
//! - [`smooth`]: gain ramps computed on the audio thread.
//! - [`alloc_guard`]: a global allocator that proves a section does not allocate.
//! - [`syscall_guard`]: proof, on the running audio thread, that a section makes no
//!   system call.
//! - [`section`]: both guards around one section, with what it made.
//! - [`denormal`]: flush-to-zero for the duration of a callback.
//! - [`exchange`]: swap-and-return of heap values the audio thread uses.
//! - [`prefault`]: touching buffers before the audio thread needs them.

pub mod alloc_guard;
pub mod atomic_float;
pub mod denormal;
pub mod exchange;
pub mod prefault;
pub mod ring;
pub mod section;
pub mod smooth;
mod sync;
pub mod syscall_guard;

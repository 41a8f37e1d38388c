//! `LockFreeRingBuffer`: a wait-free single-producer single-consumer queue.
//!
//! It carries audio between clock domains and commands to the audio thread, so both of
//! its ends are real-time safe: after construction nothing allocates, locks or makes a
//! system call. The capacity is a power of two, so a position becomes a slot index with
//! one mask. Positions are free-running `usize` counters (wrapping after `usize::MAX`
//! items, harmlessly); `tail - head` is the fill level without any "one slot wasted"
//! trick.
//!
//! The producer owns `tail`, the consumer owns `head`; each sits in its own cache line
//! ([`CachePadded`]) and each side keeps a private copy of the other side's counter, so
//! `push`, `pop`, `write`, `read` and the chunk calls touch the other side's line only
//! when the private copy says the queue looks full (producer) or empty (consumer).
//! The status queries (`len`, `free`, `is_empty`) always read it.
//!
//! ```
//! use troubadour_rt::ring::LockFreeRingBuffer;
//!
//! let (mut tx, mut rx) = LockFreeRingBuffer::<f32>::with_capacity(1000);
//! assert_eq!(tx.capacity(), 1024); // rounded up to a power of two
//! assert_eq!(tx.write(&[0.5, -0.5, 0.25]), 3);
//! let mut out = [0.0; 4];
//! assert_eq!(rx.read(&mut out), 3);
//! assert_eq!(&out[..3], &[0.5, -0.5, 0.25]);
//! ```

mod chunk;
mod consumer;
mod producer;

use std::mem::MaybeUninit;

use crossbeam_utils::CachePadded;

use crate::sync::{Arc, AtomicBool, AtomicUsize, Ordering, UnsafeCell};

#[cfg(not(loom))]
pub use chunk::{ChunkError, ReadChunk, WriteChunk};
pub use consumer::Consumer;
pub use producer::Producer;

/// Constructor namespace of the SPSC ring buffer; the buffer itself lives behind the
/// [`Producer`] and [`Consumer`] it hands out.
///
/// ```
/// use troubadour_rt::ring::LockFreeRingBuffer;
///
/// let (mut tx, mut rx) = LockFreeRingBuffer::with_capacity(2);
/// tx.push("a").unwrap();
/// tx.push("b").unwrap();
/// assert_eq!(tx.push("c"), Err("c")); // full: the item comes back
/// assert_eq!(rx.pop(), Some("a"));
/// ```
#[derive(Debug)]
pub struct LockFreeRingBuffer<T> {
    _marker: std::marker::PhantomData<T>,
}

impl<T> LockFreeRingBuffer<T> {
    /// Allocates a queue of at least `capacity` slots (rounded up to a power of two,
    /// minimum 1) and returns its two ends. The slots and the shared counters are the
    /// queue's only allocations; nothing allocates after this.
    ///
    /// # Panics
    ///
    /// If the rounded capacity would not fit in a `usize` (and, like any allocation,
    /// aborts when memory runs out).
    ///
    /// ```
    /// use troubadour_rt::ring::LockFreeRingBuffer;
    ///
    /// let (tx, rx) = LockFreeRingBuffer::<u8>::with_capacity(3);
    /// assert_eq!((tx.capacity(), rx.capacity()), (4, 4));
    /// ```
    #[allow(clippy::new_ret_no_self)]
    pub fn with_capacity(capacity: usize) -> (Producer<T>, Consumer<T>) {
        let capacity = capacity
            .max(1)
            .checked_next_power_of_two()
            .expect("ring buffer capacity overflows usize");
        // Positions are compared by wrapping difference, which is unambiguous only while
        // the capacity is at most half the counter range.
        assert!(capacity <= usize::MAX / 2, "ring buffer capacity too large");
        let slots: Box<[UnsafeCell<MaybeUninit<T>>]> = (0..capacity)
            .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
            .collect();
        // The audio thread must not fault the storage's pages in on its first lap.
        #[cfg(not(loom))]
        // SAFETY: the storage is one allocation of `capacity` slots, all uninitialised,
        // so a zero byte anywhere in it corrupts nothing.
        unsafe {
            crate::prefault::touch_uninit(slots.as_ptr() as *mut u8, std::mem::size_of_val(&*slots))
        };
        let shared = Arc::new(Shared {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            abandoned: AtomicBool::new(false),
            slots,
            mask: capacity - 1,
        });
        (Producer::new(Arc::clone(&shared)), Consumer::new(shared))
    }
}

/// The state both ends share.
pub(crate) struct Shared<T> {
    /// Position of the next item to read. Written only by the consumer.
    head: CachePadded<AtomicUsize>,
    /// Position of the next slot to write. Written only by the producer.
    tail: CachePadded<AtomicUsize>,
    /// Set when either end is dropped.
    abandoned: AtomicBool,
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    mask: usize,
}

// SAFETY: the queue moves `T`s from one thread to another, which needs `T: Send` and
// nothing more: a slot is accessed by one end at a time, handed over through the
// Release/Acquire pairs on `head` and `tail`, so no `T` is ever shared between threads.
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as above; `Shared` is only ever reached through one `Producer` and one
// `Consumer`, which each touch disjoint slots at any moment.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    #[cfg_attr(loom, allow(dead_code))]
    #[inline(always)]
    fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// The slot a free-running position maps to.
    #[inline(always)]
    fn slot(&self, position: usize) -> &UnsafeCell<MaybeUninit<T>> {
        // The mask keeps the index in bounds; the compiler sees that and drops the check.
        &self.slots[position & self.mask]
    }

    /// The two contiguous runs of slot indices `[position, position + n)` maps to: the
    /// run up to the end of the storage, then the run from its start.
    #[cfg_attr(loom, allow(dead_code))]
    #[inline(always)]
    fn runs(&self, position: usize, n: usize) -> (usize, usize, usize) {
        runs(self.mask, position, n)
    }

    /// Pointer to slot `index` for building slices over several slots.
    ///
    /// # Safety
    ///
    /// `index <= capacity` (one past the end is allowed, for empty slices).
    #[cfg(not(loom))]
    #[inline(always)]
    unsafe fn slot_ptr(&self, index: usize) -> *mut T {
        debug_assert!(index <= self.capacity());
        // `UnsafeCell<MaybeUninit<T>>` has the layout of `T` (both are transparent
        // wrappers), so the storage is a plain array of `T`-sized slots.
        // SAFETY: the caller keeps `index <= capacity`, so the offset stays inside (or
        // one past) the allocation.
        unsafe { (self.slots.as_ptr() as *mut T).add(index) }
    }
}

/// The two contiguous runs of slot indices that positions `[position, position + n)`
/// map to in storage of `mask + 1` slots: `(start, first run length, second run
/// length)`; the second run starts at index 0 and is empty unless the range wraps.
#[inline(always)]
pub(crate) fn runs(mask: usize, position: usize, n: usize) -> (usize, usize, usize) {
    let start = position & mask;
    let first = n.min(mask + 1 - start);
    (start, first, n - first)
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Both ends are gone (this runs when the last `Arc` goes), so nobody else can
        // touch the counters: plain loads are enough.
        let mut head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed);
        while head != tail {
            // SAFETY: every position in [head, tail) was written by the producer and not
            // yet read by the consumer, so it holds an initialised `T` that nobody else
            // will drop.
            self.slot(head)
                .with_mut(|p| unsafe { (*p).assume_init_drop() });
            head = head.wrapping_add(1);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;

use super::Shared;
use crate::sync::{Arc, Ordering};

/// The writing end of a [`LockFreeRingBuffer`](super::LockFreeRingBuffer).
///
/// `Send` but not `Sync`: exactly one thread writes at a time, which is what lets every
/// method be wait-free.
///
/// ```
/// use troubadour_rt::ring::LockFreeRingBuffer;
///
/// let (mut tx, rx) = LockFreeRingBuffer::<i32>::with_capacity(4);
/// std::thread::spawn(move || tx.push(7).unwrap()).join().unwrap();
/// assert_eq!(rx.len(), 1);
/// ```
pub struct Producer<T> {
    pub(super) shared: Arc<Shared<T>>,
    /// Our own position; `shared.tail` equals it between calls, except while slots are
    /// staged ([`WriteChunk::stage_all`](super::WriteChunk::stage_all)): then it is
    /// behind, by the staged slots.
    pub(super) tail: usize,
    /// Last `head` we read from the consumer: a lower bound of the real one, so any
    /// free space it shows is really free.
    pub(super) cached_head: usize,
    /// A count of slots known to have held a value (capped at the capacity), kept up to
    /// date by `write_chunk` only, which is the one place that needs it: the chunk API
    /// hands out `&mut [T]` and may only do so over initialised slots. Every slot below
    /// `tail` (on the first lap) holds a value too.
    #[cfg_attr(loom, allow(dead_code))]
    pub(super) initialised: usize,
    /// Copies of the storage's mask and address, so the hot paths do not reach through
    /// the `Arc` for them on every call (the `Arc` keeps the storage alive and fixed).
    mask: usize,
    #[cfg(not(loom))]
    base: *mut T,
    /// `Producer` must not be `Sync` even though `Shared` is.
    _not_sync: std::marker::PhantomData<std::cell::Cell<()>>,
}

// SAFETY: a `Producer` is the only writer of `tail` and of the free slots; moving it to
// another thread moves that role with it. `T: Send` because items cross threads.
unsafe impl<T: Send> Send for Producer<T> {}

impl<T> Producer<T> {
    pub(super) fn new(shared: Arc<Shared<T>>) -> Self {
        Self {
            mask: shared.mask,
            // SAFETY: index 0 is within the storage.
            #[cfg(not(loom))]
            base: unsafe { shared.slot_ptr(0) },
            shared,
            tail: 0,
            cached_head: 0,
            initialised: 0,
            _not_sync: std::marker::PhantomData,
        }
    }

    /// Number of slots in the queue (a power of two).
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (tx, _rx) = LockFreeRingBuffer::<f32>::with_capacity(100);
    /// assert_eq!(tx.capacity(), 128);
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Free slots right now. The consumer may free more at any moment, never fewer.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, _rx) = LockFreeRingBuffer::with_capacity(4);
    /// tx.push(1.0f32).unwrap();
    /// assert_eq!(tx.free(), 3);
    /// ```
    #[inline]
    pub fn free(&mut self) -> usize {
        self.refresh_head();
        self.capacity() - self.tail.wrapping_sub(self.cached_head)
    }

    /// Items waiting to be read right now (an upper bound: the consumer may be reading).
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, _rx) = LockFreeRingBuffer::with_capacity(4);
    /// tx.push(1u8).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    #[inline]
    pub fn len(&mut self) -> usize {
        self.capacity() - self.free()
    }

    /// `true` when no item is waiting.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, _rx) = LockFreeRingBuffer::<u8>::with_capacity(4);
    /// assert!(tx.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }

    /// `true` once the [`Consumer`](super::Consumer) has been dropped: nothing written
    /// from now on will ever be read.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (tx, rx) = LockFreeRingBuffer::<u8>::with_capacity(4);
    /// drop(rx);
    /// assert!(tx.is_abandoned());
    /// ```
    #[inline]
    pub fn is_abandoned(&self) -> bool {
        self.shared.abandoned.load(Ordering::Acquire)
    }

    /// Appends one item, or hands it back when the queue is full. Wait-free.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, mut rx) = LockFreeRingBuffer::with_capacity(1);
    /// assert_eq!(tx.push(String::from("x")), Ok(()));
    /// assert_eq!(tx.push(String::from("y")), Err(String::from("y")));
    /// assert_eq!(rx.pop().as_deref(), Some("x"));
    /// ```
    #[inline]
    pub fn push(&mut self, item: T) -> Result<(), T> {
        if self.free_cached() == 0 && self.free() == 0 {
            return Err(item);
        }
        // SAFETY: the slot at `tail` is free (checked above: the consumer has moved past
        // it, or never reached it), and only the producer writes free slots.
        self.shared
            .slot(self.tail)
            .with_mut(|p| unsafe { (*p).write(item) });
        self.publish(1);
        Ok(())
    }

    /// Free space according to our cached copy of `head`; never more than the truth.
    #[inline(always)]
    pub(super) fn free_cached(&self) -> usize {
        self.capacity() - self.tail.wrapping_sub(self.cached_head)
    }

    #[inline(always)]
    pub(super) fn refresh_head(&mut self) {
        // Acquire pairs with the consumer's Release store of `head`: once we see that it
        // moved past a slot, its read of that slot has happened-before, so we may
        // overwrite the slot.
        self.cached_head = self.shared.head.load(Ordering::Acquire);
    }

    /// Makes every staged slot visible to the consumer
    /// ([`WriteChunk::stage_all`](super::WriteChunk::stage_all)). Wait-free.
    #[inline]
    pub fn publish_staged(&mut self) {
        self.publish(0);
    }

    /// Makes `n` freshly written slots visible to the consumer, and any staged before.
    #[inline(always)]
    pub(super) fn publish(&mut self, n: usize) {
        self.tail = self.tail.wrapping_add(n);
        // Release pairs with the consumer's Acquire load of `tail`: the items written
        // above become visible before the consumer can see the new position.
        self.shared.tail.store(self.tail, Ordering::Release);
    }

    /// Free slots, refreshing the cached `head` only when the cache says fewer than `n`.
    #[inline(always)]
    pub(super) fn free_for(&mut self, n: usize) -> usize {
        let free = self.free_cached();
        if free >= n { free } else { self.free() }
    }
}

impl<T: Copy> Producer<T> {
    /// Copies as many items of `items` as fit and returns how many that was. Wait-free.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, _rx) = LockFreeRingBuffer::with_capacity(4);
    /// assert_eq!(tx.write(&[1, 2, 3, 4, 5, 6]), 4);
    /// assert_eq!(tx.write(&[7]), 0);
    /// ```
    #[inline]
    pub fn write(&mut self, items: &[T]) -> usize {
        let n = items.len().min(self.free_for(items.len()));
        if n == 0 {
            return 0;
        }
        let (start, first, second) = super::runs(self.mask, self.tail, n);
        self.copy_in(start, &items[..first]);
        if second > 0 {
            // Wrapped around the end of the storage.
            self.copy_in(0, &items[first..n]);
        }
        self.publish(n);
        n
    }

    /// Copies `items` into the contiguous free slots starting at index `start`.
    #[cfg(not(loom))]
    #[inline(always)]
    fn copy_in(&mut self, start: usize, items: &[T]) {
        // SAFETY: `write` passes `start = tail & mask` with `items.len() <= capacity -
        // start` (or `start = 0` for the wrapped part), and only slots it counted as free:
        // inside the storage, untouched by the consumer until `publish`. `base` stays
        // valid while `shared` lives. `T: Copy`, so overwriting needs no drop.
        unsafe { std::ptr::copy_nonoverlapping(items.as_ptr(), self.base.add(start), items.len()) };
    }

    /// Loom build: slot by slot, so the model checker sees every access.
    #[cfg(loom)]
    fn copy_in(&mut self, start: usize, items: &[T]) {
        for (k, item) in items.iter().enumerate() {
            // SAFETY: as in the normal build: a free slot, written by the producer only.
            self.shared.slots[start + k].with_mut(|p| unsafe { (*p).write(*item) });
        }
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // Staged slots were written: the consumer gets them before it learns the end.
        self.publish_staged();
        self.shared.abandoned.store(true, Ordering::Release);
    }
}

impl<T> std::fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.capacity())
            .field("tail", &self.tail)
            .finish_non_exhaustive()
    }
}

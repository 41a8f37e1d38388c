use super::Shared;
use crate::sync::{Arc, Ordering};

/// The reading end of a [`LockFreeRingBuffer`](super::LockFreeRingBuffer).
///
/// `Send` but not `Sync`: exactly one thread reads at a time.
///
/// ```
/// use troubadour_rt::ring::LockFreeRingBuffer;
///
/// let (mut tx, mut rx) = LockFreeRingBuffer::with_capacity(4);
/// tx.push(1u32).unwrap();
/// let t = std::thread::spawn(move || rx.pop());
/// assert_eq!(t.join().unwrap(), Some(1));
/// ```
pub struct Consumer<T> {
    pub(super) shared: Arc<Shared<T>>,
    /// Our own position; `shared.head` always equals it between calls.
    pub(super) head: usize,
    /// Last `tail` we read from the producer: a lower bound of the real one, so every
    /// item it shows is really there.
    pub(super) cached_tail: usize,
    /// Copies of the storage's mask and address (see `Producer`).
    mask: usize,
    #[cfg(not(loom))]
    base: *mut T,
    _not_sync: std::marker::PhantomData<std::cell::Cell<()>>,
}

// SAFETY: a `Consumer` is the only writer of `head` and the only reader of filled
// slots; moving it to another thread moves that role with it.
unsafe impl<T: Send> Send for Consumer<T> {}

impl<T> Consumer<T> {
    pub(super) fn new(shared: Arc<Shared<T>>) -> Self {
        Self {
            mask: shared.mask,
            // SAFETY: index 0 is within the storage.
            #[cfg(not(loom))]
            base: unsafe { shared.slot_ptr(0) },
            shared,
            head: 0,
            cached_tail: 0,
            _not_sync: std::marker::PhantomData,
        }
    }

    /// Number of slots in the queue (a power of two).
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (_tx, rx) = LockFreeRingBuffer::<f32>::with_capacity(5);
    /// assert_eq!(rx.capacity(), 8);
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Items ready to read right now. The producer may add more at any moment.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, rx) = LockFreeRingBuffer::with_capacity(4);
    /// tx.write(&[1, 2]);
    /// assert_eq!(rx.len(), 2);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        // Acquire for the same reason as in `refresh_tail`; no caching here since
        // `len` takes `&self`.
        self.shared
            .tail
            .load(Ordering::Acquire)
            .wrapping_sub(self.head)
    }

    /// `true` when nothing is ready to read.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (_tx, rx) = LockFreeRingBuffer::<u8>::with_capacity(4);
    /// assert!(rx.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Free slots right now (an upper bound: the producer may be writing).
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, rx) = LockFreeRingBuffer::with_capacity(4);
    /// tx.push(0u8).unwrap();
    /// assert_eq!(rx.free(), 3);
    /// ```
    #[inline]
    pub fn free(&self) -> usize {
        self.capacity() - self.len()
    }

    /// `true` once the [`Producer`](super::Producer) has been dropped: what is in the
    /// queue now is all that will ever come.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (tx, rx) = LockFreeRingBuffer::<u8>::with_capacity(4);
    /// drop(tx);
    /// assert!(rx.is_abandoned());
    /// ```
    #[inline]
    pub fn is_abandoned(&self) -> bool {
        self.shared.abandoned.load(Ordering::Acquire)
    }

    /// Takes the oldest item, or `None` when the queue is empty. Wait-free.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, mut rx) = LockFreeRingBuffer::with_capacity(2);
    /// assert_eq!(rx.pop(), None::<u8>);
    /// tx.push(3).unwrap();
    /// assert_eq!(rx.pop(), Some(3));
    /// ```
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if self.available_for(1) == 0 {
            return None;
        }
        // SAFETY: the slot at `head` was written by the producer (`head < tail`, seen
        // through Acquire) and not read yet; reading moves the value out, and advancing
        // `head` below makes sure nobody reads or drops it again.
        let item = self
            .shared
            .slot(self.head)
            .with(|p| unsafe { (*p).assume_init_read() });
        self.release(1);
        Some(item)
    }

    /// Items ready according to our cached copy of `tail`; never more than the truth.
    #[inline(always)]
    fn available_cached(&self) -> usize {
        self.cached_tail.wrapping_sub(self.head)
    }

    /// Items ready, refreshing the cached `tail` only when the cache says fewer than `n`.
    #[inline(always)]
    pub(super) fn available_for(&mut self, n: usize) -> usize {
        let available = self.available_cached();
        if available >= n {
            return available;
        }
        // Acquire pairs with the producer's Release store of `tail`: the items below the
        // new position are fully written before we read them.
        self.cached_tail = self.shared.tail.load(Ordering::Acquire);
        self.available_cached()
    }

    /// Hands `n` read slots back to the producer.
    #[inline(always)]
    pub(super) fn release(&mut self, n: usize) {
        self.head = self.head.wrapping_add(n);
        // Release pairs with the producer's Acquire load of `head`: our reads of these
        // slots happen-before the producer overwrites them.
        self.shared.head.store(self.head, Ordering::Release);
    }
}

impl<T: Copy> Consumer<T> {
    /// Copies as many items as are ready (up to `out.len()`) into `out` and returns how
    /// many that was. Wait-free.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, mut rx) = LockFreeRingBuffer::with_capacity(8);
    /// tx.write(&[1.0f32, 2.0, 3.0]);
    /// let mut out = [0.0; 2];
    /// assert_eq!(rx.read(&mut out), 2);
    /// assert_eq!(out, [1.0, 2.0]);
    /// ```
    #[inline]
    pub fn read(&mut self, out: &mut [T]) -> usize {
        let n = out.len().min(self.available_for(out.len()));
        if n == 0 {
            return 0;
        }
        let (start, first, second) = super::runs(self.mask, self.head, n);
        self.copy_out(start, &mut out[..first]);
        if second > 0 {
            // Wrapped around the end of the storage.
            self.copy_out(0, &mut out[first..n]);
        }
        self.release(n);
        n
    }

    #[cfg(not(loom))]
    #[inline(always)]
    fn copy_out(&self, start: usize, out: &mut [T]) {
        // SAFETY: `read` passes `start = head & mask` with `out.len() <= capacity -
        // start` (or `start = 0` for the wrapped part), and only filled slots: inside the
        // storage, untouched by the producer until `release`. `base` stays valid while
        // `shared` lives. `T: Copy`, so copying out leaves the slots valid and needs no
        // drop.
        unsafe { std::ptr::copy_nonoverlapping(self.base.add(start), out.as_mut_ptr(), out.len()) };
    }

    #[cfg(loom)]
    fn copy_out(&self, start: usize, out: &mut [T]) {
        for (k, o) in out.iter_mut().enumerate() {
            // SAFETY: as in the normal build: a filled slot, read by the consumer only.
            *o = self.shared.slots[start + k].with(|p| unsafe { (*p).assume_init_read() });
        }
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        self.shared.abandoned.store(true, Ordering::Release);
    }
}

impl<T> std::fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.capacity())
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

impl<T> Consumer<T> {
    /// The oldest item, left in the queue. Wait-free.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, mut rx) = LockFreeRingBuffer::with_capacity(2);
    /// tx.push(5u8).unwrap();
    /// assert_eq!(rx.peek(), Some(&5));
    /// assert_eq!(rx.pop(), Some(5));
    /// assert_eq!(rx.peek(), None);
    /// ```
    #[inline]
    pub fn peek(&mut self) -> Option<&T> {
        if self.available_for(1) == 0 {
            return None;
        }
        // SAFETY: as in `pop`, the slot at `head` holds an initialised item published by
        // the producer; we only lend a shared reference, tied to `&mut self` so no `pop`
        // can move it out while the reference lives, and the producer does not touch
        // the slot before `head` moves.
        Some(
            self.shared
                .slot(self.head)
                .with(|p| unsafe { (*p).assume_init_ref() }),
        )
    }
}

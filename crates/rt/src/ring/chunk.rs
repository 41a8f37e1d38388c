//! Zero-copy access: the free (or filled) region handed out as two slices, because a
//! region that crosses the end of the storage continues at its start.
#![cfg(not(loom))]

use super::{Consumer, Producer};

/// Not enough free slots (writing) or ready items (reading) for the chunk asked for.
///
/// ```
/// # use troubadour_rt::ring::{ChunkError, LockFreeRingBuffer};
/// let (mut tx, _rx) = LockFreeRingBuffer::<f32>::with_capacity(4);
/// let err = tx.write_chunk(5).unwrap_err();
/// assert_eq!(err, ChunkError { requested: 5, available: 4 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkError {
    /// Slots or items asked for.
    pub requested: usize,
    /// Slots or items there were.
    pub available: usize,
}

impl std::fmt::Display for ChunkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "asked for {} slots but only {} are available",
            self.requested, self.available
        )
    }
}

impl std::error::Error for ChunkError {}

impl<T: Copy + Default> Producer<T> {
    /// Sets every slot that never held a value to `T::default()` now, so that
    /// [`write_chunk`](Self::write_chunk) never has to: call it off the audio thread on
    /// a ring the audio thread fills through chunks, whose first lap would otherwise
    /// write each slot twice, one item at a time the first.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, mut rx) = LockFreeRingBuffer::<u8>::with_capacity(4);
    /// tx.push(7).unwrap();
    /// tx.initialise();
    /// assert_eq!(rx.pop(), Some(7)); // what was written stays
    /// ```
    pub fn initialise(&mut self) {
        self.initialise_to(self.capacity());
    }

    /// Moves the initialised frontier up to slot `end` (at most the capacity), setting
    /// the slots it passes to `T::default()`.
    fn initialise_to(&mut self, end: usize) {
        // Everything below `tail` has been written (on the first lap; afterwards every
        // slot has), so the frontier is at least there.
        self.initialised = self.initialised.max(self.tail.min(self.capacity()));
        for index in self.initialised..end {
            // SAFETY: every slot from the frontier on (which is at or past `tail`) is
            // free and never held a value, so writing it overwrites nothing the consumer
            // can see.
            unsafe { self.shared.slot_ptr(index).write(T::default()) };
        }
        self.initialised = self.initialised.max(end);
    }

    /// Hands out `n` free slots to fill in place; nothing is visible to the consumer
    /// until [`WriteChunk::commit`]. Wait-free.
    ///
    /// Slots that never held a value are set to `T::default()` the first time they are
    /// handed out (so the slices are always initialised); after the first lap around the
    /// storage that costs nothing.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, mut rx) = LockFreeRingBuffer::<f32>::with_capacity(4);
    /// let mut chunk = tx.write_chunk(3).unwrap();
    /// let (a, b) = chunk.as_mut_slices();
    /// for (i, s) in a.iter_mut().chain(b.iter_mut()).enumerate() {
    ///     *s = i as f32;
    /// }
    /// chunk.commit_all();
    /// assert_eq!(rx.pop(), Some(0.0));
    /// ```
    pub fn write_chunk(&mut self, n: usize) -> Result<WriteChunk<'_, T>, ChunkError> {
        let available = self.free_for(n);
        if available < n {
            return Err(ChunkError {
                requested: n,
                available,
            });
        }
        let capacity = self.capacity();
        if self.initialised < capacity {
            // Still on the first lap (or the frontier is behind `tail`): the chunk ends
            // at `tail + n` or wraps onto slots below `head`, written already. Past
            // the first lap `tail ≥ capacity` and this brings the frontier to it.
            self.initialise_to((self.tail.min(capacity) + n).min(capacity));
        }
        let (start, first, second) = self.shared.runs(self.tail, n);
        Ok(WriteChunk {
            producer: self,
            start,
            first,
            second,
        })
    }
}

/// `n` free slots of a [`Producer`], borrowed for filling in place.
///
/// ```
/// # use troubadour_rt::ring::LockFreeRingBuffer;
/// let (mut tx, rx) = LockFreeRingBuffer::<i16>::with_capacity(8);
/// let mut chunk = tx.write_chunk(4).unwrap();
/// chunk.as_mut_slices().0[0] = 42;
/// chunk.commit(1); // only the first slot is published
/// assert_eq!(rx.len(), 1);
/// ```
#[derive(Debug)]
pub struct WriteChunk<'a, T: Copy> {
    producer: &'a mut Producer<T>,
    start: usize,
    first: usize,
    second: usize,
}

impl<T: Copy> WriteChunk<'_, T> {
    /// The slots as two slices, in queue order (the second is empty unless the chunk
    /// wraps around the end of the storage).
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, _rx) = LockFreeRingBuffer::<u8>::with_capacity(4);
    /// let mut chunk = tx.write_chunk(3).unwrap();
    /// let (a, b) = chunk.as_mut_slices();
    /// assert_eq!((a.len(), b.len()), (3, 0));
    /// ```
    pub fn as_mut_slices(&mut self) -> (&mut [T], &mut [T]) {
        let shared = &self.producer.shared;
        // SAFETY: both runs are free slots inside the storage, initialised by
        // `write_chunk`, disjoint from each other and from anything the consumer may
        // read until `commit`; `&mut self` keeps the producer from handing them out twice.
        unsafe {
            (
                std::slice::from_raw_parts_mut(shared.slot_ptr(self.start), self.first),
                std::slice::from_raw_parts_mut(shared.slot_ptr(0), self.second),
            )
        }
    }

    /// Number of slots in the chunk.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, _rx) = LockFreeRingBuffer::<u8>::with_capacity(4);
    /// assert_eq!(tx.write_chunk(2).unwrap().len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.first + self.second
    }

    /// `true` for a chunk of zero slots.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, _rx) = LockFreeRingBuffer::<u8>::with_capacity(4);
    /// assert!(tx.write_chunk(0).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Publishes the first `n` slots (at most the chunk's length) to the consumer.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, rx) = LockFreeRingBuffer::<u8>::with_capacity(4);
    /// tx.write_chunk(3).unwrap().commit(2);
    /// assert_eq!(rx.len(), 2);
    /// ```
    pub fn commit(self, n: usize) {
        let n = n.min(self.len());
        self.producer.publish(n);
    }

    /// Publishes every slot of the chunk.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, rx) = LockFreeRingBuffer::<u8>::with_capacity(4);
    /// tx.write_chunk(3).unwrap().commit_all();
    /// assert_eq!(rx.len(), 3);
    /// ```
    pub fn commit_all(self) {
        let n = self.len();
        self.producer.publish(n);
    }

    /// Keeps every slot of the chunk, written, without publishing it yet: the producer
    /// moves past them, and the consumer sees them at the next
    /// [`Producer::publish_staged`] (or any call that publishes). For a writer that
    /// fills several rings and then publishes them all after one fence, as streaming
    /// stores need.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, rx) = LockFreeRingBuffer::<u8>::with_capacity(4);
    /// tx.write_chunk(3).unwrap().stage_all();
    /// assert_eq!((rx.len(), tx.free()), (0, 1));
    /// tx.publish_staged();
    /// assert_eq!(rx.len(), 3);
    /// ```
    pub fn stage_all(self) {
        let n = self.len();
        self.producer.tail = self.producer.tail.wrapping_add(n);
    }
}

impl<T: Copy> Consumer<T> {
    /// Borrows the `n` oldest items in place; they stay in the queue until
    /// [`ReadChunk::commit`]. Wait-free.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, mut rx) = LockFreeRingBuffer::with_capacity(4);
    /// tx.write(&[1, 2, 3]);
    /// let chunk = rx.read_chunk(2).unwrap();
    /// assert_eq!(chunk.as_slices(), (&[1, 2][..], &[][..]));
    /// chunk.commit_all();
    /// assert_eq!(rx.pop(), Some(3));
    /// ```
    pub fn read_chunk(&mut self, n: usize) -> Result<ReadChunk<'_, T>, ChunkError> {
        let available = self.available_for(n);
        if available < n {
            return Err(ChunkError {
                requested: n,
                available,
            });
        }
        let (start, first, second) = self.shared.runs(self.head, n);
        Ok(ReadChunk {
            consumer: self,
            start,
            first,
            second,
        })
    }
}

/// `n` ready items of a [`Consumer`], borrowed for reading in place.
///
/// ```
/// # use troubadour_rt::ring::LockFreeRingBuffer;
/// let (mut tx, mut rx) = LockFreeRingBuffer::with_capacity(2);
/// tx.write(&[7u8, 8]);
/// let chunk = rx.read_chunk(2).unwrap();
/// assert_eq!(chunk.len(), 2);
/// chunk.commit(1);
/// assert_eq!(rx.pop(), Some(8));
/// ```
#[derive(Debug)]
pub struct ReadChunk<'a, T: Copy> {
    consumer: &'a mut Consumer<T>,
    start: usize,
    first: usize,
    second: usize,
}

impl<T: Copy> ReadChunk<'_, T> {
    /// The items as two slices, oldest first (the second is empty unless the items wrap
    /// around the end of the storage).
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, mut rx) = LockFreeRingBuffer::with_capacity(2);
    /// tx.write(&[1u8, 2]);
    /// rx.pop();
    /// tx.push(3).unwrap(); // wraps to the first slot
    /// assert_eq!(rx.read_chunk(2).unwrap().as_slices(), (&[2][..], &[3][..]));
    /// ```
    pub fn as_slices(&self) -> (&[T], &[T]) {
        let shared = &self.consumer.shared;
        // SAFETY: both runs are filled slots (published through the Acquire in
        // `read_chunk`) inside the storage; the producer leaves them alone until
        // `commit` releases them.
        unsafe {
            (
                std::slice::from_raw_parts(shared.slot_ptr(self.start), self.first),
                std::slice::from_raw_parts(shared.slot_ptr(0), self.second),
            )
        }
    }

    /// Number of items in the chunk.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, mut rx) = LockFreeRingBuffer::with_capacity(4);
    /// tx.write(&[1u8, 2]);
    /// assert_eq!(rx.read_chunk(2).unwrap().len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.first + self.second
    }

    /// `true` for a chunk of zero items.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (_tx, mut rx) = LockFreeRingBuffer::<u8>::with_capacity(4);
    /// assert!(rx.read_chunk(0).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands the first `n` items (at most the chunk's length) back to the producer.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, mut rx) = LockFreeRingBuffer::with_capacity(4);
    /// tx.write(&[1u8, 2, 3]);
    /// rx.read_chunk(3).unwrap().commit(1);
    /// assert_eq!(rx.pop(), Some(2));
    /// ```
    pub fn commit(self, n: usize) {
        let n = n.min(self.len());
        self.consumer.release(n);
    }

    /// Hands every item of the chunk back to the producer.
    ///
    /// ```
    /// # use troubadour_rt::ring::LockFreeRingBuffer;
    /// let (mut tx, mut rx) = LockFreeRingBuffer::with_capacity(4);
    /// tx.write(&[1u8, 2]);
    /// rx.read_chunk(2).unwrap().commit_all();
    /// assert!(rx.is_empty());
    /// ```
    pub fn commit_all(self) {
        let n = self.len();
        self.consumer.release(n);
    }
}

//! Swap-and-return: the control thread replaces a heap value the audio thread uses, and
//! the value it replaces comes back to be freed on the control thread.
//!
//! The audio thread must never free memory, so a replaced value cannot simply be
//! dropped where the swap happens. [`exchange`] makes two lock-free queues: replacements
//! travel to the audio thread through one, the values they displace travel back through
//! the other. The audio side only takes a replacement when there is room to hand the
//! old value back, so it never has to drop (or leak) one.
//!
//! ```
//! use troubadour_rt::exchange::exchange;
//!
//! let (mut control, mut audio) = exchange::<Box<[f32]>>(2);
//! let mut current: Box<[f32]> = vec![0.0; 4].into();
//!
//! // Control thread: build the replacement here, where allocating is fine.
//! control.send(vec![1.0; 8].into()).unwrap();
//!
//! // Audio thread, between two blocks: take it; the old value goes back.
//! assert_eq!(audio.receive(&mut current, |_new, _old| {}), 1);
//! assert_eq!(current.len(), 8);
//!
//! // Control thread: the old value is freed here.
//! assert_eq!(control.collect(), 1);
//! ```

use crate::ring::{Consumer, LockFreeRingBuffer, Producer};

/// The control thread's end: sends replacements, frees what comes back. `Send`, not
/// `Sync`: one control thread at a time.
#[derive(Debug)]
pub struct ExchangeControl<T> {
    outbox: Producer<T>,
    returned: Consumer<T>,
}

/// The audio thread's end: takes replacements and hands the displaced values back,
/// without allocating, freeing or blocking.
#[derive(Debug)]
pub struct ExchangeAudio<T> {
    inbox: Consumer<T>,
    returned: Producer<T>,
}

/// A pair of ends with room for `slots` replacements in flight each way (at least one).
pub fn exchange<T>(slots: usize) -> (ExchangeControl<T>, ExchangeAudio<T>) {
    let slots = slots.max(1);
    let (outbox, inbox) = LockFreeRingBuffer::with_capacity(slots);
    // At least as many slots back as forth (every send collects the returned values
    // first, so no more can be on their way back than were sent): the audio side never
    // finds the return queue full while a replacement waits.
    let (back, returned) = LockFreeRingBuffer::with_capacity(slots + 1);
    (
        ExchangeControl { outbox, returned },
        ExchangeAudio {
            inbox,
            returned: back,
        },
    )
}

impl<T> ExchangeControl<T> {
    /// Control thread: frees what the audio thread handed back, then sends `next`.
    /// Gives `next` back if the outbox is full (the audio thread has not run since the
    /// last sends).
    pub fn send(&mut self, next: T) -> Result<(), T> {
        self.collect();
        self.outbox.push(next)
    }

    /// Control thread: drops every value the audio thread handed back; returns how many.
    pub fn collect(&mut self) -> usize {
        let mut n = 0;
        while self.returned.pop().is_some() {
            n += 1;
        }
        n
    }

    /// Replacements sent and not yet taken by the audio thread.
    pub fn in_flight(&mut self) -> usize {
        self.outbox.len()
    }

    /// True when another replacement would not fit until the audio thread runs.
    pub fn is_full(&mut self) -> bool {
        self.outbox.free() == 0
    }
}

impl<T> ExchangeAudio<T> {
    /// Audio thread: replaces `*current` with each replacement waiting, in order, calling
    /// `adopt(new, old)` before each swap (to carry state over), and hands every displaced
    /// value back. Takes a replacement only while the return queue has room, so nothing
    /// is ever dropped here. Returns how many replacements were taken.
    #[inline]
    pub fn receive(&mut self, current: &mut T, mut adopt: impl FnMut(&mut T, &mut T)) -> usize {
        let mut taken = 0;
        while self.returned.free() > 0 {
            let Some(mut next) = self.inbox.pop() else {
                break;
            };
            adopt(&mut next, current);
            let old = std::mem::replace(current, next);
            if let Err(old) = self.returned.push(old) {
                // Unreachable: room was checked and this is the only producer. Leaking
                // beats freeing on the audio thread.
                std::mem::forget(old);
            }
            taken += 1;
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacements_arrive_in_order_and_every_old_value_returns() {
        let (mut control, mut audio) = exchange::<Box<u32>>(4);
        let mut current = Box::new(0);
        for k in 1..=3 {
            control.send(Box::new(k)).unwrap();
        }
        let mut seen = Vec::new();
        assert_eq!(
            audio.receive(&mut current, |new, old| seen.push((**old, **new))),
            3
        );
        assert_eq!(*current, 3);
        assert_eq!(seen, [(0, 1), (1, 2), (2, 3)]);
        assert_eq!(control.collect(), 3);
    }

    #[test]
    fn a_full_return_queue_holds_replacements_back_rather_than_dropping() {
        let (mut control, mut audio) = exchange::<Box<u32>>(1);
        let mut current = Box::new(0);
        // Two slots back: two swaps fit without the control side collecting.
        control.send(Box::new(1)).unwrap();
        assert_eq!(audio.receive(&mut current, |_, _| {}), 1);
        control.outbox.push(Box::new(2)).unwrap();
        assert_eq!(audio.receive(&mut current, |_, _| {}), 1);
        control.outbox.push(Box::new(3)).unwrap();
        // Full now: the third waits until the control side collects.
        assert_eq!(audio.receive(&mut current, |_, _| {}), 0);
        assert_eq!(*current, 2);
        assert_eq!(control.collect(), 2);
        assert_eq!(audio.receive(&mut current, |_, _| {}), 1);
        assert_eq!(*current, 3);
    }

    #[test]
    fn a_full_outbox_gives_the_value_back() {
        let (mut control, _audio) = exchange::<u8>(1);
        control.send(1).unwrap();
        assert!(control.is_full());
        assert_eq!(control.send(2), Err(2));
        assert_eq!(control.in_flight(), 1);
    }
}

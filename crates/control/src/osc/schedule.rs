//! Bundles due later: a small timer heap on the OSC thread, earliest first and, at one
//! time, in the order they came.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::Instant;

use rosc::OscMessage;

/// Messages waiting at most: a sender cannot fill memory with the far future.
pub const MAX_SCHEDULED: usize = 1024;

struct Due {
    at: Instant,
    order: u64,
    peer: SocketAddr,
    message: OscMessage,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    /// Reversed, so the max-heap pops the earliest (and at one time the first sent).
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.order).cmp(&(self.at, self.order))
    }
}

/// The messages due later.
#[derive(Default)]
pub(super) struct Schedule {
    heap: BinaryHeap<Due>,
    order: u64,
}

impl Schedule {
    /// Keeps `message` for `at`; false if the schedule is full.
    pub fn push(&mut self, at: Instant, peer: SocketAddr, message: OscMessage) -> bool {
        if self.heap.len() >= MAX_SCHEDULED {
            return false;
        }
        self.order += 1;
        self.heap.push(Due {
            at,
            order: self.order,
            peer,
            message,
        });
        true
    }

    /// The next message due by `now`, with its sender.
    pub fn pop_due(&mut self, now: Instant) -> Option<(SocketAddr, OscMessage)> {
        if self.heap.peek()?.at > now {
            return None;
        }
        self.heap.pop().map(|d| (d.peer, d.message))
    }

    /// When the next message is due.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|d| d.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn earliest_first_then_in_order() {
        let t0 = Instant::now();
        let peer = SocketAddr::from(([127, 0, 0, 1], 1));
        let m = |a: &str| OscMessage {
            addr: a.into(),
            args: vec![],
        };
        let mut s = Schedule::default();
        let later = t0 + Duration::from_millis(300);
        s.push(later, peer, m("/b"));
        s.push(later, peer, m("/c"));
        s.push(t0 + Duration::from_millis(100), peer, m("/a"));
        assert!(s.pop_due(t0).is_none());
        assert_eq!(s.next(), Some(t0 + Duration::from_millis(100)));
        let order: Vec<String> = std::iter::from_fn(|| s.pop_due(later))
            .map(|(_, m)| m.addr)
            .collect();
        assert_eq!(order, ["/a", "/b", "/c"]);
    }
}

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;

use super::*;

#[test]
fn capacity_is_rounded_up_to_a_power_of_two() {
    for (asked, got) in [(0, 1), (1, 1), (2, 2), (3, 4), (1000, 1024), (1024, 1024)] {
        let (tx, rx) = LockFreeRingBuffer::<u8>::with_capacity(asked);
        assert_eq!((tx.capacity(), rx.capacity()), (got, got), "asked {asked}");
    }
}

#[test]
fn slices_wrap_around_the_end_of_the_storage() {
    let (mut tx, mut rx) = LockFreeRingBuffer::<u32>::with_capacity(8);
    let mut out = [0; 8];
    // Walk the start position through every slot so each possible split is exercised.
    let mut next = 0u32;
    let mut expect = 0u32;
    for round in 0..40 {
        let n = 1 + round % 8;
        let items: Vec<u32> = (next..next + n as u32).collect();
        assert_eq!(tx.write(&items), n);
        next += n as u32;
        assert_eq!(rx.read(&mut out[..n]), n);
        for v in &out[..n] {
            assert_eq!(*v, expect);
            expect += 1;
        }
    }
}

#[test]
fn chunks_wrap_and_commit_partially() {
    let (mut tx, mut rx) = LockFreeRingBuffer::<i32>::with_capacity(4);
    tx.write(&[0, 1, 2]);
    assert_eq!(rx.read(&mut [0; 3]), 3);
    // tail is at 3: a chunk of 3 covers slot 3 and slots 0..2.
    let mut chunk = tx.write_chunk(3).unwrap();
    let (a, b) = chunk.as_mut_slices();
    assert_eq!((a.len(), b.len()), (1, 2));
    a[0] = 10;
    b[0] = 11;
    b[1] = 12;
    chunk.commit(2);
    assert_eq!(rx.len(), 2);
    let chunk = rx.read_chunk(2).unwrap();
    assert_eq!(chunk.as_slices(), (&[10][..], &[11][..]));
    chunk.commit(1);
    assert_eq!(rx.pop(), Some(11));
    assert_eq!(
        rx.read_chunk(1).unwrap_err(),
        ChunkError {
            requested: 1,
            available: 0
        }
    );
}

#[test]
fn fresh_write_chunk_slots_hold_defaults() {
    let (mut tx, _rx) = LockFreeRingBuffer::<f32>::with_capacity(16);
    let mut chunk = tx.write_chunk(16).unwrap();
    let (a, b) = chunk.as_mut_slices();
    assert!(a.iter().chain(b.iter()).all(|&x| x == 0.0));
}

#[test]
fn abandonment_is_seen_from_both_ends() {
    let (tx, rx) = LockFreeRingBuffer::<u8>::with_capacity(2);
    assert!(!tx.is_abandoned() && !rx.is_abandoned());
    drop(tx);
    assert!(rx.is_abandoned());
    let (tx, rx) = LockFreeRingBuffer::<u8>::with_capacity(2);
    drop(rx);
    assert!(tx.is_abandoned());
}

/// Counts its own drops, so a test can see every item dropped exactly once.
#[derive(Debug)]
struct Counted<'a>(&'a AtomicUsize);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn items_left_in_the_queue_are_dropped_exactly_once() {
    for (pushed, popped) in [(0, 0), (3, 0), (5, 2), (8, 8), (8, 3)] {
        let drops = AtomicUsize::new(0);
        {
            let (mut tx, mut rx) = LockFreeRingBuffer::with_capacity(8);
            for _ in 0..pushed {
                tx.push(Counted(&drops)).unwrap();
            }
            for _ in 0..popped {
                drop(rx.pop().unwrap());
            }
            assert_eq!(drops.load(Ordering::SeqCst), popped);
            // Drop the ends in both orders across the cases.
            if pushed % 2 == 0 {
                drop(tx);
                drop(rx);
            } else {
                drop(rx);
                drop(tx);
            }
        }
        assert_eq!(
            drops.load(Ordering::SeqCst),
            pushed,
            "pushed {pushed} popped {popped}"
        );
    }
}

#[test]
fn a_rejected_push_hands_the_item_back_undropped() {
    let drops = AtomicUsize::new(0);
    let (mut tx, _rx) = LockFreeRingBuffer::with_capacity(1);
    tx.push(Counted(&drops)).unwrap();
    let back = tx.push(Counted(&drops)).unwrap_err();
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(back);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[derive(Debug, Clone)]
enum Op {
    Push(u16),
    Pop,
    Write(Vec<u16>),
    Read(usize),
    WriteChunk(usize, usize),
    ReadChunk(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u16>().prop_map(Op::Push),
        Just(Op::Pop),
        proptest::collection::vec(any::<u16>(), 0..40).prop_map(Op::Write),
        (0usize..40).prop_map(Op::Read),
        (0usize..40, 0usize..40).prop_map(|(n, c)| Op::WriteChunk(n, c)),
        (0usize..40, 0usize..40).prop_map(|(n, c)| Op::ReadChunk(n, c)),
    ]
}

proptest! {
    /// Every operation, in any order, behaves like a bounded `VecDeque`.
    #[test]
    fn behaves_like_a_bounded_vecdeque(capacity in 1usize..33, ops in proptest::collection::vec(op(), 0..200)) {
        let (mut tx, mut rx) = LockFreeRingBuffer::<u16>::with_capacity(capacity);
        let capacity = tx.capacity();
        let mut model: VecDeque<u16> = VecDeque::new();
        let mut stamp = 0u16;
        for op in ops {
            match op {
                Op::Push(v) => {
                    let r = tx.push(v);
                    if model.len() < capacity { prop_assert_eq!(r, Ok(())); model.push_back(v); }
                    else { prop_assert_eq!(r, Err(v)); }
                }
                Op::Pop => prop_assert_eq!(rx.pop(), model.pop_front()),
                Op::Write(items) => {
                    let n = tx.write(&items);
                    prop_assert_eq!(n, items.len().min(capacity - model.len()));
                    model.extend(&items[..n]);
                }
                Op::Read(n) => {
                    let mut out = vec![0; n];
                    let got = rx.read(&mut out);
                    prop_assert_eq!(got, n.min(model.len()));
                    let expected: Vec<u16> = model.drain(..got).collect();
                    prop_assert_eq!(&out[..got], &expected[..]);
                }
                Op::WriteChunk(n, commit) => match tx.write_chunk(n) {
                    Ok(mut chunk) => {
                        prop_assert!(n <= capacity - model.len());
                        let (a, b) = chunk.as_mut_slices();
                        prop_assert_eq!(a.len() + b.len(), n);
                        for s in a.iter_mut().chain(b.iter_mut()) { *s = stamp; stamp = stamp.wrapping_add(1); }
                        let first = stamp.wrapping_sub(n as u16);
                        let c = commit.min(n);
                        chunk.commit(commit);
                        model.extend((0..c).map(|k| first.wrapping_add(k as u16)));
                    }
                    Err(e) => {
                        prop_assert!(n > capacity - model.len());
                        prop_assert_eq!(e.available, capacity - model.len());
                    }
                },
                Op::ReadChunk(n, commit) => match rx.read_chunk(n) {
                    Ok(chunk) => {
                        let (a, b) = chunk.as_slices();
                        let got: Vec<u16> = a.iter().chain(b).copied().collect();
                        let expected: Vec<u16> = model.iter().take(n).copied().collect();
                        prop_assert_eq!(got, expected);
                        let c = commit.min(n);
                        chunk.commit(commit);
                        model.drain(..c);
                    }
                    Err(e) => {
                        prop_assert!(n > model.len());
                        prop_assert_eq!(e.available, model.len());
                    }
                },
            }
            prop_assert_eq!(rx.len(), model.len());
            prop_assert_eq!(tx.free(), capacity - model.len());
        }
    }
}

#[test]
fn staged_slots_stay_hidden_until_published_and_are_not_free() {
    let (mut tx, mut rx) = LockFreeRingBuffer::<u32>::with_capacity(8);
    let mut chunk = tx.write_chunk(3).unwrap();
    chunk.as_mut_slices().0.copy_from_slice(&[1, 2, 3]);
    chunk.stage_all();
    assert_eq!((rx.len(), rx.pop(), tx.free()), (0, None, 5));
    let mut chunk = tx.write_chunk(2).unwrap();
    chunk.as_mut_slices().0.copy_from_slice(&[4, 5]);
    chunk.stage_all();
    tx.publish_staged();
    let mut out = [0; 8];
    assert_eq!(rx.read(&mut out), 5);
    assert_eq!(out[..5], [1, 2, 3, 4, 5]);
    // A later publishing call publishes what was staged before it, in order.
    tx.write_chunk(1).unwrap().stage_all();
    tx.push(9).unwrap();
    assert_eq!(rx.read(&mut out), 2);
    assert_eq!(out[1], 9);
}

#[test]
fn a_dropped_producer_publishes_what_it_staged() {
    let (mut tx, mut rx) = LockFreeRingBuffer::<u32>::with_capacity(4);
    let mut chunk = tx.write_chunk(2).unwrap();
    chunk.as_mut_slices().0.copy_from_slice(&[6, 7]);
    chunk.stage_all();
    drop(tx);
    assert!(rx.is_abandoned());
    assert_eq!((rx.pop(), rx.pop(), rx.pop()), (Some(6), Some(7), None));
}

#[test]
fn an_initialised_ring_hands_out_defaults_and_keeps_what_it_holds() {
    let (mut tx, mut rx) = LockFreeRingBuffer::<u32>::with_capacity(8);
    tx.write(&[1, 2, 3]);
    tx.initialise();
    assert_eq!(tx.initialised, 8);
    let mut chunk = tx.write_chunk(5).unwrap();
    assert_eq!(chunk.as_mut_slices().0, &[0; 5]);
    chunk.commit_all();
    let mut out = [9; 8];
    assert_eq!(rx.read(&mut out), 8);
    assert_eq!(out, [1, 2, 3, 0, 0, 0, 0, 0]);
}

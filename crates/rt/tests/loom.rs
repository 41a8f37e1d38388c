//! Model checks of the ring buffer under every interleaving loom can produce.
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p troubadour-rt --test loom --release`.
#![cfg(loom)]

use loom::thread;
use troubadour_rt::ring::LockFreeRingBuffer;

#[test]
fn single_items_arrive_in_order_across_wrap_around() {
    loom::model(|| {
        let (mut tx, mut rx) = LockFreeRingBuffer::<u32>::with_capacity(2);
        let producer = thread::spawn(move || {
            let mut next = 0;
            while next < 3 {
                if tx.push(next).is_ok() {
                    next += 1;
                } else {
                    thread::yield_now();
                }
            }
        });
        let mut expect = 0;
        while expect < 3 {
            match rx.pop() {
                Some(v) => {
                    assert_eq!(v, expect);
                    expect += 1;
                }
                None => thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert!(rx.is_empty());
    });
}

#[test]
fn slices_arrive_in_order_across_wrap_around() {
    loom::model(|| {
        let (mut tx, mut rx) = LockFreeRingBuffer::<u8>::with_capacity(2);
        let producer = thread::spawn(move || {
            let data = [1u8, 2, 3];
            let mut sent = 0;
            while sent < data.len() {
                let n = tx.write(&data[sent..]);
                if n == 0 {
                    thread::yield_now();
                }
                sent += n;
            }
        });
        let mut got = Vec::new();
        let mut buf = [0u8; 2];
        while got.len() < 3 {
            let n = rx.read(&mut buf);
            if n == 0 {
                thread::yield_now();
            }
            got.extend_from_slice(&buf[..n]);
        }
        producer.join().unwrap();
        assert_eq!(got, [1, 2, 3]);
    });
}

#[test]
fn leftover_items_are_dropped_once_whichever_end_goes_last() {
    loom::model(|| {
        let item = loom::sync::Arc::new(());
        let (mut tx, rx) = LockFreeRingBuffer::with_capacity(2);
        tx.push(loom::sync::Arc::clone(&item)).unwrap();
        let t = thread::spawn(move || drop(rx));
        drop(tx);
        t.join().unwrap();
        assert_eq!(loom::sync::Arc::strong_count(&item), 1);
    });
}

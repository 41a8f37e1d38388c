//! Two threads move sequence-numbered samples through the queue with random chunk sizes
//! on both sides; the consumer checks that every number arrives once, in order.
//! 10^8 items in release builds (`cargo test --release`), 10^7 otherwise.

use troubadour_rt::ring::LockFreeRingBuffer;

/// A tiny deterministic generator for chunk sizes (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

fn total() -> u64 {
    if cfg!(debug_assertions) {
        10_000_000
    } else {
        100_000_000
    }
}

#[test]
fn slices_keep_order_and_count_under_contention() {
    let total = total();
    let (mut tx, mut rx) = LockFreeRingBuffer::<u64>::with_capacity(1024);
    let producer = std::thread::spawn(move || {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut next = 0u64;
        let mut buf = [0u64; 700];
        while next < total {
            let n = (1 + rng.below(buf.len())).min((total - next) as usize);
            for (k, v) in buf[..n].iter_mut().enumerate() {
                *v = next + k as u64;
            }
            let mut sent = 0;
            while sent < n {
                sent += tx.write(&buf[sent..n]);
                if sent < n {
                    std::hint::spin_loop();
                }
            }
            next += n as u64;
        }
    });
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut expect = 0u64;
    let mut buf = [0u64; 900];
    while expect < total {
        let want = 1 + rng.below(buf.len());
        let got = rx.read(&mut buf[..want]);
        for &v in &buf[..got] {
            assert_eq!(v, expect, "out of order or lost");
            expect += 1;
        }
        if got == 0 {
            assert!(
                !rx.is_abandoned() || !rx.is_empty() || expect == total,
                "producer quit early at {expect}"
            );
            std::hint::spin_loop();
        }
    }
    producer.join().unwrap();
    assert_eq!(expect, total);
    assert!(rx.is_empty());
}

#[test]
fn chunks_keep_order_and_count_under_contention() {
    let total = total() / 4;
    let (mut tx, mut rx) = LockFreeRingBuffer::<u64>::with_capacity(512);
    let producer = std::thread::spawn(move || {
        let mut rng = Rng(77);
        let mut next = 0u64;
        while next < total {
            let n = (1 + rng.below(300)).min((total - next) as usize);
            let Ok(mut chunk) = tx.write_chunk(n) else {
                std::hint::spin_loop();
                continue;
            };
            let (a, b) = chunk.as_mut_slices();
            for (k, s) in a.iter_mut().chain(b.iter_mut()).enumerate() {
                *s = next + k as u64;
            }
            chunk.commit_all();
            next += n as u64;
        }
    });
    let mut rng = Rng(99);
    let mut expect = 0u64;
    while expect < total {
        let n = (1 + rng.below(300)).min((total - expect) as usize);
        let Ok(chunk) = rx.read_chunk(n) else {
            std::hint::spin_loop();
            continue;
        };
        let (a, b) = chunk.as_slices();
        for &v in a.iter().chain(b) {
            assert_eq!(v, expect);
            expect += 1;
        }
        chunk.commit_all();
    }
    producer.join().unwrap();
    assert_eq!(expect, total);
}

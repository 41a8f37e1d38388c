//! The ring buffer against rtrb, ringbuf and `Mutex<VecDeque>`, in one process.
//!
//! - `transfer/*`: a producer thread and a consumer thread move `RING_BENCH_ITEMS` f32
//!   (default 10^8) in chunks of 64, 256 and 1024 through a 4096-slot queue with each
//!   crate's slice API. Throughput in items per second.
//! - `write_read/*`: one thread writes one chunk and reads it back (ns per chunk).
//!
//! After criterion's own report, an interleaved comparison (each round runs every
//! implementation once, in rotating order, so drift of the machine hits all alike)
//! prints medians and ratios against rtrb.

use std::collections::VecDeque;
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};

const CAPACITY: usize = 4096;
const CHUNKS: [usize; 3] = [64, 256, 1024];

fn items() -> u64 {
    std::env::var("RING_BENCH_ITEMS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000_000)
}

/// The slice API each contender offers, reduced to "write what fits" and "read what's
/// there".
trait Queue {
    type Tx: Send + 'static;
    type Rx: Send + 'static;
    const NAME: &'static str;
    fn make(capacity: usize) -> (Self::Tx, Self::Rx);
    fn write(tx: &mut Self::Tx, items: &[f32]) -> usize;
    fn read(rx: &mut Self::Rx, out: &mut [f32]) -> usize;
}

struct Ours;
impl Queue for Ours {
    type Tx = troubadour_rt::ring::Producer<f32>;
    type Rx = troubadour_rt::ring::Consumer<f32>;
    const NAME: &'static str = "troubadour";
    fn make(capacity: usize) -> (Self::Tx, Self::Rx) {
        troubadour_rt::ring::LockFreeRingBuffer::with_capacity(capacity)
    }
    fn write(tx: &mut Self::Tx, items: &[f32]) -> usize {
        tx.write(items)
    }
    fn read(rx: &mut Self::Rx, out: &mut [f32]) -> usize {
        rx.read(out)
    }
}

struct Rtrb;
impl Queue for Rtrb {
    type Tx = rtrb::Producer<f32>;
    type Rx = rtrb::Consumer<f32>;
    const NAME: &'static str = "rtrb";
    fn make(capacity: usize) -> (Self::Tx, Self::Rx) {
        rtrb::RingBuffer::new(capacity)
    }
    fn write(tx: &mut Self::Tx, items: &[f32]) -> usize {
        // rtrb's fastest path: uninitialised chunk + memcpy (its docs' recommendation).
        let n = items.len().min(tx.slots());
        if n == 0 {
            return 0;
        }
        let mut chunk = tx.write_chunk_uninit(n).unwrap();
        let (a, b) = chunk.as_mut_slices();
        let mid = a.len();
        copy_uninit(&items[..mid], a);
        copy_uninit(&items[mid..n], b);
        // SAFETY: all n slots were initialised just above.
        unsafe { chunk.commit_all() };
        n
    }
    fn read(rx: &mut Self::Rx, out: &mut [f32]) -> usize {
        let n = out.len().min(rx.slots());
        if n == 0 {
            return 0;
        }
        let chunk = rx.read_chunk(n).unwrap();
        let (a, b) = chunk.as_slices();
        out[..a.len()].copy_from_slice(a);
        out[a.len()..n].copy_from_slice(b);
        chunk.commit_all();
        n
    }
}

fn copy_uninit(src: &[f32], dst: &mut [MaybeUninit<f32>]) {
    assert_eq!(
        src.len(),
        dst.len(),
        "a chunk half and its items differ in length"
    );
    // SAFETY: `dst` has room for `src.len()` items (asserted equal lengths) and the two
    // do not overlap (one is the caller's buffer, one the queue's storage).
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr().cast(), src.len()) };
}

struct Ringbuf;
impl Queue for Ringbuf {
    type Tx = ringbuf::HeapProd<f32>;
    type Rx = ringbuf::HeapCons<f32>;
    const NAME: &'static str = "ringbuf";
    fn make(capacity: usize) -> (Self::Tx, Self::Rx) {
        use ringbuf::traits::Split;
        ringbuf::HeapRb::new(capacity).split()
    }
    fn write(tx: &mut Self::Tx, items: &[f32]) -> usize {
        use ringbuf::traits::Producer;
        tx.push_slice(items)
    }
    fn read(rx: &mut Self::Rx, out: &mut [f32]) -> usize {
        use ringbuf::traits::Consumer;
        rx.pop_slice(out)
    }
}

struct Locked;
impl Queue for Locked {
    type Tx = Arc<Mutex<VecDeque<f32>>>;
    type Rx = Arc<Mutex<VecDeque<f32>>>;
    const NAME: &'static str = "mutex_vecdeque";
    fn make(capacity: usize) -> (Self::Tx, Self::Rx) {
        let q = Arc::new(Mutex::new(VecDeque::with_capacity(capacity)));
        (Arc::clone(&q), q)
    }
    fn write(tx: &mut Self::Tx, items: &[f32]) -> usize {
        let mut q = tx.lock().unwrap();
        let n = items.len().min(CAPACITY - q.len());
        q.extend(&items[..n]);
        n
    }
    fn read(rx: &mut Self::Rx, out: &mut [f32]) -> usize {
        let mut q = rx.lock().unwrap();
        let n = out.len().min(q.len());
        for (o, v) in out.iter_mut().zip(q.drain(..n)) {
            *o = v;
        }
        n
    }
}

/// Pins the calling thread to one CPU (Linux), so the producer and the consumer each
/// have a core of their own, as a device thread and the audio thread would: without it,
/// on a 2-core machine the scheduler sometimes stacks both on one core and the figure
/// measures the scheduler, not the queue.
fn pin_to_cpu(cpu: usize) {
    #[cfg(target_os = "linux")]
    // SAFETY: `set` is a zeroed, properly sized `cpu_set_t` on our stack; pid 0 means the
    // calling thread. A failure (e.g. fewer CPUs) leaves the thread unpinned, harmlessly.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}

/// Moves `total` items from a producer thread (pinned to CPU 1) to this thread (pinned
/// to CPU 0); returns the wall time.
fn transfer<Q: Queue>(total: u64, chunk: usize) -> Duration {
    let (mut tx, mut rx) = Q::make(CAPACITY);
    pin_to_cpu(0);
    let start = Instant::now();
    let producer = std::thread::spawn(move || {
        pin_to_cpu(1);
        let data = vec![0.5f32; chunk];
        let mut sent = 0u64;
        while sent < total {
            let n = (chunk as u64).min(total - sent) as usize;
            let mut done = 0;
            while done < n {
                let k = Q::write(&mut tx, &data[done..n]);
                if k == 0 {
                    std::hint::spin_loop();
                }
                done += k;
            }
            sent += n as u64;
        }
    });
    let mut out = vec![0.0f32; chunk];
    let mut received = 0u64;
    let mut checksum = 0.0f32;
    while received < total {
        let k = Q::read(&mut rx, &mut out);
        if k == 0 {
            std::hint::spin_loop();
        } else {
            checksum += out[0];
        }
        received += k as u64;
    }
    black_box(checksum);
    producer.join().unwrap();
    start.elapsed()
}

/// One thread writes `chunk` items and reads them back, `iters` times.
fn write_read<Q: Queue>(iters: u64, chunk: usize) -> Duration {
    let (mut tx, mut rx) = Q::make(CAPACITY);
    let data = vec![0.25f32; chunk];
    let mut out = vec![0.0f32; chunk];
    let start = Instant::now();
    for _ in 0..iters {
        assert_eq!(Q::write(&mut tx, black_box(&data)), chunk);
        assert_eq!(Q::read(&mut rx, black_box(&mut out)), chunk);
    }
    black_box(&out);
    start.elapsed()
}

fn bench_transfer(c: &mut Criterion) {
    let total = items();
    let mut group = c.benchmark_group("transfer");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(total));
    for chunk in CHUNKS {
        group.bench_function(BenchmarkId::new(Ours::NAME, chunk), |b| {
            b.iter_custom(|n| (0..n).map(|_| transfer::<Ours>(total, chunk)).sum())
        });
        group.bench_function(BenchmarkId::new(Rtrb::NAME, chunk), |b| {
            b.iter_custom(|n| (0..n).map(|_| transfer::<Rtrb>(total, chunk)).sum())
        });
        group.bench_function(BenchmarkId::new(Ringbuf::NAME, chunk), |b| {
            b.iter_custom(|n| (0..n).map(|_| transfer::<Ringbuf>(total, chunk)).sum())
        });
        group.bench_function(BenchmarkId::new(Locked::NAME, chunk), |b| {
            b.iter_custom(|n| {
                (0..n)
                    .map(|_| transfer::<Locked>(total / 10, chunk) * 10)
                    .sum()
            })
        });
    }
    group.finish();
}

fn bench_write_read(c: &mut Criterion) {
    let mut group = c.benchmark_group("write_read");
    for chunk in CHUNKS {
        group.throughput(Throughput::Elements(chunk as u64));
        group.bench_function(BenchmarkId::new(Ours::NAME, chunk), |b| {
            b.iter_custom(|n| write_read::<Ours>(n, chunk))
        });
        group.bench_function(BenchmarkId::new(Rtrb::NAME, chunk), |b| {
            b.iter_custom(|n| write_read::<Rtrb>(n, chunk))
        });
        group.bench_function(BenchmarkId::new(Ringbuf::NAME, chunk), |b| {
            b.iter_custom(|n| write_read::<Ringbuf>(n, chunk))
        });
        group.bench_function(BenchmarkId::new(Locked::NAME, chunk), |b| {
            b.iter_custom(|n| write_read::<Locked>(n, chunk))
        });
    }
    group.finish();
}

/// A name and a measurement of one queue implementation.
type Contender = (&'static str, fn(u64, usize) -> Duration);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Rounds of every contender back to back, order rotating each round; medians and the
/// ratio to rtrb (> 1 means faster than rtrb).
fn interleaved() {
    let rounds: usize = std::env::var("RING_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let total = items() / 4;
    println!(
        "\ninterleaved comparison: {rounds} rounds, {total} f32 per transfer, median Mitems/s (ratio to rtrb)"
    );
    for chunk in CHUNKS {
        let runs: [Contender; 3] = [
            (Ours::NAME, transfer::<Ours>),
            (Rtrb::NAME, transfer::<Rtrb>),
            (Ringbuf::NAME, transfer::<Ringbuf>),
        ];
        let mut rates = vec![Vec::new(); runs.len()];
        for round in 0..rounds {
            for k in 0..runs.len() {
                let i = (k + round) % runs.len();
                let t = (runs[i].1)(total, chunk);
                rates[i].push(total as f64 / t.as_secs_f64() / 1e6);
            }
        }
        let medians: Vec<f64> = rates.into_iter().map(median).collect();
        let line: Vec<String> = runs
            .iter()
            .zip(&medians)
            .map(|((name, _), m)| format!("{name} {m:.0} ({:.2}x)", m / medians[1]))
            .collect();
        println!("  transfer chunk {chunk:>4}: {}", line.join(", "));
    }
    for chunk in CHUNKS {
        let iters = 2_000_000 / chunk as u64;
        let runs: [Contender; 3] = [
            (Ours::NAME, write_read::<Ours>),
            (Rtrb::NAME, write_read::<Rtrb>),
            (Ringbuf::NAME, write_read::<Ringbuf>),
        ];
        let mut ns = vec![Vec::new(); runs.len()];
        for round in 0..rounds * 3 {
            for k in 0..runs.len() {
                let i = (k + round) % runs.len();
                let t = (runs[i].1)(iters, chunk);
                ns[i].push(t.as_secs_f64() * 1e9 / iters as f64);
            }
        }
        let medians: Vec<f64> = ns.into_iter().map(median).collect();
        let line: Vec<String> = runs
            .iter()
            .zip(&medians)
            .map(|((name, _), m)| format!("{name} {m:.1} ns ({:.2}x)", medians[1] / m))
            .collect();
        println!("  write+read chunk {chunk:>4}: {}", line.join(", "));
    }
}

criterion_group!(benches, bench_transfer, bench_write_read);

/// `true` under `cargo bench`, as opposed to a quick `cargo test --benches` pass.
fn bench_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list")
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not (criterion then
    // runs each benchmark once as a test), and neither should the comparison.
    if bench_mode() {
        interleaved();
    }
}

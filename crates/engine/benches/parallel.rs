//! Should strips be processed on a second core? A measurement, not a feature.
//!
//! The standard workload with N stereo strips (4 buses) runs two ways, interleaved block
//! by block in rounds:
//! - **one core**: one engine with all N strips;
//! - **two cores**: the strips split into two engines of N/2 (each with its own copy of
//!   the 4 buses), the second run by a worker thread that spins on an atomic sequence
//!   number (no system call, as a real-time worker would), the first on the calling
//!   thread; the block ends when both are done. This is an upper bound for the gain:
//!   a real split would also sum the halves' bus buffers (8 × 256 additions) and run the
//!   buses once, not twice.
//!
//! Reported per N: median and worst block time for both, and the speed-up. A deadline
//! is a worst case, so the worst block matters as much as the median.
//!
//! `cargo bench -p troubadour-engine --bench parallel` (a short pass under
//! `cargo test --benches`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod rig;

use rig::Rig;
use troubadour_engine::workload::{self, Inputs};

const BLOCK: usize = 256;

/// The standard workload with `strips` strips into 4 buses.
fn rig(strips: usize) -> Rig {
    Rig::with(
        workload::standard(strips, 4, BLOCK as u32, Inputs::Devices),
        BLOCK,
    )
}

/// A worker that runs its rig's block whenever `go` moves past `done`.
struct Worker {
    go: Arc<AtomicU64>,
    done: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
    seq: u64,
}

impl Worker {
    fn start(mut rig: Rig) -> Self {
        let go = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (g, d, s) = (Arc::clone(&go), Arc::clone(&done), Arc::clone(&stop));
        let handle = std::thread::spawn(move || {
            let mut seen = 0;
            while !s.load(Ordering::Relaxed) {
                let now = g.load(Ordering::Acquire);
                if now == seen {
                    std::hint::spin_loop();
                    continue;
                }
                rig.block();
                seen = now;
                d.store(now, Ordering::Release);
            }
        });
        Worker {
            go,
            done,
            stop,
            handle: Some(handle),
            seq: 0,
        }
    }

    fn kick(&mut self) {
        self.seq += 1;
        self.go.store(self.seq, Ordering::Release);
    }

    fn wait(&self) {
        while self.done.load(Ordering::Acquire) != self.seq {
            std::hint::spin_loop();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn summary(mut t: Vec<Duration>) -> (f64, f64) {
    t.sort();
    (
        t[t.len() / 2].as_secs_f64() * 1e6,
        t[t.len() - 1].as_secs_f64() * 1e6,
    )
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let (rounds, blocks) = if quick { (2, 20) } else { (15, 400) };
    println!(
        "strips on a second core: {rounds} rounds x {blocks} blocks of {BLOCK} frames each way, interleaved"
    );
    println!(
        "  strips   one core: median / worst µs   two cores: median / worst µs   speed-up (median)"
    );
    for strips in [16, 32, 64] {
        let mut single = rig(strips);
        let mut half = rig(strips / 2);
        let mut worker = Worker::start(rig(strips / 2));
        let (mut one, mut two) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            for _ in 0..blocks {
                let t = Instant::now();
                single.block();
                one.push(t.elapsed());
            }
            for _ in 0..blocks {
                let t = Instant::now();
                worker.kick();
                half.block();
                worker.wait();
                two.push(t.elapsed());
            }
        }
        drop(worker);
        let (m1, w1) = summary(one);
        let (m2, w2) = summary(two);
        println!(
            "  {strips:>6}   {m1:>10.1} / {w1:>8.1}             {m2:>10.1} / {w2:>8.1}            {:.2}x",
            m1 / m2
        );
    }
}

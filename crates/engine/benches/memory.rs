//! Memory behaviour of the audio path.
//!
//! Criterion groups:
//! - `memory/handoff`: passing 256 commands through our lock-free ring against a
//!   `Mutex<VecDeque>` (uncontended: the price of the lock itself, before any waiting).
//! - `memory/reuse`: mixing a block into a buffer allocated per block against one
//!   allocated once (what the engine does).
//! - `memory/layout`: gain + mix of 8 stereo sources into a stereo bus, planar
//!   (one buffer per channel, the engine's layout) against interleaved frames.
//! - `memory/block/F`: the same planar mix at block sizes from 64 to 4096 frames: the
//!   per-frame cost rises once the working set leaves L1 (32 KiB) and L2.
//!
//! After criterion, under `cargo bench`: allocations counted per block of the standard
//! workload (with this binary's counting allocator: must be 0) and the peak heap of
//! building and running the 64-strip × 16-bus session (target ≤ 16 MB).

use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::Mutex;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use troubadour_dsp::kernels::mix_scaled;
use troubadour_engine::workload::{self, Inputs};
use troubadour_engine::{EngineOptions, create};
use troubadour_rt::alloc_guard::{self, GuardedAllocator};
use troubadour_rt::ring::LockFreeRingBuffer;

#[global_allocator]
static ALLOC: GuardedAllocator = GuardedAllocator;

fn handoff(c: &mut Criterion) {
    let mut g = c.benchmark_group("memory/handoff");
    g.throughput(Throughput::Elements(256));
    let (mut tx, mut rx) = LockFreeRingBuffer::<[u32; 4]>::with_capacity(1024);
    g.bench_function("ring", |b| {
        b.iter(|| {
            for i in 0..256u32 {
                let _ = tx.push(black_box([i; 4]));
            }
            while let Some(x) = rx.pop() {
                black_box(x);
            }
        })
    });
    let queue = Mutex::new(VecDeque::<[u32; 4]>::with_capacity(1024));
    g.bench_function("mutex-vecdeque", |b| {
        b.iter(|| {
            for i in 0..256u32 {
                queue.lock().unwrap().push_back(black_box([i; 4]));
            }
            while let Some(x) = queue.lock().unwrap().pop_front() {
                black_box(x);
            }
        })
    });
    g.finish();
}

fn sources(n: usize, frames: usize) -> Vec<Vec<f32>> {
    let mut rng = troubadour_dsp::rng::Rng::new(5);
    (0..n)
        .map(|_| (0..frames).map(|_| 0.5 * rng.next_bipolar()).collect())
        .collect()
}

fn reuse(c: &mut Criterion) {
    let mut g = c.benchmark_group("memory/reuse");
    let frames = 256;
    let src = sources(16, frames);
    g.throughput(Throughput::Elements(frames as u64));
    g.bench_function("allocate-per-block", |b| {
        b.iter(|| {
            let mut bus = vec![vec![0.0f32; frames]; 2];
            for (k, s) in src.iter().enumerate() {
                mix_scaled(&mut bus[k % 2], s, 0.5);
            }
            black_box(bus)
        })
    });
    let mut bus = vec![vec![0.0f32; frames]; 2];
    g.bench_function("reuse", |b| {
        b.iter(|| {
            for ch in bus.iter_mut() {
                ch.fill(0.0);
            }
            for (k, s) in src.iter().enumerate() {
                mix_scaled(&mut bus[k % 2], s, 0.5);
            }
            black_box(&bus);
        })
    });
    g.finish();
}

/// 8 stereo sources, each scaled by its own gain and summed into a stereo bus, planar.
/// (Sources are read, never scaled in place: repeated in-place gain would decay them
/// into denormals and measure those instead.)
fn mix_planar(src: &[Vec<f32>], bus: &mut [Vec<f32>]) {
    for ch in bus.iter_mut() {
        ch.fill(0.0);
    }
    for (k, s) in src.iter().enumerate() {
        mix_scaled(&mut bus[k % 2], s, 0.5 + 0.01 * k as f32);
    }
}

/// The same with interleaved stereo frames.
fn mix_interleaved(src: &[Vec<f32>], bus: &mut [f32]) {
    bus.fill(0.0);
    for (k, s) in src.iter().enumerate() {
        let (l, r) = (0.5 + 0.02 * k as f32, 0.51 + 0.02 * k as f32);
        for (d, x) in bus.chunks_exact_mut(2).zip(s.chunks_exact(2)) {
            d[0] += l * x[0];
            d[1] += r * x[1];
        }
    }
}

fn layout(c: &mut Criterion) {
    let mut g = c.benchmark_group("memory/layout");
    let frames = 256;
    g.throughput(Throughput::Elements(frames as u64));
    let planar = sources(16, frames);
    let mut bus = vec![vec![0.0f32; frames]; 2];
    g.bench_function("planar", |b| {
        b.iter(|| mix_planar(black_box(&planar), &mut bus))
    });
    let interleaved = sources(8, 2 * frames);
    let mut ibus = vec![0.0f32; 2 * frames];
    g.bench_function("interleaved", |b| {
        b.iter(|| mix_interleaved(black_box(&interleaved), &mut ibus))
    });
    g.finish();

    let mut g = c.benchmark_group("memory/block");
    for frames in [64, 256, 1024, 4096] {
        let planar = sources(16, frames);
        let mut bus = vec![vec![0.0f32; frames]; 2];
        g.throughput(Throughput::Elements(frames as u64));
        g.bench_function(BenchmarkId::from_parameter(frames), |b| {
            b.iter(|| mix_planar(black_box(&planar), &mut bus))
        });
    }
    g.finish();
}

criterion_group!(benches, handoff, reuse, layout);

/// `true` under `cargo bench`, as opposed to a quick `cargo test --benches` pass.
fn bench_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list")
}

/// Allocations per block of `strips × buses` and the peak heap of building and running
/// it for `blocks` blocks.
fn census(strips: usize, buses: usize, blocks: usize) -> (f64, usize) {
    alloc_guard::reset_peak_bytes();
    let before_build = alloc_guard::live_bytes();
    let loaded = workload::standard(strips, buses, 256, Inputs::Noise);
    let (_control, mut engine) = create(&loaded, &EngineOptions::default()).unwrap();
    let mut outputs = vec![vec![0.0f32; 256]; engine.output_channels()];
    let mut outs: Vec<&mut [f32]> = outputs.iter_mut().map(|c| c.as_mut_slice()).collect();
    let before = alloc_guard::allocations();
    for _ in 0..blocks {
        engine.process(&[], &mut outs, 256);
    }
    let per_block = (alloc_guard::allocations() - before) as f64 / blocks as f64;
    (per_block, alloc_guard::peak_bytes() - before_build)
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let blocks = if bench_mode() { 2000 } else { 20 };
    println!("\nallocation census (counting allocator), standard workload, 256-frame blocks:");
    for (strips, buses) in [(8, 4), (64, 16)] {
        let (per_block, peak) = census(strips, buses, blocks);
        println!(
            "  {strips:>2} strips x {buses:>2} buses: {per_block} allocations per block over {blocks} blocks; \
             peak heap {:.2} MB (build and run)",
            peak as f64 / 1e6
        );
        assert_eq!(per_block, 0.0, "the audio path allocated");
    }
}

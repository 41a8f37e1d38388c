//! The mixer without DSP: stereo strips with device inputs, each sending post-fader to
//! every one of 4 stereo buses, at 48 kHz.
//!
//! - `mixer/strips/N` (block 256): scaling from 2 to 128 strips.
//! - `mixer/block/B` (8 strips): block sizes from 16 to 4096 frames.
//! - `mixer/routing/S`: 8 strips into 16 buses, each strip sending to S of them (the
//!   send matrix is compiled into each strip's list of destinations, so the audio path
//!   looks nothing up: what a routed send costs is its mixing).
//! - `mixer/create/engine/N`: building a whole engine for N strips (validation, graph
//!   compilation, every buffer); `mixer/create/add-or-remove-a-strip/N`: a structural
//!   change made live on an N-strip session (built on the control side, swapped in by
//!   the next block, the old graph freed back on the control side).
//!
//! - `mixer/command_burst/{idle,64-eq-changes}`: the standard workload with 16 strips,
//!   one block with no command waiting and one with a full callback's worth of EQ band
//!   changes (each redesigns a filter): what a burst of control traffic adds to a
//!   callback, bounded by `MAX_COMMANDS_PER_CALLBACK`.
//!
//! Throughput is in frames per second; the real-time factor is that divided by 48 000.
//! After criterion's report, the headline figure (8 stereo strips → 4 buses, 256-frame
//! blocks) is printed as a real-time factor from the median of interleaved runs.

use std::hint::black_box;
use std::time::Instant;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group};
mod rig;

use rig::Rig;
use troubadour_engine::session::LoadedSession;
use troubadour_engine::{EngineOptions, create, workload};

const RATE: u32 = 48_000;
const BUSES: usize = 4;

/// The standard workload (see `workload::standard`) with `strips` stereo strips into `buses` buses.
fn standard(strips: usize, buses: usize, block: u32) -> LoadedSession {
    workload::standard(strips, buses, block, workload::Inputs::Devices)
}

/// The same routing with no processing.
fn session(strips: usize, block: u32) -> LoadedSession {
    workload::plain(strips, BUSES, block, workload::Inputs::Devices)
}

fn plain_rig(strips: usize, block: usize) -> Rig {
    Rig::with(session(strips, block as u32), block)
}

/// One block of `rig` per iteration, throughput in frames, under the id `id`.
fn per_block(g: &mut BenchmarkGroup<'_, WallTime>, id: impl std::fmt::Display, mut rig: Rig) {
    g.throughput(Throughput::Elements(rig.block as u64));
    g.bench_function(BenchmarkId::from_parameter(id), |b| b.iter(|| rig.block()));
}

fn scaling(c: &mut Criterion) {
    let mut g = c.benchmark_group("mixer/strips");
    for strips in [2, 8, 32, 128] {
        per_block(&mut g, strips, plain_rig(strips, 256));
    }
    g.finish();
}

fn block_sizes(c: &mut Criterion) {
    let mut g = c.benchmark_group("mixer/block");
    for block in [16, 32, 64, 128, 256, 512, 1024, 2048, 4096] {
        per_block(&mut g, block, plain_rig(8, block));
    }
    g.finish();
}

/// Seconds of audio per second of one core for each strip count (stereo strips into 4
/// buses), measured in interleaved rounds (every configuration once per round, so a
/// machine that speeds up or slows down affects all alike); returns (median, best) per
/// configuration.
fn real_time_factors(mut rigs: Vec<Rig>, rounds: usize) -> Vec<(f64, f64)> {
    let block = rigs[0].block;
    let blocks = RATE as usize / block; // 1 s of audio per measurement
    let mut rtf = vec![Vec::new(); rigs.len()];
    for _ in 0..rounds {
        for (rig, out) in rigs.iter_mut().zip(rtf.iter_mut()) {
            let t = Instant::now();
            for _ in 0..blocks {
                rig.block();
            }
            out.push((blocks * block) as f64 / f64::from(RATE) / t.elapsed().as_secs_f64());
        }
    }
    rtf.into_iter()
        .map(|mut v| {
            v.sort_by(f64::total_cmp);
            (v[v.len() / 2], v[v.len() - 1])
        })
        .collect()
}

fn routing(c: &mut Criterion) {
    let mut g = c.benchmark_group("mixer/routing");
    for sends in [1, 4, 16] {
        let mut s = workload::plain(8, 16, 256, workload::Inputs::Devices);
        for strip in &mut s.session.strips {
            // Buses are named B0, B1, …: keep the first `sends`.
            strip
                .sends
                .retain(|bus, _| bus[1..].parse::<usize>().is_ok_and(|b| b < sends));
        }
        per_block(&mut g, sends, Rig::with(s, 256));
    }
    g.finish();
}

fn strip_creation(c: &mut Criterion) {
    let mut g = c.benchmark_group("mixer/create");
    // Generator sources: a strip added later needs no device channel.
    let noise = |strips| workload::plain(strips, BUSES, 256, workload::Inputs::Noise);
    for strips in [2, 8, 32, 128] {
        let s = noise(strips);
        g.bench_function(BenchmarkId::new("engine", strips), |b| {
            b.iter(|| black_box(create(&s, &EngineOptions::default()).unwrap()))
        });
    }
    for strips in [8, 32] {
        let base = noise(strips);
        let sessions = [base.session.clone(), noise(strips + 1).session];
        let (mut controller, mut engine) = create(&base, &EngineOptions::default()).unwrap();
        let mut outputs = vec![vec![0.0f32; 256]; engine.output_channels()];
        let mut k = 0;
        g.bench_function(BenchmarkId::new("add-or-remove-a-strip", strips), |b| {
            b.iter(|| {
                k ^= 1;
                controller.apply_session(sessions[k].clone()).unwrap();
                let mut outs: Vec<&mut [f32]> =
                    outputs.iter_mut().map(|c| c.as_mut_slice()).collect();
                engine.process(&[], &mut outs, 256);
                controller.collect_garbage();
            })
        });
    }
    g.finish();
}

fn standard_workload(c: &mut Criterion) {
    let mut g = c.benchmark_group("standard");
    for (strips, buses) in [(8, 4), (64, 16)] {
        let buses_note = format!("{strips}x{buses}");
        let s = standard(strips, buses, 256);
        per_block(&mut g, buses_note, Rig::with(s, 256));
    }
    g.finish();
}

/// The standard workload's session with every strip's EQ bands moved by `shift` Hz.
fn eq_variant(base: &LoadedSession, shift: f64) -> troubadour_engine::session::Session {
    let mut s = base.session.clone();
    for strip in &mut s.strips {
        for band in &mut strip.eq {
            band.freq += shift;
        }
    }
    s
}

fn command_burst(c: &mut Criterion) {
    let base = standard(16, BUSES, 256);
    let bands: usize = base.session.strips.iter().map(|s| s.eq.len()).sum();
    assert_eq!(bands, troubadour_engine::MAX_COMMANDS_PER_CALLBACK);
    let mut g = c.benchmark_group("mixer/command_burst");
    g.throughput(Throughput::Elements(256));
    let mut rig = Rig::with(base.clone(), 256);
    g.bench_function("idle", |b| b.iter(|| rig.block()));
    let mut rig = Rig::with(base.clone(), 256);
    let variants = [eq_variant(&base, 10.0), eq_variant(&base, 0.0)];
    let mut k = 0;
    g.bench_function("64-eq-changes", |b| {
        // Only the block is timed: sending the changes is the control side's work.
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                k += 1;
                rig.controller
                    .apply_session(variants[k % 2].clone())
                    .unwrap();
                let t = Instant::now();
                rig.block();
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    command_burst,
    scaling,
    block_sizes,
    routing,
    strip_creation,
    standard_workload
);

/// `true` under `cargo bench`, as opposed to a quick `cargo test --benches` pass.
fn bench_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list")
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Only under `cargo bench` (which passes `--bench`), not `cargo test --benches`.
    if bench_mode() {
        let counts = [2, 8, 32, 128];
        let rounds = 21;
        println!(
            "\nreal-time factor, 48 kHz, 256-frame blocks, no DSP ({rounds} interleaved rounds of 1 s of audio):"
        );
        let rigs = counts.iter().map(|&n| plain_rig(n, 256)).collect();
        for (strips, (median, best)) in counts.iter().zip(real_time_factors(rigs, rounds)) {
            println!(
                "  {strips:>3} stereo strips -> 4 stereo buses: median {median:>6.0}x, best {best:>6.0}x real time ({:.4} % of a core at the median)",
                100.0 / median
            );
        }
        let counts = [8, 16, 32, 128];
        let rigs = counts
            .iter()
            .map(|&n| Rig::with(standard(n, BUSES, 256), 256))
            .collect();
        let factors = real_time_factors(rigs, rounds);
        println!(
            "\nstandard workload, N stereo strips -> 4 buses ({rounds} interleaved rounds): cost per block relative to 8 strips"
        );
        for (strips, (median, _)) in counts.iter().zip(&factors) {
            println!(
                "  {strips:>3} strips: median {median:>6.1}x real time, cost {:>5.2}x the 8-strip cost (linear: {:.0}x)",
                factors[0].0 / median,
                *strips as f64 / 8.0
            );
        }
        let (median, best) = factors[0];
        println!(
            "standard workload (8 stereo strips: gate + 4-band EQ + compressor; 4 stereo buses: 4-band EQ + compressor + limiter):\n  median {median:.0}x, best {best:.0}x real time ({:.3} % of a core at the median)",
            100.0 / median
        );
    }
}

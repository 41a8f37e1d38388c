//! What recording costs the audio thread: the standard workload (16 stereo strips with
//! gate, EQ and compressor into 4 stereo buses with EQ, compressor and limiter, 48 kHz,
//! 256-frame blocks) with no take running, and with takes of 16, 32 and 40 tracked
//! channels (8 or 16 stereo strips post-fader, then 16 strips and the 4 buses). Only
//! `Engine::process` is timed; the rings are drained between blocks, outside the
//! timing, as the writer thread would.
//!
//! Per tracked channel per block = (time with the take − time without) / channels.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use troubadour_engine::recorder::{TapPoint, TrackReader, TrackSpec};
use troubadour_engine::workload;

mod rig;
use rig::Rig;

const BLOCK: usize = 256;

fn tracks(strips: u32, buses: u32) -> Vec<TrackSpec> {
    let strip = (0..strips).map(|i| TrackSpec {
        tap: TapPoint::StripPost(i),
        channels: 2,
    });
    let bus = (0..buses).map(|i| TrackSpec {
        tap: TapPoint::Bus(i),
        channels: 2,
    });
    strip.chain(bus).collect()
}

fn recording(c: &mut Criterion) {
    let mut g = c.benchmark_group("recorder/standard-16x4");
    for (strips, buses) in [(0, 0), (8, 0), (16, 0), (16, 4)] {
        let channels = 2 * (strips + buses);
        let mut rig = Rig::with(
            workload::standard(16, 4, BLOCK as u32, workload::Inputs::Devices),
            BLOCK,
        );
        let specs = tracks(strips, buses);
        let mut readers: Vec<TrackReader> = if specs.is_empty() {
            Vec::new()
        } else {
            rig.controller.recorder().start(&specs, 48_000).unwrap().1
        };
        let mut scratch = Vec::with_capacity(BLOCK * 2);
        g.bench_function(BenchmarkId::new("tracked-channels", channels), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t = Instant::now();
                    rig.block();
                    total += t.elapsed();
                    for r in readers.iter_mut() {
                        scratch.clear();
                        r.drain(&mut scratch, BLOCK);
                    }
                }
                total
            })
        });
        assert!(
            readers.iter().all(|r| r.lost_frames() == 0),
            "the bench drains every block: nothing may be lost"
        );
    }
    g.finish();
}

/// The same four configurations measured on **one** engine in interleaved rounds: each
/// round runs a take of each configuration in turn (none, then 16, 32 and 40 tracked
/// channels), so that the machine's drift (this one's speed drifts up to 2× between
/// hours, and other builds share it) hits all of them alike, and so that every
/// configuration runs on the same graph in the same memory: separate engines, one per
/// configuration, differed by ±10 % among themselves whatever they recorded. The rings
/// are small (4096 frames, drained every block) and written through once before the
/// timing, so no page is first touched while timed. The medians over the rounds are
/// printed, not asserted.
fn interleaved(_: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    let (rounds, blocks) = if full { (101, 400) } else { (2, 20) };
    const RING_FRAMES: usize = 4096;
    let warm = 2 * RING_FRAMES / BLOCK;
    let configs = [(0u32, 0u32), (8, 0), (16, 0), (16, 4)];
    let mut rig = Rig::with(
        workload::standard(16, 4, BLOCK as u32, workload::Inputs::Devices),
        BLOCK,
    );
    let mut scratch = Vec::with_capacity(BLOCK * 2);
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    for _ in 0..rounds {
        for (&(strips, buses), t) in configs.iter().zip(times.iter_mut()) {
            let specs = tracks(strips, buses);
            let mut readers: Vec<TrackReader> = if specs.is_empty() {
                Vec::new()
            } else {
                while rig.controller.recorder().collect() {
                    rig.block();
                }
                rig.controller
                    .recorder()
                    .start(&specs, RING_FRAMES)
                    .unwrap()
                    .1
            };
            let mut total = Duration::ZERO;
            for b in 0..warm + blocks {
                let start = Instant::now();
                rig.block();
                if b >= warm {
                    total += start.elapsed();
                }
                for r in readers.iter_mut() {
                    scratch.clear();
                    r.drain(&mut scratch, BLOCK);
                }
            }
            assert!(readers.iter().all(|r| r.lost_frames() == 0));
            t.push(total.as_secs_f64() * 1e6 / blocks as f64);
            if !specs.is_empty() {
                rig.controller.recorder().stop().unwrap();
                rig.block();
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians: Vec<f64> = times.iter_mut().map(median).collect();
    println!(
        "recorder, one engine, interleaved: {rounds} rounds of {blocks} blocks, median µs per 256-frame block"
    );
    println!("  no take: {:.2} µs", medians[0]);
    for (&(strips, buses), m) in configs.iter().zip(&medians).skip(1) {
        let channels = 2 * (strips + buses);
        let extra = m - medians[0];
        println!(
            "  {channels} tracked channels: {m:.2} µs, {extra:+.2} µs ({:+.2} % of the block; {:+.3} µs per channel)",
            100.0 * extra / medians[0],
            extra / f64::from(channels),
        );
    }
}

criterion_group!(benches, interleaved, recording);
criterion_main!(benches);

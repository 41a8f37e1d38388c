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

/// The same four configurations measured in interleaved rounds (each round times
/// every configuration in turn), so that a machine whose speed drifts (this one's does,
/// up to 2× between hours, and other builds share it) slows all of them alike; the
/// medians over the rounds are compared. Printed, not asserted.
fn interleaved(_: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    let (rounds, blocks) = if full { (21, 2000) } else { (2, 20) };
    let configs = [(0u32, 0u32), (8, 0), (16, 0), (16, 4)];
    let mut rigs: Vec<(u32, Rig, Vec<TrackReader>)> = configs
        .iter()
        .map(|&(strips, buses)| {
            let mut rig = Rig::with(
                workload::standard(16, 4, BLOCK as u32, workload::Inputs::Devices),
                BLOCK,
            );
            let specs = tracks(strips, buses);
            let readers = if specs.is_empty() {
                Vec::new()
            } else {
                rig.controller.recorder().start(&specs, 48_000).unwrap().1
            };
            (2 * (strips + buses), rig, readers)
        })
        .collect();
    let mut scratch = Vec::with_capacity(BLOCK * 2);
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); rigs.len()];
    for _ in 0..rounds {
        for ((_, rig, readers), t) in rigs.iter_mut().zip(times.iter_mut()) {
            let mut total = Duration::ZERO;
            for _ in 0..blocks {
                let start = Instant::now();
                rig.block();
                total += start.elapsed();
                for r in readers.iter_mut() {
                    scratch.clear();
                    r.drain(&mut scratch, BLOCK);
                }
            }
            t.push(total.as_secs_f64() * 1e6 / blocks as f64);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians: Vec<f64> = times.iter_mut().map(median).collect();
    println!(
        "recorder, interleaved: {rounds} rounds of {blocks} blocks, median µs per 256-frame block"
    );
    for ((channels, _, _), m) in rigs.iter().zip(&medians) {
        if *channels == 0 {
            println!("  no take: {m:.2} µs");
        } else {
            let extra = m - medians[0];
            println!(
                "  {channels} tracked channels: {m:.2} µs, {:+.2} µs ({:+.3} µs and {:+.3} % of the block per channel)",
                extra,
                extra / f64::from(*channels),
                100.0 * extra / f64::from(*channels) / medians[0]
            );
        }
    }
}

criterion_group!(benches, interleaved, recording);
criterion_main!(benches);

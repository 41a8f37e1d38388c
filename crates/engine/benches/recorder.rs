//! What recording costs the audio thread: the standard workload (16 stereo strips with
//! gate, EQ and compressor into 4 stereo buses with EQ, compressor and limiter, 48 kHz,
//! 256-frame blocks) with no take running, and with takes of 16, 32 and 40 tracked
//! channels (8 or 16 stereo strips post-fader, then 16 strips and the 4 buses). Only
//! `Engine::process` is timed; the rings are drained between blocks, outside the
//! timing, as the writer thread would.
//!
//! Per tracked channel per block = (time with the take − time without) / channels.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use troubadour_engine::recorder::{TapPoint, TrackReader, TrackSpec};
use troubadour_engine::session::DEFAULT_BUFFER_SECONDS;
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
/// configuration, differed by ±10 % among themselves whatever they recorded. Each
/// take's extra time is taken against the no-take run of its own round, and the
/// medians of those differences over the rounds are printed, not asserted.
///
/// Twice, with two kinds of ring:
/// - **hot**: small rings (4096 frames, written through once before the timing, so no
///   page is first touched while timed), drained after every block on the same thread,
///   so the taps write to lines the caches still hold;
/// - **seconds**: rings of the recorder's default length, as a take has them, drained
///   by a thread of their own (every 5 ms, on the other core where there is one)
///   as the writer thread drains them, and written through once before the timing: the
///   steady state of a long take, where every block the taps write lands on lines
///   written and read seconds before;
/// - and the same rings on their **first lap**, timed from the take's third block: the
///   first seconds of every take.
fn interleaved(_: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    let (rounds, blocks) = if full { (101, 400) } else { (2, 20) };
    rounds_of("hot rings", 4096, Drain::EachBlock, true, rounds, blocks);
    let seconds = (DEFAULT_BUFFER_SECONDS * 48_000.0) as usize;
    let (rounds, blocks) = if full { (31, 400) } else { (2, 20) };
    rounds_of(
        "rings of seconds",
        seconds,
        Drain::Thread,
        true,
        rounds,
        blocks,
    );
    rounds_of("first lap", seconds, Drain::Thread, false, rounds, blocks);
}

/// Who empties the rings while a configuration runs.
#[derive(Clone, Copy, PartialEq)]
enum Drain {
    /// The bench's thread, after every block.
    EachBlock,
    /// A thread of its own, every 5 ms.
    Thread,
}

/// One set of interleaved rounds (see [`interleaved`]) on rings of `ring_frames`,
/// written through once before the timing where `lapped`.
fn rounds_of(
    label: &str,
    ring_frames: usize,
    drain: Drain,
    lapped: bool,
    rounds: usize,
    blocks: usize,
) {
    let configs = [(0u32, 0u32), (8, 0), (16, 0), (16, 4)];
    let mut rig = Rig::with(
        workload::standard(16, 4, BLOCK as u32, workload::Inputs::Devices),
        BLOCK,
    );
    // A ring's capacity is a power of two; every track here is stereo.
    let warm = if lapped {
        (2 * ring_frames).next_power_of_two() / 2 / BLOCK + 2
    } else {
        2
    };
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
                    .start(&specs, ring_frames)
                    .unwrap()
                    .1
            };
            let stop = AtomicBool::new(false);
            let (theirs, mut mine) = match drain {
                Drain::Thread => (Some(&mut readers), None),
                Drain::EachBlock => (None, Some(&mut readers)),
            };
            let total = std::thread::scope(|scope| {
                if let Some(readers) = theirs {
                    let stop = &stop;
                    scope.spawn(move || {
                        let mut scratch = Vec::with_capacity(ring_frames * 2);
                        while !stop.load(Ordering::Relaxed) {
                            for r in readers.iter_mut() {
                                scratch.clear();
                                r.drain(&mut scratch, ring_frames);
                            }
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    });
                }
                let mut scratch = Vec::with_capacity(BLOCK * 2);
                let mut total = Duration::ZERO;
                for b in 0..warm + blocks {
                    let start = Instant::now();
                    rig.block();
                    if b >= warm {
                        total += start.elapsed();
                    }
                    if let Some(readers) = mine.as_deref_mut() {
                        for r in readers.iter_mut() {
                            scratch.clear();
                            r.drain(&mut scratch, BLOCK);
                        }
                    }
                }
                stop.store(true, Ordering::Relaxed);
                total
            });
            assert!(
                readers.iter().all(|r| r.lost_frames() == 0),
                "{label}: the drain fell behind"
            );
            t.push(total.as_secs_f64() * 1e6 / blocks as f64);
            if !specs.is_empty() {
                rig.controller.recorder().stop().unwrap();
                rig.block();
            }
        }
    }
    // Paired: each round's configurations ran back to back, so each one's extra over
    // that round's no-take time is free of the drift between rounds.
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let base = median(times[0].clone());
    println!(
        "recorder, one engine, interleaved, {label} ({ring_frames} frames): {rounds} rounds of {blocks} blocks, medians per 256-frame block"
    );
    println!("  no take: {base:.2} µs");
    for (&(strips, buses), t) in configs.iter().zip(&times).skip(1) {
        let channels = 2 * (strips + buses);
        let extra = median(t.iter().zip(&times[0]).map(|(x, b)| x - b).collect());
        println!(
            "  {channels} tracked channels: {extra:+.2} µs ({:+.2} % of the block; {:+.3} µs per channel)",
            100.0 * extra / base,
            extra / f64::from(channels),
        );
    }
}

criterion_group!(benches, interleaved, recording);
criterion_main!(benches);

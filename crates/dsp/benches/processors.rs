//! The processors, one 256-frame stereo block each (unless stated), and the EQ against
//! the `biquad` crate (its `DirectForm2Transposed<f32>`, one filter per band per
//! channel, run sample by sample: how that crate is meant to be used).
//!
//! `eq/*` groups: ours vs `biquad` for 1, 4 and 8 bands × 1, 2, 8 and 16 channels at
//! 256 frames, and block sizes 64..2048 for 4 bands × 2 channels. Throughput is in
//! frames; per band per channel, divide by bands × channels.

use std::hint::black_box;

use biquad::{Biquad as _, Coefficients as BqCoefficients, DirectForm2Transposed, ToHertz, Type};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use troubadour_dsp::biquad::{FilterKind, FilterParams};
use troubadour_dsp::compressor::{Compressor, CompressorParams, Detector};
use troubadour_dsp::eq::Equalizer;
use troubadour_dsp::gate::{Gate, GateParams};
use troubadour_dsp::limiter::{Limiter, LimiterParams};
use troubadour_dsp::simd::{KernelChoice, Kernels};

/// The kernels benchmarked: `TROUBADOUR_NO_AVX512` (any value) measures the AVX2
/// kernels on a CPU with AVX-512, as in the tests.
#[path = "../tests/support/kernels.rs"]
mod kernels;

const RATE: u32 = 48_000;

/// Restores `bufs` from `from` (each iteration must start from the same signal: run in
/// place over and over, gain reduction would drive it into denormals).
fn reset(bufs: &mut [Box<[f32]>], from: &[Box<[f32]>]) {
    for (b, f) in bufs.iter_mut().zip(from) {
        b.copy_from_slice(f);
    }
}

fn noise(channels: usize, frames: usize) -> Vec<Box<[f32]>> {
    let mut rng = troubadour_dsp::rng::Rng::new(3);
    (0..channels)
        .map(|_| (0..frames).map(|_| 0.3 * rng.next_bipolar()).collect())
        .collect()
}

fn bands(n: usize) -> Vec<FilterParams> {
    (0..n)
        .map(|k| FilterParams {
            kind: FilterKind::Peak,
            freq_hz: 100.0 * 2f64.powi(k as i32),
            q: 1.0,
            gain_db: 3.0,
            slope: None,
        })
        .collect()
}

fn theirs(bands: &[FilterParams], channels: usize) -> Vec<Vec<DirectForm2Transposed<f32>>> {
    (0..channels)
        .map(|_| {
            bands
                .iter()
                .map(|p| {
                    let c = BqCoefficients::<f32>::from_params(
                        Type::PeakingEQ(p.gain_db as f32),
                        RATE.hz(),
                        (p.freq_hz as f32).hz(),
                        p.q as f32,
                    )
                    .unwrap();
                    DirectForm2Transposed::<f32>::new(c)
                })
                .collect()
        })
        .collect()
}

fn run_theirs(
    filters: &mut [Vec<DirectForm2Transposed<f32>>],
    bufs: &mut [Box<[f32]>],
    frames: usize,
) {
    for (chain, buf) in filters.iter_mut().zip(bufs.iter_mut()) {
        for x in buf[..frames].iter_mut() {
            let mut y = *x;
            for f in chain.iter_mut() {
                y = f.run(y);
            }
            *x = y;
        }
    }
}

fn eq(c: &mut Criterion) {
    let mut g = c.benchmark_group("eq");
    for n_bands in [1, 4, 8] {
        for channels in [1, 2, 8, 16] {
            let b = bands(n_bands);
            let input = noise(channels, 256);
            let mut bufs = input.clone();
            let mut ours =
                Equalizer::new(&b, channels, RATE).with_kernels(kernels::default_choice());
            let mut portable = Equalizer::new(&b, channels, RATE).portable();
            let mut other = theirs(&b, channels);
            g.throughput(Throughput::Elements(256));
            let id = format!("{n_bands}b{channels}ch");
            g.bench_function(BenchmarkId::new("troubadour", &id), |bench| {
                bench.iter(|| {
                    reset(&mut bufs, &input);
                    ours.process(black_box(&mut bufs), 256)
                })
            });
            g.bench_function(BenchmarkId::new("troubadour-portable", &id), |bench| {
                bench.iter(|| {
                    reset(&mut bufs, &input);
                    portable.process(black_box(&mut bufs), 256)
                })
            });
            g.bench_function(BenchmarkId::new("biquad", &id), |bench| {
                bench.iter(|| {
                    reset(&mut bufs, &input);
                    run_theirs(&mut other, black_box(&mut bufs), 256)
                })
            });
        }
    }
    for frames in [64, 128, 512, 1024, 2048] {
        let b = bands(4);
        let input = noise(2, frames);
        let mut bufs = input.clone();
        let mut ours = Equalizer::new(&b, 2, RATE).with_kernels(kernels::default_choice());
        let mut other = theirs(&b, 2);
        g.throughput(Throughput::Elements(frames as u64));
        let id = format!("4b2ch-{frames}");
        g.bench_function(BenchmarkId::new("troubadour", &id), |bench| {
            bench.iter(|| {
                reset(&mut bufs, &input);
                ours.process(black_box(&mut bufs), frames)
            })
        });
        g.bench_function(BenchmarkId::new("biquad", &id), |bench| {
            bench.iter(|| {
                reset(&mut bufs, &input);
                run_theirs(&mut other, black_box(&mut bufs), frames)
            })
        });
    }
    g.finish();
}

fn dynamics(c: &mut Criterion) {
    let mut g = c.benchmark_group("dynamics");
    g.throughput(Throughput::Elements(256));
    let input = noise(2, 256);
    let mut bufs = input.clone();
    let side = noise(1, 256);
    let params = |detector| CompressorParams {
        threshold_db: -24.0,
        ratio: 3.0,
        knee_db: 6.0,
        attack_ms: 5.0,
        release_ms: 120.0,
        makeup_db: 0.0,
        auto_makeup: false,
        detector,
    };
    let mut rms = Compressor::new(params(Detector::Rms { window_ms: 10.0 }), RATE)
        .with_kernels(kernels::default_choice());
    g.bench_function("compressor/rms", |b| {
        b.iter(|| {
            reset(&mut bufs, &input);
            rms.process(black_box(&mut bufs), None, 256)
        })
    });
    let mut peak =
        Compressor::new(params(Detector::Peak), RATE).with_kernels(kernels::default_choice());
    g.bench_function("compressor/peak", |b| {
        b.iter(|| {
            reset(&mut bufs, &input);
            peak.process(black_box(&mut bufs), None, 256)
        })
    });
    let mut ducking = Compressor::new(params(Detector::Rms { window_ms: 10.0 }), RATE)
        .with_kernels(kernels::default_choice());
    g.bench_function("compressor/sidechain", |b| {
        b.iter(|| {
            reset(&mut bufs, &input);
            ducking.process(black_box(&mut bufs), Some(&side), 256)
        })
    });
    let mut gate = Gate::new(
        GateParams {
            open_db: -40.0,
            close_db: -50.0,
            attack_ms: 1.0,
            hold_ms: 50.0,
            release_ms: 100.0,
            range_db: -60.0,
        },
        RATE,
    )
    .with_kernels(kernels::default_choice());
    g.bench_function("gate", |b| {
        b.iter(|| {
            reset(&mut bufs, &input);
            gate.process(black_box(&mut bufs), 256)
        })
    });
    let mut limiter = Limiter::new(
        LimiterParams {
            ceiling_db: -6.0,
            lookahead_ms: 1.5,
            release_ms: 80.0,
        },
        2,
        RATE,
    )
    .with_kernels(kernels::default_choice());
    g.bench_function("limiter", |b| {
        b.iter(|| {
            reset(&mut bufs, &input);
            limiter.process(black_box(&mut bufs), 256)
        })
    });
    // A full strip chain: gate + 4-band EQ + compressor.
    let mut eq = Equalizer::new(&bands(4), 2, RATE).with_kernels(kernels::default_choice());
    g.bench_function("strip_chain", |b| {
        b.iter(|| {
            reset(&mut bufs, &input);
            gate.process(black_box(&mut bufs), 256);
            eq.process(&mut bufs, 256);
            rms.process(&mut bufs, None, 256)
        })
    });
    g.finish();
}

criterion_group!(benches, eq, dynamics);

/// `true` under `cargo bench`, as opposed to a quick `cargo test --benches` pass.
fn bench_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list")
}

/// Median time per call of `f`, over `rounds` rounds of `calls` calls.
fn median_ns(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// The EQ ratios, ours against `biquad`, timed interleaved (round by round, each
/// contender in turn) so machine drift hits both alike.
fn eq_ratios() {
    println!(
        "\nEQ against the biquad crate, 256 frames, interleaved medians (ratio > 1: ours is faster):"
    );
    println!(
        "  bands x ch   ours (FMA if available)   ours portable   biquad   ratio   ratio portable"
    );
    for n_bands in [1, 2, 4, 8] {
        for channels in [1, 2, 8, 16] {
            let b = bands(n_bands);
            let input = noise(channels, 256);
            let mut bufs = input.clone();
            let mut ours =
                Equalizer::new(&b, channels, RATE).with_kernels(kernels::default_choice());
            let mut portable = Equalizer::new(&b, channels, RATE).portable();
            let mut other = theirs(&b, channels);
            let calls = 2000;
            let mut t = [Vec::new(), Vec::new(), Vec::new()];
            for _ in 0..15 {
                for (k, times) in t.iter_mut().enumerate() {
                    let start = std::time::Instant::now();
                    for _ in 0..calls {
                        reset(&mut bufs, &input);
                        match k {
                            0 => ours.process(black_box(&mut bufs), 256),
                            1 => portable.process(black_box(&mut bufs), 256),
                            _ => run_theirs(&mut other, black_box(&mut bufs), 256),
                        }
                    }
                    times.push(start.elapsed().as_nanos() as f64 / calls as f64);
                }
            }
            let [a, p, q] = t.map(|mut v| median_ns(&mut v));
            println!(
                "  {n_bands} x {channels:<2}      {:>8.0} ns              {:>8.0} ns     {:>7.0} ns  {:>5.2}x  {:>5.2}x",
                a,
                p,
                q,
                q / a,
                q / p
            );
        }
    }
}

/// Two stereo 4-band EQs (two strips, say), one after the other or as a pair
/// (`Equalizer::process_pair`, four recursions interleaved), timed interleaved.
fn eq_pair() {
    let b = bands(4);
    let input = noise(2, 256);
    let (mut x_bufs, mut y_bufs) = (input.clone(), input.clone());
    let (mut x, mut y) = (
        Equalizer::new(&b, 2, RATE).with_kernels(kernels::default_choice()),
        Equalizer::new(&b, 2, RATE).with_kernels(kernels::default_choice()),
    );
    let calls = 2000;
    let mut t = [Vec::new(), Vec::new()];
    for _ in 0..15 {
        for (k, times) in t.iter_mut().enumerate() {
            let start = std::time::Instant::now();
            for _ in 0..calls {
                reset(&mut x_bufs, &input);
                reset(&mut y_bufs, &input);
                if k == 0 {
                    x.process(black_box(&mut x_bufs), 256);
                    y.process(black_box(&mut y_bufs), 256);
                } else {
                    Equalizer::process_pair(
                        &mut x,
                        black_box(&mut x_bufs),
                        &mut y,
                        black_box(&mut y_bufs),
                        256,
                    );
                }
            }
            times.push(start.elapsed().as_nanos() as f64 / calls as f64);
        }
    }
    let [one_by_one, pair] = t.map(|mut v| median_ns(&mut v));
    println!(
        "\nTwo stereo 4-band EQs, 256 frames: one after the other {one_by_one:.0} ns, as a pair {pair:.0} ns ({:.2}x)",
        one_by_one / pair
    );
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if bench_mode() {
        eq_ratios();
        eq_pair();
    }
}

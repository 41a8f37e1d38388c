//! Every processor built with an explicit kernel choice gives what the default (the best
//! the CPU has) gives: bit for bit where the code promises it, within a stated bound
//! where fused multiply-adds round differently. Nothing here reads the environment but
//! the report (under `CI=true` no kernel the CPU has may go untested).

mod support;

use support::kernels;
use troubadour_dsp::compressor::{Compressor, CompressorParams, Detector};
use troubadour_dsp::eq::Equalizer;
use troubadour_dsp::gate::{Gate, GateParams};
use troubadour_dsp::limiter::{Limiter, LimiterParams};
use troubadour_dsp::resample::{Quality, Resampler};
use troubadour_dsp::simd::{KernelChoice, Kernels};

const RATE: u32 = 48_000;
const CHOICES: [KernelChoice; 3] = [
    KernelChoice::Portable,
    KernelChoice::Avx2,
    KernelChoice::Best,
];

/// Bursts from -60 to +6 dBFS on two channels, so that every processor works.
fn bursts(frames: usize) -> Vec<Box<[f32]>> {
    let mut rng = troubadour_dsp::rng::Rng::new(21);
    let x: Vec<f32> = (0..frames)
        .map(|i| {
            let level = 10f32.powf((-60.0 + 66.0 * ((i / 4800) % 5) as f32 / 4.0) / 20.0);
            level * rng.next_bipolar()
        })
        .collect();
    let y: Vec<f32> = x.iter().map(|v| -0.5 * v).collect();
    vec![x.into(), y.into()]
}

/// `process` over `input` in blocks of 256 frames.
fn blocks(
    input: &[Box<[f32]>],
    mut process: impl FnMut(&mut [Box<[f32]>], usize),
) -> Vec<Box<[f32]>> {
    let mut out = input.to_vec();
    let frames = input[0].len();
    for start in (0..frames).step_by(256) {
        let n = 256.min(frames - start);
        let mut part: Vec<Box<[f32]>> = out.iter().map(|c| c[start..start + n].into()).collect();
        process(&mut part, n);
        for (o, p) in out.iter_mut().zip(&part) {
            o[start..start + n].copy_from_slice(p);
        }
    }
    out
}

fn max_diff(a: &[Box<[f32]>], b: &[Box<[f32]>]) -> f32 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y.iter()).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

/// The names of the dynamics loops' builds `choice` runs (they have no AVX-512 build).
fn loop_build(kernels: Kernels) -> &'static str {
    if kernels.avx2().is_some() {
        "avx2"
    } else {
        "portable"
    }
}

/// The dynamics loops are plain Rust compiled twice, never fused: every choice gives
/// the default's output bit for bit.
#[test]
fn dynamics_on_any_kernels_equal_the_default_to_the_bit() {
    let x = bursts(48_000);
    let c = CompressorParams {
        threshold_db: -20.0,
        ratio: 4.0,
        knee_db: 6.0,
        attack_ms: 5.0,
        release_ms: 50.0,
        makeup_db: 0.0,
        auto_makeup: false,
        detector: Detector::Rms { window_ms: 10.0 },
    };
    let g = GateParams {
        open_db: -40.0,
        close_db: -50.0,
        attack_ms: 0.5,
        hold_ms: 20.0,
        release_ms: 50.0,
        range_db: -80.0,
    };
    let l = LimiterParams {
        ceiling_db: -1.0,
        lookahead_ms: 1.5,
        release_ms: 50.0,
    };
    let compressor = |mut p: Compressor| blocks(&x, |b, n| _ = p.process(b, None, n));
    let gate = |mut p: Gate| blocks(&x, |b, n| _ = p.process(b, n));
    let limiter = |mut p: Limiter| blocks(&x, |b, n| _ = p.process(b, n));
    let want = (
        compressor(Compressor::new(c, RATE)),
        gate(Gate::new(g, RATE)),
        limiter(Limiter::new(l, 2, RATE)),
    );
    let mut ran = Vec::new();
    for choice in CHOICES {
        let p = Compressor::new(c, RATE).with_kernels(choice);
        ran.push(loop_build(p.kernels()));
        assert!(compressor(p) == want.0, "compressor, {choice:?}");
        assert!(
            gate(Gate::new(g, RATE).with_kernels(choice)) == want.1,
            "gate, {choice:?}"
        );
        let p = Limiter::new(l, 2, RATE).with_kernels(choice);
        assert!(limiter(p) == want.2, "limiter, {choice:?}");
    }
    ran.sort();
    ran.dedup();
    kernels::report(
        "dynamics_on_any_kernels_equal_the_default_to_the_bit",
        &ran,
        &["portable", "avx2"],
    );
}

/// The EQ's AVX-512 wavefront computes what the AVX2 one computes, bit for bit (stereo
/// with three or four bands runs on the wavefront on both); elsewhere the kernels may
/// take another path (the block form) and, like the portable kernel (plain
/// multiply-adds) against the fused ones, differ by rounding only: far below the 2e-5
/// the kernels keep to the exact cascade (`eq` unit tests).
#[test]
fn eq_on_any_kernels_equals_the_default() {
    let x = bursts(20_000);
    let bands: Vec<_> = (0..6)
        .map(|b| troubadour_dsp::biquad::FilterParams {
            kind: troubadour_dsp::biquad::FilterKind::ALL[b],
            freq_hz: 60.0 * 2.7f64.powi(b as i32),
            q: 0.7 + 0.2 * b as f64,
            gain_db: 4.0 - 2.0 * b as f64,
            slope: None,
        })
        .collect();
    let mut ran = Vec::new();
    for n_bands in [1, 3, 4, 6] {
        let run = |mut eq: Equalizer| blocks(&x, |b, n| eq.process(b, n));
        let default = Equalizer::new(&bands[..n_bands], 2, RATE);
        let default_kernels = default.kernels();
        let fused = default_kernels.avx2().is_some();
        let want = run(default);
        for choice in CHOICES {
            let eq = Equalizer::new(&bands[..n_bands], 2, RATE).with_kernels(choice);
            ran.push(eq.kernels().name());
            let same_rounding = eq.kernels() == default_kernels
                || (eq.kernels().avx2().is_some() == fused && (3..=4).contains(&n_bands));
            let got = run(eq);
            if same_rounding {
                assert!(
                    got == want,
                    "{n_bands} bands, {choice:?}: not bit-identical"
                );
            } else {
                let err = max_diff(&got, &want);
                assert!(err < 2e-6, "{n_bands} bands, {choice:?}: differs by {err}");
            }
        }
    }
    ran.sort();
    ran.dedup();
    kernels::report(
        "eq_on_any_kernels_equals_the_default",
        &ran,
        &["portable", "avx2", "avx512"],
    );
}

/// Fixed exact ratios run the same dot products on AVX2 and AVX-512 (bit-identical);
/// the portable ones, and the asynchronous kernels of AVX2 against AVX-512, sum in
/// another order: within 1e-6 of full scale, below the `high` quality's noise floor
/// (140 dB: 1e-7 of full scale) by well under an order of magnitude.
#[test]
fn resamplers_on_any_kernels_equal_the_default() {
    let x = bursts(20_000);
    let interleaved: Vec<f32> = x[0]
        .iter()
        .zip(x[1].iter())
        .flat_map(|(&a, &b)| [a, b])
        .collect();
    let run = |mut rs: Resampler| {
        let mut out = vec![0.0; rs.max_output_frames(20_000) * 2];
        let done = rs.process(&interleaved, &mut out);
        out.truncate(done.output_frames * 2);
        out
    };
    let mut ran = Vec::new();
    for (from, to, asynchronous) in [
        (44_100, 48_000, false),
        (48_000, 44_100, false),
        (44_100, 48_000, true),
    ] {
        for quality in [Quality::Fast, Quality::High] {
            let make = |choice| {
                if asynchronous {
                    Resampler::new_async_with_kernels(2, from, to, quality, choice)
                } else {
                    Resampler::new_with_kernels(2, from, to, quality, choice)
                }
                .unwrap()
            };
            let default = if asynchronous {
                Resampler::new_async(2, from, to, quality)
            } else {
                Resampler::new(2, from, to, quality)
            }
            .unwrap();
            let want_kernels = default.kernels();
            let want = run(default);
            for choice in CHOICES {
                let rs = make(choice);
                let kernels = rs.kernels();
                ran.push(kernels.name());
                let got = run(rs);
                assert_eq!(got.len(), want.len());
                let identical = kernels == want_kernels
                    || (!asynchronous
                        && (kernels.avx2().is_some() == want_kernels.avx2().is_some()));
                let what = format!("{from} -> {to}, async {asynchronous}, {quality:?}, {choice:?}");
                if identical {
                    assert!(got == want, "{what}: not bit-identical");
                } else {
                    let err = got
                        .iter()
                        .zip(&want)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f32::max);
                    assert!(err < 1e-6, "{what}: differs by {err}");
                }
            }
        }
    }
    ran.sort();
    ran.dedup();
    kernels::report(
        "resamplers_on_any_kernels_equal_the_default",
        &ran,
        &["portable", "avx2", "avx512"],
    );
}

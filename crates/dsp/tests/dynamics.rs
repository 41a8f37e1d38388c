//! Compressor, gate and limiter measured on their outputs.

mod support;

use troubadour_dsp::compressor::{Compressor, CompressorParams, Detector};
use troubadour_dsp::gate::{Gate, GateParams};
use troubadour_dsp::limiter::{Limiter, LimiterParams};

const RATE: u32 = 48_000;

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

fn sine(amplitude: f64, freq: f64, frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|i| {
            (amplitude * (std::f64::consts::TAU * freq * i as f64 / f64::from(RATE)).sin()) as f32
        })
        .collect()
}

fn rms_db(x: &[f32]) -> f64 {
    10.0 * (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).log10()
}

fn bufs(channels: &[Vec<f32>]) -> Vec<Box<[f32]>> {
    channels
        .iter()
        .map(|c| c.clone().into_boxed_slice())
        .collect()
}

fn comp(threshold_db: f32, ratio: f32, knee_db: f32, detector: Detector) -> CompressorParams {
    CompressorParams {
        threshold_db,
        ratio,
        knee_db,
        attack_ms: 5.0,
        release_ms: 50.0,
        makeup_db: 0.0,
        auto_makeup: false,
        detector,
    }
}

/// The textbook static curve, written here independently of the compressor's own
/// `gain_db`: output level `y` for input level `x`, threshold `t`, ratio `r`, knee
/// width `w`, all in dB (Giannoulis, Massberg and Reiss 2012, "Digital dynamic range
/// compressor design — a tutorial and analysis", eq. 4):
///
/// - below the knee, `2(x − t) < −w`: `y = x`;
/// - in the knee, `2|x − t| ≤ w` (none when `w = 0`, the hard knee): `y = x + (1/r − 1)(x − t + w/2)² / (2w)`, a quadratic
///   that meets the straight lines on both sides with matching slope (at `x = t − w/2`
///   the added term is 0; at `x = t + w/2` it is `(1/r − 1)·w/2`, the line above);
/// - above it: `y = t + (x − t)/r`.
fn textbook_db(t: f64, r: f64, w: f64, x: f64) -> f64 {
    if 2.0 * (x - t) < -w {
        x
    } else if w > 0.0 && 2.0 * (x - t) <= w {
        x + (1.0 / r - 1.0) * (x - t + w / 2.0).powi(2) / (2.0 * w)
    } else {
        t + (x - t) / r
    }
}

/// Auto make-up as the compressor documents it: half the reduction a 0 dBFS signal
/// gets. In closed form, from the curve above at `x = 0`:
///
/// - threshold at or above `w/2`: 0 dBFS is below the knee, no reduction, no make-up;
/// - 0 dBFS in the knee (`|t| ≤ w/2`): reduction `(1 − 1/r)(w/2 − t)² / (2w)`, half of it;
/// - above the knee: reduction `(1 − 1/r)(0 − t)`, so make-up `(1 − 1/r)(−t)/2`.
fn textbook_auto_makeup_db(t: f64, r: f64, w: f64) -> f64 {
    let reduction = if -2.0 * t < -w {
        0.0
    } else if w > 0.0 && -2.0 * t <= w {
        (1.0 - 1.0 / r) * (w / 2.0 - t).powi(2) / (2.0 * w)
    } else {
        (1.0 - 1.0 / r) * -t
    };
    reduction / 2.0
}

/// Theory: the textbook output level plus make-up (manual and, if set, auto).
fn theory(p: &CompressorParams, level_db: f64) -> f64 {
    let (t, r, w) = (
        f64::from(p.threshold_db),
        f64::from(p.ratio),
        f64::from(p.knee_db),
    );
    let auto = if p.auto_makeup {
        textbook_auto_makeup_db(t, r, w)
    } else {
        0.0
    };
    textbook_db(t, r, w, level_db) + f64::from(p.makeup_db) + auto
}

/// Points worked out by hand from the formulas above (the arithmetic in each comment),
/// then measured on the compressor's output with DC and the peak detector, where the
/// detector level is exactly the sample level.
#[test]
fn compressor_hits_the_textbook_curve_at_points_worked_out_by_hand() {
    let auto = |p: CompressorParams| CompressorParams {
        auto_makeup: true,
        ..p
    };
    let makeup = |p: CompressorParams, db: f32| CompressorParams { makeup_db: db, ..p };
    let hard = comp(-20.0, 4.0, 0.0, Detector::Peak);
    // Knee from -23 to -17 dB; slope 1/4 - 1 = -0.75, 2W = 12.
    let soft = comp(-20.0, 4.0, 6.0, Detector::Peak);
    // Knee from -36 to -24 dB; slope 1/2 - 1 = -0.5, 2W = 24.
    let wide = comp(-30.0, 2.0, 12.0, Detector::Peak);
    let cases: [(CompressorParams, f64, f64); 21] = [
        // Hard knee: 14 dB over at 4:1 is 3.5 dB over.
        (hard, -6.0, -16.5),
        (hard, -20.0, -20.0),
        (hard, -30.0, -30.0),
        // 20 dB over: 5 dB over.
        (hard, 0.0, -15.0),
        // Soft knee. Its lower edge: (x - T + W/2) = 0, nothing taken.
        (soft, -23.0, -23.0),
        // (-21 + 20 + 3)² = 4; 4 · -0.75 / 12 = -0.25.
        (soft, -21.0, -21.25),
        // At the threshold: 3² = 9; 9 · -0.75 / 12 = -0.5625.
        (soft, -20.0, -20.5625),
        // 5² = 25; 25 · -0.75 / 12 = -1.5625.
        (soft, -18.0, -19.5625),
        // Upper edge: 6² = 36; 36 · -0.75 / 12 = -2.25, so -19.25 = T + 3/4, on the line.
        (soft, -17.0, -19.25),
        // Above the knee, the ratio: -20 + 6/4.
        (soft, -14.0, -18.5),
        (soft, -6.0, -16.5),
        // Wide knee: 4² = 16; 16 · -0.5 / 24 = -1/3.
        (wide, -32.0, -32.0 - 1.0 / 3.0),
        // 10² = 100; 100 · -0.5 / 24 = -25/12.
        (wide, -26.0, -26.0 - 25.0 / 12.0),
        // Above: -30 + 12/2.
        (wide, -18.0, -24.0),
        // Manual make-up adds on every branch: below, in the knee (1.5² · -0.9 / 6 =
        // -0.3375), above (-12 + 6/10).
        (
            makeup(comp(-12.0, 10.0, 3.0, Detector::Peak), 3.0),
            -14.0,
            -11.0,
        ),
        (
            makeup(comp(-12.0, 10.0, 3.0, Detector::Peak), 3.0),
            -12.0,
            -9.3375,
        ),
        (
            makeup(comp(-12.0, 10.0, 3.0, Detector::Peak), 3.0),
            -6.0,
            -8.4,
        ),
        // Auto make-up, T -24, 3:1, knee 6: 0 dBFS is 24 dB over, reduced by
        // 24 · (1 - 1/3) = 16 dB; half of it is +8 dB. Below: -40 + 8.
        (auto(comp(-24.0, 3.0, 6.0, Detector::Peak)), -40.0, -32.0),
        // At the threshold: 3² · (-2/3) / 12 = -0.5; -24.5 + 8.
        (auto(comp(-24.0, 3.0, 6.0, Detector::Peak)), -24.0, -16.5),
        // Above: -24 + 18/3 + 8.
        (auto(comp(-24.0, 3.0, 6.0, Detector::Peak)), -6.0, -10.0),
        // Auto make-up with 0 dBFS inside the knee, T -2, 2:1, knee 8: reduction
        // (1/2) · (4 + 2)² / 16 = 1.125 dB, make-up 0.5625. At -10 dB (below): -9.4375.
        (auto(comp(-2.0, 2.0, 8.0, Detector::Peak)), -10.0, -9.4375),
    ];
    for (p, level_db, by_hand) in cases {
        // The formulas above agree with the hand arithmetic...
        let formula = theory(&p, level_db);
        assert!(
            (formula - by_hand).abs() < 1e-9,
            "{p:?} at {level_db}: formula {formula}, by hand {by_hand}"
        );
        // ...and the compressor's output agrees with both.
        let x = 10f64.powf(level_db / 20.0) as f32;
        let mut b = bufs(&[vec![x; 4800]]);
        Compressor::new(p, RATE).process(&mut b, None, 4800);
        let out = db(f64::from(b[0][4799]));
        assert!(
            (out - by_hand).abs() <= 0.02,
            "{p:?} at {level_db} dB: output {out:.4} dB, by hand {by_hand:.4} dB"
        );
    }
}

#[test]
fn compressor_static_curve_with_steady_sines_rms_detector() {
    let settings = [
        comp(-20.0, 4.0, 0.0, Detector::Rms { window_ms: 20.0 }),
        comp(-20.0, 4.0, 6.0, Detector::Rms { window_ms: 20.0 }),
        comp(-30.0, 2.0, 12.0, Detector::Rms { window_ms: 20.0 }),
        CompressorParams {
            makeup_db: 3.0,
            ..comp(-12.0, 10.0, 3.0, Detector::Rms { window_ms: 20.0 })
        },
        CompressorParams {
            auto_makeup: true,
            ..comp(-24.0, 3.0, 6.0, Detector::Rms { window_ms: 20.0 })
        },
    ];
    for p in settings {
        for level_db in [
            -40.0, -32.0, -26.0, -23.0, -21.0, -20.0, -18.0, -14.0, -6.0, 0.0,
        ] {
            // A sine whose RMS is `level_db`: peak 3.01 dB higher.
            let amplitude = 10f64.powf(level_db / 20.0) * 2f64.sqrt();
            let input = sine(amplitude, 997.0, RATE as usize);
            let mut b = bufs(&[input.clone(), input]);
            let mut c = Compressor::new(p, RATE);
            c.process(&mut b, None, RATE as usize);
            let out = rms_db(&b[0][RATE as usize / 2..]);
            let want = theory(&p, level_db);
            assert!(
                (out - want).abs() <= 0.1,
                "{p:?} at {level_db} dB RMS: out {out:.3}, theory {want:.3}"
            );
        }
    }
}

#[test]
fn compressor_static_curve_peak_detector_on_dc() {
    for p in [
        comp(-18.0, 3.0, 6.0, Detector::Peak),
        comp(-6.0, 20.0, 0.0, Detector::Peak),
    ] {
        for level_db in [-30.0, -21.0, -18.0, -15.0, -10.0, -3.0, 0.0] {
            let x = 10f64.powf(level_db / 20.0) as f32;
            let mut b = bufs(&[vec![x; 4800]]);
            Compressor::new(p, RATE).process(&mut b, None, 4800);
            let out = db(f64::from(b[0][4799]));
            let want = theory(&p, level_db);
            assert!(
                (out - want).abs() <= 0.1,
                "{p:?} at {level_db} dB: out {out:.3}, theory {want:.3}"
            );
        }
    }
}

/// Gain change in dB of each sample of `out` against `input`.
fn gain_trace(input: f32, out: &[f32]) -> Vec<f64> {
    out.iter()
        .map(|&y| db(f64::from(y) / f64::from(input)))
        .collect()
}

#[test]
fn compressor_attack_and_release_time_constants_within_10_percent() {
    for (attack_ms, release_ms) in [(1.0f32, 50.0f32), (10.0, 200.0), (30.0, 500.0)] {
        let p = CompressorParams {
            attack_ms,
            release_ms,
            ..comp(-20.0, 4.0, 0.0, Detector::Peak)
        };
        let mut c = Compressor::new(p, RATE);
        // Settle below threshold, then a step to -8 dB (12 dB over: -9 dB of reduction).
        let quiet = 10f32.powf(-40.0 / 20.0);
        let loud = 10f32.powf(-8.0 / 20.0);
        let mut b = bufs(&[vec![quiet; 4800]]);
        c.process(&mut b, None, 4800);
        let n = (RATE as f32 * (attack_ms * 10.0 + 0.1) / 1000.0) as usize;
        let mut b = bufs(&[vec![loud; n]]);
        c.process(&mut b, None, n);
        let trace = gain_trace(loud, &b[0]);
        let final_gr = trace[n - 1];
        assert!((final_gr + 9.0).abs() < 0.01, "final {final_gr}");
        let reached = trace
            .iter()
            .position(|&g| g <= final_gr * (1.0 - (-1f64).exp()))
            .unwrap();
        let measured = reached as f64 * 1000.0 / f64::from(RATE);
        assert!(
            (measured / f64::from(attack_ms) - 1.0).abs() <= 0.1,
            "attack {attack_ms} ms measured {measured:.3} ms"
        );

        // Back below threshold: the reduction decays with the release time constant.
        let n = (RATE as f32 * release_ms * 5.0 / 1000.0) as usize;
        let mut b = bufs(&[vec![quiet; n]]);
        c.process(&mut b, None, n);
        let trace = gain_trace(quiet, &b[0]);
        let reached = trace
            .iter()
            .position(|&g| g >= -9.0 * (-1f64).exp())
            .unwrap();
        let measured = reached as f64 * 1000.0 / f64::from(RATE);
        assert!(
            (measured / f64::from(release_ms) - 1.0).abs() <= 0.1,
            "release {release_ms} ms measured {measured:.3} ms"
        );
    }
}

#[test]
fn sidechain_drives_the_detector_not_the_signal() {
    let p = comp(-30.0, 8.0, 0.0, Detector::Rms { window_ms: 10.0 });
    let mut c = Compressor::new(p, RATE);
    let music = sine(0.1, 220.0, RATE as usize);
    let voice = sine(0.3, 1000.0, RATE as usize);
    let mut b = bufs(std::slice::from_ref(&music));
    let side = bufs(&[voice]);
    c.process(&mut b, Some(&side), RATE as usize);
    // Voice RMS -13.5 dB: 16.5 dB over, ratio 8: 16.5 · (1/8 - 1) = -14.4 dB on the music.
    let voice_db = db(0.3 / 2f64.sqrt());
    let want = rms_db(&music) + (voice_db + 30.0) * (1.0 / 8.0 - 1.0);
    let got = rms_db(&b[0][RATE as usize / 2..]);
    assert!(
        (got - want).abs() < 0.1,
        "ducked music {got:.2} dB, expected {want:.2}"
    );
}

fn gate_params(hold_ms: f32) -> GateParams {
    GateParams {
        open_db: -30.0,
        close_db: -40.0,
        attack_ms: 0.5,
        hold_ms,
        release_ms: 5.0,
        range_db: -60.0,
    }
}

/// Runs `level_db` (sine peak) for `ms` through `gate`; returns the gain on the last
/// cycle (output peak over input peak).
fn gate_run(gate: &mut Gate, level_db: f64, ms: f64) -> f64 {
    let n = (ms * 48.0) as usize;
    let a = 10f64.powf(level_db / 20.0);
    let mut b = bufs(&[sine(a, 1000.0, n)]);
    gate.process(&mut b, n);
    let last = &b[0][n - 48..];
    last.iter().fold(0.0f64, |m, &x| m.max(f64::from(x.abs()))) / a
}

#[test]
fn gate_hysteresis_opens_above_open_and_closes_below_close() {
    let mut g = Gate::new(gate_params(0.0), RATE);
    // Between the thresholds a closed gate stays closed...
    assert!(gate_run(&mut g, -35.0, 200.0) < 0.002);
    // ...above the open threshold it opens...
    assert!((gate_run(&mut g, -25.0, 100.0) - 1.0).abs() < 1e-3);
    // ...back between the thresholds an open gate stays open...
    assert!((gate_run(&mut g, -35.0, 300.0) - 1.0).abs() < 1e-3);
    // ...below the close threshold it closes to the range.
    let closed = gate_run(&mut g, -45.0, 300.0);
    assert!(
        (db(closed) + 60.0).abs() < 0.5,
        "closed gain {} dB",
        db(closed)
    );
}

#[test]
fn gate_hold_keeps_it_open_for_the_hold_time() {
    let hold_ms = 100.0;
    let mut g = Gate::new(gate_params(hold_ms as f32), RATE);
    gate_run(&mut g, -20.0, 100.0);
    assert!(g.is_open());
    // Silence: the detector falls from -20 to below -40 dB in 10 ms × ln(10) = 23 ms,
    // then the hold runs. Frame by frame, find when the gate shuts.
    let mut closed_at = None;
    for k in 0..400 {
        let mut b = bufs(&[vec![0.0; 48]]);
        g.process(&mut b, 48);
        if !g.is_open() {
            closed_at = Some(k as f64 + 1.0);
            break;
        }
    }
    let detector_ms = 10.0 * 10f64.ln(); // from -20 to -40 dB
    let closed_at = closed_at.expect("the gate never closed");
    assert!(
        (closed_at - (detector_ms + hold_ms)).abs() <= 1.5,
        "closed after {closed_at} ms"
    );
}

fn torture(channels: usize) -> Vec<Vec<Vec<f32>>> {
    let mut rng = troubadour_dsp::rng::Rng::new(9);
    let n = RATE as usize;
    let over = 10f32.powf(19.0 / 20.0); // noise driven about +20 dB over a -1 dB ceiling
    vec![
        // Full-scale square bursts of changing length.
        (0..channels)
            .map(|_| {
                (0..n)
                    .map(|i| {
                        if (i / 37) % 5 < 2 {
                            if (i / 7) % 2 == 0 { 1.0 } else { -1.0 }
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect(),
        // White noise far over the ceiling.
        (0..channels)
            .map(|_| (0..n).map(|_| over * rng.next_bipolar()).collect())
            .collect(),
        // Single-sample spikes on silence and on a quiet sine.
        (0..channels)
            .map(|c| {
                (0..n)
                    .map(|i| {
                        if i % 1013 == c * 17 {
                            8.0
                        } else {
                            0.05 * ((i as f32) * 0.01).sin()
                        }
                    })
                    .collect()
            })
            .collect(),
    ]
}

#[test]
fn limiter_output_never_exceeds_the_ceiling_on_a_torture_set() {
    for ceiling_db in [-1.0f32, -6.0, 0.0] {
        for lookahead_ms in [0.0f32, 1.5, 5.0] {
            for channels in [1, 2] {
                for signal in torture(channels) {
                    let p = LimiterParams {
                        ceiling_db,
                        lookahead_ms,
                        release_ms: 50.0,
                    };
                    let mut l = Limiter::new(p, channels, RATE);
                    let mut b = bufs(&signal);
                    // Uneven block sizes.
                    let mut done = 0;
                    for size in [1usize, 64, 300, 1000].iter().cycle() {
                        if done >= RATE as usize {
                            break;
                        }
                        let k = (*size).min(RATE as usize - done);
                        let mut part: Vec<Box<[f32]>> = b
                            .iter()
                            .map(|c| c[done..done + k].to_vec().into())
                            .collect();
                        l.process(&mut part, k);
                        for (c, p) in b.iter_mut().zip(&part) {
                            c[done..done + k].copy_from_slice(p);
                        }
                        done += k;
                    }
                    let ceiling = 10f32.powf(ceiling_db / 20.0);
                    let peak = b
                        .iter()
                        .flat_map(|c| c.iter())
                        .fold(0.0f32, |m, &x| m.max(x.abs()));
                    assert!(peak <= ceiling, "peak {peak} over ceiling {ceiling}");
                    // The algorithm's own guarantee, not the safety clamp, kept it there.
                    assert_eq!(
                        l.clamped(),
                        0,
                        "ceiling {ceiling_db} lookahead {lookahead_ms} ms: the clamp had to act"
                    );
                }
            }
        }
    }
}

#[test]
fn limiter_below_the_ceiling_is_a_pure_delay() {
    let p = LimiterParams {
        ceiling_db: -1.0,
        lookahead_ms: 1.5,
        release_ms: 50.0,
    };
    let mut l = Limiter::new(p, 1, RATE);
    let x = sine(0.5, 440.0, 4800);
    let mut b = bufs(std::slice::from_ref(&x));
    l.process(&mut b, 4800);
    let d = l.latency_frames();
    assert_eq!(d, 72);
    assert!(b[0][..d].iter().all(|&y| y == 0.0));
    assert_eq!(&b[0][d..], &x[..4800 - d]);
}

/// The AVX2 build and the baseline build of each dynamics processor give bit-identical
/// output (the compiler never fuses a multiply and an add on its own): every build this
/// CPU has, against the baseline.
#[test]
fn both_builds_of_the_dynamics_loops_agree_to_the_bit() {
    use support::kernels;
    let mut rng = troubadour_dsp::rng::Rng::new(9);
    // Bursts from -60 to +6 dBFS so every processor works: gating, compressing, limiting.
    let x: Vec<f32> = (0..48_000)
        .map(|i| {
            let level = 10f32.powf((-60.0 + 66.0 * ((i / 4800) % 5) as f32 / 4.0) / 20.0);
            level * rng.next_bipolar()
        })
        .collect();
    type Bufs = Vec<Box<[f32]>>;
    let run = |f: &mut dyn FnMut(&mut Bufs)| {
        let mut b = bufs(&[x.clone(), x.iter().map(|v| -0.5 * v).collect()]);
        f(&mut b);
        b
    };
    let c = comp(-20.0, 4.0, 6.0, Detector::Rms { window_ms: 10.0 });
    let p = LimiterParams {
        ceiling_db: -1.0,
        lookahead_ms: 1.5,
        release_ms: 50.0,
    };
    let mut base = (
        Compressor::new(c, RATE).portable(),
        Gate::new(gate_params(20.0), RATE).portable(),
        Limiter::new(p, 2, RATE).portable(),
    );
    let want = (
        run(&mut |b| _ = base.0.process(b, None, 48_000)),
        run(&mut |b| _ = base.1.process(b, 48_000)),
        run(&mut |b| _ = base.2.process(b, 48_000)),
    );
    let mut ran = vec!["portable"];
    for choice in kernels::choices() {
        let mut fast = (
            Compressor::new(c, RATE).with_kernels(choice),
            Gate::new(gate_params(20.0), RATE).with_kernels(choice),
            Limiter::new(p, 2, RATE).with_kernels(choice),
        );
        if fast.0.kernels().avx2().is_none() {
            continue;
        }
        ran.push("avx2");
        assert_eq!(
            run(&mut |b| _ = fast.0.process(b, None, 48_000)),
            want.0,
            "{choice:?}"
        );
        assert_eq!(
            run(&mut |b| _ = fast.1.process(b, 48_000)),
            want.1,
            "{choice:?}"
        );
        assert_eq!(
            run(&mut |b| _ = fast.2.process(b, 48_000)),
            want.2,
            "{choice:?}"
        );
    }
    ran.dedup();
    kernels::report(
        "both_builds_of_the_dynamics_loops_agree_to_the_bit",
        &ran,
        &["portable", "avx2"],
    );
}

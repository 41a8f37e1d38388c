//! The EQ's measured response (its impulse response through the real processing path,
//! then a DFT at each frequency) against the Audio EQ Cookbook's response written out
//! here independently of the EQ's design code, for every filter type, several settings,
//! at 44.1, 48 and 96 kHz, at 30 log-spaced frequencies from 20 Hz to 20 kHz; and at the
//! points where each type's response is defined by its Q, worked out by hand.

use std::f64::consts::{PI, TAU};

use troubadour_dsp::biquad::{FilterKind, FilterParams};
use troubadour_dsp::eq::Equalizer;

const IR_LEN: usize = 1 << 16;

/// H(e^{jω}) at `freq` from an impulse response, by direct DFT in f64: (re, im).
fn measured(ir: &[f32], freq: f64, rate: f64) -> (f64, f64) {
    let w = TAU * freq / rate;
    let (step_s, step_c) = w.sin_cos();
    let (mut c, mut s) = (1.0f64, 0.0f64);
    let (mut re, mut im) = (0.0, 0.0);
    for &h in ir {
        re += f64::from(h) * c;
        im -= f64::from(h) * s;
        // Rotate the phasor by ω.
        (c, s) = (c * step_c - s * step_s, s * step_c + c * step_s);
    }
    (re, im)
}

/// |H| in dB at `freq` from an impulse response.
fn measured_db(ir: &[f32], freq: f64, rate: f64) -> f64 {
    let (re, im) = measured(ir, freq, rate);
    10.0 * (re * re + im * im).log10()
}

/// The impulse response of a one-band, one-channel EQ: the engine's processing path.
fn impulse_response(p: FilterParams, rate: u32) -> Vec<f32> {
    let mut eq = Equalizer::new(&[p], 1, rate);
    let mut buf: Vec<Box<[f32]>> = vec![vec![0.0; IR_LEN].into()];
    buf[0][0] = 1.0;
    eq.process(&mut buf, IR_LEN);
    buf[0].to_vec()
}

/// The cookbook's analog prototype H(s) of `p` as quadratics in s, `([n0, n1, n2],
/// [d0, d1, d2])` for `(n0 + n1·s + n2·s²) / (d0 + d1·s + d2·s²)`, with s normalised to
/// the centre frequency; A = 10^(gain/40); for shelves with a slope S,
/// 1/Q = √((A + 1/A)(1/S − 1) + 2) (all from R. Bristow-Johnson's cookbook).
fn cookbook_prototype(p: &FilterParams) -> ([f64; 3], [f64; 3]) {
    let a = 10f64.powf(p.gain_db / 40.0);
    let inv_q = match (p.kind, p.slope) {
        (FilterKind::LowShelf | FilterKind::HighShelf, Some(s)) => {
            ((a + 1.0 / a) * (1.0 / s - 1.0) + 2.0).sqrt()
        }
        _ => 1.0 / p.q,
    };
    let sq = a.sqrt() * inv_q;
    match p.kind {
        // 1 / (s² + s/Q + 1)
        FilterKind::LowPass => ([1.0, 0.0, 0.0], [1.0, inv_q, 1.0]),
        // s² / (s² + s/Q + 1)
        FilterKind::HighPass => ([0.0, 0.0, 1.0], [1.0, inv_q, 1.0]),
        // (s/Q) / (s² + s/Q + 1): 0 dB at the peak
        FilterKind::BandPass => ([0.0, inv_q, 0.0], [1.0, inv_q, 1.0]),
        // (s² + 1) / (s² + s/Q + 1)
        FilterKind::Notch => ([1.0, 0.0, 1.0], [1.0, inv_q, 1.0]),
        // (s² − s/Q + 1) / (s² + s/Q + 1)
        FilterKind::AllPass => ([1.0, -inv_q, 1.0], [1.0, inv_q, 1.0]),
        // (s² + s·A/Q + 1) / (s² + s/(A·Q) + 1)
        FilterKind::Peak => ([1.0, a * inv_q, 1.0], [1.0, inv_q / a, 1.0]),
        // A·(s² + (√A/Q)·s + A) / (A·s² + (√A/Q)·s + 1)
        FilterKind::LowShelf => ([a * a, a * sq, a], [1.0, sq, a]),
        // A·(A·s² + (√A/Q)·s + 1) / (s² + (√A/Q)·s + A)
        FilterKind::HighShelf => ([a, a * sq, a * a], [a, sq, 1.0]),
    }
}

/// The digital filter's response at `freq`, complex, from the analog prototype. Every
/// cookbook filter is its prototype through the bilinear transform prewarped so that
/// ω0 maps onto s = j: s = (1 − z⁻¹)/(1 + z⁻¹) / tan(ω0/2). On the unit circle that is
/// s = jΩ with Ω = tan(ω/2) / tan(ω0/2), so H(e^{jω}) = H(jΩ) exactly: the
/// coefficients never enter.
fn cookbook(p: &FilterParams, freq: f64, rate: f64) -> (f64, f64) {
    let omega = (PI * freq / rate).tan() / (PI * p.freq_hz / rate).tan();
    let ([n0, n1, n2], [d0, d1, d2]) = cookbook_prototype(p);
    // At s = jΩ: n0 + n1·jΩ − n2·Ω².
    let (nr, ni) = (n0 - n2 * omega * omega, n1 * omega);
    let (dr, di) = (d0 - d2 * omega * omega, d1 * omega);
    let den = dr * dr + di * di;
    ((nr * dr + ni * di) / den, (ni * dr - nr * di) / den)
}

/// |H| in dB at `freq` from the cookbook.
fn cookbook_db(p: &FilterParams, freq: f64, rate: f64) -> f64 {
    let (re, im) = cookbook(p, freq, rate);
    10.0 * (re * re + im * im).log10()
}

fn settings() -> Vec<FilterParams> {
    let mut out = Vec::new();
    for kind in FilterKind::ALL {
        for (freq, q, gain_db, slope) in [
            (100.0, 0.707, 6.0, None),
            (1000.0, 2.0, -12.0, None),
            (5000.0, 0.5, 12.0, None),
            (12000.0, 4.0, -6.0, None),
            (300.0, 1.0, 9.0, Some(1.0)),
            (3000.0, 1.0, -9.0, Some(0.5)),
        ] {
            if slope.is_some() && !matches!(kind, FilterKind::LowShelf | FilterKind::HighShelf) {
                continue;
            }
            out.push(FilterParams {
                kind,
                freq_hz: freq,
                q,
                gain_db,
                slope,
            });
        }
    }
    out
}

#[test]
fn every_type_matches_the_cookbook_response_within_0_05_db() {
    let freqs: Vec<f64> = (0..30)
        .map(|k| 20.0 * 1000f64.powf(k as f64 / 29.0))
        .collect();
    let mut checked = 0;
    let mut worst = (0.0f64, String::new());
    for rate in [44_100u32, 48_000, 96_000] {
        for p in settings() {
            // Two channels: both must carry the same response.
            let mut eq = Equalizer::new(&[p], 2, rate);
            let mut bufs: Vec<Box<[f32]>> =
                vec![vec![0.0; IR_LEN].into(), vec![0.0; IR_LEN].into()];
            bufs[0][0] = 1.0;
            bufs[1][0] = 1.0;
            eq.process(&mut bufs, IR_LEN);
            assert_eq!(bufs[0], bufs[1]);
            // One channel: a single channel runs on its own kernel (the block form).
            let mut mono = Equalizer::new(&[p], 1, rate);
            let mut mono_buf: Vec<Box<[f32]>> = vec![vec![0.0; IR_LEN].into()];
            mono_buf[0][0] = 1.0;
            mono.process(&mut mono_buf, IR_LEN);
            for (&f, ir) in freqs
                .iter()
                .flat_map(|f| [(f, &bufs[0]), (f, &mono_buf[0])])
            {
                let want = cookbook_db(&p, f, f64::from(rate));
                let got = measured_db(ir, f, f64::from(rate));
                // Deep in a stopband the f32 state's rounding noise (about -140 dB
                // relative) dominates; there the check is on the absolute error.
                let err = if want > -80.0 {
                    (got - want).abs()
                } else {
                    (10f64.powf(got / 20.0) - 10f64.powf(want / 20.0)).abs() * 1e3
                };
                if err > worst.0 {
                    worst = (
                        err,
                        format!(
                            "{p:?} at {rate} Hz, {f:.1} Hz: measured {got:.4} dB, cookbook {want:.4} dB"
                        ),
                    );
                }
                checked += 1;
            }
        }
    }
    eprintln!("worst error {:.5} dB: {}", worst.0, worst.1);
    assert!(worst.0 <= 0.05, "worst: {}", worst.1);
    assert!(checked >= 2 * 3 * 36 * 30);
}

/// |H| in dB at `freq` of the `biquad` crate's design of `p` (a second, independent
/// implementation of the cookbook), evaluated from its coefficients.
fn biquad_crate_db(p: &FilterParams, freq: f64, rate: f64) -> f64 {
    use biquad::Type;
    let kind = match p.kind {
        FilterKind::LowPass => Type::LowPass,
        FilterKind::HighPass => Type::HighPass,
        FilterKind::BandPass => Type::BandPass,
        FilterKind::Notch => Type::Notch,
        FilterKind::AllPass => Type::AllPass,
        FilterKind::Peak => Type::PeakingEQ(p.gain_db),
        FilterKind::LowShelf => Type::LowShelf(p.gain_db),
        FilterKind::HighShelf => Type::HighShelf(p.gain_db),
    };
    let c = biquad::Coefficients::<f64>::from_normalized_params(kind, 2.0 * p.freq_hz / rate, p.q)
        .expect("valid settings");
    let w = TAU * freq / rate;
    let (s1, c1) = w.sin_cos();
    let (s2, c2) = (2.0 * w).sin_cos();
    let (nr, ni) = (c.b0 + c.b1 * c1 + c.b2 * c2, -(c.b1 * s1 + c.b2 * s2));
    let (dr, di) = (1.0 + c.a1 * c1 + c.a2 * c2, -(c.a1 * s1 + c.a2 * s2));
    let db = 10.0 * ((nr * nr + ni * ni) / (dr * dr + di * di)).log10();
    // The crate's band-pass is the cookbook's constant-skirt one (peak gain Q); ours is
    // the 0 dB-peak one, the same curve divided by Q.
    if p.kind == FilterKind::BandPass {
        db - 20.0 * p.q.log10()
    } else {
        db
    }
}

/// The reference above agrees with the `biquad` crate's cookbook designs, so it is the
/// cookbook and not a third reading of it (settings with a Q; the crate has no shelf
/// slope).
#[test]
fn the_reference_agrees_with_the_biquad_crate() {
    let freqs: Vec<f64> = (0..30)
        .map(|k| 20.0 * 1000f64.powf(k as f64 / 29.0))
        .collect();
    for rate in [44_100.0, 48_000.0, 96_000.0] {
        for p in settings().into_iter().filter(|p| p.slope.is_none()) {
            for &f in &freqs {
                let (ours, theirs) = (cookbook_db(&p, f, rate), biquad_crate_db(&p, f, rate));
                let err = if ours > -150.0 {
                    (ours - theirs).abs()
                } else {
                    (10f64.powf(ours / 20.0) - 10f64.powf(theirs / 20.0)).abs() * 1e3
                };
                assert!(
                    err < 1e-6,
                    "{p:?} at {rate} Hz, {f:.1} Hz: reference {ours:.9} dB, biquad crate {theirs:.9} dB"
                );
            }
        }
    }
}

/// The lower and upper frequencies of a filter's band edges: where |Ω − 1/Ω| = 1/Q,
/// Ω± = √(1 + 1/(4Q²)) ± 1/(2Q) in the prototype, mapped back through the prewarped
/// bilinear transform, f = (rate/π)·atan(Ω·tan(π·f0/rate)).
fn band_edges(f0: f64, q: f64, rate: f64) -> [f64; 2] {
    let root = (1.0 + 1.0 / (4.0 * q * q)).sqrt();
    [root - 1.0 / (2.0 * q), root + 1.0 / (2.0 * q)]
        .map(|omega| rate / PI * (omega * (PI * f0 / rate).tan()).atan())
}

/// Points fixed by each type's definition, worked out by hand from the prototypes above,
/// several of them set by Q (a check at the centre frequency alone cannot tell one Q from
/// another), measured on the EQ's impulse response.
///
/// At a band edge (1 − Ω²)² = Ω²/Q², which gives:
/// - band-pass and notch: |H|² = (Ω/Q)² / ((1 − Ω²)² + (Ω/Q)²) and its complement, ½
///   each: -3.0103 dB;
/// - peak: |H|² = ((1 − Ω²)² + (AΩ/Q)²) / ((1 − Ω²)² + (Ω/(AQ))²) = (1 + A²)/(1 + 1/A²)
///   = A², half the gain in dB (the cookbook's "midpoint" bandwidth);
/// - all-pass: phase −2·atan((Ω/Q)/(1 − Ω²)) = −π/2 at the lower edge, −3π/2 at the upper,
///   so H = −j and +j;
/// - low-pass: |H|² = 1/((1 − Ω²)² + Ω²/Q²) = Q²/(2Ω²); high-pass Ω⁴ times that.
///
/// At the centre (Ω = 1): low-pass and high-pass |H| = Q, band-pass 1, notch 0, peak
/// the full gain, shelves half the gain. An octave either side of a shelf with S = 1 the
/// response is on its way from 0 to the full gain, which fixes where the slope lies.
#[test]
fn each_type_hits_its_defining_points() {
    let rate = 48_000u32;
    let r = f64::from(rate);
    let f0 = 1000.0;
    let band = |kind, q, gain_db| FilterParams {
        kind,
        freq_hz: f0,
        q,
        gain_db,
        slope: None,
    };
    let lin = |db: f64| 10f64.powf(db / 20.0);
    for q in [0.5, std::f64::consts::FRAC_1_SQRT_2, 2.0, 5.0] {
        let [lo, hi] = band_edges(f0, q, r);
        let omega = |f: f64| (PI * f / r).tan() / (PI * f0 / r).tan();
        let check = |what: &str, got: f64, want: f64, tol: f64| {
            assert!(
                (got - want).abs() <= tol,
                "Q {q}: {what}: measured {got:.5}, expected {want:.5}"
            );
        };

        let ir = impulse_response(band(FilterKind::LowPass, q, 0.0), rate);
        check(
            "low-pass |H(f0)|",
            lin(measured_db(&ir, f0, r)),
            q,
            1e-3 * q,
        );
        for f in [lo, hi] {
            let want = 10.0 * (q * q / (2.0 * omega(f).powi(2))).log10();
            check(
                "low-pass at an edge, dB",
                measured_db(&ir, f, r),
                want,
                0.01,
            );
        }
        let ir = impulse_response(band(FilterKind::HighPass, q, 0.0), rate);
        check(
            "high-pass |H(f0)|",
            lin(measured_db(&ir, f0, r)),
            q,
            1e-3 * q,
        );
        for f in [lo, hi] {
            let want = 10.0 * (q * q * omega(f).powi(2) / 2.0).log10();
            check(
                "high-pass at an edge, dB",
                measured_db(&ir, f, r),
                want,
                0.01,
            );
        }

        let ir = impulse_response(band(FilterKind::BandPass, q, 0.0), rate);
        check("band-pass at f0, dB", measured_db(&ir, f0, r), 0.0, 0.01);
        check(
            "band-pass lower edge, dB",
            measured_db(&ir, lo, r),
            -3.0103,
            0.01,
        );
        check(
            "band-pass upper edge, dB",
            measured_db(&ir, hi, r),
            -3.0103,
            0.01,
        );

        let ir = impulse_response(band(FilterKind::Notch, q, 0.0), rate);
        assert!(measured_db(&ir, f0, r) < -60.0, "Q {q}: notch at f0");
        check(
            "notch lower edge, dB",
            measured_db(&ir, lo, r),
            -3.0103,
            0.01,
        );
        check(
            "notch upper edge, dB",
            measured_db(&ir, hi, r),
            -3.0103,
            0.01,
        );

        for gain_db in [9.0, -12.0] {
            let ir = impulse_response(band(FilterKind::Peak, q, gain_db), rate);
            check("peak at f0, dB", measured_db(&ir, f0, r), gain_db, 0.01);
            check(
                "peak lower edge, dB",
                measured_db(&ir, lo, r),
                gain_db / 2.0,
                0.01,
            );
            check(
                "peak upper edge, dB",
                measured_db(&ir, hi, r),
                gain_db / 2.0,
                0.01,
            );
        }

        let ir = impulse_response(band(FilterKind::AllPass, q, 0.0), rate);
        for f in [30.0, lo, f0, hi, 15_000.0] {
            check("all-pass |H|, dB", measured_db(&ir, f, r), 0.0, 0.01);
        }
        let (re, im) = measured(&ir, f0, r);
        check("all-pass at f0, re", re, -1.0, 2e-3);
        check("all-pass at f0, im", im, 0.0, 2e-3);
        let (re, im) = measured(&ir, lo, r);
        check("all-pass lower edge, re", re, 0.0, 2e-3);
        check("all-pass lower edge, im", im, -1.0, 2e-3);
        let (re, im) = measured(&ir, hi, r);
        check("all-pass upper edge, re", re, 0.0, 2e-3);
        check("all-pass upper edge, im", im, 1.0, 2e-3);
    }

    // Shelves, S = 1 (so 1/Q² = 2): |H|² of the low shelf at s = jΩ is
    // A²·((A − Ω²)² + AΩ²/Q²) / ((1 − AΩ²)² + AΩ²/Q²): A⁴ as Ω → 0 (the full gain),
    // A² at Ω = 1 (half the gain in dB), 1 as Ω → ∞.
    let shelf = |kind, gain_db| FilterParams {
        slope: Some(1.0),
        ..band(kind, 1.0, gain_db)
    };
    for gain_db in [12.0, -9.0] {
        let a = 10f64.powf(gain_db / 40.0);
        let low = |w: f64| {
            let w2 = w * w;
            10.0 * (a * a * ((a - w2).powi(2) + 2.0 * a * w2)
                / ((1.0 - a * w2).powi(2) + 2.0 * a * w2))
                .log10()
        };
        let ir = impulse_response(shelf(FilterKind::LowShelf, gain_db), rate);
        check_db(
            "low shelf at 10 Hz",
            measured_db(&ir, 10.0, r),
            gain_db,
            0.02,
        );
        check_db(
            "low shelf at f0",
            measured_db(&ir, f0, r),
            gain_db / 2.0,
            0.01,
        );
        for f in [f0 / 2.0, 2.0 * f0, 20_000.0] {
            let want = low((PI * f / r).tan() / (PI * f0 / r).tan());
            check_db("low shelf off f0", measured_db(&ir, f, r), want, 0.01);
        }
        // The high shelf's prototype is the low shelf's with s → 1/s (multiply its
        // numerator and denominator by s²), so its value at Ω is the low shelf's at 1/Ω.
        let ir = impulse_response(shelf(FilterKind::HighShelf, gain_db), rate);
        check_db(
            "high shelf at f0",
            measured_db(&ir, f0, r),
            gain_db / 2.0,
            0.01,
        );
        for f in [20.0, f0 / 2.0, 2.0 * f0] {
            let w = (PI * f / r).tan() / (PI * f0 / r).tan();
            check_db(
                "high shelf off f0",
                measured_db(&ir, f, r),
                low(1.0 / w),
                0.01,
            );
        }
    }
}

fn check_db(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: measured {got:.5} dB, expected {want:.5} dB"
    );
}

//! Resampler quality: SNR against the ideal sine, passband flatness, alias rejection,
//! exact lengths, chunk invariance, glitch-free asynchronous ratio sweeps and no
//! allocation while processing.

mod support;

use std::f64::consts::TAU;

use support::kernels;
use troubadour_dsp::resample::{Quality, Resampler, Sample, output_length, resample_interleaved};
use troubadour_rt::alloc_guard::{GuardedAllocator, forbid_alloc, thread_violations};

#[global_allocator]
static ALLOC: GuardedAllocator = GuardedAllocator;

/// Frames excluded at each end of a measurement (the filter's edges).
const EDGE: usize = 2048;

fn sine(freq: f64, rate: u32, frames: usize, amplitude: f64) -> Vec<f32> {
    sine_of(freq, rate, frames, amplitude)
}

fn sine_of<S: Sample>(freq: f64, rate: u32, frames: usize, amplitude: f64) -> Vec<S> {
    (0..frames)
        .map(|k| S::of_f64(amplitude * (TAU * freq * k as f64 / f64::from(rate)).sin()))
        .collect()
}

/// Least-squares fit of `a·sin(ω t) + b·cos(ω t)` to `y` at input times `t` (in input
/// frames), over all but `EDGE` frames at each end. Returns (fitted amplitude, residual
/// RMS).
fn fit<S: Sample>(y: &[S], times: &[f64], omega: f64) -> (f64, f64) {
    let range = EDGE..y.len() - EDGE;
    let (mut ss, mut sc, mut cc, mut ys, mut yc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for n in range.clone() {
        let (s, c) = (omega * times[n]).sin_cos();
        let v = y[n].to_f64();
        ss += s * s;
        sc += s * c;
        cc += c * c;
        ys += v * s;
        yc += v * c;
    }
    let det = ss * cc - sc * sc;
    let a = (ys * cc - yc * sc) / det;
    let b = (yc * ss - ys * sc) / det;
    let mut residual = 0.0;
    for n in range.clone() {
        let (s, c) = (omega * times[n]).sin_cos();
        let e = y[n].to_f64() - (a * s + b * c);
        residual += e * e;
    }
    let rms = (residual / range.len() as f64).sqrt();
    ((a * a + b * b).sqrt(), rms)
}

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// (gain, SNR) in dB of a sine at `freq` converted `from` → `to` in f32.
fn snr(from: u32, to: u32, freq: f64, quality: Quality) -> (f64, f64) {
    snr_of::<f32>(from, to, freq, quality)
}

fn snr_of<S: Sample>(from: u32, to: u32, freq: f64, quality: Quality) -> (f64, f64) {
    let frames = (from as usize / 4).max(3 * EDGE * from as usize / to as usize + 4096);
    let amplitude = 0.5;
    let x = sine_of::<S>(freq, from, frames, amplitude);
    let y = resample_interleaved(&x, 1, from, to, quality).unwrap();
    let step = f64::from(from) / f64::from(to);
    let times: Vec<f64> = (0..y.len()).map(|n| n as f64 * step).collect();
    let (a, rms) = fit(&y, &times, TAU * freq / f64::from(from));
    (db(a / amplitude), db(a / std::f64::consts::SQRT_2 / rms))
}

const RATES: [u32; 4] = [44_100, 48_000, 88_200, 96_000];

fn pairs() -> Vec<(u32, u32)> {
    let mut pairs = vec![(8_000, 48_000), (16_000, 48_000)];
    for &a in &RATES {
        for &b in &RATES {
            if a != b {
                pairs.push((a, b));
            }
        }
    }
    pairs
}

#[test]
fn snr_of_high_and_best_at_1k_and_near_the_top() {
    // `high` in f32, the format of every stream in the mixer; `best` in f64, since f32's
    // own rounding of input and output caps any f32 conversion near 140 dB.
    let mut report = String::new();
    let mut failures = Vec::new();
    for (from, to) in pairs() {
        let top = (0.35 * f64::from(from.min(to))).min(15_000.0);
        for freq in [1_000.0, top] {
            for (quality, floor) in [(Quality::High, 130.0), (Quality::Best, 145.0)] {
                let (gain, snr) = match quality {
                    Quality::Best => snr_of::<f64>(from, to, freq, quality),
                    _ => snr_of::<f32>(from, to, freq, quality),
                };
                report += &format!(
                    "{from:>6} -> {to:>6} {freq:>7.0} Hz {:>4}: SNR {snr:6.1} dB gain {gain:+.5} dB\n",
                    quality.name()
                );
                if snr < floor {
                    failures.push(format!(
                        "{from} -> {to} at {freq} Hz ({}): SNR {snr:.1} dB < {floor} dB",
                        quality.name()
                    ));
                }
            }
        }
    }
    println!("{report}");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn fast_is_the_linear_interpolator_it_claims_to_be() {
    // Linear interpolation: good at 1 kHz, poor near the top of the band (the spec's
    // figures: ~60 dB at 1 kHz, ~12 dB at 15 kHz). Pinned so nobody mistakes it for more.
    let (_, low) = snr(44_100, 48_000, 1_000.0, Quality::Fast);
    let (gain, high) = snr(44_100, 48_000, 15_000.0, Quality::Fast);
    assert!((50.0..75.0).contains(&low), "1 kHz: {low:.1} dB");
    assert!(high < 30.0, "15 kHz: {high:.1} dB");
    assert!(gain < -1.0, "15 kHz gain {gain:.2} dB");
}

#[test]
fn passband_is_flat_to_point_nine_of_nyquist() {
    for (from, to) in [
        (44_100, 48_000),
        (48_000, 44_100),
        (96_000, 48_000),
        (48_000, 96_000),
    ] {
        let edge = 0.9 * 0.5 * f64::from(from.min(to));
        for k in 1..=12 {
            let freq = edge * f64::from(k) / 12.0;
            let (gain, _) = snr(from, to, freq, Quality::High);
            assert!(
                gain.abs() <= 0.01,
                "{from} -> {to}: {freq:.0} Hz at {gain:+.4} dB"
            );
        }
    }
}

#[test]
fn tones_above_the_output_nyquist_are_rejected_when_downsampling() {
    for (from, to) in [
        (48_000, 44_100),
        (96_000, 48_000),
        (96_000, 44_100),
        (88_200, 48_000),
    ] {
        let nyquist = 0.5 * f64::from(to);
        let input_nyquist = 0.5 * f64::from(from);
        for freq in [
            nyquist * 1.005,
            (nyquist + input_nyquist) / 2.0,
            0.49 * f64::from(from),
        ] {
            let amplitude = 0.5;
            let x = sine(freq, from, from as usize / 4, amplitude);
            let y = resample_interleaved(&x, 1, from, to, Quality::High).unwrap();
            let body = &y[EDGE..y.len() - EDGE];
            let rms = (body.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / body.len() as f64)
                .sqrt();
            let rejection = db(amplitude / std::f64::consts::SQRT_2 / rms);
            assert!(
                rejection >= 120.0,
                "{from} -> {to}: {freq:.0} Hz only {rejection:.1} dB down"
            );
        }
    }
}

#[test]
fn output_length_is_exact() {
    for (from, to) in pairs() {
        for frames in [1usize, 999, 44_100, 100_003] {
            let y =
                resample_interleaved(&vec![0.1; frames * 2], 2, from, to, Quality::High).unwrap();
            assert_eq!(
                y.len() as u64 / 2,
                output_length(frames as u64, from, to),
                "{from} -> {to}, {frames} frames"
            );
            // Produced, not padded with silence: the last frame still carries some of
            // the signal (less the closer it sits to the edge where the input stops).
            if frames >= 999 {
                let last = y[y.len() - 1];
                assert!(
                    last > 1e-3,
                    "{from} -> {to}, {frames} frames: last frame {last}"
                );
            }
        }
    }
}

#[test]
fn a_click_lands_on_its_output_frame() {
    // A click at input frame from/20 (50 ms) must peak exactly at output frame to/20,
    // with the kernel's ringing symmetric around it: every path (one stage, two stages
    // with a second-stage kernel, two stages keeping every frame or every second one,
    // asynchronous) keeps output frame 0 on input frame 0.
    for (from, to) in [
        (44_100, 48_000),
        (48_000, 44_100),
        (44_100, 88_200),
        (96_000, 48_000),
        (8_000, 48_000),
        (96_000, 44_100),
    ] {
        let mut x = vec![0.0f32; from as usize / 5];
        x[from as usize / 20] = 0.9;
        let fixed = resample_interleaved(&x, 1, from, to, Quality::High).unwrap();
        let mut rs = Resampler::new_async_with_kernels(
            1,
            from,
            to,
            Quality::High,
            kernels::default_choice(),
        )
        .unwrap();
        let tail = vec![0.0f32; rs.lookahead_input_frames() + 1];
        let mut asynchronous = vec![0.0f32; rs.max_output_frames(x.len() + tail.len())];
        let n = rs.process(&x, &mut asynchronous).output_frames;
        let m = rs.process(&tail, &mut asynchronous[n..]).output_frames;
        asynchronous.truncate(n + m);
        for (name, y) in [("fixed", &fixed), ("async", &asynchronous)] {
            let peak = (0..y.len())
                .max_by(|&a, &b| y[a].abs().total_cmp(&y[b].abs()))
                .unwrap();
            assert_eq!(peak, to as usize / 20, "{name} {from} -> {to}");
            for k in 1..4 {
                let (left, right) = (y[peak - k], y[peak + k]);
                assert!(
                    (left - right).abs() <= 1e-4 * y[peak].abs(),
                    "{name} {from} -> {to}: frame ±{k} around the click: {left} vs {right}"
                );
            }
        }
    }
}

/// Streams `input` through `rs` in chunks of `chunk` input frames with an output buffer
/// just large enough, and returns everything produced.
fn stream(rs: &mut Resampler, input: &[f32], chunk: usize) -> Vec<f32> {
    let ch = rs.channels();
    let mut out = Vec::new();
    let mut buf = vec![0.0; rs.max_output_frames(chunk) * ch];
    for piece in input.chunks(chunk * ch) {
        let done = rs.process(piece, &mut buf);
        assert_eq!(done.input_frames * ch, piece.len());
        out.extend_from_slice(&buf[..done.output_frames * ch]);
    }
    out
}

#[test]
fn output_does_not_depend_on_chunking() {
    let input: Vec<f32> = sine(997.0, 44_100, 20_000, 0.7)
        .iter()
        .zip(sine(12_345.0, 44_100, 20_000, 0.2))
        .flat_map(|(&l, r)| [l, r])
        .collect();
    type Maker = (&'static str, fn() -> Resampler);
    let makers: [Maker; 7] = [
        ("high 44.1->48", || {
            Resampler::new_with_kernels(2, 44_100, 48_000, Quality::High, kernels::default_choice())
                .unwrap()
        }),
        // The first stage alone at twice the rate (its output every frame kept) ...
        ("high 44.1->88.2", || {
            Resampler::new_with_kernels(2, 44_100, 88_200, Quality::High, kernels::default_choice())
                .unwrap()
        }),
        // ... and at the input rate, computing only every second frame.
        ("high 96->48", || {
            Resampler::new_with_kernels(2, 96_000, 48_000, Quality::High, kernels::default_choice())
                .unwrap()
        }),
        ("best 44.1->96", || {
            Resampler::new_with_kernels(2, 44_100, 96_000, Quality::Best, kernels::default_choice())
                .unwrap()
        }),
        ("fast 44.1->48", || {
            Resampler::new_with_kernels(2, 44_100, 48_000, Quality::Fast, kernels::default_choice())
                .unwrap()
        }),
        ("high 44.1->47.999 (inexact)", || {
            Resampler::new_with_kernels(2, 44_100, 47_999, Quality::High, kernels::default_choice())
                .unwrap()
        }),
        ("async high 44.1->48", || {
            let mut rs = Resampler::new_async_with_kernels(
                2,
                44_100,
                48_000,
                Quality::High,
                kernels::default_choice(),
            )
            .unwrap();
            rs.set_ratio_adjust(1.0 + 150e-6);
            rs
        }),
    ];
    for (name, make) in makers {
        let mut rs = make();
        // All but the latency's worth of the 20 000 stereo input frames came out.
        let expected = (20_000 - rs.lookahead_input_frames()) as f64 * rs.nominal_ratio() * 2.0;
        let reference = stream(&mut rs, &input, 4096);
        assert!(
            reference.len() as f64 >= expected - 4.0,
            "{name}: {}",
            reference.len()
        );
        for chunk in [1, 17, 256] {
            let got = stream(&mut make(), &input, chunk);
            assert_eq!(got.len(), reference.len(), "{name}, chunk {chunk}");
            let same = got
                .iter()
                .zip(&reference)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{name}: chunk {chunk} differs from chunk 4096");
        }
    }
}

/// Every channel of a multichannel stream comes out as that channel alone would: the
/// paths that serve several channels at once (two per transform in the first stage,
/// interleaving loops for 1, 2, 4 and 8 channels, the exact kernel's) against mono.
#[test]
fn each_channel_converts_as_it_would_alone() {
    let frames = 6_000;
    for (from, to) in [
        (44_100, 48_000),  // first stage at twice the rate, 24-tap second stage
        (96_000, 48_000),  // first stage keeps every second frame, nothing after it
        (144_000, 48_000), // every third frame of the first stage's output
        (48_000, 44_100),  // first stage at the input rate, second stage
    ] {
        let signals: Vec<Vec<f32>> = (0..8)
            .map(|c| {
                sine(
                    523.0 + 1_731.0 * c as f64,
                    from,
                    frames,
                    0.6 - 0.05 * c as f64,
                )
            })
            .collect();
        let alone: Vec<Vec<f32>> = signals
            .iter()
            .map(|x| resample_interleaved(x, 1, from, to, Quality::High).unwrap())
            .collect();
        for channels in [2usize, 3, 4, 8] {
            let input: Vec<f32> = (0..frames)
                .flat_map(|k| signals[..channels].iter().map(move |x| x[k]))
                .collect();
            let y = resample_interleaved(&input, channels, from, to, Quality::High).unwrap();
            for (c, mono) in alone[..channels].iter().enumerate() {
                assert_eq!(
                    y.len() / channels,
                    mono.len(),
                    "{from} -> {to}, {channels} ch"
                );
                let worst = y
                    .iter()
                    .skip(c)
                    .step_by(channels)
                    .zip(mono)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                // Transforms of channel pairs round differently from real ones.
                assert!(
                    worst < 1e-5,
                    "{from} -> {to}, {channels} channels: channel {c} off by {worst}"
                );
            }
        }
    }
}

#[test]
fn fixed_output_does_not_depend_on_chunking_at_any_channel_count() {
    // The exact-phase kernel has its own loops for 1, 2, 4 and 8 channels, and one for
    // the rest, and so has the interleaving of frames that the first stage alone
    // computes (44.1 to 22.05 kHz).
    for channels in [1usize, 3, 4, 8] {
        let input: Vec<f32> = sine(997.0, 44_100, 12_000, 0.7)
            .iter()
            .flat_map(|&x| (0..channels).map(move |c| x * (1.0 - 0.1 * c as f32)))
            .collect();
        for (quality, to) in [
            (Quality::High, 48_000),
            (Quality::Best, 48_000),
            (Quality::High, 22_050),
        ] {
            let make = || {
                Resampler::new_with_kernels(
                    channels,
                    44_100,
                    to,
                    quality,
                    kernels::default_choice(),
                )
                .unwrap()
            };
            same_in_any_chunks(make, &input, &format!("{channels} channels, {quality:?}"));
        }
    }
}

/// Streams `input` through resamplers from `make` in chunks of 1, 17 and 333 frames and
/// asserts the output bit for bit that of chunks of 4096.
fn same_in_any_chunks(make: impl Fn() -> Resampler, input: &[f32], what: &str) {
    let channels = make().channels();
    let reference = stream(&mut make(), input, 4096);
    assert!(reference.len() > 5_000 * channels, "{what}");
    for chunk in [1, 17, 333] {
        let got = stream(&mut make(), input, chunk);
        assert_eq!(got.len(), reference.len(), "{what}, chunk {chunk}");
        assert!(
            got.iter()
                .zip(&reference)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{what}: chunk {chunk} differs from chunk 4096"
        );
    }
}

/// The asynchronous kernels serve channels in groups of up to eight, and sum the vectors
/// of mono and stereo frames across frames: group sizes and remainders, chunked.
#[test]
fn asynchronous_output_does_not_depend_on_chunking_at_any_channel_count() {
    for channels in [1usize, 2, 3, 5, 8, 11] {
        let input: Vec<f32> = sine(997.0, 44_100, 6_000, 0.7)
            .iter()
            .flat_map(|&x| (0..channels).map(move |c| x * (1.0 - 0.1 * c as f32)))
            .collect();
        let make = || {
            let mut rs = Resampler::new_async_with_kernels(
                channels,
                44_100,
                48_000,
                Quality::High,
                kernels::default_choice(),
            )
            .unwrap();
            rs.set_ratio_adjust(1.0 - 120e-6);
            rs
        };
        same_in_any_chunks(make, &input, &format!("{channels} channels"));
    }
}

#[test]
fn a_small_output_buffer_loses_nothing() {
    let input = sine(440.0, 48_000, 5_000, 0.5);
    let reference = stream(
        &mut Resampler::new_with_kernels(
            1,
            48_000,
            44_100,
            Quality::High,
            kernels::default_choice(),
        )
        .unwrap(),
        &input,
        5_000,
    );
    let mut rs =
        Resampler::new_with_kernels(1, 48_000, 44_100, Quality::High, kernels::default_choice())
            .unwrap();
    let mut got = Vec::new();
    let mut rest = &input[..];
    let mut out = [0.0f32; 7];
    loop {
        let done = rs.process(rest, &mut out);
        got.extend_from_slice(&out[..done.output_frames]);
        rest = &rest[done.input_frames..];
        // A full output may leave frames behind even once the input is gone: drain them.
        if rest.is_empty() && done.output_frames < out.len() {
            break;
        }
    }
    assert_eq!(got.len(), reference.len());
    assert!(
        got == reference,
        "a 7-frame output buffer changed the samples"
    );
}

#[test]
fn asynchronous_sweep_stays_a_continuous_sine() {
    // The ratio wanders ±200 ppm (a sine of 0.5 s period plus steps every 64 frames), as
    // a drift controller would move it. Each output frame's input time is taken from the
    // resampler, so the fit is against the phase it actually followed: what remains is
    // interpolation error and any glitch.
    let (from, to) = (48_000u32, 48_000u32);
    let freq = 3_000.0;
    let x = sine(freq, from, from as usize, 0.5);
    for quality in [Quality::High, Quality::Best] {
        let mut rs =
            Resampler::new_async_with_kernels(1, from, to, quality, kernels::default_choice())
                .unwrap();
        let mut y = Vec::new();
        let mut times = Vec::new();
        let mut rest = &x[..];
        let mut out = [0.0f32; 1];
        while !rest.is_empty() {
            let n = y.len() as f64;
            if y.len() % 64 == 0 {
                rs.set_ratio_adjust(1.0 + 200e-6 * (TAU * n / 24_000.0).sin());
            }
            let t = rs.next_output_time();
            let done = rs.process(rest, &mut out);
            if done.output_frames == 1 {
                y.push(out[0]);
                times.push(t);
            }
            rest = &rest[done.input_frames..];
        }
        let (a, rms) = fit(&y, &times, TAU * freq / f64::from(from));
        let residual = db(rms / (a / std::f64::consts::SQRT_2));
        println!("{}: residual {residual:.1} dB", quality.name());
        assert!(
            residual <= -100.0,
            "{}: residual {residual:.1} dB",
            quality.name()
        );
        // And the ratio really moved: the time went off the nominal grid.
        let drift = (0..y.len())
            .map(|n| (times[n] - n as f64).abs())
            .fold(0.0, f64::max);
        assert!(drift > 1.0, "ratio never moved (max drift {drift} frames)");
    }
}

#[test]
fn asynchronous_ratio_is_clamped_and_glides() {
    let mut rs = Resampler::new_async_with_kernels(
        2,
        48_000,
        48_000,
        Quality::High,
        kernels::default_choice(),
    )
    .unwrap();
    rs.set_ratio_adjust(1.5);
    let input = vec![0.0; 2 * 4800];
    let mut out = vec![0.0; rs.max_output_frames(4800) * 2];
    let before = rs.current_ratio();
    // Frames come out once the kernel's look-ahead is covered; 16 more then glide.
    let warmup = rs.lookahead_input_frames() + 16;
    rs.process(&input[..2 * warmup], &mut out);
    let early = rs.current_ratio();
    rs.process(&input, &mut out);
    let late = rs.current_ratio();
    assert_eq!(before, 1.0);
    assert!(early > 1.0 && early < 1.005, "jumped to {early}");
    assert!(
        (late - 1.01).abs() < 1e-9,
        "settled at {late}, not the 1 % clamp"
    );
}

#[test]
fn processing_never_allocates() {
    let input = sine(1_000.0, 44_100, 4096, 0.5)
        .into_iter()
        .flat_map(|s| [s, -s])
        .collect::<Vec<_>>();
    for quality in [Quality::Fast, Quality::High, Quality::Best] {
        let mut fixed =
            Resampler::new_with_kernels(2, 44_100, 48_000, quality, kernels::default_choice())
                .unwrap();
        let mut packed =
            Resampler::new_with_kernels(2, 44_100, 88_200, quality, kernels::default_choice())
                .unwrap();
        let mut decimating =
            Resampler::new_with_kernels(2, 44_100, 22_050, quality, kernels::default_choice())
                .unwrap();
        let mut asynchronous = Resampler::new_async_with_kernels(
            2,
            44_100,
            48_000,
            quality,
            kernels::default_choice(),
        )
        .unwrap();
        let mut out = vec![0.0; packed.max_output_frames(4096) * 2];
        forbid_alloc(|| {
            for piece in input.chunks(2 * 256) {
                fixed.process(piece, &mut out);
                packed.process(piece, &mut out);
                decimating.process(piece, &mut out);
                asynchronous.set_ratio_adjust(1.0001);
                asynchronous.process(piece, &mut out);
            }
        });
    }
    assert_eq!(thread_violations(), 0);
}

#[test]
fn asynchronous_high_keeps_its_snr() {
    // The interpolated table of asynchronous mode, at a constant ratio (the nominal grid
    // is then exact to 1e-13 of a frame): the same floor as fixed-ratio `high`. In f32
    // through the SIMD kernels, in f64 through the portable path (dot products with the
    // table's rows and differences, combined afterwards).
    fn snr<S: Sample>(from: u32, to: u32, freq: f64) -> f64 {
        let x = sine_of::<S>(freq, from, from as usize / 4, 0.5);
        let mut rs = Resampler::<S>::new_async_with_kernels(
            1,
            from,
            to,
            Quality::High,
            kernels::default_choice(),
        )
        .unwrap();
        let mut y = vec![S::default(); rs.max_output_frames(x.len())];
        let mut done = 0;
        for piece in x.chunks(256) {
            done += rs.process(piece, &mut y[done..]).output_frames;
        }
        y.truncate(done);
        let step = f64::from(from) / f64::from(to);
        let times: Vec<f64> = (0..y.len()).map(|n| n as f64 * step).collect();
        let (a, rms) = fit(&y, &times, TAU * freq / f64::from(from));
        db(a / std::f64::consts::SQRT_2 / rms)
    }
    for (from, to) in [(44_100, 48_000), (48_000, 44_100), (48_000, 48_000)] {
        for freq in [1_000.0, 15_000.0] {
            let (single, double) = (snr::<f32>(from, to, freq), snr::<f64>(from, to, freq));
            println!("async {from} -> {to} at {freq} Hz: f32 {single:.1} dB, f64 {double:.1} dB");
            assert!(
                single >= 130.0 && double >= 130.0,
                "async {from} -> {to} at {freq} Hz"
            );
        }
    }
}

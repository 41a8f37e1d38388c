//! Resampling: ours against rubato (FFT fixed-ratio and asynchronous sinc) and libsoxr
//! (HQ, VHQ, variable-rate HQ), streaming interleaved f32 in chunks.
//!
//! Criterion measures a few representative cases (`cargo test --benches` runs each once).
//! Under `cargo bench` an interleaved table follows: every implementation streams the
//! same second of audio in turn, round after round, and the table shows the median
//! real-time factor (seconds of audio per second of one core) and each one's SNR at
//! 1 kHz and near the top of the band, measured by a least-squares sine fit.

use std::f64::consts::TAU;
use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Indexing, SincInterpolationParameters,
    SincInterpolationType, WindowFunction,
};
use soxr::Soxr;
use soxr::format::Interleaved;
use soxr::params::{QualityFlags, QualityRecipe, QualitySpec, Rolloff, RuntimeSpec};
use troubadour_dsp::resample::{Quality, Resampler};
use troubadour_dsp::simd::{KernelChoice, Kernels};

/// The kernels benchmarked: `TROUBADOUR_NO_AVX512` (any value) measures the AVX2
/// kernels on a CPU with AVX-512, as in the tests.
#[path = "../tests/support/kernels.rs"]
mod kernels;

/// One streaming converter under test.
trait Converter {
    /// Converts one chunk of interleaved input; returns output frames written.
    fn run(&mut self, input: &[f32], output: &mut [f32]) -> usize;
}

struct Ours(Resampler);

impl Converter for Ours {
    fn run(&mut self, input: &[f32], output: &mut [f32]) -> usize {
        let done = self.0.process(input, output);
        debug_assert_eq!(done.input_frames * self.0.channels(), input.len());
        done.output_frames
    }
}

struct Rubato(Box<dyn rubato::Resampler<f32>>, usize);

impl Converter for Rubato {
    fn run(&mut self, input: &[f32], output: &mut [f32]) -> usize {
        let ch = self.1;
        let frames = input.len() / ch;
        let inp = InterleavedSlice::new(input, ch, frames).unwrap();
        let mut out = InterleavedSlice::new_mut(output, ch, output.len() / ch).unwrap();
        let (_, written) = self
            .0
            .process_into_buffer(&inp, &mut out, Some(&Indexing::new().partial_len(frames)))
            .unwrap();
        written
    }
}

/// libsoxr, with the channel count fixed at compile time by the crate's format types.
struct Sox<const N: usize>(Soxr<Interleaved<f32, N>>);

impl<const N: usize> Converter for Sox<N> {
    fn run(&mut self, input: &[f32], output: &mut [f32]) -> usize {
        let inp: &[[f32; N]] = bytemuck::cast_slice(input);
        let out: &mut [[f32; N]] = bytemuck::cast_slice_mut(output);
        let mut rest = inp;
        let mut written = 0;
        while !rest.is_empty() {
            let done = self.0.process(rest, &mut out[written..]).unwrap();
            rest = &rest[done.input_frames..];
            written += done.output_frames;
        }
        written
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    OursFast,
    OursHigh,
    OursBest,
    OursHighAsync,
    RubatoFft,
    RubatoAsync,
    /// rubato's async sinc with the kernel length that meets our `high`'s passband and
    /// alias rejection at 96 -> 48 kHz (256 lets a 24.5 kHz tone fold back at -60 dB).
    RubatoAsyncLong,
    SoxHq,
    SoxVhq,
    SoxHqVariable,
}

impl Kind {
    const FIXED: [Kind; 6] = [
        Kind::OursFast,
        Kind::OursHigh,
        Kind::OursBest,
        Kind::RubatoFft,
        Kind::SoxHq,
        Kind::SoxVhq,
    ];
    const ASYNC: [Kind; 3] = [Kind::OursHighAsync, Kind::RubatoAsync, Kind::SoxHqVariable];

    fn name(self) -> &'static str {
        match self {
            Kind::OursFast => "ours fast (linear)",
            Kind::OursHigh => "ours high",
            Kind::OursBest => "ours best",
            Kind::OursHighAsync => "ours high, async",
            Kind::RubatoFft => "rubato Fft",
            Kind::RubatoAsync => "rubato Async sinc 256/256 cubic",
            Kind::RubatoAsyncLong => "rubato Async sinc 384/256 cubic",
            Kind::SoxHq => "soxr HQ",
            Kind::SoxVhq => "soxr VHQ",
            Kind::SoxHqVariable => "soxr HQ variable-rate",
        }
    }
}

fn sox<const N: usize>(from: u32, to: u32, kind: Kind) -> Box<dyn Converter> {
    let spec = match kind {
        Kind::SoxVhq => QualitySpec::new(QualityRecipe::very_high()),
        Kind::SoxHqVariable => QualitySpec::configure(
            QualityRecipe::high(),
            Rolloff::Small,
            QualityFlags::VariableRate,
        ),
        _ => QualitySpec::new(QualityRecipe::high()),
    };
    let io = f64::from(from) / f64::from(to);
    let (input_rate, output_rate) = if kind == Kind::SoxHqVariable {
        // Variable rate: built for the largest ratio it may see, then set.
        (io * 1.01, 1.0)
    } else {
        (f64::from(from), f64::from(to))
    };
    let mut s = Soxr::<Interleaved<f32, N>>::new_with_params(
        input_rate,
        output_rate,
        spec,
        RuntimeSpec::new(1),
    )
    .unwrap();
    if kind == Kind::SoxHqVariable {
        s.set_io_ratio(io, 0).unwrap();
    }
    Box::new(Sox(s))
}

fn make(kind: Kind, from: u32, to: u32, channels: usize, chunk: usize) -> Box<dyn Converter> {
    let ours = |q| {
        Box::new(Ours(
            Resampler::new_with_kernels(channels, from, to, q, kernels::default_choice()).unwrap(),
        ))
    };
    match kind {
        Kind::OursFast => ours(Quality::Fast),
        Kind::OursHigh => ours(Quality::High),
        Kind::OursBest => ours(Quality::Best),
        Kind::OursHighAsync => Box::new(Ours(
            Resampler::new_async_with_kernels(
                channels,
                from,
                to,
                Quality::High,
                kernels::default_choice(),
            )
            .unwrap(),
        )),
        Kind::RubatoFft => Box::new(Rubato(
            Box::new(
                Fft::<f32>::new(
                    from as usize,
                    to as usize,
                    chunk,
                    channels,
                    FixedSync::Input,
                )
                .unwrap(),
            ),
            channels,
        )),
        Kind::RubatoAsync | Kind::RubatoAsyncLong => {
            let params = SincInterpolationParameters {
                sinc_len: if kind == Kind::RubatoAsyncLong {
                    384
                } else {
                    256
                },
                f_cutoff: Some(0.95),
                interpolation: SincInterpolationType::Cubic,
                oversampling_factor: 256,
                window: WindowFunction::BlackmanHarris2,
            };
            let r = Async::<f32>::new_sinc(
                f64::from(to) / f64::from(from),
                1.1,
                &params,
                chunk,
                channels,
                FixedAsync::Input,
            )
            .unwrap();
            Box::new(Rubato(Box::new(r), channels))
        }
        Kind::SoxHq | Kind::SoxVhq | Kind::SoxHqVariable => match channels {
            1 => sox::<1>(from, to, kind),
            2 => sox::<2>(from, to, kind),
            8 => sox::<8>(from, to, kind),
            n => panic!("no soxr format for {n} channels in this benchmark"),
        },
    }
}

/// A second of two-tone noise-free test signal (or a single sine for the SNR).
fn signal(freq: &[f64], rate: u32, channels: usize, seconds: f64) -> Vec<f32> {
    let frames = (f64::from(rate) * seconds) as usize;
    let mut out = Vec::with_capacity(frames * channels);
    for k in 0..frames {
        let t = k as f64 / f64::from(rate);
        let v: f64 = freq.iter().map(|f| (TAU * f * t).sin()).sum::<f64>() * 0.4;
        for _ in 0..channels {
            out.push(v as f32);
        }
    }
    out
}

/// Streams `input` through `conv` in `chunk`-frame pieces; returns interleaved output.
fn stream(
    conv: &mut dyn Converter,
    input: &[f32],
    channels: usize,
    chunk: usize,
    out: &mut Vec<f32>,
) {
    let max = chunk * 3 + 4096;
    let mut buf = vec![0.0f32; max * channels];
    out.clear();
    for piece in input.chunks_exact(chunk * channels) {
        let n = conv.run(piece, &mut buf);
        out.extend_from_slice(&buf[..n * channels]);
    }
}

/// SNR (dB) of channel 0 of `y` against the best-fitting sine at `freq` / `rate`, skipping
/// `skip` frames at the start (delay, settling) and 2048 at the end.
fn snr(y: &[f32], channels: usize, freq: f64, rate: u32, skip: usize) -> f64 {
    let frames = y.len() / channels;
    let range = skip..frames.saturating_sub(2048);
    let omega = TAU * freq / f64::from(rate);
    let (mut ss, mut sc, mut cc, mut ys, mut yc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for n in range.clone() {
        let (s, c) = (omega * n as f64).sin_cos();
        let v = f64::from(y[n * channels]);
        ss += s * s;
        sc += s * c;
        cc += c * c;
        ys += v * s;
        yc += v * c;
    }
    let det = ss * cc - sc * sc;
    let (a, b) = ((ys * cc - yc * sc) / det, (yc * ss - ys * sc) / det);
    let mut e2 = 0.0;
    for n in range.clone() {
        let (s, c) = (omega * n as f64).sin_cos();
        e2 += (f64::from(y[n * channels]) - (a * s + b * c)).powi(2);
    }
    10.0 * ((a * a + b * b) / 2.0 / (e2 / range.len() as f64)).log10()
}

fn criterion_cases(c: &mut Criterion) {
    let chunk = 256;
    for (label, kinds) in [
        ("resample/fixed", &Kind::FIXED[..]),
        ("resample/async", &Kind::ASYNC[..]),
    ] {
        let mut g = c.benchmark_group(label);
        for &(from, to) in &[(44_100u32, 48_000u32), (48_000, 44_100), (96_000, 48_000)] {
            let input = signal(&[997.0, 5_003.0], from, 2, 0.1);
            g.throughput(Throughput::Elements((input.len() / 2) as u64));
            for &kind in kinds {
                let mut conv = make(kind, from, to, 2, chunk);
                let mut out = Vec::with_capacity(input.len() * 3);
                g.bench_function(
                    BenchmarkId::new(kind.name(), format!("{from}->{to} stereo")),
                    |b| b.iter(|| stream(conv.as_mut(), black_box(&input), 2, chunk, &mut out)),
                );
            }
        }
        g.finish();
    }
}

criterion_group!(benches, criterion_cases);

/// Median real-time factor of each converter over `rounds` interleaved rounds.
fn table(
    from: u32,
    to: u32,
    channels: usize,
    chunk: usize,
    kinds: &[Kind],
    rounds: usize,
) -> Vec<f64> {
    let input = signal(&[997.0, 5_003.0], from, channels, 1.0);
    let seconds = (input.len() / channels) as f64 / f64::from(from);
    let mut convs: Vec<_> = kinds
        .iter()
        .map(|&k| make(k, from, to, channels, chunk))
        .collect();
    let mut out = Vec::with_capacity(input.len() * 3);
    let mut times = vec![Vec::new(); kinds.len()];
    for _ in 0..rounds {
        for (conv, t) in convs.iter_mut().zip(&mut times) {
            let start = Instant::now();
            stream(conv.as_mut(), &input, channels, chunk, &mut out);
            t.push(seconds / start.elapsed().as_secs_f64());
        }
    }
    times
        .into_iter()
        .map(|mut v| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        })
        .collect()
}

fn snr_of(kind: Kind, from: u32, to: u32, freq: f64) -> f64 {
    let chunk = 256;
    let input = signal(&[freq], from, 1, 1.0);
    let mut conv = make(kind, from, to, 1, chunk);
    let mut out = Vec::new();
    stream(conv.as_mut(), &input, 1, chunk, &mut out);
    // Skip generously past every converter's delay and settling.
    snr(&out, 1, freq, to, 4096)
}

/// Level in dB (relative to the input's) of the output of a `freq` tone through `kind`,
/// as RMS after the converters have settled: for a tone in the passband its gain, for
/// one above the output's Nyquist frequency what folds back as an alias.
fn tone_level(kind: Kind, from: u32, to: u32, freq: f64) -> f64 {
    let chunk = 256;
    let input = signal(&[freq], from, 1, 1.0);
    let mut conv = make(kind, from, to, 1, chunk);
    let mut out = Vec::new();
    stream(conv.as_mut(), &input, 1, chunk, &mut out);
    let settled = &out[4096..out.len() - 2048];
    let rms =
        |x: &[f32]| (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    20.0 * (rms(settled) / rms(&input[4096..input.len() - 2048])).log10()
}

/// The band edges of the asynchronous converters where they downsample: gain at 0.9 ×
/// the output's Nyquist frequency (our `high` is flat to ±0.01 dB there) and the level of
/// the aliases of tones just above it (ours rejects them by 120 dB or more); and the SNR
/// at 1 kHz and 0.35 × the output rate.
fn print_quality() {
    println!(
        "\nasynchronous downsampling, dB: gain at 0.9 x Nyquist | aliases of tones at 1.02, 1.04, 1.08 x Nyquist | SNR 1 kHz, 0.35 x rate"
    );
    for (from, to) in [(48_000u32, 44_100u32), (96_000, 48_000)] {
        let nyquist = f64::from(to) / 2.0;
        for kind in [
            Kind::OursHighAsync,
            Kind::RubatoAsync,
            Kind::RubatoAsyncLong,
        ] {
            let cells: Vec<String> = [0.9, 1.02, 1.04, 1.08]
                .iter()
                .map(|&x| format!("{:8.2}", tone_level(kind, from, to, x * nyquist)))
                .chain(
                    [1_000.0, 0.35 * f64::from(to)]
                        .map(|f| format!("{:7.1}", snr_of(kind, from, to, f))),
                )
                .collect();
            println!(
                "  {from:>6}->{to:<6} {:<34} {}",
                kind.name(),
                cells.join(" ")
            );
        }
    }
}

fn print_tables() {
    let rounds = 9;
    println!(
        "\nresampling, real-time factor (median of {rounds} interleaved rounds of 1 s of audio), f32 interleaved:"
    );
    let cases: &[(u32, u32, usize, usize)] = &[
        (44_100, 48_000, 2, 256),
        (48_000, 96_000, 2, 256),
        (44_100, 88_200, 2, 256),
        (48_000, 44_100, 2, 256),
        (96_000, 48_000, 2, 256),
        (44_100, 48_000, 1, 256),
        (44_100, 48_000, 8, 256),
        (44_100, 48_000, 2, 64),
        (44_100, 48_000, 2, 1024),
        (44_100, 48_000, 2, 2048),
    ];
    // RESAMPLE_TABLE=fixed or =async prints only that table (and no SNR lines), =quality
    // only the band edges of asynchronous downsampling.
    let only = std::env::var("RESAMPLE_TABLE").ok();
    for (kinds, title) in [
        (&Kind::FIXED[..], "fixed ratio"),
        (&Kind::ASYNC[..], "asynchronous"),
    ] {
        if only.as_deref().is_some_and(|o| !title.starts_with(o)) {
            continue;
        }
        println!(
            "\n{title}: {}",
            kinds
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(" | ")
        );
        for &(from, to, ch, chunk) in cases {
            // RESAMPLE_CHANNELS=N keeps only the cases with N channels.
            if std::env::var("RESAMPLE_CHANNELS").is_ok_and(|n| n != ch.to_string()) {
                continue;
            }
            let rtf = table(from, to, ch, chunk, kinds, rounds);
            let cells: Vec<String> = rtf
                .iter()
                .map(|r| {
                    format!(
                        "{r:>7.0}x ({:.2})",
                        r / rtf[1.min(rtf.len() - 1)].max(f64::MIN_POSITIVE)
                    )
                })
                .collect();
            println!(
                "  {from:>6}->{to:<6} {ch}ch chunk {chunk:>4}: {}",
                cells.join("  ")
            );
        }
    }
    println!("\n(ratios in parentheses are against the second column: ours high, or rubato Async)");
    let stereo = std::env::var("RESAMPLE_CHANNELS")
        .ok()
        .is_none_or(|n| n == "2");
    if only.as_deref().is_none_or(|o| o.starts_with("async")) && stereo {
        // The same at 96 -> 48 kHz against the rubato configuration that matches our
        // passband and alias rejection there (see `print_quality`).
        let kinds = [Kind::OursHighAsync, Kind::RubatoAsyncLong];
        let rtf = table(96_000, 48_000, 2, 256, &kinds, rounds);
        println!(
            "  96000->48000 2ch chunk 256, {}: {:>7.0}x ({:.2})  {:>7.0}x (1.00)",
            kinds[1].name(),
            rtf[0],
            rtf[0] / rtf[1],
            rtf[1]
        );
    }
    // RESAMPLE_TABLE=quality prints only the band edges.
    if only.as_deref().is_none_or(|o| o == "quality") {
        print_quality();
    }
    if only.is_some() {
        return;
    }
    println!("\nSNR in dB, 44.1 -> 48 kHz, 1 kHz / 15 kHz:");
    for kind in Kind::FIXED.iter().chain(&Kind::ASYNC) {
        let low = snr_of(*kind, 44_100, 48_000, 1_000.0);
        let high = snr_of(*kind, 44_100, 48_000, 15_000.0);
        println!("  {:<34} {low:6.1} / {high:6.1}", kind.name());
    }
}

/// `true` under `cargo bench`, as opposed to a quick `cargo test --benches` pass.
fn bench_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list")
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if bench_mode() {
        print_tables();
    }
}

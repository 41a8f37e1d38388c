//! `troubadour resample IN.wav OUT.wav --rate HZ [--quality fast|high|best] [--format F]`
//!
//! Streams in constant memory (4096-frame pieces), so files of any length convert.
//! Output frame 0 lines up with input frame 0 and the output has exactly
//! round(input frames × ratio) frames: the converter's look-ahead is flushed with
//! silence at the end and nothing is cut at the start. Written through the project's
//! one WAV writer (RF64 past 4 GiB) to a temporary file beside OUT, renamed when
//! complete: an interrupted run never leaves a truncated OUT.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use troubadour_dsp::resample::{Quality, Resampler, Sample, output_length};
use troubadour_io::wav::{SampleFormat, WavSink, WavSpec};

use crate::interrupt;
use crate::progress::Progress;

/// Input frames per piece.
const PIECE: usize = 4096;

/// The input's format, for people.
fn input_format_name(spec: hound::WavSpec) -> String {
    match spec.sample_format {
        hound::SampleFormat::Float => "32-bit float".into(),
        hound::SampleFormat::Int => format!("{}-bit integer", spec.bits_per_sample),
    }
}

/// The output format when none is asked for: the input's (8-bit files, unsigned and
/// rarely wanted, become 16-bit, which holds every 8-bit value exactly).
fn same_format(spec: hound::WavSpec) -> SampleFormat {
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, _) => SampleFormat::F32,
        (_, 24) => SampleFormat::S24,
        (_, 32) => SampleFormat::S32,
        _ => SampleFormat::S16,
    }
}

pub fn resample(
    input: &Path,
    output: &Path,
    rate: u32,
    quality: Quality,
    format: Option<SampleFormat>,
) -> Result<ExitCode, String> {
    let reader = troubadour_engine::audio_file::open_wav(input).map_err(|e| e.to_string())?;
    interrupt::install()?;
    let spec = reader.spec();
    let out_spec = WavSpec {
        channels: spec.channels,
        sample_rate: rate,
        format: format.unwrap_or(same_format(spec)),
    };
    let started = Instant::now();
    // `best` computes in f64: f32 alone would cap it near 140 dB.
    let report = if quality == Quality::Best {
        convert::<f64>(reader, output, out_spec, quality)
    } else {
        convert::<f32>(reader, output, out_spec, quality)
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            return match interrupt::check() {
                Err(i) => Ok(i.exit()),
                Ok(()) => Err(format!("{}: {e}", input.display())),
            };
        }
    };
    let seconds = report.frames_in as f64 / f64::from(spec.sample_rate);
    println!(
        "{} ({} Hz, {}, {} ch, {} frames) -> {} ({} Hz, {}, {} frames), quality {}, {} real time",
        input.display(),
        spec.sample_rate,
        input_format_name(spec),
        spec.channels,
        report.frames_in,
        output.display(),
        rate,
        out_spec.format.name(),
        report.frames_out,
        quality.name(),
        super::speed(seconds, started.elapsed().as_secs_f64()),
    );
    if report.non_finite > 0 {
        eprintln!(
            "warning: {} input samples were not finite numbers (NaN or infinity) and were converted as silence",
            report.non_finite
        );
    }
    if report.clipped > 0 {
        eprintln!(
            "warning: {} samples clipped at full scale (the band-limited signal overshoots; convert to f32 to keep them)",
            report.clipped
        );
    }
    Ok(ExitCode::SUCCESS)
}

struct Report {
    frames_in: u64,
    frames_out: u64,
    clipped: u64,
    non_finite: u64,
}

fn convert<S: Sample>(
    mut reader: hound::WavReader<BufReader<File>>,
    output: &Path,
    out_spec: WavSpec,
    quality: Quality,
) -> Result<Report, String> {
    let spec = reader.spec();
    let ch = usize::from(spec.channels);
    let from = spec.sample_rate;
    let to = out_spec.sample_rate;
    let mut rs =
        Resampler::<S>::new_with_kernels(ch, from, to, quality, crate::kernels::from_env())
            .map_err(|e| e.to_string())?;
    let frames_in = u64::from(reader.duration());
    let target = output_length(frames_in, from, to);

    // Dropped unfinished on any error below, the sink removes its temporary file.
    let mut sink = WavSink::create(output, out_spec)
        .map_err(|e| format!("cannot create {}: {e}", output.display()))?;
    let write_error = |e: std::io::Error| format!("cannot write {}: {e}", output.display());

    let progress = Progress::new(from);
    let int_scale = match spec.sample_format {
        hound::SampleFormat::Int => 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f64,
        hound::SampleFormat::Float => 1.0,
    };
    let mut samples: Box<dyn Iterator<Item = Result<f64, hound::Error>>> = match spec.sample_format
    {
        hound::SampleFormat::Float => Box::new(reader.samples::<f32>().map(|s| s.map(f64::from))),
        hound::SampleFormat::Int => Box::new(
            reader
                .samples::<i32>()
                .map(move |s| s.map(|v| f64::from(v) * int_scale)),
        ),
    };
    let mut piece: Vec<S> = Vec::with_capacity(PIECE * ch);
    let mut out = vec![S::default(); rs.max_output_frames(PIECE) * ch];
    let mut read = 0u64;
    let mut written = 0u64;
    let mut non_finite = 0u64;
    loop {
        if interrupt::raised().is_some() {
            return Err("interrupted".into());
        }
        piece.clear();
        for s in samples.by_ref().take(PIECE * ch) {
            let x = s.map_err(|e| format!("reading frame {read}: {e}"))?;
            // One NaN would smear over the whole filter kernel (and an infinity turns
            // into NaN there): silence in its place damages one sample only.
            if x.is_finite() {
                piece.push(S::of_f64(x));
            } else {
                non_finite += 1;
                piece.push(S::default());
            }
        }
        // A truncated last frame: keep whole frames only.
        piece.truncate(piece.len() / ch * ch);
        if piece.is_empty() {
            break;
        }
        read += (piece.len() / ch) as u64;
        emit(&mut rs, &piece, &mut out, &mut sink, &mut written, target).map_err(write_error)?;
        progress.update(read, frames_in);
    }
    // Flush the look-ahead with silence: the last frames come out, exactly `target`.
    let silence = vec![S::default(); (rs.lookahead_input_frames() + 1) * ch];
    while written < target {
        emit(&mut rs, &silence, &mut out, &mut sink, &mut written, target).map_err(write_error)?;
    }
    progress.update(frames_in, frames_in);
    let (_, levels) = sink.finish().map_err(write_error)?;
    Ok(Report {
        frames_in: read,
        frames_out: written,
        clipped: levels.clipped,
        non_finite,
    })
}

/// Runs one piece through the converter and writes what comes out, never past `target`.
fn emit<S: Sample>(
    rs: &mut Resampler<S>,
    piece: &[S],
    out: &mut [S],
    sink: &mut WavSink,
    written: &mut u64,
    target: u64,
) -> std::io::Result<()> {
    let ch = rs.channels();
    let mut rest = piece;
    loop {
        let done = rs.process(rest, out);
        let keep = (done.output_frames as u64).min(target - *written) as usize;
        sink.writer()
            .write_interleaved(out[..keep * ch].iter().map(|s| s.to_f64()))?;
        *written += keep as u64;
        rest = &rest[done.input_frames * ch..];
        // Done once the input is gone and the output was not full (nothing left inside).
        if rest.is_empty() && done.output_frames * ch < out.len() {
            return Ok(());
        }
    }
}

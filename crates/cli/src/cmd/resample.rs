//! `troubadour resample IN.wav OUT.wav --rate HZ [--quality fast|high|best] [--format F]`
//!
//! Streams in constant memory (4096-frame pieces), so files of any length convert.
//! Output frame 0 lines up with input frame 0 and the output has exactly
//! round(input frames × ratio) frames: the converter's look-ahead is flushed with
//! silence at the end and nothing is cut at the start. Written to `OUT.partial`, renamed
//! when complete: an interrupted run never leaves a truncated OUT.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use troubadour_dsp::resample::{Quality, Resampler, Sample, output_length};

use crate::progress::Progress;

/// Input frames per piece.
const PIECE: usize = 4096;

/// A WAV sample format: integer of some width, or 32-bit float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavFormat {
    Int(u16),
    Float,
}

impl WavFormat {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "s16" => Some(WavFormat::Int(16)),
            "s24" => Some(WavFormat::Int(24)),
            "s32" => Some(WavFormat::Int(32)),
            "f32" => Some(WavFormat::Float),
            _ => None,
        }
    }

    fn of(spec: hound::WavSpec) -> Self {
        match spec.sample_format {
            hound::SampleFormat::Float => WavFormat::Float,
            hound::SampleFormat::Int => WavFormat::Int(spec.bits_per_sample),
        }
    }

    fn name(self) -> String {
        match self {
            WavFormat::Float => "32-bit float".into(),
            WavFormat::Int(bits) => format!("{bits}-bit integer"),
        }
    }
}

pub fn resample(
    input: &Path,
    output: &Path,
    rate: u32,
    quality: Quality,
    format: Option<WavFormat>,
) -> Result<ExitCode, String> {
    let reader = hound::WavReader::open(input)
        .map_err(|e| format!("cannot read {}: {e}", input.display()))?;
    let spec = reader.spec();
    let out_format = format.unwrap_or(WavFormat::of(spec));
    let out_spec = hound::WavSpec {
        sample_rate: rate,
        bits_per_sample: match out_format {
            WavFormat::Float => 32,
            WavFormat::Int(bits) => bits,
        },
        sample_format: match out_format {
            WavFormat::Float => hound::SampleFormat::Float,
            WavFormat::Int(_) => hound::SampleFormat::Int,
        },
        ..spec
    };
    let started = Instant::now();
    // `best` computes in f64: f32 alone would cap it near 140 dB.
    let report = if quality == Quality::Best {
        convert::<f64>(reader, output, out_spec, quality)
    } else {
        convert::<f32>(reader, output, out_spec, quality)
    }
    .map_err(|e| format!("{}: {e}", input.display()))?;
    let seconds = report.frames_in as f64 / f64::from(spec.sample_rate);
    println!(
        "{} ({} Hz, {}, {} ch, {} frames) -> {} ({} Hz, {}, {} frames), quality {}, {:.0}x real time",
        input.display(),
        spec.sample_rate,
        WavFormat::of(spec).name(),
        spec.channels,
        report.frames_in,
        output.display(),
        rate,
        out_format.name(),
        report.frames_out,
        quality.name(),
        seconds / started.elapsed().as_secs_f64().max(1e-9),
    );
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
}

fn partial_path(output: &Path) -> PathBuf {
    let mut name = output.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    output.with_file_name(name)
}

fn convert<S: Sample>(
    mut reader: hound::WavReader<BufReader<File>>,
    output: &Path,
    out_spec: hound::WavSpec,
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

    let partial = partial_path(output);
    let file =
        File::create(&partial).map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
    let mut writer = Writer::new(
        hound::WavWriter::new(BufWriter::new(file), out_spec)
            .map_err(|e| format!("cannot write {}: {e}", partial.display()))?,
        out_spec,
    );

    let result = (|| {
        let progress = Progress::new(from);
        let int_scale = match spec.sample_format {
            hound::SampleFormat::Int => 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f64,
            hound::SampleFormat::Float => 1.0,
        };
        let mut samples: Box<dyn Iterator<Item = Result<f64, hound::Error>>> =
            match spec.sample_format {
                hound::SampleFormat::Float => {
                    Box::new(reader.samples::<f32>().map(|s| s.map(f64::from)))
                }
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
        loop {
            piece.clear();
            for s in samples.by_ref().take(PIECE * ch) {
                piece.push(S::of_f64(s.map_err(|e| e.to_string())?));
            }
            // A truncated last frame: keep whole frames only.
            piece.truncate(piece.len() / ch * ch);
            if piece.is_empty() {
                break;
            }
            read += (piece.len() / ch) as u64;
            emit(&mut rs, &piece, &mut out, &mut writer, &mut written, target)?;
            progress.update(read, frames_in);
        }
        // Flush the look-ahead with silence: the last frames come out, exactly `target`.
        let silence = vec![S::default(); (rs.lookahead_input_frames() + 1) * ch];
        while written < target {
            emit(
                &mut rs,
                &silence,
                &mut out,
                &mut writer,
                &mut written,
                target,
            )?;
        }
        progress.update(frames_in, frames_in);
        Ok((read, written))
    })();
    match result.and_then(|(read, written)| writer.finish().map(|clipped| (read, written, clipped)))
    {
        Ok((frames_in, frames_out, clipped)) => {
            std::fs::rename(&partial, output).map_err(|e| {
                format!(
                    "cannot rename {} to {}: {e}",
                    partial.display(),
                    output.display()
                )
            })?;
            Ok(Report {
                frames_in,
                frames_out,
                clipped,
            })
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// Runs one piece through the converter and writes what comes out, never past `target`.
fn emit<S: Sample>(
    rs: &mut Resampler<S>,
    piece: &[S],
    out: &mut [S],
    writer: &mut Writer,
    written: &mut u64,
    target: u64,
) -> Result<(), String> {
    let ch = rs.channels();
    let mut rest = piece;
    loop {
        let done = rs.process(rest, out);
        let keep = (done.output_frames as u64).min(target - *written) as usize;
        writer.write(&out[..keep * ch])?;
        *written += keep as u64;
        rest = &rest[done.input_frames * ch..];
        // Done once the input is gone and the output was not full (nothing left inside).
        if rest.is_empty() && done.output_frames * ch < out.len() {
            return Ok(());
        }
    }
}

/// A WAV writer that converts from f64 and counts clipped integer samples.
struct Writer {
    inner: hound::WavWriter<BufWriter<File>>,
    format: WavFormat,
    clipped: u64,
}

impl Writer {
    fn new(inner: hound::WavWriter<BufWriter<File>>, spec: hound::WavSpec) -> Self {
        Writer {
            inner,
            format: WavFormat::of(spec),
            clipped: 0,
        }
    }

    fn write<S: Sample>(&mut self, samples: &[S]) -> Result<(), String> {
        for &s in samples {
            let x = s.to_f64();
            let r = match self.format {
                WavFormat::Float => self.inner.write_sample(x as f32),
                WavFormat::Int(bits) => {
                    let full = (1i64 << (bits - 1)) as f64;
                    let v = (x * full).round();
                    let clamped = v.clamp(-full, full - 1.0);
                    if clamped != v {
                        self.clipped += 1;
                    }
                    self.inner.write_sample(clamped as i32)
                }
            };
            r.map_err(|e| format!("cannot write the output: {e}"))?;
        }
        Ok(())
    }

    fn finish(self) -> Result<u64, String> {
        self.inner
            .finalize()
            .map_err(|e| format!("cannot finish the output: {e}"))?;
        Ok(self.clipped)
    }
}

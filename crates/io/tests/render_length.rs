//! An offline render of a session whose file source is at another sample rate lasts as
//! long as the file, counted in the session's frames, and carries the file's signal at
//! its level from the first block to the last.

use std::path::PathBuf;

use troubadour_dsp::resample::output_length;
use troubadour_io::render::{RenderOptions, render};
use troubadour_io::wav::SampleFormat;

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(tag: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("troubadour-io-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

const AMPLITUDE: f64 = 0.5;
const FREQ: f64 = 440.0;

/// `frames` frames of a mono f32 sine at `rate`.
fn write_sine(path: &std::path::Path, rate: u32, frames: u64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..frames {
        let t = i as f64 / f64::from(rate);
        w.write_sample((AMPLITUDE * (2.0 * std::f64::consts::PI * FREQ * t).sin()) as f32)
            .unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn files_at_other_rates_render_their_whole_length_at_their_level() {
    let d = dir("render-length");
    let session_rate = 48_000u32;
    for rate in [8_000u32, 16_000, 44_100, 88_200, 96_000, 384_000] {
        // Two seconds and a few frames, so the ratio's rounding is exercised.
        let frames = 2 * u64::from(rate) + 7;
        let name = format!("sine-{rate}.wav");
        write_sine(&d.0.join(&name), rate, frames);
        let text = format!(
            "version = 1\nsample_rate = {session_rate}\n[[strip]]\nname = \"F\"\nchannels = 1\nsource = {{ file = \"{name}\" }}\nsends = {{ A1 = {{}} }}\n[[bus]]\nname = \"A1\"\nchannels = 1\n"
        );
        let loaded = troubadour_engine::session::parse(&text, &d.0.join("s.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        let out = d.0.join(format!("out-{rate}"));
        let options = RenderOptions {
            out_dir: out.clone(),
            seconds: None,
            format: SampleFormat::F32,
            kernels: Default::default(),
        };
        let summary = render(&loaded, &options, |_, _| true).unwrap();
        let expected = output_length(frames, rate, session_rate);
        assert!(
            summary.frames.abs_diff(expected) <= 1,
            "{rate} Hz: {} frames rendered, expected {expected}",
            summary.frames
        );
        let samples: Vec<f32> = hound::WavReader::open(out.join("A1.wav"))
            .unwrap()
            .into_samples::<f32>()
            .map(Result::unwrap)
            .collect();
        assert_eq!(samples.len() as u64, summary.frames, "{rate} Hz");
        // Every whole 0.1 s window holds the sine at its RMS, the last one included.
        let window = session_rate as usize / 10;
        let want = AMPLITUDE / 2f64.sqrt();
        for (k, w) in samples.chunks_exact(window).enumerate() {
            let rms = (w.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / window as f64).sqrt();
            let err_db = 20.0 * (rms / want).log10();
            assert!(
                err_db.abs() < 0.1,
                "{rate} Hz: window {k} at {err_db:+.3} dB from the file's level"
            );
        }
    }
}

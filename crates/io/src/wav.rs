//! Writing bus outputs as WAV files, atomically.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Sample format of written files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// 32-bit float: no clipping, no rounding.
    F32,
    /// 24-bit integer.
    S24,
    /// 16-bit integer.
    S16,
}

impl std::str::FromStr for SampleFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(SampleFormat::F32),
            "s24" => Ok(SampleFormat::S24),
            "s16" => Ok(SampleFormat::S16),
            other => Err(format!(
                "unknown sample format {other:?} (expected f32, s24 or s16)"
            )),
        }
    }
}

impl SampleFormat {
    fn spec(self, channels: u16, sample_rate: u32) -> hound::WavSpec {
        let (bits_per_sample, sample_format) = match self {
            SampleFormat::F32 => (32, hound::SampleFormat::Float),
            SampleFormat::S24 => (24, hound::SampleFormat::Int),
            SampleFormat::S16 => (16, hound::SampleFormat::Int),
        };
        hound::WavSpec {
            channels,
            sample_rate,
            bits_per_sample,
            sample_format,
        }
    }
}

/// A WAV file being written under a temporary name; [`finish`](Self::finish) renames it
/// into place, dropping it unfinished removes it. A failed or interrupted render never
/// leaves a half-written file under the real name.
pub struct WavSink {
    writer: Option<hound::WavWriter<BufWriter<File>>>,
    format: SampleFormat,
    partial: PathBuf,
    path: PathBuf,
}

impl WavSink {
    /// Starts writing `path` (as `path` + `.partial` until finished).
    pub fn create(
        path: &Path,
        format: SampleFormat,
        channels: u16,
        sample_rate: u32,
    ) -> Result<Self, hound::Error> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let writer = hound::WavWriter::create(&partial, format.spec(channels, sample_rate))?;
        Ok(WavSink {
            writer: Some(writer),
            format,
            partial,
            path: path.to_path_buf(),
        })
    }

    /// Appends `frames` frames from planar channel buffers.
    pub fn write_planar(&mut self, channels: &[&[f32]], frames: usize) -> Result<(), hound::Error> {
        let w = self.writer.as_mut().expect("written after finish");
        for i in 0..frames {
            for ch in channels {
                let x = ch[i];
                match self.format {
                    SampleFormat::F32 => w.write_sample(x)?,
                    SampleFormat::S24 => w.write_sample(quantise(x, 8_388_608.0))?,
                    SampleFormat::S16 => w.write_sample(quantise(x, 32_768.0) as i16)?,
                }
            }
        }
        Ok(())
    }

    /// Completes the header and moves the file to its real name.
    pub fn finish(mut self) -> Result<PathBuf, hound::Error> {
        if let Some(w) = self.writer.take() {
            w.finalize()?;
        }
        std::fs::rename(&self.partial, &self.path)?;
        Ok(self.path.clone())
    }
}

impl Drop for WavSink {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

/// Rounds to the nearest integer step of full scale `scale`, clamped to the format's
/// range (undithered).
#[inline]
fn quantise(x: f32, scale: f64) -> i32 {
    (f64::from(x) * scale).round().clamp(-scale, scale - 1.0) as i32
}

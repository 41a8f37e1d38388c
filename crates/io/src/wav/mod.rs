//! Writing WAV files: the project's one WAV writer, used by `render`, `resample` and
//! every file sink.
//!
//! - [`WavWriter`]: any `Write + Seek` stream; RIFF, or RF64 (EBU Tech 3306) once the
//!   file outgrows 4 GiB; WAVE_FORMAT_EXTENSIBLE with a channel mask for float, for
//!   more than 16 bits and for more than two channels; the levels of what it wrote.
//! - [`repair`]: sizes of a file whose writer was killed, fixed from its length.
//! - [`WavSink`]: a [`WavWriter`] on an [`AtomicFile`]: the file appears under its name
//!   complete, or not at all.

mod header;
mod repair;
mod writer;

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use troubadour_engine::atomic_file::AtomicFile;

pub use header::channel_mask;
pub use repair::{Repaired, repair};
pub use writer::{Levels, RIFF_MAX, WavWriter};
pub(crate) use writer::{quantize, tpdf};

/// Sample format of written files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// 32-bit float: no clipping, no rounding.
    F32,
    /// 16-bit integer.
    S16,
    /// 24-bit integer.
    S24,
    /// 32-bit integer.
    S32,
}

impl std::str::FromStr for SampleFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(SampleFormat::F32),
            "s16" => Ok(SampleFormat::S16),
            "s24" => Ok(SampleFormat::S24),
            "s32" => Ok(SampleFormat::S32),
            other => Err(format!(
                "unknown sample format {other:?} (expected f32, s16, s24 or s32)"
            )),
        }
    }
}

impl SampleFormat {
    /// Bytes of one sample in the file.
    pub fn bytes_per_sample(self) -> u16 {
        match self {
            SampleFormat::S16 => 2,
            SampleFormat::S24 => 3,
            SampleFormat::F32 | SampleFormat::S32 => 4,
        }
    }

    /// For people: "32-bit float", "24-bit integer".
    pub fn name(self) -> String {
        match self {
            SampleFormat::F32 => "32-bit float".into(),
            int => format!("{}-bit integer", 8 * int.bytes_per_sample()),
        }
    }
}

/// What a WAV file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavSpec {
    /// Interleaved channels, at least one.
    pub channels: u16,
    /// Frames per second.
    pub sample_rate: u32,
    /// Sample format.
    pub format: SampleFormat,
}

/// A WAV file being written under a temporary name; [`finish`](Self::finish) puts it in
/// place, dropping it unfinished removes it. A failed or interrupted render never
/// leaves a half-written file under the real name.
#[derive(Debug)]
pub struct WavSink {
    writer: WavWriter<BufWriter<AtomicFile>>,
}

impl WavSink {
    /// Starts writing `path`.
    pub fn create(path: &Path, spec: WavSpec) -> std::io::Result<Self> {
        Self::with_rf64_threshold(path, spec, RIFF_MAX)
    }

    /// As [`create`](Self::create), writing RF64 past `threshold` bytes (for tests).
    pub fn with_rf64_threshold(
        path: &Path,
        spec: WavSpec,
        threshold: u64,
    ) -> std::io::Result<Self> {
        let file = BufWriter::with_capacity(1 << 16, AtomicFile::create(path)?);
        Ok(WavSink {
            writer: WavWriter::with_rf64_threshold(file, spec, threshold)?,
        })
    }

    /// The writer, to append samples.
    pub fn writer(&mut self) -> &mut WavWriter<BufWriter<AtomicFile>> {
        &mut self.writer
    }

    /// Appends `frames` frames from planar channel buffers.
    pub fn write_planar(&mut self, channels: &[&[f32]], frames: usize) -> std::io::Result<()> {
        self.writer.write_planar(channels, frames)
    }

    /// Completes the header, flushes the file to disk and moves it to its real name.
    pub fn finish(self) -> std::io::Result<(PathBuf, Levels)> {
        let (file, levels) = self.writer.finish()?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        Ok((file.commit()?, levels))
    }
}

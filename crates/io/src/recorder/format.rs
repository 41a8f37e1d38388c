//! What a recorded file is: WAV of a sample format, or FLAC of 16 or 24 bits; and the
//! one writer type the writer thread drives for either.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

use crate::flac::{self, FlacSpec, FlacWriter};
use crate::wav::{self, SampleFormat, WavSpec, WavWriter};

/// The format of a take's (or a file sink's) files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeFormat {
    /// WAV (RF64 past the threshold); integer formats TPDF-dithered.
    Wav(SampleFormat),
    /// FLAC of `bits` (16 or 24), TPDF-dithered.
    Flac {
        /// Bits per sample.
        bits: u8,
    },
}

impl TakeFormat {
    /// The manifest's name for it: `wav-f32`, `wav-24`, `flac-16`.
    pub fn name(self) -> &'static str {
        match self {
            TakeFormat::Wav(SampleFormat::F32) => "wav-f32",
            TakeFormat::Wav(SampleFormat::S24) => "wav-24",
            TakeFormat::Wav(SampleFormat::S16) => "wav-16",
            TakeFormat::Wav(SampleFormat::S32) => "wav-32",
            TakeFormat::Flac { bits: 16 } => "flac-16",
            TakeFormat::Flac { .. } => "flac-24",
        }
    }

    /// Its files' extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            TakeFormat::Wav(_) => "wav",
            TakeFormat::Flac { .. } => "flac",
        }
    }
}

/// One track's file as the writer thread writes it.
#[derive(Debug)]
pub(crate) enum TrackWriter {
    Wav(WavWriter<BufWriter<File>>),
    // Boxed: a writer is made once per track per take, and moves with the track.
    Flac(Box<FlacWriter<BufWriter<File>>>),
}

impl TrackWriter {
    /// Starts a file of `channels` at `sample_rate` in `format` on `file` (its header is
    /// written at once); integer samples are dithered from a generator seeded with
    /// `seed`, so no two tracks share their noise.
    pub fn create(
        file: File,
        format: TakeFormat,
        channels: u16,
        sample_rate: u32,
        rf64_threshold: u64,
        seed: u64,
    ) -> io::Result<TrackWriter> {
        let out = BufWriter::with_capacity(1 << 20, file);
        Ok(match format {
            TakeFormat::Wav(format) => {
                let spec = WavSpec {
                    channels,
                    sample_rate,
                    format,
                };
                TrackWriter::Wav(
                    WavWriter::with_rf64_threshold(out, spec, rf64_threshold)?.with_dither(seed),
                )
            }
            TakeFormat::Flac { bits } => {
                let spec = FlacSpec {
                    channels,
                    sample_rate,
                    bits,
                };
                TrackWriter::Flac(Box::new(FlacWriter::new(out, spec, seed)?))
            }
        })
    }

    /// Appends interleaved samples, a whole number of frames.
    pub fn write_interleaved_f32(&mut self, samples: &[f32]) -> io::Result<()> {
        match self {
            TrackWriter::Wav(w) => w.write_interleaved_f32(samples),
            TrackWriter::Flac(w) => w.write_interleaved_f32(samples),
        }
    }

    /// Frames taken so far.
    pub fn frames(&self) -> u64 {
        match self {
            TrackWriter::Wav(w) => w.frames(),
            TrackWriter::Flac(w) => w.frames(),
        }
    }

    /// Brings the header up to date and syncs the data to disk: a crash after this
    /// loses nothing before it.
    pub fn checkpoint(&mut self) -> io::Result<()> {
        let file = match self {
            TrackWriter::Wav(w) => {
                w.update_header()?;
                w.get_mut()
            }
            TrackWriter::Flac(w) => {
                w.update_header()?;
                w.get_mut()
            }
        };
        file.get_ref().sync_data()
    }

    /// Completes the file and syncs it to disk.
    pub fn finish(self) -> io::Result<()> {
        let out = match self {
            TrackWriter::Wav(w) => w.finish()?.0,
            TrackWriter::Flac(w) => (*w).finish()?,
        };
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    }
}

/// Repairs a recorded file a crash interrupted, WAV or FLAC as its first bytes say;
/// returns the frames it holds after.
pub(crate) fn repair(path: &Path) -> io::Result<u64> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    // Too short to say: the WAV repair explains what is wrong with it.
    let _ = File::open(path).and_then(|mut f| f.read_exact(&mut magic));
    if &magic == b"fLaC" {
        Ok(flac::repair(path)?.frames)
    } else {
        Ok(wav::repair(path)?.frames)
    }
}

//! Decoders the reader thread pulls frames from: interleaved `f32` in [-1, 1), a
//! chunk at a time, rewindable for looping.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use crate::audio_file::{AudioFileError, open_wav};

/// A source of interleaved frames (reader thread).
pub(crate) trait Decoder: Send {
    /// Frames per second of the file.
    fn sample_rate(&self) -> u32;
    /// Interleaved channels.
    fn channels(&self) -> usize;
    /// Replaces `out` with up to `frames` whole frames; an empty `out` is the end.
    fn read(&mut self, out: &mut Vec<f32>, frames: usize) -> Result<(), AudioFileError>;
    /// Back to the first frame.
    fn rewind(&mut self) -> Result<(), AudioFileError>;
    /// Frames in the file, when its header says.
    fn frames(&self) -> Option<u64>;
    /// To frame `frame` (at the file's rate; at most its length): the next
    /// [`read`](Self::read) starts there, exactly.
    fn seek(&mut self, frame: u64) -> Result<(), AudioFileError>;
}

/// Opens `path` with the decoder its contents call for.
pub(crate) fn open(path: &Path) -> Result<Box<dyn Decoder>, AudioFileError> {
    if crate::audio_file::is_wav(path) {
        Ok(Box::new(WavDecoder::open(path)?))
    } else {
        Ok(Box::new(super::compressed::CompressedDecoder::open(path)?))
    }
}

/// A WAV file through hound, converted exactly as the whole-file reader converts it
/// ([`crate::audio_file::AudioData::read`]), so a streamed file plays the same samples.
struct WavDecoder {
    path: PathBuf,
    reader: hound::WavReader<BufReader<File>>,
    /// `None` for float files, else 1 / 2^(bits - 1).
    scale: Option<f64>,
    channels: usize,
}

impl WavDecoder {
    fn open(path: &Path) -> Result<Self, AudioFileError> {
        // Validates the header and the data chunk's length, with clear errors.
        crate::audio_file::AudioFileInfo::read(path)?;
        let reader = open_wav(path)?;
        let spec = reader.spec();
        Ok(WavDecoder {
            path: path.to_path_buf(),
            scale: match spec.sample_format {
                hound::SampleFormat::Float => None,
                hound::SampleFormat::Int => Some(1.0 / (1u64 << (spec.bits_per_sample - 1)) as f64),
            },
            channels: usize::from(spec.channels),
            reader,
        })
    }

    fn error(&self, e: hound::Error) -> AudioFileError {
        AudioFileError::Format {
            path: self.path.clone(),
            reason: format!("while streaming: {e}"),
        }
    }
}

impl Decoder for WavDecoder {
    fn sample_rate(&self) -> u32 {
        self.reader.spec().sample_rate
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn read(&mut self, out: &mut Vec<f32>, frames: usize) -> Result<(), AudioFileError> {
        out.clear();
        let want = frames * self.channels;
        match self.scale {
            None => {
                for s in self.reader.samples::<f32>().take(want) {
                    match s {
                        Ok(x) => out.push(x),
                        Err(e) => return Err(self.error(e)),
                    }
                }
            }
            Some(scale) => {
                for s in self.reader.samples::<i32>().take(want) {
                    match s {
                        Ok(x) => out.push((f64::from(x) * scale) as f32),
                        Err(e) => return Err(self.error(e)),
                    }
                }
            }
        }
        // A truncated last frame is dropped, as the whole-file reader drops it.
        out.truncate(out.len() / self.channels * self.channels);
        Ok(())
    }

    fn rewind(&mut self) -> Result<(), AudioFileError> {
        self.seek(0)
    }

    fn frames(&self) -> Option<u64> {
        Some(u64::from(self.reader.duration()))
    }

    fn seek(&mut self, frame: u64) -> Result<(), AudioFileError> {
        let frame = frame.min(u64::from(self.reader.duration())) as u32;
        self.reader.seek(frame).map_err(|e| AudioFileError::Open {
            path: self.path.clone(),
            source: e,
        })
    }
}

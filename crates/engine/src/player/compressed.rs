//! FLAC, Ogg/Vorbis, MP3 and AIFF through symphonia (WAV stays with hound, whose
//! conversion the whole-file path and its renders are defined by).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error;
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::decode::Decoder;
use crate::audio_file::AudioFileError;

/// A file symphonia reads: its first audio track, decoded packet by packet.
pub(crate) struct CompressedDecoder {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn symphonia::core::codecs::Decoder>,
    track: u32,
    rate: u32,
    channels: usize,
    /// Frames in the file, when its header says.
    frames: Option<u64>,
    /// The last packet's samples, interleaved, and how many of them are handed on.
    decoded: Vec<f32>,
    at: usize,
    /// Frames still to drop after a seek: symphonia lands on a packet at or before the
    /// frame asked for, and the decoder's output starts there.
    skip: u64,
    buffer: Option<SampleBuffer<f32>>,
}

impl CompressedDecoder {
    pub(crate) fn open(path: &Path) -> Result<Self, AudioFileError> {
        let format_error = |reason: String| AudioFileError::Codec {
            path: path.to_path_buf(),
            reason,
        };
        let file = File::open(path).map_err(|source| AudioFileError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let stream = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let options = FormatOptions {
            // MP3's encoder delay and padding trimmed: a loop is seamless.
            enable_gapless: true,
            ..FormatOptions::default()
        };
        let probed = symphonia::default::get_probe()
            .format(&hint, stream, &options, &MetadataOptions::default())
            .map_err(|e| {
                format_error(format!(
                    "not a WAV, FLAC, Ogg/Vorbis, MP3 or AIFF file this build reads ({e})"
                ))
            })?;
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| format_error("it holds no audio track".into()))?;
        let params = &track.codec_params;
        let rate = params
            .sample_rate
            .filter(|&r| r > 0)
            .ok_or_else(|| format_error("its header gives no sample rate".into()))?;
        let channels = params
            .channels
            .map(|c| c.count())
            .filter(|&c| c > 0)
            .ok_or_else(|| format_error("its header gives no channel count".into()))?;
        let decoder = symphonia::default::get_codecs()
            .make(params, &DecoderOptions::default())
            .map_err(|e| format_error(format!("its codec is not supported ({e})")))?;
        Ok(CompressedDecoder {
            path: path.to_path_buf(),
            track: track.id,
            frames: params.n_frames.or_else(|| counted(path)),
            format,
            decoder,
            rate,
            channels,
            decoded: Vec::new(),
            at: 0,
            skip: 0,
            buffer: None,
        })
    }

    /// Frames in the file: from its header, else counted by decoding it once (and
    /// remembered for this version of the file, see [`counted`]).
    pub(crate) fn count_frames(&mut self) -> Result<u64, AudioFileError> {
        if let Some(n) = self.frames {
            return Ok(n);
        }
        let version = FileVersion::of(&self.path);
        let mut chunk = Vec::new();
        let mut n = 0u64;
        loop {
            self.read(&mut chunk, 65_536)?;
            if chunk.is_empty() {
                break;
            }
            n += (chunk.len() / self.channels) as u64;
        }
        self.rewind()?;
        self.frames = Some(n);
        if let Some(version) = version {
            remember(version, n);
        }
        Ok(n)
    }

    fn error(&self, e: Error) -> AudioFileError {
        AudioFileError::Codec {
            path: self.path.clone(),
            reason: format!("while decoding: {e}"),
        }
    }

    /// Decodes the next packet of the track into `decoded`; `false` at the end.
    fn next_packet(&mut self) -> Result<bool, AudioFileError> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(Error::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(false);
                }
                // A chained Ogg stream or the like: play what came before it.
                Err(Error::ResetRequired) => return Ok(false),
                Err(e) => return Err(self.error(e)),
            };
            if packet.track_id() != self.track {
                continue;
            }
            match self.decoder.decode(&packet) {
                Ok(audio) => {
                    let spec = *audio.spec();
                    if spec.channels.count() != self.channels {
                        return Err(AudioFileError::Codec {
                            path: self.path.clone(),
                            reason: format!(
                                "its channel count changes from {} to {} inside the file",
                                self.channels,
                                spec.channels.count()
                            ),
                        });
                    }
                    let frames = audio.capacity() as u64;
                    let buffer = match &mut self.buffer {
                        Some(b) if b.capacity() as u64 >= frames * self.channels as u64 => b,
                        slot => slot.insert(SampleBuffer::new(frames, spec)),
                    };
                    buffer.copy_interleaved_ref(audio);
                    self.decoded.clear();
                    let samples = buffer.samples();
                    // What a seek landed before the frame asked for.
                    let drop = (self.skip as usize * self.channels).min(samples.len());
                    self.skip -= (drop / self.channels) as u64;
                    self.decoded.extend_from_slice(&samples[drop..]);
                    self.at = 0;
                    return Ok(true);
                }
                // A damaged packet: skip it, as players do.
                Err(Error::DecodeError(_)) => continue,
                Err(e) => return Err(self.error(e)),
            }
        }
    }
}

impl Decoder for CompressedDecoder {
    fn sample_rate(&self) -> u32 {
        self.rate
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn read(&mut self, out: &mut Vec<f32>, frames: usize) -> Result<(), AudioFileError> {
        out.clear();
        let want = frames * self.channels;
        while out.len() < want {
            if self.at == self.decoded.len() && !self.next_packet()? {
                break;
            }
            let k = (want - out.len()).min(self.decoded.len() - self.at);
            out.extend_from_slice(&self.decoded[self.at..self.at + k]);
            self.at += k;
        }
        Ok(())
    }

    fn rewind(&mut self) -> Result<(), AudioFileError> {
        self.seek(0)
    }

    fn frames(&self) -> Option<u64> {
        self.frames
    }

    fn seek(&mut self, frame: u64) -> Result<(), AudioFileError> {
        let seeked = self
            .format
            .seek(
                SeekMode::Accurate,
                SeekTo::TimeStamp {
                    ts: frame,
                    track_id: self.track,
                },
            )
            .map_err(|e| self.error(e))?;
        self.decoder.reset();
        self.decoded.clear();
        self.at = 0;
        self.skip = seeked.required_ts.saturating_sub(seeked.actual_ts);
        Ok(())
    }
}

/// Frame counts of files whose header does not give one (a FLAC streamed without its
/// total, an MP3 without a Xing header): counting decodes the whole file, and a
/// session's files are checked at every load and edit, then opened by their players,
/// which would otherwise know the length only once a pass had been read to its end.
static COUNTED: Mutex<Vec<(FileVersion, u64)>> = Mutex::new(Vec::new());
/// Enough for any session; the oldest are forgotten first.
const COUNTED_MAX: usize = 64;

/// What tells one version of a file from another: its path, size and modification
/// time. A rewrite of the file changes them, and its frames are counted again.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileVersion {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
}

impl FileVersion {
    fn of(path: &Path) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        Some(FileVersion {
            path: path.to_path_buf(),
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

/// The frames counted in this version of the file at `path`, if they were.
fn counted(path: &Path) -> Option<u64> {
    let version = FileVersion::of(path)?;
    let counted = COUNTED.lock().unwrap_or_else(PoisonError::into_inner);
    counted.iter().find(|(v, _)| *v == version).map(|&(_, n)| n)
}

fn remember(version: FileVersion, frames: u64) {
    let mut counted = COUNTED.lock().unwrap_or_else(PoisonError::into_inner);
    counted.retain(|(v, _)| v.path != version.path);
    if counted.len() == COUNTED_MAX {
        counted.remove(0);
    }
    counted.push((version, frames));
}

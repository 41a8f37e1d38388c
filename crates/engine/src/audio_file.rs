//! Reading WAV files, off the audio thread: their headers, and (for offline tools and
//! tests) whole files into planar `f32`. File players stream instead (`crate::player`).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use troubadour_dsp::resample::{Quality, resample_interleaved};

/// A WAV file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AudioFileError {
    /// The file is missing or unreadable.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a WAV file this build reads.
    #[error("{} is not a readable WAV file: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// The header promises more samples than the file holds.
    #[error(
        "{} is truncated: its header promises {promised} frames but the file holds {held}",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Frames the data chunk's size stands for.
        promised: u64,
        /// Whole frames actually there.
        held: u64,
    },
    /// A FLAC, Ogg/Vorbis, MP3 or AIFF file that cannot be decoded.
    #[error("{} is not a readable audio file: {reason}", path.display())]
    Codec {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// The file's reader thread could not be started.
    #[error("cannot start a reader thread for {}: {source}", path.display())]
    Reader {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl AudioFileError {
    fn from_hound(path: &Path, e: hound::Error) -> Self {
        match e {
            // hound's "Failed to read enough bytes": the header itself is cut short.
            hound::Error::IoError(source) if is_short_read(&source) => AudioFileError::Format {
                path: path.to_path_buf(),
                reason: "it ends inside its header (not a WAV file, or cut short)".into(),
            },
            hound::Error::IoError(source) => AudioFileError::Open {
                path: path.to_path_buf(),
                source,
            },
            other => AudioFileError::Format {
                path: path.to_path_buf(),
                reason: other.to_string(),
            },
        }
    }
}

/// What a WAV header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFileInfo {
    /// Frames per second.
    pub sample_rate: u32,
    /// Interleaved channels.
    pub channels: u16,
    /// Frames in the file.
    pub frames: u64,
}

impl AudioFileInfo {
    /// Reads the header of the WAV file at `path`, and checks that the file is as long
    /// as its header says.
    /// FLAC, Ogg/Vorbis, MP3 and AIFF files are read through symphonia; a file of those
    /// whose header does not give its length is decoded once to count its frames.
    pub fn read(path: &Path) -> Result<Self, AudioFileError> {
        if !is_wav(path) {
            let mut d = crate::player::CompressedDecoder::open(path)?;
            let frames = d.count_frames()?;
            use crate::player::Decoder as _;
            return Ok(AudioFileInfo {
                sample_rate: d.sample_rate(),
                channels: u16::try_from(d.channels()).unwrap_or(u16::MAX),
                frames,
            });
        }
        let reader = open_wav(path)?;
        let spec = reader.spec();
        check_spec(path, spec)?;
        Ok(AudioFileInfo {
            sample_rate: spec.sample_rate,
            channels: spec.channels,
            frames: u64::from(reader.duration()),
        })
    }
}

/// Whether `path` is for the WAV reader: a RIFF or RF64 file, or one whose first bytes
/// cannot be read (missing, a directory, empty), which the WAV reader's checks explain.
pub(crate) fn is_wav(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    match File::open(path).and_then(|mut f| f.read_exact(&mut magic)) {
        Ok(()) => &magic == b"RIFF" || &magic == b"RF64",
        Err(_) => true,
    }
}

/// Opens the WAV file at `path` for reading, with errors that say what is wrong with
/// it: a directory, an empty file, a header cut short, or a data chunk promising more
/// bytes than the file holds (which hound only notices when it reaches the end).
pub fn open_wav(path: &Path) -> Result<hound::WavReader<BufReader<File>>, AudioFileError> {
    let format = |reason: &str| AudioFileError::Format {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(|source| AudioFileError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        return Err(format("it is a directory"));
    }
    let mut magic = [0u8; 4];
    if File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"RF64"
    {
        return Err(format(
            "it is an RF64 file (a WAV file past 4 GiB), which this build writes but does not read",
        ));
    }
    let reader = hound::WavReader::open(path).map_err(|e| match e {
        hound::Error::IoError(ref io) if is_short_read(io) && meta.len() == 0 => {
            format("it is empty")
        }
        e => AudioFileError::from_hound(path, e),
    })?;
    let spec = reader.spec();
    let block = u64::from(spec.channels) * u64::from(spec.bits_per_sample.div_ceil(8));
    if let Ok(Some(WavLayout {
        data_at: offset,
        data_bytes: promised_bytes,
        ..
    })) = wav_layout(path)
        && block > 0
    {
        // Regular files only: a pipe or device has no length to compare with.
        let len = if meta.is_file() { meta.len() } else { u64::MAX };
        let held_bytes = len.saturating_sub(offset).min(promised_bytes);
        if held_bytes < promised_bytes {
            return Err(AudioFileError::Truncated {
                path: path.to_path_buf(),
                promised: promised_bytes / block,
                held: held_bytes / block,
            });
        }
    }
    Ok(reader)
}

/// Whether hound ran out of bytes: it says so with `ErrorKind::Other` and this text.
fn is_short_read(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::UnexpectedEof || e.to_string() == "Failed to read enough bytes."
}

/// Where a WAV file's samples are: found by walking its RIFF chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WavLayout {
    /// Byte offset of the first sample.
    pub data_at: u64,
    /// Bytes the `data` chunk's header promises.
    pub data_bytes: u64,
    /// Bytes per frame, from the `fmt ` chunk (`None` if it comes after the data).
    pub block_align: Option<u16>,
}

/// Where the `data` chunk's samples start, how many bytes its header promises and the
/// frame size the `fmt ` chunk before it gives; `None` if there is no `data` chunk.
pub(crate) fn wav_layout(path: &Path) -> std::io::Result<Option<WavLayout>> {
    let mut f = BufReader::new(File::open(path)?);
    let mut riff = [0u8; 12];
    f.read_exact(&mut riff)?;
    let mut at = 12u64;
    let mut block_align = None;
    loop {
        let mut head = [0u8; 8];
        f.read_exact(&mut head)?;
        let len = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
        at += 8;
        if &head[..4] == b"data" {
            return Ok(Some(WavLayout {
                data_at: at,
                data_bytes: len,
                block_align,
            }));
        }
        let mut skip = len + len % 2;
        if &head[..4] == b"fmt " && len >= 14 {
            // Format tag, channels, rate, byte rate, then the frame size.
            let mut fmt = [0u8; 14];
            f.read_exact(&mut fmt)?;
            block_align = Some(u16::from_le_bytes([fmt[12], fmt[13]]));
            skip -= 14;
        }
        // Chunks are word-aligned: an odd-sized one is followed by a pad byte.
        f.seek(SeekFrom::Current(skip as i64))?;
        at += skip
            + if &head[..4] == b"fmt " && len >= 14 {
                14
            } else {
                0
            };
        if at > 1 << 40 {
            return Ok(None);
        }
    }
}

pub(crate) fn check_spec(path: &Path, spec: hound::WavSpec) -> Result<(), AudioFileError> {
    let ok = match spec.sample_format {
        hound::SampleFormat::Int => matches!(spec.bits_per_sample, 8 | 16 | 24 | 32),
        hound::SampleFormat::Float => spec.bits_per_sample == 32,
    };
    if ok && spec.channels > 0 {
        Ok(())
    } else {
        Err(AudioFileError::Format {
            path: path.to_path_buf(),
            reason: format!(
                "{}-bit {:?} with {} channels is not supported (integer 8/16/24/32-bit or 32-bit float)",
                spec.bits_per_sample, spec.sample_format, spec.channels
            ),
        })
    }
}

/// A whole file decoded to planar `f32` in [-1, 1).
#[derive(Debug, Clone)]
pub struct AudioData {
    /// Frames per second.
    pub sample_rate: u32,
    /// One buffer per channel, all the same length.
    pub channels: Arc<[Box<[f32]>]>,
}

impl AudioData {
    /// Frames per channel.
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, |c| c.len())
    }

    /// Decodes the WAV file at `path` and converts it to `rate` Hz if it is at another
    /// rate (`high` quality: flat to 0.9 × Nyquist, ~140 dB SNR, aligned and of length
    /// round(frames × ratio)).
    pub fn read_at(path: &Path, rate: u32) -> Result<Self, AudioFileError> {
        let data = Self::read(path)?;
        if data.sample_rate == rate {
            return Ok(data);
        }
        let channels = data
            .channels
            .iter()
            .map(|c| {
                resample_interleaved(c, 1, data.sample_rate, rate, Quality::High)
                    .map(Vec::into_boxed_slice)
                    .map_err(|e| AudioFileError::Format {
                        path: path.to_path_buf(),
                        reason: format!("cannot be resampled: {e}"),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(AudioData {
            sample_rate: rate,
            channels,
        })
    }

    /// Decodes the WAV file at `path`.
    pub fn read(path: &Path) -> Result<Self, AudioFileError> {
        let mut reader = open_wav(path)?;
        let spec = reader.spec();
        check_spec(path, spec)?;
        let n_ch = usize::from(spec.channels);
        let frames = reader.duration() as usize;
        let mut planar: Vec<Vec<f32>> = (0..n_ch).map(|_| Vec::with_capacity(frames)).collect();
        let err = |e| AudioFileError::from_hound(path, e);
        match spec.sample_format {
            hound::SampleFormat::Float => {
                for (i, s) in reader.samples::<f32>().enumerate() {
                    planar[i % n_ch].push(s.map_err(err)?);
                }
            }
            hound::SampleFormat::Int => {
                let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f64;
                for (i, s) in reader.samples::<i32>().enumerate() {
                    planar[i % n_ch].push((f64::from(s.map_err(err)?) * scale) as f32);
                }
            }
        }
        // A truncated last frame leaves channels uneven; keep whole frames only.
        let whole = planar.iter().map(Vec::len).min().unwrap_or(0);
        Ok(AudioData {
            sample_rate: spec.sample_rate,
            channels: planar
                .into_iter()
                .map(|mut c| {
                    c.truncate(whole);
                    c.into_boxed_slice()
                })
                .collect(),
        })
    }
}

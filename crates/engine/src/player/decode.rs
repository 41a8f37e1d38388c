//! Decoders the reader thread pulls frames from: interleaved `f32` in [-1, 1), a
//! chunk at a time, rewindable for looping.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::audio_file::{AudioFileError, check_spec, open_wav, wav_layout};

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

/// How a WAV file stores a sample, as hound reads it (bytes per sample, bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// 8-bit: unsigned, 128 is zero.
    U8,
    I16,
    I24,
    /// 24 bits in a 4-byte container (the low three bytes).
    I24In4,
    I32,
    F32,
}

impl Encoding {
    fn of(spec: hound::WavSpec, bytes: u16) -> Option<Self> {
        Some(match (spec.sample_format, bytes, spec.bits_per_sample) {
            (hound::SampleFormat::Int, 1, 8) => Encoding::U8,
            (hound::SampleFormat::Int, 2, 16) => Encoding::I16,
            (hound::SampleFormat::Int, 3, 24) => Encoding::I24,
            (hound::SampleFormat::Int, 4, 24) => Encoding::I24In4,
            (hound::SampleFormat::Int, 4, 32) => Encoding::I32,
            (hound::SampleFormat::Float, 4, 32) => Encoding::F32,
            _ => return None,
        })
    }

    /// Appends the samples in `bytes` to `out`, converted as the whole-file reader
    /// converts them ([`crate::audio_file::AudioData::read`]: `x / 2^(bits - 1)` in
    /// f64, rounded to f32), so that a streamed file plays the same samples. Up to 24
    /// bits that quotient is exact in f32 (a power-of-two scale of an integer of at most
    /// 24 bits), so it is computed there.
    fn decode(self, bytes: &[u8], out: &mut Vec<f32>) {
        const S8: f32 = 1.0 / 128.0;
        const S16: f32 = 1.0 / 32_768.0;
        const S24: f32 = 1.0 / 8_388_608.0;
        const S32: f64 = 1.0 / 2_147_483_648.0;
        let i24 = |b: &[u8]| (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 * S24;
        match self {
            Encoding::U8 => out.extend(bytes.iter().map(|&b| f32::from(i16::from(b) - 128) * S8)),
            Encoding::I16 => out.extend(
                bytes
                    .chunks_exact(2)
                    .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) * S16),
            ),
            Encoding::I24 => out.extend(bytes.chunks_exact(3).map(i24)),
            Encoding::I24In4 => out.extend(bytes.chunks_exact(4).map(i24)),
            Encoding::I32 => {
                out.extend(bytes.chunks_exact(4).map(|b| {
                    (f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])) * S32) as f32
                }))
            }
            Encoding::F32 => out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            ),
        }
    }
}

/// A WAV file, read in large blocks straight from its data chunk (hound checks the
/// header; its per-sample reads cost more than the whole mix of a pass-through).
struct WavDecoder {
    path: PathBuf,
    file: File,
    rate: u32,
    channels: usize,
    encoding: Encoding,
    /// Bytes per frame.
    block: usize,
    /// Byte offset of frame 0.
    data_at: u64,
    /// Whole frames in the file.
    frames: u64,
    /// The frame the next read starts at.
    next: u64,
    bytes: Vec<u8>,
}

impl WavDecoder {
    fn open(path: &Path) -> Result<Self, AudioFileError> {
        let format = |reason: String| AudioFileError::Format {
            path: path.to_path_buf(),
            reason,
        };
        // Validates the header and the data chunk's length, with clear errors.
        let reader = open_wav(path)?;
        let spec = reader.spec();
        check_spec(path, spec)?;
        let frames = u64::from(reader.duration());
        drop(reader);
        let layout = wav_layout(path)
            .map_err(|source| AudioFileError::Open {
                path: path.to_path_buf(),
                source,
            })?
            .ok_or_else(|| format("it has no data chunk".into()))?;
        let channels = usize::from(spec.channels);
        let block = usize::from(layout.block_align.unwrap_or(0));
        let encoding = (block > 0 && block % channels == 0)
            .then(|| Encoding::of(spec, (block / channels) as u16))
            .flatten()
            .ok_or_else(|| {
                format(format!(
                    "its frames of {block} bytes do not hold {channels} {}-bit samples this build reads",
                    spec.bits_per_sample
                ))
            })?;
        let file = File::open(path).map_err(|source| AudioFileError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let mut decoder = WavDecoder {
            path: path.to_path_buf(),
            file,
            rate: spec.sample_rate,
            channels,
            encoding,
            block,
            data_at: layout.data_at,
            frames,
            next: 0,
            bytes: Vec::new(),
        };
        decoder.seek(0)?;
        Ok(decoder)
    }
}

impl Decoder for WavDecoder {
    fn sample_rate(&self) -> u32 {
        self.rate
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn read(&mut self, out: &mut Vec<f32>, frames: usize) -> Result<(), AudioFileError> {
        out.clear();
        let k = (frames as u64).min(self.frames - self.next) as usize;
        self.bytes.resize(k * self.block, 0);
        if let Err(e) = self.file.read_exact(&mut self.bytes) {
            return Err(AudioFileError::Format {
                path: self.path.clone(),
                reason: if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    "while streaming: it ends before its header says (cut short while playing?)"
                        .into()
                } else {
                    format!("while streaming: {e}")
                },
            });
        }
        out.reserve(k * self.channels);
        self.encoding.decode(&self.bytes, out);
        self.next += k as u64;
        Ok(())
    }

    fn rewind(&mut self) -> Result<(), AudioFileError> {
        self.seek(0)
    }

    fn frames(&self) -> Option<u64> {
        Some(self.frames)
    }

    fn seek(&mut self, frame: u64) -> Result<(), AudioFileError> {
        let frame = frame.min(self.frames);
        self.file
            .seek(SeekFrom::Start(self.data_at + frame * self.block as u64))
            .map_err(|source| AudioFileError::Open {
                path: self.path.clone(),
                source,
            })?;
        self.next = frame;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_file::AudioData;
    use hound::{SampleFormat, WavSpec, WavSpecEx, WavWriter};

    /// A 3-channel file of every encoding hound reads, with the extremes of each, then
    /// a ramp: the streamed decoder gives exactly the whole-file reader's samples, read
    /// in odd-sized chunks and after seeks.
    #[test]
    fn streams_every_encoding_as_the_whole_file_reader_reads_it() {
        let dir = std::env::temp_dir().join(format!("troubadour-decode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cases = [
            (SampleFormat::Int, 8, 1),
            (SampleFormat::Int, 16, 2),
            (SampleFormat::Int, 24, 3),
            (SampleFormat::Int, 24, 4),
            (SampleFormat::Int, 32, 4),
            (SampleFormat::Float, 32, 4),
        ];
        for (format, bits, bytes) in cases {
            let path = dir.join(format!("{format:?}-{bits}-{bytes}.wav"));
            let spec = WavSpec {
                channels: 3,
                sample_rate: 44_100,
                bits_per_sample: bits,
                sample_format: format,
            };
            let file = std::io::BufWriter::new(File::create(&path).unwrap());
            let ex = WavSpecEx {
                spec,
                bytes_per_sample: bytes,
            };
            let mut w = WavWriter::new_with_spec_ex(file, ex).unwrap();
            let max = (1i64 << (bits - 1)) - 1;
            for i in 0..3000i64 {
                if format == SampleFormat::Float {
                    w.write_sample(((i as f32) * 0.37).sin() * 1.5).unwrap();
                } else {
                    let x = match i {
                        0 => max,
                        1 => -max - 1,
                        _ => (i * 7919 % (2 * max + 1)) - max,
                    };
                    w.write_sample(x as i32).unwrap();
                }
            }
            w.finalize().unwrap();
            let whole = AudioData::read(&path).unwrap();
            let mut d = WavDecoder::open(&path).unwrap();
            assert_eq!(d.frames(), Some(1000), "{path:?}");
            let expect = |from: usize, n: usize| -> Vec<f32> {
                (from..from + n)
                    .flat_map(|f| whole.channels.iter().map(move |c| c[f]))
                    .collect()
            };
            let mut got = Vec::new();
            let mut all = Vec::new();
            loop {
                d.read(&mut got, 333).unwrap();
                if got.is_empty() {
                    break;
                }
                all.extend_from_slice(&got);
            }
            assert_eq!(all, expect(0, 1000), "{path:?}");
            d.seek(997).unwrap();
            d.read(&mut got, 10).unwrap();
            assert_eq!(got, expect(997, 3), "{path:?} after a seek");
            d.rewind().unwrap();
            d.read(&mut got, 2).unwrap();
            assert_eq!(got, expect(0, 2), "{path:?} after a rewind");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

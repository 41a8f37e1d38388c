//! [`FlacWriter`]: float samples in, TPDF-dithered to 16 or 24 bits, a FLAC stream out,
//! encoded block by block with the header kept up to date on demand.

use std::io::{self, Seek, SeekFrom, Write};

use md5::{Digest, Md5};
use troubadour_dsp::rng::Rng;

use super::encode::{Encoder, rate_code};
use super::{BLOCK, HEADER_LEN, MAX_CHANNELS, streaminfo};
use crate::wav::{quantize, tpdf};

/// What a FLAC file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlacSpec {
    /// Interleaved channels, 1 to 8.
    pub channels: u16,
    /// Frames per second.
    pub sample_rate: u32,
    /// Bits per sample: 16 or 24.
    pub bits: u8,
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

/// Writes a FLAC stream to `out` (give it a `BufWriter`): the header at once, a frame
/// of [`BLOCK`] samples per channel as soon as one is complete, the last (shorter)
/// frame and the final header at [`finish`](Self::finish). The header's length and
/// frame sizes can be brought up to date at any time with
/// [`update_header`](Self::update_header); the MD5 of the audio is written only at the
/// end (before that it says "not computed", which every decoder accepts).
///
/// ```
/// use std::io::Cursor;
/// use troubadour_io::flac::{FlacSpec, FlacWriter};
///
/// let spec = FlacSpec { channels: 2, sample_rate: 48_000, bits: 24 };
/// let mut w = FlacWriter::new(Cursor::new(Vec::new()), spec, 1).unwrap();
/// w.write_interleaved_f32(&vec![0.25; 2 * 10_000]).unwrap();
/// assert_eq!(w.frames(), 10_000);
/// let out = w.finish().unwrap().into_inner();
/// assert_eq!(&out[..4], b"fLaC");
/// ```
pub struct FlacWriter<W: Write + Seek> {
    out: W,
    spec: FlacSpec,
    encoder: Encoder,
    /// Quantized samples of the block being filled, interleaved.
    pending: Vec<i32>,
    /// The frame being written.
    frame: Vec<u8>,
    md5: Md5,
    md5_bytes: Vec<u8>,
    /// Frames (per channel) in the FLAC frames written so far.
    encoded: u64,
    frame_number: u64,
    min_frame: u32,
    max_frame: u32,
    full: f64,
    dither: Rng,
}

impl<W: Write + Seek> std::fmt::Debug for FlacWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlacWriter")
            .field("spec", &self.spec)
            .field("encoded", &self.encoded)
            .field(
                "pending",
                &(self.pending.len() / usize::from(self.spec.channels)),
            )
            .finish_non_exhaustive()
    }
}

impl<W: Write + Seek> FlacWriter<W> {
    /// Writes the header of a stream of `spec` to `out` (at its position 0); integer
    /// samples get TPDF dither from a noise generator seeded with `seed`.
    pub fn new(out: W, spec: FlacSpec, seed: u64) -> io::Result<Self> {
        let channels = usize::from(spec.channels);
        if !(1..=MAX_CHANNELS).contains(&channels) {
            return Err(invalid(format!(
                "FLAC holds 1 to {MAX_CHANNELS} channels, not {channels}"
            )));
        }
        if spec.bits != 16 && spec.bits != 24 {
            return Err(invalid(format!(
                "FLAC takes are 16 or 24 bits, not {}",
                spec.bits
            )));
        }
        if spec.sample_rate == 0 || spec.sample_rate >= 1 << 20 {
            return Err(invalid(format!(
                "FLAC cannot state a rate of {} Hz",
                spec.sample_rate
            )));
        }
        let mut w = FlacWriter {
            out,
            spec,
            encoder: Encoder::default(),
            pending: Vec::with_capacity(BLOCK * channels),
            frame: Vec::with_capacity(BLOCK * channels * 4),
            md5: Md5::new(),
            md5_bytes: Vec::with_capacity(BLOCK * channels * 3),
            encoded: 0,
            frame_number: 0,
            min_frame: u32::MAX,
            max_frame: 0,
            full: f64::from(1u32 << (spec.bits - 1)),
            dither: Rng::new(seed),
        };
        w.out.seek(SeekFrom::Start(0))?;
        let header = w.header(false);
        w.out.write_all(&header)?;
        Ok(w)
    }

    /// Frames taken so far (in the file, or waiting to fill a block).
    pub fn frames(&self) -> u64 {
        self.encoded + (self.pending.len() / usize::from(self.spec.channels)) as u64
    }

    /// The stream's format.
    pub fn spec(&self) -> FlacSpec {
        self.spec
    }

    /// The stream, e.g. to sync the file under it to disk.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Appends interleaved samples (full scale ±1.0, a whole number of frames, else an
    /// error and nothing taken): each is dithered and rounded to the file's bits (clamped at full scale), and every block
    /// completed is encoded and written.
    pub fn write_interleaved_f32(&mut self, samples: &[f32]) -> io::Result<()> {
        let channels = usize::from(self.spec.channels);
        if !samples.len().is_multiple_of(channels) {
            return Err(invalid(format!(
                "{} samples are not whole frames of {channels} channels",
                samples.len()
            )));
        }
        let per_block = BLOCK * usize::from(self.spec.channels);
        let step = 1.0 / self.full;
        for &x in samples {
            let d = tpdf(&mut self.dither);
            self.pending
                .push(quantize(f64::from(x) + d * step, self.full).0);
            if self.pending.len() == per_block {
                self.encode_pending()?;
            }
        }
        Ok(())
    }

    /// Encodes what waits in `pending` as one frame and writes it.
    fn encode_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let channels = usize::from(self.spec.channels);
        let frames = self.pending.len() / channels;
        self.frame.clear();
        self.encoder.frame(
            &self.pending,
            channels,
            u32::from(self.spec.bits),
            rate_code(self.spec.sample_rate),
            self.frame_number,
            &mut self.frame,
        );
        let bytes = &self.frame;
        self.out.write_all(bytes)?;
        let size = bytes.len() as u32;
        self.min_frame = self.min_frame.min(size);
        self.max_frame = self.max_frame.max(size);
        // The MD5 covers the samples as little-endian integers of the file's width.
        let width = usize::from(self.spec.bits / 8);
        self.md5_bytes.clear();
        for s in &self.pending {
            self.md5_bytes.extend_from_slice(&s.to_le_bytes()[..width]);
        }
        self.md5.update(&self.md5_bytes);
        self.pending.clear();
        self.encoded += frames as u64;
        self.frame_number += 1;
        Ok(())
    }

    /// STREAMINFO as things stand: the frames encoded so far and, when `final`, the MD5.
    fn header(&self, last: bool) -> [u8; HEADER_LEN] {
        let md5 = if last {
            self.md5.clone().finalize().into()
        } else {
            [0; 16]
        };
        let frame_sizes = (self.encoded > 0).then_some((self.min_frame, self.max_frame));
        streaminfo(&self.spec, self.encoded, frame_sizes, md5)
    }

    /// Writes the length and frame sizes of the frames written so far into the header
    /// and goes back to the end: a file cut off after this (a crash, a power cut once
    /// the data reached the disk) reads whole up to here. Writing goes on.
    pub fn update_header(&mut self) -> io::Result<()> {
        let header = self.header(false);
        self.out.seek(SeekFrom::Start(0))?;
        self.out.write_all(&header)?;
        self.out.seek(SeekFrom::End(0))?;
        self.out.flush()
    }

    /// Encodes the last, shorter frame, writes the final header (with the MD5) and
    /// hands back the stream.
    pub fn finish(mut self) -> io::Result<W> {
        self.encode_pending()?;
        let header = self.header(true);
        self.out.seek(SeekFrom::Start(0))?;
        self.out.write_all(&header)?;
        self.out.seek(SeekFrom::End(0))?;
        self.out.flush()?;
        Ok(self.out)
    }
}

//! [`WavWriter`]: samples in, a WAV (or RF64) stream out, with the levels of what was
//! written.

use std::io::{self, Seek, SeekFrom, Write};

use troubadour_dsp::rng::Rng;

use super::header::{DS64_AT, DS64_BODY, header};
use super::{SampleFormat, WavSpec};

/// The largest RIFF size a plain RIFF header can state; a bigger file is written as
/// RF64.
pub const RIFF_MAX: u64 = u32::MAX as u64;

/// What a file holds, measured on the samples as written (after rounding and clipping
/// to an integer format), over all channels.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Levels {
    /// Highest magnitude, 1.0 = full scale.
    pub peak: f64,
    /// Sum of the squared samples.
    pub sum_squares: f64,
    /// Samples written.
    pub samples: u64,
    /// Samples beyond full scale: clipped in an integer format, kept as they are in f32.
    pub clipped: u64,
}

impl Levels {
    /// RMS over every sample, 1.0 = full scale.
    pub fn rms(&self) -> f64 {
        (self.sum_squares / self.samples.max(1) as f64).sqrt()
    }

    /// Counts float samples as a float file holds them: in eight lanes the compiler
    /// keeps in registers (the squares summed in f64, as [`encode`] sums them; a
    /// non-finite sample counts in neither sum nor peak, but as clipped if infinite).
    fn add_f32(&mut self, samples: &[f32]) {
        const LANES: usize = 8;
        let mut sums = [0.0f64; LANES];
        let mut peaks = [0.0f32; LANES];
        let mut clipped = 0u64;
        let lanes = samples.chunks_exact(LANES);
        let rest = lanes.remainder();
        let mut add = |chunk: &[f32]| {
            for ((s, p), &v) in sums.iter_mut().zip(&mut peaks).zip(chunk) {
                clipped += u64::from(v.abs() > 1.0);
                let v = if v.is_finite() { v } else { 0.0 };
                *p = p.max(v.abs());
                *s += f64::from(v) * f64::from(v);
            }
        };
        for chunk in lanes {
            add(chunk);
        }
        add(rest);
        self.sum_squares += sums.iter().sum::<f64>();
        self.peak = peaks.iter().fold(self.peak, |m, &p| m.max(f64::from(p)));
        self.clipped += clipped;
        self.samples += samples.len() as u64;
    }
}

/// Writes a WAV stream to `out` (give it a `BufWriter`): the header at once, samples as
/// they come, the sizes at [`finish`](Self::finish), which turns the file into RF64
/// when it outgrew 4 GiB.
///
/// ```
/// use std::io::Cursor;
/// use troubadour_io::wav::{SampleFormat, WavSpec, WavWriter};
///
/// let spec = WavSpec { channels: 2, sample_rate: 48_000, format: SampleFormat::S16 };
/// let mut w = WavWriter::new(Cursor::new(Vec::new()), spec).unwrap();
/// w.write_planar(&[&[0.5, 2.0], &[-0.5, 0.0]], 2).unwrap();
/// let (out, levels) = w.finish().unwrap();
/// assert_eq!(levels.clipped, 1); // 2.0 does not fit in 16 bits
/// assert_eq!(levels.peak, 32_767.0 / 32_768.0); // what the file holds
/// let r = hound::WavReader::new(Cursor::new(out.into_inner())).unwrap();
/// assert_eq!(r.duration(), 2);
/// ```
#[derive(Debug)]
pub struct WavWriter<W: Write + Seek> {
    out: W,
    spec: WavSpec,
    data_bytes: u64,
    rf64_threshold: u64,
    levels: Levels,
    buf: Vec<u8>,
    /// TPDF dither for integer formats, when asked for.
    dither: Option<Rng>,
}

impl<W: Write + Seek> WavWriter<W> {
    /// Writes the header of a file of `spec` to `out`, at its current position 0.
    pub fn new(out: W, spec: WavSpec) -> io::Result<Self> {
        Self::with_rf64_threshold(out, spec, RIFF_MAX)
    }

    /// As [`new`](Self::new), but a file whose RIFF size passes `threshold` bytes is
    /// written as RF64: lets tests check RF64 without writing 4 GiB.
    pub fn with_rf64_threshold(mut out: W, spec: WavSpec, threshold: u64) -> io::Result<Self> {
        if spec.channels == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a WAV file needs at least one channel",
            ));
        }
        out.write_all(&header(&spec).bytes)?;
        Ok(WavWriter {
            out,
            spec,
            data_bytes: 0,
            rf64_threshold: threshold.min(RIFF_MAX),
            levels: Levels::default(),
            buf: Vec::new(),
            dither: None,
        })
    }

    /// Adds triangular (TPDF) dither of ±1 step before rounding to an integer format,
    /// from a noise generator seeded with `seed` (float files are not dithered). It
    /// decorrelates the rounding error from the signal: quiet passages fade into a
    /// steady noise floor instead of distorting.
    pub fn with_dither(mut self, seed: u64) -> Self {
        if self.spec.format != SampleFormat::F32 {
            self.dither = Some(Rng::new(seed));
        }
        self
    }

    /// The stream, e.g. to sync the file under it to disk.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.data_bytes / self.block_align()
    }

    fn block_align(&self) -> u64 {
        u64::from(self.spec.channels) * u64::from(self.spec.format.bytes_per_sample())
    }

    /// The file's format.
    pub fn spec(&self) -> WavSpec {
        self.spec
    }

    /// The levels of what was written so far.
    pub fn levels(&self) -> Levels {
        self.levels
    }

    /// Appends interleaved samples (full scale ±1.0); a whole number of frames per call
    /// is the caller's business.
    pub fn write_interleaved(&mut self, samples: impl IntoIterator<Item = f64>) -> io::Result<()> {
        self.buf.clear();
        match &mut self.dither {
            None => {
                for x in samples {
                    encode(self.spec.format, x, &mut self.buf, &mut self.levels);
                }
            }
            Some(rng) => {
                let step = 1.0 / (1u64 << (8 * self.spec.format.bytes_per_sample() - 1)) as f64;
                for x in samples {
                    encode(
                        self.spec.format,
                        x + tpdf(rng) * step,
                        &mut self.buf,
                        &mut self.levels,
                    );
                }
            }
        }
        self.out.write_all(&self.buf)?;
        self.data_bytes += self.buf.len() as u64;
        Ok(())
    }

    /// Appends `frames` frames from planar channel buffers, one per channel.
    pub fn write_planar(&mut self, channels: &[&[f32]], frames: usize) -> io::Result<()> {
        if channels.len() != usize::from(self.spec.channels) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} channel buffers for a {}-channel file",
                    channels.len(),
                    self.spec.channels
                ),
            ));
        }
        if self.spec.format == SampleFormat::F32 {
            self.buf.clear();
            self.buf.resize(frames * channels.len() * 4, 0);
            for (i, frame) in self.buf.chunks_exact_mut(channels.len() * 4).enumerate() {
                for (c, out) in channels.iter().zip(frame.chunks_exact_mut(4)) {
                    out.copy_from_slice(&c[i].to_le_bytes());
                }
            }
            for c in channels {
                self.levels.add_f32(&c[..frames]);
            }
            self.out.write_all(&self.buf)?;
            self.data_bytes += self.buf.len() as u64;
            return Ok(());
        }
        let samples = (0..frames).flat_map(|i| channels.iter().map(move |c| f64::from(c[i])));
        self.write_interleaved(samples)
    }

    /// Appends interleaved `f32` samples (a whole number of frames), as
    /// [`write_interleaved`](Self::write_interleaved) would, in one loop for a float
    /// file.
    pub fn write_interleaved_f32(&mut self, samples: &[f32]) -> io::Result<()> {
        if self.spec.format != SampleFormat::F32 {
            return self.write_interleaved(samples.iter().map(|&x| f64::from(x)));
        }
        self.buf.clear();
        self.buf.resize(samples.len() * 4, 0);
        for (out, x) in self.buf.chunks_exact_mut(4).zip(samples) {
            out.copy_from_slice(&x.to_le_bytes());
        }
        self.levels.add_f32(samples);
        self.out.write_all(&self.buf)?;
        self.data_bytes += self.buf.len() as u64;
        Ok(())
    }

    /// Writes the sizes of what was written so far into the header (RF64 once past the
    /// threshold) and goes back to the end: a file cut off after this (a crash, a power
    /// cut once the data reached the disk) reads whole up to here. Writing goes on.
    pub fn update_header(&mut self) -> io::Result<()> {
        self.write_sizes(0)?;
        self.out.flush()
    }

    /// Writes the sizes into the header (RF64 when the file is too big for RIFF) and
    /// hands back the stream and the levels.
    pub fn finish(mut self) -> io::Result<(W, Levels)> {
        let pad = self.data_bytes % 2;
        if pad == 1 {
            // RIFF chunks are word-aligned.
            self.out.write_all(&[0])?;
        }
        self.write_sizes(pad)?;
        self.out.flush()?;
        Ok((self.out, self.levels))
    }

    /// Fills in the header's sizes for `data_bytes` (and `pad` bytes after them), then
    /// seeks back to the end.
    fn write_sizes(&mut self, pad: u64) -> io::Result<()> {
        let header = header(&self.spec);
        let header_len = header.bytes.len() as u64;
        let riff_size = header_len + self.data_bytes + pad - 8;
        let data_size_at = header_len - 4;
        let frames = self.data_bytes / self.block_align();
        let rf64 = riff_size > self.rf64_threshold;
        if let Some(at) = header.fact_at {
            // In RF64 the count lives in ds64; the fact chunk says "see there".
            let count = if rf64 { u32::MAX } else { frames as u32 };
            self.out.seek(SeekFrom::Start(at))?;
            self.out.write_all(&count.to_le_bytes())?;
        }
        if rf64 {
            self.out.seek(SeekFrom::Start(0))?;
            self.out.write_all(b"RF64")?;
            self.out.write_all(&u32::MAX.to_le_bytes())?;
            self.out.seek(SeekFrom::Start(DS64_AT))?;
            self.out.write_all(b"ds64")?;
            self.out.write_all(&DS64_BODY.to_le_bytes())?;
            self.out.write_all(&riff_size.to_le_bytes())?;
            self.out.write_all(&self.data_bytes.to_le_bytes())?;
            self.out.write_all(&frames.to_le_bytes())?;
            self.out.write_all(&0u32.to_le_bytes())?;
            self.out.seek(SeekFrom::Start(data_size_at))?;
            self.out.write_all(&u32::MAX.to_le_bytes())?;
        } else {
            self.out.seek(SeekFrom::Start(4))?;
            self.out.write_all(&(riff_size as u32).to_le_bytes())?;
            self.out.seek(SeekFrom::Start(data_size_at))?;
            self.out
                .write_all(&(self.data_bytes as u32).to_le_bytes())?;
        }
        self.out.seek(SeekFrom::End(0))?;
        Ok(())
    }
}

/// Appends `x` in `format` to `buf` and counts it in `levels`. Integers are rounded to
/// the nearest step and clamped (undithered); NaN, which no caller should pass, becomes
/// 0 in an integer format.
#[inline]
fn encode(format: SampleFormat, x: f64, buf: &mut Vec<u8>, levels: &mut Levels) {
    let written = match format {
        SampleFormat::F32 => {
            let v = x as f32;
            buf.extend_from_slice(&v.to_le_bytes());
            levels.clipped += u64::from(v.abs() > 1.0);
            f64::from(v)
        }
        int => {
            let full = (1u64 << (8 * int.bytes_per_sample() - 1)) as f64;
            let (i, clipped) = quantize(x, full);
            levels.clipped += u64::from(clipped);
            let bytes = i.to_le_bytes();
            buf.extend_from_slice(&bytes[..usize::from(int.bytes_per_sample())]);
            f64::from(i) / full
        }
    };
    if written.is_finite() {
        levels.peak = levels.peak.max(written.abs());
        levels.sum_squares += written * written;
    }
    levels.samples += 1;
}

/// Triangular (TPDF) dither of ±1 step, in steps: the sum of two uniform ±½-step
/// values.
#[inline]
pub(crate) fn tpdf(rng: &mut Rng) -> f64 {
    0.5 * f64::from(rng.next_bipolar() + rng.next_bipolar())
}

/// `x` (full scale ±1.0) as an integer of `full` steps per unit: rounded to the nearest
/// step and clamped, and whether it had to be clamped. NaN becomes 0.
#[inline]
pub(crate) fn quantize(x: f64, full: f64) -> (i32, bool) {
    let v = (x * full).round();
    let clamped = v.clamp(-full, full - 1.0);
    (clamped as i32, clamped != v && !v.is_nan())
}

//! The filter design: the windowed-sinc kernel, its table of phases and its band
//! edges.

use std::f64::consts::PI;

use super::Sample;

pub(super) fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Kernel half-width in input frames: the Kaiser length for `attenuation` dB over a
/// transition band from 0.9 to 1.0 × the lower Nyquist frequency.
pub(super) fn half_width((transition, _): (f64, f64), attenuation: f64) -> usize {
    let length = (attenuation - 7.95) / (14.36 * transition) + 1.0;
    (length / 2.0).ceil() as usize
}

/// (transition width, cutoff), both in cycles per input frame.
pub(super) fn band(from: u32, to: u32) -> (f64, f64) {
    let lower_nyquist = 0.5 * f64::from(from.min(to)) / f64::from(from);
    (0.1 * lower_nyquist, 0.95 * lower_nyquist)
}

/// The band of the second stage, which converts the first stage's output (at `factor ·
/// from`, nothing left above the lower Nyquist frequency `c`): flat to `0.9 c` as
/// before, but it only has to stop the images of that band, which begin at `factor ·
/// from - c`. In cycles per frame at `factor · from`; the transition is at least 0.4 of
/// that rate wide (factor 1 is only chosen where `from >= 2 · to`).
pub(super) fn band_after_sharp(from: u32, to: u32, factor: u32) -> (f64, f64) {
    let rate = f64::from(factor * from);
    let c = 0.5 * f64::from(from.min(to));
    let (pass, stop) = (0.9 * c, rate - c);
    ((stop - pass) / rate, 0.5 * (stop + pass) / rate)
}

/// The tabulated kernel at phases 0, 1/rows, ..., 1, `taps` taps a row, the first
/// `taps - 2·half` of each zero padding: the `rows + 1` rows one after the other, or, with
/// `differences`, `rows` pairs of row `r` and row `r + 1` less row `r`.
///
/// Pairs are for interpolating between the rows either side of a phase: `a + w·d` is
/// one multiply-add per register where `a + w·(b − a)` took a subtraction too, which
/// in the asynchronous kernel of one or two channels was a quarter of the arithmetic
/// (measured in docs/PERFORMANCE.md). Twice the memory (3 MB at 44.1 to 48 kHz), but a stream touches only the rows of the phases it visits, as before;
/// and the difference is rounded once, from the exact rows.
pub(super) fn sinc_table<S: Sample>(
    band: (f64, f64),
    attenuation: f64,
    rows: usize,
    multiple: usize,
    differences: bool,
) -> (CacheAligned<S>, usize) {
    let half = half_width(band, attenuation);
    let taps = (2 * half).div_ceil(multiple) * multiple;
    let pad = taps - 2 * half;
    let (_, cutoff) = band;
    let beta = 0.1102 * (attenuation - 8.7);
    let i0_beta = bessel_i0(beta);
    // Row at phase p: unity gain at DC for every phase, so a constant stays exactly
    // constant.
    let row_at = |p: f64, row: &mut [f64]| {
        for (j, h) in row.iter_mut().enumerate() {
            // Tap j reads input frame floor(t) - half + 1 + j, which is x frames from t.
            let x = (j as f64 - half as f64 + 1.0) - p;
            let u = x / half as f64;
            let window = if u.abs() < 1.0 {
                bessel_i0(beta * (1.0 - u * u).sqrt()) / i0_beta
            } else {
                0.0
            };
            *h = 2.0 * cutoff * sinc(2.0 * cutoff * x) * window;
        }
        let sum: f64 = row.iter().sum();
        row.iter_mut().for_each(|h| *h /= sum);
    };
    let stored = if differences { 2 * rows } else { rows + 1 };
    let mut table = CacheAligned::zeroed(stored * taps);
    let mut put = |r: usize, row: &mut dyn Iterator<Item = f64>| {
        for (d, h) in table[r * taps + pad..(r + 1) * taps].iter_mut().zip(row) {
            *d = S::of_f64(h);
        }
    };
    let [mut row, mut next] = [(); 2].map(|_| vec![0.0f64; 2 * half]);
    row_at(0.0, &mut row);
    for r in 0..rows {
        row_at((r + 1) as f64 / rows as f64, &mut next);
        if differences {
            put(2 * r, &mut row.iter().copied());
            put(2 * r + 1, &mut next.iter().zip(&row).map(|(b, a)| b - a));
        } else {
            put(r, &mut row.iter().copied());
        }
        std::mem::swap(&mut row, &mut next);
    }
    if !differences {
        put(rows, &mut row.iter().copied());
    }
    (table, taps)
}

/// A buffer whose first element starts a cache line (64 bytes, one 16-lane register):
/// with rows a multiple of 64 bytes long, no row's load straddles two lines.
#[derive(Debug)]
pub(super) struct CacheAligned<S> {
    buf: Vec<S>,
    start: usize,
    len: usize,
}

impl<S: Copy + Default> CacheAligned<S> {
    const LINE: usize = 64;

    pub(super) fn zeroed(len: usize) -> Self {
        let slack = Self::LINE / std::mem::size_of::<S>();
        let buf = vec![S::default(); len + slack];
        // The allocator aligns to the element at least, so the offset is below `slack`
        // (`align_offset` may refuse and say usize::MAX: then stay unaligned).
        let start = buf.as_ptr().align_offset(Self::LINE).min(slack);
        CacheAligned { buf, start, len }
    }
}

impl<S: Copy + Default> Clone for CacheAligned<S> {
    /// A copy in its own aligned buffer (a cloned `Vec` could start anywhere).
    fn clone(&self) -> Self {
        let mut copy = Self::zeroed(self.len);
        copy.copy_from_slice(self);
        copy
    }
}

impl<S> std::ops::Deref for CacheAligned<S> {
    type Target = [S];
    fn deref(&self) -> &[S] {
        &self.buf[self.start..self.start + self.len]
    }
}

impl<S> std::ops::DerefMut for CacheAligned<S> {
    fn deref_mut(&mut self) -> &mut [S] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

pub(super) fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    }
}

/// The modified Bessel function of the first kind, order 0, by its power series
/// (converges quickly for the arguments a Kaiser window uses, below ~20).
pub(super) fn bessel_i0(x: f64) -> f64 {
    let q = x * x / 4.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..200 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

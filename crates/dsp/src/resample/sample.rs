//! The sample types the resampler converts, and the dot products its kernels are made
//! of: portable here, the x86-64 ones in `x86` (reached only with the tokens of
//! [`crate::simd`]).

use std::fmt::Debug;
use std::ops::{Add, Mul, Sub};

use super::LANES;
use crate::simd::{Avx2Fma, Avx512};

/// A sample type the resampler converts: `f32` for streams, `f64` where the last ~10 dB
/// matter (f32 itself limits any conversion to about 140 dB SNR: its rounding of input
/// and output alone is there). Implemented for those two only (the kernels behind it
/// are the crate's own).
pub trait Sample:
    Copy
    + Default
    + Debug
    + PartialEq
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + realfft::FftNum
    + sealed::Kernels
{
    /// Converts (rounding) from f64.
    fn of_f64(x: f64) -> Self;
    /// Converts (exactly) to f64.
    fn to_f64(self) -> f64;
}

pub(super) mod sealed {
    use super::{AsyncFrames, Avx2Fma, Avx512};

    /// The kernels of a sample type. Unnameable outside the crate, so that [`Sample`]
    /// (its subtrait) stays implemented for f32 and f64 only.
    ///
    /// [`Sample`]: super::Sample
    pub trait Kernels: Sized {
        /// Dot product of two slices of equal length, a multiple of 8; `avx2`, where
        /// given, lets a type use its AVX2 + FMA kernel.
        fn dot(a: &[Self], b: &[Self], avx2: Option<Avx2Fma>) -> Self;

        /// Four dot products at once (`a[k]` with `b[k]`, all of one length).
        fn dot4(a: [&[Self]; 4], b: [&[Self]; 4], avx2: Option<Avx2Fma>) -> [Self; 4];

        /// The asynchronous kernel that builds each frame's interpolated row once (see
        /// [`AsyncFrames`]), where this type has one for the kernels given; false leaves
        /// the frames to the caller.
        fn async_frames(
            frames: &AsyncFrames<'_, Self>,
            out: &mut [Self],
            avx512: Option<Avx512>,
            avx2: Option<Avx2Fma>,
        ) -> bool;
    }
}

/// A batch of asynchronous output frames, planned: frame `f` takes the row
/// `a + weight[f]·d` of the table's pair `a`, `d` (see `sinc_table`) from `row_at[f]`
/// and reads the history of each channel from `starts[f]`.
pub struct AsyncFrames<'a, S> {
    pub(super) table: &'a [S],
    pub(super) taps: usize,
    pub(super) row_at: &'a [usize],
    pub(super) weight: &'a [S],
    pub(super) starts: &'a [usize],
    pub(super) history: &'a [S],
    pub(super) cap: usize,
    pub(super) channels: usize,
}

impl Sample for f32 {
    fn of_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

// The x86-64 build has f32 kernels of its own (in `x86`).
#[cfg(not(target_arch = "x86_64"))]
impl sealed::Kernels for f32 {
    #[inline(always)]
    fn dot(a: &[Self], b: &[Self], _: Option<Avx2Fma>) -> Self {
        dot(a, b)
    }
    #[inline(always)]
    fn dot4(a: [&[Self]; 4], b: [&[Self]; 4], _: Option<Avx2Fma>) -> [Self; 4] {
        std::array::from_fn(|k| dot(a[k], b[k]))
    }
    #[inline(always)]
    fn async_frames(
        _: &AsyncFrames<'_, Self>,
        _: &mut [Self],
        _: Option<Avx512>,
        _: Option<Avx2Fma>,
    ) -> bool {
        false
    }
}

impl Sample for f64 {
    fn of_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
}

impl sealed::Kernels for f64 {
    #[inline(always)]
    fn dot(a: &[Self], b: &[Self], _: Option<Avx2Fma>) -> Self {
        dot(a, b)
    }
    #[inline(always)]
    fn dot4(a: [&[Self]; 4], b: [&[Self]; 4], _: Option<Avx2Fma>) -> [Self; 4] {
        std::array::from_fn(|k| dot(a[k], b[k]))
    }
    #[inline(always)]
    fn async_frames(
        _: &AsyncFrames<'_, Self>,
        _: &mut [Self],
        _: Option<Avx512>,
        _: Option<Avx2Fma>,
    ) -> bool {
        false
    }
}

/// Dot product in `LANES` independent partial sums, so it vectorises; both slices are a
/// multiple of `LANES` long.
#[inline(always)]
pub(super) fn dot<S: Sample>(a: &[S], b: &[S]) -> S {
    let mut acc = [S::default(); LANES];
    for (x, y) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for i in 0..LANES {
            acc[i] = acc[i] + x[i] * y[i];
        }
    }
    let quad = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    (quad[0] + quad[2]) + (quad[1] + quad[3])
}

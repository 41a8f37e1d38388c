//! Sample-rate conversion: bypass, linear, and band-limited (windowed sinc), in one
//! stage or, at fixed ratios, two.
//!
//! One [`Resampler`] converts an interleaved stream of any channel count. It is built off
//! the audio thread (the filter tables and transform plans are computed then) and
//! afterwards [`process`](Resampler::process) only reads them and writes caller-provided
//! buffers: no allocation, no locks, so it may run in a device callback.
//!
//! # How it works
//!
//! Output frame `n` is the input signal evaluated at input time `t(n)`: for a fixed ratio
//! `t(n) = n · from / to` exactly, for an asynchronous one the sum of the steps taken so
//! far. Position is kept as an integer frame index plus an integer phase, so it never
//! drifts and the output does not depend on how the input was chunked.
//!
//! The band-limited qualities evaluate a Kaiser-windowed sinc centred on `t(n)`. The
//! kernel is tabulated per phase: when the ratio reduces to `L / M` with `L` small enough
//! (44.1 → 48 kHz is 160 / 147) every phase the stream can hit has its own exact row; any
//! other ratio, and every asynchronous stream, interpolates linearly between the results
//! of the two rows either side of the phase, in a finer table (2048 or 4096 phases,
//! which keeps the interpolation error below the quality's noise floor up to 0.9 ×
//! Nyquist).
//!
//! The filter's band edges follow the lower of the two rates: flat to 0.9 × its Nyquist
//! frequency, fully attenuated from its Nyquist frequency on, so nothing above the output
//! Nyquist frequency folds back when downsampling and no image survives upsampling.
//!
//! Asynchronous streams use that kernel directly (about 190 taps at `high`), which keeps
//! their latency at half the kernel. Fixed-ratio `high` and `best` split the work (see
//! `sharp`): a first stage makes the band edges sharp by FFT convolution, at twice the
//! input rate (or at the input rate when that is at least twice the output's, keeping
//! only the frames needed where the output rate divides it); the second stage then only
//! has to stop the images of a band far below its Nyquist frequency, which takes about 20
//! taps, or nothing at all where the rates divide. Same stopband, same passband, several
//! times less work (docs/PERFORMANCE.md has the figures); the price is latency (a
//! transform block: about 20 ms), which files do not mind.
//!
//! # Alignment and delay
//!
//! Output frame 0 lines up with input frame 0; the converter needs
//! [`lookahead_input_frames`](Resampler::lookahead_input_frames) input frames past `t(n)`
//! before it can produce frame `n`, which is the stream's latency. Output follows input
//! frame by frame at that distance, never in bursts (the first stage's blocks are held
//! back by a block to that end). Feed that many frames of silence at the end of a stream
//! (see [`resample_interleaved`]) to get every frame out.

mod sharp;

use std::f64::consts::PI;
use std::fmt::Debug;
use std::ops::{Add, Mul, Sub};

use sharp::Sharp;

/// A sample type the resampler converts: `f32` for streams, `f64` where the last ~10 dB
/// matter (f32 itself limits any conversion to about 140 dB SNR: its rounding of input
/// and output alone is there).
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
{
    /// Converts (rounding) from f64.
    fn of_f64(x: f64) -> Self;
    /// Converts (exactly) to f64.
    fn to_f64(self) -> f64;

    /// Dot product of two slices of equal length, a multiple of 8; `avx2` says the
    /// caller runs in the AVX2+FMA build (see [`crate::simd`]), where a type may use it.
    #[inline(always)]
    fn dot(a: &[Self], b: &[Self], avx2: bool) -> Self {
        let _ = avx2;
        dot(a, b)
    }

    /// Four dot products at once (`a[k]` with `b[k]`, all of one length).
    #[inline(always)]
    fn dot4(a: [&[Self]; 4], b: [&[Self]; 4], avx2: bool) -> [Self; 4] {
        std::array::from_fn(|k| Self::dot(a[k], b[k], avx2))
    }

    /// The asynchronous kernel that builds each frame's interpolated row once (see
    /// [`AsyncFrames`]), where this type has one for the CPU (`avx512`: the CPU has
    /// AVX-512F; `avx2`: the caller runs in the AVX2+FMA build); false leaves the frames
    /// to the caller.
    #[inline(always)]
    fn async_frames(
        frames: &AsyncFrames<'_, Self>,
        out: &mut [Self],
        avx512: bool,
        avx2: bool,
    ) -> bool {
        let _ = (frames, out, avx512, avx2);
        false
    }
}

/// A batch of asynchronous output frames, planned: frame `f` takes the row
/// `a + weight[f]·d` of the table's pair `a`, `d` (see [`sinc_table`]) from `row_at[f]`
/// and reads the history of each channel from `starts[f]`.
pub struct AsyncFrames<'a, S> {
    table: &'a [S],
    taps: usize,
    row_at: &'a [usize],
    weight: &'a [S],
    starts: &'a [usize],
    history: &'a [S],
    cap: usize,
    channels: usize,
}

impl Sample for f32 {
    fn of_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn dot(a: &[Self], b: &[Self], avx2: bool) -> Self {
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: `avx2` is only true in the AVX2+FMA build, which runs only where
            // `simd::avx2_fma` found both.
            return unsafe { dot_f32_avx2(a, b) };
        }
        let _ = avx2;
        dot(a, b)
    }
    #[inline(always)]
    fn dot4(a: [&[Self]; 4], b: [&[Self]; 4], avx2: bool) -> [Self; 4] {
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: as in `dot`.
            return unsafe { dot4_f32_avx2(a, b) };
        }
        std::array::from_fn(|k| Self::dot(a[k], b[k], avx2))
    }
    #[inline(always)]
    fn async_frames(
        frames: &AsyncFrames<'_, Self>,
        out: &mut [Self],
        avx512: bool,
        avx2: bool,
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if avx512 {
            // SAFETY: `avx512` is only true where `simd::avx512` found AVX-512F, AVX2
            // and FMA.
            unsafe { async_frames_f32_avx512(frames, out) };
            return true;
        }
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: `avx2` is only true in the AVX2+FMA build, which runs only where
            // `simd::avx2_fma` found both.
            unsafe { async_frames_f32_avx2(frames, out) };
            return true;
        }
        let _ = (frames, out, avx512, avx2);
        false
    }
}

/// Runs [`group_frames`] over the channels of `$frames` in groups of up to
/// [`MAX_GROUP`], each with `$kernel::<N>` for its size `N`, inside the calling function
/// (so that the kernels inherit its target features).
#[cfg(target_arch = "x86_64")]
macro_rules! groups_of_frames {
    ($frames:expr, $out:expr, $zero:expr, $reduce4:expr, $kernel:ident) => {
        groups_of_frames!(@sizes $frames, $out, $zero, $reduce4, $kernel, [8, 7, 6, 5, 4, 3, 2, 1])
    };
    (@sizes $frames:expr, $out:expr, $zero:expr, $reduce4:expr, $kernel:ident, [$($n:literal),*]) => {{
        let (frames, out): (&AsyncFrames<'_, f32>, &mut [f32]) = ($frames, $out);
        let mut c = 0;
        while c < frames.channels {
            let n = (frames.channels - c).min(MAX_GROUP);
            match n {
                $($n => group_frames::<$n, _>(frames, out, c, $zero, $reduce4, |r, w, h| {
                    $kernel::<$n>(r, w, h)
                }),)*
                _ => unreachable!("groups of one to MAX_GROUP channels"),
            }
            c += n;
        }
    }};
}

/// Most channels one pass of an asynchronous kernel serves.
#[cfg(target_arch = "x86_64")]
const MAX_GROUP: usize = 8;

/// Channels `c..c + N` of each frame of `frames` into `out`: `kernel(rows, w,
/// histories)` gives each channel's vector of partial sums of its dot product with the
/// row `a + w·d` of the pair `rows = a, d`; `reduce4` sums four such vectors at once.
///
/// The vectors are summed four at a time, across frames for one or two channels: one
/// reduction per four mono frames or two stereo ones, where each frame used to pay for a
/// whole one. A vector's sum does not depend on its place among the four (the reductions
/// treat their inputs alike), so output stays independent of chunking.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn group_frames<const N: usize, V: Copy>(
    frames: &AsyncFrames<'_, f32>,
    out: &mut [f32],
    c: usize,
    zero: V,
    reduce4: impl Fn([V; 4]) -> [f32; 4],
    kernel: impl Fn(&[f32], f32, [&[f32]; N]) -> [V; N],
) {
    let &AsyncFrames {
        table,
        taps,
        row_at,
        weight,
        starts,
        history,
        cap,
        channels,
    } = frames;
    let m = row_at.len().min(weight.len()).min(starts.len());
    assert!(out.len() >= m * channels && c + N <= channels);
    let dots = |f: usize| {
        let rows = &table[row_at[f]..row_at[f] + 2 * taps];
        let hist = std::array::from_fn(|k| &history[(c + k) * cap + starts[f]..][..taps]);
        kernel(rows, weight[f], hist)
    };
    if N < 4 && 4 % N == 0 {
        // One or two channels: the vectors of 4 / N frames at a time.
        let frames_per = 4 / N;
        for first in (0..m).step_by(frames_per) {
            let mut quad = [zero; 4];
            for j in 0..frames_per.min(m - first) {
                quad[j * N..(j + 1) * N].copy_from_slice(&dots(first + j));
            }
            let sums = reduce4(quad);
            for j in 0..frames_per.min(m - first) {
                let at = (first + j) * channels + c;
                out[at..at + N].copy_from_slice(&sums[j * N..(j + 1) * N]);
            }
        }
    } else {
        // The channels of each frame, four at a time.
        for f in 0..m {
            let acc = dots(f);
            for q in 0..N.div_ceil(4) {
                let sums = reduce4(std::array::from_fn(|k| {
                    acc.get(4 * q + k).copied().unwrap_or(zero)
                }));
                let at = f * channels + c + 4 * q;
                let n = (N - 4 * q).min(4);
                out[at..at + n].copy_from_slice(&sums[..n]);
            }
        }
    }
}

/// [`async_frames_f32_avx512`] on 8-lane registers: the same plan, eight taps at a time.
/// It replaces interpolating two dot products per channel (each reading its own table
/// row), which read the table twice per channel and made eight channels slower than
/// rubato's resampler.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn async_frames_f32_avx2(frames: &AsyncFrames<'_, f32>, out: &mut [f32]) {
    use std::arch::x86_64::*;
    // Up to eight channels at a time, so that each row is built once: one accumulator
    // each, eight of the sixteen registers (eight channels 2.6x -> 2.9x rubato; in
    // groups of four, with two accumulators each, every row was built twice).
    groups_of_frames!(
        frames,
        out,
        _mm256_setzero_ps(),
        |v| reduce4_f32_avx2(v),
        lerp_dots_f32_avx2
    );
}

/// Dot products of the row `a + w·d` of the pair `rows = a, d` (its halves) with `N` (up
/// to [`MAX_GROUP`]) histories of as many frames (a multiple of 8), on 8-lane registers:
/// each channel's partial sums, in an order that depends only on the length.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn lerp_dots_f32_avx2<const N: usize>(
    rows: &[f32],
    w: f32,
    hist: [&[f32]; N],
) -> [std::arch::x86_64::__m256; N] {
    use std::arch::x86_64::*;
    let taps = rows.len() / 2;
    assert!(taps.is_multiple_of(LANES) && hist.iter().all(|h| h.len() >= taps));
    let (a, b) = (rows.as_ptr(), rows[taps..].as_ptr());
    let wv = _mm256_set1_ps(w);
    // Up to four channels, two accumulators each (even and odd registers): with one, each
    // channel's chain of multiply-adds, not the arithmetic, set the pace. More channels
    // have enough chains in flight.
    let step = |i: usize, acc: &mut [__m256; N]| {
        // SAFETY: register i (8 floats from 8 i, i < taps / 8) lies within both rows and
        // every history (asserted above).
        unsafe {
            let x = _mm256_loadu_ps(a.add(LANES * i));
            let y = _mm256_loadu_ps(b.add(LANES * i));
            let k = _mm256_fmadd_ps(wv, y, x);
            for (s, h) in acc.iter_mut().zip(&hist) {
                *s = _mm256_fmadd_ps(k, _mm256_loadu_ps(h.as_ptr().add(LANES * i)), *s);
            }
        }
    };
    let (mut even, mut odd) = ([_mm256_setzero_ps(); N], [_mm256_setzero_ps(); N]);
    accumulate(taps / LANES, N <= 4, &mut even, &mut odd, step);
    std::array::from_fn(|c| _mm256_add_ps(even[c], odd[c]))
}

/// Runs `step(i, accumulators)` for registers `0..regs` in order, alternating between
/// `even` and `odd` where `two` is set (two chains of multiply-adds per channel instead
/// of one), else all into `even`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn accumulate<A>(
    regs: usize,
    two: bool,
    even: &mut A,
    odd: &mut A,
    mut step: impl FnMut(usize, &mut A),
) {
    if !two {
        (0..regs).for_each(|i| step(i, even));
        return;
    }
    for i in (0..regs / 2).map(|i| 2 * i) {
        step(i, even);
        step(i + 1, odd);
    }
    if regs % 2 == 1 {
        step(regs - 1, even);
    }
}

/// [`AsyncFrames`] on 16-lane registers. Each frame's interpolated row is built on the
/// fly, sixteen taps at a time (`a + w·d`, one fused multiply-add), and applied at
/// once to up to eight channels' histories: per sixteen taps two table loads serve eight
/// channels, where interpolating the dot products' results reads both rows per channel.
/// The summation order depends only on the tap count and the channel's place in its
/// group, never on the batch, so output stays independent of chunking.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn async_frames_f32_avx512(frames: &AsyncFrames<'_, f32>, out: &mut [f32]) {
    use std::arch::x86_64::*;
    // Eight channels at a time (eight channels now 3.2-3.4x rubato; in two groups of
    // four, which built every row twice, it was 2.6x).
    groups_of_frames!(
        frames,
        out,
        _mm512_setzero_ps(),
        |v| reduce4_f32_avx512(v),
        lerp_dots_f32_avx512
    );
}

/// Dot products of the row `a + w·d` of the pair `rows = a, d` (its halves) with `N` (up
/// to [`MAX_GROUP`]) histories of as many frames (a multiple of 16, the rows starting
/// cache lines: the table is built so): each channel's partial sums.
///
/// The histories start anywhere, so their loads straddle cache lines; shifting the
/// kernel with a permute to read them aligned measured slower (one more shuffle per
/// register, on the port the multiply-adds need), and reading the rows shifted in
/// memory instead, from zeros laid around them, no faster (docs/PERFORMANCE.md).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
fn lerp_dots_f32_avx512<const N: usize>(
    rows: &[f32],
    w: f32,
    hist: [&[f32]; N],
) -> [std::arch::x86_64::__m512; N] {
    use std::arch::x86_64::*;
    let taps = rows.len() / 2;
    assert!(taps.is_multiple_of(16) && hist.iter().all(|h| h.len() >= taps));
    let (a, b) = (rows.as_ptr(), rows[taps..].as_ptr());
    let wv = _mm512_set1_ps(w);
    let step = |i: usize, acc: &mut [__m512; N]| {
        // SAFETY: register i (16 floats from 16 i) lies within both rows and every
        // history (asserted above).
        unsafe {
            let x = _mm512_loadu_ps(a.add(16 * i));
            let y = _mm512_loadu_ps(b.add(16 * i));
            let k = _mm512_fmadd_ps(wv, y, x);
            for (s, h) in acc.iter_mut().zip(&hist) {
                *s = _mm512_fmadd_ps(k, _mm512_loadu_ps(h.as_ptr().add(16 * i)), *s);
            }
        }
    };
    let (mut acc, mut odd) = ([_mm512_setzero_ps(); N], [_mm512_setzero_ps(); N]);
    // One or two channels: two accumulators each, or their chains of multiply-adds set
    // the pace (mono 3.0-3.1x -> 3.3-3.4x rubato). More channels have enough chains in
    // flight.
    let two = N <= 2;
    accumulate(taps / 16, two, &mut acc, &mut odd, step);
    if two {
        for (a, o) in acc.iter_mut().zip(odd) {
            *a = _mm512_add_ps(*a, o);
        }
    }
    acc
}

/// The sums of four 16-lane registers in one tree: the four reductions share their
/// shuffles (13 operations instead of 4 × 8).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
fn reduce4_f32_avx512(v: [std::arch::x86_64::__m512; 4]) -> [f32; 4] {
    use std::arch::x86_64::*;
    // Within each 128-bit lane: (v0₀+v0₂, v1₀+v1₂, v0₁+v0₃, v1₁+v1₃), likewise 2 and 3.
    let s01 = _mm512_add_ps(
        _mm512_unpacklo_ps(v[0], v[1]),
        _mm512_unpackhi_ps(v[0], v[1]),
    );
    let s23 = _mm512_add_ps(
        _mm512_unpacklo_ps(v[2], v[3]),
        _mm512_unpackhi_ps(v[2], v[3]),
    );
    // Within each 128-bit lane: the lane's sums of v0, v1, v2, v3.
    let lo = _mm512_castpd_ps(_mm512_unpacklo_pd(
        _mm512_castps_pd(s01),
        _mm512_castps_pd(s23),
    ));
    let hi = _mm512_castpd_ps(_mm512_unpackhi_pd(
        _mm512_castps_pd(s01),
        _mm512_castps_pd(s23),
    ));
    let t = _mm512_add_ps(lo, hi);
    // The four 128-bit lanes added.
    let upper = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(t)));
    let half = _mm256_add_ps(_mm512_castps512_ps256(t), upper);
    let quarter = _mm_add_ps(
        _mm256_castps256_ps128(half),
        _mm256_extractf128_ps::<1>(half),
    );
    let mut out = [0.0f32; 4];
    // SAFETY: `out` holds four f32s.
    unsafe { _mm_storeu_ps(out.as_mut_ptr(), quarter) };
    out
}

/// Four [`dot_f32_avx2`]s sharing one horizontal reduction: three `hadd`s and one add
/// turn the four 8-lane accumulators into the four sums.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn dot4_f32_avx2(a: [&[f32]; 4], b: [&[f32]; 4]) -> [f32; 4] {
    use std::arch::x86_64::*;
    let n = (0..4)
        .map(|k| a[k].len().min(b[k].len()))
        .min()
        .unwrap_or(0)
        / LANES;
    let mut acc = [_mm256_setzero_ps(); 4];
    for i in 0..n {
        for k in 0..4 {
            // SAFETY: chunk i lies within a[k] and b[k] (i < n chunks of 8, n taken
            // over the shortest slice).
            unsafe {
                let x = _mm256_loadu_ps(a[k].as_ptr().add(i * LANES));
                let y = _mm256_loadu_ps(b[k].as_ptr().add(i * LANES));
                acc[k] = _mm256_fmadd_ps(x, y, acc[k]);
            }
        }
    }
    reduce4_f32_avx2(acc)
}

/// The sums of four 8-lane registers: three `hadd`s and one add.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn reduce4_f32_avx2(acc: [std::arch::x86_64::__m256; 4]) -> [f32; 4] {
    use std::arch::x86_64::*;
    let ab = _mm256_hadd_ps(acc[0], acc[1]);
    let cd = _mm256_hadd_ps(acc[2], acc[3]);
    let abcd = _mm256_hadd_ps(ab, cd);
    let sums = _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
    let mut out = [0.0f32; 4];
    // SAFETY: `out` holds four f32s.
    unsafe { _mm_storeu_ps(out.as_mut_ptr(), sums) };
    out
}

/// [`dot`] for f32 on 8-lane registers with fused multiply-adds, summed in exactly the
/// order of [`dot4_f32_avx2`] (one accumulator, the same reduction), so an output sample
/// does not depend on which of the two computed it. (The generic version, compiled for
/// AVX2, came out as 2-lane operations.)
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn dot_f32_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len()) / LANES;
    let mut acc = _mm256_setzero_ps();
    for i in 0..n {
        // SAFETY: chunk i lies within both slices (i < n chunks of 8).
        unsafe {
            let x = _mm256_loadu_ps(a.as_ptr().add(i * LANES));
            let y = _mm256_loadu_ps(b.as_ptr().add(i * LANES));
            acc = _mm256_fmadd_ps(x, y, acc);
        }
    }
    let pairs = _mm256_hadd_ps(acc, acc);
    let quads = _mm256_hadd_ps(pairs, pairs);
    _mm_cvtss_f32(_mm_add_ps(
        _mm256_castps256_ps128(quads),
        _mm256_extractf128_ps(quads, 1),
    ))
}

impl Sample for f64 {
    fn of_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// How the signal is converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quality {
    /// Linear interpolation between neighbouring frames. Cheap, and audibly lossy near the
    /// top of the band (about 60 dB SNR at 1 kHz, much less at 15 kHz); for when CPU
    /// matters more than fidelity.
    Fast,
    /// Windowed sinc, 140 dB stopband, flat to 0.9 × the lower Nyquist frequency.
    High,
    /// Windowed sinc, 170 dB stopband, longer kernels and finer phase table.
    Best,
}

impl Quality {
    /// The name used on command lines and in session files.
    pub fn name(self) -> &'static str {
        match self {
            Quality::Fast => "fast",
            Quality::High => "high",
            Quality::Best => "best",
        }
    }

    /// Parses [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "fast" => Some(Quality::Fast),
            "high" => Some(Quality::High),
            "best" => Some(Quality::Best),
            _ => None,
        }
    }

    /// (stopband attenuation in dB, phases of the interpolated table).
    fn design(self) -> (f64, usize) {
        match self {
            Quality::Fast => (0.0, 1),
            Quality::High => (140.0, 2048),
            Quality::Best => (170.0, 4096),
        }
    }
}

/// Why a resampler could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResampleError {
    /// A rate of 0, or one above 1 MHz.
    Rate(u32),
    /// More than [`MAX_RATIO`] between the two rates.
    Ratio { from: u32, to: u32 },
    /// Zero channels, or more than [`MAX_CHANNELS`].
    Channels(usize),
}

impl std::fmt::Display for ResampleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResampleError::Rate(r) => write!(f, "sample rate {r} Hz is outside 1..=1000000"),
            ResampleError::Ratio { from, to } => write!(
                f,
                "{from} Hz to {to} Hz is more than a factor of {MAX_RATIO} apart"
            ),
            ResampleError::Channels(c) => {
                write!(f, "{c} channels (a resampler takes 1 to {MAX_CHANNELS})")
            }
        }
    }
}

impl std::error::Error for ResampleError {}

/// Largest factor between input and output rate.
pub const MAX_RATIO: u32 = 16;
/// Most channels one resampler converts.
pub const MAX_CHANNELS: usize = 256;
/// How far an asynchronous stream's ratio may move from nominal: ±1 %.
pub const MAX_ADJUST: f64 = 0.01;

/// Input frames copied into the history per refill. The history holds this plus one
/// kernel; larger inputs are taken in pieces, which changes nothing in the output.
const CHUNK: usize = 1024;
/// Exact-phase tables are used while the reduced ratio's numerator is at most this.
const MAX_EXACT_PHASES: u64 = 1024;
/// Fractional bits of an asynchronous stream's phase: 2^-44 of a frame per step, so a
/// ratio is represented to 1e-13 and a fixed one drifts by well under a frame per day.
const FRAC_BITS: u32 = 44;
/// One unit of phase, in frames.
const FRAC_SCALE: f64 = 1.0 / (1u64 << FRAC_BITS) as f64;
/// Lanes of the dot product; kernels are padded to a multiple of this.
const LANES: usize = 8;
/// Output frames planned at a time by the band-limited rendering loops.
const RENDER_BATCH: usize = 32;
/// Output frames over which a new asynchronous ratio is approached (time constant of a
/// one-pole glide): ~5 ms at 48 kHz, fast enough for a drift controller, slow enough that
/// a step in the ratio is a smooth bend in phase, never a click.
const GLIDE_FRAMES: f64 = 256.0;

/// How many frames a call consumed and produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Processed {
    /// Input frames taken (all of them unless the output filled up first).
    pub input_frames: usize,
    /// Output frames written to the front of the output buffer.
    pub output_frames: usize,
}

/// Where the next output frame sits in the input, and how far the phase moves per frame.
#[derive(Debug, Clone)]
enum Stepper {
    /// `t = index + phase / den`; each frame advances `whole + step / den` input frames,
    /// exact for a rational ratio. Split up front so the per-frame step needs no division.
    Exact {
        phase: u64,
        den: u64,
        whole: usize,
        step: u64,
        inv_den: f64,
    },
    /// `t = index + phase / 2^FRAC_BITS`; the step glides toward a target.
    Async {
        phase: u64,
        step: u64,
        step_now: f64,
        step_target: f64,
        nominal: f64,
        /// False for a fixed ratio too fine for an exact table, which only uses the
        /// interpolated table and never moves.
        adjustable: bool,
    },
}

#[derive(Debug, Clone)]
enum Kernel<S: Sample> {
    /// Input and output rates equal, fixed ratio: frames are copied through.
    Bypass,
    /// Two-tap linear interpolation.
    Linear,
    /// Every k-th frame of the history, as it is (after a first stage whose rate is a
    /// multiple of the output rate).
    Pick,
    /// Windowed sinc table of `taps` coefficients per row: for exact phases `rows + 1`
    /// rows (the last one phase 1.0, never used), for interpolated ones `rows` pairs of a
    /// row and its difference to the next (see [`sinc_table`]).
    Sinc {
        table: CacheAligned<S>,
        taps: usize,
        rows: usize,
    },
}

/// A streaming sample-rate converter for interleaved audio.
///
/// ```
/// use troubadour_dsp::resample::{Quality, Resampler};
///
/// let mut rs = Resampler::<f32>::new(2, 44_100, 48_000, Quality::High).unwrap();
/// let input = vec![0.0f32; 441 * 2];
/// let mut output = vec![0.0f32; rs.max_output_frames(441) * 2];
/// let done = rs.process(&input, &mut output);
/// assert_eq!(done.input_frames, 441);
/// // The kernel's look-ahead holds the first frames back until more input arrives.
/// assert!(done.output_frames <= 480);
/// ```
#[derive(Debug, Clone)]
pub struct Resampler<S: Sample = f32> {
    channels: usize,
    from: u32,
    to: u32,
    quality: Quality,
    kernel: Kernel<S>,
    stepper: Stepper,
    /// Planar history: channel `c` occupies `history[c * cap .. (c + 1) * cap]`.
    history: Vec<S>,
    cap: usize,
    /// Frames held in the history.
    len: usize,
    /// History index of the first kernel tap of the next output frame.
    index: usize,
    /// Frames of history the kernel spans (taps, padded).
    span: usize,
    /// Kernel taps past `t(n)`, in frames of the kernel's input (the first stage's
    /// output when there is one).
    lookahead: usize,
    /// The sharp first stage of fixed-ratio `high` and `best`: the history then holds
    /// its output, at once or twice the input rate.
    pre: Option<Box<Sharp<S>>>,
    /// Input frames the output is held back by, beyond the kernel's needs, so that the
    /// first stage's blocks never make output come in bursts (0 without it).
    hold: usize,
    /// The stream's latency in input frames.
    latency: usize,
    /// Frames written into the history since the start.
    fed: u64,
    /// The two dot products (with the row before the phase and the difference to the
    /// next) of each output sample of a batch (asynchronous and inexact ratios, where
    /// the sample type has no kernel of its own for the CPU).
    scratch: Vec<S>,
    /// Output frames produced since the start (for the exact stepper's bookkeeping and
    /// for callers aligning streams).
    produced: u64,
    /// Input frames taken since the start.
    consumed: u64,
    /// Run the AVX2 build of the rendering loop ([`crate::simd`]).
    avx2: bool,
    /// Run asynchronous kernels on 16-lane registers ([`Sample::async_frames`]).
    avx512: bool,
}

impl<S: Sample> Resampler<S> {
    /// A fixed-ratio resampler from `from` Hz to `to` Hz. Equal rates give a bypass.
    pub fn new(
        channels: usize,
        from: u32,
        to: u32,
        quality: Quality,
    ) -> Result<Self, ResampleError> {
        Self::build(channels, from, to, quality, false)
    }

    /// An asynchronous resampler: nominally `from` Hz to `to` Hz, with a ratio that
    /// [`set_ratio_adjust`](Self::set_ratio_adjust) moves by up to ±1 % while running.
    /// Never a bypass, even at equal nominal rates, since the clocks behind them drift.
    pub fn new_async(
        channels: usize,
        from: u32,
        to: u32,
        quality: Quality,
    ) -> Result<Self, ResampleError> {
        Self::build(channels, from, to, quality, true)
    }

    fn build(
        channels: usize,
        from: u32,
        to: u32,
        quality: Quality,
        asynchronous: bool,
    ) -> Result<Self, ResampleError> {
        for rate in [from, to] {
            if rate == 0 || rate > 1_000_000 {
                return Err(ResampleError::Rate(rate));
            }
        }
        if from.max(to) > from.min(to).saturating_mul(MAX_RATIO) {
            return Err(ResampleError::Ratio { from, to });
        }
        if channels == 0 || channels > MAX_CHANNELS {
            return Err(ResampleError::Channels(channels));
        }

        // Fixed-ratio `high` and `best` run in two stages (see `sharp`): the kernel then
        // converts the first stage's output, at `factor` times the input rate, with a
        // wide transition band. Factor 2 widens it to over half that rate; where the
        // input rate is well above the output's, the band is wide enough at factor 1.
        // Where the input rate is a power-of-two multiple of the output's, the first stage
        // computes only the frames kept and the second has nothing left to do.
        let two_stage = !asynchronous && from != to && quality != Quality::Fast;
        let factor: u32 = if two_stage && from < 2 * to { 2 } else { 1 };
        let decimate: u32 = match from / to {
            d if two_stage && d * to == from && d.is_power_of_two() && d <= 16 => d,
            _ => 1,
        };
        let (attenuation, fine_rows) = quality.design();
        let kernel_from = factor * from / decimate;
        let band = if two_stage {
            band_after_sharp(from, to, factor)
        } else {
            band(from, to)
        };
        let g = gcd(u64::from(kernel_from), u64::from(to));
        let (up, down) = (u64::from(to) / g, u64::from(kernel_from) / g);
        let exact = !asynchronous && (quality == Quality::Fast || up <= MAX_EXACT_PHASES);

        let kernel = if !asynchronous && from == to {
            Kernel::Bypass
        } else {
            match quality {
                Quality::Fast => Kernel::Linear,
                // The first stage's rate is a multiple of the output's: every output frame
                // is one of its frames.
                Quality::High | Quality::Best if two_stage && up == 1 => Kernel::Pick,
                Quality::High | Quality::Best => {
                    let rows = if exact { up as usize } else { fine_rows };
                    // The asynchronous kernels want rows that start cache lines (16
                    // taps: whole 16-lane registers, pairs of 8-lane ones).
                    let multiple = if !exact && crate::simd::avx2_fma() {
                        16
                    } else {
                        LANES
                    };
                    let (table, taps) = sinc_table(band, attenuation, rows, multiple, !exact);
                    Kernel::Sinc { table, taps, rows }
                }
            }
        };

        let (span, lookahead) = match &kernel {
            Kernel::Bypass => (1, 0),
            Kernel::Linear => (2, 1),
            Kernel::Pick => (1, 0),
            // The kernel is 2·half taps left-padded to a multiple of LANES; its last tap
            // sits `half` frames past t(n).
            Kernel::Sinc { taps, .. } => (*taps, half_width(band, attenuation)),
        };
        let pre = two_stage.then(|| {
            let lower_nyquist = 0.5 * f64::from(from.min(to));
            Box::new(Sharp::new(
                channels,
                from,
                (factor as usize, decimate as usize),
                lower_nyquist,
                attenuation,
            ))
        });
        // With a first stage, its frame j (input time j/2) enters the history only once
        // the input has reached j/2 + hold: by then the block holding it has surely run
        // (a block ends at most `hop` frames after its first frame, and the filter's delay
        // after that), so output follows input frame by frame, never in blocks.
        let hold = pre.as_ref().map_or(0, |p| p.hop() + p.delay());
        let latency = if pre.is_some() {
            // The kernel's look-ahead is in frames of the first stage's output.
            hold + (lookahead * decimate as usize).div_ceil(factor as usize) + 1
        } else {
            lookahead
        };
        let stepper = if exact {
            Stepper::Exact {
                phase: 0,
                den: up,
                whole: (down / up) as usize,
                step: down % up,
                inv_den: 1.0 / up as f64,
            }
        } else {
            let nominal = f64::from(kernel_from) / f64::from(to);
            Stepper::Async {
                phase: 0,
                step: to_fixed(nominal),
                step_now: nominal,
                step_target: nominal,
                nominal,
                adjustable: asynchronous,
            }
        };

        let cap = span + CHUNK;
        // Frames before input frame 0 are silence: pre-fill so the first kernel has them.
        let prefill = span - lookahead - 1;
        let scratch = match (&kernel, &stepper) {
            (Kernel::Sinc { .. }, Stepper::Async { .. }) => {
                vec![S::default(); RENDER_BATCH * channels * 2]
            }
            _ => Vec::new(),
        };
        Ok(Resampler {
            channels,
            from,
            to,
            quality,
            kernel,
            stepper,
            history: vec![S::default(); channels * cap],
            cap,
            len: prefill,
            index: 0,
            span,
            lookahead,
            pre,
            hold,
            latency,
            fed: 0,
            scratch,
            produced: 0,
            consumed: 0,
            avx2: crate::simd::avx2_fma(),
            avx512: crate::simd::avx512(),
        })
    }

    /// Channels per frame.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Input rate in Hz.
    pub fn input_rate(&self) -> u32 {
        self.from
    }

    /// Output rate in Hz.
    pub fn output_rate(&self) -> u32 {
        self.to
    }

    /// The quality asked for.
    pub fn quality(&self) -> Quality {
        self.quality
    }

    /// True when input and output rates are equal and fixed: the caller may hand its
    /// input buffer on instead of calling [`process`](Self::process), which would only
    /// copy it.
    pub fn is_bypass(&self) -> bool {
        matches!(self.kernel, Kernel::Bypass)
    }

    /// True for a resampler made with [`new_async`](Self::new_async).
    pub fn is_async(&self) -> bool {
        matches!(
            self.stepper,
            Stepper::Async {
                adjustable: true,
                ..
            }
        )
    }

    /// Kernel taps per output frame and channel (0 for bypass); with a first stage, the
    /// second stage's taps (the first one's length is [`first_stage_taps`](Self::first_stage_taps)).
    pub fn taps(&self) -> usize {
        match &self.kernel {
            Kernel::Bypass => 0,
            Kernel::Pick => 1,
            Kernel::Linear => 2,
            Kernel::Sinc { taps, .. } => *taps,
        }
    }

    /// Taps of the sharp first stage (at twice the input rate), 0 without one.
    pub fn first_stage_taps(&self) -> usize {
        self.pre.as_ref().map_or(0, |p| p.taps())
    }

    /// Input frames the converter must see past an instant before it can produce the
    /// output frame at that instant: its latency in input frames.
    pub fn lookahead_input_frames(&self) -> usize {
        self.latency
    }

    /// The latency in output frames: [`lookahead_input_frames`](Self::lookahead_input_frames)
    /// at the output rate.
    pub fn delay_output_frames(&self) -> f64 {
        self.latency as f64 * f64::from(self.to) / f64::from(self.from)
    }

    /// The nominal ratio, output rate over input rate.
    pub fn nominal_ratio(&self) -> f64 {
        f64::from(self.to) / f64::from(self.from)
    }

    /// The ratio in effect right now (output frames per input frame).
    pub fn current_ratio(&self) -> f64 {
        match &self.stepper {
            Stepper::Exact {
                den, whole, step, ..
            } => self.stage_factor() * *den as f64 / (*whole as u64 * *den + *step) as f64,
            Stepper::Async { step_now, .. } => self.stage_factor() / step_now,
        }
    }

    /// Moves an asynchronous stream's ratio to `nominal × factor`, `factor` clamped to
    /// 1 ± [`MAX_ADJUST`]. The ratio glides there over a few milliseconds, so a drift
    /// controller may call this every period without clicks. Ignored for a fixed ratio.
    pub fn set_ratio_adjust(&mut self, factor: f64) {
        if let Stepper::Async {
            step_target,
            nominal,
            adjustable: true,
            ..
        } = &mut self.stepper
        {
            let factor = if factor.is_finite() { factor } else { 1.0 };
            let factor = factor.clamp(1.0 - MAX_ADJUST, 1.0 + MAX_ADJUST);
            // A higher output ratio means a smaller step through the input.
            *step_target = *nominal / factor;
        }
    }

    /// The input time, in input frames since the start, of the next output frame.
    pub fn next_output_time(&self) -> f64 {
        let frac = match &self.stepper {
            Stepper::Exact { phase, den, .. } => *phase as f64 / *den as f64,
            Stepper::Async { phase, .. } => *phase as f64 * FRAC_SCALE,
        };
        // History index `index` holds input frame `consumed - len + index` shifted by the
        // kernel's left half.
        let first_tap = self.fed as f64 - self.len as f64 + self.index as f64;
        (first_tap + (self.span - self.lookahead) as f64 - 1.0 + frac) / self.stage_factor()
    }

    /// Frames of the history per input frame: the first stage's ratio, or 1.
    fn stage_factor(&self) -> f64 {
        self.pre.as_ref().map_or(1.0, |p| {
            let (up, down) = p.ratio();
            up as f64 / down as f64
        })
    }

    /// Output frames produced so far.
    pub fn output_frames_total(&self) -> u64 {
        self.produced
    }

    /// Input frames consumed so far.
    pub fn input_frames_total(&self) -> u64 {
        self.consumed
    }

    /// An output buffer of this many frames always takes everything `input_frames` of
    /// input can produce in one call.
    pub fn max_output_frames(&self, input_frames: usize) -> usize {
        let ratio = self.nominal_ratio() * (1.0 + MAX_ADJUST);
        (input_frames as f64 * ratio).ceil() as usize + 2
    }

    /// Back to the state of a new resampler (silence in the history, position 0).
    pub fn reset(&mut self) {
        self.history.fill(S::default());
        self.len = if matches!(self.kernel, Kernel::Bypass) {
            0
        } else {
            self.span - self.lookahead - 1
        };
        self.index = 0;
        self.produced = 0;
        self.consumed = 0;
        self.fed = 0;
        if let Some(pre) = &mut self.pre {
            pre.reset();
        }
        match &mut self.stepper {
            Stepper::Exact { phase, .. } => *phase = 0,
            Stepper::Async {
                phase,
                step,
                step_now,
                step_target,
                nominal,
                ..
            } => {
                *phase = 0;
                *step_now = *nominal;
                *step_target = *nominal;
                *step = to_fixed(*nominal);
            }
        }
    }

    /// Converts interleaved `input` into interleaved `output`.
    ///
    /// Takes input until it is all consumed or `output` is full, whichever comes first,
    /// and says how much of each it used; call again with the rest. An output of
    /// [`max_output_frames`](Self::max_output_frames) always takes everything. Never
    /// allocates.
    pub fn process(&mut self, input: &[S], output: &mut [S]) -> Processed {
        let ch = self.channels;
        debug_assert_eq!(input.len() % ch, 0, "input is not whole frames");
        let in_frames = input.len() / ch;
        let out_frames = output.len() / ch;

        if matches!(self.kernel, Kernel::Bypass) {
            let n = in_frames.min(out_frames);
            output[..n * ch].copy_from_slice(&input[..n * ch]);
            self.consumed += n as u64;
            self.produced += n as u64;
            self.fed += n as u64;
            return Processed {
                input_frames: n,
                output_frames: n,
            };
        }

        if self.pre.is_some() {
            return self.process_two_stage(input, output);
        }
        let mut done = Processed::default();
        loop {
            done.output_frames += self.render(&mut output[done.output_frames * ch..]);
            if done.output_frames == out_frames || done.input_frames == in_frames {
                break;
            }
            self.compact();
            let n = self.fill(&input[done.input_frames * ch..]);
            done.input_frames += n;
            self.fed += n as u64;
        }
        self.consumed += done.input_frames as u64;
        self.produced += done.output_frames as u64;
        done
    }

    /// [`process`](Self::process) through the first stage: input goes into its blocks,
    /// its output into the history as far as the hold allows.
    fn process_two_stage(&mut self, input: &[S], output: &mut [S]) -> Processed {
        let ch = self.channels;
        let in_frames = input.len() / ch;
        let out_frames = output.len() / ch;
        let mut done = Processed::default();
        loop {
            done.output_frames += self.render(&mut output[done.output_frames * ch..]);
            if done.output_frames == out_frames {
                break;
            }
            self.compact();
            let Some(pre) = self.pre.as_mut() else {
                unreachable!("two-stage processing has a first stage")
            };
            // First-stage frames released by the input taken so far.
            let consumed = self.consumed + done.input_frames as u64;
            let (up, down) = pre.ratio();
            let released = up as u64 * consumed.saturating_sub(self.hold as u64) / down as u64;
            let wanted = (released - self.fed.min(released)) as usize;
            let room = self.cap - self.len;
            if wanted > 0 && room > 0 {
                if pre.ready() == 0 && pre.run() {
                    continue;
                }
                let n = pre.take(wanted.min(room), &mut self.history, self.cap, self.len);
                if n > 0 {
                    self.len += n;
                    self.fed += n as u64;
                    continue;
                }
            }
            if done.input_frames == in_frames {
                break;
            }
            if pre.room() == 0 && !pre.run() {
                // The block is full and its predecessor not yet taken: cannot happen,
                // the hold releases all of a block before the next one fills.
                debug_assert!(false, "first stage stalled");
                break;
            }
            done.input_frames += pre.push(&input[done.input_frames * ch..]);
        }
        self.consumed += done.input_frames as u64;
        self.produced += done.output_frames as u64;
        done
    }

    /// Drops history frames no kernel will read again.
    fn compact(&mut self) {
        let drop = self.index.min(self.len);
        if drop == 0 {
            return;
        }
        let keep = self.len - drop;
        for c in 0..self.channels {
            let base = c * self.cap;
            self.history.copy_within(base + drop..base + self.len, base);
        }
        // Both fall by `drop`, so consumed - len + index (the stream time of the next
        // kernel) is unchanged.
        self.len = keep;
        self.index -= drop;
    }

    /// Deinterleaves as much of `input` as fits into the history.
    fn fill(&mut self, input: &[S]) -> usize {
        let ch = self.channels;
        let n = (self.cap - self.len).min(input.len() / ch);
        deinterleave(&input[..n * ch], ch, &mut self.history, self.cap, self.len);
        self.len += n;
        n
    }

    /// Produces output frames while the history covers the next kernel.
    fn render(&mut self, output: &mut [S]) -> usize {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is only set when `simd::avx2_fma` found AVX2 and FMA on this
            // CPU.
            return unsafe { self.render_avx2(output) };
        }
        self.render_any::<false>(output)
    }

    /// [`render`](Self::render) compiled for AVX2 (8-lane dot products).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn render_avx2(&mut self, output: &mut [S]) -> usize {
        self.render_any::<true>(output)
    }

    /// Exact phases, one table row per frame, nothing computed that it does not use;
    /// `TAPS` is the kernel's length when known at compile time, else 0.
    #[inline(always)]
    fn render_exact<const AVX2: bool, const TAPS: usize>(&mut self, output: &mut [S]) -> usize {
        let ch = self.channels;
        let max = output.len() / ch;
        let (
            Kernel::Sinc { table, taps, .. },
            Stepper::Exact {
                phase,
                den,
                whole,
                step,
                ..
            },
        ) = (&self.kernel, &mut self.stepper)
        else {
            unreachable!("called for exact sinc kernels only")
        };
        let taps = if TAPS > 0 { TAPS } else { *taps };
        let (mut at, mut index) = (*phase, self.index);
        let mut n = 0;
        // Frames are planned in batches (row and history position of each), then
        // their output samples computed four at a time in output order, whatever the
        // channel count: four dot products share one horizontal reduction and one
        // store.
        const BATCH: usize = RENDER_BATCH;
        let mut rows = [0usize; BATCH];
        let mut starts = [0usize; BATCH];
        // Positions in units of 1/den of a frame: frame f starts at `index · den + at +
        // f · advance`, and may run while its whole part plus `taps` stays within the
        // history.
        let advance = *whole as u64 * *den + *step;
        while n < max && index + taps <= self.len {
            let end = (self.len - taps + 1) as u64 * *den;
            let ready = (end - (index as u64 * *den + at)).div_ceil(advance) as usize;
            let m = ready.min(BATCH).min(max - n);
            for (row, start) in rows[..m].iter_mut().zip(&mut starts[..m]) {
                *row = at as usize * taps;
                *start = index;
                at += *step;
                index += *whole;
                if at >= *den {
                    at -= *den;
                    index += 1;
                }
            }
            let out = &mut output[n * ch..(n + m) * ch];
            let plan = ExactBatch {
                table,
                taps,
                rows: &rows[..m],
                starts: &starts[..m],
                history: &self.history,
                cap: self.cap,
            };
            // The common channel counts with the count known at compile time: each
            // sample's frame and channel come without bookkeeping (13-16 % faster).
            match ch {
                1 => plan.quads::<1, AVX2>(out),
                2 => plan.quads::<2, AVX2>(out),
                4 => plan.quads::<4, AVX2>(out),
                8 => plan.quads::<8, AVX2>(out),
                _ => {
                    // (frame in batch, channel) of the next output sample.
                    let (mut f, mut c) = (0, 0);
                    let slot = |f: &mut usize, c: &mut usize| {
                        let coeffs = &table[rows[*f]..rows[*f] + taps];
                        let start = *c * self.cap + starts[*f];
                        let hist = &self.history[start..start + taps];
                        *c += 1;
                        if *c == ch {
                            *c = 0;
                            *f += 1;
                        }
                        (coeffs, hist)
                    };
                    let mut chunks = out.chunks_exact_mut(4);
                    for quad in &mut chunks {
                        let (c0, h0) = slot(&mut f, &mut c);
                        let (c1, h1) = slot(&mut f, &mut c);
                        let (c2, h2) = slot(&mut f, &mut c);
                        let (c3, h3) = slot(&mut f, &mut c);
                        let sums = S::dot4([c0, c1, c2, c3], [h0, h1, h2, h3], AVX2);
                        quad.copy_from_slice(&sums);
                    }
                    for y in chunks.into_remainder() {
                        let (coeffs, hist) = slot(&mut f, &mut c);
                        *y = S::dot(coeffs, hist, AVX2);
                    }
                }
            }
            n += m;
        }
        *phase = at;
        self.index = index;
        n
    }

    /// The rendering loop, compiled into both builds.
    #[inline(always)]
    fn render_any<const AVX2: bool>(&mut self, output: &mut [S]) -> usize {
        let ch = self.channels;
        let max = output.len() / ch;
        if let (Kernel::Pick, Stepper::Exact { whole, .. }) = (&self.kernel, &self.stepper) {
            let step = *whole;
            // The next frame may lie past the history's end (the last pick stepped over
            // it): then there is nothing to take yet.
            let n = max.min(self.len.saturating_sub(self.index).div_ceil(step));
            if n == 0 {
                return 0;
            }
            let out = &mut output[..n * ch];
            let (history, cap, at) = (&self.history[..], self.cap, self.index);
            // Every frame (the first stage computed only those): interleaving, with the
            // common channel counts known at compile time (vectorised: 96 to 48 kHz
            // stereo spent 13 % of its time here, frame by frame).
            match (step, ch) {
                (1, 1) => out.copy_from_slice(&history[at..at + n]),
                (1, 2) => interleave::<S, 2>(history, cap, at, out),
                (1, 4) => interleave::<S, 4>(history, cap, at, out),
                (1, 8) => interleave::<S, 8>(history, cap, at, out),
                _ => {
                    for c in 0..ch {
                        let src = &history[c * cap + at..][..(n - 1) * step + 1];
                        for k in 0..n {
                            out[k * ch + c] = src[k * step];
                        }
                    }
                }
            }
            self.index += n * step;
            return n;
        }
        // The common case on its own: exact phases, one table row per frame. The
        // second stage's kernel length is known at compile time, so its dot products
        // unroll completely.
        if let (Kernel::Sinc { taps, .. }, Stepper::Exact { .. }) = (&self.kernel, &self.stepper) {
            return match *taps {
                24 => self.render_exact::<AVX2, 24>(output),
                _ => self.render_exact::<AVX2, 0>(output),
            };
        }
        // Asynchronous (or inexact) phases: each frame's kernel is interpolated between
        // the two table rows either side of its phase (`a + w·d`, see `sinc_table`).
        // Where `S::async_frames` has no kernel for the CPU, each output sample is that
        // combination of the dot products with `a` and `d` (the same value, without
        // building the row).
        if let (Kernel::Sinc { table, taps, rows }, Stepper::Async { .. }) =
            (&self.kernel, &self.stepper)
        {
            let taps = *taps;
            let shift = FRAC_BITS - rows.trailing_zeros();
            let mask = (1u64 << shift) - 1;
            let scale = pow2_neg(shift);
            let mut row_at = [0usize; RENDER_BATCH];
            let mut weight = [S::default(); RENDER_BATCH];
            let mut starts = [0usize; RENDER_BATCH];
            let mut n = 0;
            while n < max && self.index + taps <= self.len {
                let mut m = 0;
                while m < RENDER_BATCH && n + m < max && self.index + taps <= self.len {
                    let Stepper::Async { phase, .. } = &self.stepper else {
                        unreachable!("matched above")
                    };
                    row_at[m] = (phase >> shift) as usize * 2 * taps;
                    weight[m] = S::of_f64((phase & mask) as f64 * scale);
                    starts[m] = self.index;
                    step(&mut self.stepper, &mut self.index);
                    m += 1;
                }
                let frames = AsyncFrames {
                    table,
                    taps,
                    row_at: &row_at[..m],
                    weight: &weight[..m],
                    starts: &starts[..m],
                    history: &self.history,
                    cap: self.cap,
                    channels: ch,
                };
                let out = &mut output[n * ch..(n + m) * ch];
                if S::async_frames(&frames, out, self.avx512, AVX2) {
                    n += m;
                    continue;
                }
                let dots = &mut self.scratch[..m * ch * 2];
                // (frame in batch, channel, row a or d) of the next dot product.
                let (mut f, mut c, mut k) = (0, 0, 0);
                let slot = |f: &mut usize, c: &mut usize, k: &mut usize| {
                    let at = row_at[*f] + *k * taps;
                    let start = *c * self.cap + starts[*f];
                    let pair = (&table[at..at + taps], &self.history[start..start + taps]);
                    *k += 1;
                    if *k == 2 {
                        *k = 0;
                        *c += 1;
                        if *c == ch {
                            *c = 0;
                            *f += 1;
                        }
                    }
                    pair
                };
                let mut chunks = dots.chunks_exact_mut(4);
                for quad in &mut chunks {
                    let (c0, h0) = slot(&mut f, &mut c, &mut k);
                    let (c1, h1) = slot(&mut f, &mut c, &mut k);
                    let (c2, h2) = slot(&mut f, &mut c, &mut k);
                    let (c3, h3) = slot(&mut f, &mut c, &mut k);
                    quad.copy_from_slice(&S::dot4([c0, c1, c2, c3], [h0, h1, h2, h3], AVX2));
                }
                for y in chunks.into_remainder() {
                    let (coeffs, hist) = slot(&mut f, &mut c, &mut k);
                    *y = S::dot(coeffs, hist, AVX2);
                }
                let out = &mut output[n * ch..(n + m) * ch];
                for ((frame, pairs), &w) in out
                    .chunks_exact_mut(ch)
                    .zip(dots.chunks_exact(2 * ch))
                    .zip(&weight[..m])
                {
                    for (y, d) in frame.iter_mut().zip(pairs.chunks_exact(2)) {
                        *y = d[0] + w * d[1];
                    }
                }
                n += m;
            }
            return n;
        }
        // Linear interpolation.
        let mut n = 0;
        while n < max && self.index + self.span <= self.len {
            let frac = match &self.stepper {
                Stepper::Exact { phase, inv_den, .. } => *phase as f64 * inv_den,
                Stepper::Async { phase, .. } => *phase as f64 * FRAC_SCALE,
            };
            let f = S::of_f64(frac);
            let frame = &mut output[n * ch..(n + 1) * ch];
            for (c, out) in frame.iter_mut().enumerate() {
                let x = &self.history[c * self.cap + self.index..];
                *out = x[0] + f * (x[1] - x[0]);
            }
            step(&mut self.stepper, &mut self.index);
            n += 1;
        }
        n
    }
}

/// A batch of exact-phase output frames, planned: frame `f` takes the table row from
/// `rows[f]` and reads each channel's history from `starts[f]`.
struct ExactBatch<'a, S> {
    table: &'a [S],
    taps: usize,
    rows: &'a [usize],
    starts: &'a [usize],
    history: &'a [S],
    cap: usize,
}

impl<S: Sample> ExactBatch<'_, S> {
    /// The batch's output samples (`CH` channels) into `out`, in output order, four dot
    /// products per reduction. (Each sum comes out the same whichever of the four it is,
    /// or alone: see [`dot_f32_avx2`].)
    #[inline(always)]
    fn quads<const CH: usize, const AVX2: bool>(&self, out: &mut [S]) {
        let taps = self.taps;
        let row = |i: usize| &self.table[self.rows[i / CH]..][..taps];
        let hist = |i: usize| &self.history[(i % CH) * self.cap + self.starts[i / CH]..][..taps];
        let mut quads = out[..self.rows.len() * CH].chunks_exact_mut(4);
        for (q, quad) in (&mut quads).enumerate() {
            // (Written out: `array::from_fn` here was sometimes left a call per array.)
            let i = 4 * q;
            let coeffs = [row(i), row(i + 1), row(i + 2), row(i + 3)];
            let hists = [hist(i), hist(i + 1), hist(i + 2), hist(i + 3)];
            quad.copy_from_slice(&S::dot4(coeffs, hists, AVX2));
        }
        let done = self.rows.len() * CH / 4 * 4;
        for (k, y) in quads.into_remainder().iter_mut().enumerate() {
            *y = S::dot(row(done + k), hist(done + k), AVX2);
        }
    }
}

/// `out.len() / CH` frames of the planar `history` (channel `c` from `c · cap + at`),
/// interleaved into `out`.
#[inline(always)]
fn interleave<S: Copy, const CH: usize>(history: &[S], cap: usize, at: usize, out: &mut [S]) {
    let n = out.len() / CH;
    let src: [&[S]; CH] = std::array::from_fn(|c| &history[c * cap + at..][..n]);
    for (k, frame) in out.chunks_exact_mut(CH).enumerate() {
        for (y, channel) in frame.iter_mut().zip(&src) {
            *y = channel[k];
        }
    }
}

/// The frames of the interleaved `input` (`ch` channels) into the planar `planes`
/// (channel `c` from `c · stride + at`).
#[inline]
fn deinterleave<S: Copy>(input: &[S], ch: usize, planes: &mut [S], stride: usize, at: usize) {
    let n = input.len() / ch;
    // The common channel counts with the count known at compile time, so that the
    // compiler vectorises them (96 to 48 kHz stereo, fixed ratio, 12-15 % faster).
    match ch {
        1 => planes[at..at + n].copy_from_slice(input),
        2 => deinterleave_n::<S, 2>(input, planes, stride, at),
        4 => deinterleave_n::<S, 4>(input, planes, stride, at),
        8 => deinterleave_n::<S, 8>(input, planes, stride, at),
        _ => {
            for c in 0..ch {
                let dst = &mut planes[c * stride + at..][..n];
                for (d, frame) in dst.iter_mut().zip(input.chunks_exact(ch)) {
                    *d = frame[c];
                }
            }
        }
    }
}

/// [`deinterleave`] for `CH` channels.
#[inline(always)]
fn deinterleave_n<S: Copy, const CH: usize>(
    input: &[S],
    planes: &mut [S],
    stride: usize,
    at: usize,
) {
    let n = input.len() / CH;
    let mut rest = &mut planes[at..];
    let mut dst: [&mut [S]; CH] = std::array::from_fn(|c| {
        let (plane, tail) =
            std::mem::take(&mut rest).split_at_mut(if c + 1 < CH { stride } else { n });
        rest = tail;
        &mut plane[..n]
    });
    for (k, frame) in input.chunks_exact(CH).enumerate() {
        for (plane, &x) in dst.iter_mut().zip(frame) {
            plane[k] = x;
        }
    }
}

/// Moves `index` and the stepper's phase on by one output frame.
#[inline(always)]
fn step(stepper: &mut Stepper, index: &mut usize) {
    match stepper {
        Stepper::Exact {
            phase,
            den,
            whole,
            step,
            ..
        } => {
            *phase += *step;
            *index += *whole;
            if *phase >= *den {
                *phase -= *den;
                *index += 1;
            }
        }
        Stepper::Async {
            phase,
            step,
            step_now,
            step_target,
            ..
        } => {
            *phase += *step;
            *index += (*phase >> FRAC_BITS) as usize;
            *phase &= (1 << FRAC_BITS) - 1;
            if *step_now != *step_target {
                let next = *step_now + (*step_target - *step_now) / GLIDE_FRAMES;
                // Land exactly once the remaining distance is below one step unit.
                *step_now = if to_fixed((next - *step_target).abs()) == 0 {
                    *step_target
                } else {
                    next
                };
                *step = to_fixed(*step_now);
            }
        }
    }
}

/// 2^-n, built from its exponent bits (exact, no division on the audio path).
#[inline]
fn pow2_neg(n: u32) -> f64 {
    f64::from_bits(u64::from(1023 - n) << 52)
}

fn to_fixed(step: f64) -> u64 {
    (step * (1u64 << FRAC_BITS) as f64).round() as u64
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Dot product in `LANES` independent partial sums, so it vectorises; both slices are a
/// multiple of `LANES` long.
#[inline(always)]
fn dot<S: Sample>(a: &[S], b: &[S]) -> S {
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

/// Kernel half-width in input frames: the Kaiser length for `attenuation` dB over a
/// transition band from 0.9 to 1.0 × the lower Nyquist frequency.
fn half_width((transition, _): (f64, f64), attenuation: f64) -> usize {
    let length = (attenuation - 7.95) / (14.36 * transition) + 1.0;
    (length / 2.0).ceil() as usize
}

/// (transition width, cutoff), both in cycles per input frame.
fn band(from: u32, to: u32) -> (f64, f64) {
    let lower_nyquist = 0.5 * f64::from(from.min(to)) / f64::from(from);
    (0.1 * lower_nyquist, 0.95 * lower_nyquist)
}

/// The band of the second stage, which converts the first stage's output (at `factor ·
/// from`, nothing left above the lower Nyquist frequency `c`): flat to `0.9 c` as
/// before, but it only has to stop the images of that band, which begin at `factor ·
/// from - c`. In cycles per frame at `factor · from`; the transition is at least 0.4 of
/// that rate wide (factor 1 is only chosen where `from >= 2 · to`).
fn band_after_sharp(from: u32, to: u32, factor: u32) -> (f64, f64) {
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
/// (96 to 48 kHz stereo 6-10 % faster, mono up to 8 %). Twice the memory (3 MB at 44.1
/// to 48 kHz), but a stream touches only the rows of the phases it visits, as before;
/// and the difference is rounded once, from the exact rows.
fn sinc_table<S: Sample>(
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
struct CacheAligned<S> {
    buf: Vec<S>,
    start: usize,
    len: usize,
}

impl<S: Copy + Default> CacheAligned<S> {
    const LINE: usize = 64;

    fn zeroed(len: usize) -> Self {
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

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    }
}

/// The modified Bessel function of the first kind, order 0, by its power series
/// (converges quickly for the arguments a Kaiser window uses, below ~20).
fn bessel_i0(x: f64) -> f64 {
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

/// Converts a whole interleaved buffer, aligned (output frame 0 is input frame 0) and
/// exactly `round(frames × to / from)` frames long. Allocates; for offline use.
///
/// ```
/// use troubadour_dsp::resample::{resample_interleaved, Quality};
///
/// let input = vec![0.25f32; 44_100];
/// let output = resample_interleaved(&input, 1, 44_100, 48_000, Quality::High).unwrap();
/// assert_eq!(output.len(), 48_000);
/// assert!((output[24_000] - 0.25).abs() < 1e-6);
/// ```
pub fn resample_interleaved<S: Sample>(
    input: &[S],
    channels: usize,
    from: u32,
    to: u32,
    quality: Quality,
) -> Result<Vec<S>, ResampleError> {
    let mut rs = Resampler::<S>::new(channels, from, to, quality)?;
    let frames = input.len() / channels;
    let target = output_length(frames as u64, from, to) as usize;
    let mut output =
        vec![S::default(); (rs.max_output_frames(frames + rs.lookahead_input_frames())) * channels];
    let done = rs.process(&input[..frames * channels], &mut output);
    let mut produced = done.output_frames;
    let tail = vec![S::default(); rs.lookahead_input_frames() * channels];
    produced += rs
        .process(&tail, &mut output[produced * channels..])
        .output_frames;
    debug_assert!(
        produced >= target,
        "{from} -> {to} {quality:?}: {produced} of {target} frames ({frames} in, latency {})",
        rs.lookahead_input_frames()
    );
    output.truncate(target * channels);
    Ok(output)
}

/// `round(frames × to / from)`: the length of a converted stream.
pub fn output_length(frames: u64, from: u32, to: u32) -> u64 {
    let num = u128::from(frames) * u128::from(to);
    let den = u128::from(from);
    ((num * 2 + den) / (den * 2)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_stays_constant() {
        for (from, to) in [
            (44_100, 48_000),
            (48_000, 44_100),
            (96_000, 48_000),
            (8_000, 48_000),
        ] {
            for q in [Quality::Fast, Quality::High, Quality::Best] {
                let out = resample_interleaved(&vec![0.5f32; 20_000], 1, from, to, q).unwrap();
                let mid = &out[out.len() / 4..out.len() * 3 / 4];
                for &y in mid {
                    assert!((y - 0.5).abs() < 1e-6, "{from}->{to} {q:?}: {y}");
                }
            }
        }
    }

    #[test]
    fn bypass_copies() {
        let mut rs = Resampler::<f32>::new(2, 48_000, 48_000, Quality::High).unwrap();
        assert!(rs.is_bypass());
        let input: Vec<f32> = (0..64).map(|i| i as f32).collect();
        let mut out = vec![0.0; 64];
        let done = rs.process(&input, &mut out);
        assert_eq!(done.output_frames, 32);
        assert_eq!(out, input);
    }

    #[test]
    fn output_length_rounds() {
        assert_eq!(output_length(44_100, 44_100, 48_000), 48_000);
        assert_eq!(output_length(1, 44_100, 48_000), 1);
        assert_eq!(output_length(3, 48_000, 8_000), 1);
    }

    #[test]
    fn rejects_bad_configurations() {
        assert_eq!(
            Resampler::<f32>::new(2, 0, 48_000, Quality::High).unwrap_err(),
            ResampleError::Rate(0)
        );
        assert!(matches!(
            Resampler::<f32>::new(2, 8_000, 192_000, Quality::High),
            Err(ResampleError::Ratio { .. })
        ));
        assert_eq!(
            Resampler::<f32>::new(0, 48_000, 44_100, Quality::High).unwrap_err(),
            ResampleError::Channels(0)
        );
    }

    #[test]
    fn output_time_tracks_the_ratio() {
        let mut rs = Resampler::<f32>::new(1, 44_100, 48_000, Quality::High).unwrap();
        let mut out = vec![0.0; 4096];
        rs.process(&vec![0.0; 2000], &mut out);
        let n = rs.output_frames_total() as f64;
        assert!((rs.next_output_time() - n * 44_100.0 / 48_000.0).abs() < 1e-9);
    }
}

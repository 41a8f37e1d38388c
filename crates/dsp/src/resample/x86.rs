//! The resampler's x86-64 kernels for f32: dot products on 8-lane registers with fused
//! multiply-adds, and the asynchronous kernels that build each frame's interpolated row
//! once, on 8 or 16 lanes. Reached only with the tokens of [`crate::simd`].

use super::LANES;
use super::sample::{AsyncFrames, dot, sealed};
use crate::simd::{Avx2Fma, Avx512};

impl sealed::Kernels for f32 {
    #[inline(always)]
    fn dot(a: &[Self], b: &[Self], avx2: Option<Avx2Fma>) -> Self {
        match avx2 {
            // SAFETY: the token proves this CPU has AVX2 and FMA.
            Some(_) => unsafe { dot_f32_avx2(a, b) },
            None => dot(a, b),
        }
    }
    #[inline(always)]
    fn dot4(a: [&[Self]; 4], b: [&[Self]; 4], avx2: Option<Avx2Fma>) -> [Self; 4] {
        match avx2 {
            // SAFETY: the token proves this CPU has AVX2 and FMA.
            Some(_) => unsafe { dot4_f32_avx2(a, b) },
            None => std::array::from_fn(|k| dot(a[k], b[k])),
        }
    }
    #[inline(always)]
    fn async_frames(
        frames: &AsyncFrames<'_, Self>,
        out: &mut [Self],
        avx512: Option<Avx512>,
        avx2: Option<Avx2Fma>,
    ) -> bool {
        if avx512.is_some() {
            // SAFETY: the token proves this CPU has AVX-512F, AVX2 and FMA.
            unsafe { async_frames_f32_avx512(frames, out) };
            return true;
        }
        if avx2.is_some() {
            // SAFETY: the token proves this CPU has AVX2 and FMA.
            unsafe { async_frames_f32_avx2(frames, out) };
            return true;
        }
        false
    }
}

/// Runs [`group_frames`] over the channels of `$frames` in groups of up to
/// [`MAX_GROUP`], each with `$kernel::<N>` for its size `N`, inside the calling function
/// (so that the kernels inherit its target features).
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
const MAX_GROUP: usize = 8;

/// Channels `c..c + N` of each frame of `frames` into `out`: `kernel(rows, w,
/// histories)` gives each channel's vector of partial sums of its dot product with the
/// row `a + w·d` of the pair `rows = a, d`; `reduce4` sums four such vectors at once.
///
/// The vectors are summed four at a time, across frames for one or two channels: one
/// reduction per four mono frames or two stereo ones, where each frame used to pay for a
/// whole one. A vector's sum does not depend on its place among the four (the reductions
/// treat their inputs alike), so output stays independent of chunking.
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

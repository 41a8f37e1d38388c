//! The EQ's x86-64 kernels: the wavefront in AVX2 and AVX-512 registers, several
//! channels' recursions interleaved. Reached only with the tokens of [`crate::simd`].

use super::wave::{MulAdd, Wave, lanes};
use super::{Channel, LaneCoefs, block, pair_in_blocks};
use crate::simd::{Avx2Fma, Avx512};

/// `a × b + c` with one rounding: only inside functions compiled for FMA.
pub(super) struct Fused;

impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add(a: f64, b: f64, c: f64) -> f64 {
        a.mul_add(b, c)
    }
}

/// Four bands of `C` channels (1, 2 or 4) as wavefronts in AVX2 registers, one 4-lane
/// vector per state, the channels' independent recursions interleaved step by step (each
/// with its own coefficients: the channels may belong to different EQs). One chain waits
/// on its recursion's latency; four in flight keep the FMA units busy.
#[target_feature(enable = "avx2,fma")]
fn wavefront_avx<const C: usize>(
    ks: [&[[f64; 4]; 5]; C],
    waves: &mut [Wave<4>; C],
    chans: &mut [&mut [f32]; C],
) {
    use std::arch::x86_64::*;
    let n = chans[0].len();
    for ((w, chan), k) in waves.iter_mut().zip(chans.iter_mut()).zip(ks) {
        w.fill::<Fused>(k, chan);
    }
    if n > 3 {
        let v = |a: &[f64; 4]| _mm256_set_pd(a[3], a[2], a[1], a[0]);
        let coefs: [[__m256d; 5]; C] = std::array::from_fn(|c| ks[c].each_ref().map(v));
        let mut z1: [__m256d; C] = std::array::from_fn(|c| v(&waves[c].z1));
        let mut z2: [__m256d; C] = std::array::from_fn(|c| v(&waves[c].z2));
        let mut y: [__m256d; C] = std::array::from_fn(|c| v(&waves[c].y));
        for t in 3..n {
            for c in 0..C {
                // x = [input, y0, y1, y2]: the lanes move up one band.
                let [b0, b1, b2, na1, na2] = coefs[c];
                let input = _mm256_set1_pd(f64::from(chans[c][t]));
                let x = _mm256_blend_pd(_mm256_permute4x64_pd(y[c], 0b10_01_00_00), input, 0b0001);
                let out = _mm256_fmadd_pd(b0, x, z1[c]);
                z1[c] = _mm256_fmadd_pd(na1, out, _mm256_fmadd_pd(b1, x, z2[c]));
                z2[c] = _mm256_fmadd_pd(na2, out, _mm256_mul_pd(b2, x));
                y[c] = out;
                let high = _mm256_extractf128_pd(out, 1);
                chans[c][t - 3] = _mm_cvtsd_f64(_mm_unpackhi_pd(high, high)) as f32;
            }
        }
        let array = |r: __m256d| {
            let mut a = [0.0f64; 4];
            // SAFETY: `a` is 4 f64 (32 bytes), what an unaligned 256-bit store writes.
            unsafe { _mm256_storeu_pd(a.as_mut_ptr(), r) };
            a
        };
        for c in 0..C {
            waves[c] = Wave {
                z1: array(z1[c]),
                z2: array(z2[c]),
                y: array(y[c]),
            };
        }
    }
    for ((w, chan), k) in waves.iter_mut().zip(chans.iter_mut()).zip(ks) {
        w.drain::<Fused>(k, chan);
    }
}

/// Steps of [`wavefront_avx512`] between its vector passes over the input and output.
const STEPS: usize = 64;

/// `2R` channels' wavefronts (four bands each) in `R` AVX-512 registers, two channels
/// per register (lanes 0..4 and 4..8): the same multiply-adds lane for lane as
/// [`wavefront_avx`], so the same output bit for bit, with half the instructions. The
/// per-step shuffles that fed the AVX2 kernel (input broadcast, output extraction) leave
/// the loop: the input is widened to f64 pairs and the last band's outputs narrowed in
/// vector-friendly passes of [`STEPS`] frames, leaving one permute per register and step
/// (which moves the lanes up one band and brings in both inputs). Each register is one
/// loop-carried chain: two leave the FMA units half idle, four (eight channels) fill
/// them.
#[target_feature(enable = "avx512f,avx2,fma")]
fn wavefront_avx512<const R: usize>(
    ks: &[&[[f64; 4]; 5]],
    waves: &mut [Wave<4>],
    chans: &mut [&mut [f32]],
) {
    use std::arch::x86_64::*;
    assert!(
        ks.len() == 2 * R && waves.len() == 2 * R && chans.len() == 2 * R,
        "two channels per register"
    );
    let n = chans[0].len();
    assert!(chans.iter().all(|c| c.len() == n), "channels of one length");
    for ((w, chan), k) in waves.iter_mut().zip(chans.iter_mut()).zip(ks) {
        w.fill::<Fused>(k, chan);
    }
    if n > 3 {
        let v = |a: &[f64; 4], b: &[f64; 4]| {
            _mm512_setr_pd(a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3])
        };
        let coefs: [[__m512d; 5]; R] =
            std::array::from_fn(|p| std::array::from_fn(|i| v(&ks[2 * p][i], &ks[2 * p + 1][i])));
        let mut z1: [__m512d; R] =
            std::array::from_fn(|p| v(&waves[2 * p].z1, &waves[2 * p + 1].z1));
        let mut z2: [__m512d; R] =
            std::array::from_fn(|p| v(&waves[2 * p].z2, &waves[2 * p + 1].z2));
        let mut y: [__m512d; R] = std::array::from_fn(|p| v(&waves[2 * p].y, &waves[2 * p + 1].y));
        // x = (input, y0, y1, y2 | input', y4, y5, y6): indices 8 and 9 take the second
        // operand's lanes 0 and 1, the two channels' inputs.
        let shift = _mm512_setr_epi64(8, 0, 1, 2, 9, 4, 5, 6);
        // Scratch written before it is read, step by step: left uninitialised, since
        // zeroing these 10 KB on every call cost more than the EQ's own work on short
        // blocks.
        use std::mem::MaybeUninit;
        let mut ins = [[MaybeUninit::<[f64; 2]>::uninit(); STEPS]; R];
        let mut outs = [[MaybeUninit::<[f64; 8]>::uninit(); STEPS]; R];
        let mut t = 3;
        while t < n {
            let m = (n - t).min(STEPS);
            for (p, pair) in ins.iter_mut().enumerate() {
                let (a, b) = (&chans[2 * p][t..t + m], &chans[2 * p + 1][t..t + m]);
                for ((slot, &x0), &x1) in pair.iter_mut().zip(a).zip(b) {
                    slot.write([f64::from(x0), f64::from(x1)]);
                }
            }
            for j in 0..m {
                for p in 0..R {
                    let [b0, b1, b2, na1, na2] = coefs[p];
                    // SAFETY: `ins[p][j]` (j < m) was written above; it is two f64 (16
                    // bytes), what the load reads.
                    let input = unsafe {
                        _mm512_castpd128_pd512(_mm_loadu_pd(ins[p][j].assume_init_ref().as_ptr()))
                    };
                    let x = _mm512_permutex2var_pd(y[p], shift, input);
                    let out = _mm512_fmadd_pd(b0, x, z1[p]);
                    z1[p] = _mm512_fmadd_pd(na1, out, _mm512_fmadd_pd(b1, x, z2[p]));
                    z2[p] = _mm512_fmadd_pd(na2, out, _mm512_mul_pd(b2, x));
                    y[p] = out;
                    // SAFETY: `outs[p][j]` is room for eight f64 (64 bytes), what the store
                    // writes.
                    unsafe { _mm512_storeu_pd(outs[p][j].as_mut_ptr().cast::<f64>(), out) };
                }
            }
            // The last band's outputs (lanes 3 and 7) are frames three steps back.
            for (p, pair) in outs.iter().enumerate() {
                let [a, b] = &mut chans[2 * p..2 * p + 2] else {
                    unreachable!("two channels per register")
                };
                let (a, b) = (&mut a[t - 3..t - 3 + m], &mut b[t - 3..t - 3 + m]);
                for ((o, ya), yb) in pair[..m].iter().zip(a.iter_mut()).zip(b.iter_mut()) {
                    // SAFETY: steps j < m stored their outputs above.
                    let o = unsafe { o.assume_init_ref() };
                    *ya = o[3] as f32;
                    *yb = o[7] as f32;
                }
            }
            t += m;
        }
        let array = |r: __m512d| {
            let mut a = [0.0f64; 8];
            // SAFETY: `a` is 8 f64 (64 bytes), what an unaligned 512-bit store writes.
            unsafe { _mm512_storeu_pd(a.as_mut_ptr(), r) };
            a
        };
        for p in 0..R {
            let (a1, a2, ay) = (array(z1[p]), array(z2[p]), array(y[p]));
            for (h, w) in waves[2 * p..2 * p + 2].iter_mut().enumerate() {
                let half = |a: &[f64; 8]| std::array::from_fn(|l| a[4 * h + l]);
                *w = Wave {
                    z1: half(&a1),
                    z2: half(&a2),
                    y: half(&ay),
                };
            }
        }
    }
    for ((w, chan), k) in waves.iter_mut().zip(chans.iter_mut()).zip(ks) {
        w.drain::<Fused>(k, chan);
    }
}

/// The same on AVX2 + FMA: four bands per pass, channels four at a time, then in a
/// pair, then alone. When `forms` (the bands' block forms, present while no band glides)
/// is given, a channel left alone runs in block form, and so does a pair where
/// [`pair_in_blocks`] says that is faster.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) fn process_avx(
    _: Avx2Fma,
    k: &LaneCoefs,
    bands: usize,
    forms: Option<&[block::BlockForm]>,
    states: &mut [Channel],
    bufs: &mut [Box<[f32]>],
    start: usize,
    n: usize,
    avx512: Option<Avx512>,
) {
    // Eight channels at a time only on AVX-512 (four chains in flight; on AVX2 the
    // registers run out).
    let octets = if avx512.is_some() {
        states.len() / 8 * 8
    } else {
        0
    };
    let quads = octets + (states.len() - octets) / 4 * 4;
    let pairs = quads + (states.len() - quads) / 2 * 2;
    let run = start..start + n;
    // Channels from `alone` on run in block form, the rest on the wavefront.
    let alone = match forms {
        Some(_) if pair_in_blocks(bands, avx512.is_some()) => quads,
        Some(_) => pairs,
        None => states.len(),
    };
    let pairs = pairs.min(alone);
    if let Some(forms) = forms {
        for (st, buf) in states[alone..].iter_mut().zip(bufs[alone..].iter_mut()) {
            block::filter_channel(forms, &mut st.s1, &mut st.s2, &mut buf[run.clone()], avx512);
        }
    }
    for pass in 0..bands.div_ceil(4) {
        let first = 4 * pass;
        let k4 = lanes::<4>(k, first);
        let run = run.clone();
        groups::<8>(
            &k4,
            &mut states[..octets],
            &mut bufs[..octets],
            first,
            run.clone(),
            avx512,
        );
        groups::<4>(
            &k4,
            &mut states[octets..quads],
            &mut bufs[octets..quads],
            first,
            run.clone(),
            avx512,
        );
        groups::<2>(
            &k4,
            &mut states[quads..pairs],
            &mut bufs[quads..pairs],
            first,
            run.clone(),
            avx512,
        );
        groups::<1>(
            &k4,
            &mut states[pairs..alone],
            &mut bufs[pairs..alone],
            first,
            run,
            avx512,
        );
    }
}

/// Bands `first..first + 4` of `states.len()` channels (a multiple of `C`), `C` at a
/// time, over frames `run` of `bufs`.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn groups<const C: usize>(
    k4: &[[f64; 4]; 5],
    states: &mut [Channel],
    bufs: &mut [Box<[f32]>],
    first: usize,
    run: std::ops::Range<usize>,
    avx512: Option<Avx512>,
) {
    for (st, buf) in states.chunks_exact_mut(C).zip(bufs.chunks_exact_mut(C)) {
        let (Ok(st), Ok(buf)) = (
            <&mut [Channel; C]>::try_from(st),
            <&mut [Box<[f32]>; C]>::try_from(buf),
        ) else {
            unreachable!("chunks of C")
        };
        let chans = buf.each_mut().map(|b| &mut b[run.clone()]);
        group([k4; C], st.each_mut(), chans, first, avx512);
    }
}

/// One wavefront over `C` channels, each with its own coefficients: states loaded from
/// band `first` on, run, stored back.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn group<const C: usize>(
    ks: [&[[f64; 4]; 5]; C],
    states: [&mut Channel; C],
    mut chans: [&mut [f32]; C],
    first: usize,
    avx512: Option<Avx512>,
) {
    let mut waves = states
        .each_ref()
        .map(|s| Wave::load(&s.s1[first..], &s.s2[first..]));
    match (avx512, C) {
        // SAFETY: the token proves this CPU has AVX-512F, AVX2 and FMA.
        (Some(_), 4) => unsafe { wavefront_avx512::<2>(&ks, &mut waves, &mut chans) },
        // SAFETY: as above.
        (Some(_), 8) => unsafe { wavefront_avx512::<4>(&ks, &mut waves, &mut chans) },
        _ => wavefront_avx::<C>(ks, &mut waves, &mut chans),
    }
    for (wave, s) in waves.iter().zip(states) {
        wave.store(&mut s.s1[first..], &mut s.s2[first..]);
    }
}

/// Two stereo EQs of up to four bands (see [`Equalizer::process_pair`]): one 4-chain
/// wavefront over both.
#[target_feature(enable = "avx2,fma")]
pub(super) fn process_pair_avx(
    _: Avx2Fma,
    ks: [&LaneCoefs; 2],
    states: [&mut [Channel]; 2],
    bufs: [&mut [Box<[f32]>]; 2],
    n: usize,
    avx512: Option<Avx512>,
) {
    let [kx, ky] = ks.map(|k| lanes::<4>(k, 0));
    let [sx, sy] = states;
    let [bx, by] = bufs;
    let (([a, b], [c, d]), ([w, x], [y, z])) = ((sx, sy), (bx, by)) else {
        unreachable!("stereo")
    };
    group(
        [&kx, &kx, &ky, &ky],
        [a, b, c, d],
        [&mut w[..n], &mut x[..n], &mut y[..n], &mut z[..n]],
        0,
        avx512,
    );
}

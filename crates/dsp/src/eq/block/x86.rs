//! The block form's kernels on AVX2 and AVX-512 (see the module `block`), reached only
//! with the tokens of [`crate::simd`].

use super::{BlockForm, FRAMES};

/// Frames widened to f64 at a time (the scratch on the stack).
const CHUNK: usize = 256;

impl BlockForm {
    /// The transposed-direct-form state after a block whose last inputs were `x1` (the
    /// last), `x2`, and last outputs `y1`, `y2`.
    fn state_after(&self, [x1, x2]: [f64; 2], [y1, y2]: [f64; 2]) -> [f64; 2] {
        let [_, b1, b2, a1, a2] = self.coef;
        [b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2, b2 * x1 - a2 * y1]
    }
}

/// Filters `chan` through the bands `forms` in series, each band's transposed-direct-
/// form state in `s1[b]`, `s2[b]` (f32 between calls, f64 within one); on AVX-512 given
/// its token, else on AVX2.
#[target_feature(enable = "avx2,fma")]
pub(in crate::eq) fn filter_channel(
    forms: &[BlockForm],
    s1: &mut [f32],
    s2: &mut [f32],
    chan: &mut [f32],
    avx512: Option<crate::simd::Avx512>,
) {
    if avx512.is_some() {
        // SAFETY: the token proves this CPU has AVX-512F, AVX2 and FMA.
        unsafe { filter_channel_avx512(forms, s1, s2, chan) }
    } else {
        chunks(forms, s1, s2, chan, |forms, states, buf| {
            for (m, s) in forms.iter().zip(states.iter_mut()) {
                band(m, s, buf);
            }
        });
    }
}

#[target_feature(enable = "avx512f,avx2,fma")]
fn filter_channel_avx512(forms: &[BlockForm], s1: &mut [f32], s2: &mut [f32], chan: &mut [f32]) {
    chunks(forms, s1, s2, chan, |forms, states, buf| {
        for (m, s) in forms.chunks_exact(2).zip(states.chunks_exact_mut(2)) {
            let [a, b] = s else { unreachable!("pairs") };
            bands_avx512([&m[0], &m[1]], [a, b], buf);
        }
        if forms.len() % 2 == 1 {
            let last = forms.len() - 1;
            bands_avx512([&forms[last]], [&mut states[last]], buf);
        }
    });
}

/// The frame around a band kernel: the channel widened to f64 a chunk at a time, every
/// band run over the chunk, the result narrowed back; states in and out.
#[inline(always)]
fn chunks(
    forms: &[BlockForm],
    s1: &mut [f32],
    s2: &mut [f32],
    chan: &mut [f32],
    bands: impl Fn(&[BlockForm], &mut [[f64; 2]], &mut [f64]),
) {
    let mut state: [[f64; 2]; crate::eq::MAX_BANDS] =
        std::array::from_fn(|b| match (s1.get(b), s2.get(b)) {
            (Some(&a), Some(&c)) => [f64::from(a), f64::from(c)],
            _ => [0.0; 2],
        });
    let mut scratch = [0.0f64; CHUNK];
    for chunk in chan.chunks_mut(CHUNK) {
        let buf = &mut scratch[..chunk.len()];
        for (d, &s) in buf.iter_mut().zip(chunk.iter()) {
            *d = f64::from(s);
        }
        bands(forms, &mut state[..forms.len()], buf);
        for (d, &s) in chunk.iter_mut().zip(buf.iter()) {
            *d = s as f32;
        }
    }
    for ((st, a), c) in state.iter().zip(s1.iter_mut()).zip(s2.iter_mut()) {
        *a = st[0] as f32;
        *c = st[1] as f32;
    }
}

/// `N` bands on AVX-512, in series over `buf` in place, their states `ss`. A block is
/// one register, and every column stays in a register for the whole pass (the AVX2
/// kernel has too few registers and reloads them, which makes loads its limit). Two
/// bands run skewed by one block (the second filters block `k − 1`, which the first
/// finished the step before, while the first filters block `k`), so two loop-carried
/// chains are in flight instead of one.
#[target_feature(enable = "avx512f,avx2,fma")]
fn bands_avx512<const N: usize>(ms: [&BlockForm; N], ss: [&mut [f64; 2]; N], buf: &mut [f64]) {
    use std::arch::x86_64::*;
    let col = |c: &[f64; FRAMES]| {
        // SAFETY: `c` is eight f64, what the unaligned 512-bit load reads.
        unsafe { _mm512_loadu_pd(c.as_ptr()) }
    };
    let blocks = buf.len() / FRAMES;
    let mut last_outputs = [[0.0f64; FRAMES]; N];
    let mut last_inputs = [[0.0f64; 2]; N];
    if blocks > 0 {
        let xs: [[__m512d; FRAMES]; N] = ms.map(|m| std::array::from_fn(|j| col(&m.x[j])));
        let cx1 = ms.map(|m| col(&m.x1));
        let cx2 = ms.map(|m| col(&m.x2));
        let cy1 = ms.map(|m| col(&m.y1));
        let cy2 = ms.map(|m| col(&m.y2));
        let (last, before) = (_mm512_set1_epi64(7), _mm512_set1_epi64(6));
        let zero = _mm512_setzero_pd();
        let (mut x1, mut x2, mut y) = ([zero; N], [zero; N], [zero; N]);
        for k in 0..blocks + N - 1 {
            for i in 0..N {
                let Some(b) = k.checked_sub(i).filter(|&b| b < blocks) else {
                    continue;
                };
                let at = FRAMES * b;
                let x = |j: usize| _mm512_set1_pd(buf[at + j]);
                // The inputs' share of the outputs, two chains.
                let mut acc = [_mm512_mul_pd(xs[i][0], x(0)), _mm512_mul_pd(xs[i][1], x(1))];
                for j in 2..FRAMES {
                    acc[j % 2] = _mm512_fmadd_pd(xs[i][j], x(j), acc[j % 2]);
                }
                let mut out = _mm512_add_pd(acc[0], acc[1]);
                let (n1, n2) = (x(FRAMES - 1), x(FRAMES - 2));
                if b == 0 {
                    let (s1, s2) = (_mm512_set1_pd(ss[i][0]), _mm512_set1_pd(ss[i][1]));
                    out = _mm512_fmadd_pd(col(&ms[i].s1), s1, out);
                    out = _mm512_fmadd_pd(col(&ms[i].s2), s2, out);
                } else {
                    out = _mm512_fmadd_pd(cx2[i], x2[i], _mm512_fmadd_pd(cx1[i], x1[i], out));
                    // The loop-carried part, last: the previous block's last two outputs.
                    let y1 = _mm512_permutexvar_pd(last, y[i]);
                    let y2 = _mm512_permutexvar_pd(before, y[i]);
                    out = _mm512_fmadd_pd(cy1[i], y1, _mm512_fmadd_pd(cy2[i], y2, out));
                }
                let dst = &mut buf[at..at + FRAMES];
                // SAFETY: `dst` is eight f64, what the store writes.
                unsafe { _mm512_storeu_pd(dst.as_mut_ptr(), out) };
                (x1[i], x2[i], y[i]) = (n1, n2, out);
            }
        }
        for i in 0..N {
            // SAFETY: `last_outputs[i]` is eight f64, what the store writes.
            unsafe { _mm512_storeu_pd(last_outputs[i].as_mut_ptr(), y[i]) };
            last_inputs[i] = [_mm512_cvtsd_f64(x1[i]), _mm512_cvtsd_f64(x2[i])];
        }
    }
    for (i, (m, s)) in ms.iter().zip(ss).enumerate() {
        if blocks > 0 {
            let y = &last_outputs[i];
            *s = m.state_after(last_inputs[i], [y[FRAMES - 1], y[FRAMES - 2]]);
        }
        tail(m, s, &mut buf[FRAMES * blocks..]);
    }
}

/// The frames after the last whole block, one at a time, from and back to the state
/// `s` (`s1, s2`).
#[inline(always)]
fn tail(m: &BlockForm, s: &mut [f64; 2], buf: &mut [f64]) {
    let [b0, b1, b2, a1, a2] = m.coef;
    let [mut s1, mut s2] = *s;
    for v in buf.iter_mut() {
        let x = *v;
        let y = b0.mul_add(x, s1);
        s1 = (-a1).mul_add(y, b1.mul_add(x, s2));
        s2 = (-a2).mul_add(y, b2 * x);
        *v = y;
    }
    *s = [s1, s2];
}

/// One band over `buf` in place, from and back to the state `s` (`s1, s2`).
#[target_feature(enable = "avx2,fma")]
fn band(m: &BlockForm, s: &mut [f64; 2], buf: &mut [f64]) {
    use std::arch::x86_64::*;
    // Half `h` (frames 4h..4h + 4) of a column.
    let col = |c: &[f64; FRAMES], h: usize| {
        let c = &c[4 * h..4 * h + 4];
        // SAFETY: `c` is four f64, what the unaligned 256-bit load reads.
        unsafe { _mm256_loadu_pd(c.as_ptr()) }
    };
    let blocks = buf.len() / FRAMES;
    if blocks > 0 {
        // The inputs' share of a block's outputs (frames 0..4 and 4..8), two chains each.
        let inputs = |x: &[__m256d; FRAMES]| {
            let mut lo = [
                _mm256_mul_pd(col(&m.x[0], 0), x[0]),
                _mm256_mul_pd(col(&m.x[1], 0), x[1]),
            ];
            let mut hi = [
                _mm256_mul_pd(col(&m.x[0], 1), x[0]),
                _mm256_mul_pd(col(&m.x[1], 1), x[1]),
            ];
            for j in 2..FRAMES {
                if j < 4 {
                    lo[j % 2] = _mm256_fmadd_pd(col(&m.x[j], 0), x[j], lo[j % 2]);
                }
                hi[j % 2] = _mm256_fmadd_pd(col(&m.x[j], 1), x[j], hi[j % 2]);
            }
            (_mm256_add_pd(lo[0], lo[1]), _mm256_add_pd(hi[0], hi[1]))
        };
        let load = |buf: &[f64], at: usize| -> [__m256d; FRAMES] {
            std::array::from_fn(|j| _mm256_broadcast_sd(&buf[at + j]))
        };
        let store = |buf: &mut [f64], at: usize, lo: __m256d, hi: __m256d| {
            let out = &mut buf[at..at + FRAMES];
            // SAFETY: `out` is eight f64; each store writes four of them.
            unsafe {
                _mm256_storeu_pd(out.as_mut_ptr(), lo);
                _mm256_storeu_pd(out.as_mut_ptr().add(4), hi);
            }
        };
        // The first block starts from the call's state.
        let mut x = load(buf, 0);
        let (mut lo, mut hi) = inputs(&x);
        let (v1, v2) = (_mm256_set1_pd(s[0]), _mm256_set1_pd(s[1]));
        lo = _mm256_fmadd_pd(col(&m.s2, 0), v2, _mm256_fmadd_pd(col(&m.s1, 0), v1, lo));
        hi = _mm256_fmadd_pd(col(&m.s2, 1), v2, _mm256_fmadd_pd(col(&m.s1, 1), v1, hi));
        store(buf, 0, lo, hi);
        for k in 1..blocks {
            let (x1, x2) = (x[FRAMES - 1], x[FRAMES - 2]);
            x = load(buf, FRAMES * k);
            let (mut l, mut h) = inputs(&x);
            l = _mm256_fmadd_pd(col(&m.x2, 0), x2, _mm256_fmadd_pd(col(&m.x1, 0), x1, l));
            h = _mm256_fmadd_pd(col(&m.x2, 1), x2, _mm256_fmadd_pd(col(&m.x1, 1), x1, h));
            // The loop-carried part, last: the previous block's last two outputs.
            let y1 = _mm256_permute4x64_pd(hi, 0b11_11_11_11);
            let y2 = _mm256_permute4x64_pd(hi, 0b10_10_10_10);
            lo = _mm256_fmadd_pd(col(&m.y1, 0), y1, _mm256_fmadd_pd(col(&m.y2, 0), y2, l));
            hi = _mm256_fmadd_pd(col(&m.y1, 1), y1, _mm256_fmadd_pd(col(&m.y2, 1), y2, h));
            store(buf, FRAMES * k, lo, hi);
        }
        let end = FRAMES * blocks;
        *s = m.state_after(
            [
                _mm256_cvtsd_f64(x[FRAMES - 1]),
                _mm256_cvtsd_f64(x[FRAMES - 2]),
            ],
            [buf[end - 1], buf[end - 2]],
        );
    }
    tail(m, s, &mut buf[FRAMES * blocks..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::biquad::{Coefficients, FilterKind, FilterParams};
    use crate::simd::{Avx2Fma, Avx512, Kernels};

    /// Two bands in series, run frame by frame from the states `start`: the outputs and
    /// the final states.
    fn recursion(
        coefs: &[[f64; 5]; 2],
        start: [[f64; 2]; 2],
        x: &[f64],
    ) -> (Vec<f64>, [[f64; 2]; 2]) {
        let mut y = x.to_vec();
        let mut end = start;
        for (&[b0, b1, b2, a1, a2], st) in coefs.iter().zip(end.iter_mut()) {
            let [mut s1, mut s2] = *st;
            for v in y.iter_mut() {
                let out = b0 * *v + s1;
                s1 = b1 * *v - a1 * out + s2;
                s2 = b2 * *v - a2 * out;
                *v = out;
            }
            *st = [s1, s2];
        }
        (y, end)
    }

    /// The block form computes the same filters as the recursion run frame by frame, for
    /// every length (whole blocks, a tail, both, neither), from non-zero states, one band
    /// at a time (AVX2, AVX-512) and two skewed by a block (AVX-512).
    #[test]
    fn block_form_equals_the_recursion() {
        use crate::simd::testing;
        // The kernels this CPU has, as the environment allows (see `simd::testing`).
        let allowed = |name| {
            testing::choices()
                .iter()
                .any(|&c| Kernels::new(c).name() == name)
        };
        let avx2 = Avx2Fma::detect().filter(|_| allowed("avx2"));
        let avx512 = Avx512::detect().filter(|_| allowed("avx512"));
        let mut ran = Vec::new();
        ran.extend(avx2.map(|_| "avx2"));
        ran.extend(avx512.map(|_| "avx512"));
        testing::report("block_form_equals_the_recursion", &ran, &["avx2", "avx512"]);
        let design = |kind, freq_hz, q, gain_db| {
            let p = FilterParams {
                kind,
                freq_hz,
                q,
                gain_db,
                slope: None,
            };
            Coefficients::design(&p, 96_000.0).to_array()
        };
        // A resonant bell near DC (the hard case for precision), then a high-pass.
        let coefs = [
            design(FilterKind::Peak, 30.0, 4.0, 9.0),
            design(FilterKind::HighPass, 2000.0, 0.7, 0.0),
        ];
        let forms = coefs.map(BlockForm::new);
        let start = [[0.25, -0.125], [-0.5, 0.0625]];
        let mut rng = crate::rng::Rng::new(7);
        for n in [0, 1, 7, 8, 9, 16, 100, 257, 1000] {
            let x: Vec<f64> = (0..n).map(|_| f64::from(rng.next_bipolar())).collect();
            let (want, want_end) = recursion(&coefs, start, &x);
            for kernel in ["avx2", "avx512 one by one", "avx512 pair"] {
                let runs = if kernel == "avx2" {
                    avx2.is_some()
                } else {
                    avx512.is_some()
                };
                if !runs {
                    continue;
                }
                let mut got = x.clone();
                let [mut a, mut b] = start;
                match kernel {
                    "avx2" => {
                        // SAFETY: `runs`: the token `avx2` is there, proof that this CPU has
                        // AVX2 and FMA.
                        unsafe {
                            band(&forms[0], &mut a, &mut got);
                            band(&forms[1], &mut b, &mut got);
                        }
                    }
                    "avx512 one by one" => {
                        // SAFETY: `runs`: the token `avx512` is there, proof that this CPU has
                        // AVX-512F, AVX2 and FMA.
                        unsafe {
                            bands_avx512([&forms[0]], [&mut a], &mut got);
                            bands_avx512([&forms[1]], [&mut b], &mut got);
                        }
                    }
                    _ => {
                        // SAFETY: as in the arm above.
                        unsafe { bands_avx512([&forms[0], &forms[1]], [&mut a, &mut b], &mut got) };
                    }
                }
                let err = got
                    .iter()
                    .zip(&want)
                    .map(|(g, w)| (g - w).abs())
                    .fold(0.0, f64::max);
                // f64 rounding, amplified by the resonance: far below the f32 resolution
                // (6e-8) that samples and states are stored in.
                assert!(err < 1e-8, "{n} frames, {kernel}: error {err}");
                for (got, want) in [a, b].iter().zip(&want_end) {
                    assert!(
                        (got[0] - want[0]).abs() < 1e-8 && (got[1] - want[1]).abs() < 1e-8,
                        "{n} frames, {kernel}: state {got:?}, want {want:?}"
                    );
                }
            }
        }
    }
}

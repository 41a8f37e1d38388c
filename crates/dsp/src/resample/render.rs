//! The rendering loops: output frames from the history, planned in batches and computed
//! with the sample type's dot products, in a baseline and an AVX2 + FMA build.

use super::planar::interleave;
use super::sample::AsyncFrames;
use super::stepper::{pow2_neg, step};
use super::{FRAC_BITS, FRAC_SCALE, Kernel, RENDER_BATCH, Resampler, Sample, Stepper};
#[cfg(target_arch = "x86_64")]
use crate::simd::Avx2Fma;
use crate::simd::{Baseline, Build};

impl<S: Sample> Resampler<S> {
    /// Produces output frames while the history covers the next kernel.
    pub(super) fn render(&mut self, output: &mut [S]) -> usize {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = self.kernels.avx2() {
            // SAFETY: the token proves this CPU has AVX2 and FMA.
            return unsafe { self.render_avx2(avx2, output) };
        }
        self.render_any(Baseline, output)
    }

    /// [`render`](Self::render) compiled for AVX2 (8-lane dot products).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn render_avx2(&mut self, avx2: Avx2Fma, output: &mut [S]) -> usize {
        self.render_any(avx2, output)
    }

    /// Exact phases, one table row per frame, nothing computed that it does not use;
    /// `TAPS` is the kernel's length when known at compile time, else 0.
    #[inline(always)]
    fn render_exact<B: Build, const TAPS: usize>(&mut self, build: B, output: &mut [S]) -> usize {
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
            // sample's frame and channel come without bookkeeping.
            match ch {
                1 => plan.quads::<1, B>(build, out),
                2 => plan.quads::<2, B>(build, out),
                4 => plan.quads::<4, B>(build, out),
                8 => plan.quads::<8, B>(build, out),
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
                        let sums = S::dot4([c0, c1, c2, c3], [h0, h1, h2, h3], build.avx2());
                        quad.copy_from_slice(&sums);
                    }
                    for y in chunks.into_remainder() {
                        let (coeffs, hist) = slot(&mut f, &mut c);
                        *y = S::dot(coeffs, hist, build.avx2());
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
    fn render_any<B: Build>(&mut self, build: B, output: &mut [S]) -> usize {
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
            // common channel counts known at compile time, so that it vectorises.
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
                24 => self.render_exact::<B, 24>(build, output),
                _ => self.render_exact::<B, 0>(build, output),
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
                if S::async_frames(&frames, out, self.kernels.avx512(), build.avx2()) {
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
                    quad.copy_from_slice(&S::dot4(
                        [c0, c1, c2, c3],
                        [h0, h1, h2, h3],
                        build.avx2(),
                    ));
                }
                for y in chunks.into_remainder() {
                    let (coeffs, hist) = slot(&mut f, &mut c, &mut k);
                    *y = S::dot(coeffs, hist, build.avx2());
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
    /// or alone: see `dot_f32_avx2` in `x86`.)
    #[inline(always)]
    fn quads<const CH: usize, B: Build>(&self, build: B, out: &mut [S]) {
        let taps = self.taps;
        let row = |i: usize| &self.table[self.rows[i / CH]..][..taps];
        let hist = |i: usize| &self.history[(i % CH) * self.cap + self.starts[i / CH]..][..taps];
        let mut quads = out[..self.rows.len() * CH].chunks_exact_mut(4);
        for (q, quad) in (&mut quads).enumerate() {
            // (Written out: `array::from_fn` here was sometimes left a call per array.)
            let i = 4 * q;
            let coeffs = [row(i), row(i + 1), row(i + 2), row(i + 3)];
            let hists = [hist(i), hist(i + 1), hist(i + 2), hist(i + 3)];
            quad.copy_from_slice(&S::dot4(coeffs, hists, build.avx2()));
        }
        let done = self.rows.len() * CH / 4 * 4;
        for (k, y) in quads.into_remainder().iter_mut().enumerate() {
            *y = S::dot(row(done + k), hist(done + k), build.avx2());
        }
    }
}

//! The sharp first stage of the fixed-ratio band-limited resampler: the input, at its
//! own rate or twice it, low-passed flat to 0.9 × the lower Nyquist frequency and fully
//! attenuated from 1.0 × on, by FFT convolution (overlap-save).
//!
//! Why two stages: the filter's sharpness is what costs. A direct polyphase kernel with
//! a transition band of 0.1 × Nyquist needs about 190 taps per output frame and channel
//! at 140 dB. Here the sharp filter runs as a fast convolution, whose cost per frame
//! grows with the logarithm of its length, not with the length; the second stage then
//! only has to reject the images of a signal that is already band-limited far below its
//! own Nyquist frequency, which a kernel of about 20 taps does (see `band_after_sharp`),
//! or, where the output rate divides the first stage's, simply keeps every k-th frame.
//!
//! Each block takes `hop` new input frames; the window of the last `size / factor` input
//! frames is transformed at the input rate; at factor 2 its spectrum is repeated (that is
//! the spectrum of the window with a zero after every frame); it is multiplied by the
//! filter's and transformed back at `factor` times the rate: `factor · hop` output frames
//! per block, exact (the window overlaps the previous one by the filter's length). The
//! output stream is shifted by the filter's group delay so that its frame `factor · k` is
//! input frame `k`.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::num_traits::Zero;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};

use super::Sample;
use super::design::{bessel_i0, sinc};
use super::planar::deinterleave;

/// The first stage's state; see the module notes.
pub(super) struct Sharp<S: Sample> {
    channels: usize,
    /// Output frames per input frame: `factor / down`, with factor 1 or 2 and, at
    /// factor 1, `down` a power of two (the output rate a whole fraction of the input's:
    /// only every `down`-th frame is computed).
    factor: usize,
    down: usize,
    /// Filter length (taps at the output rate); `taps - 1` is a multiple of
    /// `2 · factor`, so the group delay is a whole number of input frames.
    taps: usize,
    /// Transform length at the output rate.
    size: usize,
    /// New input frames per block.
    hop: usize,
    forward: Arc<dyn RealToComplex<S>>,
    inverse: Inverse<S>,
    /// The filter's spectrum, scaled for the unnormalised inverse: at factor 1 its bins
    /// 0..=size/2; at factor 2 see [`Inverse::Packed`].
    filter: Vec<Complex<S>>,
    /// The filtered spectrum folded `down` times (factor 1 only).
    folded: Vec<Complex<S>>,
    /// Channels two at a time (factor 1, two channels or more).
    pairs: Option<Box<Pairs<S>>>,
    /// Planar input windows of `size / factor` frames: the previous block's last frames,
    /// then `filled` new ones.
    window: Vec<S>,
    filled: usize,
    /// Planar output of the latest block (`factor · hop` frames per channel), `read` of
    /// them taken.
    out: Vec<S>,
    written: usize,
    read: usize,
    /// Output frames still to drop at the start (the group delay).
    skip: usize,
    // Work buffers, so that a block never allocates. `time_in` holds a window's overlap
    // while the window is transformed.
    time_in: Vec<S>,
    spectrum_in: Vec<Complex<S>>,
    spectrum_out: Vec<Complex<S>>,
    time_out: Vec<S>,
    scratch: Vec<Complex<S>>,
}

/// Factor 1 with two channels or more: two channels per transform. A real signal's
/// transform is half redundant; packing channel a as the real part and channel b as the
/// imaginary part of one complex signal uses it all, and since the filter is real the
/// filtered result keeps them apart (a in the real part, b in the imaginary one). One
/// complex transform each way instead of two real ones, and none of the passes a real
/// transform needs to untangle its halves.
#[derive(Clone)]
struct Pairs<S: Sample> {
    /// At `size`.
    forward: Arc<dyn Fft<S>>,
    /// At `size / down`.
    inverse: Arc<dyn Fft<S>>,
    /// The filter's whole spectrum (all `size` bins), scaled by 1/size.
    filter: Vec<Complex<S>>,
    buffer: Vec<Complex<S>>,
    /// The filtered spectrum folded `down` times (empty at down 1).
    folded: Vec<Complex<S>>,
    scratch: Vec<Complex<S>>,
}

/// The transform back to the time domain.
#[derive(Clone)]
enum Inverse<S: Sample> {
    /// Factor 1: a real inverse transform of the filtered spectrum, at `size / down`.
    /// Keeping every `down`-th frame of a signal sums its spectrum's `down` segments
    /// (aliasing, exactly, in the discrete transform), so the shorter transform of that
    /// sum gives those frames alone.
    Real(Arc<dyn ComplexToReal<S>>),
    /// Factor 2: the even output frames are the window convolved with the filter's even
    /// taps, the odd ones with its odd taps. With the two phases' spectra packed as
    /// `even + i · odd`, one complex inverse transform at the input rate gives both, the
    /// even frames in its real parts and the odd ones in its imaginary parts: that is,
    /// the output stream already in order. Cheaper than a real transform at twice the
    /// length, which would need a pass of its own to untangle.
    Packed(Arc<dyn Fft<S>>),
}

impl<S: Sample> Clone for Sharp<S> {
    fn clone(&self) -> Self {
        Sharp {
            channels: self.channels,
            factor: self.factor,
            down: self.down,
            taps: self.taps,
            size: self.size,
            hop: self.hop,
            forward: Arc::clone(&self.forward),
            inverse: self.inverse.clone(),
            filter: self.filter.clone(),
            folded: self.folded.clone(),
            pairs: self.pairs.clone(),
            window: self.window.clone(),
            filled: self.filled,
            out: self.out.clone(),
            written: self.written,
            read: self.read,
            skip: self.skip,
            time_in: self.time_in.clone(),
            spectrum_in: self.spectrum_in.clone(),
            spectrum_out: self.spectrum_out.clone(),
            time_out: self.time_out.clone(),
            scratch: self.scratch.clone(),
        }
    }
}

impl<S: Sample> std::fmt::Debug for Sharp<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sharp")
            .field("channels", &self.channels)
            .field("factor", &self.factor)
            .field("down", &self.down)
            .field("taps", &self.taps)
            .field("size", &self.size)
            .field("hop", &self.hop)
            .finish_non_exhaustive()
    }
}

impl<S: Sample> Sharp<S> {
    /// A stage for `channels` channels at `from` Hz (output at `factor / down · from`:
    /// factor 1 or 2, down 1 or, at factor 1, a power of two up to 16), band edges at 0.9
    /// and 1.0 × `lower_nyquist` Hz, stopband `attenuation` dB.
    pub(super) fn new(
        channels: usize,
        from: u32,
        (factor, down): (usize, usize),
        lower_nyquist: f64,
        attenuation: f64,
    ) -> Self {
        assert!(
            (factor == 1 || factor == 2)
                && down.is_power_of_two()
                && down <= 16
                && (factor == 1 || down == 1),
            "first stage {factor}/{down}"
        );
        let rate = factor as f64 * f64::from(from);
        let transition = 0.1 * lower_nyquist / rate;
        let cutoff = 0.95 * lower_nyquist / rate;
        // Kaiser's length estimate, rounded up to a multiple of 2·factor·down, plus one:
        // the delay is then a whole number of input and of output frames.
        let estimate = ((attenuation - 7.95) / (14.36 * transition)).ceil() as usize + 1;
        let grain = 2 * factor * down;
        let taps = (estimate - 1).div_ceil(grain) * grain + 1;
        // Four times the filter keeps the overlap (the part of each transform thrown away)
        // under a quarter; longer transforms gain little and leave the cache.
        let size = (4 * taps).next_power_of_two().max(1024);
        let hop = (size - taps + 1) / factor;

        let coefficients = design(taps, factor, cutoff, attenuation);
        let window = size / factor;
        let mut planner = RealFftPlanner::<S>::new();
        let forward = planner.plan_fft_forward(window);
        let (inverse, filter, spectrum_len, inverse_scratch) = if factor == 1 {
            let inverse = planner.plan_fft_inverse(size / down);
            let mut padded = vec![S::zero(); size];
            for (p, &h) in padded.iter_mut().zip(&coefficients) {
                *p = S::of_f64(h / size as f64);
            }
            let mut filter = forward.make_output_vec();
            forward
                .process(&mut padded, &mut filter)
                .expect("buffers sized by the plan");
            let scratch = inverse.get_scratch_len();
            (Inverse::Real(inverse), filter, size / 2 + 1, scratch)
        } else {
            // DFT of even taps + i · DFT of odd taps = DFT of (even + i · odd), computed
            // in f64 once.
            let mut packed: Vec<Complex<f64>> = (0..window)
                .map(|l| {
                    let at = |i: usize| coefficients.get(i).copied().unwrap_or(0.0);
                    Complex::new(at(2 * l), at(2 * l + 1)) / window as f64
                })
                .collect();
            FftPlanner::<f64>::new()
                .plan_fft_forward(window)
                .process(&mut packed);
            let filter = packed
                .iter()
                .map(|z| Complex::new(S::of_f64(z.re), S::of_f64(z.im)))
                .collect();
            let inverse = FftPlanner::<S>::new().plan_fft_inverse(window);
            let scratch = inverse.get_inplace_scratch_len();
            (Inverse::Packed(inverse), filter, window, scratch)
        };

        let scratch_len = forward.get_scratch_len().max(inverse_scratch);
        let pairs = (factor == 1 && channels >= 2).then(|| {
            let mut planner = FftPlanner::<S>::new();
            let forward = planner.plan_fft_forward(size);
            let inverse = planner.plan_fft_inverse(size / down);
            let scratch = forward
                .get_inplace_scratch_len()
                .max(inverse.get_inplace_scratch_len());
            // The upper half of a real filter's spectrum mirrors the lower.
            let whole = (0..size)
                .map(|k| {
                    if k <= size / 2 {
                        filter[k]
                    } else {
                        filter[size - k].conj()
                    }
                })
                .collect();
            Box::new(Pairs {
                forward,
                inverse,
                filter: whole,
                buffer: vec![Complex::zero(); size],
                folded: vec![Complex::zero(); if down > 1 { size / down } else { 0 }],
                scratch: vec![Complex::zero(); scratch],
            })
        });
        let mut stage = Sharp {
            channels,
            factor,
            down,
            taps,
            size,
            hop,
            forward,
            inverse,
            filter,
            folded: vec![Complex::zero(); if down > 1 { size / down / 2 + 1 } else { 0 }],
            pairs,
            window: vec![S::zero(); channels * size / factor],
            filled: 0,
            out: vec![S::zero(); channels * factor * hop / down],
            written: 0,
            read: 0,
            skip: 0,
            time_in: vec![S::zero(); taps],
            spectrum_in: vec![Complex::zero(); size / factor / 2 + 1],
            spectrum_out: vec![Complex::zero(); spectrum_len],
            time_out: vec![S::zero(); if factor == 1 { size / down } else { 0 }],
            scratch: vec![Complex::zero(); scratch_len],
        };
        stage.reset();
        stage
    }

    /// Back to silence, nothing buffered.
    pub(super) fn reset(&mut self) {
        // The window starts as silence before input frame 0, so the first block's output
        // begins `(taps - 1) / 2` frames early: dropped.
        self.window.fill(S::zero());
        self.filled = 0;
        self.written = 0;
        self.read = 0;
        self.skip = (self.taps - 1) / 2 / self.down;
    }

    /// Input frames per block.
    pub(super) fn hop(&self) -> usize {
        self.hop
    }

    /// The filter's delay in input frames (the stream is shifted back by it).
    pub(super) fn delay(&self) -> usize {
        (self.taps - 1) / (2 * self.factor)
    }

    /// Output frames per input frame, as (numerator, denominator).
    pub(super) fn ratio(&self) -> (usize, usize) {
        (self.factor, self.down)
    }

    /// Filter length at the output rate.
    pub(super) fn taps(&self) -> usize {
        self.taps
    }

    /// Output frames per block.
    fn out_len(&self) -> usize {
        self.factor * self.hop / self.down
    }

    /// Output frames ready to be taken.
    pub(super) fn ready(&self) -> usize {
        self.written - self.read
    }

    /// Input frames the current block still takes before it can run.
    pub(super) fn room(&self) -> usize {
        self.hop - self.filled
    }

    /// Deinterleaves up to [`room`](Self::room) frames of `input`; returns how many.
    pub(super) fn push(&mut self, input: &[S]) -> usize {
        let ch = self.channels;
        let half = self.size / self.factor;
        let n = self.room().min(input.len() / ch);
        let at = half - self.hop + self.filled;
        deinterleave(&input[..n * ch], ch, &mut self.window, half, at);
        self.filled += n;
        n
    }

    /// Runs the block once its input is complete and the previous output has all been
    /// taken; returns whether it ran.
    pub(super) fn run(&mut self) -> bool {
        if self.filled < self.hop || self.ready() > 0 {
            return false;
        }
        let half = self.size / self.factor;
        let out_len = self.out_len();
        let mut first_single = 0;
        if let Some(pairs) = self.pairs.as_deref_mut() {
            let valid_from = (self.taps - 1) / self.down;
            for c in (0..self.channels - 1).step_by(2) {
                let (a, b) = self.window[c * half..(c + 2) * half].split_at_mut(half);
                for (z, (&x, &y)) in pairs.buffer.iter_mut().zip(a.iter().zip(b.iter())) {
                    *z = Complex::new(x, y);
                }
                a.copy_within(self.hop.., 0);
                b.copy_within(self.hop.., 0);
                pairs
                    .forward
                    .process_with_scratch(&mut pairs.buffer, &mut pairs.scratch);
                let spectrum = if self.down == 1 {
                    for (z, &h) in pairs.buffer.iter_mut().zip(&pairs.filter) {
                        *z = *z * h;
                    }
                    &mut pairs.buffer
                } else {
                    // Segment by segment, so that the loops run straight through (bin
                    // by bin, each bin's `down` terms took a division to count).
                    let segment = self.size / self.down;
                    let terms = pairs
                        .buffer
                        .chunks_exact(segment)
                        .zip(pairs.filter.chunks_exact(segment));
                    for (d, (x, h)) in terms.enumerate() {
                        for (z, (&x, &h)) in pairs.folded.iter_mut().zip(x.iter().zip(h)) {
                            *z = if d == 0 { x * h } else { *z + x * h };
                        }
                    }
                    &mut pairs.folded
                };
                pairs
                    .inverse
                    .process_with_scratch(spectrum, &mut pairs.scratch);
                let (out_a, out_b) = self.out[c * out_len..(c + 2) * out_len].split_at_mut(out_len);
                for ((ya, yb), z) in out_a.iter_mut().zip(out_b).zip(&spectrum[valid_from..]) {
                    *ya = z.re;
                    *yb = z.im;
                }
                first_single = c + 2;
            }
        }
        for c in first_single..self.channels {
            let window = &mut self.window[c * half..(c + 1) * half];
            // The overlap for the next block (its first `half - hop` frames) is set
            // aside: the transform uses its input as work space.
            let keep = half - self.hop;
            self.time_in[..keep].copy_from_slice(&window[self.hop..]);
            self.forward
                .process_with_scratch(window, &mut self.spectrum_in, &mut self.scratch)
                .expect("buffers sized by the plan");
            window[..keep].copy_from_slice(&self.time_in[..keep]);
            let out = &mut self.out[c * out_len..(c + 1) * out_len];
            match &self.inverse {
                Inverse::Real(inverse) => {
                    let spectrum = if self.down == 2 {
                        // Folding in halves, fused with the filtering: bin k and its
                        // mirror size/2 - k.
                        let x = &self.spectrum_in;
                        let h = &self.filter;
                        let mid = self.size / 2;
                        for (k, z) in self.folded.iter_mut().enumerate() {
                            *z = x[k] * h[k] + (x[mid - k] * h[mid - k]).conj();
                        }
                        &mut self.folded
                    } else {
                        for ((y, &x), &h) in self
                            .spectrum_out
                            .iter_mut()
                            .zip(&self.spectrum_in)
                            .zip(&self.filter)
                        {
                            *y = x * h;
                        }
                        if self.down == 1 {
                            &mut self.spectrum_out
                        } else {
                            fold(&self.spectrum_out, &mut self.folded, self.size, self.down);
                            &mut self.folded
                        }
                    };
                    // Both are real in exact arithmetic; the inverse insists on it.
                    let last = spectrum.len() - 1;
                    spectrum[0].im = S::zero();
                    spectrum[last].im = S::zero();
                    inverse
                        .process_with_scratch(spectrum, &mut self.time_out, &mut self.scratch)
                        .expect("buffers sized by the plan");
                    out.copy_from_slice(&self.time_out[(self.taps - 1) / self.down..]);
                }
                Inverse::Packed(inverse) => {
                    // The window's full spectrum (the upper half mirrors the lower, the
                    // window being real) times the packed filter.
                    let (low, high) = self.spectrum_out.split_at_mut(half / 2 + 1);
                    for ((y, &x), &h) in low.iter_mut().zip(&self.spectrum_in).zip(&self.filter) {
                        *y = x * h;
                    }
                    let mirrored = self.spectrum_in[1..half / 2].iter().rev();
                    for ((y, &x), &h) in high
                        .iter_mut()
                        .zip(mirrored)
                        .zip(&self.filter[half / 2 + 1..])
                    {
                        *y = x.conj() * h;
                    }
                    inverse.process_with_scratch(&mut self.spectrum_out, &mut self.scratch);
                    // Valid from frame (taps - 1) / 2 of the window on (the even phase's
                    // length less one).
                    let valid = &self.spectrum_out[(self.taps - 1) / 2..];
                    for (pair, z) in out.chunks_exact_mut(2).zip(valid) {
                        pair[0] = z.re;
                        pair[1] = z.im;
                    }
                }
            }
        }
        self.filled = 0;
        let skip = self.skip.min(out_len);
        self.skip -= skip;
        self.read = skip;
        self.written = out_len;
        true
    }

    /// Copies up to `n` ready frames into the planar `history` (channel `c` at
    /// `c * cap + at`); returns how many.
    pub(super) fn take(&mut self, n: usize, history: &mut [S], cap: usize, at: usize) -> usize {
        let n = n.min(self.ready());
        let out_len = self.out_len();
        for c in 0..self.channels {
            let src = &self.out[c * out_len + self.read..c * out_len + self.read + n];
            history[c * cap + at..c * cap + at + n].copy_from_slice(src);
        }
        self.read += n;
        n
    }
}

/// Bins 0..=size/(2·down) of the transform of every `down`-th frame of a real signal of
/// `size` frames, from bins 0..=size/2 of the signal's: the sum of the `down` segments of
/// its full spectrum (the upper half being the mirrored conjugate of the lower).
fn fold<S: Sample>(spectrum: &[Complex<S>], folded: &mut [Complex<S>], size: usize, down: usize) {
    let segment = size / down;
    for (k, z) in folded.iter_mut().enumerate() {
        let mut sum = Complex::zero();
        for d in 0..down {
            let j = k + d * segment;
            sum = sum
                + if j <= size / 2 {
                    spectrum[j]
                } else {
                    spectrum[size - j].conj()
                };
        }
        *z = sum;
    }
}

/// The low-pass filter at the output rate: a Kaiser-windowed sinc, `taps` long, with a
/// gain of `factor` (the zeros between input frames lower the level by as much), each of
/// its `factor` phases summing to exactly 1 so that a constant stays constant.
fn design(taps: usize, factor: usize, cutoff: f64, attenuation: f64) -> Vec<f64> {
    let centre = (taps - 1) as f64 / 2.0;
    let beta = 0.1102 * (attenuation - 8.7);
    let i0_beta = bessel_i0(beta);
    let mut h: Vec<f64> = (0..taps)
        .map(|i| {
            let x = i as f64 - centre;
            let u = x / centre;
            let window = bessel_i0(beta * (1.0 - u * u).max(0.0).sqrt()) / i0_beta;
            2.0 * cutoff * sinc(2.0 * cutoff * x) * window
        })
        .collect();
    for phase in 0..factor {
        let sum: f64 = h.iter().skip(phase).step_by(factor).sum();
        for x in h.iter_mut().skip(phase).step_by(factor) {
            *x /= sum;
        }
    }
    h
}

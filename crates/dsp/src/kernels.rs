//! Inner loops of mixing and metering.
//!
//! Written as straight loops over equal-length slices (lengths asserted up front, so the
//! bounds checks vanish) that LLVM turns into SIMD; the benchmark suite checks them
//! against their plain scalar forms.

/// `dst[i] += src[i] * gain`.
///
/// ```
/// use troubadour_dsp::kernels::mix_scaled;
///
/// let mut bus = [1.0, 1.0];
/// mix_scaled(&mut bus, &[0.5, -0.5], 2.0);
/// assert_eq!(bus, [2.0, 0.0]);
/// ```
#[inline]
pub fn mix_scaled(dst: &mut [f32], src: &[f32], gain: f32) {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    if gain == 1.0 {
        // Exactly `dst + src`: keeps unity sends bit-transparent.
        for (d, s) in dst.iter_mut().zip(src) {
            *d += *s;
        }
    } else {
        for (d, s) in dst.iter_mut().zip(src) {
            *d += *s * gain;
        }
    }
}

/// `dst[i] += src[i] * gains[i] * scale`: a send whose gain is ramping.
///
/// ```
/// use troubadour_dsp::kernels::mix_ramped;
///
/// let mut bus = [0.0; 2];
/// mix_ramped(&mut bus, &[1.0, 1.0], &[0.5, 1.0], 0.5);
/// assert_eq!(bus, [0.25, 0.5]);
/// ```
#[inline]
pub fn mix_ramped(dst: &mut [f32], src: &[f32], gains: &[f32], scale: f32) {
    let n = dst.len().min(src.len()).min(gains.len());
    let (dst, src, gains) = (&mut dst[..n], &src[..n], &gains[..n]);
    for ((d, s), g) in dst.iter_mut().zip(src).zip(gains) {
        *d += *s * (*g * scale);
    }
}

/// `buf[i] *= gain`.
///
/// ```
/// use troubadour_dsp::kernels::scale;
///
/// let mut x = [1.0, -2.0];
/// scale(&mut x, 0.5);
/// assert_eq!(x, [0.5, -1.0]);
/// ```
#[inline]
pub fn scale(buf: &mut [f32], gain: f32) {
    for x in buf {
        *x *= gain;
    }
}

/// `buf[i] *= gains[i]`.
///
/// ```
/// use troubadour_dsp::kernels::scale_ramped;
///
/// let mut x = [1.0, 1.0];
/// scale_ramped(&mut x, &[0.25, 0.75]);
/// assert_eq!(x, [0.25, 0.75]);
/// ```
#[inline]
pub fn scale_ramped(buf: &mut [f32], gains: &[f32]) {
    let n = buf.len().min(gains.len());
    for (x, g) in buf[..n].iter_mut().zip(&gains[..n]) {
        *x *= *g;
    }
}

/// `a` if it is larger, else `b`: unlike `f32::max` this has no NaN special case, so
/// it compiles to one `maxps` and loops using it vectorise. Callers never feed NaN
/// (meters see sanitised or finite signals; a NaN just loses the comparison).
#[inline(always)]
fn larger(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

/// Peak magnitude and sum of squares of `buf`, each scaled by `gain` (which lets a
/// post-fader meter read the pre-fader buffer). Eight independent accumulators so the
/// loop vectorises despite float addition not being associative.
///
/// ```
/// use troubadour_dsp::kernels::peak_and_energy;
///
/// let (peak, energy) = peak_and_energy(&[0.5, -1.0, 0.0], 1.0);
/// assert_eq!(peak, 1.0);
/// assert_eq!(energy, 1.25);
/// ```
#[inline]
pub fn peak_and_energy(buf: &[f32], gain: f32) -> (f32, f32) {
    let mut peak = [0.0f32; 8];
    let mut energy = [0.0f32; 8];
    let mut chunks = buf.chunks_exact(8);
    for chunk in &mut chunks {
        for k in 0..8 {
            let x = chunk[k];
            peak[k] = larger(x.abs(), peak[k]);
            energy[k] += x * x;
        }
    }
    for (k, &x) in chunks.remainder().iter().enumerate() {
        peak[k] = larger(x.abs(), peak[k]);
        energy[k] += x * x;
    }
    let peak = peak.iter().fold(0.0f32, |a, &b| larger(a, b));
    let energy: f32 = energy.iter().sum();
    (peak * gain.abs(), energy * gain * gain)
}

/// Peak and sum of squares of `buf[i] * gains[i]`.
///
/// ```
/// use troubadour_dsp::kernels::peak_and_energy_ramped;
///
/// let (peak, energy) = peak_and_energy_ramped(&[1.0, 1.0], &[0.5, 1.0]);
/// assert_eq!((peak, energy), (1.0, 1.25));
/// ```
#[inline]
pub fn peak_and_energy_ramped(buf: &[f32], gains: &[f32]) -> (f32, f32) {
    let n = buf.len().min(gains.len());
    let (mut peak, mut energy) = (0.0f32, 0.0f32);
    for (x, g) in buf[..n].iter().zip(&gains[..n]) {
        let y = *x * *g;
        peak = larger(y.abs(), peak);
        energy += y * y;
    }
    (peak, energy)
}

/// What [`output_stage`] measured in one block.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OutputStats {
    /// Highest magnitude after gain.
    pub peak: f32,
    /// Sum of squares after gain.
    pub energy: f32,
    /// Non-finite samples (NaN, ±inf) replaced by 0.
    pub non_finite: u32,
    /// Samples beyond full scale (±1.0), which clip in an integer format.
    pub over_full_scale: u32,
}

/// The last stage before a device or file, in one pass: applies the gain
/// (`gain(i)` for sample `i`), replaces every non-finite result with silence, counts
/// those and the samples beyond full scale, and meters peak and energy.
///
/// ```
/// use troubadour_dsp::kernels::output_stage;
///
/// let mut x = [0.5, f32::NAN, 0.75, f32::INFINITY];
/// let s = output_stage(&mut x, |_| 2.0);
/// assert_eq!(x, [1.0, 0.0, 1.5, 0.0]);
/// assert_eq!((s.non_finite, s.over_full_scale, s.peak, s.energy), (2, 1, 1.5, 3.25));
/// ```
#[inline]
pub fn output_stage(buf: &mut [f32], gain: impl Fn(usize) -> f32) -> OutputStats {
    for (i, x) in buf.iter_mut().enumerate() {
        *x *= gain(i);
    }
    let (mut peak, mut energy) = peak_and_energy(buf, 1.0);
    // Any NaN or inf makes the energy sum non-finite, so the common clean block costs
    // two vector passes; only a block that has them pays for finding them.
    let mut non_finite = 0;
    if !energy.is_finite() {
        for x in buf.iter_mut() {
            if !x.is_finite() {
                *x = 0.0;
                non_finite += 1;
            }
        }
        (peak, energy) = peak_and_energy(buf, 1.0);
    }
    let over_full_scale = if peak > 1.0 {
        buf.iter().filter(|x| x.abs() > 1.0).count() as u32
    } else {
        0
    };
    OutputStats {
        peak,
        energy,
        non_finite,
        over_full_scale,
    }
}

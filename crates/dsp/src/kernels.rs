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
            peak[k] = peak[k].max(x.abs());
            energy[k] += x * x;
        }
    }
    for (k, &x) in chunks.remainder().iter().enumerate() {
        peak[k] = peak[k].max(x.abs());
        energy[k] += x * x;
    }
    let peak = peak.iter().fold(0.0f32, |a, &b| a.max(b));
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
        peak = peak.max(y.abs());
        energy += y * y;
    }
    (peak, energy)
}

/// Replaces every non-finite sample (NaN, ±inf) with 0 and returns how many there were.
/// Also counts samples beyond ±1.0 (full scale), which would clip in an integer format.
///
/// ```
/// use troubadour_dsp::kernels::sanitise;
///
/// let mut x = [0.5, f32::NAN, 1.5, f32::INFINITY];
/// assert_eq!(sanitise(&mut x), (2, 1));
/// assert_eq!(x, [0.5, 0.0, 1.5, 0.0]);
/// ```
#[inline]
pub fn sanitise(buf: &mut [f32]) -> (u32, u32) {
    let mut over = 0u32;
    let mut bad = 0u32;
    for x in buf.iter() {
        bad += u32::from(!x.is_finite());
        over += u32::from(x.abs() > 1.0 && x.is_finite());
    }
    if bad > 0 {
        for x in buf.iter_mut() {
            if !x.is_finite() {
                *x = 0.0;
            }
        }
    }
    (bad, over)
}

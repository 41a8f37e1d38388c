//! Fast base-2 logarithm and exponential for per-sample dynamics.
//!
//! A compressor needs a level in dB and a gain from dB for every frame; `f32::log10`
//! and `f32::powf` cost tens of nanoseconds each. These approximations are accurate to
//! about 1e-4 dB over the audio range (checked below), which is far inside every
//! tolerance a dynamics processor is held to, at a few nanoseconds.

/// dB per unit of log2 of power: 10·log10(2).
pub const DB_PER_LOG2_POWER: f32 = 3.010_3;
/// dB per unit of log2 of amplitude: 20·log10(2).
pub const DB_PER_LOG2_AMPLITUDE: f32 = 6.020_6;

/// log2(x) for x > 0 (finite, normal). Returns a large negative number for 0.
///
/// ```
/// use troubadour_dsp::fastmath::fast_log2;
///
/// assert!((fast_log2(8.0) - 3.0).abs() < 1e-5);
/// assert!((fast_log2(0.1) - 0.1f32.log2()).abs() < 1e-5);
/// ```
#[inline(always)]
pub fn fast_log2(x: f32) -> f32 {
    // Smallest normal instead of 0 or denormals: -126, i.e. about -758 dB.
    let x = if x > f32::MIN_POSITIVE {
        x
    } else {
        f32::MIN_POSITIVE
    };
    let bits = x.to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32 - 127;
    // Mantissa in [1, 2), mapped to t in [-1/3, 1/3) around sqrt(2)-ish centre for a
    // well-conditioned series: log2(m) = 2/ln2 · atanh((m-1)/(m+1)).
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    // atanh series to t^9: |t| < 1/3 gives |error| < 3e-7 in log2.
    let series =
        t * (1.0 + t2 * (1.0 / 3.0 + t2 * (1.0 / 5.0 + t2 * (1.0 / 7.0 + t2 * (1.0 / 9.0)))));
    exponent as f32 + series * std::f32::consts::LOG2_E * 2.0
}

/// 2^x for x in about -126..=127 (clamped outside).
///
/// ```
/// use troubadour_dsp::fastmath::fast_exp2;
///
/// assert!((fast_exp2(3.0) - 8.0).abs() < 1e-5);
/// assert!((fast_exp2(-0.5) - 0.5f32.sqrt()).abs() < 1e-6);
/// ```
#[inline(always)]
pub fn fast_exp2(x: f32) -> f32 {
    let x = x.clamp(-126.0, 127.0);
    // floor() without `f32::floor`, which is a libm call on plain SSE2 and would keep
    // loops over this from vectorising: truncate, then step down for negatives.
    let truncated = x as i32;
    let floor = (truncated - i32::from(x < truncated as f32)) as f32;
    let f = x - floor; // [0, 1)
    // Minimax-style polynomial for 2^f on [0, 1): Taylor of e^(f ln2) to f^6 has
    // relative error < 2e-7 here.
    let l = std::f32::consts::LN_2;
    let y = f * l;
    let p = 1.0
        + y * (1.0
            + y * (0.5
                + y * (1.0 / 6.0 + y * (1.0 / 24.0 + y * (1.0 / 120.0 + y * (1.0 / 720.0))))));
    let scale = f32::from_bits(((floor as i32 + 127) as u32) << 23);
    p * scale
}

/// Power (a mean square) to dB.
// `inline(always)` here and below: the dynamics' AVX2 builds call these in loops, which
// vectorise only when the body is compiled into them.
#[inline(always)]
pub fn power_to_db(power: f32) -> f32 {
    fast_log2(power) * DB_PER_LOG2_POWER
}

/// Amplitude to dB.
#[inline(always)]
pub fn amplitude_to_db(amplitude: f32) -> f32 {
    fast_log2(amplitude) * DB_PER_LOG2_AMPLITUDE
}

/// dB to linear amplitude.
#[inline(always)]
pub fn db_to_amplitude(db: f32) -> f32 {
    fast_exp2(db / DB_PER_LOG2_AMPLITUDE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accurate_to_a_ten_thousandth_of_a_db_over_the_audio_range() {
        let mut worst_log = 0.0f64;
        let mut worst_exp = 0.0f64;
        for k in 0..200_000 {
            let db = -150.0 + k as f64 * 0.00085; // -150 .. +20 dB
            let amp = 10f64.powf(db / 20.0) as f32;
            worst_log = worst_log
                .max((f64::from(amplitude_to_db(amp)) - 20.0 * f64::from(amp).log10()).abs());
            let back = f64::from(db_to_amplitude(db as f32));
            worst_exp = worst_exp.max((20.0 * back.log10() - db).abs());
        }
        assert!(worst_log < 1e-4, "log error {worst_log} dB");
        assert!(worst_exp < 1e-4, "exp error {worst_exp} dB");
    }
}

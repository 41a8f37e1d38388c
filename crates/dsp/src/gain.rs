//! Gain laws.

use std::f32::consts::FRAC_PI_2;

/// Decibels to linear gain; `-inf` dB is exactly 0.
///
/// ```
/// use troubadour_dsp::gain::db_to_gain;
///
/// assert_eq!(db_to_gain(0.0), 1.0);
/// assert_eq!(db_to_gain(f32::NEG_INFINITY), 0.0);
/// assert!((db_to_gain(-6.0206) - 0.5).abs() < 1e-5);
/// ```
#[inline]
pub fn db_to_gain(db: f32) -> f32 {
    if db == f32::NEG_INFINITY {
        0.0
    } else {
        // Computed in f64 so that round-trips through dB stay exact to f32 precision.
        10f64.powf(f64::from(db) / 20.0) as f32
    }
}

/// Linear amplitude to decibels; 0 gives `-inf`.
///
/// ```
/// use troubadour_dsp::gain::gain_to_db;
///
/// assert_eq!(gain_to_db(1.0), 0.0);
/// assert_eq!(gain_to_db(0.0), f32::NEG_INFINITY);
/// ```
#[inline]
pub fn gain_to_db(gain: f32) -> f32 {
    if gain <= 0.0 {
        f32::NEG_INFINITY
    } else {
        20.0 * gain.log10()
    }
}

/// Constant-power pan of a mono signal onto two channels: `pan` in -1 (left) ..= 1
/// (right); returns `(left, right)` with `left² + right² = 1`, so the centre is
/// -3.01 dB on each side.
///
/// ```
/// use troubadour_dsp::gain::{gain_to_db, pan_law};
///
/// let (l, r) = pan_law(0.0);
/// assert!((gain_to_db(l) + 3.0103).abs() < 1e-3 && (l - r).abs() < 1e-7);
/// assert_eq!(pan_law(-1.0), (1.0, 0.0));
/// ```
#[inline]
pub fn pan_law(pan: f32) -> (f32, f32) {
    let pan = pan.clamp(-1.0, 1.0);
    if pan == -1.0 {
        return (1.0, 0.0);
    }
    if pan == 1.0 {
        return (0.0, 1.0);
    }
    let angle = (f64::from(pan) + 1.0) * std::f64::consts::FRAC_PI_4;
    (angle.cos() as f32, angle.sin() as f32)
}

/// Balance of a stereo signal: `balance` in -1 ..= 1; the side it leans to stays at
/// 0 dB, the other side falls with a quarter cosine to silence at the extreme. Centre
/// is exactly `(1.0, 1.0)`, so a centred stereo strip is bit-transparent.
///
/// ```
/// use troubadour_dsp::gain::balance_law;
///
/// assert_eq!(balance_law(0.0), (1.0, 1.0));
/// assert_eq!(balance_law(1.0).1, 1.0);
/// assert!(balance_law(1.0).0.abs() < 1e-7);
/// ```
#[inline]
pub fn balance_law(balance: f32) -> (f32, f32) {
    let b = balance.clamp(-1.0, 1.0);
    let far = (b.abs() * FRAC_PI_2).cos();
    if b > 0.0 {
        (far, 1.0)
    } else if b < 0.0 {
        (1.0, far)
    } else {
        (1.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pan_law_is_constant_power_everywhere() {
        for k in 0..=200 {
            let pan = k as f32 / 100.0 - 1.0;
            let (l, r) = pan_law(pan);
            assert!((l * l + r * r - 1.0).abs() < 1e-6, "pan {pan}: {l} {r}");
        }
        assert_eq!(pan_law(1.0), (0.0, 1.0));
    }

    #[test]
    fn db_round_trips() {
        for db in [-96.0f32, -40.0, -6.0, 0.0, 3.0, 12.0] {
            assert!((gain_to_db(db_to_gain(db)) - db).abs() < 1e-4);
        }
    }
}

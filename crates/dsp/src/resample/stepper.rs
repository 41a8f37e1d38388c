//! Stepping through the input: where the next output frame sits, as an integer frame
//! index and an integer phase, so that position never drifts and does not depend on how
//! the input was chunked.

use super::{FRAC_BITS, GLIDE_FRAMES};

/// Where the next output frame sits in the input, and how far the phase moves per frame.
#[derive(Debug, Clone)]
pub(super) enum Stepper {
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

/// Moves `index` and the stepper's phase on by one output frame.
#[inline(always)]
pub(super) fn step(stepper: &mut Stepper, index: &mut usize) {
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
pub(super) fn pow2_neg(n: u32) -> f64 {
    f64::from_bits(u64::from(1023 - n) << 52)
}

pub(super) fn to_fixed(step: f64) -> u64 {
    (step * (1u64 << FRAC_BITS) as f64).round() as u64
}

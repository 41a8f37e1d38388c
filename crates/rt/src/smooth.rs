//! Parameter smoothing on the audio thread.
//!
//! The control side sends target values; the audio side glides to them with a linear
//! ramp of fixed length, so a jump of the fader becomes a short fade instead of a click.
//! Values are computed as `start + step * k` (not by accumulation), so a ramp ends on
//! exactly its target and never drifts.

/// A linear ramp toward a target over a fixed number of samples.
///
/// ```
/// use troubadour_rt::smooth::LinearRamp;
///
/// let mut gain = LinearRamp::new(0.0, 4);
/// gain.set_target(1.0);
/// let mut out = [0.0; 6];
/// assert_eq!(gain.next_block(&mut out), None); // ramping: `out` holds the values
/// assert_eq!(out, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
/// assert_eq!(gain.next_block(&mut out), Some(1.0)); // steady: one value for the block
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearRamp {
    start: f32,
    target: f32,
    step: f32,
    /// Samples of the current ramp already produced; `== len` when steady.
    position: u32,
    len: u32,
}

impl LinearRamp {
    /// A ramp resting at `value` whose glides last `len` samples (at least 1).
    pub fn new(value: f32, len: u32) -> Self {
        let len = len.max(1);
        Self {
            start: value,
            target: value,
            step: 0.0,
            position: len,
            len,
        }
    }

    /// Starts a glide from the current value to `target`. Setting the target it already
    /// has changes nothing, so repeated identical commands do not restart a ramp.
    #[inline]
    pub fn set_target(&mut self, target: f32) {
        if target == self.target {
            return;
        }
        self.start = self.value();
        self.target = target;
        self.step = (target - self.start) / self.len as f32;
        self.position = 0;
    }

    /// Jumps to `value` without a glide.
    #[inline]
    pub fn reset(&mut self, value: f32) {
        *self = Self::new(value, self.len);
    }

    /// The value the next sample will be computed from (the last one produced).
    #[inline]
    pub fn value(&self) -> f32 {
        if self.position >= self.len {
            self.target
        } else {
            self.start + self.step * self.position as f32
        }
    }

    /// The value the ramp is heading to.
    #[inline]
    pub fn target(&self) -> f32 {
        self.target
    }

    /// `true` when not gliding.
    #[inline]
    pub fn is_steady(&self) -> bool {
        self.position >= self.len
    }

    /// Produces the values for the next `out.len()` samples. When the ramp is steady for
    /// the whole block it returns `Some(value)` and leaves `out` untouched, so callers
    /// can take a cheaper constant-gain path.
    #[inline]
    pub fn next_block(&mut self, out: &mut [f32]) -> Option<f32> {
        if self.is_steady() {
            return Some(self.target);
        }
        let ramping = ((self.len - self.position) as usize).min(out.len());
        let (ramp, rest) = out.split_at_mut(ramping);
        for (k, o) in ramp.iter_mut().enumerate() {
            let position = self.position + 1 + k as u32;
            *o = if position == self.len {
                self.target
            } else {
                self.start + self.step * position as f32
            };
        }
        self.position += ramping as u32;
        rest.fill(self.target);
        None
    }

    /// Advances by `n` samples without producing them.
    #[inline]
    pub fn skip(&mut self, n: usize) {
        self.position = (self.position as usize + n).min(self.len as usize) as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retargeting_mid_ramp_starts_from_the_current_value() {
        let mut r = LinearRamp::new(0.0, 10);
        r.set_target(1.0);
        let mut out = [0.0; 5];
        r.next_block(&mut out);
        assert!((out[4] - 0.5).abs() < 1e-6);
        r.set_target(0.0);
        let mut out = [0.0; 10];
        r.next_block(&mut out);
        assert!((out[0] - 0.45).abs() < 1e-6, "{out:?}");
        assert_eq!(out[9], 0.0);
        assert!(r.is_steady());
    }

    #[test]
    fn ramp_ends_exactly_on_target_across_blocks() {
        let mut r = LinearRamp::new(0.1, 480);
        r.set_target(0.7);
        let mut last = 0.0;
        for _ in 0..8 {
            let mut out = [0.0; 64];
            if r.next_block(&mut out).is_none() {
                last = out[63];
            }
        }
        assert_eq!(last, 0.7);
        assert_eq!(r.next_block(&mut [0.0; 4]), Some(0.7));
    }
}

//! `f32` values shared between threads through atomics.
//!
//! A non-negative `f32` stored as its `u32` bits orders like the float itself, so the
//! audio thread can keep a running peak with one `fetch_max` and the control side can
//! read-and-reset it with one `swap(0)`: no lock, no lost peak.

use std::sync::atomic::{AtomicU32, Ordering};

/// An `f32` behind an [`AtomicU32`]. All accesses are `Relaxed`: these are independent
/// measurements and parameters, never used to publish other memory.
///
/// ```
/// use troubadour_rt::atomic_float::AtomicF32;
///
/// let level = AtomicF32::new(0.25);
/// level.store(0.5);
/// assert_eq!(level.load(), 0.5);
/// ```
#[derive(Debug, Default)]
pub struct AtomicF32(AtomicU32);

impl AtomicF32 {
    /// A new atomic holding `value`.
    pub const fn new(value: f32) -> Self {
        Self(AtomicU32::new(value.to_bits()))
    }

    /// The current value.
    #[inline]
    pub fn load(&self) -> f32 {
        f32::from_bits(self.0.load(Ordering::Relaxed))
    }

    /// Replaces the value.
    #[inline]
    pub fn store(&self, value: f32) {
        self.0.store(value.to_bits(), Ordering::Relaxed)
    }
}

/// A peak level held until it is read: the audio side raises it, the control side reads
/// and resets it.
///
/// ```
/// use troubadour_rt::atomic_float::PeakHold;
///
/// let peak = PeakHold::default();
/// peak.raise(0.5);
/// peak.raise(0.25); // lower values do not replace the held peak
/// assert_eq!(peak.take(), 0.5);
/// assert_eq!(peak.take(), 0.0); // reading reset it
/// ```
#[derive(Debug, Default)]
pub struct PeakHold(AtomicU32);

impl PeakHold {
    /// Raises the held peak to `level` if it is higher. `level` must be non-negative;
    /// NaN is ignored (its bits would otherwise win every later comparison).
    #[inline]
    pub fn raise(&self, level: f32) {
        if level > 0.0 {
            self.0.fetch_max(level.to_bits(), Ordering::Relaxed);
        }
    }

    /// The highest level since the last `take`, resetting it to zero.
    #[inline]
    pub fn take(&self) -> f32 {
        f32::from_bits(self.0.swap(0, Ordering::Relaxed))
    }

    /// The highest level since the last `take`, without resetting it.
    #[inline]
    pub fn peek(&self) -> f32 {
        f32::from_bits(self.0.load(Ordering::Relaxed))
    }
}

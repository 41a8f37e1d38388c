//! Shared pieces of the dynamics processors.

/// The one-pole coefficient for time constant `ms` at `sample_rate`: after `ms` a step
/// has covered 1 − 1/e (63.2 %) of the way.
///
/// ```
/// use troubadour_dsp::dynamics::one_pole;
///
/// let a = one_pole(1.0, 48_000);
/// let mut y = 0.0f32;
/// for _ in 0..48 {
///     y += a * (1.0 - y);
/// }
/// assert!((y - 0.632).abs() < 0.001);
/// ```
pub fn one_pole(ms: f32, sample_rate: u32) -> f32 {
    let samples = f64::from(ms.max(1e-3)) * 1e-3 * f64::from(sample_rate);
    (1.0 - (-1.0 / samples).exp()) as f32
}

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

/// Frames the dynamics processors handle per pass (a stack buffer, so nothing
/// allocates): long enough for the vector passes to pay off, short enough to stay in L1.
pub const CHUNK: usize = 64;

/// `work[i] = max over channels of |bufs[c][start + i]|`: the linked detector input.
#[inline]
pub(crate) fn loudest_channel(bufs: &[Box<[f32]>], start: usize, work: &mut [f32]) {
    let n = work.len();
    work.fill(0.0);
    for c in bufs {
        work.iter_mut()
            .zip(&c[start..start + n])
            .for_each(|(w, x)| {
                let a = x.abs();
                // Not `f32::max`: its NaN rule keeps the loop from vectorising.
                *w = if a > *w { a } else { *w };
            });
    }
}

/// `bufs[c][start + i] *= gains[i]` for every channel.
#[inline]
pub(crate) fn apply_gains(bufs: &mut [Box<[f32]>], start: usize, gains: &[f32]) {
    let n = gains.len();
    for c in bufs.iter_mut() {
        c[start..start + n]
            .iter_mut()
            .zip(gains)
            .for_each(|(x, g)| *x *= g);
    }
}

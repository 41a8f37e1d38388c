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
pub const CHUNK: usize = 256;

/// `work[i] = max over channels of |bufs[c][start + i]|`: the linked detector input.
#[inline]
pub(crate) fn loudest_channel(bufs: &[Box<[f32]>], start: usize, work: &mut [f32]) {
    let n = work.len();
    work.fill(0.0);
    for c in bufs {
        work.iter_mut()
            .zip(&c[start..start + n])
            // `f32::max` (which ignores a NaN sample): a select written as `if a > *w`
            // became a masked store, which stalls the next channel's loads.
            .for_each(|(w, x)| *w = w.max(x.abs()));
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

/// Frames per control tick. The compressor and the gate compute their gain once per
/// tick (6 kHz at 48 kHz: far faster than any attack they offer) and ramp linearly
/// between ticks; only the detector sees every frame. That turns their serial
/// per-frame recursions into a few scalar steps per tick around vector passes.
pub const TICK: usize = 8;

/// `(k + 1) / TICK`: where frame `k` of a tick lies between the gain at the end of the
/// previous tick and the gain at the end of this one.
const RAMP: [f32; TICK] = {
    let mut r = [0.0; TICK];
    let mut k = 0;
    while k < TICK {
        r[k] = (k + 1) as f32 / TICK as f32;
        k += 1;
    }
    r
};

/// The one-pole coefficient that moves as far in one step as `TICK` steps of `coef`
/// do: `1 − (1 − coef)^TICK`, so time constants are exact at every tick.
pub(crate) fn per_tick(coef: f32) -> f32 {
    (1.0 - (1.0 - f64::from(coef)).powi(TICK as i32)) as f32
}

/// `[factor^(TICK−1), …, factor, 1]`: the weight each frame of a tick carries at the
/// tick's end under a recursion that multiplies by `factor` every frame.
pub(crate) fn tick_powers(factor: f32) -> [f32; TICK] {
    std::array::from_fn(|k| f64::from(factor).powi((TICK - 1 - k) as i32) as f32)
}

/// Fills one tick (`gains.len()` ≤ [`TICK`] frames) with a linear ramp from `from`
/// (the previous tick's last gain, exclusive) to `to` (inclusive).
#[inline]
pub(crate) fn ramp_tick(gains: &mut [f32], from: f32, to: f32) {
    if let Ok(full) = <&mut [f32; TICK]>::try_from(&mut *gains) {
        for (g, r) in full.iter_mut().zip(RAMP) {
            *g = from + (to - from) * r;
        }
    } else {
        let step = (to - from) / gains.len() as f32;
        for (k, g) in gains.iter_mut().enumerate() {
            *g = from + step * (k + 1) as f32;
        }
    }
}

/// `Σ a[k]·b[k]` over one full tick, summed as a tree so it vectorises.
#[inline(always)]
pub(crate) fn dot_tick(a: &[f32; TICK], b: &[f32; TICK]) -> f32 {
    let p: [f32; TICK] = std::array::from_fn(|k| a[k] * b[k]);
    ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]))
}

/// `max a[k]·b[k]` over one full tick (inputs ≥ 0), as a tree.
#[inline(always)]
pub(crate) fn max_tick(a: &[f32; TICK], b: &[f32; TICK]) -> f32 {
    #[inline(always)]
    fn larger(a: f32, b: f32) -> f32 {
        if a > b { a } else { b }
    }
    let p: [f32; TICK] = std::array::from_fn(|k| a[k] * b[k]);
    larger(
        larger(larger(p[0], p[4]), larger(p[1], p[5])),
        larger(larger(p[2], p[6]), larger(p[3], p[7])),
    )
}

//! The parametric EQ: up to [`MAX_BANDS`] cookbook biquads in series over all channels
//! of a strip or bus, with parameter changes that glide instead of clicking.
//!
//! Processing is frame-major: for each frame, every band of every channel. A single
//! biquad's recursion is latency-bound (its next output waits on its last); running the
//! cascade frame by frame lets the bands and channels of neighbouring frames overlap in
//! the CPU, and groups of 2 or 4 channels share SIMD lanes.

use crate::biquad::{Coefficients, FilterKind, FilterParams, step};

/// Most bands one EQ has.
pub const MAX_BANDS: usize = 8;
/// Frames between coefficient updates while a band glides.
pub const GLIDE_STEP: usize = 16;
/// How long a parameter glide lasts, seconds.
pub const GLIDE_SECONDS: f64 = 0.010;

type Coefs = [[f64; 5]; MAX_BANDS];

/// The state of every band for `N` channels starting at `first`.
#[derive(Debug, Clone, Copy)]
struct Chain<const N: usize> {
    first: usize,
    s1: [[f32; N]; MAX_BANDS],
    s2: [[f32; N]; MAX_BANDS],
}

impl<const N: usize> Chain<N> {
    fn new(first: usize) -> Self {
        Chain {
            first,
            s1: [[0.0; N]; MAX_BANDS],
            s2: [[0.0; N]; MAX_BANDS],
        }
    }

    /// Filters frames `start..start + frames` through the first `bands` bands. Each step
    /// in f64, state stored in f32 (see [`Biquad`](crate::biquad::Biquad) for why).
    #[inline]
    fn process(
        &mut self,
        coef: &Coefs,
        bands: usize,
        bufs: &mut [Box<[f32]>],
        start: usize,
        frames: usize,
    ) {
        let chans: &mut [Box<[f32]>; N] = (&mut bufs[self.first..self.first + N])
            .try_into()
            .expect("N channels");
        let chans = chans.each_mut().map(|b| &mut b[start..start + frames]);
        let (s1, s2) = (&mut self.s1, &mut self.s2);
        // Frame-major with bands and channels inside, on purpose (see the module docs).
        #[allow(clippy::needless_range_loop)]
        for i in 0..frames {
            let mut x: [f64; N] = std::array::from_fn(|c| f64::from(chans[c][i]));
            for b in 0..bands {
                for c in 0..N {
                    x[c] = step(&coef[b], x[c], &mut s1[b][c], &mut s2[b][c]);
                }
            }
            for c in 0..N {
                chans[c][i] = x[c] as f32;
            }
        }
    }
}

/// The channels, in groups of 4, 2 and 1.
#[derive(Debug, Clone, Copy)]
enum Group {
    One(Chain<1>),
    Two(Chain<2>),
    Four(Chain<4>),
}

impl Group {
    #[inline]
    fn process(
        &mut self,
        coef: &Coefs,
        bands: usize,
        bufs: &mut [Box<[f32]>],
        start: usize,
        frames: usize,
    ) {
        match self {
            Group::One(c) => c.process(coef, bands, bufs, start, frames),
            Group::Two(c) => c.process(coef, bands, bufs, start, frames),
            Group::Four(c) => c.process(coef, bands, bufs, start, frames),
        }
    }

    /// Copies band `band`'s state from `old` (same layout).
    fn continue_band_from(&mut self, old: &Group, band: usize) {
        match (self, old) {
            (Group::One(a), Group::One(b)) if a.first == b.first => {
                (a.s1[band], a.s2[band]) = (b.s1[band], b.s2[band]);
            }
            (Group::Two(a), Group::Two(b)) if a.first == b.first => {
                (a.s1[band], a.s2[band]) = (b.s1[band], b.s2[band]);
            }
            (Group::Four(a), Group::Four(b)) if a.first == b.first => {
                (a.s1[band], a.s2[band]) = (b.s1[band], b.s2[band]);
            }
            _ => {}
        }
    }
}

fn groups(channels: usize) -> Vec<Group> {
    let mut out = Vec::new();
    let mut first = 0;
    while first < channels {
        let left = channels - first;
        let group = if left >= 4 {
            Group::Four(Chain::new(first))
        } else if left >= 2 {
            Group::Two(Chain::new(first))
        } else {
            Group::One(Chain::new(first))
        };
        first += match group {
            Group::Four(_) => 4,
            Group::Two(_) => 2,
            Group::One(_) => 1,
        };
        out.push(group);
    }
    out
}

#[derive(Debug, Clone, Copy)]
struct Band {
    target: FilterParams,
    current: FilterParams,
    /// Glide steps left; 0 when steady.
    steps_left: u32,
}

/// A parametric EQ over a fixed number of channels.
///
/// ```
/// use troubadour_dsp::biquad::{FilterKind, FilterParams};
/// use troubadour_dsp::eq::Equalizer;
///
/// let band = FilterParams { kind: FilterKind::HighPass, freq_hz: 80.0, q: 0.707, gain_db: 0.0, slope: None };
/// let mut eq = Equalizer::new(&[band], 2, 48_000);
/// let mut bufs: Vec<Box<[f32]>> = vec![vec![1.0; 256].into(), vec![1.0; 256].into()];
/// eq.process(&mut bufs, 256);
/// assert!(bufs[0][255].abs() < 0.9); // DC is being removed
/// ```
#[derive(Debug, Clone)]
pub struct Equalizer {
    bands: Vec<Band>,
    coef: Coefs,
    groups: Vec<Group>,
    sample_rate: f64,
    glide_steps: u32,
}

impl Equalizer {
    /// An EQ with `bands` (at most [`MAX_BANDS`] are used) at its settings from the start.
    /// Allocates: call off the audio thread.
    pub fn new(bands: &[FilterParams], channels: usize, sample_rate: u32) -> Self {
        let sample_rate = f64::from(sample_rate);
        let bands: Vec<Band> = bands
            .iter()
            .take(MAX_BANDS)
            .map(|p| Band {
                target: *p,
                current: *p,
                steps_left: 0,
            })
            .collect();
        let mut coef = [Coefficients::IDENTITY.to_array(); MAX_BANDS];
        for (c, b) in coef.iter_mut().zip(&bands) {
            *c = Coefficients::design(&b.current, sample_rate).to_array();
        }
        let glide_steps = ((GLIDE_SECONDS * sample_rate) / GLIDE_STEP as f64)
            .ceil()
            .max(1.0) as u32;
        Equalizer {
            bands,
            coef,
            groups: groups(channels),
            sample_rate,
            glide_steps,
        }
    }

    /// Number of bands.
    pub fn bands(&self) -> usize {
        self.bands.len()
    }

    /// The settings band `index` is heading to.
    pub fn band(&self, index: usize) -> Option<&FilterParams> {
        self.bands.get(index).map(|b| &b.target)
    }

    /// Audio thread: sets band `index` to `params`. Frequency, Q, gain and slope glide
    /// over [`GLIDE_SECONDS`]; a change of filter type takes effect at once.
    pub fn set_band(&mut self, index: usize, params: FilterParams) {
        let Some(band) = self.bands.get_mut(index) else {
            return;
        };
        if params == band.target {
            return;
        }
        band.target = params;
        if params.kind != band.current.kind {
            band.current = params;
            band.steps_left = 0;
            self.coef[index] = Coefficients::design(&params, self.sample_rate).to_array();
        } else {
            band.steps_left = self.glide_steps;
        }
    }

    /// Audio thread: filters `frames` frames of every channel of `bufs` in place.
    pub fn process(&mut self, bufs: &mut [Box<[f32]>], frames: usize) {
        let n_bands = self.bands.len();
        let mut start = 0;
        while start < frames {
            let gliding = self.bands.iter().any(|b| b.steps_left > 0);
            let n = if gliding {
                for (band, coef) in self.bands.iter_mut().zip(self.coef.iter_mut()) {
                    if band.steps_left > 0 {
                        *coef = glide(band, self.sample_rate);
                    }
                }
                GLIDE_STEP.min(frames - start)
            } else {
                frames - start
            };
            for g in self.groups.iter_mut() {
                g.process(&self.coef, n_bands, bufs, start, n);
            }
            start += n;
        }
    }

    /// Takes over the filter states of `old` (same channel layout) for the bands whose
    /// type is unchanged, gliding from `old`'s settings to this EQ's, so a rebuilt graph
    /// continues without a transient.
    pub fn continue_from(&mut self, old: &Equalizer) {
        for (b, (new, old_band)) in self.bands.iter_mut().zip(&old.bands).enumerate() {
            if new.target.kind != old_band.current.kind {
                continue;
            }
            for (g, o) in self.groups.iter_mut().zip(&old.groups) {
                g.continue_band_from(o, b);
            }
            new.current = old_band.current;
            self.coef[b] = old.coef[b];
            new.steps_left = if new.target != new.current {
                self.glide_steps
            } else {
                0
            };
        }
    }
}

/// One glide step: each parameter moves a `1 / steps_left` share of the way to its
/// target (frequency and Q geometrically, gain and slope linearly); returns the
/// redesigned coefficients.
fn glide(band: &mut Band, sample_rate: f64) -> [f64; 5] {
    let k = 1.0 / f64::from(band.steps_left);
    let (c, t) = (&mut band.current, &band.target);
    c.freq_hz *= (t.freq_hz / c.freq_hz).powf(k);
    c.q *= (t.q / c.q).powf(k);
    c.gain_db += (t.gain_db - c.gain_db) * k;
    c.slope = match (c.slope, t.slope) {
        (Some(a), Some(b)) => Some(a + (b - a) * k),
        (_, b) => b,
    };
    band.steps_left -= 1;
    if band.steps_left == 0 {
        *c = *t;
    }
    Coefficients::design(c, sample_rate).to_array()
}

impl FilterKind {
    /// Every type, for tests and tools.
    pub const ALL: [FilterKind; 8] = [
        FilterKind::Peak,
        FilterKind::LowShelf,
        FilterKind::HighShelf,
        FilterKind::LowPass,
        FilterKind::HighPass,
        FilterKind::BandPass,
        FilterKind::Notch,
        FilterKind::AllPass,
    ];
}

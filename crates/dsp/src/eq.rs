//! The parametric EQ: up to [`MAX_BANDS`] cookbook biquads in series over all channels
//! of a strip or bus, with parameter changes that glide instead of clicking.

use crate::biquad::{Biquad, Coefficients, FilterKind, FilterParams};

/// Most bands one EQ has.
pub const MAX_BANDS: usize = 8;
/// Frames between coefficient updates while a band glides.
pub const GLIDE_STEP: usize = 16;
/// How long a parameter glide lasts, seconds.
pub const GLIDE_SECONDS: f64 = 0.010;

/// A band's channels, filtered in groups of 4, 2 and 1 so each group's recursions run
/// side by side.
#[derive(Debug, Clone)]
enum Group {
    One(usize, Biquad<1>),
    Two(usize, Biquad<2>),
    Four(usize, Biquad<4>),
}

impl Group {
    fn set(&mut self, coef: [f64; 5]) {
        match self {
            Group::One(_, b) => b.coef = coef,
            Group::Two(_, b) => b.coef = coef,
            Group::Four(_, b) => b.coef = coef,
        }
    }

    #[inline]
    fn process(&mut self, bufs: &mut [Box<[f32]>], start: usize, frames: usize) {
        match self {
            Group::One(first, b) => b.process(bufs, *first, start, frames),
            Group::Two(first, b) => b.process(bufs, *first, start, frames),
            Group::Four(first, b) => b.process(bufs, *first, start, frames),
        }
    }

    fn continue_from(&mut self, old: &Group) {
        match (self, old) {
            (Group::One(a, x), Group::One(b, y)) if a == b => x.continue_from(y),
            (Group::Two(a, x), Group::Two(b, y)) if a == b => x.continue_from(y),
            (Group::Four(a, x), Group::Four(b, y)) if a == b => x.continue_from(y),
            _ => {}
        }
    }
}

fn groups(channels: usize, coef: [f64; 5]) -> Vec<Group> {
    let mut out = Vec::new();
    let mut first = 0;
    while first < channels {
        let left = channels - first;
        if left >= 4 {
            out.push(Group::Four(first, Biquad::new(coef)));
            first += 4;
        } else if left >= 2 {
            out.push(Group::Two(first, Biquad::new(coef)));
            first += 2;
        } else {
            out.push(Group::One(first, Biquad::new(coef)));
            first += 1;
        }
    }
    out
}

#[derive(Debug, Clone)]
struct Band {
    target: FilterParams,
    current: FilterParams,
    /// Glide steps left; 0 when steady.
    steps_left: u32,
    groups: Vec<Group>,
}

/// A parametric EQ over `channels` channels.
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
    sample_rate: f64,
    glide_steps: u32,
}

impl Equalizer {
    /// An EQ with `bands` (at most [`MAX_BANDS`] are used) at its settings from the start.
    /// Allocates: call off the audio thread.
    pub fn new(bands: &[FilterParams], channels: usize, sample_rate: u32) -> Self {
        let sample_rate = f64::from(sample_rate);
        let bands = bands
            .iter()
            .take(MAX_BANDS)
            .map(|p| Band {
                target: *p,
                current: *p,
                steps_left: 0,
                groups: groups(channels, Coefficients::design(p, sample_rate).to_array()),
            })
            .collect();
        let glide_steps = ((GLIDE_SECONDS * sample_rate) / GLIDE_STEP as f64)
            .ceil()
            .max(1.0) as u32;
        Equalizer {
            bands,
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
            let coef = Coefficients::design(&params, self.sample_rate).to_array();
            band.groups.iter_mut().for_each(|g| g.set(coef));
        } else {
            band.steps_left = self.glide_steps;
        }
    }

    /// Audio thread: filters `frames` frames of every channel of `bufs` in place.
    pub fn process(&mut self, bufs: &mut [Box<[f32]>], frames: usize) {
        for band in self.bands.iter_mut() {
            let mut start = 0;
            while band.steps_left > 0 && start < frames {
                glide(band, self.sample_rate);
                let n = GLIDE_STEP.min(frames - start);
                band.groups
                    .iter_mut()
                    .for_each(|g| g.process(bufs, start, n));
                start += n;
            }
            if start < frames {
                band.groups
                    .iter_mut()
                    .for_each(|g| g.process(bufs, start, frames - start));
            }
        }
    }

    /// Takes over the filter states of `old` (same band types and channel layout) so a
    /// rebuilt graph continues without a transient.
    pub fn continue_from(&mut self, old: &Equalizer) {
        for (new, old) in self.bands.iter_mut().zip(&old.bands) {
            if new.target.kind == old.current.kind {
                for (g, o) in new.groups.iter_mut().zip(&old.groups) {
                    g.continue_from(o);
                }
                // Glide from where the old band was.
                let target = new.target;
                new.current = old.current;
                new.target = old.current;
                new.steps_left = 0;
                let coef = Coefficients::design(&new.current, self.sample_rate).to_array();
                new.groups.iter_mut().for_each(|g| g.set(coef));
                if target != new.current {
                    new.target = target;
                    new.steps_left = self.glide_steps;
                }
            }
        }
    }
}

/// One glide step: each parameter moves a `1 / steps_left` share of the way to its
/// target (frequency and Q geometrically, gain and slope linearly), then the
/// coefficients are redesigned.
fn glide(band: &mut Band, sample_rate: f64) {
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
    let coef = Coefficients::design(c, sample_rate).to_array();
    band.groups.iter_mut().for_each(|g| g.set(coef));
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

//! The parametric EQ: up to [`MAX_BANDS`] cookbook biquads in series over all channels
//! of a strip or bus, with parameter changes that glide instead of clicking.
//!
//! A single biquad's recursion is latency-bound: its next output waits on its last, so
//! filtering band after band, channel after channel leaves most of the CPU idle. The
//! bands run as a *wavefront* instead: the bands sit in the lanes of a vector, and
//! at step `t` lane `b` filters frame `t − b`, taking its input from lane `b − 1`'s
//! output of the step before. Every step is one vector biquad step over all bands and
//! their recursions overlap. Each
//! block starts and ends with a partial wavefront (lanes outside the block stand
//! still), so the EQ adds no delay. Up to four bands run in a 4-lane wavefront, five to
//! eight in an 8-lane one: the recursion's latency, not the lane count, sets the pace.
//!
//! A channel on its own (a mono EQ, the odd channel out) has only its bands to overlap
//! that way; on AVX2 CPUs it runs in *block form* instead (module `block`), eight
//! frames per step, while no band glides. The two kernels keep the same state, so they
//! take turns.
//!
//! Steps compute in f64 (see [`Biquad`](crate::biquad::Biquad) for why f32 arithmetic
//! is not accurate enough at low corner frequencies); the state is kept in f64 within a
//! block and stored in f32 between blocks. On x86-64 CPUs with AVX2 and FMA (detected at
//! run time) the same code is compiled with fused multiply-adds.

use crate::biquad::{Coefficients, FilterKind, FilterParams};
use crate::simd::{KernelChoice, Kernels};
use wave::{Plain, Wave, lanes};

mod block;
mod wave;
#[cfg(target_arch = "x86_64")]
mod x86;

/// Most bands one EQ has.
pub const MAX_BANDS: usize = 8;
/// Frames between coefficient updates while a band glides.
pub const GLIDE_STEP: usize = 16;
/// How long a parameter glide lasts, seconds.
pub const GLIDE_SECONDS: f64 = 0.010;

type Coefs = [[f64; 5]; MAX_BANDS];

/// The coefficients lane-major: `b0, b1, b2, −a1, −a2`, each for every band.
type LaneCoefs = [[f64; MAX_BANDS]; 5];

/// The state of every band of one channel, stored in f32 between blocks.
#[derive(Debug, Clone, Copy, Default)]
struct Channel {
    s1: [f32; MAX_BANDS],
    s2: [f32; MAX_BANDS],
}

impl Channel {
    /// Copies band `band`'s state from `old`.
    fn continue_band_from(&mut self, old: &Channel, band: usize) {
        self.s1[band] = old.s1[band];
        self.s2[band] = old.s2[band];
    }
}

/// Filters every channel of `bufs` (frames `start..start + n`) through the first `bands`
/// bands, on the portable kernel: each channel on its own, all bands in one wavefront.
fn process_portable(
    k: &LaneCoefs,
    bands: usize,
    states: &mut [Channel],
    bufs: &mut [Box<[f32]>],
    start: usize,
    n: usize,
) {
    for (st, buf) in states.iter_mut().zip(bufs.iter_mut()) {
        let chan = &mut buf[start..start + n];
        if bands <= 4 {
            let mut w = Wave::<4>::load(&st.s1, &st.s2);
            w.run::<Plain>(&lanes(k, 0), chan);
            w.store(&mut st.s1, &mut st.s2);
        } else {
            let mut w = Wave::<8>::load(&st.s1, &st.s2);
            w.run::<Plain>(&lanes(k, 0), chan);
            w.store(&mut st.s1, &mut st.s2);
        }
    }
}

/// Whether the two channels of a pair run faster one after the other in block form than
/// as a two-channel wavefront (measured: `cargo bench -p troubadour-dsp --bench
/// processors -- nomatch`): with one or two bands, whose wavefront leaves most lanes
/// empty, and on AVX-512 with five bands or more (two chains per channel in flight).
fn pair_in_blocks(bands: usize, avx512: bool) -> bool {
    bands <= 2 || (avx512 && bands >= 5)
}
/// The lane-major coefficients of `coef` (unused bands are identities).
fn lane_coefs(coef: &Coefs) -> LaneCoefs {
    [
        std::array::from_fn(|b| coef[b][0]),
        std::array::from_fn(|b| coef[b][1]),
        std::array::from_fn(|b| coef[b][2]),
        std::array::from_fn(|b| -coef[b][3]),
        std::array::from_fn(|b| -coef[b][4]),
    ]
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
    channels: Vec<Channel>,
    sample_rate: f64,
    glide_steps: u32,
    /// Each band's block form (see [`block`]), for single channels while no band glides.
    forms: Vec<block::BlockForm>,
    /// Some band's coefficients changed since `forms` was computed.
    forms_stale: bool,
    /// The kernels it runs on: fused (AVX2 + FMA) wavefronts with the AVX2 token,
    /// groups of channels in AVX-512 registers with that one too.
    kernels: Kernels,
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
        let forms = coef[..bands.len()]
            .iter()
            .map(|&c| block::BlockForm::new(c))
            .collect();
        let glide_steps = ((GLIDE_SECONDS * sample_rate) / GLIDE_STEP as f64)
            .ceil()
            .max(1.0) as u32;
        Equalizer {
            bands,
            coef,
            channels: vec![Channel::default(); channels],
            sample_rate,
            glide_steps,
            forms,
            forms_stale: false,
            kernels: Kernels::default(),
        }
    }

    /// The same EQ on the kernels `choice` resolves to on this CPU (the default is
    /// [`KernelChoice::Best`]). The fused kernels differ from the portable one (plain
    /// multiply-adds) in the last bits; the AVX-512 wavefront computes what the AVX2 one
    /// does, bit for bit, but the two choose the block form for different channel and
    /// band counts, which differs by rounding. Detects the CPU's features: call off the
    /// audio thread.
    pub fn with_kernels(mut self, choice: KernelChoice) -> Self {
        self.kernels = Kernels::new(choice);
        self
    }

    /// The same EQ on the portable kernel (plain multiply-adds), whatever the CPU: for
    /// comparing the kernels.
    pub fn portable(self) -> Self {
        self.with_kernels(KernelChoice::Portable)
    }

    /// The kernels this EQ runs.
    pub fn kernels(&self) -> Kernels {
        self.kernels
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
            self.forms_stale = true;
        } else {
            band.steps_left = self.glide_steps;
        }
    }

    /// Audio thread: filters `frames` frames of every channel of `bufs` in place.
    pub fn process(&mut self, bufs: &mut [Box<[f32]>], frames: usize) {
        let bands = self.bands.len();
        let mut coefs = lane_coefs(&self.coef);
        let mut start = 0;
        while start < frames {
            let gliding = self.bands.iter().any(|b| b.steps_left > 0);
            let n = if gliding {
                for (band, coef) in self.bands.iter_mut().zip(self.coef.iter_mut()) {
                    if band.steps_left > 0 {
                        *coef = glide(band, self.sample_rate);
                    }
                }
                coefs = lane_coefs(&self.coef);
                self.forms_stale = true;
                GLIDE_STEP.min(frames - start)
            } else {
                if self.forms_stale {
                    // A few hundred multiply-adds per band, no allocation: fine here.
                    for (form, &c) in self.forms.iter_mut().zip(&self.coef) {
                        *form = block::BlockForm::new(c);
                    }
                    self.forms_stale = false;
                }
                frames - start
            };
            #[cfg(target_arch = "x86_64")]
            if let Some(avx2) = self.kernels.avx2() {
                // SAFETY: the token proves this CPU has AVX2 and FMA.
                unsafe {
                    x86::process_avx(
                        avx2,
                        &coefs,
                        bands,
                        (!gliding).then_some(&self.forms[..]),
                        &mut self.channels,
                        bufs,
                        start,
                        n,
                        self.kernels.avx512(),
                    )
                };
                start += n;
                continue;
            }
            process_portable(&coefs, bands, &mut self.channels, bufs, start, n);
            start += n;
        }
    }

    /// Filters `x_bufs` through `x` and `y_bufs` through `y`, interleaved where that is
    /// faster: two stereo EQs of up to four bands, neither gliding, on the AVX2 kernel
    /// run their four channels' recursions side by side (about 1.5× the throughput of
    /// one after the other; a single stereo EQ leaves the FMA units waiting). Anything
    /// else runs one EQ after the other. Same results either way.
    pub fn process_pair(
        x: &mut Equalizer,
        x_bufs: &mut [Box<[f32]>],
        y: &mut Equalizer,
        y_bufs: &mut [Box<[f32]>],
        frames: usize,
    ) {
        #[cfg(target_arch = "x86_64")]
        if let (Some(avx2), Some(_)) = (x.kernels.avx2(), y.kernels.avx2())
            && x.pairable()
            && y.pairable()
        {
            let (kx, ky) = (lane_coefs(&x.coef), lane_coefs(&y.coef));
            // AVX-512 where both EQs chose it (it computes what AVX2 does, bit for bit).
            let avx512 = x.kernels.avx512().and(y.kernels.avx512());
            // SAFETY: the token proves this CPU has AVX2 and FMA.
            unsafe {
                x86::process_pair_avx(
                    avx2,
                    [&kx, &ky],
                    [&mut x.channels, &mut y.channels],
                    [x_bufs, y_bufs],
                    frames,
                    avx512,
                )
            };
            return;
        }
        x.process(x_bufs, frames);
        y.process(y_bufs, frames);
    }

    /// Stereo, up to four bands and not running in block form on its own (so that the
    /// pair computes what each computes alone), none gliding.
    fn pairable(&self) -> bool {
        self.channels.len() == 2
            && self.bands.len() <= 4
            && !pair_in_blocks(self.bands.len(), self.kernels.avx512().is_some())
            && self.bands.iter().all(|b| b.steps_left == 0)
    }

    /// Takes over the filter states of `old` (same channel layout) for the bands whose
    /// type is unchanged, gliding from `old`'s settings to this EQ's, so a rebuilt graph
    /// continues without a transient.
    pub fn continue_from(&mut self, old: &Equalizer) {
        for (b, (new, old_band)) in self.bands.iter_mut().zip(&old.bands).enumerate() {
            if new.target.kind != old_band.current.kind {
                continue;
            }
            for (c, o) in self.channels.iter_mut().zip(&old.channels) {
                c.continue_band_from(o, b);
            }
            new.current = old_band.current;
            self.coef[b] = old.coef[b];
            self.forms_stale = true;
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

#[cfg(test)]
mod tests;

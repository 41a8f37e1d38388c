//! A feed-forward compressor: RMS or peak detection, soft knee, attack and release in
//! the dB domain, make-up gain, channels linked, and an optional sidechain (another
//! signal drives the detector: music ducking under a voice).

use crate::dynamics::{CHUNK, apply_gains, one_pole};
use crate::fastmath::{amplitude_to_db, db_to_amplitude, power_to_db};

/// `a` if larger, else `b`, without `f32::max`'s NaN rule (which blocks vectorising).
#[inline(always)]
fn larger(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

/// What the detector measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Detector {
    /// Mean square over an exponential window of this many milliseconds.
    Rms {
        /// Window (time constant), ms.
        window_ms: f32,
    },
    /// The largest sample magnitude, frame by frame.
    Peak,
}

/// Compressor settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompressorParams {
    /// Level above which gain is reduced, dBFS (of the detector: RMS or peak).
    pub threshold_db: f32,
    /// dB in per dB out above the threshold (≥ 1).
    pub ratio: f32,
    /// Width of the soft knee in dB (0 = hard).
    pub knee_db: f32,
    /// Time constant for more gain reduction, ms.
    pub attack_ms: f32,
    /// Time constant for less gain reduction, ms.
    pub release_ms: f32,
    /// Make-up gain, dB.
    pub makeup_db: f32,
    /// Add half the reduction a 0 dBFS signal gets as further make-up.
    pub auto_makeup: bool,
    /// Detector.
    pub detector: Detector,
}

impl CompressorParams {
    /// The static curve: gain change in dB (≤ 0) for a detector level in dB, before
    /// make-up. Soft knee after Giannoulis, Massberg and Reiss (2012).
    ///
    /// ```
    /// use troubadour_dsp::compressor::{CompressorParams, Detector};
    ///
    /// let p = CompressorParams { threshold_db: -20.0, ratio: 4.0, knee_db: 0.0, attack_ms: 1.0,
    ///     release_ms: 50.0, makeup_db: 0.0, auto_makeup: false, detector: Detector::Peak };
    /// assert_eq!(p.gain_db(-30.0), 0.0);
    /// assert_eq!(p.gain_db(-8.0), -9.0); // 12 dB over becomes 3 dB over
    /// ```
    #[inline]
    pub fn gain_db(&self, level_db: f32) -> f32 {
        let over = level_db - self.threshold_db;
        let slope = 1.0 / self.ratio - 1.0;
        let w = self.knee_db;
        // Every branch is computed and one selected, so loops over this vectorise.
        let half = over + 0.5 * w;
        let knee = if w > 0.0 {
            slope * half * half / (2.0 * w)
        } else {
            0.0
        };
        let above = slope * over;
        let in_knee = w > 0.0 && 2.0 * over.abs() <= w;
        let below = 2.0 * over <= -w;
        if below {
            0.0
        } else if in_knee {
            knee
        } else {
            above
        }
    }

    /// Total make-up gain in dB.
    pub fn total_makeup_db(&self) -> f32 {
        self.makeup_db
            + if self.auto_makeup {
                -0.5 * self.gain_db(0.0)
            } else {
                0.0
            }
    }
}

/// A running compressor.
#[derive(Debug, Clone)]
pub struct Compressor {
    params: CompressorParams,
    sample_rate: u32,
    attack: f32,
    release: f32,
    rms: f32,
    makeup_db: f32,
    /// Detector state: mean square (RMS) — unused for peak.
    mean_square: f32,
    /// Current gain change, dB (≤ 0).
    gain_db: f32,
}

impl Compressor {
    /// A compressor at rest (no gain reduction).
    pub fn new(params: CompressorParams, sample_rate: u32) -> Self {
        let mut c = Compressor {
            params,
            sample_rate,
            attack: 0.0,
            release: 0.0,
            rms: 0.0,
            makeup_db: 0.0,
            mean_square: 0.0,
            gain_db: 0.0,
        };
        c.set_params(params);
        c
    }

    /// Audio thread: new settings; the running state carries on.
    pub fn set_params(&mut self, params: CompressorParams) {
        self.params = params;
        self.attack = one_pole(params.attack_ms, self.sample_rate);
        self.release = one_pole(params.release_ms, self.sample_rate);
        self.rms = match params.detector {
            Detector::Rms { window_ms } => one_pole(window_ms, self.sample_rate),
            Detector::Peak => 1.0,
        };
        self.makeup_db = params.total_makeup_db();
    }

    /// The settings.
    pub fn params(&self) -> &CompressorParams {
        &self.params
    }

    /// Current gain reduction, dB (≥ 0).
    pub fn reduction_db(&self) -> f32 {
        -self.gain_db
    }

    /// Audio thread: compresses `frames` frames of every channel of `bufs` in place. The
    /// detector listens to `sidechain` if given (any channel count), else to `bufs`
    /// itself; channels are linked (the loudest drives them all). Returns the largest
    /// gain reduction in the block, dB.
    ///
    /// Works in chunks of [`CHUNK`] frames, pass by pass, so that everything but the
    /// two recursions (RMS average, gain smoothing) runs as vector code.
    pub fn process(
        &mut self,
        bufs: &mut [Box<[f32]>],
        sidechain: Option<&[Box<[f32]>]>,
        frames: usize,
    ) -> f32 {
        let p = self.params;
        let mut most = 0.0f32;
        let mut start = 0;
        while start < frames {
            let n = CHUNK.min(frames - start);
            let mut work = [0.0f32; CHUNK];
            let work = &mut work[..n];
            let source: &[Box<[f32]>] = sidechain.unwrap_or(&*bufs);
            // Detector input: the loudest channel, squared (RMS) or rectified (peak).
            for c in source {
                let c = &c[start..start + n];
                match p.detector {
                    Detector::Rms { .. } => work
                        .iter_mut()
                        .zip(c)
                        .for_each(|(w, x)| *w = larger(*w, x * x)),
                    Detector::Peak => work
                        .iter_mut()
                        .zip(c)
                        .for_each(|(w, x)| *w = larger(*w, x.abs())),
                }
            }
            // Level in dB.
            match p.detector {
                Detector::Rms { .. } => {
                    let mut ms = self.mean_square;
                    for w in work.iter_mut() {
                        ms += self.rms * (*w - ms);
                        *w = ms;
                    }
                    self.mean_square = ms;
                    work.iter_mut().for_each(|w| *w = power_to_db(*w));
                }
                Detector::Peak => work.iter_mut().for_each(|w| *w = amplitude_to_db(*w)),
            }
            // Static curve, then the attack/release smoothing (the serial part).
            work.iter_mut().for_each(|w| *w = p.gain_db(*w));
            let mut gain_db = self.gain_db;
            for w in work.iter_mut() {
                let coef = if *w < gain_db {
                    self.attack
                } else {
                    self.release
                };
                gain_db += coef * (*w - gain_db);
                most = most.min(gain_db);
                *w = gain_db + self.makeup_db;
            }
            self.gain_db = gain_db;
            // To linear gain, applied to every channel.
            work.iter_mut().for_each(|w| *w = db_to_amplitude(*w));
            apply_gains(bufs, start, work);
            start += n;
        }
        -most
    }

    /// Takes over the detector and gain state of another compressor.
    pub fn continue_from(&mut self, old: &Compressor) {
        self.mean_square = old.mean_square;
        self.gain_db = old.gain_db;
    }
}

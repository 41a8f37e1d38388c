//! A feed-forward compressor: RMS or peak detection, soft knee, attack and release in
//! the dB domain, make-up gain, channels linked, and an optional sidechain (another
//! signal drives the detector: music ducking under a voice).

use crate::dynamics::one_pole;
use crate::fastmath::{amplitude_to_db, db_to_amplitude, power_to_db};

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
        if 2.0 * over <= -w {
            0.0
        } else if w > 0.0 && 2.0 * over.abs() <= w {
            slope * (over + w / 2.0) * (over + w / 2.0) / (2.0 * w)
        } else {
            slope * over
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
    pub fn process(
        &mut self,
        bufs: &mut [Box<[f32]>],
        sidechain: Option<&[Box<[f32]>]>,
        frames: usize,
    ) -> f32 {
        let p = self.params;
        let mut most = 0.0f32;
        for i in 0..frames {
            let source: &[Box<[f32]>] = match sidechain {
                Some(s) => s,
                None => bufs,
            };
            let level_db = match p.detector {
                Detector::Rms { .. } => {
                    let square = source.iter().map(|c| c[i] * c[i]).fold(0.0f32, f32::max);
                    self.mean_square += self.rms * (square - self.mean_square);
                    power_to_db(self.mean_square)
                }
                Detector::Peak => {
                    amplitude_to_db(source.iter().map(|c| c[i].abs()).fold(0.0f32, f32::max))
                }
            };
            let target = p.gain_db(level_db);
            let coef = if target < self.gain_db {
                self.attack
            } else {
                self.release
            };
            self.gain_db += coef * (target - self.gain_db);
            most = most.min(self.gain_db);
            let g = db_to_amplitude(self.gain_db + self.makeup_db);
            for c in bufs.iter_mut() {
                c[i] *= g;
            }
        }
        -most
    }

    /// Takes over the detector and gain state of another compressor.
    pub fn continue_from(&mut self, old: &Compressor) {
        self.mean_square = old.mean_square;
        self.gain_db = old.gain_db;
    }
}

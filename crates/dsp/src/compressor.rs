//! A feed-forward compressor: RMS or peak detection, soft knee, attack and release in
//! the dB domain, make-up gain, channels linked, and an optional sidechain (another
//! signal drives the detector: music ducking under a voice).

use crate::dynamics::{
    CHUNK, TICK, apply_gains, dot_tick, max_tick, one_pole, per_tick, ramp_tick, tick_powers,
};
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
    #[inline(always)]
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
    /// The kernels the loop runs on ([`crate::simd`]).
    kernels: crate::simd::Kernels,
    params: CompressorParams,
    sample_rate: u32,
    attack: f32,
    release: f32,
    /// `attack` and `release` for a whole tick.
    attack_tick: f32,
    release_tick: f32,
    rms: f32,
    /// The RMS average over a full tick: `mean_square · rms_decay + Σ rms_weights · x²`.
    rms_decay: f32,
    rms_weights: [f32; TICK],
    makeup_db: f32,
    /// Detector state: mean square (RMS) — unused for peak.
    mean_square: f32,
    /// Current gain change, dB (≤ 0), as of the last tick.
    gain_db: f32,
    /// The linear gain applied at the last tick, make-up included (the next tick's ramp
    /// starts here).
    gain: f32,
}

impl Compressor {
    /// A compressor at rest (no gain reduction).
    pub fn new(params: CompressorParams, sample_rate: u32) -> Self {
        let mut c = Compressor {
            kernels: crate::simd::Kernels::default(),
            params,
            sample_rate,
            attack: 0.0,
            release: 0.0,
            attack_tick: 0.0,
            release_tick: 0.0,
            rms: 0.0,
            rms_decay: 0.0,
            rms_weights: [0.0; TICK],
            makeup_db: 0.0,
            mean_square: 0.0,
            gain_db: 0.0,
            gain: 1.0,
        };
        c.set_params(params);
        c.gain = db_to_amplitude(c.makeup_db);
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
        self.attack_tick = per_tick(self.attack);
        self.release_tick = per_tick(self.release);
        self.rms_decay = (1.0 - f64::from(self.rms)).powi(TICK as i32) as f32;
        self.rms_weights = tick_powers(1.0 - self.rms).map(|w| w * self.rms);
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

    crate::simd::dispatch! {
        /// Audio thread: compresses `frames` frames of every channel of `bufs` in place. The
        /// detector listens to `sidechain` if given (any channel count), else to `bufs`
        /// itself; channels are linked (the loudest drives them all). Returns the largest
        /// gain reduction in the block, dB.
        ///
        /// Works in chunks of [`CHUNK`] frames, pass by pass: the detector input is a vector
        /// pass over every frame; the level, the static curve and the attack/release
        /// smoothing run once per [`TICK`] (the RMS average folded over the tick exactly);
        /// the gain ramps linearly between ticks.
        pub fn process(
            &mut self,
            bufs: &mut [Box<[f32]>],
            sidechain: Option<&[Box<[f32]>]>,
            frames: usize,
        ) -> f32;
        avx2: process_avx2, any: process_any
    }

    /// The processing loop, compiled into both versions.
    #[inline(always)]
    fn process_any(
        &mut self,
        bufs: &mut [Box<[f32]>],
        sidechain: Option<&[Box<[f32]>]>,
        frames: usize,
    ) -> f32 {
        let p = self.params;
        let rms = matches!(p.detector, Detector::Rms { .. });
        let mut most = 0.0f32;
        let mut start = 0;
        while start < frames {
            let n = CHUNK.min(frames - start);
            let mut work = [0.0f32; CHUNK];
            let work = &mut work[..n];
            let source: &[Box<[f32]>] = sidechain.unwrap_or(&*bufs);
            // Detector input: the loudest channel, squared (RMS) or rectified (peak).
            // `f32::max`, not a select: `if a > *w` became a masked store here.
            for c in source {
                let c = &c[start..start + n];
                if rms {
                    work.iter_mut().zip(c).for_each(|(w, x)| *w = w.max(x * x));
                } else {
                    work.iter_mut()
                        .zip(c)
                        .for_each(|(w, x)| *w = w.max(x.abs()));
                }
            }
            // Per tick, the detector level (the RMS average folded over the tick)...
            let ticks = n.div_ceil(TICK);
            let mut level = [0.0f32; CHUNK / TICK];
            let level = &mut level[..ticks];
            for (l, tick) in level.iter_mut().zip(work.chunks(TICK)) {
                let full = <&[f32; TICK]>::try_from(tick).ok();
                *l = if rms {
                    self.mean_square = match full {
                        Some(t) => {
                            self.mean_square * self.rms_decay + dot_tick(t, &self.rms_weights)
                        }
                        None => tick
                            .iter()
                            .fold(self.mean_square, |ms, w| ms + self.rms * (w - ms)),
                    };
                    self.mean_square
                } else {
                    match full {
                        Some(t) => max_tick(t, &[1.0; TICK]),
                        None => tick.iter().fold(0.0, |m, &w| larger(m, w)),
                    }
                };
            }
            // ...in dB and through the static curve (vector passes over the ticks)...
            if rms {
                for l in level.iter_mut() {
                    *l = p.gain_db(power_to_db(*l));
                }
            } else {
                for l in level.iter_mut() {
                    *l = p.gain_db(amplitude_to_db(*l));
                }
            }
            // ...smoothed with the attack and release (the serial part)...
            for (target, tick) in level.iter_mut().zip(work.chunks(TICK)) {
                let attacking = *target < self.gain_db;
                if tick.len() == TICK {
                    let coef = if attacking {
                        self.attack_tick
                    } else {
                        self.release_tick
                    };
                    self.gain_db += coef * (*target - self.gain_db);
                } else {
                    let coef = if attacking { self.attack } else { self.release };
                    for _ in 0..tick.len() {
                        self.gain_db += coef * (*target - self.gain_db);
                    }
                }
                most = most.min(self.gain_db);
                *target = self.gain_db + self.makeup_db;
            }
            // ...to linear gains, ramped across each tick.
            for l in level.iter_mut() {
                *l = db_to_amplitude(*l);
            }
            for (&gain, tick) in level.iter().zip(work.chunks_mut(TICK)) {
                ramp_tick(tick, self.gain, gain);
                self.gain = gain;
            }
            apply_gains(bufs, start, work);
            start += n;
        }
        -most
    }

    /// Takes over the detector and gain state of another compressor.
    pub fn continue_from(&mut self, old: &Compressor) {
        self.mean_square = old.mean_square;
        self.gain_db = old.gain_db;
        self.gain = old.gain;
    }
}

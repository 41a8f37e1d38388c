//! A noise gate with hysteresis (it opens above one level and closes below a lower
//! one), hold, attack, release and a range (how far it closes).

use crate::dynamics::{
    CHUNK, TICK, apply_gains, loudest_channel, max_tick, one_pole, per_tick, ramp_tick, tick_powers,
};
use crate::fastmath::amplitude_to_db;
use crate::gain::db_to_gain;

/// Time constant of the gate's level detector (a peak follower), ms: long enough that
/// a 20 Hz waveform does not chatter between its peaks, short enough to follow speech.
pub const DETECTOR_RELEASE_MS: f32 = 10.0;

/// Gate settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateParams {
    /// Detector level at which a closed gate opens, dBFS (peak).
    pub open_db: f32,
    /// Detector level below which an open gate starts to close, dBFS (≤ `open_db`).
    pub close_db: f32,
    /// Opening time constant, ms.
    pub attack_ms: f32,
    /// Time the gate stays open after the level falls below `close_db`, ms.
    pub hold_ms: f32,
    /// Closing time constant, ms.
    pub release_ms: f32,
    /// Gain when closed, dB (≤ 0).
    pub range_db: f32,
}

/// A running gate.
///
/// ```
/// use troubadour_dsp::gate::{Gate, GateParams};
///
/// let p = GateParams { open_db: -40.0, close_db: -50.0, attack_ms: 0.1, hold_ms: 0.0, release_ms: 1.0, range_db: -80.0 };
/// let mut gate = Gate::new(p, 48_000);
/// let mut quiet: Vec<Box<[f32]>> = vec![vec![0.001; 4800].into()]; // -60 dBFS: stays shut
/// gate.process(&mut quiet, 4800);
/// assert!(quiet[0][4799] < 0.001 * 0.01);
/// ```
#[derive(Debug, Clone)]
pub struct Gate {
    /// The kernels the loop runs on ([`crate::simd`]).
    kernels: crate::simd::Kernels,
    params: GateParams,
    sample_rate: u32,
    attack: f32,
    release: f32,
    /// `attack` and `release` for a whole tick.
    attack_tick: f32,
    release_tick: f32,
    detector_release: f32,
    /// The detector over a full tick: `max(envelope · detector_tick, max_k level_k ·
    /// detector_powers[k])`, the per-frame peak follower folded exactly.
    detector_tick: f32,
    detector_powers: [f32; TICK],
    floor: f32,
    /// The thresholds as linear levels, so the detector needs no dB conversion.
    open_level: f32,
    close_level: f32,
    hold_samples: u32,
    envelope: f32,
    open: bool,
    hold_left: u32,
    gain: f32,
}

impl Gate {
    /// A closed gate.
    pub fn new(params: GateParams, sample_rate: u32) -> Self {
        let mut g = Gate {
            kernels: crate::simd::Kernels::default(),
            params,
            sample_rate,
            attack: 0.0,
            release: 0.0,
            attack_tick: 0.0,
            release_tick: 0.0,
            detector_release: 1.0 - one_pole(DETECTOR_RELEASE_MS, sample_rate),
            detector_tick: 0.0,
            detector_powers: [0.0; TICK],
            floor: 0.0,
            open_level: 0.0,
            close_level: 0.0,
            hold_samples: 0,
            envelope: 0.0,
            open: false,
            hold_left: 0,
            gain: db_to_gain(params.range_db),
        };
        g.detector_tick = g.detector_release.powi(TICK as i32);
        g.detector_powers = tick_powers(g.detector_release);
        g.set_params(params);
        g
    }

    /// Audio thread: new settings; the running state carries on.
    pub fn set_params(&mut self, params: GateParams) {
        self.params = params;
        self.attack = one_pole(params.attack_ms, self.sample_rate);
        self.release = one_pole(params.release_ms, self.sample_rate);
        self.attack_tick = per_tick(self.attack);
        self.release_tick = per_tick(self.release);
        self.floor = db_to_gain(params.range_db);
        self.open_level = db_to_gain(params.open_db);
        self.close_level = db_to_gain(params.close_db);
        self.hold_samples =
            (params.hold_ms.max(0.0) * 1e-3 * self.sample_rate as f32).round() as u32;
    }

    /// Whether the gate is open.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Current gain reduction, dB (≥ 0).
    pub fn reduction_db(&self) -> f32 {
        -amplitude_to_db(self.gain)
    }

    crate::simd::dispatch! {
        /// Audio thread: gates `frames` frames of every channel of `bufs` in place (linked).
        /// Returns the largest gain reduction in the block, dB.
        ///
        /// The detector follows every frame; the open/hold/close decision and the gain
        /// smoothing run once per [`TICK`], and the gain ramps linearly between ticks.
        pub fn process(&mut self, bufs: &mut [Box<[f32]>], frames: usize) -> f32;
        avx2: process_avx2, any: process_any
    }

    /// The processing loop, compiled into both versions.
    #[inline(always)]
    fn process_any(&mut self, bufs: &mut [Box<[f32]>], frames: usize) -> f32 {
        let mut lowest = 1.0f32;
        let mut start = 0;
        while start < frames {
            let n = CHUNK.min(frames - start);
            let mut work = [0.0f32; CHUNK];
            let work = &mut work[..n];
            loudest_channel(bufs, start, work);
            // An open gate that has reached unity changes nothing: skip the gains.
            let mut unity = true;
            for tick in work.chunks_mut(TICK) {
                let full = <&[f32; TICK]>::try_from(&*tick).is_ok();
                if let Ok(t) = <&[f32; TICK]>::try_from(&*tick) {
                    let decayed = self.envelope * self.detector_tick;
                    let peak = max_tick(t, &self.detector_powers);
                    self.envelope = if peak > decayed { peak } else { decayed };
                } else {
                    for &level in tick.iter() {
                        self.envelope = if level > self.envelope {
                            level
                        } else {
                            self.envelope * self.detector_release
                        };
                    }
                }
                // Open at unity and held open: nothing moves (the smoothing computes
                // 1 + c·(1 − 1), exactly 1), so only the hold restarts. The usual state
                // while someone speaks, and the gain recursion it skips was most of
                // the loop's time.
                if self.open && self.gain == 1.0 && self.envelope >= self.close_level {
                    self.hold_left = self.hold_samples;
                    tick.fill(1.0);
                    continue;
                }
                let frames = tick.len() as u32;
                if self.open {
                    if self.envelope >= self.close_level {
                        self.hold_left = self.hold_samples;
                    } else if self.hold_left > 0 {
                        self.hold_left = self.hold_left.saturating_sub(frames);
                    } else {
                        self.open = false;
                    }
                } else if self.envelope > self.open_level {
                    self.open = true;
                    self.hold_left = self.hold_samples;
                }
                let target = if self.open { 1.0 } else { self.floor };
                let previous = self.gain;
                if full {
                    let coef = if self.open {
                        self.attack_tick
                    } else {
                        self.release_tick
                    };
                    self.gain += coef * (target - self.gain);
                } else {
                    let coef = if self.open { self.attack } else { self.release };
                    for _ in 0..frames {
                        self.gain += coef * (target - self.gain);
                    }
                }
                // The smoothing only approaches unity (in f32 it can stall one step
                // short): land on it once within -120 dB.
                if self.open && 1.0 - self.gain < 1e-6 {
                    self.gain = 1.0;
                }
                lowest = lowest.min(self.gain);
                unity &= previous == 1.0 && self.gain == 1.0;
                ramp_tick(tick, previous, self.gain);
            }
            if !unity {
                apply_gains(bufs, start, work);
            }
            start += n;
        }
        -amplitude_to_db(lowest)
    }

    /// Takes over the state of another gate.
    pub fn continue_from(&mut self, old: &Gate) {
        self.envelope = old.envelope;
        self.open = old.open;
        self.hold_left = old.hold_left.min(self.hold_samples);
        self.gain = old.gain;
    }
}

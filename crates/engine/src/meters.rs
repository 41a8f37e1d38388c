//! Meters: written by the audio thread through atomics, read by the control side
//! without locks.
//!
//! Peaks are held until read ([`PeakHold`]); RMS is an exponential average of the mean
//! square over [`RMS_WINDOW_S`], updated once per block.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use troubadour_dsp::gain::gain_to_db;
use troubadour_rt::atomic_float::{AtomicF32, PeakHold};

/// Time constant of the RMS average, seconds (a VU-like 300 ms).
pub const RMS_WINDOW_S: f32 = 0.3;

/// One channel's meter.
#[derive(Debug, Default)]
pub struct ChannelMeter {
    peak: PeakHold,
    mean_square: AtomicF32,
}

impl ChannelMeter {
    /// Audio side: folds in one block's peak and sum of squares. `state` is the audio
    /// side's own copy of the mean square; `alpha` the block's averaging weight.
    #[inline]
    pub(crate) fn update(
        &self,
        state: &mut f32,
        peak: f32,
        energy: f32,
        frames: usize,
        alpha: f32,
    ) {
        self.peak.raise(peak);
        let block_ms = energy / frames.max(1) as f32;
        // A NaN or inf from the input would stick in the running average forever; the
        // bus output stage counts such samples, the meter just skips the block.
        if block_ms.is_finite() {
            *state += alpha * (block_ms - *state);
            self.mean_square.store(*state);
        }
    }

    /// The highest sample magnitude since the last read, in dBFS; reading resets it.
    pub fn take_peak_db(&self) -> f32 {
        gain_to_db(self.peak.take())
    }

    /// The held peak without resetting it, in dBFS.
    pub fn peek_peak_db(&self) -> f32 {
        gain_to_db(self.peak.peek())
    }

    /// The running RMS level in dBFS.
    pub fn rms_db(&self) -> f32 {
        let ms = self.mean_square.load();
        if ms <= 0.0 {
            f32::NEG_INFINITY
        } else {
            10.0 * ms.log10()
        }
    }
}

/// A strip's meters: before the fader (after trim and processing) and after it, and
/// the gain reduction of its dynamics processors.
#[derive(Debug)]
pub struct StripMeter {
    /// Pre-fader, per channel.
    pub pre: Box<[ChannelMeter]>,
    /// Post-fader (with mute and solo), per channel.
    pub post: Box<[ChannelMeter]>,
    /// Largest gate gain reduction since the last read, dB (positive).
    pub gate_reduction: PeakHold,
    /// Largest compressor gain reduction since the last read, dB (positive).
    pub compressor_reduction: PeakHold,
    /// Frames of silence a file source played because its reader was behind (since
    /// the last `swap(0)`).
    pub underrun_frames: AtomicU64,
}

/// A bus's meter after its fader, per channel, and its dynamics' gain reduction.
#[derive(Debug)]
pub struct BusMeter {
    /// Post-fader, per channel.
    pub post: Box<[ChannelMeter]>,
    /// Largest compressor gain reduction since the last read, dB (positive).
    pub compressor_reduction: PeakHold,
    /// Largest limiter gain reduction since the last read, dB (positive).
    pub limiter_reduction: PeakHold,
}

/// Every meter of one graph.
#[derive(Debug)]
pub struct MeterBank {
    /// By strip index.
    pub strips: Box<[StripMeter]>,
    /// By bus index.
    pub buses: Box<[BusMeter]>,
}

fn meters(n: usize) -> Box<[ChannelMeter]> {
    (0..n).map(|_| ChannelMeter::default()).collect()
}

impl MeterBank {
    /// Meters for strips and buses of the given channel counts.
    pub fn new(strip_channels: &[usize], bus_channels: &[usize]) -> Arc<Self> {
        Arc::new(MeterBank {
            strips: strip_channels
                .iter()
                .map(|&c| StripMeter {
                    pre: meters(c),
                    post: meters(c),
                    gate_reduction: PeakHold::default(),
                    compressor_reduction: PeakHold::default(),
                    underrun_frames: AtomicU64::new(0),
                })
                .collect(),
            buses: bus_channels
                .iter()
                .map(|&c| BusMeter {
                    post: meters(c),
                    compressor_reduction: PeakHold::default(),
                    limiter_reduction: PeakHold::default(),
                })
                .collect(),
        })
    }
}

/// Audio-side averaging weight for a block of `frames`: first order in the block
/// length (exact enough for a meter, and no `exp` on the audio thread).
#[inline]
pub(crate) fn rms_alpha(frames: usize, sample_rate: u32) -> f32 {
    (frames as f32 / (RMS_WINDOW_S * sample_rate as f32)).min(1.0)
}

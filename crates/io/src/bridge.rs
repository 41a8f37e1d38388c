//! The clock bridge: carries a device's audio into the master clock's domain.
//!
//! Two devices never share a crystal; one drifts against the other by up to ~±100 ppm,
//! so a plain FIFO between them runs dry or overflows within minutes. The bridge puts an
//! asynchronous [`Resampler`] on the device side and a [`LockFreeRingBuffer`] between
//! the two callbacks; a clamped PI controller watches the ring's fill level at every
//! device period and nudges the resampler's ratio to hold the fill at its target (one
//! period, measured as if the master drained continuously, so the raw level keeps about
//! half a period in hand for the callbacks' relative jitter).
//!
//! ```text
//! device callback ─► Resampler (async) ─► ring ─► master callback (Engine::process)
//!         └──────── fill level ─► PI controller ─► ratio ┘
//! ```
//!
//! A device that delivers in bursts (some servers hand a capture stream over a few
//! periods at a time, with gaps between) would empty a ring sized for steady callbacks.
//! So the target is adaptive: an underrun doubles it (up to [`MAX_GROWTH`] times the
//! initial one) and the pulling side waits for the ring to refill before it resumes;
//! the controller then holds the new level. The latency grows only on a device that
//! needs it, and [`BridgeOutput::target`] reports it.
//!
//! Both halves are real-time safe: buffers are allocated in [`input_bridge`], the
//! callbacks only copy, convert and read atomics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use troubadour_dsp::resample::{Quality, ResampleError, Resampler};
use troubadour_dsp::simd::KernelChoice;
use troubadour_rt::ring::{Consumer, LockFreeRingBuffer, Producer};

/// The PI controller that turns the ring's fill error into a resampling ratio.
///
/// Gains are set per update (one device period) so the loop is critically damped with a
/// time constant of about [`SETTLE_PERIODS`] periods: slow enough to average out the
/// callbacks' jitter (the fill saw-tooths by a period as the two sides take turns), fast
/// enough to catch a drift of a few hundred ppm within seconds.
#[derive(Debug, Clone)]
pub struct DriftController {
    target: f64,
    kp: f64,
    ki: f64,
    integral: f64,
    limit: f64,
}

/// Periods over which the controller closes most of an error.
pub const SETTLE_PERIODS: f64 = 1000.0;

impl DriftController {
    /// A controller holding `target` frames in the ring, updated every `period` frames
    /// pushed, its correction clamped to ±`limit` (relative ratio, e.g. 1e-3).
    pub fn new(target: f64, period: f64, limit: f64) -> Self {
        // Fill change per update ≈ -period × correction. With a = period·kp and
        // b = period·ki, the loop's poles sit at z = 1 - a/2 (double) when b = a²/4.
        let a = 2.0 / SETTLE_PERIODS;
        let b = a * a / 4.0;
        DriftController {
            target,
            kp: a / period,
            ki: b / period,
            integral: 0.0,
            limit,
        }
    }

    /// The ratio factor (around 1.0) to use for the next period, given the fill now.
    pub fn update(&mut self, fill: f64) -> f64 {
        let error = fill - self.target;
        // Anti-windup: the integral alone never asks for more than the clamp.
        self.integral = (self.integral + self.ki * error).clamp(-self.limit, self.limit);
        let correction = (self.kp * error + self.integral).clamp(-self.limit, self.limit);
        // Too full: produce fewer frames per input frame.
        1.0 - correction
    }

    /// The fill level held.
    pub fn target(&self) -> f64 {
        self.target
    }

    /// Holds `target` frames from now on.
    pub fn set_target(&mut self, target: f64) {
        self.target = target;
    }
}

/// The device side of an input bridge: call [`push`](Self::push) from the device's
/// callback with what it captured.
pub struct BridgeInput {
    resampler: Resampler,
    producer: Producer<f32>,
    controller: DriftController,
    scratch: Vec<f32>,
    overruns: u64,
    partial_frames: u64,
    adjust: f64,
    last_pull_ns: Arc<AtomicU64>,
    /// The fill target, set by the pulling side.
    target: Arc<AtomicUsize>,
    /// The fill level, smoothed (see `push`).
    smoothed: Option<f64>,
    /// Master periods per nanosecond.
    master_periods_per_ns: f64,
    master_frames: f64,
}

/// The master side: call [`pull`](Self::pull) from the master callback.
pub struct BridgeOutput {
    consumer: Consumer<f32>,
    channels: usize,
    underruns: u64,
    started: bool,
    target: Arc<AtomicUsize>,
    max_target: usize,
    last_pull_ns: Arc<AtomicU64>,
}

/// Pushes over which the fill level the controller sees is smoothed.
pub const FILL_SMOOTHING: f64 = 32.0;

/// How far an underrun-driven target may grow, as a multiple of the initial one.
pub const MAX_GROWTH: usize = 8;

/// Builds a bridge from a device at `device_rate` into an engine at `engine_rate`, for
/// device periods up to `max_device_frames` and master periods of `master_frames`. Its
/// resampler runs the best kernels the CPU has.
pub fn input_bridge(
    channels: usize,
    device_rate: u32,
    engine_rate: u32,
    max_device_frames: usize,
    master_frames: usize,
    quality: Quality,
) -> Result<(BridgeInput, BridgeOutput), ResampleError> {
    input_bridge_with_kernels(
        channels,
        device_rate,
        engine_rate,
        max_device_frames,
        master_frames,
        quality,
        KernelChoice::Best,
    )
}

/// [`input_bridge`] with its resampler on the kernels `kernels` resolves to.
pub fn input_bridge_with_kernels(
    channels: usize,
    device_rate: u32,
    engine_rate: u32,
    max_device_frames: usize,
    master_frames: usize,
    quality: Quality,
    kernels: KernelChoice,
) -> Result<(BridgeInput, BridgeOutput), ResampleError> {
    let resampler =
        Resampler::new_async_with_kernels(channels, device_rate, engine_rate, quality, kernels)?;
    let out_frames = resampler.max_output_frames(max_device_frames);
    let device_in_engine_frames =
        (max_device_frames as f64 * f64::from(engine_rate) / f64::from(device_rate)).ceil();
    // Target: one period (the larger side's). The controller holds the level the ring
    // would have under a continuous drain, which a device period's push swings by one
    // period; so the raw level dips to about half a period just after a master pull,
    // the slack left for the callbacks' jitter. A device that needs more raises it
    // (an underrun doubles the target).
    let target = master_frames.max(device_in_engine_frames as usize);
    let capacity = (2 * MAX_GROWTH * target + out_frames).next_power_of_two() * channels;
    let (producer, consumer) = LockFreeRingBuffer::with_capacity(capacity);
    let controller = DriftController::new(target as f64, device_in_engine_frames, 1e-3);
    let last_pull_ns = Arc::new(AtomicU64::new(0));
    let shared_target = Arc::new(AtomicUsize::new(target));
    Ok((
        BridgeInput {
            resampler,
            producer,
            controller,
            scratch: {
                let mut s = vec![0.0; out_frames * channels];
                troubadour_rt::prefault::touch(&mut s);
                s
            },
            overruns: 0,
            partial_frames: 0,
            adjust: 1.0,
            last_pull_ns: Arc::clone(&last_pull_ns),
            target: Arc::clone(&shared_target),
            smoothed: None,
            master_periods_per_ns: f64::from(engine_rate) / (master_frames as f64 * 1e9),
            master_frames: master_frames as f64,
        },
        BridgeOutput {
            consumer,
            channels,
            underruns: 0,
            started: false,
            target: shared_target,
            max_target: MAX_GROWTH * target,
            last_pull_ns,
        },
    ))
}

impl BridgeInput {
    /// Device callback at `now_ns` (any monotonic clock shared with
    /// [`BridgeOutput::pull`]): converts `frames` (interleaved) and queues them.
    ///
    /// The ring's level drops a whole master period at each pull, so read raw it
    /// saw-tooths by a period with the slowly beating phase of the two clocks, which the
    /// controller would follow as if it were drift. It sees instead the level the ring
    /// would have if the master drained it continuously: the raw level less the part of
    /// the current master period already elapsed.
    pub fn push(&mut self, frames: &[f32], now_ns: u64) {
        let ch = self.resampler.channels();
        let raw = (self.producer.len() / ch) as f64;
        let last = self.last_pull_ns.load(Ordering::Acquire);
        let elapsed = (now_ns.saturating_sub(last) as f64 * self.master_periods_per_ns).min(1.0);
        let fill = raw - elapsed * self.master_frames;
        let target = self.target.load(Ordering::Relaxed) as f64;
        if target != self.controller.target() {
            self.controller.set_target(target);
        }
        // A device that delivers several periods at once swings the level by a burst
        // each time, far faster than any drift; followed raw, those swings would wobble
        // the ratio (audibly: a 1e-3 square wave on a 441 Hz tone left -30 dB of
        // sidebands). The controller sees the level through a one-pole smoother whose
        // time constant (FILL_SMOOTHING pushes) is short beside its own settling.
        self.smoothed = match self.smoothed {
            None => fill,
            Some(s) => s + (fill - s) / FILL_SMOOTHING,
        }
        .into();
        self.adjust = self.controller.update(self.smoothed.unwrap_or(fill));
        self.resampler.set_ratio_adjust(self.adjust);
        // Whole frames only: a remainder shorter than a frame can be neither converted
        // nor kept (the next call starts a frame of its own), so it is dropped, counted.
        let whole = frames.len() / ch * ch;
        if whole < frames.len() {
            self.partial_frames += 1;
        }
        let mut rest = &frames[..whole];
        while !rest.is_empty() {
            let done = self.resampler.process(rest, &mut self.scratch);
            if done.input_frames == 0 && done.output_frames == 0 {
                // Nothing taken, nothing made: looping again would spin forever.
                self.partial_frames += 1;
                break;
            }
            let produced = &self.scratch[..done.output_frames * ch];
            // Whole frames only, so channels never slip; a full ring (the master
            // stopped pulling) drops the excess and counts it.
            let room = self.producer.free() / ch * ch;
            let take = produced.len().min(room);
            self.producer.write(&produced[..take]);
            if take < produced.len() {
                self.overruns += 1;
            }
            rest = &rest[done.input_frames * ch..];
        }
    }

    /// Times the ring was full.
    pub fn overruns(&self) -> u64 {
        self.overruns
    }

    /// Pushes whose length was not a whole number of frames (the remainder was dropped).
    pub fn partial_frames(&self) -> u64 {
        self.partial_frames
    }

    /// The ratio factor in use.
    pub fn adjust(&self) -> f64 {
        self.adjust
    }

    /// The resampler's delay in engine frames.
    pub fn resampler_delay(&self) -> f64 {
        self.resampler.delay_output_frames()
    }
}

impl BridgeOutput {
    /// Master callback: fills `out` (interleaved) from the ring. Until the ring first
    /// reaches its target, and whenever it runs dry, the missing frames are silence (an
    /// underrun, counted once started).
    pub fn pull(&mut self, out: &mut [f32], now_ns: u64) {
        let ch = self.channels;
        self.last_pull_ns.store(now_ns, Ordering::Release);
        let target = self.target.load(Ordering::Relaxed);
        if !self.started {
            // Start once this pull leaves the target behind: starting at the target
            // itself would empty the ring at the first pull, and the controller (which
            // moves the ratio by at most 1e-3) takes seconds to build slack back, so
            // one late device callback then would underrun.
            if self.consumer.len() / ch >= target + out.len() / ch {
                self.started = true;
            } else {
                out.fill(0.0);
                return;
            }
        }
        let got = self.consumer.read(out);
        if got < out.len() {
            out[got..].fill(0.0);
            self.underruns += 1;
            // Too little slack for this device: twice the target, and refill first.
            if target < self.max_target {
                self.target
                    .store((2 * target).min(self.max_target), Ordering::Relaxed);
                self.started = false;
            }
        }
    }

    /// Frames queued now.
    pub fn fill(&self) -> usize {
        self.consumer.len() / self.channels
    }

    /// Pulls that found the ring short after it had started.
    pub fn underruns(&self) -> u64 {
        self.underruns
    }

    /// The fill level the bridge holds: its latency in engine frames, plus the
    /// resampler's delay. Starts at one period; underruns raise it (see the module
    /// notes).
    pub fn target(&self) -> usize {
        self.target.load(Ordering::Relaxed)
    }

    /// A handle on the target for the control side (it moves after underruns).
    pub fn target_handle(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.target)
    }
}

//! Sample-rate conversion: bypass, linear, and band-limited (windowed sinc), in one
//! stage or, at fixed ratios, two.
//!
//! One [`Resampler`] converts an interleaved stream of any channel count. It is built off
//! the audio thread (the filter tables and transform plans are computed then) and
//! afterwards [`process`](Resampler::process) only reads them and writes caller-provided
//! buffers: no allocation, no locks, so it may run in a device callback.
//!
//! # How it works
//!
//! Output frame `n` is the input signal evaluated at input time `t(n)`: for a fixed ratio
//! `t(n) = n · from / to` exactly, for an asynchronous one the sum of the steps taken so
//! far. Position is kept as an integer frame index plus an integer phase, so it never
//! drifts and the output does not depend on how the input was chunked.
//!
//! The band-limited qualities evaluate a Kaiser-windowed sinc centred on `t(n)`. The
//! kernel is tabulated per phase: when the ratio reduces to `L / M` with `L` small enough
//! (44.1 → 48 kHz is 160 / 147) every phase the stream can hit has its own exact row; any
//! other ratio, and every asynchronous stream, interpolates linearly between the results
//! of the two rows either side of the phase, in a finer table (2048 or 4096 phases,
//! which keeps the interpolation error below the quality's noise floor up to 0.9 ×
//! Nyquist).
//!
//! The filter's band edges follow the lower of the two rates: flat to 0.9 × its Nyquist
//! frequency, fully attenuated from its Nyquist frequency on, so nothing above the output
//! Nyquist frequency folds back when downsampling and no image survives upsampling.
//!
//! Asynchronous streams use that kernel directly (about 190 taps at `high`), which keeps
//! their latency at half the kernel. Fixed-ratio `high` and `best` split the work (see
//! `sharp`): a first stage makes the band edges sharp by FFT convolution, at twice the
//! input rate (or at the input rate when that is at least twice the output's, keeping
//! only the frames needed where the output rate divides it); the second stage then only
//! has to stop the images of a band far below its Nyquist frequency, which takes about 20
//! taps, or nothing at all where the rates divide. Same stopband, same passband, several
//! times less work (docs/PERFORMANCE.md has the figures); the price is latency (a
//! transform block: about 20 ms), which files do not mind.
//!
//! # Alignment and delay
//!
//! Output frame 0 lines up with input frame 0; the converter needs
//! [`lookahead_input_frames`](Resampler::lookahead_input_frames) input frames past `t(n)`
//! before it can produce frame `n`, which is the stream's latency. Output follows input
//! frame by frame at that distance, never in bursts (the first stage's blocks are held
//! back by a block to that end). Feed that many frames of silence at the end of a stream
//! (see [`resample_interleaved`]) to get every frame out.

mod design;
mod planar;
mod render;
mod sample;
mod sharp;
mod stepper;
#[cfg(target_arch = "x86_64")]
mod x86;

use crate::simd::{KernelChoice, Kernels};
use design::{CacheAligned, band, band_after_sharp, gcd, half_width, sinc_table};
use planar::deinterleave;
use sharp::Sharp;
use stepper::{Stepper, to_fixed};

pub use sample::{AsyncFrames, Sample};

/// How the signal is converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quality {
    /// Linear interpolation between neighbouring frames. Cheap, and audibly lossy near the
    /// top of the band (about 60 dB SNR at 1 kHz, much less at 15 kHz); for when CPU
    /// matters more than fidelity.
    Fast,
    /// Windowed sinc, 140 dB stopband, flat to 0.9 × the lower Nyquist frequency.
    High,
    /// Windowed sinc, 170 dB stopband, longer kernels and finer phase table.
    Best,
}

impl Quality {
    /// The name used on command lines and in session files.
    pub fn name(self) -> &'static str {
        match self {
            Quality::Fast => "fast",
            Quality::High => "high",
            Quality::Best => "best",
        }
    }

    /// Parses [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "fast" => Some(Quality::Fast),
            "high" => Some(Quality::High),
            "best" => Some(Quality::Best),
            _ => None,
        }
    }

    /// (stopband attenuation in dB, phases of the interpolated table).
    fn design(self) -> (f64, usize) {
        match self {
            Quality::Fast => (0.0, 1),
            Quality::High => (140.0, 2048),
            Quality::Best => (170.0, 4096),
        }
    }
}

/// Why a resampler could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResampleError {
    /// A rate of 0, or one above 1 MHz.
    Rate(u32),
    /// More than [`MAX_RATIO`] between the two rates.
    Ratio { from: u32, to: u32 },
    /// Zero channels, or more than [`MAX_CHANNELS`].
    Channels(usize),
}

impl std::fmt::Display for ResampleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResampleError::Rate(r) => write!(f, "sample rate {r} Hz is outside 1..=1000000"),
            ResampleError::Ratio { from, to } => write!(
                f,
                "{from} Hz to {to} Hz is more than a factor of {MAX_RATIO} apart"
            ),
            ResampleError::Channels(c) => {
                write!(f, "{c} channels (a resampler takes 1 to {MAX_CHANNELS})")
            }
        }
    }
}

impl std::error::Error for ResampleError {}

/// Largest factor between input and output rate.
pub const MAX_RATIO: u32 = 16;
/// Most channels one resampler converts.
pub const MAX_CHANNELS: usize = 256;
/// How far an asynchronous stream's ratio may move from nominal: ±1 %.
pub const MAX_ADJUST: f64 = 0.01;

/// Input frames copied into the history per refill. The history holds this plus one
/// kernel; larger inputs are taken in pieces, which changes nothing in the output.
const CHUNK: usize = 1024;
/// Exact-phase tables are used while the reduced ratio's numerator is at most this.
const MAX_EXACT_PHASES: u64 = 1024;
/// Fractional bits of an asynchronous stream's phase: 2^-44 of a frame per step, so a
/// ratio is represented to 1e-13 and a fixed one drifts by well under a frame per day.
const FRAC_BITS: u32 = 44;
/// One unit of phase, in frames.
const FRAC_SCALE: f64 = 1.0 / (1u64 << FRAC_BITS) as f64;
/// Lanes of the dot product; kernels are padded to a multiple of this.
const LANES: usize = 8;
/// Output frames planned at a time by the band-limited rendering loops.
const RENDER_BATCH: usize = 32;
/// Output frames over which a new asynchronous ratio is approached (time constant of a
/// one-pole glide): ~5 ms at 48 kHz, fast enough for a drift controller, slow enough that
/// a step in the ratio is a smooth bend in phase, never a click.
const GLIDE_FRAMES: f64 = 256.0;

/// How many frames a call consumed and produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Processed {
    /// Input frames taken (all of them unless the output filled up first).
    pub input_frames: usize,
    /// Output frames written to the front of the output buffer.
    pub output_frames: usize,
}

#[derive(Debug, Clone)]
enum Kernel<S: Sample> {
    /// Input and output rates equal, fixed ratio: frames are copied through.
    Bypass,
    /// Two-tap linear interpolation.
    Linear,
    /// Every k-th frame of the history, as it is (after a first stage whose rate is a
    /// multiple of the output rate).
    Pick,
    /// Windowed sinc table of `taps` coefficients per row: for exact phases `rows + 1`
    /// rows (the last one phase 1.0, never used), for interpolated ones `rows` pairs of a
    /// row and its difference to the next (see [`sinc_table`]).
    Sinc {
        table: CacheAligned<S>,
        taps: usize,
        rows: usize,
    },
}

/// A streaming sample-rate converter for interleaved audio.
///
/// ```
/// use troubadour_dsp::resample::{Quality, Resampler};
///
/// let mut rs = Resampler::<f32>::new(2, 44_100, 48_000, Quality::High).unwrap();
/// let input = vec![0.0f32; 441 * 2];
/// let mut output = vec![0.0f32; rs.max_output_frames(441) * 2];
/// let done = rs.process(&input, &mut output);
/// assert_eq!(done.input_frames, 441);
/// // The kernel's look-ahead holds the first frames back until more input arrives.
/// assert!(done.output_frames <= 480);
/// ```
#[derive(Debug, Clone)]
pub struct Resampler<S: Sample = f32> {
    channels: usize,
    from: u32,
    to: u32,
    quality: Quality,
    kernel: Kernel<S>,
    stepper: Stepper,
    /// Planar history: channel `c` occupies `history[c * cap .. (c + 1) * cap]`.
    history: Vec<S>,
    cap: usize,
    /// Frames held in the history.
    len: usize,
    /// History index of the first kernel tap of the next output frame.
    index: usize,
    /// Frames of history the kernel spans (taps, padded).
    span: usize,
    /// Kernel taps past `t(n)`, in frames of the kernel's input (the first stage's
    /// output when there is one).
    lookahead: usize,
    /// The sharp first stage of fixed-ratio `high` and `best`: the history then holds
    /// its output, at once or twice the input rate.
    pre: Option<Box<Sharp<S>>>,
    /// Input frames the output is held back by, beyond the kernel's needs, so that the
    /// first stage's blocks never make output come in bursts (0 without it).
    hold: usize,
    /// The stream's latency in input frames.
    latency: usize,
    /// Frames written into the history since the start.
    fed: u64,
    /// The two dot products (with the row before the phase and the difference to the
    /// next) of each output sample of a batch (asynchronous and inexact ratios, where
    /// the sample type has no kernel of its own for the CPU).
    scratch: Vec<S>,
    /// Output frames produced since the start (for the exact stepper's bookkeeping and
    /// for callers aligning streams).
    produced: u64,
    /// Input frames taken since the start.
    consumed: u64,
    /// The kernels it runs on ([`crate::simd`]): the AVX2 build of the rendering loop
    /// with the AVX2 token, asynchronous kernels on 16-lane registers with the AVX-512
    /// one.
    kernels: Kernels,
}

impl<S: Sample> Resampler<S> {
    /// A fixed-ratio resampler from `from` Hz to `to` Hz. Equal rates give a bypass.
    pub fn new(
        channels: usize,
        from: u32,
        to: u32,
        quality: Quality,
    ) -> Result<Self, ResampleError> {
        Self::build(channels, from, to, quality, false, KernelChoice::Best)
    }

    /// [`new`](Self::new) on the kernels `choice` resolves to on this CPU (`new` takes
    /// the best it has). The choice may change the output in the last bits (fused
    /// multiply-adds), never by more than the quality's noise floor.
    pub fn new_with_kernels(
        channels: usize,
        from: u32,
        to: u32,
        quality: Quality,
        choice: KernelChoice,
    ) -> Result<Self, ResampleError> {
        Self::build(channels, from, to, quality, false, choice)
    }

    /// An asynchronous resampler: nominally `from` Hz to `to` Hz, with a ratio that
    /// [`set_ratio_adjust`](Self::set_ratio_adjust) moves by up to ±1 % while running.
    /// Never a bypass, even at equal nominal rates, since the clocks behind them drift.
    pub fn new_async(
        channels: usize,
        from: u32,
        to: u32,
        quality: Quality,
    ) -> Result<Self, ResampleError> {
        Self::build(channels, from, to, quality, true, KernelChoice::Best)
    }

    /// [`new_async`](Self::new_async) on the kernels `choice` resolves to on this CPU.
    pub fn new_async_with_kernels(
        channels: usize,
        from: u32,
        to: u32,
        quality: Quality,
        choice: KernelChoice,
    ) -> Result<Self, ResampleError> {
        Self::build(channels, from, to, quality, true, choice)
    }

    fn build(
        channels: usize,
        from: u32,
        to: u32,
        quality: Quality,
        asynchronous: bool,
        choice: KernelChoice,
    ) -> Result<Self, ResampleError> {
        for rate in [from, to] {
            if rate == 0 || rate > 1_000_000 {
                return Err(ResampleError::Rate(rate));
            }
        }
        if from.max(to) > from.min(to).saturating_mul(MAX_RATIO) {
            return Err(ResampleError::Ratio { from, to });
        }
        if channels == 0 || channels > MAX_CHANNELS {
            return Err(ResampleError::Channels(channels));
        }
        let kernels = Kernels::new(choice);

        // Fixed-ratio `high` and `best` run in two stages (see `sharp`): the kernel then
        // converts the first stage's output, at `factor` times the input rate, with a
        // wide transition band. Factor 2 widens it to over half that rate; where the
        // input rate is well above the output's, the band is wide enough at factor 1.
        // Where the input rate is a power-of-two multiple of the output's, the first stage
        // computes only the frames kept and the second has nothing left to do.
        let two_stage = !asynchronous && from != to && quality != Quality::Fast;
        let factor: u32 = if two_stage && from < 2 * to { 2 } else { 1 };
        let decimate: u32 = match from / to {
            d if two_stage && d * to == from && d.is_power_of_two() && d <= 16 => d,
            _ => 1,
        };
        let (attenuation, fine_rows) = quality.design();
        let kernel_from = factor * from / decimate;
        let band = if two_stage {
            band_after_sharp(from, to, factor)
        } else {
            band(from, to)
        };
        let g = gcd(u64::from(kernel_from), u64::from(to));
        let (up, down) = (u64::from(to) / g, u64::from(kernel_from) / g);
        let exact = !asynchronous && (quality == Quality::Fast || up <= MAX_EXACT_PHASES);

        let kernel = if !asynchronous && from == to {
            Kernel::Bypass
        } else {
            match quality {
                Quality::Fast => Kernel::Linear,
                // The first stage's rate is a multiple of the output's: every output frame
                // is one of its frames.
                Quality::High | Quality::Best if two_stage && up == 1 => Kernel::Pick,
                Quality::High | Quality::Best => {
                    let rows = if exact { up as usize } else { fine_rows };
                    // The asynchronous kernels want rows that start cache lines (16
                    // taps: whole 16-lane registers, pairs of 8-lane ones).
                    let multiple = if !exact && kernels.avx2().is_some() {
                        16
                    } else {
                        LANES
                    };
                    let (table, taps) = sinc_table(band, attenuation, rows, multiple, !exact);
                    Kernel::Sinc { table, taps, rows }
                }
            }
        };

        let (span, lookahead) = match &kernel {
            Kernel::Bypass => (1, 0),
            Kernel::Linear => (2, 1),
            Kernel::Pick => (1, 0),
            // The kernel is 2·half taps left-padded to a multiple of LANES; its last tap
            // sits `half` frames past t(n).
            Kernel::Sinc { taps, .. } => (*taps, half_width(band, attenuation)),
        };
        let pre = two_stage.then(|| {
            let lower_nyquist = 0.5 * f64::from(from.min(to));
            Box::new(Sharp::new(
                channels,
                from,
                (factor as usize, decimate as usize),
                lower_nyquist,
                attenuation,
            ))
        });
        // With a first stage, its frame j (input time j/2) enters the history only once
        // the input has reached j/2 + hold: by then the block holding it has surely run
        // (a block ends at most `hop` frames after its first frame, and the filter's delay
        // after that), so output follows input frame by frame, never in blocks.
        let hold = pre.as_ref().map_or(0, |p| p.hop() + p.delay());
        let latency = if pre.is_some() {
            // The kernel's look-ahead is in frames of the first stage's output.
            hold + (lookahead * decimate as usize).div_ceil(factor as usize) + 1
        } else {
            lookahead
        };
        let stepper = if exact {
            Stepper::Exact {
                phase: 0,
                den: up,
                whole: (down / up) as usize,
                step: down % up,
                inv_den: 1.0 / up as f64,
            }
        } else {
            let nominal = f64::from(kernel_from) / f64::from(to);
            Stepper::Async {
                phase: 0,
                step: to_fixed(nominal),
                step_now: nominal,
                step_target: nominal,
                nominal,
                adjustable: asynchronous,
            }
        };

        let cap = span + CHUNK;
        // Frames before input frame 0 are silence: pre-fill so the first kernel has them.
        let prefill = span - lookahead - 1;
        let scratch = match (&kernel, &stepper) {
            (Kernel::Sinc { .. }, Stepper::Async { .. }) => {
                vec![S::default(); RENDER_BATCH * channels * 2]
            }
            _ => Vec::new(),
        };
        Ok(Resampler {
            channels,
            from,
            to,
            quality,
            kernel,
            stepper,
            history: vec![S::default(); channels * cap],
            cap,
            len: prefill,
            index: 0,
            span,
            lookahead,
            pre,
            hold,
            latency,
            fed: 0,
            scratch,
            produced: 0,
            consumed: 0,
            kernels,
        })
    }

    /// Channels per frame.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Input rate in Hz.
    pub fn input_rate(&self) -> u32 {
        self.from
    }

    /// Output rate in Hz.
    pub fn output_rate(&self) -> u32 {
        self.to
    }

    /// The quality asked for.
    pub fn quality(&self) -> Quality {
        self.quality
    }

    /// The kernels it runs on.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// True when input and output rates are equal and fixed: the caller may hand its
    /// input buffer on instead of calling [`process`](Self::process), which would only
    /// copy it.
    pub fn is_bypass(&self) -> bool {
        matches!(self.kernel, Kernel::Bypass)
    }

    /// True for a resampler made with [`new_async`](Self::new_async).
    pub fn is_async(&self) -> bool {
        matches!(
            self.stepper,
            Stepper::Async {
                adjustable: true,
                ..
            }
        )
    }

    /// Kernel taps per output frame and channel (0 for bypass); with a first stage, the
    /// second stage's taps (the first one's length is [`first_stage_taps`](Self::first_stage_taps)).
    pub fn taps(&self) -> usize {
        match &self.kernel {
            Kernel::Bypass => 0,
            Kernel::Pick => 1,
            Kernel::Linear => 2,
            Kernel::Sinc { taps, .. } => *taps,
        }
    }

    /// Taps of the sharp first stage (at twice the input rate), 0 without one.
    pub fn first_stage_taps(&self) -> usize {
        self.pre.as_ref().map_or(0, |p| p.taps())
    }

    /// Input frames the converter must see past an instant before it can produce the
    /// output frame at that instant: its latency in input frames.
    pub fn lookahead_input_frames(&self) -> usize {
        self.latency
    }

    /// The latency in output frames: [`lookahead_input_frames`](Self::lookahead_input_frames)
    /// at the output rate.
    pub fn delay_output_frames(&self) -> f64 {
        self.latency as f64 * f64::from(self.to) / f64::from(self.from)
    }

    /// The nominal ratio, output rate over input rate.
    pub fn nominal_ratio(&self) -> f64 {
        f64::from(self.to) / f64::from(self.from)
    }

    /// The ratio in effect right now (output frames per input frame).
    pub fn current_ratio(&self) -> f64 {
        match &self.stepper {
            Stepper::Exact {
                den, whole, step, ..
            } => self.stage_factor() * *den as f64 / (*whole as u64 * *den + *step) as f64,
            Stepper::Async { step_now, .. } => self.stage_factor() / step_now,
        }
    }

    /// Moves an asynchronous stream's ratio to `nominal × factor`, `factor` clamped to
    /// 1 ± [`MAX_ADJUST`]. The ratio glides there over a few milliseconds, so a drift
    /// controller may call this every period without clicks. Ignored for a fixed ratio.
    pub fn set_ratio_adjust(&mut self, factor: f64) {
        if let Stepper::Async {
            step_target,
            nominal,
            adjustable: true,
            ..
        } = &mut self.stepper
        {
            let factor = if factor.is_finite() { factor } else { 1.0 };
            let factor = factor.clamp(1.0 - MAX_ADJUST, 1.0 + MAX_ADJUST);
            // A higher output ratio means a smaller step through the input.
            *step_target = *nominal / factor;
        }
    }

    /// The input time, in input frames since the start, of the next output frame.
    pub fn next_output_time(&self) -> f64 {
        let frac = match &self.stepper {
            Stepper::Exact { phase, den, .. } => *phase as f64 / *den as f64,
            Stepper::Async { phase, .. } => *phase as f64 * FRAC_SCALE,
        };
        // History index `index` holds input frame `consumed - len + index` shifted by the
        // kernel's left half.
        let first_tap = self.fed as f64 - self.len as f64 + self.index as f64;
        (first_tap + (self.span - self.lookahead) as f64 - 1.0 + frac) / self.stage_factor()
    }

    /// Frames of the history per input frame: the first stage's ratio, or 1.
    fn stage_factor(&self) -> f64 {
        self.pre.as_ref().map_or(1.0, |p| {
            let (up, down) = p.ratio();
            up as f64 / down as f64
        })
    }

    /// Output frames produced so far.
    pub fn output_frames_total(&self) -> u64 {
        self.produced
    }

    /// Input frames consumed so far.
    pub fn input_frames_total(&self) -> u64 {
        self.consumed
    }

    /// An output buffer of this many frames always takes everything `input_frames` of
    /// input can produce in one call.
    pub fn max_output_frames(&self, input_frames: usize) -> usize {
        let ratio = self.nominal_ratio() * (1.0 + MAX_ADJUST);
        (input_frames as f64 * ratio).ceil() as usize + 2
    }

    /// Back to the state of a new resampler (silence in the history, position 0).
    pub fn reset(&mut self) {
        self.history.fill(S::default());
        self.len = if matches!(self.kernel, Kernel::Bypass) {
            0
        } else {
            self.span - self.lookahead - 1
        };
        self.index = 0;
        self.produced = 0;
        self.consumed = 0;
        self.fed = 0;
        if let Some(pre) = &mut self.pre {
            pre.reset();
        }
        match &mut self.stepper {
            Stepper::Exact { phase, .. } => *phase = 0,
            Stepper::Async {
                phase,
                step,
                step_now,
                step_target,
                nominal,
                ..
            } => {
                *phase = 0;
                *step_now = *nominal;
                *step_target = *nominal;
                *step = to_fixed(*nominal);
            }
        }
    }

    /// Converts interleaved `input` into interleaved `output`.
    ///
    /// Takes input until it is all consumed or `output` is full, whichever comes first,
    /// and says how much of each it used; call again with the rest. An output of
    /// [`max_output_frames`](Self::max_output_frames) always takes everything. Never
    /// allocates.
    pub fn process(&mut self, input: &[S], output: &mut [S]) -> Processed {
        let ch = self.channels;
        debug_assert_eq!(input.len() % ch, 0, "input is not whole frames");
        let in_frames = input.len() / ch;
        let out_frames = output.len() / ch;

        if matches!(self.kernel, Kernel::Bypass) {
            let n = in_frames.min(out_frames);
            output[..n * ch].copy_from_slice(&input[..n * ch]);
            self.consumed += n as u64;
            self.produced += n as u64;
            self.fed += n as u64;
            return Processed {
                input_frames: n,
                output_frames: n,
            };
        }

        if self.pre.is_some() {
            return self.process_two_stage(input, output);
        }
        let mut done = Processed::default();
        loop {
            done.output_frames += self.render(&mut output[done.output_frames * ch..]);
            if done.output_frames == out_frames || done.input_frames == in_frames {
                break;
            }
            self.compact();
            let n = self.fill(&input[done.input_frames * ch..]);
            done.input_frames += n;
            self.fed += n as u64;
        }
        self.consumed += done.input_frames as u64;
        self.produced += done.output_frames as u64;
        done
    }

    /// [`process`](Self::process) through the first stage: input goes into its blocks,
    /// its output into the history as far as the hold allows.
    fn process_two_stage(&mut self, input: &[S], output: &mut [S]) -> Processed {
        let ch = self.channels;
        let in_frames = input.len() / ch;
        let out_frames = output.len() / ch;
        let mut done = Processed::default();
        loop {
            done.output_frames += self.render(&mut output[done.output_frames * ch..]);
            if done.output_frames == out_frames {
                break;
            }
            self.compact();
            let Some(pre) = self.pre.as_mut() else {
                unreachable!("two-stage processing has a first stage")
            };
            // First-stage frames released by the input taken so far.
            let consumed = self.consumed + done.input_frames as u64;
            let (up, down) = pre.ratio();
            let released = up as u64 * consumed.saturating_sub(self.hold as u64) / down as u64;
            let wanted = (released - self.fed.min(released)) as usize;
            let room = self.cap - self.len;
            if wanted > 0 && room > 0 {
                if pre.ready() == 0 && pre.run() {
                    continue;
                }
                let n = pre.take(wanted.min(room), &mut self.history, self.cap, self.len);
                if n > 0 {
                    self.len += n;
                    self.fed += n as u64;
                    continue;
                }
            }
            if done.input_frames == in_frames {
                break;
            }
            if pre.room() == 0 && !pre.run() {
                // The block is full and its predecessor not yet taken: cannot happen,
                // the hold releases all of a block before the next one fills.
                debug_assert!(false, "first stage stalled");
                break;
            }
            done.input_frames += pre.push(&input[done.input_frames * ch..]);
        }
        self.consumed += done.input_frames as u64;
        self.produced += done.output_frames as u64;
        done
    }

    /// Drops history frames no kernel will read again.
    fn compact(&mut self) {
        let drop = self.index.min(self.len);
        if drop == 0 {
            return;
        }
        let keep = self.len - drop;
        for c in 0..self.channels {
            let base = c * self.cap;
            self.history.copy_within(base + drop..base + self.len, base);
        }
        // Both fall by `drop`, so consumed - len + index (the stream time of the next
        // kernel) is unchanged.
        self.len = keep;
        self.index -= drop;
    }

    /// Deinterleaves as much of `input` as fits into the history.
    fn fill(&mut self, input: &[S]) -> usize {
        let ch = self.channels;
        let n = (self.cap - self.len).min(input.len() / ch);
        deinterleave(&input[..n * ch], ch, &mut self.history, self.cap, self.len);
        self.len += n;
        n
    }
}

/// Converts a whole interleaved buffer, aligned (output frame 0 is input frame 0) and
/// exactly `round(frames × to / from)` frames long. Allocates; for offline use.
///
/// ```
/// use troubadour_dsp::resample::{resample_interleaved, Quality};
///
/// let input = vec![0.25f32; 44_100];
/// let output = resample_interleaved(&input, 1, 44_100, 48_000, Quality::High).unwrap();
/// assert_eq!(output.len(), 48_000);
/// assert!((output[24_000] - 0.25).abs() < 1e-6);
/// ```
pub fn resample_interleaved<S: Sample>(
    input: &[S],
    channels: usize,
    from: u32,
    to: u32,
    quality: Quality,
) -> Result<Vec<S>, ResampleError> {
    let mut rs = Resampler::<S>::new(channels, from, to, quality)?;
    let frames = input.len() / channels;
    let target = output_length(frames as u64, from, to) as usize;
    let mut output =
        vec![S::default(); (rs.max_output_frames(frames + rs.lookahead_input_frames())) * channels];
    let done = rs.process(&input[..frames * channels], &mut output);
    let mut produced = done.output_frames;
    let tail = vec![S::default(); rs.lookahead_input_frames() * channels];
    produced += rs
        .process(&tail, &mut output[produced * channels..])
        .output_frames;
    debug_assert!(
        produced >= target,
        "{from} -> {to} {quality:?}: {produced} of {target} frames ({frames} in, latency {})",
        rs.lookahead_input_frames()
    );
    output.truncate(target * channels);
    Ok(output)
}

/// `round(frames × to / from)`: the length of a converted stream.
pub fn output_length(frames: u64, from: u32, to: u32) -> u64 {
    let num = u128::from(frames) * u128::from(to);
    let den = u128::from(from);
    ((num * 2 + den) / (den * 2)) as u64
}

#[cfg(test)]
mod tests;

//! A look-ahead peak limiter whose output never exceeds its ceiling.
//!
//! For every input frame the gain that would bring it to the ceiling is computed; a
//! sliding minimum over the look-ahead window, an envelope that drops at once and
//! recovers with the release time, and a moving average over the same window turn that
//! into a smooth gain curve, which is applied to the input delayed by the look-ahead.
//! Why the ceiling holds: the averaged gain applied to a frame is the mean of envelope
//! values that each lie below that frame's own required gain (every one of those window
//! minima includes the frame), so it lies below it too. A final clamp guards against
//! float rounding in the running sum.

use crate::dynamics::{CHUNK, loudest_channel, one_pole};
use crate::fastmath::amplitude_to_db;
use crate::gain::db_to_gain;

/// `i` reduced into `0..len` for `i < 2 × len`: a ring index step without a division.
#[inline(always)]
fn wrap(i: usize, len: usize) -> usize {
    if i >= len { i - len } else { i }
}

/// Limiter settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimiterParams {
    /// Highest sample magnitude out, dBFS.
    pub ceiling_db: f32,
    /// Look-ahead (and added latency), ms.
    pub lookahead_ms: f32,
    /// Recovery time constant, ms.
    pub release_ms: f32,
}

/// A running limiter over a fixed channel count.
///
/// ```
/// use troubadour_dsp::limiter::{Limiter, LimiterParams};
///
/// let p = LimiterParams { ceiling_db: -1.0, lookahead_ms: 1.5, release_ms: 50.0 };
/// let mut lim = Limiter::new(p, 1, 48_000);
/// assert_eq!(lim.latency_frames(), 72);
/// let mut x: Vec<Box<[f32]>> = vec![vec![4.0; 1000].into()];
/// lim.process(&mut x, 1000);
/// assert!(x[0].iter().all(|s| s.abs() <= 10f32.powf(-1.0 / 20.0)));
/// ```
#[derive(Debug, Clone)]
pub struct Limiter {
    /// The kernels the loop runs on ([`crate::simd`]).
    kernels: crate::simd::Kernels,
    params: LimiterParams,
    sample_rate: u32,
    ceiling: f32,
    /// Ceiling used for the gain computation, a hair lower for rounding headroom.
    target: f32,
    release: f32,
    /// Look-ahead in frames; the window is `delay + 1` frames.
    delay: usize,
    /// Per channel, the last `delay` input frames (a ring).
    lines: Vec<Box<[f32]>>,
    line_pos: usize,
    /// Sliding-minimum deque over required gains: (frame number, gain), as a ring.
    min_frame: Box<[u64]>,
    min_gain: Box<[f32]>,
    min_head: usize,
    min_len: usize,
    frame: u64,
    envelope: f32,
    /// Moving average of the envelope over the window.
    avg_ring: Box<[f32]>,
    avg_pos: usize,
    avg_sum: f64,
    /// Consecutive frames, up to the window, whose envelope was exactly 1 (no gain
    /// reduction): at the window the limiter is at rest.
    rest: usize,
    /// Samples the final clamp had to cut: 0 unless the gain computation failed.
    clamped: u64,
}

impl Limiter {
    /// A limiter for `channels` channels. Allocates its delay lines: call off the audio
    /// thread.
    pub fn new(params: LimiterParams, channels: usize, sample_rate: u32) -> Self {
        let delay = (f64::from(params.lookahead_ms.max(0.0)) * 1e-3 * f64::from(sample_rate))
            .round() as usize;
        let window = delay + 1;
        let mut l = Limiter {
            kernels: crate::simd::Kernels::default(),
            params,
            sample_rate,
            ceiling: 1.0,
            target: 1.0,
            release: 0.0,
            delay,
            lines: (0..channels)
                .map(|_| vec![0.0; delay.max(1)].into_boxed_slice())
                .collect(),
            line_pos: 0,
            min_frame: vec![0; window].into_boxed_slice(),
            min_gain: vec![1.0; window].into_boxed_slice(),
            min_head: 0,
            min_len: 0,
            frame: 0,
            envelope: 1.0,
            avg_ring: vec![1.0; window].into_boxed_slice(),
            avg_pos: 0,
            avg_sum: window as f64,
            rest: window,
            clamped: 0,
        };
        // Zeroed allocations may be untouched pages: the audio thread must not fault
        // them in on its first lap through the delay lines.
        for line in l.lines.iter_mut() {
            troubadour_rt::prefault::touch(line);
        }
        troubadour_rt::prefault::touch(&mut l.min_frame);
        l.set_params(params);
        l
    }

    /// Audio thread: new ceiling and release (the look-ahead is fixed at construction).
    pub fn set_params(&mut self, params: LimiterParams) {
        self.params = LimiterParams {
            lookahead_ms: self.params.lookahead_ms,
            ..params
        };
        self.ceiling = db_to_gain(params.ceiling_db);
        self.target = self.ceiling * (1.0 - 1e-5);
        self.release = one_pole(params.release_ms, self.sample_rate);
    }

    /// Samples the final safety clamp had to cut since the start: the algorithm's own
    /// guarantee makes this 0, and the tests hold it to that.
    pub fn clamped(&self) -> u64 {
        self.clamped
    }

    /// Frames of delay the look-ahead adds (report it in latency figures).
    pub fn latency_frames(&self) -> usize {
        self.delay
    }

    crate::simd::dispatch! {
        /// Audio thread: limits `frames` frames of every channel of `bufs` in place (linked:
        /// the loudest channel sets the gain). Returns the largest gain reduction, dB.
        pub fn process(&mut self, bufs: &mut [Box<[f32]>], frames: usize) -> f32;
        avx2: process_avx2, any: process_any
    }

    /// The processing loop, compiled into both versions.
    #[inline(always)]
    fn process_any(&mut self, bufs: &mut [Box<[f32]>], frames: usize) -> f32 {
        let window = self.delay + 1;
        let mut lowest = 1.0f32;
        let mut start = 0;
        while start < frames {
            let n = CHUNK.min(frames - start);
            let mut work = [0.0f32; CHUNK];
            let work = &mut work[..n];
            loudest_channel(bufs, start, work);
            let loudest = work.iter().fold(0.0f32, |m, &w| if w > m { w } else { m });
            if self.rest >= window && loudest <= self.target {
                // At rest and nothing to limit: every gain in the window is 1, so the
                // output is the input delayed. Only the bookkeeping moves on.
                self.pass_through(bufs, start, n);
                start += n;
                continue;
            }
            // The gain each frame needs on its own (a vector pass: the division).
            for w in work.iter_mut() {
                *w = if *w > self.target {
                    self.target / *w
                } else {
                    1.0
                };
            }
            for w in work.iter_mut() {
                let required = *w;

                // Sliding minimum over the last `window` required gains (ring indices
                // wrap by comparison: no integer division per frame). The entry that
                // leaves the window goes first, so the ring never holds more than
                // `window` entries.
                if self.min_len > 0 && self.frame - self.min_frame[self.min_head] >= window as u64 {
                    self.min_head = wrap(self.min_head + 1, window);
                    self.min_len -= 1;
                }
                while self.min_len > 0 {
                    let back = wrap(self.min_head + self.min_len - 1, window);
                    if self.min_gain[back] >= required {
                        self.min_len -= 1;
                    } else {
                        break;
                    }
                }
                let slot = wrap(self.min_head + self.min_len, window);
                self.min_frame[slot] = self.frame;
                self.min_gain[slot] = required;
                self.min_len += 1;
                let window_min = self.min_gain[self.min_head];

                // Drop at once, recover with the release time. The last step to 1 is
                // taken outright: the recursion alone would stall an ulp below it.
                let recovered = self.envelope + self.release * (1.0 - self.envelope);
                let recovered = if recovered > 1.0 - 1e-6 {
                    1.0
                } else {
                    recovered
                };
                self.envelope = recovered.min(window_min);
                self.rest = if self.envelope == 1.0 {
                    (self.rest + 1).min(window)
                } else {
                    0
                };

                // Moving average over the window.
                self.avg_sum += f64::from(self.envelope) - f64::from(self.avg_ring[self.avg_pos]);
                self.avg_ring[self.avg_pos] = self.envelope;
                self.avg_pos = wrap(self.avg_pos + 1, window);
                let gain = (self.avg_sum / window as f64) as f32;
                lowest = lowest.min(gain);
                *w = gain;
                self.frame += 1;
            }
            // Delay each channel by the look-ahead and apply the gain.
            let pos = self.line_pos;
            for (c, line) in bufs.iter_mut().zip(self.lines.iter_mut()) {
                let mut p = pos;
                for (x, g) in c[start..start + n].iter_mut().zip(work.iter()) {
                    let delayed = if self.delay == 0 {
                        *x
                    } else {
                        let d = line[p];
                        line[p] = *x;
                        p = wrap(p + 1, self.delay);
                        d
                    };
                    let y = delayed * g;
                    if y.abs() > self.ceiling {
                        self.clamped += 1;
                    }
                    *x = y.clamp(-self.ceiling, self.ceiling);
                }
            }
            if self.delay > 0 {
                self.line_pos = wrap(pos + n % self.delay, self.delay);
            }
            start += n;
        }
        -amplitude_to_db(lowest)
    }

    /// Frames `start..start + n` at rest: the input delayed by the look-ahead, gain 1.
    /// Keeps the window state exact: the newest frame is the deque's only entry (every
    /// required gain in the window is 1), and the running sum is reset to the window,
    /// clearing any rounding it gathered (the average ring already holds only ones: at
    /// rest, the last `window` envelope values were all exactly 1).
    fn pass_through(&mut self, bufs: &mut [Box<[f32]>], start: usize, n: usize) {
        let window = self.delay + 1;
        self.frame += n as u64;
        self.min_head = 0;
        self.min_len = 1;
        self.min_frame[0] = self.frame - 1;
        self.min_gain[0] = 1.0;
        self.avg_sum = window as f64;
        self.avg_pos = wrap(self.avg_pos + n % window, window);
        if self.delay == 0 {
            return;
        }
        let pos = self.line_pos;
        for (c, line) in bufs.iter_mut().zip(self.lines.iter_mut()) {
            // Each frame swaps places with the delay line's oldest: done a contiguous run
            // of the ring at a time, which compiles to vector loads and stores instead
            // of a frame-by-frame loop with a wrap test.
            let mut p = pos;
            let mut chan = &mut c[start..start + n];
            while !chan.is_empty() {
                let run = chan.len().min(self.delay - p);
                let (head, rest) = chan.split_at_mut(run);
                head.swap_with_slice(&mut line[p..p + run]);
                chan = rest;
                p = wrap(p + run, self.delay);
            }
        }
        self.line_pos = wrap(pos + n % self.delay, self.delay);
    }

    /// Takes over the state of another limiter with the same look-ahead and channels.
    /// Copies into the buffers this one already has: it runs on the audio thread when a
    /// new graph is swapped in, so it must not allocate (no `clone`).
    pub fn continue_from(&mut self, old: &Limiter) {
        if old.delay != self.delay || old.lines.len() != self.lines.len() {
            return;
        }
        for (new, old) in self.lines.iter_mut().zip(&old.lines) {
            new.copy_from_slice(old);
        }
        self.line_pos = old.line_pos;
        self.min_frame.copy_from_slice(&old.min_frame);
        self.min_gain.copy_from_slice(&old.min_gain);
        self.min_head = old.min_head;
        self.min_len = old.min_len;
        self.frame = old.frame;
        self.envelope = old.envelope;
        self.avg_ring.copy_from_slice(&old.avg_ring);
        self.avg_pos = old.avg_pos;
        self.avg_sum = old.avg_sum;
        self.rest = old.rest;
    }
}

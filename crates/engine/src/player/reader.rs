//! The reader thread of one file player: decodes ahead, converts to the engine's rate
//! where the file's differs, keeps the player's ring full, and carries out the
//! transport's seeks and loop changes (see [`super::transport`] for how a seek is kept
//! from playing stale samples).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use troubadour_dsp::resample::{Quality, Resampler, output_length};
use troubadour_rt::ring::Producer;

use super::Shared;
use super::decode::Decoder;
use super::transport::{pack, unpack};
use crate::audio_file::AudioFileError;

/// Input frames decoded per step: large reads, few wake-ups.
const CHUNK_FRAMES: usize = 8192;
/// How long the reader sleeps when the ring is full. The audio thread never wakes it
/// (that would be a system call); a ring of seconds outlasts this many times over.
const IDLE: Duration = Duration::from_millis(10);
/// How long it sleeps at the end of a file played once, waiting for a seek or a loop
/// (the control side wakes it for those; this only bounds how late it notices that
/// its player is gone).
const IDLE_ENDED: Duration = Duration::from_millis(100);

/// How often the reader looks whether the audio side has taken a seek up (one
/// callback at most, usually).
const SEEK_POLL: Duration = Duration::from_millis(1);

/// A pass over the file (from its start, or from a seek) turned into output frames at
/// the engine's rate, exactly as the whole-file path converts it: each channel through
/// its own converter, then the converter's look-ahead flushed with silence and the
/// result cut so that the pass ends at round(frames × ratio).
struct Pass {
    /// One mono converter per channel; empty when the rates are equal.
    converters: Vec<Resampler<f32>>,
    /// Input frames decoded in this pass, counted from the file's start.
    input_frames: u64,
    /// Output frames handed on in this pass, counted from the file's start.
    output_frames: u64,
}

pub(super) struct Reader {
    decoder: Box<dyn Decoder>,
    ring: Producer<f32>,
    shared: Arc<Shared>,
    rate: u32,
    /// Test hook ([`STALL_ENV`](super::STALL_ENV)): sleeps this long after each chunk
    /// it decodes, as a disk too slow for the file would make it.
    stall: Option<Duration>,
    /// Stream index: samples pushed since the player opened.
    pushed: u64,
    /// The generation of the last seek request carried out.
    seek_generation: u64,
    /// Stream indices where a looped pass began and the audio side may not have got to.
    wraps: VecDeque<u64>,
    /// A seek to the end (or past it): the next read is the end of the file.
    at_end: bool,
}

impl Reader {
    pub(super) fn new(
        decoder: Box<dyn Decoder>,
        ring: Producer<f32>,
        shared: Arc<Shared>,
        rate: u32,
        stall: Option<Duration>,
    ) -> Self {
        Reader {
            decoder,
            ring,
            shared,
            rate,
            stall,
            pushed: 0,
            seek_generation: 0,
            wraps: VecDeque::new(),
            at_end: false,
        }
    }

    /// Runs until the player is dropped, or reading fails.
    pub(super) fn run(mut self) {
        if let Err(e) = self.stream() {
            let _ = self.shared.error.set(e.to_string());
            // Nothing more comes: the audio side stops here and counts no underrun.
            self.shared
                .transport
                .end_at
                .store(self.pushed, Ordering::Release);
        }
    }

    fn stream(&mut self) -> Result<(), AudioFileError> {
        let ch = self.decoder.channels();
        let from = self.decoder.sample_rate();
        let mut input = Vec::with_capacity(CHUNK_FRAMES * ch);
        let mut planar_in: Vec<Vec<f32>> = vec![Vec::with_capacity(CHUNK_FRAMES); ch];
        let mut planar_out: Vec<Vec<f32>> = vec![Vec::new(); ch];
        // Converted samples not yet pushed: `pending[at..]` are stream indices
        // `pushed..`.
        let mut pending: Vec<f32> = Vec::new();
        let mut at = 0;
        // Nothing more to decode: a file played once was read to its end.
        let mut done = false;
        let mut pass = self.new_pass(ch, from, 0, 0)?;
        loop {
            if self.ring.is_abandoned() {
                return Ok(());
            }
            let shared = Arc::clone(&self.shared);
            let t = &shared.transport;

            let (generation, frame) = unpack(t.seek_request.load(Ordering::Acquire));
            if generation != self.seek_generation {
                self.seek_generation = generation;
                pending.clear();
                at = 0;
                done = false;
                pass = self.seek(generation, frame, ch, from)?;
                continue;
            }

            let consumed = t.consumed.load(Ordering::Acquire);
            let reached = self.wraps.iter().take_while(|&&w| w <= consumed).count();
            if reached > 0 {
                self.wraps.drain(..reached);
                self.publish_wrap();
            }

            if at < pending.len() {
                if u64::from(t.applied.load(Ordering::Acquire)) != self.seek_generation {
                    // The audio side has not dropped the stale samples yet: pushing
                    // into what little room they leave would run it dry right after.
                    std::thread::park_timeout(SEEK_POLL);
                    continue;
                }
                // Whole frames only, so a seek's boundary always falls on a frame.
                let room = self.ring.free() / ch * ch;
                let k = room.min(pending.len() - at);
                if k == 0 {
                    std::thread::park_timeout(IDLE);
                    continue;
                }
                let n = self.ring.write(&pending[at..at + k]);
                at += n;
                self.pushed += n as u64;
                continue;
            }
            pending.clear();
            at = 0;

            if done {
                if t.looped.load(Ordering::Acquire)
                    && !t.ended.load(Ordering::Acquire)
                    && t.end_at.load(Ordering::Acquire) == self.pushed
                {
                    // Loop turned on before the player got to the end: play on.
                    t.end_at.store(u64::MAX, Ordering::Release);
                    self.push_wrap(self.pushed);
                    self.decoder.rewind()?;
                    pass = self.new_pass(ch, from, 0, 0)?;
                    done = false;
                } else {
                    std::thread::park_timeout(IDLE_ENDED);
                }
                continue;
            }

            if self.at_end {
                input.clear();
            } else {
                self.decoder.read(&mut input, CHUNK_FRAMES)?;
            }
            if let Some(stall) = self.stall {
                std::thread::sleep(stall);
            }
            let frames = input.len() / ch;
            let end = frames == 0;
            if end && pass.input_frames == 0 {
                // An empty file plays as silence, looped or not.
                t.end_at.store(self.pushed, Ordering::Release);
                done = true;
                continue;
            }
            pass.input_frames += frames as u64;
            if pass.converters.is_empty() {
                // `pending` is empty here: hand the block over without a copy.
                std::mem::swap(&mut pending, &mut input);
                pass.output_frames += frames as u64;
            } else {
                for (c, p) in planar_in.iter_mut().enumerate() {
                    p.clear();
                    if end {
                        // The converter's look-ahead, flushed with silence.
                        p.resize(pass.converters[c].lookahead_input_frames(), 0.0);
                    } else {
                        p.extend(input.iter().skip(c).step_by(ch));
                    }
                }
                let mut produced = usize::MAX;
                for ((rs, p), o) in pass
                    .converters
                    .iter_mut()
                    .zip(&planar_in)
                    .zip(planar_out.iter_mut())
                {
                    o.resize(rs.max_output_frames(p.len()), 0.0);
                    let done = rs.process(p, o);
                    produced = produced.min(done.output_frames);
                }
                let mut keep = produced as u64;
                if end {
                    let target = output_length(pass.input_frames, from, self.rate);
                    keep = keep.min(target.saturating_sub(pass.output_frames));
                }
                for i in 0..keep as usize {
                    for o in &planar_out {
                        pending.push(o[i]);
                    }
                }
                pass.output_frames += keep;
            }
            if end {
                // The pass's length is now known exactly (a header may not say it).
                t.length.store(pass.output_frames, Ordering::Release);
                // The tail in `pending` is pushed before whatever comes next.
                let next = self.pushed + pending.len() as u64;
                self.at_end = false;
                if t.looped.load(Ordering::Acquire) {
                    self.push_wrap(next);
                    self.decoder.rewind()?;
                    pass = self.new_pass(ch, from, 0, 0)?;
                } else {
                    t.end_at.store(next, Ordering::Release);
                    done = true;
                }
            }
        }
    }

    /// Carries out a seek to `frame` (at the engine's rate) and tells the audio side
    /// where the new samples start; returns the pass that reads from there.
    fn seek(
        &mut self,
        generation: u64,
        frame: u64,
        ch: usize,
        from: u32,
    ) -> Result<Pass, AudioFileError> {
        let input = if from == self.rate {
            frame
        } else {
            (frame as f64 * f64::from(from) / f64::from(self.rate)).round() as u64
        };
        let past_end = self.decoder.frames().is_some_and(|n| input >= n);
        if !past_end {
            self.decoder.seek(input)?;
        }
        self.at_end = past_end;
        self.wraps.clear();
        let t = &self.shared.transport;
        // Before the Release below: the audio side sees the new end with the seek.
        t.end_at.store(u64::MAX, Ordering::Relaxed);
        t.wrap_at.store(u64::MAX, Ordering::Relaxed);
        t.seek_base.store(frame, Ordering::Release);
        t.seek_done
            .store(pack(generation, self.pushed), Ordering::Release);
        self.new_pass(ch, from, input, frame)
    }

    /// Notes that a looped pass begins at stream index `at` (before any sample of it
    /// is pushed, so the audio side always knows where a pass it may stop before
    /// begins).
    fn push_wrap(&mut self, at: u64) {
        self.wraps.push_back(at);
        self.publish_wrap();
    }

    /// Tells the audio side where the first pass it has not reached begins.
    fn publish_wrap(&self) {
        let next = self.wraps.front().copied().unwrap_or(u64::MAX);
        self.shared.transport.wrap_at.store(next, Ordering::Release);
    }

    fn new_pass(
        &self,
        ch: usize,
        from: u32,
        input_frames: u64,
        output_frames: u64,
    ) -> Result<Pass, AudioFileError> {
        let converters = if from == self.rate {
            Vec::new()
        } else {
            (0..ch)
                .map(|_| {
                    Resampler::new(1, from, self.rate, Quality::High).map_err(|e| {
                        AudioFileError::Format {
                            path: self.shared.path.clone(),
                            reason: format!("cannot be resampled: {e}"),
                        }
                    })
                })
                .collect::<Result<_, _>>()?
        };
        Ok(Pass {
            converters,
            input_frames,
            output_frames,
        })
    }
}

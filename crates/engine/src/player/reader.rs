//! The reader thread of one file player: decodes ahead, converts to the engine's rate
//! where the file's differs, and keeps the player's ring full.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use troubadour_dsp::resample::{Quality, Resampler, output_length};
use troubadour_rt::ring::Producer;

use super::Shared;
use super::decode::Decoder;
use crate::audio_file::AudioFileError;

/// Input frames decoded per step: large reads, few wake-ups.
const CHUNK_FRAMES: usize = 8192;
/// How long the reader sleeps when the ring is full. The audio thread never wakes it
/// (that would be a system call); a ring of seconds outlasts this many times over.
const IDLE: Duration = Duration::from_millis(10);

/// A whole pass over the file turned into output frames at the engine's rate, exactly
/// as the whole-file path converts it: each channel through its own converter, then
/// the converter's look-ahead flushed with silence and the result cut to
/// round(frames × ratio).
struct Pass {
    /// One mono converter per channel; empty when the rates are equal.
    converters: Vec<Resampler<f32>>,
    /// Input frames decoded in this pass.
    input_frames: u64,
    /// Output frames handed on in this pass.
    output_frames: u64,
}

pub(super) struct Reader {
    pub(super) decoder: Box<dyn Decoder>,
    pub(super) ring: Producer<f32>,
    pub(super) shared: Arc<Shared>,
    pub(super) rate: u32,
    pub(super) looped: bool,
    /// Test hook ([`STALL_ENV`](super::STALL_ENV)): sleeps this long after each chunk
    /// it decodes, as a disk too slow for the file would make it.
    pub(super) stall: Option<Duration>,
}

impl Reader {
    /// Runs until the player is dropped, or (playing once) the file has been read.
    pub(super) fn run(mut self) {
        if let Err(e) = self.stream() {
            let _ = self.shared.error.set(e.to_string());
        }
        self.shared.finished.store(true, Ordering::Release);
    }

    fn stream(&mut self) -> Result<(), AudioFileError> {
        let ch = self.decoder.channels();
        let from = self.decoder.sample_rate();
        let mut input = Vec::with_capacity(CHUNK_FRAMES * ch);
        let mut planar_in: Vec<Vec<f32>> = vec![Vec::with_capacity(CHUNK_FRAMES); ch];
        let mut planar_out: Vec<Vec<f32>> = vec![Vec::new(); ch];
        let mut pending: Vec<f32> = Vec::new();
        let mut pass = self.new_pass(ch, from)?;
        loop {
            // Hand on what is converted, waiting for room.
            let mut at = 0;
            while at < pending.len() {
                if self.ring.is_abandoned() {
                    return Ok(());
                }
                let n = self.ring.write(&pending[at..]);
                at += n;
                if at < pending.len() {
                    std::thread::park_timeout(IDLE);
                }
            }
            pending.clear();
            if self.ring.is_abandoned() {
                return Ok(());
            }

            self.decoder.read(&mut input, CHUNK_FRAMES)?;
            if let Some(stall) = self.stall {
                std::thread::sleep(stall);
            }
            let frames = input.len() / ch;
            let end = frames == 0;
            if end && pass.input_frames == 0 {
                // An empty file plays as silence, looped or not.
                return Ok(());
            }
            pass.input_frames += frames as u64;
            if pass.converters.is_empty() {
                pending.extend_from_slice(&input);
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
                if !pending.is_empty() {
                    // Flush the tail before starting again (or stopping).
                    let tail = std::mem::take(&mut pending);
                    self.write_all(&tail);
                }
                if !self.looped {
                    return Ok(());
                }
                self.decoder.rewind()?;
                pass = self.new_pass(ch, from)?;
            }
        }
    }

    fn write_all(&mut self, items: &[f32]) {
        let mut at = 0;
        while at < items.len() && !self.ring.is_abandoned() {
            at += self.ring.write(&items[at..]);
            if at < items.len() {
                std::thread::park_timeout(IDLE);
            }
        }
    }

    fn new_pass(&self, ch: usize, from: u32) -> Result<Pass, AudioFileError> {
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
            input_frames: 0,
            output_frames: 0,
        })
    }
}

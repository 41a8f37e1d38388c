//! The writer thread's end of a track: samples in order, with silence where the ring
//! lost frames.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use troubadour_rt::ring::Consumer;

use super::tap::Gap;

/// One track as the writer thread reads it. `Send`, for the writer thread.
#[derive(Debug)]
pub struct TrackReader {
    channels: usize,
    data: Consumer<f32>,
    gaps: Consumer<Gap>,
    /// Gaps taken from the ring whose position the reader has not reached yet.
    waiting: VecDeque<Gap>,
    lost: Arc<AtomicU64>,
    /// Frames read from the ring so far (silence not counted).
    read: u64,
    /// Frames of silence handed out for lost frames.
    filled: u64,
}

/// What one [`TrackReader::drain`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Frames appended (samples and silence).
    pub frames: usize,
    /// Of those, frames of silence standing in for lost ones.
    pub silence: usize,
    /// The take has stopped and everything, silence included, has been handed out.
    pub finished: bool,
}

impl TrackReader {
    pub(crate) fn new(
        channels: usize,
        data: Consumer<f32>,
        gaps: Consumer<Gap>,
        lost: Arc<AtomicU64>,
    ) -> Self {
        TrackReader {
            channels,
            data,
            gaps,
            waiting: VecDeque::new(),
            lost,
            read: 0,
            filled: 0,
        }
    }

    /// Interleaved channels of the track.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Frames this track has lost so far (the audio thread found its ring full).
    pub fn lost_frames(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// The counter behind [`lost_frames`](Self::lost_frames), for the control side to
    /// read while the writer thread owns the reader.
    pub fn lost_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.lost)
    }

    /// Writer thread. Appends up to `max_frames` interleaved frames to `out`: what the
    /// engine recorded, with silence in place of lost frames, in order.
    pub fn drain(&mut self, out: &mut Vec<f32>, max_frames: usize) -> Drained {
        // Whether the take ended must be read before the fill level: samples committed
        // before the producer went away are then all counted in `available`.
        let ended = self.data.is_abandoned();
        let available = self.data.len() / self.channels;
        // Gaps are published before the samples after them: every gap inside the
        // `available` frames is in the gap ring by now.
        while let Some(g) = self.gaps.pop() {
            self.waiting.push_back(g);
        }
        let mut done = Drained::default();
        let mut left_in_ring = available;
        while done.frames < max_frames {
            let room = max_frames - done.frames;
            if let Some(g) = self.waiting.front_mut()
                && g.at == self.read
            {
                let n = (g.frames as usize).min(room);
                out.resize(out.len() + n * self.channels, 0.0);
                g.frames -= n as u64;
                if g.frames == 0 {
                    self.waiting.pop_front();
                }
                self.filled += n as u64;
                done.frames += n;
                done.silence += n;
                continue;
            }
            let until_gap = self
                .waiting
                .front()
                .map_or(usize::MAX, |g| (g.at - self.read) as usize);
            let n = left_in_ring.min(room).min(until_gap);
            if n == 0 {
                break;
            }
            let start = out.len();
            out.resize(start + n * self.channels, 0.0);
            let got = self.data.read(&mut out[start..]);
            debug_assert_eq!(got, n * self.channels);
            self.read += n as u64;
            left_in_ring -= n;
            done.frames += n;
        }
        if ended && left_in_ring == 0 && self.waiting.is_empty() && self.gaps.is_empty() {
            // Frames lost in the take's last blocks had no samples after them to carry
            // their gap: they go at the end.
            let tail = self.lost_frames().saturating_sub(self.filled) as usize;
            let n = tail.min(max_frames - done.frames);
            out.resize(out.len() + n * self.channels, 0.0);
            self.filled += n as u64;
            done.frames += n;
            done.silence += n;
            done.finished = n == tail;
        }
        done
    }
}

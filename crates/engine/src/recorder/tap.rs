//! The audio side of the recorder: per-track taps writing into preallocated rings.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use troubadour_rt::exchange::ExchangeAudio;
use troubadour_rt::ring::Producer;

#[cfg(target_arch = "x86_64")]
use super::stream_x86;
use super::{TakeCounters, TapPoint, TrackSpec};
use crate::graph::BlockGain;

/// A stretch of frames a full ring lost: `frames` frames of silence belong after the
/// first `at` frames the ring carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gap {
    pub at: u64,
    pub frames: u64,
}

/// One track's audio-side end.
#[derive(Debug)]
pub(crate) struct TrackTap {
    spec: TrackSpec,
    data: Producer<f32>,
    gaps: Producer<Gap>,
    /// Every frame this track lost, for the control side and the writer.
    lost: Arc<AtomicU64>,
    /// Lost frames whose gap is not in the gap ring yet.
    pending: u64,
    /// Frames written into `data` so far.
    written: u64,
}

impl TrackTap {
    pub(crate) fn new(
        spec: TrackSpec,
        data: Producer<f32>,
        gaps: Producer<Gap>,
        lost: Arc<AtomicU64>,
    ) -> Self {
        TrackTap {
            spec,
            data,
            gaps,
            lost,
            pending: 0,
            written: 0,
        }
    }

    /// Audio thread. Appends `n` frames of `channels` scaled by `gain`, interleaved;
    /// `None` (a tap whose strip or bus is gone) appends silence. A ring without room
    /// for the whole block loses it, counted. The frames are staged, not published:
    /// [`Taps::finish_block`] publishes every track's after one fence.
    #[inline]
    fn append(&mut self, channels: Option<&[Box<[f32]>]>, gain: BlockGain<'_>, n: usize) {
        let ch = usize::from(self.spec.channels);
        let Ok(mut chunk) = self.data.write_chunk(n * ch) else {
            self.pending += n as u64;
            self.lost.fetch_add(n as u64, Ordering::Relaxed);
            return;
        };
        if self.pending > 0 {
            // The gap is published before the samples after it, so a reader that sees
            // those samples sees the gap too.
            let gap = Gap {
                at: self.written,
                frames: self.pending,
            };
            if self.gaps.push(gap).is_ok() {
                self.pending = 0;
            }
        }
        let (first, second) = chunk.as_mut_slices();
        #[cfg(target_arch = "x86_64")]
        let streamed = match channels {
            // SAFETY: nothing touches `first` again before `finish_block` fences, on
            // this thread, before it publishes the block.
            Some(bufs) if second.is_empty() => unsafe {
                stream_x86::interleave(first, bufs, gain, n)
            },
            _ => false,
        };
        #[cfg(not(target_arch = "x86_64"))]
        let streamed = false;
        match channels {
            // The usual case: the block does not wrap around the ring's end, so whole
            // frames lie in one slice and the copy is a plain loop per frame.
            _ if streamed => {}
            Some(bufs) if second.is_empty() => interleave(first, bufs, gain, n),
            Some(bufs) => {
                let slots = first.iter_mut().chain(second.iter_mut());
                for (k, slot) in slots.enumerate() {
                    let (frame, c) = (k / ch, k % ch);
                    *slot = bufs[c][frame] * gain.at(frame);
                }
            }
            None => {
                first.fill(0.0);
                second.fill(0.0);
            }
        }
        chunk.stage_all();
        self.written += n as u64;
    }
}

impl BlockGain<'_> {
    /// The gain at frame `i` of the block.
    #[inline(always)]
    pub(crate) fn at(&self, i: usize) -> f32 {
        match self {
            BlockGain::Const(g) => *g,
            BlockGain::Ramp(r) => r[i],
        }
    }
}

/// Writes `n` frames of `bufs` × `gain` into `out` (`n × bufs.len()` samples),
/// interleaved.
#[inline]
fn interleave(out: &mut [f32], bufs: &[Box<[f32]>], gain: BlockGain<'_>, n: usize) {
    let ch = bufs.len();
    match (gain, bufs) {
        (BlockGain::Const(g), [mono]) => {
            for (o, x) in out.iter_mut().zip(&mono[..n]) {
                *o = *x * g;
            }
        }
        (BlockGain::Const(g), [l, r]) => {
            // Eight frames at a time: fixed-size arrays the compiler turns into vector
            // multiplies and unpacks, where frame by frame it stores one lane at a time.
            let (l, r) = (&l[..n], &r[..n]);
            let mut outs = out[..2 * n].chunks_exact_mut(16);
            let (mut ls, mut rs) = (l.chunks_exact(8), r.chunks_exact(8));
            for ((o, a), b) in (&mut outs).zip(&mut ls).zip(&mut rs) {
                let o: &mut [f32; 16] = o.try_into().expect("16 samples");
                let a: &[f32; 8] = a.try_into().expect("8 frames");
                let b: &[f32; 8] = b.try_into().expect("8 frames");
                for i in 0..8 {
                    o[2 * i] = a[i] * g;
                    o[2 * i + 1] = b[i] * g;
                }
            }
            let rest = outs.into_remainder().chunks_exact_mut(2);
            for ((o, a), b) in rest.zip(ls.remainder()).zip(rs.remainder()) {
                o[0] = *a * g;
                o[1] = *b * g;
            }
        }
        _ => {
            for (f, frame) in out.chunks_exact_mut(ch).enumerate() {
                let g = gain.at(f);
                for (o, b) in frame.iter_mut().zip(bufs) {
                    *o = b[f] * g;
                }
            }
        }
    }
}

/// Every track of one take, as the engine holds it.
#[derive(Debug)]
pub(crate) struct Taps {
    tracks: Box<[TrackTap]>,
    counters: Arc<TakeCounters>,
}

impl Taps {
    pub(crate) fn new(tracks: Box<[TrackTap]>, counters: Arc<TakeCounters>) -> Self {
        Taps { tracks, counters }
    }

    /// Audio thread, after strip `strip` was processed: feeds its tracks. `pre` and
    /// `post` are its pre- and post-fader gains over the block.
    #[inline]
    pub(crate) fn strip(
        &mut self,
        strip: u32,
        buf: &[Box<[f32]>],
        pre: BlockGain<'_>,
        post: BlockGain<'_>,
        n: usize,
    ) {
        for t in self.tracks.iter_mut() {
            let gain = match t.spec.tap {
                TapPoint::StripPre(i) if i == strip => pre,
                TapPoint::StripPost(i) if i == strip => post,
                _ => continue,
            };
            let bufs = (buf.len() == usize::from(t.spec.channels)).then_some(buf);
            t.append(bufs, gain, n);
        }
    }

    /// Audio thread, after the buses were processed: feeds bus tracks. `bus(i)` is bus
    /// `i`'s output channels, `None` past the last bus.
    #[inline]
    pub(crate) fn buses<'a>(&mut self, bus: impl Fn(u32) -> Option<&'a [Box<[f32]>]>, n: usize) {
        for t in self.tracks.iter_mut() {
            if let TapPoint::Bus(i) = t.spec.tap {
                let bufs = bus(i).filter(|b| b.len() == usize::from(t.spec.channels));
                t.append(bufs, BlockGain::Const(1.0), n);
            }
        }
    }

    /// Audio thread, after a block: strips whose index is past the graph's last one
    /// never called [`strip`](Self::strip); their tracks get silence, so every track
    /// grows by `n` frames per block. Then every track's frames of the block are
    /// published, after one fence for the streaming stores (one per track would cost
    /// about as much as the copies). `strips` is the graph's strip count.
    #[inline]
    pub(crate) fn finish_block(&mut self, strips: u32, n: usize) {
        for t in self.tracks.iter_mut() {
            match t.spec.tap {
                TapPoint::StripPre(i) | TapPoint::StripPost(i) if i >= strips => {
                    t.append(None, BlockGain::Const(0.0), n);
                }
                _ => {}
            }
        }
        #[cfg(target_arch = "x86_64")]
        stream_x86::fence();
        for t in self.tracks.iter_mut() {
            t.data.publish_staged();
        }
        self.counters.frames.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// The engine's end of the recorder: the running take's taps, if any.
#[derive(Debug)]
pub(crate) struct RecorderAudio {
    inbox: ExchangeAudio<Option<Box<Taps>>>,
    current: Option<Box<Taps>>,
}

impl RecorderAudio {
    pub(crate) fn new(inbox: ExchangeAudio<Option<Box<Taps>>>) -> Self {
        RecorderAudio {
            inbox,
            current: None,
        }
    }

    /// Audio thread, at the start of a callback: takes a started or stopped take (the
    /// displaced one goes back to be freed on the control side) and returns the taps to
    /// feed during this callback, `None` when idle or paused. Read once per callback,
    /// so every track starts, pauses and stops on the same frame.
    #[inline]
    pub(crate) fn begin(&mut self) -> Option<&mut Taps> {
        self.inbox.receive(&mut self.current, |_, _| {});
        let taps = self.current.as_deref_mut()?;
        if taps.counters.paused.load(Ordering::Relaxed) {
            return None;
        }
        Some(taps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stereo_interleave_is_frame_by_frame_at_every_length() {
        for n in 0..=41 {
            let l: Box<[f32]> = (0..n).map(|i| i as f32).collect();
            let r: Box<[f32]> = (0..n).map(|i| -(i as f32) - 0.5).collect();
            let mut out = vec![f32::NAN; 2 * n + 3];
            interleave(&mut out, &[l.clone(), r.clone()], BlockGain::Const(0.5), n);
            for f in 0..n {
                assert_eq!(
                    (out[2 * f], out[2 * f + 1]),
                    (l[f] * 0.5, r[f] * 0.5),
                    "n {n}"
                );
            }
            assert!(
                out[2 * n..].iter().all(|x| x.is_nan()),
                "n {n}: wrote past the block"
            );
        }
    }
}

//! The clock master's callback: pulls the bridged device inputs, runs the engine, plays
//! the first bus and pushes the other buses into their bridges.
//!
//! Everything it touches is allocated (and its pages touched) before the stream starts;
//! bridges arrive and leave through swap-and-return mailboxes, so the callback neither
//! allocates nor frees, and runs inside the allocation guard to prove it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use troubadour_engine::Engine;
use troubadour_rt::exchange::ExchangeAudio;

use crate::backend::limits::{MAX_FRAMES, MAX_PORTS};
use crate::bridge::{BridgeInput, BridgeOutput};

/// The audio side of a mailbox holding one bridge end (or none: offline).
pub(super) struct Mailbox<T> {
    current: Option<Box<T>>,
    exchange: ExchangeAudio<Option<Box<T>>>,
}

impl<T> Mailbox<T> {
    pub(super) fn new(exchange: ExchangeAudio<Option<Box<T>>>) -> Self {
        Mailbox {
            current: None,
            exchange,
        }
    }

    /// Audio thread: the current bridge end, after taking any replacement sent.
    #[inline]
    fn get(&mut self) -> Option<&mut T> {
        self.exchange.receive(&mut self.current, |_, _| {});
        self.current.as_deref_mut()
    }
}

/// The master side of one bridged bus: where its channels sit in the engine's output,
/// and the bridge it is pushed into.
pub(super) struct BridgeFeed {
    pub(super) first: usize,
    pub(super) channels: usize,
    pub(super) input: Mailbox<BridgeInput>,
    pub(super) interleaved: Vec<f32>,
    pub(super) overruns: Arc<AtomicU64>,
}

/// The master side of one bridged device input: where its channels go among the
/// engine's inputs, and the bridge they are pulled from.
pub(super) struct BridgeTap {
    pub(super) first: usize,
    pub(super) channels: usize,
    pub(super) output: Mailbox<BridgeOutput>,
    pub(super) interleaved: Vec<f32>,
    pub(super) underruns: Arc<AtomicU64>,
}

/// Everything the master device's callback owns.
pub(super) struct Master {
    pub(super) engine: Engine,
    pub(super) taps: Vec<BridgeTap>,
    pub(super) feeds: Vec<BridgeFeed>,
    /// The engine's device inputs (bridged strips' channels), planar.
    pub(super) inputs: Vec<Box<[f32]>>,
    /// Every bus channel the engine writes; only the first bus's reach the device.
    pub(super) planar: Vec<Box<[f32]>>,
    /// The master device's channels (the first bus's).
    pub(super) channels: usize,
    pub(super) epoch: Instant,
}

impl Master {
    /// Touches every buffer the callback will use, so that its first laps take no page
    /// faults. Control side, before the stream starts.
    pub(super) fn prefault(&mut self) {
        for b in self.inputs.iter_mut().chain(self.planar.iter_mut()) {
            troubadour_rt::prefault::touch(b);
        }
        for t in &mut self.taps {
            troubadour_rt::prefault::touch(&mut t.interleaved);
        }
        for f in &mut self.feeds {
            troubadour_rt::prefault::touch(&mut f.interleaved);
        }
    }

    /// Audio thread: fills one device buffer (`data`, interleaved, the first bus's
    /// channels); returns its length in frames.
    pub(super) fn render(&mut self, data: &mut [f32]) -> usize {
        let channels = self.channels.max(1);
        let frames = data.len() / channels;
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(MAX_FRAMES);
            let now_ns = self.epoch.elapsed().as_nanos() as u64;
            for tap in self.taps.iter_mut() {
                let ch = tap.channels;
                let buf = &mut tap.interleaved[..n * ch];
                match tap.output.get() {
                    Some(output) => {
                        output.pull(buf, now_ns);
                        tap.underruns.store(output.underruns(), Ordering::Relaxed);
                    }
                    // Offline: the strip hears silence.
                    None => buf.fill(0.0),
                }
                for (c, dst) in self.inputs[tap.first..tap.first + ch]
                    .iter_mut()
                    .enumerate()
                {
                    for (d, frame) in dst[..n].iter_mut().zip(buf.chunks_exact(ch)) {
                        *d = frame[c];
                    }
                }
            }
            {
                let empty: &[f32] = &[];
                let mut ins = [empty; MAX_PORTS];
                let n_in = self.inputs.len().min(ins.len());
                for (slot, buf) in ins.iter_mut().zip(self.inputs.iter()) {
                    *slot = &buf[..n];
                }
                let mut outs: [&mut [f32]; MAX_PORTS] = std::array::from_fn(|_| &mut [][..]);
                let count = self.planar.len().min(outs.len());
                for (slot, buf) in outs.iter_mut().zip(self.planar.iter_mut()) {
                    *slot = &mut buf[..n];
                }
                self.engine.process(&ins[..n_in], &mut outs[..count], n);
            }
            let dst = &mut data[done * channels..(done + n) * channels];
            for (c, src) in self.planar.iter().take(channels).enumerate() {
                for (frame, &x) in dst.chunks_exact_mut(channels).zip(&src[..n]) {
                    frame[c] = x;
                }
            }
            for feed in self.feeds.iter_mut() {
                let Some(input) = feed.input.get() else {
                    // Offline: the bus is not heard.
                    continue;
                };
                let ch = feed.channels;
                let buf = &mut feed.interleaved[..n * ch];
                for (c, src) in self.planar[feed.first..feed.first + ch].iter().enumerate() {
                    for (frame, &x) in buf.chunks_exact_mut(ch).zip(&src[..n]) {
                        frame[c] = x;
                    }
                }
                input.push(buf, now_ns);
                feed.overruns.store(input.overruns(), Ordering::Relaxed);
            }
            done += n;
        }
        frames
    }
}

//! The audio side: [`Engine::process`] runs on the audio thread.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use troubadour_rt::denormal::DenormalGuard;
use troubadour_rt::exchange::{ExchangeAudio, ExchangeControl, exchange};
use troubadour_rt::ring::{Consumer, LockFreeRingBuffer, Producer};

use crate::command::Tagged;
use crate::graph::{Graph, Listeners, OutputCounts};
use crate::profile::{Lap, StageClock};
use crate::recorder::{RecorderAudio, RecorderControl, recorder};
use crate::spectrum::{SpectrumBank, SpectrumTaps};
use crate::stats::EngineStats;

/// The mixer's audio side. Created with its [`Controller`](crate::Controller) by
/// [`create`](crate::create); lives on (or is moved to) the audio thread.
///
/// Its one real-time method, [`process`](Engine::process), never allocates, frees,
/// locks, blocks, logs or makes a system call (a test runs it under an allocator that
/// counts any allocation as a failure).
#[derive(Debug)]
pub struct Engine {
    graph: Box<Graph>,
    commands: Consumer<Tagged>,
    graphs: ExchangeAudio<Box<Graph>>,
    recorder: RecorderAudio,
    /// The buses' file sinks while `run` runs: a second recorder, so that they record
    /// whether or not a `[recorder]` take runs beside them.
    sinks: RecorderAudio,
    spectrum: SpectrumTaps,
    stats: Arc<EngineStats>,
}

/// Most commands one callback applies; the rest wait for the next callback, in order.
/// A command may redesign a filter, so an unbounded burst of control traffic could push
/// a callback past its deadline; at this many, a callback's extra work stays a small
/// fraction of the shortest period (measured in `benches/mixer.rs`, `command_burst`).
pub const MAX_COMMANDS_PER_CALLBACK: usize = 64;

/// `a` is later than `b` in wrapping generation order.
#[inline]
fn later(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl Engine {
    /// An engine running `graph`, with the control side's ends of its queues: commands
    /// (`command_capacity` slots) and graphs (one in flight each way is all a structural
    /// change needs; the controller refuses another until the engine has taken the first)
    /// and the two recorders' (takes, then file sinks); the spectrum taps get fresh
    /// rings in `spectrum`.
    #[allow(clippy::type_complexity)]
    pub(crate) fn pair(
        graph: Box<Graph>,
        command_capacity: usize,
        stats: &Arc<EngineStats>,
        spectrum: &Arc<SpectrumBank>,
    ) -> (
        Producer<Tagged>,
        ExchangeControl<Box<Graph>>,
        RecorderControl,
        RecorderControl,
        Self,
    ) {
        let (commands, command_rx) = LockFreeRingBuffer::with_capacity(command_capacity);
        let (graphs, graphs_rx) = exchange(1);
        let (sinks_control, sinks) = recorder();
        let (recorder_control, recorder) = recorder();
        stats.generation.store(graph.generation, Ordering::Relaxed);
        let engine = Engine {
            graph,
            commands: command_rx,
            graphs: graphs_rx,
            recorder,
            sinks,
            spectrum: spectrum.taps(),
            stats: Arc::clone(stats),
        };
        (commands, graphs, recorder_control, sinks_control, engine)
    }

    /// Audio thread. Mixes `frames` frames: `inputs` are the device input channels the
    /// graph reads (see [`input_channels`](Self::input_channels)), `outputs` receive every
    /// bus channel in bus order (see [`output_channels`](Self::output_channels)). Any frame
    /// count is accepted (split into sub-blocks of at most the session's `block_frames`);
    /// missing input channels read as silence, surplus output channels are zeroed.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]], frames: usize) {
        self.process_with(inputs, outputs, frames, &mut ());
    }

    /// [`process`](Self::process), timing each stage into `clock` (see
    /// [`profile`](crate::profile)). For offline measurement (`troubadour bench`), not
    /// for a live audio callback: it reads the clock several times per strip and bus.
    pub fn process_profiled(
        &mut self,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        frames: usize,
        clock: &mut StageClock,
    ) {
        clock.start();
        self.process_with(inputs, outputs, frames, clock);
    }

    #[inline]
    fn process_with<L: Lap>(
        &mut self,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        frames: usize,
        lap: &mut L,
    ) {
        let _ftz = DenormalGuard::new();
        self.receive();
        let mut taps = Listeners {
            recorder: self.recorder.begin(),
            spectrum: self.spectrum.begin(),
        };
        let mut sinks = self.sinks.begin();
        let max = self.graph.max_block();
        let mut counts = OutputCounts::default();
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(max);
            let c = self
                .graph
                .process_block(inputs, outputs, done, n, &mut taps, lap);
            if let Some(sinks) = sinks.as_deref_mut() {
                self.graph.tap_buses(sinks, n);
            }
            counts.non_finite += c.non_finite;
            counts.over_full_scale += c.over_full_scale;
            done += n;
        }
        for out in outputs.iter_mut().skip(self.graph.output_channels()) {
            let n = frames.min(out.len());
            out[..n].fill(0.0);
        }
        let s = &self.stats;
        EngineStats::add(&s.callbacks, 1);
        EngineStats::add(&s.frames, frames as u64);
        EngineStats::add(&s.non_finite, counts.non_finite);
        EngineStats::add(&s.over_full_scale, counts.over_full_scale);
    }

    /// Swaps in pending graphs, then applies pending commands: at most
    /// [`MAX_COMMANDS_PER_CALLBACK`], and of a run of changes to one parameter only the
    /// last (the ones before it would be overwritten within the same block anyway).
    fn receive(&mut self) {
        // A new graph is taken only when the old one can be handed back: it must never
        // be freed here.
        let swaps = self
            .graphs
            .receive(&mut self.graph, |new, old| new.inherit(old));
        if swaps > 0 {
            EngineStats::add(&self.stats.graph_swaps, swaps as u64);
            self.stats
                .generation
                .store(self.graph.generation, Ordering::Relaxed);
        }
        let (mut applied, mut stale, mut coalesced) = (0, 0, 0);
        while applied + stale < MAX_COMMANDS_PER_CALLBACK as u64 {
            let Some(t) = self.commands.peek() else {
                break;
            };
            if later(t.generation, self.graph.generation) {
                // Meant for a graph still waiting in the queue: keep it for later.
                break;
            }
            let mut t = *t;
            self.commands.pop();
            let mut merged = 0;
            while let Some(next) = self.commands.peek() {
                if next.generation != t.generation || next.command.key() != t.command.key() {
                    break;
                }
                t = *next;
                self.commands.pop();
                merged += 1;
            }
            if t.generation == self.graph.generation && self.graph.apply(t.command) {
                applied += 1;
                coalesced += merged;
            } else {
                // Superseded by a change that was not applied either: all of them stale.
                stale += 1 + merged;
            }
        }
        EngineStats::add(&self.stats.commands, applied);
        EngineStats::add(&self.stats.coalesced_commands, coalesced);
        EngineStats::add(&self.stats.stale_commands, stale);
    }

    /// Device input channels the current graph reads.
    pub fn input_channels(&self) -> usize {
        self.graph.input_channels()
    }

    /// Output channels the current graph writes (all buses' channels, in order).
    pub fn output_channels(&self) -> usize {
        self.graph.output_channels()
    }

    /// Largest sub-block the engine processes at once.
    pub fn max_block(&self) -> usize {
        self.graph.max_block()
    }

    /// Frames of delay bus `bus` adds through its look-ahead limiter (0 without one).
    pub fn bus_latency_frames(&self, bus: usize) -> usize {
        self.graph.bus_latency_frames(bus)
    }

    /// The engine's sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.graph.sample_rate()
    }

    /// Offline rendering, never the audio thread: waits until every file source of the
    /// current graph has the next `frames` frames decoded (or has ended), so that the
    /// next [`process`](Self::process) of up to `frames` frames cannot underrun and a
    /// render is the same whatever the disk's speed.
    pub fn wait_for_file_sources(&self, frames: usize) {
        for strip in self.graph.strips() {
            strip.source.wait_for(frames);
        }
    }

    /// Strips (by index) whose file stopped reading before its end, and why.
    pub fn file_source_errors(&self) -> Vec<(usize, String)> {
        self.graph
            .strips()
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, s.source.error()?.to_string())))
            .collect()
    }
}

//! Engine statistics: counters the audio thread bumps and the control side reads.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Counters shared between the engine and its controller.
#[derive(Debug, Default)]
pub struct EngineStats {
    pub(crate) callbacks: AtomicU64,
    pub(crate) frames: AtomicU64,
    pub(crate) commands: AtomicU64,
    pub(crate) coalesced_commands: AtomicU64,
    pub(crate) stale_commands: AtomicU64,
    pub(crate) graph_swaps: AtomicU64,
    pub(crate) non_finite: AtomicU64,
    pub(crate) over_full_scale: AtomicU64,
    pub(crate) generation: AtomicU32,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Calls of `Engine::process`.
    pub callbacks: u64,
    /// Frames processed.
    pub frames: u64,
    /// Parameter commands applied.
    pub commands: u64,
    /// Commands superseded before they were applied: a later change of the same
    /// parameter was waiting right behind them, and only that one was applied.
    pub coalesced_commands: u64,
    /// Commands dropped because they were meant for a graph that had been replaced
    /// (the replacement already carried the change), or named a strip, bus or send the
    /// running graph does not have.
    pub stale_commands: u64,
    /// Structural changes swapped in.
    pub graph_swaps: u64,
    /// Non-finite samples (NaN, ±inf) caught at bus outputs and replaced by silence.
    pub non_finite: u64,
    /// Bus output samples beyond full scale (they clip in an integer format).
    pub over_full_scale: u64,
    /// Generation of the graph now running.
    pub generation: u32,
}

impl EngineStats {
    /// Reads every counter (each atomically; together, nearly at one moment).
    pub fn snapshot(&self) -> StatsSnapshot {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            callbacks: r(&self.callbacks),
            frames: r(&self.frames),
            commands: r(&self.commands),
            coalesced_commands: r(&self.coalesced_commands),
            stale_commands: r(&self.stale_commands),
            graph_swaps: r(&self.graph_swaps),
            non_finite: r(&self.non_finite),
            over_full_scale: r(&self.over_full_scale),
            generation: self.generation.load(Ordering::Relaxed),
        }
    }

    #[inline]
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }
}

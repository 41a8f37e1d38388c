//! Where the time of a block goes, for `troubadour bench`.
//!
//! The graph marks the boundaries between stages through a [`Lap`]. The real-time path
//! passes `()`, whose marks compile to nothing; [`Engine::process_profiled`]
//! (crate::Engine::process_profiled) passes a [`StageClock`], which reads the monotonic
//! clock at every mark. That read is cheap (the vDSO, no system call) but not free, so
//! profiled runs are for breakdowns, never for the headline real-time factor.

use std::time::{Duration, Instant};

/// The stages of a block, in signal order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading device inputs, generators and file sources (resampled at load).
    Sources = 0,
    /// Strip trim, gate, EQ and compressor.
    StripDsp = 1,
    /// Strip meters, faders, pan and the send matrix into the buses.
    Mixing = 2,
    /// Bus EQ, compressor and limiter.
    BusDsp = 3,
    /// Bus faders, the non-finite check, meters and the copy to the outputs.
    Output = 4,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 5] = [
        Stage::Sources,
        Stage::StripDsp,
        Stage::Mixing,
        Stage::BusDsp,
        Stage::Output,
    ];

    /// A short name for tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Sources => "sources",
            Stage::StripDsp => "strip_dsp",
            Stage::Mixing => "mixing",
            Stage::BusDsp => "bus_dsp",
            Stage::Output => "output",
        }
    }
}

/// Receives the end of each stage.
pub(crate) trait Lap {
    /// The stage that just ended.
    fn lap(&mut self, stage: Stage);
}

/// The real-time path: no clock, no cost.
impl Lap for () {
    #[inline(always)]
    fn lap(&mut self, _: Stage) {}
}

/// Time spent per stage, summed over the blocks it saw.
#[derive(Debug, Clone)]
pub struct StageClock {
    last: Instant,
    /// Total per stage, indexed by `Stage as usize`.
    pub totals: [Duration; 5],
}

impl Default for StageClock {
    fn default() -> Self {
        StageClock {
            last: Instant::now(),
            totals: [Duration::ZERO; 5],
        }
    }
}

impl StageClock {
    /// Starts timing the next block's first stage now.
    pub(crate) fn start(&mut self) {
        self.last = Instant::now();
    }

    /// Total time of `stage`.
    pub fn total(&self, stage: Stage) -> Duration {
        self.totals[stage as usize]
    }
}

impl Lap for StageClock {
    #[inline]
    fn lap(&mut self, stage: Stage) {
        let now = Instant::now();
        self.totals[stage as usize] += now - self.last;
        self.last = now;
    }
}

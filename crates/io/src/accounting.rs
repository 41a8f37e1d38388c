//! What a live backend's audio callback counts, shared with the control side as atomics
//! (a snapshot never takes a lock): callbacks, xruns reported by the server or device,
//! engine-caused lateness (a callback that took longer than its period), DSP load
//! (last, peak, mean, histogram), the period and rate in use, and whether the server or
//! device went away.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use troubadour_rt::atomic_float::{AtomicF32, PeakHold};

/// Buckets of the DSP-load histogram: 0–10 %, 10–20 %, ..., 90–100 %, over 100 %.
pub const LOAD_BUCKETS: usize = 11;

/// Counters written by the audio callback.
#[derive(Debug, Default)]
pub struct CallbackStats {
    pub(crate) callbacks: AtomicU64,
    pub(crate) xruns: AtomicU64,
    pub(crate) late: AtomicU64,
    busy_ns: AtomicU64,
    period_ns: AtomicU64,
    load_last: AtomicF32,
    load_max: PeakHold,
    histogram: [AtomicU64; LOAD_BUCKETS],
    pub(crate) buffer_size: AtomicU32,
    pub(crate) sample_rate: AtomicU32,
    pub(crate) gone: AtomicBool,
}

/// A reading of a backend's counters.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackSnapshot {
    /// Callbacks run.
    pub callbacks: u64,
    /// Xruns the server or device reported.
    pub xruns: u64,
    /// Callbacks that took longer than their period (engine-caused).
    pub late: u64,
    /// Callback time over period for the last callback.
    pub load_last: f32,
    /// Highest load since the previous reading.
    pub load_max: f32,
    /// Callback time over period time since the start.
    pub load_mean: f64,
    /// Callbacks per load bucket (see [`LOAD_BUCKETS`]).
    pub histogram: [u64; LOAD_BUCKETS],
    /// The period in frames (the latest callback's, where it varies).
    pub buffer_size: u32,
    /// The rate.
    pub sample_rate: u32,
    /// The server or device went away.
    pub gone: bool,
}

impl CallbackStats {
    /// Audio thread: one callback took `busy_ns` for a period of `period_ns`.
    #[inline]
    pub(crate) fn record(&self, busy_ns: u64, period_ns: u64) {
        let load = busy_ns as f32 / period_ns.max(1) as f32;
        self.callbacks.fetch_add(1, Ordering::Relaxed);
        self.busy_ns.fetch_add(busy_ns, Ordering::Relaxed);
        self.period_ns.fetch_add(period_ns, Ordering::Relaxed);
        self.load_last.store(load);
        self.load_max.raise(load);
        let bucket = ((load * 10.0) as usize).min(LOAD_BUCKETS - 1);
        self.histogram[bucket].fetch_add(1, Ordering::Relaxed);
        if busy_ns > period_ns {
            self.late.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Reads every counter; resets the peak load.
    pub fn snapshot(&self) -> CallbackSnapshot {
        let busy = self.busy_ns.load(Ordering::Relaxed) as f64;
        let total = self.period_ns.load(Ordering::Relaxed).max(1) as f64;
        CallbackSnapshot {
            callbacks: self.callbacks.load(Ordering::Relaxed),
            xruns: self.xruns.load(Ordering::Relaxed),
            late: self.late.load(Ordering::Relaxed),
            load_last: self.load_last.load(),
            load_max: self.load_max.take(),
            load_mean: busy / total,
            histogram: std::array::from_fn(|i| self.histogram[i].load(Ordering::Relaxed)),
            buffer_size: self.buffer_size.load(Ordering::Relaxed),
            sample_rate: self.sample_rate.load(Ordering::Relaxed),
            gone: self.gone.load(Ordering::Relaxed),
        }
    }
}

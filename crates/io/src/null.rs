//! The null backend: a clock of its own for machines without audio hardware.
//!
//! A thread wakes on absolute deadlines (`start + k × period`, so timing errors never
//! accumulate into drift), runs `Engine::process` with silent device inputs, and
//! discards the outputs (meters and statistics still see them). It measures what a
//! real backend would: late wake-ups, callbacks that overran their period, DSP load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use troubadour_engine::Engine;
use troubadour_rt::atomic_float::{AtomicF32, PeakHold};

use crate::thread::ThreadSetup;

/// Channels allocated up front on each side; a graph swapped in later with more device
/// inputs or bus outputs than this has the surplus read as silence / not delivered
/// (the engine still processes and meters them).
pub const MAX_CHANNELS: usize = 128;

/// Counters of a running null backend.
#[derive(Debug, Default)]
pub struct NullStats {
    callbacks: AtomicU64,
    late_wakeups: AtomicU64,
    overruns: AtomicU64,
    engine_overruns: AtomicU64,
    busy_ns: AtomicU64,
    period_ns: AtomicU64,
    load_last: AtomicF32,
    load_max: PeakHold,
}

/// A reading of [`NullStats`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NullSnapshot {
    /// Periods processed.
    pub callbacks: u64,
    /// Times the thread woke more than a period after its deadline (the equivalent of
    /// an xrun: a device would have run dry).
    pub late_wakeups: u64,
    /// Callbacks whose processing took longer than the period by the wall clock: the
    /// engine's own cost, or the thread losing the CPU while it ran (preemption, a
    /// virtual machine's host stealing the CPU).
    pub overruns: u64,
    /// Callbacks whose processing used more CPU time than the period: engine-caused
    /// for certain (the thread's own CPU time excludes time it was not running).
    pub engine_overruns: u64,
    /// Processing time over period time for the last callback.
    pub load_last: f32,
    /// Highest load since the last reading (reset by reading).
    pub load_max: f32,
    /// Processing time over wall time since the start.
    pub load_mean: f64,
}

impl NullStats {
    fn snapshot(&self) -> NullSnapshot {
        let busy = self.busy_ns.load(Ordering::Relaxed) as f64;
        let total = self.period_ns.load(Ordering::Relaxed).max(1) as f64;
        NullSnapshot {
            callbacks: self.callbacks.load(Ordering::Relaxed),
            late_wakeups: self.late_wakeups.load(Ordering::Relaxed),
            overruns: self.overruns.load(Ordering::Relaxed),
            engine_overruns: self.engine_overruns.load(Ordering::Relaxed),
            load_last: self.load_last.load(),
            load_max: self.load_max.take(),
            load_mean: busy / total,
        }
    }
}

/// A running null backend. Dropping it without [`stop`](Self::stop) stops the thread too.
pub struct NullBackend {
    handle: Option<JoinHandle<Engine>>,
    stop: Arc<AtomicBool>,
    stats: Arc<NullStats>,
    period: Duration,
}

impl NullBackend {
    /// Starts the clock thread; `engine` moves onto it.
    pub fn start(engine: Engine, period_frames: usize) -> std::io::Result<Self> {
        Self::start_with(engine, period_frames, ThreadSetup::default()).map(|(b, _)| b)
    }

    /// [`start`](Self::start), with the clock thread set up as `setup` asks (real-time
    /// priority, CPU) before its loop begins. Returns the backend and a line per
    /// request saying what the system granted.
    pub fn start_with(
        mut engine: Engine,
        period_frames: usize,
        setup: ThreadSetup,
    ) -> std::io::Result<(Self, Vec<String>)> {
        let (setup_tx, setup_rx) = std::sync::mpsc::channel();
        let period_frames = period_frames.max(1);
        let rate = f64::from(engine.sample_rate());
        let period = Duration::from_secs_f64(period_frames as f64 / rate);
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(NullStats::default());
        let (thread_stop, thread_stats) = (Arc::clone(&stop), Arc::clone(&stats));
        let handle = std::thread::Builder::new()
            .name("troubadour-null".into())
            .spawn(move || {
                let _ = setup_tx.send(crate::thread::apply(&setup));
                let inputs_store =
                    vec![vec![0.0f32; period_frames]; engine.input_channels().max(MAX_CHANNELS)];
                let mut outputs_store =
                    vec![vec![0.0f32; period_frames]; engine.output_channels().max(MAX_CHANNELS)];
                let inputs: Vec<&[f32]> = inputs_store.iter().map(|c| c.as_slice()).collect();
                let mut outputs: Vec<&mut [f32]> =
                    outputs_store.iter_mut().map(|c| c.as_mut_slice()).collect();
                let period_ns = period.as_nanos() as u64;
                let mut start = Instant::now();
                let mut k: u64 = 0;
                while !thread_stop.load(Ordering::Relaxed) {
                    let deadline = start + Duration::from_nanos(k.saturating_mul(period_ns));
                    let now = Instant::now();
                    if deadline > now {
                        std::thread::sleep(deadline - now);
                    } else if now - deadline > period {
                        thread_stats.late_wakeups.fetch_add(1, Ordering::Relaxed);
                        // Far behind (the machine stalled): start a new timeline rather
                        // than racing through the missed periods.
                        start = now;
                        k = 0;
                    }
                    let t0 = Instant::now();
                    let cpu0 = thread_cpu_ns();
                    let n_in = engine.input_channels().min(inputs.len());
                    let n_out = engine.output_channels().min(outputs.len());
                    engine.process(&inputs[..n_in], &mut outputs[..n_out], period_frames);
                    let busy = t0.elapsed();
                    let load = busy.as_secs_f32() / period.as_secs_f32();
                    thread_stats.load_last.store(load);
                    thread_stats.load_max.raise(load);
                    thread_stats
                        .busy_ns
                        .fetch_add(busy.as_nanos() as u64, Ordering::Relaxed);
                    thread_stats
                        .period_ns
                        .fetch_add(period_ns, Ordering::Relaxed);
                    thread_stats.callbacks.fetch_add(1, Ordering::Relaxed);
                    if busy > period {
                        thread_stats.overruns.fetch_add(1, Ordering::Relaxed);
                        // Wall time or CPU time? (Reading the thread's CPU time is a
                        // system call, made on this clock thread around the engine,
                        // never inside `Engine::process`.)
                        if thread_cpu_ns().saturating_sub(cpu0) > period.as_nanos() as u64 {
                            thread_stats.engine_overruns.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    k += 1;
                }
                engine
            })?;
        let granted = setup_rx.recv().unwrap_or_default();
        Ok((
            NullBackend {
                handle: Some(handle),
                stop,
                stats,
                period,
            },
            granted,
        ))
    }

    /// The period, as a duration.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Current counters; reading resets the maximum load.
    pub fn stats(&self) -> NullSnapshot {
        self.stats.snapshot()
    }

    /// Stops the clock thread and hands the engine back.
    pub fn stop(mut self) -> Option<Engine> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().and_then(|h| h.join().ok())
    }
}

impl Drop for NullBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// CPU time the calling thread has used, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

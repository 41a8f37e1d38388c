//! The null backend: a clock of its own for machines without audio hardware.
//!
//! A thread wakes on absolute deadlines (`start + k × period`, so timing errors never
//! accumulate into drift), runs `Engine::process` with silent device inputs, and
//! discards the outputs (meters and statistics still see them). It measures what a
//! real backend would: late wake-ups (where a device would have run dry), callbacks
//! that overran their period, DSP load. Being our own thread, it reads its CPU clock
//! around each callback (between periods, never inside `Engine::process`) and judges
//! each overrun on the spot: engine-caused, or the thread losing the CPU.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use troubadour_engine::Engine;
use troubadour_engine::session::Session;

use crate::accounting::CallbackStats;
use crate::backend::{
    Backend, BackendError, BackendKind, BackendStats, Clock, DeviceChange, Driver, Health, Latency,
    Started, limits::NULL_CHANNELS,
};
use crate::thread::ThreadSetup;

/// A running null backend. Dropping it without [`stop`](Self::stop) stops the thread too.
pub struct NullBackend {
    handle: Option<JoinHandle<Engine>>,
    stop: Arc<AtomicBool>,
    stats: Arc<CallbackStats>,
    clock: Clock,
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
        let clock = Clock {
            sample_rate: engine.sample_rate(),
            period_frames,
        };
        let period = Duration::from_secs_f64(period_frames as f64 / f64::from(clock.sample_rate));
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(CallbackStats::default());
        let (thread_stop, thread_stats) = (Arc::clone(&stop), Arc::clone(&stats));
        let handle = std::thread::Builder::new()
            .name("troubadour-null".into())
            .spawn(move || {
                let _ = setup_tx.send(crate::thread::apply(&setup));
                let mut inputs_store =
                    vec![vec![0.0f32; period_frames]; engine.input_channels().max(NULL_CHANNELS)];
                let mut outputs_store =
                    vec![vec![0.0f32; period_frames]; engine.output_channels().max(NULL_CHANNELS)];
                for b in inputs_store.iter_mut().chain(outputs_store.iter_mut()) {
                    troubadour_rt::prefault::touch(b);
                }
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
                        thread_stats.xruns.fetch_add(1, Ordering::Relaxed);
                        // Far behind (the machine stalled): start a new timeline rather
                        // than racing through the missed periods.
                        start = now;
                        k = 0;
                    }
                    let t0 = Instant::now();
                    let cpu0 = thread_cpu_ns();
                    thread_stats.guarded(|| {
                        let n_in = engine.input_channels().min(inputs.len());
                        let n_out = engine.output_channels().min(outputs.len());
                        engine.process(&inputs[..n_in], &mut outputs[..n_out], period_frames);
                    });
                    let busy = t0.elapsed().as_nanos() as u64;
                    // The thread's CPU clock is a system call (read before and, for an
                    // overrun, after each period), made here on the clock thread around
                    // the engine, never inside `Engine::process`.
                    let cpu = if busy > period_ns {
                        cpu0.zip(thread_cpu_ns()).map(|(a, b)| b.saturating_sub(a))
                    } else {
                        Some(0)
                    };
                    thread_stats.record_judged(busy, cpu, period_ns);
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
                clock,
            },
            granted,
        ))
    }

    /// The period, as a duration.
    pub fn period(&self) -> Duration {
        Duration::from_secs_f64(self.clock.period_ms() / 1e3)
    }

    /// Current counters; reading resets the maximum load.
    pub fn stats(&self) -> BackendStats {
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

impl Backend for NullBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Null
    }

    fn clock(&self) -> Clock {
        self.clock
    }

    fn latency(&self) -> Latency {
        Latency::default()
    }

    fn stats(&self) -> BackendStats {
        NullBackend::stats(self)
    }

    fn health(&self) -> Health {
        match &self.handle {
            Some(h) if !h.is_finished() => Health::Running,
            _ => Health::Lost("the null backend's clock thread ended".into()),
        }
    }

    fn maintain(&mut self, _: &Session) -> Vec<DeviceChange> {
        Vec::new()
    }

    fn stop(self: Box<Self>) -> Option<Engine> {
        NullBackend::stop(*self)
    }
}

/// Starts null backends: the session's rate, the period asked for, the clock thread set
/// up as asked.
#[derive(Debug, Clone, Default)]
pub struct NullDriver {
    /// How the clock thread is set up.
    pub setup: ThreadSetup,
    period_frames: usize,
}

impl NullDriver {
    /// A driver whose clock threads are set up as `setup` asks.
    pub fn new(setup: ThreadSetup) -> Self {
        NullDriver {
            setup,
            period_frames: 0,
        }
    }
}

impl Driver for NullDriver {
    fn kind(&self) -> BackendKind {
        BackendKind::Null
    }

    fn connect(
        &mut self,
        session: &Session,
        period_frames: usize,
        _quiet: bool,
    ) -> Result<Clock, BackendError> {
        self.period_frames = period_frames.max(1);
        Ok(Clock {
            sample_rate: session.sample_rate,
            period_frames: self.period_frames,
        })
    }

    fn start(&mut self, engine: Engine, _: &Session) -> Result<Started, BackendError> {
        let (backend, granted) = NullBackend::start_with(engine, self.period_frames, self.setup)
            .map_err(|e| BackendError::Refused(format!("cannot start the null backend: {e}")))?;
        Ok(Started {
            backend: Box::new(backend),
            offline: Vec::new(),
            notes: granted,
        })
    }

    fn describe(&self) -> String {
        "a deadline-paced clock thread, no audio device".into()
    }
}

/// CPU time the calling thread has used, in nanoseconds (`None` if the clock cannot be
/// read).
fn thread_cpu_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

//! What a live backend's audio callback counts, shared with the control side as atomics
//! (a snapshot never takes a lock): callbacks, xruns reported by the server or device,
//! lateness (a callback that took longer than its period), DSP load (last, peak, mean,
//! histogram), the period and rate in use, and whether the server or device went away.
//!
//! A callback can only time itself by the wall clock, and the wall clock also runs while
//! the thread is not running at all: a virtual machine whose host took the CPU away, an
//! interrupt storm, a higher-priority thread. Telling those from the engine's own cost
//! needs the thread's CPU time, which is a system call the audio thread must not make.
//! So a [`Watcher`] thread on the control side reads the audio thread's CPU clock every
//! [`LOOK`] and judges each late callback after the fact: if the audio thread used no
//! more CPU time than one period over a window that surely contains the whole late
//! callback, the engine cannot have caused it (it is counted as *stalled*); otherwise,
//! or when the audio thread's CPU clock cannot be read, it counts as engine-caused.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use troubadour_rt::atomic_float::{AtomicF32, PeakHold};
use troubadour_rt::section;

use crate::backend::{BackendStats, LOAD_BUCKETS};

/// Counters written by the audio callback.
#[derive(Debug, Default)]
pub struct CallbackStats {
    pub(crate) callbacks: AtomicU64,
    pub(crate) xruns: AtomicU64,
    /// Callbacks whose wall-clock time exceeded their period.
    late_wall: AtomicU64,
    /// The longest of those since the watcher last looked, and the latest one's period.
    late_wall_max_ns: AtomicU64,
    late_period_ns: AtomicU64,
    /// The watcher's verdicts on them (or the callback's own, where it can read its
    /// thread's CPU clock: the null backend).
    late_engine: AtomicU64,
    late_stalled: AtomicU64,
    /// Allocations and frees inside callbacks.
    alloc_violations: AtomicU64,
    /// System calls inside callbacks (where the kernel lets them be caught).
    syscall_violations: AtomicU64,
    /// The audio thread's kernel thread id, 0 while unknown.
    audio_tid: AtomicI32,
    busy_ns: AtomicU64,
    period_ns: AtomicU64,
    load_last: AtomicF32,
    load_max: PeakHold,
    histogram: [AtomicU64; LOAD_BUCKETS],
    pub(crate) buffer_size: AtomicU32,
    pub(crate) sample_rate: AtomicU32,
    pub(crate) gone: AtomicBool,
    /// Cycles longer than the callback could compute in full (their tail was silenced).
    #[cfg_attr(not(feature = "pipewire"), allow(dead_code))]
    pub(crate) short_cycles: AtomicU64,
}

impl CallbackStats {
    /// Audio thread: runs a callback's body with allocation and system calls
    /// forbidden, counting any allocation or free it makes (with the guarded allocator
    /// installed, as the binary does) and any system call (with the `SIGSYS` handler of
    /// `troubadour_rt::syscall_guard` installed, as the binary does) rather than stopping a live
    /// show for it. A few thread-local accesses and two stores.
    #[inline]
    pub fn guarded<R>(&self, body: impl FnOnce() -> R) -> R {
        let (result, made) = section::forbidden(body);
        if made.allocations > 0 {
            self.alloc_violations
                .fetch_add(made.allocations, Ordering::Relaxed);
        }
        if made.syscalls > 0 {
            self.syscall_violations
                .fetch_add(made.syscalls, Ordering::Relaxed);
        }
        result
    }

    /// Audio thread, for a callback that can read its own thread's CPU time (the null
    /// backend's clock thread, between two periods): one callback took `busy_ns` of
    /// wall time and `cpu_ns` of CPU time (`None`: unreadable) for a period of
    /// `period_ns`. A late one is judged on the spot: engine-caused if it used more CPU
    /// time than the period, or if that cannot be told.
    #[inline]
    pub(crate) fn record_judged(&self, busy_ns: u64, cpu_ns: Option<u64>, period_ns: u64) {
        self.account(busy_ns, period_ns);
        if busy_ns > period_ns {
            let engine = cpu_ns.is_none_or(|cpu| cpu > period_ns);
            let counter = if engine {
                &self.late_engine
            } else {
                &self.late_stalled
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Audio thread: one callback took `busy_ns` for a period of `period_ns`; a late one
    /// is left for the [`Watcher`] to judge.
    #[inline]
    pub(crate) fn record(&self, busy_ns: u64, period_ns: u64) {
        self.account(busy_ns, period_ns);
        if busy_ns > period_ns {
            self.late_wall_max_ns.fetch_max(busy_ns, Ordering::Relaxed);
            self.late_period_ns.store(period_ns, Ordering::Relaxed);
            // Release: a watcher that sees this count also sees the duration above.
            self.late_wall.fetch_add(1, Ordering::Release);
        }
    }

    #[inline]
    fn account(&self, busy_ns: u64, period_ns: u64) {
        let load = busy_ns as f32 / period_ns.max(1) as f32;
        self.callbacks.fetch_add(1, Ordering::Relaxed);
        self.busy_ns.fetch_add(busy_ns, Ordering::Relaxed);
        self.period_ns.fetch_add(period_ns, Ordering::Relaxed);
        self.load_last.store(load);
        self.load_max.raise(load);
        let bucket = ((load * 10.0) as usize).min(LOAD_BUCKETS - 1);
        self.histogram[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// The audio thread, once before its first callback (not real-time: JACK's thread
    /// initialisation hook): remembers the thread's id so the watcher can read its CPU
    /// clock.
    pub(crate) fn set_audio_thread(&self) {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        self.audio_tid.store(tid, Ordering::Relaxed);
    }

    /// Control side, for a backend whose audio thread is not ours to run code on before
    /// its first callback (PipeWire's data thread): the thread's id, found otherwise.
    #[cfg(feature = "pipewire")]
    pub(crate) fn set_audio_tid(&self, tid: i32) {
        self.audio_tid.store(tid, Ordering::Relaxed);
    }

    /// CPU time the audio thread has used: `Some(0)` before it has started (its id is
    /// set before its first callback), `None` once it has gone (the call fails for a
    /// thread that has exited).
    fn audio_thread_cpu_ns(tid: i32) -> Option<u64> {
        if tid <= 0 {
            return Some(0);
        }
        // The kernel's per-thread CPU clock id (MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)
        // in include/linux/posix-timers.h), readable for any thread of this process.
        let clock = ((!tid) << 3) | 6;
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec for the call to fill.
        let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
        (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
    }

    /// Reads every counter; resets the peak load. (No bridges: a backend that has them
    /// adds them.)
    pub fn snapshot(&self) -> BackendStats {
        let busy_ns = self.busy_ns.load(Ordering::Relaxed);
        let period_ns = self.period_ns.load(Ordering::Relaxed);
        BackendStats {
            callbacks: self.callbacks.load(Ordering::Relaxed),
            xruns: self.xruns.load(Ordering::Relaxed),
            late: self.late_engine.load(Ordering::Relaxed),
            late_stalled: self.late_stalled.load(Ordering::Relaxed),
            alloc_violations: self.alloc_violations.load(Ordering::Relaxed),
            syscall_violations: self.syscall_violations.load(Ordering::Relaxed),
            short_cycles: self.short_cycles.load(Ordering::Relaxed),
            load_last: self.load_last.load(),
            load_max: self.load_max.take(),
            load_mean: busy_ns as f64 / period_ns.max(1) as f64,
            busy_ns,
            period_ns,
            histogram: std::array::from_fn(|i| self.histogram[i].load(Ordering::Relaxed)),
            bridges: Vec::new(),
        }
    }
}

/// How often the watcher reads the audio thread's CPU clock.
pub const LOOK: Duration = Duration::from_millis(10);

/// How far back the watcher keeps its readings: a late callback longer than this is
/// judged engine-caused without looking.
const HISTORY: Duration = Duration::from_secs(2);

/// One reading: when it started, the audio thread's CPU time, when it ended.
#[derive(Clone, Copy)]
struct Look {
    before: Instant,
    cpu_ns: Option<u64>,
    after: Instant,
}

/// The control-side thread that judges late callbacks (see the module notes). Stops when
/// dropped.
pub(crate) struct Watcher {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Watcher {
    pub(crate) fn spawn(stats: Arc<CallbackStats>) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("troubadour-watch".into())
            .spawn(move || {
                let mut judge = Judge::default();
                while !flag.load(Ordering::Relaxed) {
                    judge.look(&stats);
                    std::thread::sleep(LOOK);
                }
                judge.look(&stats);
            })
            .ok();
        Watcher { stop, handle }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The watcher's state between readings.
#[derive(Default)]
struct Judge {
    looks: VecDeque<Look>,
    /// Late callbacks already judged.
    seen: u64,
    /// The longest late callback not yet judged, in ns.
    pending_ns: u64,
}

impl Judge {
    fn look(&mut self, stats: &CallbackStats) {
        // The order matters. A callback counted now but not at the previous reading
        // ended after that reading's start, so it began at most its duration before
        // it; and the CPU clock read after the count covers all of it.
        let before = Instant::now();
        let late = stats.late_wall.load(Ordering::Acquire);
        let longest = stats.late_wall_max_ns.swap(0, Ordering::Relaxed);
        let tid = stats.audio_tid.load(Ordering::Relaxed);
        let cpu_ns = CallbackStats::audio_thread_cpu_ns(tid);
        let after = Instant::now();
        // Judging needs the thread's clock now; `Some(0)` before the thread started is
        // a fair reading for the past, never for the present.
        let tid_known = tid > 0;
        self.pending_ns = self.pending_ns.max(longest);
        if late > self.seen {
            let n = late - self.seen;
            let period = stats.late_period_ns.load(Ordering::Relaxed);
            let counter = if tid_known && self.stalled(cpu_ns, period) {
                &stats.late_stalled
            } else {
                &stats.late_engine
            };
            counter.fetch_add(n, Ordering::Relaxed);
            self.seen = late;
            // A late callback that landed between the count and the swap above left its
            // duration in `pending_ns`, to be judged next time with the longer window.
            if stats.late_wall.load(Ordering::Acquire) == late {
                self.pending_ns = 0;
            }
        }
        self.looks.push_back(Look {
            before,
            cpu_ns,
            after,
        });
        while self
            .looks
            .front()
            .is_some_and(|l| before.duration_since(l.after) > HISTORY)
        {
            self.looks.pop_front();
        }
    }

    /// True when the late callbacks just counted (the longest `pending_ns` long) cannot
    /// have used more than `period_ns` of CPU time: the audio thread used no more than
    /// that over a window holding all of them.
    fn stalled(&self, cpu_now: Option<u64>, period_ns: u64) -> bool {
        let (Some(cpu_now), Some(previous)) = (cpu_now, self.looks.back()) else {
            return false;
        };
        let Some(earliest_start) = previous
            .before
            .checked_sub(Duration::from_nanos(self.pending_ns))
        else {
            return false;
        };
        // The newest reading taken wholly before the earliest possible start.
        let Some(Some(cpu_then)) = self
            .looks
            .iter()
            .rev()
            .find(|l| l.after <= earliest_start)
            .map(|l| l.cpu_ns)
        else {
            return false;
        };
        cpu_now.saturating_sub(cpu_then) <= period_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in audio thread that is late against a 20 ms period, either working for
    /// 30 ms of CPU time (`spin`) or asleep for 30 ms; the judge, looking every 2 ms
    /// from this thread, must tell which.
    fn judged(spin: bool) -> BackendStats {
        let stats = Arc::new(CallbackStats::default());
        let audio = Arc::clone(&stats);
        let (ready, started) = std::sync::mpsc::channel();
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let (done, finish) = std::sync::mpsc::channel::<()>();
        // The thread lives on until judged, as an audio thread does.
        let thread = std::thread::spawn(move || {
            audio.set_audio_thread();
            ready.send(()).unwrap();
            wait.recv().unwrap();
            let start = Instant::now();
            let tid = audio.audio_tid.load(Ordering::Relaxed);
            let cpu0 = CallbackStats::audio_thread_cpu_ns(tid).unwrap();
            if spin {
                // 30 ms of CPU time, however long other threads make that take.
                while CallbackStats::audio_thread_cpu_ns(tid).unwrap() - cpu0 < 30_000_000 {}
            } else {
                std::thread::sleep(Duration::from_millis(30));
            }
            audio.record(start.elapsed().as_nanos() as u64, 20_000_000);
            finish.recv().unwrap();
        });
        started.recv().unwrap();
        let mut judge = Judge::default();
        for _ in 0..5 {
            judge.look(&stats);
            std::thread::sleep(Duration::from_millis(2));
        }
        go.send(()).unwrap();
        let give_up = Instant::now() + Duration::from_secs(5);
        while judge.seen == 0 && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(2));
            judge.look(&stats);
        }
        done.send(()).unwrap();
        thread.join().unwrap();
        stats.snapshot()
    }

    #[test]
    fn a_late_callback_that_burned_the_cpu_is_the_engines() {
        let s = judged(true);
        assert_eq!((s.late, s.late_stalled), (1, 0), "{s:?}");
    }

    #[test]
    fn a_late_callback_whose_thread_was_not_running_is_a_stall() {
        let s = judged(false);
        assert_eq!((s.late, s.late_stalled), (0, 1), "{s:?}");
    }

    #[test]
    fn without_the_threads_clock_every_late_callback_is_the_engines() {
        let stats = CallbackStats::default();
        let mut judge = Judge::default();
        judge.look(&stats);
        stats.record(30_000_000, 20_000_000);
        judge.look(&stats);
        let s = stats.snapshot();
        assert_eq!((s.late, s.late_stalled), (1, 0), "{s:?}");
    }
}

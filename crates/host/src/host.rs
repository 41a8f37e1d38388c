//! The [`Host`]: one controller, one driver, the backend it runs, and the supervision
//! loop that keeps them running.

mod apply;
mod recording;
mod sinks;

pub use recording::{RecordError, RecorderStatus};

use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use troubadour_engine::session::{LoadedSession, Session};
use troubadour_engine::{Controller, Engine, EngineOptions, create};
use troubadour_io::backend::{
    Backend, BackendError, BackendKind, BackendStats, Clock, DeviceChange, Driver, Health,
};
use troubadour_io::midi::MidiHub;
use troubadour_io::null::NullDriver;
use troubadour_io::thread::{MemoryLock, ThreadSetup};

use crate::backoff::{Backoff, Retry};
use crate::event::{HostEvent, Listeners};
use crate::memory::Resident;
use crate::overload::OverloadWatch;
use crate::pick::{BackendChoice, pick};
use crate::watch::Watch;

/// How the host runs, beyond what the session says.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Which backend.
    pub backend: BackendChoice,
    /// The period asked for (`--latency-frames`); the session's `block_frames` if `None`.
    /// A JACK server sets its own.
    pub period_frames: Option<usize>,
    /// How the null backend's clock thread is set up.
    pub thread: ThreadSetup,
    /// Whether to lock the process's memory.
    pub memory_lock: MemoryLock,
    /// The JACK client's name.
    pub client_name: String,
    /// Apply edits of the session file live.
    pub watch_session: bool,
    /// Waits between attempts to bring a lost backend back.
    pub reconnect: Backoff,
    /// The engine's queues and kernels.
    pub engine: EngineOptions,
    /// Where a JACK backend attaches MIDI ports for the MIDI thread (None: no MIDI
    /// ports on the audio client).
    pub midi: Option<Arc<MidiHub>>,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            backend: BackendChoice::Auto,
            period_frames: None,
            thread: ThreadSetup::default(),
            memory_lock: MemoryLock::Off,
            client_name: "troubadour".into(),
            watch_session: true,
            reconnect: Backoff::default(),
            engine: EngineOptions::default(),
            midi: None,
        }
    }
}

/// Why the host could not start. (Once started, nothing stops it: losses are events.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The backend asked for did not connect or start.
    #[error("{kind}: {why}")]
    Backend {
        /// Which backend.
        kind: BackendKind,
        /// What went wrong.
        why: String,
    },
    /// The session could not be compiled (a file source failed to load, ...).
    #[error("{0}")]
    Session(String),
    /// A setting is out of range.
    #[error("{0}")]
    Config(String),
}

/// The first strip or bus with a virtual device, in words.
fn virtual_device(session: &troubadour_engine::session::Session) -> Option<String> {
    use troubadour_engine::session::{Sink, Source};
    let strip = session
        .strips
        .iter()
        .find(|s| matches!(s.source, Source::Virtual(_) | Source::App(_)))
        .map(|s| format!("strip \"{}\"", s.name));
    strip.or_else(|| {
        session
            .buses
            .iter()
            .find(|b| matches!(b.sink, Some(Sink::Virtual { .. })))
            .map(|b| format!("bus \"{}\"", b.name))
    })
}

/// Whether `kind` can make virtual devices (PipeWire natively, cpal through a
/// PulseAudio server's modules).
fn makes_virtual_devices(kind: BackendKind) -> bool {
    matches!(kind, BackendKind::Pipewire | BackendKind::Cpal)
}

/// What the backend is doing, for a status line.
#[derive(Debug, Clone, PartialEq)]
pub enum HostStatus {
    /// Processing.
    Running {
        /// Which backend.
        kind: BackendKind,
        /// The clock in force.
        clock: Clock,
    },
    /// Lost, trying to bring it back.
    Reconnecting {
        /// Which backend.
        kind: BackendKind,
        /// What was lost.
        why: String,
        /// Since when.
        since: Duration,
        /// Attempts so far.
        attempts: u32,
        /// Until the next attempt.
        next_in: Duration,
    },
}

/// Periods accepted from `--latency-frames` or a session's `block_frames`.
pub const PERIOD_RANGE: std::ops::RangeInclusive<usize> = 16..=65_536;

/// A running mixer: see the crate's documentation.
pub struct Host {
    controller: Controller,
    driver: Box<dyn Driver>,
    backend: Option<Box<dyn Backend>>,
    /// Bringing a lost backend back: attempts and what was lost.
    retry: Option<(Retry, String)>,
    listeners: Listeners,
    watch: Option<Watch>,
    config: HostConfig,
    /// The rate and block size the session file asks for (a JACK server may run at
    /// another rate; the controller's session holds the rate in force).
    requested_rate: u32,
    requested_block: u32,
    clock: Clock,
    overload: OverloadWatch,
    allocations_told: u64,
    syscalls_told: u64,
    /// Strips whose file source is not there, as last told.
    missing_files: Vec<(String, std::path::PathBuf)>,
    memory: Option<Resident>,
    next_look: Instant,
    started: Instant,
    recording: recording::Recording,
    sinks: sinks::SinkFiles,
}

impl Host {
    /// Picks and connects the backend, builds the engine for its clock and starts it.
    /// Everything it did is told as events to the first listener that subscribes.
    pub fn start(loaded: LoadedSession, config: HostConfig) -> Result<Host, HostError> {
        let mut listeners = Listeners::default();
        listeners.send(HostEvent::Note(troubadour_io::thread::lock_memory(
            config.memory_lock,
        )));
        let (driver, why) = pick(
            config.backend,
            &config.client_name,
            config.thread,
            config.midi.clone(),
        )
        .map_err(|why| HostError::Backend {
            kind: BackendKind::Cpal,
            why,
        })?;
        Self::start_with(loaded, config, driver, why, listeners)
    }

    /// [`start`](Self::start) on a driver of the caller's (a test's scripted backend).
    pub fn start_on(
        loaded: LoadedSession,
        config: HostConfig,
        driver: Box<dyn Driver>,
    ) -> Result<Host, HostError> {
        Self::start_with(loaded, config, driver, None, Listeners::default())
    }

    fn start_with(
        mut loaded: LoadedSession,
        config: HostConfig,
        mut driver: Box<dyn Driver>,
        mut why: Option<String>,
        mut listeners: Listeners,
    ) -> Result<Host, HostError> {
        let requested_rate = loaded.session.sample_rate;
        let requested_block = loaded.session.block_frames;
        let period = config.period_frames.unwrap_or(requested_block as usize);
        if !PERIOD_RANGE.contains(&period) {
            return Err(HostError::Config(format!(
                "a period of {period} frames is outside {}..={}",
                PERIOD_RANGE.start(),
                PERIOD_RANGE.end()
            )));
        }
        let backend_error = |kind, e: BackendError| HostError::Backend {
            kind,
            why: e.to_string(),
        };
        let kind = driver.kind();
        // The cpal backend makes them on a PulseAudio server (and says so if its host
        // is another).
        let has_virtual = virtual_device(&loaded.session).is_some();
        if !makes_virtual_devices(kind)
            && let Some(what) = virtual_device(&loaded.session)
        {
            return Err(HostError::Backend {
                kind,
                why: format!(
                    "{what} asks for a virtual device, which needs the pipewire backend (--backend pipewire) or cpal on a PulseAudio server"
                ),
            });
        }
        let clock = driver
            .connect(&loaded.session, period, false)
            .map_err(|e| backend_error(kind, e))?;
        if kind == BackendKind::Jack && config.period_frames.is_some() {
            listeners.send(HostEvent::Note(
                "note: --latency-frames is ignored on JACK: the server sets the period".into(),
            ));
        }
        if clock.sample_rate != requested_rate {
            listeners.send(HostEvent::Note(format!(
                "note: the session asks for {requested_rate} Hz; running at the server's {} Hz",
                clock.sample_rate
            )));
        }
        loaded.session.sample_rate = clock.sample_rate;
        let options = EngineOptions {
            max_block_frames: Some(clock.period_frames.max(requested_block as usize)),
            // A live mixer plays on with a strip whose file is not there yet.
            silent_missing_files: true,
            ..config.engine.clone()
        };
        let (mut controller, engine) = create(&loaded, &options)
            .map_err(|e| HostError::Session(e.located(&loaded).to_string()))?;
        let latency = engine_latency(&engine, controller.session());
        let started = match driver.start(engine, controller.session()) {
            Ok(s) => s,
            // `auto` falls back to the null backend when the cpal device will not start.
            // Not with virtual devices: the null backend cannot make them.
            Err(e)
                if config.backend == BackendChoice::Auto
                    && kind == BackendKind::Cpal
                    && !has_virtual =>
            {
                why = Some(format!("auto: the cpal device did not start: {e}"));
                driver = Box::new(NullDriver::new(config.thread));
                let clock = driver
                    .connect(controller.session(), period, false)
                    .map_err(|e| backend_error(BackendKind::Null, e))?;
                let engine = controller
                    .respawn(clock.sample_rate, clock.period_frames)
                    .map_err(|e| HostError::Session(e.to_string()))?;
                driver
                    .start(engine, controller.session())
                    .map_err(|e| backend_error(BackendKind::Null, e))?
            }
            Err(e) => return Err(backend_error(kind, e)),
        };
        let backend = started.backend;
        let clock = backend.clock();
        listeners.send(HostEvent::BackendStarted {
            kind: backend.kind(),
            description: driver.describe(),
            why,
            clock,
        });
        if backend.kind() != BackendKind::Null && config.thread.cpu.is_some() {
            listeners.send(HostEvent::Note(
                "note: --cpu pins the null backend's own thread; JACK's and cpal's audio threads are the server's and cpal's".into(),
            ));
        }
        let mut host = Host {
            watch: (config.watch_session && loaded.path.is_file())
                .then(|| Watch::new(&loaded.path)),
            controller,
            driver,
            backend: None,
            retry: None,
            listeners,
            config,
            requested_rate,
            requested_block,
            clock,
            overload: OverloadWatch::new(),
            allocations_told: 0,
            syscalls_told: 0,
            missing_files: Vec::new(),
            memory: None,
            next_look: Instant::now(),
            started: Instant::now(),
            recording: recording::Recording::default(),
            sinks: sinks::SinkFiles::default(),
        };
        host.repair_interrupted_takes();
        host.repair_interrupted_sinks();
        host.backend = Some(backend);
        host.tell_start(&BroughtUp {
            clock,
            offline: started.offline,
            notes: started.notes,
            engine_latency: latency,
        });
        host.start_sinks();
        Ok(host)
    }

    /// A listener: every event from now on (the first listener also gets those of the
    /// start), in order.
    pub fn subscribe(&mut self) -> Receiver<HostEvent> {
        self.listeners.subscribe()
    }

    /// Events a listener missed because it had fallen a whole backlog behind.
    pub fn events_dropped(&self) -> u64 {
        self.listeners.dropped()
    }

    /// The one controller: the session as it runs, meters, engine counters, and every
    /// change. The same for the whole life of the host.
    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    /// See [`controller`](Self::controller).
    pub fn controller_mut(&mut self) -> &mut Controller {
        &mut self.controller
    }

    /// Which backend runs (or is being brought back).
    pub fn kind(&self) -> BackendKind {
        self.driver.kind()
    }

    /// The clock in force (the last one, while the backend is away).
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The backend's counters (none while it is away).
    pub fn backend_stats(&self) -> Option<BackendStats> {
        self.backend.as_ref().map(|b| b.stats())
    }

    /// The running backend's capture and playback latency, in frames.
    pub fn latency(&self) -> Option<troubadour_io::backend::Latency> {
        self.backend.as_ref().map(|b| b.latency())
    }

    /// How long the host has run.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Resident memory, as last read while the backend ran.
    pub fn memory(&self) -> Option<Resident> {
        self.memory
    }

    /// What the backend is doing.
    pub fn status(&self) -> HostStatus {
        match &self.retry {
            None => HostStatus::Running {
                kind: self.kind(),
                clock: self.clock,
            },
            Some((r, why)) => HostStatus::Reconnecting {
                kind: self.kind(),
                why: why.clone(),
                since: r.since.elapsed(),
                attempts: r.attempts,
                next_in: r.next_try.saturating_duration_since(Instant::now()),
            },
        }
    }

    /// The backend's part of a status line.
    pub fn status_line(&self) -> String {
        match (&self.backend, self.status()) {
            (Some(b), _) => b.stats().status(b.kind()),
            (
                None,
                HostStatus::Reconnecting {
                    why,
                    since,
                    attempts,
                    next_in,
                    ..
                },
            ) => format!(
                "{why} {:.0} s ago: {attempts} attempts to bring it back, next in {:.1} s",
                since.as_secs_f64(),
                next_in.as_secs_f64()
            ),
            (None, HostStatus::Running { .. }) => "not running".into(),
        }
    }

    /// One step of supervision (call it every few tens of milliseconds): frees what the
    /// audio thread handed back, notices a lost backend, a new rate or period and
    /// devices that came or went, brings a lost backend back when due, applies edits of
    /// the session file.
    pub fn tick(&mut self) {
        self.controller.collect_garbage();
        self.supervise();
        self.tick_recording();
        self.tick_sinks();
        if let Some((retry, _)) = &self.retry
            && retry.due()
        {
            self.try_again();
        }
        if let Some(change) = self.watch.as_mut().and_then(Watch::check) {
            // Told as an event either way.
            let _ = self.reload(change);
        }
    }

    fn supervise(&mut self) {
        let Some(backend) = self.backend.as_mut() else {
            return;
        };
        if let Health::Lost(why) = backend.health() {
            self.lose(why);
            return;
        }
        for change in backend.maintain(self.controller.session()) {
            self.listeners.send(match change {
                DeviceChange::Online(what) => HostEvent::DeviceOnline(what),
                DeviceChange::Offline(what) => HostEvent::DeviceOffline(what),
            });
        }
        let now = backend.clock();
        if now.sample_rate != 0 && now.sample_rate != self.clock.sample_rate {
            // The engine is built for one rate: a new one means a new engine.
            self.restart(
                format!(
                    "the server now runs at {} Hz: rebuilding the engine for it",
                    now.sample_rate
                ),
                "rebuilt for the server's new rate",
            );
            return;
        }
        if now.period_frames != 0 && now.period_frames != self.clock.period_frames {
            // The engine takes any frame count: nothing to rebuild, but the latency
            // changed, which the user should know.
            self.clock = now;
            self.listeners.send(HostEvent::PeriodChanged(now));
        }
        if Instant::now() >= self.next_look {
            self.next_look = Instant::now() + Duration::from_secs(1);
            self.look();
        }
    }

    /// After a graph was built: tells which strips' files were not there (they play
    /// silence), and remembers them to look for.
    fn note_missing_files(&mut self) {
        let now = self.controller.missing_files();
        for (strip, path) in &now {
            if !self.missing_files.iter().any(|(s, _)| s == strip) {
                self.listeners.send(HostEvent::DeviceOffline(format!(
                    "strip \"{strip}\": file {} not found; the strip is silent until it appears",
                    path.display()
                )));
            }
        }
        self.missing_files = now;
    }

    /// Once a second: a file a strip was waiting for that has appeared is read and
    /// played (the graph is built again, the rest carrying its state over).
    fn look_for_files(&mut self) {
        if self.missing_files.is_empty() || self.controller.graph_pending() {
            return;
        }
        let now = self.controller.missing_files();
        let appeared: Vec<(String, std::path::PathBuf)> = self
            .missing_files
            .iter()
            .filter(|(strip, _)| !now.iter().any(|(s, _)| s == strip))
            .cloned()
            .collect();
        if appeared.is_empty() {
            return;
        }
        match self.controller.rebuild() {
            Ok(()) => {
                for (strip, path) in appeared {
                    self.listeners.send(HostEvent::DeviceOnline(format!(
                        "strip \"{strip}\": file {} appeared and plays",
                        path.display()
                    )));
                }
                self.missing_files = now;
            }
            // Not readable yet (still being copied, say): tried again next time.
            Err(e) => self.listeners.send(HostEvent::Note(format!(
                "a file a strip waits for appeared but cannot be read yet ({e}); trying again"
            ))),
        }
    }

    /// Once a second: overload, allocations in callbacks, memory, files that appeared.
    fn look(&mut self) {
        self.look_for_files();
        let Some(stats) = self.backend_stats() else {
            return;
        };
        if let Some((load_percent, late)) = self.overload.look(&stats) {
            self.listeners
                .send(HostEvent::Overloaded { load_percent, late });
        }
        if stats.alloc_violations > self.allocations_told {
            self.listeners.send(HostEvent::AllocationsInCallback(
                stats.alloc_violations - self.allocations_told,
            ));
            self.allocations_told = stats.alloc_violations;
        }
        if stats.syscall_violations > self.syscalls_told {
            self.listeners.send(HostEvent::SyscallsInCallback(
                stats.syscall_violations - self.syscalls_told,
                troubadour_rt::syscall_guard::last_syscall(),
            ));
            self.syscalls_told = stats.syscall_violations;
        }
        self.memory = Resident::now().or(self.memory);
    }

    /// The backend went away: stop it, tell, and start bringing it back.
    fn lose(&mut self, why: String) {
        let summary = self.stop_backend();
        self.listeners.send(HostEvent::BackendLost {
            kind: self.kind(),
            why: why.clone(),
            summary,
        });
        self.retry = Some((Retry::new(self.config.reconnect), why));
    }

    /// Stops the backend (if it runs); returns its counters in words. From here until
    /// the next start, changes are kept in the session only (the controller is parked).
    fn stop_backend(&mut self) -> String {
        if self.backend.is_none() {
            return "not running".into();
        }
        // The last window's overload, allocations and memory, while it still runs.
        self.look();
        let backend = self.backend.take().expect("checked above");
        self.controller.park();
        let summary = backend.stats().summary(backend.kind());
        // The engine comes back (or is dropped inside): either way off the audio thread.
        drop(backend.stop());
        summary
    }

    fn try_again(&mut self) {
        if self.backend.is_some() {
            // Brought back another way meanwhile (a restart).
            self.retry = None;
            return;
        }
        match self.bring_up(true) {
            Ok(started) => {
                let (retry, _) = self.retry.take().expect("retrying");
                self.listeners.send(HostEvent::Reconnected {
                    kind: self.kind(),
                    attempts: retry.attempts + 1,
                    clock: started.clock,
                });
                self.tell_start(&started);
            }
            Err(e) => {
                if let BackendError::Refused(why) = e {
                    self.listeners.send(HostEvent::RetryFailed(why));
                }
                if let Some((retry, _)) = self.retry.as_mut() {
                    retry.failed();
                }
            }
        }
    }

    /// Starts the backend over now (`why`: the line that says so); on failure the
    /// reconnection loop takes over. While that loop runs, nothing is restarted: its
    /// next attempt starts with the session as it is then.
    fn restart(&mut self, why: String, done: &str) {
        if self.retry.is_some() {
            return;
        }
        drop(self.stop_backend());
        self.listeners.send(HostEvent::Restarting(why.clone()));
        match self.bring_up(false) {
            Ok(started) => {
                self.listeners.send(HostEvent::Restarted {
                    kind: self.kind(),
                    clock: started.clock,
                    line: done.to_string(),
                });
                self.tell_start(&started);
            }
            Err(e) => {
                self.listeners
                    .send(HostEvent::RetryFailed(format!("{e}; retrying")));
                self.retry = Some((Retry::new(self.config.reconnect), why));
            }
        }
    }

    /// Connects, spawns a new engine from the controller for the clock found, starts it.
    fn bring_up(&mut self, quiet: bool) -> Result<BroughtUp, BackendError> {
        let mut wanted = self.controller.session().clone();
        wanted.sample_rate = self.requested_rate;
        let period = self
            .config
            .period_frames
            .unwrap_or(self.requested_block as usize);
        let clock = self.driver.connect(&wanted, period, quiet)?;
        let engine = self
            .controller
            .respawn(clock.sample_rate, clock.period_frames)
            .map_err(|e| BackendError::Refused(e.to_string()))?;
        let engine_latency = engine_latency(&engine, self.controller.session());
        let started = self.driver.start(engine, self.controller.session())?;
        let clock = started.backend.clock();
        self.clock = clock;
        self.overload.reset();
        self.allocations_told = 0;
        self.syscalls_told = 0;
        self.backend = Some(started.backend);
        Ok(BroughtUp {
            clock,
            offline: started.offline,
            notes: started.notes,
            engine_latency,
        })
    }

    /// Tells what a start set up: strips and buses left offline, the start's notes, the
    /// latency, files not found.
    fn tell_start(&mut self, started: &BroughtUp) {
        for what in &started.offline {
            self.listeners.send(HostEvent::DeviceOffline(what.clone()));
        }
        for line in &started.notes {
            self.listeners.send(HostEvent::Note(line.clone()));
        }
        if let Some(backend) = &self.backend {
            let l = backend.latency();
            let rate = f64::from(backend.clock().sample_rate.max(1));
            let engine_latency = started.engine_latency;
            self.listeners.send(HostEvent::Note(format!(
                "latency: the engine adds {engine_latency} frames (limiter look-ahead); {} reports {} frames capture + {} playback; total {:.2} ms",
                backend.kind(),
                l.capture_frames,
                l.playback_frames,
                f64::from(l.capture_frames + l.playback_frames + engine_latency) * 1e3 / rate
            )));
        }
        self.missing_files.clear();
        self.note_missing_files();
    }

    /// Stops the backend and returns the closing line: what was counted, and what the
    /// process cost in memory while it ran.
    pub fn shutdown(mut self) -> String {
        self.stop_recording_at_exit();
        self.stop_sinks_at_exit();
        let elapsed = self.started.elapsed().as_secs_f64();
        let waiting = self
            .retry
            .as_ref()
            .map(|(r, why)| (r.since.elapsed().as_secs_f64(), why.clone()));
        let counted = self.stop_backend();
        let mut line = match waiting {
            Some((since, why)) => {
                format!("stopped after {elapsed:.1} s, waiting since {since:.1} s ({why})")
            }
            None => format!("stopped after {elapsed:.1} s: {counted}"),
        };
        let s = self.controller.stats();
        line.push_str(&format!("; {} non-finite samples caught", s.non_finite));
        if let Some(m) = self.memory {
            line.push_str(&format!("; {m}"));
        }
        line
    }
}

/// What a start brought up, to tell once the event that announces it has gone out.
struct BroughtUp {
    clock: Clock,
    offline: Vec<String>,
    notes: Vec<String>,
    engine_latency: u32,
}

/// Frames of delay the engine adds: the slowest bus's limiter look-ahead.
fn engine_latency(engine: &Engine, session: &Session) -> u32 {
    (0..session.buses.len())
        .map(|b| engine.bus_latency_frames(b))
        .max()
        .unwrap_or(0) as u32
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("kind", &self.kind())
            .field("clock", &self.clock)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

//! The control thread: owns the [`Host`], serves calls from every surface, numbers and
//! broadcasts changes, keeps undo history and scenes, saves.
//!
//! One thread does all of it, so every change is applied in one order: the order of
//! the sequence numbers every subscriber sees. Nothing here touches the audio thread
//! except through the controller's lock-free queues.

mod diff;
mod dispatch;
mod edit;
mod handle;
mod history;
mod json;
mod macros;
mod metrics;
mod midi;
mod player;
mod reader;
mod save;
mod scenes;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;
use troubadour_host::{Host, HostEvent};

use crate::api::ErrorCode;
use crate::event::{MeterSample, Outgoing};
pub(crate) use reader::{MeterReader, MeterSeat};

pub use handle::{
    Answer, CALL_BACKLOG, Call, CallKind, EVENT_BACKLOG, Handle, METER_BACKLOG, MeterSubscription,
};
pub use json::{json_to_toml, session_json};
pub use player::PLAYER_EVENT_INTERVAL;

use history::History;
use save::Saver;
use scenes::Fade;

/// How often, at most, the control thread reads the meters while anyone listens: as
/// often as the fastest subscription takes frames, up to this.
pub const METER_RATE_HZ: u32 = 100;

/// The control thread's step during a fade, and while meters are read at the fastest.
const BUSY_STEP: Duration = Duration::from_millis(1000 / METER_RATE_HZ as u64);

/// Its step at rest: the host's supervision needs no more (a request wakes the thread
/// at once whatever the step), and a daemon left on all day should cost nothing.
const IDLE_STEP: Duration = Duration::from_millis(50);

/// How the control thread works.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Write changes back to the session file. (Hand edits are merged with remote
    /// changes and applied either way.)
    pub autosave: bool,
    /// Quiet time after the last change before the file is written.
    pub autosave_delay: Duration,
    /// Changes that can be undone.
    pub undo_depth: usize,
    /// The session file's text as the running session was parsed from it: an edit
    /// made between that and the service's start is then seen and applied. (Read at
    /// the service's start if `None`.)
    pub loaded_text: Option<String>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            autosave: true,
            autosave_delay: Duration::from_secs(1),
            undo_depth: 100,
            loaded_text: None,
        }
    }
}

/// Counters of the control side, for `/metrics`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Counters {
    pub requests: u64,
    pub refused: std::collections::BTreeMap<&'static str, u64>,
    pub queue_full: u64,
    pub autosaves: u64,
    pub autosave_failures: u64,
    pub merges: u64,
    pub abandoned: u64,
}

/// The control thread's state. Create it with [`Service::new`], hand [`Handle`]s to the
/// surfaces, and drive it with [`Service::step`] or [`Service::run`].
pub struct Service {
    host: Host,
    calls: Receiver<Call>,
    handle: Handle,
    host_events: Receiver<HostEvent>,
    seq: u64,
    history: History,
    fade: Option<Fade>,
    saver: Option<Saver>,
    /// For whoever prints a status line, and for `/metrics`: peaks since their last look.
    status_meters: MeterSeat,
    metrics_meters: MeterSeat,
    /// What OSC leases and other [`Handle::meters`] subscribers get at each reading
    /// here: it holds the API server's readings since too.
    broadcast_meters: MeterSeat,
    next_meter_read: Instant,
    next_status: Instant,
    /// Highest DSP load since `/metrics` last looked (reading the backend resets it).
    load_max_since_scrape: f32,
    /// Frames of silence each strip's file player played because its reader was
    /// behind, since the service started (by strip name).
    player_underruns: std::collections::BTreeMap<String, u64>,
    load_max_since_status: f32,
    last_stats: Option<troubadour_io::backend::BackendStats>,
    counters: Counters,
    /// More `/metrics` text from surfaces that count on their own (OSC).
    metrics_sources: Vec<MetricsSource>,
    /// What the last `player` event of each strip said (by strip index).
    players_told: Vec<Option<player::Told>>,
}

/// Writes a surface's lines of Prometheus text (called on the control thread).
pub type MetricsSource = Box<dyn Fn(&mut String) + Send>;

impl Service {
    /// Takes over `host`, which must have been started with `watch_session` off when
    /// its session is a file: the service watches the file itself (saving or not), to
    /// merge hand edits with remote changes (see [`crate::file::merge`]) and tell them
    /// as changes like any other.
    pub fn new(mut host: Host, config: ServiceConfig) -> Service {
        let (calls_tx, calls) = sync_channel(CALL_BACKLOG);
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
        let (meters, _) = broadcast::channel(METER_BACKLOG);
        let meter_reader = MeterReader::new(host.controller().meter_tap().clone());
        let handle = Handle {
            meter_reader: Arc::clone(&meter_reader),
            calls: calls_tx,
            events,
            meters,
            meter_subscribers: Arc::default(),
            meter_rates: Arc::default(),
            spectrum: Arc::clone(host.controller().spectrum()),
        };
        let host_events = host.subscribe();
        let saver = Saver::new(
            host.controller().path(),
            config.loaded_text.clone(),
            config.autosave_delay,
            config.autosave,
        );
        let now = Instant::now();
        Service {
            host,
            calls,
            handle,
            host_events,
            seq: 0,
            history: History::new(config.undo_depth),
            fade: None,
            saver,
            status_meters: meter_reader.seat(),
            metrics_meters: meter_reader.seat(),
            broadcast_meters: meter_reader.seat(),
            next_meter_read: now,
            next_status: now + Duration::from_secs(1),
            load_max_since_scrape: 0.0,
            player_underruns: std::collections::BTreeMap::new(),
            load_max_since_status: 0.0,
            last_stats: None,
            counters: Counters::default(),
            metrics_sources: Vec::new(),
            players_told: Vec::new(),
        }
    }

    /// A handle for a surface.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Adds lines to `/metrics`: a surface's own counters (names prefixed
    /// `troubadour_`, in the Prometheus text format).
    pub fn add_metrics_source(&mut self, source: MetricsSource) {
        self.metrics_sources.push(source);
    }

    /// The host (status, clock, counters).
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The sequence number of the last change.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Whether the session file is written back on changes.
    pub fn autosaves(&self) -> bool {
        self.saver.as_ref().is_some_and(|s| s.writes())
    }

    /// Serves calls until `until`, then does one step of supervision: the host's tick,
    /// its events, meters, a scene's fade, the autosave.
    pub fn step(&mut self, until: Instant) {
        loop {
            let now = Instant::now();
            if now >= until {
                break;
            }
            match self.calls.recv_timeout(until - now) {
                Ok(call) => self.serve(call),
                Err(RecvTimeoutError::Timeout) => break,
                // Every handle is gone: nothing more will come; sleep out the step.
                Err(RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(until.saturating_duration_since(Instant::now()));
                    break;
                }
            }
        }
        self.tick();
    }

    /// Runs steps until `stop` is set, calling `each` after every step (a status line).
    pub fn run(&mut self, stop: &AtomicBool, mut each: impl FnMut(&mut Service)) {
        while !stop.load(Ordering::Relaxed) {
            let step = self.step_length();
            self.step(Instant::now() + step);
            each(self);
        }
    }

    /// The step to take now.
    pub fn step_length(&self) -> Duration {
        if self.fade.is_some() {
            BUSY_STEP
        } else {
            self.meter_step().unwrap_or(IDLE_STEP)
        }
    }

    /// The time between two meter readings while anyone listens: one reading per frame
    /// of the fastest subscription.
    fn meter_step(&self) -> Option<Duration> {
        if self.handle.meter_subscribers.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let fastest = self.handle.meter_rates.fastest();
        let rate = fastest.clamp(1.0, f64::from(METER_RATE_HZ));
        Some(Duration::from_secs_f64(1.0 / rate).max(BUSY_STEP))
    }

    fn serve(&mut self, call: Call) {
        // Its caller gave up (a timeout, a closed connection) and was told it failed:
        // applying it now would contradict what it was told.
        if call.reply.is_closed() {
            self.counters.abandoned += 1;
            return;
        }
        self.counters.requests += 1;
        let answer = match call.kind {
            CallKind::Metrics => Ok(Answer::Text(self.metrics_text())),
            CallKind::Api(request) => self.request(request, &call.origin).map(Answer::Reply),
        };
        if let Err(e) = &answer {
            *self.counters.refused.entry(e.code.as_str()).or_default() += 1;
            if e.code == ErrorCode::QueueFull {
                self.counters.queue_full += 1;
            }
            tracing::debug!(origin = %call.origin, code = %e.code, "refused: {}", e.message);
        }
        // The caller may have gone (a closed connection): nothing to do then.
        let _ = call.reply.send(answer);
    }

    fn tick(&mut self) {
        self.host.tick();
        self.host_events();
        self.step_fade();
        let now = Instant::now();
        if now >= self.next_meter_read {
            self.read_meters();
            self.next_meter_read = now + self.meter_step().unwrap_or(Duration::from_millis(100));
        }
        if now >= self.next_status {
            self.next_status = now + Duration::from_secs(1);
            self.status_tick();
        }
        self.player_tick();
        self.save_tick();
    }

    /// Host events, re-told to `status` subscribers.
    fn host_events(&mut self) {
        while let Ok(event) = self.host_events.try_recv() {
            tracing::info!(target: "troubadour::host", "{event}");
            let kind = diff::host_event_kind(&event);
            let outgoing = Outgoing::status(serde_json::json!({
                "event": kind,
                "message": event.to_string(),
            }));
            let _ = self.handle.events.send(Arc::new(outgoing));
        }
    }

    fn read_meters(&mut self) {
        let reader = &self.handle.meter_reader;
        reader.read();
        for (name, frames) in reader.take_underruns() {
            // The disk (or the machine) could not keep the file player's ring full.
            tracing::warn!(
                target: "troubadour::player",
                "strip {name:?}: its file player ran dry and played {frames} frames of silence"
            );
            let outgoing = Outgoing::status(serde_json::json!({
                "event": "player_underrun",
                "strip": name,
                "frames": frames,
            }));
            let _ = self.handle.events.send(Arc::new(outgoing));
            *self.player_underruns.entry(name).or_default() += frames;
        }
        // Taken even with nobody listening, so a subscriber's first frame is fresh.
        let frame = self.broadcast_meters.take();
        if self.handle.meter_subscribers.load(Ordering::Relaxed) > 0
            && let Some(frame) = frame
        {
            let _ = self.handle.meters.send(Arc::new(frame));
        }
    }

    /// The peaks since the last call (for a status line), if any reading was taken.
    pub fn take_status_meters(&mut self) -> Option<MeterSample> {
        self.status_meters.take()
    }

    /// The backend's part of a status line, from its counters as last read (once a
    /// second) with the highest load since the previous call: the service is the one
    /// reader of the backend's counters, whose reading resets the peak load.
    pub fn status_line(&mut self) -> String {
        match (&self.last_stats, self.host.status()) {
            (Some(stats), troubadour_host::HostStatus::Running { kind, .. }) => {
                let mut stats = stats.clone();
                stats.load_max = stats.load_max.max(self.load_max_since_status);
                self.load_max_since_status = 0.0;
                stats.status(kind)
            }
            _ => self.host.status_line(),
        }
    }

    fn read_backend_stats(&mut self) {
        self.last_stats = self.host.backend_stats();
        if let Some(s) = &self.last_stats {
            self.load_max_since_scrape = self.load_max_since_scrape.max(s.load_max);
            self.load_max_since_status = self.load_max_since_status.max(s.load_max);
        }
    }

    fn status_tick(&mut self) {
        self.read_backend_stats();
        let status = self.status_json();
        let mut object = serde_json::json!({"event": "status"});
        if let (Some(o), serde_json::Value::Object(s)) = (object.as_object_mut(), status) {
            o.extend(s);
        }
        let _ = self.handle.events.send(Arc::new(Outgoing::status(object)));
    }

    /// Writes what is unsaved, stops the backend and returns the closing line.
    pub fn shutdown(mut self) -> String {
        self.flush_save();
        self.host.shutdown()
    }
}

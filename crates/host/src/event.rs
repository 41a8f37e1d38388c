//! What the host tells its listeners: typed events, each with the line a person reads.

use std::fmt;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use troubadour_io::backend::{BackendKind, Clock};

/// Something that happened to the running mixer.
#[derive(Debug, Clone, PartialEq)]
pub enum HostEvent {
    /// A backend started (at the start of the process).
    BackendStarted {
        /// Which backend.
        kind: BackendKind,
        /// What it runs on, in words.
        description: String,
        /// Why this backend (what `auto` found), if it was chosen.
        why: Option<String>,
        /// The clock in force.
        clock: Clock,
    },
    /// Something the start or a restart set up, in words (audio thread, bridges,
    /// latency, memory locking, the rate in force).
    Note(String),
    /// A strip's or bus's device is gone or did not open: silent or unheard.
    DeviceOffline(String),
    /// A strip's or bus's device is connected or open again.
    DeviceOnline(String),
    /// The backend stopped running: its server or clock device went away. The mixer
    /// keeps its session and tries again with backoff.
    BackendLost {
        /// Which backend.
        kind: BackendKind,
        /// What happened.
        why: String,
        /// The lost connection's counters, in words.
        summary: String,
    },
    /// The backend runs again after being lost.
    Reconnected {
        /// Which backend.
        kind: BackendKind,
        /// Attempts it took.
        attempts: u32,
        /// The clock in force now.
        clock: Clock,
    },
    /// An attempt to start the backend again failed for a reason worth telling (a
    /// server that answers but refuses); silent retries while nothing answers are not
    /// reported.
    RetryFailed(String),
    /// The server's period changed; nothing needed rebuilding.
    PeriodChanged(Clock),
    /// The backend is started over (why, and what it means, in words).
    Restarting(String),
    /// A restart succeeded.
    Restarted {
        /// Which backend.
        kind: BackendKind,
        /// The clock in force now.
        clock: Clock,
        /// What was done, in words.
        line: String,
    },
    /// An edit of the session file was applied.
    ReloadApplied {
        /// The session file.
        path: PathBuf,
        /// What changed, in words.
        outcome: String,
    },
    /// An edit of the session file was refused; the running session is unchanged.
    ReloadRejected {
        /// The session file.
        path: PathBuf,
        /// Every problem, located.
        error: String,
    },
    /// The session file was deleted or cannot be read; the mixer keeps running.
    SessionFileGone(PathBuf),
    /// The DSP load stays too high, or callbacks keep running late.
    Overloaded {
        /// The load over the last second, % of the period.
        load_percent: f64,
        /// Engine-caused late callbacks over the last second.
        late: u64,
    },
    /// Allocations were made inside audio callbacks (a defect, never expected).
    AllocationsInCallback(u64),
    /// System calls were made inside audio callbacks (a defect, never expected): how
    /// many, and the number of the last one.
    SyscallsInCallback(u64, Option<i64>),
    /// The recorder started, paused, resumed or stopped a take.
    RecorderChanged {
        /// `recording`, `paused` or `idle`.
        state: &'static str,
        /// The take's folder.
        take: PathBuf,
    },
    /// A track of the take lost frames (the disk fell behind): silence stands in for
    /// them, the tracks stay aligned.
    RecorderFramesLost {
        /// The track (`strip/Host`).
        track: String,
        /// Frames it has lost in this take so far.
        frames: u64,
    },
    /// A take ended on its own (the disk failed or filled, or the engine restarted);
    /// its files keep what was written.
    RecorderStopped {
        /// The take's folder.
        take: PathBuf,
        /// Why.
        why: String,
    },
    /// Takes a crash had interrupted were repaired (their files' sizes fixed).
    TakesRepaired {
        /// The takes repaired.
        takes: Vec<PathBuf>,
        /// Takes that could not be, and why.
        failed: Vec<String>,
    },
    /// A bus's `sink = { file = … }` records to `file` from now on.
    SinkRecording {
        /// The bus.
        bus: String,
        /// The file written: the sink's path, or a suffixed one beside it when that
        /// path was taken (never overwritten).
        file: PathBuf,
        /// The path the sink names.
        asked: PathBuf,
    },
    /// A bus's file recording ended: cleanly (`why` is `None`; the run ended or the
    /// session changed) or on its own (the disk failed or filled, the engine restarted).
    SinkFinished {
        /// The bus.
        bus: String,
        /// The file.
        file: PathBuf,
        /// Frames the file holds.
        frames: u64,
        /// Frames the engine processed while it recorded (equal but for the callback
        /// the start and the stop each fall in).
        engine_frames: u64,
        /// Frames lost because the disk fell behind (silence stands in for them).
        lost_frames: u64,
        /// Why it ended on its own.
        why: Option<String>,
    },
    /// Files a killed run left half-written in its buses' file sinks were repaired.
    SinksRepaired {
        /// The files repaired.
        files: Vec<PathBuf>,
        /// Files that could not be, and why.
        failed: Vec<String>,
    },
}

impl fmt::Display for HostEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostEvent::BackendStarted {
                kind,
                description,
                why,
                ..
            } => match why {
                Some(why) => write!(f, "backend: {kind} ({description}; {why})"),
                None => write!(f, "backend: {kind} ({description})"),
            },
            HostEvent::Note(line) => f.write_str(line),
            HostEvent::DeviceOffline(what) => write!(f, "offline: {what}"),
            HostEvent::DeviceOnline(what) => write!(f, "online: {what}"),
            HostEvent::BackendLost { kind, why, summary } => {
                let how = match kind {
                    BackendKind::Jack => "reconnects when a server answers",
                    BackendKind::Cpal => "reopens the device when it returns",
                    BackendKind::Null => "starts its clock again",
                    BackendKind::Pipewire => "reconnects when a PipeWire server answers",
                };
                write!(
                    f,
                    "{why}; the mixer keeps its session and {how}\nthe lost connection: {summary}"
                )
            }
            HostEvent::Reconnected {
                kind,
                attempts,
                clock,
            } => match kind {
                BackendKind::Jack => write!(
                    f,
                    "reconnected to the JACK server after {attempts} attempts ({} Hz, period {} frames): ports and connections restored",
                    clock.sample_rate, clock.period_frames
                ),
                BackendKind::Cpal => {
                    write!(f, "reopened the output device after {attempts} attempts")
                }
                BackendKind::Null => write!(f, "the null backend runs again"),
                BackendKind::Pipewire => write!(
                    f,
                    "reconnected to the PipeWire server after {attempts} attempts ({} Hz, quantum {} frames): filter node, virtual devices and links restored",
                    clock.sample_rate, clock.period_frames
                ),
            },
            HostEvent::RetryFailed(why) => write!(f, "starting the backend again failed: {why}"),
            HostEvent::PeriodChanged(clock) => write!(
                f,
                "the server's period is now {} frames ({:.2} ms)",
                clock.period_frames,
                clock.period_ms()
            ),
            HostEvent::Restarting(line) => f.write_str(line),
            HostEvent::Restarted { line, .. } => f.write_str(line),
            HostEvent::ReloadApplied { path, outcome } => {
                write!(f, "reloaded {}: {outcome}", path.display())
            }
            HostEvent::ReloadRejected { path, error } => write!(
                f,
                "reload rejected, the running session is unchanged ({}):\n{error}",
                path.display()
            ),
            HostEvent::SessionFileGone(path) => write!(
                f,
                "the session file {} is gone or unreadable; the mixer keeps running the session it has (and picks the file up again when it returns)",
                path.display()
            ),
            HostEvent::Overloaded { load_percent, late } => write!(
                f,
                "warning: the DSP load is {load_percent:.0}% of the period ({late} late callbacks in the last second): this machine cannot keep up with the session; use fewer strips or processors, or a larger period (--latency-frames, or the JACK server's -p)"
            ),
            HostEvent::AllocationsInCallback(n) => write!(
                f,
                "warning: {n} allocations were made inside audio callbacks (a defect of Troubadour: please report it)"
            ),
            HostEvent::SyscallsInCallback(n, last) => {
                write!(
                    f,
                    "warning: {n} system calls were made inside audio callbacks"
                )?;
                match last.map(|nr| (nr, troubadour_rt::syscall_guard::syscall_name(nr))) {
                    Some((_, Some("clock_gettime" | "gettimeofday"))) => {
                        return write!(
                            f,
                            ": reading the clock is a system call on this machine (its clock source has no vDSO support: see /sys/devices/system/clocksource/clocksource0/current_clocksource; tsc or kvm-clock avoid it)"
                        );
                    }
                    Some((_, Some(name))) => write!(f, " (the last one: {name})")?,
                    Some((nr, None)) => write!(f, " (the last one: number {nr})")?,
                    None => {}
                }
                write!(f, " (a defect of Troubadour: please report it)")
            }
            HostEvent::RecorderChanged { state, take } => {
                write!(f, "recorder: {state} ({})", take.display())
            }
            HostEvent::RecorderFramesLost { track, frames } => write!(
                f,
                "warning: recorder track {track} has lost {frames} frames (the disk fell behind; silence stands in for them)"
            ),
            HostEvent::RecorderStopped { take, why } => {
                write!(f, "recorder: the take {} stopped: {why}", take.display())
            }
            HostEvent::TakesRepaired { takes, failed } => {
                for t in takes {
                    writeln!(f, "recorder: repaired the interrupted take {}", t.display())?;
                }
                for e in failed {
                    writeln!(f, "warning: recorder: could not repair {e}")?;
                }
                write!(f, "recorder: {} interrupted take(s) repaired", takes.len())
            }
            HostEvent::SinkRecording { bus, file, asked } if file == asked => {
                write!(f, "bus {bus}: recording to {}", file.display())
            }
            HostEvent::SinkRecording { bus, file, asked } => write!(
                f,
                "bus {bus}: recording to {} ({} exists already and is kept)",
                file.display(),
                asked.display()
            ),
            HostEvent::SinkFinished {
                bus,
                file,
                frames,
                engine_frames,
                lost_frames,
                why,
            } => {
                match why {
                    None => write!(f, "bus {bus}: recorded ")?,
                    Some(why) => write!(f, "warning: bus {bus}: recording stopped ({why}) after ")?,
                }
                write!(
                    f,
                    "{frames} frames to {} (the engine ran {engine_frames} frames meanwhile; {lost_frames} lost)",
                    file.display()
                )
            }
            HostEvent::SinksRepaired { files, failed } => {
                for p in files {
                    writeln!(
                        f,
                        "repaired {}, which a killed run left half-written",
                        p.display()
                    )?;
                }
                for e in failed {
                    writeln!(f, "warning: could not repair the bus file {e}")?;
                }
                write!(f, "{} bus file(s) repaired", files.len())
            }
        }
    }
}

/// How many events a listener may have waiting before new ones are dropped for it.
pub const LISTENER_BACKLOG: usize = 1024;

/// The host's listeners: every event goes to each, in order, without ever blocking
/// the host (a listener that falls a whole backlog behind misses events, counted).
#[derive(Debug)]
pub(crate) struct Listeners {
    senders: Vec<SyncSender<HostEvent>>,
    /// Events from before the first listener subscribed (the start's), for it.
    backlog: Option<Vec<HostEvent>>,
    dropped: u64,
}

impl Default for Listeners {
    fn default() -> Self {
        Listeners {
            senders: Vec::new(),
            backlog: Some(Vec::new()),
            dropped: 0,
        }
    }
}

impl Listeners {
    pub(crate) fn subscribe(&mut self) -> Receiver<HostEvent> {
        let (tx, rx) = sync_channel(LISTENER_BACKLOG);
        for event in self.backlog.take().into_iter().flatten() {
            if tx.try_send(event).is_err() {
                self.dropped += 1;
            }
        }
        self.senders.push(tx);
        rx
    }

    pub(crate) fn send(&mut self, event: HostEvent) {
        if let Some(backlog) = self.backlog.as_mut() {
            if backlog.len() < LISTENER_BACKLOG {
                backlog.push(event);
            } else {
                self.dropped += 1;
            }
            return;
        }
        let mut dropped = 0;
        self.senders.retain(|tx| match tx.try_send(event.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                dropped += 1;
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        });
        self.dropped += dropped;
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

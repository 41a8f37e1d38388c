//! One interface for every live backend (JACK, cpal, null), so that whoever supervises
//! the mixer (`troubadour-host`) never cares which one runs.
//!
//! Starting takes two steps because the engine must be built for the clock it will run
//! on, and only the backend knows that clock: a [`Driver`] first *connects* (to a JACK
//! server, to a device, or to nothing) and says the rate and period in force; the caller
//! builds an `Engine` for them; then the driver *starts* it, which hands back a running
//! [`Backend`]. A driver outlives its backends: reconnecting after a loss is the same two
//! steps again.

use std::fmt;

use troubadour_engine::Engine;
use troubadour_engine::session::{Session, Sink, Source, virtual_node_name};

/// The limits of the backends' fixed, pre-allocated arrays, named once.
pub mod limits {
    /// Most channels on each side of one callback (stack arrays of slices in the JACK and
    /// cpal callbacks; JACK ports per side).
    pub const MAX_PORTS: usize = 256;
    /// Most frames one engine call handles inside a cpal callback; longer device buffers
    /// are processed in pieces of this size.
    pub const MAX_FRAMES: usize = 4096;
    /// Channels the null backend allocates on each side up front; a graph swapped in
    /// later with more has the surplus read as silence / not delivered (the engine still
    /// processes and meters them).
    pub const NULL_CHANNELS: usize = 128;
}

/// Buckets of the DSP-load histogram: 0–10 %, 10–20 %, ..., 90–100 %, over 100 %.
pub const LOAD_BUCKETS: usize = 11;

/// Which backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// The engine inside a JACK server's process callback.
    Jack,
    /// An audio device through cpal drives the engine; other devices are bridged.
    Cpal,
    /// A deadline-paced clock thread of our own, without audio hardware.
    Null,
    /// The engine inside one PipeWire filter node's process callback.
    Pipewire,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Jack => "jack",
            BackendKind::Cpal => "cpal",
            BackendKind::Null => "null",
            BackendKind::Pipewire => "pipewire",
        })
    }
}

/// The clock a backend runs at: what the engine must be built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Frames per second.
    pub sample_rate: u32,
    /// Frames per callback (the latest callback's, where it varies).
    pub period_frames: usize,
}

impl Clock {
    /// The period in milliseconds.
    pub fn period_ms(&self) -> f64 {
        self.period_frames as f64 * 1e3 / f64::from(self.sample_rate.max(1))
    }
}

/// Latency outside the engine, in frames, as the backend knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latency {
    /// From the furthest upstream capture to our inputs.
    pub capture_frames: u32,
    /// From our outputs to the furthest downstream playback.
    pub playback_frames: u32,
}

/// Whether a running backend still runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Processing.
    Running,
    /// The server or the clock device went away (why); the backend processes nothing
    /// more and should be stopped and started again once it returns.
    Lost(String),
}

/// A device of a running backend that came or went (JACK peers whose ports appeared,
/// bridged cpal devices unplugged or back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceChange {
    /// Connected or opened (what, in words).
    Online(String),
    /// Gone; its strip is silent or its bus unheard until it returns.
    Offline(String),
}

/// One clock bridge's counters (cpal devices other than the clock master).
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeStats {
    /// The strip's (device input) or bus's (device output) name.
    pub name: String,
    /// A device input (the device pushes, the master pulls) rather than an output.
    pub input: bool,
    /// The device's name.
    pub device: String,
    /// The device is open.
    pub online: bool,
    /// Pulls that found the ring short (after it had filled once).
    pub underruns: u64,
    /// Pushes that found the ring full.
    pub overruns: u64,
    /// The ring's fill target in engine frames now (underruns raise it).
    pub target_frames: usize,
    /// The bridge's latency in engine frames at the start (target plus resampler delay).
    pub latency_frames: f64,
}

/// A reading of a backend's counters: one type for every backend.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BackendStats {
    /// Callbacks run.
    pub callbacks: u64,
    /// Xruns the server or device reported; on the null backend, wake-ups more than a
    /// period past their deadline (where a device would have run dry).
    pub xruns: u64,
    /// Callbacks that took longer than their period and used that much CPU time: the
    /// engine's own cost (see [`crate::accounting`]).
    pub late: u64,
    /// Callbacks that took longer than their period by the wall clock while their
    /// thread was not running for most of it (preempted, or the machine stalled).
    pub late_stalled: u64,
    /// Allocations or frees made inside a callback (the guarded allocator counts them;
    /// 0 is the rule, anything else a defect).
    pub alloc_violations: u64,
    /// System calls made inside a callback (caught by `troubadour_rt::syscall_guard`
    /// where the kernel supports it; 0 is the rule, anything else a defect).
    pub syscall_violations: u64,
    /// Cycles longer than the callback computes in one go (PipeWire's graph can run a
    /// quantum past the filter's bound): computed up to the bound, the rest silenced.
    pub short_cycles: u64,
    /// Callback time over period for the last callback.
    pub load_last: f32,
    /// Highest load since the previous reading.
    pub load_max: f32,
    /// Callback time over period time since the start.
    pub load_mean: f64,
    /// Callback time and period time since the start, in ns (to work out the load over
    /// any window from two readings).
    pub busy_ns: u64,
    /// See [`busy_ns`](Self::busy_ns).
    pub period_ns: u64,
    /// Callbacks per load bucket (see [`LOAD_BUCKETS`]).
    pub histogram: [u64; LOAD_BUCKETS],
    /// The clock bridges, if any.
    pub bridges: Vec<BridgeStats>,
}

impl BackendStats {
    /// Bridge underruns, all bridges together.
    pub fn bridge_underruns(&self) -> u64 {
        self.bridges.iter().map(|b| b.underruns).sum()
    }

    /// Bridge overruns, all bridges together.
    pub fn bridge_overruns(&self) -> u64 {
        self.bridges.iter().map(|b| b.overruns).sum()
    }

    /// The counters in one status-line fragment: load now and at its peak, xruns,
    /// late callbacks.
    pub fn status(&self, kind: BackendKind) -> String {
        format!(
            "load {:.2}% (max {:.2}%) | {} {} | late {} (+{} stalled)",
            self.load_last * 100.0,
            self.load_max * 100.0,
            if kind == BackendKind::Null {
                "late wake-ups"
            } else {
                "xruns"
            },
            self.xruns,
            self.late,
            self.late_stalled
        )
    }

    /// Everything counted, for a closing line: callbacks, xruns, late callbacks, mean
    /// load and its histogram, allocations in callbacks, each bridge's counts.
    pub fn summary(&self, kind: BackendKind) -> String {
        let histogram: Vec<String> = self
            .histogram
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| {
                if i == LOAD_BUCKETS - 1 {
                    format!(">100%: {n}")
                } else {
                    format!("{}-{}%: {n}", i * 10, i * 10 + 10)
                }
            })
            .collect();
        let xruns = match kind {
            BackendKind::Jack => "xruns (server)",
            BackendKind::Pipewire => "xruns (graph: skipped cycles)",
            BackendKind::Cpal => "xruns (device)",
            BackendKind::Null => "late wake-ups",
        };
        let mut line = format!(
            "{} callbacks, {} {xruns}, {} late callbacks (engine; {} more while the thread was stalled), {} allocations in callbacks, {} system calls in callbacks, mean DSP load {:.3}%, load histogram [{}]",
            self.callbacks,
            self.xruns,
            self.late,
            self.late_stalled,
            self.alloc_violations,
            self.syscall_violations,
            self.load_mean * 100.0,
            histogram.join(", ")
        );
        for b in &self.bridges {
            line.push_str(&format!(
                "; {} \"{}\" on \"{}\": {} underruns, {} overruns, ring target {} frames",
                if b.input { "strip" } else { "bus" },
                b.name,
                b.device,
                b.underruns,
                b.overruns,
                b.target_frames
            ));
        }
        line
    }
}

/// What a backend wires up when it starts and cannot rewire while it runs: every bus
/// (name, channels, sink) and every strip with a device source (name, channels, device),
/// in order. Two sessions with the same wiring run on the same backend; otherwise the
/// backend must start over (ports, streams and channel offsets are fixed at start).
pub fn wiring(session: &Session) -> Vec<(&str, u16, String)> {
    let buses = session.buses.iter().map(|b| {
        let sink = match &b.sink {
            Some(Sink::Device(spec)) => format!("device {spec}"),
            _ => String::new(),
        };
        (b.name.as_str(), b.channels, sink)
    });
    let strips = session.strips.iter().filter_map(|s| match &s.source {
        Source::Device(spec) => Some((s.name.as_str(), s.channels, format!("input {spec}"))),
        _ => None,
    });
    buses.chain(strips).collect()
}

/// A virtual device the session asks for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VirtualDevice {
    /// The name the user gave (its description).
    pub name: String,
    /// `troubadour.` + the name, lower case.
    pub node_name: String,
    /// `Audio/Sink` (a strip's: apps play into it) or `Audio/Source/Virtual` (a bus's:
    /// apps record from it).
    pub media_class: &'static str,
    /// Channels.
    pub channels: u16,
    /// The strip or bus it belongs to.
    pub owner: String,
    /// The system's default output (a strip's) or input (a bus's) while the mixer runs.
    pub default: bool,
    /// Left on the server at exit and reused at the next start.
    pub persist: bool,
    /// For an `app` strip: the pattern whose applications' streams are moved onto it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
}

/// The virtual devices of a session, strips' first (made by the PipeWire backend;
/// listed by `troubadour devices`).
pub fn virtual_devices(session: &Session) -> Vec<VirtualDevice> {
    let strips = session.strips.iter().filter_map(|s| match &s.source {
        Source::Virtual(v) => Some(VirtualDevice {
            name: v.name.clone(),
            node_name: virtual_node_name(&v.name),
            media_class: "Audio/Sink",
            channels: s.channels,
            owner: format!("strip \"{}\"", s.name),
            default: v.default,
            persist: v.persist,
            app: None,
        }),
        // An app strip's device is named after the strip.
        Source::App(pattern) => Some(VirtualDevice {
            name: s.name.clone(),
            node_name: virtual_node_name(&s.name),
            media_class: "Audio/Sink",
            channels: s.channels,
            owner: format!("strip \"{}\"", s.name),
            default: false,
            persist: false,
            app: Some(pattern.clone()),
        }),
        _ => None,
    });
    let buses = session.buses.iter().filter_map(|b| match &b.sink {
        Some(Sink::Virtual {
            name,
            default,
            persist,
        }) => Some(VirtualDevice {
            name: name.clone(),
            node_name: virtual_node_name(name),
            media_class: "Audio/Source/Virtual",
            channels: b.channels,
            owner: format!("bus \"{}\"", b.name),
            default: *default,
            persist: *persist,
            app: None,
        }),
        _ => None,
    });
    strips.chain(buses).collect()
}

/// Why a backend could not connect or start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// Nothing to run on: no server answers, no such device (why, in words).
    #[error("{0}")]
    Unavailable(String),
    /// The server or device refused something.
    #[error("{0}")]
    Refused(String),
}

/// A backend that started: the running backend, and lines to tell the user (what was
/// left offline, what the system granted the audio thread).
pub struct Started {
    /// The running backend.
    pub backend: Box<dyn Backend>,
    /// Strips and buses left offline at the start (their device did not open or match).
    pub offline: Vec<String>,
    /// What the start set up and how (audio thread, bridges, latency), in words.
    pub notes: Vec<String>,
}

/// Opens one kind of backend, as often as it needs to (first start, reconnections,
/// restarts at a new rate or period). Control side.
pub trait Driver {
    /// Which backend this driver starts.
    fn kind(&self) -> BackendKind;

    /// Connects (to a server, a device, or nothing) and returns the clock the engine
    /// must be built for. `period_frames` is the period asked for, which a server may
    /// overrule. `quiet`: a retry while a server is away (no messages on stderr).
    fn connect(
        &mut self,
        session: &Session,
        period_frames: usize,
        quiet: bool,
    ) -> Result<Clock, BackendError>;

    /// Starts processing with `engine`, built for the clock [`connect`](Self::connect)
    /// returned. A failed start leaves the driver ready to connect again.
    fn start(&mut self, engine: Engine, session: &Session) -> Result<Started, BackendError>;

    /// How the driver describes what it connected to, for the line that says which
    /// backend runs (`client "troubadour" on a server at 48000 Hz`).
    fn describe(&self) -> String;
}

/// A running backend. Control side: each method is called from the supervising thread;
/// the audio thread lives inside.
pub trait Backend {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;

    /// The rate and period in force now (a JACK server may change its period).
    fn clock(&self) -> Clock;

    /// Latency outside the engine.
    fn latency(&self) -> Latency;

    /// Every counter; reading resets the peak load.
    fn stats(&self) -> BackendStats;

    /// Whether it still runs.
    fn health(&self) -> Health;

    /// Periodic upkeep (call it every few tens of milliseconds; it acts about once a
    /// second): connects peers that appeared, takes devices that went away offline and
    /// reopens those that came back. Returns what changed.
    fn maintain(&mut self, session: &Session) -> Vec<DeviceChange>;

    /// Whether running `new` instead of `old` needs the backend started over (JACK ports
    /// are registered once per client: other ports need another client).
    fn needs_restart(&self, old: &Session, new: &Session) -> bool {
        let _ = (old, new);
        false
    }

    /// Stops processing; hands the engine back where it can (to be dropped off the
    /// audio thread either way).
    fn stop(self: Box<Self>) -> Option<Engine>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wiring_changes_with_devices_and_channels_not_with_parameters() {
        let base = Session::default_session();
        let mut faded = base.clone();
        faded.strips[0].fader_db = -10.0;
        faded.buses[0].fader_db = -3.0;
        assert_eq!(wiring(&base), wiring(&faded));
        let mut resunk = base.clone();
        resunk.buses[1].sink = Some(Sink::Device("usb".into()));
        assert_ne!(wiring(&base), wiring(&resunk));
        let mut rechanneled = base.clone();
        rechanneled.buses[0].channels = 1;
        assert_ne!(wiring(&base), wiring(&rechanneled));
        let mut input = base.clone();
        input.strips[0].source = Source::Device("system:capture_1".into());
        let mut other_input = input.clone();
        assert_ne!(wiring(&base), wiring(&input));
        other_input.strips[0].source = Source::Device("system:capture_2".into());
        assert_ne!(wiring(&input), wiring(&other_input));
    }
}

//! The JACK backend: one client, `Engine::process` inside JACK's process callback.
//!
//! Every device-source strip gets one input port per channel (`Mic_in`, or `Mic_in_L` /
//! `Mic_in_R`, or `Mic_in_1..N`), every bus one output port per channel (`A1_out`,
//! `A1_out_L` / `A1_out_R`, ...). The session's device sources and sinks name the ports
//! to connect: exact port names, or JACK's regular expressions, separated by commas. A
//! source or sink that matches nothing leaves its strip or bus unconnected ("offline"),
//! says so, and everything else runs.
//!
//! The engine runs in the server's own cycle, so it adds no latency (beyond a bus
//! limiter's look-ahead). The callback measures its own duration: a callback that took
//! longer than its period is counted as late, apart from the xruns the server reports,
//! and a watcher thread tells engine-caused lateness from stalls by the process thread's
//! CPU time (see [`crate::accounting`]).
//!
//! Real-time rules in the callback: port buffers are gathered into fixed arrays on the
//! stack (no allocation), statistics are atomics, and the only call outside our code is
//! reading the monotonic clock (vDSO `clock_gettime`, no system call on Linux/x86-64).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use jack::{
    AudioIn, AudioOut, Client, ClientOptions, ClientStatus, Control, Frames, LatencyType, MidiIn,
    MidiOut, NotificationHandler, Port, PortFlags, ProcessHandler, ProcessScope, RawMidi,
};
use troubadour_engine::Engine;
use troubadour_engine::session::{Session, Sink, Source};

use crate::accounting::{CallbackStats, Watcher};
use crate::backend::limits::MAX_PORTS;
use crate::backend::{
    Backend, BackendError, BackendKind, BackendStats, Clock, DeviceChange, Driver, Health, Latency,
    Started,
};
use crate::midi::{AUDIO_CLIENT_PORTS, MidiHub, MidiPump};

/// Why the JACK backend could not start.
#[derive(Debug, thiserror::Error)]
pub enum JackError {
    /// No server answered (why, in words).
    #[error("{0}")]
    NoServer(String),
    /// The server refused something.
    #[error("JACK: {0}")]
    Jack(String),
    /// More channels than the callback's fixed arrays hold.
    #[error("{0} ports on one side; the JACK backend handles up to {MAX_PORTS}")]
    TooManyPorts(usize),
}

/// The short port names of a session: (inputs in engine order, outputs in engine
/// order). Inputs are the device-source strips' channels, outputs every bus channel.
pub fn port_names(session: &Session) -> (Vec<String>, Vec<String>) {
    fn names(base: &str, dir: &str, channels: u16) -> Vec<String> {
        // JACK's full names are client:port, so no colon in a short name.
        let base = base.replace(':', "_");
        match channels {
            1 => vec![format!("{base}_{dir}")],
            2 => vec![format!("{base}_{dir}_L"), format!("{base}_{dir}_R")],
            n => (1..=n).map(|k| format!("{base}_{dir}_{k}")).collect(),
        }
    }
    let inputs = session
        .strips
        .iter()
        .filter(|s| matches!(s.source, Source::Device(_)))
        .flat_map(|s| names(&s.name, "in", s.channels))
        .collect();
    let outputs = session
        .buses
        .iter()
        .flat_map(|b| names(&b.name, "out", b.channels))
        .collect();
    (inputs, outputs)
}

struct Process {
    engine: Engine,
    inputs: Vec<Port<AudioIn>>,
    outputs: Vec<Port<AudioOut>>,
    /// The MIDI thread's ports, when they ride on this client (see [`MidiHub`]).
    midi: Option<MidiPorts>,
    stats: Arc<CallbackStats>,
    /// Nanoseconds per frame at the server's rate.
    ns_per_frame: f64,
}

struct MidiPorts {
    pump: MidiPump,
    input: Port<MidiIn>,
    output: Port<MidiOut>,
}

impl ProcessHandler for Process {
    fn process(&mut self, _: &Client, ps: &ProcessScope) -> Control {
        let start = Instant::now();
        let frames = ps.n_frames() as usize;
        let Process {
            engine,
            inputs,
            outputs,
            stats,
            midi,
            ..
        } = self;
        stats.guarded(|| {
            let empty: &[f32] = &[];
            let mut ins = [empty; MAX_PORTS];
            for (slot, port) in ins.iter_mut().zip(inputs.iter()) {
                *slot = port.as_slice(ps);
            }
            let (n_in, n_out) = (inputs.len(), outputs.len());
            let mut outs: [&mut [f32]; MAX_PORTS] = std::array::from_fn(|_| &mut [][..]);
            for (slot, port) in outs.iter_mut().zip(outputs.iter_mut()) {
                *slot = port.as_mut_slice(ps);
            }
            engine.process(&ins[..n_in], &mut outs[..n_out], frames);
            // After the mix: the control side applies what comes in within a period
            // either way, and the mix is never late for a MIDI byte.
            if let Some(m) = midi {
                let mut writer = m.output.writer(ps);
                let events = m.input.iter(ps).map(|e| e.bytes);
                m.pump.pump(events, |bytes| {
                    writer.write(&RawMidi { time: 0, bytes }).is_ok()
                });
            }
        });
        let busy = start.elapsed().as_nanos() as u64;
        let period = (frames as f64 * self.ns_per_frame) as u64;
        self.stats.record(busy, period);
        Control::Continue
    }

    fn buffer_size(&mut self, _: &Client, size: Frames) -> Control {
        // The engine takes any frame count (it splits into sub-blocks), so a new period
        // needs nothing rebuilt; record it for the status line and latency figures.
        self.stats.buffer_size.store(size, Ordering::Relaxed);
        Control::Continue
    }
}

struct Notifications {
    stats: Arc<CallbackStats>,
}

impl NotificationHandler for Notifications {
    fn thread_init(&self, _: &Client) {
        // Once, in the process thread before its first callback: not the audio path.
        self.stats.set_audio_thread();
    }

    unsafe fn shutdown(&mut self, _status: ClientStatus, _reason: &str) {
        // Async-signal context: only an atomic store.
        self.stats.gone.store(true, Ordering::Relaxed);
    }

    fn sample_rate(&mut self, _: &Client, rate: Frames) -> Control {
        self.stats.sample_rate.store(rate, Ordering::Relaxed);
        Control::Continue
    }

    fn xrun(&mut self, _: &Client) -> Control {
        self.stats.xruns.fetch_add(1, Ordering::Relaxed);
        Control::Continue
    }
}

/// A connection to a JACK server, not yet processing: tells the rate and period the
/// engine must be built for.
pub struct JackConnection {
    client: Client,
}

impl JackConnection {
    /// Opens client `name` on the default server (`$JACK_DEFAULT_SERVER`), never starting
    /// one.
    pub fn open(name: &str) -> Result<Self, JackError> {
        let (client, _status) = Client::new(name, ClientOptions::NO_START_SERVER).map_err(|e| {
            JackError::NoServer(match e {
                // What libjack says when nothing answers on the server's socket.
                jack::Error::ClientError(status)
                    if status.contains(ClientStatus::SERVER_FAILED) =>
                {
                    let server = std::env::var("JACK_DEFAULT_SERVER")
                        .map_or_else(|_| "default".into(), |s| format!("\"{s}\""));
                    format!("no JACK server is running (server name {server})")
                }
                jack::Error::LibraryError(why) => {
                    format!("the JACK library (libjack.so.0) could not be loaded: {why}")
                }
                other => format!("cannot connect to the JACK server: {other}"),
            })
        })?;
        Ok(JackConnection { client })
    }

    /// [`open`](Self::open) without libjack's messages on stderr when no server answers:
    /// for retrying every few seconds while a server is away.
    pub fn open_quietly(name: &str) -> Result<Self, JackError> {
        jack::set_logger(jack::LoggerType::None);
        let result = Self::open(name);
        jack::set_logger(jack::LoggerType::Stdio);
        result
    }

    /// Every audio port on the server: (name, true for an output port, i.e. one to
    /// record from), for `troubadour devices`.
    pub fn audio_ports(&self) -> Vec<(String, bool)> {
        self.client
            .ports(None, Some("audio"), PortFlags::empty())
            .into_iter()
            .map(|name| {
                let output = self
                    .client
                    .port_by_name(&name)
                    .is_some_and(|p| p.flags().contains(PortFlags::IS_OUTPUT));
                (name, output)
            })
            .collect()
    }

    /// The server's sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.client.sample_rate()
    }

    /// The server's period in frames.
    pub fn buffer_size(&self) -> u32 {
        self.client.buffer_size()
    }

    /// The client's name as the server knows it (it may add a suffix if taken).
    pub fn name(&self) -> &str {
        self.client.name()
    }

    /// Registers the session's ports, starts processing with `engine` and makes the
    /// session's connections. Returns the backend and what could not be connected.
    pub fn start(
        self,
        engine: Engine,
        session: &Session,
    ) -> Result<(JackBackend, Vec<String>), JackError> {
        self.start_with_midi(engine, session, None)
    }

    /// [`start`](Self::start), and with a hub, MIDI ports (`midi_in`, `midi_out`) on
    /// this client for the MIDI thread, attached to `midi` until the backend stops.
    pub fn start_with_midi(
        self,
        engine: Engine,
        session: &Session,
        midi: Option<&Arc<MidiHub>>,
    ) -> Result<(JackBackend, Vec<String>), JackError> {
        let client = self.client;
        let (in_names, out_names) = port_names(session);
        for n in [in_names.len(), out_names.len()] {
            if n > MAX_PORTS {
                return Err(JackError::TooManyPorts(n));
            }
        }
        let err = |e: jack::Error| JackError::Jack(e.to_string());
        let inputs = in_names
            .iter()
            .map(|n| client.register_port(n, AudioIn::default()).map_err(err))
            .collect::<Result<Vec<_>, _>>()?;
        let outputs = out_names
            .iter()
            .map(|n| client.register_port(n, AudioOut::default()).map_err(err))
            .collect::<Result<Vec<_>, _>>()?;
        let midi_ports = match midi {
            Some(hub) => {
                let (i, o) = AUDIO_CLIENT_PORTS;
                let input = client.register_port(i, MidiIn::default()).map_err(err)?;
                let output = client.register_port(o, MidiOut::default()).map_err(err)?;
                let names = (input.name().map_err(err)?, output.name().map_err(err)?);
                Some((input, output, names, hub))
            }
            None => None,
        };
        let stats = Arc::new(CallbackStats::default());
        stats
            .buffer_size
            .store(client.buffer_size(), Ordering::Relaxed);
        stats
            .sample_rate
            .store(client.sample_rate(), Ordering::Relaxed);
        let ns_per_frame = 1e9 / f64::from(client.sample_rate());
        let midi_hub = midi_ports.as_ref().map(|(.., hub)| Arc::clone(hub));
        let midi = midi_ports.map(|(input, output, (i, o), hub)| MidiPorts {
            pump: hub.attach(i, o),
            input,
            output,
        });
        let process = Process {
            engine,
            inputs,
            outputs,
            midi,
            stats: Arc::clone(&stats),
            ns_per_frame,
        };
        let notifications = Notifications {
            stats: Arc::clone(&stats),
        };
        let watcher = Watcher::spawn(Arc::clone(&stats));
        let active = client.activate_async(notifications, process).map_err(|e| {
            if let Some(hub) = &midi_hub {
                hub.detach();
            }
            err(e)
        })?;
        let mut backend = JackBackend {
            client: Some(active),
            midi_hub,
            _watcher: watcher,
            stats,
            in_names,
            out_names,
            offline: Vec::new(),
            next_port_check: Instant::now(),
        };
        let notes = backend.connect(session);
        Ok((backend, notes))
    }
}

/// A running JACK client.
pub struct JackBackend {
    client: Option<jack::AsyncClient<Notifications, Process>>,
    /// Where this client's MIDI ports were attached, to detach them at the end.
    midi_hub: Option<Arc<MidiHub>>,
    _watcher: Watcher,
    stats: Arc<CallbackStats>,
    in_names: Vec<String>,
    out_names: Vec<String>,
    /// Strips and buses whose device matched no port (yet).
    offline: Vec<String>,
    next_port_check: Instant,
}

impl JackBackend {
    fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("the client lives until stop")
            .as_client()
    }

    /// The client's full port name for short name `short`.
    fn full(&self, short: &str) -> String {
        format!("{}:{short}", self.client().name())
    }

    /// Ports matching one comma-separated item list: an exact name first, else JACK's
    /// regular-expression match, among ports of the given direction.
    fn resolve(&self, spec: &str, flags: PortFlags) -> Vec<String> {
        let client = self.client();
        let mut found = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if client.port_by_name(item).is_some() {
                found.push(item.to_string());
            } else {
                let pattern = format!("^{item}$");
                let matches = client.ports(Some(&pattern), Some("audio"), flags);
                found.extend(matches);
            }
        }
        found
    }

    /// Connects the session's device sources and sinks; returns a line for each strip or
    /// bus left offline, or connection that failed. Those left offline are remembered
    /// for [`connect_missing`](Self::connect_missing).
    pub fn connect(&mut self, session: &Session) -> Vec<String> {
        let (notes, offline, _) = self.connect_items(session, None);
        self.offline = offline;
        notes
    }

    /// Tries the strips and buses left offline again: a peer whose ports appear later
    /// is connected then. Returns a line for each that came online. Control side (it
    /// asks the server for its ports); cheap enough to call a few times a second.
    pub fn connect_missing(&mut self, session: &Session) -> Vec<String> {
        // Ports are registered once per connection: a session whose structure changed
        // since (hot reload) no longer lines up with them.
        if self.offline.is_empty() {
            return Vec::new();
        }
        let (ins, outs) = port_names(session);
        if ins != self.in_names || outs != self.out_names {
            return Vec::new();
        }
        let only = std::mem::take(&mut self.offline);
        let (_, offline, online) = self.connect_items(session, Some(&only));
        self.offline = offline;
        online
    }

    /// Names of the strips and buses whose device matched no port.
    pub fn offline(&self) -> &[String] {
        &self.offline
    }

    /// Connects the device sources and sinks of the session's strips and buses (only
    /// those named in `only`, if given). Returns (notes, names left offline, lines for
    /// those connected).
    fn connect_items(
        &self,
        session: &Session,
        only: Option<&[String]>,
    ) -> (Vec<String>, Vec<String>, Vec<String>) {
        let wanted = |name: &String| only.is_none_or(|o| o.contains(name));
        let (mut notes, mut offline, mut online) = (Vec::new(), Vec::new(), Vec::new());
        let mut next_in = 0;
        for strip in &session.strips {
            let Source::Device(spec) = &strip.source else {
                continue;
            };
            let ours = &self.in_names[next_in..next_in + usize::from(strip.channels)];
            next_in += usize::from(strip.channels);
            if !wanted(&strip.name) {
                continue;
            }
            let theirs = self.resolve(spec, PortFlags::IS_OUTPUT);
            if theirs.is_empty() {
                notes.push(format!(
                    "strip \"{}\": no JACK port matches \"{spec}\"; the strip is offline (silent)",
                    strip.name
                ));
                offline.push(strip.name.clone());
                continue;
            }
            let mut failed = false;
            for (k, port) in ours.iter().enumerate() {
                // One source port feeds every channel of the strip (mono into stereo).
                let from = &theirs[k.min(theirs.len() - 1)];
                if let Err(e) =
                    connected(self.client().connect_ports_by_name(from, &self.full(port)))
                {
                    notes.push(format!("cannot connect {from} to {port}: {e}"));
                    failed = true;
                }
            }
            if failed {
                // Tried again with the peers that appear later.
                offline.push(strip.name.clone());
                continue;
            }
            online.push(format!(
                "strip \"{}\": connected to {}",
                strip.name,
                theirs.join(", ")
            ));
        }
        let mut next_out = 0;
        for bus in &session.buses {
            let ours = &self.out_names[next_out..next_out + usize::from(bus.channels)];
            next_out += usize::from(bus.channels);
            let Some(Sink::Device(spec)) = &bus.sink else {
                continue;
            };
            if !wanted(&bus.name) {
                continue;
            }
            let theirs = self.resolve(spec, PortFlags::IS_INPUT);
            if theirs.is_empty() {
                notes.push(format!(
                    "bus \"{}\": no JACK port matches \"{spec}\"; the bus is offline (not heard)",
                    bus.name
                ));
                offline.push(bus.name.clone());
                continue;
            }
            let mut failed = false;
            for (k, to) in theirs.iter().enumerate() {
                // A mono bus feeds every sink port; otherwise channel k to port k.
                let port = &ours[k.min(ours.len() - 1)];
                if let Err(e) = connected(self.client().connect_ports_by_name(&self.full(port), to))
                {
                    notes.push(format!("cannot connect {port} to {to}: {e}"));
                    failed = true;
                }
            }
            if failed {
                offline.push(bus.name.clone());
                continue;
            }
            online.push(format!(
                "bus \"{}\": connected to {}",
                bus.name,
                theirs.join(", ")
            ));
        }
        (notes, offline, online)
    }

    /// True once the server has shut this client down.
    pub fn server_gone(&self) -> bool {
        self.stats.gone.load(Ordering::Relaxed)
    }

    /// Counters since the start (the load maximum is since the previous reading).
    pub fn stats(&self) -> BackendStats {
        self.stats.snapshot()
    }

    /// The rate and period in force (the server may change its period while we run).
    pub fn clock(&self) -> Clock {
        Clock {
            sample_rate: self.stats.sample_rate.load(Ordering::Relaxed),
            period_frames: self.stats.buffer_size.load(Ordering::Relaxed) as usize,
        }
    }

    /// The client's name as the server knows it.
    pub fn name(&self) -> String {
        self.client().name().to_string()
    }

    /// Latency in frames from the furthest upstream capture to our inputs, and from our
    /// outputs to the furthest downstream playback, as JACK reports it.
    pub fn port_latency(&self) -> (u32, u32) {
        let client = self.client();
        let capture = self
            .in_names
            .iter()
            .filter_map(|n| client.port_by_name(&self.full(n)))
            .map(|p| p.get_latency_range(LatencyType::Capture).1)
            .max()
            .unwrap_or(0);
        let playback = self
            .out_names
            .iter()
            .filter_map(|n| client.port_by_name(&self.full(n)))
            .map(|p| p.get_latency_range(LatencyType::Playback).1)
            .max()
            .unwrap_or(0);
        (capture, playback)
    }

    /// Deactivates the client and hands the engine back (None if the server is gone and
    /// the client could not be deactivated cleanly).
    pub fn stop(mut self) -> Option<Engine> {
        if let Some(hub) = self.midi_hub.take() {
            hub.detach();
        }
        let client = self.client.take()?;
        if self.stats.gone.load(Ordering::Relaxed) {
            // The server closed the connection: deactivating would talk to nobody. The
            // client and its engine are dropped here, off the audio thread.
            drop(client);
            return None;
        }
        client.deactivate().ok().map(|(_, _, p)| p.engine)
    }
}

impl Drop for JackBackend {
    fn drop(&mut self) {
        if let Some(hub) = self.midi_hub.take() {
            hub.detach();
        }
    }
}

impl Backend for JackBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Jack
    }

    fn clock(&self) -> Clock {
        JackBackend::clock(self)
    }

    fn latency(&self) -> Latency {
        let (capture_frames, playback_frames) = self.port_latency();
        Latency {
            capture_frames,
            playback_frames,
        }
    }

    fn stats(&self) -> BackendStats {
        JackBackend::stats(self)
    }

    fn health(&self) -> Health {
        if self.server_gone() {
            Health::Lost("the JACK server went away".into())
        } else {
            Health::Running
        }
    }

    fn maintain(&mut self, session: &Session) -> Vec<DeviceChange> {
        if Instant::now() < self.next_port_check {
            return Vec::new();
        }
        self.next_port_check = Instant::now() + PORT_CHECK;
        self.connect_missing(session)
            .into_iter()
            .map(DeviceChange::Online)
            .collect()
    }

    fn needs_restart(&self, old: &Session, new: &Session) -> bool {
        // Ports come from the names and channel counts; connections from the specs.
        crate::backend::wiring(old) != crate::backend::wiring(new)
    }

    fn stop(self: Box<Self>) -> Option<Engine> {
        JackBackend::stop(*self)
    }
}

/// A connection asked for is there: made now, or made already (a retry of an item
/// whose other connection failed).
fn connected(r: Result<(), jack::Error>) -> Result<(), jack::Error> {
    match r {
        Err(jack::Error::PortAlreadyConnected(..)) => Ok(()),
        r => r,
    }
}

/// How often [`Backend::maintain`] looks for peers whose ports appeared.
const PORT_CHECK: std::time::Duration = std::time::Duration::from_millis(500);

/// Starts JACK clients named `name` on the default server (`$JACK_DEFAULT_SERVER`).
pub struct JackDriver {
    name: String,
    connection: Option<JackConnection>,
    described: String,
    midi: Option<Arc<MidiHub>>,
}

impl JackDriver {
    /// A driver for clients named `name`.
    pub fn new(name: &str) -> Self {
        JackDriver {
            name: name.to_string(),
            connection: None,
            described: String::new(),
            midi: None,
        }
    }

    /// Clients this driver starts carry MIDI ports for the MIDI thread, through `hub`.
    pub fn with_midi(mut self, hub: Option<Arc<MidiHub>>) -> Self {
        self.midi = hub;
        self
    }

    /// A driver holding a connection already opened (by `auto`, to see whether a server
    /// answers).
    /// `name` is the client name asked for (the server may have added a suffix to the
    /// connection's; reconnections ask for `name` again).
    pub fn with_connection(connection: JackConnection, name: &str) -> Self {
        let mut driver = JackDriver::new(name);
        driver.described = Self::describe_connection(&connection);
        driver.connection = Some(connection);
        driver
    }

    fn describe_connection(c: &JackConnection) -> String {
        format!(
            "client \"{}\" on a server at {} Hz, period {} frames",
            c.name(),
            c.sample_rate(),
            c.buffer_size()
        )
    }
}

impl Driver for JackDriver {
    fn kind(&self) -> BackendKind {
        BackendKind::Jack
    }

    fn connect(&mut self, _: &Session, _: usize, quiet: bool) -> Result<Clock, BackendError> {
        if self.connection.is_none() {
            let opened = if quiet {
                JackConnection::open_quietly(&self.name)
            } else {
                JackConnection::open(&self.name)
            };
            let c = opened.map_err(|e| BackendError::Unavailable(e.to_string()))?;
            self.described = Self::describe_connection(&c);
            self.connection = Some(c);
        }
        let c = self.connection.as_ref().expect("connected just above");
        Ok(Clock {
            sample_rate: c.sample_rate(),
            period_frames: c.buffer_size() as usize,
        })
    }

    fn start(&mut self, engine: Engine, session: &Session) -> Result<Started, BackendError> {
        let connection = self
            .connection
            .take()
            .ok_or_else(|| BackendError::Unavailable("not connected to a JACK server".into()))?;
        let (backend, offline) = connection
            .start_with_midi(engine, session, self.midi.as_ref())
            .map_err(|e| BackendError::Refused(e.to_string()))?;
        let notes = vec![
            "audio thread: JACK's process thread (the server sets its scheduling)".to_string(),
        ];
        Ok(Started {
            backend: Box::new(backend),
            offline,
            notes,
        })
    }

    fn describe(&self) -> String {
        self.described.clone()
    }
}

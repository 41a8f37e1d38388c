//! The native PipeWire backend: `Engine::process` inside the process callback of one
//! `pw_filter` node (see [`filter`]), with a DSP port per device- or virtual-source strip
//! channel and per bus channel (named as on JACK: `Mic_in_L`, `A1_out_R`, ...). It runs
//! in the graph's own cycle and follows its quantum and rate.
//!
//! PipeWire's objects belong to the thread of the loop they were made on, so one thread
//! of ours (`troubadour-pw`) owns the connection, the filter, the virtual devices and the
//! links; the control side talks to it over PipeWire's channel and reads the callback's
//! counters as atomics.
//!
//! Virtual devices (`source = { virtual = NAME }` on a strip, `sink = { virtual = NAME }`
//! on a bus) are `support.null-audio-sink` adapter nodes made on our own connection, so
//! they die with it (also after `kill -9`: the server removes a dead client's objects),
//! linked to the filter's ports inside the graph: no ring, no resampling.

mod devices;
mod filter;
mod graph;
mod list;
mod route;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pipewire as pw;
use pw::types::ObjectType;
use troubadour_engine::Engine;
use troubadour_engine::session::{Session, Sink, Source, virtual_node_name};

pub use crate::backend::{VirtualDevice, virtual_devices};

use crate::accounting::{CallbackStats, Watcher};
use crate::backend::{
    Backend, BackendError, BackendKind, BackendStats, Clock, DeviceChange, Driver, Health, Latency,
    Started,
};
use crate::jack::port_names;
use graph::{Graph, Peer, PortInfo, Want};

pub use filter::MAX_QUANTUM;
pub(crate) use list::remote_description;
pub use list::{OurNode, clashes, our_nodes};

/// The filter's input port names: every input strip's channels (device and virtual
/// sources), in engine order; outputs are every bus's, as on JACK.
fn filter_ports(session: &Session) -> (Vec<String>, Vec<String>) {
    // JACK's names, computed over a session where a virtual source counts as a device.
    let mut as_devices = session.clone();
    for s in &mut as_devices.strips {
        if let Source::Virtual(_) | Source::App(_) = &s.source {
            s.source = Source::Device(s.name.clone());
        }
    }
    port_names(&as_devices)
}

/// The links a session wants.
fn wants(session: &Session) -> Vec<Want> {
    let (ins, outs) = filter_ports(session);
    let mut wants = Vec::new();
    let mut next = 0;
    for s in &session.strips {
        if !s.source.is_input() {
            continue;
        }
        let ours = ins[next..next + usize::from(s.channels)].to_vec();
        next += usize::from(s.channels);
        let peer = match &s.source {
            Source::Device(spec) => Peer::Device(spec.clone()),
            Source::Virtual(v) => Peer::Virtual(virtual_node_name(&v.name)),
            Source::App(_) => Peer::Virtual(virtual_node_name(&s.name)),
            _ => continue,
        };
        wants.push(Want {
            what: format!("strip \"{}\"", s.name),
            strip: true,
            ours,
            peer,
            done: false,
        });
    }
    let mut next = 0;
    for b in &session.buses {
        let ours = outs[next..next + usize::from(b.channels)].to_vec();
        next += usize::from(b.channels);
        let peer = match &b.sink {
            Some(Sink::Device(spec)) => Peer::Device(spec.clone()),
            Some(Sink::Virtual { name, .. }) => Peer::Virtual(virtual_node_name(name)),
            _ => continue,
        };
        wants.push(Want {
            what: format!("bus \"{}\"", b.name),
            strip: false,
            ours,
            peer,
            done: false,
        });
    }
    wants
}

/// Requests from the control side to the PipeWire thread.
enum Request {
    Start {
        engine: Box<Engine>,
        session: Box<Session>,
        stats: Arc<CallbackStats>,
        /// The notes, or why not (a failed start drops the engine on that thread,
        /// which is not the audio thread).
        reply: mpsc::Sender<Result<Vec<String>, String>>,
    },
    Stop(mpsc::Sender<Option<Engine>>),
}

/// What the PipeWire thread reports to the control side.
#[derive(Default)]
struct Reports {
    /// Lines for strips and buses that came online (linked), and app moves.
    online: Vec<String>,
    /// Warnings (an app pattern that matched nothing).
    offline: Vec<String>,
    /// The connection failed (why).
    lost: Option<String>,
}

/// The PipeWire thread's handle.
struct Connection {
    requests: pw::channel::Sender<Request>,
    reports: Arc<std::sync::Mutex<Reports>>,
    thread: Option<std::thread::JoinHandle<()>>,
    clock: Clock,
}

impl Connection {
    /// Starts the thread, connects to the server, reads the graph's clock.
    fn open(name: &str) -> Result<Connection, String> {
        static INIT: std::sync::Once = std::sync::Once::new();
        INIT.call_once(pw::init);
        let (requests, receiver) = pw::channel::channel::<Request>();
        let reports = Arc::new(std::sync::Mutex::new(Reports::default()));
        let (ready, connected) = mpsc::channel();
        let shared = Arc::clone(&reports);
        let name = name.to_string();
        let thread = std::thread::Builder::new()
            .name("troubadour-pw".into())
            .spawn(move || run(&name, receiver, shared, ready))
            .map_err(|e| format!("cannot start the PipeWire thread: {e}"))?;
        match connected.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(clock)) => Ok(Connection {
                requests,
                reports,
                thread: Some(thread),
                clock,
            }),
            Ok(Err(why)) => {
                let _ = thread.join();
                Err(why)
            }
            Err(_) => Err(format!(
                "the PipeWire server ({}) did not answer within 5 s",
                remote_description()
            )),
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let (tx, rx) = mpsc::channel();
        if self.requests.send(Request::Stop(tx)).is_ok() {
            let _ = rx.recv_timeout(Duration::from_secs(5));
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The PipeWire thread: connects, says the clock, then serves requests until stopped.
fn run(
    name: &str,
    receiver: pw::channel::Receiver<Request>,
    reports: Arc<std::sync::Mutex<Reports>>,
    ready: mpsc::Sender<Result<Clock, String>>,
) {
    let fail = |what: &str, e: pw::Error| format!("{what}: {e} ({})", remote_description());
    let mainloop = match pw::main_loop::MainLoopRc::new(None) {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(fail("cannot make a PipeWire loop", e)));
            return;
        }
    };
    let context = match pw::context::ContextRc::new(&mainloop, None) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(fail("cannot make a PipeWire context", e)));
            return;
        }
    };
    let core = match context.connect_rc(None) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(format!(
                "no PipeWire server answers ({}): {e}",
                remote_description()
            )));
            return;
        }
    };
    // The graph's clock: the server's default rate and quantum (its core properties),
    // else PipeWire's defaults; the callback then follows what each cycle says.
    let clock = Rc::new(RefCell::new(Clock {
        sample_rate: 48_000,
        period_frames: 1024,
    }));
    let lost = Rc::new(RefCell::new(None::<String>));
    let _core_listener = {
        let clock = Rc::clone(&clock);
        let lost = Rc::clone(&lost);
        let reports = Arc::clone(&reports);
        core.add_listener_local()
            .info(move |info| {
                if let Some(props) = info.props() {
                    let mut c = clock.borrow_mut();
                    if let Some(r) = props.get("default.clock.rate").and_then(|v| v.parse().ok()) {
                        c.sample_rate = r;
                    }
                    if let Some(q) = props
                        .get("default.clock.quantum")
                        .and_then(|v| v.parse().ok())
                    {
                        c.period_frames = q;
                    }
                }
            })
            .error(move |id, _seq, res, message| {
                // id 0 is the core itself: the connection is gone (EPIPE when the
                // server exits).
                if id == 0 {
                    let why = format!("the PipeWire server went away ({message}, {res})");
                    *lost.borrow_mut() = Some(why.clone());
                    if let Ok(mut r) = reports.lock() {
                        r.lost = Some(why);
                    }
                }
            })
            .register()
    };
    // One round trip, so the core's info (and the registry's first globals) are in.
    let graph = Rc::new(RefCell::new(Graph::default()));
    let registry = match core.get_registry_rc() {
        Ok(r) => r,
        Err(e) => {
            let _ = ready.send(Err(fail("cannot read the PipeWire registry", e)));
            return;
        }
    };
    let changed = Rc::new(RefCell::new(true));
    let router = Rc::new(RefCell::new(route::Router::default()));
    // The round trip after binding the session manager's metadata: its values are in
    // when it comes back.
    let metadata_sync = Rc::new(std::cell::Cell::new(None));
    let _registry_listener = {
        let graph = Rc::clone(&graph);
        let graph2 = Rc::clone(&graph);
        let changed = Rc::clone(&changed);
        let changed2 = Rc::clone(&changed);
        let (router, router2) = (Rc::clone(&router), Rc::clone(&router));
        let (registry2, core2) = (registry.clone(), core.clone());
        let metadata_sync = Rc::clone(&metadata_sync);
        registry
            .add_listener_local()
            .global(move |g| {
                if route::global(&router, &registry2, g) {
                    metadata_sync.set(core2.sync(0).ok());
                }
                let Some(props) = g.props else { return };
                let mut graph = graph.borrow_mut();
                match g.type_ {
                    ObjectType::Node => {
                        if let Some(n) = props.get("node.name") {
                            graph.nodes.insert(g.id, n.to_string());
                        }
                    }
                    ObjectType::Port => {
                        let node = props.get("node.id").and_then(|v| v.parse().ok());
                        let name = props.get("port.name");
                        if let (Some(node), Some(name)) = (node, name) {
                            graph.ports.push(PortInfo {
                                id: g.id,
                                node,
                                name: name.to_string(),
                                output: props.get("port.direction") == Some("out"),
                                index: props
                                    .get("port.id")
                                    .and_then(|v| v.parse().ok())
                                    .unwrap_or(0),
                            });
                        }
                    }
                    _ => return,
                }
                *changed.borrow_mut() = true;
            })
            .global_remove(move |id| {
                route::remove(&router2, id);
                let mut graph = graph2.borrow_mut();
                graph.nodes.remove(&id);
                graph.ports.retain(|p| p.id != id && p.node != id);
                *changed2.borrow_mut() = true;
            })
            .register()
    };
    let done = Rc::new(RefCell::new(false));
    let pending = core.sync(0).ok();
    let _done_listener = {
        let done = Rc::clone(&done);
        let ml = mainloop.downgrade();
        core.add_listener_local()
            .done(move |id, seq| {
                if id == pw::core::PW_ID_CORE && Some(seq) == pending {
                    *done.borrow_mut() = true;
                    if let Some(ml) = ml.upgrade() {
                        ml.quit();
                    }
                }
            })
            .register()
    };
    mainloop.run();
    if !*done.borrow() {
        let why = lost.borrow().clone().unwrap_or_else(|| "no answer".into());
        let _ = ready.send(Err(format!(
            "the PipeWire server ({}) did not answer: {why}",
            remote_description()
        )));
        return;
    }
    let _ = ready.send(Ok(*clock.borrow()));
    // While serving: the metadata's round trip, and the one a stop makes after undoing
    // the routing (so the writes reach the server before we disconnect).
    let stop_sync = Rc::new(std::cell::Cell::new(None));
    let stopping = Rc::new(std::cell::Cell::new(None::<Instant>));
    let _serving_done = {
        let (router, metadata_sync) = (Rc::clone(&router), Rc::clone(&metadata_sync));
        let stop_sync = Rc::clone(&stop_sync);
        let ml = mainloop.downgrade();
        core.add_listener_local()
            .done(move |id, seq| {
                if id != pw::core::PW_ID_CORE {
                    return;
                }
                if Some(seq) == metadata_sync.get() {
                    router.borrow_mut().ready = true;
                }
                if Some(seq) == stop_sync.get()
                    && let Some(ml) = ml.upgrade()
                {
                    ml.quit();
                }
            })
            .register()
    };
    if metadata_sync.get().is_none() {
        // No metadata came with the first round trip: nothing to wait for.
        router.borrow_mut().ready = true;
    }

    // Serving: the filter, the virtual devices, the links.
    struct Running {
        filter: filter::Filter,
        nodes: Vec<pw::node::Node>,
        links: Vec<pw::link::Link>,
        wants: Vec<Want>,
    }
    let running: Rc<RefCell<Option<Running>>> = Rc::new(RefCell::new(None));
    let _receiver = {
        let running = Rc::clone(&running);
        let core = core.clone();
        let registry = registry.clone();
        let ml = mainloop.downgrade();
        let router = Rc::clone(&router);
        let (stop_sync, stopping) = (Rc::clone(&stop_sync), Rc::clone(&stopping));
        let name = name.to_string();
        receiver.attach(mainloop.loop_(), move |request| match request {
            Request::Start {
                engine,
                session,
                stats,
                reply,
            } => {
                let (ins, outs) = filter_ports(&session);
                let filter = match filter::Filter::new(
                    core.as_raw_ptr(),
                    &name,
                    &ins,
                    &outs,
                    *engine,
                    stats,
                ) {
                    Ok(f) => f,
                    Err(why) => {
                        let _ = reply.send(Err(why));
                        return;
                    }
                };
                let devices = virtual_devices(&session);
                let made = devices::make(&core, &registry, &devices, &router.borrow().nodes);
                let (nodes, notes) = match made {
                    Ok(made) => made,
                    Err(why) => {
                        drop(filter.stop());
                        let _ = reply.send(Err(why));
                        return;
                    }
                };
                router.borrow_mut().start(&devices);
                *running.borrow_mut() = Some(Running {
                    filter,
                    nodes,
                    links: Vec::new(),
                    wants: wants(&session),
                });
                let _ = reply.send(Ok(notes));
            }
            Request::Stop(reply) => {
                // The streams' targets and the defaults first, so the streams move to
                // the default device rather than lose theirs.
                let wrote = router.borrow_mut().stop();
                let engine = running.borrow_mut().take().map(|r| {
                    drop(r.links);
                    drop(r.nodes);
                    r.filter.stop()
                });
                let _ = reply.send(engine);
                // Also after a core error (not every one is a lost connection): on a
                // dead one the sync fails or never returns, and the timer quits.
                if wrote && let Ok(seq) = core.sync(0) {
                    // Quit when the server has them (or after 1 s: see the timer).
                    stop_sync.set(Some(seq));
                    stopping.set(Some(Instant::now()));
                } else if let Some(ml) = ml.upgrade() {
                    ml.quit();
                }
            }
        })
    };
    // Links are made as the ports they need appear: a look every 50 ms while the
    // registry has changed.
    let timer = {
        let running = Rc::clone(&running);
        let graph = Rc::clone(&graph);
        let changed = Rc::clone(&changed);
        let core = core.clone();
        let reports = Arc::clone(&reports);
        let router = Rc::clone(&router);
        let stopping = Rc::clone(&stopping);
        let stats_tid = Rc::new(RefCell::new(false));
        let ml = mainloop.downgrade();
        mainloop.loop_().add_timer(move |_| {
            if stopping
                .get()
                .is_some_and(|t| t.elapsed() > Duration::from_secs(1))
                && let Some(ml) = ml.upgrade()
            {
                ml.quit();
            }
            {
                let mut router = router.borrow_mut();
                router.tick();
                if !router.said.is_empty()
                    && let Ok(mut rep) = reports.lock()
                {
                    for (warning, line) in router.said.drain(..) {
                        if warning {
                            rep.offline.push(line);
                        } else {
                            rep.online.push(line);
                        }
                    }
                }
            }
            let mut running = running.borrow_mut();
            let Some(r) = running.as_mut() else { return };
            if !*stats_tid.borrow() && find_data_thread(&r.filter) {
                *stats_tid.borrow_mut() = true;
            }
            if let Some(why) = r.filter.error()
                && let Ok(mut rep) = reports.lock()
            {
                {
                    rep.lost
                        .get_or_insert(format!("the PipeWire filter node failed: {why}"));
                }
            }
            if !std::mem::replace(&mut *changed.borrow_mut(), false) {
                return;
            }
            let Some(ours) = r.filter.node_id() else {
                *changed.borrow_mut() = true;
                return;
            };
            let graph = graph.borrow();
            for want in r.wants.iter_mut().filter(|w| !w.done) {
                let Some(plan) = graph.plan(ours, want) else {
                    continue;
                };
                for (out_port, in_port) in plan {
                    let node_of = |id| graph.ports.iter().find(|p| p.id == id).map(|p| p.node);
                    let props = pw::properties::properties! {
                        "link.output.node" => node_of(out_port).unwrap_or(0).to_string(),
                        "link.output.port" => out_port.to_string(),
                        "link.input.node" => node_of(in_port).unwrap_or(0).to_string(),
                        "link.input.port" => in_port.to_string(),
                        "object.linger" => "false",
                    };
                    if let Ok(link) = core.create_object::<pw::link::Link>("link-factory", &props) {
                        r.links.push(link);
                    }
                }
                want.done = true;
                if let Ok(mut rep) = reports.lock() {
                    rep.online
                        .push(format!("{}: linked to {}", want.what, want.peer.describe()));
                }
            }
        })
    };
    let _ = timer.update_timer(
        Some(Duration::from_millis(20)),
        Some(Duration::from_millis(50)),
    );
    mainloop.run();
}

/// Once the filter processes, tells the watcher the data thread's id (found by name in
/// /proc, so the audio thread itself never makes the system call). True once found.
fn find_data_thread(f: &filter::Filter) -> bool {
    let Some(stats) = f.stats() else { return false };
    if stats.callbacks.load(Ordering::Relaxed) == 0 {
        return false;
    }
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return true;
    };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end().starts_with("data-loop") {
            if let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) {
                stats.set_audio_tid(tid);
            }
            break;
        }
    }
    true
}

/// A running PipeWire backend.
pub struct PipewireBackend {
    connection: Option<Connection>,
    stats: Arc<CallbackStats>,
    _watcher: Watcher,
    started: Instant,
    warned: bool,
    wants: Vec<Want>,
}

impl Backend for PipewireBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Pipewire
    }

    fn clock(&self) -> Clock {
        Clock {
            sample_rate: self.stats.sample_rate.load(Ordering::Relaxed),
            period_frames: self.stats.buffer_size.load(Ordering::Relaxed) as usize,
        }
    }

    fn latency(&self) -> Latency {
        Latency::default()
    }

    fn stats(&self) -> BackendStats {
        self.stats.snapshot()
    }

    fn health(&self) -> Health {
        let lost = self
            .connection
            .as_ref()
            .and_then(|c| c.reports.lock().ok().and_then(|r| r.lost.clone()));
        match lost {
            Some(why) => Health::Lost(why),
            None => Health::Running,
        }
    }

    fn maintain(&mut self, _: &Session) -> Vec<DeviceChange> {
        let mut changes: Vec<DeviceChange> = self
            .connection
            .as_ref()
            .and_then(|c| {
                c.reports.lock().ok().map(|mut r| {
                    let online = std::mem::take(&mut r.online).into_iter();
                    let offline = std::mem::take(&mut r.offline).into_iter();
                    online
                        .map(DeviceChange::Online)
                        .chain(offline.map(DeviceChange::Offline))
                        .collect::<Vec<_>>()
                })
            })
            .unwrap_or_default();
        for line in &changes {
            let DeviceChange::Online(l) = line else {
                continue;
            };
            if let Some(w) = self.wants.iter_mut().find(|w| l.starts_with(&w.what)) {
                w.done = true;
            }
        }
        // A peer that never shows: said once, after a few seconds.
        if !self.warned && self.started.elapsed() > Duration::from_secs(3) {
            self.warned = true;
            for w in self.wants.iter().filter(|w| !w.done) {
                changes.push(DeviceChange::Offline(format!(
                    "{}: nothing in the PipeWire graph matches {} (yet); linked when it appears",
                    w.what,
                    w.peer.describe()
                )));
            }
        }
        changes
    }

    fn needs_restart(&self, old: &Session, new: &Session) -> bool {
        crate::backend::wiring(old) != crate::backend::wiring(new)
            || virtual_devices(old) != virtual_devices(new)
    }

    fn stop(mut self: Box<Self>) -> Option<Engine> {
        let c = self.connection.take()?;
        let (tx, rx) = mpsc::channel();
        let engine = if c.requests.send(Request::Stop(tx)).is_ok() {
            rx.recv_timeout(Duration::from_secs(5)).ok().flatten()
        } else {
            None
        };
        drop(c);
        engine
    }
}

/// Starts the PipeWire backend as client (and filter node) `name`.
pub struct PipewireDriver {
    name: String,
    connection: Option<Connection>,
    described: String,
}

impl PipewireDriver {
    /// A driver for a node named `name`.
    pub fn new(name: &str) -> Self {
        PipewireDriver {
            name: name.to_string(),
            connection: None,
            described: String::new(),
        }
    }

    /// Whether a PipeWire server answers (for `auto`), or why not.
    pub fn probe(name: &str) -> Result<Self, String> {
        let mut d = PipewireDriver::new(name);
        let c = Connection::open(name)?;
        d.described = describe_clock(name, c.clock);
        d.connection = Some(c);
        Ok(d)
    }
}

fn describe_clock(name: &str, c: Clock) -> String {
    format!(
        "node \"{name}\" on a PipeWire server at {} Hz, quantum {} frames",
        c.sample_rate, c.period_frames
    )
}

impl Driver for PipewireDriver {
    fn kind(&self) -> BackendKind {
        BackendKind::Pipewire
    }

    fn connect(&mut self, _: &Session, _: usize, _quiet: bool) -> Result<Clock, BackendError> {
        if self.connection.is_none() {
            let c = Connection::open(&self.name).map_err(BackendError::Unavailable)?;
            self.described = describe_clock(&self.name, c.clock);
            self.connection = Some(c);
        }
        Ok(self
            .connection
            .as_ref()
            .expect("connected just above")
            .clock)
    }

    fn start(&mut self, engine: Engine, session: &Session) -> Result<Started, BackendError> {
        let c = self.connection.take().ok_or_else(|| {
            BackendError::Unavailable("not connected to a PipeWire server".into())
        })?;
        let stats = Arc::new(CallbackStats::default());
        stats
            .sample_rate
            .store(c.clock.sample_rate, Ordering::Relaxed);
        stats
            .buffer_size
            .store(c.clock.period_frames as u32, Ordering::Relaxed);
        let (reply, answer) = mpsc::channel();
        let request = Request::Start {
            engine: Box::new(engine),
            session: Box::new(session.clone()),
            stats: Arc::clone(&stats),
            reply,
        };
        if c.requests.send(request).is_err() {
            return Err(BackendError::Unavailable(
                "the PipeWire thread has stopped".into(),
            ));
        }
        let mut notes = match answer.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(notes)) => notes,
            Ok(Err(why)) => return Err(BackendError::Refused(why)),
            Err(_) => {
                return Err(BackendError::Refused(
                    "the PipeWire thread did not answer".into(),
                ));
            }
        };
        notes.push("audio thread: PipeWire's data thread (the server sets its scheduling)".into());
        let watcher = Watcher::spawn(Arc::clone(&stats));
        Ok(Started {
            backend: Box::new(PipewireBackend {
                connection: Some(c),
                stats,
                _watcher: watcher,
                started: Instant::now(),
                warned: false,
                wants: wants(session),
            }),
            offline: Vec::new(),
            notes,
        })
    }

    fn describe(&self) -> String {
        self.described.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_devices_are_named_and_classed_as_the_session_says() {
        let mut s = Session::default_session();
        s.strips[0].source =
            Source::Virtual(troubadour_engine::session::VirtualSource::named("Browser"));
        s.buses[0].sink = Some(Sink::Virtual {
            name: "Stream mix".into(),
            default: false,
            persist: false,
        });
        let v = virtual_devices(&s);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].node_name, "troubadour.browser");
        assert_eq!(v[0].media_class, "Audio/Sink");
        assert_eq!(v[1].node_name, "troubadour.stream_mix");
        assert_eq!(v[1].media_class, "Audio/Source/Virtual");
        let (ins, _) = filter_ports(&s);
        assert_eq!(ins.len(), usize::from(s.strips[0].channels));
        let w = wants(&s);
        assert!(
            w.iter()
                .any(|w| w.strip && w.peer == Peer::Virtual("troubadour.browser".into()))
        );
    }
}

//! `troubadour run [SESSION.toml] [--backend auto|jack|cpal|null] [--latency-frames N]`
//!
//! Picks a backend (`auto`: JACK when a server answers, else null, saying why), runs the
//! session, shows a status line (or a log line a second when stdout is not a terminal),
//! applies edits of the session file live (hot reload) and stops cleanly on Ctrl-C or
//! SIGTERM. When the JACK server goes away it keeps running, says so, and reconnects
//! with backoff once a server answers again, rebuilding the engine for that server's
//! rate and period and restoring its ports and connections.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use troubadour_engine::session::{self, LoadedSession, Session};
use troubadour_engine::{Applied, Controller, EngineOptions, MeterSnapshot, create};
use troubadour_io::jack::{JackBackend, JackConnection, port_names};
use troubadour_io::null::NullBackend;
use troubadour_io::thread::{DEFAULT_PRIORITY, ThreadSetup};

use super::load;

/// `println!` that ignores a closed stdout: `run` keeps running (SIGPIPE stays ignored
/// for libjack's sake, see `main`), and a status line nobody reads is no reason to stop.
macro_rules! println {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// The JACK client name.
const CLIENT_NAME: &str = "troubadour";

/// A running backend.
enum Live {
    Null(NullBackend),
    Jack(JackBackend),
    /// The JACK server went away: trying to reconnect, with backoff.
    Waiting(Reconnect),
    /// A cpal output device drives the engine (boxed: it is much the largest).
    #[cfg(feature = "cpal")]
    Device(Box<troubadour_io::device::DeviceBackend>),
    /// The cpal master device (this id) went away: waiting for it to return, with
    /// backoff.
    #[cfg(feature = "cpal")]
    DeviceWaiting(Reconnect, String),
}

/// cpal's default host and its default output device, or why there is none.
fn device_output() -> Result<(String, String), String> {
    #[cfg(feature = "cpal")]
    {
        troubadour_io::device::default_output()
            .ok_or_else(|| "cpal's default host has no output device".to_string())
    }
    #[cfg(not(feature = "cpal"))]
    {
        Err("this build has no cpal backend (`--features cpal`)".into())
    }
}

/// Starts the engine on cpal's default host (the first bus's device, or the default
/// output), printing what is left offline.
fn start_device(
    engine: troubadour_engine::Engine,
    session: &Session,
    period: usize,
    why: &str,
) -> Result<Live, String> {
    #[cfg(feature = "cpal")]
    {
        let (b, notes) = troubadour_io::device::DeviceBackend::start(engine, session, period)
            .map_err(|e| e.to_string())?;
        println!(
            "backend: cpal ({}, output \"{}\"{}{why})",
            b.host(),
            b.device(),
            if why.is_empty() { "" } else { "; " }
        );
        for n in notes {
            println!("offline: {n}");
        }
        for x in b.bridged().iter().filter(|x| x.online) {
            println!(
                "bridged: {} \"{}\" {} \"{}\" through a clock bridge ({:.1} ms: ring target and resampler)",
                if x.input { "strip" } else { "bus" },
                x.bus,
                if x.input { "takes" } else { "plays to" },
                x.device,
                x.latency_frames * 1e3 / f64::from(session.sample_rate)
            );
        }
        println!("audio thread: cpal's callback thread (cpal asks for real-time priority itself)");
        Ok(Live::Device(Box::new(b)))
    }
    #[cfg(not(feature = "cpal"))]
    {
        let _ = (engine, session, period, why);
        Err("this build has no cpal backend: build with `--features cpal`".into())
    }
}

/// First and longest wait between reconnection attempts.
const RECONNECT_FIRST: Duration = Duration::from_millis(250);
const RECONNECT_MAX: Duration = Duration::from_secs(4);

/// Reconnection attempts to a JACK server: the wait doubles after each failure, up to
/// [`RECONNECT_MAX`].
struct Reconnect {
    since: Instant,
    next_try: Instant,
    wait: Duration,
    attempts: u32,
}

impl Reconnect {
    fn new() -> Self {
        Reconnect {
            since: Instant::now(),
            next_try: Instant::now() + RECONNECT_FIRST,
            wait: RECONNECT_FIRST,
            attempts: 0,
        }
    }

    fn due(&self) -> bool {
        Instant::now() >= self.next_try
    }

    fn failed(&mut self) {
        self.attempts += 1;
        self.wait = (self.wait * 2).min(RECONNECT_MAX);
        self.next_try = Instant::now() + self.wait;
    }
}

impl Live {
    fn status(&self) -> String {
        match self {
            Live::Null(b) => {
                let s = b.stats();
                format!(
                    "load {:.2}% (max {:.2}%) | late {} | overruns {}",
                    s.load_last * 100.0,
                    s.load_max * 100.0,
                    s.late_wakeups,
                    s.overruns
                )
            }
            Live::Jack(b) => {
                let s = b.stats();
                format!(
                    "load {:.2}% (max {:.2}%) | xruns {} | late {} (+{} stalled)",
                    s.load_last * 100.0,
                    s.load_max * 100.0,
                    s.xruns,
                    s.late,
                    s.late_stalled
                )
            }
            #[cfg(feature = "cpal")]
            Live::Device(b) => {
                let s = b.stats();
                format!(
                    "load {:.2}% (max {:.2}%) | xruns {} | late {}{}",
                    s.load_last * 100.0,
                    s.load_max * 100.0,
                    s.xruns,
                    s.late,
                    if s.gone { " | device gone" } else { "" }
                )
            }
            #[cfg(feature = "cpal")]
            Live::DeviceWaiting(r, _) => format!(
                "output device gone {:.0} s ago: {} attempts to reopen it, next in {:.1} s",
                r.since.elapsed().as_secs_f64(),
                r.attempts,
                r.next_try
                    .saturating_duration_since(Instant::now())
                    .as_secs_f64()
            ),
            Live::Waiting(r) => format!(
                "JACK server gone {:.0} s ago: {} reconnection attempts, next in {:.1} s",
                r.since.elapsed().as_secs_f64(),
                r.attempts,
                r.next_try
                    .saturating_duration_since(Instant::now())
                    .as_secs_f64()
            ),
        }
    }

    /// Callbacks processed so far on the current connection.
    fn callbacks(&self) -> u64 {
        match self {
            Live::Null(b) => b.stats().callbacks,
            Live::Jack(b) => b.stats().callbacks,
            #[cfg(feature = "cpal")]
            Live::Device(b) => b.stats().callbacks,
            Live::Waiting(_) => 0,
            #[cfg(feature = "cpal")]
            Live::DeviceWaiting(..) => 0,
        }
    }

    fn server_gone(&self) -> bool {
        matches!(self, Live::Jack(b) if b.server_gone())
    }

    /// Stops and returns the closing line.
    fn stop(self, elapsed: Duration) -> String {
        match self {
            Live::Null(b) => {
                let s = b.stats();
                drop(b.stop());
                format!(
                    "stopped after {:.1} s: {} periods, {} late wake-ups, {} overruns ({} engine-caused), mean DSP load {:.3}%",
                    elapsed.as_secs_f64(),
                    s.callbacks,
                    s.late_wakeups,
                    s.overruns,
                    s.engine_overruns,
                    s.load_mean * 100.0
                )
            }
            Live::Jack(b) => {
                let s = b.stats();
                drop(b.stop());
                let histogram: Vec<String> = s
                    .histogram
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| **n > 0)
                    .map(|(i, n)| {
                        if i == s.histogram.len() - 1 {
                            format!(">100%: {n}")
                        } else {
                            format!("{}-{}%: {n}", i * 10, i * 10 + 10)
                        }
                    })
                    .collect();
                format!(
                    "stopped after {:.1} s: {} callbacks, {} xruns (server), {} late callbacks (engine; {} more while the thread was stalled), mean DSP load {:.3}%, load histogram [{}]",
                    elapsed.as_secs_f64(),
                    s.callbacks,
                    s.xruns,
                    s.late,
                    s.late_stalled,
                    s.load_mean * 100.0,
                    histogram.join(", ")
                )
            }
            #[cfg(feature = "cpal")]
            Live::Device(b) => {
                let s = b.stats();
                let bridges: Vec<String> = b
                    .bridged()
                    .iter()
                    .map(|x| {
                        format!(
                            "; {} \"{}\" on \"{}\": {} underruns, {} overruns, ring target {} frames",
                            if x.input { "strip" } else { "bus" },
                            x.bus,
                            x.device,
                            x.underruns.load(std::sync::atomic::Ordering::Relaxed),
                            x.overruns.load(std::sync::atomic::Ordering::Relaxed),
                            x.target.load(std::sync::atomic::Ordering::Relaxed)
                        )
                    })
                    .collect();
                drop(b);
                format!(
                    "stopped after {:.1} s: {} callbacks, {} xruns (device), {} late callbacks (engine), mean DSP load {:.3}%{}",
                    elapsed.as_secs_f64(),
                    s.callbacks,
                    s.xruns,
                    s.late,
                    s.load_mean * 100.0,
                    bridges.concat()
                )
            }
            #[cfg(feature = "cpal")]
            Live::DeviceWaiting(r, _) => format!(
                "stopped after {:.1} s, waiting for the output device since {:.1} s",
                elapsed.as_secs_f64(),
                r.since.elapsed().as_secs_f64()
            ),
            Live::Waiting(r) => format!(
                "stopped after {:.1} s, waiting for a JACK server since {:.1} s",
                elapsed.as_secs_f64(),
                r.since.elapsed().as_secs_f64()
            ),
        }
    }
}

/// Builds an engine for `session` at the server's rate and period and starts it on
/// JACK: ports registered, connections made (what cannot be connected is reported
/// offline), latency reported. Returns the new controller with the backend.
fn start_jack(
    connection: JackConnection,
    mut session: LoadedSession,
) -> Result<(Controller, JackBackend, u32), String> {
    let rate = connection.sample_rate();
    let period = connection.buffer_size() as usize;
    if rate != session.session.sample_rate {
        println!(
            "note: the session asks for {} Hz; running at the server's {rate} Hz",
            session.session.sample_rate
        );
        session.session.sample_rate = rate;
    }
    let options = EngineOptions {
        max_block_frames: Some(period.max(session.session.block_frames as usize)),
        ..Default::default()
    };
    let (controller, engine) = create(&session, &options).map_err(|e| e.to_string())?;
    // The slowest bus's limiter look-ahead, as the engine computed it.
    let engine_latency = (0..session.session.buses.len())
        .map(|b| engine.bus_latency_frames(b))
        .max()
        .unwrap_or(0) as u32;
    let (backend, notes) = connection
        .start(engine, &session.session)
        .map_err(|e| e.to_string())?;
    for n in notes {
        println!("offline: {n}");
    }
    let (capture, playback) = backend.port_latency();
    println!(
        "latency: the engine adds {engine_latency} frames (limiter look-ahead); JACK reports {capture} frames capture + {playback} playback; total {:.2} ms",
        f64::from(capture + playback + engine_latency) * 1000.0 / f64::from(rate)
    );
    Ok((controller, backend, rate))
}

/// How `run` sets up the audio thread and memory.
pub struct ThreadOptions {
    /// Pin the audio thread to this CPU.
    pub cpu: Option<usize>,
    /// Ask for real-time scheduling.
    pub realtime: bool,
    /// Lock the process's memory.
    pub mlock: bool,
}

pub fn run(
    path: Option<&Path>,
    backend: &str,
    latency_frames: Option<usize>,
    seconds: Option<f64>,
    threads: &ThreadOptions,
) -> Result<ExitCode, String> {
    // Start-to-first-audio is measured from here: session loading included.
    let launched = Instant::now();
    let loaded = match path {
        Some(p) => load(p)?,
        None => {
            println!("session: built-in default (2 strips, 2 buses)");
            LoadedSession {
                session: Session::default_session(),
                path: "<built-in>".into(),
                base_dir: ".".into(),
                warnings: Vec::new(),
            }
        }
    };
    // Stamp the file as loaded: an edit from here on, even one made while the backend
    // starts, is a change to apply.
    let mut watch = path.map(Watch::new);
    let period = latency_frames.unwrap_or(loaded.session.block_frames as usize);
    if period == 0 || period > 65_536 {
        return Err(format!("--latency-frames {period} is outside 1..=65536"));
    }

    // Which backend, and why: JACK when a server answers, else cpal's default host when
    // it has an output device (builds with the `cpal` feature), else null.
    let mut use_device = false;
    let mut auto_why = String::new();
    let jack = match backend {
        "null" => {
            println!("backend: null");
            None
        }
        "jack" => Some(JackConnection::open(CLIENT_NAME).map_err(|e| e.to_string())?),
        "cpal" => {
            if !cfg!(feature = "cpal") {
                return Err(
                    "this build has no cpal backend: build with `--features cpal` (needs libasound2-dev)".into(),
                );
            }
            use_device = true;
            None
        }
        _ => match JackConnection::open(CLIENT_NAME) {
            Ok(c) => Some(c),
            Err(e) => {
                match device_output() {
                    Ok((host, _)) => {
                        auto_why = format!("auto: {e}; {host} has an output device");
                        use_device = true;
                    }
                    Err(why) => println!("backend: null (auto: {e}; {why})"),
                }
                None
            }
        },
    };
    let (rate, period) = match &jack {
        Some(c) => {
            println!(
                "backend: jack (client \"{}\" on a server at {} Hz, period {} frames{})",
                c.name(),
                c.sample_rate(),
                c.buffer_size(),
                if backend == "auto" {
                    "; auto: a JACK server answers"
                } else {
                    ""
                }
            );
            if latency_frames.is_some() {
                println!("note: --latency-frames is ignored on JACK: the server sets the period");
            }
            (c.sample_rate(), c.buffer_size() as usize)
        }
        None => (loaded.session.sample_rate, period),
    };
    if threads.mlock {
        println!("{}", troubadour_io::thread::lock_memory());
    }
    if !matches!(backend, "null") && threads.cpu.is_some() {
        println!(
            "note: --cpu pins the null backend's own thread; JACK's and cpal's audio threads are the server's and cpal's"
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("cannot handle signals: {e}"))?;
    }
    let started = Instant::now();
    // Relative file paths of the session resolve against this on a reconnection too.
    let loaded_base = loaded.base_dir.clone();
    let (mut controller, mut live, mut rate) = match jack {
        Some(c) => {
            let (controller, backend, rate) = start_jack(c, loaded)?;
            println!("audio thread: JACK's process thread (the server sets its scheduling)");
            (controller, Live::Jack(backend), rate)
        }
        None => {
            let options = EngineOptions {
                max_block_frames: Some(period.max(loaded.session.block_frames as usize)),
                ..Default::default()
            };
            let (mut controller, engine) = create(&loaded, &options).map_err(|e| e.to_string())?;
            let mut engine = Some(engine);
            let mut live = None;
            if use_device {
                match start_device(
                    engine.take().expect("unused"),
                    &loaded.session,
                    period,
                    &auto_why,
                ) {
                    Ok(l) => live = Some(l),
                    // `auto` falls back to the null backend when the device will not open.
                    Err(e) if backend == "auto" => {
                        println!("backend: null (auto: the cpal device did not start: {e})");
                        let (c, e) = create(&loaded, &options).map_err(|e| e.to_string())?;
                        (controller, engine) = (c, Some(e));
                    }
                    Err(e) => return Err(e),
                }
            }
            let live = match (live, engine) {
                (Some(l), _) => l,
                (None, Some(engine)) => {
                    let setup = ThreadSetup {
                        realtime_priority: threads.realtime.then_some(DEFAULT_PRIORITY),
                        cpu: threads.cpu,
                    };
                    let (b, granted) = NullBackend::start_with(engine, period, setup)
                        .map_err(|e| format!("cannot start the null backend: {e}"))?;
                    for line in granted {
                        println!("{line}");
                    }
                    Live::Null(b)
                }
                (None, None) => unreachable!("the engine went to a backend that started"),
            };
            (controller, live, rate)
        }
    };
    println!(
        "running at {rate} Hz, period {period} frames ({:.2} ms); Ctrl-C stops",
        period as f64 * 1000.0 / f64::from(rate)
    );
    // The first callback, waited for here (briefly) so the figure is exact to a
    // millisecond rather than to the status loop's tick.
    let first_deadline = Instant::now() + Duration::from_secs(2);
    while live.callbacks() == 0 && Instant::now() < first_deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    if live.callbacks() > 0 {
        println!(
            "first audio callback {:.0} ms after start",
            launched.elapsed().as_secs_f64() * 1e3
        );
    }

    let terminal = std::io::stdout().is_terminal();
    let interval = if terminal {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(1)
    };
    let mut next = Instant::now() + interval;
    let mut next_port_check = Instant::now();
    // The JACK period in force, to say when the server changes it (read here, not at the
    // first look in the loop: a change in between would otherwise pass unreported).
    let mut jack_period = match &live {
        Live::Jack(b) => b.stats().buffer_size,
        _ => 0,
    };
    while !stop.load(Ordering::Relaxed) {
        if seconds.is_some_and(|s| started.elapsed().as_secs_f64() >= s) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        controller.collect_garbage();
        if live.server_gone() {
            println!(
                "\nthe JACK server went away; the mixer keeps its session and reconnects when a server answers"
            );
            let gone = std::mem::replace(&mut live, Live::Waiting(Reconnect::new()));
            println!("the lost connection: {}", gone.stop(started.elapsed()));
        }
        if let Live::Waiting(r) = &mut live
            && r.due()
        {
            match JackConnection::open_quietly(CLIENT_NAME) {
                Ok(c) => {
                    let session = running(&controller, &loaded_base);
                    let after = r.attempts + 1;
                    match start_jack(c, session) {
                        Ok((c, b, new_rate)) => {
                            jack_period = b.stats().buffer_size;
                            println!(
                                "\nreconnected to the JACK server after {after} attempts ({new_rate} Hz, period {jack_period} frames): ports and connections restored"
                            );
                            (controller, live, rate) = (c, Live::Jack(b), new_rate);
                        }
                        Err(e) => {
                            println!("\nreconnection failed: {e}");
                            r.failed();
                        }
                    }
                }
                Err(_) => r.failed(),
            }
        }
        #[cfg(feature = "cpal")]
        if let Live::Device(b) = &mut live {
            for line in b.maintain() {
                println!("\n{line}");
            }
            if b.gone() {
                println!(
                    "\nthe output device \"{}\" went away; the mixer keeps its session and reopens the device when it returns",
                    b.device()
                );
                let id = b.device_id().to_string();
                let gone = std::mem::replace(&mut live, Live::DeviceWaiting(Reconnect::new(), id));
                println!("the lost device: {}", gone.stop(started.elapsed()));
            }
        }
        #[cfg(feature = "cpal")]
        if let Live::DeviceWaiting(r, id) = &mut live
            && r.due()
        {
            // The same device must be back; then a fresh engine, on that device.
            let master = troubadour_io::device::output_listed(id);
            let options = EngineOptions {
                max_block_frames: Some(period.max(controller.session().block_frames as usize)),
                ..Default::default()
            };
            let session = running(&controller, &loaded_base);
            let after = r.attempts + 1;
            // The backend opens the first bus's device by this id exactly (the session's
            // spec, or the default output, could now be another device).
            let mut on_it = session.session.clone();
            if let Some(bus) = on_it.buses.first_mut() {
                bus.sink = Some(troubadour_engine::session::Sink::Device(id.clone()));
            }
            let restarted = if master {
                create(&session, &options)
                    .map_err(|e| e.to_string())
                    .and_then(|(c, e)| Ok((c, start_device(e, &on_it, period, "")?)))
            } else {
                Err("not listed".into())
            };
            match restarted {
                Ok((c, l)) => {
                    println!("\nreopened the output device after {after} attempts");
                    (controller, live) = (c, l);
                }
                Err(_) => r.failed(),
            }
        }
        // A new server rate (recorded by the sample-rate callback): the engine is rebuilt
        // for it off the audio thread, by starting the client over through the
        // reconnection path. (jackd2 fixes its rate when it starts, so this is for
        // servers that can change it; a new period needs nothing rebuilt.)
        if let Live::Jack(b) = &live {
            let server_rate = b.stats().sample_rate;
            if server_rate != 0 && server_rate != rate {
                println!(
                    "\nthe JACK server now runs at {server_rate} Hz: rebuilding the engine for it"
                );
                let old = std::mem::replace(&mut live, Live::Waiting(Reconnect::new()));
                drop(old.stop(started.elapsed()));
            }
        }
        // A new period needs nothing rebuilt (the engine takes any frame count), but the
        // user should know: it changes the latency.
        if let Live::Jack(b) = &live {
            let frames = b.stats().buffer_size;
            if frames != 0 && frames != jack_period {
                println!(
                    "\nthe JACK server's period is now {frames} frames ({:.2} ms)",
                    f64::from(frames) * 1000.0 / f64::from(rate)
                );
                jack_period = frames;
            }
        }
        if let Live::Jack(b) = &mut live
            && Instant::now() >= next_port_check
        {
            // Peers that appear after we started (or after a reconnection) get connected.
            next_port_check = Instant::now() + Duration::from_millis(500);
            for line in b.connect_missing(controller.session()) {
                println!("\nonline: {line}");
            }
        }
        if let Some(w) = watch.as_mut()
            && w.changed()
            && reload(&mut controller, w.path(), rate, &live)
        {
            // JACK ports live in the process callback, so the client starts over with the
            // new set: a gap of a few periods, then ports and connections as the edited
            // session says (or the reconnection loop, if the server does not answer).
            println!("JACK ports changed: restarting the client with the new ports");
            let old = std::mem::replace(&mut live, Live::Waiting(Reconnect::new()));
            drop(old.stop(started.elapsed()));
            if let Ok(c) = JackConnection::open(CLIENT_NAME) {
                let session = running(&controller, &loaded_base);
                match start_jack(c, session) {
                    Ok((c, b, new_rate)) => {
                        println!("JACK client restarted with the new ports");
                        (controller, live, rate) = (c, Live::Jack(b), new_rate);
                    }
                    Err(e) => println!("restarting the JACK client failed: {e}; retrying"),
                }
            }
        }
        if Instant::now() >= next {
            next += interval;
            let line = status(&controller.read_meters(), &live, started.elapsed());
            if terminal {
                print!("\r{line}\x1b[K");
                let _ = std::io::stdout().flush();
            } else {
                println!("{line}");
            }
        }
    }
    if terminal {
        println!();
    }
    let s = controller.stats();
    println!(
        "{}; {} non-finite samples caught; {}",
        live.stop(started.elapsed()),
        s.non_finite,
        resident_memory()
    );
    Ok(ExitCode::SUCCESS)
}

/// Notices edits of the session file (by modification time and length).
struct Watch {
    path: std::path::PathBuf,
    seen: Option<(SystemTime, u64)>,
    next_check: Instant,
}

impl Watch {
    fn new(path: &Path) -> Self {
        Watch {
            path: path.to_path_buf(),
            seen: Self::stamp(path),
            next_check: Instant::now(),
        }
    }

    fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
        let m = std::fs::metadata(path).ok()?;
        Some((m.modified().ok()?, m.len()))
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// True once per change, checked at most every 200 ms.
    fn changed(&mut self) -> bool {
        if Instant::now() < self.next_check {
            return false;
        }
        self.next_check = Instant::now() + Duration::from_millis(200);
        let now = Self::stamp(&self.path);
        if now.is_some() && now != self.seen {
            self.seen = now;
            true
        } else {
            false
        }
    }
}

/// Applies an edited session live, or says why not and keeps the running one. Returns
/// true when the change needs other JACK ports than the running client has.
/// The session the controller runs now, to build a new engine from (on a reconnection
/// or restart); relative file paths resolve against `base_dir` as at the start.
fn running(controller: &Controller, base_dir: &Path) -> LoadedSession {
    LoadedSession {
        session: controller.session().clone(),
        path: controller.path().to_path_buf(),
        base_dir: base_dir.to_path_buf(),
        warnings: Vec::new(),
    }
}

fn reload(controller: &mut Controller, path: &Path, rate: u32, live: &Live) -> bool {
    let mut loaded = match session::load(path) {
        Ok(l) => l,
        Err(e) => {
            println!("\nreload rejected, the running session is unchanged:\n{e}");
            return false;
        }
    };
    loaded.session.sample_rate = rate;
    let ports_before = port_names(controller.session());
    let ports_after = port_names(&loaded.session);
    match controller.apply_session(loaded.session) {
        Ok(Applied::Unchanged) => println!("\nreloaded {}: no change", path.display()),
        Ok(Applied::Parameters(n)) => {
            println!(
                "\nreloaded {}: {n} parameter changes, gliding",
                path.display()
            )
        }
        Ok(Applied::Rebuilt) => {
            println!(
                "\nreloaded {}: structure changed, new graph swapped in",
                path.display()
            );
            return matches!(live, Live::Jack(_)) && ports_before != ports_after;
        }
        Err(e) => println!("\nreload rejected, the running session is unchanged: {e}"),
    }
    false
}

fn status(m: &MeterSnapshot, live: &Live, elapsed: Duration) -> String {
    let mut line = format!("{:>6.1}s ", elapsed.as_secs_f64());
    for bus in &m.buses {
        let peak = bus
            .post
            .iter()
            .map(|l| l.peak_db)
            .fold(f32::NEG_INFINITY, f32::max);
        let rms = bus
            .post
            .iter()
            .map(|l| l.rms_db)
            .fold(f32::NEG_INFINITY, f32::max);
        line.push_str(&format!(
            " {} {}/{} dBFS ",
            bus.name,
            fmt_db(peak),
            fmt_db(rms)
        ));
    }
    line.push_str("| ");
    line.push_str(&live.status());
    line
}

/// Resident memory now and at its peak, from /proc/self/status (Linux), with the part
/// that is ours (anonymous), mapped files (the binary, libraries) and shared memory (a
/// JACK server's segments, mapped into every client) told apart.
fn resident_memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mb = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    match (
        mb("VmRSS:"),
        mb("VmHWM:"),
        mb("RssAnon:"),
        mb("RssFile:"),
        mb("RssShmem:"),
    ) {
        (Some(now), Some(peak), Some(anon), Some(file), Some(shmem)) => format!(
            "resident memory {now:.1} MB (ours {anon:.1}, files {file:.1}, shared {shmem:.1}; peak {peak:.1} MB)"
        ),
        _ => "resident memory unknown".into(),
    }
}

fn fmt_db(x: f32) -> String {
    if x.is_finite() {
        format!("{x:.1}")
    } else {
        "-inf".into()
    }
}

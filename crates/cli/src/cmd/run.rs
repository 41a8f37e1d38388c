//! `troubadour run [SESSION.toml] [--backend auto|jack|pipewire|cpal|null] [--latency-frames N]`
//!
//! Starts a [`Host`] (which picks, supervises and restarts the backend), hands it to the
//! control [`Service`] (requests, events, scenes, undo, autosave and hot reload), serves
//! the control API, OSC and MIDI, prints what the host tells, shows a status line (or a log line a
//! second when stdout is not a terminal), and stops cleanly on Ctrl-C or SIGTERM.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use troubadour_control::event::MeterSample;
use troubadour_control::launch::{self, ApiOptions};
use troubadour_control::service::{Service, ServiceConfig};
use troubadour_engine::session::{LoadedSession, Session};
use troubadour_host::{Host, HostConfig, HostEvent};

use super::load_live_text;

/// `println!` that ignores a closed stdout: `run` keeps running (SIGPIPE stays ignored
/// for libjack's sake, see `main`), and a status line nobody reads is no reason to stop.
macro_rules! println {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// What `run` serves besides audio.
#[derive(Debug, Clone)]
pub struct Serve {
    /// Where the control API listens (None: `--no-api`).
    pub listen: Option<SocketAddr>,
    /// `--listen` was given: failing to listen there is an error (the default address
    /// being taken, e.g. by another instance, is only a warning).
    pub listen_given: bool,
    /// Where OSC listens (None: `--no-osc`).
    pub osc: Option<SocketAddr>,
    /// `--osc` was given: failing to bind there is an error.
    pub osc_given: bool,
    /// MIDI through JACK, and which ports to connect (None: `--no-midi`).
    pub midi: Option<troubadour_control::midi::MidiOptions>,
    /// Write API changes back to the session file.
    pub autosave: bool,
}

/// Where the control API listens unless told otherwise.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 7474);

/// Where OSC listens unless told otherwise.
pub const DEFAULT_OSC: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
    troubadour_control::osc::DEFAULT_PORT,
);

pub fn run(
    path: Option<&Path>,
    mut config: HostConfig,
    seconds: Option<f64>,
    serve: Serve,
) -> Result<ExitCode, String> {
    // Start-to-first-audio is measured from here: session loading included.
    let launched = Instant::now();
    let mut loaded_text = None;
    let loaded = match path {
        // Live: a strip whose file is not there yet plays silence (and says so).
        Some(p) => {
            let (loaded, text) = load_live_text(p)?;
            loaded_text = Some(text);
            loaded
        }
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
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("cannot handle signals: {e}"))?;
    }
    // The service watches the file itself, to merge hand edits with remote changes.
    let autosave = serve.autosave && loaded.path.is_file();
    config.watch_session = !loaded.path.is_file();
    // A JACK backend carries MIDI's ports on its own client (no second client for the
    // server to wake every period); the MIDI thread meets it through the hub.
    let mut serve = serve;
    if let Some(midi) = serve.midi.as_mut() {
        let hub = midi
            .hub
            .get_or_insert_with(troubadour_io::midi::MidiHub::new);
        config.midi = Some(std::sync::Arc::clone(hub));
    }
    let mut host = Host::start(loaded, config).map_err(|e| e.to_string())?;
    let events = host.subscribe();
    let terminal = std::io::stdout().is_terminal();
    let print_events = |fresh_line: bool| {
        while let Ok(event) = events.try_recv() {
            // A terminal's status line is redrawn in place: an event starts a new line.
            println!("{}{event}", if fresh_line { "\n" } else { "" });
            if let HostEvent::BackendLost { .. } = event {
                let _ = std::io::stdout().flush();
            }
        }
    };
    print_events(false);
    let clock = host.clock();
    println!(
        "running at {} Hz, period {} frames ({:.2} ms); Ctrl-C stops",
        clock.sample_rate,
        clock.period_frames,
        clock.period_ms()
    );
    // The first callback, waited for here (briefly) so the figure is exact to a
    // millisecond rather than to the status loop's tick.
    let first_deadline = Instant::now() + Duration::from_secs(2);
    let callbacks = |h: &Host| h.backend_stats().map_or(0, |s| s.callbacks);
    while callbacks(&host) == 0 && Instant::now() < first_deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    if callbacks(&host) > 0 {
        println!(
            "first audio callback {:.0} ms after start",
            launched.elapsed().as_secs_f64() * 1e3
        );
    }

    let mut service = Service::new(
        host,
        ServiceConfig {
            autosave,
            loaded_text,
            ..Default::default()
        },
    );
    let api = match serve.listen {
        Some(listen) => match launch::start_api(&ApiOptions::new(listen), service.handle()) {
            Ok(api) => {
                for line in &api.lines {
                    println!("{line}");
                }
                Some(api)
            }
            Err(e) if !serve.listen_given => {
                println!("warning: {e}; running without it");
                None
            }
            Err(e) => {
                drop(service.shutdown());
                return Err(e);
            }
        },
        None => None,
    };
    let osc = match serve.osc {
        Some(listen) => match launch::start_osc(listen, &mut service) {
            Ok(osc) => {
                println!("{}", osc.line);
                Some(osc)
            }
            Err(e) if !serve.osc_given => {
                println!("warning: {e}; running without it");
                None
            }
            Err(e) => {
                if let Some(api) = api {
                    api.server.stop();
                }
                drop(service.shutdown());
                return Err(e);
            }
        },
        None => None,
    };
    let midi = match serve.midi {
        Some(options) => match launch::start_midi(options, &mut service) {
            Ok((midi, line)) => {
                println!("{line}");
                Some(midi)
            }
            Err(e) => {
                println!("warning: {e}; running without it");
                None
            }
        },
        None => None,
    };
    if autosave {
        println!("autosave: changes made remotely are written back to the session file");
    }

    let interval = if terminal {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(1)
    };
    let started = Instant::now();
    let mut next = started + interval;
    service.run(&stop, |service| {
        if seconds.is_some_and(|s| started.elapsed().as_secs_f64() >= s) {
            stop.store(true, Ordering::Relaxed);
        }
        print_events(terminal);
        if Instant::now() >= next {
            next += interval;
            let meters = service.take_status_meters();
            let line = status(meters.as_ref(), service, started.elapsed());
            if terminal {
                print!("\r{line}\x1b[K");
                let _ = std::io::stdout().flush();
            } else {
                println!("{line}");
            }
        }
    });
    if terminal {
        println!();
    }
    if let Some(midi) = midi {
        midi.stop();
    }
    if let Some(osc) = osc {
        osc.osc.stop();
    }
    if let Some(api) = api {
        api.server.stop();
    }
    let closing = service.shutdown();
    print_events(false);
    println!("{closing}");
    Ok(ExitCode::SUCCESS)
}

fn status(m: Option<&MeterSample>, service: &mut Service, elapsed: Duration) -> String {
    let mut line = format!("{:>6.1}s ", elapsed.as_secs_f64());
    for bus in m.map(|m| m.buses.as_slice()).unwrap_or_default() {
        let peak = bus
            .post
            .iter()
            .map(|l| l.0)
            .fold(f32::NEG_INFINITY, f32::max);
        let rms = bus
            .post
            .iter()
            .map(|l| l.1)
            .fold(f32::NEG_INFINITY, f32::max);
        line.push_str(&format!(
            " {} {}/{} dBFS ",
            bus.name,
            fmt_db(peak),
            fmt_db(rms)
        ));
    }
    line.push_str("| ");
    line.push_str(&service.status_line());
    line
}

fn fmt_db(x: f32) -> String {
    if x.is_finite() {
        format!("{x:.1}")
    } else {
        "-inf".into()
    }
}

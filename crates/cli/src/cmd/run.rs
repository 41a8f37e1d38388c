//! `troubadour run [SESSION.toml] [--backend auto|jack|cpal|null] [--latency-frames N]`
//!
//! Starts a [`Host`] (which picks, supervises and restarts the backend and applies
//! edits of the session file), prints what it tells, shows a status line (or a log line
//! a second when stdout is not a terminal), and stops cleanly on Ctrl-C or SIGTERM.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use troubadour_engine::MeterSnapshot;
use troubadour_engine::session::{LoadedSession, Session};
use troubadour_host::{Host, HostConfig, HostEvent};

use super::load_live;

/// `println!` that ignores a closed stdout: `run` keeps running (SIGPIPE stays ignored
/// for libjack's sake, see `main`), and a status line nobody reads is no reason to stop.
macro_rules! println {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// How often the host is ticked.
const TICK: Duration = Duration::from_millis(10);

pub fn run(
    path: Option<&Path>,
    config: HostConfig,
    seconds: Option<f64>,
) -> Result<ExitCode, String> {
    // Start-to-first-audio is measured from here: session loading included.
    let launched = Instant::now();
    let loaded = match path {
        // Live: a strip whose file is not there yet plays silence (and says so).
        Some(p) => load_live(p)?,
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

    let interval = if terminal {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(1)
    };
    let started = Instant::now();
    let mut next = started + interval;
    while !stop.load(Ordering::Relaxed) {
        if seconds.is_some_and(|s| started.elapsed().as_secs_f64() >= s) {
            break;
        }
        std::thread::sleep(TICK);
        host.tick();
        print_events(terminal);
        if Instant::now() >= next {
            next += interval;
            let line = status(&host.controller().read_meters(), &host, started.elapsed());
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
    println!("{}", host.shutdown());
    Ok(ExitCode::SUCCESS)
}

fn status(m: &MeterSnapshot, host: &Host, elapsed: Duration) -> String {
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
    line.push_str(&host.status_line());
    line
}

fn fmt_db(x: f32) -> String {
    if x.is_finite() {
        format!("{x:.1}")
    } else {
        "-inf".into()
    }
}

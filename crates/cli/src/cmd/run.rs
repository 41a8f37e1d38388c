//! `troubadour run [SESSION.toml] [--backend auto|null] [--latency-frames N]`

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use troubadour_engine::session::{LoadedSession, Session};
use troubadour_engine::{EngineOptions, MeterSnapshot, create};
use troubadour_io::null::NullBackend;

use super::load;

pub fn run(
    path: Option<&Path>,
    backend: &str,
    latency_frames: Option<usize>,
    seconds: Option<f64>,
) -> Result<ExitCode, String> {
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
    let period = latency_frames.unwrap_or(loaded.session.block_frames as usize);
    if period == 0 || period > 65_536 {
        return Err(format!("--latency-frames {period} is outside 1..=65536"));
    }
    match backend {
        "auto" => println!("backend: null (auto: this build has no JACK or cpal backend yet)"),
        _ => println!("backend: null"),
    }
    let options = EngineOptions {
        max_block_frames: Some(period.max(loaded.session.block_frames as usize)),
        ..Default::default()
    };
    let (mut controller, engine) = create(&loaded, &options).map_err(|e| e.to_string())?;
    let rate = loaded.session.sample_rate;
    println!(
        "running at {rate} Hz, period {period} frames ({:.2} ms); Ctrl-C stops",
        period as f64 * 1000.0 / f64::from(rate)
    );

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("cannot handle signals: {e}"))?;
    }
    let started = Instant::now();
    let backend = NullBackend::start(engine, period)
        .map_err(|e| format!("cannot start the null backend: {e}"))?;
    let terminal = std::io::stdout().is_terminal();
    let interval = if terminal {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(1)
    };
    let mut next = Instant::now() + interval;
    while !stop.load(Ordering::Relaxed) {
        if seconds.is_some_and(|s| started.elapsed().as_secs_f64() >= s) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        controller.collect_garbage();
        if Instant::now() >= next {
            next += interval;
            let line = status(&controller.read_meters(), &backend, started.elapsed());
            if terminal {
                print!("\r{line}\x1b[K");
                let _ = std::io::stdout().flush();
            } else {
                println!("{line}");
            }
        }
    }
    let b = backend.stats();
    drop(backend.stop());
    let s = controller.stats();
    if terminal {
        println!();
    }
    println!(
        "stopped after {:.1} s: {} periods, {} late wake-ups, {} overruns, mean DSP load {:.3}%, {} non-finite samples caught",
        started.elapsed().as_secs_f64(),
        b.callbacks,
        b.late_wakeups,
        b.overruns,
        b.load_mean * 100.0,
        s.non_finite
    );
    Ok(ExitCode::SUCCESS)
}

fn status(m: &MeterSnapshot, backend: &NullBackend, elapsed: Duration) -> String {
    let b = backend.stats();
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
    line.push_str(&format!(
        "| load {:.2}% (max {:.2}%) | late {} | overruns {}",
        b.load_last * 100.0,
        b.load_max * 100.0,
        b.late_wakeups,
        b.overruns
    ));
    line
}

fn fmt_db(x: f32) -> String {
    if x.is_finite() {
        format!("{x:.1}")
    } else {
        "-inf".into()
    }
}

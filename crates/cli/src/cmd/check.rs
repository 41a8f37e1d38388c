//! `troubadour check SESSION.toml`

use std::path::Path;
use std::process::ExitCode;

use troubadour_engine::session::{self, Severity};

pub fn check(path: &Path) -> Result<ExitCode, String> {
    // MIDI targets and macro actions name parameters: the control plane's namespace
    // says whether they exist.
    let loaded = session::load(path).and_then(|loaded| {
        let diagnostics = troubadour_control::midi::targets::check(&loaded);
        if diagnostics.is_empty() {
            Ok(loaded)
        } else {
            Err(session::SessionError { diagnostics })
        }
    });
    let clashes = match &loaded {
        Ok(l) => server_clashes(&l.session),
        Err(_) => Vec::new(),
    };
    if !clashes.is_empty() {
        for c in &clashes {
            println!("{}: error: {c}", path.display());
        }
        println!(
            "{}: invalid ({} error{})",
            path.display(),
            clashes.len(),
            if clashes.len() == 1 { "" } else { "s" }
        );
        return Ok(ExitCode::FAILURE);
    }
    match loaded {
        Ok(loaded) => {
            for w in &loaded.warnings {
                println!("{w}");
            }
            let s = &loaded.session;
            println!(
                "{}: valid ({}, {}, {} Hz, {}-frame blocks{})",
                path.display(),
                super::count(s.strips.len(), "strip", "strips"),
                super::count(s.buses.len(), "bus", "buses"),
                s.sample_rate,
                s.block_frames,
                match loaded.warnings.len() {
                    0 => String::new(),
                    1 => ", 1 warning".into(),
                    n => format!(", {n} warnings"),
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            for d in &e.diagnostics {
                println!("{d}");
            }
            let errors = e
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            println!(
                "{}: invalid ({errors} error{})",
                path.display(),
                if errors == 1 { "" } else { "s" }
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Virtual device names must not be taken by another program's device on the sound
/// server: PipeWire's, else PulseAudio's (asked only when one answers: the session is
/// also valid for a machine where it will run later). On PipeWire its Pulse interface
/// shows the same devices, so only one of the two is asked.
fn server_clashes(session: &troubadour_engine::session::Session) -> Vec<String> {
    #[cfg(feature = "pipewire")]
    if let Ok(found) = troubadour_io::pipewire::clashes(session) {
        return found;
    }
    #[cfg(feature = "cpal")]
    if let Ok(found) = troubadour_io::device::pulse_clashes(session) {
        return found;
    }
    let _ = session;
    Vec::new()
}

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
    // Virtual device names must not be taken by another program's device on the
    // PipeWire server (asked only when one answers: the session is also valid for a
    // machine where it will run later).
    #[cfg(feature = "pipewire")]
    let clashes = match &loaded {
        Ok(l) => troubadour_io::pipewire::clashes(&l.session).unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    #[cfg(not(feature = "pipewire"))]
    let clashes: Vec<String> = Vec::new();
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

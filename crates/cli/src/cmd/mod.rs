//! One module per subcommand. Each returns the exit code, or an error message for the
//! user (printed by `main`).

pub mod bench;
pub mod check;
pub mod ctl;
pub mod devices;
pub mod render;
pub mod resample;
pub mod run;

use std::path::Path;

use troubadour_engine::session::{self, LoadedSession};

/// Loads a session, printing its warnings to stderr; on failure the message lists
/// every problem.
pub fn load(path: &Path) -> Result<LoadedSession, String> {
    report(session::load(path))
}

/// [`load`] for the live mixer, with the text the session was parsed from: a file
/// source that is not there yet is a warning (its strip plays silence until the file
/// appears), not an error.
pub fn load_live_text(path: &Path) -> Result<(LoadedSession, String), String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        // Said the way every command says it.
        return report(session::load_live(path)).map(|l| (l, String::new()));
    };
    let loaded = report(session::parse_live(&text, path))?;
    Ok((loaded, text))
}

fn report(loaded: Result<LoadedSession, session::SessionError>) -> Result<LoadedSession, String> {
    let loaded = loaded.map_err(|e| format!("invalid session\n{e}"))?;
    let diagnostics = troubadour_control::midi::targets::check(&loaded);
    if !diagnostics.is_empty() {
        return Err(format!(
            "invalid session\n{}",
            session::SessionError { diagnostics }
        ));
    }
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    Ok(loaded)
}

/// dBFS for a table: one decimal, `-inf` for silence.
pub fn db(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.1}")
    } else {
        "-inf".into()
    }
}

/// `n` and the noun in the right number: "1 strip", "2 strips".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// How many times faster than real time `audio` seconds took `elapsed` seconds, for
/// people: two significant figures below 10 ("0.12×", "3.5×"), whole numbers above.
pub fn speed(audio: f64, elapsed: f64) -> String {
    let factor = audio / elapsed.max(1e-9);
    if factor >= 10.0 {
        format!("{factor:.0}×")
    } else if factor >= 1.0 {
        format!("{factor:.1}×")
    } else {
        // Two significant figures however small: 0.12, 0.012.
        let decimals = (1.0 - factor.max(1e-6).log10().floor()) as usize;
        format!("{factor:.decimals$}×")
    }
}

#[cfg(test)]
mod tests {
    use super::speed;

    #[test]
    fn speed_never_rounds_to_zero() {
        assert_eq!(speed(1.0, 10.0), "0.10×");
        assert_eq!(speed(1.0, 80.0), "0.013×");
        assert_eq!(speed(3.0, 1.0), "3.0×");
        assert_eq!(speed(550.0, 1.0), "550×");
    }
}

//! One module per subcommand. Each returns the exit code, or an error message for the
//! user (printed by `main`).

pub mod bench;
pub mod check;
pub mod devices;
pub mod render;
pub mod resample;
pub mod run;

use std::path::Path;

use troubadour_engine::session::{self, LoadedSession};

/// Loads a session, printing its warnings to stderr; on failure the message lists
/// every problem.
pub fn load(path: &Path) -> Result<LoadedSession, String> {
    let loaded = session::load(path).map_err(|e| format!("invalid session\n{e}"))?;
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

/// `text` as a JSON string literal.
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

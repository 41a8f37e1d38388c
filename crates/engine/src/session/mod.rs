//! The session model, its TOML file format, validation and atomic saving.
//!
//! ```
//! use troubadour_engine::session;
//!
//! let text = r#"
//! version = 1
//! [[strip]]
//! name = "Tone"
//! source = { generator = "sine", freq = 1000.0 }
//! sends = { A1 = {} }
//! [[bus]]
//! name = "A1"
//! "#;
//! let loaded = session::parse(text, "demo.toml".as_ref()).unwrap();
//! assert_eq!(loaded.session.strips[0].channels, 2);
//!
//! let err = session::parse(&text.replace("freq", "freqq"), "demo.toml".as_ref()).unwrap_err();
//! assert!(err.to_string().starts_with("demo.toml:5:"), "{err}");
//! ```

mod diagnostic;
mod locate;
mod midi;
mod model;
mod recorder;
mod validate;

use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, SessionError, Severity};
pub use locate::{Position, Seg};
pub use midi::{
    Action, ControlKind, MAX_FADE_MS, Macro, MacroAction, MidiControl, MidiMapping, RecorderOp,
    Relative, diagnostic_at,
};
pub use model::*;
pub use recorder::{
    BUFFER_SECONDS_RANGE, DEFAULT_BUFFER_SECONDS, RecordFormat, Recorder, TrackRef,
};
pub use validate::{
    BLOCK_FRAMES_RANGE, FADER_MAX_DB, MAX_CHANNELS, MAX_EQ_BANDS, SAMPLE_RATE_RANGE, TRIM_RANGE_DB,
    app_pattern, channels_compatible,
};

use locate::Locator;

/// A session that parsed and validated, with what is needed to resolve its files.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSession {
    /// The session.
    pub session: Session,
    /// The file it came from (or the name it is reported under).
    pub path: PathBuf,
    /// Directory that relative file paths in the session are resolved against.
    pub base_dir: PathBuf,
    /// Problems that do not stop the session from working.
    pub warnings: Vec<Diagnostic>,
}

impl LoadedSession {
    /// An error about strip `strip`'s source, located at its `source.file` in the
    /// session file as it is on disk now (or at its start, if it cannot be read).
    pub fn locate_source(&self, strip: usize, message: String) -> SessionError {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let position = Locator::new(&text).position(&[
            "strip".into(),
            strip.into(),
            "source".into(),
            "file".into(),
        ]);
        let name = self
            .session
            .strips
            .get(strip)
            .map_or("", |s| s.name.as_str());
        SessionError {
            diagnostics: vec![Diagnostic {
                file: self.path.clone(),
                line: position.line,
                column: position.column,
                field: format!("strip {name:?} source.file"),
                message,
                severity: Severity::Error,
            }],
        }
    }
}

/// Reads, parses and validates the session file at `path`.
pub fn load(path: &Path) -> Result<LoadedSession, SessionError> {
    load_as(path, false)
}

/// [`load`] for a live mixer: a missing file source is a warning (see
/// [`validate_live`]).
pub fn load_live(path: &Path) -> Result<LoadedSession, SessionError> {
    load_as(path, true)
}

fn load_as(path: &Path, live: bool) -> Result<LoadedSession, SessionError> {
    let text = std::fs::read_to_string(path).map_err(|e| SessionError {
        diagnostics: vec![Diagnostic {
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            field: String::new(),
            message: format!("cannot read the session file: {e}"),
            severity: Severity::Error,
        }],
    })?;
    parse_as(&text, path, live)
}

fn base_dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Parses and validates session text; `path` names it in messages and anchors its
/// relative file paths.
pub fn parse(text: &str, path: &Path) -> Result<LoadedSession, SessionError> {
    parse_as(text, path, false)
}

/// [`parse`] for a live mixer: a missing file source is a warning (see
/// [`validate_live`]).
pub fn parse_live(text: &str, path: &Path) -> Result<LoadedSession, SessionError> {
    parse_as(text, path, true)
}

fn parse_as(text: &str, path: &Path, live: bool) -> Result<LoadedSession, SessionError> {
    let session: Session = toml::from_str(text).map_err(|e| {
        let position = e.span().map_or(Position { line: 1, column: 1 }, |s| {
            Position::of_offset(text, s.start)
        });
        SessionError {
            diagnostics: vec![Diagnostic {
                file: path.to_path_buf(),
                line: position.line,
                column: position.column,
                field: String::new(),
                message: e.message().trim().to_string(),
                severity: Severity::Error,
            }],
        }
    })?;
    let base_dir = base_dir_of(path);
    let warnings = check_text(&session, text, path, &base_dir, live)?;
    Ok(LoadedSession {
        session,
        path: path.to_path_buf(),
        base_dir,
        warnings,
    })
}

/// Validates a session built in memory (e.g. edited through the controller, or loaded
/// earlier). Problems are located in the file at `path` when it still holds this very
/// session (so a source file that broke since loading is reported where the user wrote
/// it), else in the session's TOML form, as it would be saved.
pub fn validate(
    session: &Session,
    path: &Path,
    base_dir: &Path,
) -> Result<Vec<Diagnostic>, SessionError> {
    validate_as(session, path, base_dir, false)
}

/// [`validate`] for a live mixer: a file source that is not there is a warning (its
/// strip plays silence until the file appears), where a render or `check` refuses it.
pub fn validate_live(
    session: &Session,
    path: &Path,
    base_dir: &Path,
) -> Result<Vec<Diagnostic>, SessionError> {
    validate_as(session, path, base_dir, true)
}

fn validate_as(
    session: &Session,
    path: &Path,
    base_dir: &Path,
    live: bool,
) -> Result<Vec<Diagnostic>, SessionError> {
    let on_disk = std::fs::read_to_string(path)
        .ok()
        .filter(|text| toml::from_str::<Session>(text).ok().as_ref() == Some(session));
    let text = on_disk.unwrap_or_else(|| toml::to_string_pretty(session).unwrap_or_default());
    check_text(session, &text, path, base_dir, live)
}

fn check_text(
    session: &Session,
    text: &str,
    path: &Path,
    base_dir: &Path,
    live: bool,
) -> Result<Vec<Diagnostic>, SessionError> {
    let locator = Locator::new(text);
    let mut diagnostics: Vec<Diagnostic> = validate::validate(session, base_dir, live)
        .into_iter()
        .map(|p| {
            let position = locator.position(&p.path);
            Diagnostic {
                file: path.to_path_buf(),
                line: position.line,
                column: position.column,
                field: p.field,
                message: p.message,
                severity: p.severity,
            }
        })
        .collect();
    diagnostics.sort_by_key(|d| (d.line, d.column));
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        Err(SessionError { diagnostics })
    } else {
        Ok(diagnostics)
    }
}

/// Writes `session` to `path` atomically ([`crate::atomic_file`]): a crash leaves
/// either the old file or the new one, never half of one.
pub fn save(session: &Session, path: &Path) -> std::io::Result<()> {
    let text = toml::to_string_pretty(session).map_err(std::io::Error::other)?;
    crate::atomic_file::write_atomic(path, text.as_bytes())
}

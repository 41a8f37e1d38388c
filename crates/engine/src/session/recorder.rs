//! The session's `[recorder]` table: where takes go, their format, and what is
//! recorded.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::diagnostic::Severity;
use super::locate::Seg;
use super::model::Session;
use super::validate::Problem;

/// Seconds of audio a track's ring holds by default: how long the disk may stall
/// before frames are lost.
pub const DEFAULT_BUFFER_SECONDS: f64 = 4.0;

/// The range `buffer_seconds` may take.
pub const BUFFER_SECONDS_RANGE: (f64, f64) = (0.25, 60.0);

/// The recorder's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recorder {
    /// The folder takes go in, relative to the session file.
    #[serde(default = "default_dir")]
    pub dir: PathBuf,
    /// The files' sample format.
    #[serde(default)]
    pub format: RecordFormat,
    /// What is recorded, one file each: `strip/<name>` (post-fader),
    /// `strip/<name>:pre` (pre-fader) or `bus/<name>` (as it leaves).
    #[serde(default)]
    pub tracks: Vec<String>,
    /// Seconds each track's ring holds.
    #[serde(default = "default_buffer")]
    pub buffer_seconds: f64,
}

fn default_dir() -> PathBuf {
    "takes".into()
}

fn default_buffer() -> f64 {
    DEFAULT_BUFFER_SECONDS
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            dir: default_dir(),
            format: RecordFormat::default(),
            tracks: Vec::new(),
            buffer_seconds: DEFAULT_BUFFER_SECONDS,
        }
    }
}

/// Sample format of a take's files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordFormat {
    /// 32-bit float WAV (RF64 past 4 GiB).
    #[default]
    #[serde(rename = "wav-f32")]
    WavF32,
    /// 24-bit integer WAV, TPDF-dithered.
    #[serde(rename = "wav-24")]
    Wav24,
    /// 16-bit integer WAV, TPDF-dithered.
    #[serde(rename = "wav-16")]
    Wav16,
    /// 24-bit FLAC, TPDF-dithered: lossless, about half the size of `wav-24`.
    #[serde(rename = "flac-24")]
    Flac24,
    /// 16-bit FLAC, TPDF-dithered.
    #[serde(rename = "flac-16")]
    Flac16,
}

/// What a track taps, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackRef {
    /// A strip; `pre` for its pre-fader tap.
    Strip {
        /// Strip name.
        name: String,
        /// Pre-fader rather than post-fader.
        pre: bool,
    },
    /// A bus as it leaves.
    Bus(String),
}

impl TrackRef {
    /// Parses `strip/Host`, `strip/Guest:pre`, `strip/Guest:post` or `bus/A1`.
    pub fn parse(text: &str) -> Result<TrackRef, String> {
        let expected = "expected strip/<name>, strip/<name>:pre or bus/<name>";
        let (kind, rest) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?}: {expected}"))?;
        let (name, tap) = match rest.rsplit_once(':') {
            Some((n, t)) => (n, Some(t)),
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(format!("{text:?}: no name after {kind}/ ({expected})"));
        }
        match (kind, tap) {
            ("strip", None | Some("post")) => Ok(TrackRef::Strip {
                name: name.into(),
                pre: false,
            }),
            ("strip", Some("pre")) => Ok(TrackRef::Strip {
                name: name.into(),
                pre: true,
            }),
            ("bus", None) => Ok(TrackRef::Bus(name.into())),
            ("bus", Some(t)) => Err(format!(
                "{text:?}: a bus is recorded as it leaves; :{t} applies to strips only"
            )),
            ("strip", Some(t)) => Err(format!(
                "{text:?}: unknown tap :{t} (expected :pre or :post)"
            )),
            (k, _) => Err(format!("{text:?}: unknown kind {k:?} ({expected})")),
        }
    }
}

/// The `[recorder]` table's problems: every track names a strip or bus that exists,
/// once; the buffer is in range; the folder is named.
pub(crate) fn check(session: &Session) -> Vec<Problem> {
    let Some(r) = &session.recorder else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    let mut error = |path: Vec<Seg>, field: String, message: String| {
        problems.push(Problem {
            path,
            field,
            message,
            severity: Severity::Error,
        });
    };
    let at = |k: &str| vec![Seg::from("recorder"), Seg::from(k)];
    if r.dir.as_os_str().is_empty() {
        error(
            at("dir"),
            "recorder.dir".into(),
            "takes need a folder name".into(),
        );
    }
    let (lo, hi) = BUFFER_SECONDS_RANGE;
    if !(lo..=hi).contains(&r.buffer_seconds) {
        error(
            at("buffer_seconds"),
            "recorder.buffer_seconds".into(),
            format!("{} s is outside {lo}..={hi} s", r.buffer_seconds),
        );
    }
    let mut seen: Vec<&str> = Vec::new();
    for (i, t) in r.tracks.iter().enumerate() {
        let path = vec![Seg::from("recorder"), Seg::from("tracks"), Seg::from(i)];
        let field = format!("recorder.tracks[{i}]");
        match TrackRef::parse(t) {
            Err(e) => error(path, field, e),
            Ok(TrackRef::Strip { name, .. }) if session.strip_index(&name).is_none() => {
                error(
                    path,
                    field,
                    format!("{t:?}: the session has no strip {name:?}"),
                );
            }
            Ok(TrackRef::Bus(name)) if session.bus_index(&name).is_none() => {
                error(
                    path,
                    field,
                    format!("{t:?}: the session has no bus {name:?}"),
                );
            }
            Ok(_) if seen.contains(&t.as_str()) => {
                error(path, field, format!("{t:?} is listed twice"));
            }
            Ok(_) => seen.push(t),
        }
    }
    problems
}

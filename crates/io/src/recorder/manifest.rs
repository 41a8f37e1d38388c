//! A take's manifest (`take.json`): what the take holds, written atomically whenever it
//! changes, so a crash leaves the last complete version.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};
use troubadour_engine::atomic_file::write_atomic;

/// The manifest's file name inside a take's folder.
pub const MANIFEST: &str = "take.json";

/// Where a take stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TakeState {
    /// Being written (or interrupted, if no process is writing it).
    Recording,
    /// Stopped and every file finished.
    Complete,
    /// Interrupted, then repaired at a later start.
    Repaired,
}

/// One track of a take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestTrack {
    /// The track as the session names it (`strip/Host`, `strip/Guest:pre`, `bus/A1`).
    pub name: String,
    /// Its file, inside the take's folder.
    pub file: String,
    /// Interleaved channels.
    pub channels: u16,
    /// Frames in the file (0 while recording).
    pub frames: u64,
    /// Frames lost because the disk fell behind (silence stands in for them).
    pub dropped_frames: u64,
}

/// A marker, in frames from the take's start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marker {
    /// Frames from the start of the take.
    pub frame: u64,
    /// What the user called it (may be empty).
    pub label: String,
}

/// The manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Bumped if the layout ever changes incompatibly.
    pub version: u32,
    /// The session's file name, without extension.
    pub session: String,
    /// Frames per second of every file.
    pub sample_rate: u32,
    /// When the take started, UTC (RFC 3339, seconds).
    pub started_utc: String,
    /// The files' sample format (`wav-f32`, `wav-24`, `wav-16`).
    pub format: String,
    /// Where the take stands.
    pub state: TakeState,
    /// The tracks, in the session's order.
    pub tracks: Vec<ManifestTrack>,
    /// Markers, in the order they were set.
    pub markers: Vec<Marker>,
}

impl Manifest {
    /// Writes the manifest into `dir` atomically.
    pub fn save(&self, dir: &Path) -> io::Result<()> {
        let mut text = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
        text.push('\n');
        write_atomic(&dir.join(MANIFEST), text.as_bytes())
    }

    /// Reads the manifest of the take in `dir`.
    pub fn load(dir: &Path) -> io::Result<Self> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path)?;
        serde_json::from_str(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}:{}:{}: {e}", path.display(), e.line(), e.column()),
            )
        })
    }
}

//! Takes interrupted by a crash (their manifest still says `recording`): their files'
//! sizes are fixed from their lengths and the manifest says `repaired`.

use std::path::{Path, PathBuf};

use super::format::repair;
use super::manifest::{Manifest, TakeState};

/// One repaired take.
#[derive(Debug, Clone, PartialEq)]
pub struct RepairedTake {
    /// Its folder.
    pub folder: PathBuf,
    /// Frames each track's file holds after the repair, in track order.
    pub frames: Vec<u64>,
}

/// Repairs every interrupted take in `dir` (a folder of takes; a missing folder has
/// none). Returns the takes repaired and, for each take that could not be, why.
pub fn repair_takes(dir: &Path) -> (Vec<RepairedTake>, Vec<String>) {
    let (mut repaired, mut failed) = (Vec::new(), Vec::new());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (repaired, failed);
    };
    let mut folders: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        let Ok(mut manifest) = Manifest::load(&folder) else {
            continue;
        };
        if manifest.state != TakeState::Recording {
            continue;
        }
        let mut frames = Vec::new();
        let mut problem = None;
        for t in manifest.tracks.iter_mut() {
            match repair(&folder.join(&t.file)) {
                Ok(f) => {
                    t.frames = f;
                    frames.push(f);
                }
                Err(e) => problem = Some(format!("{}: {e}", folder.join(&t.file).display())),
            }
        }
        if let Some(p) = problem {
            failed.push(p);
            continue;
        }
        manifest.state = TakeState::Repaired;
        match manifest.save(&folder) {
            Ok(()) => repaired.push(RepairedTake { folder, frames }),
            Err(e) => failed.push(format!("{}: {e}", folder.display())),
        }
    }
    (repaired, failed)
}

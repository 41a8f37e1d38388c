//! Autosave and hot reload together.
//!
//! Changes are written back to the session file about a second after the last one
//! (at most five seconds after the first of a run, so a fader moved without pause is
//! still saved), atomically, keeping the user's comments and layout. The file is
//! watched here, not by the host, so that a hand edit can be merged with remote
//! changes: **the hand edit wins for what it changed; remote changes to anything else
//! are kept** (and, when saving, the merged result is written back so the file says
//! what runs). The service's own writes are known by content and never taken for an
//! edit, and a save never writes over an edit it has not read yet. While the file
//! holds an edit that does not parse or validate, nothing is written over it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use troubadour_engine::atomic_file::write_atomic;
use troubadour_engine::session::{self, Session};
use troubadour_host::{FileChange, Watch};

use super::Service;
use super::diff::diff;
use crate::event::Outgoing;
use crate::file;

/// A run of changes is saved at the latest this long after its first change.
const MAX_UNSAVED: Duration = Duration::from_secs(5);

/// The session file, as this service last read or wrote it.
#[derive(Debug)]
pub struct Saver {
    path: PathBuf,
    watch: Watch,
    /// The file's text as last read or written.
    text: String,
    /// What that text says.
    base: Session,
    delay: Duration,
    /// Write changes back (`--no-autosave` only watches).
    writes: bool,
    dirty: Option<(Instant, Instant)>,
    /// The file holds an edit that was refused: not written over until it is fixed.
    suspended: bool,
    /// A valid edit the host could not take yet (a graph swap in flight), and how many
    /// times it was tried.
    retry: Option<(String, u32)>,
}

impl Saver {
    /// Whether it writes changes back.
    pub fn writes(&self) -> bool {
        self.writes
    }
}

/// Tries of an edit the host turned down for a passing reason, before it is reported.
const RETRIES: u32 = 20;

impl Saver {
    /// Watches (and with `writes`, saves) `path`, whose running session came from
    /// `loaded` (its text as read then; read now if `None`); `None` if it is no file
    /// (the built-in session).
    pub fn new(
        path: &Path,
        loaded: Option<String>,
        delay: Duration,
        writes: bool,
    ) -> Option<Saver> {
        let text = match loaded {
            Some(t) => t,
            None => std::fs::read_to_string(path).ok()?,
        };
        let base = session::parse_live(&text, path).ok()?.session;
        Some(Saver {
            path: path.to_path_buf(),
            watch: Watch::from_content(path, text.clone()),
            text,
            base,
            delay,
            writes,
            dirty: None,
            suspended: false,
            retry: None,
        })
    }
}

impl Service {
    /// The running session as the file would say it: the rate and block size the file
    /// asks for, not those a JACK server imposed.
    pub(super) fn file_view(&self) -> Session {
        let mut s = self.host.controller().session().clone();
        if let Some(saver) = &self.saver {
            s.sample_rate = saver.base.sample_rate;
            s.block_frames = saver.base.block_frames;
        }
        s
    }

    pub(super) fn mark_dirty(&mut self) {
        if let Some(saver) = self.saver.as_mut().filter(|s| s.writes) {
            let now = Instant::now();
            let first = saver.dirty.map_or(now, |(first, _)| first);
            saver.dirty = Some((first, now));
        }
    }

    pub(super) fn save_tick(&mut self) {
        let Some(saver) = self.saver.as_mut() else {
            return;
        };
        if let Some((text, tries)) = saver.retry.take() {
            self.file_edited(text, tries + 1);
        }
        let Some(saver) = self.saver.as_mut() else {
            return;
        };
        match saver.watch.check() {
            Some(FileChange::Edited(text)) => self.file_edited(text, 0),
            Some(FileChange::Gone) => {
                // Told as an event; the next save writes the file again.
                let _ = self.host.apply_file_change(FileChange::Gone);
            }
            None => {}
        }
        let Some(saver) = self.saver.as_ref() else {
            return;
        };
        if let Some((first, last)) = saver.dirty
            && !saver.suspended
        {
            let now = Instant::now();
            if now.duration_since(last) >= saver.delay || now.duration_since(first) >= MAX_UNSAVED {
                self.write_file();
            }
        }
    }

    /// Writes what is unsaved now (at shutdown).
    pub(super) fn flush_save(&mut self) {
        if self.saver.as_ref().is_some_and(|s| s.dirty.is_some()) {
            self.write_file();
        }
    }

    fn write_file(&mut self) {
        if self.saver.as_ref().is_none_or(|s| s.suspended || !s.writes) {
            return;
        }
        let view = self.file_view();
        let Some(saver) = self.saver.as_mut() else {
            return;
        };
        // Someone saved the file since we last read it, and the watch has not taken
        // it up yet (it waits for two reads to agree): it goes first, and its merge
        // writes our changes back with it.
        if std::fs::read_to_string(&saver.path).is_ok_and(|now| now != saver.text) {
            return;
        }
        let text = file::rewrite(&saver.text, &view);
        if text == saver.text {
            saver.dirty = None;
            return;
        }
        match write_atomic(&saver.path, text.as_bytes()) {
            Ok(()) => {
                saver.watch.known(text.clone());
                saver.text = text;
                saver.base = view;
                saver.dirty = None;
                self.counters.autosaves += 1;
                tracing::debug!(path = %saver.path.display(), "session saved");
            }
            Err(e) => {
                // Tried again after the next delay; the running mix is unaffected.
                let first = saver.dirty.map_or_else(Instant::now, |(f, _)| f);
                saver.dirty = Some((first, Instant::now()));
                self.counters.autosave_failures += 1;
                let message = format!("cannot save {}: {e}", saver.path.display());
                tracing::warn!("{message}");
                self.broadcast(Outgoing::status(
                    json!({"event": "autosave_failed", "message": message}),
                ));
            }
        }
    }

    /// A complete new content of the session file, written by someone else (`tries`:
    /// how often the host has turned it down already, for a passing reason).
    fn file_edited(&mut self, text: String, tries: u32) {
        let Some(saver) = self.saver.as_mut() else {
            return;
        };
        let edited = match session::parse_live(&text, &saver.path) {
            Ok(l) => l.session,
            Err(_) => {
                saver.suspended = true;
                // The host says why, located, as a `reload_rejected` event.
                let _ = self.host.apply_file_change(FileChange::Edited(text));
                return;
            }
        };
        let ours = {
            let mut s = self.host.controller().session().clone();
            s.sample_rate = saver.base.sample_rate;
            s.block_frames = saver.base.block_frames;
            s
        };
        let merged = if ours == saver.base {
            edited.clone()
        } else {
            file::merge(&saver.base, &edited, &ours)
        };
        let merged_text = if merged == edited {
            text.clone()
        } else {
            file::rewrite(&text, &merged)
        };
        let before = self.host.controller().session().clone();
        self.wait_for_graph();
        if self
            .host
            .apply_file_change(FileChange::Edited(merged_text.clone()))
            .is_err()
        {
            // It parsed and validated above: what the host refused it for passes (a
            // full queue, a graph still in flight, a file source being written).
            if let Some(saver) = self.saver.as_mut() {
                if tries < RETRIES {
                    saver.retry = Some((text, tries));
                } else {
                    saver.suspended = true;
                }
            }
            return;
        }
        let Some(saver) = self.saver.as_mut() else {
            return;
        };
        saver.suspended = false;
        let kept_remote = merged != edited;
        let mut written = false;
        if kept_remote && saver.writes {
            // The file says what runs: the edit with the remote changes kept.
            match write_atomic(&saver.path, merged_text.as_bytes()) {
                Ok(()) => {
                    saver.watch.known(merged_text.clone());
                    written = true;
                    self.counters.merges += 1;
                }
                Err(e) => tracing::warn!("cannot write the merged session back: {e}"),
            }
        }
        if written || !kept_remote {
            saver.text = merged_text;
            saver.base = merged;
            saver.dirty = None;
        } else {
            // The file still says the edit alone: our changes are unsaved (and with
            // `--no-autosave`, stay so).
            saver.text = text;
            saver.base = edited;
            if saver.writes {
                let now = Instant::now();
                saver.dirty = Some((now, now));
            }
        }
        let after = self.host.controller().session().clone();
        let changed = diff(&before, &after);
        if let Some(fade) = self.fade.as_mut() {
            // What the hand edit set is no longer the fade's to move.
            for (path, _) in &changed.changed {
                fade.forget(path);
            }
        }
        let what = if kept_remote {
            "hand edit of the session file (remote changes kept)"
        } else {
            "hand edit of the session file"
        };
        self.tell_diff(&before, &after, "file", what);
        if before != after {
            self.history
                .record(&before, &after, what.to_string(), None, "file");
        }
    }
}

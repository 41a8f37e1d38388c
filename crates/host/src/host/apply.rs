//! Making the mixer run another session: one handed over by the host's owner (the
//! control API), or the session file's new content.

use troubadour_engine::session::{self, Session};
use troubadour_engine::{Applied, ControlError};
use troubadour_io::backend::BackendKind;

use super::Host;
use crate::event::HostEvent;
use crate::watch::FileChange;

impl Host {
    /// Makes the mixer run `new` (its rate and period are the running ones, whatever it
    /// says): parameters glide, a structural change swaps the graph in, and a change of
    /// ports or devices restarts the backend with them. An invalid session changes
    /// nothing.
    pub fn apply(&mut self, mut new: Session) -> Result<Applied, ControlError> {
        let old = self.controller.session().clone();
        new.sample_rate = old.sample_rate;
        new.block_frames = old.block_frames;
        let ports_change = self
            .backend
            .as_ref()
            .is_some_and(|b| b.needs_restart(&old, &new));
        let applied = self.controller.apply_session(new)?;
        if ports_change {
            self.restart_for_ports();
        } else {
            self.note_missing_files();
        }
        Ok(applied)
    }

    /// [`apply`](Self::apply) for parameter values the caller has range-checked one by
    /// one (see [`Controller::apply_parameters`]); a structural difference goes the
    /// whole way through `apply`.
    ///
    /// [`Controller::apply_parameters`]: troubadour_engine::Controller::apply_parameters
    pub fn apply_parameters(&mut self, mut new: Session) -> Result<Applied, ControlError> {
        let old = self.controller.session();
        new.sample_rate = old.sample_rate;
        new.block_frames = old.block_frames;
        match self.controller.apply_parameters(&new)? {
            Some(applied) => Ok(applied),
            None => self.apply(new),
        }
    }

    /// Restarts the backend because the session's ports or devices changed.
    fn restart_for_ports(&mut self) {
        // JACK ports live in the process callback, so the client starts over with the
        // new set: a gap of a few periods, then ports and connections as the session
        // says (or the reconnection loop, if the server is away).
        if self.kind() == BackendKind::Jack {
            self.restart(
                "JACK ports changed: restarting the client with the new ports".into(),
                "JACK client restarted with the new ports",
            );
        } else {
            self.restart(
                "the devices or channels changed: restarting the backend with them".into(),
                "backend restarted with the new devices and channels",
            );
        }
    }

    /// Marks `content` as the session file's own content (its owner wrote it, e.g. an
    /// autosave): the file watch will not take it for a user's edit.
    pub fn note_own_write(&mut self, content: String) {
        if let Some(w) = self.watch.as_mut() {
            w.known(content);
        }
    }

    /// Applies a change of the session file that the owner noticed itself (with its
    /// own [`Watch`], when [`HostConfig::watch_session`] is off): as a hand edit is
    /// applied, told as `ReloadApplied` or `ReloadRejected`. `Err` says why it was
    /// refused; the running session then plays on.
    ///
    /// [`Watch`]: crate::Watch
    /// [`HostConfig::watch_session`]: crate::HostConfig::watch_session
    pub fn apply_file_change(&mut self, change: FileChange) -> Result<(), String> {
        self.reload(change)
    }

    /// Applies an edit of the session file, or says why not and keeps the running one.
    pub(super) fn reload(&mut self, change: FileChange) -> Result<(), String> {
        let path = self.controller.path().to_path_buf();
        let text = match change {
            FileChange::Gone => {
                self.listeners.send(HostEvent::SessionFileGone(path));
                return Ok(());
            }
            FileChange::Edited(text) => text,
        };
        let loaded = match session::parse_live(&text, &path) {
            Ok(l) => l,
            Err(e) => {
                let error = e.to_string();
                self.listeners.send(HostEvent::ReloadRejected {
                    path,
                    error: error.clone(),
                });
                return Err(error);
            }
        };
        if !super::makes_virtual_devices(self.kind())
            && let Some(what) = super::virtual_device(&loaded.session)
        {
            let error = format!(
                "{what} asks for a virtual device, which needs the pipewire backend or cpal on a PulseAudio server (this one is {})",
                self.kind()
            );
            self.listeners.send(HostEvent::ReloadRejected {
                path,
                error: error.clone(),
            });
            return Err(error);
        }
        let (file_rate, file_block) = (loaded.session.sample_rate, loaded.session.block_frames);
        let mut new = loaded.session;
        new.sample_rate = self.controller.session().sample_rate;
        let old = self.controller.session().clone();
        let ports_change = self
            .backend
            .as_ref()
            .is_some_and(|b| b.needs_restart(&old, &new));
        let mut outcome = match self.controller.apply_session(new) {
            Ok(Applied::Unchanged) => Vec::new(),
            Ok(Applied::Parameters(n)) => vec![format!("{n} parameter changes, gliding")],
            Ok(Applied::Rebuilt) => vec!["structure changed, new graph swapped in".to_string()],
            Err(e) => {
                let error = e.to_string();
                self.listeners.send(HostEvent::ReloadRejected {
                    path,
                    error: error.clone(),
                });
                return Err(error);
            }
        };
        let jack = self.kind() == BackendKind::Jack;
        let mut restart = None;
        if file_rate != self.requested_rate {
            self.requested_rate = file_rate;
            if jack {
                outcome.push(format!(
                    "sample_rate is now {file_rate} Hz, but the JACK server runs at {} Hz, which the mixer follows",
                    self.clock.sample_rate
                ));
            } else {
                outcome.push(format!(
                    "sample_rate is now {file_rate} Hz: the backend restarts at that rate"
                ));
                restart = Some(format!("the session's sample_rate is now {file_rate} Hz"));
            }
        }
        if file_block != self.requested_block {
            self.requested_block = file_block;
            if jack {
                outcome.push(format!(
                    "block_frames is now {file_block}; the JACK server sets the period ({} frames)",
                    self.clock.period_frames
                ));
            } else if self.config.period_frames.is_some() {
                outcome.push(format!(
                    "block_frames is now {file_block}; the period stays {} frames (--latency-frames)",
                    self.clock.period_frames
                ));
            } else {
                outcome.push(format!(
                    "block_frames is now {file_block}: the backend restarts with that period"
                ));
                restart.get_or_insert(format!("the session's block_frames is now {file_block}"));
            }
        }
        if outcome.is_empty() {
            outcome.push("no change".into());
        }
        self.listeners.send(HostEvent::ReloadApplied {
            path: path.clone(),
            outcome: outcome.join("; "),
        });
        if let Some(why) = restart {
            let done = format!(
                "restarted at {} Hz, period {} frames",
                self.requested_rate,
                self.config
                    .period_frames
                    .unwrap_or(self.requested_block as usize)
            );
            self.restart(format!("{why}: restarting the backend"), &done);
        } else if ports_change {
            self.restart_for_ports();
        } else {
            self.note_missing_files();
        }
        Ok(())
    }
}

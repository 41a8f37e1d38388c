//! Serving one request: validate, apply through the host, number, broadcast, record.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use troubadour_engine::ControlError;
use troubadour_engine::session::Session;

use super::Service;
use super::diff::diff;
use super::json::session_json;
use crate::api::{ApiError, ErrorCode, Reply, Request};
use crate::event::Outgoing;
use crate::namespace;

/// How long a structural change waits for the previous one to be taken up: several
/// periods of the longest a backend runs (8192 frames at 44.1 kHz is 186 ms).
const GRAPH_WAIT: Duration = Duration::from_millis(500);

/// What kind of change a commit is, for the history and the events.
pub(super) enum Change<'a> {
    /// One parameter, set by a client: its event carries the value stored.
    Param { path: &'a str, value: &'a Value },
    /// Anything else, in words.
    Other(String),
}

impl Service {
    pub(super) fn request(&mut self, request: Request, origin: &str) -> Result<Reply, ApiError> {
        match request {
            Request::Get { path } => {
                let session = self.host.controller().session();
                let r = namespace::resolve(session, &path).map_err(|e| at_path(e, &path))?;
                let value = if r.template.transport() {
                    self.transport_get(&r).map_err(|e| at_path(e, &path))?
                } else {
                    namespace::get(session, &r)
                };
                Ok(Reply::Value {
                    path: shown_path(&r),
                    value,
                    seq: None,
                })
            }
            Request::Set { path, value } => self
                .set(&path, &value, origin)
                .map_err(|e| at_path(e, &path)),
            Request::State => Ok(Reply::State {
                state: session_json(self.host.controller().session()),
                seq: self.seq,
            }),
            Request::Schema => Ok(Reply::Schema {
                schema: namespace::schema(),
            }),
            Request::Status => {
                if self.last_stats.is_none() {
                    self.read_backend_stats();
                }
                Ok(Reply::Status {
                    status: self.status_json(),
                })
            }
            Request::SceneSave { name } => self.scene_save(&name, origin),
            Request::SceneRecall { name, fade_ms } => self.scene_recall(&name, fade_ms, origin),
            Request::SceneList => Ok(Reply::Scenes {
                scenes: self
                    .host
                    .controller()
                    .session()
                    .scenes
                    .iter()
                    .map(|s| s.name.clone())
                    .collect(),
            }),
            Request::SceneDelete { name } => self.scene_delete(&name, origin),
            Request::MidiLearn { path } => self.midi_learn(&path),
            Request::MidiMap {
                control,
                target,
                pickup,
                feedback,
            } => self.midi_map(control, &target, pickup, feedback, origin),
            Request::MacroRun { name } => self.macro_run(&name, origin),
            Request::RecorderStart => {
                let status = self.host.record_start().map_err(record_error)?;
                Ok(recorder_reply(&status, None))
            }
            Request::RecorderStop => {
                let summary = self.host.record_stop().map_err(record_error)?;
                let status = self.host.recorder_status();
                let manifest = serde_json::to_value(&summary.manifest).unwrap_or_default();
                Ok(recorder_reply(&status, Some((summary.folder, manifest))))
            }
            Request::RecorderPause { paused } => {
                let status = self.host.record_pause(paused).map_err(record_error)?;
                Ok(recorder_reply(&status, None))
            }
            Request::RecorderMark { label } => {
                let frame = self.host.record_mark(&label).map_err(record_error)?;
                let status = self.host.recorder_status();
                let mut reply = recorder_reply(&status, None);
                if let Reply::Recorder { recorder } = &mut reply {
                    recorder["marker"] = serde_json::json!({ "frame": frame, "label": label });
                }
                Ok(reply)
            }
            Request::RecorderStatus => Ok(recorder_reply(&self.host.recorder_status(), None)),
            Request::Undo => self.undo(origin),
            Request::Redo => self.redo(origin),
            Request::Subscribe { .. }
            | Request::Unsubscribe { .. }
            | Request::SpectrumSubscribe { .. }
            | Request::SpectrumUnsubscribe { .. } => Err(ApiError::new(
                ErrorCode::Unsupported,
                "subscriptions are served by the WebSocket connection",
            )),
            structural => self.structural(structural, origin),
        }
    }

    fn set(&mut self, path: &str, value: &Value, origin: &str) -> Result<Reply, ApiError> {
        let session = self.host.controller().session();
        let r = namespace::resolve(session, path)?;
        if r.template.transport() {
            return self.transport_set(&r, value);
        }
        let mut new = session.clone();
        let stored = namespace::set(&mut new, &r, value)?;
        if new == *session {
            // Nothing to apply, tell or undo (a surface echoing a value back must not
            // fill the history or clear what could be redone).
            return Ok(Reply::Value {
                path: r.canonical,
                value: stored,
                seq: Some(self.seq),
            });
        }
        // A client's set wins over a scene's glide of the same parameter.
        if let Some(fade) = self.fade.as_mut() {
            fade.forget(&r.canonical);
        }
        let canonical = if r.template.path.ends_with("/name") {
            // A rename: a structural change, told as one.
            None
        } else {
            Some(r.canonical.clone())
        };
        let renamed = || {
            let kind = r.canonical.split('/').next().unwrap_or("strip");
            format!("{kind}/{}/name", stored.as_str().unwrap_or_default())
        };
        let seq = match &canonical {
            Some(p) => self.commit(
                new,
                origin,
                Change::Param {
                    path: p,
                    value: &stored,
                },
            )?,
            None => self.commit(new, origin, Change::Other(format!("set {path}")))?,
        };
        Ok(Reply::Value {
            path: canonical.unwrap_or_else(renamed),
            value: stored,
            seq: Some(seq),
        })
    }

    /// Makes the mixer run `new`, then tells everyone what changed, records it for
    /// undo and schedules the save. Returns the last sequence number used.
    pub(super) fn commit(
        &mut self,
        new: Session,
        origin: &str,
        change: Change<'_>,
    ) -> Result<u64, ApiError> {
        let before = self.host.controller().session().clone();
        match change {
            // The namespace checked the one value against its range: the whole session
            // need not be validated again.
            Change::Param { .. } => self
                .host
                .apply_parameters(new)
                .map(drop)
                .map_err(control_error)?,
            Change::Other(_) => self.apply(new)?,
        }
        let after = self.host.controller().session().clone();
        match change {
            Change::Param { path, value } => {
                self.seq += 1;
                self.broadcast(Outgoing::changed(self.seq, path, value, origin));
                self.history
                    .record(&before, &after, format!("set {path}"), Some(path), origin);
            }
            Change::Other(what) => {
                self.tell_diff(&before, &after, origin, &what);
                self.history.record(&before, &after, what, None, origin);
            }
        }
        self.mark_dirty();
        Ok(self.seq)
    }

    /// Numbers and broadcasts what differs between two sessions.
    pub(super) fn tell_diff(
        &mut self,
        before: &Session,
        after: &Session,
        origin: &str,
        what: &str,
    ) {
        let d = diff(before, after);
        for (path, value) in &d.changed {
            self.seq += 1;
            self.broadcast(Outgoing::changed(self.seq, path, value, origin));
        }
        if d.structure {
            self.seq += 1;
            self.broadcast(Outgoing::change(
                self.seq,
                json!({"event": "structure_changed", "seq": self.seq, "origin": origin, "what": what}),
            ));
        }
        if d.midi {
            self.seq += 1;
            self.broadcast(Outgoing::change(
                self.seq,
                json!({"event": "midi_changed", "seq": self.seq, "origin": origin, "what": what}),
            ));
        }
        if d.scenes {
            self.seq += 1;
            let names: Vec<&str> = after.scenes.iter().map(|s| s.name.as_str()).collect();
            self.broadcast(Outgoing::change(
                self.seq,
                json!({"event": "scenes_changed", "seq": self.seq, "origin": origin, "scenes": names}),
            ));
        }
    }

    /// Has the host run `new`. A structural change waits (briefly: the audio thread
    /// takes a graph at its next callback) for the previous one to be taken up, so
    /// clients can send edits back to back.
    pub(super) fn apply(&mut self, new: Session) -> Result<(), ApiError> {
        self.wait_for_graph();
        self.host.apply(new).map(drop).map_err(control_error)
    }

    /// Waits (briefly) until no structural change is in flight to the audio thread.
    pub(super) fn wait_for_graph(&mut self) {
        let deadline = Instant::now() + GRAPH_WAIT;
        while self.host.controller_mut().graph_pending() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub(super) fn broadcast(&self, event: Outgoing) {
        // No subscriber is not an error.
        let _ = self.handle.events.send(Arc::new(event));
    }

    fn undo(&mut self, origin: &str) -> Result<Reply, ApiError> {
        let Some(step) = self.history.peek_undo() else {
            return Err(ApiError::new(ErrorCode::NothingToUndo, "nothing to undo"));
        };
        let (target, what) = (step.before.clone(), step.what.clone());
        self.fade = None;
        let before = self.host.controller().session().clone();
        self.apply(target)?;
        self.history.undone();
        let after = self.host.controller().session().clone();
        self.tell_diff(&before, &after, origin, &format!("undo {what}"));
        self.mark_dirty();
        Ok(Reply::Done {
            seq: self.seq,
            done: format!("undid {what}"),
        })
    }

    fn redo(&mut self, origin: &str) -> Result<Reply, ApiError> {
        let Some(step) = self.history.peek_redo() else {
            return Err(ApiError::new(ErrorCode::NothingToUndo, "nothing to redo"));
        };
        let (target, what) = (step.after.clone(), step.what.clone());
        self.fade = None;
        let before = self.host.controller().session().clone();
        self.apply(target)?;
        self.history.redone();
        let after = self.host.controller().session().clone();
        self.tell_diff(&before, &after, origin, &format!("redo {what}"));
        self.mark_dirty();
        Ok(Reply::Done {
            seq: self.seq,
            done: format!("redid {what}"),
        })
    }
}

/// An error about `path` that says so: the message starts with the path asked for
/// (unless it names it already).
fn at_path(mut e: ApiError, path: &str) -> ApiError {
    if !e.message.contains(path) {
        e.message = format!("{path}: {}", e.message);
    }
    e
}

/// A path as a reply shows it: canonical, with `/norm` if that was asked for.
fn shown_path(r: &namespace::Resolved) -> String {
    if r.norm {
        format!("{}/norm", r.canonical)
    } else {
        r.canonical.clone()
    }
}

/// The controller's refusals in the API's terms.
pub(super) fn control_error(e: ControlError) -> ApiError {
    match e {
        ControlError::QueueFull(n) => ApiError::new(
            ErrorCode::QueueFull,
            format!("the audio thread's command queue is full ({n} changes wait); try again"),
        ),
        ControlError::GraphPending => ApiError::new(
            ErrorCode::Busy,
            "a previous structural change has not been taken up by the audio thread yet; try again",
        ),
        ControlError::UnknownStrip(s) => {
            ApiError::new(ErrorCode::UnknownPath, format!("no strip is called {s:?}"))
        }
        ControlError::UnknownBus(s) => {
            ApiError::new(ErrorCode::UnknownPath, format!("no bus is called {s:?}"))
        }
        ControlError::UnknownSend { strip, bus } => ApiError::new(
            ErrorCode::UnknownPath,
            format!("strip {strip:?} has no send to bus {bus:?}"),
        ),
        ControlError::OutOfRange {
            field,
            value,
            min,
            max,
        } => ApiError::new(
            ErrorCode::OutOfRange,
            format!("{field}: {value} is outside {min}..={max}"),
        ),
        e @ (ControlError::Invalid(_) | ControlError::Build(_)) => {
            ApiError::new(ErrorCode::InvalidSession, e.to_string())
        }
    }
}

/// A recorder request's refusal as an API error.
pub(super) fn record_error(e: troubadour_host::RecordError) -> ApiError {
    use troubadour_host::RecordError as R;
    let code = match &e {
        R::NotConfigured | R::Track(_) => ErrorCode::BadRequest,
        R::State(_) => ErrorCode::Conflict,
        R::Take(_) => ErrorCode::Unavailable,
    };
    ApiError::new(code, e.to_string())
}

/// The recorder's state as a reply; a stop adds the take's folder and manifest.
fn recorder_reply(
    s: &troubadour_host::RecorderStatus,
    stopped: Option<(std::path::PathBuf, Value)>,
) -> Reply {
    let mut v = serde_json::json!({
        "state": s.state,
        "take": s.take.as_ref().map(|p| p.display().to_string()),
        "frames": s.frames,
        "tracks": s.tracks,
        "lost_frames": s.lost_frames,
        "repaired": s.repaired,
    });
    if let Some((folder, manifest)) = stopped {
        v["take"] = Value::String(folder.display().to_string());
        v["manifest"] = manifest;
    }
    Reply::Recorder { recorder: v }
}

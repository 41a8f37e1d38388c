//! Macros: a button's actions (parameter sets, scene recalls) applied in order as one
//! change, so one undo takes all of it back; then its recorder actions, in order (a
//! take is not undone).

use troubadour_engine::session::{Action, RecorderOp, SceneValue};

use super::Service;
use super::dispatch::Change;
use super::scenes::{Recall, plan_recall};
use crate::api::{ApiError, ErrorCode, Reply};
use crate::namespace;

fn json(v: &SceneValue) -> serde_json::Value {
    match v {
        SceneValue::Bool(b) => (*b).into(),
        SceneValue::Number(n) => (*n).into(),
        SceneValue::Text(t) => t.as_str().into(),
    }
}

impl Service {
    /// Runs macro `name`. Nothing changes if any action is refused (the error says
    /// which). A recall with a fade glides after the rest is applied; of several, the
    /// last one glides and the earlier ones land at once.
    pub(super) fn macro_run(&mut self, name: &str, origin: &str) -> Result<Reply, ApiError> {
        let mut new = self.host.controller().session().clone();
        let Some(mac) = new.macros.iter().find(|m| m.name == name).cloned() else {
            let names: Vec<&str> = new.macros.iter().map(|m| m.name.as_str()).collect();
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!(
                    "no macro is called {name:?}; the macros are: {}",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            ));
        };
        let mut recall: Option<Recall> = None;
        let mut done = Vec::new();
        // The recorder's state as the actions so far leave it: every recorder action
        // is checked against it before anything changes.
        let mut state = self.host.recorder_status().state;
        let mut recorder = Vec::new();
        let mut changes = false;
        for (i, a) in mac.actions.iter().enumerate() {
            let at = |e: ApiError| {
                ApiError::new(
                    e.code,
                    format!("macro {name:?} action {}: {}", i + 1, e.message),
                )
            };
            let action = a
                .action()
                .map_err(|e| at(ApiError::new(ErrorCode::InvalidSession, e)))?;
            match action {
                Action::Set { path, value } => {
                    let r = namespace::resolve(&new, path).map_err(at)?;
                    let stored = namespace::set(&mut new, &r, &json(value)).map_err(at)?;
                    if let Some(rc) = recall.as_mut() {
                        rc.forget(&r.canonical);
                    }
                    done.push(format!("{} = {stored}", r.canonical));
                    changes = true;
                }
                Action::Scene { name, fade_ms } => {
                    if let Some(earlier) = recall.take() {
                        earlier.land(&mut new);
                    }
                    let rc = plan_recall(&mut new, name, fade_ms).map_err(at)?;
                    done.push(rc.what.clone());
                    recall = Some(rc);
                    changes = true;
                }
                Action::Recorder { op, label } => {
                    state = recorder_after(state, op).map_err(|e| {
                        at(ApiError::new(
                            ErrorCode::Conflict,
                            format!("the recorder is {state}: {e}"),
                        ))
                    })?;
                    done.push(format!("recorder {}", op_name(op)));
                    recorder.push((i, op, label.to_string()));
                }
            }
        }
        let what = format!("macro {name:?}: {}", done.join("; "));
        let mut seq = self.seq;
        if changes {
            seq = self.commit(new, origin, Change::Other(what.clone()))?;
        }
        if let Some(rc) = recall {
            self.start_fade(rc, origin);
        }
        for (i, op, label) in recorder {
            let asked = |e| {
                let e = super::dispatch::record_error(e);
                ApiError::new(
                    e.code,
                    format!("macro {name:?} action {}: {}", i + 1, e.message),
                )
            };
            let status = match op {
                RecorderOp::Start => self.host.record_start().map_err(asked)?,
                RecorderOp::Stop => {
                    self.host.record_stop().map_err(asked)?;
                    self.host.recorder_status()
                }
                RecorderOp::Toggle if self.host.recorder_status().state == "idle" => {
                    self.host.record_start().map_err(asked)?
                }
                RecorderOp::Toggle => {
                    self.host.record_stop().map_err(asked)?;
                    self.host.recorder_status()
                }
                RecorderOp::Pause | RecorderOp::Resume => self
                    .host
                    .record_pause(op == RecorderOp::Pause)
                    .map_err(asked)?,
                RecorderOp::Mark => {
                    self.host.record_mark(&label).map_err(asked)?;
                    self.host.recorder_status()
                }
            };
            tracing::info!(
                origin,
                "macro {name:?}: recorder {}: {}",
                op_name(op),
                status.state
            );
        }
        Ok(Reply::Done { seq, done: what })
    }
}

fn op_name(op: RecorderOp) -> &'static str {
    match op {
        RecorderOp::Start => "start",
        RecorderOp::Stop => "stop",
        RecorderOp::Toggle => "toggle",
        RecorderOp::Pause => "pause",
        RecorderOp::Resume => "resume",
        RecorderOp::Mark => "mark",
    }
}

/// The recorder's state (`idle`, `recording`, `paused`) after `op`, or why `op` is
/// refused in `state`.
fn recorder_after(state: &'static str, op: RecorderOp) -> Result<&'static str, &'static str> {
    match (op, state) {
        (RecorderOp::Start, "idle") => Ok("recording"),
        (RecorderOp::Start, _) => Err("a take is already recording"),
        (RecorderOp::Toggle, "idle") => Ok("recording"),
        (RecorderOp::Stop | RecorderOp::Toggle, _) if state != "idle" => Ok("idle"),
        (RecorderOp::Pause, s) if s != "idle" => Ok("paused"),
        (RecorderOp::Resume, s) if s != "idle" => Ok("recording"),
        (RecorderOp::Mark, s) if s != "idle" => Ok(s),
        _ => Err("no take is recording"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_actions_follow_the_takes_state() {
        use RecorderOp::*;
        let run = |ops: &[RecorderOp]| ops.iter().try_fold("idle", |s, &op| recorder_after(s, op));
        assert_eq!(run(&[Start, Mark, Pause, Mark, Resume]), Ok("recording"));
        assert_eq!(run(&[Toggle, Toggle]), Ok("idle"));
        assert_eq!(run(&[Start, Stop]), Ok("idle"));
        assert_eq!(run(&[Stop]), Err("no take is recording"));
        assert_eq!(run(&[Mark]), Err("no take is recording"));
        assert_eq!(run(&[Start, Start]), Err("a take is already recording"));
        assert_eq!(run(&[Start, Pause, Toggle]), Ok("idle"));
    }
}

//! MIDI requests on the control thread: learn (tell the MIDI surface which path the
//! next control moved goes to) and map (a control onto a parameter, into the session).

use serde_json::json;
use troubadour_engine::session::{MidiControl, MidiMapping};

use super::Service;
use super::dispatch::Change;
use crate::api::{ApiError, ErrorCode, Reply};
use crate::event::Outgoing;
use crate::namespace;

/// A path a control can move: a parameter with a `/norm` form.
fn movable(session: &troubadour_engine::session::Session, path: &str) -> Result<String, ApiError> {
    let r = namespace::resolve(session, path)?;
    if !r.template.has_norm() {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("{path}: a name is not something a MIDI control can move"),
        ));
    }
    Ok(if r.norm {
        format!("{}/norm", r.canonical)
    } else {
        r.canonical
    })
}

impl Service {
    pub(super) fn midi_learn(&mut self, path: &str) -> Result<Reply, ApiError> {
        let target = movable(self.host.controller().session(), path)?;
        let message = format!("move a MIDI control to map it to {target}");
        self.broadcast(Outgoing::status(json!({
            "event": "midi_learn",
            "path": target,
            "message": message,
        })));
        Ok(Reply::Done {
            seq: self.seq,
            done: message,
        })
    }

    pub(super) fn midi_map(
        &mut self,
        control: MidiControl,
        target: &str,
        pickup: bool,
        feedback: bool,
        origin: &str,
    ) -> Result<Reply, ApiError> {
        let kind = control
            .kind()
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("control: {e}")))?;
        let mut s = self.host.controller().session().clone();
        let target = movable(&s, target)?;
        if let Some(m) = s.macros.iter().find(|m| {
            m.control
                .and_then(|c| c.kind().ok())
                .is_some_and(|k| k.overlaps(kind))
        }) {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!("{} runs macro {:?}", kind.describe(), m.name),
            ));
        }
        // The control's old mapping goes: one control drives one thing.
        s.midi
            .retain(|m| !m.control.kind().is_ok_and(|k| k.overlaps(kind)));
        s.midi.push(MidiMapping {
            control: MidiControl::from(kind),
            target: target.clone(),
            pickup,
            feedback,
            touch: None,
        });
        let what = format!("mapped {} to {target}", kind.describe());
        let seq = self.commit(s, origin, Change::Other(what.clone()))?;
        Ok(Reply::Done { seq, done: what })
    }
}

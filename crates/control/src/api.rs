//! The requests every surface sends and what they get back: one serde [`Request`]
//! enum, one [`Reply`], one [`ApiError`] with a stable machine-readable [`ErrorCode`].
//! The WebSocket carries them as JSON objects (`{"id":…,"op":"set",…}`); HTTP routes
//! map onto them; OSC and MIDI adapters build them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request. On the wire: an object whose `op` names the variant (snake case) and
/// whose other fields are the variant's.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// A parameter's value (`strip/Mic/fader_db`, or its `…/norm` form).
    Get {
        /// The parameter's path.
        path: String,
    },
    /// Changes a parameter.
    Set {
        /// The parameter's path.
        path: String,
        /// The new value, in the session file's units (or 0..1 for `…/norm`).
        value: Value,
    },
    /// The whole session, as JSON with the session file's field names.
    State,
    /// Every parameter template: type, unit, range, default, taper.
    Schema,
    /// The backend, its clock and counters.
    Status,
    /// Adds a strip (an object shaped like a `[[strip]]` table) at `index` (1-based;
    /// the end if absent).
    AddStrip {
        /// The strip, with the session file's field names.
        strip: Value,
        /// Where it goes, 1-based.
        #[serde(default)]
        index: Option<usize>,
    },
    /// Removes a strip (and nothing else: sends from it go with it).
    RemoveStrip {
        /// Name or 1-based index.
        strip: String,
    },
    /// Renames a strip (sidechains that name it follow).
    RenameStrip {
        /// Name or 1-based index.
        strip: String,
        /// The new name.
        name: String,
    },
    /// Moves a strip to another position (1-based).
    MoveStrip {
        /// Name or 1-based index.
        strip: String,
        /// Its new position, 1-based.
        index: usize,
    },
    /// Adds a bus (an object shaped like a `[[bus]]` table).
    AddBus {
        /// The bus, with the session file's field names.
        bus: Value,
        /// Where it goes, 1-based.
        #[serde(default)]
        index: Option<usize>,
    },
    /// Removes a bus and every send to it.
    RemoveBus {
        /// Name or 1-based index.
        bus: String,
    },
    /// Renames a bus (sends to it follow).
    RenameBus {
        /// Name or 1-based index.
        bus: String,
        /// The new name.
        name: String,
    },
    /// Moves a bus to another position (1-based).
    MoveBus {
        /// Name or 1-based index.
        bus: String,
        /// Its new position, 1-based.
        index: usize,
    },
    /// Adds a send from a strip to a bus.
    AddSend {
        /// Name or 1-based index.
        strip: String,
        /// Name or 1-based index.
        bus: String,
        /// `{level_db, on, pre_fader}`; 0 dB, on, post-fader if absent.
        #[serde(default)]
        send: Option<Value>,
    },
    /// Removes a send.
    RemoveSend {
        /// Name or 1-based index.
        strip: String,
        /// Name or 1-based index.
        bus: String,
    },
    /// Changes where a strip's signal comes from (a `source` table as JSON).
    SetSource {
        /// Name or 1-based index.
        strip: String,
        /// `{device = …}`, `{file = …, loop = …}` or `{generator = …, …}`.
        source: Value,
    },
    /// Changes where a bus plays (`null` for nowhere).
    SetSink {
        /// Name or 1-based index.
        bus: String,
        /// `{device = …}` or `{file = …}`, or null.
        sink: Option<Value>,
    },
    /// Adds, replaces or removes (`null`) a processor: `gate` (strips), `compressor`,
    /// `limiter` (buses), or `eq` (the whole list of bands).
    SetProcessor {
        /// `strip/<id>` or `bus/<id>`.
        target: String,
        /// `gate`, `compressor`, `limiter` or `eq`.
        processor: String,
        /// The processor's table as JSON, or null to remove it.
        settings: Option<Value>,
    },
    /// Saves the current mix as a scene (replacing one of that name).
    SceneSave {
        /// The scene's name.
        name: String,
    },
    /// Recalls a scene, gliding over `fade_ms` (switches change at the start).
    SceneRecall {
        /// The scene's name.
        name: String,
        /// Crossfade time; 0 jumps (within the engine's 10 ms ramp).
        #[serde(default)]
        fade_ms: f64,
    },
    /// The scenes' names.
    SceneList,
    /// Deletes a scene.
    SceneDelete {
        /// The scene's name.
        name: String,
    },
    /// Maps the next MIDI control moved (on any input) to `path`, saved with the
    /// session (answers at once; the mapping's `midi_changed` event follows).
    MidiLearn {
        /// The parameter's path.
        path: String,
    },
    /// Maps a MIDI control to a parameter (replacing the control's mapping, if any).
    MidiMap {
        /// `{cc = 7}`, `{note = 36}`, `{pitchbend = 1}`, … as in the session file.
        control: troubadour_engine::session::MidiControl,
        /// The parameter's path.
        target: String,
        /// Soft takeover.
        #[serde(default)]
        pickup: bool,
        /// Send changes made elsewhere back to the control.
        #[serde(default)]
        feedback: bool,
    },
    /// Runs a macro's actions, in order, as one undoable change.
    MacroRun {
        /// The macro's name.
        name: String,
    },
    /// Starts a take of the session's `[recorder]` tracks (all on the same frame).
    RecorderStart,
    /// Stops the take; answers once every file is finished.
    RecorderStop,
    /// Pauses (`paused = true`, the default) or resumes the take.
    RecorderPause {
        /// Pause, or resume with `false`.
        #[serde(default = "yes")]
        paused: bool,
    },
    /// Sets a marker at the take's current frame.
    RecorderMark {
        /// What to call it.
        #[serde(default)]
        label: String,
    },
    /// Where the recorder stands: state, take, frames, lost frames per track.
    RecorderStatus,
    /// Undoes the last change (from any client).
    Undo,
    /// Redoes the last undone change.
    Redo,
    /// Starts receiving events (WebSocket only): `changes`, `meters` (at `rate` Hz),
    /// `status`.
    Subscribe {
        /// Which topics.
        topics: Vec<Topic>,
        /// Meter frames per second (1..=120; 30 if absent).
        #[serde(default)]
        rate: Option<f64>,
    },
    /// Stops receiving events of these topics (WebSocket only).
    Unsubscribe {
        /// Which topics.
        topics: Vec<Topic>,
    },
    /// Starts receiving `spectrum` frames of a strip (post-fader) or a bus (as it
    /// leaves) (WebSocket only).
    SpectrumSubscribe {
        /// `strip/<name or 1-based index>` or `bus/<…>`.
        target: String,
    },
    /// Stops receiving a target's spectrum frames, or every target's when absent
    /// (WebSocket only).
    SpectrumUnsubscribe {
        /// As subscribed.
        #[serde(default)]
        target: Option<String>,
    },
}

/// Event topics a WebSocket client subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// Every applied change, structural edit, scene and undo, in sequence.
    Changes,
    /// Meter frames.
    Meters,
    /// Host events (backend lost and back, devices, reloads, period, the recorder) and
    /// a status frame every second.
    Status,
}

/// What a successful request answers, besides `"ok": true`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Reply {
    /// A parameter's value (a set answers the value stored and its sequence number).
    Value {
        /// The canonical path (names, not indices).
        path: String,
        /// The value.
        value: Value,
        /// The change's sequence number (sets only).
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// The whole session.
    State {
        /// The session as JSON.
        state: Value,
        /// The sequence number of the last change it includes.
        seq: u64,
    },
    /// The parameter templates.
    Schema {
        /// The templates.
        schema: Value,
    },
    /// The backend's state.
    Status {
        /// Backend, clock, counters.
        status: Value,
    },
    /// The recorder's state.
    Recorder {
        /// `{state, take, frames, tracks, lost_frames, repaired}`, and for a stop the
        /// take's final manifest.
        recorder: Value,
    },
    /// The scenes' names.
    Scenes {
        /// In the order they were saved.
        scenes: Vec<String>,
    },
    /// Subscribed: the client's origin tag (changes it makes carry it).
    Subscribed {
        /// The topics now subscribed.
        topics: Vec<Topic>,
        /// This client's origin, as events name it.
        origin: String,
    },
    /// Subscribed to a spectrum: its target and bands.
    Spectrum {
        /// The canonical target (names, not indices), as its frames name it.
        target: String,
        /// Each band's centre frequency, Hz, in the order frames list levels.
        bands_hz: Vec<f64>,
        /// Frames per second.
        rate: f64,
    },
    /// Unsubscribed from spectra: the targets still subscribed.
    Spectra {
        /// Canonical targets.
        spectra: Vec<String>,
    },
    /// A change that is not one parameter (structure, scenes, undo): its sequence
    /// number, and what was done in words.
    Done {
        /// The sequence number of the last event it caused.
        seq: u64,
        /// What was done.
        done: String,
    },
}

/// Why a request was refused. Nothing changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// Stable, machine-readable.
    pub code: ErrorCode,
    /// For people: names the path and the allowed range.
    pub message: String,
}

impl ApiError {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }
}

/// The error codes: a public contract (add to them, never rename).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The path names no parameter (or no strip, bus, send, band or processor).
    UnknownPath,
    /// The value is outside the parameter's range.
    OutOfRange,
    /// The value has the wrong JSON type (a string where a number goes, ...).
    WrongType,
    /// The audio thread's command queue (or the control thread's) is full: try again.
    QueueFull,
    /// The body is not JSON.
    MalformedJson,
    /// The `op` is not one this server knows.
    UnknownOp,
    /// A field is missing, unknown or malformed.
    BadRequest,
    /// No scene (or strip, bus, route) of that name.
    NotFound,
    /// A name is taken, or a send already exists.
    Conflict,
    /// The edit would make an invalid session (the message says what and where).
    InvalidSession,
    /// A previous structural change is still being taken up: try again.
    Busy,
    /// Nothing to undo or redo.
    NothingToUndo,
    /// A token is required (non-loopback address) and was missing or wrong.
    Unauthorized,
    /// A foreign `Host` or `Origin`.
    Forbidden,
    /// The body is over 64 kB.
    TooLarge,
    /// The server has as many clients as it takes.
    TooManyClients,
    /// The request is valid but this surface does not serve it (subscribe over HTTP).
    Unsupported,
    /// The control thread did not answer (it is stopping).
    Unavailable,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::UnknownPath => "unknown_path",
            ErrorCode::OutOfRange => "out_of_range",
            ErrorCode::WrongType => "wrong_type",
            ErrorCode::QueueFull => "queue_full",
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::UnknownOp => "unknown_op",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::InvalidSession => "invalid_session",
            ErrorCode::Busy => "busy",
            ErrorCode::NothingToUndo => "nothing_to_undo",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::TooManyClients => "too_many_clients",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::Unavailable => "unavailable",
        }
    }

    /// The HTTP status a refused request answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::UnknownPath | ErrorCode::NotFound => 404,
            ErrorCode::OutOfRange
            | ErrorCode::WrongType
            | ErrorCode::InvalidSession
            | ErrorCode::BadRequest
            | ErrorCode::MalformedJson
            | ErrorCode::UnknownOp
            | ErrorCode::Unsupported => 400,
            ErrorCode::Conflict | ErrorCode::NothingToUndo => 409,
            ErrorCode::QueueFull | ErrorCode::Busy => 503,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::TooLarge => 413,
            ErrorCode::TooManyClients => 503,
            ErrorCode::Unavailable => 503,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Decodes one WebSocket text message: its `id` (any JSON value, echoed in the reply;
/// null if absent) and its request. Never panics, whatever the bytes.
pub fn decode_message(text: &str) -> (Value, Result<Request, ApiError>) {
    let mut object = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => o,
        Ok(_) => {
            return (
                Value::Null,
                Err(ApiError::new(
                    ErrorCode::BadRequest,
                    "a message is a JSON object like {\"id\":1,\"op\":\"get\",\"path\":\"strip/1/fader_db\"}",
                )),
            );
        }
        Err(e) => {
            return (
                Value::Null,
                Err(ApiError::new(
                    ErrorCode::MalformedJson,
                    format!("not JSON: {e}"),
                )),
            );
        }
    };
    let id = object.remove("id").unwrap_or(Value::Null);
    (id, decode_request(Value::Object(object)))
}

/// Decodes a request object (an HTTP body, or a WebSocket message without its `id`).
pub fn decode_request(value: Value) -> Result<Request, ApiError> {
    let op = match value.get("op") {
        Some(Value::String(op)) => op.clone(),
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "`op` must be a string",
            ));
        }
        None => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("a request needs an `op`, one of: {}", OPS.join(", ")),
            ));
        }
    };
    if !OPS.contains(&op.as_str()) {
        return Err(ApiError::new(
            ErrorCode::UnknownOp,
            format!("unknown op {op:?}; the ops are: {}", OPS.join(", ")),
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("op {op:?}: {e}")))
}

fn yes() -> bool {
    true
}

/// Every `op`, as the wire spells it.
pub const OPS: &[&str] = &[
    "get",
    "set",
    "state",
    "schema",
    "status",
    "add_strip",
    "remove_strip",
    "rename_strip",
    "move_strip",
    "add_bus",
    "remove_bus",
    "rename_bus",
    "move_bus",
    "add_send",
    "remove_send",
    "set_source",
    "set_sink",
    "set_processor",
    "scene_save",
    "scene_recall",
    "scene_list",
    "scene_delete",
    "midi_learn",
    "midi_map",
    "macro_run",
    "recorder_start",
    "recorder_stop",
    "recorder_pause",
    "recorder_mark",
    "recorder_status",
    "undo",
    "redo",
    "subscribe",
    "unsubscribe",
    "spectrum_subscribe",
    "spectrum_unsubscribe",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_set_decodes_with_its_id() {
        let (id, r) =
            decode_message(r#"{"id":7,"op":"set","path":"strip/Mic/fader_db","value":"-inf"}"#);
        assert_eq!(id, json!(7));
        assert_eq!(
            r.unwrap(),
            Request::Set {
                path: "strip/Mic/fader_db".into(),
                value: json!("-inf")
            }
        );
    }

    #[test]
    fn bad_messages_get_their_codes() {
        let code = |t: &str| decode_message(t).1.unwrap_err().code;
        assert_eq!(code("{"), ErrorCode::MalformedJson);
        assert_eq!(code("[1]"), ErrorCode::BadRequest);
        assert_eq!(code(r#"{"op":"fly"}"#), ErrorCode::UnknownOp);
        assert_eq!(code(r#"{"op":"get"}"#), ErrorCode::BadRequest);
        assert_eq!(
            code(r#"{"op":"get","path":"x","extra":1}"#),
            ErrorCode::BadRequest
        );
        assert_eq!(code(r#"{"op":3}"#), ErrorCode::BadRequest);
        assert_eq!(
            code(r#"{"op":"set","path":"a","value":NaN}"#),
            ErrorCode::MalformedJson
        );
    }

    #[test]
    fn every_op_is_known_to_serde() {
        // An op listed but not decodable (or the reverse) would be a broken contract.
        for op in OPS {
            if let Err(e) = decode_request(json!({ "op": op })) {
                assert_eq!(e.code, ErrorCode::BadRequest, "{op}: {}", e.message);
                assert!(
                    !e.message.contains("unknown variant"),
                    "{op}: {}",
                    e.message
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn the_decoder_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = decode_message(&text);
        }

        #[test]
        fn json_shaped_garbage_never_panics(op in "[a-z_]{0,14}", path in ".{0,40}", v in proptest::prelude::any::<f64>()) {
            let text = format!(r#"{{"id":{v},"op":"{op}","path":{path:?},"value":{v}}}"#);
            let _ = decode_message(&text);
        }
    }
}

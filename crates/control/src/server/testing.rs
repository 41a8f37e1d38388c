//! A stand-in for the control thread: a small thread that answers calls with canned
//! replies, so the server's tests run without an engine.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::api::{ApiError, ErrorCode, Reply, Request};
use crate::event::{MeterSample, Outgoing};
use crate::service::{Answer, CALL_BACKLOG, Call, CallKind, EVENT_BACKLOG, Handle, METER_BACKLOG};

/// The known parameter.
pub(crate) const FADER: &str = "strip/Mic/fader_db";
/// A parameter whose get takes [`SLOW`]: a connection waits on it while events pile up.
pub(crate) const SLOW_PATH: &str = "slow";
pub(crate) const SLOW: Duration = Duration::from_millis(400);
/// A parameter whose get is answered only after the server gave up on it.
pub(crate) const STUCK_PATH: &str = "stuck";

/// The handle and the senders a test drives events and meters through.
pub(crate) struct TestMixer {
    pub(crate) handle: Handle,
    pub(crate) events: broadcast::Sender<Arc<Outgoing>>,
    pub(crate) meters: broadcast::Sender<Arc<MeterSample>>,
    pub(crate) meter_subscribers: Arc<AtomicUsize>,
}

impl TestMixer {
    pub(crate) fn start() -> Self {
        let (calls, rx) = sync_channel(CALL_BACKLOG);
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
        let (meters, _) = broadcast::channel(METER_BACKLOG);
        let meter_subscribers = Arc::new(AtomicUsize::new(0));
        let handle = Handle {
            calls,
            events: events.clone(),
            meters: meters.clone(),
            meter_subscribers: Arc::clone(&meter_subscribers),
            meter_rates: Arc::default(),
            spectrum: troubadour_engine::spectrum::SpectrumBank::new(),
        };
        let tx = events.clone();
        std::thread::Builder::new()
            .name("test-control".into())
            .spawn(move || control(rx, tx))
            .expect("test thread");
        TestMixer {
            handle,
            events,
            meters,
            meter_subscribers,
        }
    }
}

fn control(calls: Receiver<Call>, events: broadcast::Sender<Arc<Outgoing>>) {
    let mut seq = 0;
    // Ends when every handle is gone.
    while let Ok(call) = calls.recv() {
        let answer = match call.kind {
            CallKind::Metrics => Ok(Answer::Text("troubadour_xruns_total 0\n".into())),
            CallKind::Api(request) => {
                answer(request, &call.origin, &mut seq, &events).map(Answer::Reply)
            }
        };
        let _ = call.reply.send(answer);
    }
}

fn answer(
    request: Request,
    origin: &str,
    seq: &mut u64,
    events: &broadcast::Sender<Arc<Outgoing>>,
) -> Result<Reply, ApiError> {
    let unknown =
        |path: &str| ApiError::new(ErrorCode::UnknownPath, format!("no parameter {path}"));
    let no_scene = |name: &str| ApiError::new(ErrorCode::NotFound, format!("no scene {name:?}"));
    Ok(match request {
        Request::Get { path } if path == SLOW_PATH => {
            std::thread::sleep(SLOW);
            Reply::Value {
                path,
                value: json!(0),
                seq: None,
            }
        }
        Request::Get { path } if path == STUCK_PATH => {
            std::thread::sleep(crate::server::REQUEST_TIMEOUT + Duration::from_secs(1));
            return Err(unknown(&path));
        }
        Request::Get { path } if path == FADER => Reply::Value {
            path,
            value: json!(-6.0),
            seq: None,
        },
        Request::Get { path } => return Err(unknown(&path)),
        Request::Set { path, .. } if path != FADER => return Err(unknown(&path)),
        Request::Set { value, .. } if !value.is_number() => {
            return Err(ApiError::new(ErrorCode::WrongType, "fader_db is a number"));
        }
        Request::Set { value, .. } if value.as_f64().is_some_and(|v| v > 12.0) => {
            return Err(ApiError::new(
                ErrorCode::OutOfRange,
                "fader_db is -inf..=12",
            ));
        }
        Request::Set { path, value } => {
            *seq += 1;
            let _ = events.send(Arc::new(Outgoing::changed(*seq, &path, &value, origin)));
            Reply::Value {
                path,
                value,
                seq: Some(*seq),
            }
        }
        Request::State => Reply::State {
            state: json!({"strip": [{"name": "Mic", "fader_db": -6.0}], "bus": []}),
            seq: *seq,
        },
        Request::Schema => Reply::Schema {
            schema: json!({"strip/*/fader_db": {"type": "db"}}),
        },
        Request::Status => Reply::Status {
            status: json!({"backend": "null"}),
        },
        Request::SceneList => Reply::Scenes {
            scenes: vec!["Intro".into()],
        },
        Request::SceneRecall { name, .. } | Request::SceneDelete { name } if name != "Intro" => {
            return Err(no_scene(&name));
        }
        Request::SceneRecall { name, fade_ms } => {
            done(seq, format!("recalled {name} over {fade_ms} ms"))
        }
        Request::Undo => return Err(ApiError::new(ErrorCode::NothingToUndo, "nothing to undo")),
        other => done(seq, format!("{other:?}")),
    })
}

fn done(seq: &mut u64, done: String) -> Reply {
    *seq += 1;
    Reply::Done { seq: *seq, done }
}

/// A meter reading with one bus at `peak` dBFS.
pub(crate) fn one_bus(peak: f32) -> MeterSample {
    MeterSample {
        strips: vec![],
        buses: vec![crate::event::BusSample {
            name: "A1".into(),
            post: vec![(peak, peak - 3.0)],
            compressor_db: 0.0,
            limiter_db: 0.0,
        }],
    }
}

/// `{"event":"changed",…}` for the flood tests.
pub(crate) fn filler(n: u64) -> Arc<Outgoing> {
    Arc::new(Outgoing::changed(n, FADER, &Value::from(n), "test"))
}

//! A stand-in for the control thread: a small thread that answers calls with canned
//! replies, so the server's tests run without a host. The meters are a real engine's,
//! which a test plays blocks through (the server's meter feeds read them themselves).

use std::sync::atomic::AtomicUsize;
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast;
use troubadour_engine::{Controller, Engine, EngineOptions, create, session};

use crate::api::{ApiError, ErrorCode, Reply, Request};
use crate::event::Outgoing;
use crate::service::{
    Answer, CALL_BACKLOG, Call, CallKind, EVENT_BACKLOG, Handle, METER_BACKLOG, MeterReader,
};

/// A stereo strip of two device inputs into bus A1, all at unity: the bus meters what
/// the test plays.
const SESSION: &str = r#"
version = 1
block_frames = 256
[[strip]]
name = "Mic"
channels = 2
source = { device = "in_1,in_2" }
sends = { A1 = {} }
[[bus]]
name = "A1"
channels = 2
"#;

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
    pub(crate) reader: Arc<MeterReader>,
    pub(crate) engine: Arc<Mutex<Engine>>,
    _controller: Controller,
}

impl TestMixer {
    pub(crate) fn start() -> Self {
        let (calls, rx) = sync_channel(CALL_BACKLOG);
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
        let (meters, _) = broadcast::channel(METER_BACKLOG);
        let loaded = session::parse(SESSION, "test.toml".as_ref()).expect("the test session");
        let (controller, engine) =
            create(&loaded, &EngineOptions::default()).expect("the test engine");
        let reader = MeterReader::new(controller.meter_tap().clone());
        let handle = Handle {
            calls,
            events: events.clone(),
            meters,
            meter_subscribers: Arc::new(AtomicUsize::new(0)),
            meter_rates: Arc::default(),
            spectrum: Arc::clone(controller.spectrum()),
            meter_reader: Arc::clone(&reader),
        };
        let tx = events.clone();
        std::thread::Builder::new()
            .name("test-control".into())
            .spawn(move || control(rx, tx))
            .expect("test thread");
        TestMixer {
            handle,
            events,
            reader,
            engine: Arc::new(Mutex::new(engine)),
            _controller: controller,
        }
    }

    /// Plays one block of a constant `peak_db` dBFS on both channels through the
    /// engine: the bus meters that peak.
    pub(crate) fn play(engine: &Mutex<Engine>, peak_db: f32) {
        let x = troubadour_dsp::gain::db_to_gain(peak_db);
        let input = vec![x; 256];
        let (mut left, mut right) = (vec![0.0; 256], vec![0.0; 256]);
        let mut engine = engine.lock().unwrap_or_else(|p| p.into_inner());
        engine.process(&[&input, &input], &mut [&mut left, &mut right], 256);
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

/// `{"event":"changed",…}` for the flood tests.
pub(crate) fn filler(n: u64) -> Arc<Outgoing> {
    Arc::new(Outgoing::changed(n, FADER, &Value::from(n), "test"))
}

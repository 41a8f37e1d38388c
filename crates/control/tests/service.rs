//! The control thread end to end, on a real host (the null backend's clock thread runs
//! the real engine): requests through the handle as any surface sends them, events as
//! subscribers receive them, the session file as the user finds it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use troubadour_control::api::{ErrorCode, Reply, Request};
use troubadour_control::service::{Handle, Service, ServiceConfig};
use troubadour_engine::session;
use troubadour_host::{BackendChoice, Host, HostConfig};

const SESSION: &str = r#"# The podcast session: a comment the user wrote.
version = 1
sample_rate = 48000
block_frames = 256

# The host's voice.
[[strip]]
name = "Host"
source = { generator = "sine", freq = 1000.0, level_db = -20.0 }
channels = 1
fader_db = 0.0 # unity
sends = { A1 = {}, B1 = { level_db = -6.0 } }

[[strip]]
name = "Guest"
source = { generator = "sine", freq = 440.0, level_db = -30.0 }
channels = 1
recall_safe = true
sends = { A1 = {} }

[[bus]]
name = "A1"
channels = 2

[[bus]]
name = "B1"
channels = 2
"#;

struct Rig {
    dir: PathBuf,
    handle: Handle,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<String>>,
}

impl Rig {
    fn new(tag: &str) -> Rig {
        Rig::with(
            tag,
            ServiceConfig {
                autosave_delay: Duration::from_millis(300),
                ..Default::default()
            },
        )
    }

    fn with(tag: &str, config: ServiceConfig) -> Rig {
        let dir = std::env::temp_dir().join(format!("troubadour-svc-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("session.toml");
        std::fs::write(&path, SESSION).unwrap();
        let loaded = session::load_live(&path).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let flag = Arc::clone(&stop);
        // The host lives and dies on the control thread, as in `troubadour run`.
        let thread = std::thread::spawn(move || {
            let host = Host::start(
                loaded,
                HostConfig {
                    backend: BackendChoice::Null,
                    watch_session: false,
                    ..Default::default()
                },
            )
            .unwrap();
            let mut service = Service::new(host, config);
            tx.send(service.handle()).unwrap();
            service.run(&flag, |_| {});
            service.shutdown()
        });
        let handle = rx.recv().unwrap();
        Rig {
            dir,
            handle,
            stop,
            thread: Some(thread),
        }
    }

    fn file(&self) -> String {
        std::fs::read_to_string(self.dir.join("session.toml")).unwrap()
    }

    fn ask(&self, r: Request) -> Result<Reply, troubadour_control::api::ApiError> {
        self.handle.request_blocking(r, "test")
    }

    fn ask_as(&self, r: Request, origin: &str) -> Result<Reply, troubadour_control::api::ApiError> {
        self.handle.request_blocking(r, origin)
    }

    fn set(&self, path: &str, value: Value) -> Reply {
        self.ask(Request::Set {
            path: path.into(),
            value,
        })
        .unwrap_or_else(|e| panic!("set {path}: {e}"))
    }

    fn get(&self, path: &str) -> Value {
        match self.ask(Request::Get { path: path.into() }).unwrap() {
            Reply::Value { value, .. } => value,
            other => panic!("{other:?}"),
        }
    }

    fn state(&self) -> (Value, u64) {
        match self.ask(Request::State).unwrap() {
            Reply::State { state, seq } => (state, seq),
            other => panic!("{other:?}"),
        }
    }

    fn wait_for(&self, what: &str, mut ok: impl FnMut(&Rig) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ok(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn events(
    rx: &mut tokio::sync::broadcast::Receiver<Arc<troubadour_control::event::Outgoing>>,
) -> Vec<Value> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(serde_json::from_str(&e.json).unwrap());
    }
    out
}

#[test]
fn a_set_is_applied_numbered_broadcast_and_in_the_state() {
    let rig = Rig::new("set");
    let mut rx = rig.handle.events();
    let reply = rig.set("strip/Host/fader_db", json!(-6.0));
    let Reply::Value { path, value, seq } = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(
        (path.as_str(), value.as_f64(), seq),
        ("strip/Host/fader_db", Some(-6.0), Some(1))
    );
    // By index, by norm, and "-inf" both ways.
    rig.set("strip/2/fader_db", json!("-inf"));
    assert_eq!(rig.get("strip/Guest/fader_db"), json!("-inf"));
    assert_eq!(rig.get("strip/Guest/fader_db/norm").as_f64(), Some(0.0));
    rig.set("bus/A1/fader_db/norm", json!(0.5));
    assert_eq!(rig.get("bus/1/fader_db").as_f64(), Some(-10.0));
    // A set to the value there is acknowledged, and neither told nor undoable.
    let again = rig.set("bus/A1/fader_db", json!(-10));
    assert!(
        matches!(again, Reply::Value { seq: Some(3), .. }),
        "{again:?}"
    );
    let (state, seq) = rig.state();
    assert_eq!(seq, 3);
    assert_eq!(state["strip"][0]["fader_db"].as_f64(), Some(-6.0));
    assert_eq!(state["strip"][1]["fader_db"], json!("-inf"));
    let seen = events(&mut rx);
    let changed: Vec<(u64, &str)> = seen
        .iter()
        .filter(|e| e["event"] == "changed")
        .map(|e| (e["seq"].as_u64().unwrap(), e["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        changed,
        vec![
            (1, "strip/Host/fader_db"),
            (2, "strip/Guest/fader_db"),
            (3, "bus/A1/fader_db")
        ]
    );
    assert!(
        seen.iter()
            .all(|e| e["event"] != "changed" || e["origin"] == "test")
    );
}

#[test]
fn refusals_have_their_codes_and_change_nothing() {
    let rig = Rig::new("refuse");
    let code = |r: Request| rig.ask(r).unwrap_err().code;
    let set = |p: &str, v: Value| Request::Set {
        path: p.into(),
        value: v,
    };
    assert_eq!(
        code(set("strip/Nobody/fader_db", json!(0))),
        ErrorCode::UnknownPath
    );
    assert_eq!(
        code(set("strip/Host/volume", json!(0))),
        ErrorCode::UnknownPath
    );
    assert_eq!(
        code(set("strip/Host/fader_db", json!(true))),
        ErrorCode::WrongType
    );
    assert_eq!(
        code(set("strip/Host/fader_db", json!(20))),
        ErrorCode::OutOfRange
    );
    assert_eq!(
        code(set("strip/Host/fader_db", json!("inf"))),
        ErrorCode::OutOfRange
    );
    assert_eq!(code(set("strip/Host/pan", json!(2))), ErrorCode::OutOfRange);
    assert_eq!(code(Request::Undo), ErrorCode::NothingToUndo);
    assert_eq!(
        code(Request::SceneRecall {
            name: "nope".into(),
            fade_ms: 0.0
        }),
        ErrorCode::NotFound
    );
    let message = rig
        .ask(set("strip/Host/fader_db", json!(20)))
        .unwrap_err()
        .message;
    assert!(
        message.contains("strip/Host/fader_db") && message.contains("12"),
        "{message}"
    );
    assert_eq!(rig.state().1, 0, "nothing was applied");
}

#[test]
fn undo_and_redo_cross_clients_and_a_drag_is_one_step() {
    let rig = Rig::new("undo");
    for db in [-1.0, -2.0, -3.0, -4.0] {
        rig.ask_as(
            Request::Set {
                path: "strip/Host/fader_db".into(),
                value: json!(db),
            },
            "ws-1",
        )
        .unwrap();
    }
    rig.ask_as(
        Request::Set {
            path: "strip/Host/mute".into(),
            value: json!(true),
        },
        "ws-2",
    )
    .unwrap();
    rig.ask_as(Request::Undo, "ws-3").unwrap();
    assert_eq!(rig.get("strip/Host/mute"), json!(false));
    assert_eq!(rig.get("strip/Host/fader_db").as_f64(), Some(-4.0));
    rig.ask(Request::Undo).unwrap();
    assert_eq!(
        rig.get("strip/Host/fader_db").as_f64(),
        Some(0.0),
        "the drag was one step"
    );
    rig.ask(Request::Redo).unwrap();
    assert_eq!(rig.get("strip/Host/fader_db").as_f64(), Some(-4.0));
}

#[test]
fn structural_edits_swap_the_graph_and_names_follow() {
    let rig = Rig::new("structure");
    let mut rx = rig.handle.events();
    rig.ask(Request::AddStrip {
        strip: json!({"name": "Music", "source": {"generator": "pink", "level_db": -30},
                      "sends": {"A1": {"level_db": -10}}}),
        index: Some(1),
    })
    .unwrap();
    rig.ask(Request::RenameBus {
        bus: "A1".into(),
        name: "Main".into(),
    })
    .unwrap();
    assert_eq!(
        rig.get("strip/Music/send/Main/level_db").as_f64(),
        Some(-10.0)
    );
    assert_eq!(rig.get("strip/1/name"), json!("Music"));
    rig.ask(Request::RemoveBus { bus: "B1".into() }).unwrap();
    let (state, _) = rig.state();
    assert_eq!(state["bus"].as_array().unwrap().len(), 1);
    assert!(state["strip"][1]["sends"].get("B1").is_none());
    let e = rig
        .ask(Request::AddStrip {
            strip: json!({"name": "Music", "source": {"generator": "sine"}}),
            index: None,
        })
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict);
    let kinds: Vec<String> = events(&mut rx)
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "structure_changed").count(),
        3,
        "{kinds:?}"
    );
    // The engine took the new graphs: the renamed bus is metered under its new name.
    let mut meters = rig.handle.meters(30.0);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if let Ok(m) = meters.receiver.try_recv()
            && m.buses.iter().any(|b| b.name == "Main")
        {
            break;
        }
        assert!(Instant::now() < deadline, "no meters for bus Main");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_scene_recall_glides_and_leaves_recall_safe_strips_alone() {
    let rig = Rig::new("scene");
    rig.set("strip/Host/fader_db", json!(-20.0));
    rig.set("strip/Guest/fader_db", json!(-3.0));
    rig.ask(Request::SceneSave {
        name: "Quiet".into(),
    })
    .unwrap();
    rig.set("strip/Host/fader_db", json!(0.0));
    rig.set("strip/Guest/fader_db", json!(-9.0));
    let mut rx = rig.handle.events();
    let started = Instant::now();
    rig.ask(Request::SceneRecall {
        name: "Quiet".into(),
        fade_ms: 400.0,
    })
    .unwrap();
    rig.wait_for("the fade's end", |r| {
        r.get("strip/Host/fader_db").as_f64() == Some(-20.0)
    });
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(350), "the fade took {took:?}");
    assert_eq!(
        rig.get("strip/Guest/fader_db").as_f64(),
        Some(-9.0),
        "recall_safe"
    );
    let steps: Vec<f64> = events(&mut rx)
        .iter()
        .filter(|e| e["event"] == "changed" && e["path"] == "strip/Host/fader_db")
        .map(|e| e["value"].as_f64().unwrap())
        .collect();
    assert!(steps.len() >= 4, "{steps:?}");
    assert!(
        steps.windows(2).all(|w| w[1] <= w[0]),
        "monotonic: {steps:?}"
    );
    // One undo step takes the whole recall back.
    rig.ask(Request::Undo).unwrap();
    assert_eq!(rig.get("strip/Host/fader_db").as_f64(), Some(0.0));
}

#[test]
fn changes_are_saved_keeping_comments_and_a_hand_edit_merges_with_them() {
    let rig = Rig::new("save");
    rig.set("strip/Host/fader_db", json!(-7.5));
    rig.wait_for("the autosave", |r| r.file().contains("-7.5"));
    let text = rig.file();
    for kept in [
        "# The podcast session",
        "# The host's voice.",
        "# unity",
        "recall_safe = true",
    ] {
        assert!(text.contains(kept), "{kept:?} lost:\n{text}");
    }
    let reread = session::parse_live(&text, "s.toml".as_ref()).unwrap();
    assert_eq!(reread.session.strips[0].fader_db, -7.5);

    // Someone changes the bus fader remotely, and a moment later a user saves an
    // edit made from the file as it was before that: the guest muted.
    let before_remote = rig.file();
    rig.set("bus/A1/fader_db", json!(-3.0));
    let edit = before_remote.replace("recall_safe = true", "recall_safe = true\nmute = true");
    std::fs::write(rig.dir.join("session.toml"), &edit).unwrap();
    rig.wait_for("the hand edit", |r| {
        r.get("strip/Guest/mute") == json!(true)
    });
    assert_eq!(
        rig.get("bus/A1/fader_db").as_f64(),
        Some(-3.0),
        "the remote change survives"
    );
    rig.wait_for("the merged file", |r| {
        let t = r.file();
        t.contains("mute = true") && t.contains("fader_db = -3")
    });
}

#[test]
fn docs_api_md_lists_every_parameter_template() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/API.md")).unwrap();
    for t in troubadour_control::namespace::templates() {
        assert!(
            doc.contains(&format!("| `{}` |", t.path)),
            "docs/API.md does not list {}",
            t.path
        );
    }
}

#[test]
fn undoing_a_change_made_during_a_fade_takes_back_only_that_change() {
    let rig = Rig::new("fade-undo");
    rig.set("strip/Host/fader_db", json!(-40.0));
    rig.ask(Request::SceneSave {
        name: "Down".into(),
    })
    .unwrap();
    rig.set("strip/Host/fader_db", json!(0.0));
    rig.ask(Request::SceneRecall {
        name: "Down".into(),
        fade_ms: 400.0,
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(150));
    let mut rx = rig.handle.events();
    rig.ask_as(
        Request::Set {
            path: "bus/B1/mute".into(),
            value: json!(true),
        },
        "ws-9",
    )
    .unwrap();
    rig.wait_for("the fade's end", |r| {
        r.get("strip/Host/fader_db").as_f64() == Some(-40.0)
    });
    // The fade's own events never repeat the other client's change.
    let mutes: Vec<Value> = events(&mut rx)
        .into_iter()
        .filter(|e| e["path"] == "bus/B1/mute")
        .collect();
    assert_eq!(mutes.len(), 1, "{mutes:?}");
    assert_eq!(mutes[0]["origin"], "ws-9");
    rig.ask(Request::Undo).unwrap();
    assert_eq!(rig.get("bus/B1/mute"), json!(false));
    assert_eq!(
        rig.get("strip/Host/fader_db").as_f64(),
        Some(-40.0),
        "the fade stays done"
    );
}

#[test]
fn a_hand_edit_saved_just_before_an_autosave_is_not_written_over() {
    let rig = Rig::new("save-race");
    rig.set("strip/Host/fader_db", json!(-7.5));
    rig.wait_for("the autosave", |r| r.file().contains("-7.5"));
    // A remote change, then a hand save 150 ms later, inside the 300 ms delay.
    rig.set("bus/A1/fader_db", json!(-2.0));
    std::thread::sleep(Duration::from_millis(150));
    let edit = rig
        .file()
        .replace("# The host's voice.", "# The host's voice, edited.")
        + "\n# a note\n";
    std::fs::write(rig.dir.join("session.toml"), &edit).unwrap();
    rig.wait_for("the merged file", |r| {
        let t = r.file();
        t.contains("# a note") && t.contains("fader_db = -2")
    });
    std::thread::sleep(Duration::from_millis(700));
    let t = rig.file();
    assert!(
        t.contains("# The host's voice, edited.") && t.contains("# a note"),
        "{t}"
    );
    assert_eq!(rig.get("bus/A1/fader_db").as_f64(), Some(-2.0));
}

#[test]
fn without_autosave_a_hand_edit_is_merged_told_and_undoable_and_nothing_is_written() {
    let rig = Rig::with(
        "no-autosave",
        ServiceConfig {
            autosave: false,
            ..Default::default()
        },
    );
    let mut rx = rig.handle.events();
    rig.set("bus/A1/fader_db", json!(-5.0));
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(rig.file(), SESSION, "nothing written");
    let edit = SESSION.replace("recall_safe = true", "recall_safe = true\nmute = true");
    std::fs::write(rig.dir.join("session.toml"), &edit).unwrap();
    rig.wait_for("the hand edit", |r| {
        r.get("strip/Guest/mute") == json!(true)
    });
    assert_eq!(
        rig.get("bus/A1/fader_db").as_f64(),
        Some(-5.0),
        "the remote change is kept"
    );
    let told: Vec<Value> = events(&mut rx)
        .into_iter()
        .filter(|e| e["event"] == "changed" && e["origin"] == "file")
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["path"], "strip/Guest/mute");
    rig.ask(Request::Undo).unwrap();
    assert_eq!(rig.get("strip/Guest/mute"), json!(false));
    assert_eq!(rig.get("bus/A1/fader_db").as_f64(), Some(-5.0));
    assert_eq!(rig.file(), edit, "still nothing written");
}

/// Readings a subscription receives over `window`.
fn readings_over(
    meters: &mut troubadour_control::service::MeterSubscription,
    window: Duration,
) -> usize {
    use tokio::sync::broadcast::error::TryRecvError;
    // What waited from before the window (a lag included) is not counted.
    while !matches!(meters.receiver.try_recv(), Err(TryRecvError::Empty)) {}
    let end = Instant::now() + window;
    let mut n = 0;
    while Instant::now() < end {
        match meters.receiver.try_recv() {
            Ok(_) => n += 1,
            Err(TryRecvError::Lagged(k)) => n += k as usize,
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    n
}

#[test]
fn meters_are_read_as_often_as_the_fastest_subscription_takes_frames() {
    let rig = Rig::new("meter-rate");
    let mut slow = rig.handle.meters(20.0);
    // The engine's meters hold their peaks between readings: 20 a second lose none, and
    // a page at 20 Hz costs the control thread a fifth of what 100 a second would.
    let at_20 = readings_over(&mut slow, Duration::from_secs(1));
    assert!(
        (10..=26).contains(&at_20),
        "{at_20} readings in 1 s at 20 Hz"
    );
    let mut fast = rig.handle.meters(100.0);
    let at_100 = readings_over(&mut fast, Duration::from_secs(1));
    assert!(at_100 >= 50, "{at_100} readings in 1 s at 100 Hz");
    drop(fast);
    let again = readings_over(&mut slow, Duration::from_secs(1));
    assert!(
        (10..=26).contains(&again),
        "{again} readings in 1 s back at 20 Hz"
    );
}

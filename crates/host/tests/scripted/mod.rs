//! A scripted backend for the host's tests: it can be lost and brought back, change its
//! rate or period, lose and regain devices, or refuse to start. Underneath it runs the
//! real null backend, so the engine really processes.
#![allow(dead_code)] // each test binary uses part of it

use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use troubadour_engine::Engine;
use troubadour_engine::session::{self, LoadedSession, Session};
use troubadour_host::{Backoff, Host, HostConfig, HostEvent};
use troubadour_io::backend::{
    Backend, BackendError, BackendKind, BackendStats, Clock, DeviceChange, Driver, Health, Latency,
    Started,
};
use troubadour_io::null::NullBackend;

/// What the script controls.
#[derive(Debug)]
pub struct World {
    pub kind: BackendKind,
    /// A server answers.
    pub up: bool,
    /// Bumped when the server goes away: backends of an older epoch are lost.
    pub epoch: u64,
    pub rate: u32,
    pub period: usize,
    /// The server answers but refuses to start a client.
    pub refuse: bool,
    /// Device changes the next `maintain` reports.
    pub changes: Vec<DeviceChange>,
    pub starts: u32,
}

pub type Shared = Arc<Mutex<World>>;

pub fn world(kind: BackendKind) -> Shared {
    Arc::new(Mutex::new(World {
        kind,
        up: true,
        epoch: 0,
        rate: 48_000,
        period: 256,
        refuse: false,
        changes: Vec::new(),
        starts: 0,
    }))
}

pub struct ScriptedDriver {
    pub world: Shared,
    pub period: usize,
}

impl Driver for ScriptedDriver {
    fn kind(&self) -> BackendKind {
        self.world.lock().unwrap().kind
    }

    fn connect(&mut self, _: &Session, _: usize, _: bool) -> Result<Clock, BackendError> {
        let w = self.world.lock().unwrap();
        if !w.up {
            return Err(BackendError::Unavailable("no server answers".into()));
        }
        self.period = w.period;
        Ok(Clock {
            sample_rate: w.rate,
            period_frames: w.period,
        })
    }

    fn start(&mut self, engine: Engine, _: &Session) -> Result<Started, BackendError> {
        let mut w = self.world.lock().unwrap();
        if w.refuse {
            return Err(BackendError::Refused(
                "the server refused the client".into(),
            ));
        }
        w.starts += 1;
        let inner = NullBackend::start(engine, self.period).unwrap();
        Ok(Started {
            backend: Box::new(ScriptedBackend {
                inner,
                world: Arc::clone(&self.world),
                epoch: w.epoch,
            }),
            offline: vec!["strip \"Mic\": no port matches \"nothing\"".into()],
            notes: vec!["audio thread: a scripted one".into()],
        })
    }

    fn describe(&self) -> String {
        "a scripted server".into()
    }
}

pub struct ScriptedBackend {
    inner: NullBackend,
    world: Shared,
    epoch: u64,
}

impl Backend for ScriptedBackend {
    fn kind(&self) -> BackendKind {
        self.world.lock().unwrap().kind
    }

    fn clock(&self) -> Clock {
        let w = self.world.lock().unwrap();
        Clock {
            sample_rate: w.rate,
            period_frames: w.period,
        }
    }

    fn latency(&self) -> Latency {
        Latency {
            capture_frames: 256,
            playback_frames: 256,
        }
    }

    fn stats(&self) -> BackendStats {
        self.inner.stats()
    }

    fn health(&self) -> Health {
        let w = self.world.lock().unwrap();
        if w.up && w.epoch == self.epoch {
            Health::Running
        } else {
            Health::Lost("the scripted server went away".into())
        }
    }

    fn maintain(&mut self, _: &Session) -> Vec<DeviceChange> {
        std::mem::take(&mut self.world.lock().unwrap().changes)
    }

    fn stop(self: Box<Self>) -> Option<Engine> {
        self.inner.stop()
    }
}

pub const SESSION: &str = r#"version = 1
sample_rate = 48000
block_frames = 256

# The user's comment.
[[strip]]
name = "Tone"
source = { generator = "sine", freq = 1000.0, level_db = -12.0 }
sends = { A1 = {} }

[[bus]]
name = "A1"
channels = 2
"#;

/// A session file in a fresh directory, loaded.
pub fn session_file(tag: &str) -> (PathBuf, LoadedSession) {
    let dir = std::env::temp_dir().join(format!("troubadour-host-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("session.toml");
    std::fs::write(&path, SESSION).unwrap();
    let loaded = session::load(&path).unwrap();
    (path, loaded)
}

pub fn config() -> HostConfig {
    HostConfig {
        reconnect: Backoff {
            first: Duration::from_millis(1),
            max: Duration::from_millis(2),
        },
        ..HostConfig::default()
    }
}

pub fn start(w: &Shared, tag: &str) -> (Host, Receiver<HostEvent>, PathBuf) {
    let (path, loaded) = session_file(tag);
    let driver = ScriptedDriver {
        world: Arc::clone(w),
        period: 0,
    };
    let mut host = Host::start_on(loaded, config(), Box::new(driver)).unwrap();
    let rx = host.subscribe();
    (host, rx, path)
}

/// Ticks the host until an event matches `wanted`; returns every event seen.
pub fn until(
    host: &mut Host,
    rx: &Receiver<HostEvent>,
    wanted: impl Fn(&HostEvent) -> bool,
) -> Vec<HostEvent> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        while let Ok(e) = rx.try_recv() {
            let hit = wanted(&e);
            seen.push(e);
            if hit {
                return seen;
            }
        }
        assert!(Instant::now() < deadline, "not seen; events: {seen:#?}");
        host.tick();
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Threads of this process.
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Threads of this process with this name.
pub fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim() == name)
        .count()
}

/// Writes `text` to the session file and ticks until the host has judged it.
pub fn edit(
    host: &mut Host,
    rx: &Receiver<HostEvent>,
    path: &PathBuf,
    text: &str,
) -> Vec<HostEvent> {
    std::fs::write(path, text).unwrap();
    until(host, rx, |e| {
        matches!(
            e,
            HostEvent::ReloadApplied { .. }
                | HostEvent::ReloadRejected { .. }
                | HostEvent::SessionFileGone(_)
        )
    })
}

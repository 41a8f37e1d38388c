//! MIDI from outside, on a private JACK server: a surface that is not ours
//! (python-rtmidi on its JACK backend, `tests/clients/midi_peer.py`) sends and receives
//! real JACK MIDI events to and from `troubadour run`; what it moves is read back over
//! the HTTP API, and what the mixer sends back is what the peer prints.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::api::request;
use support::{Dir, Server, api_addr, lines};

const SESSION: &str = r#"version = 1

[[strip]]
name = "Mic"
channels = 1
source = { generator = "sine", freq = 440.0, level_db = -20.0 }
sends = { A1 = {} }

[[strip]]
name = "Bed"
channels = 2
source = { file = "bed.wav", loop = true }
sends = { A1 = {} }

[[bus]]
name = "A1"

[[bus]]
name = "B1"

[recorder]
dir = "takes"
tracks = ["strip/Mic", "bus/A1"]

[[scene]]
name = "Live"
values = { "strip/Mic/fader_db" = -6.0, "strip/Mic/pan" = 0.25 }

# The surface's first fader, with its motor
[[midi]]
control = { cc = 7 }
target = "strip/Mic/fader_db"
feedback = true

[[midi]]
control = { cc = 8 }
target = "bus/A1/fader_db"
pickup = true

[[midi]]
control = { note = 36 }
target = "strip/Mic/mute"

# The transport: play/pause the bed, one button for the take, one for markers
[[midi]]
control = { note = 60 }
target = "strip/Bed/player/playing"
feedback = true

[[macro]]
name = "Record"
control = { note = 41 }
actions = [{ recorder = "toggle" }]

[[macro]]
name = "Mark"
control = { note = 42 }
actions = [{ recorder = "mark", label = "applause" }]

[[macro]]
name = "Go live"
control = { note = 40 }
actions = [{ set = "strip/Mic/pan", value = -0.5 }, { set = "bus/B1/mute", value = true }, { scene = "Live", fade_ms = 300 }]
"#;

/// The peer: one JACK client sending on `peer:out`, one receiving on `peer-in:in`.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    rx: mpsc::Receiver<String>,
}

impl Peer {
    fn start(server: &Server) -> Peer {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/midi_peer.py");
        let mut child = server
            .command("python3")
            .args([script, "peer"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 with python-rtmidi (scripts/test.sh installs them)");
        let stdin = child.stdin.take().unwrap();
        let rx = lines(child.stdout.take().unwrap());
        let peer = Peer { child, stdin, rx };
        peer.expect("ready", Duration::from_secs(10));
        peer
    }

    /// Sends these bytes (hex) as one JACK MIDI event.
    fn send(&mut self, hex: &str) {
        writeln!(self.stdin, "send {hex}").unwrap();
        self.stdin.flush().unwrap();
        self.expect("sent", Duration::from_secs(5));
    }

    /// Waits for a line; returns the lines before it.
    fn expect(&self, line: &str, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        let mut before = Vec::new();
        while Instant::now() < deadline {
            if let Ok(l) = self.rx.recv_timeout(Duration::from_millis(20)) {
                if l == line {
                    return before;
                }
                before.push(l);
            }
        }
        panic!("the peer never printed {line:?}; it printed {before:?}");
    }

    /// What it received until now.
    fn received(&self) -> Vec<String> {
        self.rx
            .try_iter()
            .filter(|l| l.starts_with("in "))
            .collect()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(addr: SocketAddr, path: &str) -> Value {
    let r = request(addr, "GET", &format!("/api/v1/params/{path}"), &[], None);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()["value"].clone()
}

fn call(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Value {
    let body = body.map(|b| b.to_string());
    let r = request(addr, method, path, &[], body.as_deref().map(str::as_bytes));
    assert_eq!(r.status, 200, "{method} {path}: {}", r.body);
    r.json()
}

/// Polls `path` until it holds `want` (numbers within 0.01), for up to 5 s.
fn wait_for(addr: SocketAddr, path: &str, want: &Value) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = Value::Null;
    while Instant::now() < deadline {
        last = get(addr, path);
        let same = match (last.as_f64(), want.as_f64()) {
            (Some(a), Some(b)) => (a - b).abs() < 0.01,
            _ => last == *want,
        };
        if same {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{path} is {last}, never {want}");
}

/// The fader's dB for a 7-bit CC value: the console taper (docs/API.md), -inf at 0.
fn fader_db(cc: u8) -> Value {
    let norm = f64::from(cc) / 127.0;
    let points = [
        (0.0, -90.0),
        (0.0625, -60.0),
        (0.25, -30.0),
        (0.5, -10.0),
        (0.75, 0.0),
        (1.0, 12.0),
    ];
    if norm == 0.0 {
        return json!("-inf");
    }
    let w = points.windows(2).find(|w| norm <= w[1].0).unwrap();
    let ((n0, d0), (n1, d1)) = (w[0], w[1]);
    json!(d0 + (norm - n0) / (n1 - n0) * (d1 - d0))
}

fn wait_connected(server: &Server, port: &str, to: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.connections(port).iter().any(|p| p == to) {
        assert!(
            Instant::now() < deadline,
            "{port} never got connected to {to}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A private server, `troubadour run` on [`SESSION`] with the peer's ports named, and
/// the peer, connected both ways and told where the mix is.
struct Rig {
    dir: Dir,
    session: String,
    server: Server,
    out: mpsc::Receiver<String>,
    seen: Vec<String>,
    addr: SocketAddr,
    peer: Peer,
}

/// Our MIDI ports: on the audio client when the audio backend is JACK, else on a
/// client of their own.
fn ports(backend: &str) -> (&'static str, &'static str) {
    if backend == "jack" {
        ("troubadour:midi_in", "troubadour:midi_out")
    } else {
        ("troubadour-midi:in", "troubadour-midi:out")
    }
}

impl Rig {
    fn start(tag: &str) -> Rig {
        Rig::start_on(tag, "jack")
    }

    fn start_on(tag: &str, backend: &str) -> Rig {
        let dir = Dir::new(tag);
        let mut server = Server::start(tag);
        let session = dir.write("session.toml", SESSION);
        let bed = dir.path("bed.wav");
        let made = std::process::Command::new("sox")
            .args(["-n", "-r", "48000", "-c", "2", "-b", "16"])
            .arg(&bed)
            .args(["synth", "10", "sine", "220", "vol", "0.1"])
            .output()
            .expect("sox is installed (scripts/test.sh installs it)");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let (ours_in, ours_out) = ports(backend);
        let out = server.troubadour_on(
            backend,
            &session,
            &[
                "--listen",
                "127.0.0.1:0",
                "--no-osc",
                "--midi-in",
                "peer:out",
                "--midi-out",
                "peer-in:in",
            ],
            &[],
        );
        let mut seen = Vec::new();
        let addr = api_addr(&out, &mut seen);
        server.wait_for_port(ours_in);
        // The surface comes after the mixer: its ports are connected when they appear,
        // and it is told where the mix is (the fader with feedback at 0 dB: CC 95).
        let peer = Peer::start(&server);
        wait_connected(&server, ours_in, "peer:out");
        wait_connected(&server, ours_out, "peer-in:in");
        peer.expect("in B0 07 5F", Duration::from_secs(5));
        Rig {
            dir,
            session,
            server,
            out,
            seen,
            addr,
            peer,
        }
    }
}

#[test]
fn a_surface_moves_faders_switches_and_macros_and_hears_feedback() {
    let Rig {
        dir: _dir,
        session,
        mut server,
        out,
        mut seen,
        addr,
        mut peer,
    } = Rig::start("midi");

    // MIDI rides on the audio client: no client of its own for the server to wake.
    let own: Vec<String> = server
        .ports()
        .into_iter()
        .filter(|p| p.starts_with("troubadour-midi"))
        .collect();
    assert!(
        own.is_empty(),
        "a MIDI client of its own beside JACK audio: {own:?}"
    );

    // A CC 7 sweep moves the fader along the console taper.
    for v in [0u8, 1, 32, 64, 95, 96, 127] {
        peer.send(&format!("B0 07 {v:02X}"));
        wait_for(addr, "strip/Mic/fader_db", &fader_db(v));
    }
    let heard = peer.received();
    assert!(
        heard.iter().all(|l| !l.starts_with("in B0 07")),
        "the control's own moves are not echoed: {heard:?}"
    );

    // A change over HTTP goes back to the surface, scaled to the CC's range.
    call(
        addr,
        "PUT",
        "/api/v1/params/strip/Mic/fader_db",
        Some(json!({"value": -10.0})),
    );
    peer.expect("in B0 07 40", Duration::from_secs(2));

    // Pick-up: bus A1 sits at 0 dB (CC 95.25); a control far below changes nothing
    // until it crosses. Each step is followed by a CC 7 move applied after it, so
    // "nothing changed" is not merely "not yet".
    for (v, marker) in [(0u8, 10u8), (40, 20), (90, 30)] {
        peer.send(&format!("B0 08 {v:02X}"));
        peer.send(&format!("B0 07 {marker:02X}"));
        wait_for(addr, "strip/Mic/fader_db", &fader_db(marker));
        assert_eq!(
            get(addr, "bus/A1/fader_db").as_f64(),
            Some(0.0),
            "moved at CC {v}"
        );
    }
    peer.send("B0 08 6E");
    wait_for(addr, "bus/A1/fader_db", &fader_db(110));
    peer.send("B0 08 64");
    wait_for(addr, "bus/A1/fader_db", &fader_db(100));

    // A note toggles a switch on each press.
    for on in [true, false] {
        peer.send("90 24 7F");
        peer.send("80 24 00");
        wait_for(addr, "strip/Mic/mute", &json!(on));
    }

    // Bad input: running status over two events; a SysEx in the middle ends it (the
    // data bytes after it are no message); real-time bytes inside a message.
    peer.send("B0 07 0A");
    peer.send("07 14");
    wait_for(addr, "strip/Mic/fader_db", &fader_db(20));
    peer.send("F0 7E 01 02 F7 B0 07 28");
    peer.send("07 32");
    peer.send("B0 F8 07");
    peer.send("3C");
    wait_for(addr, "strip/Mic/fader_db", &fader_db(60));

    // Learn: the next control moved is mapped and saved with the session.
    let r = call(
        addr,
        "POST",
        "/api/v1/request",
        Some(json!({"op": "midi_learn", "path": "bus/A1/mute"})),
    );
    assert!(r["done"].as_str().unwrap().contains("bus/A1/mute"), "{r}");
    peer.send("90 32 7F");
    let deadline = Instant::now() + Duration::from_secs(5);
    let saved = loop {
        let text = std::fs::read_to_string(&session).unwrap();
        if text.contains("note = 50") {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "the learned mapping was not saved:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        saved.contains("# The surface's first fader, with its motor"),
        "{saved}"
    );
    let learned = troubadour_engine::session::parse(&saved, session.as_ref()).unwrap();
    let last = learned.session.midi.last().unwrap();
    assert_eq!(
        (
            last.control.note,
            last.control.channel,
            last.target.as_str(),
            last.pickup,
            last.feedback
        ),
        (Some(50), None, "bus/A1/mute", false, true),
        "{saved}"
    );
    assert_eq!(
        get(addr, "bus/A1/mute"),
        json!(false),
        "learning moves nothing"
    );
    peer.send("90 32 7F");
    wait_for(addr, "bus/A1/mute", &json!(true));

    // A macro from its note: every action, in order (the set pan, then the scene
    // gliding it on to 0.25), as one undo step.
    let before: Vec<Value> = ["strip/Mic/pan", "strip/Mic/fader_db", "bus/B1/mute"]
        .iter()
        .map(|p| get(addr, p))
        .collect();
    for trigger in ["midi", "http"] {
        match trigger {
            "midi" => peer.send("90 28 7F"),
            _ => {
                call(addr, "POST", "/api/v1/macros/Go%20live", None);
            }
        }
        wait_for(addr, "bus/B1/mute", &json!(true));
        wait_for(addr, "strip/Mic/fader_db", &json!(-6.0));
        wait_for(addr, "strip/Mic/pan", &json!(0.25));
        let undone = call(addr, "POST", "/api/v1/undo", None);
        assert!(
            undone["done"].as_str().unwrap().contains("Go live"),
            "{undone}"
        );
        for (p, v) in ["strip/Mic/pan", "strip/Mic/fader_db", "bus/B1/mute"]
            .iter()
            .zip(&before)
        {
            assert_eq!(get(addr, p), *v, "{trigger}: one undo takes {p} back");
        }
    }

    let metrics = request(addr, "GET", "/metrics", &[], None).body;
    assert!(
        metrics.contains("troubadour_midi_callback_allocations_total 0\n"),
        "{metrics}"
    );
    // All of the above with the audio thread guarded: MIDI in and out, feedback, the
    // recorder and the player moved by it made no system call in the callback (the
    // MIDI ports ride on the audio client, so its callback pumps them).
    assert!(
        metrics.contains("troubadour_syscall_guard_active 1\n"),
        "the guard did not run: {metrics}"
    );
    assert!(
        metrics.contains("troubadour_syscalls_in_callback_total 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("troubadour_midi_bindings 5\n"),
        "{metrics}"
    );
    drop(peer);
    server.stop_troubadour(&out, &mut seen);
}

fn recorder(addr: SocketAddr) -> Value {
    call(
        addr,
        "POST",
        "/api/v1/request",
        Some(json!({"op": "recorder_status"})),
    )["recorder"]
        .clone()
}

fn wait_recorder(addr: SocketAddr, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = recorder(addr);
        if r["state"] == state {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "the recorder is {r}, never {state}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The transport from a surface: a note plays and pauses a file player (its LED
/// follows a change made over HTTP), one button starts and stops a take, another sets
/// markers in it.
#[test]
fn a_surface_runs_the_file_player_and_the_recorder() {
    let Rig {
        dir: _dir,
        server: _server,
        addr,
        mut peer,
        ..
    } = Rig::start("midi-transport");
    assert_eq!(get(addr, "strip/Bed/player/playing"), json!(true));
    for playing in [false, true] {
        peer.send("90 3C 7F");
        peer.send("80 3C 00");
        wait_for(addr, "strip/Bed/player/playing", &json!(playing));
    }
    // Paused over HTTP: the button's LED goes off (note 60 with velocity 0). What
    // the presses themselves sent back is heard first, and set aside.
    std::thread::sleep(Duration::from_millis(500));
    peer.received();
    call(
        addr,
        "PUT",
        "/api/v1/params/strip/Bed/player/playing",
        Some(json!({"value": false})),
    );
    peer.expect("in 90 3C 00", Duration::from_secs(2));

    assert_eq!(recorder(addr)["state"], "idle");
    // A marker with no take is refused, and no take starts.
    peer.send("90 2A 7F");
    peer.send("90 29 7F");
    let started = wait_recorder(addr, "recording");
    let take = std::path::PathBuf::from(started["take"].as_str().expect("the take's folder"));
    std::thread::sleep(Duration::from_millis(500));
    peer.send("90 2A 7F");
    std::thread::sleep(Duration::from_millis(500));
    peer.send("90 29 7F");
    wait_recorder(addr, "idle");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(take.join("take.json")).unwrap()).unwrap();
    assert_eq!(manifest["state"], "complete", "{manifest}");
    let markers = manifest["markers"].as_array().unwrap();
    assert_eq!(markers.len(), 1, "one marker, in the take: {manifest}");
    assert_eq!(markers[0]["label"], "applause");
    let mark = markers[0]["frame"].as_u64().unwrap();
    let frames = manifest["tracks"][0]["frames"].as_u64().unwrap();
    assert!(
        (12_000..48_000).contains(&mark) && mark + 12_000 < frames,
        "marker at {mark} of {frames} frames"
    );
    for t in manifest["tracks"].as_array().unwrap() {
        assert_eq!(t["frames"].as_u64(), Some(frames), "{t}");
        let r = hound::WavReader::open(take.join(t["file"].as_str().unwrap())).unwrap();
        assert_eq!(u64::from(r.duration()), frames, "{t}");
    }
}

#[test]
fn the_surface_is_reconnected_by_name_after_the_jack_server_restarts() {
    let Rig {
        dir: _dir,
        mut server,
        out,
        mut seen,
        addr,
        mut peer,
        ..
    } = Rig::start("midi-restart");
    peer.send("B0 07 20");
    wait_for(addr, "strip/Mic/fader_db", &fader_db(32));

    // The server dies and comes back; so does the surface, after the mixer.
    server.crash_and_restart();
    drop(peer);
    let (ours_in, ours_out) = ports("jack");
    server.wait_for_port(ours_in);
    let mut peer = Peer::start(&server);
    wait_connected(&server, ours_in, "peer:out");
    wait_connected(&server, ours_out, "peer-in:in");
    // Told where the fader is (CC 32, where it was left), then moving it again.
    peer.expect("in B0 07 20", Duration::from_secs(5));
    peer.send("B0 07 40");
    wait_for(addr, "strip/Mic/fader_db", &fader_db(64));
    call(
        addr,
        "PUT",
        "/api/v1/params/strip/Mic/fader_db",
        Some(json!({"value": 0.0})),
    );
    peer.expect("in B0 07 5F", Duration::from_secs(2));
    let metrics = request(addr, "GET", "/metrics", &[], None).body;
    assert!(
        metrics.contains("troubadour_midi_connected 1\n"),
        "{metrics}"
    );
    drop(peer);
    server.stop_troubadour(&out, &mut seen);
}

#[test]
fn midi_opens_a_client_of_its_own_when_the_audio_backend_is_not_jack() {
    // Audio on the null backend; the JACK server is there for MIDI only.
    let Rig {
        dir: _dir,
        server,
        addr,
        mut peer,
        ..
    } = Rig::start_on("midi-own", "null");
    assert!(
        !server.ports().iter().any(|p| p.starts_with("troubadour:")),
        "no audio client on JACK with the null backend"
    );
    peer.send("B0 07 20");
    wait_for(addr, "strip/Mic/fader_db", &fader_db(32));
    call(
        addr,
        "PUT",
        "/api/v1/params/strip/Mic/fader_db",
        Some(json!({"value": -10.0})),
    );
    peer.expect("in B0 07 40", Duration::from_secs(2));
    // The client of our own pumps in a JACK thread of its own, guarded too.
    let metrics = request(addr, "GET", "/metrics", &[], None).body;
    assert!(
        metrics.contains("troubadour_midi_callback_syscalls_total 0\n"),
        "{metrics}"
    );
}

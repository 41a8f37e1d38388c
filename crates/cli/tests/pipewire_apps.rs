//! App routing, default devices, persistent devices and name clashes on the native
//! PipeWire backend, on a private PipeWire + WirePlumber + pipewire-pulse (see
//! `support::pipewire`), asserted from outside with pw-dump, pactl, wpctl and pw-record:
//! - `source = { app = PATTERN }`: a `pw-play` stream named "Game One" started before
//!   `troubadour run` and one named "Game Two" started after are linked to the strip's
//!   device `troubadour.game` (pw-dump's links), the first is recorded from the bus's
//!   virtual device at -12 dB × the strip's -6 dB × the bus's -3 dB (±0.1 dB); a stream
//!   of another app stays on the default sink; after a clean stop both are linked to
//!   the default sink again, and one the user moved elsewhere meanwhile (`pactl
//!   move-sink-input`) stays there; `wpctl status` lists the virtual devices;
//! - `app =` matching nothing: runs, and says so once; a hot reload that turns `app =`
//!   on moves the stream, one that turns it off moves it back;
//! - `default = true`: `pactl get-default-sink` / `get-default-source` name the
//!   virtual devices while it runs and the previous ones after a clean stop; after a
//!   `kill -9` the session manager falls back to a device that exists;
//! - `persist = true`: the device outlives a `kill -9`, and a restart reuses it (one
//!   `troubadour.browser` in `pactl -f json list sinks`, never two);
//! - a virtual device whose node name another program's device has: `check` and `run`
//!   fail with an error that names it.
#![cfg(feature = "pipewire")]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::pipewire::{PipeWire, measure};
use support::{Dir, expect_line};

/// A strip that takes the streams of apps whose name starts with "game", at -6 dB, sent
/// to a bus at -3 dB that is a virtual microphone.
const APPS: &str = r#"
version = 1
[[strip]]
name = "Game"
channels = 2
fader_db = -6.0
source = { app = "^game" }
sends = { Stream = {} }
[[bus]]
name = "Stream"
channels = 2
fader_db = -3.0
sink = { virtual = "Stream mix" }
"#;

/// Makes a -12 dBFS 440 Hz stereo sine of 30 s in `dir` with sox (once).
fn tone(dir: &Dir) -> std::path::PathBuf {
    let tone = dir.0.join("tone.wav");
    if !tone.exists() {
        let made = Command::new("sox")
            .args(["-n", "-r", "48000", "-c", "2", "-b", "32"])
            .args(["-e", "floating-point"])
            .arg(&tone)
            .args(["synth", "30", "sine", "440", "vol", "-12dB"])
            .status()
            .expect("sox (scripts/test.sh installs it)");
        assert!(made.success());
    }
    tone
}

/// `pw-play` of the tone as application `app`, to the default sink.
fn play_as(pw: &PipeWire, dir: &Dir, app: &str) -> Child {
    pw.command("pw-play")
        .args(["-P", &format!("{{ application.name = \"{app}\" }}")])
        .arg(tone(dir))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pw-play")
}

/// The graph as pw-dump sees it. (Its output is now and then cut or doubled while the
/// graph changes under it: read again.)
fn dump(pw: &PipeWire) -> Vec<serde_json::Value> {
    for _ in 0..5 {
        let out = pw.command("pw-dump").output().expect("pw-dump");
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) {
            return v.as_array().cloned().unwrap_or_default();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("pw-dump gave no JSON five times");
}

/// Where the playback stream of application `app` is linked: the node names its
/// output ports feed (sorted, deduplicated).
fn linked_to(pw: &PipeWire, app: &str) -> Vec<String> {
    let objects = dump(pw);
    let prop = |o: &serde_json::Value, k: &str| o["info"]["props"][k].clone();
    let node_name = |id: u64| {
        objects
            .iter()
            .find(|o| o["id"].as_u64() == Some(id))
            .and_then(|o| prop(o, "node.name").as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let stream: Vec<u64> = objects
        .iter()
        .filter(|o| {
            prop(o, "media.class") == "Stream/Output/Audio" && prop(o, "application.name") == app
        })
        .filter_map(|o| o["id"].as_u64())
        .collect();
    let mut to: Vec<String> = objects
        .iter()
        .filter(|o| o["type"] == "PipeWire:Interface:Link")
        .filter(|o| {
            o["info"]["output-node-id"]
                .as_u64()
                .is_some_and(|n| stream.contains(&n))
        })
        .filter_map(|o| o["info"]["input-node-id"].as_u64())
        .map(node_name)
        .collect();
    to.sort();
    to.dedup();
    to
}

/// Waits up to 5 s for `app`'s stream to be linked to exactly `node`.
fn wait_linked(pw: &PipeWire, app: &str, node: &str, when: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let to = linked_to(pw, app);
        if to == [node] {
            return;
        }
        if Instant::now() > deadline {
            let metadata = pw.command("pw-metadata").output().expect("pw-metadata");
            panic!(
                "{when}: the stream of {app:?} is linked to {to:?}, not {node}; the default metadata:\n{}",
                String::from_utf8_lossy(&metadata.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The Pulse sink-input index of application `app`'s stream.
fn sink_input(pw: &PipeWire, app: &str) -> String {
    let out = pactl(pw, &["-f", "json", "list", "sink-inputs"]);
    let list: serde_json::Value = serde_json::from_str(&out).expect("pactl's JSON");
    list.as_array()
        .expect("a list")
        .iter()
        .find(|i| i["properties"]["application.name"] == app)
        .and_then(|i| i["index"].as_u64())
        .unwrap_or_else(|| panic!("no sink-input of {app:?} in {list}"))
        .to_string()
}

/// `pactl ARGS`' output, trimmed.
fn pactl(pw: &PipeWire, args: &[&str]) -> String {
    let out = pw.command("pactl").args(args).output().expect("pactl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Stops troubadour cleanly (SIGTERM) and returns what it said.
fn stop(mut troubadour: Child, rx: &std::sync::mpsc::Receiver<String>) -> Vec<String> {
    let _ = Command::new("kill")
        .arg(troubadour.id().to_string())
        .status();
    let _ = troubadour.wait();
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(300)) {
        seen.push(line);
    }
    seen
}

fn kill9(mut troubadour: Child) {
    let _ = Command::new("kill")
        .args(["-9", &troubadour.id().to_string()])
        .status();
    let _ = troubadour.wait();
}

#[test]
fn app_streams_move_onto_the_strip_and_back_to_the_default_at_stop() {
    let dir = Dir::new("pipewire-apps");
    let pw = PipeWire::start(&dir);
    // The user's chosen default: without one, WirePlumber may pick any sink of equal
    // priority (null sinks have none), ours included.
    pactl(&pw, &["set-default-sink", "test_sink"]);
    let mut before = play_as(&pw, &dir, "Game One");
    let mut other = play_as(&pw, &dir, "Music");
    wait_linked(&pw, "Game One", "test_sink", "before the mixer");

    let (troubadour, rx) = pw.troubadour_on("pipewire", &dir, APPS, 60);
    let mut seen = Vec::new();
    expect_line(
        &rx,
        "online: strip \"Game\": moved the stream of \"Game One\"",
        &mut seen,
    );
    wait_linked(
        &pw,
        "Game One",
        "troubadour.game",
        "started before the mixer",
    );
    let mut after = play_as(&pw, &dir, "Game Two");
    expect_line(
        &rx,
        "online: strip \"Game\": moved the stream of \"Game Two\"",
        &mut seen,
    );
    wait_linked(
        &pw,
        "Game Two",
        "troubadour.game",
        "started after the mixer",
    );
    wait_linked(&pw, "Music", "test_sink", "another app");

    // `wpctl status` lists the virtual devices (sinks and sources by description).
    let out = pw.command("wpctl").arg("status").output().expect("wpctl");
    let status = String::from_utf8_lossy(&out.stdout);
    for device in ["Game", "Stream mix"] {
        assert!(
            status.lines().any(|l| l.contains(&format!(". {device} "))),
            "wpctl status does not list {device}:\n{status}"
        );
    }

    // Game Two off again, so the bus carries Game One alone: its level, through the
    // strip and bus faders.
    let _ = after.kill();
    let _ = after.wait();
    std::thread::sleep(Duration::from_millis(300));
    let wav = dir.0.join("stream.wav");
    pw.record_source_for("troubadour.stream_mix", &wav, 2500);
    let (frames, rms_db, freq, silent) = measure(&wav);
    let expected = -15.01 - 6.0 - 3.0;
    println!(
        "recorded {frames} frames: median RMS {rms_db:.3} dBFS (expected {expected:.2}), {freq:.1} Hz, {silent} silent windows"
    );
    assert!(
        (rms_db - expected).abs() < 0.1,
        "recorded {rms_db:.3} dBFS, expected {expected:.2}"
    );
    assert!((freq - 440.0).abs() < 1.0, "recorded {freq:.1} Hz");

    // A new Game Two, then a clean stop: both back on the default sink.
    let mut after = play_as(&pw, &dir, "Game Two");
    expect_line(
        &rx,
        "online: strip \"Game\": moved the stream of \"Game Two\"",
        &mut seen,
    );
    wait_linked(
        &pw,
        "Game Two",
        "troubadour.game",
        "restarted after the mixer",
    );
    // One the user then moves elsewhere (as pavucontrol does): the stop leaves it there.
    let mut moved = play_as(&pw, &dir, "Game Three");
    expect_line(
        &rx,
        "online: strip \"Game\": moved the stream of \"Game Three\"",
        &mut seen,
    );
    wait_linked(&pw, "Game Three", "troubadour.game", "the third");
    // (pipewire-pulse now and then drops a move of a stream it has just learnt of
    // under load: the metadata shows no write of it. A user would move it again.)
    let mut tries = Vec::new();
    for _ in 0..3 {
        let index = sink_input(&pw, "Game Three");
        let out = pw
            .command("pactl")
            .args(["move-sink-input", &index, "test_sink2"])
            .output()
            .expect("pactl");
        tries.push(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
        let deadline = Instant::now() + Duration::from_secs(2);
        while linked_to(&pw, "Game Three") != ["test_sink2"] && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        if linked_to(&pw, "Game Three") == ["test_sink2"] {
            break;
        }
    }
    println!("pactl move-sink-input: {tries:?}");
    wait_linked(&pw, "Game Three", "test_sink2", "moved by the user");
    seen.extend(stop(troubadour, &rx));
    println!("troubadour said:\n{}", seen.join("\n"));
    // Routing runs on the control side: the filter's callback still allocated nothing.
    let closing = seen
        .iter()
        .find(|l| l.contains(" callbacks, "))
        .expect("a closing line with the callbacks' counts");
    assert!(
        closing.contains(" 0 allocations in callbacks, 0 system calls in callbacks"),
        "{closing}"
    );
    wait_linked(&pw, "Game One", "test_sink", "after the stop");
    wait_linked(&pw, "Game Two", "test_sink", "after the stop");
    std::thread::sleep(Duration::from_millis(500));
    wait_linked(
        &pw,
        "Game Three",
        "test_sink2",
        "moved by the user, after the stop",
    );
    for p in [&mut before, &mut after, &mut other, &mut moved] {
        let _ = p.kill();
        let _ = p.wait();
    }
}

#[test]
fn an_app_pattern_that_matches_nothing_runs_and_says_so_once() {
    let dir = Dir::new("pipewire-apps-none");
    let pw = PipeWire::start(&dir);
    let session = APPS.replace("^game", "nothing-plays-this");
    let (troubadour, rx) = pw.troubadour_on("pipewire", &dir, &session, 30);
    let mut seen = Vec::new();
    expect_line(
        &rx,
        "offline: strip \"Game\": no playback stream matches app = \"nothing-plays-this\" (yet)",
        &mut seen,
    );
    std::thread::sleep(Duration::from_secs(2));
    seen.extend(stop(troubadour, &rx));
    let said = seen
        .iter()
        .filter(|l| l.contains("no playback stream matches"))
        .count();
    assert_eq!(said, 1, "{seen:?}");
    assert!(seen.iter().any(|l| l.contains(" callbacks, ")), "{seen:?}");
}

/// A strip's virtual device and a bus's, both the system's defaults.
const DEFAULTS: &str = r#"
version = 1
[[strip]]
name = "Browser"
channels = 2
source = { virtual = "Browser", default = true }
sends = { Stream = {} }
[[bus]]
name = "Stream"
channels = 2
sink = { virtual = "Stream mix", default = true }
"#;

#[test]
fn default_devices_are_ours_while_running_and_the_previous_ones_after() {
    let dir = Dir::new("pipewire-defaults");
    let pw = PipeWire::start(&dir);
    pactl(&pw, &["set-default-sink", "test_sink2"]);
    pactl(&pw, &["set-default-source", "test_sink.monitor"]);
    let defaults = || {
        (
            pactl(&pw, &["get-default-sink"]),
            pactl(&pw, &["get-default-source"]),
        )
    };
    let wait_for = |want: (&str, &str), when: &str| {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let now = defaults();
            if now.0 == want.0 && now.1 == want.1 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{when}: defaults {now:?}, not {want:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for(("test_sink2", "test_sink.monitor"), "before");
    let (troubadour, rx) = pw.troubadour_on("pipewire", &dir, DEFAULTS, 30);
    let mut seen = Vec::new();
    expect_line(
        &rx,
        "online: troubadour.browser is the default output",
        &mut seen,
    );
    wait_for(("troubadour.browser", "troubadour.stream_mix"), "running");
    seen.extend(stop(troubadour, &rx));
    println!("troubadour said:\n{}", seen.join("\n"));
    wait_for(("test_sink2", "test_sink.monitor"), "after a clean stop");

    // kill -9: the configured default still names our gone device; the session
    // manager plays to a device that exists meanwhile.
    let (troubadour, rx) = pw.troubadour_on("pipewire", &dir, DEFAULTS, 30);
    let mut seen = Vec::new();
    expect_line(
        &rx,
        "online: troubadour.browser is the default output",
        &mut seen,
    );
    wait_for(
        ("troubadour.browser", "troubadour.stream_mix"),
        "running again",
    );
    kill9(troubadour);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut now = defaults();
    while (now.0.starts_with("troubadour") || now.1.starts_with("troubadour"))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
        now = defaults();
    }
    println!("defaults after kill -9: {now:?}");
    assert!(
        !now.0.starts_with("troubadour") && !now.1.starts_with("troubadour"),
        "after kill -9 the defaults are still {now:?}"
    );
}

/// A persistent strip device and a bus device that is not.
const PERSIST: &str = r#"
version = 1
[[strip]]
name = "Browser"
channels = 2
source = { virtual = "Browser", persist = true }
sends = { Stream = {} }
[[bus]]
name = "Stream"
channels = 2
sink = { virtual = "Stream mix" }
"#;

/// How many of `pactl -f json list KIND` are named `name`.
fn count_named(pw: &PipeWire, kind: &str, name: &str) -> usize {
    let out = pactl(pw, &["-f", "json", "list", kind]);
    let list: serde_json::Value = serde_json::from_str(&out).expect("pactl's JSON");
    list.as_array()
        .expect("a list")
        .iter()
        .filter(|d| d["name"] == name)
        .count()
}

#[test]
fn a_persistent_device_outlives_kill_9_and_a_restart_reuses_it() {
    let dir = Dir::new("pipewire-persist");
    let pw = PipeWire::start(&dir);
    let (troubadour, rx) = pw.troubadour_on("pipewire", &dir, PERSIST, 30);
    let mut seen = Vec::new();
    expect_line(
        &rx,
        "virtual device \"Browser\" (Audio/Sink, 2 ch, node troubadour.browser) for strip \"Browser\": persists after exit",
        &mut seen,
    );
    expect_line(&rx, "online: bus \"Stream\"", &mut seen);
    kill9(troubadour);
    // The bus's device goes with the process; the strip's stays.
    let deadline = Instant::now() + Duration::from_secs(2);
    while count_named(&pw, "sources", "troubadour.stream_mix") > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(count_named(&pw, "sources", "troubadour.stream_mix"), 0);
    assert_eq!(count_named(&pw, "sinks", "troubadour.browser"), 1);

    let (troubadour, rx) = pw.troubadour_on("pipewire", &dir, PERSIST, 30);
    let mut seen = Vec::new();
    expect_line(&rx, "for strip \"Browser\": reused (node ", &mut seen);
    expect_line(&rx, "online: strip \"Browser\": linked", &mut seen);
    assert_eq!(count_named(&pw, "sinks", "troubadour.browser"), 1);
    assert_eq!(count_named(&pw, "sources", "troubadour.stream_mix"), 1);
    // And it still carries sound: a tone played into it reaches the bus's device.
    let mut player = pw.play_tone(&dir, "troubadour.browser", 10);
    std::thread::sleep(Duration::from_millis(300));
    let wav = dir.0.join("persist.wav");
    pw.record_source_for("troubadour.stream_mix", &wav, 2000);
    let _ = player.kill();
    let _ = player.wait();
    let (_, rms_db, freq, _) = measure(&wav);
    assert!((rms_db - -15.01).abs() < 0.1, "recorded {rms_db:.3} dBFS");
    assert!((freq - 440.0).abs() < 1.0, "recorded {freq:.1} Hz");
    seen.extend(stop(troubadour, &rx));
    // A clean stop leaves it too.
    assert_eq!(
        count_named(&pw, "sinks", "troubadour.browser"),
        1,
        "{seen:?}"
    );

    // The session's strip is mono now: the lingering stereo device is made again.
    let mono = PERSIST.replacen("channels = 2", "channels = 1", 1);
    let (troubadour, rx) = pw.troubadour_on("pipewire", &dir, &mono, 30);
    let mut seen = Vec::new();
    expect_line(
        &rx,
        "for strip \"Browser\": replaced the lingering node ",
        &mut seen,
    );
    expect_line(&rx, "online: strip \"Browser\": linked", &mut seen);
    let out = pactl(&pw, &["-f", "json", "list", "sinks"]);
    let list: serde_json::Value = serde_json::from_str(&out).expect("pactl's JSON");
    let ours: Vec<&serde_json::Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["name"] == "troubadour.browser")
        .collect();
    assert_eq!(ours.len(), 1, "{out}");
    assert_eq!(ours[0]["channel_map"], "mono", "{out}");
    seen.extend(stop(troubadour, &rx));
}

#[test]
fn a_name_another_program_has_is_an_error_that_names_it() {
    let dir = Dir::new("pipewire-clash");
    let pw = PipeWire::start(&dir);
    pw.load_sink("troubadour.browser");
    let session = dir.0.join("clash.toml");
    std::fs::write(&session, DEFAULTS.replace(", default = true", "")).unwrap();
    let expected = "strip \"Browser\": the virtual device \"Browser\" would be node troubadour.browser, but the PipeWire server already has a node of that name made by another program (node ";

    let out = pw
        .command(env!("CARGO_BIN_EXE_troubadour"))
        .arg("check")
        .arg(&session)
        .output()
        .expect("troubadour check");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "check passed: {said}");
    assert!(said.contains(expected), "{said}");

    let out = pw
        .command(env!("CARGO_BIN_EXE_troubadour"))
        .arg("run")
        .arg(&session)
        .args([
            "--backend",
            "pipewire",
            "--no-api",
            "--no-osc",
            "--seconds",
            "5",
        ])
        .output()
        .expect("troubadour run");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "run ran: {said}");
    assert!(said.contains(expected), "{said}");
}

#[test]
fn a_hot_reload_turns_app_routing_on_and_off() {
    let dir = Dir::new("pipewire-apps-reload");
    let pw = PipeWire::start(&dir);
    pactl(&pw, &["set-default-sink", "test_sink"]);
    let mut game = play_as(&pw, &dir, "Game One");
    wait_linked(&pw, "Game One", "test_sink", "before the mixer");
    // The same device, first without routing.
    let plain = APPS.replace("{ app = \"^game\" }", "{ virtual = \"Game\" }");
    let (troubadour, rx) = pw.troubadour_on("pipewire", &dir, &plain, 60);
    let mut seen = Vec::new();
    expect_line(&rx, "online: bus \"Stream\"", &mut seen);
    wait_linked(&pw, "Game One", "test_sink", "no app routing yet");
    let session = dir.0.join("session.toml");
    // Past the watch's modification-time granularity.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(&session, APPS).unwrap();
    expect_line(
        &rx,
        "online: strip \"Game\": moved the stream of \"Game One\"",
        &mut seen,
    );
    wait_linked(
        &pw,
        "Game One",
        "troubadour.game",
        "app routing reloaded in",
    );
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(&session, &plain).unwrap();
    expect_line(&rx, "online: strip \"Game\": linked", &mut seen);
    std::thread::sleep(Duration::from_millis(500));
    while let Ok(line) = rx.try_recv() {
        seen.push(line);
    }
    println!("troubadour said so far:\n{}", seen.join("\n"));
    wait_linked(&pw, "Game One", "test_sink", "app routing reloaded out");
    seen.extend(stop(troubadour, &rx));
    println!("troubadour said:\n{}", seen.join("\n"));
    let _ = game.kill();
    let _ = game.wait();
}

#[test]
fn a_move_left_by_a_killed_run_is_undone_by_the_next_run_that_does_not_route_that_app() {
    let dir = Dir::new("pipewire-apps-leftover");
    let pw = PipeWire::start(&dir);
    pactl(&pw, &["set-default-sink", "test_sink"]);
    let mut game = play_as(&pw, &dir, "Game One");
    wait_linked(&pw, "Game One", "test_sink", "before the mixer");
    let (troubadour, rx) = pw.troubadour_on("pipewire", &dir, APPS, 60);
    let mut seen = Vec::new();
    expect_line(
        &rx,
        "online: strip \"Game\": moved the stream of \"Game One\"",
        &mut seen,
    );
    wait_linked(&pw, "Game One", "troubadour.game", "app routing on");
    // Killed: its clean-up never runs, so the stream's target still names our device.
    kill9(troubadour);
    // The next run has the same device without app routing: the stream is not its.
    let plain = APPS.replace("{ app = \"^game\" }", "{ virtual = \"Game\" }");
    let (troubadour, rx) = pw.troubadour_on("pipewire", &dir, &plain, 60);
    expect_line(&rx, "left on troubadour.game by an earlier run", &mut seen);
    wait_linked(&pw, "Game One", "test_sink", "the next run");
    seen.extend(stop(troubadour, &rx));
    println!("troubadour said:\n{}", seen.join("\n"));
    let _ = game.kill();
    let _ = game.wait();
}

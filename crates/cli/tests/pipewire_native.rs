//! End-to-end on the native PipeWire backend (`--backend pipewire`), on a private
//! PipeWire + WirePlumber + pipewire-pulse (see `support::pipewire`):
//! - a strip's virtual device and a bus's are what Pulse clients see (`pactl -f json
//!   list sinks` / `sources`: names, descriptions, channels);
//! - a -12 dBFS 440 Hz sine played into the strip's device by `pw-play` is recorded from
//!   the bus's device by `pw-record` at -12 dB × the strip's fader × the bus's fader
//!   (±0.1 dB), at 440 Hz;
//! - `wpctl status` lists them (the strip's under Sinks, the bus's under Sources);
//! - `troubadour devices --json --session` lists the `troubadour*` nodes and the
//!   virtual devices the session would make;
//! - the filter's process callback allocated nothing (the closing line's count, under
//!   the binary's guarded allocator) and was never late by the engine's doing;
//! - after `kill -9` of troubadour no `troubadour*` node is left within 2 s;
//! - the server restarted mid-run: the mixer reconnects, makes its devices again and the
//!   tone flows again;
//! - bad input: two virtual devices of one name, `--backend pipewire` without a server,
//!   a virtual device on another backend.
#![cfg(feature = "pipewire")]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::pipewire::{PipeWire, measure};
use support::{Dir, expect_line};

/// A stereo strip on a virtual playback device, at -6 dB, sent to a bus at -3 dB that is
/// a virtual microphone.
const VIRTUAL: &str = r#"
version = 1
[[strip]]
name = "Browser"
channels = 2
fader_db = -6.0
source = { virtual = "Browser" }
sends = { Stream = {} }
[[bus]]
name = "Stream"
channels = 2
fader_db = -3.0
sink = { virtual = "Stream mix", default = false }
"#;

/// `pactl -f json list KIND` (sinks or sources): (name, description, channels) each.
fn pulse_devices(pw: &PipeWire, kind: &str) -> Vec<(String, String, u64)> {
    let out = pw
        .command("pactl")
        .args(["-f", "json", "list", kind])
        .output()
        .expect("pactl");
    assert!(out.status.success(), "pactl list {kind} failed");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "pactl's JSON: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    list.as_array()
        .expect("a list")
        .iter()
        .map(|d| {
            let text = |k: &str| d[k].as_str().unwrap_or_default().to_string();
            // "float32le 2ch 48000Hz"
            let channels = text("sample_specification")
                .split_whitespace()
                .find_map(|w| w.strip_suffix("ch").and_then(|n| n.parse().ok()))
                .unwrap_or(0);
            (text("name"), text("description"), channels)
        })
        .collect()
}

/// Node names on the server that start with `troubadour`.
fn troubadour_nodes(pw: &PipeWire) -> Vec<String> {
    let out = pw
        .command("pw-cli")
        .args(["ls", "Node"])
        .output()
        .expect("pw-cli");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("node.name = \""))
        .map(|n| n.trim_end_matches('"').to_string())
        .filter(|n| n.starts_with("troubadour"))
        .collect()
}

#[test]
fn apps_play_into_a_strips_virtual_device_and_record_a_buses() {
    let dir = Dir::new("pipewire-virtual");
    let pw = PipeWire::start(&dir);
    let (mut troubadour, rx) = pw.troubadour_on("pipewire", &dir, VIRTUAL, 30);
    let mut seen = Vec::new();
    expect_line(&rx, "backend: pipewire (node \"troubadour\"", &mut seen);
    expect_line(
        &rx,
        "virtual device \"Browser\" (Audio/Sink, 2 ch, node troubadour.browser)",
        &mut seen,
    );
    expect_line(&rx, "first audio callback", &mut seen);
    expect_line(
        &rx,
        "online: bus \"Stream\": linked to the virtual device troubadour.stream_mix",
        &mut seen,
    );

    // What desktop apps see through the Pulse interface.
    let sinks = pulse_devices(&pw, "sinks");
    assert!(
        sinks.contains(&("troubadour.browser".into(), "Browser".into(), 2)),
        "{sinks:?}"
    );
    let sources = pulse_devices(&pw, "sources");
    assert!(
        sources.contains(&("troubadour.stream_mix".into(), "Stream mix".into(), 2)),
        "{sources:?}"
    );
    // And what WirePlumber lists: `wpctl status` names them by description, the
    // strip's under Sinks, the bus's under Sources.
    let out = pw.command("wpctl").arg("status").output().expect("wpctl");
    let status = String::from_utf8_lossy(&out.stdout);
    let section = |title: &str| -> String {
        status
            .lines()
            .skip_while(|l| !l.contains(title))
            .skip(1)
            .take_while(|l| !l.contains("├─") && !l.contains("└─"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(section("─ Sinks:").contains(". Browser "), "{status}");
    assert!(section("─ Sources:").contains(". Stream mix "), "{status}");

    // `troubadour devices` sees the nodes that exist and those the session would make.
    let out = pw
        .command(env!("CARGO_BIN_EXE_troubadour"))
        .args(["devices", "--json", "--session"])
        .arg(dir.0.join("session.toml"))
        .output()
        .expect("troubadour devices");
    assert!(out.status.success());
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names = |key: &str, field: &str| -> Vec<String> {
        listing[key]
            .as_array()
            .unwrap_or_else(|| panic!("no {key} in {listing}"))
            .iter()
            .map(|n| n[field].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(
        names("pipewire", "name"),
        ["troubadour", "troubadour.browser", "troubadour.stream_mix"]
    );
    assert_eq!(
        names("would_create", "node_name"),
        ["troubadour.browser", "troubadour.stream_mix"]
    );

    assert_tone_through(&pw, &dir, "first start");

    // Stopped: its closing line counts what the callbacks did, under the binary's
    // guarded allocator: no allocation or free inside the filter's process callback.
    let _ = Command::new("kill")
        .arg(troubadour.id().to_string())
        .status();
    let _ = troubadour.wait();
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
        seen.push(line);
    }
    println!("troubadour said:\n{}", seen.join("\n"));
    let closing = seen
        .iter()
        .find(|l| l.contains(" callbacks, "))
        .expect("a closing line with the callbacks' counts");
    assert!(
        closing.contains(" 0 allocations in callbacks, 0 system calls in callbacks"),
        "{closing}"
    );
    assert!(
        closing.contains(" 0 late callbacks (engine;"),
        "the engine made a callback late: {closing}"
    );

    // The devices belong to the process: gone within 2 s of a kill -9.
    let (mut troubadour, rx) = pw.troubadour_on("pipewire", &dir, VIRTUAL, 30);
    let mut seen = Vec::new();
    expect_line(&rx, "online: bus \"Stream\"", &mut seen);
    assert_eq!(
        troubadour_nodes(&pw).len(),
        3,
        "{:?}",
        troubadour_nodes(&pw)
    );
    let _ = Command::new("kill")
        .args(["-9", &troubadour.id().to_string()])
        .status();
    let _ = troubadour.wait();
    let killed = Instant::now();
    let mut left = troubadour_nodes(&pw);
    while !left.is_empty() && killed.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(50));
        left = troubadour_nodes(&pw);
    }
    println!("nodes gone {:?} after kill -9", killed.elapsed());
    assert!(left.is_empty(), "still there 2 s after kill -9: {left:?}");
}

/// Plays a -12 dBFS 440 Hz sine into the strip's device and records the bus's device:
/// the tone, at -12 dB × the strip's -6 dB × the bus's -3 dB (±0.1 dB), at 440 Hz.
fn assert_tone_through(pw: &PipeWire, dir: &Dir, when: &str) {
    // A -12 dBFS 440 Hz sine into the strip's device, recorded from the bus's device.
    let mut player = pw.play_tone(dir, "troubadour.browser", 20);
    std::thread::sleep(Duration::from_millis(300));
    let wav = dir.0.join("stream.wav");
    pw.record_source_for("troubadour.stream_mix", &wav, 2500);
    let _ = player.kill();
    let _ = player.wait();
    let (frames, rms_db, freq, silent) = measure(&wav);
    // The sine's RMS is 3.01 dB under its peak: -15.01, then -6 and -3 dB of faders.
    let expected = -15.01 - 6.0 - 3.0;
    println!(
        "{when}: recorded {frames} frames: median RMS {rms_db:.3} dBFS (expected {expected:.2}), {freq:.1} Hz, {silent} silent windows"
    );
    assert!(
        (rms_db - expected).abs() < 0.1,
        "{when}: recorded {rms_db:.3} dBFS, expected {expected:.2}"
    );
    assert!((freq - 440.0).abs() < 1.0, "{when}: recorded {freq:.1} Hz");
    assert!(
        silent * 480 < frames / 20,
        "{when}: {silent} silent windows"
    );
}

#[test]
fn a_restarted_server_gets_the_devices_and_the_tone_back() {
    let dir = Dir::new("pipewire-restart");
    let mut pw = PipeWire::start(&dir);
    let (mut troubadour, rx) = pw.troubadour_on("pipewire", &dir, VIRTUAL, 40);
    let mut seen = Vec::new();
    expect_line(&rx, "online: bus \"Stream\"", &mut seen);
    pw.restart_server();
    expect_line(&rx, "the PipeWire server went away", &mut seen);
    expect_line(&rx, "reconnected to the PipeWire server", &mut seen);
    expect_line(&rx, "online: strip \"Browser\"", &mut seen);
    expect_line(&rx, "online: bus \"Stream\"", &mut seen);
    // pipewire-pulse answers again (pw-play and pw-record do not need it, pactl does).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pulse_devices_ok(&pw) {
        assert!(
            Instant::now() < deadline,
            "pipewire-pulse did not come back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let sinks = pulse_devices(&pw, "sinks");
    assert!(
        sinks
            .iter()
            .any(|(n, d, c)| n == "troubadour.browser" && d == "Browser" && *c == 2),
        "{sinks:?}"
    );
    assert_tone_through(&pw, &dir, "after the restart");
    let _ = Command::new("kill")
        .arg(troubadour.id().to_string())
        .status();
    let _ = troubadour.wait();
    println!("troubadour said:\n{}", seen.join("\n"));
}

/// Whether `pactl` gets an answer.
fn pulse_devices_ok(pw: &PipeWire) -> bool {
    pw.command("pactl")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn bad_virtual_devices_and_a_missing_server_are_clear_errors() {
    let dir = Dir::new("pipewire-bad");
    let run = |session: &str, backend: &str, runtime: &std::path::Path| {
        let path = dir.0.join("bad.toml");
        std::fs::write(&path, session).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_troubadour"))
            .args(["run", path.to_str().unwrap(), "--backend", backend])
            .args(["--seconds", "1"])
            .env("XDG_RUNTIME_DIR", runtime)
            .env_remove("PIPEWIRE_REMOTE")
            .env_remove("PIPEWIRE_RUNTIME_DIR")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{backend}: ran");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let nowhere = dir.0.join("no-server");
    std::fs::create_dir_all(&nowhere).unwrap();

    // Two virtual devices whose node names clash, with the file's line and field.
    let twice = VIRTUAL.replace("\"Stream mix\"", "\"browser\"");
    let err = run(&twice, "null", &nowhere);
    assert!(
        err.contains("bus \"Stream\" sink.virtual")
            && err.contains(
                "would be node \"troubadour.browser\", like the virtual device \"Browser\""
            ),
        "{err}"
    );
    assert!(err.contains("bad.toml:13:20:"), "no line and column: {err}");
    let empty = VIRTUAL.replace("\"Stream mix\"", "\" \"");
    let err = run(&empty, "null", &nowhere);
    assert!(err.contains("a virtual device needs a name"), "{err}");

    // No PipeWire at all: what was tried.
    let err = run(VIRTUAL, "pipewire", &nowhere);
    let socket = format!("socket {}/pipewire-0", nowhere.display());
    assert!(
        err.contains("no PipeWire server answers") && err.contains(&socket),
        "{err}"
    );

    // Virtual devices on a backend that cannot make them.
    let err = run(VIRTUAL, "null", &nowhere);
    assert!(
        err.contains(
            "strip \"Browser\" asks for a virtual device, which needs the pipewire backend"
        ),
        "{err}"
    );
}

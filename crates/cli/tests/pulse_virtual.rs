//! Virtual devices on a plain PulseAudio server (no PipeWire), through the cpal
//! backend, on a private `pulseaudio` per test (see `support::pulse`):
//! - a strip's virtual device is a null sink and a bus's a remapped source, as
//!   `pactl -f json list sinks` / `sources` show them (name, description, channels);
//! - a -12 dBFS 440 Hz sine played by `paplay` into the strip's device is recorded by
//!   `parecord` from the bus's device at -12 dB × the strip's -6 dB × the bus's -3 dB
//!   (±0.5 dB: two clock bridges' resamplers), at 440 Hz;
//! - a clean stop unloads every module it loaded; a `kill -9` leaves them (PulseAudio
//!   keeps modules after their client died) and the next start unloads them and loads
//!   its own: never a duplicate;
//! - `default = true`: `pactl get-default-sink` / `get-default-source` name ours while
//!   the mixer runs and the earlier ones after;
//! - app routing: streams of a matching `application.name`, started before and after
//!   the mixer, play on the strip's device; after the stop they are back on the
//!   default sink.

use std::process::{Child, Command};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

mod support;

use support::pipewire::measure;
use support::pulse::Pulse;
use support::{Dir, expect_line};

/// A stereo strip on a virtual playback device at -6 dB, sent to a bus at -3 dB that
/// is a virtual microphone.
const VIRTUAL: &str = r#"
version = 1
sample_rate = 48000
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
sink = { virtual = "Stream mix" }
"#;

/// `pactl -f json list KIND` (sinks or sources): (name, description, channels) each.
fn devices(pulse: &Pulse, kind: &str) -> Vec<(String, String, u64)> {
    let text = pulse.pactl_text(&["-f", "json", "list", kind]);
    let list: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("pactl's JSON: {e}: {text}"));
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

/// Stops troubadour as Ctrl-C would and returns everything it said.
fn stop(mut troubadour: Child, rx: &Receiver<String>, mut seen: Vec<String>) -> Vec<String> {
    let ok = Command::new("kill")
        .args(["-INT", &troubadour.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    assert!(troubadour.wait().unwrap().success(), "{seen:?}");
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(300)) {
        seen.push(line);
    }
    println!("troubadour said:\n{}", seen.join("\n"));
    seen
}

#[test]
fn a_tone_goes_from_the_strips_device_to_the_buses_and_a_clean_stop_unloads_them() {
    let dir = Dir::new("pulse-virtual");
    let pulse = Pulse::start(&dir);
    let (troubadour, rx) = pulse.troubadour(&dir, VIRTUAL, 60);
    let mut seen = Vec::new();
    expect_line(&rx, "backend: cpal (PulseAudio", &mut seen);
    expect_line(&rx, "first audio callback", &mut seen);

    let sinks = devices(&pulse, "sinks");
    assert!(
        sinks.contains(&("troubadour.browser".into(), "Browser".into(), 2)),
        "{sinks:?}"
    );
    let sources = devices(&pulse, "sources");
    assert!(
        sources.contains(&("troubadour.stream_mix".into(), "Stream mix".into(), 2)),
        "{sources:?}"
    );
    let modules = pulse.troubadour_modules();
    assert_eq!(modules.len(), 3, "{modules:?}");
    let stamp = format!("troubadour.pid={}", troubadour.id());
    assert!(
        modules.iter().all(|(_, a)| a.contains(&stamp)),
        "{modules:?}"
    );

    let mut player = pulse.play_tone(&dir, Some("troubadour.browser"), "tone", 20);
    std::thread::sleep(Duration::from_millis(500));
    let wav = dir.0.join("stream.wav");
    pulse.record_for("troubadour.stream_mix", &wav, 3000);
    let _ = player.kill();
    let _ = player.wait();
    let (frames, rms_db, freq, silent) = measure(&wav);
    // The sine's RMS is 3.01 dB under its peak: -15.01, then -6 and -3 dB of faders.
    let expected = -15.01 - 6.0 - 3.0;
    println!(
        "recorded {frames} frames: median RMS {rms_db:.3} dBFS (expected {expected:.2}), {freq:.1} Hz, {silent} silent windows"
    );
    assert!(
        (rms_db - expected).abs() < 0.5,
        "recorded {rms_db:.3} dBFS, expected {expected:.2}"
    );
    assert!((freq - 440.0).abs() < 1.0, "recorded {freq:.1} Hz");
    assert!(silent * 480 < frames / 20, "{silent} silent windows");

    let said = stop(troubadour, &rx, seen);
    assert!(
        said.iter()
            .any(|l| l.contains(" 0 allocations in callbacks, 0 system calls in callbacks")),
        "{said:?}"
    );
    let left = pulse.troubadour_modules();
    assert!(left.is_empty(), "left after a clean stop: {left:?}");
    let sinks = devices(&pulse, "sinks");
    assert!(
        sinks.iter().all(|(n, _, _)| !n.starts_with("troubadour.")),
        "{sinks:?}"
    );
}

#[test]
fn modules_left_by_a_kill_9_are_unloaded_by_the_next_start_never_duplicated() {
    let dir = Dir::new("pulse-kill9");
    let pulse = Pulse::start(&dir);
    let (mut killed, rx) = pulse.troubadour(&dir, VIRTUAL, 60);
    let mut seen = Vec::new();
    expect_line(&rx, "first audio callback", &mut seen);
    let before = pulse.troubadour_modules();
    assert_eq!(before.len(), 3, "{before:?}");
    let _ = killed.kill();
    let _ = killed.wait();
    // PulseAudio keeps a module loaded after the client that loaded it died.
    assert_eq!(pulse.troubadour_modules(), before);

    let (troubadour, rx) = pulse.troubadour(&dir, VIRTUAL, 60);
    let mut seen = Vec::new();
    expect_line(&rx, "first audio callback", &mut seen);
    for (index, _) in &before {
        assert!(
            seen.iter().any(
                |l| l.contains(&format!("virtual: unloaded module {index} "))
                    && l.contains("left by a run that ended without cleaning up")
            ),
            "module {index} not said unloaded: {seen:?}"
        );
    }
    let after = pulse.troubadour_modules();
    assert_eq!(after.len(), 3, "{after:?}");
    let stamp = format!("troubadour.pid={}", troubadour.id());
    assert!(after.iter().all(|(_, a)| a.contains(&stamp)), "{after:?}");
    let names: Vec<_> = devices(&pulse, "sinks").into_iter().map(|d| d.0).collect();
    assert_eq!(
        names.iter().filter(|n| *n == "troubadour.browser").count(),
        1,
        "{names:?}"
    );
    stop(troubadour, &rx, seen);
    assert!(pulse.troubadour_modules().is_empty());
}

#[test]
fn default_devices_are_ours_while_running_and_restored_after() {
    let dir = Dir::new("pulse-default");
    let pulse = Pulse::start(&dir);
    let session = VIRTUAL
        .replace(
            "{ virtual = \"Browser\" }",
            "{ virtual = \"Browser\", default = true }",
        )
        .replace(
            "{ virtual = \"Stream mix\" }",
            "{ virtual = \"Stream mix\", default = true }",
        );
    let default = |what: &str| pulse.pactl_text(&[what]).trim().to_string();
    assert_eq!(default("get-default-sink"), "base");
    assert_eq!(default("get-default-source"), "base.monitor");
    let (troubadour, rx) = pulse.troubadour(&dir, &session, 60);
    let mut seen = Vec::new();
    expect_line(&rx, "first audio callback", &mut seen);
    assert_eq!(default("get-default-sink"), "troubadour.browser");
    assert_eq!(default("get-default-source"), "troubadour.stream_mix");
    stop(troubadour, &rx, seen);
    assert_eq!(default("get-default-sink"), "base");
    assert_eq!(default("get-default-source"), "base.monitor");
}

/// The sink each playback stream of application `app` plays on, by name.
fn sinks_of(pulse: &Pulse, app: &str) -> Vec<String> {
    let names: Vec<(String, String)> = pulse
        .pactl_text(&["list", "short", "sinks"])
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((f.next()?.to_string(), f.next()?.to_string()))
        })
        .collect();
    let text = pulse.pactl_text(&["-f", "json", "list", "sink-inputs"]);
    let list: serde_json::Value = serde_json::from_str(&text).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .filter(|s| s["properties"]["application.name"].as_str() == Some(app))
        .map(|s| {
            let index = s["sink"].to_string();
            names
                .iter()
                .find(|(i, _)| *i == index)
                .map(|(_, n)| n.clone())
                .unwrap_or(index)
        })
        .collect()
}

/// Waits up to 3 s for `app`'s streams to be `want` (sink names, sorted).
fn wait_for_streams(pulse: &Pulse, app: &str, want: &[&str]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut now = sinks_of(pulse, app);
        now.sort();
        if now == want || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn app_streams_started_before_and_after_the_mixer_play_on_the_app_strip() {
    let dir = Dir::new("pulse-apps");
    let pulse = Pulse::start(&dir);
    let session = r#"
version = 1
sample_rate = 48000
[[strip]]
name = "Game"
channels = 2
source = { app = "tuxk" }
sends = { Main = {} }
[[bus]]
name = "Main"
channels = 2
sink = { device = "base" }
"#;
    let early = pulse.play_tone(&dir, None, "SuperTuxKart", 30);
    let other = pulse.play_tone(&dir, None, "mpv", 30);
    assert_eq!(
        wait_for_streams(&pulse, "SuperTuxKart", &["base"]),
        ["base"]
    );
    let (troubadour, rx) = pulse.troubadour(&dir, session, 60);
    let mut seen = Vec::new();
    expect_line(&rx, "first audio callback", &mut seen);
    assert!(
        seen.iter()
            .any(|l| l.contains("app routing on; 1 playing stream(s) moved")),
        "{seen:?}"
    );
    let late = pulse.play_tone(&dir, None, "SuperTuxKart", 30);
    let both = ["troubadour.game", "troubadour.game"];
    assert_eq!(wait_for_streams(&pulse, "SuperTuxKart", &both), both);
    assert_eq!(
        sinks_of(&pulse, "mpv"),
        ["base"],
        "a stream that matches nothing moved"
    );
    stop(troubadour, &rx, seen);
    assert_eq!(
        wait_for_streams(&pulse, "SuperTuxKart", &["base", "base"]),
        ["base", "base"]
    );
    for mut p in [early, other, late] {
        let _ = p.kill();
        let _ = p.wait();
    }
}

#[test]
fn names_with_quotes_and_backslashes_reach_pulseaudio_whole() {
    let dir = Dir::new("pulse-quotes");
    let pulse = Pulse::start(&dir);
    let session = r#"
version = 1
sample_rate = 48000
[[strip]]
name = "Guest"
channels = 2
source = { virtual = "Guest's \"mic\" \\ 2" }
sends = { Stream = {} }
[[bus]]
name = "Stream"
channels = 2
sink = { virtual = "Back\\slash 'mix' end\\" }
"#;
    let (troubadour, rx) = pulse.troubadour(&dir, session, 60);
    let mut seen = Vec::new();
    expect_line(&rx, "first audio callback", &mut seen);
    let sinks = devices(&pulse, "sinks");
    assert!(
        sinks.contains(&(
            "troubadour.guest_s__mic____2".into(),
            r#"Guest's "mic" \ 2"#.into(),
            2
        )),
        "{sinks:?}"
    );
    assert!(
        sinks
            .iter()
            .any(|(_, d, _)| d == r"Back\slash 'mix' end\ (mixer feed)"),
        "{sinks:?}"
    );
    let sources = devices(&pulse, "sources");
    assert!(
        sources
            .iter()
            .any(|(_, d, _)| d == r"Back\slash 'mix' end\"),
        "{sources:?}"
    );
    stop(troubadour, &rx, seen);
    assert!(pulse.troubadour_modules().is_empty());
}

#[test]
fn check_refuses_a_virtual_device_whose_name_another_program_has_on_pulseaudio() {
    let dir = Dir::new("pulse-check");
    let pulse = Pulse::start(&dir);
    let path = dir.0.join("session.toml");
    std::fs::write(&path, VIRTUAL).unwrap();
    let check = || {
        let out = pulse
            .command(env!("CARGO_BIN_EXE_troubadour"))
            .args(["check", path.to_str().unwrap()])
            .output()
            .expect("troubadour check");
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success(), said)
    };
    let (ok, said) = check();
    assert!(ok && said.contains(": valid ("), "{said}");

    // Another program's sink of the name our strip's device takes.
    let pactl = |args: &[&str]| pulse.pactl_text(args).trim().to_string();
    let foreign = pactl(&[
        "load-module",
        "module-null-sink",
        "sink_name=troubadour.browser",
    ]);
    let (ok, said) = check();
    assert!(!ok, "{said}");
    assert!(
        said.contains("error: the PulseAudio server already has a device \"troubadour.browser\" made by another program"),
        "{said}"
    );
    assert!(said.contains(": invalid (1 error)"), "{said}");
    pactl(&["unload-module", &foreign]);

    // A module a killed run of ours left is for `run` to clean up: no clash.
    pactl(&[
        "load-module",
        "module-null-sink",
        "sink_name=troubadour.browser sink_properties=troubadour.pid=999999999",
    ]);
    let (ok, said) = check();
    assert!(ok && said.contains(": valid ("), "{said}");
}

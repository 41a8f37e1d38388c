//! End-to-end on PipeWire (its Pulse interface, which cpal's PulseAudio host speaks):
//! two generator strips, one per bus, played by `troubadour run --backend cpal` into two
//! null sinks, one the clock master and one through the clock bridge, captured from
//! outside with `pw-record`: each sink has its own bus's tone at the expected level and
//! frequency. And devices that go away (a sink unloaded) and come back: the bridged bus
//! goes offline without landing on the other sink and is reopened; the master device's
//! backend is restarted on it.
//! And a device input: a tone played into one sink by `pw-play`, taken by a strip from
//! that sink's monitor through the clock bridge, reaches the other sink.
//!
//! The test starts a private session bus, PipeWire, WirePlumber and pipewire-pulse in a
//! runtime directory of its own (no sound card needed). Needs the `cpal` feature and
//! Debian's pipewire, pipewire-bin, pipewire-pulse, wireplumber, pulseaudio-utils and
//! dbus packages, which `scripts/test.sh` installs.
#![cfg(feature = "cpal")]

use std::process::{Child, Command};
use std::sync::mpsc::Receiver;
use std::time::Duration;

mod support;

use support::pipewire::{PipeWire, finish_recording, measure};
use support::{Dir, expect_line};

/// A -12 dBFS sine per bus, each bus on a null sink of its own: 1 kHz on A1 (test_sink,
/// the clock master) and 440 Hz on A2 (test_sink2, through the clock bridge), so a bus
/// heard on the wrong sink shows.
const TWO_TONES: &str = r#"
version = 1
[[strip]]
name = "High"
channels = 2
source = { generator = "sine", freq = 1000.0, level_db = -12.0 }
sends = { A1 = {} }
[[strip]]
name = "Low"
channels = 2
source = { generator = "sine", freq = 440.0, level_db = -12.0 }
sends = { A2 = {} }
[[bus]]
name = "A1"
channels = 2
sink = { device = "test_sink" }
[[bus]]
name = "A2"
channels = 2
sink = { device = "test_sink2" }
"#;

/// Stops troubadour, adds what it says while stopping (its closing line) to `seen`, and
/// prints everything it said.
fn stop(troubadour: &mut Child, rx: &Receiver<String>, seen: &mut Vec<String>) {
    let _ = Command::new("kill")
        .arg(troubadour.id().to_string())
        .status();
    let _ = troubadour.wait();
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
        seen.push(line);
    }
    println!("troubadour said:\n{}", seen.join("\n"));
}

#[test]
fn a_generator_strip_plays_through_pipewire_at_the_expected_level() {
    let dir = Dir::new("pipewire");
    let pw = PipeWire::start(&dir);
    let (mut troubadour, rx) = pw.troubadour(&dir, TWO_TONES, 8);
    let mut seen = Vec::new();
    expect_line(
        &rx,
        "backend: cpal (PulseAudio, output \"test_sink\")",
        &mut seen,
    );
    expect_line(
        &rx,
        "bridged: bus \"A2\" plays to \"test_sink2\" through a clock bridge",
        &mut seen,
    );
    expect_line(&rx, "first audio callback", &mut seen);

    // Record what reaches both sinks, from outside, for about 5 s.
    let wavs = [dir.0.join("rec.wav"), dir.0.join("rec2.wav")];
    let mut recs = [
        pw.record("test_sink", &wavs[0]),
        pw.record("test_sink2", &wavs[1]),
    ];
    // PipeWire runs here without real-time scheduling: a freeze of the machine itself
    // (a wake-up of a watching thread late by half a period) can make a device callback
    // late enough to underrun the bridge. Those freezes are counted, to tell them apart.
    let watch = support::StallWatch::start(Duration::from_secs_f64(512.0 / 48_000.0));
    std::thread::sleep(Duration::from_millis(5000));
    let stalls = watch.finish();
    recs.iter_mut().for_each(finish_recording);
    // Also collects the closing line (bridge underruns and overruns).
    stop(&mut troubadour, &rx, &mut seen);
    // The bridge adds one period (1024 frames, 21.3 ms) and the resampler's delay (about
    // 2 ms), and held that: no underrun, so its target never had to grow.
    let bridge = seen
        .iter()
        .find(|l| l.starts_with("bridged: bus \"A2\""))
        .expect("bridge line");
    let ms: f64 = bridge
        .split('(')
        .nth(1)
        .and_then(|r| r.split(" ms").next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no latency in: {bridge}"));
    assert!(
        ms > 21.3 && ms < 21.3 + 3.0,
        "bridge latency {ms} ms: expected one 1024-frame period plus the resampler's ~2 ms"
    );
    let closing = seen
        .iter()
        .find(|l| l.contains("bus \"A2\" on \"test_sink2\":"))
        .expect("closing line with the bridge's counts");
    let count = |what: &str| -> u64 {
        let bridge = closing
            .split("bus \"A2\" on \"test_sink2\":")
            .nth(1)
            .unwrap();
        bridge
            .split(',')
            .find(|part| part.trim().ends_with(what))
            .and_then(|part| part.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {what} count in {closing}"))
    };
    let (underruns, overruns) = (count("underruns"), count("overruns"));
    // The master never pushes into a full ring; the device side may run short only
    // where the machine froze, and then its target grows by a doubling each time.
    assert_eq!(overruns, 0, "the bridge ran over: {closing}");
    assert!(
        underruns <= u64::from(stalls.count),
        "{underruns} underruns with {} machine freezes (longest {:?}): {closing}",
        stalls.count,
        stalls.longest
    );
    if underruns == 0 {
        assert!(closing.contains("ring target 1024 frames"), "{closing}");
    }
    // Every callback of the backend, the bridged device's included, allocated nothing
    // and made no system call (cpal's threads, guarded around our part of them).
    assert!(
        closing.contains(" 0 allocations in callbacks, 0 system calls in callbacks"),
        "{closing}"
    );
    // Each sink has its own bus's tone, alone.
    assert_tone(&wavs[0], 1000.0, "master");
    assert_tone(&wavs[1], 440.0, "bridged");

    // `troubadour devices` sees the same server: the null sink, as a stereo output.
    let out = pw
        .command(env!("CARGO_BIN_EXE_troubadour"))
        .args(["devices", "--json"])
        .output()
        .expect("troubadour devices");
    assert!(out.status.success());
    let json = String::from_utf8_lossy(&out.stdout);
    let at = json
        .find("\"id\": \"test_sink\"")
        .unwrap_or_else(|| panic!("test_sink not listed: {json}"));
    let entry = &json[at..json[at..].find('}').map_or(json.len(), |e| at + e)];
    assert!(
        entry.contains("\"outputs\": ") && !entry.contains("\"outputs\": 0"),
        "{entry}"
    );
    assert!(json.contains("\"host\": \"PulseAudio\""), "{json}");
}

/// Asserts that `wav` holds a -12 dBFS-peak sine (RMS -15.01 dBFS) at `hz`, alone.
fn assert_tone(wav: &std::path::Path, hz: f64, what: &str) {
    let (frames, rms_db, freq, silent) = measure(wav);
    println!(
        "{what}: captured {frames} frames: median 10 ms RMS {rms_db:.3} dBFS, {freq:.1} Hz, {silent} silent windows"
    );
    assert!(
        (rms_db + 15.01).abs() < 0.1,
        "{what}: captured RMS {rms_db:.2} dBFS, expected -15.01 (one -12 dBFS sine)"
    );
    assert!(
        (freq - hz).abs() < 1.0,
        "{what}: captured {freq:.1} Hz, expected {hz}"
    );
    assert!(
        silent * 480 < frames / 20,
        "{what}: {silent} windows silent: the stream mostly did not play"
    );
}

#[test]
fn a_device_that_goes_away_is_reopened_when_it_returns() {
    let dir = Dir::new("pipewire-hotplug");
    let pw = PipeWire::start(&dir);
    // Each bus has a tone of its own, so a bus that ends up on the other's device (a
    // sound server moves the streams of a sink that goes away) is heard there.
    let (mut troubadour, rx) = pw.troubadour(&dir, TWO_TONES, 60);
    let mut seen = Vec::new();
    expect_line(&rx, "first audio callback", &mut seen);
    let wav = |name: &str| dir.0.join(format!("{name}.wav"));

    // The bridged bus's device goes away: that bus goes offline, the master plays on
    // with its own tone only.
    pw.unload_sink("test_sink2");
    expect_line(
        &rx,
        "offline: bus \"A2\": device \"test_sink2\" went away",
        &mut seen,
    );
    pw.record_for("test_sink", &wav("master-alone"), 2000);
    assert_tone(&wav("master-alone"), 1000.0, "master, bridged device gone");

    // It comes back: reopened, its tone plays there again.
    pw.load_sink("test_sink2");
    expect_line(
        &rx,
        "online: bus \"A2\": device \"test_sink2\" opened again",
        &mut seen,
    );
    pw.record_for("test_sink2", &wav("bridged-back"), 2000);
    assert_tone(&wav("bridged-back"), 440.0, "bridged device, back");

    // The master device goes away and comes back: the backend starts again on it.
    pw.unload_sink("test_sink");
    expect_line(&rx, "the output device \"test_sink\" went away", &mut seen);
    pw.load_sink("test_sink");
    expect_line(&rx, "reopened the output device", &mut seen);
    pw.record_for("test_sink", &wav("master-back"), 2000);
    assert_tone(&wav("master-back"), 1000.0, "master device, back");
    pw.record_for("test_sink2", &wav("bridged-after"), 2000);
    assert_tone(
        &wav("bridged-after"),
        440.0,
        "bridged device, after the restart",
    );
    stop(&mut troubadour, &rx, &mut seen);
}

#[test]
fn a_device_input_reaches_a_bus_through_the_bridge() {
    let dir = Dir::new("pipewire-input");
    let pw = PipeWire::start(&dir);
    // A -12 dBFS 440 Hz tone, played into test_sink2 from outside.
    let mut player = pw.play_tone(&dir, "test_sink2", 60);
    let session = r#"
version = 1
[[strip]]
name = "Mic"
channels = 2
source = { device = "test_sink2.monitor" }
sends = { A1 = {} }
[[bus]]
name = "A1"
channels = 2
sink = { device = "test_sink" }
"#;
    let (mut troubadour, rx) = pw.troubadour(&dir, session, 30);
    let mut seen = Vec::new();
    expect_line(
        &rx,
        "bridged: strip \"Mic\" takes \"Monitor of test_sink2\" through a clock bridge",
        &mut seen,
    );
    expect_line(&rx, "first audio callback", &mut seen);
    // What the strip took, as the master's bus plays it.
    let wav = dir.0.join("bus.wav");
    pw.record_for("test_sink", &wav, 3000);
    stop(&mut troubadour, &rx, &mut seen);
    let _ = player.kill();
    let _ = player.wait();
    assert_tone(&wav, 440.0, "device input, on the bus");
}

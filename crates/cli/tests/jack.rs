//! End to end on a real JACK server (jackd2, dummy driver, 48 kHz, 1024-frame periods),
//! started privately by each test under its own server name. Peers that are not ours
//! check us from outside: `jack_simple_client` plays a sine, `jack_rec` records ports,
//! `jack_iodelay` measures round-trip latency.
//!
//! jackd2 must be installed (`scripts/test.sh` installs it); these tests fail, not skip,
//! when it is missing.

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use support::{Dir, Server, expect_line, lines, read_wav};

#[test]
fn a_peer_sine_flows_through_a_strip_to_a_bus_sample_exact_and_a_missing_port_is_offline() {
    let dir = Dir::new("signal");
    let mut server = Server::start("signal");
    server.peer("jack_simple_client", &[]);
    server.wait_for_port("jack_simple_client:output1");
    let session = dir.0.join("session.toml");
    std::fs::write(
        &session,
        r#"
version = 1
[[strip]]
name = "Mic"
channels = 1
fader_db = -6.0
source = { device = "jack_simple_client:output1" }
sends = { A1 = {} }
[[strip]]
name = "Gone"
channels = 1
source = { device = "nobody:capture_.*" }
sends = { A1 = {} }
[[bus]]
name = "A1"
channels = 1
"#,
    )
    .unwrap();
    let rx = server.troubadour(session.to_str().unwrap());
    let mut seen = Vec::new();
    expect_line(&rx, "strip \"Gone\": no JACK port matches", &mut seen);
    expect_line(&rx, "running at 48000 Hz", &mut seen);
    server.wait_for_port("troubadour:A1_out");

    // Same cycle, no added latency: every output sample is the input sample × the fader.
    let g = 10f64.powf(-6.0 / 20.0);
    let (frames, worst) = sample_exact_recording(&server, &dir, g);
    assert!(
        worst < 1e-6,
        "bus output is not the input × -6 dB sample by sample (worst {worst:e})"
    );
    let peer = rms(frames.iter().map(|f| f.0));
    let ours = rms(frames.iter().map(|f| f.1));
    assert!(peer > 0.05, "the peer's sine is missing (RMS {peer})");
    let gain_db = 20.0 * (ours / peer).log10();
    assert!(
        (gain_db + 6.0).abs() <= 0.1,
        "strip fader -6 dB measured {gain_db:.3} dB"
    );
    // And the frequency survives: count rising zero crossings of the bus output.
    let crossings = frames
        .windows(2)
        .filter(|w| w[0].1 < 0.0 && w[1].1 >= 0.0)
        .count();
    let seconds = frames.len() as f64 / 48_000.0;
    let peer_crossings = frames
        .windows(2)
        .filter(|w| w[0].0 < 0.0 && w[1].0 >= 0.0)
        .count();
    assert_eq!(crossings, peer_crossings);
    let freq = crossings as f64 / seconds;
    assert!(
        (freq - 240.0).abs() < 2.0,
        "jack_simple_client plays 48000/200 = 240 Hz, got {freq:.1}"
    );
    // The process callback allocated nothing the whole time (the binary's allocator
    // counts what a callback allocates).
    let closing = server.stop_troubadour(&rx, &mut seen);
    assert!(
        closing.contains(" 0 allocations in callbacks, 0 system calls in callbacks"),
        "{closing}"
    );
}

/// Records the peer and the bus until the bus is the peer × `g` sample by sample, or three
/// times; returns the last recording and its largest difference. A recording is taken
/// again when it is not exact: on this VM a callback of the dummy server is occasionally
/// missed, which glitches one cycle; a real fault (delay, wrong gain) fails every
/// attempt.
fn sample_exact_recording(server: &Server, dir: &Dir, g: f64) -> (Vec<(f64, f64)>, f64) {
    let mut frames = Vec::new();
    let mut worst = f64::INFINITY;
    for attempt in 1..=3 {
        frames = record_peer_and_bus(server, dir);
        let errors: Vec<usize> = frames
            .iter()
            .enumerate()
            .filter(|(_, (x, y))| (y - g * x).abs() >= 1e-6)
            .map(|(i, _)| i)
            .collect();
        worst = frames
            .iter()
            .map(|&(x, y)| (y - g * x).abs())
            .fold(0.0, f64::max);
        if errors.is_empty() {
            break;
        }
        eprintln!(
            "recording {attempt}: {} of {} samples off (frames {}..={}), worst {worst:e}",
            errors.len(),
            frames.len(),
            errors[0],
            errors[errors.len() - 1]
        );
    }
    (frames, worst)
}

/// Records the peer's sine and our bus `A1` with `jack_rec` for 2 s (in the same
/// cycles) and returns the frames as (peer, bus) pairs, the first 0.25 s skipped (the
/// recorder connects mid-cycle).
fn record_peer_and_bus(server: &Server, dir: &Dir) -> Vec<(f64, f64)> {
    let wav = dir.0.join("rec.wav");
    let rec = server
        .command("jack_rec")
        .args(["-f", wav.to_str().unwrap(), "-d", "2", "-b", "32"])
        .args(["jack_simple_client:output1", "troubadour:A1_out"])
        .stdout(Stdio::null())
        .status()
        .expect("jack_rec");
    assert!(rec.success());
    let (spec, samples) = read_wav(&wav);
    assert_eq!(spec.channels, 2);
    let frames: Vec<(f64, f64)> = samples
        .chunks_exact(2)
        .map(|f| (f[0], f[1]))
        .skip(12_000)
        .collect();
    assert!(
        frames.len() > 48_000,
        "only {} frames recorded",
        frames.len()
    );
    frames
}

fn rms(v: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x * x, n + 1));
    (sum / n as f64).sqrt()
}

/// A mono strip fed by `jack_simple_client:output1` at fader -6 dB into mono bus A1.
const PEER_SESSION: &str = r#"
version = 1
[[strip]]
name = "Mic"
channels = 1
fader_db = -6.0
source = { device = "jack_simple_client:output1" }
sends = { A1 = {} }
[[bus]]
name = "A1"
channels = 1
"#;

/// A private server with `jack_simple_client` playing and `troubadour run` on
/// [`PEER_SESSION`], running with its bus port up. Returns the test directory, the
/// server, troubadour's output lines, the lines seen so far and the session file.
fn peer_session(tag: &str) -> (Dir, Server, Receiver<String>, Vec<String>, PathBuf) {
    let dir = Dir::new(tag);
    let mut server = Server::start(tag);
    server.peer("jack_simple_client", &[]);
    server.wait_for_port("jack_simple_client:output1");
    let session = dir.0.join("session.toml");
    std::fs::write(&session, PEER_SESSION).unwrap();
    let rx = server.troubadour(session.to_str().unwrap());
    let mut seen = Vec::new();
    expect_line(&rx, "running at 48000 Hz", &mut seen);
    server.wait_for_port("troubadour:A1_out");
    (dir, server, rx, seen, session)
}

#[test]
fn after_jackd_is_killed_and_restarted_troubadour_reconnects_and_the_signal_flows_again() {
    let (dir, mut server, rx, mut seen, _) = peer_session("reconnect");

    server.crash_and_restart();
    expect_line(&rx, "the JACK server went away", &mut seen);
    // The peer died with the old server: start it again. Whether troubadour reconnects
    // before or after it appears, the strip must end up connected.
    server.peer("jack_simple_client", &[]);
    server.wait_for_port("jack_simple_client:output1");
    expect_line(&rx, "reconnected to the JACK server", &mut seen);
    server.wait_for_port("troubadour:A1_out");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !server
        .connections("troubadour:Mic_in")
        .iter()
        .any(|p| p == "jack_simple_client:output1")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the strip was never reconnected to the peer; troubadour said:\n{}",
            seen.join("\n")
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let frames = record_peer_and_bus(&server, &dir);
    let peer = rms(frames.iter().map(|f| f.0));
    let ours = rms(frames.iter().map(|f| f.1));
    assert!(peer > 0.05, "the peer's sine is missing (RMS {peer})");
    let gain_db = 20.0 * (ours / peer).log10();
    assert!(
        (gain_db + 6.0).abs() <= 0.1,
        "after reconnecting, strip fader -6 dB measured {gain_db:.3} dB"
    );
}

#[test]
fn a_new_server_period_mid_run_keeps_the_signal_sample_exact() {
    let (dir, server, rx, mut seen, _) = peer_session("bufsize");
    // The dummy driver takes a new period while running (as a real card's would after
    // `jack_bufsize`): the engine must go on without a rebuild and without a glitch,
    // through the switch itself. One recording spans it: 1 s at 1024 frames, then the
    // change, then 2 s at 512 (512, not less: the dummy driver's timer makes false
    // xruns at small periods here).
    let wav = dir.0.join("switch.wav");
    let mut rec = server
        .command("jack_rec")
        .args(["-f", wav.to_str().unwrap(), "-d", "3", "-b", "32"])
        .args(["jack_simple_client:output1", "troubadour:A1_out"])
        .stdout(Stdio::null())
        .spawn()
        .expect("jack_rec");
    let recording = Instant::now();
    std::thread::sleep(Duration::from_millis(1000));
    let switch_at = recording.elapsed().as_secs_f64();
    let changed = server
        .command("jack_bufsize")
        .arg("512")
        .stdout(Stdio::null())
        .status()
        .expect("jack_bufsize");
    assert!(changed.success(), "jack_bufsize 512 failed");
    assert!(rec.wait().unwrap().success());
    expect_line(&rx, "period is now 512 frames", &mut seen);
    let (spec, samples) = read_wav(&wav);
    assert_eq!(spec.channels, 2);
    let g = 10f64.powf(-6.0 / 20.0);
    // The first 0.25 s are skipped: the recorder connects its ports mid-cycle.
    let frames: Vec<(f64, f64)> = samples
        .chunks_exact(2)
        .map(|f| (f[0], f[1]))
        .skip(12_000)
        .collect();
    assert!(frames.len() > 2 * 48_000, "only {} frames", frames.len());
    let peer = rms(frames.iter().map(|f| f.0));
    assert!(peer > 0.05, "the peer's sine is missing (RMS {peer})");
    let off: Vec<usize> = frames
        .iter()
        .enumerate()
        .filter(|(_, (x, y))| (y - g * x).abs() >= 1e-6)
        .map(|(i, _)| i + 12_000)
        .collect();
    // Within half a second of the switch (the recorder's start is known to a few
    // milliseconds), every sample must be exact: that is where a defect of ours would
    // show. Elsewhere, a cycle the dummy server missed (seen on this VM) glitches one
    // period of the recording; such glitches are counted and reported, and more than
    // one of them fails the test too.
    let near = |i: usize| ((i as f64 / 48_000.0) - switch_at).abs() < 0.5;
    let at_switch = off.iter().filter(|&&i| near(i)).count();
    assert_eq!(
        at_switch,
        0,
        "{at_switch} samples off within 0.5 s of the period switch (at {switch_at:.2} s); first at frame {:?}",
        off.iter().find(|&&i| near(i))
    );
    let elsewhere: Vec<usize> = off.iter().copied().filter(|&i| !near(i)).collect();
    if let (Some(first), Some(last)) = (elsewhere.first(), elsewhere.last()) {
        eprintln!(
            "environment: {} samples off away from the switch (frames {first}..={last})",
            elsewhere.len()
        );
        assert!(
            last - first < 1024,
            "samples off over more than one period away from the switch: frames {first}..={last}"
        );
    }
}

/// Round-trip frames `jack_iodelay` reports once its readings settle.
fn iodelay_reading(server: &mut Server, setup: impl FnOnce(&mut Server)) -> f64 {
    let mut child = server
        .command("stdbuf")
        .args(["-oL", "jack_iodelay"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("jack_iodelay");
    server.wait_for_port("jack_delay:out");
    setup(server);
    let rx = lines(child.stdout.take().unwrap());
    let mut readings = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while readings.len() < 6 && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200))
            && let Some(v) = line
                .split_whitespace()
                .next()
                .filter(|_| line.contains("total roundtrip latency"))
                .and_then(|v| v.parse::<f64>().ok())
        {
            readings.push(v);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        readings.len() >= 6,
        "jack_iodelay gave too few readings: {readings:?}"
    );
    // The first readings can come from before the loop settled; use the last.
    *readings.last().unwrap()
}

#[test]
fn jack_iodelay_measures_no_added_latency_through_strip_and_bus() {
    let dir = Dir::new("iodelay");
    let mut server = Server::start("iodelay");
    let direct = iodelay_reading(&mut server, |s| {
        s.connect("jack_delay:out", "jack_delay:in", true)
    });
    let session = dir.0.join("session.toml");
    std::fs::write(
        &session,
        r#"
version = 1
[[strip]]
name = "Loop"
channels = 1
source = { device = "jack_delay:out" }
sends = { Out = {} }
[[bus]]
name = "Out"
channels = 1
sink = { device = "jack_delay:in" }
"#,
    )
    .unwrap();
    let through = iodelay_reading(&mut server, |s| {
        let rx = s.troubadour(session.to_str().unwrap());
        let mut seen = Vec::new();
        expect_line(&rx, "running at 48000 Hz", &mut seen);
        s.wait_for_port("troubadour:Out_out");
        // Keep the receiver alive for the run (troubadour writes status lines).
        std::mem::forget(rx);
    });
    assert!(
        (direct - 1024.0).abs() < 1.0,
        "a direct loop should read one period: {direct}"
    );
    assert_eq!(
        through, direct,
        "through troubadour {through} frames vs direct {direct}: the engine added latency"
    );
}

#[test]
fn a_hot_reload_that_adds_a_bus_brings_its_port_up_and_keeps_the_connections() {
    let (dir, server, rx, mut seen, session) = peer_session("ports");
    // A second bus, fed by the same strip: a port that did not exist.
    let edited = PEER_SESSION.replace("sends = { A1 = {} }", "sends = { A1 = {}, B1 = {} }")
        + "[[bus]]\nname = \"B1\"\nchannels = 1\n";
    // Past the watch's modification-time granularity.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(&session, edited).unwrap();
    expect_line(&rx, "JACK client restarted with the new ports", &mut seen);
    server.wait_for_port("troubadour:B1_out");
    assert!(
        server
            .connections("troubadour:Mic_in")
            .iter()
            .any(|p| p == "jack_simple_client:output1"),
        "the strip lost its connection; troubadour said:\n{}",
        seen.join("\n")
    );
    // And the signal flows through the rebuilt client.
    let frames = record_peer_and_bus(&server, &dir);
    let gain_db =
        20.0 * (rms(frames.iter().map(|f| f.1)) / rms(frames.iter().map(|f| f.0))).log10();
    assert!(
        (gain_db + 6.0).abs() <= 0.1,
        "after the port change, strip fader -6 dB measured {gain_db:.3} dB"
    );
}

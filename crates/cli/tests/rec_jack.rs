//! The live recorder end to end, on a private JACK server: `jack_simple_client` (a
//! real JACK peer, so the signal crosses a client boundary as a microphone's would)
//! plays its sine into two strips; takes of both strips and the bus are started,
//! marked and stopped through the control API, and the files are read back with sox
//! and hound. The first take is 30 s long, as the issue asks (the others 4 s): level,
//! frequency, the same first sample on every track (cross-correlation peak at lag 0)
//! and exactly equal lengths. Then `kill -9`
//! mid-take (WAV and FLAC) and a restart that repairs the take, a writer stalled by a
//! test hook that loses frames, says how many and keeps the tracks aligned, and a take
//! on a small tmpfs that fills: it stops with the system's reason, its files stay
//! readable, and the bus plays on.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::api::request;
use support::{Dir, Server, api_addr, read_wav};

/// `jack_simple_client` plays a 200-sample sine table at amplitude 0.2 on output1:
/// 240 Hz at 48 kHz, -13.98 dBFS peak.
const PEER_HZ: f64 = 240.0;
const PEER_PEAK_DB: f64 = -13.979;

fn session(format: &str, buffer_seconds: f64) -> String {
    format!(
        r#"
version = 1
[[strip]]
name = "Host"
channels = 1
source = {{ device = "jack_simple_client:output1" }}
fader_db = -6.0
sends = {{ A1 = {{}} }}

[[strip]]
name = "Guest"
channels = 1
source = {{ device = "jack_simple_client:output1" }}
sends = {{ A1 = {{}} }}

[[bus]]
name = "A1"
channels = 2

[recorder]
dir = "takes"
format = "{format}"
tracks = ["strip/Host", "strip/Guest:pre", "bus/A1"]
buffer_seconds = {buffer_seconds}
"#
    )
}

struct Rig {
    server: Server,
    dir: Dir,
    session: String,
    addr: std::net::SocketAddr,
}

fn start(server: &mut Server, session: &str, env: &[(&str, &str)]) -> std::net::SocketAddr {
    let out = server.troubadour_env(session, &["--listen", "127.0.0.1:0"], env);
    let mut seen = Vec::new();
    let addr = api_addr(&out, &mut seen);
    server.wait_for_port("troubadour:A1_out_L");
    // Drain the rest of its output so it never blocks on a full pipe.
    std::thread::spawn(move || while out.recv().is_ok() {});
    addr
}

fn rig(tag: &str, buffer_seconds: f64, env: &[(&str, &str)]) -> Rig {
    rig_in(tag, "wav-f32", buffer_seconds, env)
}

fn rig_in(tag: &str, format: &str, buffer_seconds: f64, env: &[(&str, &str)]) -> Rig {
    let dir = Dir::new(tag);
    let mut server = Server::start(tag);
    server.peer("jack_simple_client", &[]);
    server.wait_for_port("jack_simple_client:output1");
    let session = dir.write("session.toml", &session(format, buffer_seconds));
    let addr = start(&mut server, &session, env);
    Rig {
        server,
        dir,
        session,
        addr,
    }
}

impl Rig {
    fn op(&self, body: &str) -> Value {
        let host = self.addr.to_string();
        let r = request(
            self.addr,
            "POST",
            "/api/v1/request",
            &[("Host", &host)],
            Some(body.as_bytes()),
        );
        assert!(
            (200..300).contains(&r.status),
            "{body}: {} {}",
            r.status,
            r.body
        );
        r.json()["recorder"].clone()
    }
}

fn soxi(path: &Path, flag: &str) -> String {
    let o = Command::new("soxi")
        .arg(flag)
        .arg(path)
        .output()
        .expect("sox is not installed: run scripts/test.sh, which installs it");
    assert!(
        o.status.success(),
        "soxi: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// `sox FILE -n stat` reads the whole file without complaint.
fn sox_reads(path: &Path) {
    let o = Command::new("sox")
        .arg(path)
        .args(["-n", "stat"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "sox stat: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn mono(path: &Path) -> Vec<f64> {
    let (spec, samples) = read_wav(path);
    assert_eq!(spec.channels, 1, "{}", path.display());
    samples
}

fn peak_db(x: &[f64]) -> f64 {
    20.0 * x.iter().fold(0.0f64, |m, v| m.max(v.abs())).log10()
}

/// The frequency of a mono sine, from its rising zero crossings.
fn frequency(x: &[f64]) -> f64 {
    // Periods between the first and the last rising zero crossing, each placed between
    // its two samples: counting crossings in the window would be off by one whenever
    // the window starts just past one.
    let ups: Vec<f64> = x
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < 0.0 && w[1] >= 0.0)
        .map(|(i, w)| {
            let (a, b) = (w[0], w[1]);
            i as f64 + a / (a - b)
        })
        .collect();
    assert!(ups.len() >= 2, "fewer than two rising zero crossings");
    (ups.len() - 1) as f64 * 48_000.0 / (ups[ups.len() - 1] - ups[0])
}

/// The lag in -50..=50 frames at which `b` correlates best with `a`.
fn best_lag(a: &[f64], b: &[f64]) -> i64 {
    let n = a.len().min(b.len()) - 100;
    (-50i64..=50)
        .max_by(|&x, &y| {
            let c =
                |lag: i64| -> f64 { (50..n).map(|i| a[i] * b[(i as i64 + lag) as usize]).sum() };
            c(x).total_cmp(&c(y))
        })
        .unwrap()
}

fn take_folder(v: &Value) -> PathBuf {
    PathBuf::from(v["take"].as_str().expect("a take folder"))
}

#[test]
fn a_take_of_two_strips_and_the_bus_is_aligned_equally_long_and_at_level() {
    let r = rig("rec-take", 4.0, &[]);
    let started = r.op(r#"{"op":"recorder_start"}"#);
    assert_eq!(started["state"], "recording");
    // The command line's client sees the same recorder.
    let url = format!("http://{}", r.addr);
    let ctl = support::troubadour(&["ctl", "--url", &url, "rec", "status"]);
    assert!(ctl.status.success(), "{}", support::text(&ctl));
    let said = String::from_utf8_lossy(&ctl.stdout).to_string();
    assert!(said.starts_with("recording: "), "{said}");
    assert!(said.contains("takes/"), "{said}");
    std::thread::sleep(Duration::from_secs(2));
    let marked = r.op(r#"{"op":"recorder_mark","label":"guest joins"}"#);
    let mark_frame = marked["marker"]["frame"].as_u64().unwrap();
    std::thread::sleep(Duration::from_secs(28));
    let stopped = r.op(r#"{"op":"recorder_stop"}"#);
    assert_eq!(stopped["state"], "idle");
    let folder = take_folder(&stopped);
    assert!(
        folder.starts_with(r.dir.path("takes")),
        "{}",
        folder.display()
    );
    let m = &stopped["manifest"];
    assert_eq!(m["state"], "complete");
    assert_eq!(m["sample_rate"], 48_000);
    assert_eq!(m["session"], "session");
    assert_eq!(m["markers"][0]["frame"].as_u64(), Some(mark_frame));
    assert_eq!(m["markers"][0]["label"], "guest joins");
    assert!((80_000..110_000).contains(&mark_frame), "{mark_frame}");
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("take.json")).unwrap()).unwrap();
    assert_eq!(&on_disk, m);

    let frames = m["tracks"][0]["frames"].as_u64().unwrap();
    // 30 s, give or take the requests' own time.
    assert!((1_430_000..1_500_000).contains(&frames), "{frames}");
    for t in m["tracks"].as_array().unwrap() {
        let path = folder.join(t["file"].as_str().unwrap());
        assert_eq!(t["frames"].as_u64(), Some(frames), "{t}: exactly as long");
        assert_eq!(t["dropped_frames"], 0, "{t}");
        assert_eq!(soxi(&path, "-s"), frames.to_string(), "{t}");
        assert_eq!(soxi(&path, "-r"), "48000");
        sox_reads(&path);
    }
    let host = mono(&folder.join("strip-Host.wav"));
    let guest = mono(&folder.join("strip-Guest-pre.wav"));
    let (spec, bus) = read_wav(&folder.join("bus-A1.wav"));
    assert_eq!(spec.channels, 2);
    assert!(
        (peak_db(&guest) - PEER_PEAK_DB).abs() < 0.1,
        "{}",
        peak_db(&guest)
    );
    assert!(
        (peak_db(&host) - PEER_PEAK_DB + 6.0).abs() < 0.1,
        "{}",
        peak_db(&host)
    );
    assert!(
        (frequency(&guest) - PEER_HZ).abs() < 1.0,
        "{}",
        frequency(&guest)
    );
    // One port feeds both strips: the tracks are the same signal, on the same frame.
    assert_eq!(best_lag(&host, &guest), 0);
    let left: Vec<f64> = bus.chunks(2).map(|f| f[0]).collect();
    assert_eq!(best_lag(&guest, &left), 0);
    for f in 0..frames as usize {
        assert!((host[f] - guest[f] * 0.501_187).abs() < 1e-5, "frame {f}");
        let want = std::f64::consts::FRAC_1_SQRT_2 * (host[f] + guest[f]);
        assert!(
            (left[f] - want).abs() < 1e-4,
            "bus frame {f}: {} vs {want}",
            left[f]
        );
    }
}

#[test]
fn a_take_killed_mid_write_is_repaired_at_the_next_start_and_sox_reads_it() {
    killed_and_repaired("rec-kill", "wav-f32");
}

#[test]
fn a_flac_take_killed_mid_write_is_repaired_at_the_next_start_and_libflac_passes_it() {
    killed_and_repaired("rec-kill-flac", "flac-24");
}

fn killed_and_repaired(tag: &str, format: &str) {
    let mut r = rig_in(tag, format, 4.0, &[]);
    let started = r.op(r#"{"op":"recorder_start"}"#);
    let folder = take_folder(&started);
    std::thread::sleep(Duration::from_millis(4500));
    let killed_after = r.op(r#"{"op":"recorder_status"}"#)["frames"]
        .as_u64()
        .unwrap();
    r.server.kill9_troubadour();
    let before: Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("take.json")).unwrap()).unwrap();
    assert_eq!(before["state"], "recording");

    r.addr = start(&mut r.server, &r.session, &[]);
    let status = r.op(r#"{"op":"recorder_status"}"#);
    assert_eq!(status["repaired"], 1, "{status}");
    let after: Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("take.json")).unwrap()).unwrap();
    assert_eq!(after["state"], "repaired");
    for t in after["tracks"].as_array().unwrap() {
        let path = folder.join(t["file"].as_str().unwrap());
        let frames: u64 = soxi(&path, "-s").parse().unwrap();
        assert_eq!(t["frames"].as_u64(), Some(frames), "{t}");
        sox_reads(&path);
        if format.starts_with("flac") {
            // libFLAC's own check: every frame's CRCs.
            let o = Command::new("flac")
                .args(["-t", "-s"])
                .arg(&path)
                .output()
                .expect("flac (scripts/test.sh installs it)");
            assert!(
                o.status.success(),
                "flac -t: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        // Readable up to within 5 s of the kill.
        assert!(
            frames + 5 * 48_000 >= killed_after,
            "{t}: {frames} of {killed_after}"
        );
        assert!(frames > 48_000, "{t}: {frames}");
    }
    // The next take starts cleanly beside the repaired one.
    let again = r.op(r#"{"op":"recorder_start"}"#);
    assert_ne!(take_folder(&again), folder);
    r.op(r#"{"op":"recorder_stop"}"#);
}

#[test]
fn a_stalled_writer_loses_frames_reports_them_and_keeps_the_tracks_aligned() {
    // Half a second of ring against a writer that stalls 2 s before its first write.
    let r = rig(
        "rec-stall",
        0.5,
        &[("TROUBADOUR_TEST_WRITER_STALL_MS", "2000")],
    );
    r.op(r#"{"op":"recorder_start"}"#);
    let begun = Instant::now();
    let mut live = Value::Null;
    while begun.elapsed() < Duration::from_secs(4) {
        std::thread::sleep(Duration::from_millis(250));
        live = r.op(r#"{"op":"recorder_status"}"#);
    }
    let live_lost: Vec<u64> = live["lost_frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    assert!(live_lost.iter().all(|&l| l >= 48_000), "{live}");
    let metrics = {
        let host = r.addr.to_string();
        request(r.addr, "GET", "/metrics", &[("Host", &host)], None).body
    };
    assert!(
        metrics.contains("troubadour_recorder_lost_frames{track=\"strip/Host\"}"),
        "{metrics}"
    );
    let stopped = r.op(r#"{"op":"recorder_stop"}"#);
    let folder = take_folder(&stopped);
    let m = &stopped["manifest"];
    let frames = m["tracks"][0]["frames"].as_u64().unwrap();
    for t in m["tracks"].as_array().unwrap() {
        assert_eq!(t["frames"].as_u64(), Some(frames), "{t}: equally long");
        let dropped = t["dropped_frames"].as_u64().unwrap();
        assert!(dropped >= 48_000, "{t}");
        assert_eq!(
            soxi(&folder.join(t["file"].as_str().unwrap()), "-s"),
            frames.to_string()
        );
    }
    // Aligned through the gaps: where both have signal, Host is Guest 6 dB down, frame
    // for frame (each ring fills on its own, so one may lose a block the other kept:
    // silence stands in for it on that track alone).
    let host = mono(&folder.join("strip-Host.wav"));
    let guest = mono(&folder.join("strip-Guest-pre.wav"));
    let mut compared = 0;
    for (h, g) in host.iter().zip(&guest) {
        if *h != 0.0 && *g != 0.0 {
            assert!((h - g * 0.501_187).abs() < 1e-5, "{h} vs {g}");
            compared += 1;
        }
    }
    assert!(compared > 48_000, "{compared}");
    let silent = guest.iter().filter(|&&x| x == 0.0).count() as u64;
    assert!(silent >= m["tracks"][1]["dropped_frames"].as_u64().unwrap());
}

/// `bus NAME: recorded N frames to FILE (the engine ran M frames meanwhile; L lost)`
/// among `seen`: (FILE, N, M, L).
fn sink_recorded(seen: &[String], bus: &str) -> (PathBuf, u64, u64, u64) {
    let prefix = format!("bus {bus}: recorded ");
    let line = seen
        .iter()
        .find_map(|l| l.split_once(&prefix).map(|(_, rest)| rest.to_string()))
        .unwrap_or_else(|| panic!("no \"{prefix}\" line in:\n{}", seen.join("\n")));
    let (frames, rest) = line.split_once(" frames to ").unwrap();
    let (file, rest) = rest.split_once(" (the engine ran ").unwrap();
    let (engine, rest) = rest.split_once(" frames meanwhile; ").unwrap();
    let lost = rest.split_once(" lost").unwrap().0;
    let n = |s: &str| s.parse::<u64>().unwrap_or_else(|_| panic!("{line}"));
    (PathBuf::from(file), n(frames), n(engine), n(lost))
}

#[test]
fn a_bus_file_sink_records_each_run_to_a_new_file_and_a_killed_run_is_repaired() {
    let dir = Dir::new("rec-sink");
    let mut server = Server::start("rec-sink");
    server.peer("jack_simple_client", &[]);
    server.wait_for_port("jack_simple_client:output1");
    let session = dir.write(
        "session.toml",
        r#"
version = 1
[[strip]]
name = "Host"
channels = 1
source = { device = "jack_simple_client:output1" }
sends = { Mix = {} }

[[bus]]
name = "Mix"
channels = 2
sink = { file = "out/mix.wav" }
"#,
    );
    // An earlier recording under the sink's name: no run may overwrite it.
    std::fs::create_dir_all(dir.path("out")).unwrap();
    std::fs::write(dir.path("out/mix.wav"), b"an earlier recording").unwrap();

    // Run 1: about 2 s, stopped as Ctrl-C would.
    let mut seen = Vec::new();
    let out = server.troubadour(&session);
    support::expect_line(&out, "bus Mix: recording to", &mut seen);
    let told = seen.last().unwrap().clone();
    let first = dir.path("out/mix-2.wav");
    assert!(
        told.contains(&first.display().to_string()) && told.contains("exists already"),
        "{told}"
    );
    std::thread::sleep(Duration::from_secs(2));
    server.stop_troubadour(&out, &mut seen);
    let (file, frames, engine_frames, lost) = sink_recorded(&seen, "Mix");
    assert_eq!(file, first);
    assert_eq!(lost, 0);
    assert_eq!(
        std::fs::read(dir.path("out/mix.wav")).unwrap(),
        b"an earlier recording"
    );
    assert!(!dir.path("out/mix-2.wav.recording").exists(), "marker left");
    // Every frame the engine ran while recording, within the one period (1024 frames)
    // the start and the stop each fall in; and about the 2 s the run recorded.
    assert!(
        frames.abs_diff(engine_frames) <= 1024,
        "{frames} vs {engine_frames}"
    );
    assert!((90_000..130_000).contains(&frames), "{frames}");
    assert_eq!(soxi(&first, "-s"), frames.to_string());
    assert_eq!(soxi(&first, "-c"), "2");
    assert_eq!(soxi(&first, "-r"), "48000");
    sox_reads(&first);
    let (spec, samples) = read_wav(&first);
    assert_eq!(spec.sample_format, hound::SampleFormat::Float);
    // The mono strip panned centre onto the stereo bus: -3.01 dB on each side.
    let left: Vec<f64> = samples.chunks(2).map(|f| f[0]).collect();
    let right: Vec<f64> = samples.chunks(2).map(|f| f[1]).collect();
    // The first callback may fall before the peer's first samples arrive.
    let signal = &left[2048..];
    assert!(
        (peak_db(signal) - (PEER_PEAK_DB - 3.0103)).abs() < 0.1,
        "{}",
        peak_db(signal)
    );
    assert!(
        (frequency(signal) - PEER_HZ).abs() < 1.0,
        "{}",
        frequency(signal)
    );
    assert_eq!(left, right);

    // Run 2, killed mid-recording: the file keeps its frames up to the last header
    // update, and run 3 repairs it and records to a file of its own.
    let mut seen = Vec::new();
    let out = server.troubadour(&session);
    support::expect_line(&out, "bus Mix: recording to", &mut seen);
    let second = dir.path("out/mix-3.wav");
    assert!(seen.last().unwrap().contains(&second.display().to_string()));
    std::thread::sleep(Duration::from_millis(2600));
    server.kill9_troubadour();
    assert!(dir.path("out/mix-3.wav.recording").exists());
    drop(out);

    let mut seen = Vec::new();
    let out = server.troubadour(&session);
    support::expect_line(&out, "bus Mix: recording to", &mut seen);
    assert!(
        seen.iter()
            .any(|l| l.contains("repaired") && l.contains(&second.display().to_string())),
        "{}",
        seen.join("\n")
    );
    assert!(
        seen.last()
            .unwrap()
            .contains(&dir.path("out/mix-4.wav").display().to_string())
    );
    assert!(!dir.path("out/mix-3.wav.recording").exists());
    let repaired: u64 = soxi(&second, "-s").parse().unwrap();
    sox_reads(&second);
    // Readable up to within the 2 s between header updates (and a write) of the kill.
    assert!(repaired >= 48_000, "{repaired}");
    assert!(repaired <= 2600 * 48 + 2048, "{repaired}");
    server.stop_troubadour(&out, &mut seen);
    let (third, ..) = sink_recorded(&seen, "Mix");
    assert_eq!(third, dir.path("out/mix-4.wav"));
    sox_reads(&third);
}

/// A tmpfs of `bytes` mounted at `at` for one test (this machine's tests run as root),
/// unmounted on drop.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: PathBuf, bytes: u64) -> SmallDisk {
        std::fs::create_dir_all(&at).unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}")])
            .arg("tmpfs")
            .arg(&at)
            .output()
            .expect("mount");
        assert!(
            o.status.success(),
            "mounting a tmpfs needs root: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        SmallDisk(at)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_ends_the_take_with_a_clear_message_keeps_what_was_written_and_the_mix_plays_on() {
    let dir = Dir::new("rec-full");
    // 4 channels of f32 are 768 kB/s: 3 MB is full after about 4 s.
    let _disk = SmallDisk::mount(dir.path("takes"), 3 << 20);
    let mut server = Server::start("rec-full");
    server.peer("jack_simple_client", &[]);
    server.wait_for_port("jack_simple_client:output1");
    let session = dir.write("session.toml", &session("wav-f32", 4.0));
    let out = server.troubadour_env(&session, &["--listen", "127.0.0.1:0"], &[]);
    let mut seen = Vec::new();
    let addr = api_addr(&out, &mut seen);
    server.wait_for_port("troubadour:A1_out_L");
    let r = Rig {
        server,
        dir,
        session,
        addr,
    };
    let started = r.op(r#"{"op":"recorder_start"}"#);
    let folder = take_folder(&started);

    let deadline = Instant::now() + Duration::from_secs(30);
    let stopped = loop {
        assert!(
            Instant::now() < deadline,
            "no stop told: {}",
            seen.join("\n")
        );
        if let Ok(line) = out.recv_timeout(Duration::from_millis(100)) {
            seen.push(line.clone());
            if line.contains("recorder: the take") && line.contains("stopped") {
                break line;
            }
        }
    };
    assert!(
        stopped.contains("No space left on device")
            && stopped.contains(&folder.display().to_string()),
        "{stopped}"
    );
    assert_eq!(r.op(r#"{"op":"recorder_status"}"#)["state"], "idle");
    // What was written is kept, readable up to its last header update.
    let files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        sox_reads(f);
        let frames: u64 = soxi(f, "-s").parse().unwrap();
        assert!(frames >= 48_000, "{}: {frames}", f.display());
    }
    // The mix plays on: the bus still carries the peer's tone.
    let wav = r.dir.path("after.wav");
    let status = r
        .server
        .command("jack_rec")
        .args(["-f", wav.to_str().unwrap(), "-d", "1", "-b", "32"])
        .arg("troubadour:A1_out_L")
        .stdout(std::process::Stdio::null())
        .status()
        .expect("jack_rec");
    assert!(status.success());
    let (_, left) = read_wav(&wav);
    let signal = &left[left.len() / 4..];
    assert!(
        (frequency(signal) - PEER_HZ).abs() < 1.0,
        "{}",
        frequency(signal)
    );
    assert!(peak_db(signal) > -20.0, "{}", peak_db(signal));
    std::thread::spawn(move || while out.recv().is_ok() {});
    drop(r);
}

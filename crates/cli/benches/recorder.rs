//! The recorder sustained, measured from outside on a `troubadour run` child process
//! (null backend, paced in real time): 32 stereo strips (64 channels of 48 kHz f32,
//! 12.3 MB/s) recorded to disk, beside a plain thread in this process that writes the
//! same bytes per second in the same 1 MiB writes, the floor of the job.
//!
//! `cargo bench -p troubadour --bench recorder` for the full run (30 s take);
//! `cargo test --benches` makes a quick pass (2 s) that only proves it runs.
//!
//! Then the same take in 24-bit FLAC, whose writer thread also encodes.
//!
//! Reports: frames lost (the target is 0), bytes on disk against the take's length,
//! the writer thread's CPU against the floor's, the whole process's CPU and DSP load
//! with and without the take, and resident memory per armed track against what the
//! rings and buffers should take by construction.

mod common;

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::full_run;
use serde_json::Value;
use support::api::Instance;

const STRIPS: usize = 32;
const RATE: f64 = 48_000.0;
const BUFFER_SECONDS: f64 = 4.0;
/// The writer's buffer per file (crates/io/src/recorder/writer.rs).
const WRITER_BUFFER: usize = 1 << 20;

fn session(format: &str) -> String {
    let mut s = String::from("version = 1\n");
    let mut tracks = Vec::new();
    for i in 0..STRIPS {
        let freq = 110.0 * (1.0 + i as f64 / 4.0);
        s.push_str(&format!(
            "\n[[strip]]\nname = \"S{i}\"\nchannels = 2\n\
             source = {{ generator = \"sine\", freq = {freq}, level_db = -30.0 }}\n\
             sends = {{ A1 = {{}} }}\n"
        ));
        tracks.push(format!("\"strip/S{i}\""));
    }
    s.push_str("\n[[bus]]\nname = \"A1\"\n");
    s.push_str(&format!(
        "\n[recorder]\ndir = \"takes\"\nformat = \"{format}\"\nbuffer_seconds = {BUFFER_SECONDS}\n\
         tracks = [{}]\n",
        tracks.join(", ")
    ));
    s
}

/// Nanoseconds a thread has run, from the scheduler's own count.
fn schedstat_ns(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU seconds of `pid`'s threads, all of them or those named `comm`.
fn cpu_seconds(pid: u32, comm: Option<&str>) -> f64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    let ns: u64 = tasks
        .flatten()
        .filter(|t| {
            comm.is_none_or(|c| {
                std::fs::read_to_string(t.path().join("comm")).is_ok_and(|n| n.trim() == c)
            })
        })
        .map(|t| schedstat_ns(&t.path().join("schedstat")))
        .sum();
    ns as f64 / 1e9
}

fn resident_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    kb / 1024.0
}

fn request(daemon: &Instance, op: &str) -> Value {
    let body = format!(r#"{{"op":"{op}"}}"#);
    let r = daemon.http("POST", "/api/v1/request", Some(&body));
    assert_eq!(r.status, 200, "{op}: {}", r.body);
    r.json()
}

fn status(daemon: &Instance) -> Value {
    daemon.http("GET", "/api/v1/status", None).json()["status"].clone()
}

/// What one window measured.
struct Window {
    seconds: f64,
    process_cpu: f64,
    writer_cpu: f64,
    load_mean: f64,
    late: u64,
}

fn window(daemon: &Instance, length: Duration) -> Window {
    let pid = daemon.child.id();
    let (cpu0, writer0) = (
        cpu_seconds(pid, None),
        cpu_seconds(pid, Some("recorder-writer")),
    );
    let late0 = status(daemon)["late"].as_u64().unwrap();
    let t0 = Instant::now();
    std::thread::sleep(length);
    let seconds = t0.elapsed().as_secs_f64();
    let (cpu1, writer1) = (
        cpu_seconds(pid, None),
        cpu_seconds(pid, Some("recorder-writer")),
    );
    let s = status(daemon);
    Window {
        seconds,
        process_cpu: (cpu1 - cpu0) / seconds,
        writer_cpu: (writer1 - writer0) / seconds,
        load_mean: s["load_mean"].as_f64().unwrap(),
        late: s["late"].as_u64().unwrap() - late0,
    }
}

/// The floor: a thread writing `bytes_per_second` to a file in 1 MiB writes, paced, for
/// `length`; returns its CPU as a fraction of a core (its own schedstat).
fn floor(path: PathBuf, bytes_per_second: f64, length: Duration) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let writer = std::thread::spawn(move || {
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0x3fu8; WRITER_BUFFER];
        let me = Path::new("/proc/thread-self/schedstat");
        let ns0 = schedstat_ns(me);
        let t0 = Instant::now();
        let mut written = 0.0;
        while !flag.load(Ordering::Relaxed) {
            let due = written / bytes_per_second;
            let now = t0.elapsed().as_secs_f64();
            if now < due {
                std::thread::sleep(Duration::from_secs_f64((due - now).min(0.05)));
                continue;
            }
            file.write_all(&chunk).unwrap();
            written += chunk.len() as f64;
        }
        file.sync_all().unwrap();
        (schedstat_ns(me) - ns0) as f64 / 1e9 / t0.elapsed().as_secs_f64()
    });
    std::thread::sleep(length);
    stop.store(true, Ordering::Relaxed);
    let cpu = writer.join().unwrap();
    let _ = std::fs::remove_file(path_of_floor());
    cpu
}

fn path_of_floor() -> PathBuf {
    std::env::temp_dir().join(format!("troubadour-bench-floor-{}", std::process::id()))
}

fn take_bytes(dir: &Path, ext: &str) -> (u64, usize) {
    let mut bytes = 0;
    let mut files = 0;
    for take in std::fs::read_dir(dir).unwrap().flatten() {
        for f in std::fs::read_dir(take.path()).unwrap().flatten() {
            if f.path().extension().is_some_and(|e| e == ext) {
                bytes += f.metadata().unwrap().len();
                files += 1;
            }
        }
    }
    (bytes, files)
}

fn main() {
    let full = full_run();
    let wav_writer = run(full, "wav-f32");
    let flac_writer = run(full, "flac-24");
    println!(
        "recorder: the writer thread in flac-24 {:.2} % of a core against {:.2} % in wav-f32 ({:.2}×)",
        flac_writer * 100.0,
        wav_writer * 100.0,
        flac_writer / wav_writer
    );
}

/// One take of every strip in `format`; returns the writer thread's share of a core.
fn run(full: bool, format: &str) -> f64 {
    let flac = format.starts_with("flac");
    let take = if full {
        Duration::from_secs(30)
    } else {
        Duration::from_secs(2)
    };
    let dir = support::Dir::new(&format!("bench-recorder-{format}"));
    let session = dir.write("session.toml", &session(format));
    let daemon = Instance::start(
        &[&session, "--backend", "null", "--no-midi", "--no-autosave"],
        &[],
    );
    let pid = daemon.child.id();
    std::thread::sleep(Duration::from_secs(1));
    let rss_idle = resident_mb(pid);
    let idle = window(&daemon, take.min(Duration::from_secs(5)));

    let started = request(&daemon, "recorder_start");
    assert_eq!(started["recorder"]["state"], "recording", "{started}");
    // Resident memory once every ring has been written through once.
    std::thread::sleep(Duration::from_secs_f64(
        BUFFER_SECONDS.min(take.as_secs_f64()),
    ));
    let rec = window(&daemon, take);
    let rss_rec = resident_mb(pid);
    let stopped = request(&daemon, "recorder_stop");
    // Once stopped, the manifest says what each file holds.
    let tracks = stopped["recorder"]["manifest"]["tracks"]
        .as_array()
        .unwrap_or_else(|| panic!("no manifest in {stopped}"))
        .clone();
    let frames = tracks[0]["frames"].as_u64().unwrap();
    assert!(
        tracks.iter().all(|t| t["frames"].as_u64() == Some(frames)),
        "tracks of different lengths: {stopped}"
    );
    let lost: u64 = tracks
        .iter()
        .map(|t| t["dropped_frames"].as_u64().unwrap())
        .sum();
    let (bytes, files) = take_bytes(&dir.path("takes"), if flac { "flac" } else { "wav" });
    assert_eq!(files, STRIPS, "one file per track");
    let expected = frames * 2 * 4 * STRIPS as u64;
    if flac {
        // Quiet sines: far smaller than 24-bit PCM, never nothing.
        assert!(
            bytes > 0 && bytes < expected * 3 / 8,
            "{bytes} bytes of FLAC"
        );
    } else {
        assert!(
            bytes >= expected && bytes < expected + (STRIPS as u64) * 4096,
            "{bytes} bytes on disk for {frames} frames × {STRIPS} stereo tracks"
        );
    }
    drop(daemon);

    let bytes_per_second = RATE * 2.0 * 4.0 * STRIPS as f64;
    // The floor writes the bytes a float WAV take does; a FLAC take has its encoder's
    // work instead, compared with the WAV take's writer by `main`.
    let floor_cpu = if flac {
        f64::NAN
    } else {
        floor(path_of_floor(), bytes_per_second, take)
    };

    let per_track_built = (BUFFER_SECONDS * RATE * 2.0 * 4.0 + WRITER_BUFFER as f64) / 1048576.0;
    println!(
        "recorder, {format}: {STRIPS} stereo tracks ({} channels, {:.1} MB/s of f32) for {:.1} s: {frames} frames, {lost} lost, {:.1} MB on disk",
        STRIPS * 2,
        bytes_per_second / 1e6,
        rec.seconds,
        bytes as f64 / 1e6
    );
    if flac {
        println!("  writer thread {:.2} % of a core", rec.writer_cpu * 100.0);
    } else {
        println!(
            "  writer thread {:.2} % of a core; plain 1 MiB writes of the same bytes/s (the floor) {:.2} % ({:.2}×)",
            rec.writer_cpu * 100.0,
            floor_cpu * 100.0,
            rec.writer_cpu / floor_cpu
        );
    }
    println!(
        "  process CPU {:.2} % idle, {:.2} % recording; DSP load mean {:.3} idle, {:.3} recording; late callbacks {} / {}",
        idle.process_cpu * 100.0,
        rec.process_cpu * 100.0,
        idle.load_mean,
        rec.load_mean,
        idle.late,
        rec.late
    );
    println!(
        "  resident {:.1} MB idle, {:.1} MB recording: {:.2} MB per armed track (rings + writer buffer by construction {:.2} MB)",
        rss_idle,
        rss_rec,
        (rss_rec - rss_idle) / STRIPS as f64,
        per_track_built
    );
    // Only the full run holds the figures to their targets: the quick pass is a debug
    // build sharing the machine with the rest of the checks, on the null backend's
    // ordinary (not real-time) thread.
    if full {
        assert_eq!(
            lost, 0,
            "frames lost while recording {STRIPS} stereo tracks"
        );
        assert_eq!(rec.late, 0, "engine-caused late callbacks while recording");
    }
    rec.writer_cpu
}

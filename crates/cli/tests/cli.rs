//! The `troubadour` binary, driven as a user would, its files checked from outside
//! (hound reads them back; sox measures them).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{Dir, text, troubadour};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// A -12 dBFS 1 kHz sine on a mono strip into a stereo bus at 0 dB, panned hard left,
/// and the same strip into a mono bus.
const SINE: &str = r#"
version = 1
[[strip]]
name = "Tone"
channels = 1
pan = -1.0
source = { generator = "sine", freq = 1000.0, level_db = -12.0 }
sends = { Main = {}, Mono = {} }
[[bus]]
name = "Main"
channels = 2
[[bus]]
name = "Mono"
channels = 1
"#;

#[test]
fn check_accepts_the_examples_and_rejects_bad_files_with_exit_1() {
    for ex in ["stream.toml", "podcast.toml"] {
        let o = troubadour(&["check", examples().join(ex).to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout)
                .contains(": valid (3 strips, 2 buses, 48000 Hz, 256-frame blocks")
        );
    }
    let dir = Dir::new("check");
    let bad = dir.write(
        "bad.toml",
        &SINE.replace("level_db = -12.0", "level_db = 6.0"),
    );
    let o = troubadour(&["check", &bad]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!(
            "{bad}:7:58: strip \"Tone\" source.level_db: 6 is above the maximum of +0 dB"
        )),
        "{out}"
    );
    assert!(out.trim_end().ends_with("invalid (1 error)"), "{out}");
}

#[test]
fn render_is_byte_identical_run_after_run_in_every_format() {
    let dir = Dir::new("identical");
    for format in ["f32", "s24", "s16"] {
        let mut bytes = Vec::new();
        for run in 0..2 {
            let out = dir.path(&format!("{format}-{run}"));
            let o = troubadour(&[
                "render",
                examples().join("podcast.toml").to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--seconds",
                "3",
                "--format",
                format,
            ]);
            assert!(o.status.success(), "{}", text(&o));
            bytes.push((
                std::fs::read(out.join("program.wav")).unwrap(),
                std::fs::read(out.join("HostPhones.wav")).unwrap(),
            ));
        }
        assert!(bytes[0] == bytes[1], "{format}: two renders differ");
        let bits = match format {
            "f32" => 32,
            "s24" => 24,
            _ => 16,
        };
        let r = hound::WavReader::new(&bytes[0].0[..]).unwrap();
        assert_eq!(
            (
                r.spec().channels,
                r.spec().sample_rate,
                r.spec().bits_per_sample
            ),
            (2, 48_000, bits)
        );
        assert_eq!(r.duration(), 3 * 48_000);
        // Not silence: both voices and the music bed made it through to both buses.
        for (name, file) in [("program", &bytes[0].0), ("HostPhones", &bytes[0].1)] {
            let (peak, rms) = peak_and_rms(file, bits);
            assert!(
                peak > 0.05 && rms > 0.005,
                "{format} {name}: peak {peak}, RMS {rms}: next to silence"
            );
        }
    }
}

/// (peak, RMS) of a WAV file's bytes, full scale 1.0, over all channels.
fn peak_and_rms(bytes: &[u8], bits: u16) -> (f64, f64) {
    let r = hound::WavReader::new(bytes).unwrap();
    let samples: Vec<f64> = if bits == 32 {
        r.into_samples::<f32>()
            .map(|s| f64::from(s.unwrap()))
            .collect()
    } else {
        let full = f64::from(1u32 << (bits - 1));
        r.into_samples::<i32>()
            .map(|s| f64::from(s.unwrap()) / full)
            .collect()
    };
    let peak = samples.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let rms = (samples.iter().map(|x| x * x).sum::<f64>() / samples.len().max(1) as f64).sqrt();
    (peak, rms)
}

/// sox's `stat` report of `file` after `effects` (e.g. `["remix", "1"]`).
fn sox_report(file: &Path, effects: &[&str]) -> String {
    let o = Command::new("sox")
        .arg(file)
        .arg("-n")
        .args(effects)
        .arg("stat")
        .output()
        .expect("sox is not installed: run scripts/test.sh, which installs it");
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// One figure of a sox `stat` report.
fn sox_field(report: &str, name: &str) -> f64 {
    report
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in sox's report:\n{report}"))
}

/// `sox FILE -n stat` figures: (maximum amplitude, RMS amplitude, samples read).
fn sox_stat(file: &Path) -> (f64, f64, u64) {
    let report = sox_report(file, &[]);
    (
        sox_field(&report, "Maximum amplitude"),
        sox_field(&report, "RMS     amplitude"),
        sox_field(&report, "Samples read") as u64,
    )
}

#[test]
fn rendered_levels_measured_by_sox_and_reported_in_the_summary() {
    let dir = Dir::new("levels");
    let session = dir.write("sine.toml", SINE);
    let out = dir.path("out");
    let o = troubadour(&[
        "render",
        &session,
        "--out",
        out.to_str().unwrap(),
        "--seconds",
        "2",
        "--format",
        "s24",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let summary = String::from_utf8_lossy(&o.stdout).to_string();

    // Hard left: the left channel carries the tone at -12 dBFS, the right is silent;
    // sox mixes both channels for `stat`, so measure each with `remix`.
    let left = dir.path("left.wav");
    let st = Command::new("sox")
        .arg(out.join("Main.wav"))
        .arg(&left)
        .args(["remix", "1"])
        .status()
        .expect("sox is not installed: run scripts/test.sh, which installs it");
    assert!(st.success());
    let (max, rms, samples) = sox_stat(&left);
    let db = |x: f64| 20.0 * x.log10();
    assert!((db(max) + 12.0).abs() < 0.01, "peak {} dBFS", db(max));
    assert!(
        (db(rms) + 12.0 + 3.0103).abs() < 0.01,
        "rms {} dBFS",
        db(rms)
    );
    assert_eq!(samples, 96_000);
    let right = dir.path("right.wav");
    Command::new("sox")
        .arg(out.join("Main.wav"))
        .arg(&right)
        .args(["remix", "2"])
        .status()
        .unwrap();
    assert_eq!(
        sox_stat(&right).0,
        0.0,
        "hard left leaves the right channel silent"
    );

    // The summary table agrees: Main peaks at -12.0 dBFS; its RMS over both channels is
    // 3 dB below the left channel's; Mono is the same tone.
    let row = |bus: &str| -> Vec<String> {
        summary
            .lines()
            .find(|l| l.starts_with(bus))
            .unwrap_or_else(|| panic!("{summary}"))
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    assert_eq!(row("Main")[2..], ["-12.0", "-18.0", "0"]);
    assert_eq!(row("Mono")[2..], ["-12.0", "-15.0", "0"]);
}

#[test]
fn clipping_is_counted_in_the_summary() {
    let dir = Dir::new("clip");
    let session = dir.write(
        "hot.toml",
        &SINE
            .replace("level_db = -12.0", "level_db = 0.0")
            .replace("name = \"Mono\"\n", "name = \"Mono\"\nfader_db = 6.0\n"),
    );
    let o = troubadour(&[
        "render",
        &session,
        "--out",
        dir.path("out").to_str().unwrap(),
        "--seconds",
        "1",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let mono: Vec<&str> = stdout
        .lines()
        .find(|l| l.starts_with("Mono"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(mono[2], "6.0");
    // 1 kHz at 48 kHz is 48 samples per period, at phases k × 7.5°; at +6 dB peak
    // (×1.995) a sample is over full scale when |sin| > 0.501, i.e. k = 5..=19 in each
    // half period: 30 of every 48 samples, 30 000 in one second.
    let clipped: u64 = mono[4].parse().unwrap();
    assert_eq!(clipped, 30_000);
}

#[test]
fn a_failed_render_leaves_no_files_and_says_why() {
    let dir = Dir::new("fail");
    let session = dir.write(
        "s.toml",
        &SINE.replace(
            "{ generator = \"sine\", freq = 1000.0, level_db = -12.0 }",
            "{ file = \"gone.wav\" }",
        ),
    );
    let out = dir.path("out");
    let o = troubadour(&["render", &session, "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("source.file: file gone.wav not found"),
        "{}",
        text(&o)
    );
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
}

#[test]
fn run_on_the_null_backend_plays_and_stops_cleanly() {
    let o = troubadour(&["run", "--backend", "null", "--seconds", "1.5"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("backend: null"));
    let last = out
        .lines()
        .find(|l| l.starts_with("stopped after"))
        .unwrap_or_else(|| panic!("{out}"));
    // The clock ran for the time it says, a 256-frame period at 48 kHz each 5.33 ms:
    // the count can only fall short of that (by start-up, or by periods a stalled
    // machine skipped, which it counts as late wake-ups), never exceed it.
    let field = |after: &str| -> f64 {
        last.split(after)
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.trim_end_matches(':').parse().ok())
            .unwrap_or_else(|| panic!("no number after {after:?} in {last}"))
    };
    let (elapsed, periods) = (field("stopped after "), field("s: "));
    let nominal = elapsed * 48_000.0 / 256.0;
    assert!(
        periods <= nominal + 2.0 && periods >= 0.8 * nominal,
        "{periods} periods in {elapsed} s (nominal {nominal:.0}): {last}"
    );
    // The status lines carry the bus meters: the default session's A1 is playing.
    assert!(out.lines().any(|l| l.contains(" A1 -1")), "{out}");
    assert!(out.contains("first audio callback"), "{out}");
    // Resident memory of the default session, read while it ran: the target is 20 MB,
    // and our own (anonymous) part is told apart from mapped files.
    let mb = |label: &str| -> f64 {
        last.split(label)
            .nth(1)
            .and_then(|r| r.split(" MB").next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no \"{label}\" in {last}"))
    };
    let (total, ours) = (mb("resident memory while running "), mb(": ours "));
    assert!(total > 1.0 && total <= 20.0, "resident memory {total} MB");
    assert!(
        ours > 0.1 && ours < total,
        "our own memory {ours} MB of {total}"
    );
    assert!(
        last.contains(" 0 allocations in callbacks, 0 system calls in callbacks"),
        "{last}"
    );
}

#[test]
fn run_stops_cleanly_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_troubadour"))
        .args(["run"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Signalled once it says it plays, not after a guessed time.
    let rx = support::lines(child.stdout.take().unwrap());
    let mut said = Vec::new();
    support::expect_line(&rx, "first audio callback", &mut said);
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    assert!(child.wait().unwrap().success());
    support::expect_line(&rx, "stopped after", &mut said);
}

#[test]
fn resample_converts_aligned_exact_length_files_checked_by_sox() {
    let dir = Dir::new("resample");
    // A 24-bit 44.1 kHz stereo file made by sox: a -6 dBFS 1 kHz sine on both channels.
    let input = dir.path("in.wav");
    let made = Command::new("sox")
        .args(["-n", "-r", "44100", "-b", "24", "-c", "2"])
        .arg(&input)
        .args(["synth", "2", "sine", "1000", "vol", "0.5"])
        .status()
        .expect("sox is not installed: run scripts/test.sh, which installs it");
    assert!(made.success());
    let output = dir.path("out.wav");
    let o = troubadour(&[
        "resample",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "--rate",
        "48000",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let spec = hound::WavReader::open(&output).unwrap().spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (48_000, 2, 24)
    );
    assert_eq!(hound::WavReader::open(&output).unwrap().duration(), 96_000);
    assert!(!dir.path("out.wav.partial").exists());
    // sox measures the result: RMS of a 0.5 sine is 0.3536, still at 1 kHz. One
    // channel: sox's `stat` would read interleaved stereo as one signal.
    let report = sox_report(&output, &["remix", "1"]);
    assert!(
        (sox_field(&report, "RMS     amplitude") - 0.353_553).abs() < 1e-4,
        "{report}"
    );
    assert!(
        (sox_field(&report, "Rough   frequency") - 1000.0).abs() <= 2.0,
        "{report}"
    );

    // Alignment: a click at input frame 4410 (0.1 s) lands on output frame 4800.
    let click = dir.path("click.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 44_100,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&click, spec).unwrap();
    for k in 0..44_100 {
        w.write_sample(if k == 4410 { 0.9f32 } else { 0.0 })
            .unwrap();
    }
    w.finalize().unwrap();
    let moved = dir.path("click48.wav");
    let o = troubadour(&[
        "resample",
        click.to_str().unwrap(),
        moved.to_str().unwrap(),
        "--rate",
        "48000",
        "--quality",
        "best",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let samples: Vec<f32> = hound::WavReader::open(&moved)
        .unwrap()
        .samples::<f32>()
        .map(Result::unwrap)
        .collect();
    assert_eq!(samples.len(), 48_000);
    let peak = (0..samples.len())
        .max_by(|&a, &b| samples[a].abs().total_cmp(&samples[b].abs()))
        .unwrap();
    assert_eq!(peak, 4800, "the click moved off its instant");
}

#[test]
fn resample_reports_bad_input_without_leaving_files() {
    let dir = Dir::new("resample-bad");
    let out = dir.path("out.wav");
    let o = troubadour(&[
        "resample",
        "/nonexistent/in.wav",
        out.to_str().unwrap(),
        "--rate",
        "48000",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("cannot open /nonexistent/in.wav: No such file"),
        "{}",
        text(&o)
    );
    let input = dir.write("in.wav", "not a wav file");
    let o = troubadour(&["resample", &input, out.to_str().unwrap(), "--rate", "48000"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("in.wav"), "{}", text(&o));
    assert!(!out.exists() && !dir.path("out.wav.partial").exists());
}

#[test]
fn hot_reload_applies_valid_edits_and_rejects_invalid_ones_without_stopping() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};
    let dir = Dir::new("reload");
    let session = dir.write("session.toml", SINE);
    let mut child = Command::new(env!("CARGO_BIN_EXE_troubadour"))
        .args(["run", &session, "--backend", "null"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut said = Vec::new();
    let mut expect = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                let hit = line.contains(needle);
                said.push(line);
                if hit {
                    return;
                }
            }
        }
        panic!("never said \"{needle}\":\n{}", said.join("\n"));
    };
    expect("running at 48000 Hz");
    // The control service watches the file from its start on (its line comes after the
    // API's and OSC's): an edit before that is the file it starts from, not a reload.
    expect("autosave: changes made remotely");
    // An invalid edit: rejected with the located error, the old session keeps running.
    std::fs::write(&session, SINE.replace("pan = -1.0", "pan = -7.0")).unwrap();
    expect("reload rejected, the running session is unchanged");
    expect("pan");
    // A parameter edit glides in; a structural one swaps the graph.
    std::fs::write(&session, SINE.replace("pan = -1.0", "pan = -0.5")).unwrap();
    expect("parameter changes, gliding");
    std::fs::write(
        &session,
        format!("{SINE}\n[[bus]]\nname = \"Extra\"\nchannels = 2\n"),
    )
    .unwrap();
    expect("structure changed, new graph swapped in");
    // Still running: the status lines now show the new bus.
    expect(" Extra ");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
}

/// The number after `"key": ` in `troubadour bench --json`'s one-line object.
fn json_number(json: &str, key: &str) -> f64 {
    let at = json
        .find(&format!("\"{key}\": "))
        .unwrap_or_else(|| panic!("no {key} in {json}"));
    let rest = &json[at + key.len() + 4..];
    let end = rest.find([',', '}']).expect("a number ends");
    rest[..end].trim().parse().expect("a number")
}

#[test]
fn bench_reports_stages_and_memory_and_processing_allocates_nothing() {
    // The scale target: 64 stereo strips into 16 buses with full processing.
    let o = troubadour(&[
        "bench",
        "--size",
        "64x16",
        "--rounds",
        "1",
        "--seconds",
        "0.1",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let json = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(json_number(&json, "strips"), 64.0);
    assert_eq!(json_number(&json, "buses"), 16.0);
    assert_eq!(json_number(&json, "allocations_while_processing"), 0.0);
    let heap = json_number(&json, "peak_heap_bytes");
    assert!(
        heap > 1e5 && heap <= 16e6,
        "peak heap {heap} bytes: the target is at most 16 MB"
    );
    let stages: f64 = ["sources", "strip_dsp", "mixing", "bus_dsp", "output"]
        .iter()
        .map(|s| json_number(&json, s))
        .sum();
    let rtf = json_number(&json, "real_time_factor_median");
    assert!(stages > 0.0 && rtf > 0.0, "{json}");
    // The table form names every stage and the allocation count.
    let podcast = examples().join("podcast.toml");
    let podcast = podcast.to_str().expect("UTF-8 path");
    let o = troubadour(&["bench", podcast, "--rounds", "1", "--seconds", "0.1"]);
    assert!(o.status.success(), "{}", text(&o));
    let table = text(&o);
    for want in [
        "real time",
        "DSP load",
        "strip_dsp",
        "bus_dsp",
        "peak heap",
        "allocations  0",
    ] {
        assert!(table.contains(want), "{want:?} missing from\n{table}");
    }
    let o = troubadour(&["bench", "--size", "8"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("expected STRIPSxBUSES"), "{}", text(&o));
}

#[test]
fn devices_lists_hosts_as_json_and_says_what_this_build_has() {
    let o = Command::new(env!("CARGO_BIN_EXE_troubadour"))
        .args(["devices", "--json"])
        .env("JACK_DEFAULT_SERVER", "troubadour-no-such-server")
        .output()
        .expect("run troubadour");
    assert!(o.status.success(), "{}", text(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o)));
    assert_eq!(json["cpal"], cfg!(feature = "cpal"), "{json}");
    assert!(json["hosts"].is_array(), "{json}");
    assert!(json["jack"].is_null(), "no JACK server runs: {json}");
    let o = Command::new(env!("CARGO_BIN_EXE_troubadour"))
        .arg("devices")
        .env("JACK_DEFAULT_SERVER", "troubadour-no-such-server")
        .output()
        .expect("run troubadour");
    assert!(text(&o).contains("JACK: no server answers"), "{}", text(&o));
}

/// The null backend's thread (`troubadour-null`) of a running troubadour: its
/// `/proc/PID/task/TID` directory.
fn audio_thread(pid: u32) -> Option<PathBuf> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|t| {
            std::fs::read_to_string(t.join("comm")).is_ok_and(|c| c.trim() == "troubadour-null")
        })
}

#[test]
fn run_pins_the_audio_thread_and_reports_its_scheduling_truthfully() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_troubadour"))
        .args(["run", "--backend", "null", "--cpu", "0", "--seconds", "3"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let rx = support::lines(child.stdout.take().unwrap());
    let mut said = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !said.iter().any(|l: &String| l.starts_with("running at")) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => said.push(l),
            Err(_) => panic!("troubadour never said it was running: {said:?}"),
        }
    }
    let task = audio_thread(child.id()).expect("the troubadour-null thread");
    let status = std::fs::read_to_string(task.join("status")).unwrap();
    let stat = std::fs::read_to_string(task.join("stat")).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let text = said.join("\n");
    assert!(text.contains("audio thread: pinned to CPU 0"), "{text}");
    let allowed = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim();
    assert_eq!(allowed, "0", "the thread may run on CPUs {allowed}");
    // /proc/.../stat: fields after the command's closing parenthesis; rt_priority and
    // policy are fields 40 and 41 of the whole line.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let (rt_priority, policy) = (fields[40 - 3], fields[41 - 3]);
    if text.contains("real-time priority 60 (SCHED_FIFO)") {
        assert_eq!((policy, rt_priority), ("1", "60"), "{text}");
    } else {
        assert!(text.contains("real-time priority denied"), "{text}");
        assert_eq!(policy, "0", "said denied but the policy is {policy}");
    }
}

#[test]
fn run_on_jack_without_a_server_says_so_in_words() {
    let o = Command::new(env!("CARGO_BIN_EXE_troubadour"))
        .args(["run", "--backend", "jack", "--seconds", "1"])
        .env("JACK_DEFAULT_SERVER", "troubadour-no-such-server")
        .output()
        .expect("run troubadour");
    assert!(!o.status.success());
    let said = text(&o);
    assert!(
        said.contains(
            "jack: no JACK server is running (server name \"troubadour-no-such-server\")"
        ),
        "{said}"
    );
    assert!(!said.contains("ClientStatus"), "{said}");
}

#[test]
fn run_refuses_a_cpu_or_a_period_out_of_range_before_starting() {
    for (args, want) in [
        (["--cpu", "5000"], "--cpu"),
        (["--latency-frames", "7"], "--latency-frames"),
    ] {
        let mut all = vec!["run", "--backend", "null", "--seconds", "1"];
        all.extend(args);
        let o = troubadour(&all);
        assert!(!o.status.success(), "{args:?}");
        let said = text(&o);
        assert!(
            said.contains(want) && said.contains("invalid value"),
            "{args:?}: {said}"
        );
    }
}

/// `troubadour run` on the null backend for half a second, as `prefix` runs it (a
/// lowered limit, another user), with `extra` arguments; returns what it said.
fn run_as(prefix: &[&str], extra: &[&str]) -> String {
    let mut args: Vec<&str> = prefix.to_vec();
    args.push(env!("CARGO_BIN_EXE_troubadour"));
    args.extend(["run", "--backend", "null", "--seconds", "0.5"]);
    args.extend(extra);
    let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    text(&o)
}

#[test]
fn memory_is_locked_where_the_limit_allows_and_a_refusal_is_said() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    // An ordinary user under a 64 kB limit: too small to lock a whole process.
    let small: Vec<&str> = if root {
        vec![
            "prlimit",
            "--memlock=65536:65536",
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]
    } else {
        vec!["prlimit", "--memlock=65536:65536"]
    };
    let said = run_as(&small, &[]);
    assert!(
        said.contains("memory: not locked: the limit for locked memory is 64 kB"),
        "{said}"
    );
    // `--mlock` tries anyway, and says what the system answered.
    let said = run_as(&small, &["--mlock"]);
    assert!(
        said.contains("memory: not locked (") && said.contains("ulimit -l"),
        "{said}"
    );
    // `--no-mlock`: nothing tried.
    let said = run_as(&[], &["--no-mlock"]);
    assert!(said.contains("memory: not locked (--no-mlock)"), "{said}");
    if root {
        // Privileged: locked by default, and it says so.
        let said = run_as(&[], &[]);
        assert!(said.contains("memory: locked (mlockall)"), "{said}");
    }
}

//! The binary's dealings with files: bad input files found and named, unfinished output
//! files never left behind (error, Ctrl-C, SIGTERM), non-finite input contained.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Dir, text, troubadour};

/// Every name under `dir`, recursively, relative to it.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

fn write_wav(path: &Path, rate: u32, samples: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &x in samples {
        w.write_sample(x).unwrap();
    }
    w.finalize().unwrap();
}

fn sine(frames: usize, rate: u32) -> Vec<f32> {
    (0..frames)
        .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate as f32).sin())
        .collect()
}

fn file_session(file: &str) -> String {
    format!(
        "version = 1\n[[strip]]\nname = \"F\"\nchannels = 1\nsource = {{ file = \"{file}\" }}\nsends = {{ A = {{}} }}\n[[bus]]\nname = \"A\"\nchannels = 1\n"
    )
}

#[test]
fn non_finite_input_samples_become_silence_and_are_counted() {
    let dir = Dir::new("nan");
    let mut data = sine(48_000, 48_000);
    for (k, i) in (1000..48_000).step_by(4000).take(11).enumerate() {
        data[i] = match k % 3 {
            0 => f32::NAN,
            1 => f32::INFINITY,
            _ => f32::NEG_INFINITY,
        };
    }
    let input = dir.path("in.wav");
    write_wav(&input, 48_000, &data);
    let output = dir.path("out.wav");
    let o = troubadour(&[
        "resample",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "--rate",
        "44100",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("warning: 11 input samples were not finite numbers"),
        "{}",
        text(&o)
    );
    let out: Vec<f32> = hound::WavReader::open(&output)
        .unwrap()
        .into_samples::<f32>()
        .map(Result::unwrap)
        .collect();
    assert_eq!(out.len(), 44_100);
    assert_eq!(out.iter().filter(|x| !x.is_finite()).count(), 0);
}

#[test]
fn truncated_and_empty_sources_fail_check_with_their_location() {
    let dir = Dir::new("trunc");
    let whole = dir.path("whole.wav");
    write_wav(&whole, 48_000, &sine(4800, 48_000));
    let bytes = std::fs::read(&whole).unwrap();
    std::fs::write(dir.path("trunc.wav"), &bytes[..bytes.len() - 4000]).unwrap();
    // A header claiming more data than there is, by a lot.
    let mut big = bytes.clone();
    let data_at = big.windows(4).position(|w| w == b"data").unwrap() + 4;
    big[data_at..data_at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    std::fs::write(dir.path("big.wav"), &big).unwrap();

    for (file, says) in [
        (
            "trunc.wav",
            "is truncated: its header promises 4800 frames but the file holds 3800",
        ),
        (
            "big.wav",
            "is truncated: its header promises 1073741820 frames but the file holds 4800",
        ),
        (
            "/dev/null",
            "/dev/null is not a readable WAV file: it is empty",
        ),
    ] {
        let session = dir.write("s.toml", &file_session(file));
        for cmd in ["check", "render"] {
            let out = dir.path("out");
            let mut args = vec![cmd, session.as_str()];
            if cmd == "render" {
                args.extend(["--out", out.to_str().unwrap()]);
            }
            let o = troubadour(&args);
            assert_eq!(o.status.code(), Some(1), "{cmd} {file}: {}", text(&o));
            let t = text(&o);
            assert!(
                t.contains(&format!("{session}:5:19: strip \"F\" source.file: "))
                    && t.contains(says),
                "{cmd} {file}: {t}"
            );
            assert!(!t.contains("Failed to read enough bytes"), "{t}");
        }
    }
}

#[test]
fn output_paths_that_name_no_file_or_no_directory_say_so() {
    let dir = Dir::new("paths");
    let input = dir.path("in.wav");
    write_wav(&input, 48_000, &sine(480, 48_000));
    std::fs::create_dir(dir.path("target")).unwrap();
    let slash = format!("{}/", dir.path("target").display());
    let o = troubadour(&[
        "resample",
        input.to_str().unwrap(),
        &slash,
        "--rate",
        "44100",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("names a directory, not a file"),
        "{}",
        text(&o)
    );
    assert_eq!(listing(&dir.0), ["in.wav", "target"]);

    let session = dir.write("s.toml", &file_session("in.wav"));
    let o = troubadour(&["render", &session, "--out", input.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "{}: it exists and is not a directory",
            input.display()
        )),
        "{}",
        text(&o)
    );
}

/// Starts `args`, waits until a `.partial` file shows under `watch`, sends `signal`,
/// and returns the exit code and what is left under `watch`.
fn interrupt(args: &[&str], watch: &Path, signal: &str) -> (Option<i32>, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_troubadour"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !(watch.exists() && listing(watch).iter().any(|n| n.ends_with(".partial"))) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no .partial file appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the signal"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let code = child.wait().unwrap().code();
    (code, listing(watch))
}

#[test]
fn interrupted_render_and_resample_leave_no_partial_files() {
    let dir = Dir::new("interrupt");
    let session = dir.write(
        "s.toml",
        "version = 1\n[[strip]]\nname = \"T\"\nsource = { generator = \"pink\" }\nsends = { A = {}, B = {} }\n[[bus]]\nname = \"A\"\n[[bus]]\nname = \"B\"\n",
    );
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let out = dir.path(&format!("render-{signal}"));
        let (got, left) = interrupt(
            &[
                "render",
                &session,
                "--out",
                out.to_str().unwrap(),
                "--seconds",
                "100000",
            ],
            &out,
            signal,
        );
        assert_eq!((got, left), (Some(code), vec![]), "render, SIG{signal}");
    }
    let input = dir.path("in.wav");
    write_wav(&input, 48_000, &sine(48_000 * 600, 48_000));
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let out = dir.path(&format!("resample-{signal}"));
        std::fs::create_dir(&out).unwrap();
        let (got, left) = interrupt(
            &[
                "resample",
                input.to_str().unwrap(),
                out.join("rs.wav").to_str().unwrap(),
                "--rate",
                "44100",
                "--quality",
                "best",
            ],
            &out,
            signal,
        );
        assert_eq!((got, left), (Some(code), vec![]), "resample, SIG{signal}");
    }
}

#[test]
fn render_reports_its_speed_without_rounding_it_to_zero() {
    let dir = Dir::new("speed");
    let session = dir.write("s.toml", &file_session("in.wav"));
    write_wav(&dir.path("in.wav"), 48_000, &sine(4800, 48_000));
    let o = troubadour(&[
        "render",
        &session,
        "--out",
        dir.path("out").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    let line = t.lines().find(|l| l.starts_with("rendered")).unwrap();
    assert!(line.ends_with("× real time)"), "{line}");
    assert!(!line.contains("(0× ") && !line.contains("(0x "), "{line}");
}

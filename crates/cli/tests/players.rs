//! File players stream in constant memory: `troubadour render` of eight long stereo
//! file sources stays within a small resident set, whatever the files' length, and
//! plays every one of them to its last second.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A 16-bit stereo 48 kHz WAV of `seconds` of a sine at `freq` Hz and `amplitude`,
/// written straight as bytes (hound sample by sample is slow in a debug build).
fn write_long_wav(path: &Path, seconds: u32, freq: f64, amplitude: f64) {
    let frames = seconds * 48_000;
    let data_len = frames * 4;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut head = Vec::with_capacity(44);
    head.extend_from_slice(b"RIFF");
    head.extend_from_slice(&(36 + data_len).to_le_bytes());
    head.extend_from_slice(b"WAVEfmt ");
    head.extend_from_slice(&16u32.to_le_bytes());
    head.extend_from_slice(&1u16.to_le_bytes()); // PCM
    head.extend_from_slice(&2u16.to_le_bytes());
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&(48_000u32 * 4).to_le_bytes());
    head.extend_from_slice(&4u16.to_le_bytes());
    head.extend_from_slice(&16u16.to_le_bytes());
    head.extend_from_slice(b"data");
    head.extend_from_slice(&data_len.to_le_bytes());
    f.write_all(&head).unwrap();
    // One period repeated: the frequency divides 48 kHz.
    let period = (48_000.0 / freq).round() as u32;
    let cycle: Vec<u8> = (0..period)
        .flat_map(|i| {
            let x = amplitude * (std::f64::consts::TAU * f64::from(i) / f64::from(period)).sin();
            let s = ((x * 32_767.0).round() as i16).to_le_bytes();
            [s[0], s[1], s[0], s[1]]
        })
        .collect();
    for _ in 0..frames / period {
        f.write_all(&cycle).unwrap();
    }
    f.write_all(&cycle[..((frames % period) * 4) as usize])
        .unwrap();
    f.flush().unwrap();
}

/// Runs `troubadour` with `args` and returns whether it succeeded, its output and its
/// peak resident memory in KiB (`ru_maxrss` of the reaped child). Output goes to a file,
/// not a pipe, so a chatty child can never block while we wait for it.
// The child is reaped by `wait4` (which std cannot do, and which gives its rusage).
#[allow(clippy::zombie_processes)]
fn run_measured(dir: &Path, args: &[&str]) -> (bool, String, i64) {
    let log = dir.join("troubadour.log");
    let file = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_troubadour"))
        .args(args)
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `rusage` is plain data, and all-zero is a valid value of it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for; both pointers are to live
    // locals of the right types.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let out = std::fs::read_to_string(&log).unwrap_or_default();
    (ok, out, usage.ru_maxrss)
}

/// RMS in dBFS of the frames `from..to` of a 2-channel f32 WAV's first channel.
fn rms_db(path: &Path, from: u32, to: u32) -> f64 {
    let mut r = hound::WavReader::open(path).unwrap();
    r.seek(from).unwrap();
    let n = (to - from) as usize;
    let sum: f64 = r
        .samples::<f32>()
        .step_by(2)
        .take(n)
        .map(|s| f64::from(s.unwrap()).powi(2))
        .sum();
    10.0 * (sum / n as f64).log10()
}

#[test]
fn eight_long_stereo_files_render_in_constant_memory() {
    const SECONDS: u32 = 120;
    let d = Dir(std::env::temp_dir().join(format!("troubadour-players-{}", std::process::id())));
    std::fs::create_dir_all(&d.0).unwrap();
    let mut session = String::from("version = 1\nsample_rate = 48000\nblock_frames = 256\n");
    for i in 0..8 {
        // 100, 200, ... Hz at -30 dBFS each: eight uncorrelated-ish tones.
        write_long_wav(
            &d.0.join(format!("f{i}.wav")),
            SECONDS,
            100.0 * f64::from(i + 1),
            0.0316,
        );
        session.push_str(&format!(
            "[[strip]]\nname = \"F{i}\"\nchannels = 2\nsource = {{ file = \"f{i}.wav\" }}\nsends = {{ A1 = {{}} }}\n"
        ));
    }
    session.push_str("[[bus]]\nname = \"A1\"\nchannels = 2\n");
    let toml = d.0.join("s.toml");
    std::fs::write(&toml, session).unwrap();
    let out = d.0.join("out");
    let (ok, text, max_rss_kib) = run_measured(
        &d.0,
        &[
            "render",
            toml.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(ok, "{text}");
    eprintln!("troubadour render: peak resident memory {max_rss_kib} KiB");
    // Decoded whole, the eight files would take 8 × 120 s × 48 kHz × 2 × 4 B = 369 MB.
    assert!(
        max_rss_kib < 30 * 1024,
        "peak resident memory {max_rss_kib} KiB, over 30 MiB"
    );
    let wav = out.join("A1.wav");
    let r = hound::WavReader::open(&wav).unwrap();
    assert_eq!(
        r.duration(),
        SECONDS * 48_000,
        "the render lasts as long as the files"
    );
    // Eight tones at -30 dBFS peak (-33 dBFS RMS each), power-summed: -24 dBFS per
    // channel (stereo into stereo is balance, unity at centre), in the first second and
    // in the last.
    for (from, to) in [(0, 48_000), ((SECONDS - 1) * 48_000, SECONDS * 48_000)] {
        let db = rms_db(&wav, from, to);
        assert!(
            (db - -24.0).abs() < 0.5,
            "frames {from}..{to}: {db:.2} dBFS RMS"
        );
    }
}

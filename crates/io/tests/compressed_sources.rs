//! FLAC, Ogg/Vorbis, MP3 and AIFF file sources (made here with sox) play at their level
//! and frequency, at the session's rate, for their whole length.

use std::path::{Path, PathBuf};
use std::process::Command;

use troubadour_io::render::{RenderOptions, render};
use troubadour_io::wav::SampleFormat;

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `seconds` of a stereo 1 kHz sine at 0.5 peak (-6.02 dBFS; RMS -9.03 dBFS), at
/// `rate`, in the format the extension of `path` names.
fn sox_sine(path: &Path, rate: u32, seconds: u32) {
    let out = Command::new("sox")
        .args(["-D", "-n", "-r", &rate.to_string(), "-c", "2"])
        .arg(path)
        .args(["synth", &seconds.to_string(), "sine", "1000", "vol", "0.5"])
        .output()
        .expect("sox is installed (scripts/test.sh installs it, with libsox-fmt-mp3)");
    assert!(
        out.status.success() && path.exists(),
        "sox could not write {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The RMS level (dBFS, left channel) sox's own decoder reads in seconds 0.5..1.5 of
/// `path`: the reference for lossy files, whose encoder may change the level.
fn sox_rms_db(path: &Path) -> f64 {
    let out = Command::new("sox")
        .arg(path)
        .args(["-n", "remix", "1", "trim", "0.5", "1", "stats"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines()
        .find_map(|l| l.strip_prefix("RMS lev dB"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no RMS level from sox for {}: {text}", path.display()))
}

/// Renders a session playing `file` once into a stereo bus; returns the frames and the
/// left channel.
fn render_file(dir: &Path, file: &str) -> (u64, Vec<f32>) {
    let text = format!(
        "version = 1\nsample_rate = 48000\n[[strip]]\nname = \"F\"\nchannels = 2\nsource = {{ file = \"{file}\" }}\nsends = {{ A1 = {{}} }}\n[[bus]]\nname = \"A1\"\nchannels = 2\n"
    );
    let loaded = troubadour_engine::session::parse(&text, &dir.join("s.toml"))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let out = dir.join(format!("out-{file}"));
    let options = RenderOptions {
        out_dir: out.clone(),
        seconds: None,
        format: SampleFormat::F32,
        kernels: Default::default(),
    };
    let summary = render(&loaded, &options, |_, _| true).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(summary.notes.is_empty(), "{file}: {:?}", summary.notes);
    let left: Vec<f32> = hound::WavReader::open(out.join("A1.wav"))
        .unwrap()
        .into_samples::<f32>()
        .step_by(2)
        .map(Result::unwrap)
        .collect();
    (summary.frames, left)
}

#[test]
fn flac_vorbis_mp3_and_aiff_sources_play_at_their_level() {
    let d = Dir(std::env::temp_dir().join(format!("troubadour-codecs-{}", std::process::id())));
    std::fs::create_dir_all(&d.0).unwrap();
    // (file, its rate, RMS tolerance in dB, length tolerance in frames at 48 kHz). FLAC
    // and AIFF are lossless 16-bit: the level is exact to the dither-free rounding. MP3
    // and Vorbis are lossy at their default bit rates: a pure tone keeps its level
    // within a few tenths of a dB of what sox's decoder reads (LAME's output of this
    // tone is 0.6 dB under the input, so the reference is sox's reading). Vorbis's length is exact in its container; sox's MP3
    // carries no gapless (Xing/LAME) header, so the encoder's delay and padding stay in
    // and its length is known only to within two MP3 frames (2 × 1152 at 44.1 kHz:
    // 2508 frames at 48 kHz; sox itself decodes 504 frames more than it encoded).
    let cases = [
        ("tone.flac", 48_000, 0.02, 0),
        ("tone.aiff", 44_100, 0.02, 1),
        ("tone.ogg", 48_000, 0.3, 0),
        ("tone.mp3", 44_100, 0.3, 2_508),
    ];
    for (file, rate, tolerance_db, length_tolerance) in cases {
        sox_sine(&d.0.join(file), rate, 2);
        let (frames, left) = render_file(&d.0, file);
        assert!(
            frames.abs_diff(96_000) <= length_tolerance,
            "{file}: {frames} frames rendered, expected 2 s (96000)"
        );
        // The middle second, clear of any codec's ramp at either end.
        let mid = &left[24_000..72_000];
        let rms =
            (mid.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / mid.len() as f64).sqrt();
        let db = 20.0 * rms.log10();
        let reference = sox_rms_db(&d.0.join(file));
        assert!(
            (db - reference).abs() < tolerance_db && (db - -9.03).abs() < 1.0,
            "{file}: {db:.3} dBFS RMS, sox reads {reference:.2} (the tone was made at -9.03)"
        );
        // A 1 kHz tone: 2000 sign changes a second.
        let crossings = mid
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        assert!(
            crossings.abs_diff(2000) <= 2,
            "{file}: {crossings} zero crossings in 1 s, expected 2000"
        );
    }
}

/// A file no decoder reads fails the session's check with its name, the field and why.
#[test]
fn a_file_no_decoder_reads_is_named_in_the_error() {
    let d = Dir(std::env::temp_dir().join(format!("troubadour-codecs-bad-{}", std::process::id())));
    std::fs::create_dir_all(&d.0).unwrap();
    std::fs::write(
        d.0.join("junk.flac"),
        b"fLaC but then only text, no stream info",
    )
    .unwrap();
    let text = "version = 1\n[[strip]]\nname = \"F\"\nchannels = 2\nsource = { file = \"junk.flac\" }\n[[bus]]\nname = \"A1\"\n";
    let err = match troubadour_engine::session::parse(text, &d.0.join("s.toml")) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a file that is not audio passed the check"),
    };
    assert!(
        err.contains("source.file") && err.contains("junk.flac is not a readable audio file"),
        "{err}"
    );
}

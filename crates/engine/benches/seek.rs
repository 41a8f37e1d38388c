//! How long a file player takes to play from a new position: from `Player::seek_s` on
//! the control side to the end of the first audio block that holds the file's content
//! there. The engine runs one 256-frame block each 5.33 ms of wall time, as a live
//! 48 kHz mixer does, on this thread; the reader thread is the player's own. The files
//! (made with sox) are 30 s of digital silence, then 30 s of a -20 dBFS sine, and the
//! player loops in the silence, so the first sample above -60 dBFS is the new
//! position's. Each seek goes to a random time in the sine, then back to the silence.
//!
//! `cargo bench -p troubadour-engine --bench seek` (40 seeks per file); without
//! `--bench` (as `cargo test --benches` runs it) 3 per file, a check that it runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use troubadour_dsp::rng::Rng;
use troubadour_engine::session;

const BLOCK: usize = 256;
const RATE: u32 = 48_000;

fn sox(args: &[&str]) {
    let out = Command::new("sox")
        .args(args)
        .output()
        .expect("sox is installed (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "sox {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The files: (label, name).
fn files(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let wav = dir.join("s.wav");
    let w = wav.to_str().unwrap();
    sox(&[
        "-n", "-r", "48000", "-c", "2", "-b", "16", w, "synth", "30", "sine", "440", "vol", "0.1",
        "pad", "30", "0",
    ]);
    let at = |name: &str| dir.join(name);
    let convert = |name: &str, extra: &[&str]| {
        let out = at(name);
        let mut args = vec![w];
        args.extend_from_slice(extra);
        args.push(out.to_str().unwrap());
        sox(&args);
        out
    };
    vec![
        ("WAV 16-bit", wav.clone()),
        (
            "WAV 44.1 kHz (resampled)",
            convert("r.wav", &["-r", "44100"]),
        ),
        ("FLAC", convert("s.flac", &[])),
        ("MP3", convert("s.mp3", &[])),
    ]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let seeks = if full { 40 } else { 3 };
    let dir = std::env::temp_dir().join(format!("troubadour-seek-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let period = Duration::from_secs_f64(BLOCK as f64 / f64::from(RATE));
    println!("seek → first block of the new position's audio, {seeks} seeks per file, ms:");
    for (label, file) in files(&dir) {
        let text = format!(
            "version = 1\nsample_rate = {RATE}\nblock_frames = {BLOCK}\n[[strip]]\nname = \"F\"\nchannels = 2\nsource = {{ file = {:?}, loop = true }}\nsends = {{ A1 = {{}} }}\n[[bus]]\nname = \"A1\"\n",
            file.to_str().unwrap()
        );
        let loaded = session::parse(&text, &dir.join("s.toml")).unwrap_or_else(|e| panic!("{e}"));
        let (c, mut e) = troubadour_engine::create(&loaded, &Default::default()).unwrap();
        let player = c.player(0).unwrap().clone();
        let mut outs = vec![vec![0.0f32; BLOCK]; 2];
        let mut rng = Rng::new(7);
        let mut next = Instant::now();
        let mut block = |e: &mut troubadour_engine::Engine| -> f32 {
            next += period;
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let mut o: Vec<&mut [f32]> = outs.iter_mut().map(|c| &mut c[..]).collect();
            e.process(&[], &mut o, BLOCK);
            outs[0].iter().fold(0.0f32, |m, x| m.max(x.abs()))
        };
        let mut took = Vec::with_capacity(seeks);
        for _ in 0..seeks {
            // Back into the silence, and long enough for the reader to fill its ring.
            player.seek_s(1.0);
            for _ in 0..60 {
                block(&mut e);
            }
            let target = 31.0 + 25.0 * f64::from(rng.next_bipolar().abs());
            let t = Instant::now();
            player.seek_s(target);
            let mut blocks = 0;
            while block(&mut e) < 0.001 {
                blocks += 1;
                assert!(
                    blocks < 2000,
                    "{label}: no audio 10 s after a seek to {target} s"
                );
            }
            took.push(t.elapsed().as_secs_f64() * 1e3);
        }
        took.sort_by(f64::total_cmp);
        println!(
            "  {label:<26} p50 {:6.1}  p99 {:6.1}  max {:6.1}",
            percentile(&took, 0.5),
            percentile(&took, 0.99),
            took[took.len() - 1]
        );
        drop(e);
        drop(c);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

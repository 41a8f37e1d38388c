//! FLAC takes: our writer (our encoder, block by block, as the recorder's writer
//! thread drives it) against libFLAC's own encoder (`flac`, Debian's 1.4, at its
//! default level 5) on the same 24-bit audio, against `flacenc` (the pure-Rust encoder
//! we did not take) on the same integers, and against a 24-bit WAV as the floor. Each
//! round encodes the same programme-like stereo signal (two tones over noise) with
//! each in turn; the table gives the median CPU seconds per second of audio (per
//! stereo track), how many stereo tracks one core could keep up with in real time,
//! and each file's size against the WAV's.
//!
//! `cargo bench -p troubadour-io --bench flac` for the full run (30 s of audio, 5
//! rounds); `cargo test --benches` makes a quick pass (2 s, 1 round) that only proves
//! it runs.

use std::io::Cursor;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use troubadour_dsp::rng::Rng;
use troubadour_io::flac::{FlacSpec, FlacWriter};
use troubadour_io::wav::{SampleFormat, WavSpec, WavWriter};

const RATE: u32 = 48_000;

/// `cargo bench` (the full run) rather than `cargo test --benches` (a quick pass).
fn full_run() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list")
}

/// Two tones at −18 dBFS over noise at −30 dBFS, each channel its own: harder to
/// compress than a sine, easier than a full mix.
fn programme(seconds: u32) -> Vec<f32> {
    let mut rng = Rng::new(3);
    let frames = (seconds * RATE) as usize;
    let mut low = [0.0f32; 2];
    (0..frames * 2)
        .map(|i| {
            let (n, c) = (i / 2, i % 2);
            let t = n as f64 / f64::from(RATE);
            let tones = 0.125 * ((std::f64::consts::TAU * (220.0 + 110.0 * c as f64) * t).sin())
                + 0.0625 * (std::f64::consts::TAU * 1_375.0 * t).sin();
            // A one-pole low-pass makes the noise darker, as programme noise is.
            low[c] += 0.3 * (rng.next_bipolar() * 0.1 - low[c]);
            (tones as f32) + low[c]
        })
        .collect()
}

/// CPU time of this thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time (user + system) of this process's waited-for children.
fn children_cpu() -> Duration {
    // SAFETY: an all-zero rusage is a valid value for the call to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid rusage for the call to fill.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// flacenc 0.5 at its defaults (its LPC search on), on the WAV's integers, into memory.
fn flacenc_crate(ints: &[i32]) -> (Duration, u64) {
    use flacenc::component::BitRepr;
    use flacenc::error::Verify;
    let begun = thread_cpu();
    let config = flacenc::config::Encoder::default().into_verified().unwrap();
    let source = flacenc::source::MemSource::from_samples(ints, 2, 24, RATE as usize);
    let stream = flacenc::encode_with_fixed_block_size(&config, source, 4096).unwrap();
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream.write(&mut sink).unwrap();
    (thread_cpu() - begun, sink.as_slice().len() as u64)
}

/// The 24-bit WAV's samples as integers.
fn wav_ints(wav: &[u8]) -> Vec<i32> {
    let data = wav
        .windows(4)
        .position(|w| w == b"data")
        .expect("a data chunk")
        + 8;
    wav[data..]
        .chunks_exact(3)
        .map(|b| i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8)
        .collect()
}

/// Ours: the recorder's piece size (32 768 frames), into memory.
fn ours(samples: &[f32]) -> (Duration, u64) {
    let spec = FlacSpec {
        channels: 2,
        sample_rate: RATE,
        bits: 24,
    };
    let begun = thread_cpu();
    let mut w = FlacWriter::new(Cursor::new(Vec::new()), spec, 1).unwrap();
    for piece in samples.chunks(2 * 32_768) {
        w.write_interleaved_f32(piece).unwrap();
    }
    let bytes = w.finish().unwrap().into_inner().len() as u64;
    (thread_cpu() - begun, bytes)
}

/// The floor: the same samples dithered into a 24-bit WAV in memory.
fn wav(samples: &[f32]) -> (Duration, Vec<u8>) {
    let spec = WavSpec {
        channels: 2,
        sample_rate: RATE,
        format: SampleFormat::S24,
    };
    let begun = thread_cpu();
    let mut w = WavWriter::new(Cursor::new(Vec::new()), spec)
        .unwrap()
        .with_dither(1);
    for piece in samples.chunks(2 * 32_768) {
        w.write_interleaved_f32(piece).unwrap();
    }
    let bytes = w.finish().unwrap().0.into_inner();
    (thread_cpu() - begun, bytes)
}

/// libFLAC: `flac` encoding the 24-bit WAV at its default level, to a file in tmpfs
/// where there is one. Its CPU includes its start (a few ms against seconds).
fn libflac(input: &Path, output: &Path) -> (Duration, u64) {
    let begun = children_cpu();
    let status = Command::new("flac")
        .args(["--silent", "--force", "-o"])
        .arg(output)
        .arg(input)
        .status()
        .expect("flac (scripts/test.sh installs it)");
    assert!(status.success(), "flac failed");
    let cpu = children_cpu() - begun;
    (cpu, std::fs::metadata(output).unwrap().len())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let (seconds, rounds) = if full_run() { (30, 5) } else { (2, 1) };
    let samples = programme(seconds);
    let dir = if Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let input = dir.join(format!("troubadour-bench-flac-{}.wav", std::process::id()));
    let output = input.with_extension("flac");
    let (_, wav_bytes) = wav(&samples);
    std::fs::write(&input, &wav_bytes).unwrap();
    let ints = wav_ints(&wav_bytes);
    assert_eq!(ints.len(), samples.len());
    let mut cpu: [Vec<f64>; 4] = Default::default();
    let mut sizes = [0u64; 4];
    for _ in 0..rounds {
        let runs = [
            ours(&samples),
            libflac(&input, &output),
            flacenc_crate(&ints),
            {
                let (t, b) = wav(&samples);
                (t, b.len() as u64)
            },
        ];
        for (k, (t, bytes)) in runs.into_iter().enumerate() {
            cpu[k].push(t.as_secs_f64() / f64::from(seconds));
            sizes[k] = bytes;
        }
    }
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&output);
    println!("flac: {seconds} s of 48 kHz stereo, 24 bits, {rounds} interleaved round(s), medians");
    println!(
        "{:<28} {:>16} {:>18} {:>10}",
        "", "CPU s per s", "stereo tracks/core", "size"
    );
    let names = [
        "ours (fixed predictors)",
        "libFLAC 1.4 (flac -5)",
        "flacenc 0.5 (defaults)",
        "WAV 24-bit (floor)",
    ];
    let ours_cpu = median(cpu[0].clone());
    for (k, name) in names.iter().enumerate() {
        let c = median(cpu[k].clone());
        println!(
            "{name:<28} {c:>16.5} {:>18.0} {:>9.1}%",
            1.0 / c,
            100.0 * sizes[k] as f64 / sizes[3] as f64
        );
    }
    println!(
        "ours against libFLAC: CPU {:.2}x, size {:.3}x",
        ours_cpu / median(cpu[1].clone()),
        sizes[0] as f64 / sizes[1] as f64
    );
}

//! File sources stream from disk, and a render of them is still exactly the whole-file
//! render: byte for byte the output the engine gave when it decoded every file into
//! memory at load (a hash recorded from that implementation), and, for files at another
//! rate, the same bytes as a render of the files converted whole beforehand.

use std::path::{Path, PathBuf};

use troubadour_engine::audio_file::AudioData;
use troubadour_io::render::{RenderOptions, render};
use troubadour_io::wav::SampleFormat;

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(tag: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("troubadour-stream-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

/// A deterministic signal: two sines and a little noise from a fixed LCG, so every
/// sample differs from its neighbours and a dropped or repeated frame shows.
fn signal(frames: usize, channels: u16, rate: u32, seed: u32) -> Vec<f32> {
    let mut state = seed;
    let mut out = Vec::with_capacity(frames * usize::from(channels));
    for i in 0..frames {
        let t = i as f64 / f64::from(rate);
        for c in 0..channels {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = f64::from(state >> 8) / f64::from(1u32 << 24) - 0.5;
            let f = 220.0 * f64::from(c + 1) + f64::from(seed % 7) * 31.0;
            let x = 0.3 * (std::f64::consts::TAU * f * t).sin()
                + 0.1 * (std::f64::consts::TAU * 3.1 * f * t).sin()
                + 0.05 * noise;
            out.push(x as f32);
        }
    }
    out
}

fn write(path: &Path, channels: u16, rate: u32, int16: bool, data: &[f32]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: if int16 { 16 } else { 32 },
        sample_format: if int16 {
            hound::SampleFormat::Int
        } else {
            hound::SampleFormat::Float
        },
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &x in data {
        if int16 {
            w.write_sample((x * 32_768.0).round() as i16).unwrap();
        } else {
            w.write_sample(x).unwrap();
        }
    }
    w.finalize().unwrap();
}

/// 64-bit FNV-1a: a fingerprint of a file's bytes.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn strip(name: &str, file: &str, channels: u16, looped: bool) -> String {
    format!(
        "[[strip]]\nname = \"{name}\"\nchannels = {channels}\nsource = {{ file = \"{file}\", loop = {looped} }}\nsends = {{ A1 = {{ level_db = -6.0 }} }}\n"
    )
}

fn render_bytes(dir: &Path, strips: &str, seconds: f64, tag: &str) -> Vec<u8> {
    let text = format!(
        "version = 1\nsample_rate = 48000\nblock_frames = 256\n{strips}[[bus]]\nname = \"A1\"\nchannels = 2\n"
    );
    let loaded = troubadour_engine::session::parse(&text, &dir.join("s.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let out = dir.join(format!("out-{tag}"));
    let options = RenderOptions {
        out_dir: out.clone(),
        seconds: Some(seconds),
        format: SampleFormat::F32,
        kernels: troubadour_dsp::simd::KernelChoice::Portable,
    };
    let summary = render(&loaded, &options, |_, _| true).unwrap();
    assert_eq!(summary.frames, (seconds * 48_000.0).round() as u64);
    std::fs::read(out.join("A1.wav")).unwrap()
}

/// Files longer than the reader's ring (a few seconds), looped past their end and
/// played once to their end, mono into stereo, 16-bit and float.
#[test]
fn render_of_file_sources_is_byte_identical_to_the_whole_file_render() {
    let d = dir("identical");
    let rate = 48_000;
    write(
        &d.0.join("a.wav"),
        2,
        rate,
        true,
        &signal(158_411, 2, rate, 1),
    );
    write(
        &d.0.join("b.wav"),
        1,
        rate,
        false,
        &signal(40_000, 1, rate, 2),
    );
    write(
        &d.0.join("c.wav"),
        2,
        rate,
        false,
        &signal(250_013, 2, rate, 3),
    );
    let strips = strip("A", "a.wav", 2, true)
        + &strip("B", "b.wav", 2, true)
        + &strip("C", "c.wav", 2, false);
    let bytes = render_bytes(&d.0, &strips, 8.0, "48k");
    assert_eq!(
        hound::WavReader::new(&bytes[..]).unwrap().duration(),
        8 * 48_000
    );
    // Recorded from the whole-file implementation (commit 740e478), portable kernels.
    assert_eq!(
        fnv1a(&bytes),
        EXPECTED_48K,
        "the render differs from the whole-file render"
    );
}

const EXPECTED_48K: u64 = 7_130_834_768_136_524_949;

/// A file at another rate streams through the converter in pieces; the result is the
/// converter's whole-file output, sample for sample.
#[test]
fn resampled_file_sources_render_as_if_converted_whole() {
    let d = dir("resampled");
    write(
        &d.0.join("l.wav"),
        1,
        44_100,
        false,
        &signal(150_007, 1, 44_100, 4),
    );
    write(
        &d.0.join("m.wav"),
        2,
        22_050,
        true,
        &signal(30_011, 2, 22_050, 5),
    );
    // The same files converted whole by the decoder's one-shot path, at 48 kHz in f32
    // (which a WAV holds exactly), so their render needs no conversion.
    for (from, to) in [("l.wav", "l48.wav"), ("m.wav", "m48.wav")] {
        let data = AudioData::read_at(&d.0.join(from), 48_000).unwrap();
        let n = data.frames();
        let ch = data.channels.len();
        let mut inter = Vec::with_capacity(n * ch);
        for i in 0..n {
            for c in data.channels.iter() {
                inter.push(c[i]);
            }
        }
        write(&d.0.join(to), ch as u16, 48_000, false, &inter);
    }
    let streamed = render_bytes(
        &d.0,
        &(strip("L", "l.wav", 2, true) + &strip("M", "m.wav", 2, false)),
        7.0,
        "streamed",
    );
    let whole = render_bytes(
        &d.0,
        &(strip("L", "l48.wav", 2, true) + &strip("M", "m48.wav", 2, false)),
        7.0,
        "whole",
    );
    assert_eq!(streamed.len(), whole.len());
    let first_difference = streamed.iter().zip(&whole).position(|(a, b)| a != b);
    assert_eq!(
        first_difference, None,
        "the streamed render differs at byte"
    );
}

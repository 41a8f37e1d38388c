//! The FLAC writer and its repair, read back from outside: libFLAC's own checker
//! (`flac -t`: every frame's CRCs and, for a finished file, the MD5 of the audio) and
//! sox, which decodes the samples for a comparison with what went in. Both are Debian
//! packages `scripts/test.sh` installs (flac, sox).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::Command;

use troubadour_io::flac::{BLOCK, FlacSpec, FlacWriter, HEADER_LEN, repair};

/// What a take's stereo track is.
const STEREO_24: FlacSpec = FlacSpec {
    channels: 2,
    sample_rate: 48_000,
    bits: 24,
};

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(tag: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("troubadour-flac-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

/// A sine per channel, each at its own frequency, at −6 dBFS; interleaved.
fn signal(frames: usize, channels: usize) -> Vec<f32> {
    (0..frames * channels)
        .map(|i| {
            let (n, c) = (i / channels, i % channels);
            let f = 220.0 * (c + 1) as f64;
            (0.5 * (std::f64::consts::TAU * f * n as f64 / 48_000.0).sin()) as f32
        })
        .collect()
}

/// Writes `samples` in pieces of uneven length (as the recorder's writer does);
/// `header_every` pieces the header is brought up to date. Returns the writer unfinished.
fn write(path: &Path, spec: FlacSpec, samples: &[f32]) -> FlacWriter<BufWriter<File>> {
    let out = BufWriter::new(File::create(path).unwrap());
    let mut w = FlacWriter::new(out, spec, 1).unwrap();
    let ch = usize::from(spec.channels);
    for (k, piece) in samples.chunks(ch * 1_234).enumerate() {
        w.write_interleaved_f32(piece).unwrap();
        if k % 7 == 6 {
            w.update_header().unwrap();
        }
    }
    w
}

/// `flac -t`: libFLAC decodes every frame and checks its CRCs, and the MD5 if stated.
fn flac_test(path: &Path) -> Result<(), String> {
    let out = Command::new("flac")
        .args(["-t", "-s"])
        .arg(path)
        .output()
        .expect("flac (scripts/test.sh installs it)");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The file's samples as sox decodes them, interleaved, full scale ±1.0.
fn sox_decode(path: &Path) -> Vec<f32> {
    let out = Command::new("sox")
        .arg(path)
        .args(["-t", "f32", "-e", "floating-point", "-"])
        .output()
        .expect("sox (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "sox: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

fn stated_frames(path: &Path) -> u64 {
    let b = std::fs::read(path).unwrap();
    u64::from_be_bytes(b[18..26].try_into().unwrap()) & ((1 << 36) - 1)
}

#[test]
fn files_decode_to_what_went_in_within_the_dither_at_every_length_and_width() {
    let d = dir("lengths");
    for (channels, bits) in [(1u16, 24u8), (2, 24), (2, 16), (6, 24)] {
        for frames in [1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * 48_000 + 17] {
            let path = d.0.join(format!("{channels}-{bits}-{frames}.flac"));
            let spec = FlacSpec {
                channels,
                sample_rate: 48_000,
                bits,
            };
            let input = signal(frames, usize::from(channels));
            let w = write(&path, spec, &input);
            assert_eq!(w.frames(), frames as u64);
            w.finish().unwrap();
            let what = format!("{channels} ch, {bits} bits, {frames} frames");
            flac_test(&path).unwrap_or_else(|e| panic!("{what}: flac -t: {e}"));
            assert_eq!(stated_frames(&path), frames as u64, "{what}");
            let back = sox_decode(&path);
            assert_eq!(back.len(), input.len(), "{what}");
            // Rounding (½ step) plus triangular dither (up to 1 step).
            let step = 1.0 / f64::from(1u32 << (bits - 1));
            let worst = input
                .iter()
                .zip(&back)
                .map(|(a, b)| (f64::from(*a) - f64::from(*b)).abs())
                .fold(0.0, f64::max);
            assert!(worst <= 1.5 * step + 1e-9, "{what}: off by {worst}");
        }
    }
}

#[test]
fn every_kind_of_content_is_lossless_as_libflac_checks_it() {
    // flac -t decodes each file and compares the MD5 of what it got with the MD5 of
    // what we encoded (after dither): equal only if the coding lost nothing.
    let d = dir("content");
    let mut rng = troubadour_dsp::rng::Rng::new(9);
    let frames = 3 * BLOCK + 333;
    let mut noise = |level: f32| -> Vec<f32> {
        (0..2 * frames)
            .map(|_| level * rng.next_bipolar())
            .collect()
    };
    let sine = signal(frames, 2);
    let contents: Vec<(&str, Vec<f32>)> = vec![
        ("full-scale noise", noise(1.0)),
        ("noise at -30 dBFS", noise(0.03)),
        ("clipped", vec![2.0; 2 * frames]),
        (
            "left = right",
            sine.chunks(2).flat_map(|f| [f[0], f[0]]).collect(),
        ),
        (
            "left = -right",
            sine.chunks(2).flat_map(|f| [f[0], -f[0]]).collect(),
        ),
        (
            "impulses",
            (0..2 * frames)
                .map(|i| if i % 977 == 0 { 0.9 } else { 0.0 })
                .collect(),
        ),
    ];
    for bits in [16u8, 24] {
        for (name, input) in &contents {
            let path = d.0.join(format!("{bits}-{}.flac", name.replace(' ', "_")));
            let spec = FlacSpec {
                channels: 2,
                sample_rate: 48_000,
                bits,
            };
            write(&path, spec, input).finish().unwrap();
            flac_test(&path).unwrap_or_else(|e| panic!("{name}, {bits} bits: {e}"));
            let back = sox_decode(&path);
            assert_eq!(back.len(), input.len(), "{name}");
            // Never much bigger than the samples themselves (verbatim where nothing
            // predicts), whatever the content.
            let bytes = std::fs::metadata(&path).unwrap().len();
            let raw = (input.len() * usize::from(bits) / 8) as u64;
            assert!(
                bytes < raw + raw / 50 + 1024,
                "{name}, {bits} bits: {bytes} of {raw}"
            );
        }
    }
}

#[test]
fn a_file_cut_anywhere_is_repaired_to_its_whole_frames_sample_exact() {
    let d = dir("repair");
    let spec = STEREO_24;
    let full = d.0.join("full.flac");
    let frames = 10 * BLOCK + 100;
    let input = signal(frames, 2);
    // Where each frame ends: the file's length once a block more is in and flushed.
    let mut w = FlacWriter::new(BufWriter::new(File::create(&full).unwrap()), spec, 1).unwrap();
    let mut ends = vec![HEADER_LEN as u64];
    for block in input.chunks(2 * BLOCK) {
        w.write_interleaved_f32(block).unwrap();
        w.update_header().unwrap();
        ends.push(std::fs::metadata(&full).unwrap().len());
    }
    w.finish().unwrap();
    let whole = std::fs::read(&full).unwrap();
    ends[11] = whole.len() as u64; // the last, short frame is written by finish
    let reference = sox_decode(&full);
    let end = |k: usize| ends[k] as usize;
    let cuts = [
        (whole.len(), 11),          // nothing cut: all 11 frames
        (whole.len() - 1, 10),      // the last frame's CRC cut short
        (end(5), 5),                // on a frame boundary
        (end(5) + 3, 5),            // inside a frame's header
        ((end(7) + end(8)) / 2, 7), // inside a frame's audio
        (HEADER_LEN, 0),            // before the first frame
    ];
    for (at, kept) in cuts {
        let path = d.0.join(format!("cut-{at}.flac"));
        std::fs::write(&path, &whole[..at]).unwrap();
        let r = repair(&path).unwrap();
        let expect = if kept == 11 { frames } else { kept * BLOCK } as u64;
        assert_eq!(r.frames, expect, "cut at {at}");
        assert_eq!(stated_frames(&path), expect, "cut at {at}");
        assert_eq!(r.trimmed, (at - end(kept)) as u64, "cut at {at}");
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            ends[kept],
            "cut at {at}"
        );
        assert_eq!(r.changed, kept != 11, "cut at {at}");
        if kept > 0 {
            flac_test(&path).unwrap_or_else(|e| panic!("cut at {at}: flac -t: {e}"));
            let back = sox_decode(&path);
            assert_eq!(back.len() as u64, 2 * expect, "cut at {at}");
            assert_eq!(back, reference[..back.len()], "cut at {at}");
        }
        // A second repair finds nothing to do.
        let again = repair(&path).unwrap();
        assert_eq!(
            (again.frames, again.trimmed, again.changed),
            (expect, 0, false)
        );
    }
}

#[test]
fn a_killed_writer_leaves_a_file_readable_up_to_its_last_header_update() {
    let d = dir("killed");
    let path = d.0.join("take.flac");
    let spec = STEREO_24;
    let mut w = write(&path, spec, &signal(5 * BLOCK + 10, 2));
    w.update_header().unwrap();
    // Dropped without finish, as a kill would: no last frame, no MD5.
    drop(w);
    assert_eq!(stated_frames(&path), 5 * BLOCK as u64);
    flac_test(&path).unwrap();
    assert_eq!(sox_decode(&path).len(), 2 * 5 * BLOCK);
}

#[test]
fn what_flac_cannot_hold_and_what_is_not_flac_are_clear_errors() {
    let d = dir("errors");
    let out = || std::io::Cursor::new(Vec::new());
    let spec = |channels, bits| FlacSpec {
        channels,
        sample_rate: 48_000,
        bits,
    };
    let e = FlacWriter::new(out(), spec(9, 24), 1).unwrap_err();
    assert!(e.to_string().contains("1 to 8 channels, not 9"), "{e}");
    let e = FlacWriter::new(out(), spec(2, 32), 1).unwrap_err();
    assert!(e.to_string().contains("16 or 24 bits, not 32"), "{e}");
    let wav = d.0.join("take.wav");
    std::fs::write(&wav, b"RIFF\0\0\0\0WAVEfmt ").unwrap();
    let e = repair(&wav).unwrap_err();
    assert!(e.to_string().contains("take.wav: not a FLAC file"), "{e}");
}

#[test]
fn what_follows_a_whole_frame_never_costs_it() {
    let d = dir("tails");
    let spec = STEREO_24;
    let full = d.0.join("full.flac");
    let frames = 3 * BLOCK + 7;
    write(&full, spec, &signal(frames, 2)).finish().unwrap();
    let whole = std::fs::read(&full).unwrap();
    // Zeros (a power cut: the length reached the disk, the data did not), noise, and a
    // copy of the first frame's header with nothing after it.
    let tails: [(&str, Vec<u8>); 3] = [
        ("zeros", vec![0; 8192]),
        ("noise", (0..100).map(|i| 0x55 ^ i as u8).collect()),
        ("a torn header", whole[HEADER_LEN..HEADER_LEN + 5].to_vec()),
    ];
    for (what, tail) in tails {
        let path = d.0.join("tail.flac");
        std::fs::write(&path, [&whole[..], &tail[..]].concat()).unwrap();
        let r = repair(&path).unwrap();
        assert_eq!(
            (r.frames, r.trimmed),
            (frames as u64, tail.len() as u64),
            "{what}"
        );
        assert_eq!(std::fs::read(&path).unwrap().len(), whole.len(), "{what}");
        flac_test(&path).unwrap_or_else(|e| panic!("{what}: {e}"));
    }
}

#[test]
fn hostile_metadata_is_refused_and_the_file_left_as_it_was() {
    let d = dir("metadata");
    let path = d.0.join("bad.flac");
    // STREAMINFO not marked last, then a last block claiming 16 MiB that is not there.
    let mut b = b"fLaC\x00\x00\x00\x22".to_vec();
    b.extend_from_slice(&[0; 34]);
    b.extend_from_slice(&[0x81, 0xFF, 0xFF, 0xFF]);
    std::fs::write(&path, &b).unwrap();
    let e = repair(&path).unwrap_err();
    assert!(e.to_string().contains("metadata blocks are cut off"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), b);
}

#[test]
fn every_frame_states_its_rate_where_the_format_can() {
    let d = dir("rates");
    for (rate, code) in [
        (48_000u32, 10u8),
        (11_025, 13),
        (7_350, 13),
        (384_000, 14),
        (700_001, 0),
    ] {
        let path = d.0.join(format!("{rate}.flac"));
        let spec = FlacSpec {
            channels: 1,
            sample_rate: rate,
            bits: 16,
        };
        write(&path, spec, &signal(BLOCK + 10, 1)).finish().unwrap();
        flac_test(&path).unwrap_or_else(|e| panic!("{rate} Hz: {e}"));
        let b = std::fs::read(&path).unwrap();
        assert_eq!(b[HEADER_LEN + 2] & 15, code, "{rate} Hz");
        assert_eq!(
            repair(&path).unwrap().frames,
            BLOCK as u64 + 10,
            "{rate} Hz"
        );
    }
}

#[test]
fn samples_that_are_not_whole_frames_are_refused() {
    let spec = FlacSpec {
        channels: 3,
        sample_rate: 48_000,
        bits: 24,
    };
    let mut w = FlacWriter::new(std::io::Cursor::new(Vec::new()), spec, 1).unwrap();
    let e = w.write_interleaved_f32(&[0.0; 7]).unwrap_err();
    assert!(
        e.to_string().contains("not whole frames of 3 channels"),
        "{e}"
    );
    assert_eq!(w.frames(), 0);
}

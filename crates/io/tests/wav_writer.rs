//! The project's WAV writer, read back from outside: by our own parse of the chunks, by
//! sox (`soxi`, and `sox ... stat`, which also complains about headers it dislikes) and
//! by hound where hound can (it does not read RF64). RF64 is forced with a small
//! threshold, so the test needn't write 4 GiB.

use std::path::{Path, PathBuf};
use std::process::Command;

use troubadour_io::wav::{SampleFormat, WavSink, WavSpec, channel_mask};

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(tag: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("troubadour-io-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes(b[i..i + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().unwrap())
}

/// What our own parse finds: (RF64?, format tag, channel mask if extensible, data
/// offset, data bytes).
fn parse(bytes: &[u8]) -> (bool, u16, Option<u32>, usize, u64) {
    let rf64 = match &bytes[0..4] {
        b"RIFF" => false,
        b"RF64" => true,
        other => panic!("starts with {other:?}"),
    };
    assert_eq!(&bytes[8..12], b"WAVE");
    let riff_size = if rf64 {
        assert_eq!(u32_at(bytes, 4), u32::MAX);
        assert_eq!(&bytes[12..16], b"ds64");
        u64_at(bytes, 20)
    } else {
        u64::from(u32_at(bytes, 4))
    };
    assert_eq!(riff_size, bytes.len() as u64 - 8, "RIFF size");
    let mut at = 12;
    let (mut tag, mut mask) = (0, None);
    loop {
        let id = &bytes[at..at + 4];
        let len = u32_at(bytes, at + 4);
        match id {
            b"JUNK" => assert!(!rf64, "a JUNK chunk left in an RF64 file"),
            b"ds64" => assert_eq!(len, 28),
            b"fact" => assert_eq!(len, 4),
            b"fmt " => {
                tag = u16_at(bytes, at + 8);
                if tag == 0xFFFE {
                    assert_eq!(len, 40);
                    mask = Some(u32_at(bytes, at + 8 + 20));
                }
            }
            b"data" => {
                let data = if rf64 {
                    assert_eq!(len, u32::MAX);
                    u64_at(bytes, 28)
                } else {
                    u64::from(len)
                };
                let pad = data % 2;
                assert_eq!(
                    (at + 8) as u64 + data + pad,
                    bytes.len() as u64,
                    "data size"
                );
                return (rf64, tag, mask, at + 8, data);
            }
            other => panic!("unexpected chunk {other:?}"),
        }
        at += 8 + len as usize;
    }
}

fn soxi(file: &Path, flag: &str) -> String {
    let o = Command::new("soxi")
        .arg(flag)
        .arg(file)
        .output()
        .expect("sox is not installed: run scripts/test.sh, which installs it");
    assert!(
        o.status.success(),
        "soxi {flag}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// sox's complaints while reading `file` through (e.g. about a header it dislikes).
fn sox_warnings(file: &Path) -> String {
    let o = Command::new("sox")
        .arg("-V2")
        .arg(file)
        .args(["-n", "stat"])
        .output()
        .unwrap();
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("FAIL"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn riff_and_forced_rf64_files_read_back_whole_in_every_format() {
    let d = dir("wav-writer");
    // Odd frame counts, so a mono 24-bit file needs its pad byte.
    let frames = 1001usize;
    for format in [
        SampleFormat::S16,
        SampleFormat::S24,
        SampleFormat::S32,
        SampleFormat::F32,
    ] {
        for channels in [1u16, 2, 6] {
            for threshold in [u64::from(u32::MAX), 1000] {
                let path = d.0.join(format!("{format:?}-{channels}-{threshold}.wav"));
                let spec = WavSpec {
                    channels,
                    sample_rate: 44_100,
                    format,
                };
                let data: Vec<Vec<f32>> = (0..channels)
                    .map(|c| {
                        (0..frames)
                            .map(|i| ((i as f32 / frames as f32) - 0.5) / f32::from(c + 1))
                            .collect()
                    })
                    .collect();
                let mut sink = WavSink::with_rf64_threshold(&path, spec, threshold).unwrap();
                let planar: Vec<&[f32]> = data.iter().map(Vec::as_slice).collect();
                sink.write_planar(&planar, frames).unwrap();
                let (written, levels) = sink.finish().unwrap();
                assert_eq!(written, path);
                assert_eq!(levels.samples, (frames * usize::from(channels)) as u64);
                assert_eq!(levels.clipped, 0);

                let bytes = std::fs::read(&path).unwrap();
                let (rf64, tag, mask, _, data_bytes) = parse(&bytes);
                let what = format!("{format:?} {channels} ch, threshold {threshold}");
                assert_eq!(rf64, threshold == 1000, "{what}");
                let bps = u64::from(format.bytes_per_sample());
                assert_eq!(
                    data_bytes,
                    frames as u64 * u64::from(channels) * bps,
                    "{what}"
                );
                let extensible =
                    channels > 2 || matches!(format, SampleFormat::S24 | SampleFormat::S32);
                let plain = if format == SampleFormat::F32 { 3 } else { 1 };
                assert_eq!(tag, if extensible { 0xFFFE } else { plain }, "{what}");
                if extensible {
                    assert_eq!(mask, Some(channel_mask(channels)), "{what}");
                }

                assert_eq!(soxi(&path, "-s"), frames.to_string(), "{what}");
                assert_eq!(soxi(&path, "-c"), channels.to_string(), "{what}");
                assert_eq!(soxi(&path, "-r"), "44100", "{what}");
                // sox 14.4 warns over every extensible float header, however right.
                let quirk = if extensible && format == SampleFormat::F32 {
                    "sox WARN wav: wave header missing extended part of fmt chunk"
                } else {
                    ""
                };
                assert_eq!(sox_warnings(&path), quirk, "{what}");

                if rf64 {
                    let e = troubadour_engine::audio_file::AudioFileInfo::read(&path).unwrap_err();
                    assert!(e.to_string().contains("it is an RF64 file"), "{e}");
                } else {
                    let r = hound::WavReader::open(&path).unwrap();
                    assert_eq!(r.duration() as usize, frames, "{what}");
                    assert_eq!(r.spec().channels, channels, "{what}");
                    let got: Vec<f64> = match format {
                        SampleFormat::F32 => r
                            .into_samples::<f32>()
                            .map(|s| f64::from(s.unwrap()))
                            .collect(),
                        int => {
                            let full = (1u64 << (8 * int.bytes_per_sample() - 1)) as f64;
                            r.into_samples::<i32>()
                                .map(|s| f64::from(s.unwrap()) / full)
                                .collect()
                        }
                    };
                    let step = 2f64.powi(1 - 8 * i32::from(format.bytes_per_sample()));
                    for (i, g) in got.iter().enumerate() {
                        let want =
                            f64::from(data[i % usize::from(channels)][i / usize::from(channels)]);
                        assert!(
                            (g - want).abs() <= step,
                            "{what}: sample {i}: {g} vs {want}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn integer_formats_clip_and_report_what_the_file_holds() {
    let d = dir("wav-clip");
    let path = d.0.join("clip.wav");
    let spec = WavSpec {
        channels: 1,
        sample_rate: 48_000,
        format: SampleFormat::S16,
    };
    let mut sink = WavSink::create(&path, spec).unwrap();
    sink.write_planar(&[&[60.0, -60.0, 0.25]], 3).unwrap();
    let (_, levels) = sink.finish().unwrap();
    assert_eq!(levels.clipped, 2);
    assert_eq!(
        levels.peak, 1.0,
        "-32768 is the largest magnitude the file holds"
    );
}

/// The float fast paths (planar, as `render` writes; interleaved, as the recorder's
/// writer does) write the bytes the sample-at-a-time encoder writes, and count the same
/// levels: peak and clipped exactly, the sum of squares up to its rounding.
#[test]
fn float_fast_paths_write_what_the_encoder_writes() {
    use std::io::Cursor;
    use troubadour_io::wav::WavWriter;
    let spec = WavSpec {
        channels: 3,
        sample_rate: 48_000,
        format: SampleFormat::F32,
    };
    let frames = 1001;
    let mut planar: Vec<Vec<f32>> = (0..3)
        .map(|c| {
            (0..frames)
                .map(|i| ((i * 7 + c * 13) as f32 * 0.01).sin() * 1.25)
                .collect()
        })
        .collect();
    planar[1][17] = f32::NAN;
    planar[2][500] = f32::INFINITY;
    planar[0][999] = -3.0;
    let interleaved: Vec<f32> = (0..frames)
        .flat_map(|i| planar.iter().map(move |c| c[i]))
        .collect();

    let mut slow = WavWriter::new(Cursor::new(Vec::new()), spec).unwrap();
    slow.write_interleaved(interleaved.iter().map(|&x| f64::from(x)))
        .unwrap();
    let mut fast = WavWriter::new(Cursor::new(Vec::new()), spec).unwrap();
    fast.write_interleaved_f32(&interleaved[..600]).unwrap();
    fast.write_interleaved_f32(&interleaved[600..]).unwrap();
    let mut by_channel = WavWriter::new(Cursor::new(Vec::new()), spec).unwrap();
    let channels: Vec<&[f32]> = planar.iter().map(|c| &c[..]).collect();
    by_channel.write_planar(&channels, frames).unwrap();

    let (slow, want) = slow.finish().unwrap();
    let slow = slow.into_inner();
    for (name, w) in [("interleaved", fast), ("planar", by_channel)] {
        let (out, got) = w.finish().unwrap();
        assert_eq!(out.into_inner(), slow, "{name}: the bytes differ");
        assert_eq!(
            (got.peak, got.clipped, got.samples),
            (want.peak, want.clipped, want.samples),
            "{name}"
        );
        let beyond = interleaved.iter().filter(|x| x.abs() > 1.0).count() as u64;
        assert_eq!(want.clipped, beyond, "the 1.25-peaked sines, -3 and +inf");
        assert!(
            (got.sum_squares - want.sum_squares).abs() <= 1e-12 * want.sum_squares,
            "{name}: {} against {}",
            got.sum_squares,
            want.sum_squares
        );
    }
}

//! WAV file sources: every supported sample format decodes to the right values, mono
//! files feed stereo strips, and files play once or loop.

mod common;

use common::Dir;

fn dir(tag: &str) -> Dir {
    common::temp_dir("files", tag)
}

/// A ramp of `frames` values in [-0.5, 0.5), the same on every channel.
fn ramp(frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|i| i as f32 / frames as f32 - 0.5)
        .collect()
}

fn write(path: &std::path::Path, channels: u16, bits: u16, float: bool, data: &[f32]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: 48_000,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &x in data {
        for _ in 0..channels {
            match (float, bits) {
                (true, _) => w.write_sample(x).unwrap(),
                (false, 8) => w.write_sample((x * 128.0).round() as i8).unwrap(),
                (false, 16) => w.write_sample((x * 32_768.0).round() as i16).unwrap(),
                (false, 24) => w.write_sample((x * 8_388_608.0).round() as i32).unwrap(),
                (false, _) => w
                    .write_sample((f64::from(x) * 2_147_483_648.0).round() as i32)
                    .unwrap(),
            }
        }
    }
    w.finalize().unwrap();
}

fn session(file: &str, strip_channels: u16, looped: bool) -> String {
    format!(
        "version = 1\n[[strip]]\nname = \"F\"\nchannels = {strip_channels}\nsource = {{ file = \"{file}\", loop = {looped} }}\nsends = {{ A1 = {{}} }}\n[[bus]]\nname = \"A1\"\nchannels = {strip_channels}\n"
    )
}

fn render(dir: &Dir, text: &str, frames: usize) -> Vec<Vec<f32>> {
    let path = dir.0.join("s.toml");
    let loaded = troubadour_engine::session::parse(text, &path).unwrap_or_else(|e| panic!("{e}"));
    let (_c, mut e) = troubadour_engine::create(&loaded, &Default::default()).unwrap();
    common::run(&mut e, &[], frames, 100)
}

#[test]
fn every_sample_format_decodes_to_its_values() {
    let d = dir("formats");
    let data = ramp(1000);
    for (bits, float, tolerance) in [
        (8, false, 1.0 / 128.0),
        (16, false, 1.0 / 32_768.0),
        (24, false, 1.0 / 8_388_608.0),
        (32, false, 1e-7),
        (32, true, 0.0),
    ] {
        let name = format!("x{bits}{float}.wav");
        write(&d.0.join(&name), 2, bits, float, &data);
        let out = render(&d, &session(&name, 2, false), 1000);
        for ch in &out {
            for (i, (o, x)) in ch.iter().zip(&data).enumerate() {
                assert!(
                    (o - x).abs() <= tolerance * 0.5 + 1e-9,
                    "{bits}-bit float={float} frame {i}: {o} vs {x}"
                );
            }
        }
    }
}

#[test]
fn a_mono_file_feeds_both_channels_of_a_stereo_strip() {
    let d = dir("mono");
    let data = ramp(500);
    write(&d.0.join("m.wav"), 1, 32, true, &data);
    let out = render(&d, &session("m.wav", 2, false), 500);
    assert_eq!(out[0], data);
    assert_eq!(out[1], data);
}

#[test]
fn files_play_once_or_loop() {
    let d = dir("loop");
    let data = ramp(300);
    write(&d.0.join("l.wav"), 1, 32, true, &data);
    let once = render(&d, &session("l.wav", 1, false), 1000);
    assert_eq!(once[0][..300], data[..]);
    assert!(
        once[0][300..].iter().all(|&x| x == 0.0),
        "silence after the end"
    );
    let looped = render(&d, &session("l.wav", 1, true), 1000);
    for (i, &x) in looped[0].iter().enumerate() {
        assert_eq!(x, data[i % 300], "frame {i}");
    }
}

#[test]
fn files_at_another_rate_are_resampled_to_the_session_rate() {
    use troubadour_engine::audio_file::AudioData;
    let d = dir("rate");
    let path = d.0.join("tone.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 44_100,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for k in 0..44_100 {
        let t = f64::from(k) / 44_100.0;
        w.write_sample((0.5 * (std::f64::consts::TAU * 1_000.0 * t).sin()) as f32)
            .unwrap();
    }
    w.finalize().unwrap();

    let data = AudioData::read_at(&path, 48_000).unwrap();
    assert_eq!(data.sample_rate, 48_000);
    assert_eq!(
        data.frames(),
        48_000,
        "1 s at 44.1 kHz is 48000 frames at 48 kHz"
    );
    // Still a 1 kHz sine at 0.5: compare with the ideal sine at the new rate.
    let worst = data.channels[0][2048..48_000 - 2048]
        .iter()
        .enumerate()
        .map(|(i, &y)| {
            let t = (i + 2048) as f64 / 48_000.0;
            (f64::from(y) - 0.5 * (std::f64::consts::TAU * 1_000.0 * t).sin()).abs()
        })
        .fold(0.0, f64::max);
    assert!(
        worst < 1e-5,
        "worst deviation from the ideal sine: {worst:e}"
    );
}

/// A structural change elsewhere (a strip added) swaps in a new graph; the file player
/// carries on from its frame, sample-exact, through a file longer than its ring, past
/// its loop point, whatever block sizes follow.
#[test]
fn a_file_player_carries_on_through_a_graph_swap() {
    let d = dir("swap");
    // 3.1 s of mono at 48 kHz: longer than the 2 s ring and the 1 s prefill.
    let frames = 148_813;
    let data: Vec<f32> = (0..frames)
        .map(|i| ((i * 7919) % 65_521) as f32 / 65_521.0 - 0.5)
        .collect();
    write(&d.0.join("long.wav"), 1, 32, true, &data);
    let path = d.0.join("s.toml");
    let loaded = troubadour_engine::session::parse(&session("long.wav", 1, true), &path)
        .unwrap_or_else(|e| panic!("{e}"));
    let (mut c, mut e) = troubadour_engine::create(&loaded, &Default::default()).unwrap();
    let mut out = Vec::new();
    let mut play = |e: &mut troubadour_engine::Engine, total: usize, call: usize| {
        let mut done = 0;
        while done < total {
            let n = call.min(total - done);
            e.wait_for_file_sources(n);
            let block = common::run(e, &[], n, n);
            out.extend_from_slice(&block[0]);
            done += n;
        }
    };
    play(&mut e, 60_000, 256);
    let mut s = c.session().clone();
    let mut extra = s.strips[0].clone();
    extra.name = "Other".into();
    extra.source = troubadour_engine::session::Source::Generator(
        troubadour_engine::session::GeneratorSource {
            kind: troubadour_engine::session::GeneratorKind::Silence,
            freq: 1000.0,
            level_db: -20.0,
            seed: None,
            interval_ms: 1000.0,
        },
    );
    extra.sends.clear();
    s.strips.push(extra);
    assert_eq!(
        c.apply_session(s).unwrap(),
        troubadour_engine::Applied::Rebuilt
    );
    play(&mut e, 200_000, 300);
    c.collect_garbage();
    assert_eq!(c.stats().graph_swaps, 1);
    assert_eq!(out.len(), 260_000);
    for (i, &x) in out.iter().enumerate() {
        assert_eq!(x, data[i % frames], "frame {i}");
    }
    assert_eq!(c.read_meters().strips[0].underrun_frames, 0);
}

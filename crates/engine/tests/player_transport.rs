//! File players' transport from the control side: pause and play, seek (WAV, a
//! resampled WAV, FLAC), loop turned off mid-play, play after the end, and all of it
//! through graph swaps. The files hold a different constant level each second
//! (second k at (k + 1) / 10), so what plays says where the player is.

mod common;

use std::path::Path;
use std::time::Duration;

use troubadour_engine::session::{self, Source};
use troubadour_engine::{Applied, Controller, Engine};

use common::Dir;

fn dir(tag: &str) -> Dir {
    common::temp_dir("transport", tag)
}

/// Second `k` of a stepped file: level (k + 1) / 10.
fn level(second: usize) -> f32 {
    (second + 1) as f32 / 10.0
}

/// A mono 32-bit float WAV at `rate` of `seconds` seconds of steps.
fn steps(path: &Path, rate: u32, seconds: f64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let frames = (seconds * f64::from(rate)).round() as usize;
    for i in 0..frames {
        w.write_sample(level(i / rate as usize)).unwrap();
    }
    w.finalize().unwrap();
}

/// `wav` as a 16-bit FLAC at `flac`, by sox.
fn to_flac(wav: &Path, flac: &Path) {
    let out = std::process::Command::new("sox")
        .arg(wav)
        .args(["-b", "16"])
        .arg(flac)
        .output()
        .expect("sox is installed (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mixer(d: &Dir, file: &str, looped: bool) -> (Controller, Engine) {
    let text = format!(
        "version = 1\nsample_rate = 48000\n[[strip]]\nname = \"F\"\nsource = {{ file = \"{file}\", loop = {looped} }}\nsends = {{ A1 = {{}} }}\n[[bus]]\nname = \"A1\"\nchannels = 1\n"
    );
    let loaded = session::parse(&text, &d.0.join("s.toml")).unwrap_or_else(|e| panic!("{e}"));
    troubadour_engine::create(&loaded, &Default::default()).unwrap()
}

/// Plays `frames` frames in blocks of 256, never ahead of the reader (as the offline
/// renderer does), and returns the bus's samples.
fn play(e: &mut Engine, frames: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(frames);
    let mut done = 0;
    while done < frames {
        let n = 256.min(frames - done);
        e.wait_for_file_sources(n);
        out.extend_from_slice(&common::run(e, &[], n, n)[0]);
        done += n;
    }
    out
}

fn position(c: &Controller) -> f64 {
    c.player(0).unwrap().state().position_s
}

/// The reader carries out a seek within milliseconds of being woken; this is ample.
fn let_the_reader_seek() {
    std::thread::sleep(Duration::from_millis(100));
}

#[test]
fn pause_holds_the_position_in_silence_and_play_resumes_from_it() {
    let d = dir("pause");
    steps(&d.0.join("s.wav"), 48_000, 6.0);
    let (c, mut e) = mixer(&d, "s.wav", false);
    let p = c.player(0).unwrap().clone();
    assert_eq!(p.state().length_s, 6.0);
    let out = play(&mut e, 24_000);
    assert!(out.iter().all(|&x| x == level(0)), "{:?}", &out[..8]);
    assert_eq!(position(&c), 0.5);

    p.set_playing(false);
    let out = play(&mut e, 48_000);
    assert!(out.iter().all(|&x| x == 0.0), "paused but not silent");
    assert_eq!(position(&c), 0.5);
    assert!(!p.state().playing);
    assert_eq!(c.read_meters().strips[0].underrun_frames, 0);

    p.set_playing(true);
    // 0.5 s left of the first second, then the second.
    let out = play(&mut e, 48_000);
    assert!(out[..24_000].iter().all(|&x| x == level(0)));
    assert!(out[24_000..].iter().all(|&x| x == level(1)));
    assert_eq!(position(&c), 1.5);
    assert_eq!(c.read_meters().strips[0].underrun_frames, 0);
}

/// After a seek is carried out nothing stale plays: silence at most while the reader
/// refills, then the file's content at the new position, sample-exact.
fn check_seek(file: &str, rate: u32, flac: bool, tolerance: f32) {
    let d = dir(file);
    steps(&d.0.join("s.wav"), rate, 6.0);
    if flac {
        to_flac(&d.0.join("s.wav"), &d.0.join(file));
    }
    let (c, mut e) = mixer(&d, if flac { file } else { "s.wav" }, false);
    let p = c.player(0).unwrap().clone();
    play(&mut e, 12_000);
    p.seek_s(3.0);
    assert_eq!(
        p.state().position_s,
        3.0,
        "a pending seek reports its target"
    );
    let_the_reader_seek();
    let out = play(&mut e, 72_000);
    let first = out
        .iter()
        .position(|&x| x != 0.0)
        .expect("silent after the seek");
    assert!(first < 4096, "{first} frames of silence after the seek");
    // A fresh converter starts on a step from silence, and the band-limited step to
    // second 4 rings ahead of it: 20 ms either side are left out.
    let settle = if rate == 48_000 { 0 } else { 960 };
    let step = first + 48_000;
    for (i, &x) in out
        .iter()
        .enumerate()
        .take(step - settle)
        .skip(first + settle)
    {
        assert!(
            (x - level(3)).abs() <= tolerance,
            "{file}: frame {i} plays {x}, not second 3's {}",
            level(3)
        );
    }
    for (i, &x) in out.iter().enumerate().skip(step + settle) {
        assert!(
            (x - level(4)).abs() <= tolerance,
            "{file}: frame {i} plays {x}, not second 4's {}",
            level(4)
        );
    }
    // The step to second 4 is where 4.0 s is: it crosses halfway within a frame or
    // two of it (the file's step falls between two of its frames).
    if settle > 0 {
        let mid = (level(3) + level(4)) / 2.0;
        let cross = out[first + settle..]
            .iter()
            .position(|&x| x >= mid)
            .unwrap()
            + first
            + settle;
        assert!(
            cross.abs_diff(step) <= 2,
            "{file}: the step to second 4 at frame {cross}, not {step}"
        );
    }
    let expected = 3.0 + (72_000 - first) as f64 / 48_000.0;
    assert!(
        (position(&c) - expected).abs() < 0.001,
        "{file}: position {} after the seek, not {expected}",
        position(&c)
    );
    // Back, and past the end (clamped to the length: it ends at once).
    p.seek_s(0.25);
    let_the_reader_seek();
    let out = play(&mut e, 4800);
    let first = out.iter().position(|&x| x != 0.0).unwrap();
    assert!(
        out[first + settle..]
            .iter()
            .all(|&x| (x - level(0)).abs() <= tolerance)
    );
    p.seek_s(99.0);
    assert_eq!(p.state().position_s, 6.0);
    let_the_reader_seek();
    let out = play(&mut e, 4800);
    assert!(out.iter().all(|&x| x == 0.0));
    let s = p.state();
    assert!(!s.playing && s.ended, "{s:?}");
    assert_eq!(c.read_meters().strips[0].underrun_frames, 0);
}

#[test]
fn a_seek_plays_the_content_at_the_new_time_in_a_wav() {
    check_seek("wav", 48_000, false, 0.0);
}

#[test]
fn a_seek_lands_on_the_right_time_in_a_resampled_file() {
    check_seek("resampled", 44_100, false, 0.002);
}

#[test]
fn a_seek_plays_the_content_at_the_new_time_in_a_flac() {
    check_seek("s.flac", 48_000, true, 0.0001);
}

/// A FLAC whose header does not say how long it is (a stream encoder writes 0 for
/// the total): its frames are counted once when the session is checked, and the
/// player knows its length from the start, not only after reading a pass to its end.
#[test]
fn a_flac_without_its_length_in_the_header_has_it_from_the_start() {
    let d = dir("flac-no-length");
    steps(&d.0.join("s.wav"), 48_000, 6.0);
    let flac = d.0.join("s.flac");
    to_flac(&d.0.join("s.wav"), &flac);
    // STREAMINFO follows "fLaC" and its 4-byte block header; its 36-bit total of
    // samples is the low nibble of byte 21 and bytes 22..26.
    let mut bytes = std::fs::read(&flac).unwrap();
    assert_eq!(&bytes[..4], b"fLaC");
    let total = bytes[22..26]
        .iter()
        .fold(u64::from(bytes[21] & 0x0f), |n, &b| n << 8 | u64::from(b));
    assert_eq!(total, 288_000, "the total is not where STREAMINFO keeps it");
    bytes[21] &= 0xf0;
    bytes[22..26].fill(0);
    std::fs::write(&flac, &bytes).unwrap();

    let (c, mut e) = mixer(&d, "s.flac", true);
    let p = c.player(0).unwrap().clone();
    assert_eq!(p.state().length_s, 6.0, "before a sample is played");
    p.seek_s(99.0);
    assert_eq!(p.state().position_s, 6.0, "a seek is clamped to the length");
    p.seek_s(5.5);
    let_the_reader_seek();
    let out = play(&mut e, 96_000);
    let first = out.iter().position(|&x| x != 0.0).unwrap();
    assert!(first < 4096, "{first} frames of silence after the seek");
    // The last half second, then the loop from the start.
    let wrap = first + 24_000;
    assert!(
        out[first..wrap]
            .iter()
            .all(|&x| (x - level(5)).abs() < 1e-4)
    );
    assert!(
        out[wrap..wrap + 48_000]
            .iter()
            .all(|&x| (x - level(0)).abs() < 1e-4)
    );
    let expected = (96_000 - wrap) as f64 / 48_000.0;
    assert!((position(&c) - expected).abs() < 1e-3, "{}", position(&c));
}

#[test]
fn loop_turned_off_mid_play_stops_at_the_end_and_play_starts_over() {
    let d = dir("loop");
    // 1.5 s: the ring (2 s) holds the start of the next pass when loop is turned off.
    steps(&d.0.join("s.wav"), 48_000, 1.5);
    let (mut c, mut e) = mixer(&d, "s.wav", true);
    let p = c.player(0).unwrap().clone();
    play(&mut e, 96_000);
    assert_eq!(position(&c), 0.5, "2 s into a looped 1.5 s file");
    let mut s = c.session().clone();
    s.strips[0].source = Source::File {
        path: "s.wav".into(),
        looped: false,
    };
    // A live change, not a new stream.
    assert_eq!(c.apply_session(s).unwrap(), Applied::Parameters(0));
    assert!(c.player(0).unwrap().same(&p));
    assert!(!p.state().looped);
    // The audio side stops where the next pass begins, however late the reader sees
    // loop off: no pause for it here.
    let out = play(&mut e, 96_000);
    // 0.5 s of second 0, 0.5 s of second 1, then silence: it stopped at the end.
    assert!(out[..24_000].iter().all(|&x| x == level(0)));
    assert!(out[24_000..48_000].iter().all(|&x| x == level(1)));
    assert!(
        out[48_000..].iter().all(|&x| x == 0.0),
        "played past the end"
    );
    let st = p.state();
    assert!(!st.playing && st.ended, "{st:?}");
    assert_eq!(st.position_s, 1.5);
    assert_eq!(c.read_meters().strips[0].underrun_frames, 0);

    // Play after the end starts over from the beginning.
    p.set_playing(true);
    let_the_reader_seek();
    let out = play(&mut e, 48_000);
    let first = out.iter().position(|&x| x != 0.0).unwrap();
    assert!(first < 4096, "{first}");
    assert!(out[first..].iter().all(|&x| x == level(0)));
    assert!(p.state().playing);
}

/// Loop turned off and on again while the next pass is already read ahead: the player
/// plays on into it, as if loop had never been off; and turned off once the next pass
/// has begun, it plays that pass to its end.
#[test]
fn loop_off_and_on_again_before_the_end_plays_on() {
    let d = dir("loop-again");
    steps(&d.0.join("s.wav"), 48_000, 1.5);
    let (c, mut e) = mixer(&d, "s.wav", true);
    let p = c.player(0).unwrap().clone();
    play(&mut e, 96_000);
    assert_eq!(position(&c), 0.5, "2 s into a looped 1.5 s file");
    p.set_looped(false);
    // Long enough for the reader to have seen loop off, and to act on it if it would.
    let_the_reader_seek();
    p.set_looped(true);
    let_the_reader_seek();
    let out = play(&mut e, 96_000);
    // The rest of this pass, then the next from its start: 0.5 s of second 0, 0.5 s
    // of second 1, then 1 s of second 0 again.
    assert!(out[..24_000].iter().all(|&x| x == level(0)));
    assert!(out[24_000..48_000].iter().all(|&x| x == level(1)));
    assert!(
        out[48_000..].iter().all(|&x| x == level(0)),
        "stopped at the end although loop was on again"
    );
    assert!(p.state().playing);
    assert_eq!(position(&c), 1.0);

    // Off now, 1 s into a pass: the rest of this pass plays, then it stops.
    p.set_looped(false);
    let out = play(&mut e, 48_000);
    assert!(out[..24_000].iter().all(|&x| x == level(1)));
    assert!(
        out[24_000..].iter().all(|&x| x == 0.0),
        "played past the end"
    );
    let st = p.state();
    assert!(st.ended && !st.playing, "{st:?}");
    assert_eq!(st.position_s, 1.5);
    assert_eq!(c.read_meters().strips[0].underrun_frames, 0);
}

#[test]
fn transport_and_position_survive_graph_swaps() {
    let d = dir("swap");
    steps(&d.0.join("s.wav"), 48_000, 6.0);
    let (mut c, mut e) = mixer(&d, "s.wav", false);
    let p = c.player(0).unwrap().clone();
    play(&mut e, 48_000 + 12_000);
    p.set_playing(false);
    play(&mut e, 1024);
    // A parameter change: same graph.
    let mut s = c.session().clone();
    s.strips[0].fader_db = -6.0;
    assert!(matches!(
        c.apply_session(s).unwrap(),
        Applied::Parameters(_)
    ));
    // A structural change: a new graph, the stream carried over.
    let mut s = c.session().clone();
    s.strips[0].fader_db = 0.0;
    let mut extra = s.strips[0].clone();
    extra.name = "Other".into();
    extra.source = Source::Generator(session::GeneratorSource {
        kind: session::GeneratorKind::Silence,
        freq: 1000.0,
        level_db: -20.0,
        seed: None,
        interval_ms: 1000.0,
    });
    extra.sends.clear();
    s.strips.push(extra);
    assert_eq!(c.apply_session(s).unwrap(), Applied::Rebuilt);
    let out = play(&mut e, 4800);
    c.collect_garbage();
    assert_eq!(c.stats().graph_swaps, 1);
    assert!(out.iter().all(|&x| x == 0.0), "paused through the swap");
    let q = c.player(0).unwrap();
    assert!(q.same(&p), "the handle follows the stream");
    assert_eq!(q.state().position_s, 1.25);
    assert!(!q.state().playing);
    q.set_playing(true);
    let out = play(&mut e, 48_000);
    assert!(out[..36_000].iter().all(|&x| x == level(1)));
    assert!(out[36_000..].iter().all(|&x| x == level(2)));
    // A seek through the new graph's handle.
    q.seek_s(5.5);
    let_the_reader_seek();
    let out = play(&mut e, 4800);
    let first = out.iter().position(|&x| x != 0.0).unwrap();
    assert!(out[first..].iter().all(|&x| x == level(5)));
    assert_eq!(c.read_meters().strips[0].underrun_frames, 0);
}

/// A backend restart builds a new engine with new streams: they start where the old
/// ones were, paused or playing as they were.
#[test]
fn a_respawned_engine_keeps_the_transport() {
    let d = dir("respawn");
    steps(&d.0.join("s.wav"), 48_000, 6.0);
    let (mut c, mut e) = mixer(&d, "s.wav", false);
    play(&mut e, 48_000 + 12_000);
    c.player(0).unwrap().set_playing(false);
    play(&mut e, 256);
    drop(e);
    let mut e = c.respawn(48_000, 256).unwrap();
    let p = c.player(0).unwrap().clone();
    let_the_reader_seek();
    let out = play(&mut e, 4800);
    assert!(out.iter().all(|&x| x == 0.0), "paused through the restart");
    assert!(!p.state().playing);
    assert_eq!(p.state().position_s, 1.25);
    p.set_playing(true);
    let out = play(&mut e, 4800);
    assert!(out.iter().all(|&x| x == level(1)), "not where it was");
}

//! `Engine::process` never allocates, frees or makes a system call: run under an
//! allocator that counts every allocation made inside `forbid_alloc` as a violation, and
//! with system calls caught (`troubadour_rt::syscall_guard`), through parameter changes of
//! every kind and structural swaps, with file players streaming (one converted from
//! 44.1 kHz, one run dry so that it underruns, one played once to its end) and their
//! transport driven from the control side (pause, seeks, loop changes, play after the end).

mod common;

use troubadour_engine::session::{self, BusSend};
use troubadour_engine::{Applied, EngineOptions, create};
use troubadour_rt::alloc_guard::{
    GuardedAllocator, forbid_alloc, last_violation_size, thread_violations,
};
use troubadour_rt::syscall_guard;

#[global_allocator]
static ALLOC: GuardedAllocator = GuardedAllocator;

fn session_text(wav: &str) -> String {
    format!(
        r#"
version = 1
block_frames = 128
[[strip]]
name = "Mic"
channels = 1
source = {{ device = "system:capture_1" }}
gate = {{ open_db = -45.0, close_db = -50.0 }}
eq = [{{ kind = "highpass", freq = 80.0 }}, {{ kind = "peak", freq = 3000.0, gain_db = 3.0 }}]
compressor = {{ threshold_db = -20.0, ratio = 3.0, knee_db = 6.0 }}
sends = {{ A1 = {{}}, B1 = {{ pre_fader = true, level_db = -6.0 }} }}
[[strip]]
name = "Music"
channels = 2
source = {{ file = "{wav}", loop = true }}
compressor = {{ threshold_db = -40.0, ratio = 8.0, detector = "peak", sidechain = "Mic" }}
sends = {{ A1 = {{ level_db = -10.0 }} }}
[[strip]]
name = "Bed"
channels = 2
source = {{ file = "bed44.wav", loop = true }}
sends = {{ A1 = {{ level_db = -10.0 }} }}
[[strip]]
name = "Once"
channels = 1
source = {{ file = "bed44.wav", loop = false }}
sends = {{ B1 = {{}} }}
[[strip]]
name = "Sine"
source = {{ generator = "sine", freq = 440.0 }}
sends = {{ A1 = {{}}, B1 = {{}} }}
[[strip]]
name = "Pink"
source = {{ generator = "pink" }}
sends = {{ B1 = {{}} }}
[[strip]]
name = "White"
source = {{ generator = "white" }}
sends = {{ B1 = {{}} }}
[[strip]]
name = "Click"
source = {{ generator = "impulse", interval_ms = 3.0 }}
sends = {{ A1 = {{}} }}
[[bus]]
name = "A1"
eq = [{{ kind = "lowshelf", freq = 120.0, gain_db = 2.0, slope = 1.0 }}]
compressor = {{ threshold_db = -12.0, ratio = 2.0 }}
limiter = {{ ceiling_db = -1.0 }}
[[bus]]
name = "B1"
channels = 1
"#
    )
}

fn process_forbidden(engine: &mut troubadour_engine::Engine, frames: usize) {
    let input = vec![0.1f32; frames];
    let mut outs = vec![vec![0.0f32; frames]; 8];
    let ins: Vec<&[f32]> = vec![&input];
    let mut out_refs: Vec<&mut [f32]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
    syscall_guard::install().expect("syscall user dispatch here");
    let calls = syscall_guard::thread_violations();
    forbid_alloc(|| syscall_guard::forbid_syscalls(|| engine.process(&ins, &mut out_refs, frames)));
    assert!(syscall_guard::armed_threads() > 0, "the guard is not armed");
    assert_eq!(
        syscall_guard::thread_violations(),
        calls,
        "a system call inside process: {:?}",
        syscall_guard::last_syscall().map(|nr| (nr, syscall_guard::syscall_name(nr)))
    );
}

#[test]
fn the_guard_itself_catches_an_allocation() {
    let before = thread_violations();
    forbid_alloc(|| drop(std::hint::black_box(vec![1u8; 10])));
    assert_eq!(
        thread_violations(),
        before + 2,
        "one allocation and one free"
    );
}

#[test]
fn process_does_not_allocate_through_a_script_of_changes_and_swaps() {
    let dir = std::env::temp_dir().join(format!("troubadour-noalloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join("music.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for i in 0..10_000 {
        w.write_sample(((i % 200) * 100) as i16).unwrap();
    }
    w.finalize().unwrap();
    // 0.1 s of mono at 44.1 kHz: converted by its reader, and short enough that the
    // play-once strip reaches its end during the script.
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 44_100,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(dir.join("bed44.wav"), spec).unwrap();
    for i in 0..4_410 {
        w.write_sample((i as f32 * 0.05).sin() * 0.5).unwrap();
    }
    w.finalize().unwrap();

    let path = dir.join("s.toml");
    let loaded = session::parse(&session_text("music.wav"), &path).unwrap();
    let (mut c, mut e) = create(&loaded, &EngineOptions::default()).unwrap();
    let before = thread_violations();

    // Warm up, with odd sizes so the sub-block split runs too. Blocks this fast outrun
    // the readers at first: the underrun path runs here as well.
    for frames in [1, 128, 300, 1024, 77] {
        process_forbidden(&mut e, frames);
    }
    // Blocks back to back outrun the converting reader sooner or later (how soon
    // depends on what else the machine runs): until then, and at most ~14 min of audio.
    let mut bed = c.read_meters();
    for _ in 0..800 {
        for _ in 0..50 {
            process_forbidden(&mut e, 1024);
        }
        bed = c.read_meters();
        if bed.strips[2].underrun_frames > 0 {
            break;
        }
    }
    assert!(
        bed.strips[2].underrun_frames > 0,
        "blocks back to back never outran the reader: {:?}",
        bed.strips[2]
    );
    // Let the readers fill their rings, then check the files play.
    std::thread::sleep(std::time::Duration::from_millis(300));
    process_forbidden(&mut e, 1024);
    let bed = c.read_meters();
    assert!(
        bed.strips[1].pre[0].peak_db > -40.0 && bed.strips[2].pre[0].peak_db > -20.0,
        "the file players are silent: {:?} {:?}",
        bed.strips[1],
        bed.strips[2]
    );
    // Every kind of parameter command.
    c.set_strip_trim("Mic", 6.0).unwrap();
    c.set_strip_fader("Sine", -12.0).unwrap();
    c.set_strip_pan("Mic", 0.3).unwrap();
    c.set_strip_pan("Music", -0.5).unwrap();
    c.set_strip_mute("Pink", true).unwrap();
    c.set_strip_solo("Music", true).unwrap();
    c.set_send(
        "Mic",
        "B1",
        BusSend {
            level_db: 0.0,
            pre_fader: false,
            on: true,
        },
    )
    .unwrap();
    c.set_bus_fader("A1", -3.0).unwrap();
    c.set_bus_mute("B1", true).unwrap();
    for _ in 0..10 {
        process_forbidden(&mut e, 256);
    }
    // A parameter-only session change.
    let mut s = c.session().clone();
    s.strips[0].fader_db = -6.0;
    s.buses[1].mute = false;
    assert_eq!(c.apply_session(s).unwrap(), Applied::Parameters(2));
    process_forbidden(&mut e, 512);
    // Processor settings glide through commands too.
    let mut s = c.session().clone();
    s.strips[0].eq[1].gain_db = -4.0;
    s.strips[0].eq[1].freq = 2500.0;
    s.strips[0].gate.as_mut().unwrap().open_db = -40.0;
    s.strips[1].compressor.as_mut().unwrap().ratio = 4.0;
    s.buses[0].limiter.as_mut().unwrap().ceiling_db = -2.0;
    s.buses[0].compressor.as_mut().unwrap().threshold_db = -10.0;
    s.buses[0].eq[0].gain_db = 1.0;
    assert_eq!(c.apply_session(s).unwrap(), Applied::Parameters(6));
    for _ in 0..8 {
        process_forbidden(&mut e, 256);
    }
    // The players' transport: pause, seek while paused and while playing (a WAV and a
    // converted file), loop turned off and on, a seek past the end, play after the end.
    let music = c.player(1).unwrap().clone();
    let bed = c.player(2).unwrap().clone();
    let once = c.player(3).unwrap().clone();
    music.set_playing(false);
    process_forbidden(&mut e, 256);
    music.seek_s(0.05);
    bed.seek_s(0.02);
    std::thread::sleep(std::time::Duration::from_millis(100));
    for _ in 0..4 {
        process_forbidden(&mut e, 256);
    }
    assert!(!music.state().playing);
    assert_eq!(music.state().position_s, 0.05, "{:?}", music.state());
    music.set_playing(true);
    bed.set_looped(false);
    for _ in 0..8 {
        process_forbidden(&mut e, 256);
    }
    bed.set_looped(true);
    once.seek_s(99.0);
    std::thread::sleep(std::time::Duration::from_millis(100));
    for _ in 0..4 {
        process_forbidden(&mut e, 256);
    }
    assert!(once.state().ended, "{:?}", once.state());
    once.set_playing(true);
    std::thread::sleep(std::time::Duration::from_millis(100));
    for _ in 0..4 {
        process_forbidden(&mut e, 256);
    }
    assert!(
        once.state().playing && !once.state().ended,
        "{:?}",
        once.state()
    );
    // Structural swaps: add a strip and a bus, then take them away again.
    let mut s = c.session().clone();
    s.buses.push(session::Bus {
        name: "C1".into(),
        ..s.buses[0].clone()
    });
    let mut extra = s.strips[4].clone();
    extra.name = "Sine2".into();
    extra.sends.insert("C1".into(), BusSend::default());
    s.strips.push(extra);
    assert_eq!(c.apply_session(s).unwrap(), Applied::Rebuilt);
    c.set_strip_fader("Sine2", -3.0).unwrap(); // a command for the new graph
    process_forbidden(&mut e, 512);
    assert_eq!(e.output_channels(), 5);
    c.collect_garbage();
    let s = session::parse(&session_text("music.wav"), &path)
        .unwrap()
        .session;
    assert_eq!(c.apply_session(s).unwrap(), Applied::Rebuilt);
    process_forbidden(&mut e, 512);
    c.collect_garbage();

    let stats = c.stats();
    assert_eq!(stats.graph_swaps, 2);
    assert_eq!(stats.stale_commands, 0);
    assert!(stats.commands >= 18, "{stats:?}");
    assert_eq!(
        thread_violations() - before,
        0,
        "process allocated (last request {} bytes)",
        last_violation_size()
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The test session with generators instead of files (the taps are the subject, not the
/// players); `second` is the second strip's generator, after `generator = "`.
fn generator_engine(
    dir: &std::path::Path,
    second: &str,
) -> (troubadour_engine::Controller, troubadour_engine::Engine) {
    let text = session_text("missing.wav")
        .replace(
            "source = { file = \"missing.wav\", loop = true }",
            "source = { generator = \"sine\", freq = 220.0 }",
        )
        .replace(
            "source = { file = \"bed44.wav\", loop = true }",
            &format!("source = {{ generator = \"{second} }}"),
        )
        .replace(
            "source = { file = \"bed44.wav\", loop = false }",
            "source = { generator = \"pink\" }",
        );
    let loaded = session::parse(&text, &dir.join("s.toml")).unwrap();
    create(&loaded, &EngineOptions::default()).unwrap()
}

#[test]
fn recording_does_not_allocate_while_armed_recording_losing_pausing_and_swapping() {
    use troubadour_engine::recorder::{TapPoint, TrackSpec};

    let dir = std::env::temp_dir().join(format!("troubadour-noalloc-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut c, mut e) = generator_engine(&dir, "sine\", freq = 330.0");
    let before = thread_violations();
    process_forbidden(&mut e, 256);
    let tracks = [
        TrackSpec {
            tap: TapPoint::StripPre(0),
            channels: 1,
        },
        TrackSpec {
            tap: TapPoint::StripPost(1),
            channels: 2,
        },
        TrackSpec {
            tap: TapPoint::Bus(0),
            channels: 2,
        },
        TrackSpec {
            tap: TapPoint::Bus(1),
            channels: 1,
        },
    ];
    // Rings of 2048 frames: a few blocks fit, then the undrained rings overflow and
    // the loss path runs too.
    let (counters, mut readers) = c.recorder().start(&tracks, 2048).unwrap();
    // The buses' file sinks (`run`) on the second recorder, beside the take.
    let (sink_counters, mut sink_readers) = c.sink_recorder().start(&tracks[2..], 2048).unwrap();
    for frames in [256, 300, 1024, 77, 512, 512, 512, 512] {
        process_forbidden(&mut e, frames);
    }
    assert!(readers[0].lost_frames() > 0, "the loss path ran");
    // Drained, then the next block publishes its gap first.
    let mut out = Vec::new();
    for r in readers.iter_mut().chain(sink_readers.iter_mut()) {
        r.drain(&mut out, 1 << 16);
    }
    process_forbidden(&mut e, 256);
    c.recorder().set_paused(true).unwrap();
    process_forbidden(&mut e, 256);
    c.recorder().set_paused(false).unwrap();
    // A structural change during the take: one strip fewer.
    let mut s = c.session().clone();
    s.strips.pop();
    assert_eq!(c.apply_session(s).unwrap(), Applied::Rebuilt);
    process_forbidden(&mut e, 512);
    c.collect_garbage();
    c.recorder().stop().unwrap();
    c.sink_recorder().stop().unwrap();
    process_forbidden(&mut e, 256);
    assert!(!c.recorder().collect(), "the engine took the stop");
    assert!(
        !c.sink_recorder().collect(),
        "the engine took the sinks' stop"
    );
    assert_eq!(
        thread_violations() - before,
        0,
        "process allocated while recording (last request {} bytes)",
        last_violation_size()
    );
    let recorded = counters.frames.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(recorded, 256 + 300 + 1024 + 77 + 4 * 512 + 256 + 512);
    // The sinks are never paused: the paused block counts too.
    let sunk = sink_counters
        .frames
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(sunk, recorded + 256);
    assert!(
        sink_readers[0].lost_frames() > 0,
        "the sinks' loss path ran"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn spectrum_taps_do_not_allocate_open_full_retargeted_closed_or_across_swaps() {
    use troubadour_engine::spectrum::{SPECTRUM_SLOTS, SpectrumPoint};

    let dir = std::env::temp_dir().join(format!("troubadour-noalloc-fft-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut c, mut e) = generator_engine(&dir, "white\"");
    let before = thread_violations();
    process_forbidden(&mut e, 256);
    let bank = std::sync::Arc::clone(c.spectrum());
    // Every slot open: strips mono and stereo, a post-fader ramp, both buses, an index
    // past the last strip (a tap whose strip went away).
    let points = [
        SpectrumPoint::Strip(0),
        SpectrumPoint::Strip(1),
        SpectrumPoint::Strip(4),
        SpectrumPoint::Bus(0),
        SpectrumPoint::Bus(1),
        SpectrumPoint::Strip(99),
        SpectrumPoint::Bus(99),
        SpectrumPoint::Strip(0),
    ];
    assert_eq!(points.len(), SPECTRUM_SLOTS);
    let readers: Vec<_> = points.iter().map(|&p| bank.open(p).unwrap()).collect();
    assert!(
        bank.open(SpectrumPoint::Bus(0)).is_none(),
        "all slots taken"
    );
    c.set_strip_fader("Mic", -12.0).unwrap();
    // Undrained, the rings fill up and the full-ring path runs too.
    for frames in [256, 300, 1024, 77, 4096, 4096, 4096, 4096, 512] {
        process_forbidden(&mut e, frames);
    }
    let mut samples = Vec::new();
    readers[0].read(&mut samples);
    assert!(
        samples.len() > 8192,
        "strip 1 was copied: {}",
        samples.len()
    );
    readers[1].retarget(SpectrumPoint::Bus(1));
    process_forbidden(&mut e, 256);
    let mut s = c.session().clone();
    s.strips.pop();
    assert_eq!(c.apply_session(s).unwrap(), Applied::Rebuilt);
    process_forbidden(&mut e, 512);
    c.collect_garbage();
    drop(readers);
    assert_eq!(bank.open_slots(), 0);
    process_forbidden(&mut e, 256);
    assert_eq!(
        thread_violations() - before,
        0,
        "process allocated while tapping spectra (last request {} bytes)",
        last_violation_size()
    );
    std::fs::remove_dir_all(&dir).ok();
}

//! The spectrum taps carry what the analyser should see: a strip after its fader (as
//! the mean of its channels), a bus as it leaves; nothing while no slot is open; and
//! they keep their targets across a respawned engine.

use troubadour_engine::spectrum::{SPECTRUM_RING, SpectrumPoint};
use troubadour_engine::{EngineOptions, create, session};

const TEXT: &str = r#"
version = 1
block_frames = 256
[[strip]]
name = "Tone"
channels = 2
source = { generator = "sine", freq = 1000.0, level_db = -6.0 }
sends = { A1 = {} }
[[strip]]
name = "Quiet"
source = { generator = "silence" }
sends = { A1 = {} }
[[bus]]
name = "A1"
"#;

fn run(engine: &mut troubadour_engine::Engine, frames: usize) -> (Vec<f32>, Vec<f32>) {
    let (mut left, mut right) = (vec![0.0; frames], vec![0.0; frames]);
    engine.process(&[], &mut [&mut left, &mut right], frames);
    (left, right)
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

#[test]
fn a_strip_tap_is_post_fader_and_a_bus_tap_is_the_output() {
    let loaded = session::parse(TEXT, "t.toml".as_ref()).unwrap();
    let (mut c, mut e) = create(&loaded, &EngineOptions::default()).unwrap();
    let bank = std::sync::Arc::clone(c.spectrum());
    let strip = bank.open(SpectrumPoint::Strip(0)).unwrap();
    let bus = bank.open(SpectrumPoint::Bus(0)).unwrap();
    run(&mut e, 4096);
    let (mut s, mut b) = (Vec::new(), Vec::new());
    strip.read(&mut s);
    assert_eq!(s.len(), 4096);
    assert!((peak(&s) - 0.501).abs() < 0.01, "-6 dB sine: {}", peak(&s));

    c.set_strip_fader("Tone", -6.0).unwrap();
    bus.read(&mut b);
    b.clear();
    s.clear();
    let (left, right) = run(&mut e, 4096);
    strip.read(&mut s);
    bus.read(&mut b);
    // After the 10 ms glide the strip's tap follows its fader.
    assert!(
        (peak(&s[1024..]) - 0.251).abs() < 0.01,
        "{}",
        peak(&s[1024..])
    );
    let mean: Vec<f32> = left
        .iter()
        .zip(&right)
        .map(|(l, r)| (l + r) / 2.0)
        .collect();
    assert_eq!(b, mean, "the bus tap is the mean of the bus's channels");
}

#[test]
fn nothing_is_copied_while_no_slot_is_open_and_a_full_ring_drops_blocks() {
    let loaded = session::parse(TEXT, "t.toml".as_ref()).unwrap();
    let (c, mut e) = create(&loaded, &EngineOptions::default()).unwrap();
    let bank = std::sync::Arc::clone(c.spectrum());
    let reader = bank.open(SpectrumPoint::Strip(1)).unwrap();
    drop(reader);
    run(&mut e, 2048);
    let reader = bank.open(SpectrumPoint::Strip(0)).unwrap();
    let mut s = Vec::new();
    reader.read(&mut s);
    assert!(s.is_empty(), "a closed slot copied {} samples", s.len());
    for _ in 0..(2 * SPECTRUM_RING / 4096) {
        run(&mut e, 4096);
    }
    reader.read(&mut s);
    assert_eq!(s.len(), SPECTRUM_RING, "whole blocks up to the ring's size");
}

#[test]
fn an_open_slot_feeds_a_respawned_engine() {
    let loaded = session::parse(TEXT, "t.toml".as_ref()).unwrap();
    let (mut c, mut e) = create(&loaded, &EngineOptions::default()).unwrap();
    let bank = std::sync::Arc::clone(c.spectrum());
    let reader = bank.open(SpectrumPoint::Bus(0)).unwrap();
    run(&mut e, 512);
    drop(e);
    c.park();
    let mut e = c.respawn(48_000, 256).unwrap();
    let mut s = Vec::new();
    reader.read(&mut s);
    assert!(s.is_empty(), "the old engine's ring went with it");
    run(&mut e, 512);
    reader.read(&mut s);
    assert_eq!(s.len(), 512);
    assert!((peak(&s) - 0.501).abs() < 0.01, "{}", peak(&s));
}

//! The processing slots inside the engine: sidechain ducking across strips, DSP changes
//! as gliding commands, gain-reduction meters, the bus limiter.

mod common;

use common::*;
use troubadour_engine::Applied;

/// Music listed before the voice that ducks it: the engine must process the voice
/// first for the music's detector to hear this block's voice.
const DUCKING: &str = r#"
version = 1
[[strip]]
name = "Music"
channels = 1
source = { generator = "sine", freq = 220.0, level_db = -20.0 }
compressor = { threshold_db = -40.0, ratio = 8.0, attack_ms = 10.0, release_ms = 100.0, sidechain = "Voice" }
sends = { M = {} }
[[strip]]
name = "Voice"
channels = 1
source = { device = "mic" }
sends = { V = {} }
[[bus]]
name = "M"
channels = 1
[[bus]]
name = "V"
channels = 1
"#;

fn rms_db(x: &[f32]) -> f64 {
    10.0 * (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).log10()
}

#[test]
fn music_ducks_under_the_voice_and_comes_back() {
    let (c, mut e) = mixer(DUCKING);
    let second = 48_000;
    // One second of voice (a -16 dB RMS tone stands in for speech), then one of silence.
    let mut voice: Vec<f32> = (0..second)
        .map(|i| (0.2238 * (i as f64 * 0.13).sin()) as f32)
        .collect();
    voice.extend(std::iter::repeat_n(0.0, second));
    let out = run(&mut e, &[voice.clone()], 2 * second, 256);
    let music_alone = -20.0 - 3.0103; // sine at -20 dBFS peak
    let voice_rms = rms_db(&voice[..second]);
    // Theory: 8:1 above -40 dB on the voice's RMS level.
    let reduction = (voice_rms + 40.0) * (1.0 - 1.0 / 8.0);
    let ducked = rms_db(&out[0][second / 2..second]);
    assert!(
        (ducked - (music_alone - reduction)).abs() < 0.2,
        "ducked {ducked:.2} dB, expected {:.2}",
        music_alone - reduction
    );
    // Ten release time constants after the voice stops, the bed is back.
    let restored = rms_db(&out[0][second + second / 2..]);
    assert!(
        (restored - music_alone).abs() < 0.1,
        "restored {restored:.2} dB"
    );
    // The voice itself is untouched.
    assert!((rms_db(&out[1][..second]) - voice_rms).abs() < 1e-3);
    assert!(c.read_meters().strips[0].compressor_reduction_db > reduction as f32 - 0.5);
}

const EQ_BUS: &str = r#"
version = 1
[[strip]]
name = "Tone"
channels = 1
source = { generator = "sine", freq = 1000.0, level_db = -12.0 }
eq = [{ kind = "peak", freq = 1000.0, q = 1.0, gain_db = 0.0 }]
sends = { A = {} }
[[bus]]
name = "A"
channels = 1
limiter = { ceiling_db = -6.0, lookahead_ms = 1.0 }
"#;

#[test]
fn an_eq_change_is_a_gliding_parameter_command_not_a_rebuild() {
    let (mut c, mut e) = mixer(EQ_BUS);
    run(&mut e, &[], 4800, 256);
    let mut s = c.session().clone();
    s.strips[0].eq[0].gain_db = 9.0;
    assert_eq!(c.apply_session(s).unwrap(), Applied::Parameters(1));
    let out = run(&mut e, &[], 9600, 256);
    // -12 dB sine plus 9 dB at its own frequency; the bus limiter at -6 dB catches it:
    // the level rises smoothly from -12 dB to the ceiling, 3 dB of limiting.
    let w = std::f64::consts::TAU * 1000.0 / 48_000.0;
    let max_d2 = out[0]
        .windows(3)
        .map(|v| (f64::from(v[2]) - 2.0 * f64::from(v[1]) + f64::from(v[0])).abs())
        .fold(0.0, f64::max);
    assert!(
        max_d2 <= 1.25 * 0.5 * 2.0 * (1.0 - w.cos()),
        "second difference {max_d2}"
    );
    let peak = out[0][4800..].iter().fold(0.0f32, |m, &x| m.max(x.abs()));
    assert!(
        peak <= 10f32.powf(-6.0 / 20.0) && peak > 0.49,
        "peak {peak}"
    );
    let limiting = c.read_meters().buses[0].limiter_reduction_db;
    assert!(
        (limiting - 3.0).abs() < 0.1,
        "limiter reduction {limiting} dB"
    );
    assert_eq!(c.stats().graph_swaps, 0);
}

#[test]
fn the_bus_limiter_reports_its_look_ahead_latency() {
    let (_c, e) = mixer(EQ_BUS);
    assert_eq!(e.bus_latency_frames(0), 48);
    let (_c, e) =
        mixer(&EQ_BUS.replace("limiter = { ceiling_db = -6.0, lookahead_ms = 1.0 }\n", ""));
    assert_eq!(e.bus_latency_frames(0), 0);
}

#[test]
fn a_gate_closes_a_quiet_strip_and_meters_its_reduction() {
    let text = r#"
version = 1
[[strip]]
name = "Hiss"
channels = 1
source = { generator = "white", level_db = -60.0 }
gate = { open_db = -40.0, close_db = -50.0, range_db = -40.0 }
sends = { A = {} }
[[bus]]
name = "A"
channels = 1
"#;
    let (c, mut e) = mixer(text);
    let out = run(&mut e, &[], 48_000, 256);
    // -60 dB RMS noise under a -40/-50 dB gate: it stays shut, 40 dB down.
    assert!(
        (rms_db(&out[0][24_000..]) - (-100.0)).abs() < 0.5,
        "{}",
        rms_db(&out[0][24_000..])
    );
    assert!((c.read_meters().strips[0].gate_reduction_db - 40.0).abs() < 0.1);
}

#[test]
fn sidechain_loops_are_rejected() {
    let text = DUCKING.replace("source = { device = \"mic\" }", "source = { device = \"mic\" }\ncompressor = { threshold_db = -20.0, ratio = 2.0, sidechain = \"Music\" }");
    let err = troubadour_engine::session::parse(&text, "t.toml".as_ref())
        .unwrap_err()
        .to_string();
    assert!(err.contains("sidechains form a loop"), "{err}");
}

//! The mixer's behaviour measured on its output: levels, laws, routing, smoothing.

mod common;

use common::*;
use troubadour_engine::session::BusSend;

const STEREO_THROUGH: &str = r#"
version = 1
block_frames = 256
[[strip]]
name = "In"
channels = 2
source = { device = "system:capture_1,system:capture_2" }
sends = { A1 = {} }
[[bus]]
name = "A1"
channels = 2
"#;

#[test]
fn unity_strip_send_and_bus_are_bit_transparent() {
    for (text, channels) in [
        (STEREO_THROUGH.to_string(), 2),
        (STEREO_THROUGH.replace("channels = 2", "channels = 1"), 1),
    ] {
        let (_c, mut engine) = mixer(&text);
        let input = noise(channels, 10_000, 1);
        // Odd call sizes, some above the 256-frame block: exercises the sub-block split.
        for call in [1000, 97, 256, 1] {
            let out = run(&mut engine, &input, 10_000, call);
            for ch in 0..channels {
                for (i, (o, x)) in out[ch].iter().zip(&input[ch]).enumerate() {
                    assert_eq!(o - x, 0.0, "channel {ch} sample {i}, call {call}");
                }
            }
        }
    }
}

const MONO_TO_STEREO: &str = r#"
version = 1
[[strip]]
name = "Mic"
channels = 1
pan = PAN
source = { device = "system:capture_1" }
sends = { A1 = {} }
[[bus]]
name = "A1"
channels = 2
"#;

#[test]
fn pan_law_is_constant_power() {
    let level = |pan: &str| {
        let (_c, mut e) = mixer(&MONO_TO_STEREO.replace("PAN", pan));
        let out = run(&mut e, &dc(1, 4800, 1.0), 4800, 480);
        (out[0][4799], out[1][4799])
    };
    let (l, r) = level("0.0");
    assert!(
        (db(l) + 3.0103).abs() < 0.001 && (db(r) + 3.0103).abs() < 0.001,
        "{l} {r}"
    );
    assert_eq!(level("-1.0"), (1.0, 0.0));
    assert_eq!(level("1.0"), (0.0, 1.0));
    let (l, r) = level("0.5");
    assert!((l * l + r * r - 1.0).abs() < 1e-6 && r > l);
}

#[test]
fn balance_keeps_the_near_side_at_unity() {
    for (balance, near) in [(0.5f32, 1usize), (-0.5, 0), (1.0, 1), (-1.0, 0)] {
        let text = STEREO_THROUGH.replace(
            "channels = 2\nsource",
            &format!("channels = 2\npan = {balance:?}\nsource"),
        );
        let (_c, mut e) = mixer(&text);
        let out = run(&mut e, &dc(2, 2400, 0.5), 2400, 256);
        let far = 1 - near;
        assert_eq!(out[near][2399], 0.5, "balance {balance}");
        let expected = 0.5 * (balance.abs() * std::f32::consts::FRAC_PI_2).cos();
        assert!(
            (out[far][2399] - expected).abs() < 1e-6,
            "balance {balance}: {}",
            out[far][2399]
        );
    }
}

/// Four mono strips with DC levels that cannot cancel into each other, three mono
/// buses, sends pre and post fader at assorted levels.
const MATRIX: &str = r#"
version = 1
[[strip]]
name = "S1"
channels = 1
fader_db = -6.0
source = { device = "in_1" }
sends = { B1 = {}, B2 = { level_db = -12.0, pre_fader = true } }
[[strip]]
name = "S2"
channels = 1
fader_db = -20.0
source = { device = "in_2" }
sends = { B1 = { level_db = -3.0 }, B3 = { pre_fader = true } }
[[strip]]
name = "S3"
channels = 1
source = { device = "in_3" }
sends = { B2 = {}, B3 = { level_db = 6.0 } }
[[strip]]
name = "S4"
channels = 1
fader_db = 3.0
source = { device = "in_4" }
sends = { B1 = { pre_fader = true }, B2 = { level_db = -6.0 }, B3 = { on = false } }
[[bus]]
name = "B1"
channels = 1
[[bus]]
name = "B2"
channels = 1
fader_db = -2.0
[[bus]]
name = "B3"
channels = 1
"#;

const MATRIX_IN: [f32; 4] = [0.01, 0.02, 0.04, 0.08];

/// Expected bus levels from first principles.
fn matrix_expected(fader_db: [f32; 4], audible: [bool; 4]) -> [f32; 3] {
    let g = |d: f32| 10f32.powf(d / 20.0);
    let x = MATRIX_IN;
    let on = audible.map(|a| if a { 1.0 } else { 0.0 });
    let post = |s: usize| x[s] * on[s] * g(fader_db[s]);
    let pre = |s: usize| x[s] * on[s];
    [
        post(0) + post(1) * g(-3.0) + pre(3),
        (pre(0) * g(-12.0) + post(2) + post(3) * g(-6.0)) * g(-2.0),
        pre(1) + post(2) * g(6.0),
    ]
}

fn matrix_levels(engine: &mut troubadour_engine::Engine) -> [f32; 3] {
    let input: Vec<Vec<f32>> = MATRIX_IN.iter().map(|&v| vec![v; 2400]).collect();
    let out = run(engine, &input, 2400, 256);
    [out[0][2399], out[1][2399], out[2][2399]]
}

fn assert_levels(got: [f32; 3], want: [f32; 3], what: &str) {
    for b in 0..3 {
        assert!(
            (got[b] - want[b]).abs() < 1e-6,
            "{what}: bus B{} is {} but should be {}",
            b + 1,
            got[b],
            want[b]
        );
    }
}

#[test]
fn mute_solo_and_pre_post_sends_across_a_matrix() {
    let (mut c, mut e) = mixer(MATRIX);
    let faders = [-6.0, -20.0, 0.0, 3.0];
    assert_levels(
        matrix_levels(&mut e),
        matrix_expected(faders, [true; 4]),
        "initial",
    );

    // A fader moves post-fader sends only.
    c.set_strip_fader("S4", -10.0).unwrap();
    let faders = [-6.0, -20.0, 0.0, -10.0];
    assert_levels(
        matrix_levels(&mut e),
        matrix_expected(faders, [true; 4]),
        "S4 fader",
    );

    // Mute silences a strip on every bus, pre-fader sends too.
    c.set_strip_mute("S1", true).unwrap();
    assert_levels(
        matrix_levels(&mut e),
        matrix_expected(faders, [false, true, true, true]),
        "S1 muted",
    );

    // Solo in place: only soloed strips are heard, on every bus.
    c.set_strip_solo("S3", true).unwrap();
    assert_levels(
        matrix_levels(&mut e),
        matrix_expected(faders, [false, false, true, false]),
        "S3 solo",
    );
    c.set_strip_solo("S2", true).unwrap();
    assert_levels(
        matrix_levels(&mut e),
        matrix_expected(faders, [false, true, true, false]),
        "S2+S3 solo",
    );
    // A muted strip stays muted even when soloed.
    c.set_strip_solo("S1", true).unwrap();
    assert_levels(
        matrix_levels(&mut e),
        matrix_expected(faders, [false, true, true, false]),
        "S1 solo but muted",
    );
    for s in ["S1", "S2", "S3"] {
        c.set_strip_solo(s, false).unwrap();
    }
    c.set_strip_mute("S1", false).unwrap();
    assert_levels(
        matrix_levels(&mut e),
        matrix_expected(faders, [true; 4]),
        "all back",
    );

    // Moving a send from post to pre fader.
    c.set_send(
        "S2",
        "B1",
        BusSend {
            level_db: -3.0,
            pre_fader: true,
            on: true,
        },
    )
    .unwrap();
    let got = matrix_levels(&mut e);
    let mut want = matrix_expected(faders, [true; 4]);
    let g = |d: f32| 10f32.powf(d / 20.0);
    want[0] += MATRIX_IN[1] * g(-3.0) * (1.0 - g(-20.0));
    assert_levels(got, want, "S2 to B1 pre-fader");

    // Bus mute and fader.
    c.set_bus_mute("B3", true).unwrap();
    c.set_bus_fader("B1", 6.0).unwrap();
    let got = matrix_levels(&mut e);
    assert_levels(got, [want[0] * g(6.0), want[1], 0.0], "bus mute and fader");
}

#[test]
fn fader_jump_glides_no_faster_than_a_10ms_ramp() {
    let text = STEREO_THROUGH.replace(
        "channels = 2\nsource",
        "channels = 2\nfader_db = -inf\nsource",
    );
    let (mut c, mut e) = mixer(&text);
    let silent = run(&mut e, &dc(2, 1000, 1.0), 1000, 256);
    assert!(silent.iter().flatten().all(|&x| x == 0.0));
    c.set_strip_fader("In", 0.0).unwrap();
    let out = run(&mut e, &dc(2, 2000, 1.0), 2000, 256);
    let ramp = 480.0; // 10 ms at 48 kHz
    for ch in &out {
        let max_step = ch
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0f32, f32::max);
        assert!(max_step <= 1.0 / ramp + 1e-6, "step {max_step}");
        assert!(
            ch[0] > 0.0 && ch[0] <= 1.0 / ramp + 1e-6,
            "first sample {}",
            ch[0]
        );
        assert_eq!(ch[1999], 1.0, "reaches the target");
        let reached = ch.iter().position(|&x| x == 1.0).unwrap();
        assert_eq!(reached, 479, "in exactly 480 samples");
    }
    // Mute and unmute glide too.
    c.set_strip_mute("In", true).unwrap();
    let out = run(&mut e, &dc(2, 1000, 1.0), 1000, 100);
    let max_step = out[0]
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0f32, f32::max);
    assert!(
        max_step <= 1.0 / ramp + 1e-6 && out[0][999] == 0.0,
        "mute step {max_step}"
    );
}

#[test]
fn meters_report_a_sines_peak_and_rms_and_reset_the_peak_on_read() {
    let (c, mut e) = mixer(STEREO_THROUGH);
    // A full-scale sine at 1 kHz: peak 0 dBFS, RMS -3.01 dBFS. Three seconds is ten
    // time constants of the 300 ms RMS average.
    let sine: Vec<f32> = (0..144_000)
        .map(|i| (std::f64::consts::TAU * 1000.0 * i as f64 / 48_000.0).sin() as f32)
        .collect();
    run(&mut e, &[sine.clone(), sine], 144_000, 256);
    let m = c.read_meters();
    let bus = &m.buses[0].post[0];
    assert!(bus.peak_db.abs() < 0.01, "peak {}", bus.peak_db);
    assert!((bus.rms_db + 3.0103).abs() < 0.05, "rms {}", bus.rms_db);
    assert!((m.strips[0].pre[1].rms_db + 3.0103).abs() < 0.05);
    // Peaks are held until read, then reset.
    assert_eq!(c.read_meters().buses[0].post[0].peak_db, f32::NEG_INFINITY);
}

#[test]
fn non_finite_samples_are_caught_counted_and_silenced() {
    let (c, mut e) = mixer(STEREO_THROUGH);
    let mut input = dc(2, 512, 0.25);
    input[0][100] = f32::NAN;
    input[1][200] = f32::INFINITY;
    input[1][300] = 2.0;
    let out = run(&mut e, &input, 512, 512);
    assert_eq!((out[0][100], out[1][200], out[1][300]), (0.0, 0.0, 2.0));
    let s = c.stats();
    assert_eq!((s.non_finite, s.over_full_scale), (2, 1));
}

#[test]
fn structural_swap_keeps_unchanged_strips_running_and_returns_the_old_graph() {
    let (mut c, mut e) = mixer(STEREO_THROUGH);
    let input = noise(2, 4096, 3);
    run(&mut e, &input, 4096, 256);
    let mut new = c.session().clone();
    new.buses.push(troubadour_engine::session::Bus {
        name: "B1".into(),
        ..new.buses[0].clone()
    });
    new.strips[0].sends.insert("B1".into(), BusSend::default());
    assert_eq!(
        c.apply_session(new).unwrap(),
        troubadour_engine::Applied::Rebuilt
    );
    assert_eq!(
        e.output_channels(),
        2,
        "swapped in at the next block, not before"
    );
    let out = run(&mut e, &input, 4096, 256);
    assert_eq!(e.output_channels(), 4);
    // The untouched path stays bit-transparent straight through the swap.
    assert_eq!(out[0], input[0]);
    assert_eq!(c.stats().graph_swaps, 1);
    assert_eq!(
        c.collect_garbage(),
        1,
        "the retired graph came back to be freed here"
    );
}

#[test]
fn a_full_command_queue_is_reported_not_blocking() {
    let loaded = troubadour_engine::session::parse(STEREO_THROUGH, "t.toml".as_ref()).unwrap();
    let options = troubadour_engine::EngineOptions {
        command_capacity: 4,
        ..Default::default()
    };
    let (mut c, mut e) = troubadour_engine::create(&loaded, &options).unwrap();
    for _ in 0..4 {
        c.set_strip_fader("In", -3.0).unwrap();
    }
    let err = c.set_strip_fader("In", -6.0).unwrap_err();
    assert!(
        matches!(err, troubadour_engine::ControlError::QueueFull(4)),
        "{err}"
    );
    assert_eq!(
        c.session().strips[0].fader_db,
        -3.0,
        "a refused change does not touch the session"
    );
    run(&mut e, &dc(2, 64, 0.0), 64, 64);
    c.set_strip_fader("In", -6.0).unwrap();
}

#[test]
fn meters_follow_the_graph_the_engine_actually_runs() {
    let (mut c, mut e) = mixer(STEREO_THROUGH);
    run(&mut e, &dc(2, 512, 0.5), 512, 256);
    let mut new = c.session().clone();
    new.buses.push(troubadour_engine::session::Bus {
        name: "B1".into(),
        ..new.buses[0].clone()
    });
    c.apply_session(new).unwrap();
    // Not swapped in yet: the meters are still the running graph's, and its held peak
    // is still there to read.
    let m = c.read_meters();
    assert_eq!(m.buses.len(), 1);
    assert!((m.buses[0].post[0].peak_db - db(0.5)).abs() < 1e-4);
    run(&mut e, &dc(2, 256, 0.25), 256, 256);
    let m = c.read_meters();
    assert_eq!(
        m.buses.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        ["A1", "B1"]
    );
    assert!((m.buses[0].post[0].peak_db - db(0.25)).abs() < 1e-4);
}

#[test]
fn short_host_buffers_get_what_fits_and_nothing_stale() {
    let (_c, mut e) = mixer(STEREO_THROUGH);
    // The host claims 300 frames but hands over 200-frame inputs and a 250-frame output.
    let input = dc(2, 200, 0.5);
    let ins: Vec<&[f32]> = input.iter().map(|c| c.as_slice()).collect();
    let mut left = vec![9.0f32; 250];
    let mut right = vec![9.0f32; 300];
    e.process(&ins, &mut [&mut left, &mut right], 300);
    assert!(left[..200].iter().all(|&x| x == 0.5));
    assert!(
        left[200..].iter().all(|&x| x == 0.0),
        "missing input frames read as silence"
    );
    assert!(right[..200].iter().all(|&x| x == 0.5) && right[200..].iter().all(|&x| x == 0.0));
}

#[test]
fn create_rejects_an_invalid_session_built_in_code() {
    let mut s = troubadour_engine::session::Session::default_session();
    s.strips[0].channels = 0;
    let loaded = troubadour_engine::session::LoadedSession {
        session: s,
        path: "x.toml".into(),
        base_dir: ".".into(),
        warnings: vec![],
    };
    let err = troubadour_engine::create(&loaded, &troubadour_engine::EngineOptions::default())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("0 channels is outside the supported range 1..=8"),
        "{err}"
    );
}

//! The spectrum analyser from outside: `troubadour run` on the null backend with a sine
//! strip, and real WebSocket clients (Python's `websockets`): only the connection that
//! asked gets frames, the loudest band is the sine's at its level, and the engine's tap
//! is open exactly while someone watches.

mod support;

use serde_json::Value;
use support::Dir;
use support::api::{Instance, python};

const SESSION: &str = r#"version = 1

[[strip]]
name = "Tone"
source = { generator = "sine", freq = 1000.0, level_db = -12.0 }
fader_db = -6.0
sends = { A1 = {} }

[[strip]]
name = "Hum"
source = { generator = "sine", freq = 100.0, level_db = -30.0 }
sends = { A1 = {} }

[[bus]]
name = "A1"
"#;

/// The loudest band of a frame: (centre Hz, level dB).
fn loudest(frame: &Value, centres: &[f64]) -> (f64, f64) {
    let bands = frame["bands"].as_array().unwrap();
    assert_eq!(bands.len(), centres.len());
    bands.iter().map(|b| b.as_f64().unwrap()).zip(centres).fold(
        (0.0, f64::NEG_INFINITY),
        |best, (l, &c)| {
            if l > best.1 { (c, l) } else { best }
        },
    )
}

#[test]
fn only_the_asking_page_gets_the_sines_band_at_its_level_and_the_tap_closes_after() {
    let dir = Dir::new("spectrum-ws");
    let path = dir.write("session.toml", SESSION);
    let t = Instance::start(&[path.as_str(), "--backend", "null"], &[]);
    let metrics = format!("http://{}/metrics", t.addr);
    let found = python("spectrum.py", &[&t.ws_url(), &metrics]);

    let sub = &found["strip_sub"];
    assert_eq!(sub["ok"], true, "{sub}");
    assert_eq!(sub["target"], "strip/Tone", "canonical name for strip/1");
    let centres: Vec<f64> = sub["bands_hz"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(centres.len(), 61);
    assert_eq!(found["bus_sub"]["ok"], true, "{}", found["bus_sub"]);
    assert_eq!(found["missing_sub"]["error"]["code"], "not_found");
    assert_eq!(found["taps_at_rest"], 0.0);
    assert_eq!(found["taps_open"], 2.0);

    let frames = found["strip_frames"].as_array().unwrap();
    // 25 frames a second for 1.5 s (a few fewer on a busy machine).
    assert!(frames.len() >= 20, "{} frames", frames.len());
    // A -12 dBFS sine through a -6 dB fader: -18 dBFS in the 1 kHz band.
    for frame in &frames[frames.len() / 2..] {
        let (freq, level) = loudest(frame, &centres);
        assert_eq!(freq, 1000.0, "{frame}");
        assert!((level - -18.0).abs() < 1.0, "{level} dB: {frame}");
        let peaks = frame["peaks"].as_array().unwrap();
        assert!(peaks[34].as_f64().unwrap() >= level - 0.05);
    }
    // The bus carries both sines; B, which asked for meters only, got no spectrum.
    assert!(found["bus_frames"].as_u64().unwrap() >= 20, "{found}");
    assert_eq!(found["b_spectrum_frames"], 0);
    assert!(found["b_meter_frames"].as_u64().unwrap() >= 10, "{found}");

    assert_eq!(found["unsub"]["spectra"], serde_json::json!(["bus/A1"]));
    assert_eq!(found["taps_after_unsub"], 1.0);
    assert_eq!(found["strip_frames_after_unsub"], 0, "{found}");
    assert!(found["bus_frames_after_unsub"].as_u64().unwrap() >= 5);
    assert_eq!(
        found["taps_after_close"], 0.0,
        "a closed connection closes its taps"
    );
    // The taps' copies on the audio thread made no system call there.
    let metrics = t.http("GET", "/metrics", None).body;
    assert!(
        metrics.contains("troubadour_syscall_guard_active 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("troubadour_syscalls_in_callback_total 0\n"),
        "{metrics}"
    );
}

//! The tapers and the JSON form of numbers.

use serde_json::json;

use super::super::*;

fn template(path: &str) -> &'static Template {
    templates().find(|t| t.path == path).unwrap()
}

#[test]
fn the_fader_taper_puts_0_db_at_three_quarters() {
    let t = template("strip/{strip}/fader_db");
    assert_eq!(from_norm(t, 0.75), json!(0.0));
    assert_eq!(from_norm(t, 0.0), json!("-inf"));
    assert_eq!(from_norm(t, 1.0), json!(12.0));
    assert_eq!(from_norm(t, 0.5), json!(-10.0));
    assert_eq!(from_norm(t, 0.25), json!(-30.0));
    assert_eq!(from_norm(t, 0.0625), json!(-60.0));
    assert_eq!(from_norm(t, 2.0), json!(12.0), "clamped");
    assert_eq!(from_norm(t, f64::NAN), json!("-inf"));
    let db = from_norm(t, 1e-9).as_f64().unwrap();
    assert!((-90.0..-89.99).contains(&db), "{db}");
    assert_eq!(to_norm(t, &json!(0)), Some(0.75));
    assert_eq!(to_norm(t, &json!("-inf")), Some(0.0));
    assert_eq!(to_norm(t, &json!(12)), Some(1.0));
    assert_eq!(to_norm(t, &json!(-200)), Some(0.0));
    assert_eq!(to_norm(t, &json!("loud")), None);
    let mut last = f64::NEG_INFINITY;
    for i in 1..=1000 {
        let n = f64::from(i) / 1000.0;
        let db = from_norm(t, n).as_f64().unwrap();
        assert!(db > last, "not monotonic at {n}: {db} after {last}");
        last = db;
        let back = to_norm(t, &json!(db)).unwrap();
        assert!((back - n).abs() < 1e-9, "{n} -> {db} dB -> {back}");
    }
}

#[test]
fn log_and_linear_tapers_round_trip() {
    for path in [
        "strip/{strip}/eq/{band}/freq",
        "strip/{strip}/eq/{band}/q",
        "strip/{strip}/compressor/ratio",
        "strip/{strip}/gate/hold_ms",
        "bus/{bus}/limiter/lookahead_ms",
        "strip/{strip}/pan",
        "strip/{strip}/trim_db",
    ] {
        let t = template(path);
        assert_eq!(from_norm(t, 0.0), json!(t.min), "{path}");
        let top = from_norm(t, 1.0).as_f64().unwrap();
        assert!(
            (top - t.max).abs() < 1e-9 * t.max.abs().max(1.0),
            "{path}: {top}"
        );
        for i in 0..=20 {
            let n = f64::from(i) / 20.0;
            let x = from_norm(t, n);
            let back = to_norm(t, &x).unwrap();
            assert!((back - n).abs() < 1e-9, "{path}: {n} -> {x} -> {back}");
        }
    }
    // Log: the geometric middle of 10 Hz..24 kHz sits at half travel.
    let freq = template("strip/{strip}/eq/{band}/freq");
    let mid = from_norm(freq, 0.5).as_f64().unwrap();
    assert!((mid - (10.0f64 * 24_000.0).sqrt()).abs() < 1e-6, "{mid}");
    let pan = template("strip/{strip}/pan");
    assert_eq!(from_norm(pan, 0.5), json!(0.0));
}

#[test]
fn switches_and_choices() {
    let mute = template("strip/{strip}/mute");
    assert_eq!(from_norm(mute, 0.5), json!(true));
    assert_eq!(from_norm(mute, 0.49), json!(false));
    assert_eq!(to_norm(mute, &json!(true)), Some(1.0));
    let kind = template("bus/{bus}/eq/{band}/kind");
    assert_eq!(from_norm(kind, 0.0), json!("peak"));
    assert_eq!(from_norm(kind, 1.0), json!("allpass"));
    assert_eq!(to_norm(kind, &json!("allpass")), Some(1.0));
    assert_eq!(
        from_norm(kind, to_norm(kind, &json!("lowpass")).unwrap()),
        json!("lowpass")
    );
    let detector = template("strip/{strip}/compressor/detector");
    assert_eq!(from_norm(detector, 0.7), json!("peak"));
    let name = template("strip/{strip}/name");
    assert_eq!(name.taper, Taper::None);
    assert_eq!(to_norm(name, &json!("Mic")), None);
    assert!(!name.glides());
}

#[test]
fn f32_fields_read_as_their_shortest_decimal() {
    assert_eq!(gain_json(-0.1), json!(-0.1));
    assert_eq!(gain_json(-6.0), json!(-6));
    assert_eq!(serde_json::to_string(&gain_json(-6.0)).unwrap(), "-6");
    assert_eq!(serde_json::to_string(&gain_json(0.3)).unwrap(), "0.3");
    assert_eq!(gain_json(f32::NAN), serde_json::Value::Null);
}

#[test]
fn the_schema_lists_every_template() {
    let schema = schema();
    let params = schema["params"].as_array().unwrap();
    assert_eq!(params.len(), templates().count());
    let find = |path: &str| params.iter().find(|p| p["path"] == path).unwrap().clone();
    let fader = find("strip/{strip}/fader_db");
    assert_eq!(fader["min"], json!("-inf"));
    assert_eq!(fader["max"], json!(12.0));
    assert_eq!(fader["taper"], json!("fader"));
    assert_eq!(fader["neg_inf"], json!(true));
    assert_eq!(fader["norm"], json!(true));
    let freq = find("bus/{bus}/eq/{band}/freq");
    assert_eq!(
        (
            freq["max"].clone(),
            freq["taper"].clone(),
            freq["unit"].clone()
        ),
        (json!(24000.0), json!("log"), json!("Hz"))
    );
    assert!(
        freq["note"]
            .as_str()
            .unwrap()
            .contains("half the sample rate")
    );
    assert_eq!(
        find("strip/{strip}/compressor/detector")["values"],
        json!(["rms", "peak"])
    );
    assert_eq!(find("strip/{strip}/name")["norm"], json!(false));
    assert!(find("strip/{strip}/send/{bus}/level_db")["neg_inf"] == json!(true));
    let lookahead = templates()
        .find(|t| t.path.ends_with("lookahead_ms"))
        .unwrap();
    assert!(lookahead.structural && !lookahead.glides());
    assert!(
        templates()
            .find(|t| t.path == "strip/{strip}/pan")
            .unwrap()
            .glides()
    );
    assert!(
        !templates()
            .find(|t| t.path == "strip/{strip}/mute")
            .unwrap()
            .glides()
    );
}

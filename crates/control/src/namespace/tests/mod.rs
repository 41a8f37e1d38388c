//! The namespace's contract, checked on a session with every kind of parameter.

mod fuzz;
mod player;
mod rename;
mod values;

use serde_json::{Value, json};
use troubadour_engine::session::{
    Compressor, DetectorKind, EqBand, EqKind, Gate, Limiter, Scene, SceneValue, Session,
};

use super::*;

/// The default session with a gate, two EQ bands (a peak and a sloped shelf) and a
/// compressor keyed from the other strip on `Tone`; EQ, compressor and limiter on `A1`.
pub(super) fn full_session() -> Session {
    let mut s = Session::default_session();
    let band = |kind, freq, slope| EqBand {
        kind,
        freq,
        q: 0.7,
        gain_db: -3.0,
        slope,
        on: true,
    };
    let compressor = |sidechain: Option<&str>| Compressor {
        threshold_db: -20.0,
        ratio: 4.0,
        attack_ms: 10.0,
        release_ms: 100.0,
        knee_db: 6.0,
        makeup_db: 0.0,
        auto_makeup: false,
        detector: DetectorKind::Rms,
        rms_ms: 10.0,
        sidechain: sidechain.map(String::from),
    };
    let tone = &mut s.strips[0];
    tone.gate = Some(Gate {
        open_db: -40.0,
        close_db: -50.0,
        attack_ms: 1.0,
        hold_ms: 50.0,
        release_ms: 100.0,
        range_db: -80.0,
    });
    tone.eq = vec![
        band(EqKind::Peak, 1000.0, None),
        band(EqKind::Lowshelf, 120.0, Some(1.0)),
    ];
    tone.compressor = Some(compressor(Some("Noise")));
    tone.pan = -0.1;
    let a1 = &mut s.buses[0];
    a1.eq = vec![band(EqKind::Highpass, 40.0, None)];
    a1.compressor = Some(compressor(None));
    a1.limiter = Some(Limiter {
        ceiling_db: -1.0,
        lookahead_ms: 1.5,
        release_ms: 50.0,
    });
    s.scenes.push(Scene {
        name: "show".into(),
        values: [
            ("strip/Noise/fader_db".to_string(), SceneValue::Number(-3.0)),
            (
                "strip/Tone/send/B1/level_db".to_string(),
                SceneValue::Number(-6.0),
            ),
        ]
        .into_iter()
        .collect(),
    });
    s
}

pub(super) fn valid(s: &Session) -> bool {
    let path = std::path::Path::new("namespace-test-session.toml");
    troubadour_engine::session::validate_live(s, path, std::path::Path::new(".")).is_ok()
}

fn code(s: &Session, path: &str) -> ErrorCode {
    resolve(s, path).unwrap_err().code
}

pub(super) fn set_err(s: &mut Session, path: &str, v: Value) -> ApiError {
    let before = s.clone();
    let r = resolve(s, path).unwrap();
    let e = set(s, &r, &v).unwrap_err();
    assert_eq!(*s, before, "a refused set changed the session");
    e
}

#[test]
fn the_test_session_is_valid() {
    assert!(valid(&full_session()));
}

#[test]
fn paths_resolve_by_name_and_by_index() {
    let s = full_session();
    let a = resolve(&s, "strip/Noise/fader_db").unwrap();
    let b = resolve(&s, "strip/2/fader_db").unwrap();
    assert_eq!(a, b);
    assert_eq!((a.kind, a.index, a.norm), (Kind::Strip, 1, false));
    assert_eq!(a.canonical, "strip/Noise/fader_db");
    assert_eq!(a.template.path, "strip/{strip}/fader_db");

    let r = resolve(&s, "strip/1/send/2/level_db/norm").unwrap();
    assert_eq!(r.canonical, "strip/Tone/send/B1/level_db");
    assert!(r.norm);
    assert_eq!(r, resolve(&s, "strip/Tone/send/B1/level_db/norm").unwrap());
    assert_eq!((r.send_bus(), r.band()), (Some(1), None));
    let band = resolve(&s, "strip/1/eq/2/q").unwrap();
    assert_eq!((band.send_bus(), band.band()), (None, Some(1)));

    let r = resolve(&s, "bus/1/eq/1/freq").unwrap();
    assert_eq!((r.kind, r.index), (Kind::Bus, 0));
    assert_eq!(r.canonical, "bus/A1/eq/1/freq");
    assert_eq!(
        resolve(&s, "strip/1/eq/2/slope").unwrap().canonical,
        "strip/Tone/eq/2/slope"
    );
    assert_eq!(strip_index(&s, "Noise").unwrap(), 1);
    assert_eq!(bus_index(&s, "2").unwrap(), 1);
    assert_eq!(bus_index(&s, "3").unwrap_err().code, ErrorCode::NotFound);
}

#[test]
fn unknown_things_are_unknown_paths() {
    let mut s = full_session();
    for path in [
        "",
        "/",
        "strip",
        "strip/",
        "strip/1",
        "strip/1/",
        "chan/1/fader_db",
        "strip/Mic/fader_db",
        "strip/0/fader_db",
        "strip/3/fader_db",
        "strip/99999999999999999999999/fader_db",
        "strip/1/volume",
        "strip/1/fader_db/extra",
        "strip/1/norm",
        "bus/1/pan",
        "bus/1/solo",
        "bus/1/gate/open_db",
        "strip/1/limiter/ceiling_db",
        "strip/1/gate/sidechain",
        "strip/1/compressor/sidechain",
        "strip/1/eq/3/freq",
        "strip/1/eq/0/freq",
        "strip/1/eq/9/freq",
        "strip/1/eq/x/freq",
        "strip/1/eq/1/bogus",
        "strip/1/send/C1/level_db",
        "strip/1/send/3/level_db",
        "strip/1/send/1/volume",
        "strip/1/name/norm",
        "bus/B1/limiter/ceiling_db",
        "bus/B1/eq/1/freq",
        "strip/Noise/gate/open_db",
        "strip/Noise/compressor/ratio",
    ] {
        assert_eq!(code(&s, path), ErrorCode::UnknownPath, "{path:?}");
    }
    let message = resolve(&s, "strip/Noise/gate/open_db").unwrap_err().message;
    assert!(
        message.contains("strip \"Noise\" has no gate; add one with set_processor"),
        "{message}"
    );
    let message = resolve(&s, "strip/1/eq/3/freq").unwrap_err().message;
    assert!(message.contains("has 2 EQ bands"), "{message}");
    let message = resolve(&s, "strip/1/gate/opne_db").unwrap_err().message;
    assert!(message.contains("open_db"), "{message}");
    // A send that is gone after resolving is refused too.
    s.strips[0].sends.clear();
    assert_eq!(code(&s, "strip/1/send/A1/on"), ErrorCode::UnknownPath);
}

#[test]
fn every_flattened_path_resolves_and_reads_back() {
    let s = full_session();
    let flat = flatten(&s);
    assert!(flat.len() > 60, "{}", flat.len());
    assert_eq!(flat[0].0, "strip/Tone/trim_db");
    assert!(flat.iter().all(|(p, _)| !p.ends_with("/name")));
    let first_bus = flat
        .iter()
        .position(|(p, _)| p.starts_with("bus/"))
        .unwrap();
    assert!(flat[first_bus..].iter().all(|(p, _)| p.starts_with("bus/")));
    for (path, value) in &flat {
        let r = resolve(&s, path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(&r.canonical, path);
        assert_eq!(&get(&s, &r), value, "{path}");
        // Setting what is there changes nothing.
        let mut t = s.clone();
        assert_eq!(&set(&mut t, &r, value).unwrap(), value, "{path}");
        assert_eq!(t, s, "{path}");
    }
    let values: std::collections::BTreeMap<_, _> = flat.into_iter().collect();
    assert_eq!(values["strip/Tone/pan"], json!(-0.1));
    assert_eq!(values["strip/Tone/send/B1/level_db"], json!(-6));
    assert_eq!(values["strip/Tone/send/B1/pre_fader"], json!(true));
    assert_eq!(values["strip/Tone/eq/2/slope"], json!(1));
    assert_eq!(values["strip/Tone/compressor/detector"], json!("rms"));
    assert_eq!(values["bus/A1/limiter/lookahead_ms"], json!(1.5));
    assert!(
        !values.contains_key("strip/Tone/eq/1/slope"),
        "an unset slope is left out"
    );
}

#[test]
fn every_template_sets_and_reads_back_through_norm() {
    let s = full_session();
    for (path, _) in flatten(&s) {
        for norm in [0.0, 0.3, 0.75, 1.0] {
            let mut t = s.clone();
            let r = resolve(&t, &format!("{path}/norm")).unwrap();
            match set(&mut t, &r, &json!(norm)) {
                Ok(stored) => {
                    let units = resolve(&t, &path).unwrap();
                    assert_eq!(stored, get(&t, &units), "{path}");
                    let back = get(&t, &r).as_f64().unwrap();
                    let exact =
                        matches!(r.template.taper, Taper::Fader | Taper::Linear | Taper::Log);
                    if exact && r.template.range != template::Range::BelowNyquist {
                        assert!(
                            (back - norm).abs() < 1e-4,
                            "{path}: {norm} read back as {back}"
                        );
                    }
                    assert!(valid(&t), "{path}/norm = {norm}");
                }
                // Hysteresis: the gate cannot open below where it closes; and a band
                // with a slope stays a shelf.
                Err(e) => {
                    assert_eq!(e.code, ErrorCode::OutOfRange, "{path}: {e}");
                    assert!(
                        path.contains("gate/") || path.ends_with("eq/2/kind"),
                        "{path}: {e}"
                    );
                    assert_eq!(t, s);
                }
            }
        }
    }
}

#[test]
fn set_then_get_in_units_for_every_value_kind() {
    let mut s = full_session();
    for (path, value, stored) in [
        ("strip/1/trim_db", json!(-0.1), json!(-0.1)),
        ("strip/1/fader_db", json!(-6), json!(-6)),
        ("strip/1/pan", json!(1), json!(1)),
        ("strip/1/mute", json!(true), json!(true)),
        ("strip/1/solo", json!(true), json!(true)),
        ("strip/1/recall_safe", json!(true), json!(true)),
        ("strip/1/send/A1/on", json!(false), json!(false)),
        ("strip/1/send/A1/pre_fader", json!(true), json!(true)),
        ("strip/1/gate/hold_ms", json!(0), json!(0)),
        ("strip/1/gate/attack_ms", json!(0.01), json!(0.010000001)),
        ("strip/1/compressor/detector", json!("peak"), json!("peak")),
        ("strip/1/compressor/auto_makeup", json!(true), json!(true)),
        ("strip/1/compressor/ratio", json!(2.5), json!(2.5)),
        ("strip/1/eq/1/kind", json!("notch"), json!("notch")),
        ("strip/1/eq/1/freq", json!(23999.5), json!(23999.5)),
        ("strip/1/eq/1/q", json!(0.05), json!(0.05)),
        ("strip/1/eq/2/slope", Value::Null, Value::Null),
        ("strip/1/eq/2/slope", json!(2), json!(2)),
        ("bus/A1/limiter/lookahead_ms", json!(5), json!(5)),
        ("bus/A1/limiter/ceiling_db", json!(-0.3), json!(-0.3)),
        ("bus/2/mute", json!(true), json!(true)),
    ] {
        let r = resolve(&s, path).unwrap();
        assert_eq!(set(&mut s, &r, &value).unwrap(), stored, "{path}");
        assert_eq!(get(&s, &r), stored, "{path}");
    }
    assert_eq!(s.strips[0].gain_db, -0.1);
    assert_eq!(s.strips[0].eq[0].kind, EqKind::Notch);
    assert_eq!(
        s.strips[0].compressor.as_ref().unwrap().detector,
        DetectorKind::Peak
    );
    assert!(valid(&s));
}

#[test]
fn minus_infinity_both_ways() {
    let mut s = full_session();
    let r = resolve(&s, "strip/1/send/A1/level_db").unwrap();
    assert_eq!(set(&mut s, &r, &json!("-inf")).unwrap(), json!("-inf"));
    assert_eq!(s.strips[0].sends["A1"].level_db, f32::NEG_INFINITY);
    assert_eq!(get(&s, &r), json!("-inf"));
    assert_eq!(
        flatten(&s)
            .into_iter()
            .find(|(p, _)| *p == r.canonical)
            .unwrap()
            .1,
        json!("-inf")
    );
    let norm = Resolved {
        norm: true,
        ..r.clone()
    };
    assert_eq!(get(&s, &norm), json!(0.0));
    assert_eq!(set(&mut s, &r, &json!(-12)).unwrap(), json!(-12));
    let fader = resolve(&s, "bus/1/fader_db").unwrap();
    assert_eq!(set(&mut s, &fader, &json!("-inf")).unwrap(), json!("-inf"));
    assert!(valid(&s));
    assert_eq!(gain_json(-6.0), json!(-6));
    assert_eq!(gain_json(-0.1), json!(-0.1));
    assert_eq!(gain_json(f32::NEG_INFINITY), json!("-inf"));
}

#[test]
fn bad_values_get_their_codes_and_change_nothing() {
    let mut s = full_session();
    let e = set_err(&mut s, "strip/Tone/fader_db", json!(20));
    assert_eq!(e.code, ErrorCode::OutOfRange);
    assert_eq!(e.message, "strip/Tone/fader_db: 20 is outside -inf..=12 dB");
    let e = set_err(&mut s, "strip/1/fader_db", json!("inf"));
    assert_eq!(e.code, ErrorCode::OutOfRange, "{e}");
    assert!(e.message.contains("-inf"), "{e}");
    for word in ["+inf", "nan", "NaN", "Infinity"] {
        assert_eq!(
            set_err(&mut s, "strip/1/fader_db", json!(word)).code,
            ErrorCode::OutOfRange
        );
    }
    assert_eq!(
        set_err(&mut s, "strip/1/pan", json!("-inf")).code,
        ErrorCode::OutOfRange
    );
    let e = set_err(&mut s, "strip/1/pan", json!(2));
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::OutOfRange, "strip/Tone/pan: 2 is outside -1..=1")
    );
    let e = set_err(&mut s, "strip/1/eq/1/freq", json!(24000));
    assert_eq!(e.code, ErrorCode::OutOfRange);
    assert!(
        e.message.contains("Nyquist") && e.message.starts_with("strip/Tone/eq/1/freq"),
        "{e}"
    );
    assert_eq!(
        set_err(&mut s, "strip/1/eq/1/freq", json!(0)).code,
        ErrorCode::OutOfRange
    );
    assert_eq!(
        set_err(&mut s, "strip/1/eq/1/q", json!(0)).code,
        ErrorCode::OutOfRange
    );
    assert_eq!(
        set_err(&mut s, "strip/1/compressor/ratio", json!(0.5)).code,
        ErrorCode::OutOfRange
    );
    assert_eq!(
        set_err(&mut s, "strip/1/trim_db", json!(1e300)).code,
        ErrorCode::OutOfRange
    );
    let e = set_err(&mut s, "strip/1/gate/close_db", json!(-30));
    assert!(
        e.code == ErrorCode::OutOfRange && e.message.contains("open_db"),
        "{e}"
    );
    assert_eq!(
        set_err(&mut s, "strip/1/gate/open_db", json!(-60)).code,
        ErrorCode::OutOfRange
    );
    let e = set_err(&mut s, "strip/1/eq/1/slope", json!(1));
    assert!(
        e.code == ErrorCode::OutOfRange && e.message.contains("shelves"),
        "{e}"
    );
    assert_eq!(
        set_err(&mut s, "strip/1/eq/2/kind", json!("peak")).code,
        ErrorCode::OutOfRange
    );
    assert_eq!(
        set_err(&mut s, "strip/1/compressor/detector", json!("loud")).code,
        ErrorCode::OutOfRange
    );

    let e = set_err(&mut s, "strip/1/fader_db", json!("loud"));
    assert!(
        e.code == ErrorCode::WrongType && e.message.contains("a number or \"-inf\""),
        "{e}"
    );
    for (path, v) in [
        ("strip/1/fader_db", json!(true)),
        ("strip/1/fader_db", Value::Null),
        ("strip/1/fader_db", json!([1])),
        ("strip/1/mute", json!(1)),
        ("strip/1/mute", json!("true")),
        ("strip/1/compressor/detector", json!(1)),
        ("strip/1/eq/1/freq", Value::Null),
        ("strip/1/name", json!(3)),
        ("strip/1/fader_db/norm", json!("0.5")),
    ] {
        assert_eq!(
            set_err(&mut s, path, v.clone()).code,
            ErrorCode::WrongType,
            "{path} = {v}"
        );
    }
    assert_eq!(
        set_err(&mut s, "strip/1/fader_db/norm", json!(1.5)).code,
        ErrorCode::OutOfRange
    );
    assert_eq!(
        set_err(&mut s, "strip/1/fader_db/norm", json!(-0.1)).code,
        ErrorCode::OutOfRange
    );
}

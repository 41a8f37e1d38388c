//! Whatever a client sends, the namespace neither panics nor leaves an invalid session.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value, json};

use troubadour_engine::session::Session;

use super::super::*;
use super::{full_session, valid};

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("strip".to_string()),
        Just("bus".to_string()),
        Just("1".to_string()),
        Just("2".to_string()),
        Just("0".to_string()),
        Just("99999999999999999999".to_string()),
        Just("".to_string()),
        Just("norm".to_string()),
        Just("eq".to_string()),
        Just("send".to_string()),
        Just("gate".to_string()),
        Just("compressor".to_string()),
        Just("limiter".to_string()),
        Just("name".to_string()),
        Just("Tone".to_string()),
        Just("Noise".to_string()),
        Just("A1".to_string()),
        Just("B1".to_string()),
        Just("fader_db".to_string()),
        Just("level_db".to_string()),
        Just("freq".to_string()),
        Just("slope".to_string()),
        Just("open_db".to_string()),
        Just("{strip}".to_string()),
        "[a-z_]{1,10}",
        ".{0,4}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let words = [
        "-inf", "inf", "+inf", "nan", "rms", "peak", "lowshelf", "notch", "Tone", "Noise", "A1",
        "B1", "B 1", "", "12", "x/y",
    ];
    // Weighted towards values of the right shape, so many sets get past the type check
    // and the session is edited deep into odd corners.
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        3 => any::<bool>().prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<f64>()
            .prop_map(|x| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)),
        3 => (-100i64..100).prop_map(Value::from),
        4 => (-130.0f64..30_000.0).prop_map(Value::from),
        4 => (-1.5f64..1.5).prop_map(Value::from),
        3 => prop::sample::select(words.to_vec()).prop_map(Value::from),
        1 => ".{0,8}".prop_map(Value::from),
    ];
    let nested = leaf.clone().prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            inner.prop_map(|v| json!({ "value": v })),
        ]
    });
    prop_oneof![9 => leaf, 1 => nested]
}

/// Every settable path of `s`, names and the unset slope of band 1 included, in both
/// forms.
fn paths(s: &Session) -> Vec<String> {
    let mut out: Vec<String> = flatten(s).into_iter().map(|(p, _)| p).collect();
    for strip in &s.strips {
        out.push(format!("strip/{}/name", strip.name));
        out.push(format!("strip/{}/eq/1/slope", strip.name));
    }
    out.extend(s.buses.iter().map(|b| format!("bus/{}/name", b.name)));
    let norms: Vec<String> = out.iter().map(|p| format!("{p}/norm")).collect();
    out.extend(norms);
    out
}

proptest! {
    #[test]
    fn resolve_never_panics_on_any_string(path in ".{0,60}") {
        let _ = resolve(&full_session(), &path);
    }

    #[test]
    fn resolve_never_panics_on_path_shaped_strings(parts in prop::collection::vec(fragment(), 0..8)) {
        let s = full_session();
        let path = parts.join("/");
        if let Ok(r) = resolve(&s, &path) {
            // Whatever resolves reads back, and resolves again by its canonical path.
            let _ = get(&s, &r);
            let again = resolve(&s, &r.canonical).unwrap();
            prop_assert_eq!(again.template, r.template);
        }
    }

    #[test]
    fn sets_never_panic_and_never_break_the_session(
        edits in prop::collection::vec((any::<Index>(), json_value()), 1..12)
    ) {
        let mut s = full_session();
        for (pick, value) in edits {
            // Picked from the session as it is now, so renames keep every path reachable.
            let paths = paths(&s);
            let path = &paths[pick.index(paths.len())];
            // Only a band that is not there and a name's /norm form are refused.
            let r = match resolve(&s, path) {
                Ok(r) => r,
                Err(e) => {
                    prop_assert!(
                        path.contains("/eq/1/") || path.ends_with("name/norm"),
                        "{}: {}",
                        path,
                        e
                    );
                    continue;
                }
            };
            let before = s.clone();
            match set(&mut s, &r, &value) {
                Ok(stored) => {
                    let units = Resolved { norm: false, ..r.clone() };
                    prop_assert_eq!(&stored, &get(&s, &units));
                    prop_assert!(valid(&s), "{} = {} made the session invalid", path, value);
                }
                Err(_) => prop_assert_eq!(&s, &before),
            }
        }
    }
}

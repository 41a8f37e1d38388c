//! Renames through `…/name`, and what follows them.

use serde_json::json;

use super::super::*;
use super::{full_session, set_err, valid};

#[test]
fn renames_carry_sends_sidechains_and_scenes_along() {
    let mut s = full_session();
    let r = resolve(&s, "bus/2/name").unwrap();
    assert_eq!(
        set(&mut s, &r, &json!("Monitor")).unwrap(),
        json!("Monitor")
    );
    assert!(
        s.strips
            .iter()
            .all(|x| x.sends.contains_key("Monitor") && !x.sends.contains_key("B1"))
    );
    assert!(
        s.scenes[0]
            .values
            .contains_key("strip/Tone/send/Monitor/level_db")
    );
    assert_eq!(
        resolve(&s, "strip/1/send/Monitor/level_db")
            .unwrap()
            .canonical,
        "strip/Tone/send/Monitor/level_db"
    );

    let r = resolve(&s, "strip/Noise/name").unwrap();
    assert_eq!(
        set(&mut s, &r, &json!("Host mic")).unwrap(),
        json!("Host mic")
    );
    assert_eq!(
        s.strips[0]
            .compressor
            .as_ref()
            .unwrap()
            .sidechain
            .as_deref(),
        Some("Host mic")
    );
    assert!(s.scenes[0].values.contains_key("strip/Host mic/fader_db"));
    assert!(valid(&s));

    let r = resolve(&s, "strip/1/name").unwrap();
    assert_eq!(
        set_err(&mut s, "strip/1/name", json!("Host mic")).code,
        ErrorCode::Conflict
    );
    assert_eq!(
        set(&mut s, &r, &json!("Tone")).unwrap(),
        json!("Tone"),
        "its own name is no conflict"
    );
    for bad in ["", "  ", "12", "a/b", "tab\there"] {
        assert_eq!(
            set_err(&mut s, "strip/1/name", json!(bad)).code,
            ErrorCode::OutOfRange,
            "{bad:?}"
        );
    }
    // "A 1" would be rendered to A_1.wav like a bus called "A_1".
    let r = resolve(&s, "bus/1/name").unwrap();
    set(&mut s, &r, &json!("A_1")).unwrap();
    assert_eq!(
        set_err(&mut s, "bus/2/name", json!("A 1")).code,
        ErrorCode::Conflict
    );
}

//! `strip/<id>/player/…`: only strips with a file source have it; `loop` is the
//! session's, the transport paths are checked here and set on the running player.

use serde_json::json;
use troubadour_engine::session::Source;

use super::super::*;
use crate::api::ErrorCode;

fn with_file() -> Session {
    let mut s = Session::default_session();
    s.strips[1].source = Source::File {
        path: "bed.wav".into(),
        looped: true,
    };
    s
}

#[test]
fn loop_is_a_session_parameter_of_file_strips_only() {
    let mut s = with_file();
    let name = s.strips[1].name.clone();
    let r = resolve(&s, "strip/2/player/loop").unwrap();
    assert_eq!(r.canonical, format!("strip/{name}/player/loop"));
    assert_eq!(get(&s, &r), json!(true));
    assert_eq!(set(&mut s, &r, &json!(false)).unwrap(), json!(false));
    assert!(matches!(
        s.strips[1].source,
        Source::File { looped: false, .. }
    ));
    let norm = resolve(&s, "strip/2/player/loop/norm").unwrap();
    assert_eq!(set(&mut s, &norm, &json!(1)).unwrap(), json!(true));
    assert_eq!(
        set(&mut s, &r, &json!(1)).unwrap_err().code,
        ErrorCode::WrongType
    );
    // The other strip plays a generator: no player.
    for p in ["loop", "playing", "position_s", "length_s"] {
        let e = resolve(&s, &format!("strip/1/player/{p}")).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnknownPath, "{p}");
        assert!(e.message.contains("no player"), "{}", e.message);
    }
    assert_eq!(
        resolve(&s, "strip/2/player/speed").unwrap_err().code,
        ErrorCode::UnknownPath
    );
}

#[test]
fn transport_values_are_checked_and_length_is_read_only() {
    let s = with_file();
    let at = |p: &str| resolve(&s, &format!("strip/2/player/{p}")).unwrap();
    let playing = at("playing");
    assert!(playing.template.transport() && !playing.template.read_only());
    assert_eq!(
        transport_value(&s, &playing, &json!(false)).unwrap(),
        json!(false)
    );
    let norm = resolve(&s, "strip/2/player/playing/norm").unwrap();
    assert_eq!(
        transport_value(&s, &norm, &json!(0.9)).unwrap(),
        json!(true)
    );
    assert_eq!(
        transport_value(&s, &playing, &json!("yes"))
            .unwrap_err()
            .code,
        ErrorCode::WrongType
    );
    let position = at("position_s");
    assert_eq!(
        transport_value(&s, &position, &json!(2.5)).unwrap(),
        json!(2.5)
    );
    assert_eq!(
        transport_value(&s, &position, &json!(-1)).unwrap_err().code,
        ErrorCode::OutOfRange
    );
    assert!(resolve(&s, "strip/2/player/position_s/norm").is_err());
    let e = transport_value(&s, &at("length_s"), &json!(3)).unwrap_err();
    assert_eq!(e.code, ErrorCode::BadRequest);
    assert!(e.message.contains("read-only"), "{}", e.message);
    // The session holds none of them.
    assert_eq!(get(&s, &position), serde_json::Value::Null);
}

#[test]
fn flatten_has_loop_and_transport_paths_the_rest() {
    let s = with_file();
    let name = &s.strips[1].name;
    let flat: Vec<String> = flatten(&s).into_iter().map(|(p, _)| p).collect();
    assert!(flat.contains(&format!("strip/{name}/player/loop")));
    assert!(
        !flat
            .iter()
            .any(|p| p.contains("/player/") && !p.ends_with("/loop"))
    );
    assert_eq!(
        transport_paths(&s),
        ["playing", "position_s", "length_s"].map(|p| format!("strip/{name}/player/{p}"))
    );
    assert!(transport_paths(&Session::default_session()).is_empty());
    let schema = schema();
    let params = schema["params"].as_array().unwrap();
    let find = |p: &str| {
        params
            .iter()
            .find(|x| x["path"] == format!("strip/{{strip}}/player/{p}"))
            .unwrap_or_else(|| panic!("{p} not in the schema"))
    };
    assert_eq!(find("playing")["type"], "boolean");
    assert_eq!(find("playing")["transport"], true);
    assert_eq!(find("loop")["type"], "boolean");
    assert!(find("loop").get("transport").is_none());
    assert_eq!(find("position_s")["unit"], "s");
    assert_eq!(find("position_s")["min"], 0.0);
    assert_eq!(find("position_s")["glides"], false);
    assert_eq!(find("length_s")["read_only"], true);
}

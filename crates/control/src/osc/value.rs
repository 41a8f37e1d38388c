//! OSC arguments to the API's JSON values and back, guided by the parameter's template:
//! numbers as `f`, switches as `i 0/1`, choices and names as `s`, −∞ as `f -inf`.

use rosc::OscType;
use serde_json::Value;

use crate::namespace::{self, Template, ValueKind};

/// The template of a namespace path (without the leading slash; `…/norm` allowed), found
/// by its shape alone: which strip, bus or band it names is the control thread's to check.
pub(super) fn template_for(path: &str) -> Option<&'static Template> {
    let mut segs: Vec<&str> = path.split('/').collect();
    if segs.len() > 3 && segs.last() == Some(&"norm") {
        segs.pop();
    }
    let kind = *segs.first()?;
    if !matches!(kind, "strip" | "bus") || segs.len() < 3 {
        return None;
    }
    let id = if kind == "strip" { "{strip}" } else { "{bus}" };
    segs[1] = id;
    match segs.as_mut_slice() {
        ["strip", _, "send", bus, _, ..] => *bus = "{bus}",
        [_, _, "eq", band, _, ..] => *band = "{band}",
        _ => {}
    }
    let shape = segs.join("/");
    namespace::templates().find(|t| t.path == shape)
}

/// Whether a path is a `…/norm` form.
pub(super) fn is_norm(path: &str) -> bool {
    path.split('/').count() > 3 && path.ends_with("/norm")
}

/// A number as JSON as a person would have written it: an `f` of -6.0 is `-6`, of 0.1 is
/// `0.1` (not 0.10000000149…).
fn number(x: f64) -> Option<Value> {
    if !x.is_finite() {
        return None;
    }
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        return Some(Value::from(x as i64));
    }
    serde_json::Number::from_f64(x).map(Value::Number)
}

fn float(x: f32) -> Option<Value> {
    format!("{x}").parse::<f64>().ok().and_then(number)
}

/// The JSON value a set's one argument stands for, or why it cannot be one. A number
/// given to a switch is `true` when not zero; `T`/`F` given to a `/norm` form is 1/0.
pub(super) fn arg_to_json(
    arg: &OscType,
    template: Option<&Template>,
    norm: bool,
) -> Result<Value, String> {
    let switch = !norm && template.is_some_and(|t| t.kind == ValueKind::Bool);
    let numeric = match arg {
        OscType::Float(x) if x.is_infinite() => {
            return Ok(Value::from(if *x < 0.0 { "-inf" } else { "inf" }));
        }
        OscType::Double(x) if x.is_infinite() => {
            return Ok(Value::from(if *x < 0.0 { "-inf" } else { "inf" }));
        }
        OscType::Float(x) => float(*x),
        OscType::Double(x) => number(*x),
        OscType::Int(i) => Some(Value::from(*i)),
        OscType::Long(i) => Some(Value::from(*i)),
        OscType::Bool(b) if norm => return Ok(Value::from(u8::from(*b))),
        OscType::Bool(b) => return Ok(Value::Bool(*b)),
        OscType::String(s) => return Ok(Value::String(s.clone())),
        other => {
            return Err(format!(
                "takes a number, T/F or a string, not {}",
                type_name(other)
            ));
        }
    };
    let Some(n) = numeric else {
        return Err("takes a number, not NaN".into());
    };
    if switch {
        return Ok(Value::Bool(n.as_f64().is_some_and(|x| x != 0.0)));
    }
    Ok(n)
}

/// The argument that would set this value (`Nil` for none, such as an unset slope).
pub(super) fn json_to_arg(value: &Value, template: Option<&Template>, norm: bool) -> OscType {
    match value {
        Value::Bool(b) => OscType::Int(i32::from(*b)),
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN) as f32;
            // A switch's /norm is 0 or 1 and reads back as such; numbers are floats.
            match template {
                Some(t) if t.kind == ValueKind::Bool && !norm => OscType::Int(i32::from(x != 0.0)),
                _ => OscType::Float(x),
            }
        }
        Value::String(s) if s == "-inf" => OscType::Float(f32::NEG_INFINITY),
        Value::String(s) if s == "inf" => OscType::Float(f32::INFINITY),
        Value::String(s) => OscType::String(s.clone()),
        Value::Null => OscType::Nil,
        other => OscType::String(other.to_string()),
    }
}

/// The OSC type tag of an argument, for messages.
pub(super) fn type_name(arg: &OscType) -> &'static str {
    match arg {
        OscType::Int(_) => "an int (i)",
        OscType::Float(_) => "a float (f)",
        OscType::String(_) => "a string (s)",
        OscType::Blob(_) => "a blob (b)",
        OscType::Time(_) => "a time tag (t)",
        OscType::Long(_) => "an int64 (h)",
        OscType::Double(_) => "a double (d)",
        OscType::Char(_) => "a char (c)",
        OscType::Color(_) => "a colour (r)",
        OscType::Midi(_) => "a MIDI message (m)",
        OscType::Bool(_) => "a boolean (T/F)",
        OscType::Array(_) => "an array ([])",
        OscType::Nil => "nil (N)",
        OscType::Inf => "infinitum (I)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_are_found_by_shape() {
        assert_eq!(
            template_for("strip/Mic/fader_db").unwrap().path,
            "strip/{strip}/fader_db"
        );
        assert_eq!(
            template_for("strip/1/send/A1/level_db").unwrap().path,
            "strip/{strip}/send/{bus}/level_db"
        );
        assert_eq!(
            template_for("bus/A1/eq/2/freq/norm").unwrap().path,
            "bus/{bus}/eq/{band}/freq"
        );
        assert_eq!(
            template_for("strip/Mic/mute").unwrap().kind,
            ValueKind::Bool
        );
        assert!(template_for("strip/Mic").is_none());
        assert!(template_for("nope/x/y").is_none());
        assert!(template_for("").is_none());
    }

    #[test]
    fn arguments_become_the_api_values() {
        let fader = template_for("strip/1/fader_db");
        let mute = template_for("strip/1/mute");
        assert_eq!(
            arg_to_json(&OscType::Float(-6.0), fader, false),
            Ok(json!(-6))
        );
        assert_eq!(
            arg_to_json(&OscType::Float(0.1), fader, false),
            Ok(json!(0.1))
        );
        assert_eq!(
            arg_to_json(&OscType::Float(f32::NEG_INFINITY), fader, false),
            Ok(json!("-inf"))
        );
        assert_eq!(
            arg_to_json(&OscType::String("-inf".into()), fader, false),
            Ok(json!("-inf"))
        );
        assert_eq!(arg_to_json(&OscType::Int(1), mute, false), Ok(json!(true)));
        assert_eq!(
            arg_to_json(&OscType::Float(0.0), mute, false),
            Ok(json!(false))
        );
        assert_eq!(
            arg_to_json(&OscType::Bool(true), mute, false),
            Ok(json!(true))
        );
        assert_eq!(arg_to_json(&OscType::Bool(true), mute, true), Ok(json!(1)));
        assert!(arg_to_json(&OscType::Float(f32::NAN), fader, false).is_err());
        assert!(arg_to_json(&OscType::Blob(vec![1]), fader, false).is_err());
    }

    #[test]
    fn values_become_the_arguments_that_set_them() {
        let fader = template_for("strip/1/fader_db");
        let mute = template_for("strip/1/mute");
        assert_eq!(json_to_arg(&json!(-6), fader, false), OscType::Float(-6.0));
        assert_eq!(
            json_to_arg(&json!("-inf"), fader, false),
            OscType::Float(f32::NEG_INFINITY)
        );
        assert_eq!(json_to_arg(&json!(true), mute, false), OscType::Int(1));
        assert_eq!(json_to_arg(&json!(1), mute, true), OscType::Float(1.0));
        assert_eq!(
            json_to_arg(&json!("peak"), None, false),
            OscType::String("peak".into())
        );
        assert_eq!(json_to_arg(&Value::Null, None, false), OscType::Nil);
    }
}

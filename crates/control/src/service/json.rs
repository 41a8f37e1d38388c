//! The session as JSON with the session file's field names, and back: through TOML
//! values, so the names, defaults and checks are exactly the file's. JSON has no
//! infinities, so a gain of −∞ is the string `"-inf"` both ways.

use serde_json::{Map, Value};
use troubadour_engine::session::Session;

/// The session as JSON (`strip`, `bus`, `scene` arrays as in the file).
pub fn session_json(session: &Session) -> Value {
    match toml::Value::try_from(session) {
        Ok(v) => toml_to_json(&v),
        // Serialising plain data to TOML values cannot fail; an empty object is the
        // least wrong answer if it ever did.
        Err(_) => Value::Object(Map::new()),
    }
}

fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => float_json(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// A float for JSON: f32 fields widened to f64 print as -0.10000000149011612; their
/// shortest f32 spelling is what the user wrote.
fn float_json(f: f64) -> Value {
    if f.is_nan() {
        return Value::String("nan".into());
    }
    if f.is_infinite() {
        return Value::String(if f < 0.0 { "-inf" } else { "inf" }.into());
    }
    let narrow = f as f32;
    if f64::from(narrow) == f
        && let Ok(short) = narrow.to_string().parse::<f64>()
    {
        return serde_json::Number::from_f64(short).map_or(Value::Null, Value::Number);
    }
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// A JSON value (part of a session: a strip, a source, a compressor…) as a TOML value,
/// ready to deserialise into the model. `"-inf"` becomes −∞ where a level goes (keys
/// ending in `_db`), and nowhere else, so a name may still be `"-inf"`.
pub fn json_to_toml(v: &Value) -> Result<toml::Value, String> {
    convert(v, None)
}

fn convert(v: &Value, key: Option<&str>) -> Result<toml::Value, String> {
    Ok(match v {
        Value::Null => {
            return Err(format!(
                "{}: null is not a value here (leave the field out for its default)",
                key.unwrap_or("value")
            ));
        }
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) if !key.is_some_and(is_float_key) => toml::Value::Integer(i),
            (_, Some(f)) => toml::Value::Float(f),
            _ => return Err(format!("{}: {n} is not a number", key.unwrap_or("value"))),
        },
        Value::String(s) if key.is_some_and(|k| k.ends_with("_db")) && s == "-inf" => {
            toml::Value::Float(f64::NEG_INFINITY)
        }
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(a) => toml::Value::Array(
            a.iter()
                .map(|x| convert(x, key))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => {
            let mut t = toml::map::Map::new();
            for (k, x) in o {
                t.insert(k.clone(), convert(x, Some(k))?);
            }
            toml::Value::Table(t)
        }
    })
}

/// Fields that are floats in the model: a JSON `-6` must become `-6.0` for them,
/// while `channels = 2` stays an integer.
fn is_float_key(key: &str) -> bool {
    key.ends_with("_db")
        || key.ends_with("_ms")
        || matches!(key, "freq" | "q" | "slope" | "ratio" | "pan")
}

/// Deserialises a part of the session from JSON, with a message that says what was
/// wrong.
pub fn from_json<T: serde::de::DeserializeOwned>(what: &str, v: &Value) -> Result<T, String> {
    let t = json_to_toml(v).map_err(|e| format!("{what}: {e}"))?;
    t.try_into::<T>().map_err(|e| format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use troubadour_engine::session::{Source, Strip};

    #[test]
    fn the_state_has_the_file_names_and_minus_inf() {
        let mut s = Session::default_session();
        s.strips[0].fader_db = f32::NEG_INFINITY;
        s.strips[1].fader_db = -0.1;
        let j = session_json(&s);
        assert_eq!(j["strip"][0]["fader_db"], json!("-inf"));
        assert_eq!(j["strip"][1]["fader_db"], json!(-0.1));
        assert_eq!(j["strip"][0]["name"], json!("Tone"));
        assert_eq!(j["bus"][1]["name"], json!("B1"));
    }

    #[test]
    fn a_strip_comes_back_from_json() {
        let strip: Strip = from_json(
            "strip",
            &json!({"name": "Mic", "source": {"device": "system:capture_1"}, "channels": 1,
                    "fader_db": "-inf", "pan": 0, "sends": {"A1": {"level_db": -6}}}),
        )
        .unwrap();
        assert_eq!(strip.fader_db, f32::NEG_INFINITY);
        assert_eq!(strip.source, Source::Device("system:capture_1".into()));
        assert_eq!(strip.sends["A1"].level_db, -6.0);
        let e = from_json::<Strip>("strip", &json!({"name": "x"})).unwrap_err();
        assert!(e.contains("source"), "{e}");
    }
}

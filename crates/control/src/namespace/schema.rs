//! The templates as JSON, for clients that build their controls from them.

use serde_json::{Value, json};

use super::table::templates;
use super::template::{DefaultValue, Range, Taper, ValueKind};

fn bound(x: f64) -> Value {
    if x == f64::NEG_INFINITY {
        json!("-inf")
    } else {
        json!(x)
    }
}

/// Every template as JSON, for clients that build their controls from it.
pub fn schema() -> Value {
    let params: Vec<Value> = templates()
        .map(|t| {
            let (kind, values) = match t.kind {
                ValueKind::Number => ("number", None),
                ValueKind::Bool => ("boolean", None),
                ValueKind::Text => ("string", None),
                ValueKind::Enum(v) => ("enum", Some(v)),
            };
            let mut p = json!({
                "path": t.path,
                "type": kind,
                "unit": t.unit,
                "default": match t.default {
                    DefaultValue::Number(x) => json!(x),
                    DefaultValue::Bool(b) => json!(b),
                    DefaultValue::Text(s) => json!(s),
                    DefaultValue::None => Value::Null,
                },
                "taper": match t.taper {
                    Taper::Fader => "fader",
                    Taper::Linear => "linear",
                    Taper::Log => "log",
                    Taper::Toggle => "toggle",
                    Taper::Enum => "enum",
                    Taper::None => "none",
                },
                "neg_inf": t.neg_inf,
                "norm": t.has_norm(),
                "glides": t.glides(),
                "structural": t.structural,
            });
            if t.transport() {
                // Additions: a running player's state, not the session's.
                p["transport"] = json!(true);
                p["read_only"] = json!(t.read_only());
                p["note"] = json!(if t.read_only() {
                    "the file's length at the session's rate; only strips with a file source have it"
                } else if t.kind == ValueKind::Number {
                    "seconds from the file's start; a set seeks, clamped to length_s; not saved"
                } else {
                    "play (true) or pause; false once a file played once has reached its end; not saved"
                });
            }
            if t.kind == ValueKind::Number {
                p["min"] = bound(t.min);
                p["max"] = bound(t.max);
            }
            if let Some(v) = values {
                p["values"] = json!(v);
            }
            match t.range {
                Range::Closed => {}
                Range::AboveZero => {
                    p["note"] = json!("any value above 0 up to max; the norm taper starts at min")
                }
                Range::BelowNyquist => {
                    p["note"] = json!(
                        "above 0 and below half the sample rate; the norm taper spans min..max"
                    )
                }
            }
            p
        })
        .collect();
    json!({ "params": params })
}

//! The `/norm` forms: 0..1 onto a parameter's units and back, as faders, knobs, MIDI
//! CCs and OSC surfaces want them.

use serde_json::{Value, json};

use super::template::{Taper, Template, ValueKind};

/// The fader taper's breakpoints (norm, dB) above its -inf end: 0 dB sits at 0.75
/// like a console fader, most of the travel spent where people mix.
const FADER_POINTS: [(f64, f64); 6] = [
    (0.0, -90.0),
    (0.0625, -60.0),
    (0.25, -30.0),
    (0.5, -10.0),
    (0.75, 0.0),
    (1.0, 12.0),
];

fn fader_to_norm(db: f64) -> f64 {
    if db.is_nan() || db <= FADER_POINTS[0].1 {
        return 0.0;
    }
    for w in FADER_POINTS.windows(2) {
        let ((n0, d0), (n1, d1)) = (w[0], w[1]);
        if db <= d1 {
            return n0 + (db - d0) / (d1 - d0) * (n1 - n0);
        }
    }
    1.0
}

fn fader_from_norm(norm: f64) -> f64 {
    if norm <= 0.0 {
        return f64::NEG_INFINITY;
    }
    for w in FADER_POINTS.windows(2) {
        let ((n0, d0), (n1, d1)) = (w[0], w[1]);
        if norm <= n1 {
            return d0 + (norm - n0) / (n1 - n0) * (d1 - d0);
        }
    }
    FADER_POINTS[5].1
}

/// The log taper's span, shifted to start at 1 when the range starts at or below 0
/// (hold and look-ahead times may be 0).
fn log_span(t: &Template) -> (f64, f64, f64) {
    let offset = if t.min > 0.0 { 0.0 } else { 1.0 - t.min };
    (t.min + offset, t.max + offset, offset)
}

fn number_to_norm(t: &Template, x: f64) -> Option<f64> {
    if x.is_nan() {
        return None;
    }
    let norm = match t.taper {
        Taper::Fader => fader_to_norm(x),
        Taper::Linear => (x - t.min) / (t.max - t.min),
        Taper::Log => {
            let (lo, hi, offset) = log_span(t);
            ((x + offset).max(lo) / lo).ln() / (hi / lo).ln()
        }
        _ => return None,
    };
    Some(norm.clamp(0.0, 1.0))
}

/// A value in units as its 0..1 form; `None` for a parameter without one, or a value
/// of the wrong type.
pub fn to_norm(t: &Template, units: &Value) -> Option<f64> {
    match (t.kind, units) {
        (ValueKind::Number, Value::Number(n)) => number_to_norm(t, n.as_f64()?),
        (ValueKind::Number, Value::String(s)) if t.neg_inf && s == "-inf" => Some(0.0),
        (ValueKind::Bool, Value::Bool(b)) => Some(if *b { 1.0 } else { 0.0 }),
        (ValueKind::Enum(values), Value::String(s)) => {
            let i = values.iter().position(|v| v == s)?;
            Some(if values.len() > 1 {
                i as f64 / (values.len() - 1) as f64
            } else {
                0.0
            })
        }
        _ => None,
    }
}

/// A 0..1 value (clamped; NaN counts as 0) in units, as [`get`](super::get) would
/// show it: `"-inf"` for a fader at 0, `null` for a parameter without a norm form.
pub fn from_norm(t: &Template, norm: f64) -> Value {
    let norm = if norm.is_nan() {
        0.0
    } else {
        norm.clamp(0.0, 1.0)
    };
    match t.taper {
        Taper::Fader => {
            let db = fader_from_norm(norm);
            if db == f64::NEG_INFINITY {
                json!("-inf")
            } else {
                json!(db)
            }
        }
        Taper::Linear => json!(t.min + norm * (t.max - t.min)),
        Taper::Log => {
            let (lo, hi, offset) = log_span(t);
            let x = lo * (hi / lo).powf(norm) - offset;
            json!(x.clamp(t.min, t.max))
        }
        Taper::Toggle => json!(norm >= 0.5),
        Taper::Enum => match t.kind {
            ValueKind::Enum(values) if !values.is_empty() => {
                let i = (norm * (values.len() - 1) as f64).round() as usize;
                json!(values[i.min(values.len() - 1)])
            }
            _ => Value::Null,
        },
        Taper::None => Value::Null,
    }
}

//! Reading and writing the session field a resolved path names, with the checks the
//! session validator makes (ranges, Nyquist, gate hysteresis, shelf-only slopes).

use serde_json::{Value, json};
use troubadour_engine::session::{
    BusSend, Compressor, DetectorKind, EqBand, EqKind, Gate, Limiter, Session, Source,
};

use super::table::{DETECTORS, EQ_KINDS};
use super::template::{
    CompressorField, EqField, Field, GateField, LimiterField, PlayerField, Range, SendField,
    Template, ValueKind,
};
use super::{Kind, Resolved, gain_json, number_json, rename};
use crate::api::{ApiError, ErrorCode};

/// A session field, borrowed for reading (through a copy) or writing.
enum Slot<'a> {
    F32(&'a mut f32),
    F64(&'a mut f64),
    Bool(&'a mut bool),
    OptF64(&'a mut Option<f64>),
    EqKind(&'a mut EqKind),
    Detector(&'a mut DetectorKind),
}

/// A value checked against its template, not yet against the other fields.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Checked {
    Number(f64),
    Bool(bool),
    Choice(usize),
    Unset,
}

const EQ_KIND_ORDER: [EqKind; 8] = [
    EqKind::Peak,
    EqKind::Lowshelf,
    EqKind::Highshelf,
    EqKind::Lowpass,
    EqKind::Highpass,
    EqKind::Bandpass,
    EqKind::Notch,
    EqKind::Allpass,
];
const DETECTOR_ORDER: [DetectorKind; 2] = [DetectorKind::Rms, DetectorKind::Peak];

fn send_slot(s: &mut BusSend, f: SendField) -> Slot<'_> {
    match f {
        SendField::Level => Slot::F32(&mut s.level_db),
        SendField::On => Slot::Bool(&mut s.on),
        SendField::PreFader => Slot::Bool(&mut s.pre_fader),
    }
}

fn gate_slot(g: &mut Gate, f: GateField) -> Slot<'_> {
    Slot::F32(match f {
        GateField::Open => &mut g.open_db,
        GateField::Close => &mut g.close_db,
        GateField::Attack => &mut g.attack_ms,
        GateField::Hold => &mut g.hold_ms,
        GateField::Release => &mut g.release_ms,
        GateField::Range => &mut g.range_db,
    })
}

fn compressor_slot(c: &mut Compressor, f: CompressorField) -> Slot<'_> {
    match f {
        CompressorField::Threshold => Slot::F32(&mut c.threshold_db),
        CompressorField::Ratio => Slot::F32(&mut c.ratio),
        CompressorField::Attack => Slot::F32(&mut c.attack_ms),
        CompressorField::Release => Slot::F32(&mut c.release_ms),
        CompressorField::Knee => Slot::F32(&mut c.knee_db),
        CompressorField::Makeup => Slot::F32(&mut c.makeup_db),
        CompressorField::AutoMakeup => Slot::Bool(&mut c.auto_makeup),
        CompressorField::Detector => Slot::Detector(&mut c.detector),
        CompressorField::RmsMs => Slot::F32(&mut c.rms_ms),
    }
}

fn limiter_slot(l: &mut Limiter, f: LimiterField) -> Slot<'_> {
    Slot::F32(match f {
        LimiterField::Ceiling => &mut l.ceiling_db,
        LimiterField::Release => &mut l.release_ms,
        LimiterField::Lookahead => &mut l.lookahead_ms,
    })
}

fn eq_slot(b: &mut EqBand, f: EqField) -> Slot<'_> {
    match f {
        EqField::Kind => Slot::EqKind(&mut b.kind),
        EqField::Freq => Slot::F64(&mut b.freq),
        EqField::Q => Slot::F64(&mut b.q),
        EqField::Gain => Slot::F64(&mut b.gain_db),
        EqField::Slope => Slot::OptF64(&mut b.slope),
        EqField::On => Slot::Bool(&mut b.on),
    }
}

fn f64_json(x: f64) -> Value {
    number_json(x)
}

fn value_of(slot: Slot<'_>) -> Value {
    match slot {
        Slot::F32(x) => gain_json(*x),
        Slot::F64(x) => f64_json(*x),
        Slot::Bool(b) => json!(*b),
        Slot::OptF64(x) => x.map_or(Value::Null, f64_json),
        Slot::EqKind(k) => json!(EQ_KINDS[EQ_KIND_ORDER.iter().position(|o| o == k).unwrap_or(0)]),
        Slot::Detector(d) => {
            json!(DETECTORS[DETECTOR_ORDER.iter().position(|o| o == d).unwrap_or(0)])
        }
    }
}

/// The value at `r` in units; `None` if what it names is gone.
pub(super) fn read(session: &Session, r: &Resolved) -> Option<Value> {
    let field = r.template.field;
    Some(match r.kind {
        Kind::Strip => {
            let s = session.strips.get(r.index)?;
            match field {
                Field::Trim => gain_json(s.gain_db),
                Field::Fader => gain_json(s.fader_db),
                Field::Pan => gain_json(s.pan),
                Field::Mute => json!(s.mute),
                Field::Solo => json!(s.solo),
                Field::RecallSafe => json!(s.recall_safe),
                Field::Name => json!(s.name),
                Field::Send(f) => {
                    let mut send = *s.sends.get(&session.buses.get(r.sub)?.name)?;
                    value_of(send_slot(&mut send, f))
                }
                Field::Gate(f) => value_of(gate_slot(&mut s.gate?, f)),
                Field::Compressor(f) => value_of(compressor_slot(&mut s.compressor.clone()?, f)),
                Field::Eq(f) => value_of(eq_slot(&mut s.eq.get(r.sub).copied()?, f)),
                Field::Player(PlayerField::Loop) => match &s.source {
                    Source::File { looped, .. } => json!(looped),
                    _ => return None,
                },
                // The running player's, not the session's: the service reads them.
                Field::Limiter(_) | Field::Player(_) => return None,
            }
        }
        Kind::Bus => {
            let b = session.buses.get(r.index)?;
            match field {
                Field::Fader => gain_json(b.fader_db),
                Field::Mute => json!(b.mute),
                Field::RecallSafe => json!(b.recall_safe),
                Field::Name => json!(b.name),
                Field::Eq(f) => value_of(eq_slot(&mut b.eq.get(r.sub).copied()?, f)),
                Field::Compressor(f) => value_of(compressor_slot(&mut b.compressor.clone()?, f)),
                Field::Limiter(f) => value_of(limiter_slot(&mut b.limiter?, f)),
                _ => return None,
            }
        }
    })
}

/// A JSON value in words, for wrong-type messages.
pub(super) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn number_text(x: f64) -> String {
    if x == f64::NEG_INFINITY {
        "-inf".into()
    } else if x.abs() >= 1e9 {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

fn out_of_range(message: String) -> ApiError {
    ApiError::new(ErrorCode::OutOfRange, message)
}

fn wrong_type(message: String) -> ApiError {
    ApiError::new(ErrorCode::WrongType, message)
}

fn check_number(t: &Template, path: &str, v: &Value, sample_rate: u32) -> Result<f64, ApiError> {
    let unit = if t.unit.is_empty() || t.unit == "ratio" {
        String::new()
    } else {
        format!(" {}", t.unit)
    };
    let expected = if t.neg_inf {
        "a number or \"-inf\""
    } else {
        "a number"
    };
    let x = match v {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) if t.neg_inf && s == "-inf" => f64::NEG_INFINITY,
        Value::String(s) => {
            let word = s.trim().to_ascii_lowercase();
            let word = word.trim_start_matches(['+', '-']);
            if ["inf", "infinity", "nan"].contains(&word) {
                let only = if t.neg_inf {
                    "the only infinite value it takes is \"-inf\" (off)"
                } else {
                    "it takes only finite numbers"
                };
                return Err(out_of_range(format!(
                    "{path}: {s:?} is not a value it takes: {only}"
                )));
            }
            return Err(wrong_type(format!(
                "{path} takes {expected}, not {}",
                describe(v)
            )));
        }
        other => {
            return Err(wrong_type(format!(
                "{path} takes {expected}, not {}",
                describe(other)
            )));
        }
    };
    let shown = number_text(x);
    let ok = match t.range {
        Range::Closed => x >= t.min && x <= t.max,
        Range::AboveZero => x > 0.0 && x <= t.max,
        Range::BelowNyquist => {
            let nyquist = f64::from(sample_rate) / 2.0;
            if x > 0.0 && x >= nyquist {
                return Err(out_of_range(format!(
                    "{path}: {shown} Hz is not below the Nyquist frequency ({nyquist} Hz at the session's {sample_rate} Hz)"
                )));
            }
            x > 0.0
        }
    };
    if ok {
        return Ok(x);
    }
    Err(out_of_range(match t.range {
        Range::Closed => format!(
            "{path}: {shown} is outside {}..={}{unit}",
            number_text(t.min),
            number_text(t.max)
        ),
        Range::AboveZero => format!(
            "{path}: {shown} is outside the range (0, {}]{unit}: it must be above 0",
            number_text(t.max)
        ),
        Range::BelowNyquist => format!("{path}: {shown}{unit} is not a frequency above 0 Hz"),
    }))
}

/// `v` checked against the template alone, a read-only parameter refused.
pub(super) fn check_only(
    t: &Template,
    path: &str,
    v: &Value,
    sample_rate: u32,
) -> Result<Checked, ApiError> {
    if t.read_only() {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("{path} is read-only"),
        ));
    }
    check(t, path, v, sample_rate)
}

/// `v` checked against the template alone.
fn check(t: &Template, path: &str, v: &Value, sample_rate: u32) -> Result<Checked, ApiError> {
    match t.kind {
        ValueKind::Number if v.is_null() && t.default == super::DefaultValue::None => {
            Ok(Checked::Unset)
        }
        ValueKind::Number => check_number(t, path, v, sample_rate).map(Checked::Number),
        ValueKind::Bool => match v {
            Value::Bool(b) => Ok(Checked::Bool(*b)),
            other => Err(wrong_type(format!(
                "{path} takes true or false, not {}",
                describe(other)
            ))),
        },
        ValueKind::Enum(values) => match v {
            Value::String(s) => values
                .iter()
                .position(|x| x == s)
                .map(Checked::Choice)
                .ok_or_else(|| {
                    out_of_range(format!("{path}: {s:?} is not one of {}", values.join(", ")))
                }),
            other => Err(wrong_type(format!(
                "{path} takes a string, one of {}, not {}",
                values.join(", "),
                describe(other)
            ))),
        },
        ValueKind::Text => Err(wrong_type(format!(
            "{path} is not a number, switch or choice"
        ))),
    }
}

/// An f32 for a checked value, kept inside the range the validator checks in f64
/// (0.01 as an f32 is just below 0.01).
fn fit(t: &Template, x: f64) -> f32 {
    let y = x as f32;
    if f64::from(y) < t.min && y.is_finite() {
        y.next_up()
    } else if f64::from(y) > t.max && y.is_finite() {
        y.next_down()
    } else {
        y
    }
}

fn store(slot: Slot<'_>, t: &Template, path: &str, c: Checked) -> Result<(), ApiError> {
    match (slot, c) {
        (Slot::F32(x), Checked::Number(v)) => *x = fit(t, v),
        (Slot::F64(x), Checked::Number(v)) => *x = v,
        (Slot::OptF64(x), Checked::Number(v)) => *x = Some(v),
        (Slot::OptF64(x), Checked::Unset) => *x = None,
        (Slot::Bool(x), Checked::Bool(v)) => *x = v,
        (Slot::EqKind(x), Checked::Choice(i)) if i < EQ_KIND_ORDER.len() => *x = EQ_KIND_ORDER[i],
        (Slot::Detector(x), Checked::Choice(i)) if i < DETECTOR_ORDER.len() => {
            *x = DETECTOR_ORDER[i]
        }
        _ => {
            return Err(wrong_type(format!(
                "{path}: that value does not fit this parameter"
            )));
        }
    }
    Ok(())
}

fn shelf(kind: EqKind) -> bool {
    matches!(kind, EqKind::Lowshelf | EqKind::Highshelf)
}

/// Cross-field rules, checked on a copy with the new value in place.
fn check_gate(g: &Gate, path: &str) -> Result<(), ApiError> {
    if g.close_db > g.open_db {
        return Err(out_of_range(format!(
            "{path}: close_db ({}) must not be above open_db ({}): the gate closes below where it opens",
            gain_json(g.close_db),
            gain_json(g.open_db)
        )));
    }
    Ok(())
}

fn check_band(b: &EqBand, path: &str) -> Result<(), ApiError> {
    if b.slope.is_some() && !shelf(b.kind) {
        return Err(out_of_range(format!(
            "{path}: only shelves (lowshelf, highshelf) take a slope; set the slope to null first"
        )));
    }
    Ok(())
}

fn gone(path: &str) -> ApiError {
    ApiError::new(
        ErrorCode::UnknownPath,
        format!("{path}: what it names is no longer in the session"),
    )
}

/// Writes `v` (in units) at `r`, or changes nothing and says why.
pub(super) fn write(session: &mut Session, r: &Resolved, v: &Value) -> Result<(), ApiError> {
    let t = r.template;
    let path = r.canonical.as_str();
    if t.field == Field::Name {
        return rename::rename(session, r, v);
    }
    let c = check_only(t, path, v, session.sample_rate)?;
    match r.kind {
        Kind::Strip => {
            let s = session.strips.get_mut(r.index).ok_or_else(|| gone(path))?;
            let slot = match t.field {
                Field::Trim => Slot::F32(&mut s.gain_db),
                Field::Fader => Slot::F32(&mut s.fader_db),
                Field::Pan => Slot::F32(&mut s.pan),
                Field::Mute => Slot::Bool(&mut s.mute),
                Field::Solo => Slot::Bool(&mut s.solo),
                Field::RecallSafe => Slot::Bool(&mut s.recall_safe),
                Field::Send(f) => {
                    let bus = session.buses.get(r.sub).ok_or_else(|| gone(path))?;
                    let send = s.sends.get_mut(&bus.name).ok_or_else(|| gone(path))?;
                    send_slot(send, f)
                }
                Field::Gate(f) => {
                    let gate = s.gate.as_mut().ok_or_else(|| gone(path))?;
                    let mut copy = *gate;
                    store(gate_slot(&mut copy, f), t, path, c)?;
                    check_gate(&copy, path)?;
                    *gate = copy;
                    return Ok(());
                }
                Field::Compressor(f) => {
                    compressor_slot(s.compressor.as_mut().ok_or_else(|| gone(path))?, f)
                }
                Field::Eq(f) => return write_band(s.eq.get_mut(r.sub), f, t, path, c),
                Field::Player(PlayerField::Loop) => match &mut s.source {
                    Source::File { looped, .. } => Slot::Bool(looped),
                    _ => return Err(gone(path)),
                },
                // Checked above; the service sets them on the running player.
                Field::Player(_) => return Ok(()),
                Field::Name | Field::Limiter(_) => return Err(gone(path)),
            };
            store(slot, t, path, c)
        }
        Kind::Bus => {
            let b = session.buses.get_mut(r.index).ok_or_else(|| gone(path))?;
            let slot = match t.field {
                Field::Fader => Slot::F32(&mut b.fader_db),
                Field::Mute => Slot::Bool(&mut b.mute),
                Field::RecallSafe => Slot::Bool(&mut b.recall_safe),
                Field::Compressor(f) => {
                    compressor_slot(b.compressor.as_mut().ok_or_else(|| gone(path))?, f)
                }
                Field::Limiter(f) => limiter_slot(b.limiter.as_mut().ok_or_else(|| gone(path))?, f),
                Field::Eq(f) => return write_band(b.eq.get_mut(r.sub), f, t, path, c),
                _ => return Err(gone(path)),
            };
            store(slot, t, path, c)
        }
    }
}

fn write_band(
    band: Option<&mut EqBand>,
    f: EqField,
    t: &Template,
    path: &str,
    c: Checked,
) -> Result<(), ApiError> {
    let band = band.ok_or_else(|| gone(path))?;
    let mut copy = *band;
    store(eq_slot(&mut copy, f), t, path, c)?;
    check_band(&copy, path)?;
    *band = copy;
    Ok(())
}

//! The one parameter namespace every surface addresses: `strip/<id>/<param>` and
//! `bus/<id>/<param>`, where `<id>` is a name or a 1-based index (a name of only digits
//! is an invalid session, so digits always mean a position).
//!
//! ```
//! use troubadour_control::namespace;
//! use troubadour_engine::session::Session;
//!
//! let mut session = Session::default_session();
//! let r = namespace::resolve(&session, "strip/1/send/2/level_db").unwrap();
//! assert_eq!(r.canonical, "strip/Tone/send/B1/level_db");
//! assert_eq!(namespace::get(&session, &r), serde_json::json!(-6));
//!
//! let fader = namespace::resolve(&session, "strip/Tone/fader_db/norm").unwrap();
//! assert_eq!(namespace::set(&mut session, &fader, &serde_json::json!(0)).unwrap(), "-inf");
//! ```
//!
//! Values are in the session file's units (`"-inf"` for a fader or send that is off);
//! every parameter but `name` also has a `…/norm` form in 0..1 (see [`Taper`]).
//! A set checks what the session validator checks, so an accepted value never makes
//! the session invalid. Renames (`…/name`) refuse an invalid name with `out_of_range`
//! and a taken one with `conflict`; sends, sidechains and scene paths follow them.

mod access;
mod rename;
mod schema;
mod table;
mod taper;
mod template;
#[cfg(test)]
mod tests;

use serde_json::{Value, json};
use troubadour_engine::session::{MAX_EQ_BANDS, Session};

use crate::api::{ApiError, ErrorCode};
pub use schema::schema;
pub use table::templates;
use table::{
    BUS_COMPRESSOR, BUS_EQ, BUS_LIMITER, BUS_TOP, STRIP_COMPRESSOR, STRIP_EQ, STRIP_GATE,
    STRIP_PLAYER, STRIP_SEND, STRIP_TOP,
};
pub use taper::{from_norm, to_norm};
pub use template::{DefaultValue, Taper, Template, ValueKind};
use template::{Field, Range};

/// What a path addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An input strip.
    Strip,
    /// An output bus.
    Bus,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Strip => "strip",
            Kind::Bus => "bus",
        }
    }
}

/// A path checked against a session: which parameter of which strip or bus. It holds
/// indices, so it is good for the session it was resolved against; resolve again after
/// a structural edit (a strip or bus added, moved or removed).
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Strip or bus.
    pub kind: Kind,
    /// The strip's or bus's 0-based index.
    pub index: usize,
    /// The path with names, without `/norm`: `strip/Mic/send/A1/level_db`.
    pub canonical: String,
    /// The `/norm` form was asked for.
    pub norm: bool,
    /// The kind of parameter.
    pub template: &'static Template,
    /// The send's bus index, or the EQ band's 0-based index; 0 otherwise.
    sub: usize,
}

impl Resolved {
    /// The 0-based index of the bus a send parameter sends to.
    pub fn send_bus(&self) -> Option<usize> {
        matches!(self.template.field, Field::Send(_)).then_some(self.sub)
    }

    /// The 0-based index of the EQ band an `eq/…` parameter belongs to.
    pub fn band(&self) -> Option<usize> {
        matches!(self.template.field, Field::Eq(_)).then_some(self.sub)
    }
}

fn unknown(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::UnknownPath, message)
}

fn lookup(kind: Kind, names: &[&str], id: &str) -> Result<usize, ApiError> {
    let word = kind.word();
    let plural = if kind == Kind::Strip {
        "strips"
    } else {
        "buses"
    };
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        return match id.parse::<usize>() {
            Ok(n) if (1..=names.len()).contains(&n) => Ok(n - 1),
            _ => Err(ApiError::new(
                ErrorCode::NotFound,
                format!(
                    "there is no {word} {id}: the session has {} {plural}",
                    names.len()
                ),
            )),
        };
    }
    names.iter().position(|n| *n == id).ok_or_else(|| {
        let known = if names.is_empty() {
            "there are none".to_string()
        } else {
            names.join(", ")
        };
        ApiError::new(
            ErrorCode::NotFound,
            format!("no {word} called {id:?} ({plural}: {known})"),
        )
    })
}

/// The index of the strip `id` names (its name, or its 1-based position); a
/// `not_found` error naming it otherwise.
pub fn strip_index(session: &Session, id: &str) -> Result<usize, ApiError> {
    let names: Vec<&str> = session.strips.iter().map(|s| s.name.as_str()).collect();
    lookup(Kind::Strip, &names, id)
}

/// The index of the bus `id` names (its name, or its 1-based position); a `not_found`
/// error naming it otherwise.
pub fn bus_index(session: &Session, id: &str) -> Result<usize, ApiError> {
    let names: Vec<&str> = session.buses.iter().map(|b| b.name.as_str()).collect();
    lookup(Kind::Bus, &names, id)
}

/// A gain as JSON: `"-inf"`, or the number the f32 reads as (`-0.1`, not
/// `-0.10000000149011612`).
pub fn gain_json(db: f32) -> Value {
    if db == f32::NEG_INFINITY {
        return json!("-inf");
    }
    format!("{db}")
        .parse::<f64>()
        .map_or(Value::Null, number_json)
}

/// A number as JSON, integral values as integers (`-6`, not `-6.0`); `null` if not finite.
fn number_json(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

/// A template path with its placeholders filled in; names hold no '/', so segments
/// are replaced whole.
fn fill(path: &str, target: &str, bus: &str, band: usize) -> String {
    path.split('/')
        .enumerate()
        .map(|(i, seg)| match seg {
            _ if i == 1 => target.to_string(),
            "{bus}" => bus.to_string(),
            "{band}" => (band + 1).to_string(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn unknown_param(kind: Kind, label: &str, rest: &[&str]) -> ApiError {
    let prefix = format!("{0}/{{{0}}}/", kind.word());
    let suffixes: Vec<&str> = templates()
        .filter(|t| t.target() == kind)
        .filter_map(|t| t.path.strip_prefix(prefix.as_str()))
        .collect();
    let group = rest.first().copied().unwrap_or("");
    let fields: Vec<&str> = suffixes
        .iter()
        .filter(|s| s.starts_with(&format!("{group}/")))
        .filter_map(|s| s.rsplit('/').next())
        .collect();
    if !group.is_empty() && !fields.is_empty() {
        return unknown(format!(
            "{label} {group} has no parameter {:?}; its parameters: {}",
            rest[1..].join("/"),
            fields.join(", ")
        ));
    }
    let mut tops: Vec<String> = Vec::new();
    for s in &suffixes {
        let top = match s.split_once('/') {
            Some((head, _)) => format!("{head}/…"),
            None => s.to_string(),
        };
        if !tops.contains(&top) {
            tops.push(top);
        }
    }
    unknown(format!(
        "{label} has no parameter {:?}; its parameters: {}",
        rest.join("/"),
        tops.join(", ")
    ))
}

/// Checks `path` against `session`: the strip or bus, the parameter, and that the send,
/// band or processor it names exists. Every refusal is `unknown_path`.
pub fn resolve(session: &Session, path: &str) -> Result<Resolved, ApiError> {
    let mut segs: Vec<&str> = path.split('/').collect();
    let norm = segs.len() > 3 && segs.last() == Some(&"norm");
    if norm {
        segs.pop();
    }
    let kind = match segs[0] {
        "strip" => Kind::Strip,
        "bus" => Kind::Bus,
        _ => {
            return Err(unknown(format!(
                "{path:?}: a path starts with strip/<name or number>/ or bus/<name or number>/, like strip/1/fader_db"
            )));
        }
    };
    let (Some(id), Some(_)) = (segs.get(1), segs.get(2)) else {
        return Err(unknown(format!(
            "{path:?}: a path names a parameter after the {}, like {}/1/fader_db",
            kind.word(),
            kind.word()
        )));
    };
    let index = match kind {
        Kind::Strip => strip_index(session, id),
        Kind::Bus => bus_index(session, id),
    }
    .map_err(|e| unknown(e.message))?;
    let name = match kind {
        Kind::Strip => &session.strips[index].name,
        Kind::Bus => &session.buses[index].name,
    };
    let label = format!("{} {name:?}", kind.word());
    let rest = &segs[2..];
    // The placeholder form of the rest finds the template before any send or band is
    // looked up, so a misspelt field is reported as such.
    let mut shape: Vec<&str> = rest.to_vec();
    match shape.as_mut_slice() {
        ["send", bus, _, ..] if kind == Kind::Strip => *bus = "{bus}",
        ["eq", band, _, ..] => *band = "{band}",
        _ => {}
    }
    let template = table::find(&format!("{0}/{{{0}}}/{1}", kind.word(), shape.join("/")))
        .ok_or_else(|| unknown_param(kind, &label, rest))?;
    if norm && !template.has_norm() {
        return Err(unknown(format!(
            "{path:?}: {} has no /norm form",
            rest.join("/")
        )));
    }
    let mut sub = 0;
    let mut bus_name = "";
    match template.field {
        Field::Send(_) => {
            sub = bus_index(session, rest[1]).map_err(|e| unknown(e.message))?;
            bus_name = &session.buses[sub].name;
            if !session.strips[index].sends.contains_key(bus_name) {
                return Err(unknown(format!(
                    "{label} has no send to bus {bus_name:?}; add one with add_send"
                )));
            }
        }
        Field::Eq(_) => {
            let bands = match kind {
                Kind::Strip => session.strips[index].eq.len(),
                Kind::Bus => session.buses[index].eq.len(),
            };
            let band = match rest[1].parse::<usize>() {
                Ok(n)
                    if (1..=MAX_EQ_BANDS).contains(&n)
                        && rest[1].bytes().all(|b| b.is_ascii_digit()) =>
                {
                    n
                }
                _ => {
                    return Err(unknown(format!(
                        "{path:?}: EQ bands are numbered 1 to {MAX_EQ_BANDS}, not {:?}",
                        rest[1]
                    )));
                }
            };
            if band > bands {
                return Err(unknown(format!(
                    "{label} has {bands} EQ band{}, not {band}; add bands with set_processor",
                    if bands == 1 { "" } else { "s" }
                )));
            }
            sub = band - 1;
        }
        Field::Gate(_) | Field::Compressor(_) | Field::Limiter(_) => {
            let present = match (kind, template.field) {
                (Kind::Strip, Field::Gate(_)) => session.strips[index].gate.is_some(),
                (Kind::Strip, _) => session.strips[index].compressor.is_some(),
                (Kind::Bus, Field::Compressor(_)) => session.buses[index].compressor.is_some(),
                (Kind::Bus, _) => session.buses[index].limiter.is_some(),
            };
            if !present {
                return Err(unknown(format!(
                    "{label} has no {}; add one with set_processor",
                    rest[0]
                )));
            }
        }
        Field::Player(_) if !is_file(&session.strips[index]) => {
            return Err(unknown(format!(
                "{label} has no player: only a strip whose source is a file has {}",
                rest.join("/")
            )));
        }
        _ => {}
    }
    Ok(Resolved {
        kind,
        index,
        canonical: fill(template.path, name, bus_name, sub),
        norm,
        template,
        sub,
    })
}

/// The parameter's value in units, or in 0..1 for a `/norm` path. `null` when what
/// it names has gone since it was resolved (or a shelf's slope is unset).
pub fn get(session: &Session, r: &Resolved) -> Value {
    let units = access::read(session, r).unwrap_or(Value::Null);
    if r.norm {
        to_norm(r.template, &units).map_or(Value::Null, |n| json!(n))
    } else {
        units
    }
}

/// Sets the parameter (a `/norm` path takes 0..1). On success the session holds it and
/// the value stored is returned in units, as [`get`] shows it; on error nothing changed.
pub fn set(session: &mut Session, r: &Resolved, value: &Value) -> Result<Value, ApiError> {
    let units = units(session, r, value)?;
    access::write(session, r, &units)?;
    Ok(access::read(session, r).unwrap_or(Value::Null))
}

/// A value for `r` in units (a `/norm` value converted), not yet checked.
fn units(session: &Session, r: &Resolved, value: &Value) -> Result<Value, ApiError> {
    if !r.norm {
        return Ok(value.clone());
    }
    let norm = match value {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        other => {
            return Err(ApiError::new(
                ErrorCode::WrongType,
                format!(
                    "{}/norm takes a number from 0 to 1, not {}",
                    r.canonical,
                    access::describe(other)
                ),
            ));
        }
    };
    if !(0.0..=1.0).contains(&norm) {
        return Err(ApiError::new(
            ErrorCode::OutOfRange,
            format!("{}/norm: {norm} is outside 0..=1", r.canonical),
        ));
    }
    let mut units = from_norm(r.template, norm);
    if r.template.range == Range::BelowNyquist {
        // The taper's top may be at or above this session's Nyquist frequency.
        let below = f64::from(session.sample_rate) / 2.0 - 1.0;
        if units.as_f64().is_some_and(|hz| hz > below) && below > 0.0 {
            units = json!(below);
        }
    }
    Ok(units)
}

/// For a transport parameter ([`Template::transport`]): `value` (or its `/norm` form)
/// checked against its type and range and returned in units, for the caller to set on
/// the running player; refused with the namespace's codes otherwise (`length_s` is
/// read-only).
pub fn transport_value(session: &Session, r: &Resolved, value: &Value) -> Result<Value, ApiError> {
    let units = units(session, r, value)?;
    access::check_only(r.template, &r.canonical, &units, session.sample_rate)?;
    Ok(units)
}

fn entries(
    out: &mut Vec<(String, Value)>,
    session: &Session,
    kind: Kind,
    index: usize,
    group: &'static [Template],
    sub: usize,
    bus: &str,
) {
    let name = match kind {
        Kind::Strip => &session.strips[index].name,
        Kind::Bus => &session.buses[index].name,
    };
    for template in group {
        if template.field == Field::Name || template.transport() {
            continue;
        }
        let r = Resolved {
            kind,
            index,
            canonical: fill(template.path, name, bus, sub),
            norm: false,
            template,
            sub,
        };
        let value = get(session, &r);
        // An unset slope is no value a scene could hold.
        if !value.is_null() {
            out.push((r.canonical, value));
        }
    }
}

/// Every settable parameter but names, with canonical paths and values in units:
/// strips first, then buses, in mixer order; within one, signal order.
pub fn flatten(session: &Session) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (i, strip) in session.strips.iter().enumerate() {
        entries(&mut out, session, Kind::Strip, i, &STRIP_TOP, 0, "");
        if is_file(strip) {
            entries(&mut out, session, Kind::Strip, i, &STRIP_PLAYER, 0, "");
        }
        if strip.gate.is_some() {
            entries(&mut out, session, Kind::Strip, i, &STRIP_GATE, 0, "");
        }
        for band in 0..strip.eq.len() {
            entries(&mut out, session, Kind::Strip, i, &STRIP_EQ, band, "");
        }
        if strip.compressor.is_some() {
            entries(&mut out, session, Kind::Strip, i, &STRIP_COMPRESSOR, 0, "");
        }
        for (b, bus) in session.buses.iter().enumerate() {
            if strip.sends.contains_key(&bus.name) {
                entries(&mut out, session, Kind::Strip, i, &STRIP_SEND, b, &bus.name);
            }
        }
    }
    for (i, bus) in session.buses.iter().enumerate() {
        entries(&mut out, session, Kind::Bus, i, &BUS_TOP, 0, "");
        for band in 0..bus.eq.len() {
            entries(&mut out, session, Kind::Bus, i, &BUS_EQ, band, "");
        }
        if bus.compressor.is_some() {
            entries(&mut out, session, Kind::Bus, i, &BUS_COMPRESSOR, 0, "");
        }
        if bus.limiter.is_some() {
            entries(&mut out, session, Kind::Bus, i, &BUS_LIMITER, 0, "");
        }
    }
    out
}

fn is_file(strip: &troubadour_engine::session::Strip) -> bool {
    matches!(
        strip.source,
        troubadour_engine::session::Source::File { .. }
    )
}

/// The paths of the file players' transport state (`strip/<name>/player/playing`,
/// `…/position_s`, `…/length_s`), which [`flatten`] leaves out: they are the running
/// players', not the session's (no scene holds them, no file saves them).
pub fn transport_paths(session: &Session) -> Vec<String> {
    session
        .strips
        .iter()
        .filter(|s| is_file(s))
        .flat_map(|s| {
            STRIP_PLAYER
                .iter()
                .filter(|t| t.transport())
                .map(|t| fill(t.path, &s.name, "", 0))
        })
        .collect()
}

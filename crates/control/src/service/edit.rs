//! Structural edits: strips and buses added, removed, renamed, moved; sends added and
//! removed; sources, sinks and processors changed. Each builds the new session, which
//! the host validates and swaps in (restarting the backend if its ports change).

use serde_json::Value;
use troubadour_engine::session::{
    Bus, BusSend, Compressor, EqBand, Gate, Limiter, Session, Sink, Source, Strip,
};

use super::Service;
use super::dispatch::Change;
use super::json::from_json;
use crate::api::{ApiError, ErrorCode, Reply, Request};
use crate::namespace;

fn bad(message: String) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, message)
}

/// Where an item goes: 1-based `index` in a list of `len` (the end if absent).
fn position(index: Option<usize>, len: usize, what: &str) -> Result<usize, ApiError> {
    match index {
        None => Ok(len),
        Some(i) if (1..=len + 1).contains(&i) => Ok(i - 1),
        Some(i) => Err(ApiError::new(
            ErrorCode::OutOfRange,
            format!(
                "index: {i} is outside 1..={} (the {what}s are numbered from 1)",
                len + 1
            ),
        )),
    }
}

impl Service {
    pub(super) fn structural(&mut self, request: Request, origin: &str) -> Result<Reply, ApiError> {
        let mut s = self.host.controller().session().clone();
        let what = edit(&mut s, request)?;
        let seq = self.commit(s, origin, Change::Other(what.clone()))?;
        Ok(Reply::Done { seq, done: what })
    }
}

/// Applies one structural edit to `s`; returns what was done, in words.
fn edit(s: &mut Session, request: Request) -> Result<String, ApiError> {
    Ok(match request {
        Request::AddStrip { strip, index } => {
            let strip: Strip = from_json("strip", &strip).map_err(bad)?;
            if s.strip_index(&strip.name).is_some() {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!("a strip is already called {:?}", strip.name),
                ));
            }
            let at = position(index, s.strips.len(), "strip")?;
            let what = format!("added strip {:?} at {}", strip.name, at + 1);
            s.strips.insert(at, strip);
            what
        }
        Request::RemoveStrip { strip } => {
            let i = namespace::strip_index(s, &strip)?;
            let removed = s.strips.remove(i);
            // A compressor keyed by the strip would name nothing: it listens to itself.
            let mut freed = Vec::new();
            for other in &mut s.strips {
                if let Some(c) = other.compressor.as_mut()
                    && c.sidechain.as_deref() == Some(removed.name.as_str())
                {
                    c.sidechain = None;
                    freed.push(other.name.clone());
                }
            }
            let mut what = format!("removed strip {:?}", removed.name);
            if !freed.is_empty() {
                what.push_str(&format!(
                    "; the compressors of {} no longer key from it",
                    freed.join(", ")
                ));
            }
            what
        }
        Request::RenameStrip { strip, name } => {
            let i = namespace::strip_index(s, &strip)?;
            let old = s.strips[i].name.clone();
            rename(s, &format!("strip/{}/name", i + 1), &name)?;
            format!("renamed strip {old:?} to {name:?}")
        }
        Request::MoveStrip { strip, index } => {
            let i = namespace::strip_index(s, &strip)?;
            let to = position(Some(index), s.strips.len() - 1, "strip")?;
            let item = s.strips.remove(i);
            let what = format!("moved strip {:?} to {}", item.name, to + 1);
            s.strips.insert(to, item);
            what
        }
        Request::AddBus { bus, index } => {
            let bus: Bus = from_json("bus", &bus).map_err(bad)?;
            if s.bus_index(&bus.name).is_some() {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!("a bus is already called {:?}", bus.name),
                ));
            }
            let at = position(index, s.buses.len(), "bus")?;
            let what = format!("added bus {:?} at {}", bus.name, at + 1);
            s.buses.insert(at, bus);
            what
        }
        Request::RemoveBus { bus } => {
            let b = namespace::bus_index(s, &bus)?;
            let removed = s.buses.remove(b);
            let mut sends = 0;
            for strip in &mut s.strips {
                sends += usize::from(strip.sends.remove(&removed.name).is_some());
            }
            format!("removed bus {:?} and {sends} sends to it", removed.name)
        }
        Request::RenameBus { bus, name } => {
            let b = namespace::bus_index(s, &bus)?;
            let old = s.buses[b].name.clone();
            rename(s, &format!("bus/{}/name", b + 1), &name)?;
            format!("renamed bus {old:?} to {name:?}")
        }
        Request::MoveBus { bus, index } => {
            let b = namespace::bus_index(s, &bus)?;
            let to = position(Some(index), s.buses.len() - 1, "bus")?;
            let item = s.buses.remove(b);
            let what = format!("moved bus {:?} to {}", item.name, to + 1);
            s.buses.insert(to, item);
            what
        }
        Request::AddSend { strip, bus, send } => {
            let i = namespace::strip_index(s, &strip)?;
            let b = namespace::bus_index(s, &bus)?;
            let bus_name = s.buses[b].name.clone();
            let send: BusSend = match send {
                Some(v) => from_json("send", &v).map_err(bad)?,
                None => BusSend::default(),
            };
            let st = &mut s.strips[i];
            if st.sends.contains_key(&bus_name) {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!("strip {:?} already sends to bus {bus_name:?}", st.name),
                ));
            }
            st.sends.insert(bus_name.clone(), send);
            format!("added a send from strip {:?} to bus {bus_name:?}", st.name)
        }
        Request::RemoveSend { strip, bus } => {
            let i = namespace::strip_index(s, &strip)?;
            let b = namespace::bus_index(s, &bus)?;
            let bus_name = s.buses[b].name.clone();
            let st = &mut s.strips[i];
            if st.sends.remove(&bus_name).is_none() {
                return Err(ApiError::new(
                    ErrorCode::UnknownPath,
                    format!("strip {:?} has no send to bus {bus_name:?}", st.name),
                ));
            }
            format!(
                "removed the send from strip {:?} to bus {bus_name:?}",
                st.name
            )
        }
        Request::SetSource { strip, source } => {
            let i = namespace::strip_index(s, &strip)?;
            let source: Source = from_json("source", &source).map_err(bad)?;
            s.strips[i].source = source;
            format!("strip {:?} has a new source", s.strips[i].name)
        }
        Request::SetSink { bus, sink } => {
            let b = namespace::bus_index(s, &bus)?;
            let sink: Option<Sink> = match sink {
                Some(v) => Some(from_json("sink", &v).map_err(bad)?),
                None => None,
            };
            s.buses[b].sink = sink;
            format!("bus {:?} has a new sink", s.buses[b].name)
        }
        Request::SetProcessor {
            target,
            processor,
            settings,
        } => set_processor(s, &target, &processor, settings.as_ref())?,
        other => {
            return Err(ApiError::new(
                ErrorCode::UnknownOp,
                format!("{other:?} is not a structural edit"),
            ));
        }
    })
}

fn rename(s: &mut Session, path: &str, name: &str) -> Result<(), ApiError> {
    let r = namespace::resolve(s, path)?;
    namespace::set(s, &r, &Value::String(name.to_string()))?;
    Ok(())
}

fn set_processor(
    s: &mut Session,
    target: &str,
    processor: &str,
    settings: Option<&Value>,
) -> Result<String, ApiError> {
    let (kind, id) = target.split_once('/').ok_or_else(|| {
        bad(format!(
            "target {target:?}: write strip/<name or index> or bus/<name or index>"
        ))
    })?;
    let parse =
        |what: &str| -> Result<_, ApiError> { Ok(settings.map(|v| (what.to_string(), v.clone()))) };
    let what = match (kind, processor) {
        ("strip", "gate") => {
            let i = namespace::strip_index(s, id)?;
            s.strips[i].gate = parse("gate")?
                .map(|(w, v)| from_json::<Gate>(&w, &v))
                .transpose()
                .map_err(bad)?;
            &s.strips[i].name
        }
        ("strip", "compressor") => {
            let i = namespace::strip_index(s, id)?;
            s.strips[i].compressor = parse("compressor")?
                .map(|(w, v)| from_json::<Compressor>(&w, &v))
                .transpose()
                .map_err(bad)?;
            &s.strips[i].name
        }
        ("strip", "eq") => {
            let i = namespace::strip_index(s, id)?;
            s.strips[i].eq = parse("eq")?
                .map(|(w, v)| from_json::<Vec<EqBand>>(&w, &v))
                .transpose()
                .map_err(bad)?
                .unwrap_or_default();
            &s.strips[i].name
        }
        ("bus", "compressor") => {
            let b = namespace::bus_index(s, id)?;
            s.buses[b].compressor = parse("compressor")?
                .map(|(w, v)| from_json::<Compressor>(&w, &v))
                .transpose()
                .map_err(bad)?;
            &s.buses[b].name
        }
        ("bus", "limiter") => {
            let b = namespace::bus_index(s, id)?;
            s.buses[b].limiter = parse("limiter")?
                .map(|(w, v)| from_json::<Limiter>(&w, &v))
                .transpose()
                .map_err(bad)?;
            &s.buses[b].name
        }
        ("bus", "eq") => {
            let b = namespace::bus_index(s, id)?;
            s.buses[b].eq = parse("eq")?
                .map(|(w, v)| from_json::<Vec<EqBand>>(&w, &v))
                .transpose()
                .map_err(bad)?
                .unwrap_or_default();
            &s.buses[b].name
        }
        ("strip" | "bus", _) => {
            return Err(ApiError::new(
                ErrorCode::UnknownPath,
                format!(
                    "a {kind} has no processor {processor:?}: strips have gate, compressor and eq; buses compressor, limiter and eq"
                ),
            ));
        }
        _ => {
            return Err(bad(format!(
                "target {target:?}: write strip/<name or index> or bus/<name or index>"
            )));
        }
    };
    Ok(match settings {
        Some(_) => format!("{kind} {what:?} has a new {processor}"),
        None => format!("{kind} {what:?} has no {processor} now"),
    })
}

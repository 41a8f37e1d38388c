//! [`merge`](super::merge): the three sessions as TOML value trees, merged leaf by
//! leaf. A key absent from a tree is at its default (the serialization skips most
//! defaults), so "absent" is a value like any other and an edit that resets a field
//! to its default is a change like any other.

use std::path::Path;

use toml::Value;
use troubadour_engine::session::{self, Session};

pub(super) fn merge(base: &Session, edited: &Session, ours: &Session) -> Session {
    let (Ok(b), Ok(e), Ok(o)) = (
        Value::try_from(base),
        Value::try_from(edited),
        Value::try_from(ours),
    ) else {
        return edited.clone();
    };
    let Some(merged) = merge_opt(Some(&b), Some(&e), Some(&o)) else {
        return edited.clone();
    };
    match merged.try_into::<Session>() {
        Ok(s) if valid(&s) => s,
        Ok(mut s) => {
            // A remote change may name what the edit removed (a send to a deleted
            // bus, a sidechain from a deleted strip): those go, the rest is kept.
            drop_dangling(&mut s);
            if valid(&s) { s } else { edited.clone() }
        }
        Err(_) => edited.clone(),
    }
}

/// Removes sends to buses and sidechains from strips that are not there.
fn drop_dangling(s: &mut Session) {
    let buses: Vec<String> = s.buses.iter().map(|b| b.name.clone()).collect();
    let strips: Vec<String> = s.strips.iter().map(|x| x.name.clone()).collect();
    for strip in &mut s.strips {
        strip.sends.retain(|bus, _| buses.contains(bus));
        if let Some(c) = strip.compressor.as_mut()
            && c.sidechain.as_ref().is_some_and(|k| !strips.contains(k))
        {
            c.sidechain = None;
        }
    }
}

/// Validation as a live mixer does it, with no file to locate problems in: a missing
/// source file is only a warning there, so no path is needed to resolve it.
fn valid(s: &Session) -> bool {
    session::validate_live(s, Path::new(""), Path::new(".")).is_ok()
}

/// One value, present or not in each of the three.
fn merge_opt(b: Option<&Value>, e: Option<&Value>, o: Option<&Value>) -> Option<Value> {
    if e == b {
        return o.cloned();
    }
    if o == b || e == o {
        return e.cloned();
    }
    // Both changed it: look inside if it is a container, else the edit wins.
    match (b, e, o) {
        (Some(Value::Table(bt)), Some(Value::Table(et)), Some(Value::Table(ot))) => {
            let mut out = toml::Table::new();
            let keys = et.keys().chain(ot.keys().filter(|k| !et.contains_key(*k)));
            for k in keys {
                if let Some(v) = merge_opt(bt.get(k), et.get(k), ot.get(k)) {
                    out.insert(k.clone(), v);
                }
            }
            Some(Value::Table(out))
        }
        (Some(Value::Array(ba)), Some(Value::Array(ea)), Some(Value::Array(oa))) => {
            Some(Value::Array(merge_arrays(ba, ea, oa)))
        }
        _ => e.cloned(),
    }
}

fn merge_arrays(b: &[Value], e: &[Value], o: &[Value]) -> Vec<Value> {
    let named = |a: &[Value]| a.iter().all(|v| name_of(v).is_some());
    if named(b) && named(e) && named(o) {
        return merge_named(b, e, o);
    }
    if b.len() == e.len() && e.len() == o.len() {
        return b
            .iter()
            .zip(e)
            .zip(o)
            .filter_map(|((b, e), o)| merge_opt(Some(b), Some(e), Some(o)))
            .collect();
    }
    e.to_vec()
}

/// Strips, buses or scenes: the edit's list in the edit's order, each merged with its
/// namesakes, then the ones only `ours` has, each after its predecessor in `ours`.
fn merge_named(b: &[Value], e: &[Value], o: &[Value]) -> Vec<Value> {
    let find = |a: &'_ [Value], n: &str| a.iter().find(|v| name_of(v) == Some(n)).cloned();
    let mut out: Vec<Value> = e
        .iter()
        .filter_map(|ev| {
            let n = name_of(ev)?;
            merge_opt(find(b, n).as_ref(), Some(ev), find(o, n).as_ref())
        })
        .collect();
    for (k, ov) in o.iter().enumerate() {
        let Some(n) = name_of(ov) else { continue };
        if find(b, n).is_some() || find(e, n).is_some() {
            continue;
        }
        let at = o[..k]
            .iter()
            .rev()
            .find_map(|p| out.iter().position(|v| name_of(v) == name_of(p)))
            .map_or(0, |i| i + 1);
        out.insert(at, ov.clone());
    }
    out
}

fn name_of(v: &Value) -> Option<&str> {
    v.as_table()?.get("name")?.as_str()
}

//! Renaming a strip or bus through its `name` parameter. What refers to it by name
//! follows: sends (`strip.sends` keys) a bus rename, compressor sidechains a strip
//! rename, and the paths scenes, MIDI mappings and macros store both.

use serde_json::Value;
use troubadour_engine::session::Session;

use super::access::describe;
use super::{Kind, Resolved};
use crate::api::{ApiError, ErrorCode};

/// The validator's naming rules, as `out_of_range` errors naming the path.
fn check_name(kind: &str, path: &str, name: &str) -> Result<(), ApiError> {
    let problem = if name.trim().is_empty() {
        Some(format!("a {kind} needs a name that is not blank"))
    } else if let Some(c) = name.chars().find(|c| c.is_control()) {
        Some(format!(
            "a {kind} name cannot contain control characters (U+{:04X})",
            u32::from(c)
        ))
    } else if name.chars().all(|c| c.is_ascii_digit()) {
        Some(format!(
            "a {kind} name cannot be only digits ({name:?}): paths take digits as a {kind}'s position"
        ))
    } else if name.contains('/') {
        Some(format!(
            "a {kind} name cannot contain '/' ({name:?}): it separates the parts of a path"
        ))
    } else {
        None
    };
    match problem {
        Some(p) => Err(ApiError::new(ErrorCode::OutOfRange, format!("{path}: {p}"))),
        None => Ok(()),
    }
}

fn taken(path: &str, message: String) -> ApiError {
    ApiError::new(ErrorCode::Conflict, format!("{path}: {message}"))
}

/// A scene's path after a rename, or `None` if the rename does not touch it.
fn renamed_path(key: &str, kind: Kind, old: &str, new: &str) -> Option<String> {
    let mut segs: Vec<&str> = key.split('/').collect();
    let mut hit = false;
    match kind {
        Kind::Strip if segs.first() == Some(&"strip") && segs.get(1) == Some(&old) => {
            segs[1] = new;
            hit = true;
        }
        Kind::Bus if segs.first() == Some(&"bus") && segs.get(1) == Some(&old) => {
            segs[1] = new;
            hit = true;
        }
        Kind::Bus
            if segs.first() == Some(&"strip")
                && segs.get(2) == Some(&"send")
                && segs.get(3) == Some(&old) =>
        {
            segs[3] = new;
            hit = true;
        }
        _ => {}
    }
    hit.then(|| segs.join("/"))
}

fn rename_in_scenes(session: &mut Session, kind: Kind, old: &str, new: &str) {
    // MIDI targets and macro sets name paths too.
    let paths = session.midi.iter_mut().map(|m| &mut m.target).chain(
        session
            .macros
            .iter_mut()
            .flat_map(|m| m.actions.iter_mut().filter_map(|a| a.set.as_mut())),
    );
    for path in paths {
        if let Some(to) = renamed_path(path, kind, old, new) {
            *path = to;
        }
    }
    for scene in &mut session.scenes {
        let keys: Vec<String> = scene
            .values
            .keys()
            .filter(|k| renamed_path(k, kind, old, new).is_some())
            .cloned()
            .collect();
        for key in keys {
            if let (Some(value), Some(to)) = (
                scene.values.remove(&key),
                renamed_path(&key, kind, old, new),
            ) {
                scene.values.insert(to, value);
            }
        }
    }
}

/// Sets the name of the strip or bus `r` names.
pub(super) fn rename(session: &mut Session, r: &Resolved, v: &Value) -> Result<(), ApiError> {
    let path = r.canonical.as_str();
    let Value::String(new) = v else {
        return Err(ApiError::new(
            ErrorCode::WrongType,
            format!("{path} takes a string, not {}", describe(v)),
        ));
    };
    let gone = || {
        ApiError::new(
            ErrorCode::UnknownPath,
            format!("{path}: what it names is no longer in the session"),
        )
    };
    match r.kind {
        Kind::Strip => {
            check_name("strip", path, new)?;
            let old = session.strips.get(r.index).ok_or_else(gone)?.name.clone();
            if old == *new {
                return Ok(());
            }
            if session.strips.iter().any(|s| s.name == *new) {
                return Err(taken(
                    path,
                    format!("there is a strip called {new:?} already"),
                ));
            }
            session.strips[r.index].name = new.clone();
            for strip in &mut session.strips {
                if let Some(c) = &mut strip.compressor
                    && c.sidechain.as_deref() == Some(old.as_str())
                {
                    c.sidechain = Some(new.clone());
                }
            }
            rename_in_scenes(session, Kind::Strip, &old, new);
        }
        Kind::Bus => {
            check_name("bus", path, new)?;
            let bus = session.buses.get(r.index).ok_or_else(gone)?;
            let old = bus.name.clone();
            if old == *new {
                return Ok(());
            }
            if session.buses.iter().any(|b| b.name == *new) {
                return Err(taken(
                    path,
                    format!("there is a bus called {new:?} already"),
                ));
            }
            // A render writes each bus to a file named after it: two buses must not
            // end up with one file.
            let mut renamed = bus.clone();
            renamed.name = new.clone();
            let file = renamed.output_file_name();
            if let Some(other) = session
                .buses
                .iter()
                .enumerate()
                .find(|(i, b)| *i != r.index && b.output_file_name() == file)
            {
                return Err(taken(
                    path,
                    format!(
                        "bus {:?} would be rendered to {} like bus {:?}",
                        new,
                        file.to_string_lossy(),
                        other.1.name
                    ),
                ));
            }
            session.buses[r.index].name = new.clone();
            for strip in &mut session.strips {
                if let Some(send) = strip.sends.remove(&old) {
                    strip.sends.insert(new.clone(), send);
                }
            }
            rename_in_scenes(session, Kind::Bus, &old, new);
        }
    }
    Ok(())
}

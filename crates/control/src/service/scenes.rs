//! Scenes: the mix saved under a name (every parameter's value by path, kept in the
//! session file), recalled at once or with a crossfade in which every level, frequency
//! and time glides along its fader taper while switches change at the start. Strips and
//! buses marked `recall_safe` are left alone.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use troubadour_engine::session::{Scene, SceneValue, Session};

use super::Service;
use super::dispatch::Change;
use crate::api::{ApiError, ErrorCode, Reply};
use crate::event::Outgoing;
use crate::namespace::{self, Kind};

/// The longest crossfade: ten minutes.
const MAX_FADE_MS: f64 = 600_000.0;

/// Change events of a glide go out at most this often (the audio side gets every
/// step): a client redraws a moving fader smoothly without being flooded.
const FADE_EVENT_EVERY: Duration = Duration::from_millis(50);

/// A crossfade in progress.
#[derive(Debug)]
pub struct Fade {
    scene: String,
    start: Instant,
    duration: Duration,
    glides: Vec<Glide>,
    origin: String,
    next_events: Instant,
    /// The recall's undo step.
    step: Option<u64>,
}

/// One parameter a fade moves.
#[derive(Debug)]
struct Glide {
    path: String,
    /// Normalised start and end.
    from: f64,
    to: f64,
    /// The value last told to subscribers.
    told: Option<Value>,
}

impl Fade {
    /// A client (or a hand edit) set this path: it is no longer the fade's to move.
    pub fn forget(&mut self, path: &str) {
        self.glides.retain(|g| g.path != path);
    }
}

fn scene_value(v: &Value) -> Option<SceneValue> {
    match v {
        Value::Bool(b) => Some(SceneValue::Bool(*b)),
        Value::Number(n) => n.as_f64().map(SceneValue::Number),
        Value::String(s) if s == "-inf" => Some(SceneValue::Number(f64::NEG_INFINITY)),
        Value::String(s) => Some(SceneValue::Text(s.clone())),
        _ => None,
    }
}

fn json_value(v: &SceneValue) -> Value {
    match v {
        SceneValue::Bool(b) => json!(b),
        SceneValue::Number(n) if n.is_infinite() && *n < 0.0 => json!("-inf"),
        SceneValue::Number(n) => json!(n),
        SceneValue::Text(s) => json!(s),
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.chars().any(char::is_control) || name.len() > 200 {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("scene name {name:?}: it needs 1 to 200 characters and no control characters"),
        ));
    }
    Ok(())
}

/// Whether the strip or bus a resolved path belongs to is `recall_safe`.
fn safe(s: &Session, r: &namespace::Resolved) -> bool {
    match r.kind {
        Kind::Strip => s.strips[r.index].recall_safe,
        Kind::Bus => s.buses[r.index].recall_safe,
    }
}

impl Service {
    pub(super) fn scene_save(&mut self, name: &str, origin: &str) -> Result<Reply, ApiError> {
        check_name(name)?;
        let mut s = self.host.controller().session().clone();
        let values = namespace::flatten(&s)
            .into_iter()
            .filter(|(p, _)| !p.ends_with("/recall_safe"))
            .filter_map(|(p, v)| scene_value(&v).map(|v| (p, v)))
            .collect();
        let scene = Scene {
            name: name.to_string(),
            values,
        };
        let what = match s.scenes.iter_mut().find(|x| x.name == name) {
            Some(existing) => {
                *existing = scene;
                format!("scene {name:?} saved again")
            }
            None => {
                s.scenes.push(scene);
                format!("scene {name:?} saved")
            }
        };
        let seq = self.commit(s, origin, Change::Other(what.clone()))?;
        Ok(Reply::Done { seq, done: what })
    }

    pub(super) fn scene_delete(&mut self, name: &str, origin: &str) -> Result<Reply, ApiError> {
        let mut s = self.host.controller().session().clone();
        let before = s.scenes.len();
        s.scenes.retain(|x| x.name != name);
        if s.scenes.len() == before {
            return Err(not_found(name, &s));
        }
        let what = format!("scene {name:?} deleted");
        let seq = self.commit(s, origin, Change::Other(what.clone()))?;
        Ok(Reply::Done { seq, done: what })
    }

    pub(super) fn scene_recall(
        &mut self,
        name: &str,
        fade_ms: f64,
        origin: &str,
    ) -> Result<Reply, ApiError> {
        let mut new = self.host.controller().session().clone();
        let recall = plan_recall(&mut new, name, fade_ms)?;
        let what = recall.what.clone();
        let seq = self.commit(new, origin, Change::Other(what.clone()))?;
        self.start_fade(recall, origin);
        Ok(Reply::Done { seq, done: what })
    }

    /// Starts a recall's glides, if it has any, as part of the undo step just recorded.
    pub(super) fn start_fade(&mut self, recall: Recall, origin: &str) {
        self.fade = (!recall.glides.is_empty()).then(|| Fade {
            scene: recall.scene,
            start: Instant::now(),
            duration: Duration::from_secs_f64(recall.fade_ms / 1e3),
            glides: recall.glides,
            origin: origin.to_string(),
            next_events: Instant::now(),
            step: self.history.last_id(),
        });
    }

    /// One step of the crossfade in progress, if any.
    pub(super) fn step_fade(&mut self) {
        let Some(fade) = self.fade.as_mut() else {
            return;
        };
        let now = Instant::now();
        let x = if fade.duration.is_zero() {
            1.0
        } else {
            (now.duration_since(fade.start).as_secs_f64() / fade.duration.as_secs_f64()).min(1.0)
        };
        let done = x >= 1.0;
        let mut new = self.host.controller().session().clone();
        let mut stored = Vec::with_capacity(fade.glides.len());
        fade.glides.retain(|g| {
            let Ok(r) = namespace::resolve(&new, &g.path) else {
                return false;
            };
            let value = namespace::from_norm(r.template, g.from + (g.to - g.from) * x);
            match namespace::set(&mut new, &r, &value) {
                Ok(v) => {
                    stored.push(v);
                    true
                }
                Err(_) => false,
            }
        });
        // Every value came through the namespace's checks.
        match self.host.apply_parameters(new) {
            Ok(_) => {}
            // A full queue: the next step tries again, further along.
            Err(troubadour_engine::ControlError::QueueFull(_)) => return,
            Err(e) => {
                tracing::warn!("scene {:?}: the fade stopped: {e}", fade.scene);
                self.fade = None;
                return;
            }
        }
        if done || now >= fade.next_events {
            fade.next_events = now + FADE_EVENT_EVERY;
            // Only what the fade moves, and only what moved since it was last told.
            let mut events = Vec::new();
            for (g, v) in fade.glides.iter_mut().zip(stored) {
                if g.told.as_ref() != Some(&v) {
                    events.push((g.path.clone(), v.clone()));
                    g.told = Some(v);
                }
            }
            let origin = fade.origin.clone();
            for (path, value) in events {
                self.seq += 1;
                self.broadcast(Outgoing::changed(self.seq, &path, &value, &origin));
            }
        }
        if done {
            let Some(fade) = self.fade.take() else {
                return;
            };
            if let Some(step) = fade.step {
                let finals: Vec<(String, Value)> = fade
                    .glides
                    .iter()
                    .filter_map(|g| Some((g.path.clone(), g.told.clone()?)))
                    .collect();
                self.history.amend_fade(step, |s| {
                    for (path, value) in &finals {
                        if let Ok(r) = namespace::resolve(s, path) {
                            let _ = namespace::set(s, &r, value);
                        }
                    }
                });
            }
            self.broadcast(Outgoing::status(json!({
                "event": "scene_faded",
                "message": format!("scene {:?}: fade complete", fade.scene),
                "scene": fade.scene,
            })));
        }
        self.mark_dirty();
    }
}

/// A recall planned: what switches at once is set in the session it was planned on;
/// the glides are for [`Service::start_fade`].
#[derive(Debug)]
pub(super) struct Recall {
    scene: String,
    fade_ms: f64,
    glides: Vec<Glide>,
    /// What was done, in words.
    pub what: String,
}

impl Recall {
    /// A later set of `path` wins over the glide.
    pub fn forget(&mut self, path: &str) {
        self.glides.retain(|g| g.path != path);
    }

    /// The glides land at once (an earlier recall in a macro with another after it).
    pub fn land(self, s: &mut Session) {
        for g in self.glides {
            if let Ok(r) = namespace::resolve(s, &g.path) {
                let _ = namespace::set(s, &r, &namespace::from_norm(r.template, g.to));
            }
        }
    }
}

fn recall_what(name: &str, fade_ms: f64) -> String {
    let mut what = format!("recalled scene {name:?}");
    if fade_ms > 0.0 {
        what.push_str(&format!(" over {fade_ms} ms"));
    }
    what
}

/// Recalls scene `name` into `new`: switches (and everything, without a fade) set at
/// once, the values that glide returned.
pub(super) fn plan_recall(new: &mut Session, name: &str, fade_ms: f64) -> Result<Recall, ApiError> {
    if !(0.0..=MAX_FADE_MS).contains(&fade_ms) {
        return Err(ApiError::new(
            ErrorCode::OutOfRange,
            format!("fade_ms: {fade_ms} is outside 0..={MAX_FADE_MS} ms"),
        ));
    }
    let Some(scene) = new.scenes.iter().find(|x| x.name == name).cloned() else {
        return Err(not_found(name, new));
    };
    let (mut skipped, mut kept) = (0usize, 0usize);
    let mut glides = Vec::new();
    for (path, value) in &scene.values {
        let Ok(r) = namespace::resolve(new, path) else {
            // The strip or bus is gone, or the processor: nothing to recall into.
            skipped += 1;
            continue;
        };
        if safe(new, &r) {
            kept += 1;
            continue;
        }
        let value = json_value(value);
        if fade_ms > 0.0 && r.template.glides() {
            let from = namespace::to_norm(r.template, &namespace::get(new, &r));
            let to = namespace::to_norm(r.template, &value);
            if let (Some(from), Some(to)) = (from, to)
                && from != to
            {
                glides.push(Glide {
                    path: r.canonical.clone(),
                    from,
                    to,
                    told: None,
                });
            }
            continue;
        }
        if namespace::set(new, &r, &value).is_err() {
            skipped += 1;
        }
    }
    let mut what = recall_what(name, fade_ms);
    if kept > 0 {
        what.push_str(&format!(
            "; {kept} values of recall-safe strips and buses kept"
        ));
    }
    if skipped > 0 {
        what.push_str(&format!(
            "; {skipped} values for strips, buses or processors that are gone skipped"
        ));
    }
    Ok(Recall {
        scene: name.to_string(),
        fade_ms,
        glides,
        what,
    })
}

fn not_found(name: &str, s: &Session) -> ApiError {
    let names: Vec<&str> = s.scenes.iter().map(|x| x.name.as_str()).collect();
    ApiError::new(
        ErrorCode::NotFound,
        if names.is_empty() {
            format!("no scene is called {name:?} (there are none yet)")
        } else {
            format!(
                "no scene is called {name:?}; the scenes are: {}",
                names.join(", ")
            )
        },
    )
}

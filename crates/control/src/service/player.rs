//! File players' transport on the control thread: `strip/<id>/player/playing`,
//! `…/position_s` and `…/length_s` are read from and set on the running player (they
//! are its state, not the session's: no sequence number, no undo, never saved), and
//! a `player` status event tells where each player is, a few times a second while it
//! plays and at once when its transport changes (a set, a seek, the end of a file
//! played once).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use troubadour_engine::{Player, PlayerState};

use super::Service;
use crate::api::{ApiError, ErrorCode, Reply};
use crate::event::Outgoing;
use crate::namespace::{self, Resolved};

/// How often a playing player's position is told.
pub const PLAYER_EVENT_INTERVAL: Duration = Duration::from_millis(250);

/// What the last `player` event of one strip said, to tell only what changed.
#[derive(Debug, Clone)]
pub(super) struct Told {
    strip: String,
    state: PlayerState,
    /// The stream it was about: a new stream (a file that appeared) is told at once.
    player: Player,
    at: Instant,
}

/// Seconds as JSON, to the millisecond (a position is no finer than a callback).
fn seconds(x: f64) -> Value {
    json!((x * 1000.0).round() / 1000.0)
}

fn event(strip: &str, s: &PlayerState, cause: &str) -> Value {
    json!({
        "event": "player",
        "strip": strip,
        "playing": s.playing,
        "loop": s.looped,
        "position_s": seconds(s.position_s),
        "length_s": seconds(s.length_s),
        "ended": s.ended,
        "cause": cause,
    })
}

impl Service {
    fn player_of(&self, r: &Resolved) -> Result<Player, ApiError> {
        let controller = self.host.controller();
        controller.player(r.index).cloned().ok_or_else(|| {
            let name = controller
                .session()
                .strips
                .get(r.index)
                .map_or("", |s| s.name.as_str());
            ApiError::new(
                ErrorCode::Unavailable,
                format!("strip {name:?} has no running player: its file is not there (yet)"),
            )
        })
    }

    /// A transport parameter's value now.
    pub(super) fn transport_get(&self, r: &Resolved) -> Result<Value, ApiError> {
        let s = self.player_of(r)?.state();
        let units = match r.canonical.rsplit('/').next() {
            Some("playing") => json!(s.playing),
            Some("position_s") => seconds(s.position_s),
            _ => seconds(s.length_s),
        };
        Ok(if r.norm {
            namespace::to_norm(r.template, &units).map_or(Value::Null, |n| json!(n))
        } else {
            units
        })
    }

    /// Sets a transport parameter on the running player and tells it at once.
    pub(super) fn transport_set(&mut self, r: &Resolved, value: &Value) -> Result<Reply, ApiError> {
        let units = namespace::transport_value(self.host.controller().session(), r, value)?;
        let player = self.player_of(r)?;
        let cause = match (r.canonical.rsplit('/').next(), &units) {
            (Some("playing"), Value::Bool(on)) => {
                player.set_playing(*on);
                if *on { "play" } else { "pause" }
            }
            (Some("position_s"), v) => {
                player.seek_s(v.as_f64().unwrap_or(0.0));
                "seek"
            }
            _ => {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!("{} cannot be set", r.canonical),
                ));
            }
        };
        self.tell_player(r.index, cause);
        let mut units = r.clone();
        units.norm = false;
        Ok(Reply::Value {
            path: r.canonical.clone(),
            value: self.transport_get(&units)?,
            seq: None,
        })
    }

    /// Tells strip `index`'s player's state now.
    pub(super) fn tell_player(&mut self, index: usize, cause: &str) {
        let controller = self.host.controller();
        let (Some(player), Some(strip)) = (
            controller.player(index).cloned(),
            controller
                .session()
                .strips
                .get(index)
                .map(|s| s.name.clone()),
        ) else {
            return;
        };
        let state = player.state();
        let outgoing = Outgoing::status(event(&strip, &state, cause));
        let _ = self.handle.events.send(Arc::new(outgoing));
        let told = Told {
            strip,
            state,
            player,
            at: Instant::now(),
        };
        if self.players_told.len() <= index {
            self.players_told.resize(index + 1, None);
        }
        self.players_told[index] = Some(told);
    }

    /// On every step: a `player` event for each player whose transport changed (at
    /// once), and for each playing one every [`PLAYER_EVENT_INTERVAL`].
    pub(super) fn player_tick(&mut self) {
        let strips = self.host.controller().session().strips.len();
        self.players_told.truncate(strips);
        let now = Instant::now();
        for index in 0..strips {
            let controller = self.host.controller();
            let Some(player) = controller.player(index) else {
                if let Some(slot) = self.players_told.get_mut(index) {
                    *slot = None;
                }
                continue;
            };
            let state = player.state();
            let name = &controller.session().strips[index].name;
            let cause = match self.players_told.get(index).and_then(Option::as_ref) {
                None => Some("start"),
                Some(t) if !t.player.same(player) || t.strip != *name => Some("start"),
                Some(t) if state.ended && !t.state.ended => Some("end"),
                Some(t)
                    if state.playing != t.state.playing
                        || state.looped != t.state.looped
                        || state.ended != t.state.ended =>
                {
                    Some("state")
                }
                Some(t) if state.playing && now.duration_since(t.at) >= PLAYER_EVENT_INTERVAL => {
                    Some("position")
                }
                _ => None,
            };
            if let Some(cause) = cause {
                self.tell_player(index, cause);
            }
        }
    }
}

//! Macros: a button's actions (parameter sets, scene recalls) applied in order as one
//! change, so one undo takes all of it back.

use troubadour_engine::session::{Action, SceneValue};

use super::Service;
use super::dispatch::Change;
use super::scenes::{Recall, plan_recall};
use crate::api::{ApiError, ErrorCode, Reply};
use crate::namespace;

fn json(v: &SceneValue) -> serde_json::Value {
    match v {
        SceneValue::Bool(b) => (*b).into(),
        SceneValue::Number(n) => (*n).into(),
        SceneValue::Text(t) => t.as_str().into(),
    }
}

impl Service {
    /// Runs macro `name`. Nothing changes if any action is refused (the error says
    /// which). A recall with a fade glides after the rest is applied; of several, the
    /// last one glides and the earlier ones land at once.
    pub(super) fn macro_run(&mut self, name: &str, origin: &str) -> Result<Reply, ApiError> {
        let mut new = self.host.controller().session().clone();
        let Some(mac) = new.macros.iter().find(|m| m.name == name).cloned() else {
            let names: Vec<&str> = new.macros.iter().map(|m| m.name.as_str()).collect();
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!(
                    "no macro is called {name:?}; the macros are: {}",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            ));
        };
        let mut recall: Option<Recall> = None;
        let mut done = Vec::new();
        for (i, a) in mac.actions.iter().enumerate() {
            let at = |e: ApiError| {
                ApiError::new(
                    e.code,
                    format!("macro {name:?} action {}: {}", i + 1, e.message),
                )
            };
            let action = a
                .action()
                .map_err(|e| at(ApiError::new(ErrorCode::InvalidSession, e)))?;
            match action {
                Action::Set { path, value } => {
                    let r = namespace::resolve(&new, path).map_err(at)?;
                    let stored = namespace::set(&mut new, &r, &json(value)).map_err(at)?;
                    if let Some(rc) = recall.as_mut() {
                        rc.forget(&r.canonical);
                    }
                    done.push(format!("{} = {stored}", r.canonical));
                }
                Action::Scene { name, fade_ms } => {
                    if let Some(earlier) = recall.take() {
                        earlier.land(&mut new);
                    }
                    let rc = plan_recall(&mut new, name, fade_ms).map_err(at)?;
                    done.push(rc.what.clone());
                    recall = Some(rc);
                }
            }
        }
        let what = format!("macro {name:?}: {}", done.join("; "));
        let seq = self.commit(new, origin, Change::Other(what.clone()))?;
        if let Some(rc) = recall {
            self.start_fade(rc, origin);
        }
        Ok(Reply::Done { seq, done: what })
    }
}

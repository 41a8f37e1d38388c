//! Undo and redo of the last changes from any client: each step keeps the session
//! before and after it, so undoing a structural edit is as exact as undoing a fader.
//! A run of sets of one parameter by one client (a fader being dragged) is one step.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use troubadour_engine::session::Session;

/// Sets of one path by one origin closer together than this are one undo step.
const COALESCE: Duration = Duration::from_secs(1);

/// One undoable step.
#[derive(Debug, Clone)]
pub struct Step {
    pub before: Session,
    pub after: Session,
    /// What it was, in words ("set strip/Mic/fader_db", "add_strip Mic", …).
    pub what: String,
    /// The parameter set, for coalescing (None for anything else).
    path: Option<String>,
    origin: String,
    at: Instant,
    /// Counts steps from the start: names a step while others come after it.
    id: u64,
}

/// The undo and redo stacks.
#[derive(Debug)]
pub struct History {
    undo: VecDeque<Step>,
    redo: Vec<Step>,
    depth: usize,
    next_id: u64,
}

impl History {
    pub fn new(depth: usize) -> Self {
        History {
            undo: VecDeque::new(),
            redo: Vec::new(),
            depth: depth.max(1),
            next_id: 0,
        }
    }

    /// Records a change (clears what could be redone).
    pub fn record(
        &mut self,
        before: &Session,
        after: &Session,
        what: String,
        path: Option<&str>,
        origin: &str,
    ) {
        self.redo.clear();
        let now = Instant::now();
        if let (Some(p), Some(top)) = (path, self.undo.back_mut())
            && top.path.as_deref() == Some(p)
            && top.origin == origin
            && now.duration_since(top.at) < COALESCE
        {
            top.after = after.clone();
            top.at = now;
            return;
        }
        if self.undo.len() == self.depth {
            self.undo.pop_front();
        }
        self.undo.push_back(Step {
            before: before.clone(),
            after: after.clone(),
            what,
            path: path.map(str::to_string),
            origin: origin.to_string(),
            at: now,
            id: self.next_id,
        });
        self.next_id += 1;
    }

    /// The id of the last step recorded, if any is kept.
    pub fn last_id(&self) -> Option<u64> {
        self.undo.back().map(|s| s.id)
    }

    /// A scene's fade has ended: `finish` sets the values it glided to. The recall's
    /// step (`id`) gets them as its result, and every step recorded since (made while
    /// the fade ran) gets them on both sides, so undoing one of those takes back only
    /// its own change, not the rest of the fade.
    pub fn amend_fade(&mut self, id: u64, finish: impl Fn(&mut Session)) {
        for step in self.undo.iter_mut().chain(self.redo.iter_mut()) {
            if step.id == id {
                finish(&mut step.after);
            } else if step.id > id {
                finish(&mut step.before);
                finish(&mut step.after);
            }
        }
    }

    /// The step to undo, moved to the redo stack by [`undone`](Self::undone) once applied.
    pub fn peek_undo(&self) -> Option<&Step> {
        self.undo.back()
    }

    /// The step to redo.
    pub fn peek_redo(&self) -> Option<&Step> {
        self.redo.last()
    }

    /// The last step was undone.
    pub fn undone(&mut self) {
        if let Some(mut s) = self.undo.pop_back() {
            // Never coalesce into a step that came back by redo.
            s.path = None;
            self.redo.push(s);
        }
    }

    /// The last undone step was redone.
    pub fn redone(&mut self) {
        if let Some(s) = self.redo.pop() {
            self.undo.push_back(s);
        }
    }

    pub fn len(&self) -> (usize, usize) {
        (self.undo.len(), self.redo.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_fader(db: f32) -> Session {
        let mut s = Session::default_session();
        s.strips[0].fader_db = db;
        s
    }

    #[test]
    fn a_drag_is_one_step_and_the_depth_is_kept() {
        let mut h = History::new(3);
        for i in 0..10 {
            let (b, a) = (with_fader(-(i as f32)), with_fader(-(i as f32) - 1.0));
            h.record(&b, &a, "set".into(), Some("strip/Tone/fader_db"), "ws-1");
        }
        assert_eq!(h.len(), (1, 0));
        let top = h.peek_undo().unwrap();
        assert_eq!(top.before.strips[0].fader_db, 0.0);
        assert_eq!(top.after.strips[0].fader_db, -10.0);
        // Another origin, then other paths: separate steps, the oldest falling off.
        for origin in ["ws-2", "ws-3", "ws-4"] {
            h.record(
                &with_fader(0.0),
                &with_fader(1.0),
                "set".into(),
                Some("p"),
                origin,
            );
        }
        assert_eq!(h.len(), (3, 0));
        h.undone();
        assert_eq!(h.len(), (2, 1));
        h.record(
            &with_fader(0.0),
            &with_fader(2.0),
            "set".into(),
            None,
            "http",
        );
        assert_eq!(h.len(), (3, 0), "a new change clears redo");
    }
}

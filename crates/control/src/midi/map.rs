//! From MIDI messages to parameter values and back, without any I/O: the mappings of a
//! session bound to their parameters' templates, each with the little state a control
//! needs (a 14-bit pair's high half, pick-up, a touched motor fader).
//!
//! Absolute controls go through the parameter's `/norm` form, so a CC moves a fader
//! along the same taper as the console's fader. Switches toggle. Relative encoders step
//! the current value. Feedback is the reverse: a value as the message that would set it.

use serde_json::{Value, json};
use troubadour_engine::session::{ControlKind, Relative, Session};

use super::decode::Message;
use crate::namespace::{self, Taper, Template};

/// What a message asks of the mixer.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Set a parameter (binding `binding`; the path may be a `…/norm` form).
    Set {
        /// Which binding asked (for coalescing a burst).
        binding: usize,
        /// The path to set.
        path: String,
        /// The value.
        value: Value,
    },
    /// Run a macro.
    Macro(String),
    /// Send these bytes back to the surface.
    Send([u8; 3]),
}

/// A relative encoder's step in norm units: a full sweep in 128 clicks.
const RELATIVE_STEP: f64 = 1.0 / 128.0;

/// One mapping bound to its parameter.
#[derive(Debug, Clone)]
pub struct Binding {
    /// The control.
    pub control: ControlKind,
    /// The parameter's canonical path.
    pub path: String,
    template: &'static Template,
    pickup: bool,
    feedback: bool,
    touch: Option<u8>,
    /// The parameter's value as last known (from the session, then from events).
    value: Value,
    /// Pick-up: the control has met the value and moves it.
    picked: bool,
    /// Pick-up: where the control was last, normalised.
    last_in: Option<f64>,
    /// A 14-bit pair's high 7 bits, and whether the low CC ever came.
    msb: u8,
    lsb_seen: bool,
    touched: bool,
}

/// Every binding and macro control of a session.
#[derive(Debug, Clone, Default)]
pub struct Mapper {
    bindings: Vec<Binding>,
    macros: Vec<(ControlKind, String)>,
}

/// The origin MIDI changes carry: `midi:` and the binding's index, so a binding knows
/// the echo of its own gesture.
pub fn origin(binding: usize) -> String {
    format!("midi:{binding}")
}

impl Mapper {
    /// Binds the session's mappings; what cannot be bound is skipped and said, in words.
    pub fn new(session: &Session) -> (Mapper, Vec<String>) {
        let mut mapper = Mapper::default();
        let mut warnings = Vec::new();
        for (i, m) in session.midi.iter().enumerate() {
            let control = match m.control.kind() {
                Ok(k) => k,
                Err(e) => {
                    warnings.push(format!("midi #{} control: {e}", i + 1));
                    continue;
                }
            };
            let r = match namespace::resolve(session, &m.target) {
                Ok(r) if r.template.has_norm() => r,
                Ok(_) => {
                    warnings.push(format!(
                        "midi #{} target {}: a name is not something a control can move",
                        i + 1,
                        m.target
                    ));
                    continue;
                }
                Err(e) => {
                    warnings.push(format!(
                        "midi #{} target {}: {}",
                        i + 1,
                        m.target,
                        e.message
                    ));
                    continue;
                }
            };
            // A player's transport is no session value: its default until the first
            // `player` event says (see `follow`).
            let value = if r.template.transport() {
                namespace::from_norm(r.template, 1.0)
            } else {
                namespace::get(session, &r)
            };
            mapper.bindings.push(Binding {
                control,
                value,
                path: r.canonical,
                template: r.template,
                pickup: m.pickup,
                feedback: m.feedback,
                touch: m.touch.and_then(|t| u8::try_from(t).ok()),
                picked: false,
                last_in: None,
                msb: 0,
                lsb_seen: false,
                touched: false,
            });
        }
        for mac in &session.macros {
            if let Some(Ok(k)) = mac.control.as_ref().map(|c| c.kind()) {
                mapper.macros.push((k, mac.name.clone()));
            }
        }
        (mapper, warnings)
    }

    /// The bindings.
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// What one incoming message asks for.
    pub fn input(&mut self, message: Message) -> Vec<Effect> {
        let mut out = Vec::new();
        for (control, name) in &self.macros {
            if pressed(*control, message) {
                out.push(Effect::Macro(name.clone()));
            }
        }
        for (i, b) in self.bindings.iter_mut().enumerate() {
            if let Some(touched) = b.touch(message) {
                b.touched = touched;
                // Released: the fader goes where the mix is now.
                if !touched && b.feedback {
                    out.extend(b.feedback_messages().into_iter().map(Effect::Send));
                }
                continue;
            }
            if let Some(value) = b.input(message) {
                out.push(Effect::Set {
                    binding: i,
                    path: value.0,
                    value: value.1,
                });
            }
        }
        out
    }

    /// A parameter changed (from `origin`): the bound values follow, and the feedback
    /// messages to send come back.
    pub fn changed(&mut self, path: &str, value: &Value, origin: &str) -> Vec<[u8; 3]> {
        let mut out = Vec::new();
        for (i, b) in self.bindings.iter_mut().enumerate() {
            if b.path != path {
                continue;
            }
            b.value = value.clone();
            let own = origin == self::origin(i);
            if !own {
                // Moved by someone else: the control must meet it again.
                b.picked = false;
            }
            if b.feedback && !own && !b.touched {
                out.extend(b.feedback_messages());
            }
        }
        out
    }

    /// A value the mixer reports again and again (a file player's `playing`, from its
    /// `player` events): the bound values follow, with feedback only when it changed.
    pub fn follow(&mut self, path: &str, value: &Value) -> Vec<[u8; 3]> {
        if self
            .bindings
            .iter()
            .all(|b| b.path != path || b.value == *value)
        {
            return Vec::new();
        }
        self.changed(path, value, "player")
    }

    /// The feedback messages of every binding with feedback (to bring a surface up to
    /// date when it connects).
    pub fn all_feedback(&self) -> Vec<[u8; 3]> {
        self.bindings
            .iter()
            .filter(|b| b.feedback && !b.touched)
            .flat_map(Binding::feedback_messages)
            .collect()
    }
}

/// Whether `message` presses the button `control`: a note-on, or a CC above 63.
fn pressed(control: ControlKind, message: Message) -> bool {
    match (control, message) {
        (
            ControlKind::Note { channel, note },
            Message::NoteOn {
                channel: c,
                note: n,
                ..
            },
        ) => (channel, note) == (c, n),
        (
            ControlKind::Cc { channel, cc, .. }
            | ControlKind::Cc14 {
                channel, msb: cc, ..
            },
            Message::Cc {
                channel: c,
                cc: n,
                value,
            },
        ) => (channel, cc) == (c, n) && value > 63,
        _ => false,
    }
}

impl Binding {
    fn is_switch(&self) -> bool {
        self.template.taper == Taper::Toggle
    }

    fn norm(&self) -> Option<f64> {
        namespace::to_norm(self.template, &self.value)
    }

    /// The path and value a message sets, if it moves this binding.
    fn input(&mut self, message: Message) -> Option<(String, Value)> {
        match (self.control, message) {
            (
                ControlKind::Cc {
                    channel,
                    cc,
                    relative,
                },
                Message::Cc {
                    channel: c,
                    cc: n,
                    value,
                },
            ) if (channel, cc) == (c, n) => match relative {
                Some(r) => self.step(r, value),
                None if self.is_switch() => (value > 63).then(|| self.toggle()),
                None => self.absolute(f64::from(value) / 127.0, 0.5 / 127.0),
            },
            (
                ControlKind::Cc14 { channel, msb, lsb },
                Message::Cc {
                    channel: c,
                    cc,
                    value,
                },
            ) if channel == c && (cc == msb || cc == lsb) => {
                let fine = if cc == msb {
                    self.msb = value;
                    // A surface that sends both halves moves on the low one: one set
                    // per move, never a coarse jump between the two.
                    if self.lsb_seen {
                        return None;
                    }
                    0
                } else {
                    self.lsb_seen = true;
                    value
                };
                let v = u16::from(self.msb) << 7 | u16::from(fine);
                self.absolute(f64::from(v) / 16383.0, 0.5 / 16383.0)
            }
            (
                ControlKind::Note { channel, note },
                Message::NoteOn {
                    channel: c,
                    note: n,
                    velocity,
                },
            ) if (channel, note) == (c, n) => {
                if self.is_switch() {
                    Some(self.toggle())
                } else {
                    self.absolute(f64::from(velocity) / 127.0, 0.5 / 127.0)
                }
            }
            (ControlKind::PitchBend { channel }, Message::PitchBend { channel: c, value })
                if channel == c =>
            {
                self.absolute(f64::from(value) / 16383.0, 0.5 / 16383.0)
            }
            _ => None,
        }
    }

    fn channel(&self) -> u8 {
        match self.control {
            ControlKind::Cc { channel, .. }
            | ControlKind::Cc14 { channel, .. }
            | ControlKind::Note { channel, .. }
            | ControlKind::PitchBend { channel } => channel,
        }
    }

    fn toggle(&mut self) -> (String, Value) {
        let on = !matches!(self.value, Value::Bool(true));
        self.value = json!(on);
        (self.path.clone(), json!(on))
    }

    /// An absolute control at `norm`; `half_step` is half its resolution (how close
    /// counts as meeting the value for pick-up).
    fn absolute(&mut self, norm: f64, half_step: f64) -> Option<(String, Value)> {
        if self.is_switch() {
            let on = norm >= 0.5;
            if self.value == json!(on) {
                return None;
            }
            self.value = json!(on);
            return Some((self.path.clone(), json!(on)));
        }
        if self.pickup && !self.picked {
            let current = self.norm()?;
            let crossed = self
                .last_in
                .is_some_and(|prev| (prev - current) * (norm - current) <= 0.0);
            self.last_in = Some(norm);
            if !(crossed || (norm - current).abs() <= half_step) {
                return None;
            }
            self.picked = true;
        }
        self.value = namespace::from_norm(self.template, norm);
        Some((format!("{}/norm", self.path), json!(norm)))
    }

    fn step(&mut self, coding: Relative, value: u8) -> Option<(String, Value)> {
        let step = coding.step(value);
        if step == 0 {
            return None;
        }
        if self.is_switch() {
            let on = step > 0;
            if self.value == json!(on) {
                return None;
            }
            self.value = json!(on);
            return Some((self.path.clone(), json!(on)));
        }
        let per_click = match self.template.kind {
            namespace::ValueKind::Enum(values) if values.len() > 1 => {
                1.0 / (values.len() - 1) as f64
            }
            _ => RELATIVE_STEP,
        };
        let norm = (self.norm()? + f64::from(step) * per_click).clamp(0.0, 1.0);
        self.value = namespace::from_norm(self.template, norm);
        Some((format!("{}/norm", self.path), json!(norm)))
    }

    /// The messages that put the control where the value is.
    fn feedback_messages(&self) -> Vec<[u8; 3]> {
        let Some(norm) = self.norm() else {
            return Vec::new();
        };
        let seven = (norm * 127.0).round() as u8;
        let fourteen = (norm * 16383.0).round() as u16;
        match self.control {
            ControlKind::Cc { channel, cc, .. } => vec![[0xB0 | channel, cc, seven]],
            ControlKind::Cc14 { channel, msb, lsb } => vec![
                [0xB0 | channel, msb, (fourteen >> 7) as u8],
                [0xB0 | channel, lsb, (fourteen & 0x7f) as u8],
            ],
            ControlKind::Note { channel, note } => {
                vec![[0x90 | channel, note, if norm >= 0.5 { 127 } else { 0 }]]
            }
            ControlKind::PitchBend { channel } => {
                vec![[
                    0xE0 | channel,
                    (fourteen & 0x7f) as u8,
                    (fourteen >> 7) as u8,
                ]]
            }
        }
    }

    /// Whether `message` is this binding's touch note: `Some(touched)` if it is.
    fn touch(&self, message: Message) -> Option<bool> {
        let (Message::NoteOn { channel, note, .. } | Message::NoteOff { channel, note }) = message
        else {
            return None;
        };
        (Some(note) == self.touch && channel == self.channel())
            .then_some(matches!(message, Message::NoteOn { .. }))
    }

    /// Whether a finger is on the motor fader.
    pub fn is_touched(&self) -> bool {
        self.touched
    }
}

#[cfg(test)]
#[path = "map_tests.rs"]
mod tests;

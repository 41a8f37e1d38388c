//! MIDI mappings (`[[midi]]`) and macro buttons (`[[macro]]`): what a control on a
//! MIDI surface drives, and which actions a button runs.
//!
//! ```toml
//! [[midi]]
//! control = { cc = 7, channel = 1 }   # or { note = 36 }, { pitchbend = 1 },
//!                                     # { cc = 0, lsb = 32 } (14-bit), { cc = 16, relative = "twos" }
//! target = "strip/Mic/fader_db"       # any control path
//! pickup = true                       # nothing moves until the control crosses the value
//! feedback = true                     # the value goes back out when it changes elsewhere
//! touch = 104                         # a motor fader's touch note: no feedback while touched
//!
//! [[macro]]
//! name = "Go live"
//! control = { note = 40 }
//! actions = [{ set = "strip/Music/fader_db", value = -20.0 }, { scene = "Live", fade_ms = 500 }]
//! ```
//!
//! The shape is checked here (numbers in MIDI's ranges, one kind of control, one kind
//! of action); whether a target names a parameter is the control plane's to say, since
//! the parameter namespace lives there.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::diagnostic::{Diagnostic, Severity};
use super::locate::{Locator, Seg};
use super::model::{SceneValue, Session};
use super::validate::Problem;

/// One mapping of a MIDI control onto a parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MidiMapping {
    /// Which control.
    pub control: MidiControl,
    /// The parameter's control path (`strip/Mic/fader_db`, `bus/A1/mute`, …).
    pub target: String,
    /// Soft takeover: an absolute control moves the parameter only once it has crossed
    /// (or met) the parameter's current value.
    #[serde(default, skip_serializing_if = "is_false")]
    pub pickup: bool,
    /// Send the value back to the control when it changes elsewhere.
    #[serde(default, skip_serializing_if = "is_false")]
    pub feedback: bool,
    /// The note (on the control's channel) a motor fader sends while a finger is on it
    /// (Mackie-style surfaces: 104..=112): no feedback goes out while it is touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub touch: Option<u32>,
}

/// A control as the session file writes it: exactly one of `cc`, `note`, `pitchbend`,
/// with `channel` (1..=16, 1 if absent) for a CC or a note, `lsb` (the CC carrying the
/// low 7 bits of a 14-bit control) or `relative` (an endless encoder) for a CC.
/// [`MidiControl::kind`] gives the checked form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MidiControl {
    /// A control change number, 0..=127.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cc: Option<u32>,
    /// A note number, 0..=127.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<u32>,
    /// Pitch bend on this channel, 1..=16.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitchbend: Option<u32>,
    /// The channel of a CC or note, 1..=16.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<u32>,
    /// The CC that carries the low 7 bits (a 14-bit control: usually `cc + 32`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsb: Option<u32>,
    /// An endless encoder: how its steps are coded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative: Option<Relative>,
}

/// How a relative (endless) encoder codes a step in a CC's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relative {
    /// Two's complement in 7 bits: 1..=63 up, 127 (-1) down to 64 (-64).
    Twos,
    /// 64 is no step: 65 is +1, 63 is -1.
    BinaryOffset,
    /// Bit 6 is the sign: 1..=63 up, 65..=127 down by `value - 64`.
    SignMagnitude,
}

impl Relative {
    /// The step a CC value means (0 for none).
    pub fn step(self, value: u8) -> i32 {
        let v = i32::from(value & 0x7f);
        match self {
            Relative::Twos if v >= 64 => v - 128,
            Relative::Twos => v,
            Relative::BinaryOffset => v - 64,
            Relative::SignMagnitude if v >= 64 => -(v - 64),
            Relative::SignMagnitude => v,
        }
    }
}

/// A control, checked: what a MIDI message must be to move it. Channels are 0-based
/// here, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlKind {
    /// A 7-bit CC (or a relative encoder).
    Cc {
        /// 0..=15.
        channel: u8,
        /// 0..=127.
        cc: u8,
        /// Relative coding, for an endless encoder.
        relative: Option<Relative>,
    },
    /// A 14-bit CC pair.
    Cc14 {
        /// 0..=15.
        channel: u8,
        /// The CC carrying the high 7 bits.
        msb: u8,
        /// The CC carrying the low 7 bits.
        lsb: u8,
    },
    /// A note (a button; its velocity is its value).
    Note {
        /// 0..=15.
        channel: u8,
        /// 0..=127.
        note: u8,
    },
    /// The pitch bend wheel (14 bits; motor faders of Mackie-style surfaces).
    PitchBend {
        /// 0..=15.
        channel: u8,
    },
}

impl MidiControl {
    /// The checked form, or what is wrong, in words.
    pub fn kind(&self) -> Result<ControlKind, String> {
        let seven = |what: &str, v: u32| {
            u8::try_from(v)
                .ok()
                .filter(|v| *v < 128)
                .ok_or_else(|| format!("{what} {v} is outside 0..=127"))
        };
        let channel = |v: u32| {
            u8::try_from(v)
                .ok()
                .filter(|v| (1..=16).contains(v))
                .map(|v| v - 1)
                .ok_or_else(|| format!("channel {v} is outside 1..=16"))
        };
        let given = [self.cc, self.note, self.pitchbend]
            .iter()
            .filter(|x| x.is_some())
            .count();
        if given != 1 {
            return Err(
                "a control is one of { cc = N }, { note = N } or { pitchbend = CHANNEL }".into(),
            );
        }
        let ch = channel(self.channel.unwrap_or(1))?;
        if let Some(cc) = self.cc {
            let cc = seven("cc", cc)?;
            return match (self.lsb, self.relative) {
                (Some(_), Some(_)) => {
                    Err("a control is either 14-bit (lsb) or relative, not both".into())
                }
                (Some(lsb), None) => {
                    let lsb = seven("lsb", lsb)?;
                    if lsb == cc {
                        return Err(format!("lsb {lsb} is the control's own cc"));
                    }
                    Ok(ControlKind::Cc14 {
                        channel: ch,
                        msb: cc,
                        lsb,
                    })
                }
                (None, relative) => Ok(ControlKind::Cc {
                    channel: ch,
                    cc,
                    relative,
                }),
            };
        }
        if self.lsb.is_some() || self.relative.is_some() {
            return Err("lsb and relative belong to a cc".into());
        }
        if let Some(note) = self.note {
            return Ok(ControlKind::Note {
                channel: ch,
                note: seven("note", note)?,
            });
        }
        if self.channel.is_some() {
            return Err("a pitch bend names its channel itself: { pitchbend = CHANNEL }".into());
        }
        Ok(ControlKind::PitchBend {
            channel: channel(self.pitchbend.unwrap_or(1))?,
        })
    }
}

impl From<ControlKind> for MidiControl {
    fn from(k: ControlKind) -> Self {
        let channel = |c: u8| (c != 0).then_some(u32::from(c) + 1);
        match k {
            ControlKind::Cc {
                channel: c,
                cc,
                relative,
            } => MidiControl {
                cc: Some(cc.into()),
                channel: channel(c),
                relative,
                ..Default::default()
            },
            ControlKind::Cc14 {
                channel: c,
                msb,
                lsb,
            } => MidiControl {
                cc: Some(msb.into()),
                lsb: Some(lsb.into()),
                channel: channel(c),
                ..Default::default()
            },
            ControlKind::Note { channel: c, note } => MidiControl {
                note: Some(note.into()),
                channel: channel(c),
                ..Default::default()
            },
            ControlKind::PitchBend { channel: c } => MidiControl {
                pitchbend: Some(u32::from(c) + 1),
                ..Default::default()
            },
        }
    }
}

/// A button that runs actions, in order, as one undoable change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Macro {
    /// Unique among macros (`POST /api/v1/macros/<name>`, OSC `/macro/<name>`).
    pub name: String,
    /// The MIDI control that runs it (a note-on, or a CC going above 63).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<MidiControl>,
    /// What it does, in order.
    pub actions: Vec<MacroAction>,
}

/// One action as the file writes it: `{ set = PATH, value = V }`,
/// `{ scene = NAME, fade_ms = MS }` or `{ recorder = OP }` (`label = TEXT` with
/// `"mark"`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MacroAction {
    /// A parameter to set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<String>,
    /// Its value, in the session file's units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<SceneValue>,
    /// A scene to recall.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene: Option<String>,
    /// The recall's crossfade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fade_ms: Option<f64>,
    /// Something for the recorder to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorder: Option<RecorderOp>,
    /// A marker's label (`recorder = "mark"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// What a macro asks of the recorder: the API's `recorder_*` requests, and a toggle
/// for a surface's one record button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecorderOp {
    /// Starts a take.
    Start,
    /// Stops the take.
    Stop,
    /// Starts a take when none runs, else stops it.
    Toggle,
    /// Pauses the take.
    Pause,
    /// Resumes a paused take.
    Resume,
    /// Sets a marker in the take.
    Mark,
}

/// An action, checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Action<'a> {
    /// Set a parameter.
    Set {
        /// Its path.
        path: &'a str,
        /// The value.
        value: &'a SceneValue,
    },
    /// Recall a scene.
    Scene {
        /// Its name.
        name: &'a str,
        /// The crossfade, ms.
        fade_ms: f64,
    },
    /// Ask the recorder.
    Recorder {
        /// What.
        op: RecorderOp,
        /// A marker's label (empty when none is given).
        label: &'a str,
    },
}

/// The longest macro crossfade, ms (the scenes' limit).
pub const MAX_FADE_MS: f64 = 600_000.0;

impl MacroAction {
    /// The checked form, or what is wrong, in words.
    pub fn action(&self) -> Result<Action<'_>, String> {
        if let Some(op) = self.recorder {
            if self.set.is_some() || self.value.is_some() || self.scene.is_some() {
                return Err("a recorder action is { recorder = OP } alone".into());
            }
            if self.fade_ms.is_some() {
                return Err("fade_ms belongs to a scene recall, not a recorder action".into());
            }
            if self.label.is_some() && op != RecorderOp::Mark {
                return Err("label belongs to recorder = \"mark\"".into());
            }
            return Ok(Action::Recorder {
                op,
                label: self.label.as_deref().unwrap_or(""),
            });
        }
        if self.label.is_some() {
            return Err("label belongs to recorder = \"mark\"".into());
        }
        match (&self.set, &self.value, &self.scene, self.fade_ms) {
            (Some(path), Some(value), None, None) => Ok(Action::Set { path, value }),
            (Some(_), None, None, None) => Err("a set needs a value".into()),
            (None, None, Some(name), fade) => {
                let fade_ms = fade.unwrap_or(0.0);
                if !(0.0..=MAX_FADE_MS).contains(&fade_ms) {
                    return Err(format!("fade_ms {fade_ms} is outside 0..={MAX_FADE_MS}"));
                }
                Ok(Action::Scene { name, fade_ms })
            }
            _ => Err(
                "an action is { set = PATH, value = V }, { scene = NAME, fade_ms = MS } or { recorder = \"start\" | \"stop\" | \"toggle\" | \"pause\" | \"resume\" | \"mark\" }".into(),
            ),
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn problem(path: Vec<Seg>, field: String, message: String) -> Problem {
    Problem {
        path,
        field,
        message,
        severity: Severity::Error,
    }
}

/// The shape of every mapping and macro: controls in range and of one kind, actions of
/// one kind, macro names unique, no control driving two things.
pub(crate) fn check(session: &Session) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut controls: Vec<(ControlKind, String)> = Vec::new();
    let mut claim = |kind: ControlKind, owner: String, at: Vec<Seg>, label: String| match controls
        .iter()
        .find(|(k, _)| overlaps(*k, kind))
    {
        Some((_, first)) => Some(problem(
            at,
            label,
            format!("this control already drives {first}"),
        )),
        None => {
            controls.push((kind, owner));
            None
        }
    };
    for (i, m) in session.midi.iter().enumerate() {
        let label = format!("midi #{}", i + 1);
        let at = |k: &str| vec![Seg::from("midi"), Seg::from(i), Seg::from(k)];
        match m.control.kind() {
            Ok(kind) => problems.extend(claim(
                kind,
                format!("{} (midi #{})", m.target, i + 1),
                at("control"),
                format!("{label} control"),
            )),
            Err(e) => problems.push(problem(at("control"), format!("{label} control"), e)),
        }
        if let Some(t) = m.touch.filter(|t| *t > 127) {
            problems.push(problem(
                at("touch"),
                format!("{label} touch"),
                format!("touch note {t} is outside 0..=127"),
            ));
        }
        if m.target.trim().is_empty() {
            problems.push(problem(
                at("target"),
                format!("{label} target"),
                "a mapping needs a target path like strip/Mic/fader_db".into(),
            ));
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for (i, mac) in session.macros.iter().enumerate() {
        let label = format!("macro {:?}", mac.name);
        let at = |k: &str| vec![Seg::from("macro"), Seg::from(i), Seg::from(k)];
        if mac.name.trim().is_empty()
            || mac.name.contains('/')
            || mac.name.chars().any(char::is_control)
        {
            problems.push(problem(
                at("name"),
                format!("macro #{} name", i + 1),
                "a macro needs a name without '/' or control characters".into(),
            ));
        } else if names.contains(&mac.name.as_str()) {
            problems.push(problem(
                at("name"),
                format!("{label} name"),
                format!("duplicate macro name {:?}", mac.name),
            ));
        }
        names.push(&mac.name);
        if let Some(control) = &mac.control {
            match control.kind() {
                Ok(kind) => problems.extend(claim(
                    kind,
                    label.clone(),
                    at("control"),
                    format!("{label} control"),
                )),
                Err(e) => problems.push(problem(at("control"), format!("{label} control"), e)),
            }
        }
        if mac.actions.is_empty() {
            problems.push(problem(
                at("actions"),
                format!("{label} actions"),
                "a macro needs at least one action".into(),
            ));
        }
        for (j, a) in mac.actions.iter().enumerate() {
            if let Err(e) = a.action() {
                let mut path = at("actions");
                path.push(Seg::from(j));
                problems.push(problem(path, format!("{label} actions[{j}]"), e));
            }
        }
    }
    problems
}

impl ControlKind {
    /// Whether the two answer to a common message (one control cannot drive two
    /// things).
    pub fn overlaps(self, other: ControlKind) -> bool {
        overlaps(self, other)
    }

    /// The control in words: `CC 7 on channel 1`.
    pub fn describe(self) -> String {
        match self {
            ControlKind::Cc {
                channel,
                cc,
                relative: None,
            } => format!("CC {cc} on channel {}", channel + 1),
            ControlKind::Cc {
                channel,
                cc,
                relative: Some(_),
            } => format!("relative CC {cc} on channel {}", channel + 1),
            ControlKind::Cc14 { channel, msb, lsb } => {
                format!("14-bit CC {msb}/{lsb} on channel {}", channel + 1)
            }
            ControlKind::Note { channel, note } => {
                format!("note {note} on channel {}", channel + 1)
            }
            ControlKind::PitchBend { channel } => format!("pitch bend on channel {}", channel + 1),
        }
    }
}

/// Whether two controls answer to a common message.
fn overlaps(a: ControlKind, b: ControlKind) -> bool {
    use ControlKind::*;
    let ccs = |k: ControlKind| match k {
        Cc { channel, cc, .. } => vec![(channel, cc)],
        Cc14 { channel, msb, lsb } => vec![(channel, msb), (channel, lsb)],
        _ => Vec::new(),
    };
    match (a, b) {
        (Note { .. }, Note { .. }) | (PitchBend { .. }, PitchBend { .. }) => a == b,
        _ => ccs(a).iter().any(|x| ccs(b).contains(x)),
    }
}

/// An error about the field at `at` (`["midi", 0, "target"]`) of the session in
/// `text` (the file `file`), located at its line and column: for checks the control
/// plane makes (targets against its namespace).
pub fn diagnostic_at(
    text: &str,
    file: &Path,
    at: &[Seg],
    field: String,
    message: String,
) -> Diagnostic {
    let position = Locator::new(text).position(at);
    Diagnostic {
        file: file.to_path_buf(),
        line: position.line,
        column: position.column,
        field,
        message,
        severity: Severity::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(text: &str) -> Result<ControlKind, String> {
        toml::from_str::<MidiControl>(text)
            .map_err(|e| e.to_string())?
            .kind()
    }

    #[test]
    fn every_kind_of_control_reads() {
        assert_eq!(
            control("cc = 7\nchannel = 2"),
            Ok(ControlKind::Cc {
                channel: 1,
                cc: 7,
                relative: None
            })
        );
        assert_eq!(
            control("note = 36"),
            Ok(ControlKind::Note {
                channel: 0,
                note: 36
            })
        );
        assert_eq!(
            control("pitchbend = 3"),
            Ok(ControlKind::PitchBend { channel: 2 })
        );
        assert_eq!(
            control("cc = 0\nlsb = 32"),
            Ok(ControlKind::Cc14 {
                channel: 0,
                msb: 0,
                lsb: 32
            })
        );
        assert_eq!(
            control("cc = 16\nrelative = \"sign_magnitude\""),
            Ok(ControlKind::Cc {
                channel: 0,
                cc: 16,
                relative: Some(Relative::SignMagnitude)
            })
        );
    }

    #[test]
    fn bad_controls_say_what_is_wrong() {
        let err = |t: &str| control(t).unwrap_err();
        assert!(err("cc = 128").contains("cc 128 is outside 0..=127"));
        assert!(err("cc = 1\nchannel = 17").contains("channel 17 is outside 1..=16"));
        assert!(err("cc = 1\nnote = 2").contains("one of"));
        assert!(err("").contains("one of"));
        assert!(err("cc = 1\nlsb = 1").contains("own cc"));
        assert!(err("note = 1\nlsb = 33").contains("belong to a cc"));
        assert!(err("pitchbend = 1\nchannel = 1").contains("names its channel"));
        assert!(err("cc = 1\nrelative = \"gray\"").contains("unknown variant"));
    }

    #[test]
    fn a_checked_control_writes_back_as_it_reads() {
        for t in [
            "cc = 7",
            "cc = 7\nchannel = 3",
            "note = 40",
            "pitchbend = 2",
            "cc = 0\nlsb = 32",
            "cc = 16\nrelative = \"twos\"",
        ] {
            let kind = control(t).unwrap();
            assert_eq!(MidiControl::from(kind).kind(), Ok(kind), "{t}");
        }
    }

    #[test]
    fn relative_codings_step_both_ways() {
        assert_eq!(
            [1, 63, 127, 64].map(|v| Relative::Twos.step(v)),
            [1, 63, -1, -64]
        );
        assert_eq!(
            [65, 64, 63, 0].map(|v| Relative::BinaryOffset.step(v)),
            [1, 0, -1, -64]
        );
        assert_eq!(
            [1, 65, 127, 64].map(|v| Relative::SignMagnitude.step(v)),
            [1, -1, -63, 0]
        );
    }

    #[test]
    fn actions_are_one_thing_each() {
        let action = |t: &str| toml::from_str::<MacroAction>(t).unwrap().action().map(drop);
        assert!(action("set = \"strip/1/mute\"\nvalue = true").is_ok());
        assert!(action("scene = \"Live\"\nfade_ms = 500.0").is_ok());
        assert!(
            action("set = \"strip/1/mute\"")
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(action("scene = \"A\"\nset = \"x\"\nvalue = 1").is_err());
        assert!(
            action("scene = \"A\"\nfade_ms = -1.0")
                .unwrap_err()
                .contains("fade_ms")
        );
        assert!(action("scene = \"A\"\nvalue = 1").is_err());
        assert_eq!(
            toml::from_str::<MacroAction>("recorder = \"mark\"\nlabel = \"intro\"")
                .unwrap()
                .action(),
            Ok(Action::Recorder {
                op: RecorderOp::Mark,
                label: "intro"
            })
        );
        assert!(action("recorder = \"toggle\"").is_ok());
        assert!(
            action("recorder = \"stop\"\nlabel = \"x\"")
                .unwrap_err()
                .contains("label")
        );
        assert!(action("recorder = \"start\"\nscene = \"A\"").is_err());
        assert!(toml::from_str::<MacroAction>("recorder = \"rewind\"").is_err());
    }

    #[test]
    fn one_control_drives_one_thing() {
        let cc = |cc| ControlKind::Cc {
            channel: 0,
            cc,
            relative: None,
        };
        let fine = ControlKind::Cc14 {
            channel: 0,
            msb: 0,
            lsb: 32,
        };
        assert!(overlaps(cc(32), fine));
        assert!(!overlaps(cc(33), fine));
        assert!(!overlaps(
            ControlKind::Note {
                channel: 0,
                note: 7
            },
            cc(7)
        ));
    }
}

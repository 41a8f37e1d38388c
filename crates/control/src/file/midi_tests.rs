//! `[[midi]]` and `[[macro]]` through the rewriter: a learned mapping saved, the user's
//! comments kept.

use troubadour_engine::session::{MidiControl, MidiMapping, Session};

use super::rewrite;
use super::tests::parse;

const FILE: &str = r#"version = 1

[[strip]]
name = "Mic"
source = { generator = "sine" }

[[bus]]
name = "A1"

# The nanoKONTROL's first fader
[[midi]]
control = { cc = 0 }   # fader 1
target = "strip/Mic/fader_db"
pickup = true

# Its mute button
[[midi]]
control = { cc = 48 }
target = "strip/Mic/mute" # lights up
feedback = true

[[macro]]
name = "Go live"   # the big button
control = { note = 40 }
actions = [{ set = "strip/Mic/fader_db", value = -20.0 }, { set = "strip/Mic/mute", value = false }]
"#;

#[test]
fn a_learned_mapping_is_added_and_the_comments_stay() {
    let mut s: Session = parse(FILE);
    s.midi.push(MidiMapping {
        control: MidiControl {
            note: Some(36),
            channel: Some(2),
            ..Default::default()
        },
        target: "bus/A1/mute".into(),
        pickup: false,
        feedback: true,
        touch: None,
    });
    s.midi[0].pickup = false;
    let out = rewrite(FILE, &s);
    assert_eq!(parse(&out), s);
    for kept in [
        "# The nanoKONTROL's first fader",
        "control = { cc = 0 }   # fader 1",
        "target = \"strip/Mic/mute\" # lights up",
        "name = \"Go live\"   # the big button",
    ] {
        assert!(out.contains(kept), "{kept:?} lost:\n{out}");
    }
    assert!(!out.contains("pickup"), "{out}");
    assert!(
        out.contains(
            "feedback = true\n\n[[midi]]\ntarget = \"bus/A1/mute\"\nfeedback = true\ncontrol = { note = 36, channel = 2 }\n\n[[macro]]"
        ),
        "the new mapping goes after the others, its control inline like theirs:\n{out}"
    );
}

#[test]
fn a_removed_mapping_takes_its_own_comments_only() {
    let mut s: Session = parse(FILE);
    s.midi.remove(0);
    s.macros[0].actions.pop();
    let out = rewrite(FILE, &s);
    assert_eq!(parse(&out), s);
    assert!(!out.contains("fader 1"), "{out}");
    assert!(out.contains("# Its mute button"), "{out}");
    assert!(
        out.contains("target = \"strip/Mic/mute\" # lights up"),
        "{out}"
    );
    assert!(out.contains("# the big button"), "{out}");
}

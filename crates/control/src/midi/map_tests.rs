use serde_json::json;
use troubadour_engine::session::{Macro, MacroAction, MidiControl, MidiMapping, Relative, Session};

use super::*;

fn mapping(control: MidiControl, target: &str) -> MidiMapping {
    MidiMapping {
        control,
        target: target.into(),
        pickup: false,
        feedback: false,
        touch: None,
    }
}

fn cc(cc: u32) -> MidiControl {
    MidiControl {
        cc: Some(cc),
        ..Default::default()
    }
}

fn session(midi: Vec<MidiMapping>) -> Session {
    Session {
        midi,
        ..Session::default_session()
    }
}

fn cc_msg(cc: u8, value: u8) -> Message {
    Message::Cc {
        channel: 0,
        cc,
        value,
    }
}

/// The values a mapper sets, for the messages given.
fn sets(mapper: &mut Mapper, messages: &[Message]) -> Vec<(String, Value)> {
    messages
        .iter()
        .flat_map(|m| mapper.input(*m))
        .filter_map(|e| match e {
            Effect::Set { path, value, .. } => Some((path, value)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_cc_sweep_moves_the_fader_along_its_taper() {
    let (mut m, warnings) = Mapper::new(&session(vec![mapping(cc(7), "strip/1/fader_db")]));
    assert!(warnings.is_empty(), "{warnings:?}");
    let got = sets(&mut m, &[cc_msg(7, 0), cc_msg(7, 127), cc_msg(8, 5)]);
    assert_eq!(
        got,
        [
            ("strip/Tone/fader_db/norm".to_string(), json!(0.0)),
            ("strip/Tone/fader_db/norm".to_string(), json!(1.0)),
        ]
    );
    // Another channel is another control.
    let other = Message::Cc {
        channel: 1,
        cc: 7,
        value: 3,
    };
    assert!(m.input(other).is_empty());
}

#[test]
fn switches_toggle_on_a_press() {
    let note = MidiControl {
        note: Some(36),
        ..Default::default()
    };
    let (mut m, _) = Mapper::new(&session(vec![
        mapping(cc(20), "strip/Tone/mute"),
        mapping(note, "bus/A1/mute"),
    ]));
    let got = sets(
        &mut m,
        &[
            cc_msg(20, 127),
            cc_msg(20, 0),
            cc_msg(20, 64),
            Message::NoteOn {
                channel: 0,
                note: 36,
                velocity: 90,
            },
            Message::NoteOff {
                channel: 0,
                note: 36,
            },
        ],
    );
    assert_eq!(
        got,
        [
            ("strip/Tone/mute".to_string(), json!(true)),
            ("strip/Tone/mute".to_string(), json!(false)),
            ("bus/A1/mute".to_string(), json!(true)),
        ]
    );
}

#[test]
fn a_fourteen_bit_fader_resolves_16384_steps() {
    let fine = MidiControl {
        cc: Some(0),
        lsb: Some(32),
        ..Default::default()
    };
    let (mut m, _) = Mapper::new(&session(vec![mapping(fine, "strip/Tone/fader_db")]));
    let mut values = Vec::new();
    for v in 0..16384u16 {
        let got = sets(
            &mut m,
            &[cc_msg(0, (v >> 7) as u8), cc_msg(32, (v & 127) as u8)],
        );
        // Once the low half has been seen, the high half alone sets nothing (before
        // that, it sets the coarse value).
        assert_eq!(got.len(), if v == 0 { 2 } else { 1 }, "{v}: {got:?}");
        values.push(got[got.len() - 1].1.as_f64().unwrap());
    }
    assert_eq!(values[0], 0.0);
    assert_eq!(values[16383], 1.0);
    assert!(
        values.windows(2).all(|w| w[1] > w[0]),
        "16384 distinct, rising"
    );
    // And each lands on a distinct fader position in dB.
    let t = namespace::resolve(&Session::default_session(), "strip/1/fader_db")
        .unwrap()
        .template;
    let mut db: Vec<f32> = values[1..]
        .iter()
        .map(|n| namespace::from_norm(t, *n).as_f64().unwrap() as f32)
        .collect();
    db.dedup();
    assert_eq!(db.len(), 16383);
}

#[test]
fn pickup_moves_nothing_until_the_control_crosses_the_value() {
    let mut pick = mapping(cc(7), "strip/Tone/fader_db");
    pick.pickup = true;
    // The fader is at 0 dB: norm 0.75, CC 95.25.
    let (mut m, _) = Mapper::new(&session(vec![pick]));
    assert!(sets(&mut m, &[cc_msg(7, 0), cc_msg(7, 40), cc_msg(7, 90)]).is_empty());
    let got = sets(&mut m, &[cc_msg(7, 100), cc_msg(7, 101)]);
    assert_eq!(got.len(), 2, "crossed at 100, then it follows: {got:?}");
    // Moved elsewhere (say to -inf): the control must meet it again.
    assert!(
        m.changed("strip/Tone/fader_db", &json!("-inf"), "http")
            .is_empty()
    );
    assert!(sets(&mut m, &[cc_msg(7, 80)]).is_empty());
    assert_eq!(sets(&mut m, &[cc_msg(7, 0)]).len(), 1, "met it at 0");
    // The echo of its own set keeps it picked up.
    m.changed("strip/Tone/fader_db", &json!(-30.0), &origin(0));
    assert_eq!(sets(&mut m, &[cc_msg(7, 30)]).len(), 1);
}

#[test]
fn relative_encoders_step_from_the_current_value() {
    let enc = MidiControl {
        cc: Some(16),
        relative: Some(Relative::Twos),
        ..Default::default()
    };
    let (mut m, _) = Mapper::new(&session(vec![mapping(enc, "strip/Tone/pan")]));
    let got = sets(
        &mut m,
        &[
            cc_msg(16, 1),
            cc_msg(16, 127),
            cc_msg(16, 127),
            cc_msg(16, 0),
        ],
    );
    let norms: Vec<f64> = got.iter().map(|(_, v)| v.as_f64().unwrap()).collect();
    assert_eq!(norms, [0.5 + 1.0 / 128.0, 0.5, 0.5 - 1.0 / 128.0]);
}

#[test]
fn feedback_goes_out_scaled_except_the_echo_and_while_touched() {
    let mut fb = mapping(cc(7), "strip/Tone/fader_db");
    fb.feedback = true;
    fb.touch = Some(104);
    let mut fine = mapping(
        MidiControl {
            pitchbend: Some(2),
            ..Default::default()
        },
        "strip/Tone/fader_db",
    );
    fine.feedback = true;
    let (mut m, _) = Mapper::new(&session(vec![fb, fine]));
    assert_eq!(
        m.changed("strip/Tone/fader_db", &json!(-10.0), "http"),
        [[0xB0, 7, 64], [0xE1, 0, 64]],
        "norm 0.5 as CC 64 and as pitch bend 8192"
    );
    // Its own gesture is not echoed; the other control on the path is told.
    assert_eq!(
        m.changed("strip/Tone/fader_db", &json!(0.0), &origin(0)),
        [[0xE1, 0x7f, 0x5f]]
    );
    let touch = Message::NoteOn {
        channel: 0,
        note: 104,
        velocity: 127,
    };
    assert!(m.input(touch).is_empty());
    assert!(m.bindings()[0].is_touched());
    assert_eq!(
        m.changed("strip/Tone/fader_db", &json!("-inf"), "http"),
        [[0xE1, 0, 0]],
        "no feedback to the touched fader"
    );
    let release = Message::NoteOff {
        channel: 0,
        note: 104,
    };
    assert_eq!(m.input(release), [Effect::Send([0xB0, 7, 0])]);
}

#[test]
fn a_macro_runs_on_a_press() {
    let mut s = session(vec![]);
    s.macros.push(Macro {
        name: "Go live".into(),
        control: Some(MidiControl {
            note: Some(40),
            ..Default::default()
        }),
        actions: vec![MacroAction {
            scene: Some("Live".into()),
            ..Default::default()
        }],
    });
    let (mut m, _) = Mapper::new(&s);
    let press = Message::NoteOn {
        channel: 0,
        note: 40,
        velocity: 1,
    };
    assert_eq!(m.input(press), [Effect::Macro("Go live".into())]);
    assert!(
        m.input(Message::NoteOff {
            channel: 0,
            note: 40
        })
        .is_empty()
    );
}

#[test]
fn a_target_that_names_nothing_is_skipped_and_said() {
    let (m, warnings) = Mapper::new(&session(vec![
        mapping(cc(1), "strip/Mic/fader_db"),
        mapping(cc(2), "strip/Tone/name"),
        mapping(cc(3), "strip/Tone/pan"),
    ]));
    assert_eq!(m.bindings().len(), 1);
    assert!(
        warnings[0].contains("midi #1 target strip/Mic/fader_db"),
        "{warnings:?}"
    );
    assert!(warnings[1].contains("midi #2"), "{warnings:?}");
}

#[test]
fn a_note_toggles_a_file_player_from_where_its_events_say_it_is() {
    let note = MidiControl {
        note: Some(40),
        ..Default::default()
    };
    let mut s = session(vec![MidiMapping {
        feedback: true,
        ..mapping(note, "strip/Noise/player/playing")
    }]);
    s.strips[1].source = troubadour_engine::session::Source::File {
        path: "bed.wav".into(),
        looped: false,
    };
    let (mut m, warnings) = Mapper::new(&s);
    assert!(warnings.is_empty(), "{warnings:?}");
    let press = Message::NoteOn {
        channel: 0,
        note: 40,
        velocity: 100,
    };
    // It plays when it opens: the first press pauses.
    let path = "strip/Noise/player/playing".to_string();
    assert_eq!(sets(&mut m, &[press]), [(path.clone(), json!(false))]);
    // Its events (four a second while playing) move the LED only when they change it.
    assert!(!m.follow(&path, &json!(true)).is_empty());
    assert!(m.follow(&path, &json!(true)).is_empty());
    // The file ended: the next press plays it again.
    assert!(!m.follow(&path, &json!(false)).is_empty());
    assert_eq!(sets(&mut m, &[press]), [(path, json!(true))]);
}

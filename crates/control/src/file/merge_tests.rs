//! [`merge`](super::merge) on the session of [`FILE`].

use troubadour_engine::session::BusSend;

use super::merge;
use super::tests::{FILE, parse};

#[test]
fn merge_keeps_both_sides_changes() {
    let base = parse(FILE);
    let mut ours = base.clone();
    ours.strips[0].fader_db = -10.0; // remote: Mic fader
    let mut edited = base.clone();
    edited.strips[2].mute = true; // hand edit: Tone mute
    let m = merge(&base, &edited, &ours);
    assert_eq!(m.strips[0].fader_db, -10.0);
    assert!(m.strips[2].mute);
    let mut expected = edited.clone();
    expected.strips[0].fader_db = -10.0;
    assert_eq!(m, expected);
}

#[test]
fn merge_same_value_changed_twice_the_edit_wins() {
    let base = parse(FILE);
    let mut ours = base.clone();
    ours.strips[0].fader_db = -10.0;
    ours.strips[0].sends.get_mut("B1").unwrap().level_db = -1.0;
    let mut edited = base.clone();
    edited.strips[0].fader_db = 2.0;
    let m = merge(&base, &edited, &ours);
    assert_eq!(m.strips[0].fader_db, 2.0);
    // A sibling only ours changed is kept.
    assert_eq!(m.strips[0].sends["B1"].level_db, -1.0);
}

#[test]
fn merge_takes_the_edits_structure() {
    let base = parse(FILE);
    let mut ours = base.clone();
    ours.strips[1].fader_db = 0.0; // remote change to Music, which the edit removes
    ours.strips[2].pan = 0.5; // remote change to Tone, which the edit moves first
    let mut remote_new = ours.strips[2].clone();
    remote_new.name = "Remote".into();
    ours.strips.insert(1, remote_new); // after Mic in ours
    let mut edited = base.clone();
    edited.strips.remove(1);
    edited.strips.reverse(); // Tone, Mic
    let mut added = edited.strips[0].clone();
    added.name = "Added".into();
    added.fader_db = -1.0;
    edited.strips.push(added.clone());

    let m = merge(&base, &edited, &ours);
    let names: Vec<&str> = m.strips.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Tone", "Mic", "Remote", "Added"]);
    assert_eq!(m.strips[0].pan, 0.5);
    assert_eq!(m.strips[3], added);
}

#[test]
fn a_remote_send_to_a_bus_the_edit_removed_goes_and_the_other_remote_changes_stay() {
    let base = parse(FILE);
    let mut ours = base.clone();
    ours.strips[0].sends.insert("B1".into(), BusSend::default());
    ours.strips[2].sends.insert("B1".into(), BusSend::default()); // remote: Tone -> B1
    ours.strips[1].fader_db = -10.0; // remote: another strip's fader
    let mut edited = base.clone();
    edited.buses.remove(1); // the edit removes bus B1 and Mic's send to it
    edited.strips[0].sends.remove("B1");
    let m = merge(&base, &edited, &ours);
    let mut want = edited.clone();
    want.strips[1].fader_db = -10.0;
    assert_eq!(m, want);
}

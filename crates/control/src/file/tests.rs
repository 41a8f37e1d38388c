use std::collections::BTreeMap;

use proptest::prelude::*;
use troubadour_engine::session::{
    Bus, BusSend, GeneratorKind, GeneratorSource, Scene, SceneValue, Session, Source, Strip,
};

use super::rewrite;

pub(super) const FILE: &str = r#"# My podcast mixer
# (top comment)
version = 1
sample_rate = 48000   # studio rate

# The host's microphone
[[strip]]
name = "Mic"
source = { device = "system:capture_1" } # left input
channels = 1
fader_db = -3.5 # riding this one
sends = { A1 = {}, B1 = { level_db = -6.0 } } # both buses
eq = [
  { kind = "highpass", freq = 80.0 }, # rumble
  { kind = "peak", freq = 3000.0, gain_db = 2.0 },
]

# Backing music, to be removed
[[strip]]
name = "Music"
source = { generator = "pink", level_db = -30.0 }
fader_db = -inf
sends = { A1 = {} }

# A test tone
[[strip]]
name = "Tone"
source = { generator = "sine", freq = 440 }
mute = false   # explicitly not muted
sends = { A1 = { level_db = -12.0 } }

# Main out
[[bus]]
name = "A1"
fader_db = 0.0

# Monitor
[[bus]]
name = "B1" # headphones
mute = true

# end of file
"#;

pub(super) fn parse(text: &str) -> Session {
    toml::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn strip(s: &Session, name: &str) -> usize {
    s.strip_index(name).unwrap()
}

#[test]
fn no_change_is_byte_identical() {
    let s = parse(FILE);
    assert_eq!(rewrite(FILE, &s), FILE);
    // Also when the in-memory session went through a serialization (f32 -> f64 text).
    let again: Session = toml::from_str(&toml::to_string(&s).unwrap()).unwrap();
    assert_eq!(rewrite(FILE, &again), FILE);
}

#[test]
fn a_changed_fader_keeps_everything_else() {
    let mut s = parse(FILE);
    let mic = strip(&s, "Mic");
    s.strips[mic].fader_db = -6.0;
    let out = rewrite(FILE, &s);
    assert_eq!(parse(&out), s);
    let expected = FILE.replace("fader_db = -3.5 # riding", "fader_db = -6.0 # riding");
    assert_eq!(out, expected);
}

#[test]
fn many_changes_keep_comments_and_untouched_lines() {
    let mut s = parse(FILE);
    let mic = strip(&s, "Mic");
    s.strips[mic].fader_db = f32::NEG_INFINITY;
    s.strips[mic].sends.get_mut("B1").unwrap().level_db = -9.0;
    s.strips[mic].eq[1].freq = 2500.0;
    // Remove Music, add Guest, rename bus B1 to Phones (the sends follow).
    s.strips.remove(strip(&s, "Music"));
    let mut guest = s.strips[mic].clone();
    guest.name = "Guest".into();
    guest.eq.clear();
    guest.fader_db = 1.5;
    s.strips.push(guest);
    s.buses[1].name = "Phones".into();
    for st in &mut s.strips {
        if let Some(send) = st.sends.remove("B1") {
            st.sends.insert("Phones".into(), send);
        }
    }
    s.scenes.push(Scene {
        name: "Quiet".into(),
        values: [("strip/Mic/fader_db".to_string(), SceneValue::Number(-20.0))].into(),
    });
    let out = rewrite(FILE, &s);
    assert_eq!(parse(&out), s, "{out}");

    let kept_comments = [
        "# My podcast mixer",
        "# (top comment)",
        "sample_rate = 48000   # studio rate",
        "# The host's microphone",
        "# left input",
        "# riding this one",
        "# both buses",
        "  { kind = \"highpass\", freq = 80.0 }, # rumble",
        "# A test tone",
        "mute = false   # explicitly not muted",
        "# Main out",
        "# Monitor",
        "# headphones",
        "# end of file",
    ];
    for c in kept_comments {
        assert!(out.contains(c), "lost {c:?}:\n{out}");
    }
    assert!(!out.contains("Backing music"), "{out}");
    assert!(out.contains("fader_db = -inf # riding this one"), "{out}");
    assert!(out.contains("freq = 2500.0"), "{out}");
    assert!(out.contains("level_db = -9.0"), "{out}");
    // Lines of things that did not change are byte-identical.
    let untouched = [
        "version = 1",
        "source = { device = \"system:capture_1\" } # left input",
        "channels = 1",
        "eq = [",
        "source = { generator = \"sine\", freq = 440 }",
        "sends = { A1 = { level_db = -12.0 } }",
        "name = \"Phones\" # headphones",
    ];
    for l in untouched {
        assert!(out.lines().any(|x| x == l), "changed {l:?}:\n{out}");
    }
    // The new strip comes after Tone, the scene at the end, Mic still first.
    let at = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("{needle}\n{out}"))
    };
    assert!(at("name = \"Mic\"") < at("name = \"Tone\""));
    assert!(at("name = \"Tone\"") < at("name = \"Guest\""));
    assert!(at("name = \"Quiet\"") > at("name = \"Phones\""));
}

#[test]
fn defaults_reached_are_removed_and_new_keys_added() {
    let mut s = parse(FILE);
    let b1 = s.bus_index("B1").unwrap();
    s.buses[b1].mute = false;
    let tone = strip(&s, "Tone");
    s.strips[tone].solo = true;
    s.strips[tone].channels = 1;
    let out = rewrite(FILE, &s);
    assert_eq!(parse(&out), s, "{out}");
    assert!(!out.contains("mute = true"), "{out}");
    assert!(out.contains("solo = true"), "{out}");
    // The explicit `mute = false` of Tone stays: still the default.
    assert!(
        out.contains("mute = false   # explicitly not muted"),
        "{out}"
    );
}

#[test]
fn a_reorder_keeps_each_strip_comments() {
    let mut s = parse(FILE);
    s.strips.reverse();
    let out = rewrite(FILE, &s);
    assert_eq!(parse(&out), s, "{out}");
    let at = |needle: &str| out.find(needle).unwrap();
    assert!(at("# A test tone\n[[strip]]\nname = \"Tone\"") < at("# The host's microphone"));
    assert!(out.contains("# The host's microphone\n[[strip]]\nname = \"Mic\""));
}

#[test]
fn standard_tables_stay_standard() {
    let text = "version = 1\n\n[[strip]]\nname = \"S\"\n[strip.source]\ngenerator = \"sine\" # tone\n\n[strip.sends.A1]\nlevel_db = -3.0 # send\n\n[[strip.eq]]\nkind = \"peak\"\nfreq = 100.0\n\n[[bus]]\nname = \"A1\"\n";
    let mut s = parse(text);
    s.strips[0].sends.get_mut("A1").unwrap().level_db = -4.0;
    s.strips[0].eq[0].freq = 200.0;
    let out = rewrite(text, &s);
    assert_eq!(parse(&out), s, "{out}");
    assert_eq!(
        out,
        text.replace("-3.0 # send", "-4.0 # send")
            .replace("freq = 100.0", "freq = 200.0")
    );
}

#[test]
fn not_toml_gives_the_plain_serialization() {
    let s = parse(FILE);
    let out = rewrite("this is = = not toml", &s);
    assert_eq!(out, toml::to_string(&s).unwrap());
    assert_eq!(parse(&out), s);
}

// --- property: rewrite always says exactly the session ---

fn arb_strip(name: String) -> impl Strategy<Value = Strip> {
    let fader = prop_oneof![
        Just(0.0f32),
        Just(f32::NEG_INFINITY),
        (-600i32..120).prop_map(|x| x as f32 / 10.0),
        -60.0f32..12.0,
    ];
    (
        fader,
        any::<bool>(),
        1u16..3,
        prop::option::of(-30i32..0),
        0usize..3,
    )
        .prop_map(move |(fader_db, mute, channels, send, eq)| {
            let mut sends = BTreeMap::new();
            sends.insert("A1".to_string(), BusSend::default());
            if let Some(l) = send {
                let level_db = l as f32;
                sends.insert(
                    "B1".to_string(),
                    BusSend {
                        level_db,
                        ..BusSend::default()
                    },
                );
            }
            Strip {
                name: name.clone(),
                source: Source::Generator(GeneratorSource {
                    kind: GeneratorKind::Sine,
                    freq: 440.0,
                    level_db: -18.0,
                    seed: None,
                    interval_ms: 1000.0,
                }),
                channels,
                gain_db: 0.0,
                fader_db,
                pan: 0.0,
                mute,
                solo: false,
                gate: None,
                eq: (0..eq)
                    .map(|i| troubadour_engine::session::EqBand {
                        kind: troubadour_engine::session::EqKind::Peak,
                        freq: 100.0 * (i + 1) as f64,
                        q: std::f64::consts::FRAC_1_SQRT_2,
                        gain_db: 0.0,
                        slope: None,
                        on: true,
                    })
                    .collect(),
                compressor: None,
                sends,
                recall_safe: false,
            }
        })
}

fn arb_session() -> impl Strategy<Value = Session> {
    let names =
        prop::sample::subsequence(vec!["Mic", "Gtr", "Keys", "Drums", "Vox"], 0..5).prop_shuffle();
    (names, any::<bool>(), any::<bool>()).prop_flat_map(|(names, mute_a, b1)| {
        let strips: Vec<_> = names
            .into_iter()
            .map(|n| arb_strip(n.to_string()))
            .collect();
        strips.prop_map(move |strips| {
            let bus = |name: &str, mute| Bus {
                name: name.into(),
                channels: 2,
                fader_db: 0.0,
                mute,
                sink: None,
                eq: Vec::new(),
                compressor: None,
                limiter: None,
                recall_safe: false,
            };
            let mut buses = vec![bus("A1", mute_a)];
            if b1 {
                buses.push(bus("B1", false));
            }
            Session {
                buses,
                strips,
                ..Session::default_session()
            }
        })
    })
}

/// The session written by hand: comments, inline tables, defaults left out.
fn hand_written(s: &Session) -> String {
    let mut t = String::from("# session\nversion = 1\n");
    for st in &s.strips {
        t += &format!("\n# strip {}\n[[strip]]\nname = {:?}\n", st.name, st.name);
        t += "source = { generator = \"sine\", freq = 440.0 } # tone\n";
        if st.channels != 2 {
            t += &format!("channels = {}\n", st.channels);
        }
        t += &format!("fader_db = {:?} # fader\nmute = {}\n", st.fader_db, st.mute);
        let sends: Vec<String> = st
            .sends
            .iter()
            .map(|(k, v)| match v.level_db {
                0.0 => format!("{k} = {{}}"),
                l => format!("{k} = {{ level_db = {l:?} }}"),
            })
            .collect();
        t += &format!("sends = {{ {} }}\n", sends.join(", "));
        if !st.eq.is_empty() {
            let bands: Vec<String> = st
                .eq
                .iter()
                .map(|b| format!("{{ kind = \"peak\", freq = {:?} }}", b.freq))
                .collect();
            t += &format!("eq = [ {} ] # eq\n", bands.join(", "));
        }
    }
    for b in &s.buses {
        t += &format!("\n[[bus]] # bus\nname = {:?}\nmute = {}\n", b.name, b.mute);
    }
    t
}

proptest! {
    #[test]
    fn rewrite_of_small_changes_keeps_the_comments(
        a in arb_session(),
        pick in any::<prop::sample::Index>(),
        fader in prop_oneof![Just(f32::NEG_INFINITY), -60.0f32..12.0],
        mute in any::<bool>(),
        drop_bus in any::<bool>(),
    ) {
        let text = hand_written(&a);
        let mut b = a.clone();
        if !b.strips.is_empty() {
            let i = pick.index(b.strips.len());
            b.strips[i].fader_db = fader;
            b.strips[i].mute = mute;
        }
        if drop_bus && b.buses.len() > 1 {
            b.buses.pop();
        }
        let out = rewrite(&text, &b);
        prop_assert_eq!(parse(&out), b.clone(), "{}", out);
        for st in &b.strips {
            let comment = format!("# strip {}", st.name);
            prop_assert!(out.contains(&comment), "{}", out);
        }
        prop_assert_eq!(out.matches("# fader").count(), b.strips.len(), "{}", out);
    }

    #[test]
    fn rewrite_always_says_the_session(
        a in arb_session(),
        b in arb_session(),
        hand in any::<bool>(),
    ) {
        let text = if hand { hand_written(&a) } else { toml::to_string(&a).unwrap() };
        prop_assert_eq!(&parse(&text), &a, "{}", text);
        prop_assert_eq!(&rewrite(&text, &a), &text);
        let out = rewrite(&text, &b);
        prop_assert_eq!(parse(&out), b, "{}", out);
        // And the plain fallback was not needed when the layout allows a real rewrite.
        if hand {
            prop_assert!(out.contains("# session"), "{}", out);
        }
    }
}

#[test]
fn new_things_take_the_files_style() {
    let mut s = parse(FILE);
    let mic = strip(&s, "Mic");
    let band = s.strips[mic].eq[0];
    s.strips[mic].eq.push(band);
    s.strips.remove(strip(&s, "Music"));
    let mut guest = s.strips[mic].clone();
    guest.name = "Guest".into();
    s.strips.push(guest);
    let tone = strip(&s, "Tone");
    s.strips[tone].sends.insert("B1".into(), BusSend::default());
    let out = rewrite(FILE, &s);
    assert_eq!(parse(&out), s, "{out}");
    // The comment after band 1 is not copied onto the new band 3.
    assert_eq!(out.matches("# rumble").count(), 1, "{out}");
    assert!(
        out.contains("gain_db = 2.0 },\n  { kind = \"highpass\", freq = 80.0, q = "),
        "{out}"
    );
    // A send added inside an inline table, the space before `}` kept at the end.
    assert!(
        out.contains("sends = { A1 = { level_db = -12.0 }, B1 = {} }\n"),
        "{out}"
    );
    // The new strip writes its source and sends inline, like the file's strips.
    let guest = &out[out.find("name = \"Guest\"").unwrap()..];
    assert!(
        guest.contains("\nsource = { device = \"system:capture_1\" }\n"),
        "{out}"
    );
    assert!(
        guest.contains("\nsends = { A1 = {}, B1 = { level_db = -6.0 } }\n"),
        "{out}"
    );
    assert!(!out.contains("[strip."), "{out}");
}

#[test]
fn dotted_keys_and_interleaved_tables() {
    let text = "version = 1\n# a\n[[strip]]\nname = \"A\"\nsource.generator = \"sine\" # dotted\nsends.A1 = {}\n\n# the bus\n[[bus]]\nname = \"A1\"\n\n# b\n[[strip]]\nname = \"B\"\nsource.generator = \"pink\"\nsends.A1.level_db = -3.0\n";
    let mut s = parse(text);
    s.strips[1].sends.get_mut("A1").unwrap().level_db = -5.0;
    s.strips[0].mute = true;
    let out = rewrite(text, &s);
    assert_eq!(parse(&out), s, "{out}");
    assert!(
        out.contains("source.generator = \"sine\" # dotted\n"),
        "{out}"
    );
    assert!(out.contains("sends.A1.level_db = -5.0\n"), "{out}");
    // The interleaved layout is kept while the order does not change...
    assert!(
        out.find("# the bus").unwrap() < out.find("# b\n").unwrap(),
        "{out}"
    );
    // ...and a reorder still reads back right.
    s.strips.reverse();
    let out = rewrite(text, &s);
    assert_eq!(parse(&out), s, "{out}");
    assert!(out.contains("# a\n[[strip]]\nname = \"A\""), "{out}");
}

//! Bad session files give exact, located messages; every validation problem is
//! reported at once.

use std::path::PathBuf;

use troubadour_engine::session::{self, Severity};

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Self {
        let d =
            std::env::temp_dir().join(format!("troubadour-session-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The error lines for `text`, with the temporary directory shown as `DIR`.
fn errors(dir: &Dir, text: &str) -> Vec<String> {
    let path = dir.write("session.toml", text);
    let err = session::load(&path).expect_err("the session should be rejected");
    err.diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.to_string().replace(&dir.0.display().to_string(), "DIR"))
        .collect()
}

const GOOD: &str = r#"version = 1

[[strip]]
name = "Mic"
channels = 1
source = { device = "system:capture_1" }
sends = { A1 = { level_db = 0.0 } }

[[bus]]
name = "A1"
channels = 2
"#;

#[test]
fn the_baseline_session_is_valid() {
    let dir = Dir::new("good");
    let loaded = session::load(&dir.write("session.toml", GOOD)).unwrap();
    assert!(loaded.warnings.is_empty());
}

#[test]
fn unknown_field() {
    let dir = Dir::new("unknown");
    assert_eq!(
        errors(
            &dir,
            &GOOD.replace("channels = 1\n", "channels = 1\ngainn_db = 3.0\n")
        ),
        [
            "DIR/session.toml:6:1: unknown field `gainn_db`, expected one of `name`, `source`, `channels`, `gain_db`, `fader_db`, `pan`, `mute`, `solo`, `gate`, `eq`, `compressor`, `sends`, `recall_safe`"
        ]
    );
}

#[test]
fn wrong_type() {
    let dir = Dir::new("type");
    assert_eq!(
        errors(&dir, &GOOD.replace("level_db = 0.0", "level_db = \"loud\"")),
        ["DIR/session.toml:7:29: invalid type: string \"loud\", expected f32"]
    );
}

#[test]
fn out_of_range() {
    let dir = Dir::new("range");
    assert_eq!(
        errors(&dir, &GOOD.replace("level_db = 0.0", "level_db = 30.0")),
        [
            "DIR/session.toml:7:29: strip \"Mic\" sends.A1.level_db: 30 is above the maximum of +12 dB"
        ]
    );
}

#[test]
fn duplicate_name() {
    let dir = Dir::new("dup");
    let text = GOOD.replace(
        "[[bus]]",
        "[[strip]]\nname = \"Mic\"\nsource = { generator = \"pink\" }\n\n[[bus]]",
    );
    assert_eq!(
        errors(&dir, &text),
        [
            "DIR/session.toml:10:8: strip \"Mic\" name: duplicate strip name \"Mic\" (strip #1 has it already)"
        ]
    );
}

#[test]
fn send_to_unknown_bus() {
    let dir = Dir::new("bus");
    assert_eq!(
        errors(&dir, &GOOD.replace("sends = { A1", "sends = { B3")),
        ["DIR/session.toml:7:16: strip \"Mic\" sends.B3: send to unknown bus \"B3\" (buses: A1)"]
    );
}

#[test]
fn missing_file() {
    let dir = Dir::new("file");
    assert_eq!(
        errors(
            &dir,
            &GOOD.replace(
                "{ device = \"system:capture_1\" }",
                "{ file = \"voice.wav\" }"
            )
        ),
        [
            "DIR/session.toml:6:19: strip \"Mic\" source.file: file voice.wav not found (looked for DIR/voice.wav)"
        ]
    );
}

#[test]
fn channel_count_mismatch() {
    let dir = Dir::new("channels");
    assert_eq!(
        errors(&dir, &GOOD.replace("channels = 1", "channels = 4")),
        [
            "DIR/session.toml:7:16: strip \"Mic\" sends.A1: a 4-channel strip cannot feed the 2-channel bus \"A1\" (allowed: equal counts, mono to any, stereo to mono)"
        ]
    );
}

#[test]
fn file_at_another_rate_or_channel_count() {
    let dir = Dir::new("wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 2_000,
        bits_per_sample: 24,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(dir.0.join("voice.wav"), spec).unwrap();
    w.write_sample(0i32).unwrap();
    w.write_sample(0i32).unwrap();
    w.finalize().unwrap();
    assert_eq!(
        errors(
            &dir,
            &GOOD.replace(
                "{ device = \"system:capture_1\" }",
                "{ file = \"voice.wav\" }"
            )
        ),
        [
            "DIR/session.toml:6:19: strip \"Mic\" source.file: voice.wav is at 2000 Hz, more than 16x away from the session's 48000 Hz (too far to resample)",
            "DIR/session.toml:6:19: strip \"Mic\" source.file: voice.wav has 2 channels but the strip has 1 (a file must match the strip, or be mono)",
        ]
    );
}

#[test]
fn bad_rate_and_block_size() {
    let dir = Dir::new("rate");
    assert_eq!(
        errors(
            &dir,
            &GOOD.replace(
                "version = 1\n",
                "version = 1\nsample_rate = 1000\nblock_frames = 100000\n"
            )
        ),
        [
            "DIR/session.toml:2:15: sample_rate: 1000 Hz is outside the supported range 8000..=384000 Hz",
            "DIR/session.toml:3:16: block_frames: 100000 frames is outside the supported range 16..=8192",
        ]
    );
}

#[test]
fn a_source_must_be_exactly_one_kind() {
    let dir = Dir::new("source");
    assert_eq!(
        errors(
            &dir,
            &GOOD.replace(
                "{ device = \"system:capture_1\" }",
                "{ device = \"x\", generator = \"sine\" }"
            )
        ),
        ["DIR/session.toml:6:10: a source takes only one of `device`, `file` or `generator`"]
    );
    assert_eq!(
        errors(
            &dir,
            &GOOD.replace(
                "{ device = \"system:capture_1\" }",
                "{ generator = \"sawtooth\" }"
            )
        ),
        [
            "DIR/session.toml:6:24: unknown variant `sawtooth`, expected one of `sine`, `white`, `pink`, `impulse`, `silence`"
        ]
    );
}

#[test]
fn syntax_error() {
    let dir = Dir::new("syntax");
    assert_eq!(
        errors(&dir, "version = 1\n[[strip]\n"),
        ["DIR/session.toml:2:9: unclosed array table, expected `]`"]
    );
}

#[test]
fn every_problem_is_reported_at_once_in_file_order() {
    let dir = Dir::new("many");
    let text = GOOD
        .replace("channels = 1", "channels = 1\npan = 2.0\nfader_db = 13.0")
        .replace("sends = { A1", "sends = { B9 = {}, A1")
        .replace("channels = 2", "channels = 9");
    let lines = errors(&dir, &text);
    assert_eq!(
        lines,
        [
            "DIR/session.toml:6:7: strip \"Mic\" pan: 2 is above the maximum of 1",
            "DIR/session.toml:7:12: strip \"Mic\" fader_db: 13 is above the maximum of +12 dB",
            "DIR/session.toml:9:16: strip \"Mic\" sends.B9: send to unknown bus \"B9\" (buses: A1)",
            "DIR/session.toml:13:12: bus \"A1\" channels: 9 channels is outside the supported range 1..=8",
        ]
    );
}

#[test]
fn a_missing_session_file_is_an_error_not_a_panic() {
    let err = session::load("/nonexistent/session.toml".as_ref()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/session.toml:1:1: cannot read the session file:"),
        "{err}"
    );
}

#[test]
fn save_is_atomic_and_round_trips() {
    let dir = Dir::new("save");
    let path = dir.0.join("saved.toml");
    let s = session::Session::default_session();
    session::save(&s, &path).unwrap();
    let back = session::load(&path).unwrap();
    assert_eq!(back.session, s);
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["saved.toml"]);
}

#[test]
fn bus_names_that_become_one_file_name_are_rejected() {
    let dir = Dir::new("file-clash");
    let text = format!("{GOOD}\n[[bus]]\nname = \"A 1\"\nchannels = 2\n[[bus]]\nname = \"A.1\"\n");
    let text = text
        .replace("name = \"A1\"", "name = \"A_1\"")
        .replace("A1 = {", "A_1 = {");
    assert_eq!(
        errors(&dir, &text),
        [
            "DIR/session.toml:14:8: bus \"A 1\" name: would be written to A_1.wav like bus \"A_1\" (bus names become file names with anything but letters, digits, - and _ replaced by _): rename one or give it a file sink",
            "DIR/session.toml:17:8: bus \"A.1\" name: would be written to A_1.wav like bus \"A_1\" (bus names become file names with anything but letters, digits, - and _ replaced by _): rename one or give it a file sink",
        ]
    );
}

#[test]
fn names_with_control_characters_are_rejected() {
    let dir = Dir::new("control-chars");
    let text = GOOD
        .replace("name = \"Mic\"", "name = \"Mic\\nTwo\"")
        .replace("name = \"A1\"", "name = \"A1\\t\"")
        .replace("A1 = {", "\"A1\\t\" = {");
    assert_eq!(
        errors(&dir, &text),
        [
            "DIR/session.toml:4:8: strip \"Mic\\nTwo\" name: a strip name cannot contain control characters (U+000A in \"Mic\\nTwo\")",
            "DIR/session.toml:10:8: bus \"A1\\t\" name: a bus name cannot contain control characters (U+0009 in \"A1\\t\")",
        ]
    );
}

#[test]
fn a_strip_without_sends_is_valid_with_a_warning() {
    let dir = Dir::new("no-sends");
    let text = GOOD.replace("sends = { A1 = { level_db = 0.0 } }\n", "");
    let loaded = session::load(&dir.write("session.toml", &text)).unwrap();
    let warnings: Vec<String> = loaded
        .warnings
        .iter()
        .map(|d| d.to_string().replace(&dir.0.display().to_string(), "DIR"))
        .collect();
    assert_eq!(
        warnings,
        [
            "DIR/session.toml:4:8: warning: strip \"Mic\" name: no sends: this strip is heard on no bus (add e.g. sends = { A1 = {} })"
        ]
    );
}

#[test]
fn a_source_that_breaks_after_validation_is_located_when_the_graph_is_built() {
    let dir = Dir::new("late-break");
    let wav = dir.0.join("voice.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for i in 0..4800 {
        w.write_sample((i % 100) as i16).unwrap();
    }
    w.finalize().unwrap();
    let text = GOOD.replace(
        "{ device = \"system:capture_1\" }",
        "{ file = \"voice.wav\" }",
    );
    let loaded = session::load(&dir.write("session.toml", &text)).unwrap();
    std::fs::write(&wav, b"RIFF").unwrap();
    // Validation before the build finds it, located in the file as written.
    let Err(err) = troubadour_engine::create(&loaded, &Default::default()) else {
        panic!("the broken file should fail the build");
    };
    let err = err.located(&loaded);
    let shown = err.to_string().replace(&dir.0.display().to_string(), "DIR");
    assert!(
        shown.contains("DIR/session.toml:6:19: strip \"Mic\" source.file: DIR/voice.wav is not a readable WAV file"),
        "{shown}"
    );
    // The build itself, past validation: located the same way.
    let Err(err) = troubadour_engine::Graph::build(
        &loaded.session,
        &loaded.base_dir,
        256,
        0,
        Default::default(),
    ) else {
        panic!("the broken file should fail the build");
    };
    let err = err.located(&loaded);
    let shown = err.to_string().replace(&dir.0.display().to_string(), "DIR");
    assert!(
        shown.contains("DIR/session.toml:6:19: strip \"Mic\" source.file: DIR/voice.wav is not a readable WAV file"),
        "{shown}"
    );
}

#[test]
fn a_bound_written_in_the_file_is_inside_its_range_and_names_are_addressable() {
    // 0.01 ms, the compressor's shortest attack, is 0.0099999998 as an f32.
    let dir = Dir::new("bounds");
    let text = GOOD.replace(
        "sends = {",
        "compressor = { threshold_db = -20.0, ratio = 4.0, attack_ms = 0.01 }\nsends = {",
    );
    session::load(&dir.write("session.toml", &text)).unwrap();
    let below = GOOD.replace(
        "sends = {",
        "compressor = { threshold_db = -20.0, ratio = 4.0, attack_ms = 0.0099 }\nsends = {",
    );
    assert_eq!(errors(&dir, &below).len(), 1);
    // The control API addresses strips by name or 1-based index, with '/' between parts.
    let digits = errors(&dir, &GOOD.replace("name = \"Mic\"", "name = \"42\""));
    assert!(digits[0].contains("only digits"), "{digits:?}");
    let slash = errors(&dir, &GOOD.replace("name = \"Mic\"", "name = \"a/b\""));
    assert!(slash[0].contains("cannot contain '/'"), "{slash:?}");
}

#[test]
fn recorder_tracks_are_checked_and_located() {
    let dir = Dir::new("recorder");
    let text = format!(
        "{GOOD}\n[recorder]\ndir = \"takes\"\nformat = \"wav-24\"\ntracks = [\"strip/Mic\", \"strip/Nobody\", \"bus/A1:pre\", \"strip/Mic\", \"mixer/A1\"]\nbuffer_seconds = 0.1\n"
    );
    let found = errors(&dir, &text);
    assert_eq!(
        found,
        [
            "DIR/session.toml:16:24: recorder.tracks[1]: \"strip/Nobody\": the session has no strip \"Nobody\"",
            "DIR/session.toml:16:40: recorder.tracks[2]: \"bus/A1:pre\": a bus is recorded as it leaves; :pre applies to strips only",
            "DIR/session.toml:16:54: recorder.tracks[3]: \"strip/Mic\" is listed twice",
            "DIR/session.toml:16:67: recorder.tracks[4]: \"mixer/A1\": unknown kind \"mixer\" (expected strip/<name>, strip/<name>:pre or bus/<name>)",
            "DIR/session.toml:17:18: recorder.buffer_seconds: 0.1 s is outside 0.25..=60 s",
        ]
    );
    let bad_format = format!("{GOOD}\n[recorder]\nformat = \"mp3\"\n");
    let e = errors(&dir, &bad_format);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("DIR/session.toml:14:10"), "{e:?}");
    assert!(e[0].contains("wav-f32"), "{e:?}");
    // A good table loads, with its defaults.
    let good = format!("{GOOD}\n[recorder]\ntracks = [\"strip/Mic:pre\", \"bus/A1\"]\n");
    let loaded = session::load(&dir.write("ok.toml", &good)).unwrap();
    let r = loaded.session.recorder.unwrap();
    assert_eq!(r.dir, PathBuf::from("takes"));
    assert_eq!(r.format, session::RecordFormat::WavF32);
    assert_eq!(r.buffer_seconds, 4.0);
    // FLAC takes (strips and buses have at most 8 channels, as FLAC files do).
    let flac16 = format!("{GOOD}\n[recorder]\nformat = \"flac-16\"\ntracks = [\"bus/A1\"]\n");
    let loaded = session::load(&dir.write("flac.toml", &flac16)).unwrap();
    assert_eq!(
        loaded.session.recorder.unwrap().format,
        session::RecordFormat::Flac16
    );
}

#[test]
fn virtual_devices_are_named_once_with_their_options_and_app_patterns() {
    let dir = Dir::new("virtual");
    let with = |source: &str, sink: &str| {
        GOOD.replace("{ device = \"system:capture_1\" }", source)
            .replace("channels = 2\n", &format!("channels = 2\nsink = {sink}\n"))
    };
    // Fine: a virtual playback device on the strip, a virtual microphone on the bus.
    let fine = with("{ virtual = \"Browser\" }", "{ virtual = \"Stream mix\" }");
    session::load(&dir.write("session.toml", &fine)).expect("a valid session");
    // Names that make the same node name (case and punctuation fold to it).
    assert_eq!(
        errors(
            &dir,
            &with(
                "{ virtual = \"Stream mix\" }",
                "{ virtual = \"stream-MIX\" }"
            )
        ),
        [
            "DIR/session.toml:12:20: bus \"A1\" sink.virtual: the virtual device \"stream-MIX\" would be node \"troubadour.stream_mix\", like the virtual device \"Stream mix\": virtual device names must be unique"
        ]
    );
    assert_eq!(
        errors(&dir, &with("{ virtual = \"\" }", "{ file = \"a1.wav\" }")),
        ["DIR/session.toml:6:22: strip \"Mic\" source.virtual: a virtual device needs a name"]
    );
    // default and persist load; an app strip's device is named after the strip.
    let options = with(
        "{ virtual = \"B\", default = true, persist = true }",
        "{ virtual = \"S\", default = true }",
    );
    let loaded = session::load(&dir.write("session.toml", &options)).expect("valid");
    assert_eq!(
        loaded.session.strips[0].source,
        session::Source::Virtual(session::VirtualSource {
            name: "B".into(),
            default: true,
            persist: true,
        })
    );
    assert_eq!(
        loaded.session.buses[0].sink,
        Some(session::Sink::Virtual {
            name: "S".into(),
            default: true,
            persist: false,
        })
    );
    let app = with("{ app = \"firefox|chrom\" }", "{ virtual = \"Stream\" }");
    let loaded = session::load(&dir.write("session.toml", &app)).expect("valid");
    assert_eq!(
        loaded.session.strips[0].source,
        session::Source::App("firefox|chrom".into())
    );
    // Its pattern is a regular expression; its device's name (the strip's) is unique.
    assert_eq!(
        errors(
            &dir,
            &with("{ app = \"fire(fox\" }", "{ virtual = \"Mic\" }")
        ),
        [
            "DIR/session.toml:6:18: strip \"Mic\" source.app: \"fire(fox\" is not a regular expression: regex parse error:\n    fire(fox\n        ^\nerror: unclosed group",
            "DIR/session.toml:12:20: bus \"A1\" sink.virtual: the virtual device \"Mic\" would be node \"troubadour.mic\", like the virtual device \"Mic\": virtual device names must be unique"
        ]
    );
    assert_eq!(
        errors(
            &dir,
            &with("{ app = \"x\", device = \"y\" }", "{ file = \"a1.wav\" }")
        ),
        [
            "DIR/session.toml:6:10: an app source takes only `app` (a pattern over application names)"
        ]
    );
    assert_eq!(
        errors(
            &dir,
            &with(
                "{ device = \"y\", persist = true }",
                "{ file = \"a1.wav\" }"
            )
        ),
        [
            "DIR/session.toml:6:10: `default` and `persist` belong to a virtual source: { virtual = \"NAME\", default = true }"
        ]
    );
    // Two default inputs.
    let two = format!(
        "{}\n[[bus]]\nname = \"B2\"\nchannels = 2\nsink = {{ virtual = \"T\", default = true }}\n",
        with("{ virtual = \"B\" }", "{ virtual = \"S\", default = true }")
    );
    assert_eq!(
        errors(&dir, &two),
        [
            "DIR/session.toml:17:35: bus \"B2\" sink.default: the virtual device \"T\" and \"S\" both ask to be the default input: only one can be"
        ]
    );
    assert_eq!(
        errors(
            &dir,
            &with(
                "{ virtual = \"B\", device = \"x\" }",
                "{ file = \"a1.wav\" }"
            )
        ),
        [
            "DIR/session.toml:6:10: a virtual source takes only `virtual` (the device's name), `default` and `persist`"
        ]
    );
}

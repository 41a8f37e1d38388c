//! A file player's transport from outside: `troubadour run` on the null backend (a
//! real-time clock), driven over HTTP, OSC (raw UDP) and watched through the bus's
//! meter in `/metrics`, the `player` status event (Python's `websockets`) and the
//! session file. The file holds a different level each second (second k at
//! (k + 1) / 10), so the meter says where the player is.

mod support;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Dir;
use support::api::{Instance, float_message, python};

/// Second `k`'s level, dBFS.
fn level_db(second: usize) -> f64 {
    20.0 * ((second + 1) as f64 / 10.0).log10()
}

/// A mono 48 kHz float WAV of `seconds` seconds of steps.
fn steps(dir: &Dir, name: &str, seconds: usize) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(dir.path(name), spec).unwrap();
    for i in 0..seconds * 48_000 {
        w.write_sample((i / 48_000 + 1) as f32 / 10.0).unwrap();
    }
    w.finalize().unwrap();
}

fn start(dir: &Dir, looped: bool, extra: &[&str]) -> Instance {
    steps(dir, "steps.wav", 8);
    let path = dir.write(
        "session.toml",
        &format!(
            "version = 1\n\n[[strip]]\nname = \"Bed\"\nsource = {{ file = \"steps.wav\", loop = {looped} }}\nsends = {{ A1 = {{}} }}\n\n[[bus]]\nname = \"A1\"\nchannels = 1\n"
        ),
    );
    let mut args = vec![path.as_str(), "--backend", "null"];
    args.extend_from_slice(extra);
    Instance::start(&args, &[])
}

fn get(t: &Instance, param: &str) -> Value {
    let r = t.json(
        "GET",
        &format!("/api/v1/params/strip/Bed/player/{param}"),
        None,
    );
    r["value"].clone()
}

fn set(t: &Instance, param: &str, value: Value) -> Value {
    t.json(
        "PUT",
        &format!("/api/v1/params/strip/Bed/player/{param}"),
        Some(&json!({ "value": value }).to_string()),
    )
}

fn position(t: &Instance) -> f64 {
    get(t, "position_s").as_f64().unwrap()
}

/// The bus's peak over the next 400 ms (`/metrics` reports the peak since the last
/// scrape: one scrape to start the window, one to read it).
fn peak_db(t: &Instance) -> f64 {
    let read = || {
        let body = t.http("GET", "/metrics", None).body;
        body.lines()
            .find_map(|l| l.strip_prefix("troubadour_bus_peak_dbfs{bus=\"A1\",channel=\"1\"} "))
            .map(|v| v.trim().parse::<f64>().unwrap())
            .unwrap_or(f64::NEG_INFINITY)
    };
    // The control thread reads the meters every 100 ms: what played before the
    // call may still be in the first reading after it.
    std::thread::sleep(Duration::from_millis(150));
    read();
    std::thread::sleep(Duration::from_millis(400));
    read()
}

/// Waits (up to 5 s) for `what` to hold.
fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pause_play_and_seek_over_http_are_heard_on_the_bus() {
    let dir = Dir::new("player-http");
    let t = start(&dir, false, &[]);
    assert_eq!(get(&t, "length_s"), json!(8.0));
    assert_eq!(get(&t, "playing"), json!(true));
    assert_eq!(get(&t, "loop"), json!(false));
    // Playing: the position moves, the bus hears second 0 (or 1).
    until("the position moves", || position(&t) > 0.2);
    let p = peak_db(&t);
    assert!(
        (p - level_db(0)).abs() < 0.1 || (p - level_db(1)).abs() < 0.1,
        "{p}"
    );

    // Pause: silence, the position holds.
    let r = set(&t, "playing", json!(false));
    assert_eq!(r["value"], json!(false), "{r}");
    assert!(r["seq"].is_null(), "transport is no session change: {r}");
    std::thread::sleep(Duration::from_millis(100));
    let held = position(&t);
    assert_eq!(peak_db(&t), f64::NEG_INFINITY, "paused but heard");
    assert_eq!(position(&t), held, "the position moved while paused");
    assert_eq!(get(&t, "playing"), json!(false));

    // Play: from there on.
    set(&t, "playing", json!(true));
    until("the position moves again", || position(&t) > held);
    assert!(position(&t) < held + 1.0);

    // Seek: the next audio is the content at 3 s.
    let r = set(&t, "position_s", json!(3.0));
    assert_eq!(r["value"], json!(3.0), "{r}");
    std::thread::sleep(Duration::from_millis(100));
    let p = peak_db(&t);
    assert!((p - level_db(3)).abs() < 0.05, "{p} dB after a seek to 3 s");
    let now = position(&t);
    assert!((3.0..4.0).contains(&now), "{now}");
    // Clamped to the length.
    assert_eq!(set(&t, "position_s", json!(100))["value"], json!(8.0));
    until("it ends", || get(&t, "playing") == json!(false));

    // Refusals with the namespace's codes.
    let r = t.http(
        "PUT",
        "/api/v1/params/strip/Bed/player/length_s",
        Some(r#"{"value": 1}"#),
    );
    assert_eq!(r.code(), "bad_request", "{}", r.body);
    let r = t.http(
        "PUT",
        "/api/v1/params/strip/Bed/player/position_s",
        Some(r#"{"value": "soon"}"#),
    );
    assert_eq!(r.code(), "wrong_type", "{}", r.body);
}

#[test]
fn loop_off_mid_play_stops_at_the_end_and_is_saved() {
    let dir = Dir::new("player-loop");
    let t = start(&dir, true, &[]);
    set(&t, "position_s", json!(6.5));
    std::thread::sleep(Duration::from_millis(100));
    // Listening before it ends: the event of the end is told once.
    let url = t.ws_url();
    let ended = std::thread::spawn(move || {
        python("status_events.py", &[&url, "player", "10", "ended=true"])
    });
    std::thread::sleep(Duration::from_millis(500));
    let r = set(&t, "loop", json!(false));
    assert_eq!(r["value"], json!(false), "{r}");
    assert!(
        r["seq"].as_u64().is_some(),
        "loop is a session parameter: {r}"
    );
    // It plays out the last 1.5 s, then stops there.
    until("it stops at the end", || get(&t, "playing") == json!(false));
    assert_eq!(get(&t, "position_s"), json!(8.0));
    assert_eq!(peak_db(&t), f64::NEG_INFINITY, "heard after the end");
    // The event said so.
    let event = ended.join().unwrap();
    assert_eq!(event["strip"], "Bed", "{event}");
    assert_eq!(event["playing"], false, "{event}");
    assert_eq!(event["cause"], "end", "{event}");
    assert_eq!(event["position_s"], json!(8.0), "{event}");
    assert_eq!(event["length_s"], json!(8.0), "{event}");
    // `loop` is saved with the session; the transport is not.
    // (`loop = false` is the default, which the file leaves out.)
    until("the session file no longer loops", || {
        !std::fs::read_to_string(dir.path("session.toml"))
            .unwrap()
            .contains("loop = true")
    });
    let text = std::fs::read_to_string(dir.path("session.toml")).unwrap();
    assert!(text.contains("file = \"steps.wav\""), "{text}");
    assert!(
        !text.contains("playing") && !text.contains("position"),
        "{text}"
    );
    // Play after the end starts over.
    set(&t, "playing", json!(true));
    std::thread::sleep(Duration::from_millis(100));
    let p = peak_db(&t);
    assert!((p - level_db(0)).abs() < 0.05, "{p} dB after playing again");
}

#[test]
fn a_player_event_tells_the_position_while_playing() {
    let dir = Dir::new("player-event");
    let t = start(&dir, true, &[]);
    let event = python("status_events.py", &[&t.ws_url(), "player", "5"]);
    assert_eq!(event["strip"], "Bed", "{event}");
    assert_eq!(event["playing"], true, "{event}");
    assert_eq!(event["loop"], true, "{event}");
    let at = event["position_s"].as_f64().unwrap();
    assert!((0.0..8.0).contains(&at), "{event}");
}

#[test]
fn graph_swaps_keep_the_position_and_the_transport() {
    let dir = Dir::new("player-swap");
    let t = start(&dir, false, &[]);
    set(&t, "position_s", json!(2.0));
    std::thread::sleep(Duration::from_millis(200));
    set(&t, "playing", json!(false));
    std::thread::sleep(Duration::from_millis(50));
    let held = position(&t);
    assert!((2.0..3.0).contains(&held), "{held}");
    // A parameter set (no rebuild) and a structural change (a new graph).
    t.json(
        "PUT",
        "/api/v1/params/strip/Bed/fader_db",
        Some(r#"{"value": 0}"#),
    );
    let r = t.json(
        "POST",
        "/api/v1/request",
        Some(r#"{"op":"add_strip","strip":{"name":"Tone","source":{"generator":"sine"}}}"#),
    );
    assert!(r["done"].as_str().is_some(), "{r}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(get(&t, "playing"), json!(false));
    assert_eq!(position(&t), held, "the position moved through the swap");
    assert_eq!(peak_db(&t), f64::NEG_INFINITY);
    set(&t, "playing", json!(true));
    std::thread::sleep(Duration::from_millis(100));
    let p = peak_db(&t);
    assert!(
        (p - level_db(2)).abs() < 0.05,
        "{p} dB: not where it was paused"
    );
    // The handle follows the stream: a seek after the swap is heard.
    set(&t, "position_s", json!(5.0));
    std::thread::sleep(Duration::from_millis(100));
    let p = peak_db(&t);
    assert!(
        (p - level_db(5)).abs() < 0.05,
        "{p} dB after a seek past the swap"
    );
}

#[test]
fn osc_seeks_and_pauses() {
    let dir = Dir::new("player-osc");
    let mut t = start(&dir, false, &["--osc", "127.0.0.1:0", "--no-autosave"]);
    let osc = t.osc_addr();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .send_to(&float_message("/strip/Bed/player/position_s", 6.0), osc)
        .unwrap();
    until("the OSC seek lands", || (6.0..7.0).contains(&position(&t)));
    let p = peak_db(&t);
    assert!(
        (p - level_db(6)).abs() < 0.05,
        "{p} dB after an OSC seek to 6 s"
    );
    socket
        .send_to(&float_message("/strip/Bed/player/playing", 0.0), osc)
        .unwrap();
    until("OSC pauses it", || get(&t, "playing") == json!(false));
}

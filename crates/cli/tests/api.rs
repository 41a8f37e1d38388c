//! The control API from outside: `troubadour run` on the null backend, driven by raw
//! HTTP requests, by real WebSocket clients that are not ours (Python's `websockets`),
//! by `troubadour ctl`, and killed with SIGKILL to see what the file keeps.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::api::{Instance, python, request};
use support::{Dir, text, troubadour};

/// The built-in session's shape, in a file with comments of the user's.
const SESSION: &str = r#"# My streaming mix. (A comment autosave must keep.)
version = 1

[[strip]]
name = "Tone"  # the test tone
source = { generator = "sine", freq = 440.0, level_db = -18.0 }
sends = { A1 = {}, B1 = { level_db = -6.0, pre_fader = true } }

[[strip]]
name = "Noise"
source = { generator = "pink", level_db = -30.0 }
sends = { A1 = {} }

# Where it all goes.
[[bus]]
name = "A1"

[[bus]]
name = "B1"
"#;

fn instance(dir: &Dir, extra: &[&str]) -> Instance {
    let path = dir.write("session.toml", SESSION);
    let mut args = vec![path.as_str(), "--backend", "null"];
    args.extend_from_slice(extra);
    Instance::start(&args, &[])
}

#[test]
fn http_sets_gets_and_refuses_with_codes_while_the_audio_runs_on() {
    let dir = Dir::new("api-http");
    let t = instance(&dir, &[]);
    let r = t.json(
        "PUT",
        "/api/v1/params/strip/Tone/fader_db",
        Some(r#"{"value": -6}"#),
    );
    assert_eq!(r["path"], "strip/Tone/fader_db");
    assert_eq!(r["value"].as_f64(), Some(-6.0));
    assert_eq!(r["seq"], json!(1));
    assert_eq!(
        t.json("GET", "/api/v1/params/strip/1/fader_db", None)["value"].as_f64(),
        Some(-6.0)
    );
    let state = t.json("GET", "/api/v1/state", None);
    assert_eq!(state["seq"], json!(1));
    assert_eq!(state["strip"][0]["fader_db"].as_f64(), Some(-6.0));
    assert_eq!(state["bus"][1]["name"], "B1");
    t.json(
        "PUT",
        "/api/v1/params/bus/A1/fader_db",
        Some(r#"{"value":"-inf"}"#),
    );
    assert_eq!(
        t.json("GET", "/api/v1/params/bus/A1/fader_db", None)["value"],
        "-inf"
    );

    let refused = |method: &str, path: &str, body: &str| {
        let r = t.http(method, path, Some(body));
        (
            r.status,
            r.code(),
            r.json()["error"]["message"].as_str().unwrap().to_string(),
        )
    };
    let (status, code, message) = refused(
        "PUT",
        "/api/v1/params/strip/Tone/fader_db",
        r#"{"value": 20}"#,
    );
    assert_eq!((status, code.as_str()), (400, "out_of_range"));
    assert!(
        message.contains("strip/Tone/fader_db") && message.contains("12"),
        "{message}"
    );
    for (body, want) in [
        (r#"{"value": "loud"}"#, "wrong_type"),
        (r#"{"value": true}"#, "wrong_type"),
        (r#"{"value": "inf"}"#, "out_of_range"),
        (r#"{"value": NaN}"#, "malformed_json"),
        (r#"{"value": -Infinity}"#, "malformed_json"),
        (r#"{"value": 1e999}"#, "malformed_json"),
        ("{", "malformed_json"),
        (r#"{"nope": 1}"#, "bad_request"),
    ] {
        let (_, code, message) = refused("PUT", "/api/v1/params/strip/Tone/fader_db", body);
        assert_eq!(code, want, "{body}: {message}");
    }
    let (status, code, _) = refused(
        "PUT",
        "/api/v1/params/strip/Nobody/fader_db",
        r#"{"value":0}"#,
    );
    assert_eq!((status, code.as_str()), (404, "unknown_path"));
    let (_, code, _) = refused("POST", "/api/v1/request", r#"{"op": "explode"}"#);
    assert_eq!(code, "unknown_op");
    let big = format!(r#"{{"value": "{}"}}"#, "x".repeat(10 << 20));
    let r = t.http("PUT", "/api/v1/params/strip/Tone/fader_db", Some(&big));
    assert_eq!(r.status, 413, "{}", r.body);

    // Still serving, nothing refused was applied, and the audio never stopped.
    let state = t.json("GET", "/api/v1/state", None);
    assert_eq!(state["seq"], json!(2));
    assert_eq!(state["strip"][0]["fader_db"].as_f64(), Some(-6.0));
    let a = t.json("GET", "/api/v1/status", None)["status"]["callbacks"]
        .as_u64()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let status = t.json("GET", "/api/v1/status", None)["status"].clone();
    assert!(status["callbacks"].as_u64().unwrap() > a, "{status}");
    assert_eq!(status["late"], json!(0), "{status}");
}

#[test]
fn two_websocket_clients_see_each_others_changes_in_order_and_their_own_peaks() {
    let dir = Dir::new("api-ws");
    let t = instance(&dir, &[]);
    let found = python("two_clients.py", &[&t.ws_url()]);
    let acks: Vec<u64> = found["acks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(acks, (1..=20).collect::<Vec<_>>(), "acknowledged in order");
    let b_changes = found["b_changes"].as_array().unwrap();
    assert_eq!(b_changes.len(), 20, "{found}");
    for (i, c) in b_changes.iter().enumerate() {
        assert_eq!(c[0], json!(i + 1), "sequence order");
        assert_eq!(c[1].as_f64().unwrap(), -((i + 1) as f64) / 2.0);
        assert_eq!(c[2], found["origin_a"]);
    }
    // The tone's -18 dBFS peak through its pre-fader send at -6 dB into B1 (whatever
    // the fader does): every frame of both clients shows it.
    for who in ["a_peaks", "b_peaks"] {
        let peaks: Vec<f64> = found[who]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert!(peaks.len() >= 10, "{who}: {peaks:?}");
        let settled = &peaks[peaks.len() / 2..];
        assert!(
            settled.iter().all(|p| (p - (-24.0)).abs() < 0.5),
            "{who}: {settled:?}"
        );
    }
}

#[test]
fn autosave_survives_kill_9_and_keeps_the_users_comments() {
    let dir = Dir::new("api-autosave");
    let mut t = instance(&dir, &[]);
    t.json(
        "PUT",
        "/api/v1/params/strip/Noise/fader_db",
        Some(r#"{"value": -12.5}"#),
    );
    t.json(
        "PUT",
        "/api/v1/params/strip/Tone/send/B1/on",
        Some(r#"{"value": false}"#),
    );
    let path = dir.path("session.toml");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(&path).unwrap().contains("-12.5") {
        assert!(Instant::now() < deadline, "not saved");
        std::thread::sleep(Duration::from_millis(50));
    }
    t.kill9();
    let file = std::fs::read_to_string(&path).unwrap();
    for kept in [
        "# My streaming mix.",
        "# the test tone",
        "# Where it all goes.",
    ] {
        assert!(file.contains(kept), "{kept:?} lost:\n{file}");
    }
    let path_s = path.display().to_string();
    let t = Instance::start(&[&path_s, "--backend", "null"], &[]);
    assert_eq!(
        t.json("GET", "/api/v1/params/strip/Noise/fader_db", None)["value"].as_f64(),
        Some(-12.5)
    );
    assert_eq!(
        t.json("GET", "/api/v1/params/strip/Tone/send/B1/on", None)["value"],
        json!(false)
    );
}

#[test]
fn a_save_interrupted_by_kill_9_leaves_a_whole_file() {
    let dir = Dir::new("api-torn");
    let path = dir.write("session.toml", SESSION);
    for round in 0..6 {
        let mut t = Instance::start(&[&path, "--backend", "null"], &[]);
        // Changes without pause: a save falls due every few seconds at most; kill at
        // a moment that differs each round.
        let until = Instant::now() + Duration::from_millis(1200 + 250 * round);
        let mut i = 0;
        while Instant::now() < until {
            let v = -((i % 40) as f64) / 4.0;
            t.json(
                "PUT",
                "/api/v1/params/strip/Tone/fader_db",
                Some(&format!(r#"{{"value": {v}}}"#)),
            );
            i += 1;
        }
        t.kill9();
        let file = std::fs::read_to_string(&path).unwrap();
        let check = troubadour(&["check", &path]);
        assert!(
            check.status.success(),
            "round {round}: {}\n{file}",
            text(&check)
        );
        assert!(
            file.contains("# My streaming mix."),
            "round {round}:\n{file}"
        );
    }
}

#[test]
fn ctl_gets_sets_and_says_when_it_is_refused_or_nobody_answers() {
    let dir = Dir::new("api-ctl");
    let t = instance(&dir, &[]);
    let url = format!("http://{}", t.addr);
    let ctl = |args: &[&str]| {
        let mut all = vec!["ctl", "--url", &url];
        all.extend_from_slice(args);
        troubadour(&all)
    };
    let o = ctl(&["set", "strip/Tone/fader_db", "-3.5"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = ctl(&["get", "strip/Tone/fader_db"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "-3.5");
    let o = ctl(&["set", "strip/Tone/mute", "on"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = ctl(&["set", "strip/Tone/fader_db", "99"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("out_of_range"), "{}", text(&o));
    let o = ctl(&["scene", "save", "Show"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = ctl(&["scene", "list"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "Show");
    let o = ctl(&["undo"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = ctl(&["state"]);
    assert!(
        text(&o).contains("Tone") && text(&o).contains("MUTE"),
        "{}",
        text(&o)
    );
    let o = ctl(&["state", "--json"]);
    let state: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(state["strip"][0]["fader_db"].as_f64(), Some(-3.5));
    drop(t);
    let o = ctl(&["get", "strip/Tone/fader_db"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("no Troubadour instance answers"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_foreign_origin_or_host_is_forbidden_and_other_addresses_need_the_token() {
    let dir = Dir::new("api-security");
    let t = instance(&dir, &[]);
    let host = t.addr.to_string();
    let get = |headers: &[(&str, &str)]| request(t.addr, "GET", "/api/v1/state", headers, None);
    assert_eq!(get(&[("Host", &host)]).status, 200);
    let own = format!("http://{host}");
    assert_eq!(get(&[("Host", &host), ("Origin", &own)]).status, 200);
    let r = get(&[("Host", &host), ("Origin", "http://evil.example")]);
    assert_eq!((r.status, r.code().as_str()), (403, "forbidden"));
    let r = get(&[("Host", "evil.example")]);
    assert_eq!((r.status, r.code().as_str()), (403, "forbidden"));
    let r = request(
        t.addr,
        "POST",
        "/api/v1/undo",
        &[("Host", &host), ("Origin", "http://evil.example")],
        None,
    );
    assert_eq!(r.status, 403);
    drop(t);

    // Any address but loopback: the token, made on first use in the config directory.
    let config = Dir::new("api-security-config");
    let path = dir.write("open.toml", SESSION);
    let xdg = config.0.display().to_string();
    let t = Instance::start(
        &[&path, "--backend", "null", "--listen", "0.0.0.0:0"],
        &[("XDG_CONFIG_HOME", &xdg)],
    );
    let mut t = t;
    support::expect_line(&t.out, "control API token", &mut t.seen);
    let token_file = config.path("troubadour/token");
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_string();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o077,
        0,
        "the token file is the user's alone: {mode:o}"
    );
    assert!(t.seen.iter().any(|l| l.contains(&token)), "{:?}", t.seen);
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], t.addr.port()));
    let host = local.to_string();
    let r = request(local, "GET", "/api/v1/state", &[("Host", &host)], None);
    assert_eq!((r.status, r.code().as_str()), (401, "unauthorized"));
    let bearer = format!("Bearer {token}");
    let r = request(
        local,
        "GET",
        "/api/v1/state",
        &[("Host", &host), ("Authorization", "Bearer wrong")],
        None,
    );
    assert_eq!(r.status, 401);
    let r = request(
        local,
        "GET",
        "/api/v1/state",
        &[("Host", &host), ("Authorization", &bearer)],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = request(
        local,
        "GET",
        &format!("/api/v1/state?token={token}"),
        &[("Host", &host)],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn metrics_are_prometheus_text_with_our_prefix() {
    let dir = Dir::new("api-metrics");
    let t = instance(&dir, &[]);
    std::thread::sleep(Duration::from_millis(1200));
    let r = t.http("GET", "/metrics", None);
    assert_eq!(r.status, 200);
    let samples: Vec<&str> = r.body.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(
        samples.iter().all(|l| l.starts_with("troubadour_")),
        "{}",
        r.body
    );
    let value = |name: &str| -> f64 {
        samples
            .iter()
            .find(|l| l.split([' ', '{']).next() == Some(name))
            .unwrap_or_else(|| panic!("no {name}:\n{}", r.body))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(value("troubadour_callbacks_total") > 0.0);
    assert_eq!(value("troubadour_backend_up"), 1.0);
    assert_eq!(value("troubadour_late_callbacks_total"), 0.0);
    assert!(value("troubadour_resident_memory_bytes") > 1e6);
    // The tone at -18 dBFS is the loudest thing on A1.
    let a1 = samples
        .iter()
        .find(|l| l.starts_with("troubadour_bus_peak_dbfs{bus=\"A1\",channel=\"1\"}"))
        .unwrap_or_else(|| panic!("{}", r.body));
    let peak: f64 = a1.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((-19.0..-12.0).contains(&peak), "{a1}");
    assert!(t.http("GET", "/healthz", None).status == 200);
}

#[test]
fn the_control_side_logs_json_lines_with_tracing_and_the_audio_thread_none() {
    use std::io::BufRead;
    let dir = Dir::new("api-log");
    let path = dir.write("session.toml", SESSION);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_troubadour"))
        .args([
            "run",
            &path,
            "--backend",
            "null",
            "--listen",
            "127.0.0.1:0",
            "--no-osc",
            "--log-level",
            "debug",
            "--log-format",
            "json",
            "--seconds",
            "2",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut addr = None;
    for line in stdout.lines().map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix("control API on http://") {
            addr = rest.split('/').next().and_then(|a| a.parse().ok());
            break;
        }
    }
    let addr: std::net::SocketAddr = addr.expect("control API line");
    let host = addr.to_string();
    // A refused request is logged at debug level by the control thread.
    let r = request(
        addr,
        "PUT",
        "/api/v1/params/strip/Nobody/fader_db",
        &[("Host", &host)],
        Some(br#"{"value": 0}"#),
    );
    assert_eq!(r.status, 404);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["level"] == "DEBUG"
            && l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("strip/Nobody"))),
        "{stderr}"
    );
    assert!(
        lines.iter().all(|l| !l["threadName"]
            .as_str()
            .unwrap_or_default()
            .contains("audio")),
        "{stderr}"
    );
}

#[test]
fn a_file_player_whose_reader_falls_behind_underruns_and_says_so() {
    let dir = Dir::new("api-underrun");
    // 20 s of a quiet 440 Hz sine, looped.
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(dir.path("bed.wav"), spec).unwrap();
    for i in 0..20 * 48_000 {
        let t = i as f64 / 48_000.0;
        w.write_sample((0.25 * (std::f64::consts::TAU * 440.0 * t).sin()) as f32)
            .unwrap();
    }
    w.finalize().unwrap();
    let path = dir.write(
        "session.toml",
        r#"version = 1
[[strip]]
name = "Bed"
source = { file = "bed.wav", loop = true }
sends = { A1 = {} }

[[bus]]
name = "A1"
"#,
    );
    // The test hook makes the reader sleep 400 ms per 8192 frames it decodes: about
    // 20 000 frames a second against the 48 000 the player plays, as a disk too slow
    // for the file would.
    let t = Instance::start(
        &[&path, "--backend", "null"],
        &[("TROUBADOUR_TEST_PLAYER_STALL_MS", "400")],
    );
    let event = python("status_events.py", &[&t.ws_url(), "player_underrun", "15"]);
    assert_eq!(event["strip"], "Bed", "{event}");
    assert!(event["frames"].as_u64().unwrap() > 0, "{event}");
    let r = t.http("GET", "/metrics", None);
    let line = r
        .body
        .lines()
        .find(|l| l.starts_with("troubadour_player_underrun_frames_total{strip=\"Bed\"}"))
        .unwrap_or_else(|| panic!("{}", r.body));
    let frames: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(frames > 0.0, "{line}");
}

//! OSC from outside: `troubadour run --osc 127.0.0.1:0` on the null backend, driven by
//! python-osc (a client that is not ours; `tests/clients/osc_client.py`), by raw UDP
//! datagrams from this test, and checked over the HTTP API.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::api::{Instance, float_message, python, request};
use support::{Dir, text};

/// The built-in session's shape, but the noise goes to A1 only: B1 hears the tone alone.
const SESSION: &str = r#"version = 1

[[strip]]
name = "Tone"
source = { generator = "sine", freq = 440.0, level_db = -18.0 }
sends = { A1 = {}, B1 = { level_db = -6.0, pre_fader = true } }

[[strip]]
name = "Noise"
source = { generator = "pink", level_db = -30.0 }
sends = { A1 = {} }

[[bus]]
name = "A1"

[[bus]]
name = "B1"

[recorder]
tracks = ["bus/A1"]
"#;

struct Osc {
    t: Instance,
    osc: SocketAddr,
    _dir: Dir,
    _turn: Turn,
}

/// The flood test measures response times on a machine of two cores: it runs alone,
/// the other tests of this file side by side.
static TURNS: RwLock<()> = RwLock::new(());

enum Turn {
    Shared(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
    Alone(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
}

fn start(tag: &str) -> Osc {
    start_with(tag, false)
}

fn start_with(tag: &str, alone: bool) -> Osc {
    let turn = if alone {
        Turn::Alone(TURNS.write().unwrap_or_else(|e| e.into_inner()))
    } else {
        Turn::Shared(TURNS.read().unwrap_or_else(|e| e.into_inner()))
    };
    let dir = Dir::new(tag);
    let path = dir.write("session.toml", SESSION);
    let mut t = Instance::start(
        &[
            &path,
            "--backend",
            "null",
            "--osc",
            "127.0.0.1:0",
            "--no-autosave",
        ],
        &[],
    );
    let osc = t.osc_addr();
    Osc {
        t,
        osc,
        _dir: dir,
        _turn: turn,
    }
}

impl Osc {
    fn client(&self, scenario: &str) -> Value {
        python(
            "osc_client.py",
            &[
                scenario,
                &self.osc.port().to_string(),
                &self.t.addr.to_string(),
            ],
        )
    }

    fn value(&self, path: &str) -> Value {
        self.t.json("GET", &format!("/api/v1/params/{path}"), None)["value"].clone()
    }

    /// A line of `/metrics`, by its start (name and labels).
    fn metric(&self, start: &str) -> f64 {
        let body = self.t.http("GET", "/metrics", None).body;
        body.lines()
            .find_map(|l| l.strip_prefix(start).and_then(|r| r.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {start} in /metrics:\n{body}"))
    }
}

#[test]
fn osc_sets_queries_recalls_and_answers_errors() {
    let o = start("osc-basic");
    let r = o.client("basic");
    // Sets, checked over HTTP right after (python) and again here.
    assert_eq!(
        r["http"],
        json!({"strip/Tone/fader_db": -6, "strip/Tone/mute": true, "strip/Noise/mute": true,
               "strip/Tone/send/B1/level_db": -12, "bus/A1/fader_db": -10, "bus/B1/fader_db": "-inf"})
    );
    assert_eq!(o.value("strip/Noise/mute"), json!(true));
    assert_eq!(o.value("bus/B1/fader_db"), json!("-inf"));
    // Queries answer with the message that would set the value, at the address asked.
    assert_eq!(r["fader"], json!(["/strip/Tone/fader_db", [-6.0]]));
    assert_eq!(r["mute"], json!(["/strip/1/mute", [1]]));
    assert_eq!(r["send"], json!(["/strip/Tone/send/B1/level_db", [-12.0]]));
    assert_eq!(r["a1_norm"], json!(["/bus/A1/fader_db/norm", [0.5]]));
    assert_eq!(r["b1"], json!(["/bus/B1/fader_db", ["-inf"]]));
    // Refusals: /error ,ss ADDRESS MESSAGE.
    let error = |k: &str, address: &str, needle: &str| {
        assert_eq!(r[k][0], "/error", "{k}: {}", r[k]);
        assert_eq!(r[k][1][0], address, "{k}: {}", r[k]);
        let message = r[k][1][1].as_str().unwrap();
        assert!(message.contains(needle), "{k}: {message}");
    };
    error("unknown", "/nope", "no such address");
    error(
        "wrong_type",
        "/strip/Tone/fader_db",
        "not the string \"loud\"",
    );
    error("out_of_range", "/strip/Tone/fader_db", "outside");
    error(
        "no_strip",
        "/strip/Nobody/fader_db",
        "no strip called \"Nobody\"",
    );
    error("malformed", "", "not an OSC packet");
    // Scenes and history go through the API like any other surface's.
    assert_eq!(r["recalled"], json!(["/strip/Tone/fader_db", [-6.0]]));
    assert_eq!(r["undone"], json!(["/strip/Tone/fader_db", [-20.0]]));
    assert_eq!(r["redone"], json!(["/strip/Tone/fader_db", [-6.0]]));
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        r["info"],
        json!(["/info", [version, 2, 2, "Tone", "Noise", "A1", "B1"]])
    );
    let list = r["list"][1].as_array().unwrap();
    assert_eq!(&list[..3], &[json!("/strip/Tone"), json!(1), json!(1)]);
    assert!(list.contains(&json!("/strip/Tone/fader_db")), "{list:?}");
    assert!(
        list.contains(&json!("/strip/Tone/send/B1/level_db")),
        "{list:?}"
    );
    assert!(
        !list
            .iter()
            .any(|a| a.as_str().is_some_and(|a| a.starts_with("/strip/Noise")))
    );
    // Every change carries the OSC origin, and each refusal was counted.
    let state = o.t.json("GET", "/api/v1/state", None);
    assert_eq!(state["scene"][0]["name"], "osc1");
    assert_eq!(
        o.metric("troubadour_osc_errors_total{kind=\"unknown_address\"}"),
        2.0
    );
    assert_eq!(
        o.metric("troubadour_osc_errors_total{kind=\"wrong_type\"}"),
        1.0
    );
    assert_eq!(
        o.metric("troubadour_osc_errors_total{kind=\"refused\"}"),
        1.0
    );
    assert_eq!(
        o.metric("troubadour_osc_errors_total{kind=\"malformed\"}"),
        1.0
    );
    assert_eq!(o.metric("troubadour_osc_packets_total"), 26.0);
}

#[test]
fn osc_bundles_apply_in_order_and_future_ones_at_their_time() {
    let o = start("osc-bundles");
    let r = o.client("bundles");
    assert_eq!(r["last_wins"], json!(["/strip/Tone/fader_db", [-20.0]]));
    assert_eq!(r["past"], json!(["/strip/Tone/fader_db", [-31.0]]));
    // 300 ms ahead: not applied at once, nor halfway, but at about 300 ms.
    assert_eq!(r["before"], json!(["/strip/Tone/fader_db", [-31.0]]));
    assert_eq!(r["midway"], json!(["/strip/Tone/fader_db", [-31.0]]));
    assert_eq!(r["midway_http"], json!(-31));
    let after = r["applied_after_ms"].as_f64().expect("the bundle applied");
    eprintln!("a bundle 300 ms ahead applied after {after:.1} ms");
    assert!((290.0..400.0).contains(&after), "{after} ms");
}

#[test]
fn osc_subscribers_get_http_changes_within_50_ms() {
    let o = start("osc-subscribe");
    let r = o.client("subscribe");
    for (i, got) in r["got"].as_array().unwrap().iter().enumerate() {
        assert_eq!(got, &json!(["/strip/Tone/fader_db", [-1.0 - i as f64]]));
    }
    let latencies: Vec<f64> = r["latencies_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    eprintln!("HTTP PUT sent → OSC message received: {latencies:.1?} ms");
    assert!(latencies.iter().all(|&ms| ms < 50.0), "{latencies:?}");
    // Subscribed to /strip/Tone: a bus change is not sent.
    assert_eq!(r["outside_prefix"], Value::Null);
}

#[test]
fn osc_subscriptions_lapse_after_10_s_unless_renewed() {
    let o = start("osc-lease");
    let r = o.client("renewal");
    // The renewed subscription still gets changes (within the client's 1 s read; how
    // fast is `osc_subscribers_get_http_changes_within_50_ms`'s question, and a CI
    // run under load once took 78 ms here, HTTP round trip included)...
    assert_eq!(r["renewed"], json!(["/strip/Noise/fader_db", [-2.0]]));
    eprintln!(
        "renewed subscription: the change after {} ms",
        r["renewed_ms"]
    );
    // ...and the one not renewed gets nothing.
    assert_eq!(r["lapsed"], Value::Null, "{r}");
}

#[test]
fn osc_meter_blobs_carry_the_levels() {
    let o = start("osc-meters");
    let r = o.client("meters");
    let count = r["count"].as_u64().unwrap();
    // 20 Hz for 1.5 s.
    assert!((20..=32).contains(&count), "{count} frames");
    let counters: Vec<u64> = r["counters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert!(
        counters.windows(2).all(|w| w[1] == w[0] + 1),
        "{counters:?}"
    );
    // Strips, then buses: Tone, Noise, A1, B1, two channels each. B1 hears the
    // -18 dBFS sine pre-fader at -6 dB: -24 dBFS peak, -27 dBFS RMS.
    for frame in r["frames"].as_array().unwrap() {
        let frame = frame.as_array().unwrap();
        assert_eq!(frame.len(), 4, "{frame:?}");
        for channel in frame[3].as_array().unwrap() {
            let (peak, rms) = (channel[0].as_f64().unwrap(), channel[1].as_f64().unwrap());
            assert!((peak + 24.0).abs() < 0.5, "B1 peak {peak}");
            assert!((rms + 27.0).abs() < 0.5, "B1 rms {rms}");
        }
        let tone_peak = frame[0][0][0].as_f64().unwrap();
        assert!((tone_peak + 18.0).abs() < 0.5, "Tone peak {tone_peak}");
    }
    assert_eq!(o.metric("troubadour_osc_subscribers"), 0.0);
}

#[test]
fn osc_hostile_datagrams_are_counted_and_answered_and_the_surface_goes_on() {
    let o = start("osc-hostile");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut seed = 0x2545_f491_u32;
    let mut sent = 0;
    for len in [0usize, 1, 3, 4, 7, 8, 16, 64, 300, 1500, 9000, 65_000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        sock.send_to(&bytes, o.osc).unwrap();
        sent += 1;
    }
    // A bundle whose element claims more bytes than there are, and a deep nest.
    let mut lying = b"#bundle\0\0\0\0\0\0\0\0\x01\x7f\xff\xff\xff".to_vec();
    lying.extend([0; 8]);
    sock.send_to(&lying, o.osc).unwrap();
    let mut deep = float_message("/strip/1/fader_db", -1.0);
    for _ in 0..20 {
        let mut b = b"#bundle\0\0\0\0\0\0\0\0\x01".to_vec();
        b.extend((deep.len() as u32).to_be_bytes());
        b.extend(deep);
        deep = b;
    }
    sock.send_to(&deep, o.osc).unwrap();
    sent += 2;
    // Still serving: a set applies, and every bad datagram was answered.
    sock.send_to(&float_message("/strip/Tone/fader_db", -4.5), o.osc)
        .unwrap();
    let mut buf = [0u8; 2048];
    let mut errors = 0;
    while let Ok((n, _)) = sock.recv_from(&mut buf) {
        assert!(buf[..n].starts_with(b"/error\0\0"), "{:?}", &buf[..n]);
        errors += 1;
        if errors == sent {
            break;
        }
    }
    assert_eq!(errors, sent, "answered");
    let deadline = Instant::now() + Duration::from_secs(2);
    while o.value("strip/Tone/fader_db") != json!(-4.5) {
        assert!(
            Instant::now() < deadline,
            "the set after the garbage never applied"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let malformed = o.metric("troubadour_osc_errors_total{kind=\"malformed\"}");
    eprintln!("{sent} hostile datagrams, {errors} answered, {malformed} counted malformed");
    assert_eq!(malformed, f64::from(sent));
}

#[test]
fn osc_flood_the_last_value_wins_and_http_stays_responsive() {
    let o = start_with("osc-flood", true);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let api = o.t.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let host = api.to_string();
            let mut times = Vec::new();
            let begin = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let t0 = Instant::now();
                let r = request(
                    api,
                    "GET",
                    "/api/v1/params/strip/Noise/fader_db",
                    &[("Host", &host)],
                    None,
                );
                let ms = t0.elapsed().as_secs_f64() * 1e3;
                if ms > 10.0 {
                    eprintln!(
                        "a GET took {ms:.1} ms, {:.2} s into the flood",
                        (t0 - begin).as_secs_f64()
                    );
                }
                times.push(ms);
                assert_eq!(r.status, 200, "{}", r.body);
                std::thread::sleep(Duration::from_millis(25));
            }
            times
        })
    };
    const RATE: u32 = 10_000;
    const SECONDS: u32 = 5;
    let total = RATE * SECONDS;
    let last = -7.25f32;
    let start = Instant::now();
    for i in 0..total {
        let value = if i == total - 1 {
            last
        } else {
            -1.0 - (i % 400) as f32 / 10.0
        };
        sock.send_to(&float_message("/strip/Tone/fader_db", value), o.osc)
            .unwrap();
        // 10 messages a millisecond, paced against the clock.
        if i % 10 == 9 {
            let due = start + Duration::from_micros(u64::from(i + 1) * 100);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
    }
    let sent_in = start.elapsed();
    let drained = Instant::now();
    let deadline = drained + Duration::from_secs(5);
    while o.value("strip/Tone/fader_db") != json!(last) {
        assert!(
            Instant::now() < deadline,
            "the flood's last value never applied"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let drain_ms = drained.elapsed().as_secs_f64() * 1e3;
    stop.store(true, Ordering::Relaxed);
    let mut times = watcher.join().unwrap();
    times.sort_by(f64::total_cmp);
    let pick = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    let received = o.metric("troubadour_osc_packets_total");
    let coalesced = o.metric("troubadour_osc_coalesced_total");
    eprintln!(
        "flood: {total} messages in {:.2} s, {received} received, {coalesced} skipped for a later one, \
         last value applied {drain_ms:.0} ms after; \
         {} HTTP GETs during it: median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        sent_in.as_secs_f64(),
        times.len(),
        pick(0.5),
        pick(0.95),
        pick(1.0)
    );
    assert!(times.len() >= 100, "{} GETs", times.len());
    assert!(pick(0.5) <= 10.0, "median {} ms", pick(0.5));
    assert!(pick(1.0) <= 50.0, "max {} ms", pick(1.0));
    assert_eq!(o.value("strip/Tone/fader_db"), json!(last));
    // The flood's commands reached the audio thread without a system call there.
    assert_eq!(o.metric("troubadour_syscall_guard_active"), 1.0);
    assert_eq!(o.metric("troubadour_syscalls_in_callback_total"), 0.0);
    assert_eq!(o.metric("troubadour_allocations_in_callback_total"), 0.0);
}

#[test]
fn osc_on_a_taken_port_is_an_error_when_given_and_a_warning_by_default() {
    let _turn = TURNS.read().unwrap_or_else(|e| e.into_inner());
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = support::troubadour(&[
        "run",
        "--backend",
        "null",
        "--listen",
        "127.0.0.1:0",
        "--osc",
        &addr,
        "--seconds",
        "1",
    ]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("cannot serve OSC on udp://{addr}")),
        "{}",
        text(&out)
    );
    // The default port held (by this test, or by whoever had it): run goes on without it.
    let _default = UdpSocket::bind("127.0.0.1:9000");
    let out = support::troubadour(&[
        "run",
        "--backend",
        "null",
        "--listen",
        "127.0.0.1:0",
        "--seconds",
        "1",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("warning: cannot serve OSC on udp://127.0.0.1:9000"),
        "{said}"
    );
    assert!(said.contains("control API on http://"), "{said}");
    let out = support::troubadour(&[
        "run",
        "--backend",
        "null",
        "--listen",
        "127.0.0.1:0",
        "--no-osc",
        "--seconds",
        "1",
    ]);
    assert!(!text(&out).contains("OSC"), "{}", text(&out));
}

/// An OSC message with no argument, encoded by hand.
fn bare_message(address: &str) -> Vec<u8> {
    let mut b = address.as_bytes().to_vec();
    b.push(0);
    while !b.len().is_multiple_of(4) {
        b.push(0);
    }
    b.extend(b",\0\0\0");
    b
}

#[test]
fn osc_starts_marks_pauses_and_stops_the_recorder() {
    let o = start("osc-rec");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let recorder = || {
        o.t.json(
            "POST",
            "/api/v1/request",
            Some(r#"{"op":"recorder_status"}"#),
        )["recorder"]
            .clone()
    };
    let until = |state: &str| {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let r = recorder();
            if r["state"] == state {
                return r;
            }
            assert!(Instant::now() < deadline, "never {state}: {r}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    socket
        .send_to(&float_message("/recorder/start", 1.0), o.osc)
        .unwrap();
    let take = PathBuf::from(until("recording")["take"].as_str().unwrap());
    socket
        .send_to(&bare_message("/recorder/mark"), o.osc)
        .unwrap();
    socket
        .send_to(&float_message("/recorder/pause", 1.0), o.osc)
        .unwrap();
    until("paused");
    socket
        .send_to(&bare_message("/recorder/resume"), o.osc)
        .unwrap();
    until("recording");
    // A button's release does nothing; its press stops the take.
    socket
        .send_to(&float_message("/recorder/stop", 0.0), o.osc)
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(recorder()["state"], "recording");
    socket
        .send_to(&float_message("/recorder/stop", 1.0), o.osc)
        .unwrap();
    until("idle");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(take.join("take.json")).unwrap()).unwrap();
    assert_eq!(manifest["state"], "complete", "{manifest}");
    assert_eq!(
        manifest["markers"].as_array().unwrap().len(),
        1,
        "{manifest}"
    );
    assert!(
        manifest["tracks"][0]["frames"].as_u64().unwrap() > 0,
        "{manifest}"
    );
}

//! OSC and MIDI control, measured from outside on a `troubadour run` child process that
//! plays through a private JACK server (dummy driver), beside the floor of the same
//! transport measured in the same run.
//!
//! `cargo bench -p troubadour --bench surfaces` for the full run; `cargo test --benches`
//! makes a quick pass that only proves it runs.
//!
//! Reports:
//! - OSC: a query's round trip, and a set followed by a query of the same parameter
//!   (the answer carries the value set, so the set was applied and its command queued
//!   for the audio thread before the answer left: an upper bound of "received → on the
//!   audio queue"), beside a bare UDP echo in this process.
//! - OSC messages per second from one client, 64 in flight.
//! - MIDI: a CC written by a JACK peer in its process callback to the `changed` event
//!   of the mapped fader arriving over the WebSocket API (the event is broadcast when
//!   the set is applied), beside a WebSocket set's round trip to its answer.
//! - The daemon's CPU at rest with OSC and MIDI on (MIDI's client connected to the
//!   server) and with both off, from the scheduler's per-thread counts in /proc.

mod common;

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{full_run, percentiles, text, ws};
use jack::{Client, ClientOptions, Control, MidiOut, ProcessScope, RawMidi};
use rosc::{OscMessage, OscPacket, OscType, decoder, encoder};
use support::api::Instance;
use tungstenite::Message;

const SESSION: &str = r#"version = 1

[[strip]]
name = "Mic"
channels = 2
source = { generator = "sine", freq = 440.0, level_db = -20.0 }
sends = { A1 = {} }

[[bus]]
name = "A1"

[[midi]]
control = { cc = 7 }
target = "strip/Mic/fader_db"
"#;

/// Time process `pid` has run on a CPU, in seconds: the sum over its threads of the
/// scheduler's own count (`/proc/PID/task/TID/schedstat`, nanoseconds), finer than
/// utime + stime's clock ticks, which cannot resolve 0.1 % over a 10 s window. A
/// thread that ended takes its time with it, so the windows measured here see none end.
fn cpu_seconds(pid: u32) -> f64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    ns as f64 / 1e9
}

/// CPU of `pid` over `window`, as a fraction of one core.
fn cpu_over(pid: u32, window: Duration) -> f64 {
    let cpu0 = cpu_seconds(pid);
    let t0 = Instant::now();
    std::thread::sleep(window);
    (cpu_seconds(pid) - cpu0) / t0.elapsed().as_secs_f64()
}

fn packet(address: &str, args: Vec<OscType>) -> Vec<u8> {
    encoder::encode(&OscPacket::Message(OscMessage {
        addr: address.into(),
        args,
    }))
    .unwrap()
}

/// The first argument of the OSC message that comes back, or the refusal (`/error`).
fn answer(socket: &UdpSocket, buf: &mut [u8]) -> Result<OscType, String> {
    let n = socket.recv(buf).expect("an OSC answer within a second");
    match decoder::decode_udp(&buf[..n]).map_err(|e| e.to_string())?.1 {
        OscPacket::Message(m) if m.addr == "/error" => Err(format!("{:?}", m.args)),
        OscPacket::Message(m) => m.args.into_iter().next().ok_or("no argument".into()),
        OscPacket::Bundle(_) => Err("a bundle".into()),
    }
}

/// A bare UDP echo on loopback, for the transport's floor.
fn echo_server() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1536];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(&buf[..n], peer);
        }
    });
    addr
}

/// A JACK client with one MIDI output whose callback sends the CC 7 value handed to it
/// and notes when (nanoseconds since `epoch`).
struct MidiPeer {
    _client: jack::AsyncClient<(), jack::contrib::ClosureProcessHandler<(), Box<Callback>>>,
    value: Arc<AtomicU32>,
    sent_at: Arc<AtomicU64>,
}

type Callback = dyn FnMut(&Client, &ProcessScope) -> Control + Send;

const NONE: u32 = u32::MAX;

impl MidiPeer {
    fn start(epoch: Instant, to: &str) -> MidiPeer {
        let (client, _) = Client::new("bench-midi", ClientOptions::NO_START_SERVER).unwrap();
        let mut out = client.register_port("out", MidiOut::default()).unwrap();
        let value = Arc::new(AtomicU32::new(NONE));
        let sent_at = Arc::new(AtomicU64::new(0));
        let (v, at) = (Arc::clone(&value), Arc::clone(&sent_at));
        let callback: Box<Callback> = Box::new(move |_, ps| {
            let mut writer = out.writer(ps);
            let cc = v.swap(NONE, Ordering::AcqRel);
            if cc != NONE {
                let bytes = [0xB0, 7, cc as u8];
                if writer
                    .write(&RawMidi {
                        time: 0,
                        bytes: &bytes,
                    })
                    .is_ok()
                {
                    at.store(epoch.elapsed().as_nanos() as u64, Ordering::Release);
                }
            }
            Control::Continue
        });
        let active = client
            .activate_async((), jack::contrib::ClosureProcessHandler::new(callback))
            .unwrap();
        active
            .as_client()
            .connect_ports_by_name("bench-midi:out", to)
            .unwrap();
        MidiPeer {
            _client: active,
            value,
            sent_at,
        }
    }
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ok() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn main() {
    let full = full_run();
    let (trips, window) = if full {
        (20_000, Duration::from_secs(10))
    } else {
        (200, Duration::from_millis(500))
    };
    let tag = "bench-surfaces";
    let name = format!("troubadour-{tag}-{}", std::process::id());
    // SAFETY: no other thread exists yet to read the environment while it changes.
    unsafe { std::env::set_var("JACK_DEFAULT_SERVER", &name) };
    let server = support::Server::start(tag);
    assert_eq!(server.name, name);
    let dir = support::Dir::new(tag);
    let session = dir.write("session.toml", SESSION);
    let env = [("JACK_DEFAULT_SERVER", name.as_str())];

    let bare = Instance::start(&[&session, "--backend", "jack", "--no-midi"], &env);
    std::thread::sleep(Duration::from_secs(1));
    let rest_bare = cpu_over(bare.child.id(), window);
    drop(bare);

    let mut daemon = Instance::start(
        &[&session, "--backend", "jack", "--osc", "127.0.0.1:0"],
        &env,
    );
    let osc = daemon.osc_addr();
    wait_until("MIDI connected", || {
        daemon
            .http("GET", "/metrics", None)
            .body
            .contains("troubadour_midi_connected 1\n")
    });
    std::thread::sleep(Duration::from_secs(1));
    let rest_on = cpu_over(daemon.child.id(), window);

    // OSC round trips.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut buf = [0u8; 1536];
    let query = packet("/strip/Mic/fader_db", vec![]);
    let set = |i: usize| {
        let db = -((i % 40) as f32) / 4.0 - 0.25;
        (db, packet("/strip/Mic/fader_db", vec![OscType::Float(db)]))
    };
    let query_trips = |n: usize, buf: &mut [u8]| -> Vec<f64> {
        (0..n)
            .map(|_| {
                let t = Instant::now();
                socket.send_to(&query, osc).unwrap();
                answer(&socket, buf).expect("a value");
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect()
    };
    let _ = query_trips(trips / 10, &mut buf);
    let (q50, q99) = percentiles(query_trips(trips, &mut buf));
    // A set the mixer refuses (its command queue full while the audio thread was held
    // up) is answered with an /error before the query's answer: counted, not timed.
    let mut refused = Vec::new();
    let mut set_trips = Vec::with_capacity(trips);
    for i in 0..trips {
        let (db, bytes) = set(i);
        let t = Instant::now();
        socket.send_to(&bytes, osc).unwrap();
        socket.send_to(&query, osc).unwrap();
        match answer(&socket, &mut buf) {
            Ok(got) => {
                set_trips.push(t.elapsed().as_secs_f64() * 1e6);
                assert_eq!(got, OscType::Float(db), "the query sees the set");
            }
            Err(why) => {
                refused.push(why);
                answer(&socket, &mut buf).expect("the query's answer");
            }
        }
    }
    let (s50, s99) = percentiles(set_trips);
    let echo = echo_server();
    let echo_trips: Vec<f64> = (0..trips)
        .map(|_| {
            let t = Instant::now();
            socket.send_to(&query, echo).unwrap();
            socket.recv(&mut buf).unwrap();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    let (e50, e99) = percentiles(echo_trips);

    // OSC throughput: 63 sets and a query per window of 64, the next window once the
    // query is answered (so nothing is lost to a full socket buffer).
    let n = trips * 5;
    let cpu0 = cpu_seconds(daemon.child.id());
    let t = Instant::now();
    for w in 0..n / 64 {
        for k in 0..63 {
            socket.send_to(&set(w * 64 + k).1, osc).unwrap();
        }
        socket.send_to(&query, osc).unwrap();
        // Refusals of sets come first, if any; then the query's value.
        while let Err(why) = answer(&socket, &mut buf) {
            refused.push(why);
        }
    }
    let seconds = t.elapsed().as_secs_f64();
    let flood_cpu = (cpu_seconds(daemon.child.id()) - cpu0) / seconds;
    let per_second = (n / 64 * 64) as f64 / seconds;

    // MIDI → applied, against a WebSocket set's round trip on the same daemon.
    let epoch = Instant::now();
    let peer = MidiPeer::start(epoch, "troubadour:midi_in");
    let mut events = ws(daemon.addr);
    events
        .send(Message::text(
            r#"{"id":1,"op":"subscribe","topics":["changes"]}"#,
        ))
        .unwrap();
    let _ = text(&mut events);
    let midi_trips = trips / 20;
    let mut midi = Vec::with_capacity(midi_trips);
    for i in 0..midi_trips + midi_trips / 10 {
        // Every value differs from the one before, so each is a change.
        peer.value
            .store(20 + (i % 2) as u32 * 40 + (i % 7) as u32, Ordering::Release);
        loop {
            let t = text(&mut events);
            if t.contains("\"changed\"") && t.contains("strip/Mic/fader_db") {
                break;
            }
        }
        let now = epoch.elapsed().as_nanos() as u64;
        let sent = peer.sent_at.load(Ordering::Acquire);
        if i >= midi_trips / 10 {
            midi.push((now - sent) as f64 / 1e3);
        }
    }
    let (m50, m99) = percentiles(midi);
    let ws_set = |i: usize| {
        format!(
            r#"{{"id":{i},"op":"set","path":"strip/Mic/pan","value":{}}}"#,
            (i % 10) as f64 / 10.0
        )
    };
    let mut control = ws(daemon.addr);
    let ws_trips: Vec<f64> = (0..midi_trips)
        .map(|i| {
            let t = Instant::now();
            control.send(Message::text(ws_set(i))).unwrap();
            let _ = text(&mut control);
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    let (w50, w99) = percentiles(ws_trips);
    let metrics = daemon.http("GET", "/metrics", None).body;
    let counter = |name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    drop(peer);

    println!(
        "OSC and MIDI control, {trips} OSC round trips, {midi_trips} MIDI events{}",
        if full { "" } else { " (quick pass)" }
    );
    println!("  OSC query              p50 {q50:7.1} us  p99 {q99:7.1} us");
    println!("  OSC set, then query    p50 {s50:7.1} us  p99 {s99:7.1} us");
    println!("  UDP echo floor         p50 {e50:7.1} us  p99 {e99:7.1} us");
    println!(
        "  sets refused: {}{}",
        refused.len(),
        refused
            .first()
            .map(|w| format!(" (the first: {w})"))
            .unwrap_or_default()
    );
    println!(
        "  OSC messages per second, one client, 64 in flight: {per_second:.0} (daemon CPU {:.0} % of a core meanwhile)",
        flood_cpu * 100.0
    );
    println!("  MIDI CC (JACK peer) -> changed event p50 {m50:7.1} us  p99 {m99:7.1} us");
    println!("  WebSocket set -> ack (same daemon)   p50 {w50:7.1} us  p99 {w99:7.1} us");
    println!(
        "  MIDI events in {:.0}, applied {:.0}, coalesced {:.0}",
        counter("troubadour_midi_messages_total"),
        counter("troubadour_midi_applied_total"),
        counter("troubadour_midi_coalesced_total"),
    );
    println!(
        "  daemon CPU at rest (JACK backend): {:.3} % of a core with OSC and MIDI on, {:.3} % with both off ({:+.3} % for them)",
        rest_on * 100.0,
        rest_bare * 100.0,
        (rest_on - rest_bare) * 100.0
    );
    drop(daemon);
    drop(server);
}

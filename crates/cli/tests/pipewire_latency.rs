//! The native PipeWire backend's latency, `auto`'s choice and a soak, on a private
//! PipeWire + WirePlumber + pipewire-pulse (see `support::pipewire`):
//! - `auto` with only PipeWire running, its JACK interface reachable (`pw-jack`), picks
//!   the native PipeWire backend and says it passed over PipeWire's JACK; with a jackd of
//!   its own, JACK, and says it is not PipeWire's;
//! - `jack_iodelay` under `pw-jack`, looped through a strip's virtual device and a bus's
//!   virtual device, reads the direct loop (through a null sink and its monitor) plus at
//!   most one quantum;
//! - a stream playing into a virtual device while a fader changes 100 times a second
//!   over the control API for `TROUBADOUR_SOAK_SECS` (60 unless set): no engine-caused
//!   late callback and no allocation in the callback; the graph's own xruns are read
//!   apart (`/metrics`) and printed.
#![cfg(feature = "pipewire")]

use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

mod support;

use support::api::request;
use support::pipewire::PipeWire;
use support::{Dir, Server, api_addr, expect_line, lines};

/// A mono strip on a virtual playback device sent at unity to a bus that is a virtual
/// microphone: the loop jack_iodelay measures.
const LOOP: &str = r#"
version = 1
[[strip]]
name = "Loop in"
channels = 1
source = { virtual = "Loop in" }
sends = { Back = {} }
[[bus]]
name = "Back"
channels = 1
sink = { virtual = "Loop back", default = false }
"#;

/// Where `pw-jack` puts PipeWire's libjack (Debian's pipewire-jack).
fn pipewire_jack_dir() -> String {
    let out = Command::new("sh")
        .args(["-c", "ls -d /usr/lib/*/pipewire-0.3/jack | head -1"])
        .output()
        .expect("sh");
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !dir.is_empty(),
        "no pipewire-0.3/jack directory: scripts/test.sh installs pipewire-jack"
    );
    dir
}

/// `troubadour run` on `backend` with the control API on an ephemeral port, for at most
/// `seconds`; `jack`: with PipeWire's libjack first on the library path, as `pw-jack`
/// runs a program.
fn run(
    pw: &PipeWire,
    dir: &Dir,
    session: &str,
    backend: &str,
    seconds: u64,
    jack: bool,
) -> (Child, Receiver<String>) {
    let path = dir.0.join("session.toml");
    std::fs::write(&path, session).unwrap();
    let mut c = pw.command(env!("CARGO_BIN_EXE_troubadour"));
    if jack {
        c.env("LD_LIBRARY_PATH", pipewire_jack_dir());
    }
    let mut child = c
        .args(["run", path.to_str().unwrap(), "--backend", backend])
        .args(["--listen", "127.0.0.1:0", "--no-osc", "--no-midi"])
        .args(["--seconds", &seconds.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run troubadour");
    let rx = lines(child.stdout.take().unwrap());
    (child, rx)
}

/// Stops troubadour with SIGTERM and returns what it said.
fn stop(mut child: Child, rx: &Receiver<String>, seen: &mut Vec<String>) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
        seen.push(line);
    }
}

#[test]
fn auto_prefers_native_pipewire_to_pipewires_jack() {
    let dir = Dir::new("pw-auto");
    let pw = PipeWire::start(&dir);
    // PipeWire's JACK answers: a plain JACK client through the same library sees it.
    let lsp = pw
        .command("pw-jack")
        .arg("jack_lsp")
        .output()
        .expect("pw-jack jack_lsp");
    assert!(
        lsp.status.success() && !lsp.stdout.is_empty(),
        "PipeWire's JACK does not answer: {}",
        String::from_utf8_lossy(&lsp.stderr)
    );
    let (child, rx) = run(&pw, &dir, LOOP, "auto", 20, true);
    let mut seen = Vec::new();
    expect_line(&rx, "backend: pipewire (", &mut seen);
    let told = seen.last().unwrap().clone();
    stop(child, &rx, &mut seen);
    println!("troubadour said:\n{}", seen.join("\n"));
    assert!(
        told.contains("the JACK server that answers is PipeWire's (libjack ")
            && told.contains("pipewire-0.3/jack/libjack.so")
            && told.contains("a PipeWire server answers natively"),
        "{told}"
    );
}

#[test]
fn auto_takes_a_jack_server_of_its_own_over_pipewire() {
    // A private jackd answers, through the system's own libjack: JACK, whatever else
    // runs, and `auto` says the server is not PipeWire's.
    let dir = Dir::new("pw-auto-jackd");
    let mut server = Server::start("pw-auto-jackd");
    let session = dir.write("session.toml", "version = 1\n[[bus]]\nname = \"A1\"\n");
    let rx = server.troubadour_on(
        "auto",
        &session,
        &["--no-api", "--no-osc", "--no-midi"],
        &[],
    );
    let mut seen = Vec::new();
    expect_line(&rx, "backend: jack (", &mut seen);
    let told = seen.last().unwrap().clone();
    server.stop_troubadour(&rx, &mut seen);
    assert!(
        told.contains("auto: a JACK server answers (not PipeWire's)"),
        "{told}"
    );
}

/// The JACK port names (under `pw-jack`) of a node whose port names contain `needle`.
fn jack_ports(pw: &PipeWire, needle: &str) -> Vec<String> {
    let out = pw
        .command("pw-jack")
        .arg("jack_lsp")
        .output()
        .expect("jack_lsp");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// Waits until a JACK port containing `needle` exists; its full name.
fn wait_port(pw: &PipeWire, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(p) = jack_ports(pw, needle).into_iter().next() {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "no JACK port with {needle:?}: {:?}",
            jack_ports(pw, "")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `jack_iodelay` under `pw-jack`, links its output to `to` and `from` to its
/// input, and returns the round trip it settles on, in frames, with what it printed.
fn iodelay(pw: &PipeWire, to: &str, from: &str) -> (Option<f64>, String) {
    let mut delay = pw
        .command("stdbuf")
        .args(["-oL", "pw-jack", "jack_iodelay"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("jack_iodelay (scripts/test.sh installs jackd2's tools)");
    let out = lines(delay.stdout.take().unwrap());
    let out_port = wait_port(pw, "jack_delay:out");
    let in_port = wait_port(pw, "jack_delay:in");
    for (a, b) in [(out_port.as_str(), to), (from, in_port.as_str())] {
        let ok = pw
            .command("pw-jack")
            .args(["jack_connect", a, b])
            .status()
            .unwrap();
        assert!(ok.success(), "jack_connect {a} {b}");
    }
    // jack_iodelay prints a reading per second once it has locked; the last of 4 s.
    let mut printed = String::new();
    let deadline = Instant::now() + Duration::from_secs(6);
    while Instant::now() < deadline {
        if let Ok(l) = out.recv_timeout(Duration::from_millis(200)) {
            printed.push_str(&l);
            printed.push('\n');
        }
    }
    let _ = delay.kill();
    let _ = delay.wait();
    let frames = printed
        .replace('\r', "\n")
        .lines()
        .rev()
        .filter(|l| l.contains("frames") && l.contains("total roundtrip latency"))
        .find_map(|l| l.split_whitespace().next()?.parse::<f64>().ok());
    (frames, printed)
}

/// Forces the graph's quantum on the private server (0: back to its own choice).
fn force_quantum(pw: &PipeWire, frames: u32) {
    let ok = pw
        .command("pw-metadata")
        .args([
            "-n",
            "settings",
            "0",
            "clock.force-quantum",
            &frames.to_string(),
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn a_round_trip_through_two_virtual_devices_adds_at_most_one_quantum() {
    const QUANTUM: u32 = 256;
    let dir = Dir::new("pw-latency");
    let pw = PipeWire::start(&dir);
    force_quantum(&pw, QUANTUM);
    // The direct loop: a mono null sink and its monitor, which PipeWire feeds back one
    // cycle later (a link straight from jack_iodelay's output to its input is a loop
    // PipeWire does not schedule: jack_iodelay then prints "Signal below threshold").
    let ok = pw
        .command("pactl")
        .args([
            "load-module",
            "module-null-sink",
            "sink_name=direct_loop",
            "sink_properties=device.description=direct_loop",
            "rate=48000",
            "channels=1",
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let sink_in = wait_port(&pw, "direct_loop");
    let sink_in = sink_in.split(':').next().unwrap().to_string();
    let (direct, printed) = iodelay(
        &pw,
        &format!("{sink_in}:playback_MONO"),
        &format!("{sink_in}:monitor_MONO"),
    );
    let direct = direct.unwrap_or_else(|| panic!("no reading on the direct loop:\n{printed}"));

    let (child, rx) = run(&pw, &dir, LOOP, "pipewire", 60, false);
    let mut seen = Vec::new();
    expect_line(&rx, "online: bus \"Back\"", &mut seen);
    let strip = wait_port(&pw, "Loop in:playback_MONO");
    let bus = wait_port(&pw, "Loop back:capture_MONO");
    let (ours, printed) = iodelay(&pw, &strip, &bus);
    stop(child, &rx, &mut seen);
    let ours = ours.unwrap_or_else(|| {
        panic!(
            "no reading through the virtual devices:\n{printed}\ntroubadour said:\n{}",
            seen.join("\n")
        )
    });
    println!(
        "quantum {QUANTUM}: direct loop {direct} frames, through a strip's and a bus's \
         virtual devices {ours} frames (+{})",
        ours - direct
    );
    assert!(
        ours >= direct && ours <= direct + f64::from(QUANTUM),
        "direct {direct} frames, ours {ours} frames, quantum {QUANTUM}"
    );
}

/// The value of an unlabelled metric in a Prometheus text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("troubadour_{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no troubadour_{name} in:\n{text}"))
}

/// The soak's quantum.
const SOAK_QUANTUM: u32 = 256;

#[test]
fn a_stream_and_a_hundred_changes_a_second_make_no_late_callback() {
    let secs: u64 = std::env::var("TROUBADOUR_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let dir = Dir::new("pw-soak");
    let pw = PipeWire::start(&dir);
    // A desktop's quantum: left to itself the graph grows to its maximum (2048 here)
    // once pw-play joins, and a soak of 23 callbacks a second proves little.
    force_quantum(&pw, SOAK_QUANTUM);
    let (child, rx) = run(&pw, &dir, LOOP, "pipewire", secs + 60, false);
    let mut seen = Vec::new();
    let addr = api_addr(&rx, &mut seen);
    expect_line(&rx, "online: bus \"Back\"", &mut seen);
    let mut player = pw.play_tone(&dir, "troubadour.loop_in", (secs + 10) as u32);
    std::thread::sleep(Duration::from_millis(500));
    let before = request(addr, "GET", "/metrics", &[], None).body;

    let start = Instant::now();
    let mut sets = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        // A fader sweep between -20 and 0 dB, one change every 10 ms.
        let db = -20.0 * ((sets % 100) as f64 / 100.0);
        let body = format!("{{\"value\": {db}}}");
        let r = request(
            addr,
            "PUT",
            "/api/v1/params/strip/Loop%20in/fader_db",
            &[("Host", &addr.to_string())],
            Some(body.as_bytes()),
        );
        assert_eq!(r.status, 200, "set {sets}: {}", r.body);
        sets += 1;
        let next = Duration::from_millis(10 * sets);
        if let Some(wait) = next.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let after = request(addr, "GET", "/metrics", &[], None).body;
    let _ = player.kill();
    let _ = player.wait();
    stop(child, &rx, &mut seen);
    let count = |name: &str| metric(&after, name) - metric(&before, name);
    let callbacks = count("callbacks_total");
    println!(
        "{secs} s, {sets} sets ({:.0}/s): {callbacks} callbacks, {} engine-caused late, \
         {} late while stalled, {} graph xruns, {} short cycles, {} allocations; mean load \
         {:.4}",
        sets as f64 / secs as f64,
        count("late_callbacks_total"),
        count("late_stalled_callbacks_total"),
        count("server_xruns_total"),
        count("short_cycles_total"),
        count("allocations_in_callback_total"),
        metric(&after, "dsp_load_mean_ratio"),
    );
    assert!(
        sets as f64 >= 90.0 * secs as f64,
        "only {sets} sets in {secs} s"
    );
    // 48 kHz in quanta of 256 frames: 187.5 callbacks a second.
    assert!(
        callbacks >= 0.9 * 48_000.0 / f64::from(SOAK_QUANTUM) * secs as f64,
        "{callbacks} callbacks in {secs} s at quantum {SOAK_QUANTUM}"
    );
    // The tone came through: -12 dBFS on both channels of pw-play's stream, which
    // PipeWire folds into our mono device at -3 dB each (-9 dBFS, coherent), the fader
    // at 0 dB once in every sweep.
    let peak = after
        .lines()
        .find_map(|l| l.strip_prefix(r#"troubadour_bus_peak_dbfs{bus="Back",channel="1"} "#))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no peak of bus Back in:\n{after}"));
    assert!((peak - -9.0).abs() < 0.5, "bus Back peaked at {peak} dBFS");
    assert_eq!(
        count("late_callbacks_total"),
        0.0,
        "engine-caused late callbacks"
    );
    assert_eq!(count("allocations_in_callback_total"), 0.0);
    assert_eq!(
        metric(&after, "syscall_guard_active"),
        1.0,
        "the guard never ran"
    );
    assert_eq!(count("syscalls_in_callback_total"), 0.0);
    assert_eq!(count("short_cycles_total"), 0.0);
}

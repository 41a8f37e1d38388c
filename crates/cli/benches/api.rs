//! The control API's costs, measured from outside on a `troubadour run` child process
//! (null backend, built-in session), beside the floor of the same transport: a bare
//! WebSocket echo server on the same stack (tokio-tungstenite, as axum's WebSocket
//! is) in this process, answered by the same client. CamillaDSP's websocket server, the
//! peer the issue names, is not on crates.io and cannot be built here (see
//! docs/PERFORMANCE.md).
//!
//! `cargo bench -p troubadour --bench api` for the full run; `cargo test --benches`
//! makes a quick pass (fewer round trips, shorter windows) that only proves it runs.
//!
//! Reports: WebSocket set→ack p50/p99 (ours and the echo floor, and their ratio),
//! HTTP PUT p50/p99 on a kept-alive connection, sets per second from one client with
//! 64 in flight, the daemon's CPU at rest and with 32 clients taking meters at 60 Hz
//! (its own utime+stime from /proc, not the clients'), and its resident memory.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{full_run, percentiles, text, ws};
use tungstenite::{Message, WebSocket};

struct Daemon {
    child: Child,
    addr: Option<SocketAddr>,
}

impl Daemon {
    /// `troubadour run` on the built-in session, with the API or without.
    fn start(api: bool) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_troubadour"))
            .args(["run", "--backend", "null", "--no-mlock"])
            .args(if api {
                ["--listen", "127.0.0.1:0"].as_slice()
            } else {
                ["--no-api"].as_slice()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run troubadour");
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut addr = None;
        for line in out.lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("control API on http://") {
                addr = rest.split('/').next().and_then(|a| a.parse().ok());
                break;
            }
            if !api && line.starts_with("first audio callback") {
                break;
            }
        }
        assert_eq!(addr.is_some(), api, "no control API line");
        // Its status lines go nowhere from here on; a closed pipe does not stop it.
        Daemon { child, addr }
    }

    fn addr(&self) -> SocketAddr {
        self.addr.unwrap()
    }

    /// Its CPU use over `window`, as a fraction of one core.
    fn cpu_over(&self, window: Duration) -> f64 {
        let cpu0 = self.cpu_seconds();
        let t0 = Instant::now();
        std::thread::sleep(window);
        (self.cpu_seconds() - cpu0) / t0.elapsed().as_secs_f64()
    }

    /// utime + stime of the daemon, in seconds.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        // Fields 14 and 15 of stat(5), counted from the state (field 3) here.
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        // SAFETY: sysconf has no preconditions.
        ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
    }

    fn resident_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Round trips of `message(i)` on `socket`, in µs.
fn round_trips(
    socket: &mut WebSocket<TcpStream>,
    n: usize,
    message: impl Fn(usize) -> String,
) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let t = Instant::now();
            socket.send(Message::text(message(i))).unwrap();
            let _ = text(socket);
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect()
}

/// A bare WebSocket echo server on the same stack as ours (tokio-tungstenite on a
/// current-thread runtime), for the transport's floor.
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                stream.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    use futures_util::{SinkExt, StreamExt};
                    let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
                    while let Some(Ok(m)) = ws.next().await {
                        if m.is_text() && ws.send(m).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
    });
    addr
}

fn http_put_trips(addr: SocketAddr, n: usize) -> Vec<f64> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    (0..n)
        .map(|i| {
            let body = format!("{{\"value\": {}}}", -((i % 40) as f64) / 4.0);
            let request = format!(
                "PUT /api/v1/params/strip/Tone/fader_db HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let t = Instant::now();
            stream.write_all(request.as_bytes()).unwrap();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect()
}

fn main() {
    let full = full_run();
    let (trips, window) = if full {
        (20_000, Duration::from_secs(10))
    } else {
        (300, Duration::from_millis(500))
    };
    // The same mixer without the API, for what the API itself costs at rest.
    let bare = Daemon::start(false);
    std::thread::sleep(Duration::from_millis(500));
    let idle_bare = bare.cpu_over(window);
    let rss_bare = bare.resident_mb();
    drop(bare);
    let daemon = Daemon::start(true);
    std::thread::sleep(Duration::from_millis(500));
    let idle = daemon.cpu_over(window);
    let rss_idle = daemon.resident_mb();

    let set = |i: usize| {
        format!(
            r#"{{"id":{i},"op":"set","path":"strip/Tone/fader_db","value":{}}}"#,
            -((i % 40) as f64) / 4.0
        )
    };
    let mut ours = ws(daemon.addr());
    let _ = round_trips(&mut ours, trips / 10, set);
    let (ws50, ws99) = percentiles(round_trips(&mut ours, trips, set));
    let get = |i: usize| format!(r#"{{"id":{i},"op":"get","path":"strip/Tone/fader_db"}}"#);
    let (get50, get99) = percentiles(round_trips(&mut ours, trips, get));
    let mut floor = ws(echo_server());
    let _ = round_trips(&mut floor, trips / 10, set);
    let (echo50, echo99) = percentiles(round_trips(&mut floor, trips, set));
    let (http50, http99) = percentiles(http_put_trips(daemon.addr(), trips / 4));

    // Sustained sets from one client, 64 in flight.
    let n = trips * 2;
    let t = Instant::now();
    let mut in_flight = 0;
    for i in 0..n {
        ours.send(Message::text(set(i))).unwrap();
        in_flight += 1;
        if in_flight == 64 {
            let _ = text(&mut ours);
            in_flight -= 1;
        }
    }
    for _ in 0..in_flight {
        let _ = text(&mut ours);
    }
    let per_second = n as f64 / t.elapsed().as_secs_f64();

    // 32 clients taking meters at 60 Hz, read on threads of their own.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..32)
        .map(|_| {
            let mut socket = ws(daemon.addr());
            socket
                .send(Message::text(
                    r#"{"id":1,"op":"subscribe","topics":["meters"],"rate":60}"#,
                ))
                .unwrap();
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut frames = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if text(&mut socket).contains("\"meters\"") {
                        frames += 1;
                    }
                }
                frames
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    let metering = daemon.cpu_over(window);
    let seconds = t0.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let frames: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    let rss_busy = daemon.resident_mb();

    println!(
        "control API, {} round trips each{}",
        trips,
        if full { "" } else { " (quick pass)" }
    );
    println!("  WebSocket set->ack   p50 {ws50:7.1} us  p99 {ws99:7.1} us");
    println!("  WebSocket get        p50 {get50:7.1} us  p99 {get99:7.1} us");
    println!("  echo floor (same stack) p50 {echo50:7.1} us  p99 {echo99:7.1} us");
    println!(
        "  ours / floor         p50 {:.2}x  p99 {:.2}x",
        ws50 / echo50,
        ws99 / echo99
    );
    println!("  HTTP PUT (kept alive) p50 {http50:7.1} us  p99 {http99:7.1} us");
    println!("  sets per second, one client, 64 in flight: {per_second:.0}");
    println!(
        "  daemon CPU at rest: {:.3} % of a core with the API on and no client, {:.3} % with --no-api ({:+.3} % for the API)",
        idle * 100.0,
        idle_bare * 100.0,
        (idle - idle_bare) * 100.0
    );
    println!(
        "  daemon CPU with 32 clients at 60 Hz meters: {:.3} % of a core ({:.2} % above rest; {:.0} frames/s delivered)",
        metering * 100.0,
        (metering - idle) * 100.0,
        frames as f64 / seconds
    );
    println!(
        "  daemon resident memory: {rss_bare:.1} MB with --no-api, {rss_idle:.1} MB with the API at rest, {rss_busy:.1} MB with 32 clients"
    );
}

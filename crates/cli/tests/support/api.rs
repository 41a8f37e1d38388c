//! A `troubadour run` with its control API, and a raw HTTP/1.1 client written out by
//! hand (so headers like `Host` and `Origin` are exactly what the test says).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::lines;

/// A running instance (killed on drop).
pub struct Instance {
    pub child: Child,
    pub addr: SocketAddr,
    pub out: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Instance {
    /// `troubadour run ARGS --listen 127.0.0.1:0` (unless ARGS say where), up and serving;
    /// without OSC unless ARGS ask for it (see [`Instance::osc_addr`]).
    /// `TROUBADOUR_BENCH_BIN` runs another build instead (benchmarks side by side).
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Instance {
        let bin = std::env::var_os("TROUBADOUR_BENCH_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_troubadour").into());
        let mut cmd = Command::new(bin);
        cmd.arg("run").args(args);
        if !args.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        if !args.contains(&"--osc") && !args.contains(&"--no-osc") {
            cmd.arg("--no-osc");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run troubadour");
        let out = lines(child.stdout.take().unwrap());
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        let addr = loop {
            assert!(
                Instant::now() < deadline,
                "no control API line; troubadour said:\n{}",
                seen.join("\n")
            );
            let Ok(line) = out.recv_timeout(Duration::from_millis(100)) else {
                continue;
            };
            seen.push(line.clone());
            if let Some(rest) = line.strip_prefix("control API on http://") {
                let addr = rest.split('/').next().unwrap();
                break addr.parse().unwrap();
            }
        };
        Instance {
            child,
            addr,
            out,
            seen,
        }
    }

    /// The address of `OSC on udp://ADDR` (printed after the API's lines).
    pub fn osc_addr(&mut self) -> SocketAddr {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(addr) = self
                .seen
                .iter()
                .find_map(|l| l.strip_prefix("OSC on udp://"))
            {
                return addr.parse().unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "no OSC line; troubadour said:\n{}",
                self.seen.join("\n")
            );
            if let Ok(line) = self.out.recv_timeout(Duration::from_millis(100)) {
                self.seen.push(line);
            }
        }
    }

    /// A request with the usual headers (`Host` is the instance's address).
    pub fn http(&self, method: &str, path: &str, body: Option<&str>) -> Response {
        let host = self.addr.to_string();
        request(
            self.addr,
            method,
            path,
            &[("Host", &host)],
            body.map(str::as_bytes),
        )
    }

    /// The JSON of a 2xx answer (panics with the answer otherwise).
    pub fn json(&self, method: &str, path: &str, body: Option<&str>) -> Value {
        let r = self.http(method, path, body);
        assert!(
            (200..300).contains(&r.status),
            "{method} {path}: {} {}",
            r.status,
            r.body
        );
        r.json()
    }

    /// The WebSocket URL.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/api/v1/ws", self.addr)
    }

    /// Kills it (SIGKILL) and waits.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, as Ctrl-C would; waits; returns the closing line.
    pub fn stop(&mut self) -> String {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        assert!(self.child.wait().unwrap().success());
        while let Ok(line) = self.out.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line.clone());
            if line.starts_with("stopped after") {
                return line;
            }
        }
        panic!("no closing line:\n{}", self.seen.join("\n"))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// The error code of a refused request.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code: {}", self.body))
            .to_string()
    }
}

/// One request on a fresh connection, headers exactly as given (plus Content-Length).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() || matches!(method, "PUT" | "POST") {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    // A server may answer (413) before reading a large body, and close.
    let _ = s.write_all(body);
    let mut reader = BufReader::new(s);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("status line");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not HTTP: {status_line:?}"));
    let mut headers = Vec::new();
    let mut length = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse::<usize>().ok();
            }
            headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let mut bytes = Vec::new();
    match length {
        Some(n) => {
            bytes.resize(n, 0);
            reader.read_exact(&mut bytes).unwrap();
        }
        None => {
            let _ = reader.read_to_end(&mut bytes);
        }
    }
    Response {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Runs a Python client script from `tests/clients` with ARGS; its last stdout line
/// as JSON.
pub fn python(script: &str, args: &[&str]) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/").to_string() + script;
    let out = Command::new("python3")
        .arg(&path)
        .args(args)
        .output()
        .expect("python3 (scripts/test.sh installs it and its client libraries)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{script}: not JSON ({e}): {stdout}"))
}

/// One OSC message with one float, encoded by hand (address, `,f`, big-endian value).
pub fn float_message(address: &str, value: f32) -> Vec<u8> {
    let mut b = address.as_bytes().to_vec();
    b.push(0);
    while !b.len().is_multiple_of(4) {
        b.push(0);
    }
    b.extend(b",f\0\0");
    b.extend(value.to_be_bytes());
    b
}

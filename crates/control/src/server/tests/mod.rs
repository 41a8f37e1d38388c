//! The server over real sockets: requests written by hand over `std::net::TcpStream`,
//! WebSockets through tokio-tungstenite.

mod http;
mod security;
mod ws;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

use super::testing::TestMixer;
use super::{Server, ServerConfig, start};

/// A server on a free loopback port, configured by `tweak`.
pub(super) fn serve(tweak: impl FnOnce(&mut ServerConfig)) -> (Server, TestMixer) {
    let mixer = TestMixer::start();
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    tweak(&mut config);
    let server = start(config, mixer.handle.clone()).expect("server starts");
    (server, mixer)
}

/// One HTTP response.
#[derive(Debug)]
pub(super) struct Response {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// The error code of a refusal.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code: {}", self.body))
            .to_string()
    }
}

/// Sends `head` (request line and headers, without the blank line) and `body`, and
/// reads the whole answer (`Connection: close` is added).
pub(super) fn raw(addr: SocketAddr, head: &str, body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!("{head}\r\nConnection: close\r\n");
    if !body.is_empty() {
        request += &format!("Content-Length: {}\r\n", body.len());
    }
    request += "\r\n";
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    parse(&answer)
}

pub(super) fn parse(answer: &[u8]) -> Response {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status: {head:?}"));
    Response {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// `method path` with `Host: <addr>` and the extra header lines.
pub(super) fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &str,
) -> Response {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}");
    for h in headers {
        head += "\r\n";
        head += h;
    }
    raw(addr, &head, body.as_bytes())
}

pub(super) fn get(addr: SocketAddr, path: &str) -> Response {
    call(addr, "GET", path, &[], "")
}

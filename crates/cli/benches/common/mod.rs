//! What the API and surfaces benchmarks share: the full-run switch, percentiles, and a
//! blocking WebSocket client of the daemon's API.
#![allow(dead_code)] // each bench uses part of it

use std::net::{SocketAddr, TcpStream};

use tungstenite::{Message, WebSocket};

/// `cargo bench` (the full run) rather than `cargo test --benches` (a quick pass).
pub fn full_run() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list")
}

/// The 50th and 99th percentiles.
pub fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

/// A WebSocket to the API at `addr`, with Nagle off.
pub fn ws(addr: SocketAddr) -> WebSocket<TcpStream> {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    let (socket, _) =
        tungstenite::client::client(format!("ws://{addr}/api/v1/ws").as_str(), stream).unwrap();
    socket
}

/// The next text message.
pub fn text(socket: &mut WebSocket<TcpStream>) -> String {
    loop {
        if let Message::Text(t) = socket.read().unwrap() {
            return t.as_str().to_string();
        }
    }
}

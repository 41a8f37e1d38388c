//! Just enough HTTP/1.1 and WebSocket client for `ctl`, which only ever talks to a
//! Troubadour instance: one request per connection, bodies with a length.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

/// Why a command did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// The server answered with an error.
    Refused { code: String, message: String },
    /// Nothing answered (or not HTTP).
    NoAnswer(String),
}

/// A running instance's address, and its token.
pub struct Client {
    host: String,
    port: u16,
    token: Option<String>,
}

/// A path segment, percent-encoded (names may hold spaces and anything else).
pub fn percent(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    pub fn new(url: &str, token: Option<String>) -> Result<Client, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("--url {url:?}: write it as http://HOST:PORT"))?;
        let authority = rest.split('/').next().unwrap_or(rest);
        // `[::1]:7474`, `[::1]`, `host:7474`, `host`.
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') && (!h.contains(':') || h.ends_with(']')) => (
                h.to_string(),
                p.parse::<u16>()
                    .map_err(|_| format!("--url {url:?}: {p:?} is not a port"))?,
            ),
            _ => (authority.to_string(), 80),
        };
        if host.is_empty() {
            return Err(format!("--url {url:?}: no host"));
        }
        Ok(Client { host, port, token })
    }

    fn connect(&self) -> Result<TcpStream, Failure> {
        let addr = format!("{}:{}", self.host.trim_matches(['[', ']']), self.port);
        let addr = if self.host.starts_with('[') {
            format!("{}:{}", self.host, self.port)
        } else {
            addr
        };
        let stream = TcpStream::connect(&addr).map_err(|e| Failure::NoAnswer(e.to_string()))?;
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        Ok(stream)
    }

    /// One request; the JSON answer of a 2xx, else the server's error.
    pub fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, Failure> {
        let mut stream = self.connect()?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.host,
            self.port,
            body.len()
        );
        if !body.is_empty() {
            head.push_str("Content-Type: application/json\r\n");
        }
        if let Some(t) = &self.token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        head.push_str("\r\n");
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body.as_bytes()))
            .map_err(|e| Failure::NoAnswer(e.to_string()))?;
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader
            .read_line(&mut status_line)
            .map_err(|e| Failure::NoAnswer(e.to_string()))?;
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Failure::NoAnswer(format!("not an HTTP answer: {status_line:?}")))?;
        let mut length = None;
        loop {
            let mut line = String::new();
            reader
                .read_line(&mut line)
                .map_err(|e| Failure::NoAnswer(e.to_string()))?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse::<usize>().ok();
            }
        }
        let mut text = Vec::new();
        match length {
            Some(n) => {
                text.resize(n, 0);
                reader
                    .read_exact(&mut text)
                    .map_err(|e| Failure::NoAnswer(e.to_string()))?;
            }
            None => {
                reader
                    .read_to_end(&mut text)
                    .map_err(|e| Failure::NoAnswer(e.to_string()))?;
            }
        }
        let value: Value = serde_json::from_slice(&text)
            .unwrap_or_else(|_| json!({ "text": String::from_utf8_lossy(&text).to_string() }));
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let error = &value["error"];
        Err(Failure::Refused {
            code: error["code"].as_str().unwrap_or("http").to_string(),
            message: error["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {status}")),
        })
    }

    /// Subscribes to a topic over the WebSocket and prints every event until the
    /// connection ends.
    pub fn watch(&self, topic: &str, rate: f64) -> Result<(), Failure> {
        let stream = self.connect()?;
        let _ = stream.set_read_timeout(None);
        let mut url = format!("ws://{}:{}/api/v1/ws", self.host, self.port);
        if let Some(t) = &self.token {
            url.push_str(&format!("?token={}", percent(t)));
        }
        let (mut socket, _) = match tungstenite::client::client(url.as_str(), stream) {
            Ok(s) => s,
            // The server answered, and refused (a token, an origin, too many clients).
            Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
                let body: Value = response
                    .body()
                    .as_deref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null);
                return Err(Failure::Refused {
                    code: body["error"]["code"].as_str().unwrap_or("http").into(),
                    message: body["error"]["message"]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("HTTP {}", response.status())),
                });
            }
            Err(e) => return Err(Failure::NoAnswer(format!("WebSocket: {e}"))),
        };
        let subscribe = json!({"id": 1, "op": "subscribe", "topics": [topic], "rate": rate});
        socket
            .send(tungstenite::Message::text(subscribe.to_string()))
            .map_err(|e| Failure::NoAnswer(e.to_string()))?;
        loop {
            let message = match socket.read() {
                Ok(m) => m,
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Ok(());
                }
                Err(e) => return Err(Failure::NoAnswer(format!("connection lost: {e}"))),
            };
            let tungstenite::Message::Text(text) = message else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
                continue;
            };
            if v.get("ok") == Some(&Value::Bool(false)) {
                return Err(Failure::Refused {
                    code: v["error"]["code"].as_str().unwrap_or("").into(),
                    message: v["error"]["message"].as_str().unwrap_or("").into(),
                });
            }
            if v.get("event").is_some() {
                println!("{}", super::show::event(&v));
                let _ = std::io::stdout().flush();
            }
        }
    }
}

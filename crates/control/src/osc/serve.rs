//! The OSC thread: one UDP socket read with a timeout, every message turned into a
//! request on the [`Handle`] (so validation, events, undo and autosave are the API's),
//! scheduled bundles, and what subscribers are sent.

use std::io::ErrorKind as IoKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use rosc::{OscMessage, OscPacket, OscType};
use serde_json::Value;
use tokio::sync::broadcast::{self, error::TryRecvError};
use troubadour_engine::session::Session;

use super::coalesce::{self, MAX_BURST};
use super::leases::{Leases, covers};
use super::route::{self, Action, MAX_PACKET};
use super::schedule::{MAX_SCHEDULED, Schedule};
use super::stats::{Failure, OscStats};
use super::value::{is_norm, json_to_arg, template_for};
use crate::api::{ApiError, ErrorCode, Reply, Request, Topic};
use crate::event::Outgoing;
use crate::namespace;
use crate::service::{Handle, MeterSubscription, json_to_toml};

/// The longest the thread sleeps in a read: how soon it notices it should stop.
const IDLE_WAIT: Duration = Duration::from_millis(100);

/// Its longest read while someone takes changes: how late a change may reach them.
const WATCHED_WAIT: Duration = Duration::from_millis(5);

/// Strings in one `/list` message at most, in bytes: well under a typical 8 kB limit.
const LIST_PAGE_BYTES: usize = 7 * 1024;

pub(super) struct Server {
    pub socket: UdpSocket,
    pub handle: Handle,
    pub stats: Arc<OscStats>,
    pub stop: Arc<AtomicBool>,
    pub leases: Leases,
    pub schedule: Schedule,
    pub events: Option<broadcast::Receiver<Arc<Outgoing>>>,
    pub meters: Option<MeterSubscription>,
}

impl Server {
    pub fn run(mut self) {
        let mut buf = vec![0u8; MAX_PACKET + 1];
        let mut timeout = Duration::ZERO;
        while !self.stop.load(Ordering::Relaxed) {
            let wait = self.wait(Instant::now());
            // A syscall saved per message under a flood, where the wait stays the same
            // (a read may then end up to a millisecond early, never late).
            if wait.abs_diff(timeout) >= Duration::from_millis(1) || wait < timeout {
                timeout = wait;
                let _ = self.socket.set_read_timeout(Some(timeout));
            }
            match self.socket.recv_from(&mut buf) {
                Ok((n, peer)) => {
                    let mut burst = vec![(peer, buf[..n].to_vec())];
                    self.take_burst(&mut burst, &mut buf);
                    self.burst(burst);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        IoKind::WouldBlock | IoKind::TimedOut | IoKind::Interrupted
                    ) => {}
                Err(e) => {
                    // An ICMP answer to a reply (some systems report those here): the
                    // socket is fine; do not spin if it keeps saying so.
                    tracing::debug!(target: "troubadour::osc", "receive: {e}");
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            self.housekeeping();
        }
    }

    /// How long the next read may wait.
    fn wait(&self, now: Instant) -> Duration {
        let mut until = now + IDLE_WAIT;
        if self.leases.any_changes() {
            until = until.min(now + WATCHED_WAIT);
        }
        if let Some(t) = self.leases.next_frame() {
            until = until.min(t);
        }
        if let Some(t) = self.schedule.next() {
            until = until.min(t);
        }
        until
            .saturating_duration_since(now)
            .max(Duration::from_millis(1))
    }

    fn housekeeping(&mut self) {
        let now = Instant::now();
        while let Some((peer, message)) = self.schedule.pop_due(now) {
            self.message(&message, peer);
        }
        self.leases.expire(now);
        self.forward_changes();
        self.forward_meters(now);
        self.stats.set_subscribers(self.leases.count());
    }

    /// The datagrams already waiting, read without waiting (up to [`MAX_BURST`]).
    fn take_burst(&self, burst: &mut Vec<(SocketAddr, Vec<u8>)>, buf: &mut [u8]) {
        if self.socket.set_nonblocking(true).is_err() {
            return;
        }
        while burst.len() < MAX_BURST {
            match self.socket.recv_from(buf) {
                Ok((n, peer)) => burst.push((peer, buf[..n].to_vec())),
                Err(_) => break,
            }
        }
        let _ = self.socket.set_nonblocking(false);
    }

    /// Datagrams as they came, hostile until decoded: what is due later scheduled, the
    /// rest applied in order but for the sets a later one in the burst makes moot.
    pub fn burst(&mut self, burst: Vec<(SocketAddr, Vec<u8>)>) {
        let mut now = Vec::new();
        let wall = SystemTime::now();
        for (peer, bytes) in burst {
            self.stats.packet();
            let timed = match route::decode(&bytes) {
                Ok(t) => t,
                Err(e) => {
                    self.stats.failed(Failure::Malformed);
                    self.error(peer, "", &format!("not an OSC packet: {e}"));
                    continue;
                }
            };
            for t in timed {
                let later =
                    t.at.and_then(|at| at.duration_since(wall).ok())
                        .filter(|d| !d.is_zero());
                match later {
                    Some(delay) => self.schedule_message(Instant::now() + delay, peer, t.message),
                    None => now.push((peer, t.message)),
                }
            }
        }
        let moot = coalesce::superseded(&now);
        for (i, ((peer, message), moot)) in now.iter().zip(moot).enumerate() {
            if moot {
                self.stats.coalesced();
                continue;
            }
            self.message(message, *peer);
            // A long burst does not hold up what subscribers are sent.
            if i % 64 == 63 {
                self.housekeeping();
            }
        }
    }

    fn schedule_message(&mut self, at: Instant, peer: SocketAddr, message: OscMessage) {
        let address = message.addr.clone();
        if !self.schedule.push(at, peer, message) {
            self.stats.failed(Failure::Refused);
            self.error(
                peer,
                &address,
                &format!("{MAX_SCHEDULED} messages are scheduled already"),
            );
        }
    }

    fn message(&mut self, message: &OscMessage, peer: SocketAddr) {
        let address = message.addr.as_str();
        let action = match route::route(message) {
            Ok(a) => a,
            Err(r) => {
                self.stats.failed(r.why);
                self.error(peer, address, &r.message);
                return;
            }
        };
        let origin = format!("osc:{peer}");
        let result = match action {
            Action::Get { path } => self.get(&path, address, peer, &origin),
            Action::Set { path, value } => self
                .handle
                .request_blocking(Request::Set { path, value }, &origin)
                .map(drop),
            Action::Api(request) => self.handle.request_blocking(request, &origin).map(drop),
            Action::Subscribe { prefix } => {
                let granted = self.leases.subscribe(peer, prefix, Instant::now());
                if granted.is_ok() && self.events.is_none() {
                    self.events = Some(self.handle.events());
                }
                granted.map_err(|e| ApiError::new(ErrorCode::TooManyClients, e))
            }
            Action::Meters { rate } => self
                .leases
                .meters(peer, rate, Instant::now())
                .map_err(|e| ApiError::new(ErrorCode::OutOfRange, e)),
            Action::Info => self.info(peer, &origin),
            Action::List { prefix } => self.list(&prefix, peer, &origin),
            Action::Nothing => Ok(()),
        };
        if let Err(e) = result {
            self.stats.failed(match e.code {
                ErrorCode::UnknownPath | ErrorCode::NotFound => Failure::UnknownAddress,
                ErrorCode::WrongType => Failure::WrongType,
                _ => Failure::Refused,
            });
            self.error(peer, address, &e.message);
        }
    }

    fn get(
        &self,
        path: &str,
        address: &str,
        peer: SocketAddr,
        origin: &str,
    ) -> Result<(), ApiError> {
        let reply = self
            .handle
            .request_blocking(Request::Get { path: path.into() }, origin)?;
        if let Reply::Value { value, .. } = reply {
            let arg = json_to_arg(&value, template_for(path), is_norm(path));
            self.send(peer, address, vec![arg]);
        }
        Ok(())
    }

    fn session(&self, origin: &str) -> Result<Session, ApiError> {
        let Reply::State { state, .. } = self.handle.request_blocking(Request::State, origin)?
        else {
            return Err(ApiError::new(ErrorCode::Unavailable, "no state came back"));
        };
        json_to_toml(&state)
            .and_then(|t| t.try_into::<Session>().map_err(|e| e.to_string()))
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::Unavailable,
                    format!("the state did not read back: {e}"),
                )
            })
    }

    /// `/info ,sii s… VERSION STRIPS BUSES STRIP_NAME… BUS_NAME…`.
    fn info(&self, peer: SocketAddr, origin: &str) -> Result<(), ApiError> {
        let session = self.session(origin)?;
        let mut args = vec![
            OscType::String(env!("CARGO_PKG_VERSION").into()),
            OscType::Int(session.strips.len() as i32),
            OscType::Int(session.buses.len() as i32),
        ];
        args.extend(
            session
                .strips
                .iter()
                .map(|s| OscType::String(s.name.clone())),
        );
        args.extend(
            session
                .buses
                .iter()
                .map(|b| OscType::String(b.name.clone())),
        );
        self.send(peer, "/info", args);
        Ok(())
    }

    /// `/list ,sii s… PREFIX PAGE PAGES ADDRESS…`, pages under [`LIST_PAGE_BYTES`].
    fn list(&self, prefix: &str, peer: SocketAddr, origin: &str) -> Result<(), ApiError> {
        let session = self.session(origin)?;
        let addresses: Vec<String> = namespace::flatten(&session)
            .into_iter()
            .map(|(path, _)| path)
            .chain(namespace::transport_paths(&session))
            .map(|path| format!("/{path}"))
            .filter(|a| covers(prefix, a))
            .collect();
        let mut pages: Vec<Vec<String>> = vec![Vec::new()];
        let mut bytes = 0;
        for a in addresses {
            let size = a.len() + 4;
            if bytes + size > LIST_PAGE_BYTES && !pages[pages.len() - 1].is_empty() {
                pages.push(Vec::new());
                bytes = 0;
            }
            bytes += size;
            if let Some(page) = pages.last_mut() {
                page.push(a);
            }
        }
        let count = pages.len() as i32;
        for (i, page) in pages.into_iter().enumerate() {
            let mut args = vec![
                OscType::String(prefix.into()),
                OscType::Int(i as i32 + 1),
                OscType::Int(count),
            ];
            args.extend(page.into_iter().map(OscType::String));
            self.send(peer, "/list", args);
        }
        Ok(())
    }

    /// Each `changed` event, to the subscribers whose prefix covers it, as the message
    /// that would set it.
    fn forward_changes(&mut self) {
        if !self.leases.any_changes() {
            self.events = None;
            return;
        }
        let Some(rx) = self.events.as_mut() else {
            return;
        };
        loop {
            let event = match rx.try_recv() {
                Ok(e) => e,
                Err(TryRecvError::Lagged(n)) => {
                    tracing::debug!(target: "troubadour::osc", "subscribers missed {n} events");
                    continue;
                }
                Err(_) => break,
            };
            if event.topic != Topic::Changes {
                continue;
            }
            let Ok(object) = serde_json::from_str::<Value>(&event.json) else {
                continue;
            };
            let (Some("changed"), Some(path)) = (object["event"].as_str(), object["path"].as_str())
            else {
                continue;
            };
            let address = format!("/{path}");
            let arg = json_to_arg(&object["value"], template_for(path), false);
            let packet = encode(&address, vec![arg]);
            for peer in self.leases.watching(&address) {
                if let Some(bytes) = &packet {
                    let _ = self.socket.send_to(bytes, peer);
                }
            }
        }
    }

    /// Meter readings folded into each subscriber's frame; the frames that are due, sent.
    /// One meter subscription is held while anyone takes meters.
    fn forward_meters(&mut self, now: Instant) {
        if !self.leases.any_meters() {
            self.meters = None;
            return;
        }
        let handle = &self.handle;
        let subscription = self
            .meters
            .get_or_insert_with(|| handle.meters(f64::from(crate::service::METER_RATE_HZ)));
        loop {
            match subscription.receiver.try_recv() {
                Ok(sample) => self.leases.fold(&sample),
                Err(TryRecvError::Lagged(_)) => continue,
                Err(_) => break,
            }
        }
        for (peer, message) in self.leases.due_frames(now) {
            if let Ok(bytes) = rosc::encoder::encode(&OscPacket::Message(message)) {
                let _ = self.socket.send_to(&bytes, peer);
            }
        }
    }

    fn send(&self, peer: SocketAddr, address: &str, args: Vec<OscType>) {
        if let Some(bytes) = encode(address, args) {
            let _ = self.socket.send_to(&bytes, peer);
        }
    }

    /// `/error ,ss ADDRESS MESSAGE`.
    fn error(&self, peer: SocketAddr, address: &str, message: &str) {
        // The address is the sender's own bytes: echo a bounded part of it.
        let address: String = address.chars().take(256).collect();
        self.send(
            peer,
            "/error",
            vec![OscType::String(address), OscType::String(message.into())],
        );
    }
}

fn encode(address: &str, args: Vec<OscType>) -> Option<Vec<u8>> {
    rosc::encoder::encode(&OscPacket::Message(OscMessage {
        addr: address.into(),
        args,
    }))
    .ok()
}

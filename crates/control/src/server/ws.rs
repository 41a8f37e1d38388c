//! One WebSocket connection: requests in, replies, events and meter frames out, all on
//! the connection's own task, so a client that stops reading stalls nobody but
//! itself. Its writes time out ([`WRITE_TIMEOUT`]) and drop it; meter frames come from
//! the feed of its rate ([`super::meters`]), and one that falls behind skips to the
//! newest; and if it falls so far behind that events were lost, it is closed (1008)
//! rather than left with a view of the mixer that is silently wrong.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::ws::{
    CloseFrame, Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio::sync::broadcast::{self, error::RecvError};

use super::http::error_response;
use super::meters::MeterFeed;
use super::spectrum::SpectrumFeed;
use super::{MAX_BODY_BYTES, Shared, WRITE_TIMEOUT, stopped};
use crate::api::{self, ApiError, ErrorCode, Reply, Request, Topic};
use crate::event::Outgoing;

/// Meter frames per second when a subscribe names no rate.
const DEFAULT_METER_RATE: f64 = 30.0;

/// What a connection reads from its socket at once. tungstenite zero-fills this much
/// before every read, and the connection reads after every frame it sends: its default
/// (128 KiB) made the zeroing 8 % of the server thread's time with one page's meters.
/// Requests are small; a larger one is read in more pieces.
const READ_BUFFER_BYTES: usize = 4096;

/// Close code 1008 (policy violation): the client fell behind and lost events.
const CLOSE_TOO_SLOW: u16 = 1008;
const TOO_SLOW: &str = "too slow: events were lost; reconnect and fetch the state";

/// Close code 1001 (going away): the server stops.
const CLOSE_GOING_AWAY: u16 = 1001;

/// A place among `max_clients`, given back when the connection ends (or when the
/// upgrade never happens).
struct ClientSlot(Arc<Shared>);

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `GET /api/v1/ws`: counted against `max_clients` before the upgrade, so a client over
/// the limit gets a plain 503 it can read.
pub(crate) async fn upgrade(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            return error_response(&ApiError::new(
                ErrorCode::BadRequest,
                format!("this route is a WebSocket: {rejection}"),
            ));
        }
    };
    if shared.clients.fetch_add(1, Ordering::Relaxed) >= shared.max_clients {
        shared.clients.fetch_sub(1, Ordering::Relaxed);
        tracing::debug!("WebSocket client refused: {} connected", shared.max_clients);
        return error_response(&ApiError::new(
            ErrorCode::TooManyClients,
            format!(
                "the server has {} WebSocket clients, as many as it takes",
                shared.max_clients
            ),
        ));
    }
    let slot = ClientSlot(Arc::clone(&shared));
    let n = shared.connections.fetch_add(1, Ordering::Relaxed) + 1;
    let origin = format!("ws-{n}");
    ws.read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(MAX_BODY_BYTES)
        .max_frame_size(MAX_BODY_BYTES)
        .on_failed_upgrade(|e| tracing::debug!("WebSocket upgrade failed: {e}"))
        .on_upgrade(move |socket| connection(socket, slot, origin, peer))
}

/// What a connection is subscribed to.
struct Connection {
    origin: String,
    sink: SplitSink<WebSocket, Message>,
    changes: bool,
    status: bool,
    /// Held only while `changes` or `status` is subscribed.
    events: Option<broadcast::Receiver<Arc<Outgoing>>>,
    /// Held only while `meters` is subscribed: the control thread reads meters only
    /// while some feed runs, and a feed runs while a client holds it.
    meters: Option<MeterFeed>,
    /// The spectra this connection shows; each feed (and the engine's tap) runs while
    /// some connection holds it.
    spectra: Vec<SpectrumFeed>,
}

/// Why a connection ends.
enum End {
    Client,
    Dropped(&'static str),
}

async fn connection(socket: WebSocket, slot: ClientSlot, origin: String, peer: SocketAddr) {
    tracing::info!("WebSocket client {origin} connected from {peer}");
    let shutdown = stopped(slot.0.shutdown.clone());
    tokio::pin!(shutdown);
    let (sink, mut stream) = socket.split();
    let mut conn = Connection {
        origin,
        sink,
        changes: false,
        status: false,
        events: None,
        meters: None,
        spectra: Vec::new(),
    };
    let shared = &slot.0;
    let end = loop {
        let step = tokio::select! {
            message = stream.next() => match message {
                Some(Ok(Message::Text(text))) => conn.on_text(shared, text.as_str()).await,
                Some(Ok(Message::Binary(_))) => {
                    let e = ApiError::new(ErrorCode::BadRequest, "messages are JSON text");
                    conn.send(encode(Value::Null, Err(e))).await
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
                Some(Ok(Message::Close(_))) | None => Err(End::Client),
                Some(Err(e)) => {
                    tracing::debug!("WebSocket client {}: {e}", conn.origin);
                    Err(End::Client)
                }
            },
            event = next_event(&mut conn.events) => match event {
                Ok(event) => {
                    let wanted = match event.topic {
                        Topic::Changes => conn.changes,
                        Topic::Status => conn.status,
                        Topic::Meters => false,
                    };
                    if wanted {
                        conn.send(event.json.as_ref().to_string()).await
                    } else {
                        Ok(())
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    let close = CloseFrame { code: CLOSE_TOO_SLOW, reason: TOO_SLOW.into() };
                    let _ = conn.send_message(Message::Close(Some(close))).await;
                    Err(End::Dropped("fell behind and lost events"))
                }
                // The control thread is gone; the shutdown follows.
                Err(RecvError::Closed) => {
                    conn.events = None;
                    Ok(())
                }
            },
            frame = next_frame(&mut conn.meters) => match frame {
                Ok(frame) => conn.send(frame.as_ref().to_owned()).await,
                // Frames missed while writes were pending: on to the newest.
                Err(RecvError::Lagged(_)) => Ok(()),
                Err(RecvError::Closed) => {
                    conn.meters = None;
                    Ok(())
                }
            },
            (i, frame) = next_spectrum(&mut conn.spectra) => match frame {
                Ok(frame) => conn.send(frame.as_ref().to_owned()).await,
                Err(RecvError::Lagged(_)) => Ok(()),
                Err(RecvError::Closed) => {
                    conn.spectra.swap_remove(i);
                    Ok(())
                }
            },
            () = &mut shutdown => {
                let close = CloseFrame { code: CLOSE_GOING_AWAY, reason: "the server stops".into() };
                let _ = conn.send_message(Message::Close(Some(close))).await;
                Err(End::Client)
            }
        };
        if let Err(end) = step {
            break end;
        }
    };
    match end {
        End::Client => tracing::info!("WebSocket client {} disconnected", conn.origin),
        End::Dropped(why) => tracing::warn!("WebSocket client {} dropped: {why}", conn.origin),
    }
}

async fn next_event(
    events: &mut Option<broadcast::Receiver<Arc<Outgoing>>>,
) -> Result<Arc<Outgoing>, RecvError> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn next_frame(meters: &mut Option<MeterFeed>) -> Result<Arc<str>, RecvError> {
    match meters {
        Some(feed) => feed.frames.recv().await,
        None => std::future::pending().await,
    }
}

/// The next frame of any spectrum the connection shows, with the feed's place.
async fn next_spectrum(spectra: &mut [SpectrumFeed]) -> (usize, Result<Arc<str>, RecvError>) {
    if spectra.is_empty() {
        return std::future::pending().await;
    }
    let next = spectra.iter_mut().map(|s| Box::pin(s.frames.recv()));
    let (frame, i, _) = futures_util::future::select_all(next).await;
    (i, frame)
}

/// `{"id":…,"ok":true,…reply}` or `{"id":…,"ok":false,"error":{…}}`.
fn encode(id: Value, result: Result<Reply, ApiError>) -> String {
    let mut object = Map::new();
    object.insert("id".into(), id);
    match result {
        Ok(reply) => {
            object.insert("ok".into(), Value::Bool(true));
            match serde_json::to_value(reply) {
                Ok(Value::Object(fields)) => object.extend(fields),
                Ok(other) => {
                    object.insert("reply".into(), other);
                }
                Err(e) => tracing::warn!("a reply did not encode: {e}"),
            }
        }
        Err(e) => {
            object.insert("ok".into(), Value::Bool(false));
            object.insert(
                "error".into(),
                json!({"code": e.code, "message": e.message}),
            );
        }
    }
    Value::Object(object).to_string()
}

impl Connection {
    async fn send(&mut self, text: String) -> Result<(), End> {
        self.send_message(Message::Text(text.into())).await
    }

    async fn send_message(&mut self, message: Message) -> Result<(), End> {
        match tokio::time::timeout(WRITE_TIMEOUT, self.sink.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Client),
            Err(_) => Err(End::Dropped("it did not read for 2 s")),
        }
    }

    async fn on_text(&mut self, shared: &Shared, text: &str) -> Result<(), End> {
        let (id, request) = api::decode_message(text);
        let result = match request {
            Ok(Request::Subscribe { topics, rate }) => self.subscribe(shared, &topics, rate),
            Ok(Request::Unsubscribe { topics }) => Ok(self.unsubscribe(&topics)),
            Ok(Request::SpectrumSubscribe { target }) => {
                self.spectrum_subscribe(shared, &target).await
            }
            Ok(Request::SpectrumUnsubscribe { target }) => {
                Ok(self.spectrum_unsubscribe(target.as_deref()))
            }
            Ok(request) => super::ask(&shared.handle, request, &self.origin).await,
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            tracing::debug!("WebSocket client {}: request refused: {e}", self.origin);
        }
        self.send(encode(id, result)).await
    }

    fn subscribe(
        &mut self,
        shared: &Shared,
        topics: &[Topic],
        rate: Option<f64>,
    ) -> Result<Reply, ApiError> {
        let rate = rate.unwrap_or(DEFAULT_METER_RATE);
        if !(1.0..=120.0).contains(&rate) {
            return Err(ApiError::new(
                ErrorCode::OutOfRange,
                format!("rate {rate} is outside 1..=120 frames per second"),
            ));
        }
        for topic in topics {
            match topic {
                Topic::Changes => self.changes = true,
                Topic::Status => self.status = true,
                // Joining the new rate's feed first keeps the readings flowing.
                Topic::Meters => {
                    self.meters = Some(shared.meter_hub.subscribe(&shared.handle, rate));
                }
            }
        }
        if (self.changes || self.status) && self.events.is_none() {
            self.events = Some(shared.handle.events());
        }
        Ok(self.subscribed())
    }

    fn unsubscribe(&mut self, topics: &[Topic]) -> Reply {
        for topic in topics {
            match topic {
                Topic::Changes => self.changes = false,
                Topic::Status => self.status = false,
                Topic::Meters => self.meters = None,
            }
        }
        if !self.changes && !self.status {
            self.events = None;
        }
        self.subscribed()
    }

    async fn spectrum_subscribe(
        &mut self,
        shared: &Shared,
        target: &str,
    ) -> Result<Reply, ApiError> {
        let feed = shared
            .spectrum_hub
            .subscribe(&shared.handle, target)
            .await?;
        let reply = feed.reply();
        // Asked again (by another name for the same strip, say): one feed is enough.
        self.spectra.retain(|s| s.target != feed.target);
        self.spectra.push(feed);
        Ok(reply)
    }

    fn spectrum_unsubscribe(&mut self, target: Option<&str>) -> Reply {
        match target {
            // By the name subscribed with or the canonical one.
            Some(t) => self.spectra.retain(|s| s.target != t && s.asked != t),
            None => self.spectra.clear(),
        }
        Reply::Spectra {
            spectra: self.spectra.iter().map(|s| s.target.clone()).collect(),
        }
    }

    fn subscribed(&self) -> Reply {
        let on = [
            (Topic::Changes, self.changes),
            (Topic::Meters, self.meters.is_some()),
            (Topic::Status, self.status),
        ];
        Reply::Subscribed {
            topics: on.iter().filter(|(_, on)| *on).map(|(t, _)| *t).collect(),
            origin: self.origin.clone(),
        }
    }
}

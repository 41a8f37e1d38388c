//! The WebSocket: requests and replies, subscriptions, limits, slow clients, meters.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};

use super::serve;
use crate::server::testing::{FADER, SLOW_PATH, TestMixer, filler};

type Ws = WebSocketStream<TcpStream>;

pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub(super) async fn connect(
    addr: SocketAddr,
    headers: &[(&'static str, &str)],
) -> Result<Ws, tungstenite::Error> {
    connect_to(addr, "/api/v1/ws", headers).await
}

async fn connect_to(
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, &str)],
) -> Result<Ws, tungstenite::Error> {
    let mut request = format!("ws://{addr}{path}").into_client_request()?;
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(*name, HeaderValue::from_str(value).unwrap());
    }
    let stream = TcpStream::connect(addr).await?;
    Ok(tokio_tungstenite::client_async(request, stream).await?.0)
}

fn refused_with(result: Result<Ws, tungstenite::Error>) -> u16 {
    match result {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("not an HTTP refusal: {e}"),
        Ok(_) => panic!("connected"),
    }
}

async fn send(ws: &mut Ws, message: Value) {
    ws.send(Message::text(message.to_string())).await.unwrap();
}

/// The next text message as JSON (pings and pongs skipped).
async fn next(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message within 5 s")
            .expect("the connection is open")
            .expect("a message");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// Every text message for `time`.
async fn collect(ws: &mut Ws, time: Duration) -> Vec<Value> {
    let until = tokio::time::Instant::now() + time;
    let mut got = Vec::new();
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(until, ws.next()).await {
        if let Message::Text(text) = message {
            got.push(serde_json::from_str(&text).unwrap());
        }
    }
    got
}

#[test]
fn requests_replies_and_change_events() {
    let (server, _mixer) = serve(|_| {});
    let addr = server.local_addr();
    runtime().block_on(async {
        let mut ws = connect(addr, &[]).await.unwrap();
        send(&mut ws, json!({"id": 1, "op": "get", "path": FADER})).await;
        assert_eq!(
            next(&mut ws).await,
            json!({"id": 1, "ok": true, "path": FADER, "value": -6.0})
        );

        send(&mut ws, json!({"id": "x", "op": "get", "path": "nope"})).await;
        let refused = next(&mut ws).await;
        assert_eq!(
            (refused["id"].clone(), refused["ok"].clone()),
            (json!("x"), json!(false))
        );
        assert_eq!(refused["error"]["code"], "unknown_path");

        ws.send(Message::text("{nope")).await.unwrap();
        let garbage = next(&mut ws).await;
        assert_eq!(garbage["id"], Value::Null);
        assert_eq!(garbage["error"]["code"], "malformed_json");

        send(
            &mut ws,
            json!({"id": 2, "op": "subscribe", "topics": ["meters"], "rate": 500}),
        )
        .await;
        assert_eq!(next(&mut ws).await["error"]["code"], "out_of_range");

        send(
            &mut ws,
            json!({"id": 3, "op": "subscribe", "topics": ["changes", "status"]}),
        )
        .await;
        let subscribed = next(&mut ws).await;
        assert_eq!(subscribed["topics"], json!(["changes", "status"]));
        let origin = subscribed["origin"].as_str().unwrap().to_string();
        assert!(origin.starts_with("ws-"), "{origin}");

        send(
            &mut ws,
            json!({"id": 4, "op": "set", "path": FADER, "value": -1.0}),
        )
        .await;
        let mut two = [next(&mut ws).await, next(&mut ws).await];
        two.sort_by_key(|m| m.get("event").is_some());
        assert_eq!(
            two[0],
            json!({"id": 4, "ok": true, "path": FADER, "value": -1.0, "seq": 1})
        );
        assert_eq!(two[1]["event"], "changed");
        assert_eq!(two[1]["origin"], json!(origin));

        send(
            &mut ws,
            json!({"id": 5, "op": "unsubscribe", "topics": ["changes"]}),
        )
        .await;
        assert_eq!(next(&mut ws).await["topics"], json!(["status"]));
    });
    server.stop();
}

#[test]
fn upgrades_pass_the_same_checks() {
    const TOKEN: &str = "feedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedface";
    let (server, _mixer) = serve(|c| c.token = Some(TOKEN.into()));
    let addr = server.local_addr();
    runtime().block_on(async {
        assert_eq!(refused_with(connect(addr, &[]).await), 401);
        assert_eq!(
            refused_with(connect_to(addr, "/api/v1/ws?token=bad", &[]).await),
            401
        );
        let with_token = format!("/api/v1/ws?token={TOKEN}");
        connect_to(addr, &with_token, &[])
            .await
            .expect("?token= is enough");
        let bearer = format!("Bearer {TOKEN}");
        connect(addr, &[("authorization", &bearer)])
            .await
            .expect("so is a bearer");
        let evil = [("origin", "http://evil.example")];
        assert_eq!(
            refused_with(connect_to(addr, &with_token, &evil).await),
            403
        );
        let own = format!("http://{addr}");
        connect_to(addr, &with_token, &[("origin", &own)])
            .await
            .expect("own origin");
    });
    server.stop();
}

#[test]
fn one_client_over_the_limit_is_refused() {
    let (server, _mixer) = serve(|c| c.max_clients = 2);
    let addr = server.local_addr();
    runtime().block_on(async {
        let first = connect(addr, &[]).await.unwrap();
        let _second = connect(addr, &[]).await.unwrap();
        assert_eq!(refused_with(connect(addr, &[]).await), 503);
        drop(first);
        let until = Instant::now() + Duration::from_secs(3);
        while server.clients() > 1 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        connect(addr, &[]).await.expect("a place was freed");
    });
    server.stop();
}

#[test]
fn a_client_that_does_not_read_is_dropped_and_others_keep_receiving() {
    let (server, mixer) = serve(|_| {});
    let addr = server.local_addr();
    runtime().block_on(async {
        let subscribe = json!({"id": 1, "op": "subscribe", "topics": ["changes"]});
        let mut slow = connect(addr, &[]).await.unwrap();
        send(&mut slow, subscribe.clone()).await;
        next(&mut slow).await;
        let mut good = connect(addr, &[]).await.unwrap();
        send(&mut good, subscribe).await;
        next(&mut good).await;

        let events = mixer.events.clone();
        let flooding = std::thread::spawn(move || {
            let pad = "x".repeat(1000);
            let mut n = 0u64;
            // Paced so a reading client keeps up, and a full socket buffer is soon
            // reached for one that does not.
            while n < 400_000 && events.receiver_count() >= 2 {
                for _ in 0..200 {
                    n += 1;
                    let event = crate::event::Outgoing::change(
                        n,
                        json!({"event": "changed", "seq": n, "pad": pad}),
                    );
                    let _ = events.send(std::sync::Arc::new(event));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            n
        });
        let reader = tokio::spawn(async move {
            let mut count = 0u64;
            while let Some(Ok(message)) = good.next().await {
                if let Message::Text(text) = message {
                    count += 1;
                    if text.contains("\"last\"") {
                        return (count, good);
                    }
                }
            }
            panic!("the reading client was closed after {count} events");
        });
        let until = Instant::now() + Duration::from_secs(15);
        while server.clients() > 1 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            server.clients(),
            1,
            "the client that does not read is dropped"
        );
        let sent = tokio::task::spawn_blocking(move || flooding.join().unwrap())
            .await
            .unwrap();
        let last = crate::event::Outgoing::change(sent + 1, json!({"event": "last"}));
        let _ = mixer.events.send(std::sync::Arc::new(last));
        let (count, _good) = tokio::time::timeout(Duration::from_secs(10), reader)
            .await
            .expect("the reading client gets everything")
            .unwrap();
        assert_eq!(count, sent + 1);
        drop(slow);
    });
    server.stop();
}

#[test]
fn a_client_that_lost_events_is_closed_with_1008() {
    let (server, mixer) = serve(|_| {});
    let addr = server.local_addr();
    runtime().block_on(async {
        let mut ws = connect(addr, &[]).await.unwrap();
        send(
            &mut ws,
            json!({"id": 1, "op": "subscribe", "topics": ["changes"]}),
        )
        .await;
        next(&mut ws).await;
        // While the connection waits on a slow request, more events than the backlog
        // holds go by.
        send(&mut ws, json!({"id": 2, "op": "get", "path": SLOW_PATH})).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        for n in 0..(crate::service::EVENT_BACKLOG as u64 + 100) {
            let _ = mixer.events.send(filler(n));
        }
        assert_eq!(next(&mut ws).await["id"], 2);
        let close = loop {
            match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => break frame.expect("a close frame"),
                Ok(Some(Ok(_))) => {}
                other => panic!("no close frame: {other:?}"),
            }
        };
        assert_eq!(u16::from(close.code), 1008);
        assert!(close.reason.contains("too slow"), "{}", close.reason);
    });
    server.stop();
}

/// The peaks of bus A1 in every meter frame.
fn peaks(frames: &[Value]) -> Vec<f64> {
    frames
        .iter()
        .filter(|f| f["event"] == "meters")
        .map(|f| match &f["buses"][0]["post"][0][0] {
            Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
            peak => peak.as_f64().unwrap_or_else(|| panic!("a peak: {f}")),
        })
        .collect()
}

#[test]
fn meter_frames_at_each_clients_rate_with_its_own_peaks() {
    let (server, mixer) = serve(|_| {});
    let addr = server.local_addr();
    runtime().block_on(async {
        let mut slow = connect(addr, &[]).await.unwrap();
        let mut fast = connect(addr, &[]).await.unwrap();
        for (ws, rate) in [(&mut slow, 10), (&mut fast, 50)] {
            send(
                ws,
                json!({"id": 1, "op": "subscribe", "topics": ["meters"], "rate": rate}),
            )
            .await;
            assert_eq!(next(ws).await["topics"], json!(["meters"]));
        }
        assert_eq!(mixer.reader.seats(), 2);

        let engine = std::sync::Arc::clone(&mixer.engine);
        let feeding = std::thread::spawn(move || {
            // One second of blocks at 100 Hz, one of them loud.
            for i in 0..100 {
                TestMixer::play(&engine, if i == 50 { -1.0 } else { -60.0 });
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let window = Duration::from_millis(1300);
        let (slow_frames, fast_frames) =
            tokio::join!(collect(&mut slow, window), collect(&mut fast, window));
        feeding.join().unwrap();
        let (slow_peaks, fast_peaks) = (peaks(&slow_frames), peaks(&fast_frames));
        // Frames come on each feed's clock, for the whole 1.3 s window (silent ones
        // once nothing plays): 13 or 14 at 10 Hz, 65 or 66 at 50 Hz, fewer if the
        // machine is too busy for some ticks.
        assert!(
            (9..=15).contains(&slow_peaks.len()),
            "10 Hz: {} frames",
            slow_peaks.len()
        );
        assert!(
            (45..=67).contains(&fast_peaks.len()),
            "50 Hz: {} frames",
            fast_peaks.len()
        );
        // The loud block in exactly one frame of each, at its level; no frame louder
        // than what played.
        for peaks in [&slow_peaks, &fast_peaks] {
            let loud: Vec<&f64> = peaks.iter().filter(|&&p| p > -30.0).collect();
            assert_eq!(loud.len(), 1, "{peaks:?}");
            assert!((loud[0] + 1.0).abs() < 0.01, "{peaks:?}");
            assert!(
                peaks.iter().all(|&p| p == -1.0 || p <= -60.0 + 0.01),
                "{peaks:?}"
            );
        }

        send(
            &mut slow,
            json!({"id": 2, "op": "unsubscribe", "topics": ["meters"]}),
        )
        .await;
        assert_eq!(next(&mut slow).await["topics"], json!([]));
        // The feed of 10 Hz stops once the runtime has dropped its task.
        until_subscribers(&mixer, 1).await;
    });
    server.stop();
}

/// Waits (up to a second) for the meter reader to seat `n` feeds.
async fn until_subscribers(mixer: &TestMixer, n: usize) {
    let end = Instant::now() + Duration::from_secs(1);
    while mixer.reader.seats() != n {
        assert!(
            Instant::now() < end,
            "{} meter feeds, not {n}",
            mixer.reader.seats()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn clients_at_one_rate_share_one_feed_and_its_frames() {
    let (server, mixer) = serve(|_| {});
    let addr = server.local_addr();
    runtime().block_on(async {
        let mut pages = Vec::new();
        for _ in 0..3 {
            let mut ws = connect(addr, &[]).await.unwrap();
            send(
                &mut ws,
                json!({"id": 1, "op": "subscribe", "topics": ["meters"], "rate": 20}),
            )
            .await;
            assert_eq!(next(&mut ws).await["topics"], json!(["meters"]));
            pages.push(ws);
        }
        // Three clients, one feed reading the meters.
        assert_eq!(mixer.reader.seats(), 1);

        let engine = std::sync::Arc::clone(&mixer.engine);
        let feeding = std::thread::spawn(move || {
            for i in 0..100 {
                TestMixer::play(&engine, if i == 40 { -3.0 } else { -50.0 });
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let window = Duration::from_millis(1300);
        let [a, b, c] = &mut pages[..] else {
            unreachable!()
        };
        let (fa, fb, fc) = tokio::join!(collect(a, window), collect(b, window), collect(c, window));
        feeding.join().unwrap();
        for frames in [&fa, &fb, &fc] {
            let peaks = peaks(frames);
            assert!((18..=27).contains(&peaks.len()), "20 Hz: {peaks:?}");
            assert_eq!(peaks.iter().filter(|&&p| p == -3.0).count(), 1, "{peaks:?}");
        }
        // The same frames, one fold and one clock: from the loud one on, every level
        // (the RMS moves from frame to frame) alike in each page. A page that
        // subscribed earlier has more frames before it.
        let from_loud = |frames: &[Value]| -> Vec<Value> {
            let meters: Vec<&Value> = frames.iter().filter(|f| f["event"] == "meters").collect();
            let at = peaks(frames).iter().position(|&p| p == -3.0).unwrap();
            meters[at..(at + 5).min(meters.len())]
                .iter()
                .map(|&f| f.clone())
                .collect()
        };
        assert!(from_loud(&fa).len() >= 3, "{fa:?}");
        assert_eq!(from_loud(&fa), from_loud(&fb));
        assert_eq!(from_loud(&fb), from_loud(&fc));

        // Another rate is another feed; leaving ends a feed only with its last client.
        let mut other = connect(addr, &[]).await.unwrap();
        send(
            &mut other,
            json!({"id": 1, "op": "subscribe", "topics": ["meters"], "rate": 7.5}),
        )
        .await;
        assert_eq!(next(&mut other).await["topics"], json!(["meters"]));
        assert_eq!(mixer.reader.seats(), 2);
        for ws in pages.iter_mut().take(2) {
            send(
                ws,
                json!({"id": 2, "op": "unsubscribe", "topics": ["meters"]}),
            )
            .await;
            assert_eq!(next(ws).await["topics"], json!([]));
        }
        until_subscribers(&mixer, 2).await;
        drop(pages);
        until_subscribers(&mixer, 1).await;
        drop(other);
        until_subscribers(&mixer, 0).await;
    });
    server.stop();
}

#[test]
fn stop_ends_websocket_connections() {
    let (server, _mixer) = serve(|_| {});
    let addr = server.local_addr();
    let rt = runtime();
    let mut ws = rt.block_on(connect(addr, &[])).unwrap();
    let before = Instant::now();
    server.stop();
    assert!(
        before.elapsed() < Duration::from_millis(1500),
        "{:?}",
        before.elapsed()
    );
    rt.block_on(async {
        match tokio::time::timeout(Duration::from_secs(2), ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(frame))))) => assert_eq!(u16::from(frame.code), 1001),
            Ok(None | Some(Err(_))) => {}
            other => panic!("still open: {other:?}"),
        }
    });
}

#[test]
fn a_message_over_64_kb_ends_the_connection() {
    let (server, _mixer) = serve(|_| {});
    let addr = server.local_addr();
    runtime().block_on(async {
        let mut ws = connect(addr, &[]).await.unwrap();
        let path = "x".repeat(100 << 10);
        send(&mut ws, json!({"id": 1, "op": "get", "path": path})).await;
        let ended = loop {
            match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                Ok(Some(Ok(Message::Close(_))) | Some(Err(_)) | None) => break true,
                Ok(Some(Ok(Message::Text(text)))) => panic!("answered: {text}"),
                Ok(Some(Ok(_))) => {}
                Err(_) => break false,
            }
        };
        assert!(ended, "the connection is still open");
        let until = Instant::now() + Duration::from_secs(3);
        while server.clients() > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(server.clients(), 0);
    });
    server.stop();
}

//! Every HTTP route: status and body shape, and refusals mapped to their codes.

use serde_json::json;

use super::{call, get, serve};
use crate::server::testing::FADER;

#[test]
fn reads_answer_their_shapes() {
    let (server, _mixer) = serve(|_| {});
    let addr = server.local_addr();

    let state = get(addr, "/api/v1/state");
    assert_eq!(state.status, 200, "{state:?}");
    let state = state.json();
    assert_eq!(state["seq"], json!(0));
    assert_eq!(state["strip"][0]["name"], "Mic");

    let param = get(addr, &format!("/api/v1/params/{FADER}"));
    assert_eq!(param.status, 200, "{param:?}");
    assert_eq!(param.json(), json!({"path": FADER, "value": -6.0}));

    let missing = get(addr, "/api/v1/params/strip/Nobody/fader_db");
    assert_eq!(
        (missing.status, missing.code()),
        (404, "unknown_path".into())
    );

    let schema = get(addr, "/api/v1/schema");
    assert_eq!(schema.status, 200);
    assert!(schema.json()["schema"].is_object());

    let status = get(addr, "/api/v1/status");
    assert_eq!(status.status, 200);
    assert_eq!(status.json()["status"]["backend"], "null");

    let scenes = get(addr, "/api/v1/scenes");
    assert_eq!(
        (scenes.status, scenes.json()),
        (200, json!({"scenes": ["Intro"]}))
    );

    let metrics = get(addr, "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .head
            .to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{}",
        metrics.head
    );
    assert!(metrics.body.contains("troubadour_xruns_total"));

    let health = get(addr, "/healthz");
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));

    let doc = get(addr, "/api/v1/openapi.json");
    assert_eq!(doc.status, 200);
    assert!(doc.json()["paths"]["/api/v1/state"].is_object());

    let nowhere = get(addr, "/api/v2/nothing");
    assert_eq!((nowhere.status, nowhere.code()), (404, "not_found".into()));
    server.stop();
}

#[test]
fn sets_answer_seq_or_their_refusal() {
    let (server, _mixer) = serve(|_| {});
    let addr = server.local_addr();
    let path = format!("/api/v1/params/{FADER}");
    let put = |body: &str| {
        call(
            addr,
            "PUT",
            &path,
            &["Content-Type: application/json"],
            body,
        )
    };

    let ok = put(r#"{"value": -3.5}"#);
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.json(), json!({"path": FADER, "value": -3.5, "seq": 1}));

    for (body, status, code) in [
        (r#"{"value": 40}"#, 400, "out_of_range"),
        (r#"{"value": "loud"}"#, 400, "wrong_type"),
        (r#"{"value": "#, 400, "malformed_json"),
        (r#"{"level": 1}"#, 400, "bad_request"),
        ("", 400, "malformed_json"),
    ] {
        let r = put(body);
        assert_eq!((r.status, r.code()), (status, code.to_string()), "{body}");
    }
    let unknown = call(addr, "PUT", "/api/v1/params/nope", &[], r#"{"value": 1}"#);
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "unknown_path".into())
    );
    server.stop();
}

#[test]
fn scenes_undo_and_requests() {
    let (server, _mixer) = serve(|_| {});
    let addr = server.local_addr();

    let saved = call(addr, "PUT", "/api/v1/scenes/Intro", &[], "");
    assert_eq!(saved.status, 200, "{saved:?}");
    assert!(saved.json()["seq"].is_u64());
    assert!(saved.json()["done"].is_string());

    let recalled = call(
        addr,
        "POST",
        "/api/v1/scenes/Intro/recall",
        &[],
        r#"{"fade_ms": 500}"#,
    );
    assert_eq!(recalled.status, 200, "{recalled:?}");
    assert!(recalled.json()["done"].as_str().unwrap().contains("500"));
    let jumped = call(addr, "POST", "/api/v1/scenes/Intro/recall", &[], "");
    assert_eq!(jumped.status, 200, "{jumped:?}");
    let bad = call(
        addr,
        "POST",
        "/api/v1/scenes/Intro/recall",
        &[],
        r#"{"fade": 1}"#,
    );
    assert_eq!((bad.status, bad.code()), (400, "bad_request".into()));
    let missing = call(addr, "POST", "/api/v1/scenes/Outro/recall", &[], "");
    assert_eq!((missing.status, missing.code()), (404, "not_found".into()));

    let deleted = call(addr, "DELETE", "/api/v1/scenes/Intro", &[], "");
    assert_eq!(deleted.status, 200);
    let gone = call(addr, "DELETE", "/api/v1/scenes/Outro", &[], "");
    assert_eq!((gone.status, gone.code()), (404, "not_found".into()));

    let undo = call(addr, "POST", "/api/v1/undo", &[], "");
    assert_eq!((undo.status, undo.code()), (409, "nothing_to_undo".into()));
    let redo = call(addr, "POST", "/api/v1/redo", &[], "");
    assert_eq!(redo.status, 200);

    let edit = r#"{"op":"add_bus","bus":{"name":"B1"}}"#;
    let added = call(addr, "POST", "/api/v1/request", &[], edit);
    assert_eq!(added.status, 200, "{added:?}");
    assert!(added.json()["done"].as_str().unwrap().contains("AddBus"));
    for (body, code) in [
        (r#"{"op":"fly"}"#, "unknown_op"),
        (r#"{"op":"subscribe","topics":["changes"]}"#, "unsupported"),
        (r#"{"op":"get"}"#, "bad_request"),
        ("[", "malformed_json"),
    ] {
        let r = call(addr, "POST", "/api/v1/request", &[], body);
        assert_eq!((r.status, r.code()), (400, code.to_string()), "{body}");
    }
    server.stop();
}

#[test]
fn a_ten_megabyte_body_is_too_large() {
    let (server, _mixer) = serve(|_| {});
    let addr = server.local_addr();
    let body = vec![b' '; 10 << 20];
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let head = format!(
        "POST /api/v1/request HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // The server answers before taking the whole body and closes; the writer may then
    // fail, which is fine: only the answer matters.
    let mut writer = stream.try_clone().unwrap();
    let writing = std::thread::spawn(move || {
        use std::io::Write;
        let _ = writer.write_all(head.as_bytes());
        let _ = writer.write_all(&body);
    });
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        use std::io::Read;
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
        if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
            break;
        }
    }
    let r = super::parse(&answer);
    assert_eq!((r.status, r.code()), (413, "too_large".into()));
    drop(stream);
    let _ = writing.join();
    server.stop();
}

#[test]
fn a_taken_address_is_an_error_that_names_it() {
    let (server, mixer) = serve(|_| {});
    let taken = server.local_addr();
    let config = crate::server::ServerConfig::new(taken);
    let e = crate::server::start(config, mixer.handle.clone()).unwrap_err();
    assert!(e.to_string().contains(&taken.to_string()), "{e}");
    let before = std::time::Instant::now();
    server.stop();
    assert!(before.elapsed() < std::time::Duration::from_millis(1500));
    // The listener is closed: the port can be bound again.
    std::net::TcpListener::bind(taken).expect("port freed by stop");
}

#[test]
fn a_control_thread_that_does_not_answer_is_unavailable() {
    let (server, _mixer) = serve(|_| {});
    let addr = server.local_addr();
    let before = std::time::Instant::now();
    let r = get(
        addr,
        &format!("/api/v1/params/{}", crate::server::testing::STUCK_PATH),
    );
    assert_eq!((r.status, r.code()), (503, "unavailable".into()));
    assert!(before.elapsed() < crate::server::REQUEST_TIMEOUT + std::time::Duration::from_secs(1));
    // The server itself still answers.
    assert_eq!(get(addr, "/healthz").status, 200);
    server.stop();
}

//! Token, Host and Origin checks, and a flood of idle connections.

use std::time::{Duration, Instant};

use super::{call, get, raw, serve};

const TOKEN: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

#[test]
fn a_token_is_needed_when_set() {
    let (server, _mixer) = serve(|c| c.token = Some(TOKEN.into()));
    let addr = server.local_addr();
    let none = get(addr, "/api/v1/state");
    assert_eq!((none.status, none.code()), (401, "unauthorized".into()));
    assert!(
        none.head
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer")
    );
    let wrong = call(
        addr,
        "GET",
        "/api/v1/state",
        &["Authorization: Bearer 0011"],
        "",
    );
    assert_eq!(wrong.status, 401);
    let wrong_query = get(addr, "/api/v1/state?token=ffff");
    assert_eq!(wrong_query.status, 401);

    let bearer = format!("Authorization: Bearer {TOKEN}");
    assert_eq!(
        call(addr, "GET", "/api/v1/state", &[&bearer], "").status,
        200
    );
    assert_eq!(
        get(addr, &format!("/api/v1/state?token={TOKEN}")).status,
        200
    );
    assert_eq!(
        call(addr, "POST", "/api/v1/redo", &[&bearer], "").status,
        200
    );
    // A token in a URL is for GETs only: a form elsewhere cannot carry it to a POST.
    let posted = call(
        addr,
        "POST",
        &format!("/api/v1/redo?token={TOKEN}"),
        &[],
        "",
    );
    assert_eq!(posted.status, 401);
    server.stop();
}

#[test]
fn the_console_page_needs_no_token_but_its_api_does() {
    let (server, _mixer) = serve(|c| c.token = Some(TOKEN.into()));
    let addr = server.local_addr();
    let page = get(addr, "/");
    assert_eq!(page.status, 200);
    assert!(page.head.to_ascii_lowercase().contains("text/html"));
    assert_eq!(get(addr, "/ui/js/main.js").status, 200);
    let missing = get(addr, "/ui/nothing.js");
    assert_eq!((missing.status, missing.code()), (404, "not_found".into()));
    assert_eq!(get(addr, "/api/v1/state").status, 401);
    // Another page still cannot read it through a visitor's browser.
    let r = call(addr, "GET", "/", &["Origin: http://evil.example"], "");
    assert_eq!(r.status, 403);
    server.stop();
}

#[test]
fn no_token_needed_when_none_is_set() {
    let (server, _mixer) = serve(|_| {});
    let r = call(
        server.local_addr(),
        "GET",
        "/healthz",
        &["Authorization: Bearer x"],
        "",
    );
    assert_eq!(r.status, 200);
    server.stop();
}

#[test]
fn a_foreign_origin_is_refused_on_every_route() {
    let (server, _mixer) = serve(|_| {});
    let addr = server.local_addr();
    let evil = "Origin: http://evil.example";
    let r = call(addr, "GET", "/api/v1/state", &[evil], "");
    assert_eq!((r.status, r.code()), (403, "forbidden".into()));
    let r = call(addr, "POST", "/api/v1/undo", &[evil], "");
    assert_eq!((r.status, r.code()), (403, "forbidden".into()));
    let r = call(addr, "GET", "/api/v1/state", &["Origin: null"], "");
    assert_eq!(r.status, 403);
    // A page on another port of this machine is another origin too.
    let r = call(
        addr,
        "GET",
        "/api/v1/state",
        &["Origin: http://127.0.0.1:1"],
        "",
    );
    assert_eq!(r.status, 403);

    let own = format!("Origin: http://{addr}");
    assert_eq!(call(addr, "GET", "/api/v1/state", &[&own], "").status, 200);
    assert_eq!(call(addr, "POST", "/api/v1/redo", &[&own], "").status, 200);
    assert_eq!(get(addr, "/api/v1/state").status, 200);
    server.stop();
}

#[test]
fn a_foreign_host_is_refused() {
    let (server, _mixer) = serve(|c| c.extra_hosts = vec!["Mixer.lan".into()]);
    let addr = server.local_addr();
    let port = addr.port();
    let r = raw(
        addr,
        "GET /api/v1/state HTTP/1.1\r\nHost: evil.example",
        b"",
    );
    assert_eq!((r.status, r.code()), (403, "forbidden".into()));
    let r = raw(
        addr,
        &format!("GET /healthz HTTP/1.1\r\nHost: evil.example:{port}"),
        b"",
    );
    assert_eq!(r.status, 403);
    for host in [
        format!("localhost:{port}"),
        "localhost".into(),
        format!("[::1]:{port}"),
        "10.0.0.7".into(),
        format!("mixer.lan:{port}"),
    ] {
        let r = raw(
            addr,
            &format!("GET /api/v1/state HTTP/1.1\r\nHost: {host}"),
            b"",
        );
        assert_eq!(r.status, 200, "Host: {host}");
    }
    if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let name = name.trim();
        for host in [format!("{name}:{port}"), format!("{name}.local:{port}")] {
            let r = raw(addr, &format!("GET /healthz HTTP/1.1\r\nHost: {host}"), b"");
            assert_eq!(r.status, 200, "Host: {host}");
        }
    }
    // HTTP/1.0 without a Host header.
    let r = raw(addr, "GET /api/v1/state HTTP/1.0", b"");
    assert_eq!(r.status, 200, "{r:?}");
    server.stop();
}

/// The soft limit on open files, from /proc (no libc).
fn open_file_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse().ok()
        })
        .unwrap_or(1024)
}

#[test]
fn a_thousand_idle_connections_do_not_stop_the_server() {
    let (server, _mixer) = serve(|_| {});
    let addr = server.local_addr();
    // Both ends are in this process: each connection costs two descriptors.
    let n = 1000.min(open_file_limit().saturating_sub(200) / 2);
    let idle: Vec<_> = (0..n)
        .filter_map(|_| std::net::TcpStream::connect(addr).ok())
        .collect();
    assert!(idle.len() >= n * 9 / 10, "{} of {n} connected", idle.len());
    let before = Instant::now();
    assert_eq!(get(addr, "/healthz").status, 200);
    let ws = super::ws::runtime().block_on(super::ws::connect(addr, &[]));
    assert!(ws.is_ok(), "{:?}", ws.err());
    assert!(
        before.elapsed() < Duration::from_secs(2),
        "{:?}",
        before.elapsed()
    );
    drop(ws);
    let stopping = Instant::now();
    server.stop();
    assert!(stopping.elapsed() < Duration::from_millis(1500));
    drop(idle);
}

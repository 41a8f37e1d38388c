//! What every request passes before any route sees it: the `Host` check (against DNS
//! rebinding: a page on `evil.example` that resolves to 127.0.0.1 still says
//! `Host: evil.example`), the `Origin` check (a page elsewhere must not drive the mixer
//! through the visitor's browser, not even with a simple POST), then the token (which
//! the console's own files, `/` and `/ui/…`, do not need: they hold no mixer state).

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;

use super::Shared;
use super::http::error_response;
use crate::api::{ApiError, ErrorCode};

/// Host names accepted besides IP literals: `localhost`, the extra ones, this
/// machine's name and its `.local` mDNS name; lower case.
pub(crate) fn accepted_hosts(extra: &[String]) -> Vec<String> {
    let mut hosts = vec!["localhost".to_string()];
    hosts.extend(extra.iter().map(|h| h.to_ascii_lowercase()));
    if let Some(name) = hostname() {
        hosts.push(format!("{name}.local"));
        hosts.push(name);
    }
    hosts
}

fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_ascii_lowercase())
        .find(|s| !s.is_empty())
}

/// The host of a `Host` header, without its port (`[::1]:8080` → `::1`).
fn host_name(header: &str) -> &str {
    if let Some(rest) = header.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((ip, "")) => ip,
            Some((ip, port)) if port.strip_prefix(':').is_some_and(is_port) => ip,
            _ => header,
        };
    }
    match header.rsplit_once(':') {
        Some((name, port)) if is_port(port) => name,
        _ => header,
    }
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) fn host_allowed(header: &str, hosts: &[String]) -> bool {
    let name = host_name(header.trim());
    let name = name.strip_suffix('.').unwrap_or(name);
    name.parse::<IpAddr>().is_ok() || hosts.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// No `Origin` (not a browser, or a same-origin GET) or the server's own origin.
fn origin_allowed(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    origin
        .to_str()
        .is_ok_and(|o| o.eq_ignore_ascii_case(&format!("http://{host}")))
}

/// Compares without an early exit, so the time taken does not tell how much of a
/// guess was right. (The length is no secret: tokens are 64 hex digits.)
pub(crate) fn same_token(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

fn token_given(req: &Request) -> impl Iterator<Item = &[u8]> {
    let bearer = req
        .headers()
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().as_bytes());
    // A token in the URL only where a browser cannot send a header (the WebSocket
    // upgrade, a link): GETs, which change nothing.
    let query = (req.method() == Method::GET)
        .then(|| req.uri().query())
        .flatten()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| pair.strip_prefix("token="))
        .map(str::as_bytes);
    bearer.chain(query)
}

fn refuse(code: ErrorCode, message: String) -> Response {
    tracing::debug!("request refused: {code}: {message}");
    error_response(&ApiError::new(code, message))
}

/// The middleware.
pub(crate) async fn check(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    if let Some(host) = headers.get(header::HOST) {
        let allowed = host.to_str().is_ok_and(|h| host_allowed(h, &shared.hosts));
        if !allowed {
            return refuse(
                ErrorCode::Forbidden,
                format!(
                    "Host {host:?} is not this machine's; to serve it, add it to the server's extra hosts"
                ),
            );
        }
    }
    if !origin_allowed(headers) {
        return refuse(
            ErrorCode::Forbidden,
            format!(
                "requests from pages of another origin ({:?}) are refused",
                headers.get(header::ORIGIN)
            ),
        );
    }
    if let Some(expected) = &shared.token
        && !super::web::is_public(req.method(), req.uri().path())
    {
        // Every candidate is compared, so which one matched does not show either.
        let ok = token_given(&req).fold(false, |ok, t| same_token(t, expected.as_bytes()) | ok);
        if !ok {
            let mut response = refuse(
                ErrorCode::Unauthorized,
                "this server needs its token: `Authorization: Bearer <token>` or `?token=<token>`"
                    .to_string(),
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_with_and_without_ports() {
        let hosts = vec!["localhost".to_string(), "mixer.lan".to_string()];
        for ok in [
            "localhost",
            "localhost:8080",
            "LOCALHOST:1",
            "127.0.0.1",
            "127.0.0.1:9000",
            "[::1]",
            "[::1]:9000",
            "192.168.1.20:80",
            "mixer.lan:8080",
            "localhost.",
        ] {
            assert!(host_allowed(ok, &hosts), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil",
            "[::1",
            "",
        ] {
            assert!(!host_allowed(bad, &hosts), "{bad}");
        }
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token(b"abcd", b"abcd"));
        assert!(!same_token(b"abce", b"abcd"));
        assert!(!same_token(b"abc", b"abcd"));
        assert!(!same_token(b"", b"abcd"));
    }
}

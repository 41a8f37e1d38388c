//! The browser console: its page, scripts and style sheet, embedded in the binary at
//! build time (`crates/control/web/ui/`), so `cargo build` needs no Node.js and the page
//! loads nothing from anywhere but this server.
//!
//! The files are served without a token: they hold no mixer state, and the page asks
//! for the token itself when the API answers 401. The Host and Origin checks still
//! apply (see `guard.rs`).

use axum::extract::Path;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};

use super::http::error_response;
use crate::api::{ApiError, ErrorCode};

/// One embedded file.
struct Asset {
    /// Its path under `/ui/`.
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

macro_rules! assets {
    ($(($path:literal, $type:expr)),* $(,)?) => {
        &[$(Asset {
            path: $path,
            content_type: $type,
            body: include_str!(concat!("../../web/ui/", $path)),
        }),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the console. A test holds this list to the folder both ways.
const ASSETS: &[Asset] = assets![
    ("index.html", "text/html; charset=utf-8"),
    ("style.css", "text/css; charset=utf-8"),
    ("js/api.js", JS),
    ("js/biquad.js", JS),
    ("js/console.js", JS),
    ("js/dom.js", JS),
    ("js/dynamics.js", JS),
    ("js/eq.js", JS),
    ("js/fader.js", JS),
    ("js/main.js", JS),
    ("js/meter.js", JS),
    ("js/model.js", JS),
    ("js/panels.js", JS),
    ("js/scenes.js", JS),
    ("js/spectrum.js", JS),
    ("js/status.js", JS),
    ("js/taper.js", JS),
];

/// Only this server's own scripts, styles and sockets: an injected script or a
/// tampered proxy cannot pull code from elsewhere.
const CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

fn serve(path: &str) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return error_response(&ApiError::new(
            ErrorCode::NotFound,
            format!("the console has no file {path:?}"),
        ));
    };
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    // Revalidated every time: a new binary's page must never run an old script.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

/// `GET /`: the page.
pub(crate) async fn page() -> Response {
    serve("index.html")
}

/// `GET /ui/<file>`.
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    serve(&file)
}

/// Whether a request is for the console's files, which need no token.
pub(crate) fn is_public(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD) && (path == "/" || path.starts_with("/ui/"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::ASSETS;

    fn files(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).expect("the console's folder") {
            let entry = entry.unwrap();
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type().unwrap().is_dir() {
                files(&entry.path(), &format!("{name}/"), out);
            } else {
                out.insert(name);
            }
        }
    }

    #[test]
    fn every_file_of_the_console_is_embedded_and_nothing_else() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/ui");
        let mut on_disk = BTreeSet::new();
        files(&dir, "", &mut on_disk);
        let embedded: BTreeSet<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn the_page_is_small() {
        let total: usize = ASSETS.iter().map(|a| a.body.len()).sum();
        assert!(total <= 300 * 1024, "the console is {total} bytes");
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for asset in ASSETS {
            // The SVG namespace is a name, not a place anything is loaded from.
            let body = asset.body.replace("\"http://www.w3.org/2000/svg\"", "");
            for needle in ["http://", "https://", "//cdn", "@import"] {
                assert!(!body.contains(needle), "{} names {needle}", asset.path);
            }
        }
    }
}

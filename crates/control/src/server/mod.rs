//! The HTTP and WebSocket server: a thin adapter from routes and messages onto the
//! control thread's [`Handle`]. It runs on a thread of its own (`troubadour-api`) with a
//! single-threaded tokio runtime, so a storm of clients costs that thread and nothing
//! else: the control thread only ever sees calls on its bounded queue, and the audio
//! thread never sees the server at all.
//!
//! See `docs/API.md` for the routes, the messages and the security rules.

mod guard;
mod http;
mod meters;
mod openapi;
mod spectrum;
mod token;
mod web;
mod ws;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodFilter, MethodRouter, on};
use tokio::sync::watch;

use crate::api::{ApiError, ErrorCode};
use crate::service::Handle;

pub use token::{load_or_create_token, token_dir};

/// The largest request body, and the largest WebSocket message.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long a write to a WebSocket client may take before that client is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a request may wait for the control thread before it is answered
/// `unavailable`: a stuck control thread must not pin connections forever.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How long [`Server::stop`] lets open connections finish before cutting them.
const STOP_GRACE: Duration = Duration::from_millis(700);

/// Where and how to listen.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The address to bind.
    pub listen: SocketAddr,
    /// When set, every request must carry it (`Authorization: Bearer …` or `?token=`).
    /// The caller sets it whenever `listen` is not a loopback address.
    pub token: Option<String>,
    /// WebSocket clients at most (the HTTP routes are not counted).
    pub max_clients: usize,
    /// Host names accepted in the `Host` header besides loopback names, IP literals
    /// and this machine's own name.
    pub extra_hosts: Vec<String>,
}

impl ServerConfig {
    /// Loopback on `listen`, no token, 64 WebSocket clients.
    pub fn new(listen: SocketAddr) -> Self {
        ServerConfig {
            listen,
            token: None,
            max_clients: 64,
            extra_hosts: Vec::new(),
        }
    }
}

/// A running server. Dropping it without [`stop`](Server::stop) leaves the thread
/// serving until the process ends.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Server {
    /// The address actually bound (the port chosen when `listen` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// WebSocket clients connected now.
    pub fn clients(&self) -> usize {
        self.shared
            .clients
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Closes the listener, ends every WebSocket connection (close code 1001) and
    /// joins the server's thread, within about a second.
    pub fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!("the API server's thread panicked");
        }
        tracing::info!("API server on {} stopped", self.local_addr);
    }
}

/// What every request and connection shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) handle: Handle,
    pub(crate) token: Option<String>,
    pub(crate) max_clients: usize,
    /// Host names accepted besides IP literals, lower case.
    pub(crate) hosts: Vec<String>,
    /// Live WebSocket connections.
    pub(crate) clients: AtomicUsize,
    /// WebSocket connections ever made: the `n` of origin `ws-<n>`.
    pub(crate) connections: AtomicU64,
    /// Turns true once when the server stops.
    pub(crate) shutdown: watch::Receiver<bool>,
    /// WebSocket meter frames, one feed per rate.
    pub(crate) meter_hub: meters::MeterHub,
    pub(crate) spectrum_hub: spectrum::SpectrumHub,
}

/// Binds `config.listen` and starts serving on a thread named `troubadour-api`.
///
/// Fails when the address cannot be bound (taken, or not this machine's); the error
/// names the address.
pub fn start(config: ServerConfig, handle: Handle) -> std::io::Result<Server> {
    if config.token.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the server's token is empty",
        ));
    }
    let listener = std::net::TcpListener::bind(config.listen).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            " (another program, or another troubadour, is listening there; choose another port)"
        } else {
            ""
        };
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {}: {e}{hint}", config.listen),
        )
    })?;
    listener.set_nonblocking(true)?;
    let local_addr = listener.local_addr()?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        handle,
        token: config.token,
        max_clients: config.max_clients,
        hosts: guard::accepted_hosts(&config.extra_hosts),
        clients: AtomicUsize::new(0),
        connections: AtomicU64::new(0),
        shutdown: shutdown_rx.clone(),
        meter_hub: meters::MeterHub::default(),
        spectrum_hub: spectrum::SpectrumHub::default(),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let app = router(Arc::clone(&shared));
    let thread = std::thread::Builder::new()
        .name("troubadour-api".into())
        .spawn(move || serve(runtime, listener, app, shutdown_rx))?;
    tracing::info!("API server listening on http://{local_addr}");
    Ok(Server {
        local_addr,
        shutdown: shutdown_tx,
        thread: Some(thread),
        shared,
    })
}

fn serve(
    runtime: tokio::runtime::Runtime,
    listener: std::net::TcpListener,
    app: Router,
    shutdown: watch::Receiver<bool>,
) {
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("the API server cannot use its socket: {e}");
                return;
            }
        };
        let stopping = stopped(shutdown.clone());
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let serving = axum::serve(listener, app)
            .with_graceful_shutdown(stopping)
            .into_future();
        // Graceful shutdown waits for every HTTP connection; one that sends nothing
        // would hold the stop forever, so after a grace period the runtime is dropped
        // with whatever is left.
        let deadline = async {
            stopped(shutdown).await;
            tokio::time::sleep(STOP_GRACE).await;
        };
        tokio::select! {
            result = serving => {
                if let Err(e) = result {
                    tracing::warn!("the API server stopped: {e}");
                }
            }
            () = deadline => tracing::debug!("connections still open at stop: cut"),
        }
    });
    runtime.shutdown_timeout(Duration::from_millis(200));
}

/// A request to the control thread, given up after [`REQUEST_TIMEOUT`].
pub(crate) async fn ask(
    handle: &Handle,
    request: crate::api::Request,
    origin: &str,
) -> Result<crate::api::Reply, ApiError> {
    tokio::time::timeout(REQUEST_TIMEOUT, handle.request(request, origin))
        .await
        .unwrap_or_else(|_| Err(no_answer()))
}

/// The metrics text, given up after [`REQUEST_TIMEOUT`].
pub(crate) async fn metrics(handle: &Handle) -> Result<String, ApiError> {
    tokio::time::timeout(REQUEST_TIMEOUT, handle.metrics())
        .await
        .unwrap_or_else(|_| Err(no_answer()))
}

fn no_answer() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        format!(
            "the control thread did not answer within {} s",
            REQUEST_TIMEOUT.as_secs()
        ),
    )
}

/// Resolves when the server is told to stop.
pub(crate) async fn stopped(mut shutdown: watch::Receiver<bool>) {
    // An error means the `Server` was dropped without a stop: serve on until exit.
    if shutdown.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// What a route does; [`ROUTES`] pairs each with its method and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    State,
    GetParam,
    SetParam,
    Schema,
    Status,
    SceneList,
    SceneSave,
    SceneRecall,
    SceneDelete,
    MacroRun,
    Undo,
    Redo,
    Request,
    WebSocket,
    Metrics,
    Healthz,
    OpenApi,
    Page,
    Asset,
}

/// Every route the server serves (method, axum path, endpoint). One list, read both by
/// the router and by the test that holds `openapi.json` to it.
pub(crate) const ROUTES: &[(&str, &str, Endpoint)] = &[
    ("get", "/api/v1/state", Endpoint::State),
    ("get", "/api/v1/params/{*path}", Endpoint::GetParam),
    ("put", "/api/v1/params/{*path}", Endpoint::SetParam),
    ("get", "/api/v1/schema", Endpoint::Schema),
    ("get", "/api/v1/status", Endpoint::Status),
    ("get", "/api/v1/scenes", Endpoint::SceneList),
    ("put", "/api/v1/scenes/{name}", Endpoint::SceneSave),
    (
        "post",
        "/api/v1/scenes/{name}/recall",
        Endpoint::SceneRecall,
    ),
    ("delete", "/api/v1/scenes/{name}", Endpoint::SceneDelete),
    ("post", "/api/v1/macros/{name}", Endpoint::MacroRun),
    ("post", "/api/v1/undo", Endpoint::Undo),
    ("post", "/api/v1/redo", Endpoint::Redo),
    ("post", "/api/v1/request", Endpoint::Request),
    ("get", "/api/v1/ws", Endpoint::WebSocket),
    ("get", "/metrics", Endpoint::Metrics),
    ("get", "/healthz", Endpoint::Healthz),
    ("get", "/api/v1/openapi.json", Endpoint::OpenApi),
    ("get", "/", Endpoint::Page),
    ("get", "/ui/{*file}", Endpoint::Asset),
];

/// The route for one `ROUTES` entry: the method comes from the list, so what is served
/// and what the test compares with the document cannot drift apart.
fn method_router(method: &str, endpoint: Endpoint) -> MethodRouter<Arc<Shared>> {
    let filter = match method {
        "get" => MethodFilter::GET,
        "put" => MethodFilter::PUT,
        "post" => MethodFilter::POST,
        "delete" => MethodFilter::DELETE,
        other => unreachable!("ROUTES names method {other:?}"),
    };
    match endpoint {
        Endpoint::State => on(filter, http::state),
        Endpoint::GetParam => on(filter, http::get_param),
        Endpoint::SetParam => on(filter, http::set_param),
        Endpoint::Schema => on(filter, http::schema),
        Endpoint::Status => on(filter, http::status),
        Endpoint::SceneList => on(filter, http::scene_list),
        Endpoint::SceneSave => on(filter, http::scene_save),
        Endpoint::SceneRecall => on(filter, http::scene_recall),
        Endpoint::SceneDelete => on(filter, http::scene_delete),
        Endpoint::MacroRun => on(filter, http::macro_run),
        Endpoint::Undo => on(filter, http::undo),
        Endpoint::Redo => on(filter, http::redo),
        Endpoint::Request => on(filter, http::request),
        Endpoint::WebSocket => on(filter, ws::upgrade),
        Endpoint::Metrics => on(filter, http::metrics),
        Endpoint::Healthz => on(filter, http::healthz),
        Endpoint::OpenApi => on(filter, openapi::document),
        Endpoint::Page => on(filter, web::page),
        Endpoint::Asset => on(filter, web::asset),
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut router = Router::new();
    for &(method, path, endpoint) in ROUTES {
        router = router.route(path, method_router(method, endpoint));
    }
    router
        .fallback(http::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            guard::check,
        ))
        .with_state(shared)
}

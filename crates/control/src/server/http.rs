//! The HTTP routes: each builds one [`Request`], asks the handle, and answers the
//! reply as JSON (or the refusal as `{"error":{"code","message"}}` with the code's
//! status).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Shared;
use crate::api::{self, ApiError, ErrorCode, Reply, Request};

/// The origin change events name for every HTTP client.
const ORIGIN: &str = "http";

/// A refusal as the API answers it.
pub(crate) fn error_response(error: &ApiError) -> Response {
    let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({"error": {"code": error.code, "message": error.message}});
    (status, axum::Json(body)).into_response()
}

/// A reply (or a refusal) from the handle, answered.
fn answer(result: Result<Reply, ApiError>) -> Response {
    match result {
        Ok(reply) => axum::Json(reply).into_response(),
        Err(e) => refused(&e),
    }
}

fn refused(e: &ApiError) -> Response {
    tracing::debug!("HTTP request refused: {e}");
    error_response(e)
}

async fn ask(shared: &Shared, request: Request) -> Result<Reply, ApiError> {
    super::ask(&shared.handle, request, ORIGIN).await
}

/// A JSON body decoded into `T`: over 64 kB is `too_large`, not JSON is
/// `malformed_json`, the wrong shape is `bad_request`.
pub(crate) struct JsonBody<T>(pub T);

/// Like [`JsonBody`], but an empty body is `None`.
pub(crate) struct OptionalJsonBody<T>(pub Option<T>);

async fn body_bytes<S: Send + Sync>(
    req: axum::extract::Request,
    state: &S,
) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::TooLarge,
                format!("the body is over {} bytes", super::MAX_BODY_BYTES),
            )
        } else {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("the body could not be read: {rejection}"),
            )
        }
    })
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!("the body is not JSON: {e}"),
        )
    })?;
    serde_json::from_value(value)
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("the body: {e}")))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Response> {
        let bytes = body_bytes(req, state).await.map_err(|e| refused(&e))?;
        decode(&bytes).map(JsonBody).map_err(|e| refused(&e))
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Response> {
        let bytes = body_bytes(req, state).await.map_err(|e| refused(&e))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(None));
        }
        decode(&bytes)
            .map(|t| OptionalJsonBody(Some(t)))
            .map_err(|e| refused(&e))
    }
}

/// `{"seq":N, ...the session...}`: the sequence number sits beside the session's own
/// fields so a client can fetch the state and then skip events it already includes.
pub(crate) async fn state(State(shared): State<Arc<Shared>>) -> Response {
    match ask(&shared, Request::State).await {
        Ok(Reply::State { state, seq }) => {
            let body = match state {
                Value::Object(mut fields) => {
                    fields.insert("seq".into(), json!(seq));
                    Value::Object(fields)
                }
                other => json!({"seq": seq, "state": other}),
            };
            axum::Json(body).into_response()
        }
        other => answer(other),
    }
}

pub(crate) async fn get_param(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
) -> Response {
    answer(ask(&shared, Request::Get { path }).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetBody {
    value: Value,
}

pub(crate) async fn set_param(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
    JsonBody(body): JsonBody<SetBody>,
) -> Response {
    let request = Request::Set {
        path,
        value: body.value,
    };
    answer(ask(&shared, request).await)
}

pub(crate) async fn schema(State(shared): State<Arc<Shared>>) -> Response {
    answer(ask(&shared, Request::Schema).await)
}

pub(crate) async fn status(State(shared): State<Arc<Shared>>) -> Response {
    answer(ask(&shared, Request::Status).await)
}

pub(crate) async fn scene_list(State(shared): State<Arc<Shared>>) -> Response {
    answer(ask(&shared, Request::SceneList).await)
}

pub(crate) async fn scene_save(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
) -> Response {
    answer(ask(&shared, Request::SceneSave { name }).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecallBody {
    #[serde(default)]
    fade_ms: f64,
}

pub(crate) async fn scene_recall(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<RecallBody>,
) -> Response {
    let fade_ms = body.map_or(0.0, |b| b.fade_ms);
    answer(ask(&shared, Request::SceneRecall { name, fade_ms }).await)
}

pub(crate) async fn scene_delete(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
) -> Response {
    answer(ask(&shared, Request::SceneDelete { name }).await)
}

pub(crate) async fn macro_run(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
) -> Response {
    answer(ask(&shared, Request::MacroRun { name }).await)
}

pub(crate) async fn undo(State(shared): State<Arc<Shared>>) -> Response {
    answer(ask(&shared, Request::Undo).await)
}

pub(crate) async fn redo(State(shared): State<Arc<Shared>>) -> Response {
    answer(ask(&shared, Request::Redo).await)
}

/// Any request object, for what has no route of its own (structural edits).
pub(crate) async fn request(
    State(shared): State<Arc<Shared>>,
    JsonBody(body): JsonBody<Value>,
) -> Response {
    match api::decode_request(body) {
        Ok(
            Request::Subscribe { .. }
            | Request::Unsubscribe { .. }
            | Request::SpectrumSubscribe { .. }
            | Request::SpectrumUnsubscribe { .. },
        ) => refused(&ApiError::new(
            ErrorCode::Unsupported,
            "subscriptions are served over the WebSocket, /api/v1/ws",
        )),
        Ok(request) => answer(ask(&shared, request).await),
        Err(e) => refused(&e),
    }
}

pub(crate) async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    match super::metrics(&shared.handle).await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(e) => refused(&e),
    }
}

/// Answered by the server thread alone: it says the server is up, and stays cheap for
/// probes that poll it, whatever the control thread is doing (its state is in
/// `/api/v1/status`).
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

pub(crate) async fn not_found(uri: Uri) -> Response {
    refused(&ApiError::new(
        ErrorCode::NotFound,
        format!(
            "no route {}; the routes are in /api/v1/openapi.json",
            uri.path()
        ),
    ))
}

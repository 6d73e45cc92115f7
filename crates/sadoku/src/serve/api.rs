//! The HTTP API (docs/SERVE.md, `openapi.json`): axum handlers over the [`Service`].

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::service::{Admitted, Item, Refusal, Service, State as ReviewState};

/// The largest request body.
pub const MAX_BODY: usize = 16 << 20;
/// How much of a request larger than [`MAX_BODY`] is still read (and dropped) before the 413 is
/// sent: a client that writes its whole body before it reads the answer (most do) then gets the
/// 413, not a connection closed under it ("broken pipe"). Beyond this the connection is closed.
const DRAIN_MAX: usize = 4 * MAX_BODY;
/// The most candidates in one request.
pub const MAX_CANDIDATES: usize = 1024;
/// The longest a status request waits.
const MAX_WAIT_S: f64 = 600.0;

/// The OpenAPI description of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

#[derive(Clone)]
struct App {
    service: Arc<Service>,
    /// SHA-256 of the token every `/v1/` request must carry, if any.
    token: Option<[u8; 32]>,
}

/// Every route; `token`: what `/v1/` requests must carry as `Authorization: Bearer`.
pub fn router(service: Arc<Service>, token: Option<&str>) -> Router {
    let app = App { service, token: token.map(digest) };
    let v1 = Router::new()
        .route("/v1/reviews", post(submit))
        .route("/v1/reviews/{id}", get(status))
        .route("/v1/reviews/{id}/report", get(report))
        .route("/v1/problems", get(problems))
        .route_layer(middleware::from_fn_with_state(app.clone(), authorize));
    Router::new()
        .merge(v1)
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route: see GET /openapi.json") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

enum Unread {
    TooLarge,
    Failed(axum::Error),
}

/// A request's body, at most [`MAX_BODY`] bytes; a larger one is read on to [`DRAIN_MAX`] and
/// dropped, so that its 413 reaches a client still writing it.
async fn read_body(body: Body) -> Result<Bytes, Unread> {
    use futures_util::StreamExt as _;
    let mut chunks = body.into_data_stream();
    let (mut kept, mut total) = (Vec::new(), 0usize);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(Unread::Failed)?;
        total += chunk.len();
        if total <= MAX_BODY {
            kept.extend_from_slice(&chunk);
        } else if total > DRAIN_MAX {
            break;
        }
    }
    if total > MAX_BODY {
        return Err(Unread::TooLarge);
    }
    Ok(Bytes::from(kept))
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// `{"error": message}` with `status`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

async fn authorize(State(app): State<App>, request: Request, next: Next) -> Response {
    if let Some(expected) = app.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(digest);
        // Digests compared, never the tokens: the comparison's time says nothing of the token.
        if given != Some(expected) {
            app.service.metrics.refused("unauthorized");
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "no or wrong token: send `Authorization: Bearer TOKEN` with the server's token",
            );
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
    }
    next.run(request).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Submission {
    candidates: Vec<Item>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SubmitQuery {
    #[serde(default)]
    stream: bool,
}

async fn submit(State(app): State<App>, query: Result<Query<SubmitQuery>, QueryRejection>, body: Body) -> Response {
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(Unread::TooLarge) => {
            app.service.metrics.refused("too_large");
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request is larger than {} MiB: send fewer candidates at once", MAX_BODY >> 20),
            );
        }
        Err(Unread::Failed(e)) => return error(StatusCode::BAD_REQUEST, format!("cannot read the request: {e}")),
    };
    let Ok(Query(query)) = query else {
        return error(StatusCode::BAD_REQUEST, "unknown query: the only one is `stream=true`");
    };
    let submission: Submission = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("not a submission ({e}): send {{\"candidates\": [{{\"source\": ..., \"problem\": ...}}]}}"),
            );
        }
    };
    if submission.candidates.len() > MAX_CANDIDATES {
        app.service.metrics.refused("too_large");
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{} candidates: send at most {MAX_CANDIDATES} a request", submission.candidates.len()),
        );
    }
    let service = Arc::clone(&app.service);
    let taken = tokio::task::spawn_blocking(move || service.submit(submission.candidates)).await;
    let admitted = match taken {
        Ok(Ok(a)) => a,
        Ok(Err(refusal)) => return refused(&refusal),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("the submission failed: {e}")),
    };
    if query.stream {
        return stream(app.service, admitted);
    }
    (StatusCode::ACCEPTED, axum::Json(json!({ "reviews": admitted }))).into_response()
}

fn refused(refusal: &Refusal) -> Response {
    let status = match refusal {
        Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
        Refusal::Full { .. } => StatusCode::TOO_MANY_REQUESTS,
        Refusal::Stopped(_) => StatusCode::SERVICE_UNAVAILABLE,
        Refusal::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut r = error(status, refusal.to_string());
    if let Refusal::Full { retry_after_s, .. } = refusal {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
    }
    r
}

/// One NDJSON line per candidate as its review ends, in the order they end; then the end.
fn stream(service: Arc<Service>, admitted: Vec<Admitted>) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        let mut changes = service.changes();
        let mut pending = admitted;
        loop {
            let mut ended = Vec::new();
            pending.retain(|a| match service.view(&a.id) {
                Some(v) if v.state != ReviewState::Queued => {
                    ended.push(
                        json!({ "index": a.index, "id": v.id, "state": v.state, "record": v.record, "error": v.error }),
                    );
                    false
                }
                Some(_) => true,
                None => {
                    ended.push(json!({ "index": a.index, "id": a.id, "state": "not_reviewed", "record": null,
                        "error": "the server lost this review" }));
                    false
                }
            });
            for line in ended {
                let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
                bytes.push(b'\n');
                if tx.send(Bytes::from(bytes)).await.is_err() {
                    return; // the client went away; the reviews go on
                }
            }
            if pending.is_empty() || changes.changed().await.is_err() {
                return;
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, std::convert::Infallible>(b), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(body))
        .unwrap_or_else(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StatusQuery {
    wait: Option<f64>,
}

async fn status(
    State(app): State<App>,
    Path(id): Path<String>,
    query: Result<Query<StatusQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return error(StatusCode::BAD_REQUEST, "unknown query: the only one is `wait=SECONDS`");
    };
    let wait = query.wait.unwrap_or(0.0);
    if !(0.0..=MAX_WAIT_S).contains(&wait) {
        return error(StatusCode::BAD_REQUEST, format!("wait={wait}: give seconds between 0 and {MAX_WAIT_S}"));
    }
    match app.service.wait(&id, Duration::from_secs_f64(wait)).await {
        Some(view) => axum::Json(view).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no review {id} on this server: submit it first")),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    format: Option<String>,
}

async fn report(
    State(app): State<App>,
    Path(id): Path<String>,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return error(StatusCode::BAD_REQUEST, "unknown query: the only one is `format=json|html`");
    };
    let Some(view) = app.service.view(&id) else {
        return error(StatusCode::NOT_FOUND, format!("no review {id} on this server: submit it first"));
    };
    let Some(record) = view.record.filter(|_| view.state == ReviewState::Done) else {
        let state = serde_json::to_value(view.state).unwrap_or_default();
        let state = state.as_str().unwrap_or("not done");
        return error(
            StatusCode::CONFLICT,
            format!("review {id} is {state}, not done: wait for it (GET /v1/reviews/{id}?wait=60)"),
        );
    };
    let document = app.service.report(&record);
    match query.format.as_deref() {
        None | Some("json") => axum::Json(document).into_response(),
        Some("html") => match crate::records::from_report(&format!("review {}", &id[..12.min(id.len())]), document) {
            Ok(run) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], crate::output::html::render(&[run]))
                .into_response(),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
        },
        Some(other) => error(StatusCode::BAD_REQUEST, format!("format={other}: give `json` or `html`")),
    }
}

async fn problems(State(app): State<App>) -> Response {
    axum::Json(app.service.problems()).into_response()
}

async fn health(State(app): State<App>) -> Response {
    let s = &app.service;
    let (waiting, capacity) = s.queue();
    let stopped = s.stopped();
    let body = json!({
        "status": if stopped.is_some() { "stopped" } else { "ok" },
        "why": stopped,
        "sadoku": crate::VERSION,
        "gpus": s.environment.iter().map(|e| json!({ "ordinal": e.ordinal, "name": e.name })).collect::<Vec<_>>(),
        "lanes": s.lanes,
        "queue": { "waiting": waiting, "capacity": capacity },
        "selftest": s.selftest,
    });
    let status = if stopped.is_some() { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(app): State<App>) -> Response {
    let (waiting, capacity) = app.service.queue();
    let text = app.service.metrics.render(waiting, capacity, app.service.selftest.passed);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

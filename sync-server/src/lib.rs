//! `ibasho-sync-server`: authenticates devices, runs the shared sync gate on their frames, stores
//! documents, pushes new changes to the other devices that may read them, and exposes health and
//! metrics. The sync logic itself lives in `ibasho_shared::sync`; this crate is the IO around it.

#![warn(missing_debug_implementations, unreachable_pub)]

pub mod admin;
mod connection;
pub mod durable;
pub mod erase;
pub mod hub;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod store;
pub mod tls;

use axum::Extension;
use axum::Router;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hub::Hub;
use limits::Limits;
use std::sync::Arc;
use tokio::sync::watch;

/// What every request handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Documents, devices and connections.
    pub hub: Arc<Hub>,
    /// Per-connection bounds.
    pub limits: Limits,
    /// Becomes `true` when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
}

/// The HTTP routes: `/sync` and `/join` (websockets), `/healthz`, `/metrics`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/sync", get(sync_upgrade))
        .route("/join", get(join_upgrade))
        .route("/wiped", get(wiped))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// `ok`, or 503 naming what is damaged in the store (found at start or when a document is read).
async fn healthz(State(state): State<AppState>) -> Response {
    match state.hub.health() {
        None => "ok\n".into_response(),
        Some(faults) => (StatusCode::SERVICE_UNAVAILABLE, faults).into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.hub.metrics.render(),
    )
}

/// The device a request's bearer token names, known, not revoked, and holding fewer connections
/// than it may: the `/sync` upgrade's extractor. An unknown or revoked device never gets a socket.
#[derive(Debug)]
pub struct AuthedDevice(pub store::Device);

/// Why a request names no device that may connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRejection {
    /// No `Authorization: Bearer …` header.
    MissingToken,
    /// A token no device has.
    UnknownToken,
    /// The device was revoked.
    Revoked,
    /// The device holds as many connections as it may.
    TooManyConnections,
    /// The store could not be read.
    Internal,
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let (status, words) = match self {
            AuthRejection::MissingToken => (
                StatusCode::UNAUTHORIZED,
                "missing device token (Authorization: Bearer …)\n",
            ),
            AuthRejection::UnknownToken => (StatusCode::UNAUTHORIZED, "unknown device token\n"),
            AuthRejection::Revoked => (StatusCode::FORBIDDEN, "this device was revoked\n"),
            AuthRejection::TooManyConnections => (
                StatusCode::TOO_MANY_REQUESTS,
                "this device holds as many connections as it may; close one first\n",
            ),
            AuthRejection::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
        };
        (status, words).into_response()
    }
}

impl axum::extract::FromRequestParts<AppState> for AuthedDevice {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(AuthRejection::MissingToken)?;
        let device = state
            .hub
            .with_store(|conn| store::device_by_token(conn, token))
            .map_err(|e| {
                tracing::error!(error = %e, "looking up a device failed");
                AuthRejection::Internal
            })?
            .ok_or(AuthRejection::UnknownToken)?;
        if let Err(e) = state
            .hub
            .with_store(|conn| store::touch_device(conn, &device.id))
        {
            tracing::warn!(error = %e, "recording a device's contact failed");
        }
        if device.revoked_at.is_some() {
            return Err(AuthRejection::Revoked);
        }
        if state.hub.connections_of(&device.id) >= state.limits.max_connections_per_device {
            return Err(AuthRejection::TooManyConnections);
        }
        Ok(AuthedDevice(device))
    }
}

/// The device is authenticated by [`AuthedDevice`] before the upgrade.
async fn sync_upgrade(
    State(state): State<AppState>,
    slot: Option<Extension<listener::AuthSlot>>,
    AuthedDevice(device): AuthedDevice,
    ws: WebSocketUpgrade,
) -> Response {
    if let Some(Extension(slot)) = slot {
        slot.authenticated();
    }
    let max = state.limits.max_frame_bytes.saturating_mul(2);
    // Small buffers: an idle connection should cost little; frames grow them as needed.
    // The read buffer is zeroed up to this size before every read (tungstenite), and
    // devices' frames are mostly a few hundred bytes: 16 KiB made that zeroing 5 % of
    // the server's time under load.
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(16 * 1024)
        .on_upgrade(move |socket| connection::run(socket, state, device))
}

/// A revoked device says it deleted the workspace's data (after being refused as revoked):
/// recorded for `devices`. Only a revoked device's own token is taken; the answer is a websocket
/// closed at once.
async fn wiped(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = token else {
        return AuthRejection::MissingToken.into_response();
    };
    let found: rusqlite::Result<Option<store::Device>> = state.hub.with_store(|conn| {
        let device = store::device_by_token(conn, token)?;
        if let Some(d) = device.as_ref().filter(|d| d.revoked_at.is_some()) {
            store::mark_wiped(conn, &d.id)?;
        }
        Ok(device)
    });
    match found {
        // A websocket the device opens and the server closes at once: the device needs no other
        // client than its sync client to say so.
        Ok(Some(d)) if d.revoked_at.is_some() => {
            ws.on_upgrade(|socket| async move { drop(socket) })
        }
        Ok(Some(_)) => (StatusCode::CONFLICT, "this device is not revoked\n").into_response(),
        Ok(None) => AuthRejection::UnknownToken.into_response(),
        Err(_) => AuthRejection::Internal.into_response(),
    }
}

/// A join is short (the invite must come within ten seconds of the upgrade): it leaves the
/// unauthenticated bounds once upgraded.
async fn join_upgrade(
    State(state): State<AppState>,
    slot: Option<Extension<listener::AuthSlot>>,
    ws: WebSocketUpgrade,
) -> Response {
    if let Some(Extension(slot)) = slot {
        slot.authenticated();
    }
    ws.max_message_size(64 * 1024)
        .on_upgrade(move |socket| connection::join(socket, state))
}

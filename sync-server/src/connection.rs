//! One websocket connection: the frame loop of a device, and the invite exchange.

use crate::AppState;
use crate::hub::{Handled, Hub, PeerEvent, Session};
use crate::limits::RateLimiter;
use crate::store::{self, Device};
use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use ibasho_shared::doc::DocId;
use ibasho_shared::sync::{DocMessage, Due, ErrorCode, Frame, Liveness, PROTOCOL_VERSION};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

type Sink = futures_util::stream::SplitSink<WebSocket, Message>;

/// The sending half of a device's websocket. A frame may take [`Limits::send_deadline`] of what
/// may still wait in the socket's buffers, this frame included, at the slowest link allowed: a
/// slow link is not cut off, and a device that stops reading is disconnected.
///
/// [`Limits::send_deadline`]: crate::limits::Limits::send_deadline
struct Outbox {
    sink: Sink,
    /// Bytes handed to the socket that a link at the slowest rate allowed may not have carried
    /// yet, as of `at`.
    backlog: f64,
    at: Instant,
    /// False once a send failed or took too long; later sends do nothing.
    open: bool,
    /// When a frame was last taken by the socket (a device slow to take a large one is not
    /// silent meanwhile).
    last_sent: Instant,
}

impl Outbox {
    fn new(sink: Sink) -> Self {
        Outbox {
            sink,
            backlog: 0.0,
            at: Instant::now(),
            open: true,
            last_sent: Instant::now(),
        }
    }

    /// Sends a frame; whether the connection is still open.
    async fn send(&mut self, state: &AppState, frame: &Frame) -> bool {
        if !self.open {
            return false;
        }
        let bytes = frame.encode();
        state.hub.metrics.frames_out.fetch_add(1, Ordering::Relaxed);
        state
            .hub
            .metrics
            .bytes_out
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let len = bytes.len();
        self.open = self.put(state, Message::Binary(bytes.into()), len).await;
        if self.open {
            self.last_sent = Instant::now();
        }
        self.open
    }

    /// Hands `message` (`bytes` long) to the socket within its deadline; whether it went.
    async fn put(&mut self, state: &AppState, message: Message, bytes: usize) -> bool {
        let timeout = self.deadline(state, bytes);
        match tokio::time::timeout(timeout, self.sink.send(message)).await {
            Ok(sent) => sent.is_ok(),
            Err(_) => {
                tracing::info!(?timeout, "the device stopped reading; disconnected");
                false
            }
        }
    }

    /// Adds `bytes` to the backlog, less what the slowest link allowed carried since the last
    /// frame; how long they may take to be sent.
    fn deadline(&mut self, state: &AppState, bytes: usize) -> Duration {
        let now = Instant::now();
        let carried = now.duration_since(self.at).as_secs_f64() * state.limits.min_send_rate;
        self.backlog = (self.backlog - carried).max(0.0) + bytes as f64;
        self.at = now;
        state.limits.send_deadline(self.backlog as usize)
    }

    /// Sends the close frame, unless the connection is already gone.
    async fn close(&mut self, state: &AppState) {
        if self.open {
            self.open = false;
            self.put(state, Message::Close(None), 0).await;
        }
    }

    /// Asks the device to show it is still there.
    async fn ping(&mut self, state: &AppState) {
        if self.open {
            self.open = self.put(state, Message::Ping(Vec::new().into()), 0).await;
        }
    }

    /// Sends an error frame and closes.
    async fn refuse(&mut self, state: &AppState, code: ErrorCode, message: &str) {
        state.hub.metrics.rejects.fetch_add(1, Ordering::Relaxed);
        self.send(state, &Frame::error(code, None, message)).await;
        self.close(state).await;
    }
}

/// Sync states are saved every this many seconds while connected (and when the device leaves).
const SAVE_STATES_EVERY_TICKS: u64 = 10;

/// Serves an authenticated device until it leaves, is revoked, misbehaves or the server stops.
pub(crate) async fn run(socket: WebSocket, state: AppState, device: Device) {
    let hub = state.hub.clone();
    let (mut session, mut events) = hub.connect(device);
    let (sink, mut stream) = socket.split();
    let mut outbox = Outbox::new(sink);
    tracing::info!(device = %session.device.id, role = %session.device.role, "connected");
    let manifest = match hub.manifest(&session) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "building a manifest failed");
            outbox
                .refuse(
                    &state,
                    ErrorCode::Internal,
                    "the server could not list documents",
                )
                .await;
            hub.disconnect(&mut session);
            linger(&mut stream, &mut state.shutdown.clone()).await;
            return;
        }
    };
    let welcome = Frame::Welcome {
        version: PROTOCOL_VERSION,
        device: session.device.id.clone(),
        workspace: session.device.workspace.clone(),
        role: session.device.role.to_string(),
        team: session.device.team.clone(),
        manifest,
        erasures: hub.erasures(&session),
        visit_retention_months: hub.with_store(|conn| {
            store::visit_retention(conn, &session.device.workspace).unwrap_or(None)
        }),
    };
    outbox.send(&state, &welcome).await;
    let mut limiter = RateLimiter::new(&state.limits);
    let budget = hub.reply_budget(&session.device.id, &state.limits);
    let turn = hub.turn_of(&session.device.id);
    let mut revocation_check = tokio::time::interval(Duration::from_secs(1));
    let mut ticks: u64 = 0;
    let mut shutdown = state.shutdown.clone();
    let mut liveness = Liveness::new();
    // Whether the server ended the connection with an error frame.
    let refused = loop {
        if !outbox.open {
            break false;
        }
        // A device over its reply budget waits before its next frame is read (its socket's buffers
        // hold what it sends meanwhile); pushes and pings go on.
        let over_budget = budget.wait();
        tokio::select! {
            incoming = stream.next(), if over_budget.is_zero() => {
                if matches!(incoming, Some(Ok(_))) {
                    liveness.heard();
                }
                let bytes = match incoming {
                    Some(Ok(Message::Binary(bytes))) => bytes,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Text(_))) => {
                        outbox.refuse(&state, ErrorCode::BadFrame, "frames are binary").await;
                        break true;
                    }
                    Some(Ok(Message::Close(_))) | None => break false,
                    Some(Err(e)) => {
                        tracing::info!(device = %session.device.id, error = %e, "connection error");
                        outbox.refuse(&state, ErrorCode::TooLarge, &format!("unreadable websocket message: {e}")).await;
                        break true;
                    }
                };
                hub.metrics.frames_in.fetch_add(1, Ordering::Relaxed);
                hub.metrics.bytes_in.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                if bytes.len() > state.limits.max_frame_bytes {
                    let msg = format!("frame of {} bytes is over the limit of {}", bytes.len(), state.limits.max_frame_bytes);
                    outbox.refuse(&state, ErrorCode::TooLarge, &msg).await;
                    break true;
                }
                if !limiter.allow() {
                    outbox.refuse(&state, ErrorCode::RateLimited, "too many frames per second").await;
                    break true;
                }
                if hub.is_revoked(&mut session) {
                    outbox.refuse(&state, ErrorCode::Revoked, "this device was revoked").await;
                    break true;
                }
                let (docs, answer) = match Frame::decode(&bytes) {
                    Ok(Frame::Sync { docs }) => (docs, false),
                    Ok(Frame::Answer { docs }) => (docs, true),
                    Ok(Frame::Erase { record, field, reason }) => {
                        let reply = erase(&hub, &session, record, field, reason);
                        outbox.send(&state, &reply).await;
                        continue;
                    }
                    Ok(_) => {
                        outbox.refuse(&state, ErrorCode::BadFrame, "only Sync and Answer frames are expected on /sync").await;
                        break true;
                    }
                    Err(e) => {
                        outbox.refuse(&state, ErrorCode::BadFrame, &e.to_string()).await;
                        break true;
                    }
                };
                if docs.len() > state.limits.max_docs_per_frame {
                    let msg = format!("{} documents in one frame; at most {}", docs.len(), state.limits.max_docs_per_frame);
                    outbox.refuse(&state, ErrorCode::TooLarge, &msg).await;
                    break true;
                }
                let handled = {
                    let _turn = turn.lock().await;
                    handle_in_turns(&hub, &mut session, docs, state.limits.max_reply_bytes).await
                };
                let reply_bytes: usize = handled.replies.iter().map(|d| d.message.len()).sum();
                budget.spend(reply_bytes);
                // Accepted changes are acknowledged once they are on disk.
                if let Some(commit) = handled.commit {
                    hub.durability.wait(commit).await;
                }
                // Once a send fails or takes too long, the later ones do nothing.
                for error in &handled.errors {
                    outbox.send(&state, error).await;
                }
                if !answer {
                    outbox.send(&state, &Frame::SyncReply { docs: handled.replies }).await;
                } else if !handled.replies.is_empty() {
                    outbox.send(&state, &Frame::Sync { docs: handled.replies }).await;
                }
            }
            event = events.recv() => {
                let mut docs = match event {
                    Some(PeerEvent::Changed(docs)) => docs,
                    Some(PeerEvent::NewEpoch(doc)) => {
                        new_epoch(&mut outbox, &state, &doc).await;
                        break true;
                    }
                    None => break false,
                };
                // Let the frames already waiting be handled first, and gather what else they
                // change into the same push.
                tokio::task::yield_now().await;
                while let Ok(event) = events.try_recv() {
                    match event {
                        PeerEvent::Changed(more) => docs.extend(more),
                        PeerEvent::NewEpoch(doc) => {
                            new_epoch(&mut outbox, &state, &doc).await;
                            hub.disconnect(&mut session);
                            linger(&mut stream, &mut shutdown).await;
                            return;
                        }
                    }
                }
                docs.sort();
                docs.dedup();
                let messages = hub.push(&mut session, &docs);
                if !messages.is_empty() {
                    outbox.send(&state, &Frame::Sync { docs: messages }).await;
                }
            }
            () = tokio::time::sleep(over_budget), if !over_budget.is_zero() => {}
            _ = revocation_check.tick() => {
                // Taking a frame counts as being there: on a slow link a large one takes a while,
                // and the device's own frames wait meanwhile.
                liveness.took(outbox.last_sent);
                // While the device waits for its reply budget the server reads nothing from it,
                // its pongs included: that silence is the server's doing.
                if !over_budget.is_zero() {
                    liveness.heard();
                }
                match liveness.due(state.limits.silence) {
                    Due::Gone(silent) => {
                        tracing::info!(device = %session.device.id, ?silent, "the device went silent; disconnected");
                        break false;
                    }
                    Due::Ping => outbox.ping(&state).await,
                    Due::Nothing => {}
                }
                ticks += 1;
                if ticks.is_multiple_of(SAVE_STATES_EVERY_TICKS) {
                    hub.save_states(&mut session);
                }
                if hub.is_revoked(&mut session) {
                    outbox.refuse(&state, ErrorCode::Revoked, "this device was revoked").await;
                    break true;
                }
            }
            _ = shutdown.changed() => {
                outbox.close(&state).await;
                break false;
            }
        }
    };
    hub.disconnect(&mut session);
    if refused {
        linger(&mut stream, &mut shutdown).await;
    }
    tracing::info!(device = %session.device.id, "disconnected");
}

/// A coordinator's erasure, done by the hub; its answer (`Erased`, or why not).
fn erase(
    hub: &Hub,
    session: &Session,
    record: String,
    field: Option<String>,
    reason: String,
) -> Frame {
    if session.device.role != ibasho_shared::sync::Role::Coordinator {
        return Frame::error(
            ErrorCode::NotAllowed,
            None,
            "only coordinators erase records",
        );
    }
    let request = crate::erase::EraseRequest {
        record,
        field,
        reason,
        by: session.device.person.clone(),
    };
    match hub.erase(&session.device.workspace, &request) {
        Ok(erasure) => Frame::Erased { erasure },
        Err(e) => Frame::error(ErrorCode::Invalid, None, format!("{e:#}")),
    }
}

/// Tells the device that `doc` started a new epoch and ends the connection: the device connects
/// again, takes the new epoch and sends its own edits on it.
async fn new_epoch(outbox: &mut Outbox, state: &AppState, doc: &DocId) {
    let word = Frame::error(
        ErrorCode::NewEpoch,
        Some(&doc.to_string()),
        format!("{doc} started a new epoch (values were erased): connect again"),
    );
    outbox.send(state, &word).await;
    outbox.close(state).await;
}

/// How long a frame's documents are handled before other connections get their turn: one frame
/// may name hundreds, each answered with all of a document, and the serving thread is shared.
const TURN: Duration = Duration::from_millis(5);

/// Handles a frame's documents one after another, letting other connections be served whenever
/// [`TURN`] has passed, so that no device keeps the serving thread for longer than that and one
/// document's work. The workspace document goes first (a team added there may be needed by
/// visits in the same frame).
async fn handle_in_turns(
    hub: &Hub,
    session: &mut Session,
    mut docs: Vec<DocMessage>,
    max_reply_bytes: usize,
) -> Handled {
    docs.sort_by_key(|d| d.doc != "workspace");
    let mut all = Handled::default();
    let mut turn = Instant::now();
    let mut named = std::collections::HashSet::new();
    let mut reply_bytes = 0;
    for doc in docs {
        // One reply holds at most so much: the documents past it are asked for again.
        if reply_bytes > max_reply_bytes {
            hub.metrics.rejects.fetch_add(1, Ordering::Relaxed);
            all.errors.push(Frame::error(
                ErrorCode::TooLarge,
                Some(&doc.doc),
                format!(
                    "{}: this frame's reply is already over {max_reply_bytes} bytes; ask for this document in another frame",
                    doc.doc
                ),
            ));
            continue;
        }
        // Each document once: a frame naming one document many times would be answered as many
        // times, each answer as dear as the first.
        if !named.insert(doc.doc.clone()) {
            hub.metrics.rejects.fetch_add(1, Ordering::Relaxed);
            all.errors.push(Frame::error(
                ErrorCode::TooLarge,
                Some(&doc.doc),
                format!("{}: named more than once in one frame", doc.doc),
            ));
            continue;
        }
        if turn.elapsed() >= TURN {
            tokio::task::yield_now().await;
            turn = Instant::now();
        }
        let handled = hub.handle_sync(session, vec![doc]);
        reply_bytes += handled
            .replies
            .iter()
            .map(|d| d.message.len())
            .sum::<usize>();
        all.replies.extend(handled.replies);
        all.errors.extend(handled.errors);
        all.commit = all.commit.max(handled.commit);
    }
    all
}

/// How long a refused device has to take in the error frame and answer the close.
const LINGER: Duration = Duration::from_secs(1);

/// Reads and drops what the device still sends until it answers the close, [`LINGER`] passes or
/// the server stops. A socket closed with frames still unread is reset, and a reset can destroy
/// the error frame before the device reads it.
async fn linger(
    stream: &mut futures_util::stream::SplitStream<WebSocket>,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) {
    let drain = async {
        while let Some(Ok(message)) = stream.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    };
    tokio::select! {
        _ = tokio::time::timeout(LINGER, drain) => {}
        _ = shutdown.changed() => {}
    }
}

/// Exchanges an invite for a device token: one `Join` frame in, `Joined` or an error out.
pub(crate) async fn join(socket: WebSocket, state: AppState) {
    let (sink, mut stream) = socket.split();
    let mut outbox = Outbox::new(sink);
    let frame = match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
        Ok(Some(Ok(Message::Binary(bytes)))) => Frame::decode(&bytes),
        _ => return,
    };
    let reply = match frame {
        Ok(Frame::Join {
            version,
            invite,
            person,
            actor,
        }) if version == PROTOCOL_VERSION => {
            if let Err(e) = ibasho_shared::validate::required_text(
                "person",
                &person,
                ibasho_shared::validate::MAX_NAME_CHARS,
            ) {
                Frame::error(
                    ErrorCode::BadFrame,
                    None,
                    format!(
                        "a display name (1–{} characters) is required: {}",
                        ibasho_shared::validate::MAX_NAME_CHARS,
                        e.message(ibasho_shared::Lang::En)
                    ),
                )
            } else {
                let now = chrono::Utc::now().timestamp();
                let redeemed = state
                    .hub
                    .with_store(|conn| {
                        store::redeem_invite(conn, invite.trim(), person.trim(), &actor, now)
                    })
                    .map_err(|e| e.to_string());
                if redeemed.is_ok() {
                    // The device's token is on disk before the device is told it.
                    let commit = state.hub.durability.wrote();
                    state.hub.durability.wait(commit).await;
                }
                if let Ok(Ok((device, _))) = &redeemed {
                    let vouched = ibasho_shared::doc::Vouched {
                        person: device.person.clone(),
                        device: device.id.clone(),
                        role: device.role.to_string(),
                    };
                    let actor = automerge::ActorId::from(actor.as_slice());
                    match state.hub.vouch(&device.workspace, &actor, &vouched) {
                        Ok(commit) => state.hub.durability.wait(commit).await,
                        // The device is joined; its changes are named from their notes until the
                        // server can vouch for it.
                        Err(e) => {
                            tracing::warn!(error = %e, "recording who a joined device is failed")
                        }
                    }
                }
                match redeemed {
                    Ok(Ok((device, token))) => {
                        tracing::info!(device = %device.id, role = %device.role, "device joined");
                        Frame::Joined {
                            device: device.id,
                            token,
                            workspace: device.workspace,
                            role: device.role.to_string(),
                            team: device.team,
                        }
                    }
                    Ok(Err(e)) => {
                        state.hub.metrics.rejects.fetch_add(1, Ordering::Relaxed);
                        Frame::error(ErrorCode::BadInvite, None, e.to_string())
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "redeeming an invite failed");
                        Frame::error(
                            ErrorCode::Internal,
                            None,
                            "the server could not record the device",
                        )
                    }
                }
            }
        }
        Ok(Frame::Join { version, .. }) => Frame::error(
            ErrorCode::BadFrame,
            None,
            format!("protocol version {version} is not {PROTOCOL_VERSION}"),
        ),
        _ => Frame::error(ErrorCode::BadFrame, None, "expected a Join frame"),
    };
    outbox.send(&state, &reply).await;
    outbox.close(&state).await;
}

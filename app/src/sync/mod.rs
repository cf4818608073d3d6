//! The sync client: the websocket transport around the replica's sans-IO sync, one round at a time
//! (`ibasho sync`) or staying connected with reconnects (`ibasho sync --watch`).

pub mod error;
pub mod tls;
pub mod transport;

use anyhow::{Context, Result, anyhow, bail};
use error::{Lost, TransportError};
use ibasho_shared::sync::{DocMessage, ErrorCode, Frame, PROTOCOL_VERSION, Role};
use ibasho_shared::{DocId, JoinReport, Replica, ServerBinding};
use serde::Serialize;
use std::time::Duration;
use transport::Connection;

/// Documents per frame the client sends (the server's default bound is 512).
const DOCS_PER_FRAME: usize = 32;
/// How long to wait for the server before giving up on a round.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// What one sync round moved.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SyncReport {
    /// Documents this device sent messages for.
    pub docs_sent: usize,
    /// Documents that changed here.
    pub docs_changed: Vec<String>,
    /// Bytes sent and received in frames.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// What the server refused, in its words.
    pub refused: Vec<String>,
    /// What the server refused, by code and document (what the sync bar says in the person's
    /// language).
    #[serde(skip)]
    pub refusals: Vec<(ErrorCode, Option<String>)>,
    /// Edits to documents this device may only read: kept on the device, not merged.
    pub kept_local: Vec<String>,
    /// Records that changed here (ids), from the changes received; filled only when
    /// `track_records` is set (it costs a diff of every changed document).
    #[serde(skip)]
    pub records_changed: Vec<String>,
    /// Whether to fill `records_changed`.
    #[serde(skip)]
    pub track_records: bool,
}

/// Exchanges an invite at `url` for a device token and binds the replica to the workspace.
pub async fn join(
    replica: &mut Replica,
    url: &str,
    invite: &str,
    person: &str,
) -> Result<JoinReport> {
    join_trusting(replica, url, invite, person, None).await
}

/// [`join`], trusting the CA certificate (PEM) `ca_pem` for the server's certificate, now and in
/// every later sync (see [`tls`]).
pub async fn join_trusting(
    replica: &mut Replica,
    url: &str,
    invite: &str,
    person: &str,
    ca_pem: Option<&str>,
) -> Result<JoinReport> {
    if let Some(server) = replica.server()? {
        bail!(
            "this replica already syncs with {} (use another --home to join elsewhere)",
            server.url
        );
    }
    let mut conn = Connection::open_trusting(url, "/join", None, ca_pem).await?;
    conn.send(&Frame::Join {
        version: PROTOCOL_VERSION,
        invite: invite.trim().to_string(),
        person: person.to_string(),
        actor: hex::decode(replica.device_id())?,
    })
    .await?;
    match conn.recv(REPLY_TIMEOUT).await? {
        Frame::Joined {
            device,
            token,
            workspace,
            role,
            team,
        } => {
            let role: Role = role.parse().map_err(|e: String| anyhow!(e))?;
            let binding = ServerBinding {
                url: transport::base_url(url)?,
                device,
                token,
                workspace,
                role,
                team,
                ca_cert: ca_pem.map(String::from),
            };
            Ok(replica.bind_server(binding, person)?)
        }
        Frame::Error {
            code: ErrorCode::BadInvite,
            message,
            ..
        } => bail!("the invite was refused: {message}"),
        Frame::Error { message, .. } => bail!("the server refused to join: {message}"),
        other => bail!("unexpected answer from the server: {other:?}"),
    }
}

async fn connect(
    replica: &mut Replica,
) -> Result<(Connection, Vec<ibasho_shared::sync::ManifestEntry>)> {
    let server = replica.server()?.ok_or(NotJoined)?;
    let opened = Connection::open_trusting(
        &server.url,
        "/sync",
        Some(&server.token),
        server.ca_cert.as_deref(),
    )
    .await;
    let mut conn = match opened {
        Ok(conn) => conn,
        Err(e) => return Err(wipe_if_revoked(replica, e).await),
    };
    match conn.recv(REPLY_TIMEOUT).await? {
        Frame::Welcome {
            version,
            workspace,
            manifest,
            erasures,
            visit_retention_months,
            ..
        } => {
            if version != PROTOCOL_VERSION {
                return Err(TransportError::Protocol(format!(
                    "the server speaks protocol {version}, this app {PROTOCOL_VERSION}: update one of them"
                ))
                .into());
            }
            if workspace != server.workspace {
                bail!(
                    "the server answered for workspace {workspace}, but this replica belongs to {}",
                    server.workspace
                );
            }
            // Documents rewritten by an erasure are replaced before anything is exchanged.
            replica.take_epochs(&manifest, &erasures)?;
            replica.set_setting(
                "visit_retention_months",
                &visit_retention_months
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
            )?;
            Ok((conn, manifest))
        }
        Frame::Error {
            code: ErrorCode::Revoked,
            ..
        } => Err(wipe_if_revoked(replica, TransportError::Revoked.into()).await),
        Frame::Error { message, .. } => Err(transport::lost(Lost::Closed(Some(message)))),
        other => Err(TransportError::Protocol(format!(
            "unexpected first frame from the server: {other:?}"
        ))
        .into()),
    }
}

/// Receives a batch of document messages into the replica.
fn receive(replica: &mut Replica, docs: Vec<DocMessage>, report: &mut SyncReport) -> Result<()> {
    let mut messages = Vec::with_capacity(docs.len());
    for DocMessage { doc, message } in &docs {
        let doc_id: DocId = doc
            .parse()
            .with_context(|| format!("the server sent an unknown document {doc:?}"))?;
        messages.push((doc_id, message.as_slice()));
    }
    let received = replica.receive_sync_messages(messages, report.track_records)?;
    for (doc_id, records) in received {
        let Some(records) = records else { continue };
        report.records_changed.extend(records);
        let doc = doc_id.to_string();
        if !report.docs_changed.contains(&doc) {
            report.docs_changed.push(doc);
        }
    }
    Ok(())
}

/// Handles one incoming frame; returns whether it answered one of our `Sync` frames.
fn handle(replica: &mut Replica, frame: Frame, report: &mut SyncReport) -> Result<bool> {
    match frame {
        Frame::SyncReply { docs } => {
            receive(replica, docs, report)?;
            Ok(true)
        }
        Frame::Sync { docs } => {
            receive(replica, docs, report)?;
            Ok(false)
        }
        Frame::Error {
            code,
            doc,
            message,
            record,
            field,
        } => {
            match code {
                ErrorCode::Revoked => return Err(TransportError::Revoked.into()),
                // A document started a new epoch: connect again to take it.
                ErrorCode::NewEpoch => {
                    return Err(transport::lost(Lost::Closed(Some(message))));
                }
                ErrorCode::BadFrame
                | ErrorCode::TooLarge
                | ErrorCode::RateLimited
                | ErrorCode::Internal
                    if doc.is_none() =>
                {
                    return Err(transport::lost(Lost::Closed(Some(message))));
                }
                // Edits to a document this role may only read stay on the device (joining said
                // so); they are not a failure of the round.
                ErrorCode::ReadOnly => report.kept_local.push(message),
                _ => {
                    if let Some(doc) = &doc {
                        replica.record_refusal(
                            doc,
                            record.as_deref(),
                            field.as_deref(),
                            code,
                            &message,
                        )?;
                    }
                    report.refusals.push((code, doc));
                    report.refused.push(message);
                }
            }
            Ok(false)
        }
        other => bail!("unexpected frame from the server: {other:?}"),
    }
}

/// After the server refused this device as revoked: the workspace's data on the device is deleted
/// (documents, index, private notes, the token), the server is told so, and the error says the
/// device was wiped. Other errors pass as they are.
async fn wipe_if_revoked(replica: &mut Replica, e: anyhow::Error) -> anyhow::Error {
    let revoked = matches!(
        e.downcast_ref::<TransportError>(),
        Some(TransportError::Revoked | TransportError::Refused { status: 403, .. })
    );
    if !revoked {
        return e;
    }
    let Ok(Some(server)) = replica.server() else {
        return e;
    };
    if let Err(wipe) = replica.wipe() {
        return wipe.into();
    }
    // Telling the server is a courtesy: the data is gone either way.
    if let Ok(conn) = Connection::open_trusting(
        &server.url,
        "/wiped",
        Some(&server.token),
        server.ca_cert.as_deref(),
    )
    .await
    {
        conn.close().await;
    }
    TransportError::Wiped.into()
}

/// Erases a record, or one field's past values, everywhere (coordinators): the server rewrites the
/// document holding it as a new epoch; then this device takes it in one sync round.
pub async fn erase(
    replica: &mut Replica,
    record: &str,
    field: Option<&str>,
    reason: &str,
) -> Result<(ibasho_shared::doc::epoch::Erasure, SyncReport)> {
    let (mut conn, _) = connect(replica).await?;
    conn.send(&Frame::Erase {
        record: record.to_string(),
        field: field.map(String::from),
        reason: reason.to_string(),
    })
    .await?;
    let erasure = loop {
        match conn.recv(REPLY_TIMEOUT).await? {
            Frame::Erased { erasure } => break erasure,
            Frame::Error { code, message, .. } if code != ErrorCode::NewEpoch => {
                bail!("the server did not erase: {message}")
            }
            _ => continue,
        }
    };
    conn.close().await;
    let report = sync_once(replica).await?;
    Ok((erasure, report))
}

/// Sends messages in frames of at most `DOCS_PER_FRAME` documents, as `Sync` frames (each
/// answered by a `SyncReply`) or as `Answer`s (see [`Frame::Answer`]); returns the frames sent.
async fn send_in_frames(
    conn: &mut Connection,
    mut outgoing: Vec<DocMessage>,
    answers: bool,
) -> Result<usize> {
    let mut frames = 0;
    while !outgoing.is_empty() {
        let rest = outgoing.split_off(outgoing.len().min(DOCS_PER_FRAME));
        conn.send(&Frame::from_device(outgoing, answers)).await?;
        outgoing = rest;
        frames += 1;
    }
    Ok(frames)
}

/// Sends messages in frames and waits until every frame is answered.
async fn exchange(
    conn: &mut Connection,
    replica: &mut Replica,
    mut outgoing: Vec<DocMessage>,
    report: &mut SyncReport,
) -> Result<()> {
    while !outgoing.is_empty() {
        report.docs_sent += outgoing.len();
        // What is sent again is judged again: refusals of these documents are recorded anew.
        let docs: Vec<String> = outgoing.iter().map(|m| m.doc.clone()).collect();
        replica.clear_refusals(&docs)?;
        let mut awaiting = send_in_frames(conn, outgoing, false).await?;
        while awaiting > 0 {
            let frame = conn.recv(REPLY_TIMEOUT).await?;
            if handle(replica, frame, report)? {
                awaiting -= 1;
            }
        }
        outgoing = replica.pending_sync_messages()?;
    }
    Ok(())
}

/// One sync round: everything both ways is exchanged, then the connection closes.
pub async fn sync_once(replica: &mut Replica) -> Result<SyncReport> {
    let (mut conn, manifest) = connect(replica).await?;
    replica.begin_sync_session();
    replica.forget_refusals()?;
    let mut report = SyncReport::default();
    let plan = replica.sync_plan(&manifest)?;
    exchange(&mut conn, replica, plan, &mut report).await?;
    (report.bytes_sent, report.bytes_received) = conn.byte_counts();
    conn.close().await;
    if report.refused.is_empty() {
        replica.record_sync()?;
    }
    Ok(report)
}

/// A connection kept open: sends local edits when asked, receives other devices' changes as the
/// server pushes them. `watch` and the load benchmarks are built from it.
#[derive(Debug)]
pub struct LiveSession {
    conn: Connection,
    /// Whether pushed frames' reports list the records they changed (a diff of every changed
    /// document; on by default).
    pub track_records: bool,
}

impl LiveSession {
    /// Connects and exchanges everything (the first round).
    pub async fn open(replica: &mut Replica) -> Result<(LiveSession, SyncReport)> {
        let (mut conn, manifest) = connect(replica).await?;
        replica.begin_sync_session();
        replica.forget_refusals()?;
        let mut report = SyncReport::default();
        let plan = replica.sync_plan(&manifest)?;
        exchange(&mut conn, replica, plan, &mut report).await?;
        if report.refused.is_empty() {
            replica.record_sync()?;
        }
        let session = LiveSession {
            conn,
            track_records: true,
        };
        Ok((session, report))
    }

    /// Sends what changed here since the last exchange and waits until the server answered.
    pub async fn push(&mut self, replica: &mut Replica) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let outgoing = replica.pending_sync_messages()?;
        exchange(&mut self.conn, replica, outgoing, &mut report).await?;
        Ok(report)
    }

    /// Waits for the server's next frame without acting on it. Safe to cancel (e.g. in a
    /// `select!` with a timer); pass what it returns to [`LiveSession::take`].
    pub async fn recv_frame(&mut self) -> Result<Option<Frame>> {
        self.conn.recv_any().await
    }

    /// Takes in a frame from [`LiveSession::recv_frame`] and answers it (with `Answer` frames:
    /// whatever the server says back arrives as a later frame).
    pub async fn take(&mut self, replica: &mut Replica, frame: Frame) -> Result<SyncReport> {
        let mut report = self.receive(replica, frame)?;
        report.docs_sent += self.send_answers(replica).await?;
        Ok(report)
    }

    /// Takes in a frame from [`LiveSession::recv_frame`] without answering yet (see
    /// [`LiveSession::send_answers`]): for a client that answers several frames at once under a
    /// stream of pushes instead of one round trip per frame.
    pub fn receive(&mut self, replica: &mut Replica, frame: Frame) -> Result<SyncReport> {
        let mut report = SyncReport {
            track_records: self.track_records,
            ..SyncReport::default()
        };
        handle(replica, frame, &mut report)?;
        Ok(report)
    }

    /// Sends what the replica has to say after [`LiveSession::receive`], without waiting for the
    /// server's replies, which arrive as later frames. Returns the documents answered for.
    pub async fn send_answers(&mut self, replica: &mut Replica) -> Result<usize> {
        let outgoing = replica.pending_sync_messages()?;
        let count = outgoing.len();
        send_in_frames(&mut self.conn, outgoing, true).await?;
        Ok(count)
    }

    /// Bytes sent and received on this connection so far.
    pub fn byte_counts(&self) -> (u64, u64) {
        self.conn.byte_counts()
    }

    /// Pings a server silent for a third of `silence`; an error once it was silent for all of it
    /// (see [`Connection::keep_alive`]). Call it now and then while waiting for pushes.
    pub async fn keep_alive(&mut self, silence: Duration) -> Result<()> {
        self.conn.keep_alive(silence).await
    }

    /// Closes politely.
    pub async fn close(self) {
        self.conn.close().await;
    }
}

/// How long a live connection's server may stay silent (it is pinged after a third of that)
/// before the connection is taken to be dead.
pub const SERVER_SILENCE: Duration = Duration::from_secs(90);

/// Stays connected: pushes local edits (also those made by other `ibasho` commands) as they happen,
/// receives other devices' changes, and reconnects with backoff when the connection drops or the
/// server stays silent for `silence`.
pub async fn watch(
    replica: &mut Replica,
    silence: Duration,
    mut on_round: impl FnMut(&SyncReport),
) -> Result<()> {
    const FIRST_BACKOFF: Duration = Duration::from_millis(500);
    let mut backoff = FIRST_BACKOFF;
    loop {
        let mut served_since = None;
        match watch_connection(replica, silence, &mut served_since, &mut on_round).await {
            Ok(()) => return Ok(()),
            Err(e) if is_fatal(&e) => return Err(e),
            Err(e) => {
                // A connection that served for a while starts the backoff over.
                if served_since
                    .is_some_and(|t: std::time::Instant| t.elapsed() >= Duration::from_secs(60))
                {
                    backoff = FIRST_BACKOFF;
                }
                eprintln!("sync: {e:#}; retrying in {:.1} s", backoff.as_secs_f64());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Whether trying again cannot help: the device is revoked or unknown, or has not joined.
fn is_fatal(e: &anyhow::Error) -> bool {
    match e.downcast_ref::<TransportError>() {
        Some(transport) => transport.is_fatal(),
        // No server joined: retrying fails the same way.
        None => e.downcast_ref::<NotJoined>().is_some(),
    }
}

/// The replica has not joined a server.
#[derive(Debug, thiserror::Error)]
#[error("this replica has not joined a server yet: run `ibasho join URL INVITE`")]
pub struct NotJoined;

/// One connection of [`watch`]; `served_since` is set once its first exchange is done.
async fn watch_connection(
    replica: &mut Replica,
    silence: Duration,
    served_since: &mut Option<std::time::Instant>,
    on_round: &mut impl FnMut(&SyncReport),
) -> Result<()> {
    let (mut session, report) = LiveSession::open(replica).await?;
    *served_since = Some(std::time::Instant::now());
    on_round(&report);
    let mut poll = tokio::time::interval(Duration::from_millis(300));
    loop {
        // Only waiting for a frame is cancelled by the other branches; taking it in and answering
        // runs to the end.
        let report = tokio::select! {
            frame = session.recv_frame() => match frame? {
                Some(frame) => session.take(replica, frame).await?,
                None => return Err(transport::lost(Lost::Closed(None))),
            },
            _ = poll.tick() => {
                session.keep_alive(silence).await?;
                replica.refresh_if_changed()?;
                let report = session.push(replica).await?;
                if report.docs_sent == 0 {
                    continue;
                }
                report
            }
            _ = tokio::signal::ctrl_c() => {
                session.close().await;
                return Ok(());
            }
        };
        if report.refused.is_empty() {
            replica.record_sync()?;
        }
        replica.maintain()?;
        on_round(&report);
    }
}

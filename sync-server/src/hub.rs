//! The hub: documents loaded on demand (evicted when idle), every connected device, and the
//! fan-out of new changes to the devices that may read them.

use crate::durable::Durability;
use crate::metrics::Metrics;
use crate::store::{self, Device};
use automerge::sync::State;
use automerge::{ActorId, AutoCommit, ChangeHash};
use ibasho_shared::doc::{DocId, genesis};
use ibasho_shared::store::doc_store;
use ibasho_shared::sync::{
    Access, AccessPolicy, DocMessage, ErrorCode, Frame, ManifestEntry, Sender, accept, push,
};
use rusqlite::Connection;
/// The hub's maps are looked up several times per frame, with keys as large as sync states: a fast
/// seeded hash (foldhash) instead of SipHash.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A document held in memory.
struct DocSlot {
    doc: AutoCommit,
    saved_heads: Vec<ChangeHash>,
    last_used: Instant,
    /// [`Inner::epoch`] when `saved_heads` were last compared with the store.
    epoch: u64,
    /// Sync work done at the document's current heads, reused for devices in the same state.
    memo: SyncMemo,
    /// Chunks stored after the document's snapshot, when known (counted again after another
    /// process wrote to the store).
    chunks: Option<i64>,
    /// The chunks of the last message accepted, when they hold exactly what is not yet stored:
    /// stored as they came instead of encoding the changes again.
    unsaved_chunks: Option<Vec<u8>>,
    /// The last change accepted, as its sender encoded it: pushed as it is (see [`push`]).
    accepted: Option<push::Accepted>,
}

/// Automerge's `generate_sync_message` is a function of the document and the peer's sync state
/// alone, and taking in an acknowledgement (a message without changes) one of the document, the
/// state and the message. Devices in step with the server have equal states and acknowledge a
/// push with equal messages, so a new change is encoded into a push once for all of them, and
/// their acknowledgements are worked out once.
#[derive(Default)]
struct SyncMemo {
    /// The heads the entries are valid at.
    heads: Vec<ChangeHash>,
    /// Pushes, by the state they were built from: the state after, and the encoded message.
    pushes: HashMap<State, (State, Option<Vec<u8>>)>,
    /// Acknowledgements, by the hash of the state and the message: those two, and the state after.
    acks: HashMap<u64, (State, Vec<u8>, State)>,
}

impl SyncMemo {
    /// Empties the memo when the document moved on.
    fn at(&mut self, heads: Vec<ChangeHash>) -> &mut Self {
        if self.heads != heads {
            self.heads = heads;
            self.pushes.clear();
            self.acks.clear();
        }
        self
    }
}

/// Most entries a document's memo keeps of each kind, and the largest message it keeps.
const MEMO_ENTRIES: usize = 64;
const MEMO_BYTES: usize = 64 * 1024;

/// The memo's key for an acknowledgement: a hash of the state and the message (entries keep both
/// and are compared in full on a hit).
fn ack_key(hasher: &foldhash::fast::RandomState, state: &State, message: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    hasher.hash_one((state, message))
}

impl DocSlot {
    /// Takes in a device's message through the gate ([`accept::receive`]); an acknowledgement
    /// already worked out at these heads for an equal state is not worked out again.
    fn receive(
        &mut self,
        doc_id: &DocId,
        state: &mut State,
        message: &[u8],
        access: Access,
        sender: &ibasho_shared::sync::Sender,
    ) -> Result<accept::Outcome, ibasho_shared::sync::Rejection> {
        let heads = self.doc.get_heads();
        // Everything before this message is stored: its chunks alone are what will be unsaved.
        let all_stored = self.saved_heads == heads;
        let key = ack_key(self.memo.acks.hasher(), state, message);
        if let Some((before, bytes, after)) = self.memo.at(heads.clone()).acks.get(&key)
            && before == state
            && bytes == message
        {
            *state = after.clone();
            return Ok(accept::Outcome {
                changed: false,
                dropped: None,
                need: Vec::new(),
                chunks: None,
                created: Vec::new(),
            });
        }
        let before = state.clone();
        self.unsaved_chunks = None;
        let mut outcome = accept::receive(&mut self.doc, doc_id, state, message, access, sender)?;
        if let Some(chunks) = &outcome.chunks {
            self.accepted = push::Accepted::new(&mut self.doc, heads, chunks.clone());
        }
        self.unsaved_chunks = outcome.chunks.take().filter(|_| all_stored);
        if !outcome.changed
            && outcome.dropped.is_none()
            && outcome.need.is_empty()
            && self.memo.acks.len() < MEMO_ENTRIES
            && message.len() <= MEMO_BYTES
        {
            self.memo
                .acks
                .insert(key, (before, message.to_vec(), state.clone()));
        }
        Ok(outcome)
    }

    /// The encoded message for a peer in `state` (updated as Automerge would), built once per
    /// distinct state at the current heads.
    fn push_message(&mut self, state: &mut State) -> Option<Vec<u8>> {
        let heads = self.doc.get_heads();
        if let Some((after, message)) = self.memo.at(heads).pushes.get(state) {
            *state = after.clone();
            return message.clone();
        }
        let before = state.clone();
        let message =
            push::generate(&mut self.doc, state, self.accepted.as_ref()).map(|m| m.encode());
        if self.memo.pushes.len() < MEMO_ENTRIES
            && message.as_ref().is_none_or(|m| m.len() <= MEMO_BYTES)
        {
            self.memo
                .pushes
                .insert(before, (state.clone(), message.clone()));
        }
        message
    }
}

/// What the hub tells a connection.
#[derive(Debug)]
pub enum PeerEvent {
    /// These documents have new changes the device may not have.
    Changed(Vec<DocId>),
}

struct Peer {
    workspace: String,
    device: String,
    policy: AccessPolicy,
    tx: mpsc::UnboundedSender<PeerEvent>,
}

/// A connection's side of the sync: who it is and its sync state per document.
#[derive(Debug)]
pub struct Session {
    /// The device.
    pub device: Device,
    /// Its access rules.
    pub policy: AccessPolicy,
    /// Connection id in the hub.
    pub id: u64,
    states: HashMap<DocId, State>,
    /// Documents pushed to the device before it said anything about them in this session. Until
    /// it answers, later changes are not pushed again: its answer brings them all, and a device
    /// that does not hold the document is not sent every change of it.
    notified: HashSet<DocId>,
    /// Sync states changed since they were last saved ([`Hub::save_states`]).
    unsaved: HashSet<DocId>,
    /// [`Inner::epoch`] at the last revocation check.
    checked_epoch: u64,
}

impl Session {
    fn sender(&self) -> Sender {
        Sender {
            role: self.device.role,
            device: self.device.id.clone(),
            actors: self.device.actors.clone(),
        }
    }
}

struct Inner {
    conn: Connection,
    docs: HashMap<String, DocSlot>,
    peers: HashMap<u64, Peer>,
    actor: ActorId,
    /// Most documents held in memory; the least recently used goes first.
    max_docs: usize,
    /// SQLite's `data_version` when last read: it changes when another process (the admin CLI)
    /// commits to the store.
    data_version: i64,
    /// Counts the changes of `data_version` seen. While it stays the same, nothing but this hub
    /// wrote to the store: documents in memory are current and no device was revoked.
    epoch: u64,
    /// When `data_version` was last read.
    observed_at: Option<Instant>,
    /// Teams known to exist (`workspace/team`); teams are never removed.
    known_teams: HashSet<String>,
    /// Documents (store keys) whose stored bytes do not load whole: refused to every device
    /// instead of served in part.
    damaged: std::collections::BTreeSet<String>,
    /// What SQLite's `quick_check` found at start, when not `ok`.
    store_fault: Option<String>,
}

/// Shared server state.
pub struct Hub {
    inner: Mutex<Inner>,
    /// Each device's reply budget, shared by its connections.
    budgets: Mutex<std::collections::HashMap<String, Arc<crate::limits::ReplyBudget>>>,
    /// Each device's turn: its connections' frames are handled one at a time, so a device
    /// holding several connections is served no more often than one holding one.
    turns: Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Group commit of accepted changes (see [`crate::durable`]).
    pub durability: Arc<Durability>,
    next_id: AtomicU64,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

/// What handling one client `Sync` frame produced.
#[derive(Debug, Default)]
pub struct Handled {
    /// Replies, one per document that has something to say.
    pub replies: Vec<DocMessage>,
    /// Error frames for refused documents.
    pub errors: Vec<Frame>,
    /// When changes were stored: the commit to wait for (see [`Durability::wait`]) before
    /// acknowledging them.
    pub commit: Option<u64>,
}

impl Hub {
    /// A hub over an open store, holding at most `max_docs` documents in memory. Its commits do
    /// not wait for the disk; run [`Durability::run`] and wait for [`Handled::commit`] before
    /// acknowledging (group commit).
    pub fn new(conn: Connection, max_docs: usize) -> rusqlite::Result<Hub> {
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let durability = Arc::new(Durability::new(conn.path().unwrap_or("")));
        Ok(Hub {
            durability,
            inner: Mutex::new(Inner {
                conn,
                docs: HashMap::default(),
                peers: HashMap::default(),
                actor: ActorId::random(),
                max_docs: max_docs.max(1),
                data_version: 0,
                epoch: 1,
                observed_at: None,
                known_teams: HashSet::default(),
                damaged: Default::default(),
                store_fault: None,
            }),
            budgets: Mutex::default(),
            turns: Mutex::default(),
            next_id: AtomicU64::new(1),
            metrics: Metrics::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` with the store (admin queries, token checks).
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> T {
        f(&mut self.lock().conn)
    }

    /// Checks the store at start: SQLite's `quick_check`, then every stored document loads whole
    /// and holds the heads stored with it. What fails is logged, reported by [`Hub::health`] and
    /// `/metrics`, and refused to devices instead of being served in part.
    pub fn check_store(&self) {
        let mut inner = self.lock();
        let quick: Result<Vec<String>, _> = inner
            .conn
            .prepare("PRAGMA quick_check")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect());
        match quick {
            Ok(rows) if rows == ["ok"] => {}
            Ok(rows) => inner.store_fault = Some(rows.join("; ")),
            Err(e) => inner.store_fault = Some(e.to_string()),
        }
        if let Some(fault) = &inner.store_fault {
            tracing::error!(%fault, "the store failed SQLite's quick_check; restore it from a backup");
        }
        let docs: Vec<(String, String)> = inner
            .conn
            .prepare("SELECT workspace, doc_id FROM doc_heads")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .unwrap_or_default();
        for (ws, doc) in docs {
            let Ok(doc_id) = doc.parse::<DocId>() else {
                continue;
            };
            match inner.slot(&ws, &doc_id) {
                Ok(slot) => {
                    // Where each record lives (see `store::record_home`).
                    if let Some(kind) = doc_id.record_kind() {
                        let ids = ibasho_shared::doc::record_ids(&slot.doc, kind);
                        if let Err(e) = store::set_record_homes(&inner.conn, &ws, &doc, &ids) {
                            tracing::warn!(error = %e, "recording where records live failed");
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(doc = %store::doc_key(&ws, &doc), error = %e, "a stored document is damaged; restore the store from a backup");
                }
            }
            inner.docs.remove(&store::doc_key(&ws, &doc));
        }
        self.metrics
            .damaged_docs
            .store(inner.damaged.len() as u64, Ordering::Relaxed);
    }

    /// `None` when the store is sound; otherwise what is wrong, a line per fault.
    pub fn health(&self) -> Option<String> {
        let inner = self.lock();
        let mut lines: Vec<String> = inner
            .store_fault
            .iter()
            .map(|f| format!("store: {f}"))
            .collect();
        lines.extend(
            inner
                .damaged
                .iter()
                .map(|d| format!("damaged document: {d}")),
        );
        (!lines.is_empty()).then(|| lines.join("\n") + "\n")
    }

    /// Registers a connected device; its events arrive on the returned receiver.
    pub fn connect(&self, device: Device) -> (Session, mpsc::UnboundedReceiver<PeerEvent>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let policy = AccessPolicy {
            role: device.role,
            team: device.team.clone(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().peers.insert(
            id,
            Peer {
                workspace: device.workspace.clone(),
                device: device.id.clone(),
                policy: policy.clone(),
                tx,
            },
        );
        self.metrics.connections.fetch_add(1, Ordering::Relaxed);
        (
            Session {
                device,
                policy,
                id,
                states: HashMap::default(),
                notified: HashSet::default(),
                unsaved: HashSet::default(),
                checked_epoch: 0,
            },
            rx,
        )
    }

    /// Writes into the workspace document that the server vouches for a device (its actor, the
    /// person given at join, its id and role), so that every device names the person behind
    /// that actor's changes from what the server knows rather than from what a change claims.
    /// Stored like an accepted change and pushed to the connected devices.
    pub fn vouch(
        &self,
        ws: &str,
        actor: &ActorId,
        vouched: &ibasho_shared::doc::Vouched,
    ) -> anyhow::Result<u64> {
        let mut inner = self.lock();
        inner.observe_external_writes(true);
        let slot = inner.slot(ws, &DocId::Workspace)?;
        ibasho_shared::doc::write_vouched(&mut slot.doc, &actor.to_hex_string(), vouched)?;
        slot.doc.commit_with(
            automerge::transaction::CommitOptions::default()
                .with_message(ibasho_shared::doc::ChangeNote::by("server").to_message())
                .with_time(chrono::Utc::now().timestamp()),
        );
        slot.unsaved_chunks = None;
        slot.accepted = None;
        if let Err(e) = inner.persist(ws, &DocId::Workspace, &[]) {
            inner.docs.remove(&store::doc_key(ws, "workspace"));
            return Err(e.into());
        }
        inner.announce(ws, None, &[DocId::Workspace]);
        Ok(self.durability.wrote())
    }

    /// The device's reply budget, one for all its connections (a device holding four connections
    /// draws from the same bucket).
    pub fn reply_budget(
        &self,
        device: &str,
        limits: &crate::limits::Limits,
    ) -> Arc<crate::limits::ReplyBudget> {
        self.budgets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(device.to_string())
            .or_insert_with(|| Arc::new(crate::limits::ReplyBudget::new(limits)))
            .clone()
    }

    /// The device's turn (see `Hub::turns`): held while one of its frames is handled.
    pub fn turn_of(&self, device: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.turns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(device.to_string())
            .or_default()
            .clone()
    }

    /// How many connections the device holds now.
    pub fn connections_of(&self, device: &str) -> usize {
        self.lock()
            .peers
            .values()
            .filter(|p| p.device == device)
            .count()
    }

    /// Unregisters a connection, saving its sync states.
    pub fn disconnect(&self, session: &mut Session) {
        self.save_states(session);
        self.lock().peers.remove(&session.id);
        self.metrics.connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// Saves the sync states changed since the last save, in one transaction. They only spare
    /// a reconnecting device a longer exchange, so they are saved now and then (and when the
    /// device leaves), not with every frame; one lost in a crash costs bytes, never changes.
    pub fn save_states(&self, session: &mut Session) {
        if session.unsaved.is_empty() {
            return;
        }
        let states: Vec<(String, Vec<u8>)> = session
            .unsaved
            .drain()
            .filter_map(|doc_id| {
                let state = session.states.get(&doc_id)?;
                let key = store::doc_key(&session.device.workspace, &doc_id.to_string());
                Some((key, state.encode()))
            })
            .collect();
        if let Err(e) = store::save_sync_states(&self.lock().conn, &session.device.id, &states) {
            tracing::warn!(error = %e, "saving sync states failed");
        }
    }

    /// Every document the device may read, with the server's heads.
    pub fn manifest(&self, session: &Session) -> rusqlite::Result<Vec<ManifestEntry>> {
        let inner = self.lock();
        let ws = &session.device.workspace;
        let stored: HashMap<String, Vec<u8>> =
            store::doc_heads(&inner.conn, ws)?.into_iter().collect();
        let mut ids: Vec<DocId> = vec![DocId::Workspace, DocId::Orgs];
        ids.extend(DocId::all_place_shards());
        ids.extend(
            stored
                .keys()
                .filter_map(|k| k.parse::<DocId>().ok())
                .filter(|d| matches!(d, DocId::Visits { .. })),
        );
        Ok(ids
            .into_iter()
            .filter_map(|doc_id| {
                let access = session.policy.access(&doc_id);
                if access == Access::None {
                    return None;
                }
                let name = doc_id.to_string();
                let heads = match stored.get(&name) {
                    Some(bytes) => store::decode_heads(bytes),
                    None => genesis(&doc_id, ActorId::random())
                        .get_heads()
                        .into_iter()
                        .map(|h| h.0)
                        .collect(),
                };
                Some(ManifestEntry {
                    doc: name,
                    heads,
                    writable: access == Access::Write,
                })
            })
            .collect())
    }

    /// Handles the documents of one client `Sync` frame, in the order given (the caller puts the
    /// workspace first: a team added there may be needed by visits in the same frame): access,
    /// the gate, persistence, replies, and the fan-out of accepted changes to other devices.
    pub fn handle_sync(&self, session: &mut Session, docs: Vec<DocMessage>) -> Handled {
        let mut handled = Handled::default();
        let mut changed = Vec::new();
        let mut inner = self.lock();
        inner.observe_external_writes(false);
        let sender = session.sender();
        for DocMessage { doc, message } in docs {
            let Ok(doc_id) = doc.parse::<DocId>() else {
                self.metrics.rejects.fetch_add(1, Ordering::Relaxed);
                handled.errors.push(Frame::error(
                    ErrorCode::UnknownDoc,
                    Some(&doc),
                    format!("{doc:?} is not a document id"),
                ));
                continue;
            };
            // Changes to visits need a team of this workspace (from the admin CLI, or one a
            // coordinator added in the workspace document, which a frame carries first). A message
            // without changes creates nothing and reveals nothing, so it is answered either way.
            if let DocId::Visits { team, .. } = &doc_id
                && carries_changes(&message)
                && !inner.team_exists(&session.device.workspace, team)
            {
                self.metrics.rejects.fetch_add(1, Ordering::Relaxed);
                handled.errors.push(Frame::error(
                    ErrorCode::UnknownDoc,
                    Some(&doc),
                    format!("{doc}: no such team in this workspace"),
                ));
                continue;
            }
            let access = session.policy.access(&doc_id);
            if access == Access::None {
                self.metrics.rejects.fetch_add(1, Ordering::Relaxed);
                handled.errors.push(Frame::error(
                    ErrorCode::Forbidden,
                    Some(&doc),
                    format!("{doc}: not readable by this device"),
                ));
                continue;
            }
            let ws = session.device.workspace.clone();
            let state = load_state(&inner.conn, &mut session.states, &session.device, &doc_id);
            // Tell the device this document is read-only for it (Automerge's read-only flag), so its
            // client stops offering changes the server would only drop.
            state.set_read_only(access == Access::Read);
            let slot = match inner.slot(&ws, &doc_id) {
                Ok(slot) => slot,
                Err(e) => {
                    tracing::error!(doc = %doc, error = %e, "loading a document failed");
                    self.metrics
                        .damaged_docs
                        .store(inner.damaged.len() as u64, Ordering::Relaxed);
                    handled.errors.push(Frame::error(
                        ErrorCode::Internal,
                        Some(&doc),
                        format!(
                            "{doc}: damaged on the server, so it is not served in part; the server's administrator restores the store from a backup"
                        ),
                    ));
                    continue;
                }
            };
            forget_unknown_heads(&mut slot.doc, state);
            let mut need = Vec::new();
            match slot.receive(&doc_id, state, &message, access, &sender) {
                Ok(outcome) => {
                    need = outcome.need;
                    // An id names one record in the workspace: a record new here under an id
                    // another document holds (a place's, another month's visit) is refused.
                    if let Some((id, home)) = outcome.created.iter().find_map(|id| {
                        store::record_home(&inner.conn, &ws, id)
                            .ok()
                            .flatten()
                            .filter(|home| *home != doc)
                            .map(|home| (id.clone(), home))
                    }) {
                        self.metrics.rejects.fetch_add(1, Ordering::Relaxed);
                        // Nothing of it is stored.
                        inner.start_over(session, &ws, &doc_id);
                        handled.errors.push(Frame::error(
                            ErrorCode::Invalid,
                            Some(&doc),
                            format!(
                                "{doc}: record {id}: this id already names a record in {home}; a new record needs a new id"
                            ),
                        ));
                        continue;
                    }
                    if let Some(dropped) = outcome.dropped {
                        self.metrics.rejects.fetch_add(1, Ordering::Relaxed);
                        handled.errors.push(Frame::error(
                            dropped.code,
                            Some(&doc),
                            dropped.message,
                        ));
                    }
                    if outcome.changed {
                        self.metrics
                            .changes_accepted
                            .fetch_add(1, Ordering::Relaxed);
                        if let Err(e) = inner.persist(&ws, &doc_id, &outcome.created) {
                            tracing::error!(doc = %doc, error = %e, "storing accepted changes failed");
                            inner.start_over(session, &ws, &doc_id);
                            handled.errors.push(Frame::error(
                                ErrorCode::Internal,
                                Some(&doc),
                                "the server could not store these changes",
                            ));
                            continue;
                        }
                        changed.push(doc_id.clone());
                    }
                }
                Err(rejection) => {
                    self.metrics.rejects.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(device = %session.device.id, doc = %doc, reason = %rejection.message, "changes refused");
                    let unsound = rejection.code == ErrorCode::Internal;
                    handled.errors.push(Frame::error(
                        rejection.code,
                        Some(&doc),
                        rejection.message,
                    ));
                    if unsound {
                        // The gate could not put the document back.
                        inner.start_over(session, &ws, &doc_id);
                        continue;
                    }
                }
            }
            let state = session.states.get_mut(&doc_id).expect("loaded above");
            let slot = inner
                .docs
                .get_mut(&store::doc_key(&ws, &doc))
                .expect("loaded above");
            if let Some(reply) = accept::reply(&mut slot.doc, state, &need) {
                handled.replies.push(DocMessage {
                    doc: doc.clone(),
                    message: reply.encode(),
                });
            }
            session.unsaved.insert(doc_id);
        }
        if !changed.is_empty() {
            handled.commit = Some(self.durability.wrote());
        }
        inner.announce(&session.device.workspace, Some(session.id), &changed);
        self.metrics
            .docs_loaded
            .store(inner.docs.len() as u64, Ordering::Relaxed);
        handled
    }

    /// Sync messages carrying new changes of `docs` to a connected device.
    pub fn push(&self, session: &mut Session, docs: &[DocId]) -> Vec<DocMessage> {
        let mut inner = self.lock();
        inner.observe_external_writes(false);
        let ws = session.device.workspace.clone();
        let mut out = Vec::new();
        for doc_id in docs {
            let state = load_state(&inner.conn, &mut session.states, &session.device, doc_id);
            if state.their_heads.is_none() && !session.notified.insert(doc_id.clone()) {
                continue;
            }
            state.set_read_only(session.policy.access(doc_id) == Access::Read);
            if let Ok(slot) = inner.slot(&ws, doc_id)
                && {
                    forget_unknown_heads(&mut slot.doc, state);
                    !accept::nothing_to_say(&mut slot.doc, state)
                }
                && let Some(message) = slot.push_message(state)
            {
                out.push(DocMessage {
                    doc: doc_id.to_string(),
                    message,
                });
            }
            if !session.unsaved.contains(doc_id) {
                session.unsaved.insert(doc_id.clone());
            }
        }
        out
    }

    /// Whether the device was revoked (checked on every frame and on a timer). Devices are
    /// revoked by the admin CLI, another process: the store is read again only after it wrote.
    pub fn is_revoked(&self, session: &mut Session) -> bool {
        let mut inner = self.lock();
        let epoch = inner.observe_external_writes(false);
        if session.checked_epoch == epoch {
            return false;
        }
        match store::device(&inner.conn, &session.device.id) {
            Ok(Some(d)) if d.revoked_at.is_none() => {
                session.checked_epoch = epoch;
                false
            }
            Ok(_) => true,
            Err(e) => {
                tracing::error!(error = %e, "checking a device failed");
                false
            }
        }
    }

    /// Drops documents idle for longer than `max_idle`, and the least recently used beyond `max_docs`.
    pub fn evict(&self, max_idle: Duration, max_docs: usize) {
        let mut inner = self.lock();
        let now = Instant::now();
        let before = inner.docs.len();
        inner
            .docs
            .retain(|_, slot| now.duration_since(slot.last_used) < max_idle);
        if inner.docs.len() > max_docs {
            let mut by_age: Vec<(String, Instant)> = inner
                .docs
                .iter()
                .map(|(k, s)| (k.clone(), s.last_used))
                .collect();
            by_age.sort_by_key(|(_, t)| *t);
            let excess = inner.docs.len() - max_docs;
            for (key, _) in by_age.into_iter().take(excess) {
                inner.docs.remove(&key);
            }
        }
        let after = inner.docs.len();
        self.metrics
            .docs_loaded
            .store(after as u64, Ordering::Relaxed);
        drop(inner);
        if after < before {
            release_freed_memory();
        }
    }
}

/// How stale the hub's view of other processes' writes to the store may be: a revocation or an
/// admin edit is seen within this time. (Storing changes always looks first, so nothing the admin
/// CLI stored is overwritten.) Each look is a SQLite query: at 1 ms they were 3 % of the server's
/// time under load.
const OBSERVE_EVERY: Duration = Duration::from_millis(10);

/// Whether an encoded sync message carries changes (undecodable ones are left to the gate).
fn carries_changes(message: &[u8]) -> bool {
    automerge::sync::Message::decode(message)
        .map(|m| !m.changes.is_empty())
        .unwrap_or(true)
}

/// A sync state naming changes the document does not hold (stored before a failed write, or
/// before the store was restored from a backup) would have the server tell the device it has them,
/// and the device would never send them: such a state starts over, and the exchange finds what
/// each side lacks.
fn forget_unknown_heads(doc: &mut AutoCommit, state: &mut State) {
    let mut known = |h: &ChangeHash| doc.get_change_meta_by_hash(h).is_some();
    if !state.shared_heads.iter().all(&mut known) || !state.last_sent_heads.iter().all(&mut known) {
        *state = State::new();
    }
}

fn load_state<'a>(
    conn: &Connection,
    states: &'a mut HashMap<DocId, State>,
    device: &Device,
    doc_id: &DocId,
) -> &'a mut State {
    // Looked up before inserting: most calls find the state, and need no copy of the id.
    if !states.contains_key(doc_id) {
        let key = store::doc_key(&device.workspace, &doc_id.to_string());
        let state = store::sync_state(conn, &device.id, &key)
            .ok()
            .flatten()
            .and_then(|b| State::decode(&b).ok())
            .unwrap_or_default();
        states.insert(doc_id.clone(), state);
    }
    states.get_mut(doc_id).expect("inserted above")
}

impl Inner {
    /// Tells the connected devices of `ws` (but connection `except`) that `changed` documents have
    /// new changes, each device only of those it may read.
    fn announce(&self, ws: &str, except: Option<u64>, changed: &[DocId]) {
        if changed.is_empty() {
            return;
        }
        for (id, peer) in &self.peers {
            if Some(*id) == except || peer.workspace != ws {
                continue;
            }
            let readable: Vec<DocId> = changed
                .iter()
                .filter(|d| peer.policy.access(d) != Access::None)
                .cloned()
                .collect();
            if !readable.is_empty() {
                let _ = peer.tx.send(PeerEvent::Changed(readable));
            }
        }
    }

    /// After a document's changes were not kept (refused after the gate, or not stored): it is
    /// read again from the store, and the device's sync state for it starts over, since what it
    /// says the device and the server share is no longer true; the device then sends again
    /// whatever the server lacks.
    fn start_over(&mut self, session: &mut Session, ws: &str, doc_id: &DocId) {
        self.docs.remove(&store::doc_key(ws, &doc_id.to_string()));
        session.states.insert(doc_id.clone(), State::new());
        session.unsaved.insert(doc_id.clone());
    }

    /// Reads SQLite's `data_version` (at most every [`OBSERVE_EVERY`] unless `now`); returns
    /// [`Inner::epoch`], advanced if another process committed since the last read.
    fn observe_external_writes(&mut self, now: bool) -> u64 {
        if !now
            && self
                .observed_at
                .is_some_and(|t| t.elapsed() < OBSERVE_EVERY)
        {
            return self.epoch;
        }
        self.observed_at = Some(Instant::now());
        let version = self
            .conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)));
        match version {
            Ok(v) if v == self.data_version => {}
            Ok(v) => {
                self.data_version = v;
                self.epoch += 1;
            }
            // Unknown: assume someone wrote.
            Err(_) => self.epoch += 1,
        }
        self.epoch
    }

    /// Whether the workspace has this team: created by the admin CLI, or by a coordinator in the
    /// workspace document.
    fn team_exists(&mut self, ws: &str, team: &str) -> bool {
        let known = format!("{ws}/{team}");
        if self.known_teams.contains(&known) {
            return true;
        }
        let exists = store::team_exists(&self.conn, ws, team).unwrap_or(false)
            || match self.slot(ws, &DocId::Workspace) {
                Ok(slot) => ibasho_shared::doc::read_workspace(&slot.doc)
                    .teams
                    .iter()
                    .any(|t| t.id == team),
                Err(_) => false,
            };
        if exists {
            self.known_teams.insert(known);
        }
        exists
    }

    /// The document, loaded on demand; refreshed when the store has changes this process did not
    /// make (admin commands write to the same store).
    fn slot(&mut self, ws: &str, doc_id: &DocId) -> Result<&mut DocSlot, doc_store::LoadError> {
        let key = store::doc_key(ws, &doc_id.to_string());
        let epoch = self.epoch;
        if let Some(slot) = self.docs.get_mut(&key)
            && slot.epoch == epoch
        {
            // Nothing else wrote to the store since the slot was compared with it.
            slot.last_used = Instant::now();
            return Ok(self.docs.get_mut(&key).expect("present"));
        }
        let stored_heads = store::heads_of(&self.conn, ws, &doc_id.to_string())?;
        let stale = match (self.docs.get(&key), &stored_heads) {
            (Some(slot), Some(bytes)) => {
                let mut mine: Vec<[u8; 32]> = slot.saved_heads.iter().map(|h| h.0).collect();
                mine.sort();
                let mut theirs = store::decode_heads(bytes);
                theirs.sort();
                mine != theirs
            }
            (Some(_), None) => false,
            (None, _) => true,
        };
        if stale {
            let loaded = doc_store::load(&self.conn, &key).and_then(|mut doc| {
                // Every head stored with the document must be in what loads.
                if let (Some(doc), Some(heads)) = (&mut doc, &stored_heads)
                    && !store::decode_heads(heads)
                        .iter()
                        .all(|h| doc.get_change_meta_by_hash(&ChangeHash(*h)).is_some())
                {
                    return Err(doc_store::LoadError::Incomplete { doc: key.clone() });
                }
                Ok(doc)
            });
            let mut doc = match loaded {
                Ok(Some(doc)) => doc,
                Ok(None) => genesis(doc_id, self.actor.clone()),
                Err(e) => {
                    // The store's bytes, not SQLite at work (busy, out of memory), are at fault.
                    let damage = !matches!(
                        &e,
                        doc_store::LoadError::Sql(
                            rusqlite::Error::SqliteFailure(..)
                                | rusqlite::Error::SqlInputError { .. }
                        )
                    );
                    if damage {
                        self.damaged.insert(key);
                    }
                    return Err(e);
                }
            };
            doc.set_actor(self.actor.clone());
            let saved_heads = if stored_heads.is_some() {
                doc.get_heads()
            } else {
                Vec::new()
            };
            if let Some(old) = self.docs.get_mut(&key) {
                // Keep what is in memory and add what the store has.
                let _ = old.doc.merge(&mut doc);
                old.saved_heads = saved_heads;
            } else {
                if self.docs.len() >= self.max_docs {
                    // Memory follows the active set: make room by dropping the least recently used.
                    let oldest = self
                        .docs
                        .iter()
                        .min_by_key(|(_, s)| s.last_used)
                        .map(|(k, _)| k.clone());
                    if let Some(oldest) = oldest {
                        self.docs.remove(&oldest);
                    }
                }
                self.docs.insert(
                    key.clone(),
                    DocSlot {
                        doc,
                        saved_heads,
                        last_used: Instant::now(),
                        epoch,
                        memo: SyncMemo::default(),
                        chunks: None,
                        unsaved_chunks: None,
                        accepted: None,
                    },
                );
            }
        }
        let slot = self.docs.get_mut(&key).expect("loaded above");
        slot.last_used = Instant::now();
        slot.epoch = epoch;
        Ok(slot)
    }

    /// Appends a document's unsaved changes to the store, with where the records they `created`
    /// live; compacts when chunks pile up.
    fn persist(&mut self, ws: &str, doc_id: &DocId, created: &[String]) -> rusqlite::Result<()> {
        let name = doc_id.to_string();
        let key = store::doc_key(ws, &name);
        // The admin CLI writes to the same store from another process: take in what it stored
        // since this document was loaded, so its changes are neither overwritten nor compacted away.
        let epoch = self.observe_external_writes(true);
        let unchecked = self.docs.get(&key).is_some_and(|s| s.epoch != epoch);
        let stored = if unchecked {
            store::heads_of(&self.conn, ws, &name)?.map(|b| store::decode_heads(&b))
        } else {
            None
        };
        let slot = self
            .docs
            .get_mut(&key)
            .expect("persisted documents are loaded");
        slot.epoch = epoch;
        let chunks = slot.unsaved_chunks.take();
        let mut mine: Vec<[u8; 32]> = slot.saved_heads.iter().map(|h| h.0).collect();
        mine.sort();
        let mut merged = false;
        if let Some(mut theirs) = stored {
            // Another process may have stored chunks: count them again.
            slot.chunks = None;
            theirs.sort();
            if theirs != mine
                && let Ok(Some(mut on_disk)) = doc_store::load(&self.conn, &key)
            {
                let _ = slot.doc.merge(&mut on_disk);
                slot.saved_heads = on_disk.get_heads();
                merged = true;
            }
        }
        let heads = slot.doc.get_heads();
        if slot.saved_heads.is_empty() {
            // Nothing stored yet: one compressed snapshot (with its heads, in one transaction)
            // is far cheaper to encode and store than every change on its own.
            store::store_snapshot(&mut self.conn, ws, &name, &slot.doc.save(), &heads, created)?;
            slot.saved_heads = heads;
            slot.chunks = Some(0);
            return Ok(());
        }
        // The device's own chunks when they hold just what is unsaved (see
        // `DocSlot::unsaved_chunks`), else the unsaved changes encoded again.
        let bytes = match chunks {
            Some(chunks) if !merged => chunks,
            _ => slot.doc.save_after(&slot.saved_heads),
        };
        store::append_doc(&mut self.conn, ws, &name, &bytes, &heads, created)?;
        slot.saved_heads = heads;
        let count = match slot.chunks {
            Some(n) => n + 1,
            None => doc_store::chunk_count(&self.conn, &key).unwrap_or(0),
        };
        slot.chunks = Some(count);
        // The change is stored; a failed compaction only means more chunks to read next time.
        if count > doc_store::COMPACT_AFTER_CHUNKS {
            let snapshot = slot.doc.save();
            let compacted = self.conn.transaction().and_then(|tx| {
                doc_store::write_snapshot(&tx, &key, &snapshot)?;
                tx.commit()
            });
            match compacted {
                Ok(()) => slot.chunks = Some(0),
                Err(e) => tracing::warn!(doc = %key, error = %e, "compaction failed"),
            }
        }
        Ok(())
    }
}

/// Writes a change made by the admin CLI (workspace or team) straight to the store.
pub fn admin_edit(
    conn: &mut Connection,
    ws: &str,
    doc_id: &DocId,
    f: impl FnOnce(&mut AutoCommit) -> Result<(), automerge::AutomergeError>,
) -> anyhow::Result<()> {
    let key = store::doc_key(ws, &doc_id.to_string());
    let (mut doc, saved) = match doc_store::load(conn, &key)? {
        Some(mut doc) => {
            let heads = doc.get_heads();
            (doc, heads)
        }
        None => (genesis(doc_id, ActorId::random()), Vec::new()),
    };
    doc.set_actor(ActorId::random());
    f(&mut doc)?;
    doc.commit_with(
        automerge::transaction::CommitOptions::default()
            .with_message(ibasho_shared::doc::ChangeNote::by("admin").to_message())
            .with_time(chrono::Utc::now().timestamp()),
    );
    let bytes = doc.save_after(&saved);
    store::append_doc(conn, ws, &doc_id.to_string(), &bytes, &doc.get_heads(), &[])?;
    Ok(())
}

/// Gives memory freed by dropped documents back to the operating system; glibc's allocator keeps
/// it otherwise, so the server's RSS would stay at its peak.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it touches no live memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::sync::SyncDoc;
    use automerge::transaction::Transactable;

    /// A push built once for peers in equal states is exactly what Automerge builds for each, and
    /// an acknowledgement worked out once leaves each state as taking it in would.
    #[test]
    fn peers_in_step_get_the_push_automerge_would_build_for_each() {
        let sender = ibasho_shared::sync::Sender {
            role: ibasho_shared::sync::Role::Coordinator,
            device: "d".into(),
            actors: Vec::new(),
        };
        let mut server = AutoCommit::new();
        server.put(automerge::ROOT, "a", 1).unwrap();
        let mut peers: Vec<(AutoCommit, State, State)> = (0..3)
            .map(|_| (AutoCommit::new(), State::new(), State::new()))
            .collect();
        let mut slot = DocSlot {
            doc: server,
            saved_heads: Vec::new(),
            last_used: Instant::now(),
            epoch: 0,
            memo: SyncMemo::default(),
            chunks: None,
            unsaved_chunks: None,
            accepted: None,
        };
        for round in 0..4 {
            slot.doc.put(automerge::ROOT, "a", round).unwrap();
            for (peer, peer_state, server_state) in &mut peers {
                // Until quiet: the server pushes (through the cache), the peer answers.
                for _ in 0..5 {
                    let mut expected_state = server_state.clone();
                    let expected = slot
                        .doc
                        .sync()
                        .generate_sync_message(&mut expected_state)
                        .map(|m| m.encode());
                    let got = slot.push_message(server_state);
                    assert_eq!(got, expected, "round {round}");
                    assert_eq!(*server_state, expected_state);
                    let Some(bytes) = got else { break };
                    let m = automerge::sync::Message::decode(&bytes).unwrap();
                    peer.sync().receive_sync_message(peer_state, m).unwrap();
                    if let Some(answer) = peer.sync().generate_sync_message(peer_state) {
                        let answer = answer.encode();
                        let mut expected_state = server_state.clone();
                        let mut expected_doc = slot.doc.fork();
                        accept::receive(
                            &mut expected_doc,
                            &DocId::Workspace,
                            &mut expected_state,
                            &answer,
                            Access::Write,
                            &sender,
                        )
                        .unwrap();
                        slot.receive(
                            &DocId::Workspace,
                            server_state,
                            &answer,
                            Access::Write,
                            &sender,
                        )
                        .unwrap();
                        assert_eq!(*server_state, expected_state);
                    }
                }
                assert_eq!(peer.get_heads(), slot.doc.get_heads());
            }
        }
        assert!(!slot.memo.pushes.is_empty(), "pushes were kept");
        assert!(!slot.memo.acks.is_empty(), "acknowledgements were kept");
    }

    /// Accepted changes are stored as the device sent them (here with changes the server already
    /// had sent again), and the document read back from the store is the one the server holds.
    #[test]
    fn changes_stored_as_sent_read_back_whole() {
        use automerge::sync::{ChunkList, Have, Message, MessageVersion};
        use ibasho_shared::{Place, Record, RecordKind, doc};
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::new(store::open(dir.path()).unwrap(), 16).unwrap();
        let actor = ActorId::random();
        let device = Device {
            id: "device".into(),
            workspace: "ws".into(),
            role: ibasho_shared::sync::Role::Coordinator,
            team: None,
            person: "p".into(),
            revoked_at: None,
            actors: vec![actor.clone()],
        };
        let (mut session, _events) = hub.connect(device);
        let id = DocId::Places(0);
        let mut local = doc::genesis(&id, actor);
        let mut sent: Vec<Vec<u8>> = Vec::new();
        for i in 0..4 {
            // A place of this shard (a place lives where its id says).
            let place =
                std::iter::repeat_with(|| Place::new(&format!("喫茶 {i}"), "cafe", 35.45, 139.39))
                    .find(|p| DocId::for_place(&p.id) == id)
                    .unwrap();
            doc::write_fields(&mut local, RecordKind::Place, &place.id, &place.to_fields())
                .unwrap();
            local.commit();
            sent.push(local.get_last_local_change().unwrap().bytes().to_vec());
            let message = Message {
                heads: local.get_heads(),
                need: Vec::new(),
                have: vec![Have::default()],
                changes: ChunkList::from(sent.clone()),
                flags: None,
                version: MessageVersion::V1,
            };
            let handled = hub.handle_sync(
                &mut session,
                vec![DocMessage {
                    doc: id.to_string(),
                    message: message.encode(),
                }],
            );
            assert!(handled.errors.is_empty(), "{:?}", handled.errors);
        }
        let conn = store::open(dir.path()).unwrap();
        let mut stored = doc_store::load(&conn, &store::doc_key("ws", &id.to_string()))
            .unwrap()
            .expect("stored");
        assert_eq!(stored.get_heads(), local.get_heads());
        assert_eq!(doc::record_ids(&stored, RecordKind::Place).len(), 4);
    }
}

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

mod cache;
mod fanout;
mod memo;
mod persist;
mod refusal;

use cache::{DocSlot, forget_unknown_heads};
use fanout::{Peer, load_state};
pub use fanout::{PeerEvent, Session};
use memo::SyncMemo;
pub use persist::admin_edit;
pub use refusal::DocRefusal;

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
    store_version: u64,
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
                store_version: 1,
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
            return Err(e);
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

    /// Every document the device may read, with the server's heads.
    pub fn manifest(&self, session: &Session) -> rusqlite::Result<Vec<ManifestEntry>> {
        let inner = self.lock();
        let ws = &session.device.workspace;
        let stored: HashMap<String, Vec<u8>> =
            store::doc_heads(&inner.conn, ws)?.into_iter().collect();
        let epochs = store::epochs(&inner.conn, ws)?;
        let mut ids: Vec<DocId> = vec![DocId::Workspace, DocId::Orgs];
        ids.extend(DocId::all_place_shards());
        ids.extend(
            stored
                .keys()
                .filter_map(|k| k.parse::<DocId>().ok())
                .filter(|d| matches!(d, DocId::Visits { .. } | DocId::Referrals { .. })),
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
                    epoch: epochs.get(&name).copied().unwrap_or(0),
                    doc: name,
                    heads,
                    writable: access == Access::Write,
                })
            })
            .collect())
    }

    /// The erase log of the device's workspace for the documents it may read, oldest first: what
    /// it drops of its own edits made on an earlier epoch. Who asked and why only for coordinators.
    pub fn erasures(&self, session: &Session) -> Vec<ibasho_shared::doc::epoch::Erasure> {
        let inner = self.lock();
        let all = store::erasures(&inner.conn, &session.device.workspace).unwrap_or_else(|e| {
            tracing::error!(error = %e, "reading the erase log failed");
            Vec::new()
        });
        let coordinator = session.device.role == ibasho_shared::sync::Role::Coordinator;
        all.into_iter()
            .filter(|e| {
                e.doc
                    .parse::<DocId>()
                    .is_ok_and(|d| session.policy.access(&d) != Access::None)
            })
            .map(|mut e| {
                if !coordinator {
                    e.reason.clear();
                    e.by.clear();
                }
                e
            })
            .collect()
    }

    /// Erases a record, or one field's past values, everywhere (see [`crate::erase`]): the
    /// document holding it starts a new epoch, and every connected device of the workspace
    /// connects again to take it.
    pub fn erase(
        &self,
        ws: &str,
        request: &crate::erase::EraseRequest,
    ) -> anyhow::Result<ibasho_shared::doc::epoch::Erasure> {
        let mut inner = self.lock();
        inner.observe_external_writes(true);
        let erasure = crate::erase::erase(&mut inner.conn, ws, request)?;
        inner.took_new_epoch(ws, &erasure);
        Ok(erasure)
    }

    /// Erases the visits of every workspace older than its retention (see
    /// [`crate::erase::apply_retention`]); returns how many documents were emptied.
    pub fn apply_retention(&self, today: chrono::NaiveDate) -> usize {
        let mut inner = self.lock();
        inner.observe_external_writes(true);
        let mut emptied = 0;
        for ws in store::workspace_ids(&inner.conn).unwrap_or_default() {
            match crate::erase::apply_retention(&mut inner.conn, &ws, today) {
                Ok(done) => {
                    emptied += done.len();
                    for erasure in &done {
                        inner.took_new_epoch(&ws, erasure);
                    }
                }
                Err(e) => tracing::error!(workspace = %ws, error = %e, "retention failed"),
            }
        }
        emptied
    }

    /// Handles the documents of one client `Sync` frame, in the order given (the caller puts the
    /// workspace first: a team added there may be needed by visits in the same frame), each by
    /// [`Inner::handle_doc`]; then, once for the frame, the commit to wait for and the fan-out of
    /// accepted changes to other devices.
    pub fn handle_sync(&self, session: &mut Session, docs: Vec<DocMessage>) -> Handled {
        let mut handled = Handled::default();
        let mut changed = Vec::new();
        let mut inner = self.lock();
        inner.observe_external_writes(false);
        let sender = session.sender();
        for DocMessage { doc, message } in docs {
            let refusals = match inner.handle_doc(session, &sender, &doc, &message) {
                Ok(reply) => {
                    if let Some(message) = reply.message {
                        handled.replies.push(DocMessage {
                            doc: doc.clone(),
                            message,
                        });
                    }
                    if reply.changed {
                        self.metrics
                            .changes_accepted
                            .fetch_add(1, Ordering::Relaxed);
                        changed.push(doc.parse::<DocId>().expect("handled as a document"));
                    }
                    reply.refused
                }
                Err(refusal) => Some(refusal),
            };
            if let Some(refusal) = refusals {
                handled.errors.push(self.refused(&refusal));
            }
        }
        if !changed.is_empty() {
            handled.commit = Some(self.durability.wrote());
        }
        inner.announce(&session.device.workspace, Some(session.id), &changed);
        self.metrics
            .docs_loaded
            .store(inner.docs.len() as u64, Ordering::Relaxed);
        self.metrics
            .damaged_docs
            .store(inner.damaged.len() as u64, Ordering::Relaxed);
        handled
    }

    /// A refusal as the device receives it, counted.
    fn refused(&self, refusal: &DocRefusal) -> Frame {
        if refusal.counts_as_reject() {
            self.metrics.rejects.fetch_add(1, Ordering::Relaxed);
        }
        refusal.frame()
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
        let version = inner.observe_external_writes(false);
        if session.checked_version == version {
            return false;
        }
        match store::device(&inner.conn, &session.device.id) {
            Ok(Some(d)) if d.revoked_at.is_none() => {
                session.checked_version = version;
                false
            }
            Ok(_) => true,
            Err(e) => {
                tracing::error!(error = %e, "checking a device failed");
                false
            }
        }
    }
}

/// Whether an encoded sync message carries changes (undecodable ones are left to the gate).
fn carries_changes(message: &[u8]) -> bool {
    automerge::sync::Message::decode(message)
        .map(|m| !m.changes.is_empty())
        .unwrap_or(true)
}

/// What handling one document of a frame came to, when it was not refused.
#[derive(Debug, Default)]
pub struct DocReply {
    /// The server's next sync message for the document, when it has something to say.
    pub message: Option<Vec<u8>>,
    /// Whether the document took in (and stored) new changes.
    pub changed: bool,
    /// What was refused while the rest went on: a read-only document's changes.
    pub refused: Option<DocRefusal>,
}

impl Inner {
    /// One document of a client `Sync` frame: access, the gate, where new records' ids already
    /// live, storing, and the reply.
    fn handle_doc(
        &mut self,
        session: &mut Session,
        sender: &Sender,
        doc: &str,
        message: &[u8],
    ) -> Result<DocReply, DocRefusal> {
        let named = || doc.to_string();
        let doc_id = doc
            .parse::<DocId>()
            .map_err(|_| DocRefusal::NotADocument { doc: named() })?;
        let ws = session.device.workspace.clone();
        let key = store::doc_key(&ws, doc);
        // Changes to visits need a team of this workspace (from the admin CLI, or one a
        // coordinator added in the workspace document, which a frame carries first). A message
        // without changes creates nothing and reveals nothing, so it is answered either way.
        let teams: Vec<&String> = match &doc_id {
            DocId::Visits { team, .. } => vec![team],
            DocId::Referrals { from, to, .. } => std::iter::once(from).chain(to).collect(),
            _ => Vec::new(),
        };
        if !teams.is_empty()
            && carries_changes(message)
            && teams.iter().any(|team| !self.team_exists(&ws, team))
        {
            return Err(DocRefusal::NoSuchTeam { doc: named() });
        }
        let access = session.policy.access(&doc_id);
        if access == Access::None {
            return Err(DocRefusal::NotReadable { doc: named() });
        }
        // Visits of months past the workspace's retention are not taken.
        if let DocId::Visits { month, .. } = &doc_id
            && carries_changes(message)
            && let Ok(Some(months)) = store::visit_retention(&self.conn, &ws)
            && *month < crate::erase::first_kept_month(chrono::Utc::now().date_naive(), months)
        {
            return Err(DocRefusal::PastRetention {
                doc: named(),
                months,
            });
        }
        let state = load_state(&self.conn, &mut session.states, &session.device, &doc_id);
        // Tell the device this document is read-only for it (Automerge's read-only flag), so its
        // client stops offering changes the server would only drop.
        state.set_read_only(access == Access::Read);
        let slot = self.slot(&ws, &doc_id).map_err(|e| {
            tracing::error!(doc, error = %e, "loading a document failed");
            DocRefusal::Damaged { doc: named() }
        })?;
        forget_unknown_heads(&mut slot.doc, state);
        // A rewritten document's gate refuses the changes of its closed epochs.
        let sender = if slot.closed.is_empty() {
            std::borrow::Cow::Borrowed(sender)
        } else {
            std::borrow::Cow::Owned(Sender {
                closed: slot.closed.clone(),
                ..sender.clone()
            })
        };
        let mut reply = DocReply::default();
        let mut need = Vec::new();
        match slot.receive(&doc_id, state, message, access, &sender) {
            Ok(outcome) => {
                need = outcome.need;
                // An id names one record in the workspace: a record new here under an id another
                // document holds (a place's, another month's visit) is refused.
                if let Some((id, home)) = outcome.created.iter().find_map(|id| {
                    store::record_home(&self.conn, &ws, id)
                        .ok()
                        .flatten()
                        .filter(|home| home != doc)
                        .map(|home| (id.clone(), home))
                }) {
                    // Nothing of it is stored.
                    self.start_over(session, &ws, &doc_id);
                    return Err(DocRefusal::IdTaken {
                        doc: named(),
                        id,
                        home,
                    });
                }
                reply.refused = outcome.dropped.map(|rejection| DocRefusal::Gate {
                    doc: named(),
                    rejection,
                });
                if outcome.changed {
                    if let Err(e) = self.persist(&ws, &doc_id, &outcome.created) {
                        tracing::error!(doc, error = %e, "storing accepted changes failed");
                        self.start_over(session, &ws, &doc_id);
                        return Err(DocRefusal::NotStored { doc: named() });
                    }
                    reply.changed = true;
                }
            }
            Err(rejection) => {
                tracing::warn!(device = %session.device.id, doc, reason = %rejection.message, "changes refused");
                let unsound = rejection.code == ErrorCode::Internal;
                let refusal = DocRefusal::Gate {
                    doc: named(),
                    rejection,
                };
                if unsound {
                    // The gate could not put the document back.
                    self.start_over(session, &ws, &doc_id);
                    return Err(refusal);
                }
                // Refused changes; the device still hears what the server has.
                reply.refused = Some(refusal);
            }
        }
        let state = session.states.get_mut(&doc_id).expect("loaded above");
        let slot = self.docs.get_mut(&key).expect("loaded above");
        reply.message = accept::reply(&mut slot.doc, state, &need).map(|m| m.encode());
        session.unsaved.insert(doc_id);
        Ok(reply)
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
            closed: Default::default(),
            team: None,
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
            store_version: 0,
            doc_epoch: 0,
            closed: Default::default(),
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
            last_seen_at: None,
            wiped_at: None,
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

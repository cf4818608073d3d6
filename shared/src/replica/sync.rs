//! The client side of sync: which documents to exchange, Automerge sync messages in and out with a
//! persisted `sync::State` per document, and binding the replica to a server's workspace.

use super::edit::RecordEdit;
use super::{LoadedDoc, META_TEAM, META_WORKSPACE, Replica, meta_get, meta_set};
use crate::doc::{self, DocId, storable};
use crate::domain::{FieldMap, FieldValue, Record, RecordKind, Visit};
use crate::error::{Error, Result};
use crate::sync::{Access, AccessPolicy, DocMessage, ManifestEntry, Role};
use automerge::sync::{ChunkList, Message, State, SyncDoc};
use automerge::{AutoCommit, ChangeHash};
use rayon::prelude::*;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

const META_SERVER_URL: &str = "server_url";
const META_DEVICE: &str = "server_device";
const META_TOKEN: &str = "server_token";
const META_SERVER_CA: &str = "server_ca_cert";
const META_ROLE: &str = "server_role";
const META_SERVER_TEAM: &str = "server_team";
const META_LAST_SYNC: &str = "last_sync";

/// The server this replica syncs with, as joining recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerBinding {
    /// Base URL, e.g. `ws://127.0.0.1:7700`.
    pub url: String,
    /// Device id on the server.
    pub device: String,
    /// Bearer token (kept on the device only).
    #[serde(skip)]
    pub token: String,
    /// Workspace id.
    pub workspace: String,
    /// Role.
    pub role: Role,
    /// Team, for workers.
    pub team: Option<String>,
    /// A CA certificate (PEM) the server's certificate is checked against besides the usual
    /// roots: a municipality's private CA, given at join and remembered.
    #[serde(skip)]
    pub ca_cert: Option<String>,
}

/// What joining did with what the replica held before.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JoinReport {
    /// Places made offline that will be merged into the workspace.
    pub places: usize,
    /// Visits re-filed under the device's team in the workspace.
    pub visits_refiled: usize,
    /// Visits that stay on this device only (the role cannot share them).
    pub visits_local_only: usize,
    /// Directory entries that stay on this device only (the role cannot add to the directory).
    pub orgs_local_only: usize,
}

/// A received document already loaded, with the bytes it was loaded from.
type Preloaded = (AutoCommit, Vec<u8>);

/// What a received message changed in a document.
struct Received {
    /// The document had nothing stored before: index all of it.
    whole: bool,
    /// Otherwise, the records that changed.
    records: Vec<String>,
}

/// Records the heads the server said it has for `doc_id` (see `Replica::unsent_changes`).
fn store_server_heads(
    conn: &rusqlite::Connection,
    doc_id: &DocId,
    heads: &[ChangeHash],
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO server_heads (doc_id, heads) VALUES (?1, ?2)
         ON CONFLICT (doc_id) DO UPDATE SET heads = excluded.heads",
    )?
    .execute(params![
        doc_id.to_string(),
        crate::store::encode_heads(heads)
    ])?;
    Ok(())
}

fn hashes(heads: &[[u8; 32]]) -> Vec<ChangeHash> {
    let mut h: Vec<ChangeHash> = heads.iter().map(|b| ChangeHash(*b)).collect();
    h.sort();
    h
}

impl Replica {
    /// The server binding, if the replica joined one.
    pub fn server(&self) -> Result<Option<ServerBinding>> {
        let Some(url) = meta_get(&self.conn, META_SERVER_URL)? else {
            return Ok(None);
        };
        let get = |k| meta_get(&self.conn, k).map(Option::unwrap_or_default);
        Ok(Some(ServerBinding {
            url,
            device: get(META_DEVICE)?,
            token: get(META_TOKEN)?,
            workspace: get(META_WORKSPACE)?,
            role: get(META_ROLE)?.parse().unwrap_or(Role::Member),
            team: meta_get(&self.conn, META_SERVER_TEAM)?,
            ca_cert: meta_get(&self.conn, META_SERVER_CA)?,
        }))
    }

    /// The access rules of this device (everything, before joining a server).
    pub fn policy(&self) -> Result<AccessPolicy> {
        Ok(match self.server()? {
            Some(s) => AccessPolicy {
                role: s.role,
                team: s.team,
            },
            None => AccessPolicy {
                role: Role::Coordinator,
                team: None,
            },
        })
    }

    /// Binds the replica to a server's workspace after an invite was exchanged. Places made offline
    /// are kept and merge into the workspace; visits are re-filed under the device's team, or stay
    /// on the device when the role cannot share them; the local workspace document is dropped.
    pub fn bind_server(&mut self, binding: ServerBinding, person: &str) -> Result<JoinReport> {
        if let Some(existing) = self.server()? {
            return Err(Error::AlreadyJoined(existing.url));
        }
        self.set_person(person)?;
        let policy = AccessPolicy {
            role: binding.role,
            team: binding.team.clone(),
        };
        let mut report = JoinReport::default();
        let local_workspace = meta_get(&self.conn, META_WORKSPACE)?;
        if local_workspace
            .as_deref()
            .is_some_and(|w| w != binding.workspace)
        {
            self.drop_doc(&DocId::Workspace)?;
            for doc_id in self.doc_ids()? {
                match &doc_id {
                    DocId::Places(_) => {
                        report.places +=
                            doc::record_ids(&self.loaded(&doc_id)?.doc, RecordKind::Place).len();
                    }
                    // Entries a member made before joining are its own: they carry its device as
                    // owner, so the server accepts them as the member's entries.
                    DocId::Orgs if binding.role == Role::Member => {
                        let ids = doc::record_ids(&self.loaded(&doc_id)?.doc, RecordKind::Org);
                        let owner = FieldMap::from([(
                            "owner".to_string(),
                            FieldValue::Str(binding.device.clone()),
                        )]);
                        let edits = ids
                            .iter()
                            .map(|id| RecordEdit {
                                doc_id: DocId::Orgs,
                                kind: RecordKind::Org,
                                id: id.clone(),
                                fields: owner.clone(),
                                created: false,
                            })
                            .collect();
                        self.apply(edits)?;
                    }
                    DocId::Orgs if policy.access(&doc_id) != Access::Write => {
                        report.orgs_local_only +=
                            doc::record_ids(&self.loaded(&doc_id)?.doc, RecordKind::Org).len();
                    }
                    // Already under the device's team (a join retried after a failure): keep.
                    DocId::Visits { team, .. } if Some(team) == binding.team.as_ref() => {}
                    DocId::Visits { .. } => {
                        let ids = doc::record_ids(&self.loaded(&doc_id)?.doc, RecordKind::Visit);
                        match &binding.team {
                            Some(team) => {
                                let mut edits = Vec::new();
                                for id in &ids {
                                    let fields = doc::read_record(
                                        &self.loaded(&doc_id)?.doc,
                                        RecordKind::Visit,
                                        id,
                                    )
                                    .unwrap_or_default();
                                    let visit = Visit {
                                        team: team.clone(),
                                        ..Visit::from_fields(id, &fields)
                                    };
                                    edits.push(RecordEdit::create(&visit));
                                }
                                self.apply(edits)?;
                                self.drop_doc(&doc_id)?;
                                report.visits_refiled += ids.len();
                            }
                            None => report.visits_local_only += ids.len(),
                        }
                    }
                    _ => {}
                }
            }
        }
        meta_set(&self.conn, META_SERVER_URL, &binding.url)?;
        meta_set(&self.conn, META_DEVICE, &binding.device)?;
        meta_set(&self.conn, META_TOKEN, &binding.token)?;
        if let Some(ca) = &binding.ca_cert {
            meta_set(&self.conn, META_SERVER_CA, ca)?;
        }
        meta_set(&self.conn, META_ROLE, &binding.role.to_string())?;
        meta_set(&self.conn, META_WORKSPACE, &binding.workspace)?;
        match &binding.team {
            Some(team) => {
                meta_set(&self.conn, META_SERVER_TEAM, team)?;
                meta_set(&self.conn, META_TEAM, team)?;
            }
            None => {
                self.conn.execute(
                    "DELETE FROM meta WHERE key IN (?1, ?2)",
                    [META_SERVER_TEAM, META_TEAM],
                )?;
            }
        }
        self.conn
            .execute_batch("DELETE FROM sync_states; DELETE FROM server_heads;")?;
        self.sync_states.clear();
        Ok(report)
    }

    /// Removes a document and its index rows from this replica.
    fn drop_doc(&mut self, doc_id: &DocId) -> Result<()> {
        let key = doc_id.to_string();
        let tx = self.conn.transaction()?;
        super::drop_doc_rows(&tx, &key)?;
        tx.commit()?;
        self.docs.remove(doc_id);
        self.sync_states.remove(doc_id);
        Ok(())
    }

    /// Starts a sync session: forgets in-flight bookkeeping of an earlier connection (the persisted
    /// shared heads stay, so a reconnect sends only what is new).
    pub fn begin_sync_session(&mut self) {
        self.sync_states.clear();
        self.server_heads.clear();
    }

    fn sync_state(&mut self, doc_id: &DocId) -> Result<&mut State> {
        if !self.sync_states.contains_key(doc_id) {
            let state = self.stored_sync_state(doc_id)?;
            self.sync_states.insert(doc_id.clone(), state);
        }
        Ok(self.sync_states.get_mut(doc_id).expect("just inserted"))
    }

    /// The sync state of `doc_id` as last stored, by this process or another one (the app's
    /// background sync, `ibasho sync`).
    pub(super) fn stored_sync_state(&self, doc_id: &DocId) -> Result<State> {
        let stored: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT state FROM sync_states WHERE doc_id = ?1")?
            .query_row([doc_id.to_string()], |r| r.get(0))
            .optional()?;
        Ok(stored
            .and_then(|b| State::decode(&b).ok())
            .unwrap_or_default())
    }

    /// The heads the server last said it has for `doc_id`, as stored.
    pub(super) fn stored_server_heads(&self, doc_id: &DocId) -> Result<Vec<ChangeHash>> {
        let stored: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT heads FROM server_heads WHERE doc_id = ?1")?
            .query_row([doc_id.to_string()], |r| r.get(0))
            .optional()?;
        Ok(crate::store::decode_heads(&stored.unwrap_or_default()))
    }

    /// Writes the sync states of `doc_ids` in one transaction.
    fn save_sync_states(&mut self, doc_ids: &[DocId]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO sync_states (doc_id, state) VALUES (?1, ?2)
                 ON CONFLICT (doc_id) DO UPDATE SET state = excluded.state",
            )?;
            for doc_id in doc_ids {
                if let Some(state) = self.sync_states.get(doc_id) {
                    stmt.execute(params![doc_id.to_string(), state.encode()])?;
                    if let Some(theirs) = &state.their_heads {
                        store_server_heads(&tx, doc_id, theirs)?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The next Automerge sync message for `doc_id`, if there is anything to say.
    pub fn sync_message(&mut self, doc_id: &DocId) -> Result<Option<Vec<u8>>> {
        let message = self.generate(doc_id)?;
        self.save_sync_states(std::slice::from_ref(doc_id))?;
        Ok(message)
    }

    /// Generates the next message for `doc_id` (the caller saves the sync state).
    fn generate(&mut self, doc_id: &DocId) -> Result<Option<Vec<u8>>> {
        self.loaded(doc_id)?;
        let mut state = std::mem::take(self.sync_state(doc_id)?);
        let LoadedDoc { doc, .. } = self.docs.get_mut(doc_id).expect("loaded above");
        let message = doc
            .sync()
            .generate_sync_message(&mut state)
            .map(Message::encode);
        self.sync_states.insert(doc_id.clone(), state);
        Ok(message)
    }

    /// Messages for `doc_ids` that have something to say, with the sync states saved once.
    fn generate_all(&mut self, doc_ids: &[DocId]) -> Result<Vec<DocMessage>> {
        let mut out = Vec::new();
        for doc_id in doc_ids {
            if let Some(message) = self.generate(doc_id)? {
                out.push(DocMessage {
                    doc: doc_id.to_string(),
                    message,
                });
            }
        }
        self.save_sync_states(doc_ids)?;
        Ok(out)
    }

    /// Receives an Automerge sync message for `doc_id`; new changes are stored and indexed.
    /// Returns whether the document changed.
    pub fn receive_sync_message(&mut self, doc_id: &DocId, bytes: &[u8]) -> Result<bool> {
        let mut received = self.receive_sync_messages(vec![(doc_id.clone(), bytes)], false)?;
        Ok(received.pop().is_some_and(|(_, changed)| changed.is_some()))
    }

    /// Like [`Replica::receive_sync_message`], but says which records changed (`None` when the
    /// document did not change).
    pub fn receive_sync_message_records(
        &mut self,
        doc_id: &DocId,
        bytes: &[u8],
    ) -> Result<Option<Vec<String>>> {
        let mut received = self.receive_sync_messages(vec![(doc_id.clone(), bytes)], true)?;
        Ok(received.pop().and_then(|(_, changed)| changed))
    }

    /// Receives a batch of sync messages (one frame from the server). Everything that changed is
    /// stored and indexed in one transaction. For each message: `None` when its document did not
    /// change, else the records that changed (listed only `with_records`; empty otherwise). On
    /// any error nothing of the batch is stored and the documents reload from what is.
    pub fn receive_sync_messages(
        &mut self,
        messages: Vec<(DocId, &[u8])>,
        with_records: bool,
    ) -> Result<Vec<(DocId, Option<Vec<String>>)>> {
        let touched: Vec<DocId> = messages.iter().map(|(id, _)| id.clone()).collect();
        let result = (|| {
            let mut decoded = Vec::with_capacity(messages.len());
            for (doc_id, bytes) in messages {
                let message = Message::decode(bytes)
                    .map_err(|e| Error::Protocol(format!("{doc_id}: {e}")))?;
                crate::sync::receive::sound_message(&message)
                    .map_err(|e| Error::Protocol(format!("{doc_id}: {e}")))?;
                decoded.push((doc_id, message));
            }
            let mut preloaded = self.load_whole_documents(&decoded)?;
            let mut out = Vec::new();
            let mut changed = Vec::new();
            let mut whole = Vec::new();
            let mut records = Vec::new();
            for (i, (doc_id, message)) in decoded.into_iter().enumerate() {
                let Some(received) =
                    self.apply_sync_message(&doc_id, message, preloaded[i].take())?
                else {
                    out.push((doc_id, None));
                    continue;
                };
                if !changed.contains(&doc_id) {
                    changed.push(doc_id.clone());
                }
                if received.whole {
                    whole.push(doc_id.clone());
                } else if let Some(kind) = doc_id.record_kind() {
                    records.extend(
                        received
                            .records
                            .iter()
                            .map(|id| (doc_id.clone(), kind, id.clone())),
                    );
                }
                let listed = if !with_records {
                    Vec::new()
                } else if received.whole {
                    let kind = doc_id.record_kind();
                    let doc = &self.docs[&doc_id].doc;
                    kind.map(|k| doc::record_ids(doc, k)).unwrap_or_default()
                } else {
                    received.records
                };
                out.push((doc_id, Some(listed)));
            }
            records.retain(|(doc_id, _, _)| !whole.contains(doc_id));
            self.persist_received(&changed, &records, &whole)?;
            self.save_sync_states(&touched)?;
            Ok(out)
        })();
        if result.is_err() {
            for doc_id in &touched {
                self.sync_states.remove(doc_id);
            }
            self.evict(touched);
        }
        // Edits kept from an earlier epoch are made again once the new one is here.
        if let Ok(received) = &result {
            let arrived: Vec<DocId> = received
                .iter()
                .filter(|(_, changed)| changed.is_some())
                .map(|(doc_id, _)| doc_id.clone())
                .collect();
            self.make_pending_again(&arrived)?;
        }
        result
    }

    /// For messages bringing documents this device has nothing of yet (a cold sync): what they
    /// carry, loaded as whole documents on every core, with its bytes. `None` for the others and
    /// for bytes that do not load on their own.
    fn load_whole_documents(
        &mut self,
        messages: &[(DocId, Message)],
    ) -> Result<Vec<Option<Preloaded>>> {
        let mut bytes = Vec::with_capacity(messages.len());
        for (doc_id, message) in messages {
            let fresh = self.loaded(doc_id)?.saved_heads.is_empty()
                && !self.sync_state(doc_id)?.read_only
                && !message.changes.is_empty();
            bytes.push(fresh.then(|| {
                message
                    .changes
                    .iter()
                    .flatten()
                    .copied()
                    .collect::<Vec<u8>>()
            }));
        }
        Ok(bytes
            .into_par_iter()
            .map(|b| {
                b.and_then(|b| {
                    let loaded = storable::guarded(|| AutoCommit::load(&b));
                    loaded.ok()?.ok().map(|doc| (doc, b))
                })
            })
            .collect())
    }

    /// Applies one sync message to the document in memory (storing is the caller's). `whole` is
    /// what the message carries, already loaded as a document. `None` when nothing changed.
    fn apply_sync_message(
        &mut self,
        doc_id: &DocId,
        mut message: Message,
        whole: Option<Preloaded>,
    ) -> Result<Option<Received>> {
        self.loaded(doc_id)?;
        let mut state = std::mem::take(self.sync_state(doc_id)?);
        let entry = self.docs.get_mut(doc_id).expect("loaded above");
        let before = entry.doc.get_heads();
        // A panic inside Automerge is an error like any other: the caller reloads the document
        // and its sync state from the store.
        let received = storable::guarded(|| {
            // Taken in as a whole document: the sync state then sees only the heads, all known.
            if let Some((incoming, bytes)) = whole
                && entry.take_loaded(incoming, &bytes)
            {
                message.changes = ChunkList::empty();
            }
            crate::sync::receive::receive_message(&mut entry.doc, &mut state, message)
        });
        self.sync_states.insert(doc_id.clone(), state);
        received.map_err(|why| Error::Damaged {
            doc: doc_id.to_string(),
            why,
        })??;
        let after = entry.doc.get_heads();
        if after == before {
            return Ok(None);
        }
        // Nothing of the document stored yet: every record is indexed, no need to list them.
        if entry.saved_heads.is_empty() {
            return Ok(Some(Received {
                whole: true,
                records: Vec::new(),
            }));
        }
        let mut records: Vec<String> = entry
            .doc
            .diff(&before, &after)
            .into_iter()
            .filter_map(|patch| match (patch.path.get(1), &patch.action) {
                (Some((_, automerge::Prop::Map(id))), _) => Some(id.clone()),
                (None, automerge::PatchAction::PutMap { key, .. }) if patch.path.len() == 1 => {
                    Some(key.clone())
                }
                _ => None,
            })
            .collect();
        records.sort();
        records.dedup();
        Ok(Some(Received {
            whole: false,
            records,
        }))
    }

    /// The first messages of a session: every document whose heads differ from the server's
    /// manifest, and documents of this device's that the server does not have yet and the device
    /// may write.
    pub fn sync_plan(&mut self, manifest: &[ManifestEntry]) -> Result<Vec<DocMessage>> {
        let policy = self.policy()?;
        let mut ids = Vec::new();
        let mut listed = std::collections::HashSet::new();
        let listed_heads: Vec<(DocId, Vec<ChangeHash>)> = manifest
            .iter()
            .filter_map(|entry| Some((entry.doc.parse::<DocId>().ok()?, hashes(&entry.heads))))
            .collect();
        // What the server says it has, stored in one transaction.
        let tx = self.conn.unchecked_transaction()?;
        for (doc_id, theirs) in &listed_heads {
            store_server_heads(&tx, doc_id, theirs)?;
        }
        tx.commit()?;
        for (doc_id, theirs) in listed_heads {
            listed.insert(doc_id.clone());
            self.server_heads.insert(doc_id.clone(), theirs.clone());
            let mut local = self.doc_heads(&doc_id)?;
            local.sort();
            if local != theirs {
                ids.push(doc_id);
            }
        }
        for doc_id in self.doc_ids()? {
            if !listed.contains(&doc_id) && policy.access(&doc_id) == Access::Write {
                ids.push(doc_id);
            }
        }
        self.generate_all(&ids)
    }

    /// Messages for the documents of the session that have something to say: those being synced,
    /// and those edited here since the server's manifest (after receiving, or after local edits).
    pub fn pending_sync_messages(&mut self) -> Result<Vec<DocMessage>> {
        let policy = self.policy()?;
        let mut ids: Vec<DocId> = self.sync_states.keys().cloned().collect();
        for doc_id in self.doc_ids()? {
            if ids.contains(&doc_id) || policy.access(&doc_id) != Access::Write {
                continue;
            }
            let edited = match self.server_heads.get(&doc_id).cloned() {
                Some(theirs) => {
                    let mut local = self.doc_heads(&doc_id)?;
                    local.sort();
                    local != theirs
                }
                None => true,
            };
            if edited {
                ids.push(doc_id);
            }
        }
        ids.sort();
        self.generate_all(&ids)
    }

    /// Changes made here that the server is not known to have, over every document this device may
    /// write.
    pub fn unsent_changes(&mut self) -> Result<usize> {
        let policy = self.policy()?;
        let mut total = 0;
        for doc_id in self.doc_ids()? {
            if policy.access(&doc_id) != Access::Write {
                continue;
            }
            // As stored: another process (the app's background sync) may have sent them since.
            // What the server said it has counts too: a state saved before the server restarted
            // can lag behind what it acknowledged since.
            let mut known = self.stored_sync_state(&doc_id)?.shared_heads;
            known.extend(self.stored_server_heads(&doc_id)?);
            let actor = self.actor.clone();
            let doc = &mut self.loaded(&doc_id)?.doc;
            known.retain(|h| doc.get_change_meta_by_hash(h).is_some());
            known.sort();
            known.dedup();
            total += doc
                .get_changes_meta(&known)
                .iter()
                .filter(|c| *c.actor == actor)
                .count();
        }
        Ok(total)
    }

    /// Records that a sync round completed now.
    pub fn record_sync(&mut self) -> Result<()> {
        meta_set(&self.conn, META_LAST_SYNC, &chrono::Utc::now().to_rfc3339())?;
        Ok(())
    }

    /// When the last sync round completed (RFC 3339, UTC).
    pub fn last_sync(&self) -> Result<Option<String>> {
        Ok(meta_get(&self.conn, META_LAST_SYNC)?)
    }
}

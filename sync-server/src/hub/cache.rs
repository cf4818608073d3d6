//! The documents held in memory: loaded on demand, dropped when idle or when memory is needed, and
//! compared with the store again after another process (the admin CLI) wrote to it.

use super::*;

/// A document held in memory.
pub(super) struct DocSlot {
    pub(super) doc: AutoCommit,
    pub(super) saved_heads: Vec<ChangeHash>,
    pub(super) last_used: Instant,
    /// [`Inner::store_version`] when `saved_heads` were last compared with the store.
    pub(super) store_version: u64,
    /// The document's epoch as loaded (see `ibasho_shared::doc::epoch`).
    pub(super) doc_epoch: u32,
    /// The changes of its closed epochs, which the gate refuses (empty at epoch 0).
    pub(super) closed: std::sync::Arc<std::collections::HashSet<ChangeHash>>,
    /// Sync work done at the document's current heads, reused for devices in the same state.
    pub(super) memo: SyncMemo,
    /// Chunks stored after the document's snapshot, when known (counted again after another
    /// process wrote to the store).
    pub(super) chunks: Option<i64>,
    /// The chunks of the last message accepted, when they hold exactly what is not yet stored:
    /// stored as they came instead of encoding the changes again.
    pub(super) unsaved_chunks: Option<Vec<u8>>,
    /// The last change accepted, as its sender encoded it: pushed as it is (see [`push`]).
    pub(super) accepted: Option<push::Accepted>,
}

/// How stale the hub's view of other processes' writes to the store may be: a revocation or an
/// admin edit is seen within this time. (Storing changes always looks first, so nothing the admin
/// CLI stored is overwritten.) Each look is a SQLite query: at 1 ms they were 3 % of the server's
/// time under load.
pub(super) const OBSERVE_EVERY: Duration = Duration::from_millis(10);

/// A sync state naming changes the document does not hold (stored before a failed write, or
/// before the store was restored from a backup) would have the server tell the device it has them,
/// and the device would never send them: such a state starts over, and the exchange finds what
/// each side lacks.
pub(super) fn forget_unknown_heads(doc: &mut AutoCommit, state: &mut State) {
    let mut known = |h: &ChangeHash| doc.get_change_meta_by_hash(h).is_some();
    if !state.shared_heads.iter().all(&mut known) || !state.last_sent_heads.iter().all(&mut known) {
        *state = State::new();
    }
}

impl Inner {
    /// Reads SQLite's `data_version` (at most every [`OBSERVE_EVERY`] unless `now`); returns
    /// [`Inner::store_version`], advanced if another process committed since the last read.
    pub(super) fn observe_external_writes(&mut self, now: bool) -> u64 {
        if !now
            && self
                .observed_at
                .is_some_and(|t| t.elapsed() < OBSERVE_EVERY)
        {
            return self.store_version;
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
                self.store_version += 1;
            }
            // Unknown: assume someone wrote.
            Err(_) => self.store_version += 1,
        }
        self.store_version
    }

    /// Whether the workspace has this team: created by the admin CLI, or by a coordinator in the
    /// workspace document.
    pub(super) fn team_exists(&mut self, ws: &str, team: &str) -> bool {
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
    pub(super) fn slot(
        &mut self,
        ws: &str,
        doc_id: &DocId,
    ) -> Result<&mut DocSlot, doc_store::LoadError> {
        let key = store::doc_key(ws, &doc_id.to_string());
        let version = self.store_version;
        if let Some(slot) = self.docs.get_mut(&key)
            && slot.store_version == version
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
        // Another process (the admin CLI) rewrote the document for a new epoch: what memory holds
        // is the closed epoch, never merged with the new one; the devices connect again.
        let doc_epoch = store::epoch_of(&self.conn, ws, &doc_id.to_string())?;
        if stale
            && let Some(old) = self.docs.get(&key)
            && old.doc_epoch != doc_epoch
        {
            self.docs.remove(&key);
            self.announce_epoch(ws, doc_id, version);
        }
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
                        store_version: version,
                        doc_epoch,
                        closed: if doc_epoch == 0 {
                            Default::default()
                        } else {
                            std::sync::Arc::new(store::closed_changes(
                                &self.conn,
                                ws,
                                &doc_id.to_string(),
                            )?)
                        },
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
        slot.store_version = version;
        Ok(slot)
    }
}

impl Hub {
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

/// Gives memory freed by dropped documents back to the operating system; glibc's allocator keeps
/// it otherwise, so the server's RSS would stay at its peak.
pub(super) fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it touches no live memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

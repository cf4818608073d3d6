//! Storing accepted changes (appended chunks, compaction) and the admin CLI's writes.

use super::*;

impl Inner {
    /// Appends a document's unsaved changes to the store, with where the records they `created`
    /// live; compacts when chunks pile up.
    pub(super) fn persist(
        &mut self,
        ws: &str,
        doc_id: &DocId,
        created: &[String],
    ) -> anyhow::Result<()> {
        let name = doc_id.to_string();
        let key = store::doc_key(ws, &name);
        // The admin CLI writes to the same store from another process: take in what it stored
        // since this document was loaded, so its changes are neither overwritten nor compacted away.
        let version = self.observe_external_writes(true);
        let unchecked = self
            .docs
            .get(&key)
            .is_some_and(|s| s.store_version != version);
        let stored = if unchecked {
            store::heads_of(&self.conn, ws, &name)?.map(|b| store::decode_heads(&b))
        } else {
            None
        };
        // An erasure rewrote the document meanwhile (the admin CLI): what memory holds belongs to
        // the closed epoch and is not stored; the devices connect again and send their edits on
        // the new one.
        if unchecked
            && self
                .docs
                .get(&key)
                .is_some_and(|s| store::epoch_of(&self.conn, ws, &name).ok() != Some(s.doc_epoch))
        {
            self.docs.remove(&key);
            self.announce_epoch(ws, doc_id, version);
            anyhow::bail!(
                "{name} started a new epoch meanwhile; nothing of the closed one is stored"
            );
        }
        let slot = self
            .docs
            .get_mut(&key)
            .expect("persisted documents are loaded");
        slot.store_version = version;
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

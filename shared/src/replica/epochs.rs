//! Epochs on the device (see [`crate::doc::epoch`]): taking a document's new epoch — the copy
//! replaced, this device's own edits made on the old one kept and made again on the new, except
//! erased values —, the erase log, discarding a change the server refuses, and wiping a revoked
//! device.
//!
//! A device's own edits are what its copy holds beyond the state the server is known to have
//! (the heads both sides share): compared record by record and field by field, they are kept as
//! values, not as Automerge changes, so they can be made again on a document with another history.

use super::Replica;
use super::edit::RecordEdit;
use crate::doc::epoch::Erasure;
use crate::doc::{self, DocId};
use crate::domain::{FieldMap, RecordKind};
use crate::error::{Error, Result};
use crate::store::doc_store;
use crate::sync::{Access, ManifestEntry};
use rusqlite::{OptionalExtension, params};

/// An edit made on this device and not known to the server: a record's changed fields.
#[derive(Debug, Clone, PartialEq)]
struct OwnEdit {
    kind: RecordKind,
    record: String,
    /// The record did not exist in the state the server is known to have.
    created: bool,
    fields: FieldMap,
}

/// What [`Replica::discard`] dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Discarded {
    /// Fields whose unsent values were dropped.
    pub fields: usize,
    /// Records created here, and dropped whole.
    pub records: usize,
}

impl Replica {
    /// The epoch of `doc_id` this replica holds (0 before any erasure).
    pub fn doc_epoch(&self, doc_id: &DocId) -> Result<u32> {
        Ok(self
            .conn
            .query_row(
                "SELECT epoch FROM doc_epochs WHERE doc_id = ?1",
                [doc_id.to_string()],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    /// Takes the epochs of the server's manifest and its erase log (from `Welcome`): every document
    /// this device holds at an earlier epoch is replaced — its copy dropped, to come again whole
    /// from the server — and this device's own edits to it that the server does not have are kept
    /// to be made again on the new epoch once it arrives, but for the values erased. Returns the
    /// documents replaced.
    pub fn take_epochs(
        &mut self,
        manifest: &[ManifestEntry],
        erasures: &[Erasure],
    ) -> Result<Vec<DocId>> {
        {
            let tx = self.conn.unchecked_transaction()?;
            for erasure in erasures {
                tx.execute(
                    "INSERT INTO erasures (doc_id, epoch, json) VALUES (?1, ?2, ?3)
                     ON CONFLICT (doc_id, epoch) DO UPDATE SET json = excluded.json",
                    params![
                        erasure.doc,
                        erasure.epoch,
                        serde_json::to_string(erasure).expect("an erasure encodes")
                    ],
                )?;
            }
            tx.commit()?;
        }
        let mut replaced = Vec::new();
        for entry in manifest {
            let Ok(doc_id) = entry.doc.parse::<DocId>() else {
                continue;
            };
            let held = self.doc_epoch(&doc_id)?;
            if entry.epoch <= held {
                continue;
            }
            let closing: Vec<&Erasure> = erasures
                .iter()
                .filter(|e| e.doc == entry.doc && e.epoch > held)
                .collect();
            // Edits kept from an earlier epoch and not yet made again lose what this one erases.
            self.filter_pending(&entry.doc, &closing)?;
            if doc_store::load(&self.conn, &entry.doc)?.is_some() {
                self.replace(&doc_id, entry.epoch, &closing)?;
                replaced.push(doc_id);
            } else {
                self.set_epoch(&doc_id, entry.epoch)?;
            }
        }
        if !replaced.is_empty() {
            self.scrub()?;
        }
        Ok(replaced)
    }

    /// Drops from the edits kept for `doc` (see [`Replica::take_epochs`]) every field `closing`
    /// erases, and the edits left with none.
    fn filter_pending(&self, doc: &str, closing: &[&Erasure]) -> Result<()> {
        if closing.is_empty() {
            return Ok(());
        }
        let rows: Vec<(String, String)> = self
            .conn
            .prepare("SELECT record, fields FROM rebase_pending WHERE doc_id = ?1")?
            .query_map([doc], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (record, fields) in rows {
            let mut fields: FieldMap = serde_json::from_str(&fields).unwrap_or_default();
            fields.retain(|field, _| !closing.iter().any(|e| e.covers(&record, field)));
            if fields.is_empty() {
                self.conn.execute(
                    "DELETE FROM rebase_pending WHERE doc_id = ?1 AND record = ?2",
                    params![doc, record],
                )?;
            } else {
                self.conn.execute(
                    "UPDATE rebase_pending SET fields = ?3 WHERE doc_id = ?1 AND record = ?2",
                    params![
                        doc,
                        record,
                        serde_json::to_string(&fields).expect("fields encode")
                    ],
                )?;
            }
        }
        Ok(())
    }

    /// The erase log this replica was told of, newest first (coordinators see reasons and names).
    pub fn erasures(&self) -> Result<Vec<Erasure>> {
        let mut stmt = self
            .conn
            .prepare("SELECT json FROM erasures ORDER BY json ->> '$.at' DESC, doc_id")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for json in rows {
            if let Ok(erasure) = serde_json::from_str(&json?) {
                out.push(erasure);
            }
        }
        Ok(out)
    }

    fn set_epoch(&self, doc_id: &DocId, epoch: u32) -> Result<()> {
        self.conn.execute(
            "INSERT INTO doc_epochs (doc_id, epoch) VALUES (?1, ?2)
             ON CONFLICT (doc_id) DO UPDATE SET epoch = excluded.epoch",
            params![doc_id.to_string(), epoch],
        )?;
        Ok(())
    }

    /// Replaces the copy of `doc_id` for `epoch`: this device's own edits are kept (but what
    /// `closing` erased), the copy and its index rows dropped, private notes of erased visits
    /// deleted; all in one transaction.
    fn replace(&mut self, doc_id: &DocId, epoch: u32, closing: &[&Erasure]) -> Result<()> {
        let writable = self.policy()?.access(doc_id) == Access::Write;
        let mut edits = if writable {
            self.own_edits(doc_id)?
        } else {
            Vec::new()
        };
        for edit in &mut edits {
            edit.fields
                .retain(|field, _| !closing.iter().any(|e| e.covers(&edit.record, field)));
        }
        edits.retain(|e| !e.fields.is_empty());
        // Visits whose records are erased take their private notes with them.
        let gone: Vec<String> = match doc_id.record_kind() {
            Some(RecordKind::Visit) => {
                let doc = &self.loaded(doc_id)?.doc;
                doc::record_ids(doc, RecordKind::Visit)
                    .into_iter()
                    .filter(|id| {
                        closing
                            .iter()
                            .any(|e| e.field.is_none() && e.covers(id, ""))
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        let key = doc_id.to_string();
        let tx = self.conn.transaction()?;
        for edit in &edits {
            tx.execute(
                "INSERT INTO rebase_pending (doc_id, kind, record, created, fields)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (doc_id, record) DO UPDATE SET created = excluded.created,
                   fields = excluded.fields",
                params![
                    key,
                    edit.kind.name(),
                    edit.record,
                    edit.created,
                    serde_json::to_string(&edit.fields).expect("fields encode")
                ],
            )?;
        }
        for id in &gone {
            tx.execute("DELETE FROM private_notes WHERE visit_id = ?1", [id])?;
        }
        super::drop_doc_rows(&tx, &key)?;
        tx.execute(
            "INSERT INTO doc_epochs (doc_id, epoch) VALUES (?1, ?2)
             ON CONFLICT (doc_id) DO UPDATE SET epoch = excluded.epoch",
            params![key, epoch],
        )?;
        tx.commit()?;
        self.forget_doc(doc_id);
        Ok(())
    }

    /// This device's edits to `doc_id` that the server is not known to have: every record
    /// compared, field by field, with the state both sides share.
    fn own_edits(&mut self, doc_id: &DocId) -> Result<Vec<OwnEdit>> {
        let Some(kind) = doc_id.record_kind() else {
            return Ok(Vec::new());
        };
        let known = self.known_to_server(doc_id)?;
        let entry = self.loaded(doc_id)?;
        let base = (!known.is_empty())
            .then(|| entry.doc.fork_at(&known).ok())
            .flatten();
        let mut edits = Vec::new();
        for (id, fields, _) in doc::all_records(&mut entry.doc, kind) {
            let before = base.as_ref().and_then(|b| doc::read_record(b, kind, &id));
            let (created, fields) = match before {
                None => (true, fields),
                Some(before) => (
                    false,
                    fields
                        .into_iter()
                        .filter(|(k, v)| before.get(k) != Some(v))
                        .collect(),
                ),
            };
            if !fields.is_empty() {
                edits.push(OwnEdit {
                    kind,
                    record: id,
                    created,
                    fields,
                });
            }
        }
        Ok(edits)
    }

    /// The records of `doc_id` this device has edits to that the server is not known to have.
    pub(super) fn unsent_records(&mut self, doc_id: &DocId) -> Result<Vec<String>> {
        Ok(self
            .own_edits(doc_id)?
            .into_iter()
            .map(|e| e.record)
            .collect())
    }

    /// The heads of `doc_id` the server is known to have that this copy holds: those both sides
    /// last shared, and those the server last named.
    fn known_to_server(&mut self, doc_id: &DocId) -> Result<Vec<automerge::ChangeHash>> {
        let mut known = self.stored_sync_state(doc_id)?.shared_heads;
        known.extend(self.stored_server_heads(doc_id)?);
        let doc = &mut self.loaded(doc_id)?.doc;
        known.retain(|h| doc.get_change_meta_by_hash(h).is_some());
        known.sort();
        known.dedup();
        Ok(known)
    }

    /// Makes again the edits kept for `doc_ids` (see [`Replica::take_epochs`]) on what each holds
    /// now: fields that differ are written, records created here are created again, edits of
    /// records the new epoch does not have are dropped.
    pub(super) fn make_pending_again(&mut self, doc_ids: &[DocId]) -> Result<()> {
        for doc_id in doc_ids {
            let key = doc_id.to_string();
            let rows: Vec<(String, String, bool, String)> = self
                .conn
                .prepare(
                    "SELECT kind, record, created, fields FROM rebase_pending WHERE doc_id = ?1",
                )?
                .query_map([&key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<_>>()?;
            if rows.is_empty() {
                continue;
            }
            let mut edits = Vec::new();
            for (kind, record, created, fields) in rows {
                let kind: RecordKind = kind.parse()?;
                let fields: FieldMap = serde_json::from_str(&fields).unwrap_or_default();
                edits.extend(self.edit_on_current(doc_id, kind, record, created, fields)?);
            }
            if !edits.is_empty() {
                self.apply(edits)?;
            }
            self.conn
                .execute("DELETE FROM rebase_pending WHERE doc_id = ?1", [&key])?;
        }
        Ok(())
    }

    /// The edit that gives `record` the `fields` kept for it, on what `doc_id` holds now.
    fn edit_on_current(
        &mut self,
        doc_id: &DocId,
        kind: RecordKind,
        record: String,
        created: bool,
        fields: FieldMap,
    ) -> Result<Option<RecordEdit>> {
        let current = doc::read_record(&self.loaded(doc_id)?.doc, kind, &record);
        Ok(match current {
            None if created => Some(RecordEdit {
                doc_id: doc_id.clone(),
                kind,
                id: record,
                fields,
                created: true,
            }),
            None => None,
            Some(current) => {
                let fields: FieldMap = fields
                    .into_iter()
                    .filter(|(k, v)| current.get(k) != Some(v))
                    .collect();
                (!fields.is_empty()).then(|| RecordEdit {
                    doc_id: doc_id.clone(),
                    kind,
                    id: record,
                    fields,
                    created: false,
                })
            }
        })
    }

    /// Drops this device's unsent value of `field` of `record` (every unsent edit of the record
    /// when `field` is `None`): for a change the server refuses, so that sync is clean again. The
    /// document is put back to the state the server is known to have, and this device's other
    /// unsent edits are made again on it.
    pub fn discard(&mut self, record: &str, field: Option<&str>) -> Result<Discarded> {
        let (_, doc_id) = self.locate(record)?;
        let mut edits = self.own_edits(&doc_id)?;
        let mut discarded = Discarded::default();
        for edit in &mut edits {
            if edit.record != record {
                continue;
            }
            if edit.created && field.is_none() {
                discarded.records += 1;
                edit.fields.clear();
                continue;
            }
            let before = edit.fields.len();
            edit.fields.retain(|k, _| field.is_some_and(|f| f != k));
            discarded.fields += before - edit.fields.len();
        }
        if discarded == Discarded::default() {
            return Err(Error::NotFound {
                kind: "unsent change",
                id: match field {
                    Some(f) => format!("{record} {f}"),
                    None => record.to_string(),
                },
            });
        }
        edits.retain(|e| !e.fields.is_empty());
        // The state the server is known to have, stored as the document's only snapshot.
        let known = self.known_to_server(&doc_id)?;
        let key = doc_id.to_string();
        let base = {
            let entry = self.loaded(&doc_id)?;
            if known.is_empty() {
                None
            } else {
                Some(entry.doc.fork_at(&known)?.save())
            }
        };
        let tx = self.conn.transaction()?;
        super::drop_doc_rows(&tx, &key)?;
        if let Some(bytes) = &base {
            doc_store::write_snapshot(&tx, &key, bytes)?;
        }
        tx.commit()?;
        self.forget_doc(&doc_id);
        if base.is_some() {
            self.reindex_doc(&doc_id)?;
        }
        let mut again = Vec::new();
        for e in edits {
            again.extend(self.edit_on_current(&doc_id, e.kind, e.record, e.created, e.fields)?);
        }
        if !again.is_empty() {
            self.apply(again)?;
        }
        self.forget_refusals_of(&doc_id.to_string(), record)?;
        self.scrub()?;
        Ok(discarded)
    }

    /// Deletes everything of the workspace on this device — documents, index, private notes, the
    /// server's token and what sync kept —, for a device its coordinator revoked. The device's
    /// own settings (language) stay.
    pub fn wipe(&mut self) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "DELETE FROM doc_snapshots; DELETE FROM doc_chunks; DELETE FROM places_fts;
             DELETE FROM place_targets; DELETE FROM places; DELETE FROM orgs; DELETE FROM visits;
             DELETE FROM referrals;
             DELETE FROM conflicts; DELETE FROM sync_states; DELETE FROM server_heads;
             DELETE FROM private_notes; DELETE FROM doc_epochs; DELETE FROM erasures;
             DELETE FROM rebase_pending; DELETE FROM stuck;
             DELETE FROM meta WHERE key NOT IN ('actor', 'lang', 'person');",
        )?;
        tx.commit()?;
        self.docs.clear();
        self.sync_states.clear();
        self.server_heads.clear();
        self.scrub()?;
        self.conn.execute_batch("VACUUM")?;
        Ok(())
    }

    /// After deleting what must be gone: the search index merged (its deleted entries dropped) and
    /// the write-ahead log written back and emptied, so no erased byte stays in either file.
    /// Another connection reading (the window and its syncer) holds the checkpoint up: SQLite says
    /// so as "busy", not as an error, and it is tried again for up to two seconds.
    pub(super) fn scrub(&mut self) -> Result<()> {
        self.conn.execute(
            "INSERT INTO places_fts (places_fts) VALUES ('optimize')",
            [],
        )?;
        for _ in 0..20 {
            let busy: i64 = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            if busy == 0 {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        tracing::warn!("the write-ahead log stayed busy; it is emptied at the next checkpoint");
        Ok(())
    }

    /// Forgets what memory holds of `doc_id` (its copy and sync bookkeeping).
    fn forget_doc(&mut self, doc_id: &DocId) {
        self.docs.remove(doc_id);
        self.sync_states.remove(doc_id);
        self.server_heads.remove(doc_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_kept_for_later_lose_what_a_later_erasure_erases() {
        let dir = tempfile::tempdir().unwrap();
        let replica = Replica::open(&dir.path().join("r.sqlite3")).unwrap();
        let doc = "visits/t1/2026-11";
        for (record, fields) in [
            (
                "a",
                r#"{"note":{"Str":"山田花子さん宅"},"people":{"Int":2}}"#,
            ),
            ("b", r#"{"people":{"Int":3}}"#),
        ] {
            replica
                .conn
                .execute(
                    "INSERT INTO rebase_pending (doc_id, kind, record, created, fields)
                     VALUES (?1, 'visit', ?2, 0, ?3)",
                    params![doc, record, fields],
                )
                .unwrap();
        }
        let erasure = |record: &str, field: Option<&str>| Erasure {
            doc: doc.into(),
            epoch: 2,
            record: Some(record.into()),
            field: field.map(Into::into),
            reason: "本人の申出".into(),
            by: "佐藤".into(),
            at: "2026-12-06T10:00:00Z".into(),
        };
        let (field, whole) = (erasure("a", Some("note")), erasure("b", None));
        replica.filter_pending(doc, &[&field, &whole]).unwrap();
        let left: Vec<(String, String)> = replica
            .conn
            .prepare("SELECT record, fields FROM rebase_pending")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(left.len(), 1, "the erased record's edit is gone: {left:?}");
        assert_eq!(left[0].0, "a");
        assert!(!left[0].1.contains("山田花子"), "{left:?}");
        assert!(left[0].1.contains("people"), "the rest is kept: {left:?}");
    }
}

//! The write path shared by every record kind: validate, apply, persist with the index, or change
//! nothing. Also merging documents received from elsewhere.

use super::{Replica, decode_hex};
use crate::doc::{self, ChangeNote, Conflict, DocId, HistoryEntry, storable};
use crate::domain::{FieldMap, FieldValue, ForKind, Record, RecordKind};
use crate::error::{Error, Result};
use crate::hours::now_jst;
use crate::store::doc_store;
use crate::store::index::{self, Indexed};
use crate::sync::{Fault, accept};
use automerge::AutoCommit;
use automerge::transaction::CommitOptions;
use rayon::prelude::*;
use rusqlite::{Connection, OptionalExtension};
use std::collections::{BTreeMap, HashMap};

/// One record write: which fields of which record, in which document.
pub(super) struct RecordEdit {
    pub(super) doc_id: DocId,
    pub kind: RecordKind,
    pub id: String,
    pub fields: FieldMap,
    pub created: bool,
}

impl RecordEdit {
    /// A new record: every field, in the document it lives in.
    pub(super) fn create<R: Record>(record: &R) -> Self {
        RecordEdit {
            doc_id: record.home(),
            kind: R::KIND,
            id: record.id().to_string(),
            fields: record.to_fields(),
            created: true,
        }
    }

    /// The fields that differ between `before` and `after`.
    pub(super) fn diff<R: Record>(doc_id: DocId, before: &R, after: &R) -> Self {
        let old = before.to_fields();
        let fields = after
            .to_fields()
            .into_iter()
            .filter(|(k, v)| old.get(k) != Some(v))
            .collect();
        RecordEdit {
            doc_id,
            kind: R::KIND,
            id: after.id().to_string(),
            fields,
            created: false,
        }
    }
}

fn now_iso() -> String {
    now_jst().format("%Y-%m-%dT%H:%M:%S").to_string()
}

impl Replica {
    /// Applies record edits: one Automerge change per document, all made durable in one SQLite
    /// transaction together with the index. On any failure nothing is kept.
    pub(super) fn apply(&mut self, edits: Vec<RecordEdit>) -> Result<()> {
        let person = self.person()?;
        let mut by_doc: BTreeMap<DocId, Vec<RecordEdit>> = BTreeMap::new();
        for edit in edits.into_iter().filter(|e| !e.fields.is_empty()) {
            by_doc.entry(edit.doc_id.clone()).or_default().push(edit);
        }
        if by_doc.is_empty() {
            return Ok(());
        }
        self.check_permitted(&by_doc)?;
        let touched: Vec<DocId> = by_doc.keys().cloned().collect();
        let result = (|| {
            let mut records = Vec::new();
            for (doc_id, edits) in &by_doc {
                let entry = self.loaded(doc_id)?;
                // One change per record, also in a batch: Automerge's sync sends a whole document
                // instead of changes once the changes to send exceed a third of the document's
                // change count, so one giant change would make every later small edit cost a
                // full document on the wire.
                for edit in edits {
                    if edit.created {
                        // A new record's empty fields read the same whether written as null or
                        // left out; each one written is an Automerge op, the bulk of the edit's cost.
                        let set: FieldMap = edit
                            .fields
                            .iter()
                            .filter(|(_, v)| !matches!(v, FieldValue::Null))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        doc::write_fields(&mut entry.doc, edit.kind, &edit.id, &set)?;
                    } else {
                        doc::write_fields(&mut entry.doc, edit.kind, &edit.id, &edit.fields)?;
                    }
                    let fields = if edit.created {
                        vec!["*".to_string()]
                    } else {
                        edit.fields.keys().cloned().collect()
                    };
                    let mut note = ChangeNote::by(&person);
                    note.touch(&edit.id, fields);
                    commit(&mut entry.doc, &note);
                    records.push((doc_id.clone(), edit.kind, edit.id.clone()));
                }
            }
            self.persist(&touched, &records, &[])
        })();
        if result.is_err() {
            self.evict(touched);
        }
        result
    }

    /// Applies a change to the workspace document and makes it durable.
    pub(super) fn edit_workspace(
        &mut self,
        f: impl FnOnce(&mut AutoCommit) -> Result<()>,
    ) -> Result<()> {
        let person = self.person()?;
        let result = (|| {
            let entry = self.loaded(&DocId::Workspace)?;
            f(&mut entry.doc)?;
            commit(&mut entry.doc, &ChangeNote::by(&person));
            self.persist(&[DocId::Workspace], &[], &[])
        })();
        if result.is_err() {
            self.evict([DocId::Workspace]);
        }
        result
    }

    /// Appends the unsaved changes of `docs` and re-indexes `records` and every record of the
    /// documents in `whole`, in one transaction. Then compacts documents whose chunks piled up.
    fn persist(
        &mut self,
        docs: &[DocId],
        records: &[(DocId, RecordKind, String)],
        whole: &[DocId],
    ) -> Result<()> {
        // Whole documents are read into index rows first, on every core (outside the transaction).
        let rows: HashMap<DocId, Vec<IndexRow>> = if whole.is_empty() {
            HashMap::new()
        } else {
            self.docs
                .iter_mut()
                .filter(|(id, _)| whole.contains(id))
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(|(id, entry)| (id.clone(), index_rows(&mut entry.doc, id)))
                .collect()
        };
        let tx = self.conn.transaction()?;
        for doc_id in docs {
            let entry = self
                .docs
                .get_mut(doc_id)
                .expect("persisted documents are loaded");
            let first_store = entry.saved_heads.is_empty();
            if first_store {
                // Nothing stored yet (e.g. a whole document just received): one compressed
                // snapshot is far cheaper to encode and store than every change on its own.
                let heads = entry.doc.get_heads();
                let bytes = match entry.received_whole.take() {
                    Some((at, bytes)) if at == heads => bytes,
                    _ => entry.doc.save(),
                };
                doc_store::write_snapshot(&tx, &doc_id.to_string(), &bytes)?;
            } else {
                let bytes = entry.doc.save_after(&entry.saved_heads);
                if !bytes.is_empty() {
                    doc_store::append_chunk(&tx, &doc_id.to_string(), &bytes)?;
                }
            }
            if let Some(rows) = rows.get(doc_id) {
                let key = doc_id.to_string();
                // A document stored for the first time has no index rows to clear.
                if !first_store {
                    index::clear_doc(&tx, &key)?;
                }
                for row in rows {
                    row.write(&tx, &key)?;
                }
            }
        }
        for (doc_id, kind, id) in records {
            reindex_record(&tx, &self.docs[doc_id].doc, doc_id, *kind, id)?;
        }
        tx.commit()?;
        for doc_id in docs {
            let entry = self
                .docs
                .get_mut(doc_id)
                .expect("persisted documents are loaded");
            entry.saved_heads = entry.doc.get_heads();
            if doc_store::chunk_count(&self.conn, &doc_id.to_string())?
                > doc_store::COMPACT_ON_EDIT_AFTER_CHUNKS
            {
                self.compact_doc(doc_id)?;
            }
        }
        Ok(())
    }

    /// Merges Automerge bytes received from elsewhere (a whole document or changes) into `doc_id`
    /// and updates the index. Returns whether anything new arrived. Bytes that are not Automerge
    /// change nothing, and neither do changes the server's gate would refuse (damaged, or breaking
    /// the shape or rules of the records they change): this device could never send them on.
    pub fn merge_doc(&mut self, doc_id: &DocId, bytes: &[u8]) -> Result<bool> {
        let rewritten = self.doc_epoch(doc_id)? > 0;
        let result = (|| {
            let entry = self.loaded(doc_id)?;
            let before = entry.doc.get_heads();
            // An erasure began this document again from its genesis with one rewrite change:
            // changes of the closed epoch start from the genesis some other way.
            let starts_before = rewritten
                .then(|| epoch_starts(&mut entry.doc))
                .filter(|s| !s.is_empty());
            let damaged = |why| Error::Damaged {
                doc: doc_id.to_string(),
                why,
            };
            let whole = entry.saved_heads.is_empty()
                && storable::guarded(|| entry.take_whole(bytes)).map_err(damaged)?;
            if !whole {
                // Indexes what the bytes change, so the check below diffs only that.
                entry.doc.update_diff_cursor();
                storable::guarded(|| entry.doc.load_incremental(bytes)).map_err(damaged)??;
            }
            if entry.doc.get_heads() == before {
                entry.doc.reset_diff_cursor();
                // Nothing new: either bytes we already have, or not Automerge at all (which
                // `load_incremental` skips silently). Say which.
                if !bytes.is_empty() {
                    storable::guarded(|| {
                        automerge::Automerge::load_with_options(
                            bytes,
                            automerge::LoadOptions::new()
                                .on_partial_load(automerge::OnPartialLoad::Error),
                        )
                    })
                    .map_err(damaged)??;
                }
                return Ok(false);
            }
            if let Some(starts) = starts_before
                && epoch_starts(&mut entry.doc) != starts
            {
                entry.doc.reset_diff_cursor();
                return Err(Error::Refused {
                    doc: doc_id.to_string(),
                    fault: Box::new(Fault::ClosedEpoch),
                });
            }
            let checked =
                storable::guarded(|| accept::check_taken_in(&mut entry.doc, doc_id, &before));
            // The index is not kept: it would grow with every later change. On an error the
            // document is loaded again from the store.
            entry.doc.reset_diff_cursor();
            match checked.map_err(Fault::Damaged).and_then(|c| c) {
                Ok(()) => {}
                Err(Fault::Damaged(why)) => return Err(damaged(why)),
                Err(fault) => {
                    return Err(Error::Refused {
                        doc: doc_id.to_string(),
                        fault: Box::new(fault),
                    });
                }
            }
            let doc_ids = std::slice::from_ref(doc_id);
            self.persist_received(doc_ids, &[], doc_ids)?;
            Ok(true)
        })();
        if result.is_err() {
            self.evict([doc_id.clone()]);
        }
        result
    }

    /// Stores changes that arrived from elsewhere in `doc_ids`, re-indexing the `records` they
    /// changed and every record of the documents in `whole`, in one transaction.
    pub(super) fn persist_received(
        &mut self,
        doc_ids: &[DocId],
        records: &[(DocId, RecordKind, String)],
        whole: &[DocId],
    ) -> Result<()> {
        if doc_ids.is_empty() {
            return Ok(());
        }
        self.persist(doc_ids, records, whole)?;
        if doc_ids.contains(&DocId::Workspace) {
            self.adopt_workspace()?;
        }
        Ok(())
    }

    /// Re-indexes every record of `doc_id` from what is stored (after its document was replaced).
    pub(super) fn reindex_doc(&mut self, doc_id: &DocId) -> Result<()> {
        let rows = index_rows(&mut self.loaded(doc_id)?.doc, doc_id);
        let key = doc_id.to_string();
        let tx = self.conn.transaction()?;
        index::clear_doc(&tx, &key)?;
        for row in &rows {
            row.write(&tx, &key)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Where a record lives: its kind and document.
    pub(super) fn locate(&self, id: &str) -> Result<(RecordKind, DocId)> {
        let found: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT 'place', doc_id FROM places WHERE id = ?1
                 UNION ALL SELECT 'org', doc_id FROM orgs WHERE id = ?1
                 UNION ALL SELECT 'visit', doc_id FROM visits WHERE id = ?1
                 UNION ALL SELECT 'referral', doc_id FROM referrals WHERE id = ?1 LIMIT 1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (kind, doc_id) = found.ok_or_else(|| Error::NotFound {
            kind: "record",
            id: id.to_string(),
        })?;
        Ok((kind.parse()?, doc_id.parse()?))
    }

    /// Reads a record of type `R` and the document it lives in.
    pub(super) fn record_in<R: Record>(&mut self, id: &str) -> Result<(DocId, R)> {
        let not_found = || Error::NotFound {
            kind: R::KIND.name(),
            id: id.to_string(),
        };
        let (kind, doc_id) = self.locate(id).map_err(|_| not_found())?;
        if kind != R::KIND {
            return Err(not_found());
        }
        let fields =
            doc::read_record(&self.loaded(&doc_id)?.doc, kind, id).ok_or_else(not_found)?;
        Ok((doc_id, R::from_fields(id, &fields)))
    }

    /// The record of kind `R` with this id (deleted ones too): `get::<Place>(id)`.
    pub fn get<R: Record>(&mut self, id: &str) -> Result<R> {
        Ok(self.record_in::<R>(id)?.1)
    }

    /// Sets one field a person may set from text (`name`, `lat`, `targets`, `follow_up_done`, …),
    /// validating the whole record first: `set::<Place>(id, "name", "…")`.
    pub fn set<R: Record>(&mut self, id: &str, field: &str, value: &str) -> Result<R> {
        let (doc_id, before) = self.record_in::<R>(id)?;
        let mut after = before.clone();
        after.set_text(field, value)?;
        after.edited(&before, now_jst().date());
        after.validate(now_jst())?;
        self.apply(vec![RecordEdit::diff(doc_id, &before, &after)])?;
        Ok(after)
    }

    /// Saves an edited record (from a form): what the app sets stays as stored, the record is
    /// checked whole, and only the fields that differ are written.
    pub fn update<R: Record>(&mut self, record: R) -> Result<R> {
        let (doc_id, before) = self.record_in::<R>(record.id())?;
        let mut fields = before.to_fields();
        for f in R::FIELDS
            .iter()
            .filter(|f| f.set_by == crate::domain::schema::SetBy::Person)
        {
            fields.insert(f.name.to_string(), (f.get)(&record));
        }
        let mut after = R::from_fields(record.id(), &fields);
        after.edited(&before, now_jst().date());
        after.validate(now_jst())?;
        self.apply(vec![RecordEdit::diff(doc_id, &before, &after)])?;
        Ok(after)
    }

    /// Marks a record deleted (a tombstone: it can be restored).
    pub fn delete<R: Record>(&mut self, id: &str) -> Result<()> {
        self.set_deleted::<R>(id, true)
    }

    /// Restores a deleted record.
    pub fn restore<R: Record>(&mut self, id: &str) -> Result<()> {
        self.set_deleted::<R>(id, false)
    }

    /// Sets or clears a record's tombstone.
    fn set_deleted<R: Record>(&mut self, id: &str, deleted: bool) -> Result<()> {
        let (doc_id, _) = self.record_in::<R>(id)?;
        let value = if deleted {
            FieldValue::Str(now_iso())
        } else {
            FieldValue::Null
        };
        let fields = FieldMap::from([("deleted_at".to_string(), value)]);
        self.apply(vec![RecordEdit {
            doc_id,
            kind: R::KIND,
            id: id.to_string(),
            fields,
            created: false,
        }])
    }

    /// Refuses at once what the server would refuse from this device's role, so that nothing is
    /// kept on the device that could never be sent: a member logging a visit, a worker writing
    /// another team's visits, a member changing another organization's entry, any role writing a
    /// document it may only read. Before joining a server, everything is allowed.
    fn check_permitted(&mut self, by_doc: &BTreeMap<DocId, Vec<RecordEdit>>) -> Result<()> {
        use crate::error::Permission;
        use crate::sync::{Access, Role};
        let Some(server) = self.server()? else {
            return Ok(());
        };
        let policy = crate::sync::AccessPolicy {
            role: server.role,
            team: server.team.clone(),
        };
        for (doc_id, edits) in by_doc {
            if policy.access(doc_id) != Access::Write {
                return Err(Error::NotPermitted(match (server.role, doc_id) {
                    (Role::Member, DocId::Visits { .. }) => Permission::MembersLogNoVisits,
                    (_, DocId::Visits { team, .. }) => {
                        Permission::AnotherTeamsVisits { team: team.clone() }
                    }
                    _ => Permission::ReadOnly {
                        doc: doc_id.to_string(),
                    },
                }));
            }
            if let DocId::Referrals { .. } = doc_id {
                let writer = crate::domain::Writer {
                    role: server.role,
                    team: server.team.as_deref(),
                };
                for edit in edits {
                    let before = if edit.created {
                        None
                    } else {
                        doc::read_record(&self.loaded(doc_id)?.doc, edit.kind, &edit.id)
                    };
                    let mut after = before.clone().unwrap_or_default();
                    after.extend(edit.fields.clone());
                    let before = before.map(|b| crate::Referral::from_fields(&edit.id, &b));
                    let after = crate::Referral::from_fields(&edit.id, &after);
                    if let Err(why) = after.writer_may(before.as_ref(), &writer) {
                        return Err(Error::NotPermitted(Permission::OtherSide {
                            id: edit.id.clone(),
                            why,
                        }));
                    }
                }
            }
            if server.role == Role::Member && *doc_id == DocId::Orgs {
                for edit in edits {
                    let owner = if edit.created {
                        edit.fields.get("owner").cloned()
                    } else {
                        doc::read_record(&self.loaded(doc_id)?.doc, RecordKind::Org, &edit.id)
                            .and_then(|f| f.get("owner").cloned())
                    };
                    if owner != Some(FieldValue::Str(server.device.clone())) {
                        return Err(Error::NotPermitted(Permission::NotYourEntry {
                            id: edit.id.clone(),
                        }));
                    }
                }
            }
        }
        Ok(())
    }

    /// Every change to a record: who changed which field when, from which device.
    pub fn history(&mut self, id: &str) -> Result<Vec<HistoryEntry>> {
        let (kind, doc_id) = self.locate(id)?;
        let mut entries = doc::history_of(&mut self.loaded(&doc_id)?.doc, kind, id);
        let names = self.vouched_names()?;
        for entry in &mut entries {
            if let Some(person) = names.get(&entry.device) {
                entry.by.clone_from(person);
                entry.vouched = true;
            }
        }
        Ok(entries)
    }

    /// The people behind devices (by shortened actor id, as history shows them) that the server
    /// vouches for. Every replica that has the same workspace document names them alike.
    fn vouched_names(&mut self) -> Result<std::collections::HashMap<String, String>> {
        Ok(doc::read_vouched(&self.loaded(&DocId::Workspace)?.doc)
            .into_iter()
            .filter_map(|(actor, v)| {
                let actor = automerge::ActorId::from(decode_hex(&actor)?);
                Some((doc::short_actor(&actor), v.person))
            })
            .collect())
    }

    /// The ids of the records with a field two devices changed at once, from the index alone
    /// (no document is read): what a map needs to mark them.
    pub fn conflicted_records(&self) -> Result<std::collections::HashSet<String>> {
        Ok(crate::store::query::conflicts(&self.conn)?
            .into_iter()
            .map(|(record, ..)| record)
            .collect())
    }

    /// Every field that holds concurrent values, with each value and who wrote it.
    pub fn conflicts(&mut self) -> Result<Vec<Conflict>> {
        let rows = crate::store::query::conflicts(&self.conn)?;
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (record, _field, kind, doc_id) in rows {
            if !seen.insert(record.clone()) {
                continue;
            }
            let doc_id: DocId = doc_id.parse()?;
            let kind: RecordKind = kind.parse()?;
            out.extend(doc::conflicts_of(
                &mut self.loaded(&doc_id)?.doc,
                kind,
                &record,
            ));
        }
        let names = self.vouched_names()?;
        for value in out.iter_mut().flat_map(|c| c.values.iter_mut()) {
            if let Some(person) = names.get(&value.device) {
                value.by.clone_from(person);
                value.vouched = true;
            }
        }
        Ok(out)
    }

    /// Resolves a conflict by choosing value number `choice` (1-based, in the order
    /// [`Replica::conflicts`] lists them). The chosen value is written again, replacing all of them.
    pub fn resolve_conflict(&mut self, record: &str, field: &str, choice: usize) -> Result<()> {
        let (kind, doc_id) = self.locate(record)?;
        let conflict = doc::conflicts_of(&mut self.loaded(&doc_id)?.doc, kind, record)
            .into_iter()
            .find(|c| c.field == field)
            .ok_or_else(|| Error::NotFound {
                kind: "conflict",
                id: format!("{record} {field}"),
            })?;
        let count = conflict.values.len();
        let value = conflict
            .values
            .into_iter()
            .nth(choice.wrapping_sub(1))
            .ok_or(Error::NoSuchChoice {
                record: record.into(),
                field: field.into(),
                choice,
                count,
            })?
            .value;
        let fields = FieldMap::from([(field.to_string(), value)]);
        self.apply(vec![RecordEdit {
            doc_id,
            kind,
            id: record.to_string(),
            fields,
            created: false,
        }])
    }
}

fn commit(doc: &mut AutoCommit, note: &ChangeNote) {
    let time = chrono::Utc::now().timestamp();
    doc.commit_with(
        CommitOptions::default()
            .with_message(note.to_message())
            .with_time(time),
    );
}

/// Re-indexes one record from the document.
fn reindex_record(
    conn: &Connection,
    doc: &AutoCommit,
    doc_id: &DocId,
    kind: RecordKind,
    id: &str,
) -> rusqlite::Result<()> {
    let Some(fields) = doc::read_record(doc, kind, id) else {
        return Ok(());
    };
    let key = doc_id.to_string();
    let row = kind.with(ToRow {
        id: id.to_string(),
        fields,
        conflicts: Vec::new(),
    });
    row.record.write_index(conn, &key)?;
    index::conflicts(conn, kind, &key, id, &doc::conflicted_fields(doc, kind, id))
}

/// One record as the index stores it.
struct IndexRow {
    kind: RecordKind,
    id: String,
    record: Box<dyn Indexed + Send>,
    conflicts: Vec<String>,
}

/// A record read from its fields into its kind's type, for the index.
struct ToRow {
    id: String,
    fields: FieldMap,
    conflicts: Vec<String>,
}

impl ForKind for ToRow {
    type Out = IndexRow;
    fn run<R: Record + Indexed + Send>(self) -> IndexRow {
        IndexRow {
            kind: R::KIND,
            record: Box::new(R::from_fields(&self.id, &self.fields)),
            id: self.id,
            conflicts: self.conflicts,
        }
    }
}

impl IndexRow {
    fn write(&self, conn: &Connection, doc_key: &str) -> rusqlite::Result<()> {
        self.record.write_index(conn, doc_key)?;
        if self.conflicts.is_empty() {
            return Ok(());
        }
        index::conflicts(conn, self.kind, doc_key, &self.id, &self.conflicts)
    }
}

/// Every record of a document as index rows (one pass over the document).
fn index_rows(doc: &mut AutoCommit, doc_id: &DocId) -> Vec<IndexRow> {
    let Some(kind) = doc_id.record_kind() else {
        return Vec::new();
    };
    doc::all_records(doc, kind)
        .into_iter()
        .map(|(id, fields, conflicts)| {
            kind.with(ToRow {
                id,
                fields,
                conflicts,
            })
        })
        .collect()
}

/// The changes of `doc` that start from its genesis alone (besides the genesis itself): one per
/// epoch's beginning, so a file of an epoch an erasure closed brings a new one.
fn epoch_starts(
    doc: &mut automerge::AutoCommit,
) -> std::collections::BTreeSet<automerge::ChangeHash> {
    let genesis_actor = automerge::ActorId::from(crate::doc::GENESIS_ACTOR.as_slice());
    let changes = doc.get_changes(&[]);
    let genesis: Vec<automerge::ChangeHash> = changes
        .iter()
        .filter(|c| c.actor_id() == &genesis_actor && c.deps().is_empty())
        .map(|c| c.hash())
        .collect();
    changes
        .iter()
        .filter(|c| c.actor_id() != &genesis_actor && !c.deps().is_empty())
        .filter(|c| c.deps().iter().all(|d| genesis.contains(d)))
        .map(|c| c.hash())
        .collect()
}

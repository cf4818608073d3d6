//! Change notes, per-record history and conflicts, read from Automerge's change metadata.

use super::records::{map_at, records_obj};
use crate::domain::{FieldValue, RecordKind};
use automerge::{AutoCommit, ChangeHash, ObjId, ReadDoc, Value};
use chrono::DateTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The message every change carries: who changed which fields of which records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangeNote {
    /// Display name of the person on the device that made the change.
    pub by: String,
    /// Record id → fields written (`*` for a record created with all its fields).
    #[serde(rename = "r", default)]
    pub records: BTreeMap<String, Vec<String>>,
}

impl ChangeNote {
    /// A note by `by` with no records yet.
    pub fn by(by: &str) -> Self {
        ChangeNote {
            by: by.to_string(),
            records: BTreeMap::new(),
        }
    }

    /// Records that `fields` of `id` were written.
    pub fn touch(&mut self, id: &str, fields: Vec<String>) {
        self.records
            .entry(id.to_string())
            .or_default()
            .extend(fields);
    }

    /// Encodes as the change message.
    pub fn to_message(&self) -> String {
        serde_json::to_string(self).expect("a note always encodes")
    }

    /// Decodes a change message; messages from elsewhere that are not notes read as empty.
    pub fn from_message(message: Option<&str>) -> ChangeNote {
        message
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_default()
    }
}

/// One change to a record: when, by whom, from which device, which fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// When (UTC, RFC 3339), from the change's timestamp.
    pub at: String,
    /// Who (display name): the person the server vouches for behind the change's device when
    /// it does (see [`HistoryEntry::vouched`]), else what the change's note claims.
    pub by: String,
    /// Whether `by` is the person the server vouches for (false on a device that never joined a
    /// server, where there is no one to vouch).
    pub vouched: bool,
    /// Device: the change's actor id, shortened.
    pub device: String,
    /// Fields written (`*` when the record was created).
    pub fields: Vec<String>,
    /// Each field written, with its value before and after the change (text; empty when unset).
    pub changes: Vec<FieldChange>,
    /// Change hash.
    pub change: String,
}

/// One field a change wrote: its value just before and just after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// The field.
    pub field: String,
    /// Its value before the change (on the change's own history), as text.
    pub old: String,
    /// Its value the change wrote, as text.
    pub new: String,
}

/// One of the values a field holds in a conflict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictValue {
    /// The value.
    pub value: FieldValue,
    /// Who wrote it (vouched for as in [`HistoryEntry::by`]).
    pub by: String,
    /// Whether `by` is vouched for.
    pub vouched: bool,
    /// From which device.
    pub device: String,
    /// When (UTC, RFC 3339).
    pub at: String,
}

/// A field of a record holding two or more concurrent values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    /// Record kind.
    pub kind: RecordKind,
    /// Record id.
    pub record: String,
    /// Field name.
    pub field: String,
    /// The values, the one currently shown first.
    pub values: Vec<ConflictValue>,
}

fn format_time(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}

/// A device as history shows it: its actor id's first twelve hex digits.
pub fn short_actor(actor: &automerge::ActorId) -> String {
    actor.to_hex_string().chars().take(12).collect()
}

/// Who wrote a change, when and from where.
fn change_author(doc: &mut AutoCommit, hash: &ChangeHash) -> (String, String, String) {
    match doc.get_change_meta_by_hash(hash) {
        Some(meta) => (
            ChangeNote::from_message(meta.message.as_deref()).by,
            short_actor(&meta.actor),
            format_time(meta.timestamp),
        ),
        None => Default::default(),
    }
}

/// Fields of record `id` that hold conflicting values, with who wrote each value.
pub fn conflicts_of(doc: &mut AutoCommit, kind: RecordKind, id: &str) -> Vec<Conflict> {
    let Some(rec) = records_obj(doc, kind).and_then(|r| map_at(doc, &r, id)) else {
        return Vec::new();
    };
    let mut raw: Vec<(String, Vec<(FieldValue, ObjId)>)> = Vec::new();
    for key in doc.keys(&rec) {
        let all = doc.get_all(&rec, key.as_str()).unwrap_or_default();
        if all.len() > 1 {
            let values = all
                .into_iter()
                .filter_map(|(v, opid)| match v {
                    Value::Scalar(s) => Some((FieldValue::from_scalar(s.as_ref()), opid)),
                    Value::Object(_) => None,
                })
                .collect();
            raw.push((key, values));
        }
    }
    raw.into_iter()
        .map(|(field, values)| {
            // get_all lists the winning value last; show it first.
            let values = values
                .into_iter()
                .rev()
                .map(|(value, opid)| {
                    let (by, device, at) = match doc.hash_for_opid(&opid) {
                        Some(hash) => change_author(doc, &hash),
                        None => Default::default(),
                    };
                    ConflictValue {
                        value,
                        by,
                        vouched: false,
                        device,
                        at,
                    }
                })
                .collect();
            Conflict {
                kind,
                record: id.to_string(),
                field,
                values,
            }
        })
        .collect()
}

/// Every change to record `id` (of `kind`) in the document, oldest first, with the values each
/// field had before and after it.
pub fn history_of(doc: &mut AutoCommit, kind: RecordKind, id: &str) -> Vec<HistoryEntry> {
    let metas: Vec<_> = doc
        .get_changes_meta(&[])
        .into_iter()
        .filter_map(|meta| {
            let note = ChangeNote::from_message(meta.message.as_deref());
            let fields = note.records.get(id)?.clone();
            Some((
                meta.hash,
                meta.deps,
                meta.actor.into_owned(),
                meta.timestamp,
                note.by,
                fields,
            ))
        })
        .collect();
    let text = |fields: &Option<crate::domain::FieldMap>, field: &str| {
        fields
            .as_ref()
            .and_then(|f| f.get(field))
            .map(FieldValue::as_text)
            .unwrap_or_default()
    };
    let mut entries: Vec<HistoryEntry> = metas
        .into_iter()
        .map(|(hash, deps, actor, timestamp, by, fields)| {
            let changes = if fields.iter().any(|f| f == "*") {
                Vec::new()
            } else {
                let before = super::records::read_record_at(doc, kind, id, &deps);
                let after = super::records::read_record_at(doc, kind, id, &[hash]);
                fields
                    .iter()
                    .map(|field| FieldChange {
                        field: field.clone(),
                        old: text(&before, field),
                        new: text(&after, field),
                    })
                    .collect()
            };
            HistoryEntry {
                at: format_time(timestamp),
                by,
                vouched: false,
                device: short_actor(&actor),
                fields,
                changes,
                change: hash.to_string(),
            }
        })
        .collect();
    // Changes come in causal order; a stable sort by time keeps that order for equal times.
    entries.sort_by(|a, b| a.at.cmp(&b.at));
    entries
}

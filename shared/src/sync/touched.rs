//! What a message's new changes touch, read from their operations before they are applied: the
//! gate's structural check without Automerge's diff, which finds the path of every changed
//! object by scanning the map holding it (a cost that grows with the records of a document).

use super::chunks;
use crate::doc::{ChangeNote, DocId};
use crate::domain::RecordKind;
use automerge::legacy::{Key, ObjectId, OpId, OpType};
use automerge::{AutoCommit, Change, ObjId, ObjType, ROOT, ReadDoc};
use std::collections::{BTreeSet, HashMap};

/// What the operations of a message's new changes come to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Touched {
    /// Records created and fields put in records, nothing else: the records touched.
    Records(BTreeSet<String>),
    /// Something no device may do; why.
    Refused(String),
    /// Not told from the operations (a whole document, a change the document's records cannot
    /// vouch for): the diff of the applied changes decides.
    Unknown,
}

/// Where an operation acts.
#[derive(Debug, Clone)]
enum Place {
    Root,
    /// The map holding the records.
    Records,
    /// The record with this id.
    Record(String),
    /// Anything else (inside a record's field).
    Other,
}

/// Reads what `chunks` (a message's changes, as sent) would do to `doc`, the record document
/// `doc_id`, before they are applied. Changes the document already has are left out; operations
/// on a record that existed before are placed by the change's note (which names the records a
/// device wrote) only when the document agrees that the record's map is the one written to.
pub(super) fn touched<'a>(
    doc: &mut AutoCommit,
    doc_id: &DocId,
    chunks: impl Iterator<Item = &'a [u8]>,
) -> Touched {
    let Some(kind) = doc_id.record_kind() else {
        return Touched::Unknown;
    };
    let Some((records, records_id)) = records_map(doc, kind) else {
        return Touched::Unknown;
    };
    let mut changes = Vec::new();
    for bytes in chunks {
        let Some(split) = chunks::split(bytes) else {
            return Touched::Unknown;
        };
        for chunk in split {
            if chunk.kind != chunks::CHANGE && chunk.kind != chunks::COMPRESSED_CHANGE {
                return Touched::Unknown;
            }
            match Change::try_from(chunk.bytes) {
                Ok(change) => changes.push(change),
                Err(_) => return Touched::Unknown,
            }
        }
    }
    // Only the changes the document lacks.
    let hashes: Vec<_> = changes.iter().map(Change::hash).collect();
    let new = doc.get_missing_deps(&hashes);
    let mut objects: HashMap<OpId, Place> = HashMap::new();
    let mut touched = BTreeSet::new();
    for change in changes.iter().filter(|c| new.contains(&c.hash())) {
        let expanded = change.decode();
        let note = ChangeNote::from_message(change.message());
        let start = change.start_op().get();
        for (i, op) in expanded.operations.iter().enumerate() {
            let place = match &op.obj {
                ObjectId::Root => Place::Root,
                ObjectId::Id(id) if *id == records_id => Place::Records,
                ObjectId::Id(id) => match objects.get(id) {
                    Some(place) => place.clone(),
                    None => match existing_record(doc, &records, id, &note) {
                        Some(record) => Place::Record(record),
                        None => return Touched::Unknown,
                    },
                },
            };
            let key = match &op.key {
                Key::Map(key) if !op.insert => Some(key.as_str()),
                _ => None,
            };
            if let OpType::Make(_) = op.action {
                // The object this operation makes, and where it sits.
                let made = OpId(start + i as u64, expanded.actor_id.clone());
                let at = match (&place, key, &op.action) {
                    (Place::Records, Some(id), OpType::Make(ObjType::Map)) => {
                        Place::Record(id.to_string())
                    }
                    _ => Place::Other,
                };
                objects.insert(made, at);
            }
            if let Err(why) = check(&place, key, &op.action, kind, &mut touched) {
                return Touched::Refused(why);
            }
        }
    }
    Touched::Records(touched)
}

/// The map holding the records, and the operation that made it.
fn records_map(doc: &AutoCommit, kind: RecordKind) -> Option<(ObjId, OpId)> {
    let (value, id) = doc.get(ROOT, kind.root_key()).ok()??;
    if !matches!(value, automerge::Value::Object(ObjType::Map)) {
        return None;
    }
    let op = op_id(&id)?;
    Some((id, op))
}

fn op_id(id: &ObjId) -> Option<OpId> {
    match id {
        ObjId::Root => None,
        ObjId::Id(counter, actor, _) => Some(OpId(*counter, actor.clone())),
    }
}

/// The id of the record whose map `object` is, among the records the change's note names: a
/// note is what the device says, so the document has to agree.
fn existing_record(
    doc: &AutoCommit,
    records: &ObjId,
    object: &OpId,
    note: &ChangeNote,
) -> Option<String> {
    note.records.keys().find_map(|id| {
        doc.get_all(records, id.as_str())
            .ok()?
            .iter()
            .any(|(_, made)| op_id(made).as_ref() == Some(object))
            .then(|| id.clone())
    })
}

/// Whether an operation at `place` may be kept; the records it touches go in `touched`. The
/// reasons are those the diff's check gives (`accept::check`).
fn check(
    place: &Place,
    key: Option<&str>,
    action: &OpType,
    kind: RecordKind,
    touched: &mut BTreeSet<String>,
) -> Result<(), String> {
    match place {
        Place::Root => Err("the document's structure cannot be changed".into()),
        Place::Records => match (key, action) {
            (Some(id), OpType::Make(ObjType::Map)) => {
                touched.insert(id.to_string());
                Ok(())
            }
            (Some(id), OpType::Make(_) | OpType::Put(_)) => {
                Err(format!("record {id} is not a map"))
            }
            _ => Err("records are kept in a map keyed by id".into()),
        },
        Place::Record(id) => {
            let allowed = super::accept::allowed_fields(kind);
            match (key, action) {
                (Some(field), OpType::Put(value))
                    if allowed.contains(field) && !value.is_counter() =>
                {
                    touched.insert(id.clone());
                    Ok(())
                }
                (Some(field), OpType::Put(_) | OpType::Make(_)) if !allowed.contains(field) => {
                    Err(format!("record {id}: field {field:?} is not allowed"))
                }
                (Some(field), OpType::Delete) => {
                    Err(format!("record {id}: field {field:?} cannot be removed"))
                }
                _ => Err(format!("record {id}: fields are plain values")),
            }
        }
        Place::Other => Err("records hold plain values only".into()),
    }
}

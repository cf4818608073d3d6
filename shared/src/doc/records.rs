//! Reading and writing records in a document.

use crate::domain::{FieldMap, FieldValue, RecordKind};
use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc, Value, transaction::Transactable};

/// The map holding records of `kind`, if the document has one.
pub(crate) fn records_obj(doc: &AutoCommit, kind: RecordKind) -> Option<ObjId> {
    map_at(doc, &ROOT, kind.root_key())
}

/// The map at `obj[key]`, if there is one.
pub(crate) fn map_at(doc: &AutoCommit, obj: &ObjId, key: &str) -> Option<ObjId> {
    as_map(doc.get(obj, key).ok().flatten())
}

/// The object id of a value read from a map, if the value is a map.
fn as_map(value: Option<(Value<'_>, ObjId)>) -> Option<ObjId> {
    match value {
        Some((Value::Object(ObjType::Map), id)) => Some(id),
        _ => None,
    }
}

/// The map at `obj[key]`, created when missing.
pub(crate) fn ensure_map(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
) -> Result<ObjId, automerge::AutomergeError> {
    match map_at(doc, obj, key) {
        Some(id) => Ok(id),
        None => doc.put_object(obj, key, ObjType::Map),
    }
}

/// The ids of every record of `kind` in the document (deleted ones included).
pub fn record_ids(doc: &AutoCommit, kind: RecordKind) -> Vec<String> {
    records_obj(doc, kind)
        .map(|obj| doc.keys(&obj).collect())
        .unwrap_or_default()
}

/// The record's fields as they currently resolve (the winning value where there is a conflict).
pub fn read_record(doc: &AutoCommit, kind: RecordKind, id: &str) -> Option<FieldMap> {
    let rec = map_at(doc, &records_obj(doc, kind)?, id)?;
    Some(scalar_fields(doc.map_range(&rec, ..)))
}

/// The plain values among a record map's entries, read in one pass over the map: far cheaper
/// than looking up each key.
fn scalar_fields<'a>(entries: impl Iterator<Item = automerge::iter::MapRangeItem<'a>>) -> FieldMap {
    entries
        .filter_map(|item| match item.value.into_value() {
            Value::Scalar(v) => Some((item.key.into_owned(), FieldValue::from_scalar(&v))),
            Value::Object(_) => None,
        })
        .collect()
}

/// The record's fields as they resolved at `heads` (an earlier state of the document).
pub fn read_record_at(
    doc: &AutoCommit,
    kind: RecordKind,
    id: &str,
    heads: &[automerge::ChangeHash],
) -> Option<FieldMap> {
    let map_at = |obj: &ObjId, key: &str| as_map(doc.get_at(obj, key, heads).ok().flatten());
    let rec = map_at(&map_at(&ROOT, kind.root_key())?, id)?;
    Some(scalar_fields(doc.map_range_at(&rec, .., heads)))
}

/// Puts `fields` of record `id` (creating the record if needed). Callers pass only the fields a
/// person changed, so a conflict on another field stays visible. The caller commits.
pub fn write_fields(
    doc: &mut AutoCommit,
    kind: RecordKind,
    id: &str,
    fields: &FieldMap,
) -> Result<(), automerge::AutomergeError> {
    let records = ensure_map(doc, &ROOT, kind.root_key())?;
    let rec = ensure_map(doc, &records, id)?;
    for (key, value) in fields {
        doc.put(&rec, key.as_str(), value.to_scalar())?;
    }
    Ok(())
}

/// Names of the record's fields that currently hold conflicting values.
pub fn conflicted_fields(doc: &AutoCommit, kind: RecordKind, id: &str) -> Vec<String> {
    let Some(rec) = records_obj(doc, kind).and_then(|r| map_at(doc, &r, id)) else {
        return Vec::new();
    };
    doc.map_range(&rec, ..)
        .filter(|item| item.conflict)
        .map(|item| item.key.into_owned())
        .collect()
}

/// Every field of the record that holds more than one value, with all its values.
pub fn field_values(
    doc: &AutoCommit,
    kind: RecordKind,
    id: &str,
) -> Vec<(String, Vec<FieldValue>)> {
    let Some(rec) = records_obj(doc, kind).and_then(|r| map_at(doc, &r, id)) else {
        return Vec::new();
    };
    doc.map_range(&rec, ..)
        .filter(|item| item.conflict)
        .filter_map(|item| {
            let key = item.key.into_owned();
            let all = doc.get_all(&rec, key.as_str()).ok()?;
            (all.len() > 1).then(|| {
                let values = all
                    .into_iter()
                    .filter_map(|(v, _)| match v {
                        Value::Scalar(s) => Some(FieldValue::from_scalar(s.as_ref())),
                        Value::Object(_) => None,
                    })
                    .collect();
                (key, values)
            })
        })
        .collect()
}

/// Every record of `kind` in one pass: id, fields (the shown value of each) and the names of the
/// fields in conflict. The document is hydrated once, which is far cheaper than reading records one
/// by one when a whole document is indexed.
pub fn all_records(doc: &mut AutoCommit, kind: RecordKind) -> Vec<(String, FieldMap, Vec<String>)> {
    use automerge::hydrate::Value as H;
    let H::Map(root) = doc.document().hydrate(None) else {
        return Vec::new();
    };
    let Some(H::Map(records)) = root.get(kind.root_key()) else {
        return Vec::new();
    };
    records
        .iter()
        .filter_map(|(id, record)| {
            let H::Map(record) = &record.value else {
                return None;
            };
            let mut fields = FieldMap::new();
            let mut conflicts = Vec::new();
            for (key, field) in record.iter() {
                if let H::Scalar(value) = &field.value {
                    fields.insert(key.clone(), FieldValue::from_scalar(value));
                }
                if field.conflict {
                    conflicts.push(key.clone());
                }
            }
            conflicts.sort();
            Some((id.clone(), fields, conflicts))
        })
        .collect()
}

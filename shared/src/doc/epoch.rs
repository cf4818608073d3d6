//! Epochs: a document rewritten without what must be erased.
//!
//! Automerge keeps every value a document ever held and sends that history to every new device. To
//! erase a value everywhere, the server rewrites the document as a fresh one — its genesis and one
//! change holding the current state — without the erased values, and counts a new **epoch** of the
//! document. Changes built on an earlier epoch are refused; devices replace their copy and re-apply
//! their own unsent edits on the new epoch (see `Replica::take_epochs`).

use super::DocId;
use super::genesis::genesis;
use super::history::ChangeNote;
use super::records::{all_records, write_fields};
use crate::domain::{FieldMap, FieldValue, RecordKind};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ChangeHash, ObjType, ROOT, ReadDoc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The root key of a visit document's summary, written when retention erased its visits: the
/// counts reports need, without the visits.
pub const SUMMARY_KEY: &str = "summary";

/// One erasure, as the server logs it (never with the erased value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    /// The document it rewrote.
    pub doc: String,
    /// The epoch it started.
    pub epoch: u32,
    /// The record erased, or whose field's past values were; `None`: every record of the document
    /// (visits past the workspace's retention).
    pub record: Option<String>,
    /// The field whose past values were erased (its current value stays); `None`: the whole record.
    pub field: Option<String>,
    /// Why (given by the coordinator or the administrator; `retention` for expired visits).
    pub reason: String,
    /// Who asked for it.
    pub by: String,
    /// When (UTC, RFC 3339).
    pub at: String,
}

impl Erasure {
    /// Whether an edit of `field` of `record` made on an earlier epoch is lost to this erasure:
    /// edits of an erased record, of an erased field, or of anything in an emptied document.
    pub fn covers(&self, record: &str, field: &str) -> bool {
        match (&self.record, &self.field) {
            (None, _) => true,
            (Some(r), None) => r == record,
            (Some(r), Some(f)) => r == record && f == field,
        }
    }
}

/// What a rewrite leaves out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leave {
    /// Nothing but history: every record keeps its current fields (a field's past values erased).
    History,
    /// One record, entirely.
    Record(String),
    /// Every record (the visits of a month past retention); a summary of them stays.
    Everything,
}

/// `doc` rewritten as a fresh document of `doc_id`: its genesis, then one change by `actor` holding
/// every record's current fields (the value shown where concurrent values conflict) but what
/// `leave` leaves out, and, for [`Leave::Everything`] on visits, a summary of the visits. No
/// value the old document held before its current state survives in it.
pub fn rewrite(
    doc_id: &DocId,
    doc: &mut AutoCommit,
    leave: &Leave,
    actor: ActorId,
    by: &str,
) -> Result<AutoCommit, automerge::AutomergeError> {
    let mut fresh = genesis(doc_id, actor);
    let mut note = ChangeNote::by(by);
    if let Some(kind) = doc_id.record_kind() {
        let records = all_records(doc, kind);
        // A summary carries over; emptying a visit document adds its visits to it.
        let mut counts: Vec<(String, i64)> = summary_of(doc).into_iter().collect();
        if *leave == Leave::Everything && kind == RecordKind::Visit {
            counts.extend(visit_counts(&records));
        }
        if !counts.is_empty() {
            let summary = fresh.put_object(ROOT, SUMMARY_KEY, ObjType::Map)?;
            for (key, count) in add_up(counts.into_iter()) {
                fresh.put(&summary, key.as_str(), count)?;
            }
        }
        for (id, fields, _) in records {
            let kept = match leave {
                Leave::History => true,
                Leave::Record(gone) => *gone != id,
                Leave::Everything => false,
            };
            if kept {
                write_fields(&mut fresh, kind, &id, &fields)?;
                note.touch(&id, vec!["*".into()]);
            }
        }
    }
    fresh.commit_with(
        CommitOptions::default()
            .with_message(note.to_message())
            .with_time(chrono::Utc::now().timestamp()),
    );
    Ok(fresh)
}

/// Every change hash of `doc` but its genesis: the changes a rewrite closes.
pub fn closed_hashes(doc: &mut AutoCommit) -> Vec<ChangeHash> {
    let genesis_actor = ActorId::from(super::GENESIS_ACTOR.as_slice());
    doc.get_changes(&[])
        .into_iter()
        .filter(|c| *c.actor_id() != genesis_actor)
        .map(|c| c.hash())
        .collect()
}

/// A visit document's summary (`visits`, `people`, `kind/…`, `target/…`, `follow_up/…`), empty
/// when retention has not emptied it.
pub fn summary_of(doc: &AutoCommit) -> BTreeMap<String, i64> {
    let Ok(Some((_, obj))) = doc.get(ROOT, SUMMARY_KEY) else {
        return BTreeMap::new();
    };
    doc.map_range(&obj, ..)
        .filter_map(|item| match item.value.into_value() {
            automerge::Value::Scalar(s) => match FieldValue::from_scalar(&s) {
                FieldValue::Int(n) => Some((item.key.into_owned(), n)),
                _ => None,
            },
            automerge::Value::Object(_) => None,
        })
        .collect()
}

/// The counts of visit records (deleted ones left out) a summary keeps.
fn visit_counts(records: &[(String, FieldMap, Vec<String>)]) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for (_, fields, _) in records {
        let text = |k: &str| fields.get(k).map(FieldValue::as_text).unwrap_or_default();
        if !text("deleted_at").is_empty() {
            continue;
        }
        out.push(("visits".to_string(), 1));
        let people = match fields.get("people") {
            Some(FieldValue::Int(n)) => *n,
            _ => 0,
        };
        out.push(("people".to_string(), people));
        out.push((format!("kind/{}", text("kind")), 1));
        for target in text("targets").split(',').filter(|t| !t.is_empty()) {
            out.push((format!("target/{target}"), 1));
            out.push((format!("people_target/{target}"), people));
        }
        if !text("follow_up").is_empty() {
            let done = matches!(fields.get("follow_up_done"), Some(FieldValue::Bool(true)));
            out.push((
                format!("follow_up/{}", if done { "done" } else { "open" }),
                1,
            ));
        }
    }
    out
}

fn add_up(counts: impl Iterator<Item = (String, i64)>) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for (key, n) in counts {
        *out.entry(key).or_insert(0) += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Record, Visit};
    use crate::hours::now_jst;

    fn visit_doc(texts: &[&str]) -> (DocId, AutoCommit, Vec<Visit>) {
        let doc_id = DocId::Visits {
            team: "t1".into(),
            month: now_jst().format("%Y-%m").to_string(),
        };
        let mut doc = genesis(&doc_id, ActorId::random());
        let mut visits = Vec::new();
        for text in texts {
            let mut v = Visit::new("t1", "visit", now_jst());
            v.referral_reason = text.to_string();
            v.targets = vec!["elderly".into()];
            v.people = 2;
            write_fields(&mut doc, RecordKind::Visit, &v.id, &v.to_fields()).unwrap();
            doc.commit();
            visits.push(v);
        }
        (doc_id, doc, visits)
    }

    fn holds(doc: &mut AutoCommit, text: &str) -> bool {
        doc.save().windows(text.len()).any(|w| w == text.as_bytes())
    }

    #[test]
    fn a_rewrite_keeps_the_current_state_and_none_of_the_past() {
        let (doc_id, mut doc, visits) = visit_doc(&["ERASE-ME-1", "keep"]);
        let rec = super::super::records::records_obj(&doc, RecordKind::Visit).unwrap();
        let first = super::super::records::map_at(&doc, &rec, &visits[0].id).unwrap();
        doc.put(&first, "referral_reason", "訂正済み").unwrap();
        doc.commit();
        assert!(
            holds(&mut doc, "ERASE-ME-1"),
            "Automerge keeps the old value"
        );

        let mut fresh = rewrite(
            &doc_id,
            &mut doc,
            &Leave::History,
            ActorId::random(),
            "admin",
        )
        .unwrap();
        assert!(!holds(&mut fresh, "ERASE-ME-1"));
        let now = crate::doc::read_record(&fresh, RecordKind::Visit, &visits[0].id).unwrap();
        assert_eq!(now["referral_reason"], FieldValue::Str("訂正済み".into()));
        assert_eq!(closed_hashes(&mut doc).len(), 3);

        let mut fresh = rewrite(
            &doc_id,
            &mut doc,
            &Leave::Record(visits[1].id.clone()),
            ActorId::random(),
            "admin",
        )
        .unwrap();
        assert!(crate::doc::read_record(&fresh, RecordKind::Visit, &visits[1].id).is_none());
        assert!(!holds(&mut fresh, "keep"));
    }

    #[test]
    fn emptying_a_visit_document_keeps_its_counts() {
        let (doc_id, mut doc, _) = visit_doc(&["a", "b", "c"]);
        let mut fresh = rewrite(
            &doc_id,
            &mut doc,
            &Leave::Everything,
            ActorId::random(),
            "retention",
        )
        .unwrap();
        assert!(crate::doc::record_ids(&fresh, RecordKind::Visit).is_empty());
        let summary = summary_of(&fresh);
        assert_eq!(summary["visits"], 3);
        assert_eq!(summary["people"], 6);
        assert_eq!(summary["target/elderly"], 3);
        // Emptied again (a later erasure): the counts carry over.
        let again = rewrite(
            &doc_id,
            &mut fresh,
            &Leave::Everything,
            ActorId::random(),
            "retention",
        )
        .unwrap();
        assert_eq!(summary_of(&again)["visits"], 3);
    }
}

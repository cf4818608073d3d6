//! Erasure on the server: a document rewritten in the store as a new epoch (see
//! `ibasho_shared::doc::epoch`), the old epoch's changes closed, the erase log written, and
//! nothing of the erased values left in the file; retention runs the same for visit months past
//! what a workspace keeps. Used by the hub (a coordinator's `Erase` frame) and by the admin
//! command (another process: the hub notices the new epoch through SQLite's `data_version`).

use crate::store::{self, doc_key};
use anyhow::{Context, Result, bail};
use automerge::ActorId;
use ibasho_shared::doc::epoch::{self, Erasure, Leave};
use ibasho_shared::doc::{DocId, record_ids};
use ibasho_shared::domain::{ForKind, Record};
use ibasho_shared::store::doc_store;
use ibasho_shared::store::index::Indexed;
use rusqlite::{Connection, params};

/// The reason an erasure by retention is logged with, followed by the months kept: devices say it
/// in their user's language.
pub const RETENTION_REASON: &str = "retention";

/// What to erase, as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EraseRequest {
    /// The record.
    pub record: String,
    /// One field's past values (its current value stays); `None`: the whole record.
    pub field: Option<String>,
    /// Why (never the erased value).
    pub reason: String,
    /// Who asks (a coordinator's name, or `admin`).
    pub by: String,
}

/// Whether `field` is one of `kind`'s fields.
struct HasField<'a>(&'a str);

impl ForKind for HasField<'_> {
    type Out = bool;
    fn run<R: Record + Indexed + Send>(self) -> bool {
        R::FIELDS.iter().any(|f| f.name == self.0)
    }
}

/// Erases what `request` names in workspace `ws`: the document holding the record starts a new
/// epoch. Returns the erasure as logged.
pub fn erase(conn: &mut Connection, ws: &str, request: &EraseRequest) -> Result<Erasure> {
    if request.reason.trim().is_empty() {
        bail!("--reason: say why (kept in the erase log; never the erased value)");
    }
    let doc = store::record_home(conn, ws, &request.record)?
        .with_context(|| format!("no record {} in this workspace", request.record))?;
    let doc_id: DocId = doc.parse()?;
    let kind = doc_id.record_kind().context("only records can be erased")?;
    if let Some(field) = &request.field
        && !kind.with(HasField(field))
    {
        bail!("{field:?} is not a field of a {kind}");
    }
    let leave = match &request.field {
        Some(_) => Leave::History,
        None => Leave::Record(request.record.clone()),
    };
    rewrite(
        conn,
        ws,
        &doc_id,
        &leave,
        Erasure {
            doc,
            epoch: 0,
            record: Some(request.record.clone()),
            field: request.field.clone(),
            reason: request.reason.trim().to_string(),
            by: request.by.clone(),
            at: chrono::Utc::now().to_rfc3339(),
        },
    )
}

/// Rewrites `doc_id` of `ws` in the store as its next epoch, leaving out what `leave` says, and
/// logs `erasure` (its epoch filled in): the new snapshot replaces every stored chunk, the old
/// epoch's changes are closed, every device's sync state of the document starts over, and the
/// write-ahead log is emptied so no erased byte stays in it.
pub fn rewrite(
    conn: &mut Connection,
    ws: &str,
    doc_id: &DocId,
    leave: &Leave,
    mut erasure: Erasure,
) -> Result<Erasure> {
    let name = doc_id.to_string();
    let key = doc_key(ws, &name);
    // The write lock first: no change may be stored between reading the document and writing
    // its new epoch (it would be neither kept nor closed).
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut old = doc_store::load(&tx, &key)?.with_context(|| format!("no document {name}"))?;
    let mut fresh = epoch::rewrite(doc_id, &mut old, leave, ActorId::random(), &erasure.by)?;
    let closed = epoch::closed_hashes(&mut old);
    erasure.epoch = store::epoch_of(&tx, ws, &name)? + 1;
    doc_store::write_snapshot(&tx, &key, &fresh.save())?;
    tx.execute(
        "UPDATE doc_heads SET heads = ?1 WHERE key = ?2",
        params![ibasho_shared::store::encode_heads(&fresh.get_heads()), key],
    )?;
    {
        let mut insert = tx.prepare(
            "INSERT OR IGNORE INTO closed_changes (workspace, doc_id, hash) VALUES (?1, ?2, ?3)",
        )?;
        for hash in &closed {
            insert.execute(params![ws, name, hash.0.as_slice()])?;
        }
    }
    tx.execute(
        "INSERT INTO doc_epochs (workspace, doc_id, epoch) VALUES (?1, ?2, ?3)
         ON CONFLICT (workspace, doc_id) DO UPDATE SET epoch = excluded.epoch",
        params![ws, name, erasure.epoch],
    )?;
    tx.execute(
        "INSERT INTO erasures (workspace, doc_id, epoch, json) VALUES (?1, ?2, ?3, ?4)",
        params![ws, name, erasure.epoch, serde_json::to_string(&erasure)?],
    )?;
    tx.execute("DELETE FROM sync_states WHERE key = ?1", [&key])?;
    tx.commit()?;
    checkpoint(conn)?;
    tracing::info!(doc = %key, epoch = erasure.epoch, "erased; the document starts a new epoch");
    Ok(erasure)
}

/// Moves the write-ahead log into the database and empties it, so that the erased pages are
/// gone from it too. SQLite reports a checkpoint that readers held up as busy, not as an error:
/// it is tried again for a while, then reported.
fn checkpoint(conn: &Connection) -> Result<()> {
    for _ in 0..50 {
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy == 0 {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    anyhow::bail!("the store's write-ahead log could not be emptied (readers kept it busy)")
}

/// The first month (`YYYY-MM`) a workspace keeping visits `months` months still keeps, as of
/// `today`: visits of earlier months are erased. A span beyond the calendar keeps everything.
pub fn first_kept_month(today: chrono::NaiveDate, months: u32) -> String {
    use chrono::Datelike;
    let first = today.with_day(1).expect("the first of a month");
    first
        .checked_sub_months(chrono::Months::new(months))
        .unwrap_or(chrono::NaiveDate::MIN)
        .format("%Y-%m")
        .to_string()
}

/// Erases the visit documents of `ws` older than its retention (all its visits, their counts kept
/// as a summary). Returns the erasures made.
pub fn apply_retention(
    conn: &mut Connection,
    ws: &str,
    today: chrono::NaiveDate,
) -> Result<Vec<Erasure>> {
    let Some(months) = store::visit_retention(conn, ws)? else {
        return Ok(Vec::new());
    };
    let first = first_kept_month(today, months);
    let mut done = Vec::new();
    for (name, _) in store::doc_heads(conn, ws)? {
        let Ok(doc_id @ DocId::Visits { .. }) = name.parse::<DocId>() else {
            continue;
        };
        let DocId::Visits { month, .. } = &doc_id else {
            continue;
        };
        if *month >= first {
            continue;
        }
        // Already emptied: nothing to erase.
        let Some(doc) = doc_store::load(conn, &doc_key(ws, &name))? else {
            continue;
        };
        if record_ids(&doc, ibasho_shared::RecordKind::Visit).is_empty() {
            continue;
        }
        done.push(rewrite(
            conn,
            ws,
            &doc_id,
            &Leave::Everything,
            Erasure {
                doc: name.clone(),
                epoch: 0,
                record: None,
                field: None,
                reason: format!("{RETENTION_REASON} {months}"),
                by: "server".into(),
                at: chrono::Utc::now().to_rfc3339(),
            },
        )?);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_counts_whole_months_back() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        assert_eq!(first_kept_month(day, 1), "2026-11");
        assert_eq!(first_kept_month(day, 12), "2025-12");
        assert_eq!(first_kept_month(day, 0), "2026-12");
    }
}

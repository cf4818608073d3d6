//! Changes the server refused and this device still holds: which record and field, and why, so
//! that `status` and the window can say what is stuck and the person can discard it
//! ([`Replica::discard`]).

use super::Replica;
use crate::error::Result;
use rusqlite::params;
use serde::Serialize;

/// A change of this device's that the server refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stuck {
    /// The document.
    pub doc: String,
    /// The record, when the refusal names one.
    pub record: Option<String>,
    /// The field, when the refusal names one.
    pub field: Option<String>,
    /// The kind of refusal.
    pub code: crate::sync::ErrorCode,
    /// The server's words (English).
    pub message: String,
    /// When it was refused (UTC, RFC 3339).
    pub at: String,
}

impl Replica {
    /// Records a refusal of the server's for a change of this device's. A refusal of a whole
    /// document names each record this device has unsent edits to there, so that each can be
    /// discarded.
    pub fn record_refusal(
        &mut self,
        doc: &str,
        record: Option<&str>,
        field: Option<&str>,
        code: crate::sync::ErrorCode,
        message: &str,
    ) -> Result<()> {
        let records: Vec<String> = match (record, doc.parse::<crate::DocId>()) {
            (Some(r), _) => vec![r.to_string()],
            (None, Ok(doc_id)) => self.unsent_records(&doc_id)?,
            (None, Err(_)) => Vec::new(),
        };
        let records = if records.is_empty() {
            vec![String::new()]
        } else {
            records
        };
        let code = serde_json::to_string(&code).expect("a code encodes");
        let at = chrono::Utc::now().to_rfc3339();
        for record in records {
            self.conn.execute(
                "INSERT INTO stuck (doc_id, record, field, code, message, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![doc, record, field.unwrap_or(""), code, message, at],
            )?;
        }
        Ok(())
    }

    /// Forgets the refusals of `docs`: they are being sent again, and what is still refused is
    /// recorded again.
    pub fn clear_refusals(&mut self, docs: &[String]) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        for doc in docs {
            tx.execute("DELETE FROM stuck WHERE doc_id = ?1", [doc])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// What the server refused of this device's changes at the last try, oldest first.
    pub fn stuck(&self) -> Result<Vec<Stuck>> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT doc_id, record, field, code, message, at FROM stuck ORDER BY at, doc_id",
        )?;
        let rows = stmt.query_map([], |r| {
            let text = |s: String| (!s.is_empty()).then_some(s);
            Ok(Stuck {
                doc: r.get(0)?,
                record: text(r.get(1)?),
                field: text(r.get(2)?),
                code: serde_json::from_str(&r.get::<_, String>(3)?)
                    .unwrap_or(crate::sync::ErrorCode::Invalid),
                message: r.get(4)?,
                at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Forgets the refusals of `record` in `doc`, and those of `doc` that named no record (its
    /// unsent change was discarded).
    pub(super) fn forget_refusals_of(&mut self, doc: &str, record: &str) -> Result<()> {
        self.conn.execute(
            "DELETE FROM stuck WHERE record = ?1 OR (doc_id = ?2 AND record = '')",
            [record, doc],
        )?;
        Ok(())
    }

    /// Forgets every refusal: a full round sends again whatever is still unsent, and what the
    /// server still refuses is recorded again.
    pub fn forget_refusals(&mut self) -> Result<()> {
        self.conn.execute("DELETE FROM stuck", [])?;
        Ok(())
    }
}

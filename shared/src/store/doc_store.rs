//! Document bytes in SQLite: a snapshot plus appended change chunks, compacted when chunks pile up.

use automerge::AutoCommit;
use rusqlite::{Connection, OptionalExtension, params};

/// Chunks kept before a document is compacted into a fresh snapshot (when the replica opens, and
/// by `Replica::maintain` between sync rounds) — off the edit path, so edits stay fast.
pub const COMPACT_AFTER_CHUNKS: i64 = 64;
/// The edit path compacts only past this many chunks (a safety valve for sessions that never rest).
pub const COMPACT_ON_EDIT_AFTER_CHUNKS: i64 = 1024;

/// Documents holding more than `threshold` chunks.
pub fn docs_to_compact(conn: &Connection, threshold: i64) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT doc_id FROM doc_chunks GROUP BY doc_id HAVING COUNT(*) > ?1")?;
    stmt.query_map([threshold], |r| r.get(0))?.collect()
}

/// Errors loading a document.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// SQLite failed.
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    /// The bytes are not an Automerge document.
    #[error("document {doc}: {source}")]
    Automerge {
        /// Document id.
        doc: String,
        /// Cause.
        source: Box<automerge::AutomergeError>,
    },
    /// Some stored changes are missing: what loads is only part of the document.
    #[error("document {doc} is damaged: changes it depends on are missing")]
    Incomplete {
        /// Document id.
        doc: String,
    },
}

/// Loads a document from its snapshot and chunks; `None` when nothing is stored.
pub fn load(conn: &Connection, doc_id: &str) -> Result<Option<AutoCommit>, LoadError> {
    let snapshot: Option<Vec<u8>> = conn
        .query_row(
            "SELECT bytes FROM doc_snapshots WHERE doc_id = ?1",
            [doc_id],
            |r| r.get(0),
        )
        .optional()?;
    let mut stmt =
        conn.prepare_cached("SELECT bytes FROM doc_chunks WHERE doc_id = ?1 ORDER BY seq")?;
    let chunks: Vec<Vec<u8>> = stmt
        .query_map([doc_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if snapshot.is_none() && chunks.is_empty() {
        return Ok(None);
    }
    let wrap = |source: automerge::AutomergeError| LoadError::Automerge {
        doc: doc_id.to_string(),
        source: Box::new(source),
    };
    // Loaded in one piece: Automerge's `load` refuses bytes of which only a part reads, where
    // `load_incremental` would skip a damaged chunk and return part of the document.
    let mut bytes = snapshot.unwrap_or_default();
    for chunk in chunks {
        bytes.extend_from_slice(&chunk);
    }
    let mut doc = AutoCommit::load(&bytes).map_err(wrap)?;
    if !doc.get_missing_deps(&[]).is_empty() {
        return Err(LoadError::Incomplete {
            doc: doc_id.to_string(),
        });
    }
    Ok(Some(doc))
}

/// Appends a change chunk.
pub fn append_chunk(conn: &Connection, doc_id: &str, bytes: &[u8]) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO doc_chunks (doc_id, bytes) VALUES (?1, ?2)")?
        .execute(params![doc_id, bytes])?;
    Ok(())
}

/// How many chunks are waiting to be compacted.
pub fn chunk_count(conn: &Connection, doc_id: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COUNT(*) FROM doc_chunks WHERE doc_id = ?1")?
        .query_row([doc_id], |r| r.get(0))
}

/// Replaces the snapshot and drops the chunks it contains (call inside a transaction).
pub fn write_snapshot(conn: &Connection, doc_id: &str, bytes: &[u8]) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO doc_snapshots (doc_id, bytes) VALUES (?1, ?2)
         ON CONFLICT (doc_id) DO UPDATE SET bytes = excluded.bytes",
        params![doc_id, bytes],
    )?;
    conn.execute("DELETE FROM doc_chunks WHERE doc_id = ?1", [doc_id])?;
    Ok(())
}

/// Every stored document id.
pub fn doc_ids(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT doc_id FROM doc_snapshots UNION SELECT DISTINCT doc_id FROM doc_chunks ORDER BY 1",
    )?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

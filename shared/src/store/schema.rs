//! The replica's SQLite schema: document bytes, the query index and device-only data.

use rusqlite::Connection;

/// Schema version written to `PRAGMA user_version`. Version 2 keys each search row by its
/// `places` rowid.
pub const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);


-- Query index, rebuilt from the documents.
CREATE TABLE IF NOT EXISTS places (
    id              TEXT PRIMARY KEY,
    doc_id          TEXT NOT NULL,
    name            TEXT NOT NULL,
    category        TEXT NOT NULL,
    lat             REAL,
    lon             REAL,
    status          TEXT NOT NULL,
    hours           TEXT NOT NULL,
    listing_consent INTEGER NOT NULL,
    deleted         INTEGER NOT NULL,
    json            TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS places_by_doc ON places (doc_id);
CREATE INDEX IF NOT EXISTS places_by_lat ON places (lat, lon);
CREATE INDEX IF NOT EXISTS places_by_category ON places (category);
CREATE TABLE IF NOT EXISTS place_targets (
    place_id TEXT NOT NULL,
    target   TEXT NOT NULL,
    PRIMARY KEY (place_id, target)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS place_targets_by_target ON place_targets (target, place_id);
CREATE VIRTUAL TABLE IF NOT EXISTS places_fts USING fts5 (
    id UNINDEXED, name, reading, address, description, tokenize = 'trigram'
);

CREATE TABLE IF NOT EXISTS orgs (
    id      TEXT PRIMARY KEY,
    doc_id  TEXT NOT NULL,
    name    TEXT NOT NULL,
    sector  TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    json    TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS visits (
    id             TEXT PRIMARY KEY,
    doc_id         TEXT NOT NULL,
    team           TEXT NOT NULL,
    at             TEXT NOT NULL,
    kind           TEXT NOT NULL,
    place_id       TEXT,
    people         INTEGER NOT NULL,
    follow_up      TEXT,
    follow_up_done INTEGER NOT NULL,
    deleted        INTEGER NOT NULL,
    json           TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS visits_by_doc ON visits (doc_id);
CREATE INDEX IF NOT EXISTS visits_by_team_at ON visits (team, at);
CREATE TABLE IF NOT EXISTS referrals (
    id         TEXT PRIMARY KEY,
    doc_id     TEXT NOT NULL,
    from_team  TEXT NOT NULL,
    to_team    TEXT,
    status     TEXT NOT NULL,
    due        TEXT,
    created_at TEXT NOT NULL,
    deleted    INTEGER NOT NULL,
    json       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS referrals_by_doc ON referrals (doc_id);
CREATE INDEX IF NOT EXISTS visits_due ON visits (follow_up)
    WHERE follow_up IS NOT NULL AND follow_up_done = 0 AND deleted = 0;

CREATE TABLE IF NOT EXISTS conflicts (
    record_id TEXT NOT NULL,
    field     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    doc_id    TEXT NOT NULL,
    PRIMARY KEY (record_id, field)
);
CREATE INDEX IF NOT EXISTS conflicts_by_doc ON conflicts (doc_id);

-- Sync bookkeeping: the encoded automerge sync::State with the server, per document.
CREATE TABLE IF NOT EXISTS sync_states (
    doc_id TEXT PRIMARY KEY,
    state  BLOB NOT NULL
);

-- The heads the server last said it has, per document (from its manifest and its messages):
-- what this device's unsent changes are counted against.
CREATE TABLE IF NOT EXISTS server_heads (
    doc_id TEXT PRIMARY KEY,
    heads  BLOB NOT NULL
);

-- Device-only: never part of a document, never synced.
CREATE TABLE IF NOT EXISTS private_notes (
    visit_id   TEXT PRIMARY KEY,
    note       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- Each document's epoch as this device holds it (0 when never rewritten; see `doc::epoch`).
CREATE TABLE IF NOT EXISTS doc_epochs (
    doc_id TEXT PRIMARY KEY,
    epoch  INTEGER NOT NULL
);
-- The erasures the server told of (the log coordinators see; never an erased value).
CREATE TABLE IF NOT EXISTS erasures (
    doc_id TEXT NOT NULL,
    epoch  INTEGER NOT NULL,
    json   TEXT NOT NULL,
    PRIMARY KEY (doc_id, epoch)
);
-- Reports published (period and minimum cell), so that two cannot be subtracted.
CREATE TABLE IF NOT EXISTS published_reports (
    period_from TEXT NOT NULL,
    period_to   TEXT NOT NULL,
    min_cell    INTEGER NOT NULL,
    -- SHA-256 of the figures before suppression: the same period may be published again only
    -- with the same figures and minimum cell.
    figures     TEXT NOT NULL DEFAULT '',
    at          TEXT NOT NULL
);
-- Changes of this device's that the server refused at the last try (see `Replica::stuck`).
CREATE TABLE IF NOT EXISTS stuck (
    doc_id  TEXT NOT NULL,
    record  TEXT NOT NULL,
    field   TEXT NOT NULL,
    code    TEXT NOT NULL,
    message TEXT NOT NULL,
    at      TEXT NOT NULL
);
-- Edits made here on an earlier epoch of a document, kept while the new epoch comes in and then
-- made again on it (nothing is lost between the two, also across a crash).
CREATE TABLE IF NOT EXISTS rebase_pending (
    doc_id  TEXT NOT NULL,
    kind    TEXT NOT NULL,
    record  TEXT NOT NULL,
    created INTEGER NOT NULL,
    fields  TEXT NOT NULL,
    PRIMARY KEY (doc_id, record)
);
"#;

/// The tables `doc_store` keeps document bytes in (the replica's and the server's store share them).
pub const DOC_TABLES: &str = r#"
-- Document bytes: one compacted snapshot plus the change chunks appended since.
CREATE TABLE IF NOT EXISTS doc_snapshots (
    doc_id TEXT PRIMARY KEY,
    bytes  BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS doc_chunks (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL,
    bytes  BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS doc_chunks_by_doc ON doc_chunks (doc_id, seq);
"#;

/// Opens the connection in WAL mode with full fsync and creates the schema.
pub fn prepare(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a commit is on disk before the call that made the edit returns, also across power loss.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // What is deleted is overwritten, not left in free pages: an erased value is gone from the
    // file (see `doc::epoch`).
    conn.pragma_update(None, "secure_delete", "ON")?;
    // A larger page cache (up to 16 MiB, used only as needed) keeps a big transaction such as a
    // cold sync from spilling pages to the log before it commits.
    conn.pragma_update(None, "cache_size", -16384)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    conn.execute_batch(DOC_TABLES)?;
    conn.execute_batch(SCHEMA)?;
    if version == 1 {
        // Version 1 search rows had rowids of their own: rebuild them keyed by the places' rowids.
        conn.execute_batch(
            "BEGIN;
             DELETE FROM places_fts;
             INSERT INTO places_fts (rowid, id, name, reading, address, description)
               SELECT rowid, id, name, coalesce(json ->> '$.reading', ''),
                      coalesce(json ->> '$.address', ''), coalesce(json ->> '$.description', '')
               FROM places;
             COMMIT;",
        )?;
    }
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(())
}

//! The server's SQLite store: workspaces, teams, invites, devices, document bytes, heads and the
//! sync state of every (device, document).

use automerge::ChangeHash;
use ibasho_shared::store::doc_store;
use ibasho_shared::sync::Role;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::path::Path;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS workspaces (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS teams (
    id        TEXT PRIMARY KEY,
    workspace TEXT NOT NULL REFERENCES workspaces (id),
    name      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS invites (
    token_hash TEXT PRIMARY KEY,
    workspace  TEXT NOT NULL REFERENCES workspaces (id),
    role       TEXT NOT NULL,
    team       TEXT,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE TABLE IF NOT EXISTS devices (
    id         TEXT PRIMARY KEY,
    workspace  TEXT NOT NULL REFERENCES workspaces (id),
    role       TEXT NOT NULL,
    team       TEXT,
    person     TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS device_actors (
    actor  BLOB NOT NULL,
    device TEXT NOT NULL REFERENCES devices (id),
    PRIMARY KEY (actor, device)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS record_homes (
    workspace TEXT NOT NULL,
    id        TEXT NOT NULL,
    doc_id    TEXT NOT NULL,
    PRIMARY KEY (workspace, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS doc_heads (
    key       TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    doc_id    TEXT NOT NULL,
    heads     BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS doc_heads_by_workspace ON doc_heads (workspace, doc_id);
CREATE TABLE IF NOT EXISTS doc_epochs (
    workspace TEXT NOT NULL,
    doc_id    TEXT NOT NULL,
    epoch     INTEGER NOT NULL,
    PRIMARY KEY (workspace, doc_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS erasures (
    workspace TEXT NOT NULL,
    doc_id    TEXT NOT NULL,
    epoch     INTEGER NOT NULL,
    json      TEXT NOT NULL,
    PRIMARY KEY (workspace, doc_id, epoch)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS closed_changes (
    workspace TEXT NOT NULL,
    doc_id    TEXT NOT NULL,
    hash      BLOB NOT NULL,
    PRIMARY KEY (workspace, doc_id, hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS workspace_settings (
    workspace              TEXT PRIMARY KEY REFERENCES workspaces (id),
    visit_retention_months INTEGER
);
CREATE TABLE IF NOT EXISTS sync_states (
    device TEXT NOT NULL,
    key    TEXT NOT NULL,
    state  BLOB NOT NULL,
    PRIMARY KEY (device, key)
) WITHOUT ROWID;
"#;

/// A device as the server knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Device id.
    pub id: String,
    /// Workspace.
    pub workspace: String,
    /// Role.
    pub role: Role,
    /// Team.
    pub team: Option<String>,
    /// Display name given at join.
    pub person: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
    /// The Automerge actors bound to it at join: the only ones whose new changes it may send.
    pub actors: Vec<automerge::ActorId>,
    /// When it last connected (or tried to, once revoked).
    pub last_seen_at: Option<String>,
    /// When a revoked device said it deleted the workspace's data.
    pub wiped_at: Option<String>,
}

/// Why an invite was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    /// No such invite.
    #[error("unknown invite")]
    Unknown,
    /// Already exchanged.
    #[error("this invite was already used")]
    Used,
    /// Past its expiry.
    #[error("this invite has expired")]
    Expired,
    /// The actor id offered is not one (16 bytes, not the documents' first change's).
    #[error("the device's actor id is not valid")]
    BadActor,
    /// The actor id offered belongs to another device that is not revoked.
    #[error("the device's actor id belongs to another device")]
    ActorTaken,
}

/// The key a document is stored under: `{workspace}:{doc}`.
pub fn doc_key(workspace: &str, doc: &str) -> String {
    format!("{workspace}:{doc}")
}

/// SHA-256 of a secret, hex; only hashes of tokens are stored.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new random secret (32 bytes, hex).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS provides randomness");
    hex::encode(bytes)
}

use ibasho_shared::store::encode_heads;

/// Decodes heads stored as concatenated 32-byte hashes (as the manifest sends them).
pub fn decode_heads(bytes: &[u8]) -> Vec<[u8; 32]> {
    ibasho_shared::store::decode_heads(bytes)
        .into_iter()
        .map(|h| h.0)
        .collect()
}

/// Opens (or creates) the store in `data_dir`.
pub fn open(data_dir: &Path) -> rusqlite::Result<Connection> {
    std::fs::create_dir_all(data_dir).map_err(|e| {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(14),
            Some(format!("{}: {e}", data_dir.display())),
        )
    })?;
    let path = data_dir.join("server.sqlite3");
    let conn = Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    ibasho_shared::store::make_private(&path).map_err(|e| {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(14),
            Some(format!("{}: {e}", path.display())),
        )
    })?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // What is deleted is overwritten, not left in free pages (erasures, see `crate::erase`).
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.execute_batch(ibasho_shared::store::schema::DOC_TABLES)?;
    conn.execute_batch(SCHEMA)?;
    // Stores made before devices' last contact and wiping were kept.
    for column in ["last_seen_at", "wiped_at"] {
        let has: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info('devices') WHERE name = ?1)",
            [column],
            |r| r.get(0),
        )?;
        if !has {
            conn.execute_batch(&format!("ALTER TABLE devices ADD COLUMN {column} TEXT"))?;
        }
    }
    Ok(conn)
}

/// Refuses to let the store grow past `bytes` on this connection (SQLite's `max_page_count`):
/// writes beyond fail as they would on a full disk.
pub fn limit_size(conn: &Connection, bytes: u64) -> rusqlite::Result<()> {
    let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let pages = (bytes / page.max(1) as u64).clamp(1, i64::MAX as u64) as i64;
    conn.pragma_update(None, "max_page_count", pages)?;
    Ok(())
}

/// Whether a workspace exists.
pub fn workspace_exists(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT 1 FROM workspaces WHERE id = ?1", [id], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
}

/// Whether a team of the workspace exists.
pub fn team_exists(conn: &Connection, workspace: &str, team: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT 1 FROM teams WHERE id = ?1 AND workspace = ?2",
        [team, workspace],
        |_| Ok(()),
    )
    .optional()
    .map(|r| r.is_some())
}

/// Stores a new invite; returns nothing (the caller keeps the secret).
pub fn insert_invite(
    conn: &Connection,
    secret: &str,
    workspace: &str,
    role: Role,
    team: Option<&str>,
    expires_at: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO invites (token_hash, workspace, role, team, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![hash_secret(secret), workspace, role.to_string(), team, expires_at],
    )?;
    Ok(())
}

/// workspace, role, team, expires_at, used_at
type InviteRow = (String, String, Option<String>, i64, Option<i64>);

/// Exchanges an invite for a new device, in one transaction: single use.
pub fn redeem_invite(
    conn: &mut Connection,
    secret: &str,
    person: &str,
    actor: &[u8],
    now: i64,
) -> rusqlite::Result<Result<(Device, String), InviteError>> {
    if actor.len() != 16 || actor == ibasho_shared::doc::GENESIS_ACTOR.as_slice() {
        return Ok(Err(InviteError::BadActor));
    }
    let tx = conn.transaction()?;
    let row: Option<InviteRow> = tx
        .query_row(
            "SELECT workspace, role, team, expires_at, used_at FROM invites WHERE token_hash = ?1",
            [hash_secret(secret)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((workspace, role, team, expires_at, used_at)) = row else {
        return Ok(Err(InviteError::Unknown));
    };
    if used_at.is_some() {
        return Ok(Err(InviteError::Used));
    }
    if now >= expires_at {
        return Ok(Err(InviteError::Expired));
    }
    // A replica that joins again after its device was revoked keeps its actor; one still bound to
    // a device in use cannot be taken by another.
    let taken: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM device_actors a JOIN devices d ON d.id = a.device
         WHERE a.actor = ?1 AND d.revoked_at IS NULL)",
        [actor],
        |r| r.get(0),
    )?;
    if taken {
        return Ok(Err(InviteError::ActorTaken));
    }
    tx.execute(
        "UPDATE invites SET used_at = ?1 WHERE token_hash = ?2",
        params![now, hash_secret(secret)],
    )?;
    let token = new_secret();
    let device = Device {
        id: new_secret()[..16].to_string(),
        workspace,
        role: role.parse().unwrap_or(Role::Member),
        team,
        person: person.to_string(),
        revoked_at: None,
        last_seen_at: None,
        wiped_at: None,
        actors: vec![automerge::ActorId::from(actor)],
    };
    tx.execute(
        "INSERT INTO devices (id, workspace, role, team, person, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![device.id, device.workspace, role, device.team, device.person, hash_secret(&token), chrono::Utc::now().to_rfc3339()],
    )?;
    tx.execute(
        "INSERT INTO device_actors (actor, device) VALUES (?1, ?2)",
        params![actor, device.id],
    )?;
    tx.commit()?;
    Ok(Ok((device, token)))
}

fn device_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Device> {
    Ok(Device {
        id: r.get(0)?,
        workspace: r.get(1)?,
        role: r.get::<_, String>(2)?.parse().unwrap_or(Role::Member),
        team: r.get(3)?,
        person: r.get(4)?,
        revoked_at: r.get(5)?,
        actors: Vec::new(),
        last_seen_at: r.get(6)?,
        wiped_at: r.get(7)?,
    })
}

/// The actors bound to a device.
pub fn device_actors(conn: &Connection, device: &str) -> rusqlite::Result<Vec<automerge::ActorId>> {
    let mut stmt = conn.prepare_cached("SELECT actor FROM device_actors WHERE device = ?1")?;
    stmt.query_map([device], |r| {
        Ok(automerge::ActorId::from(r.get::<_, Vec<u8>>(0)?))
    })?
    .collect()
}

/// The device holding this token, with its actors.
pub fn device_by_token(conn: &Connection, token: &str) -> rusqlite::Result<Option<Device>> {
    let device = conn
        .query_row(
            "SELECT id, workspace, role, team, person, revoked_at, last_seen_at, wiped_at FROM devices WHERE token_hash = ?1",
            [hash_secret(token)],
            device_from_row,
        )
        .optional()?;
    device
        .map(|mut d| {
            d.actors = device_actors(conn, &d.id)?;
            Ok(d)
        })
        .transpose()
}

/// The device with this id.
pub fn device(conn: &Connection, id: &str) -> rusqlite::Result<Option<Device>> {
    // Checked on every frame (revocation): a cached statement.
    conn.prepare_cached(
        "SELECT id, workspace, role, team, person, revoked_at, last_seen_at, wiped_at FROM devices WHERE id = ?1",
    )?
    .query_row([id], device_from_row)
    .optional()
}

/// The devices of a workspace.
pub fn devices(conn: &Connection, workspace: &str) -> rusqlite::Result<Vec<Device>> {
    let mut stmt = conn.prepare(
        "SELECT id, workspace, role, team, person, revoked_at, last_seen_at, wiped_at FROM devices WHERE workspace = ?1 ORDER BY created_at",
    )?;
    stmt.query_map([workspace], device_from_row)?.collect()
}

/// Records that a device connected (or tried to) now.
pub fn touch_device(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE devices SET last_seen_at = ?1 WHERE id = ?2")?
        .execute(params![chrono::Utc::now().to_rfc3339(), id])?;
    Ok(())
}

/// Records that a revoked device deleted the workspace's data.
pub fn mark_wiped(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE devices SET wiped_at = COALESCE(wiped_at, ?1) WHERE id = ?2 AND revoked_at IS NOT NULL",
        params![chrono::Utc::now().to_rfc3339(), id],
    )?;
    Ok(())
}

/// The epoch of every document of a workspace that has been rewritten (others are at 0).
pub fn epochs(
    conn: &Connection,
    workspace: &str,
) -> rusqlite::Result<std::collections::HashMap<String, u32>> {
    let mut stmt =
        conn.prepare_cached("SELECT doc_id, epoch FROM doc_epochs WHERE workspace = ?1")?;
    stmt.query_map([workspace], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// The epoch of one document (0 when never rewritten).
pub fn epoch_of(conn: &Connection, workspace: &str, doc: &str) -> rusqlite::Result<u32> {
    Ok(conn
        .prepare_cached("SELECT epoch FROM doc_epochs WHERE workspace = ?1 AND doc_id = ?2")?
        .query_row([workspace, doc], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// The changes of a document's epochs that erasures closed.
pub fn closed_changes(
    conn: &Connection,
    workspace: &str,
    doc: &str,
) -> rusqlite::Result<std::collections::HashSet<ChangeHash>> {
    let mut stmt = conn
        .prepare_cached("SELECT hash FROM closed_changes WHERE workspace = ?1 AND doc_id = ?2")?;
    stmt.query_map([workspace, doc], |r| r.get::<_, Vec<u8>>(0))?
        .map(|hash| {
            let hash = hash?;
            Ok(ChangeHash(hash.as_slice().try_into().unwrap_or([0; 32])))
        })
        .collect()
}

/// The erase log of a workspace, oldest first.
pub fn erasures(
    conn: &Connection,
    workspace: &str,
) -> rusqlite::Result<Vec<ibasho_shared::doc::epoch::Erasure>> {
    let mut stmt = conn.prepare_cached(
        "SELECT json FROM erasures WHERE workspace = ?1 ORDER BY json ->> '$.at', doc_id, epoch",
    )?;
    let rows = stmt.query_map([workspace], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for json in rows {
        if let Ok(erasure) = serde_json::from_str(&json?) {
            out.push(erasure);
        }
    }
    Ok(out)
}

/// How many months a workspace keeps visits (`None`: for ever).
pub fn visit_retention(conn: &Connection, workspace: &str) -> rusqlite::Result<Option<u32>> {
    Ok(conn
        .prepare_cached(
            "SELECT visit_retention_months FROM workspace_settings WHERE workspace = ?1",
        )?
        .query_row([workspace], |r| r.get::<_, Option<u32>>(0))
        .optional()?
        .flatten())
}

/// Sets how many months a workspace keeps visits.
pub fn set_visit_retention(
    conn: &Connection,
    workspace: &str,
    months: Option<u32>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO workspace_settings (workspace, visit_retention_months) VALUES (?1, ?2)
         ON CONFLICT (workspace) DO UPDATE SET visit_retention_months = excluded.visit_retention_months",
        params![workspace, months],
    )?;
    Ok(())
}

/// Every workspace's id.
pub fn workspace_ids(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT id FROM workspaces ORDER BY id")?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

/// Revokes a device; returns whether it existed.
pub fn revoke(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2",
        params![chrono::Utc::now().to_rfc3339(), id],
    )? > 0)
}

/// Records a document's stored heads (inside the transaction that stored its bytes).
fn record_heads(
    tx: &Connection,
    key: &str,
    workspace: &str,
    doc: &str,
    heads: &[ChangeHash],
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO doc_heads (key, workspace, doc_id, heads) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET heads = excluded.heads",
    )?
    .execute(params![key, workspace, doc, encode_heads(heads)])?;
    Ok(())
}

/// Appends a change chunk of a document and records its new heads, in one transaction.
pub fn append_doc(
    conn: &mut Connection,
    workspace: &str,
    doc: &str,
    chunk: &[u8],
    heads: &[ChangeHash],
    created: &[String],
) -> rusqlite::Result<()> {
    let key = doc_key(workspace, doc);
    let tx = conn.transaction()?;
    doc_store::append_chunk(&tx, &key, chunk)?;
    record_heads(&tx, &key, workspace, doc, heads)?;
    insert_record_homes(&tx, workspace, doc, created)?;
    tx.commit()
}

/// Stores a document's first bytes as a snapshot and records its heads, in one transaction.
pub fn store_snapshot(
    conn: &mut Connection,
    workspace: &str,
    doc: &str,
    snapshot: &[u8],
    heads: &[ChangeHash],
    created: &[String],
) -> rusqlite::Result<()> {
    let key = doc_key(workspace, doc);
    let tx = conn.transaction()?;
    doc_store::write_snapshot(&tx, &key, snapshot)?;
    record_heads(&tx, &key, workspace, doc, heads)?;
    insert_record_homes(&tx, workspace, doc, created)?;
    tx.commit()
}

/// The stored heads of every document of a workspace.
pub fn doc_heads(conn: &Connection, workspace: &str) -> rusqlite::Result<Vec<(String, Vec<u8>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT doc_id, heads FROM doc_heads WHERE workspace = ?1 ORDER BY doc_id",
    )?;
    stmt.query_map([workspace], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// The stored heads of one document.
pub fn heads_of(
    conn: &Connection,
    workspace: &str,
    doc: &str,
) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT heads FROM doc_heads WHERE key = ?1")?
        .query_row([doc_key(workspace, doc)], |r| r.get(0))
        .optional()
}

/// A device's persisted sync state for a document.
pub fn sync_state(conn: &Connection, device: &str, key: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT state FROM sync_states WHERE device = ?1 AND key = ?2")?
        .query_row([device, key], |r| r.get(0))
        .optional()
}

/// Stores a device's sync states (document key, encoded state) in one transaction.
pub fn save_sync_states(
    conn: &Connection,
    device: &str,
    states: &[(String, Vec<u8>)],
) -> rusqlite::Result<()> {
    if states.is_empty() {
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO sync_states (device, key, state) VALUES (?1, ?2, ?3)
             ON CONFLICT (device, key) DO UPDATE SET state = excluded.state",
        )?;
        for (key, state) in states {
            stmt.execute(params![device, key, state])?;
        }
    }
    tx.commit()
}

/// The document a record lives in, by its id: an id names one record in a workspace, whatever its
/// kind and whichever document.
pub fn record_home(
    conn: &Connection,
    workspace: &str,
    id: &str,
) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT doc_id FROM record_homes WHERE workspace = ?1 AND id = ?2")?
        .query_row([workspace, id], |r| r.get(0))
        .optional()
}

/// Records that `ids` live in `doc` (ids already recorded keep their first home), in one
/// transaction.
pub fn set_record_homes(
    conn: &Connection,
    workspace: &str,
    doc: &str,
    ids: &[String],
) -> rusqlite::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    insert_record_homes(&tx, workspace, doc, ids)?;
    tx.commit()
}

/// [`set_record_homes`] inside the caller's transaction (with the chunk that made them).
fn insert_record_homes(
    tx: &Connection,
    workspace: &str,
    doc: &str,
    ids: &[String],
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO record_homes (workspace, id, doc_id) VALUES (?1, ?2, ?3)",
    )?;
    for id in ids {
        stmt.execute(params![workspace, id, doc])?;
    }
    Ok(())
}

//! The replica: this device's full copy of a workspace. Automerge documents stored in SQLite, a
//! query index kept in step with them, and device-only data.
//!
//! Every edit is validated first (invalid input changes nothing), applied to the document, and made
//! durable — the new change chunk appended in the same SQLite transaction as the index update —
//! before the call returns. UI and CLI use only this API: neither touches SQL or Automerge.
//!
//! ```
//! use ibasho_shared::{Replica, Place, PlaceQuery};
//! let dir = tempfile::tempdir().unwrap();
//! let mut replica = Replica::open(&dir.path().join("replica.sqlite3")).unwrap();
//! replica.init("座間市 孤独・孤立官民連携PF", "佐藤").unwrap();
//! let place = replica.add_place(Place::new("喫茶ランドリー", "laundry_cafe", 35.4889, 139.4075)).unwrap();
//! let found = replica.places(&PlaceQuery { search: Some("ランドリー".into()), ..Default::default() }).unwrap();
//! assert_eq!(found[0].place.id, place.id);
//! ```

mod edit;
mod epochs;
mod orgs;
mod places;
mod publish;
mod referrals;
mod report;
mod stuck;
mod sync;
mod visits;

pub use epochs::Discarded;
pub use publish::{Published, Shown, Table, published_json, reveals, suppress};
pub use referrals::{ReferralQuery, ReferralView};
pub use report::{
    Counts, FollowUpFigures, OrgFigures, Period, PlaceFigures, ReferralFigures, Report,
    VisitFigures, rows_csv, rows_of,
};
pub use stuck::Stuck;
pub use sync::{JoinReport, ServerBinding};

use crate::doc::{self, DocId, Team, WorkspaceInfo};
use crate::error::{Error, Result};
use crate::store::{doc_store, schema};
use automerge::{ActorId, AutoCommit, ChangeHash};
use rusqlite::{Connection, OptionalExtension};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A document held in memory, with the heads already stored in SQLite.
#[derive(Debug)]
struct LoadedDoc {
    doc: AutoCommit,
    saved_heads: Vec<ChangeHash>,
    /// Received bytes that are the whole document as it is at these heads: stored as its first
    /// snapshot instead of encoding the document again.
    received_whole: Option<(Vec<ChangeHash>, Vec<u8>)>,
}

/// This device's replica of a workspace.
#[derive(Debug)]
pub struct Replica {
    conn: Connection,
    docs: HashMap<DocId, LoadedDoc>,
    /// Sync states with the server for documents touched in the current session.
    sync_states: HashMap<DocId, automerge::sync::State>,
    /// The server's heads per document, from the manifest of the current session.
    server_heads: HashMap<DocId, Vec<ChangeHash>>,
    /// SQLite's `data_version` when last checked (it changes when another connection commits).
    data_version: Option<i64>,
    actor: ActorId,
    path: PathBuf,
}

const META_ACTOR: &str = "actor";
const META_WORKSPACE: &str = "workspace_id";
const META_PERSON: &str = "person";
const META_TEAM: &str = "team";

impl LoadedDoc {
    /// For a document of which nothing is stored yet: takes in received bytes as a whole document
    /// (see [`doc::load_whole`]), remembering them to store as they are when they are the whole
    /// document. Returns whether they were taken in.
    fn take_whole(&mut self, bytes: &[u8]) -> bool {
        let loaded = doc::load_whole(&mut self.doc, bytes);
        self.remember_whole(loaded, bytes)
    }

    /// Like [`LoadedDoc::take_whole`], with the bytes already loaded as `incoming`.
    fn take_loaded(&mut self, incoming: AutoCommit, bytes: &[u8]) -> bool {
        let loaded = doc::adopt_whole(&mut self.doc, incoming, bytes);
        self.remember_whole(loaded, bytes)
    }

    /// Keeps the bytes as the first snapshot when they are the whole document; whether they were
    /// taken in at all.
    fn remember_whole(&mut self, loaded: doc::Loaded, bytes: &[u8]) -> bool {
        match loaded {
            doc::Loaded::No => false,
            doc::Loaded::Merged => true,
            doc::Loaded::AsIs => {
                self.received_whole = Some((self.doc.get_heads(), bytes.to_vec()));
                true
            }
        }
    }
}

impl Replica {
    /// Opens (or creates) the replica file at `path`, creating parent folders.
    pub fn open(path: &Path) -> Result<Replica> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                path: parent.display().to_string(),
                source,
            })?;
        }
        let conn = Connection::open(path)?;
        if path != Path::new(":memory:") {
            crate::store::make_private(path).map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            })?;
        }
        schema::prepare(&conn)?;
        let actor = match meta_get(&conn, META_ACTOR)? {
            Some(hex) => ActorId::from(decode_hex(&hex).unwrap_or_default()),
            None => {
                let actor = ActorId::random();
                meta_set(&conn, META_ACTOR, &actor.to_hex_string())?;
                actor
            }
        };
        let mut replica = Replica {
            conn,
            docs: HashMap::new(),
            sync_states: HashMap::new(),
            server_heads: HashMap::new(),
            data_version: None,
            actor,
            path: path.to_path_buf(),
        };
        replica.maintain()?;
        Ok(replica)
    }

    /// The replica file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This device's id (its Automerge actor id, hex).
    pub fn device_id(&self) -> String {
        self.actor.to_hex_string()
    }

    /// The display name recorded on changes made here.
    pub fn person(&self) -> Result<String> {
        Ok(meta_get(&self.conn, META_PERSON)?.unwrap_or_default())
    }

    /// Sets the display name recorded on changes made here.
    pub fn set_person(&mut self, name: &str) -> Result<()> {
        crate::validate::required_text("person", name, crate::validate::MAX_NAME_CHARS)?;
        meta_set(&self.conn, META_PERSON, name.trim())?;
        Ok(())
    }

    /// Creates a local workspace named `name`, with one team, usable with no server.
    pub fn init(&mut self, name: &str, person: &str) -> Result<WorkspaceInfo> {
        crate::validate::required_text("workspace", name, crate::validate::MAX_NAME_CHARS)?;
        crate::validate::required_text("person", person, crate::validate::MAX_NAME_CHARS)?;
        if meta_get(&self.conn, META_WORKSPACE)?.is_some() {
            return Err(Error::WorkspaceExists(self.workspace()?.name));
        }
        let workspace_id = crate::domain::new_id();
        let team = Team {
            id: short_id(),
            name: format!("{} チーム", person.trim()),
        };
        meta_set(&self.conn, META_PERSON, person.trim())?;
        self.edit_workspace(|doc| {
            doc::write_workspace(
                doc,
                &workspace_id,
                name.trim(),
                crate::taxonomy::TAXONOMY_VERSION,
            )?;
            doc::write_team(doc, &team)?;
            Ok(())
        })?;
        meta_set(&self.conn, META_WORKSPACE, &workspace_id)?;
        meta_set(&self.conn, META_TEAM, &team.id)?;
        self.workspace()
    }

    /// The workspace this replica holds.
    pub fn workspace(&mut self) -> Result<WorkspaceInfo> {
        self.require_workspace()?;
        let entry = self.loaded(&DocId::Workspace)?;
        Ok(doc::read_workspace(&entry.doc))
    }

    /// Binds an empty replica to the workspace whose document it just received (joining), with the
    /// first team as the default for visits until one is chosen.
    fn adopt_workspace(&mut self) -> Result<()> {
        if meta_get(&self.conn, META_WORKSPACE)?.is_some() {
            return Ok(());
        }
        let info = doc::read_workspace(&self.loaded(&DocId::Workspace)?.doc);
        if info.id.is_empty() {
            return Ok(());
        }
        meta_set(&self.conn, META_WORKSPACE, &info.id)?;
        if meta_get(&self.conn, META_TEAM)?.is_none()
            && let Some(team) = info.teams.first()
        {
            meta_set(&self.conn, META_TEAM, &team.id)?;
        }
        Ok(())
    }

    /// A device-only setting (never synced): UI language, tile URL, …
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(meta_get(&self.conn, &format!("setting.{key}"))?)
    }

    /// Stores a device-only setting.
    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        meta_set(&self.conn, &format!("setting.{key}"), value)?;
        Ok(())
    }

    /// Fails with [`Error::NoWorkspace`] until the replica holds a workspace.
    fn require_workspace(&self) -> Result<()> {
        match meta_get(&self.conn, META_WORKSPACE)? {
            Some(_) => Ok(()),
            None => Err(Error::NoWorkspace),
        }
    }

    /// Adds a team to the workspace.
    pub fn add_team(&mut self, name: &str) -> Result<Team> {
        crate::validate::required_text("team", name, crate::validate::MAX_NAME_CHARS)?;
        self.workspace()?;
        let team = Team {
            id: short_id(),
            name: name.trim().to_string(),
        };
        self.edit_workspace(|doc| Ok(doc::write_team(doc, &team)?))?;
        Ok(team)
    }

    /// The team this device logs visits for by default.
    pub fn default_team(&self) -> Result<String> {
        if self
            .server()?
            .is_some_and(|s| s.role == crate::sync::Role::Member)
        {
            return Err(Error::NotPermitted(
                crate::error::Permission::MembersLogNoVisits,
            ));
        }
        meta_get(&self.conn, META_TEAM)?.ok_or(Error::NoWorkspace)
    }

    /// Sets the team this device logs visits for by default.
    pub fn set_default_team(&mut self, team: &str) -> Result<()> {
        meta_set(&self.conn, META_TEAM, team)?;
        Ok(())
    }

    /// Every document stored here.
    pub fn doc_ids(&self) -> Result<Vec<DocId>> {
        doc_store::doc_ids(&self.conn)?
            .into_iter()
            .map(|s| s.parse::<DocId>().map_err(Error::from))
            .collect()
    }

    /// The document's whole state as standard Automerge bytes (readable by any implementation).
    pub fn doc_bytes(&mut self, doc_id: &DocId) -> Result<Vec<u8>> {
        Ok(self.loaded(doc_id)?.doc.save())
    }

    /// The document's current heads.
    pub fn doc_heads(&mut self, doc_id: &DocId) -> Result<Vec<ChangeHash>> {
        Ok(self.loaded(doc_id)?.doc.get_heads())
    }

    /// Loads a document into memory (an empty one if nothing is stored yet).
    fn loaded(&mut self, doc_id: &DocId) -> Result<&mut LoadedDoc> {
        if !self.docs.contains_key(doc_id) {
            // A document not stored yet starts from its genesis change, which is then stored with
            // the first change made or received (nothing of it is saved yet).
            let (mut doc, saved_heads) = match doc_store::load(&self.conn, &doc_id.to_string())? {
                Some(mut doc) => {
                    let heads = doc.get_heads();
                    (doc, heads)
                }
                None => (doc::genesis(doc_id, self.actor.clone()), Vec::new()),
            };
            doc.set_actor(self.actor.clone());
            self.docs.insert(
                doc_id.clone(),
                LoadedDoc {
                    doc,
                    saved_heads,
                    received_whole: None,
                },
            );
        }
        Ok(self.docs.get_mut(doc_id).expect("just inserted"))
    }

    /// Drops documents from memory (after a failed edit they reload from what is stored).
    fn evict(&mut self, doc_ids: impl IntoIterator<Item = DocId>) {
        for id in doc_ids {
            self.docs.remove(&id);
        }
    }

    /// Reloads documents when another process (another `ibasho` command) changed the replica file
    /// since this one last looked. Returns whether anything changed.
    pub fn refresh_if_changed(&mut self) -> Result<bool> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?;
        let changed = self.data_version.is_some_and(|v| v != version);
        self.data_version = Some(version);
        if changed {
            self.docs.clear();
        }
        Ok(changed)
    }

    /// Runs SQLite's integrity check; `Ok(())` when the file is sound.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    /// Compacts the documents whose change chunks piled up. Runs when the replica opens; long
    /// sessions (the app, `sync --watch`) call it between sync rounds.
    pub fn maintain(&mut self) -> Result<()> {
        for id in doc_store::docs_to_compact(&self.conn, doc_store::COMPACT_AFTER_CHUNKS)? {
            if let Ok(doc_id) = id.parse::<DocId>() {
                self.compact_doc(&doc_id)?;
            }
        }
        Ok(())
    }

    fn compact_doc(&mut self, doc_id: &DocId) -> Result<()> {
        let bytes = self.loaded(doc_id)?.doc.save();
        let tx = self.conn.transaction()?;
        doc_store::write_snapshot(&tx, &doc_id.to_string(), &bytes)?;
        tx.commit()?;
        Ok(())
    }
}

/// Deletes a document's bytes, index rows and sync bookkeeping (the caller commits).
pub(super) fn drop_doc_rows(tx: &Connection, key: &str) -> rusqlite::Result<()> {
    crate::store::index::clear_doc(tx, key)?;
    tx.execute("DELETE FROM doc_snapshots WHERE doc_id = ?1", [key])?;
    tx.execute("DELETE FROM doc_chunks WHERE doc_id = ?1", [key])?;
    tx.execute("DELETE FROM sync_states WHERE doc_id = ?1", [key])?;
    tx.execute("DELETE FROM server_heads WHERE doc_id = ?1", [key])?;
    Ok(())
}

fn meta_get(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

fn meta_set(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )?;
    Ok(())
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A short random id for teams (document ids carry it).
fn short_id() -> String {
    let id = uuid::Uuid::now_v7().simple().to_string();
    id[id.len() - 12..].to_string()
}

//! Keeps the query index tables in step with the documents.

use crate::domain::{Org, Place, RecordKind, Referral, Visit};
use rusqlite::{Connection, params};

/// A record kind the query index keeps: each kind has its own table.
pub trait Indexed {
    /// Writes the record's index rows (replacing those it had).
    fn write_index(&self, conn: &Connection, doc_id: &str) -> rusqlite::Result<()>;
}

impl Indexed for Place {
    fn write_index(&self, conn: &Connection, doc_id: &str) -> rusqlite::Result<()> {
        place(conn, doc_id, self)
    }
}

impl Indexed for Org {
    fn write_index(&self, conn: &Connection, doc_id: &str) -> rusqlite::Result<()> {
        org(conn, doc_id, self)
    }
}

impl Indexed for Visit {
    fn write_index(&self, conn: &Connection, doc_id: &str) -> rusqlite::Result<()> {
        visit(conn, doc_id, self)
    }
}

impl Indexed for Referral {
    fn write_index(&self, conn: &Connection, doc_id: &str) -> rusqlite::Result<()> {
        let json = serde_json::to_string(self).expect("a referral always encodes");
        conn.prepare_cached(
            "INSERT INTO referrals (id, doc_id, from_team, to_team, status, due, created_at, deleted, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (id) DO UPDATE SET doc_id = excluded.doc_id, from_team = excluded.from_team,
               to_team = excluded.to_team, status = excluded.status, due = excluded.due,
               created_at = excluded.created_at, deleted = excluded.deleted, json = excluded.json",
        )?
        .execute(params![
            self.id,
            doc_id,
            self.from_team,
            self.to_team,
            self.status,
            self.due,
            self.created_at,
            self.deleted_at.is_some(),
            json
        ])?;
        Ok(())
    }
}

/// Removes every index row that came from `doc_id` (before re-indexing the whole document).
pub fn clear_doc(conn: &Connection, doc_id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM place_targets WHERE place_id IN (SELECT id FROM places WHERE doc_id = ?1)",
        [doc_id],
    )?;
    conn.execute(
        "DELETE FROM places_fts WHERE rowid IN (SELECT rowid FROM places WHERE doc_id = ?1)",
        [doc_id],
    )?;
    for table in ["places", "orgs", "visits", "referrals", "conflicts"] {
        conn.execute(&format!("DELETE FROM {table} WHERE doc_id = ?1"), [doc_id])?;
    }
    Ok(())
}

/// Writes a place's index rows. Its search row shares the `places` row's rowid, so replacing it
/// is a key lookup rather than a scan of the search index.
pub fn place(conn: &Connection, doc_id: &str, p: &Place) -> rusqlite::Result<()> {
    let json = serde_json::to_string(p).expect("a place always encodes");
    let rowid: i64 = conn.prepare_cached(
        "INSERT INTO places (id, doc_id, name, category, lat, lon, status, hours, listing_consent, deleted, json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (id) DO UPDATE SET doc_id = excluded.doc_id, name = excluded.name,
           category = excluded.category, lat = excluded.lat, lon = excluded.lon, status = excluded.status,
           hours = excluded.hours, listing_consent = excluded.listing_consent,
           deleted = excluded.deleted, json = excluded.json
         RETURNING rowid",
    )?
    .query_row(params![
        p.id,
        doc_id,
        p.name,
        p.category,
        p.lat.is_finite().then_some(p.lat),
        p.lon.is_finite().then_some(p.lon),
        p.status,
        p.hours,
        p.listing_consent,
        p.deleted_at.is_some(),
        json
    ], |r| r.get(0))?;
    conn.prepare_cached("DELETE FROM place_targets WHERE place_id = ?1")?
        .execute([&p.id])?;
    let mut insert = conn
        .prepare_cached("INSERT OR IGNORE INTO place_targets (place_id, target) VALUES (?1, ?2)")?;
    for target in &p.targets {
        insert.execute(params![p.id, target])?;
    }
    conn.prepare_cached("DELETE FROM places_fts WHERE rowid = ?1")?
        .execute([rowid])?;
    conn.prepare_cached("INSERT INTO places_fts (rowid, id, name, reading, address, description) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
        .execute(params![rowid, p.id, p.name, p.reading, p.address, p.description])?;
    Ok(())
}

/// Writes an organization's index row.
pub fn org(conn: &Connection, doc_id: &str, o: &Org) -> rusqlite::Result<()> {
    let json = serde_json::to_string(o).expect("an org always encodes");
    conn.prepare_cached(
        "INSERT INTO orgs (id, doc_id, name, sector, deleted, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET doc_id = excluded.doc_id, name = excluded.name,
           sector = excluded.sector, deleted = excluded.deleted, json = excluded.json",
    )?
    .execute(params![
        o.id,
        doc_id,
        o.name,
        o.sector,
        o.deleted_at.is_some(),
        json
    ])?;
    Ok(())
}

/// Writes a visit's index row.
pub fn visit(conn: &Connection, doc_id: &str, v: &Visit) -> rusqlite::Result<()> {
    let json = serde_json::to_string(v).expect("a visit always encodes");
    conn.prepare_cached(
        "INSERT INTO visits (id, doc_id, team, at, kind, place_id, people, follow_up, follow_up_done, deleted, json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (id) DO UPDATE SET doc_id = excluded.doc_id, team = excluded.team, at = excluded.at,
           kind = excluded.kind, place_id = excluded.place_id, people = excluded.people,
           follow_up = excluded.follow_up, follow_up_done = excluded.follow_up_done,
           deleted = excluded.deleted, json = excluded.json",
    )?
    .execute(params![
        v.id,
        doc_id,
        v.team,
        v.at,
        v.kind,
        v.place_id,
        v.people,
        v.follow_up,
        v.follow_up_done,
        v.deleted_at.is_some(),
        json
    ])?;
    Ok(())
}

/// Records which fields of a record are in conflict (replacing what was recorded before).
pub fn conflicts(
    conn: &Connection,
    kind: RecordKind,
    doc_id: &str,
    record_id: &str,
    fields: &[String],
) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM conflicts WHERE record_id = ?1")?
        .execute([record_id])?;
    let mut insert = conn.prepare_cached(
        "INSERT OR REPLACE INTO conflicts (record_id, field, kind, doc_id) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for field in fields {
        insert.execute(params![record_id, field, kind.to_string(), doc_id])?;
    }
    Ok(())
}

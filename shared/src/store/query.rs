//! Queries over the index: what lists, maps and exports read. No Automerge is touched here.

use crate::domain::{Org, Place, Visit};
use crate::hours::{Hours, OpenState};
use chrono::{NaiveDate, NaiveDateTime};
use geo::{Distance, Haversine, Point};
use rusqlite::{Connection, ToSql};
use serde::Serialize;

/// Filters for places. Empty means everything that is not deleted.
#[derive(Debug, Clone, Default)]
pub struct PlaceQuery {
    /// Inside this box: (south, west, north, east) in degrees.
    pub bbox: Option<(f64, f64, f64, f64)>,
    /// Within `radius_m` metres of (lat, lon), nearest first.
    pub near: Option<(f64, f64, f64)>,
    /// Category id.
    pub category: Option<String>,
    /// Target-group id.
    pub target: Option<String>,
    /// Status id.
    pub status: Option<String>,
    /// Open at this Japan-local time.
    pub open_at: Option<NaiveDateTime>,
    /// Full-text search over name, reading, address and description (Japanese works: trigram).
    pub search: Option<String>,
    /// Include deleted places.
    pub include_deleted: bool,
    /// Only places with public-listing consent.
    pub public_only: bool,
    /// At most this many.
    pub limit: Option<usize>,
    /// Only places whose opening hours were last checked before this date, or never: the
    /// information to re-check.
    pub checked_before: Option<chrono::NaiveDate>,
}

/// A place found by a query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaceHit {
    /// The place.
    #[serde(flatten)]
    pub place: Place,
    /// Distance from the `near` point, in metres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
}

const METRES_PER_DEGREE: f64 = 111_320.0;

/// Runs a place query.
pub fn places(conn: &Connection, q: &PlaceQuery) -> rusqlite::Result<Vec<PlaceHit>> {
    let mut sql = String::from("SELECT json FROM places WHERE 1 = 1");
    let mut args: Vec<Box<dyn ToSql>> = Vec::new();
    let mut push = |value: Box<dyn ToSql>| {
        args.push(value);
        args.len()
    };
    if !q.include_deleted {
        sql.push_str(" AND deleted = 0");
    }
    if q.public_only {
        sql.push_str(" AND listing_consent = 1");
    }
    let bbox = q.bbox.or_else(|| {
        q.near.map(|(lat, lon, r)| {
            let dlat = r / METRES_PER_DEGREE;
            let dlon = r / (METRES_PER_DEGREE * lat.to_radians().cos().max(0.01));
            (lat - dlat, lon - dlon, lat + dlat, lon + dlon)
        })
    });
    if let Some((s, w, n, e)) = bbox {
        let (s, w, n, e) = (
            push(Box::new(s)),
            push(Box::new(w)),
            push(Box::new(n)),
            push(Box::new(e)),
        );
        sql.push_str(&format!(
            " AND lat BETWEEN ?{s} AND ?{n} AND lon BETWEEN ?{w} AND ?{e}"
        ));
    }
    if let Some(c) = &q.category {
        sql.push_str(&format!(" AND category = ?{}", push(Box::new(c.clone()))));
    }
    if let Some(day) = q.checked_before {
        let n = push(Box::new(day.to_string()));
        sql.push_str(&format!(
            " AND coalesce(json ->> '$.hours_checked_at', '') < ?{n}"
        ));
    }
    if let Some(st) = &q.status {
        sql.push_str(&format!(" AND status = ?{}", push(Box::new(st.clone()))));
    }
    if let Some(t) = &q.target {
        let n = push(Box::new(t.clone()));
        sql.push_str(&format!(
            " AND id IN (SELECT place_id FROM place_targets WHERE target = ?{n})"
        ));
    }
    for term in q.search.iter().flat_map(|s| s.split_whitespace()) {
        if term.chars().count() >= 3 {
            let n = push(Box::new(format!("\"{}\"", term.replace('"', "\"\""))));
            sql.push_str(&format!(
                " AND rowid IN (SELECT rowid FROM places_fts WHERE places_fts MATCH ?{n})"
            ));
        } else {
            // Trigrams need three characters; shorter words (食堂, 図書) scan the text instead.
            let escaped = term
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            let n = push(Box::new(format!("%{escaped}%")));
            sql.push_str(&format!(
                " AND rowid IN (SELECT rowid FROM places_fts WHERE name LIKE ?{n} ESCAPE '\\'
                   OR reading LIKE ?{n} ESCAPE '\\' OR address LIKE ?{n} ESCAPE '\\'
                   OR description LIKE ?{n} ESCAPE '\\')"
            ));
        }
    }
    sql.push_str(" ORDER BY name, id");
    let mut stmt = conn.prepare(&sql)?;
    let params: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
    let rows = stmt.query_map(params.as_slice(), |r| r.get::<_, String>(0))?;
    let mut hits = Vec::new();
    for json in rows {
        let place: Place = serde_json::from_str(&json?).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })?;
        let distance_m = q.near.map(|(lat, lon, _)| {
            Haversine.distance(Point::new(lon, lat), Point::new(place.lon, place.lat))
        });
        if let (Some(d), Some((_, _, r))) = (distance_m, q.near)
            && d > r
        {
            continue;
        }
        if let Some(at) = q.open_at {
            let open = Hours::parse(&place.hours)
                .map(|h| h.state(at) == OpenState::Open)
                .unwrap_or(false);
            if place.hours.is_empty() || !open || place.status != "active" {
                continue;
            }
        }
        hits.push(PlaceHit { place, distance_m });
    }
    if q.near.is_some() {
        hits.sort_by(|a, b| {
            a.distance_m
                .partial_cmp(&b.distance_m)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    if let Some(limit) = q.limit {
        hits.truncate(limit);
    }
    Ok(hits)
}

/// Filters for visits.
#[derive(Debug, Clone, Default)]
pub struct VisitQuery {
    /// Only this team.
    pub team: Option<String>,
    /// Only visits with an open follow-up due on or before this date.
    pub due_by: Option<NaiveDate>,
    /// Only this month (`YYYY-MM`).
    pub month: Option<String>,
    /// Only visits at this place.
    pub place_id: Option<String>,
    /// Include deleted visits.
    pub include_deleted: bool,
}

/// Runs a visit query, newest first (by due date first when `due_by` is set).
pub fn visits(conn: &Connection, q: &VisitQuery) -> rusqlite::Result<Vec<Visit>> {
    let mut sql = String::from("SELECT json FROM visits WHERE 1 = 1");
    let mut args: Vec<String> = Vec::new();
    if !q.include_deleted {
        sql.push_str(" AND deleted = 0");
    }
    if let Some(team) = &q.team {
        args.push(team.clone());
        sql.push_str(&format!(" AND team = ?{}", args.len()));
    }
    if let Some(month) = &q.month {
        args.push(format!("{month}%"));
        sql.push_str(&format!(" AND at LIKE ?{}", args.len()));
    }
    if let Some(place) = &q.place_id {
        args.push(place.clone());
        sql.push_str(&format!(" AND place_id = ?{}", args.len()));
    }
    if let Some(due) = q.due_by {
        args.push(due.to_string());
        sql.push_str(&format!(
            " AND follow_up IS NOT NULL AND follow_up_done = 0 AND follow_up <= ?{} ORDER BY follow_up, at DESC, id",
            args.len()
        ));
    } else {
        sql.push_str(" ORDER BY at DESC, id");
    }
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
        r.get::<_, String>(0)
    })?;
    rows.map(|json| {
        serde_json::from_str(&json?).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
    })
    .collect()
}

/// Every organization, by name.
pub fn orgs(conn: &Connection, include_deleted: bool) -> rusqlite::Result<Vec<Org>> {
    let sql = if include_deleted {
        "SELECT json FROM orgs ORDER BY name, id"
    } else {
        "SELECT json FROM orgs WHERE deleted = 0 ORDER BY name, id"
    };
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.map(|json| {
        serde_json::from_str(&json?).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
    })
    .collect()
}

/// (record id, field, kind, doc id) of every recorded conflict.
pub fn conflicts(conn: &Connection) -> rusqlite::Result<Vec<(String, String, String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT record_id, field, kind, doc_id FROM conflicts ORDER BY kind, record_id, field",
    )?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect()
}

//! The device's offline tile pack, written: an MBTiles 1.3 file (tables `metadata` and `tiles`,
//! TMS rows) that QGIS and other tools open, plus a table of the areas downloaded into it
//! (`ibasho_areas`), so areas can be listed, resumed and deleted. [`MbTiles`](super::MbTiles)
//! reads the same file.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use super::MapError;
use super::area::{Bbox, Zooms, holds, tile_span};
use super::listing::md5_hex;
use super::tiles::tms_row;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS metadata (name TEXT NOT NULL, value TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS metadata_name ON metadata (name);
CREATE TABLE IF NOT EXISTS tiles (zoom_level INTEGER NOT NULL, tile_column INTEGER NOT NULL,
                                  tile_row INTEGER NOT NULL, tile_data BLOB NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS tile_index ON tiles (zoom_level, tile_column, tile_row);
CREATE TABLE IF NOT EXISTS ibasho_areas (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    south REAL NOT NULL, west REAL NOT NULL, north REAL NOT NULL, east REAL NOT NULL,
    minzoom INTEGER NOT NULL, maxzoom INTEGER NOT NULL,
    url TEXT NOT NULL,
    attribution TEXT NOT NULL,
    created_at TEXT NOT NULL,
    complete INTEGER NOT NULL DEFAULT 0
);
";

/// What to download: where, how deep, from which source.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaSpec {
    /// A name for the list (e.g. the place it is around).
    pub name: String,
    /// The box.
    pub bbox: Bbox,
    /// The zooms.
    pub zooms: Zooms,
    /// The source's XYZ URL template.
    pub url: String,
    /// The source's attribution, kept visible on the map.
    pub attribution: String,
}

/// An area in the pack.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    /// Its number in the pack.
    pub id: i64,
    /// What was asked for.
    pub spec: AreaSpec,
    /// When the download started (UTC, RFC 3339).
    pub created_at: String,
    /// Whether every tile the source has was fetched.
    pub complete: bool,
    /// Tiles of the area in the pack.
    pub tiles: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// The pack, open for writing.
#[derive(Debug)]
pub struct TilePack {
    path: PathBuf,
    conn: Connection,
}

impl TilePack {
    /// Opens the pack, making it when there is none.
    pub fn open(path: impl AsRef<Path>) -> Result<TilePack, MapError> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path).map_err(|source| MapError::Open {
            path: path.clone(),
            source,
        })?;
        conn.execute_batch(SCHEMA)
            .map_err(|source| MapError::NotMbTiles {
                path: path.clone(),
                source,
            })?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(TilePack { path, conn })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The area with this spec already in the pack (to resume it), or a new one.
    pub fn add_area(&mut self, spec: &AreaSpec) -> Result<i64, MapError> {
        let found = self
            .areas()?
            .into_iter()
            .find(|a| {
                a.spec.bbox == spec.bbox && a.spec.zooms == spec.zooms && a.spec.url == spec.url
            })
            .map(|a| a.id);
        if let Some(id) = found {
            return Ok(id);
        }
        let b = spec.bbox;
        self.conn.execute(
            "INSERT INTO ibasho_areas (name, south, west, north, east, minzoom, maxzoom, url,
                                       attribution, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                spec.name,
                b.south,
                b.west,
                b.north,
                b.east,
                spec.zooms.min,
                spec.zooms.max,
                spec.url,
                spec.attribution,
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ],
        )?;
        let id = self.conn.last_insert_rowid();
        self.write_metadata()?;
        Ok(id)
    }

    /// Every area, oldest first, with the tiles of it the pack holds.
    pub fn areas(&self) -> Result<Vec<Area>, MapError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, name, south, west, north, east, minzoom, maxzoom, url, attribution,
                    created_at, complete FROM ibasho_areas ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                AreaSpec {
                    name: r.get(1)?,
                    bbox: Bbox {
                        south: r.get(2)?,
                        west: r.get(3)?,
                        north: r.get(4)?,
                        east: r.get(5)?,
                    },
                    zooms: Zooms {
                        min: r.get(6)?,
                        max: r.get(7)?,
                    },
                    url: r.get(8)?,
                    attribution: r.get(9)?,
                },
                r.get::<_, String>(10)?,
                r.get::<_, bool>(11)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, spec, created_at, complete) = row?;
            let (tiles, bytes) = self.stored_in(&spec.bbox, spec.zooms)?;
            out.push(Area {
                id,
                spec,
                created_at,
                complete,
                tiles,
                bytes,
            });
        }
        Ok(out)
    }

    /// Tiles and bytes the pack holds within a box and zooms.
    fn stored_in(&self, bbox: &Bbox, zooms: Zooms) -> Result<(u64, u64), MapError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(tile_data)), 0) FROM tiles
             WHERE zoom_level = ?1 AND tile_column BETWEEN ?2 AND ?3 AND tile_row BETWEEN ?4 AND ?5",
        )?;
        let (mut tiles, mut bytes) = (0u64, 0u64);
        for z in zooms.min..=zooms.max {
            let (x0, y0, x1, y1) = tile_span(bbox, z);
            let (r0, r1) = (tms_row(z, y1), tms_row(z, y0));
            let (t, b): (i64, i64) =
                stmt.query_row(params![z, x0, x1, r0, r1], |r| Ok((r.get(0)?, r.get(1)?)))?;
            tiles += t as u64;
            bytes += b as u64;
        }
        Ok((tiles, bytes))
    }

    /// Whether the pack holds the tile (XYZ address).
    pub fn has_tile(&self, z: u8, x: u32, y: u32) -> Result<bool, MapError> {
        let row = tms_row(z, y);
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM tiles
                 WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3)",
            )?
            .query_row(params![z, x, row], |r| r.get(0))?)
    }

    /// The MD5 of the tile's bytes as stored (XYZ address), or `None` if the pack lacks it.
    /// Worked out from the bytes, so a damaged tile shows as different from the source's list.
    pub fn stored_md5(&self, z: u8, x: u32, y: u32) -> Result<Option<String>, MapError> {
        let row = tms_row(z, y);
        let bytes: Option<Vec<u8>> = self
            .conn
            .prepare_cached(
                "SELECT tile_data FROM tiles
                 WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3",
            )?
            .query_row(params![z, x, row], |r| r.get(0))
            .optional()?;
        Ok(bytes.map(|b| md5_hex(&b)))
    }

    /// Stores tiles (XYZ addresses), all or none: an interrupted download keeps every batch it
    /// finished and no part of the one it was in.
    pub fn put(&mut self, tiles: &[(u8, u32, u32, Vec<u8>)]) -> Result<(), MapError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO tiles (zoom_level, tile_column, tile_row, tile_data)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (z, x, y, data) in tiles {
                let row = tms_row(*z, *y);
                stmt.execute(params![z, x, row, data])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Marks an area as wholly fetched, and brings the metadata up to date.
    pub fn mark_complete(&mut self, id: i64, complete: bool) -> Result<(), MapError> {
        self.conn.execute(
            "UPDATE ibasho_areas SET complete = ?2 WHERE id = ?1",
            params![id, complete],
        )?;
        self.write_metadata()
    }

    /// Deletes an area and its tiles that no other area holds; returns how many tiles went.
    /// `None` when there is no such area.
    pub fn delete_area(&mut self, id: i64) -> Result<Option<u64>, MapError> {
        let areas = self.areas()?;
        let Some(gone) = areas.iter().find(|a| a.id == id) else {
            return Ok(None);
        };
        let others: Vec<&Area> = areas.iter().filter(|a| a.id != id).collect();
        let mut removed = 0u64;
        let tx = self.conn.transaction()?;
        {
            let mut select = tx.prepare(
                "SELECT tile_column, tile_row FROM tiles WHERE zoom_level = ?1
                 AND tile_column BETWEEN ?2 AND ?3 AND tile_row BETWEEN ?4 AND ?5",
            )?;
            let mut delete = tx.prepare(
                "DELETE FROM tiles WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3",
            )?;
            let (bbox, zooms) = (gone.spec.bbox, gone.spec.zooms);
            for z in zooms.min..=zooms.max {
                let (x0, y0, x1, y1) = tile_span(&bbox, z);
                let (r0, r1) = (tms_row(z, y1), tms_row(z, y0));
                let stored: Vec<(u32, i64)> = select
                    .query_map(params![z, x0, x1, r0, r1], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                for (x, row) in stored {
                    let y = tms_row(z, row as u32) as u32;
                    if !others
                        .iter()
                        .any(|o| holds(&o.spec.bbox, o.spec.zooms, z, x, y))
                    {
                        removed += delete.execute(params![z, x, row])? as u64;
                    }
                }
            }
            tx.execute("DELETE FROM ibasho_areas WHERE id = ?1", [id])?;
        }
        tx.commit()?;
        self.write_metadata()?;
        self.conn.execute_batch("VACUUM")?;
        Ok(Some(removed))
    }

    /// MBTiles 1.3 metadata from the areas: `name`, `format`, `bounds`, `center`, `minzoom`,
    /// `maxzoom`, `attribution`, `type`, `version`, `description`.
    fn write_metadata(&self) -> Result<(), MapError> {
        let areas = self.areas()?;
        let mut meta: Vec<(&str, String)> = vec![
            ("name", "ibasho offline map".to_string()),
            ("type", "baselayer".to_string()),
            ("version", "1".to_string()),
            (
                "description",
                "Areas downloaded by ibasho for use without a connection".to_string(),
            ),
        ];
        let first: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT tile_data FROM tiles LIMIT 1", [], |r| r.get(0))
            .optional()?;
        let format = match first.as_deref() {
            Some([0xff, 0xd8, ..]) => "jpg",
            Some([b'R', b'I', b'F', b'F', ..]) => "webp",
            _ => "png",
        };
        meta.push(("format", format.to_string()));
        if let Some(bounds) = areas.iter().map(|a| a.spec.bbox).reduce(|a, b| a.union(&b)) {
            meta.push(("bounds", bounds.mbtiles_bounds()));
            let (min, max) = areas.iter().fold((u8::MAX, 0u8), |(lo, hi), a| {
                (lo.min(a.spec.zooms.min), hi.max(a.spec.zooms.max))
            });
            meta.push((
                "center",
                format!(
                    "{:.6},{:.6},{}",
                    (bounds.west + bounds.east) / 2.0,
                    (bounds.south + bounds.north) / 2.0,
                    min.max(max.saturating_sub(2))
                ),
            ));
            meta.push(("minzoom", min.to_string()));
            meta.push(("maxzoom", max.to_string()));
        }
        let mut attributions: Vec<&str> = areas
            .iter()
            .map(|a| a.spec.attribution.as_str())
            .filter(|a| !a.is_empty())
            .collect();
        attributions.dedup();
        meta.push(("attribution", attributions.join(" / ")));
        self.conn.execute("DELETE FROM metadata", [])?;
        for (name, value) in meta {
            self.conn.execute(
                "INSERT INTO metadata (name, value) VALUES (?1, ?2)",
                params![name, value],
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::MbTiles;
    use super::super::area::tiles_of;
    use super::*;

    fn spec(bbox: &str, zooms: &str) -> AreaSpec {
        AreaSpec {
            name: "test".into(),
            bbox: bbox.parse().unwrap(),
            zooms: zooms.parse().unwrap(),
            url: "http://127.0.0.1/{z}/{x}/{y}.png".into(),
            attribution: "地理院タイル".into(),
        }
    }

    #[test]
    fn a_pack_is_mbtiles_that_the_reader_opens_with_its_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiles.mbtiles");
        let mut pack = TilePack::open(&path).unwrap();
        let s = spec("35.68,139.76,35.69,139.77", "12-13");
        let id = pack.add_area(&s).unwrap();
        assert_eq!(pack.add_area(&s).unwrap(), id, "the same area is resumed");
        let tiles: Vec<_> = tiles_of(&s.bbox, s.zooms)
            .map(|(z, x, y)| (z, x, y, format!("{z}/{x}/{y}").into_bytes()))
            .collect();
        pack.put(&tiles).unwrap();
        pack.mark_complete(id, true).unwrap();
        let area = &pack.areas().unwrap()[0];
        assert!(area.complete);
        assert_eq!(area.tiles, tiles.len() as u64);
        let reader = MbTiles::open(&path).unwrap();
        let (z, x, y, data) = &tiles[0];
        assert_eq!(reader.tile(*z, *x, *y).unwrap().as_ref(), Some(data));
        let meta = reader.metadata();
        assert_eq!(meta["format"], "png");
        assert_eq!(meta["minzoom"], "12");
        assert_eq!(meta["maxzoom"], "13");
        assert_eq!(meta["attribution"], "地理院タイル");
        assert_eq!(meta["bounds"], "139.760000,35.680000,139.770000,35.690000");
        assert_eq!(
            pack.stored_md5(*z, *x, *y).unwrap(),
            Some(md5_hex(data)),
            "worked out from the stored bytes"
        );
        assert!(pack.has_tile(*z, *x, *y).unwrap());
        assert!(!pack.has_tile(*z, *x + 100, *y).unwrap());
    }

    #[test]
    fn deleting_an_area_keeps_the_tiles_another_area_holds() {
        let dir = tempfile::tempdir().unwrap();
        let mut pack = TilePack::open(dir.path().join("p.mbtiles")).unwrap();
        let a = spec("35.60,139.60,35.70,139.70", "11-12");
        let b = spec("35.65,139.65,35.75,139.75", "11-12");
        let (ia, ib) = (pack.add_area(&a).unwrap(), pack.add_area(&b).unwrap());
        for s in [&a, &b] {
            let t: Vec<_> = tiles_of(&s.bbox, s.zooms)
                .map(|(z, x, y)| (z, x, y, vec![z]))
                .collect();
            pack.put(&t).unwrap();
        }
        let before_b = pack.areas().unwrap()[1].tiles;
        let removed = pack.delete_area(ia).unwrap().unwrap();
        let left = pack.areas().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].id, ib);
        assert_eq!(left[0].tiles, before_b, "b keeps every tile");
        assert!(removed > 0);
        let shared = tiles_of(&a.bbox, a.zooms)
            .filter(|&(z, x, y)| holds(&b.bbox, b.zooms, z, x, y))
            .count() as u64;
        assert_eq!(
            removed,
            crate::map::area::tile_count(&a.bbox, a.zooms) - shared
        );
        assert_eq!(pack.delete_area(ia).unwrap(), None);
    }
}

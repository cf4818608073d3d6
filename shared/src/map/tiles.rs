//! Raster tiles: which tiles a viewport needs and where they go ([`tiles_for`]), and reading
//! them from an MBTiles file ([`MbTiles`]).
//!
//! Tiles are the usual 256-pixel "slippy map" tiles (XYZ: x grows east, y grows south). Fetching
//! tiles from a tile server and caching them is the app's job; this crate does no network IO.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::MapError;
use super::projection::{TILE_SIZE, Viewport};

/// The deepest tile zoom [`MbTiles::tile`] looks up.
const MAX_TILE_ZOOM: u8 = 30;

/// One tile to draw: its XYZ address and where it goes on the screen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TileRef {
    /// Tile zoom.
    pub z: u8,
    /// Column, 0 at 180° W, wrapped into `0..2^z`.
    pub x: u32,
    /// Row, 0 at the north edge (XYZ order, not TMS).
    pub y: u32,
    /// Screen x of the tile's left edge, CSS pixels.
    pub left: f64,
    /// Screen y of the tile's top edge, CSS pixels.
    pub top: f64,
    /// Width and height on screen, CSS pixels (256 at an integer zoom).
    pub size: f64,
}

impl TileRef {
    /// The tile's URL from a template such as `https://tiles.example/{z}/{x}/{y}.png`.
    pub fn url(&self, template: &str) -> String {
        template
            .replace("{z}", &self.z.to_string())
            .replace("{x}", &self.x.to_string())
            .replace("{y}", &self.y.to_string())
    }
}

/// The MBTiles (TMS) row of XYZ row `y` at zoom `z`: TMS counts rows from the south edge. The
/// flip is its own inverse: it also gives the XYZ row of a TMS row.
pub(super) fn tms_row(z: u8, y: u32) -> i64 {
    ((1u64 << z) - 1 - u64::from(y)) as i64
}

/// Whether `url` can be a tile source's template: http(s), holding `{z}`, `{x}` and `{y}`.
pub fn is_url_template(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && ["{z}", "{x}", "{y}"].iter().all(|hole| url.contains(hole))
}

/// The tile zoom used for a viewport: its zoom rounded to the nearest integer, so tiles are
/// drawn between 0.71× and 1.41× their size.
pub fn tile_zoom(vp: &Viewport) -> u8 {
    vp.effective_zoom().round() as u8
}

/// The tiles covering the viewport at [`tile_zoom`], nearest the centre first (the order to
/// load them in). Rows beyond the poles are left out; columns wrap around the antimeridian.
pub fn tiles_for(vp: &Viewport) -> Vec<TileRef> {
    let z = tile_zoom(vp);
    let n = 2f64.powi(i32::from(z));
    let world_tile = TILE_SIZE / n;
    let size = TILE_SIZE * (vp.effective_zoom() - f64::from(z)).exp2();
    let (x0, y0, x1, y1) = vp.world_bounds(0.0);
    if x1 <= x0 || y1 <= y0 {
        return Vec::new();
    }
    let (i0, i1) = (
        (x0 / world_tile).floor() as i64,
        (x1 / world_tile).ceil() as i64 - 1,
    );
    let j0 = ((y0 / world_tile).floor() as i64).max(0);
    let j1 = ((y1 / world_tile).ceil() as i64 - 1).min(n as i64 - 1);
    let (cx, cy) = (vp.width / 2.0, vp.height / 2.0);
    let mut tiles: Vec<(f64, TileRef)> = Vec::new();
    for j in j0..=j1 {
        for i in i0..=i1 {
            let (left, top) = vp.world_to_screen(i as f64 * world_tile, j as f64 * world_tile);
            let (dx, dy) = (left + size / 2.0 - cx, top + size / 2.0 - cy);
            let tile = TileRef {
                z,
                x: i.rem_euclid(n as i64) as u32,
                y: j as u32,
                left,
                top,
                size,
            };
            tiles.push((dx * dx + dy * dy, tile));
        }
    }
    tiles.sort_by(|a, b| {
        a.0.total_cmp(&b.0)
            .then(a.1.top.total_cmp(&b.1.top))
            .then(a.1.left.total_cmp(&b.1.left))
    });
    tiles.into_iter().map(|(_, t)| t).collect()
}

/// An MBTiles file (SQLite with a `tiles` table and a `metadata` table), opened read-only.
///
/// MBTiles stores rows in TMS order (row 0 at the south edge); [`tile`](Self::tile) takes XYZ
/// rows like the rest of the map and flips them.
#[derive(Debug)]
pub struct MbTiles {
    path: PathBuf,
    conn: Connection,
    metadata: HashMap<String, String>,
}

const TILE_SQL: &str =
    "SELECT tile_data FROM tiles WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3";

impl MbTiles {
    /// Opens the file read-only and reads its metadata. Fails if the file cannot be opened or
    /// has no `tiles` table; a missing `metadata` table reads as empty.
    pub fn open(path: impl AsRef<Path>) -> Result<MbTiles, MapError> {
        let path = path.as_ref().to_path_buf();
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(|source| MapError::Open {
            path: path.clone(),
            source,
        })?;
        if let Err(source) = conn.prepare_cached(TILE_SQL) {
            return Err(MapError::NotMbTiles { path, source });
        }
        let metadata = read_metadata(&conn).map_err(|source| MapError::NotMbTiles {
            path: path.clone(),
            source,
        })?;
        Ok(MbTiles {
            path,
            conn,
            metadata,
        })
    }

    /// The file this was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The bytes of tile `z`/`x`/`y` (XYZ addressing), as stored (PNG, JPEG, WebP, or gzipped
    /// vector data: see the `format` metadata), or `None` if the file has no such tile.
    pub fn tile(&self, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, MapError> {
        if z > MAX_TILE_ZOOM {
            return Ok(None);
        }
        let n = 1u64 << z;
        if u64::from(x) >= n || u64::from(y) >= n {
            return Ok(None);
        }
        let mut stmt = self.conn.prepare_cached(TILE_SQL)?;
        let data = stmt
            .query_row(params![z, x, tms_row(z, y)], |r| r.get::<_, Vec<u8>>(0))
            .optional()?;
        Ok(data)
    }

    /// The `metadata` table as name → value (`name`, `format`, `bounds`, `minzoom`,
    /// `maxzoom`, `attribution`, …), read when the file was opened.
    pub fn metadata(&self) -> HashMap<String, String> {
        self.metadata.clone()
    }
}

fn read_metadata(conn: &Connection) -> Result<HashMap<String, String>, rusqlite::Error> {
    let has_table: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'metadata')",
        [],
        |r| r.get(0),
    )?;
    if !has_table {
        return Ok(HashMap::new());
    }
    let mut stmt = conn.prepare("SELECT name, value FROM metadata")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, Option<String>>(0)?,
            r.get::<_, Option<String>>(1)?,
        ))
    })?;
    let mut metadata = HashMap::new();
    for row in rows {
        if let (Some(name), Some(value)) = row? {
            metadata.insert(name, value);
        }
    }
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make_mbtiles(path: &Path) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(
            "CREATE TABLE metadata (name TEXT, value TEXT);
             CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER,
                                 tile_data BLOB);
             CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);
             INSERT INTO metadata VALUES ('name', 'test'), ('format', 'png'),
                                         ('minzoom', '0'), ('maxzoom', '10');",
        )
        .unwrap();
        // Tokyo Station's tile at zoom 10 is XYZ 909/403: TMS row 1023 - 403 = 620.
        conn.execute(
            "INSERT INTO tiles VALUES (10, 909, 620, ?1)",
            [b"tokyo".as_slice()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO tiles VALUES (0, 0, 0, ?1)",
            [b"world".as_slice()],
        )
        .unwrap();
    }

    #[test]
    fn a_tile_is_read_back_with_the_tms_row_flipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.mbtiles");
        make_mbtiles(&path);
        let tiles = MbTiles::open(&path).unwrap();
        assert_eq!(
            tiles.tile(10, 909, 403).unwrap().as_deref(),
            Some(b"tokyo".as_slice())
        );
        assert_eq!(
            tiles.tile(10, 909, 620).unwrap(),
            None,
            "rows are XYZ, not TMS"
        );
        assert_eq!(
            tiles.tile(0, 0, 0).unwrap().as_deref(),
            Some(b"world".as_slice())
        );
        assert_eq!(tiles.tile(10, 1024, 0).unwrap(), None, "out of range");
        assert_eq!(tiles.tile(31, 0, 0).unwrap(), None);
        assert_eq!(tiles.path(), path);
    }

    #[test]
    fn metadata_is_read_as_name_value_pairs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.mbtiles");
        make_mbtiles(&path);
        let meta = MbTiles::open(&path).unwrap().metadata();
        assert_eq!(meta.get("name").map(String::as_str), Some("test"));
        assert_eq!(meta.get("format").map(String::as_str), Some("png"));
        assert_eq!(meta.len(), 4);
    }

    #[test]
    fn the_file_is_opened_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.mbtiles");
        make_mbtiles(&path);
        let tiles = MbTiles::open(&path).unwrap();
        assert!(tiles.conn.execute("DELETE FROM tiles", []).is_err());
    }

    #[test]
    fn a_missing_file_or_a_database_without_tiles_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = MbTiles::open(dir.path().join("missing.mbtiles")).unwrap_err();
        assert!(matches!(missing, MapError::Open { .. }), "{missing}");
        let other = dir.path().join("other.sqlite");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (a);")
            .unwrap();
        let not = MbTiles::open(&other).unwrap_err();
        assert!(matches!(not, MapError::NotMbTiles { .. }), "{not}");
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "not a database at all, just some text in a file").unwrap();
        assert!(MbTiles::open(&text).is_err());
    }

    #[test]
    fn at_an_integer_zoom_tiles_are_256_px_and_tokyo_station_is_in_909_403() {
        let vp = Viewport::new(35.6812, 139.7671, 10.0, 800.0, 600.0);
        let tiles = tiles_for(&vp);
        let (sx, sy) = vp.project(35.6812, 139.7671);
        let t = tiles
            .iter()
            .find(|t| t.left <= sx && sx < t.left + t.size && t.top <= sy && sy < t.top + t.size)
            .unwrap();
        assert_eq!((t.z, t.x, t.y, t.size), (10, 909, 403, 256.0));
        assert_eq!(tiles[0], *t, "the centre tile comes first");
    }

    #[test]
    fn tiles_cover_the_viewport_without_gaps_or_strays() {
        for zoom in [3.0, 7.4, 7.6, 12.5, 19.0] {
            let vp = Viewport::new(34.7, 135.5, zoom, 1024.0, 700.0);
            let tiles = tiles_for(&vp);
            assert_eq!(tiles[0].z, zoom.round() as u8);
            for t in &tiles {
                assert!(t.left < 1024.0 && t.left + t.size > 0.0, "stray {t:?}");
                assert!(t.top < 700.0 && t.top + t.size > 0.0, "stray {t:?}");
                assert!((t.size - 256.0 * (zoom - zoom.round()).exp2()).abs() < 1e-9);
            }
            for (x, y) in [(0.0, 0.0), (1023.9, 699.9), (512.0, 350.0), (1.0, 699.0)] {
                let covered = tiles.iter().any(|t| {
                    t.left <= x && x < t.left + t.size && t.top <= y && y < t.top + t.size
                });
                assert!(covered, "zoom {zoom}: ({x},{y}) not covered");
            }
            // Adjacent tiles meet exactly.
            let mut lefts: Vec<f64> = tiles.iter().map(|t| t.left).collect();
            lefts.sort_by(f64::total_cmp);
            lefts.dedup();
            for w in lefts.windows(2) {
                assert!((w[1] - w[0] - tiles[0].size).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn columns_wrap_around_the_antimeridian() {
        let vp = Viewport::new(0.0, 179.99, 4.0, 800.0, 600.0);
        let xs: Vec<u32> = tiles_for(&vp).iter().map(|t| t.x).collect();
        assert!(xs.contains(&15) && xs.contains(&0), "{xs:?}");
        assert!(xs.iter().all(|&x| x < 16));
    }

    #[test]
    fn a_url_template_is_filled_in() {
        let t = TileRef {
            z: 10,
            x: 909,
            y: 403,
            left: 0.0,
            top: 0.0,
            size: 256.0,
        };
        assert_eq!(
            t.url("https://t.example/{z}/{x}/{y}.png"),
            "https://t.example/10/909/403.png"
        );
    }
}

//! The map engine the app's UI calls: pure computation, no UI, and no IO except reading an
//! MBTiles file it is given.
//!
//! - [`projection`]: Web Mercator (EPSG:3857) with 256-pixel tiles and the [`Viewport`] —
//!   centre, fractional zoom (3..=19) and widget size — with the gestures: [`Viewport::pan_by`]
//!   for drags, [`Viewport::zoom_at`] for the wheel and pinches (the point under the pointer
//!   stays put), [`Viewport::fit`] for a bounding box, [`Viewport::japan`] for the default view.
//! - [`cluster`](mod@cluster): pins and clusters for a viewport. Build a [`PinIndex`] when the
//!   places change; each frame, [`PinIndex::cluster`] gives the [`Marker`]s to draw, in
//!   painting order, in screen pixels.
//! - [`hit`]: [`hit_test`] finds the marker under a tap or click.
//! - [`basemap`]: the bundled coarse basemap of Japan (Natural Earth land, coastlines and
//!   prefecture borders) as SVG path data for a viewport, so the map is never blank offline.
//! - [`tiles`]: which raster tiles a viewport needs and where they go ([`tiles_for`]), and
//!   reading them from an MBTiles file ([`MbTiles`]). Fetching tiles over the network and
//!   caching them is the app's job.
//! - [`area`]: an area to keep offline (a [`Bbox`] and [`Zooms`]) and the tiles that cover it;
//!   [`pack`]: the device's MBTiles 1.3 pack written, with the areas downloaded into it;
//!   [`listing`]: a source's list of its tiles with their sizes and MD5s (GSI's `mokuroku`).
//!
//! A frame, in the order to draw it:
//!
//! ```
//! use ibasho_shared::map::{Basemap, Pin, PinIndex, Viewport, hit_test, tiles_for};
//!
//! let pins = vec![Pin {
//!     id: "p1".into(),
//!     lat: 35.6812,
//!     lon: 139.7671,
//!     category: "community_cafe".into(),
//! }];
//! let index = PinIndex::new(&pins);
//! let mut vp = Viewport::japan(1280.0, 800.0);
//! vp.zoom_at(6.0, 640.0, 400.0);
//! let basemap = Basemap::japan().svg_paths(&vp); // <path d=…> per kind
//! let tiles = tiles_for(&vp); // raster tiles on top, when there are any
//! let markers = index.cluster(&vp, 40.0);
//! let (x, y) = vp.project(35.6812, 139.7671);
//! let tapped = hit_test(&markers, x, y, 22.0);
//! # let _ = (basemap, tiles, tapped);
//! ```

use std::path::PathBuf;

use crate::i18n::Lang;

pub mod area;
pub mod basemap;
pub mod bulk;
pub mod cluster;
pub mod hit;
pub mod listing;
pub mod pack;
pub mod projection;
pub mod tiles;

pub use area::{AreaError, Bbox, Zooms, tile_count, tiles_of};
pub use basemap::{Basemap, BasemapKind, BasemapPath};
pub use cluster::{Marker, Pin, PinIndex, cluster, marker_radius};
pub use hit::hit_test;
pub use pack::{Area, AreaSpec, TilePack};
pub use projection::{Viewport, world_px, world_to_lat_lon};
pub use tiles::{MbTiles, TileRef, tiles_for};

/// What can go wrong in the map engine: reading MBTiles files and decoding a basemap.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The MBTiles file could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// The file opened but is not an MBTiles file (not SQLite, or no `tiles` table).
    #[error("{path} is not an MBTiles file: {source}")]
    NotMbTiles {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// Reading or writing tiles failed (e.g. a full disk).
    #[error("reading or writing tiles: {0}")]
    Sql(#[from] rusqlite::Error),
    /// Basemap bytes that are not in the expected format.
    #[error("bad basemap data: {0}")]
    BadBasemap(String),
}

impl MapError {
    /// The error for a person, in Japanese or English.
    pub fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (MapError::Open { path, .. }, Lang::Ja) => {
                format!("タイルファイル {} を開けません。", path.display())
            }
            (MapError::NotMbTiles { path, .. }, Lang::Ja) => {
                format!("{} は MBTiles ファイルではありません。", path.display())
            }
            (MapError::Sql(e), Lang::Ja) => format!("タイルを読み書きできませんでした（{e}）。"),
            (MapError::BadBasemap(_), Lang::Ja) => "背景地図のデータが壊れています。".to_string(),
            (e, Lang::En) => e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_speak_japanese_and_english() {
        let e = MapError::BadBasemap("x".into());
        assert_eq!(e.message(Lang::Ja), "背景地図のデータが壊れています。");
        assert_eq!(e.message(Lang::En), "bad basemap data: x");
    }
}

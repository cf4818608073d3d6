//! Saving what the map shows for use without a connection: the area of the current view at the
//! zooms that fit one download, its estimate, the download's progress, and the areas kept.

use super::AppModel;
use crate::tiles::{Downloader, Outcome, Plan, Progress, TileError};
use ibasho_shared::map::{AreaSpec, Bbox, TilePack, Zooms, tile_count};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// The closest zoom an area of the view is saved at (street level).
const CLOSEST_ZOOM: u8 = 17;
/// How many zooms wider than the view an area of the view starts at.
const WIDER_ZOOMS: u8 = 2;

/// Where a download of the view is.
#[derive(Debug, Clone)]
pub(crate) enum AreaJob {
    /// Working out the size (reading the source's list).
    Planning,
    /// The estimate, waiting for the person to start.
    Ready(Box<Plan>),
    /// Fetching; `stop` ends it early (what was fetched is kept).
    Running {
        progress: Progress,
        stop: Arc<AtomicBool>,
    },
    /// Finished.
    Done(Outcome),
    /// Stopped, or could not start, with why in the person's language.
    Failed(String),
}

impl PartialEq for AreaJob {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (AreaJob::Planning, AreaJob::Planning) => true,
            (AreaJob::Ready(a), AreaJob::Ready(b)) => a == b,
            (
                AreaJob::Running {
                    progress: a,
                    stop: s,
                },
                AreaJob::Running {
                    progress: b,
                    stop: t,
                },
            ) => a == b && Arc::ptr_eq(s, t),
            (AreaJob::Done(a), AreaJob::Done(b)) => a == b,
            (AreaJob::Failed(a), AreaJob::Failed(b)) => a == b,
            _ => false,
        }
    }
}

impl AppModel {
    /// The area the map shows, from a little wider than the view's zoom down to street level,
    /// as deep as one download may go.
    pub(crate) fn view_area(&mut self) -> Result<AreaSpec, String> {
        let vp = self.map.viewport;
        let (s, w, n, e) = vp.bounds();
        let bbox = Bbox::new(s.max(-85.0), w.max(-180.0), n.min(85.0), e.min(180.0))
            .map_err(|e| e.to_string())?;
        let min = (vp.effective_zoom().floor() as u8).saturating_sub(WIDER_ZOOMS);
        let fits = (min..=CLOSEST_ZOOM)
            .rev()
            .find(|&max| tile_count(&bbox, Zooms { min, max }) <= crate::tiles::MAX_AREA_TILES);
        let Some(max) = fits else {
            return Err(TileError::TooLarge {
                tiles: tile_count(&bbox, Zooms { min, max: min }),
                max: crate::tiles::MAX_AREA_TILES,
            }
            .message(self.lang));
        };
        let name = self.replica.workspace().map(|w| w.name).unwrap_or_default();
        Ok(AreaSpec {
            name,
            bbox,
            zooms: Zooms { min, max },
            url: self.source.url.clone(),
            attribution: self.source.attribution.clone(),
        })
    }

    /// The device's pack.
    pub(crate) fn pack_path(&self) -> PathBuf {
        crate::paths::tile_pack(&self.home)
    }

    /// Deletes a kept area, and draws the map from what is left.
    pub(crate) fn delete_offline_area(&mut self, id: i64) -> anyhow::Result<()> {
        TilePack::open(self.pack_path())?.delete_area(id)?;
        self.map.reopen_pack(&self.home);
        Ok(())
    }

    /// A download finished or stopped: the map draws from the pack as it now is.
    pub(crate) fn area_download_ended(&mut self, result: Result<Outcome, TileError>) {
        self.map.reopen_pack(&self.home);
        self.map.area_job = Some(match result {
            Ok(outcome) => AreaJob::Done(outcome),
            Err(e) => AreaJob::Failed(e.message(self.lang)),
        });
    }
}

/// Plans a download (blocking: it may read the source's list over the network).
pub(crate) fn plan(path: PathBuf, spec: AreaSpec) -> Result<Plan, TileError> {
    let pack = TilePack::open(path)?;
    Downloader::new(crate::tiles::DEFAULT_RATE).plan(&pack, spec, crate::tiles::ListUse::Auto)
}

/// Runs a planned download (blocking), telling `progress` after each tile, until done or
/// `stop` is set.
pub(crate) fn download(
    path: PathBuf,
    plan: &Plan,
    rate: f64,
    progress: &mut dyn FnMut(Progress),
    stop: &AtomicBool,
) -> Result<Outcome, TileError> {
    let mut pack = TilePack::open(path)?;
    Downloader::new(rate).run(&mut pack, plan, progress, stop)
}

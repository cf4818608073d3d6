//! The map's state: the viewport, the pins and their clusters, a drag in progress, and the tiles
//! drawn under them (the offline pack opened once, not for every tile).

use super::AppModel;
use ibasho_shared::map::{Marker, MbTiles, Pin, PinIndex, Viewport, hit_test};
use ibasho_shared::{Lang, Place};
use std::collections::HashMap;
use std::path::Path;

/// What the map shows of a place besides its pin: its name on hover and in the card, and marks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PinInfo {
    pub name: String,
    pub category: String,
    pub hours: String,
    /// Hours not checked for six months, or never.
    pub stale: bool,
    /// A field two devices changed at once, not yet resolved.
    pub conflict: bool,
}

/// A pointer drag on the map: panning, or moving a pin.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Drag {
    pub start: (f64, f64),
    pub last: (f64, f64),
    pub pin: Option<String>,
    pub moved: bool,
}

const CLUSTER_RADIUS_PX: f64 = 22.0;
const CLICK_SLOP_PX: f64 = 4.0;
const PIN_HIT_PX: f64 = 12.0;

/// The map: what it shows and how it is being moved.
#[derive(Debug)]
pub(crate) struct MapView {
    pub viewport: Viewport,
    /// Whether the map area's size is known yet (see [`MapView::resize`]).
    measured: bool,
    pins: PinIndex,
    pin_list: Vec<Pin>,
    pub drag: Option<Drag>,
    /// A pin being dragged: its id and where it is now (screen px).
    pub dragged_pin: Option<(String, f64, f64)>,
    /// The device's offline tile pack (`home/tiles.mbtiles`), opened once.
    pack: Option<MbTiles>,
    /// Tiles of the pack as data URLs (or known absent), so that a pan step neither reads nor
    /// encodes again the tiles it already drew.
    tile_cache: std::cell::RefCell<HashMap<(u8, u32, u32), Option<String>>>,
    /// The areas saved in the pack, read when it is opened.
    pub areas: Vec<ibasho_shared::map::Area>,
    /// Names and marks of the pins, by place id.
    pub info: HashMap<String, PinInfo>,
    /// The place whose card is open (a tapped pin).
    pub card: Option<String>,
    /// Whether the legend is open (closed at first on phones).
    pub legend_open: bool,
    /// Saving the view for use offline, when under way or just ended.
    pub area_job: Option<super::AreaJob>,
}

impl MapView {
    /// Japan, before any place is known; the pack in `home` when there is one.
    pub(super) fn new(home: &Path) -> MapView {
        let path = crate::paths::tile_pack(home);
        MapView {
            viewport: Viewport::japan(960.0, 600.0),
            measured: false,
            pins: PinIndex::new(&[]),
            pin_list: Vec::new(),
            drag: None,
            dragged_pin: None,
            pack: path.exists().then(|| MbTiles::open(&path).ok()).flatten(),
            areas: saved_areas(&path),
            tile_cache: Default::default(),
            info: HashMap::new(),
            card: None,
            legend_open: true,
            area_job: None,
        }
    }

    /// Opens the offline pack again (after a download changed it).
    pub(crate) fn reopen_pack(&mut self, home: &Path) {
        let path = crate::paths::tile_pack(home);
        self.pack = path.exists().then(|| MbTiles::open(&path).ok()).flatten();
        self.areas = saved_areas(&path);
        self.tile_cache.borrow_mut().clear();
    }

    /// The attribution of the offline pack's tiles, when there is a pack.
    pub(crate) fn pack_attribution(&self) -> Option<String> {
        let a = self.pack.as_ref()?.metadata().get("attribution")?.clone();
        (!a.is_empty()).then_some(a)
    }

    /// The places to draw, with what the map says of each.
    pub(super) fn set_pins(&mut self, pins: Vec<Pin>, info: HashMap<String, PinInfo>) {
        self.pins = PinIndex::new(&pins);
        self.pin_list = pins;
        if self.card.as_ref().is_some_and(|id| !info.contains_key(id)) {
            self.card = None;
        }
        self.info = info;
    }

    /// Pins and clusters for the current viewport.
    pub(crate) fn markers(&self) -> Vec<Marker> {
        self.pins.cluster(&self.viewport, CLUSTER_RADIUS_PX)
    }

    /// Fits the map to the bulk of the places (or Japan when there are none): a pin entered far
    /// away by mistake does not shrink everything else to a dot.
    pub(crate) fn center_workspace(&mut self) {
        let points: Vec<(f64, f64)> = self.pin_list.iter().map(|p| (p.lat, p.lon)).collect();
        match ibasho_shared::map::bulk::bulk_bounds(&points) {
            Some((s, w, n, e)) => self.viewport.fit(s, w, n, e),
            None => self.viewport = Viewport::japan(self.viewport.width, self.viewport.height),
        }
    }

    /// The map area's size in CSS pixels. The first real size refits the first view to it (it
    /// was worked out for a default size before the window was measured): a phone's first view
    /// fits the phone.
    pub(crate) fn resize(&mut self, width: f64, height: f64) {
        if width > 10.0 && height > 10.0 {
            let first = !self.measured;
            if self.viewport.width > 600.0 && width <= 600.0 {
                // Became phone-sized: the legend folds away.
                self.legend_open = false;
            }
            self.viewport.width = width;
            self.viewport.height = height;
            self.measured = true;
            if first {
                self.center_workspace();
                self.legend_open = width > 600.0;
            }
        }
    }

    /// Why the place at (`lat`, `lon`) looks entered by mistake, in words, if it does: outside
    /// Japan, or far from the workspace's other places.
    pub(crate) fn far_away_warning(&self, lat: f64, lon: f64, lang: Lang) -> Option<&'static str> {
        use ibasho_shared::map::bulk::{FarAway, far_away};
        let others: Vec<(f64, f64)> = self.pin_list.iter().map(|p| (p.lat, p.lon)).collect();
        Some(match far_away((lat, lon), &others)? {
            FarAway::OutsideJapan => crate::ui::text::OUTSIDE_JAPAN.get(lang),
            FarAway::FarFromTheOthers => crate::ui::text::FAR_FROM_OTHERS.get(lang),
        })
    }

    /// Zoom by `delta` levels around the map centre.
    pub(crate) fn zoom_by(&mut self, delta: f64) {
        let (x, y) = (self.viewport.width / 2.0, self.viewport.height / 2.0);
        self.viewport.zoom_at(delta, x, y);
    }

    /// Pointer pressed on the map (`on_pin` when on a pin).
    pub(crate) fn pointer_down(&mut self, x: f64, y: f64, on_pin: Option<String>) {
        self.drag = Some(Drag {
            start: (x, y),
            last: (x, y),
            pin: on_pin,
            moved: false,
        });
    }

    /// Pointer moved: pans the map, or moves the pin being dragged.
    pub(crate) fn pointer_move(&mut self, x: f64, y: f64) {
        let Some(drag) = &mut self.drag else { return };
        let (dx, dy) = (x - drag.last.0, y - drag.last.1);
        drag.last = (x, y);
        if (x - drag.start.0).hypot(y - drag.start.1) > CLICK_SLOP_PX {
            drag.moved = true;
        }
        if !drag.moved {
            return;
        }
        match &drag.pin {
            Some(id) => self.dragged_pin = Some((id.clone(), x, y)),
            None => self.viewport.pan_by(dx, dy),
        }
    }

    /// A tile of the offline pack as a data URL, or else the part of a tile up to three zooms
    /// wider that covers it (the pack holds areas to zoom 17; the map zooms to 19), with the
    /// part as an SVG `viewBox` into the 256-pixel parent.
    pub(crate) fn pack_tile_or_parent(
        &self,
        z: u8,
        x: u32,
        y: u32,
    ) -> Option<(String, Option<String>)> {
        if let Some(data) = self.pack_tile(z, x, y) {
            return Some((data, None));
        }
        (1..=3u8).filter(|dz| *dz <= z).find_map(|dz| {
            let data = self.pack_tile(z - dz, x >> dz, y >> dz)?;
            let n = 1u32 << dz;
            let part = 256.0 / f64::from(n);
            let (ox, oy) = (f64::from(x % n) * part, f64::from(y % n) * part);
            Some((data, Some(format!("{ox} {oy} {part} {part}"))))
        })
    }

    /// A tile of the offline pack as a data URL, when the pack has it (read once, then kept).
    pub(crate) fn pack_tile(&self, z: u8, x: u32, y: u32) -> Option<String> {
        let pack = self.pack.as_ref()?;
        let mut cache = self.tile_cache.borrow_mut();
        if let Some(known) = cache.get(&(z, x, y)) {
            return known.clone();
        }
        if cache.len() >= TILES_KEPT {
            cache.clear();
        }
        let url = data_url(pack, z, x, y);
        cache.insert((z, x, y), url.clone());
        url
    }
}

/// The areas saved in the pack at `path` (none when there is no pack).
fn saved_areas(path: &Path) -> Vec<ibasho_shared::map::Area> {
    if !path.exists() {
        return Vec::new();
    }
    ibasho_shared::map::TilePack::open(path)
        .and_then(|p| p.areas())
        .unwrap_or_default()
}

/// How many tiles (or absences) of the pack [`MapView::pack_tile`] keeps: a few screens' worth.
const TILES_KEPT: usize = 512;

/// A tile of the pack as a data URL, when the pack has it.
fn data_url(pack: &MbTiles, z: u8, x: u32, y: u32) -> Option<String> {
    use base64::Engine;
    let bytes = pack.tile(z, x, y).ok()??;
    let mime = if bytes.starts_with(&[0xff, 0xd8]) {
        "image/jpeg"
    } else {
        "image/png"
    };
    Some(format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

impl AppModel {
    /// Pointer released at (x, y): a click when it barely moved, else the end of a drag.
    pub(crate) fn pointer_up(&mut self, x: f64, y: f64) -> anyhow::Result<()> {
        let Some(drag) = self.map.drag.take() else {
            return Ok(());
        };
        self.map.dragged_pin = None;
        if !drag.moved {
            return self.click_map(x, y);
        }
        if let Some(id) = drag.pin {
            let (lat, lon) = self.map.viewport.unproject(x, y);
            let mut place = self.replica.get::<Place>(&id)?;
            place.lat = (lat * 1e6).round() / 1e6;
            place.lon = (lon * 1e6).round() / 1e6;
            match self.replica.update_place(place) {
                Ok(_) => self.reload()?,
                Err(e) => self.flash = Some(e.message(self.lang)),
            }
        }
        Ok(())
    }

    /// A click on the map: a pin shows its card, a cluster zooms in; elsewhere closes an open card,
    /// or else starts a new place.
    pub(crate) fn click_map(&mut self, x: f64, y: f64) -> anyhow::Result<()> {
        let markers = self.map.markers();
        match hit_test(&markers, x, y, PIN_HIT_PX) {
            Some(Marker::Pin { id, .. }) => {
                self.map.card = Some(id.clone());
            }
            Some(Marker::Cluster {
                south,
                west,
                north,
                east,
                ..
            }) => {
                let (s, w, n, e) = (*south, *west, *north, *east);
                if (n - s).abs() < 1e-6 && (e - w).abs() < 1e-6 {
                    self.map.viewport.zoom_at(2.0, x, y);
                } else {
                    self.map.viewport.fit(s, w, n, e);
                }
            }
            None if self.map.card.is_some() => self.map.card = None,
            None => {
                let (lat, lon) = self.map.viewport.unproject(x, y);
                self.click_map_at_empty(lat, lon);
            }
        }
        Ok(())
    }
}

//! Web Mercator (EPSG:3857) with 256-pixel tiles, and the [`Viewport`] the map shows.
//!
//! Positions are handled in three spaces:
//! - geographic: latitude and longitude in degrees (WGS 84);
//! - *world* pixels: Web Mercator at zoom 0, where the whole world is a 256 × 256 square with
//!   (0, 0) at 180° W, ≈85.05° N and y growing southwards ([`world_px`], [`world_to_lat_lon`]);
//!   at zoom `z` every world pixel is `2^z` screen pixels;
//! - screen pixels: CSS pixels of the map widget, origin top-left ([`Viewport::project`]).

use std::f64::consts::PI;

/// Size of one raster tile in pixels; the world is one tile at zoom 0.
pub const TILE_SIZE: f64 = 256.0;
/// The smallest zoom a [`Viewport`] shows (a whole country fits at typical widths).
pub const MIN_ZOOM: f64 = 3.0;
/// The largest zoom a [`Viewport`] shows (a building fills the screen).
pub const MAX_ZOOM: f64 = 19.0;
/// The latitude where Web Mercator's square world ends (≈ ±85.0511°); latitudes beyond are
/// clamped to it.
pub const MAX_LATITUDE: f64 = 85.051_128_779_806_59;
/// Padding in screen pixels that [`Viewport::fit`] leaves around the box it fits.
pub const FIT_PADDING_PX: f64 = 32.0;

/// Projects a latitude and longitude (degrees) to world pixels: Web Mercator at zoom 0, a
/// 256 × 256 square with (0, 0) at the north-west corner.
///
/// Latitude is clamped to ±[`MAX_LATITUDE`]; longitude is not wrapped, so 180° maps to 256.
pub fn world_px(lat: f64, lon: f64) -> (f64, f64) {
    let lat = clamp_lat(lat);
    let x = (lon + 180.0) / 360.0 * TILE_SIZE;
    let sin = lat.to_radians().sin();
    let y = (0.5 - ((1.0 + sin) / (1.0 - sin)).ln() / (4.0 * PI)) * TILE_SIZE;
    (x, y)
}

/// The inverse of [`world_px`]: world pixels back to (latitude, longitude) in degrees.
pub fn world_to_lat_lon(x: f64, y: f64) -> (f64, f64) {
    let lon = x / TILE_SIZE * 360.0 - 180.0;
    let n = PI * (1.0 - 2.0 * y / TILE_SIZE);
    let lat = n.sinh().atan().to_degrees();
    (clamp_lat(lat), lon)
}

fn clamp_lat(lat: f64) -> f64 {
    if lat.is_nan() {
        0.0
    } else {
        lat.clamp(-MAX_LATITUDE, MAX_LATITUDE)
    }
}

fn clamp_zoom(zoom: f64) -> f64 {
    if zoom.is_nan() {
        MIN_ZOOM
    } else {
        zoom.clamp(MIN_ZOOM, MAX_ZOOM)
    }
}

/// Wraps a longitude into [-180, 180).
fn wrap_lon(lon: f64) -> f64 {
    if !lon.is_finite() {
        return 0.0;
    }
    let wrapped = (lon + 180.0).rem_euclid(360.0) - 180.0;
    if wrapped >= 180.0 { -180.0 } else { wrapped }
}

/// What the map shows: a centre, a fractional zoom and the widget's size in CSS pixels.
///
/// Zoom `z` means the world is `256 · 2^z` pixels wide. The methods keep the zoom within
/// [`MIN_ZOOM`]`..=`[`MAX_ZOOM`] and the centre latitude within ±[`MAX_LATITUDE`]; fields set by
/// hand are used clamped the same way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Viewport {
    /// Latitude of the widget's centre, degrees.
    pub center_lat: f64,
    /// Longitude of the widget's centre, degrees.
    pub center_lon: f64,
    /// Fractional zoom level, 3..=19.
    pub zoom: f64,
    /// Widget width in CSS pixels.
    pub width: f64,
    /// Widget height in CSS pixels.
    pub height: f64,
}

impl Viewport {
    /// A viewport centred on (`center_lat`, `center_lon`) at `zoom`, clamped to the allowed ranges.
    pub fn new(center_lat: f64, center_lon: f64, zoom: f64, width: f64, height: f64) -> Self {
        let mut vp = Viewport {
            center_lat,
            center_lon,
            zoom,
            width,
            height,
        };
        vp.normalize();
        vp
    }

    /// The default view: all of Japan from Hokkaidō to the Yaeyama islands, fitted to a widget
    /// of `width` × `height` pixels.
    pub fn japan(width: f64, height: f64) -> Self {
        let mut vp = Viewport::new(36.0, 138.0, 5.0, width, height);
        vp.fit(
            JAPAN_BOUNDS.0,
            JAPAN_BOUNDS.1,
            JAPAN_BOUNDS.2,
            JAPAN_BOUNDS.3,
        );
        vp
    }

    /// The zoom actually used: `zoom` clamped to 3..=19.
    pub fn effective_zoom(&self) -> f64 {
        clamp_zoom(self.zoom)
    }

    /// Screen pixels per world pixel: `2^zoom`.
    pub fn scale(&self) -> f64 {
        self.effective_zoom().exp2()
    }

    /// The centre in world pixels (see [`world_px`]).
    pub fn center_world(&self) -> (f64, f64) {
        world_px(self.center_lat, self.center_lon)
    }

    fn size(&self) -> (f64, f64) {
        (
            finite_non_negative(self.width),
            finite_non_negative(self.height),
        )
    }

    /// Screen position of the world pixel (`wx`, `wy`).
    pub fn world_to_screen(&self, wx: f64, wy: f64) -> (f64, f64) {
        let (cx, cy) = self.center_world();
        let s = self.scale();
        let (w, h) = self.size();
        ((wx - cx) * s + w / 2.0, (wy - cy) * s + h / 2.0)
    }

    /// World pixel under the screen position (`x`, `y`).
    pub fn screen_to_world(&self, x: f64, y: f64) -> (f64, f64) {
        let (cx, cy) = self.center_world();
        let s = self.scale();
        let (w, h) = self.size();
        (cx + (x - w / 2.0) / s, cy + (y - h / 2.0) / s)
    }

    /// The screen position (CSS pixels, origin top-left) of a latitude and longitude.
    pub fn project(&self, lat: f64, lon: f64) -> (f64, f64) {
        let (wx, wy) = world_px(lat, lon);
        self.world_to_screen(wx, wy)
    }

    /// The (latitude, longitude) under a screen position; latitude is clamped to ±85.0511°.
    pub fn unproject(&self, x: f64, y: f64) -> (f64, f64) {
        let (wx, wy) = self.screen_to_world(x, y);
        world_to_lat_lon(wx, wy)
    }

    /// A drag by (`dx`, `dy`) screen pixels: what was under the pointer moves with it, so the
    /// point at (x, y) is afterwards at (x + dx, y + dy).
    pub fn pan_by(&mut self, dx: f64, dy: f64) {
        if !dx.is_finite() || !dy.is_finite() {
            return;
        }
        let (cx, cy) = self.center_world();
        let s = self.scale();
        self.set_center_world(cx - dx / s, cy - dy / s);
    }

    /// Zooms by `delta` levels (positive zooms in) keeping the place under the screen position
    /// (`x`, `y`) where it is: for the mouse wheel and pinch gestures. The zoom is clamped to
    /// 3..=19; at a limit the view does not move.
    pub fn zoom_at(&mut self, delta: f64, x: f64, y: f64) {
        if !delta.is_finite() || !x.is_finite() || !y.is_finite() {
            return;
        }
        let (ax, ay) = self.screen_to_world(x, y);
        self.zoom = clamp_zoom(self.effective_zoom() + delta);
        let s = self.scale();
        let (w, h) = self.size();
        self.set_center_world(ax - (x - w / 2.0) / s, ay - (y - h / 2.0) / s);
    }

    /// Shows the box from (`south`, `west`) to (`north`, `east`) as large as it fits with
    /// [`FIT_PADDING_PX`] pixels to spare on every side, centred. A box too small for the
    /// maximum zoom (a single point) is shown at zoom 19.
    pub fn fit(&mut self, south: f64, west: f64, north: f64, east: f64) {
        self.fit_with_padding(south, west, north, east, FIT_PADDING_PX);
    }

    /// [`fit`](Self::fit) with `padding` pixels on every side instead of the default; the
    /// padding shrinks if the widget is too small for it.
    pub fn fit_with_padding(&mut self, south: f64, west: f64, north: f64, east: f64, padding: f64) {
        if ![south, west, north, east].iter().all(|v| v.is_finite()) {
            return;
        }
        let (x0, y0) = world_px(south.max(north), west.min(east));
        let (x1, y1) = world_px(south.min(north), west.max(east));
        let (w, h) = self.size();
        let pad = finite_non_negative(padding).min(w / 4.0).min(h / 4.0);
        let avail_w = (w - 2.0 * pad).max(1.0);
        let avail_h = (h - 2.0 * pad).max(1.0);
        let zoom_x = if x1 - x0 > 0.0 {
            (avail_w / (x1 - x0)).log2()
        } else {
            MAX_ZOOM
        };
        let zoom_y = if y1 - y0 > 0.0 {
            (avail_h / (y1 - y0)).log2()
        } else {
            MAX_ZOOM
        };
        self.zoom = clamp_zoom(zoom_x.min(zoom_y));
        self.set_center_world((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    }

    /// What the widget shows, as (south, west, north, east) in degrees.
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        let (w, h) = self.size();
        let (south, west) = self.unproject(0.0, h);
        let (north, east) = self.unproject(w, 0.0);
        (south, west, north, east)
    }

    /// What the widget shows in world pixels, as (min x, min y, max x, max y), grown by
    /// `margin_px` screen pixels on every side.
    pub fn world_bounds(&self, margin_px: f64) -> (f64, f64, f64, f64) {
        let m = finite_non_negative(margin_px);
        let (w, h) = self.size();
        let (x0, y0) = self.screen_to_world(-m, -m);
        let (x1, y1) = self.screen_to_world(w + m, h + m);
        (x0, y0, x1, y1)
    }

    fn set_center_world(&mut self, wx: f64, wy: f64) {
        let (lat, lon) = world_to_lat_lon(wx, wy.clamp(0.0, TILE_SIZE));
        self.center_lat = lat;
        self.center_lon = wrap_lon(lon);
    }

    fn normalize(&mut self) {
        self.zoom = clamp_zoom(self.zoom);
        self.center_lat = clamp_lat(self.center_lat);
        self.center_lon = wrap_lon(self.center_lon);
        self.width = finite_non_negative(self.width);
        self.height = finite_non_negative(self.height);
    }
}

/// (south, west, north, east) of the main Japanese islands from Hokkaidō to Yonaguni.
const JAPAN_BOUNDS: (f64, f64, f64, f64) = (24.0, 122.9, 45.6, 146.0);

fn finite_non_negative(v: f64) -> f64 {
    if v.is_finite() { v.max(0.0) } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() <= eps
    }

    #[test]
    fn lat_0_lon_0_is_the_centre_of_the_256px_world_at_zoom_0() {
        let (x, y) = world_px(0.0, 0.0);
        assert!(close(x, 128.0, 1e-9) && close(y, 128.0, 1e-9), "{x},{y}");
    }

    #[test]
    fn the_world_corners_are_at_the_mercator_latitude_limit() {
        let (x, y) = world_px(MAX_LATITUDE, -180.0);
        assert!(close(x, 0.0, 1e-9) && close(y, 0.0, 1e-6), "{x},{y}");
        let (x, y) = world_px(-90.0, 180.0);
        assert!(close(x, 256.0, 1e-9) && close(y, 256.0, 1e-6), "{x},{y}");
    }

    #[test]
    fn tokyo_station_at_zoom_10_is_in_tile_909_403() {
        let (x, y) = world_px(35.6812, 139.7671);
        let n = 2f64.powi(10);
        assert_eq!(
            ((x * n / TILE_SIZE).floor(), (y * n / TILE_SIZE).floor()),
            (909.0, 403.0)
        );
    }

    #[test]
    fn world_px_round_trips_through_world_to_lat_lon() {
        for &(lat, lon) in &[
            (35.6812, 139.7671),
            (-33.86, 151.21),
            (0.0, -180.0),
            (84.9, 179.9),
        ] {
            let (x, y) = world_px(lat, lon);
            let (lat2, lon2) = world_to_lat_lon(x, y);
            assert!(
                close(lat, lat2, 1e-9) && close(lon, lon2, 1e-9),
                "{lat},{lon}"
            );
        }
    }

    #[test]
    fn latitudes_beyond_the_mercator_limit_are_clamped() {
        let vp = Viewport::new(89.9, 0.0, 5.0, 100.0, 100.0);
        assert!(close(vp.center_lat, MAX_LATITUDE, 1e-9));
        assert_eq!(world_px(90.0, 0.0), world_px(MAX_LATITUDE, 0.0));
        let (lat, _) = world_to_lat_lon(0.0, -1000.0);
        assert!(close(lat, MAX_LATITUDE, 1e-9));
    }

    #[test]
    fn zoom_is_clamped_to_3_through_19() {
        assert_eq!(Viewport::new(35.0, 139.0, 0.5, 800.0, 600.0).zoom, MIN_ZOOM);
        assert_eq!(
            Viewport::new(35.0, 139.0, 25.0, 800.0, 600.0).zoom,
            MAX_ZOOM
        );
        let mut vp = Viewport::new(35.0, 139.0, 18.5, 800.0, 600.0);
        vp.zoom_at(3.0, 10.0, 10.0);
        assert_eq!(vp.zoom, MAX_ZOOM);
        let hand_set = Viewport { zoom: 40.0, ..vp };
        assert_eq!(hand_set.effective_zoom(), MAX_ZOOM);
    }

    #[test]
    fn the_centre_projects_to_the_middle_of_the_widget() {
        let vp = Viewport::new(35.6812, 139.7671, 12.3, 800.0, 600.0);
        let (x, y) = vp.project(35.6812, 139.7671);
        assert!(close(x, 400.0, 1e-6) && close(y, 300.0, 1e-6), "{x},{y}");
    }

    #[test]
    fn project_and_unproject_round_trip_at_any_zoom() {
        for zoom in [3.0, 7.5, 12.25, 19.0] {
            let vp = Viewport::new(34.7, 135.5, zoom, 1024.0, 768.0);
            for &(x, y) in &[(0.0, 0.0), (1024.0, 768.0), (333.3, 12.5), (512.0, 384.0)] {
                let (lat, lon) = vp.unproject(x, y);
                let (x2, y2) = vp.project(lat, lon);
                assert!(
                    close(x, x2, 1e-6) && close(y, y2, 1e-6),
                    "zoom {zoom}: {x},{y}"
                );
            }
        }
    }

    #[test]
    fn one_zoom_level_doubles_distances_on_screen() {
        let a = Viewport::new(35.0, 139.0, 10.0, 800.0, 600.0);
        let b = Viewport { zoom: 11.0, ..a };
        let (xa, _) = a.project(35.0, 139.01);
        let (xb, _) = b.project(35.0, 139.01);
        assert!(close(xb - 400.0, 2.0 * (xa - 400.0), 1e-6));
    }

    #[test]
    fn pan_by_moves_the_point_under_the_pointer_with_the_pointer() {
        let mut vp = Viewport::new(35.6812, 139.7671, 13.0, 800.0, 600.0);
        let (lat, lon) = vp.unproject(200.0, 150.0);
        vp.pan_by(37.0, -21.5);
        let (x, y) = vp.project(lat, lon);
        assert!(close(x, 237.0, 1e-6) && close(y, 128.5, 1e-6), "{x},{y}");
    }

    #[test]
    fn panning_across_the_antimeridian_wraps_the_longitude() {
        let mut vp = Viewport::new(0.0, 179.9, 10.0, 800.0, 600.0);
        vp.pan_by(-1024.0, 0.0); // 1024 px at zoom 10 is 1.40625°
        assert!(
            (vp.center_lon - (179.9 + 1.40625 - 360.0)).abs() < 1e-9,
            "{}",
            vp.center_lon
        );
    }

    #[test]
    fn zoom_at_keeps_the_point_under_the_pointer_fixed() {
        let mut vp = Viewport::new(35.0, 135.7, 9.0, 800.0, 600.0);
        for (delta, x, y) in [
            (1.0, 100.0, 500.0),
            (-2.5, 700.0, 20.0),
            (0.37, 400.0, 300.0),
        ] {
            let (lat, lon) = vp.unproject(x, y);
            vp.zoom_at(delta, x, y);
            let (x2, y2) = vp.project(lat, lon);
            assert!(
                close(x, x2, 1e-6) && close(y, y2, 1e-6),
                "{delta}: {x},{y} -> {x2},{y2}"
            );
        }
        assert!(close(vp.zoom, 9.0 + 1.0 - 2.5 + 0.37, 1e-12));
    }

    #[test]
    fn fit_shows_the_whole_box_with_padding_and_centres_it() {
        let mut vp = Viewport::new(0.0, 0.0, 3.0, 800.0, 600.0);
        let (south, west, north, east) = (34.5, 135.3, 34.9, 135.8);
        vp.fit(south, west, north, east);
        let (x0, y0) = vp.project(north, west);
        let (x1, y1) = vp.project(south, east);
        for (v, max) in [(x0, 800.0), (x1, 800.0), (y0, 600.0), (y1, 600.0)] {
            assert!(
                v >= FIT_PADDING_PX - 1e-6 && v <= max - FIT_PADDING_PX + 1e-6,
                "{v}"
            );
        }
        // One side touches the padding: the box is as large as it can be.
        let touches = close(x0, FIT_PADDING_PX, 1e-6) || close(y0, FIT_PADDING_PX, 1e-6);
        assert!(touches, "{x0},{y0}");
        assert!(close((x0 + x1) / 2.0, 400.0, 1e-6) && close((y0 + y1) / 2.0, 300.0, 1e-6));
    }

    #[test]
    fn fitting_a_single_point_zooms_to_the_maximum() {
        let mut vp = Viewport::new(0.0, 0.0, 3.0, 800.0, 600.0);
        vp.fit(35.0, 139.0, 35.0, 139.0);
        assert_eq!(vp.zoom, MAX_ZOOM);
        assert!(close(vp.center_lat, 35.0, 1e-9) && close(vp.center_lon, 139.0, 1e-9));
    }

    #[test]
    fn bounds_are_the_corners_of_the_widget() {
        let vp = Viewport::new(35.0, 139.0, 10.0, 800.0, 600.0);
        let (south, west, north, east) = vp.bounds();
        assert!(south < 35.0 && 35.0 < north && west < 139.0 && 139.0 < east);
        let (x, y) = vp.project(south, west);
        assert!(close(x, 0.0, 1e-6) && close(y, 600.0, 1e-6));
        let (x, y) = vp.project(north, east);
        assert!(close(x, 800.0, 1e-6) && close(y, 0.0, 1e-6));
    }

    #[test]
    fn the_japan_view_shows_hokkaido_kyushu_and_okinawa() {
        for (w, h) in [(1280.0, 800.0), (390.0, 844.0)] {
            let vp = Viewport::japan(w, h);
            let (south, west, north, east) = vp.bounds();
            for (name, lat, lon) in [
                ("Wakkanai", 45.415, 141.673),
                ("Nemuro", 43.330, 145.583),
                ("Naha", 26.212, 127.681),
                ("Yonaguni", 24.468, 123.004),
                ("Tokyo", 35.681, 139.767),
            ] {
                assert!(
                    south < lat && lat < north && west < lon && lon < east,
                    "{name} not in {w}x{h} view {:?}",
                    vp.bounds()
                );
            }
            assert!(vp.zoom >= MIN_ZOOM && vp.zoom < 7.0, "{}", vp.zoom);
        }
    }
}

//! The bundled coarse basemap of Japan, so the map is never blank offline.
//!
//! The asset `shared/assets/basemap-japan.bin` (about 350 KB) holds Natural Earth 1:10m land,
//! coastlines and prefecture borders for Japan and, so that the whole-Japan view shows no
//! cut-off land, its neighbours within lat 8–56, lon 108–162. See
//! `shared/assets/BASEMAP-LICENSE.md` for the source and `scripts/basemap/build.mjs`, which
//! makes it and documents the format. It is decoded once into world pixels;
//! [`Basemap::svg_paths`] then draws what a viewport shows as SVG path data in screen pixels,
//! skipping features off screen, dropping vertices closer than a pixel to the last one kept and
//! clipping to the widget.

use std::fmt::Write as _;
use std::sync::OnceLock;

use super::MapError;
use super::projection::{Viewport, world_px};

static BASEMAP_JAPAN: &[u8] = include_bytes!("../../assets/basemap-japan.bin");
const MAGIC: &[u8; 8] = b"IBSHBM01";
/// Vertices closer than this to the last one kept (screen pixels) are dropped.
const MIN_SEGMENT_PX: f64 = 1.0;
/// How far beyond the widget's edges paths are clipped (screen pixels), so clipped edges and
/// line caps stay out of sight.
const CLIP_MARGIN_PX: f64 = 8.0;

/// What a basemap path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BasemapKind {
    /// Land polygons, to fill (`fill-rule="evenodd"`); no stroke.
    Land,
    /// Coastlines, to stroke; no fill.
    Coast,
    /// Borders between prefectures, to stroke (thinner, or dashed); no fill.
    PrefectureBorder,
}

/// One SVG path of the basemap.
#[derive(Debug, Clone, PartialEq)]
pub struct BasemapPath {
    /// What the path is, and so how to style it.
    pub kind: BasemapKind,
    /// SVG path data in screen pixels (origin top-left) with one decimal: an absolute `M`,
    /// then relative `l` steps, and `z` closing each ring of land, e.g. `M10 20l3.5-4 2 1z`.
    pub d: String,
}

/// The decoded basemap: features in world pixels (see [`world_px`]).
pub struct Basemap {
    features: Vec<Feature>,
    /// (start, end) into `points` for every part, features' parts one after the other.
    parts: Vec<(u32, u32)>,
    points: Vec<(f64, f64)>,
}

struct Feature {
    kind: BasemapKind,
    /// min x, min y, max x, max y in world pixels.
    bbox: [f64; 4],
    parts: (u32, u32),
}

impl std::fmt::Debug for Basemap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Basemap")
            .field("features", &self.features.len())
            .field("points", &self.points.len())
            .finish()
    }
}

impl Basemap {
    /// The basemap of Japan bundled with the crate, decoded on first use.
    pub fn japan() -> &'static Basemap {
        static JAPAN: OnceLock<Basemap> = OnceLock::new();
        JAPAN.get_or_init(|| {
            Basemap::from_bytes(BASEMAP_JAPAN).expect("the bundled basemap asset decodes")
        })
    }

    /// Decodes a basemap in the format `scripts/basemap/build.mjs` writes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Basemap, MapError> {
        let bad = |what: &str| MapError::BadBasemap(what.to_string());
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| bad("unknown format (magic)"))?;
        let mut r = Reader {
            bytes: rest,
            pos: 0,
        };
        let n = u32::from_le_bytes(r.take::<4>().ok_or_else(|| bad("truncated header"))?);
        let mut map = Basemap {
            features: Vec::new(),
            parts: Vec::new(),
            points: Vec::new(),
        };
        for _ in 0..n {
            let kind = match r.byte().ok_or_else(|| bad("truncated feature"))? {
                0 => BasemapKind::Land,
                1 => BasemapKind::Coast,
                2 => BasemapKind::PrefectureBorder,
                _ => return Err(bad("unknown feature kind")),
            };
            let part_count = r.varint().ok_or_else(|| bad("truncated feature"))?;
            let first_part = map.parts.len() as u32;
            let mut bbox = [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ];
            let (mut lon, mut lat) = (0i64, 0i64);
            for _ in 0..part_count {
                let len = r.varint().ok_or_else(|| bad("truncated part"))?;
                if len > r.remaining() {
                    return Err(bad("part longer than the file"));
                }
                let start = map.points.len() as u32;
                for _ in 0..len {
                    lon += r.zigzag().ok_or_else(|| bad("truncated point"))?;
                    lat += r.zigzag().ok_or_else(|| bad("truncated point"))?;
                    let (x, y) = world_px(lat as f64 * 1e-6, lon as f64 * 1e-6);
                    bbox = [
                        bbox[0].min(x),
                        bbox[1].min(y),
                        bbox[2].max(x),
                        bbox[3].max(y),
                    ];
                    map.points.push((x, y));
                }
                map.parts.push((start, map.points.len() as u32));
            }
            if map.parts.len() as u32 > first_part {
                map.features.push(Feature {
                    kind,
                    bbox,
                    parts: (first_part, map.parts.len() as u32),
                });
            }
        }
        if r.remaining() != 0 {
            return Err(bad("trailing bytes"));
        }
        Ok(map)
    }

    /// How many features (polygons and line pieces) the basemap holds.
    pub fn feature_count(&self) -> usize {
        self.features.len()
    }

    /// How many vertices the basemap holds.
    pub fn point_count(&self) -> usize {
        self.points.len()
    }

    /// What the viewport shows, as at most one path per kind in drawing order: land, then
    /// coast, then prefecture borders. Kinds with nothing on screen are left out.
    pub fn svg_paths(&self, vp: &Viewport) -> Vec<BasemapPath> {
        let (x0, y0, x1, y1) = vp.world_bounds(CLIP_MARGIN_PX);
        let s = vp.scale();
        let (cx, cy) = vp.center_world();
        let (w, h) = (vp.width.max(0.0), vp.height.max(0.0));
        let (ox, oy) = (w / 2.0 - cx * s, h / 2.0 - cy * s);
        let clip = Rect {
            x0: -CLIP_MARGIN_PX,
            y0: -CLIP_MARGIN_PX,
            x1: w + CLIP_MARGIN_PX,
            y1: h + CLIP_MARGIN_PX,
        };
        let mut out = [
            (BasemapKind::Land, String::new()),
            (BasemapKind::Coast, String::new()),
            (BasemapKind::PrefectureBorder, String::new()),
        ];
        let mut screen: Points = Vec::new();
        let mut scratch = (Vec::new(), Vec::new());
        for f in &self.features {
            let [fx0, fy0, fx1, fy1] = f.bbox;
            if fx1 < x0 || fx0 > x1 || fy1 < y0 || fy0 > y1 {
                continue;
            }
            if (fx1 - fx0) * s < MIN_SEGMENT_PX && (fy1 - fy0) * s < MIN_SEGMENT_PX {
                continue;
            }
            let closed = f.kind == BasemapKind::Land;
            let d = &mut out[f.kind as usize].1;
            for &(start, end) in &self.parts[f.parts.0 as usize..f.parts.1 as usize] {
                screen.clear();
                let pts = &self.points[start as usize..end as usize];
                for (i, &(wx, wy)) in pts.iter().enumerate() {
                    let p = (wx * s + ox, wy * s + oy);
                    let is_last = i + 1 == pts.len();
                    match screen.last() {
                        Some(&q) if !is_last || closed => {
                            if (p.0 - q.0).abs() >= MIN_SEGMENT_PX
                                || (p.1 - q.1).abs() >= MIN_SEGMENT_PX
                            {
                                screen.push(p);
                            }
                        }
                        _ => screen.push(p),
                    }
                }
                if closed {
                    if screen.len() >= 3 {
                        let ring = clip.clip_ring(&screen, &mut scratch);
                        write_ring(d, ring);
                    }
                } else if screen.len() >= 2 {
                    write_line(d, &screen, &clip);
                }
            }
        }
        out.into_iter()
            .filter(|(_, d)| !d.is_empty())
            .map(|(kind, d)| BasemapPath { kind, d })
            .collect()
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let chunk = self.bytes.get(self.pos..self.pos + N)?;
        self.pos += N;
        chunk.try_into().ok()
    }

    fn varint(&mut self) -> Option<usize> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return usize::try_from(v).ok();
            }
        }
        None
    }

    fn zigzag(&mut self) -> Option<i64> {
        let v = self.varint()? as u64;
        Some((v >> 1) as i64 ^ -((v & 1) as i64))
    }
}

type Points = Vec<(f64, f64)>;

/// The screen rectangle paths are clipped to.
struct Rect {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Rect {
    fn contains(&self, p: (f64, f64)) -> bool {
        p.0 >= self.x0 && p.0 <= self.x1 && p.1 >= self.y0 && p.1 <= self.y1
    }

    /// Sutherland–Hodgman: the ring cut to the rectangle (its edges along the rectangle's
    /// border, which lies outside the widget).
    fn clip_ring<'a>(
        &self,
        ring: &'a [(f64, f64)],
        scratch: &'a mut (Points, Points),
    ) -> &'a [(f64, f64)] {
        if ring.iter().all(|&p| self.contains(p)) {
            return ring;
        }
        let (a, b) = scratch;
        a.clear();
        a.extend_from_slice(ring);
        for edge in 0..4 {
            b.clear();
            let inside = |p: (f64, f64)| match edge {
                0 => p.0 >= self.x0,
                1 => p.0 <= self.x1,
                2 => p.1 >= self.y0,
                _ => p.1 <= self.y1,
            };
            let cut = |p: (f64, f64), q: (f64, f64)| match edge {
                0 => at_x(p, q, self.x0),
                1 => at_x(p, q, self.x1),
                2 => at_y(p, q, self.y0),
                _ => at_y(p, q, self.y1),
            };
            for i in 0..a.len() {
                let cur = a[i];
                let prev = a[(i + a.len() - 1) % a.len()];
                match (inside(prev), inside(cur)) {
                    (true, true) => b.push(cur),
                    (false, true) => {
                        b.push(cut(prev, cur));
                        b.push(cur);
                    }
                    (true, false) => b.push(cut(prev, cur)),
                    (false, false) => {}
                }
            }
            std::mem::swap(a, b);
            if a.is_empty() {
                break;
            }
        }
        a
    }

    /// Liang–Barsky: the part of segment p–q inside the rectangle, and whether each end was
    /// cut.
    fn clip_segment(&self, p: (f64, f64), q: (f64, f64)) -> Option<Segment> {
        let (dx, dy) = (q.0 - p.0, q.1 - p.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (num, den) in [
            (p.0 - self.x0, -dx),
            (self.x1 - p.0, dx),
            (p.1 - self.y0, -dy),
            (self.y1 - p.1, dy),
        ] {
            if den == 0.0 {
                if num < 0.0 {
                    return None;
                }
            } else {
                let t = num / den;
                if den < 0.0 {
                    if t > t1 {
                        return None;
                    }
                    t0 = t0.max(t);
                } else {
                    if t < t0 {
                        return None;
                    }
                    t1 = t1.min(t);
                }
            }
        }
        Some(Segment {
            from: (p.0 + t0 * dx, p.1 + t0 * dy),
            to: (p.0 + t1 * dx, p.1 + t1 * dy),
            from_cut: t0 > 0.0,
            to_cut: t1 < 1.0,
        })
    }
}

struct Segment {
    from: (f64, f64),
    to: (f64, f64),
    from_cut: bool,
    to_cut: bool,
}

fn at_x(p: (f64, f64), q: (f64, f64), x: f64) -> (f64, f64) {
    let t = (x - p.0) / (q.0 - p.0);
    (x, p.1 + t * (q.1 - p.1))
}

fn at_y(p: (f64, f64), q: (f64, f64), y: f64) -> (f64, f64) {
    let t = (y - p.1) / (q.1 - p.1);
    (p.0 + t * (q.0 - p.0), y)
}

fn write_ring(d: &mut String, ring: &[(f64, f64)]) {
    if ring.len() < 3 {
        return;
    }
    let mut pen = Pen::move_to(d, ring[0]);
    for &p in &ring[1..] {
        pen.line_to(d, p);
    }
    d.push('z');
}

fn write_line(d: &mut String, line: &[(f64, f64)], clip: &Rect) {
    let mut pen: Option<Pen> = None;
    for pair in line.windows(2) {
        let Some(seg) = clip.clip_segment(pair[0], pair[1]) else {
            pen = None;
            continue;
        };
        let mut p = match pen.take() {
            Some(p) if !seg.from_cut => p,
            _ => Pen::move_to(d, seg.from),
        };
        p.line_to(d, seg.to);
        // A line that leaves the rectangle starts anew where it comes back.
        pen = (!seg.to_cut).then_some(p);
    }
}

/// Writes path data in tenths of a pixel: an absolute move, then relative line steps from
/// the last point written (so rounding never drifts).
struct Pen {
    last: (i64, i64),
    started_steps: bool,
}

impl Pen {
    fn move_to(d: &mut String, p: (f64, f64)) -> Pen {
        let t = tenths(p);
        d.push('M');
        write_tenths(d, t.0);
        write_separated(d, t.1);
        Pen {
            last: t,
            started_steps: false,
        }
    }

    fn line_to(&mut self, d: &mut String, p: (f64, f64)) {
        let t = tenths(p);
        let (dx, dy) = (t.0 - self.last.0, t.1 - self.last.1);
        if dx == 0 && dy == 0 {
            return;
        }
        if self.started_steps {
            write_separated(d, dx);
        } else {
            d.push('l');
            write_tenths(d, dx);
            self.started_steps = true;
        }
        write_separated(d, dy);
        self.last = t;
    }
}

fn tenths((x, y): (f64, f64)) -> (i64, i64) {
    ((x * 10.0).round() as i64, (y * 10.0).round() as i64)
}

/// Writes a number after another: a minus sign separates by itself, otherwise a space.
fn write_separated(d: &mut String, t: i64) {
    if t >= 0 {
        d.push(' ');
    }
    write_tenths(d, t);
}

/// Writes `t` tenths as a decimal with one digit after the point, a trailing ".0" left out.
fn write_tenths(d: &mut String, t: i64) {
    if t < 0 {
        d.push('-');
    }
    let t = t.unsigned_abs();
    let (whole, tenth) = (t / 10, (t % 10) as u8);
    let _ = write!(d, "{whole}");
    if tenth != 0 {
        d.push('.');
        d.push(char::from(b'0' + tenth));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(paths: &[BasemapPath], kind: BasemapKind) -> Option<&str> {
        paths.iter().find(|p| p.kind == kind).map(|p| p.d.as_str())
    }

    /// The subpaths of path data as absolute points (understands what `Pen` writes).
    fn subpaths(d: &str) -> Vec<Vec<(f64, f64)>> {
        enum Token {
            Cmd(char),
            Num(f64),
        }
        let mut tokens = Vec::new();
        let mut num = String::new();
        let flush = |num: &mut String, tokens: &mut Vec<Token>| {
            if !num.is_empty() {
                tokens.push(Token::Num(num.parse().unwrap()));
                num.clear();
            }
        };
        for c in d.chars() {
            match c {
                'M' | 'l' | 'z' => {
                    flush(&mut num, &mut tokens);
                    tokens.push(Token::Cmd(c));
                }
                ' ' => flush(&mut num, &mut tokens),
                '-' => {
                    flush(&mut num, &mut tokens);
                    num.push('-');
                }
                _ => num.push(c),
            }
        }
        flush(&mut num, &mut tokens);
        let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
        let (mut cmd, mut pending, mut cur) = ('M', None, (0.0, 0.0));
        for t in tokens {
            match t {
                Token::Cmd(c) => cmd = c,
                Token::Num(v) => match pending.take() {
                    None => pending = Some(v),
                    Some(x) if cmd == 'M' => {
                        cur = (x, v);
                        out.push(vec![cur]);
                    }
                    Some(x) => {
                        cur = (cur.0 + x, cur.1 + v);
                        out.last_mut().unwrap().push(cur);
                    }
                },
            }
        }
        out
    }

    fn points(d: &str) -> Vec<(f64, f64)> {
        subpaths(d).into_iter().flatten().collect()
    }

    #[test]
    fn the_bundled_basemap_decodes_with_all_three_kinds() {
        let map = Basemap::japan();
        assert!(map.feature_count() > 100, "{map:?}");
        assert!(map.point_count() > 10_000, "{map:?}");
        for kind in [
            BasemapKind::Land,
            BasemapKind::Coast,
            BasemapKind::PrefectureBorder,
        ] {
            assert!(map.features.iter().any(|f| f.kind == kind), "{kind:?}");
        }
    }

    #[test]
    fn the_japan_viewport_has_land_coast_and_prefecture_borders() {
        let vp = Viewport::japan(1280.0, 800.0);
        let paths = Basemap::japan().svg_paths(&vp);
        let kinds: Vec<BasemapKind> = paths.iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            [
                BasemapKind::Land,
                BasemapKind::Coast,
                BasemapKind::PrefectureBorder
            ]
        );
        for p in &paths {
            assert!(p.d.starts_with('M'), "{:?}", &p.d[..20]);
            assert!(p.d.len() < 120_000, "{:?}: {} bytes", p.kind, p.d.len());
            for (x, y) in points(&p.d) {
                let m = CLIP_MARGIN_PX + 0.05;
                assert!(
                    x >= -m && x <= 1280.0 + m && y >= -m && y <= 800.0 + m,
                    "{x},{y}"
                );
            }
        }
        // Light enough for a whole-Japan view.
        let total: usize = paths.iter().map(|p| p.d.len()).sum();
        assert!(total < 200_000, "{total} bytes of path data");
    }

    #[test]
    fn tokyo_station_is_on_land_and_tokyo_bay_is_not() {
        // Even-odd point-in-polygon over the land path at a city zoom.
        let vp = Viewport::new(35.6, 139.8, 9.0, 1000.0, 1000.0);
        let paths = Basemap::japan().svg_paths(&vp);
        let land = path(&paths, BasemapKind::Land).unwrap();
        let rings = subpaths(land);
        let inside = |(x, y): (f64, f64)| {
            let mut c = false;
            for ring in &rings {
                for i in 0..ring.len() {
                    let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
                    if (a.1 > y) != (b.1 > y) && x < a.0 + (y - a.1) / (b.1 - a.1) * (b.0 - a.0) {
                        c = !c;
                    }
                }
            }
            c
        };
        assert!(inside(vp.project(35.6812, 139.7671)), "Tokyo Station");
        assert!(inside(vp.project(36.2, 138.5)), "Nagano");
        assert!(!inside(vp.project(35.45, 139.85)), "Tokyo Bay");
        assert!(!inside(vp.project(34.6, 140.8)), "the Pacific");
    }

    #[test]
    fn a_viewport_over_the_atlantic_has_no_paths() {
        let vp = Viewport::new(30.0, -40.0, 5.0, 1280.0, 800.0);
        assert!(Basemap::japan().svg_paths(&vp).is_empty());
    }

    #[test]
    fn at_city_zoom_only_nearby_coast_is_drawn_and_vertices_stay_on_screen() {
        let vp = Viewport::new(34.69, 135.50, 15.0, 800.0, 600.0);
        let paths = Basemap::japan().svg_paths(&vp);
        let land = path(&paths, BasemapKind::Land).expect("Osaka is on land");
        for (x, y) in points(land) {
            assert!(
                (-9.0..=809.0).contains(&x) && (-9.0..=609.0).contains(&y),
                "{x},{y}"
            );
        }
    }

    #[test]
    fn vertices_closer_than_a_pixel_are_dropped() {
        let vp = Viewport::new(36.0, 138.0, 3.0, 400.0, 400.0);
        let paths = Basemap::japan().svg_paths(&vp);
        let coast = path(&paths, BasemapKind::Coast).unwrap();
        let drawn = points(coast).len();
        assert!(
            drawn < Basemap::japan().point_count() / 4,
            "{drawn} points drawn"
        );
    }

    #[test]
    fn bad_bytes_are_an_error_not_a_panic() {
        assert!(Basemap::from_bytes(b"nope").is_err());
        let mut truncated = BASEMAP_JAPAN[..1000].to_vec();
        assert!(Basemap::from_bytes(&truncated).is_err());
        truncated.truncate(8);
        assert!(Basemap::from_bytes(&truncated).is_err());
    }

    #[test]
    fn coordinates_are_written_with_one_decimal_as_relative_steps() {
        let mut d = String::new();
        let mut pen = Pen::move_to(&mut d, (12.04, -3.46));
        pen.line_to(&mut d, (12.04, -3.46));
        pen.line_to(&mut d, (13.0, 100.0));
        pen.line_to(&mut d, (-1234.56, 100.96));
        assert_eq!(d, "M12-3.5l1 103.5-1247.6 1");
        assert_eq!(points(&d), [(12.0, -3.5), (13.0, 100.0), (-1234.6, 101.0)]);
    }
}

//! An area to keep offline: a bounding box and a range of zooms, and the XYZ tiles that cover it.

use std::fmt;
use std::str::FromStr;

use super::projection::{TILE_SIZE, world_px};

/// The deepest zoom an area may be downloaded at (street level).
pub const MAX_AREA_ZOOM: u8 = 18;
/// Latitudes beyond this are outside Web Mercator.
const MAX_LAT: f64 = 85.051_128_78;
/// Kilometres per degree of latitude.
const KM_PER_DEG_LAT: f64 = 111.32;

/// A bounding box in degrees: south, west, north, east.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    /// Southern edge, degrees north.
    pub south: f64,
    /// Western edge, degrees east.
    pub west: f64,
    /// Northern edge, degrees north.
    pub north: f64,
    /// Eastern edge, degrees east.
    pub east: f64,
}

/// Why an area's bounding box or zooms were refused: which part, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AreaError {
    /// `--bbox` is not four numbers `S,W,N,E`.
    #[error("bbox: expected four numbers S,W,N,E (degrees), e.g. 35.43,139.36,35.48,139.42")]
    BboxForm,
    /// A latitude or longitude out of range, or south above north, or west east of east.
    #[error("bbox: {0}")]
    BboxRange(&'static str),
    /// `--zoom` is not `MIN-MAX` or `Z` within 0..=18.
    #[error("zoom: expected MIN-MAX or one zoom, each 0 to 18, MIN not above MAX, e.g. 10-17")]
    Zoom,
    /// `--around` is not `LAT,LON`, or the radius is not positive.
    #[error(
        "around: expected LAT,LON within ±85.05 and ±180, and a radius in km above 0 and at most 50"
    )]
    Around,
}

impl Bbox {
    /// A checked box: latitudes within Web Mercator, longitudes within ±180, south below north and
    /// west west of east.
    pub fn new(south: f64, west: f64, north: f64, east: f64) -> Result<Bbox, AreaError> {
        if ![south, west, north, east].iter().all(|v| v.is_finite()) {
            return Err(AreaError::BboxForm);
        }
        if south.abs() > MAX_LAT || north.abs() > MAX_LAT {
            return Err(AreaError::BboxRange("latitudes must be within ±85.05"));
        }
        if west.abs() > 180.0 || east.abs() > 180.0 {
            return Err(AreaError::BboxRange("longitudes must be within ±180"));
        }
        if south >= north {
            return Err(AreaError::BboxRange("south must be below north"));
        }
        if west >= east {
            return Err(AreaError::BboxRange("west must be west of east"));
        }
        Ok(Bbox {
            south,
            west,
            north,
            east,
        })
    }

    /// The box around a point reaching `radius_km` each way.
    pub fn around(lat: f64, lon: f64, radius_km: f64) -> Result<Bbox, AreaError> {
        let inside = lat.abs() <= MAX_LAT && lon.abs() <= 180.0;
        if !(radius_km > 0.0 && radius_km <= 50.0 && inside) {
            return Err(AreaError::Around);
        }
        let dlat = radius_km / KM_PER_DEG_LAT;
        let dlon = radius_km / (KM_PER_DEG_LAT * lat.to_radians().cos().max(0.01));
        Bbox::new(
            (lat - dlat).max(-MAX_LAT),
            (lon - dlon).max(-180.0),
            (lat + dlat).min(MAX_LAT),
            (lon + dlon).min(180.0),
        )
    }

    /// The smallest box holding both.
    pub fn union(&self, other: &Bbox) -> Bbox {
        Bbox {
            south: self.south.min(other.south),
            west: self.west.min(other.west),
            north: self.north.max(other.north),
            east: self.east.max(other.east),
        }
    }

    /// Whether the two boxes share any point.
    pub fn intersects(&self, other: &Bbox) -> bool {
        self.south <= other.north
            && other.south <= self.north
            && self.west <= other.east
            && other.west <= self.east
    }

    /// As MBTiles writes `bounds`: `W,S,E,N`.
    pub fn mbtiles_bounds(&self) -> String {
        format!(
            "{:.6},{:.6},{:.6},{:.6}",
            self.west, self.south, self.east, self.north
        )
    }
}

impl FromStr for Bbox {
    type Err = AreaError;

    /// `S,W,N,E` in degrees.
    fn from_str(s: &str) -> Result<Bbox, AreaError> {
        let v: Vec<f64> = s
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| AreaError::BboxForm)?;
        match v[..] {
            [s, w, n, e] => Bbox::new(s, w, n, e),
            _ => Err(AreaError::BboxForm),
        }
    }
}

impl fmt::Display for Bbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.5},{:.5},{:.5},{:.5}",
            self.south, self.west, self.north, self.east
        )
    }
}

/// A range of zooms, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zooms {
    /// The widest view.
    pub min: u8,
    /// The closest view.
    pub max: u8,
}

impl FromStr for Zooms {
    type Err = AreaError;

    /// `MIN-MAX` or one zoom.
    fn from_str(s: &str) -> Result<Zooms, AreaError> {
        let parse = |p: &str| p.trim().parse::<u8>().map_err(|_| AreaError::Zoom);
        let (min, max) = match s.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => {
                let z = parse(s)?;
                (z, z)
            }
        };
        if min > max || max > MAX_AREA_ZOOM {
            return Err(AreaError::Zoom);
        }
        Ok(Zooms { min, max })
    }
}

impl fmt::Display for Zooms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.min, self.max)
    }
}

/// The columns and rows of zoom `z`'s tiles that cover `bbox` (XYZ rows: 0 at the north).
pub fn tile_span(bbox: &Bbox, z: u8) -> (u32, u32, u32, u32) {
    let n = 1u32 << z;
    let scale = f64::from(n) / TILE_SIZE;
    let (x0, y0) = world_px(bbox.north, bbox.west);
    let (x1, y1) = world_px(bbox.south, bbox.east);
    let first = |v: f64| (v * scale).floor().clamp(0.0, f64::from(n - 1)) as u32;
    // An east or south edge exactly on a tile boundary does not reach into the next tile.
    let last = |v: f64, from: u32| {
        ((v * scale).ceil() - 1.0).clamp(f64::from(from), f64::from(n - 1)) as u32
    };
    let (c0, r0) = (first(x0), first(y0));
    (c0, r0, last(x1, c0), last(y1, r0))
}

/// Every tile of the area, widest zoom first, then by row and column.
pub fn tiles_of(bbox: &Bbox, zooms: Zooms) -> impl Iterator<Item = (u8, u32, u32)> + '_ {
    (zooms.min..=zooms.max).flat_map(move |z| {
        let (x0, y0, x1, y1) = tile_span(bbox, z);
        (y0..=y1).flat_map(move |y| (x0..=x1).map(move |x| (z, x, y)))
    })
}

/// How many tiles [`tiles_of`] gives, without listing them.
pub fn tile_count(bbox: &Bbox, zooms: Zooms) -> u64 {
    (zooms.min..=zooms.max)
        .map(|z| {
            let (x0, y0, x1, y1) = tile_span(bbox, z);
            u64::from(x1 - x0 + 1) * u64::from(y1 - y0 + 1)
        })
        .sum()
}

/// Whether tile `z`/`x`/`y` is one of the area's.
pub fn holds(bbox: &Bbox, zooms: Zooms, z: u8, x: u32, y: u32) -> bool {
    if z < zooms.min || z > zooms.max {
        return false;
    }
    let (x0, y0, x1, y1) = tile_span(bbox, z);
    (x0..=x1).contains(&x) && (y0..=y1).contains(&y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bbox_is_read_and_checked_with_the_field_named() {
        let b: Bbox = "35.43,139.36,35.48,139.42".parse().unwrap();
        assert_eq!(b.south, 35.43);
        assert_eq!(b.east, 139.42);
        assert_eq!("35.4,139".parse::<Bbox>(), Err(AreaError::BboxForm));
        assert_eq!("a,b,c,d".parse::<Bbox>(), Err(AreaError::BboxForm));
        let flipped = "35.48,139.36,35.43,139.42".parse::<Bbox>().unwrap_err();
        assert!(flipped.to_string().contains("south must be below north"));
        assert!("89,0,89.5,1".parse::<Bbox>().is_err());
    }

    #[test]
    fn zooms_are_a_range_or_one() {
        assert_eq!("10-17".parse(), Ok(Zooms { min: 10, max: 17 }));
        assert_eq!("15".parse(), Ok(Zooms { min: 15, max: 15 }));
        assert_eq!("17-10".parse::<Zooms>(), Err(AreaError::Zoom));
        assert_eq!("10-19".parse::<Zooms>(), Err(AreaError::Zoom));
    }

    #[test]
    fn the_tiles_of_an_area_are_those_that_cover_it_and_counted_without_listing() {
        // Tokyo Station is tile 10/909/403.
        let b = Bbox::around(35.6812, 139.7671, 0.2).unwrap();
        let z10: Vec<_> = tiles_of(&b, "10".parse().unwrap()).collect();
        assert_eq!(z10, vec![(10, 909, 403)]);
        let zooms: Zooms = "10-16".parse().unwrap();
        let all: Vec<_> = tiles_of(&b, zooms).collect();
        assert_eq!(all.len() as u64, tile_count(&b, zooms));
        assert!(all.iter().all(|&(z, x, y)| holds(&b, zooms, z, x, y)));
        assert!(!holds(&b, zooms, 10, 910, 403));
        assert!(!holds(&b, zooms, 17, 0, 0));
        // Each zoom covers the box: its corners fall in the span.
        for z in zooms.min..=zooms.max {
            let (x0, y0, x1, y1) = tile_span(&b, z);
            let n = f64::from(1u32 << z) / TILE_SIZE;
            let (wx, wy) = world_px(b.north, b.west);
            assert_eq!(((wx * n) as u32, (wy * n) as u32), (x0, y0));
            let (ex, ey) = world_px(b.south, b.east);
            assert_eq!(((ex * n) as u32, (ey * n) as u32), (x1, y1));
        }
    }

    #[test]
    fn an_edge_on_a_tile_boundary_takes_no_tile_beyond_it() {
        // 0..90°E at zoom 2 is exactly column 2; the equator is the edge between rows 1 and 2.
        let b = Bbox::new(0.0, 0.0, 1.0, 90.0).unwrap();
        assert_eq!(tile_span(&b, 2), (2, 1, 2, 1));
        assert_eq!(tile_count(&b, Zooms { min: 2, max: 2 }), 1);
    }

    #[test]
    fn around_names_itself_when_the_point_is_off_the_map() {
        assert_eq!(Bbox::around(89.0, 0.0, 1.0), Err(AreaError::Around));
        assert_eq!(Bbox::around(35.0, 200.0, 1.0), Err(AreaError::Around));
    }

    #[test]
    fn around_reaches_the_radius_each_way() {
        let b = Bbox::around(35.0, 139.0, 5.0).unwrap();
        assert!(((b.north - b.south) * KM_PER_DEG_LAT - 10.0).abs() < 0.01);
        let km_lon = (b.east - b.west) * KM_PER_DEG_LAT * 35f64.to_radians().cos();
        assert!((km_lon - 10.0).abs() < 0.01);
        assert_eq!(Bbox::around(35.0, 139.0, 0.0), Err(AreaError::Around));
        assert_eq!(Bbox::around(35.0, 139.0, 80.0), Err(AreaError::Around));
    }
}

//! Where the bulk of a workspace's places lie: a view fitted to every place is wrecked by one pin
//! entered far away by mistake (Paris in a city of Zama), so views fit the places near the others
//! and such a pin is flagged.

/// Japan's extent, generously (Okinotorishima to Etorofu, Yonaguni to Minamitorishima).
pub const JAPAN: (f64, f64, f64, f64) = (20.0, 122.0, 46.5, 154.5);

/// Distance in kilometres between two points (haversine on a 6,371 km sphere).
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The middle of the places (median latitude and longitude) and how far from it a place may lie
/// and still count among them: six times the median distance to it, at least 10 km.
pub fn centre_and_reach(points: &[(f64, f64)]) -> Option<((f64, f64), f64)> {
    if points.is_empty() {
        return None;
    }
    let mut lats: Vec<f64> = points.iter().map(|p| p.0).collect();
    let mut lons: Vec<f64> = points.iter().map(|p| p.1).collect();
    let centre = (median(&mut lats), median(&mut lons));
    let mut distances: Vec<f64> = points.iter().map(|p| distance_km(centre, *p)).collect();
    let reach = (6.0 * median(&mut distances)).max(10.0);
    Some((centre, reach))
}

/// The bounds (south, west, north, east) of the places near the others, leaving out those far
/// from the bulk; `None` without places.
pub fn bulk_bounds(points: &[(f64, f64)]) -> Option<(f64, f64, f64, f64)> {
    let (centre, reach) = centre_and_reach(points)?;
    let near = points.iter().filter(|p| distance_km(centre, **p) <= reach);
    let mut bounds: Option<(f64, f64, f64, f64)> = None;
    for p in near {
        bounds = Some(match bounds {
            None => (p.0, p.1, p.0, p.1),
            Some((s, w, n, e)) => (s.min(p.0), w.min(p.1), n.max(p.0), e.max(p.1)),
        });
    }
    bounds
}

/// Why a place at `point` looks entered by mistake, if it does: outside Japan, or far from the
/// bulk of `others`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FarAway {
    /// Outside Japan.
    OutsideJapan,
    /// In Japan, but far from the workspace's other places.
    FarFromTheOthers,
}

/// Whether `point` lies outside Japan or far from the bulk of `others`.
pub fn far_away(point: (f64, f64), others: &[(f64, f64)]) -> Option<FarAway> {
    let (s, w, n, e) = JAPAN;
    if !(s..=n).contains(&point.0) || !(w..=e).contains(&point.1) {
        return Some(FarAway::OutsideJapan);
    }
    let (centre, reach) = centre_and_reach(others)?;
    (others.len() >= 5 && distance_km(centre, point) > reach).then_some(FarAway::FarFromTheOthers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zama() -> Vec<(f64, f64)> {
        (0..40)
            .map(|i| {
                (
                    35.47 + (i % 7) as f64 * 0.004,
                    139.38 + (i % 5) as f64 * 0.005,
                )
            })
            .collect()
    }

    #[test]
    fn a_pin_in_paris_does_not_wreck_the_view_of_zama() {
        let mut points = zama();
        points.push((48.8566, 2.3522));
        let (s, w, n, e) = bulk_bounds(&points).unwrap();
        assert!(
            s > 35.4 && n < 35.6 && w > 139.3 && e < 139.5,
            "{s} {w} {n} {e}"
        );
        assert_eq!(
            far_away((48.8566, 2.3522), &zama()),
            Some(FarAway::OutsideJapan)
        );
        assert_eq!(
            far_away((43.06, 141.35), &zama()),
            Some(FarAway::FarFromTheOthers)
        );
        assert_eq!(far_away((35.48, 139.39), &zama()), None);
    }

    #[test]
    fn a_spread_out_city_keeps_all_its_places() {
        let points = vec![
            (38.26, 140.87),
            (38.30, 140.70),
            (38.20, 141.00),
            (38.35, 140.90),
        ];
        assert_eq!(bulk_bounds(&points), Some((38.20, 140.70, 38.35, 141.00)));
        assert_eq!(bulk_bounds(&[]), None);
    }
}

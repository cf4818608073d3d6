//! Hit-testing: which marker a tap or click at a screen position is on.

use super::cluster::Marker;

/// The marker nearest to (`x`, `y`) within `radius_px` screen pixels, or `None`.
///
/// At equal distance a pin wins over a cluster, and between markers of the same kind the one
/// later in `markers` wins: [`PinIndex::cluster`](super::PinIndex::cluster) sorts markers in
/// painting order, so that is the one drawn on top.
pub fn hit_test(markers: &[Marker], x: f64, y: f64, radius_px: f64) -> Option<&Marker> {
    if !(x.is_finite() && y.is_finite() && radius_px >= 0.0) {
        return None;
    }
    let r2 = radius_px * radius_px;
    let mut best: Option<(f64, bool, &Marker)> = None;
    for m in markers {
        let (mx, my) = m.position();
        let d2 = (mx - x).powi(2) + (my - y).powi(2);
        if d2 > r2 {
            continue;
        }
        let is_cluster = m.is_cluster();
        let better = match best {
            None => true,
            Some((bd2, b_cluster, _)) => d2 < bd2 || (d2 == bd2 && (b_cluster || !is_cluster)),
        };
        if better {
            best = Some((d2, is_cluster, m));
        }
    }
    best.map(|(_, _, m)| m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(id: &str, x: f64, y: f64) -> Marker {
        Marker::Pin {
            id: id.into(),
            x,
            y,
            category: "cafe".into(),
        }
    }

    fn cluster(id: &str, x: f64, y: f64) -> Marker {
        Marker::Cluster {
            x,
            y,
            count: 2,
            ids: vec![id.into(), format!("{id}2")],
            south: 0.0,
            west: 0.0,
            north: 0.0,
            east: 0.0,
        }
    }

    fn hit(markers: &[Marker], x: f64, y: f64, r: f64) -> Option<&str> {
        hit_test(markers, x, y, r).map(|m| m.ids()[0].as_str())
    }

    #[test]
    fn the_nearest_marker_within_the_radius_is_hit() {
        let markers = [
            pin("a", 100.0, 100.0),
            pin("b", 110.0, 100.0),
            cluster("c", 300.0, 300.0),
        ];
        assert_eq!(hit(&markers, 103.0, 101.0, 20.0), Some("a"));
        assert_eq!(hit(&markers, 108.0, 99.0, 20.0), Some("b"));
        assert_eq!(hit(&markers, 310.0, 290.0, 20.0), Some("c"));
    }

    #[test]
    fn nothing_is_hit_outside_the_radius() {
        let markers = [pin("a", 100.0, 100.0)];
        assert_eq!(hit(&markers, 130.0, 100.0, 20.0), None);
        assert_eq!(
            hit(&markers, 120.0, 100.0, 20.0),
            Some("a"),
            "the radius is inclusive"
        );
        assert_eq!(hit(&[], 0.0, 0.0, 20.0), None);
    }

    #[test]
    fn a_pin_wins_over_a_cluster_at_equal_distance() {
        let markers = [pin("p", 90.0, 100.0), cluster("c", 110.0, 100.0)];
        assert_eq!(hit(&markers, 100.0, 100.0, 20.0), Some("p"));
        let markers = [cluster("c", 110.0, 100.0), pin("p", 90.0, 100.0)];
        assert_eq!(hit(&markers, 100.0, 100.0, 20.0), Some("p"));
        // But a nearer cluster wins.
        assert_eq!(hit(&markers, 105.0, 100.0, 20.0), Some("c"));
    }

    #[test]
    fn of_two_markers_at_the_same_spot_the_one_drawn_on_top_wins() {
        let markers = [pin("under", 50.0, 50.0), pin("over", 50.0, 50.0)];
        assert_eq!(hit(&markers, 52.0, 50.0, 10.0), Some("over"));
    }

    #[test]
    fn hit_testing_finds_the_markers_the_clusterer_made() {
        use crate::map::{Pin, PinIndex, Viewport};
        let pins = [
            Pin {
                id: "a".into(),
                lat: 35.0,
                lon: 139.0,
                category: "cafe".into(),
            },
            Pin {
                id: "b".into(),
                lat: 35.0001,
                lon: 139.0001,
                category: "cafe".into(),
            },
            Pin {
                id: "c".into(),
                lat: 35.05,
                lon: 139.05,
                category: "hall".into(),
            },
        ];
        let vp = Viewport::new(35.02, 139.02, 12.0, 800.0, 600.0);
        let markers = PinIndex::new(&pins).cluster(&vp, 40.0);
        let (x, y) = vp.project(35.0, 139.0);
        let m = hit_test(&markers, x + 3.0, y, 22.0).unwrap();
        assert!(m.is_cluster() && m.ids().len() == 2);
        let (x, y) = vp.project(35.05, 139.05);
        assert_eq!(hit(&markers, x, y - 5.0, 22.0), Some("c"));
    }
}

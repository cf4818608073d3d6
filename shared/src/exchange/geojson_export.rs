//! Places as a GeoJSON FeatureCollection (RFC 7946: WGS84, longitude first).

use crate::domain::Place;
use crate::i18n::Lang;
use crate::taxonomy::{self, CATEGORIES, TARGET_GROUPS};
use geojson::{Feature, FeatureCollection, Geometry, JsonObject, feature::Id};
use serde_json::json;

/// Builds the collection. Each feature carries the place's fields and the category's label.
pub fn places_geojson(places: &[Place], lang: Lang) -> FeatureCollection {
    FeatureCollection::new(places.iter().map(|p| {
        let mut props = JsonObject::new();
        let fields = [
            ("name", json!(p.name)),
            ("reading", json!(p.reading)),
            ("category", json!(p.category)),
            (
                "category_label",
                json!(taxonomy::lookup(CATEGORIES, &p.category).map(|t| t.label(lang))),
            ),
            ("targets", json!(p.targets)),
            (
                "target_labels",
                json!(
                    p.targets
                        .iter()
                        .filter_map(|t| taxonomy::lookup(TARGET_GROUPS, t).map(|t| t.label(lang)))
                        .collect::<Vec<_>>()
                ),
            ),
            ("address", json!(p.address)),
            ("opening_hours", json!(p.hours)),
            ("contact", json!(p.contact)),
            ("description", json!(p.description)),
            ("status", json!(p.status)),
            ("listing_consent", json!(p.listing_consent)),
            ("accuracy_m", json!(p.accuracy_m)),
            ("hours_checked_at", json!(p.hours_checked_at)),
        ];
        for (k, v) in fields {
            props.insert(k.to_string(), v);
        }
        Feature {
            bbox: None,
            geometry: Some(Geometry::new_point([p.lon, p.lat])),
            id: Some(Id::String(p.id.clone())),
            properties: Some(props),
            foreign_members: None,
        }
    }))
}

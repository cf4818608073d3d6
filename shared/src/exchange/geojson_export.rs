//! Places as a GeoJSON FeatureCollection (RFC 7946: WGS84, longitude first).

use crate::domain::schema::FieldType;
use crate::domain::{FieldValue, Place, Record};
use crate::i18n::Lang;
use crate::taxonomy::{self, CATEGORIES, TARGET_GROUPS};
use geojson::{Feature, FeatureCollection, Geometry, JsonObject, feature::Id};
use serde_json::json;

/// Builds the collection. Each feature carries the place's fields and the category's label.
pub fn places_geojson(places: &[Place], lang: Lang) -> FeatureCollection {
    FeatureCollection::new(places.iter().map(|p| {
        let mut props = JsonObject::new();
        for field in Place::FIELDS {
            if let Some(key) = field.geojson {
                props.insert(key.to_string(), json_of(field.ty, (field.get)(p)));
            }
        }
        let labels = [
            (
                "category_label",
                json!(taxonomy::lookup(CATEGORIES, &p.category).map(|t| t.label(lang))),
            ),
            (
                "target_labels",
                json!(
                    p.targets
                        .iter()
                        .filter_map(|t| taxonomy::lookup(TARGET_GROUPS, t).map(|t| t.label(lang)))
                        .collect::<Vec<_>>()
                ),
            ),
        ];
        for (k, v) in labels {
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

/// A field's value as a property: lists as arrays, absent text as `""` where the field is text
/// that is always present, `null` where it is optional.
fn json_of(ty: FieldType, value: FieldValue) -> serde_json::Value {
    match (ty, value) {
        (FieldType::Targets | FieldType::Terms(_), v) => json!(
            v.as_text()
                .split(',')
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
        ),
        (FieldType::Flag, FieldValue::Null) => json!(false),
        (FieldType::Line | FieldType::Prose | FieldType::Term(_), FieldValue::Null) => json!(""),
        (_, v) => serde_json::to_value(v).unwrap_or_default(),
    }
}

//! A gathering place (居場所).

use super::record::{Record, RecordKind};
use super::schema::{Field, FieldType::*, field};
use crate::doc::DocId;
use crate::taxonomy::{CATEGORIES, STATUSES};
use crate::validate::{
    self as v, MAX_NAME_CHARS, MAX_SHORT_CHARS, MAX_TEXT_CHARS, Reason, ValidationError,
};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// A gathering place pin, as `DOMAIN.md` describes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Place {
    /// Device-generated id.
    pub id: String,
    /// Name as written (required).
    pub name: String,
    /// Reading (よみがな), optional.
    pub reading: String,
    /// Category id from the taxonomy.
    pub category: String,
    /// Target-group ids from the taxonomy.
    pub targets: Vec<String>,
    /// Latitude (WGS84).
    pub lat: f64,
    /// Longitude (WGS84).
    pub lon: f64,
    /// GPS accuracy in metres, when known.
    pub accuracy_m: Option<f64>,
    /// Postal address.
    pub address: String,
    /// Opening hours, OSM syntax; empty when unknown.
    pub hours: String,
    /// Phone, e-mail or web.
    pub contact: String,
    /// What happens there.
    pub description: String,
    /// `active`, `temporarily_closed`, `moved` or `closed`.
    pub status: String,
    /// Whether the place agreed to be listed publicly.
    pub listing_consent: bool,
    /// Display name of whoever added it.
    pub added_by: String,
    /// When it was added (Japan time, ISO 8601).
    pub added_at: String,
    /// When the opening hours were last checked (date).
    pub hours_checked_at: Option<String>,
    /// Tombstone: when it was deleted.
    pub deleted_at: Option<String>,
}

impl Place {
    /// A new active place with the required fields; other fields empty.
    pub fn new(name: &str, category: &str, lat: f64, lon: f64) -> Place {
        Place {
            name: name.trim().to_string(),
            category: category.to_string(),
            lat,
            lon,
            ..Place::blank(&super::new_id())
        }
    }

    /// Normalises labels to ids (category, targets, status) and validates.
    pub fn normalized(mut self, now: NaiveDateTime) -> Result<Place, ValidationError> {
        self.category = v::term("category", CATEGORIES, &self.category)?.to_string();
        self.status = v::term("status", STATUSES, &self.status)?.to_string();
        self.targets = v::targets(&self.targets)?;
        self.name = self.name.trim().to_string();
        self.validate(now)?;
        Ok(self)
    }
}

impl Record for Place {
    const KIND: RecordKind = RecordKind::Place;

    fn id(&self) -> &str {
        &self.id
    }

    const FIELDS: &'static [Field<Place>] = &[
        field!(Place, name, Line, true, Person, "名称", "name", csv: true, geojson: Some("name")),
        field!(Place, reading, Line, false, Person, "よみがな", "reading", csv: true, geojson: Some("reading")),
        field!(Place, category, Term(CATEGORIES), true, Person, "カテゴリ", "category", csv: true, geojson: Some("category")),
        field!(Place, targets, Targets, false, Person, "対象", "target groups", csv: true, geojson: Some("targets")),
        field!(Place, lat, Number, true, Person, "緯度", "latitude", csv: true, geojson: None),
        field!(Place, lon, Number, true, Person, "経度", "longitude", csv: true, geojson: None),
        field!(Place, accuracy_m, Number, false, Person, "位置の精度", "location accuracy", csv: true, geojson: Some("accuracy_m")),
        field!(Place, address, Line, false, Person, "住所", "address", csv: true, geojson: Some("address")),
        field!(Place, hours, Line, false, Person, "開所時間", "opening hours", csv: true, geojson: Some("opening_hours")),
        field!(Place, contact, Line, false, Person, "連絡先", "contact", csv: true, geojson: Some("contact")),
        field!(Place, description, Prose, false, Person, "説明", "description", csv: true, geojson: Some("description")),
        field!(Place, status, Term(STATUSES), false, Person, "状態", "status", csv: true, geojson: Some("status")),
        field!(Place, listing_consent, Flag, false, Person, "公開掲載の同意", "public-listing consent", csv: true, geojson: Some("listing_consent")),
        field!(Place, hours_checked_at, Date, false, Person, "開所時間の確認日", "hours last checked", csv: true, geojson: Some("hours_checked_at")),
        field!(Place, added_by, Line, false, App, "追加した人", "added by"),
        field!(
            Place,
            added_at,
            DateTime,
            false,
            App,
            "追加日時",
            "added at"
        ),
        field!(
            Place,
            deleted_at,
            DateTime,
            false,
            App,
            "削除日時",
            "deleted at"
        ),
    ];

    fn blank(id: &str) -> Place {
        Place {
            id: id.to_string(),
            lat: f64::NAN,
            lon: f64::NAN,
            status: "active".to_string(),
            ..Place::default()
        }
    }

    /// Opening hours written now were checked now.
    fn edited(&mut self, before: &Place, today: chrono::NaiveDate) {
        if self.hours != before.hours && self.hours_checked_at == before.hours_checked_at {
            self.hours_checked_at = Some(today.to_string());
        }
    }

    /// A place lives in the shard its id hashes to.
    fn home(&self) -> DocId {
        DocId::for_place(&self.id)
    }

    fn validate(&self, now: NaiveDateTime) -> Result<(), ValidationError> {
        v::required_text("name", &self.name, MAX_NAME_CHARS)?;
        v::optional_text("reading", &self.reading, MAX_SHORT_CHARS)?;
        v::term("category", CATEGORIES, &self.category)?;
        v::targets(&self.targets)?;
        v::location(self.lat, self.lon)?;
        if let Some(acc) = self.accuracy_m
            && (!acc.is_finite() || !(0.0..=100_000.0).contains(&acc))
        {
            return Err(ValidationError::new(
                "accuracy_m",
                Reason::OutOfRange {
                    min: 0.0,
                    max: 100_000.0,
                },
            ));
        }
        v::optional_text("address", &self.address, MAX_SHORT_CHARS)?;
        v::optional_text("hours", &self.hours, MAX_SHORT_CHARS)?;
        v::hours(&self.hours)?;
        v::optional_text("contact", &self.contact, MAX_SHORT_CHARS)?;
        v::optional_text("description", &self.description, MAX_TEXT_CHARS)?;
        v::term("status", STATUSES, &self.status)?;
        if let Some(d) = &self.hours_checked_at {
            v::date("hours_checked_at", d, now.date(), 0)?;
        }
        Ok(())
    }

    fn deleted_at(&self) -> Option<&str> {
        self.deleted_at.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hours::now_jst;

    fn valid() -> Place {
        let mut p = Place::new("喫茶ランドリー座間", "laundry_cafe", 35.4889, 139.4075);
        p.targets = vec!["elderly".into(), "parenting".into()];
        p.hours = "Mo-Sa 09:00-18:00; PH off".into();
        p
    }

    fn field_of(p: Place) -> String {
        p.validate(now_jst()).unwrap_err().field
    }

    #[test]
    fn a_complete_place_is_valid_and_round_trips_through_fields() {
        let p = valid();
        p.validate(now_jst()).unwrap();
        assert_eq!(Place::from_fields(&p.id, &p.to_fields()), p);
    }

    #[test]
    fn each_rule_names_its_field() {
        assert_eq!(
            field_of(Place {
                name: "  ".into(),
                ..valid()
            }),
            "name"
        );
        assert_eq!(
            field_of(Place {
                name: "あ".repeat(MAX_NAME_CHARS + 1),
                ..valid()
            }),
            "name"
        );
        assert_eq!(
            field_of(Place {
                lat: 91.0,
                ..valid()
            }),
            "lat"
        );
        assert_eq!(
            field_of(Place {
                lat: f64::NAN,
                ..valid()
            }),
            "lat"
        );
        assert_eq!(
            field_of(Place {
                lon: -180.5,
                ..valid()
            }),
            "lon"
        );
        assert_eq!(
            field_of(Place {
                lat: 0.0,
                lon: 0.0,
                ..valid()
            }),
            "location"
        );
        assert_eq!(
            field_of(Place {
                category: "casino".into(),
                ..valid()
            }),
            "category"
        );
        assert_eq!(
            field_of(Place {
                targets: vec!["aliens".into()],
                ..valid()
            }),
            "targets"
        );
        assert_eq!(
            field_of(Place {
                targets: vec!["dv".into(), "dv".into()],
                ..valid()
            }),
            "targets"
        );
        assert_eq!(
            field_of(Place {
                hours: "いつでも".into(),
                ..valid()
            }),
            "hours"
        );
        assert_eq!(
            field_of(Place {
                status: "demolished".into(),
                ..valid()
            }),
            "status"
        );
        assert_eq!(
            field_of(Place {
                accuracy_m: Some(-3.0),
                ..valid()
            }),
            "accuracy_m"
        );
        assert_eq!(
            field_of(Place {
                hours_checked_at: Some("2099-01-01".into()),
                ..valid()
            }),
            "hours_checked_at"
        );
        assert_eq!(
            field_of(Place {
                hours_checked_at: Some("1999-12-31".into()),
                ..valid()
            }),
            "hours_checked_at"
        );
        assert_eq!(
            field_of(Place {
                description: "x".repeat(MAX_TEXT_CHARS + 1),
                ..valid()
            }),
            "description"
        );
    }

    #[test]
    fn messages_exist_in_japanese_and_english() {
        let e = Place {
            lat: 0.0,
            lon: 0.0,
            ..valid()
        }
        .validate(now_jst())
        .unwrap_err();
        assert!(
            e.message(crate::Lang::Ja).starts_with("位置:"),
            "{}",
            e.message(crate::Lang::Ja)
        );
        assert!(
            e.message(crate::Lang::En).starts_with("location "),
            "{}",
            e.message(crate::Lang::En)
        );
    }

    #[test]
    fn labels_normalise_to_ids() {
        let p = Place {
            category: "子ども食堂".into(),
            targets: vec!["外国籍".into(), "DV".into()],
            ..valid()
        };
        let p = p.normalized(now_jst()).unwrap();
        assert_eq!(p.category, "kodomo_shokudo");
        assert_eq!(p.targets, vec!["foreign", "dv"]);
    }

    #[test]
    fn set_text_refuses_unknown_fields_and_bad_numbers() {
        let mut p = valid();
        assert_eq!(p.set_text("owner", "x").unwrap_err().field, "owner");
        assert_eq!(p.set_text("lat", "north").unwrap_err().field, "lat");
        p.set_text("targets", "ひきこもり、不登校").unwrap();
        assert_eq!(p.targets, vec!["hikikomori", "school_refusal"]);
    }
}

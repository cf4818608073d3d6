//! A gathering place (居場所).

use super::fields::{FieldMap, FieldMapExt, FieldValue, opt, text_or_null};
use super::record::{Record, RecordKind};
use crate::taxonomy::{CATEGORIES, STATUSES};
use crate::validate::{
    self as v, MAX_NAME_CHARS, MAX_SHORT_CHARS, MAX_TEXT_CHARS, Reason, ValidationError,
};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// A gathering place pin, as `DOMAIN.md` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
            id: super::new_id(),
            name: name.trim().to_string(),
            reading: String::new(),
            category: category.to_string(),
            targets: Vec::new(),
            lat,
            lon,
            accuracy_m: None,
            address: String::new(),
            hours: String::new(),
            contact: String::new(),
            description: String::new(),
            status: "active".to_string(),
            listing_consent: false,
            added_by: String::new(),
            added_at: String::new(),
            hours_checked_at: None,
            deleted_at: None,
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

    /// Fields a person may set with `place set`.
    pub const SETTABLE: &'static [&'static str] = &[
        "name",
        "reading",
        "category",
        "targets",
        "lat",
        "lon",
        "accuracy_m",
        "address",
        "hours",
        "contact",
        "description",
        "status",
        "listing_consent",
        "hours_checked_at",
    ];
}

impl Record for Place {
    const KIND: RecordKind = RecordKind::Place;

    fn id(&self) -> &str {
        &self.id
    }

    fn to_fields(&self) -> FieldMap {
        let mut m = FieldMap::new();
        m.insert("name".into(), FieldValue::Str(self.name.clone()));
        m.insert("reading".into(), text_or_null(&self.reading));
        m.insert("category".into(), FieldValue::Str(self.category.clone()));
        m.insert("targets".into(), text_or_null(&self.targets.join(",")));
        m.insert("lat".into(), FieldValue::F64(self.lat));
        m.insert("lon".into(), FieldValue::F64(self.lon));
        m.insert(
            "accuracy_m".into(),
            self.accuracy_m
                .map(FieldValue::F64)
                .unwrap_or(FieldValue::Null),
        );
        m.insert("address".into(), text_or_null(&self.address));
        m.insert("hours".into(), text_or_null(&self.hours));
        m.insert("contact".into(), text_or_null(&self.contact));
        m.insert("description".into(), text_or_null(&self.description));
        m.insert("status".into(), FieldValue::Str(self.status.clone()));
        m.insert(
            "listing_consent".into(),
            FieldValue::Bool(self.listing_consent),
        );
        m.insert("added_by".into(), text_or_null(&self.added_by));
        m.insert("added_at".into(), text_or_null(&self.added_at));
        m.insert("hours_checked_at".into(), opt(&self.hours_checked_at));
        m.insert("deleted_at".into(), opt(&self.deleted_at));
        m
    }

    fn from_fields(id: &str, f: &FieldMap) -> Self {
        Place {
            id: id.to_string(),
            name: f.text("name"),
            reading: f.text("reading"),
            category: f.text("category"),
            targets: f.list("targets"),
            lat: f.num("lat").unwrap_or(f64::NAN),
            lon: f.num("lon").unwrap_or(f64::NAN),
            accuracy_m: f.num("accuracy_m"),
            address: f.text("address"),
            hours: f.text("hours"),
            contact: f.text("contact"),
            description: f.text("description"),
            status: f.opt_text("status").unwrap_or_else(|| "active".into()),
            listing_consent: f.flag("listing_consent"),
            added_by: f.text("added_by"),
            added_at: f.text("added_at"),
            hours_checked_at: f.opt_text("hours_checked_at"),
            deleted_at: f.opt_text("deleted_at"),
        }
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

    fn set_text(&mut self, field: &str, value: &str) -> Result<(), ValidationError> {
        let value_t = value.trim();
        match field {
            "name" => self.name = value_t.to_string(),
            "reading" => self.reading = value_t.to_string(),
            "category" => self.category = v::term("category", CATEGORIES, value)?.to_string(),
            "targets" => self.targets = v::targets(&v::split_list(value))?,
            "lat" => self.lat = v::parse_f64("lat", value)?,
            "lon" => self.lon = v::parse_f64("lon", value)?,
            "accuracy_m" => {
                self.accuracy_m = if value_t.is_empty() {
                    None
                } else {
                    Some(v::parse_f64("accuracy_m", value)?)
                }
            }
            "address" => self.address = value_t.to_string(),
            "hours" => self.hours = value_t.to_string(),
            "contact" => self.contact = value_t.to_string(),
            "description" => self.description = value.to_string(),
            "status" => self.status = v::term("status", STATUSES, value)?.to_string(),
            "listing_consent" => self.listing_consent = v::parse_bool("listing_consent", value)?,
            "hours_checked_at" => {
                self.hours_checked_at = if value_t.is_empty() {
                    None
                } else {
                    Some(value_t.replace('/', "-"))
                }
            }
            other => {
                return Err(ValidationError::new(
                    other,
                    Reason::UnknownField(other.to_string()),
                ));
            }
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

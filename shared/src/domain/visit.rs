//! A visit / outreach record (アウトリーチ, 訪問, 見守り) with its follow-up and referral (つなぐ).
//!
//! Names or identifying details of the people supported are never fields here. The private note is
//! not part of the record: it stays on the device (see `Replica::private_note`).

use super::fields::{FieldMap, FieldMapExt, FieldValue, opt, text_or_null};
use super::record::{Record, RecordKind};
use crate::taxonomy::CONTACT_TYPES;
use crate::validate::{self as v, MAX_SHORT_CHARS, MAX_TEXT_CHARS, Reason, ValidationError};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// A visit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    /// Device-generated id.
    pub id: String,
    /// Team id (the visit lives in that team's documents).
    pub team: String,
    /// The place visited, if any.
    pub place_id: Option<String>,
    /// Or the area: a point on the map.
    pub lat: Option<f64>,
    /// Longitude of the area.
    pub lon: Option<f64>,
    /// When (Japan time, `YYYY-MM-DDTHH:MM:SS`).
    pub at: String,
    /// Display name of the worker.
    pub worker: String,
    /// Contact type id (visit, phone, event, walk_in).
    pub kind: String,
    /// Target groups met.
    pub targets: Vec<String>,
    /// Number of people reached.
    pub people: u32,
    /// Follow-up due date, when one is needed.
    pub follow_up: Option<String>,
    /// Whether the follow-up is done.
    pub follow_up_done: bool,
    /// The earlier visit this one follows up.
    pub follows: Option<String>,
    /// Organization id the person was referred to (つなぐ).
    pub referral_to: Option<String>,
    /// Reason for the referral.
    pub referral_reason: String,
    /// Outcome of the referral.
    pub referral_outcome: String,
    /// Tombstone.
    pub deleted_at: Option<String>,
}

impl Visit {
    /// A new visit of `kind` at `at` for `team`.
    pub fn new(team: &str, kind: &str, at: NaiveDateTime) -> Visit {
        Visit {
            id: super::new_id(),
            team: team.to_string(),
            place_id: None,
            lat: None,
            lon: None,
            at: at.format("%Y-%m-%dT%H:%M:%S").to_string(),
            worker: String::new(),
            kind: kind.to_string(),
            targets: Vec::new(),
            people: 1,
            follow_up: None,
            follow_up_done: false,
            follows: None,
            referral_to: None,
            referral_reason: String::new(),
            referral_outcome: String::new(),
            deleted_at: None,
        }
    }

    /// The date-time of the visit, if it parses.
    pub fn at_time(&self) -> Option<NaiveDateTime> {
        NaiveDateTime::parse_from_str(&self.at, "%Y-%m-%dT%H:%M:%S").ok()
    }

    /// The month (`YYYY-MM`) whose document holds this visit.
    pub fn month(&self) -> String {
        self.at.get(..7).unwrap_or("0000-00").to_string()
    }

    /// Normalises labels to ids and validates.
    pub fn normalized(mut self, now: NaiveDateTime) -> Result<Visit, ValidationError> {
        self.kind = v::term("kind", CONTACT_TYPES, &self.kind)?.to_string();
        self.targets = v::targets(&self.targets)?;
        if let Some(d) = &self.follow_up {
            self.follow_up = Some(v::date("follow_up", d, now.date(), 2)?.to_string());
        }
        self.validate(now)?;
        Ok(self)
    }
}

impl Record for Visit {
    const KIND: RecordKind = RecordKind::Visit;

    fn id(&self) -> &str {
        &self.id
    }

    fn to_fields(&self) -> FieldMap {
        let mut m = FieldMap::new();
        m.insert("team".into(), FieldValue::Str(self.team.clone()));
        m.insert("place_id".into(), opt(&self.place_id));
        m.insert(
            "lat".into(),
            self.lat.map(FieldValue::F64).unwrap_or(FieldValue::Null),
        );
        m.insert(
            "lon".into(),
            self.lon.map(FieldValue::F64).unwrap_or(FieldValue::Null),
        );
        m.insert("at".into(), FieldValue::Str(self.at.clone()));
        m.insert("worker".into(), text_or_null(&self.worker));
        m.insert("kind".into(), FieldValue::Str(self.kind.clone()));
        m.insert("targets".into(), text_or_null(&self.targets.join(",")));
        m.insert("people".into(), FieldValue::Int(i64::from(self.people)));
        m.insert("follow_up".into(), opt(&self.follow_up));
        m.insert(
            "follow_up_done".into(),
            FieldValue::Bool(self.follow_up_done),
        );
        m.insert("follows".into(), opt(&self.follows));
        m.insert("referral_to".into(), opt(&self.referral_to));
        m.insert(
            "referral_reason".into(),
            text_or_null(&self.referral_reason),
        );
        m.insert(
            "referral_outcome".into(),
            text_or_null(&self.referral_outcome),
        );
        m.insert("deleted_at".into(), opt(&self.deleted_at));
        m
    }

    fn from_fields(id: &str, f: &FieldMap) -> Self {
        Visit {
            id: id.to_string(),
            team: f.text("team"),
            place_id: f.opt_text("place_id"),
            lat: f.num("lat"),
            lon: f.num("lon"),
            at: f.text("at"),
            worker: f.text("worker"),
            kind: f.text("kind"),
            targets: f.list("targets"),
            people: f.int("people").unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32,
            follow_up: f.opt_text("follow_up"),
            follow_up_done: f.flag("follow_up_done"),
            follows: f.opt_text("follows"),
            referral_to: f.opt_text("referral_to"),
            referral_reason: f.text("referral_reason"),
            referral_outcome: f.text("referral_outcome"),
            deleted_at: f.opt_text("deleted_at"),
        }
    }

    fn validate(&self, now: NaiveDateTime) -> Result<(), ValidationError> {
        if self.team.trim().is_empty() {
            return Err(ValidationError::new("team", Reason::Required));
        }
        let at = v::datetime("at", &self.at, now)?;
        v::term("kind", CONTACT_TYPES, &self.kind)?;
        v::targets(&self.targets)?;
        match (self.lat, self.lon) {
            (Some(lat), Some(lon)) => v::location(lat, lon)?,
            (None, None) => {}
            (Some(_), None) => return Err(ValidationError::new("lon", Reason::Required)),
            (None, Some(_)) => return Err(ValidationError::new("lat", Reason::Required)),
        }
        if self.people > v::MAX_PEOPLE {
            return Err(ValidationError::new(
                "people",
                Reason::OutOfRange {
                    min: 0.0,
                    max: v::MAX_PEOPLE as f64,
                },
            ));
        }
        if let Some(d) = &self.follow_up {
            let due: NaiveDate = v::date("follow_up", d, now.date(), 2)?;
            if due < at.date() {
                return Err(ValidationError::new("follow_up", Reason::BeforeVisit));
            }
        }
        v::optional_text("referral_reason", &self.referral_reason, MAX_SHORT_CHARS)?;
        v::optional_text("referral_outcome", &self.referral_outcome, MAX_TEXT_CHARS)?;
        Ok(())
    }

    fn set_text(&mut self, field: &str, value: &str) -> Result<(), ValidationError> {
        let value_t = value.trim().to_string();
        let optional = |s: String| if s.is_empty() { None } else { Some(s) };
        match field {
            "kind" => self.kind = v::term("kind", CONTACT_TYPES, value)?.to_string(),
            "targets" => self.targets = v::targets(&v::split_list(value))?,
            "people" => self.people = v::people(value)?,
            "follow_up" => self.follow_up = optional(value_t.replace('/', "-")),
            "follow_up_done" => self.follow_up_done = v::parse_bool("follow_up_done", value)?,
            "referral_to" => self.referral_to = optional(value_t),
            "referral_reason" => self.referral_reason = value_t,
            "referral_outcome" => self.referral_outcome = value_t,
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

    fn valid() -> Visit {
        let now = now_jst();
        let mut v = Visit::new("team-a", "visit", now - chrono::Duration::hours(2));
        v.follow_up = Some((now.date() + chrono::Duration::days(7)).to_string());
        v
    }

    fn field_of(v: Visit) -> String {
        v.validate(now_jst()).unwrap_err().field
    }

    #[test]
    fn dates_must_be_sane() {
        valid().validate(now_jst()).unwrap();
        let tomorrow_plus = (now_jst() + chrono::Duration::days(3))
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string();
        assert_eq!(
            field_of(Visit {
                at: tomorrow_plus,
                ..valid()
            }),
            "at"
        );
        assert_eq!(
            field_of(Visit {
                at: "1999-05-01T10:00:00".into(),
                ..valid()
            }),
            "at"
        );
        assert_eq!(
            field_of(Visit {
                at: "yesterday".into(),
                ..valid()
            }),
            "at"
        );
        let before = (now_jst().date() - chrono::Duration::days(10)).to_string();
        assert_eq!(
            field_of(Visit {
                follow_up: Some(before),
                ..valid()
            }),
            "follow_up"
        );
        assert_eq!(
            field_of(Visit {
                follow_up: Some("2031-13-01".into()),
                ..valid()
            }),
            "follow_up"
        );
        let far = (now_jst().date() + chrono::Duration::days(365 * 3)).to_string();
        assert_eq!(
            field_of(Visit {
                follow_up: Some(far),
                ..valid()
            }),
            "follow_up"
        );
    }

    #[test]
    fn kind_people_and_area_are_checked() {
        assert_eq!(
            field_of(Visit {
                kind: "séance".into(),
                ..valid()
            }),
            "kind"
        );
        assert_eq!(
            field_of(Visit {
                people: v::MAX_PEOPLE + 1,
                ..valid()
            }),
            "people"
        );
        assert_eq!(
            field_of(Visit {
                lat: Some(35.0),
                ..valid()
            }),
            "lon"
        );
        assert_eq!(
            field_of(Visit {
                lat: Some(0.0),
                lon: Some(0.0),
                ..valid()
            }),
            "location"
        );
        assert_eq!(
            field_of(Visit {
                team: " ".into(),
                ..valid()
            }),
            "team"
        );
        assert_eq!(
            valid().clone().set_text("people", "-1").unwrap_err().field,
            "people"
        );
    }
}

//! A visit / outreach record (アウトリーチ, 訪問, 見守り) with its follow-up and referral (つなぐ).
//!
//! Names or identifying details of the people supported are never fields here. The private note is
//! not part of the record: it stays on the device (see `Replica::private_note`).

use super::record::{Record, RecordKind};
use super::schema::{Field, FieldType::*, field};
use crate::doc::DocId;
use crate::taxonomy::CONTACT_TYPES;
use crate::validate::{self as v, MAX_SHORT_CHARS, MAX_TEXT_CHARS, Reason, ValidationError};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// A visit record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
            team: team.to_string(),
            at: at.format("%Y-%m-%dT%H:%M:%S").to_string(),
            kind: kind.to_string(),
            people: 1,
            ..Visit::blank(&super::new_id())
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

    const FIELDS: &'static [Field<Visit>] = &[
        field!(Visit, team, Ref, true, App, "チーム", "team"),
        field!(Visit, place_id, Ref, false, App, "場所", "place"),
        field!(Visit, lat, Number, false, App, "緯度", "latitude"),
        field!(Visit, lon, Number, false, App, "経度", "longitude"),
        field!(Visit, at, DateTime, true, App, "日時", "date and time"),
        field!(Visit, worker, Line, false, App, "ワーカー", "worker"),
        field!(
            Visit,
            kind,
            Term(CONTACT_TYPES),
            true,
            Person,
            "接触の種類",
            "contact type"
        ),
        field!(
            Visit,
            targets,
            Targets,
            false,
            Person,
            "対象",
            "target groups"
        ),
        field!(Visit, people, Count, true, Person, "人数", "people reached"),
        field!(
            Visit,
            follow_up,
            Date,
            false,
            Person,
            "フォローアップ期日",
            "follow-up date"
        ),
        field!(
            Visit,
            follow_up_done,
            Flag,
            false,
            Person,
            "フォローアップ完了",
            "follow-up done"
        ),
        field!(Visit, follows, Ref, false, App, "元の訪問", "earlier visit"),
        field!(
            Visit,
            referral_to,
            Ref,
            false,
            Person,
            "つなぎ先",
            "referred to"
        ),
        field!(
            Visit,
            referral_reason,
            Line,
            false,
            Person,
            "つなぐ理由",
            "referral reason"
        ),
        field!(
            Visit,
            referral_outcome,
            Line,
            false,
            Person,
            "つないだ結果",
            "referral outcome"
        ),
        field!(
            Visit,
            deleted_at,
            DateTime,
            false,
            App,
            "削除日時",
            "deleted at"
        ),
    ];

    fn blank(id: &str) -> Visit {
        Visit {
            id: id.to_string(),
            ..Visit::default()
        }
    }

    /// A visit lives in its team's document of its month.
    fn home(&self) -> DocId {
        DocId::Visits {
            team: self.team.clone(),
            month: self.month(),
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

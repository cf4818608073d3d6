//! A member organization of the platform (the directory, リソース調査).

use super::record::{Record, RecordKind};
use super::schema::{Field, FieldType::*, field};
use crate::doc::DocId;
use crate::taxonomy::{ACTIVITIES, PARTICIPATION, SECTORS};
use crate::validate::{
    self as v, MAX_NAME_CHARS, MAX_SHORT_CHARS, MAX_TEXT_CHARS, ValidationError,
};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// A directory entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Org {
    /// Device-generated id.
    pub id: String,
    /// Name (required).
    pub name: String,
    /// Sector id (行政, 社協, NPO, 企業, 地域団体, 個人).
    pub sector: String,
    /// Contact (phone, e-mail, person).
    pub contact: String,
    /// What they offer.
    pub offers: String,
    /// Willingness to join (参画意向) id, or empty when unknown.
    pub participation: String,
    /// Who introduced them.
    pub introduced_by: String,
    /// Whether they asked to be listed publicly.
    pub listing_consent: bool,
    /// Display name of whoever added it.
    pub added_by: String,
    /// When it was added.
    pub added_at: String,
    /// The device that created it, when a member did: a member may edit only its own entry.
    pub owner: Option<String>,
    /// When the organization survey reached it (`YYYY-MM-DD`).
    pub surveyed_on: Option<String>,
    /// Whether it replied to the survey.
    pub replied: bool,
    /// What it does (`ACTIVITIES` ids).
    pub activities: Vec<String>,
    /// Where it is based (area).
    pub base_area: String,
    /// Whether it wants the platform's information.
    pub wants_info: bool,
    /// Tombstone.
    pub deleted_at: Option<String>,
}

impl Org {
    /// A new entry with the required fields.
    pub fn new(name: &str, sector: &str) -> Org {
        Org {
            name: name.trim().to_string(),
            sector: sector.to_string(),
            ..Org::blank(&super::new_id())
        }
    }

    /// Normalises labels to ids and validates.
    pub fn normalized(mut self, now: NaiveDateTime) -> Result<Org, ValidationError> {
        self.sector = v::term("sector", SECTORS, &self.sector)?.to_string();
        if !self.participation.trim().is_empty() {
            self.participation =
                v::term("participation", PARTICIPATION, &self.participation)?.to_string();
        }
        self.validate(now)?;
        Ok(self)
    }
}

impl Record for Org {
    const KIND: RecordKind = RecordKind::Org;

    fn id(&self) -> &str {
        &self.id
    }

    const FIELDS: &'static [Field<Org>] = &[
        field!(Org, name, Line, true, Person, "名称", "name"),
        field!(
            Org,
            sector,
            Term(SECTORS),
            true,
            Person,
            "セクター",
            "sector"
        ),
        field!(Org, contact, Line, false, Person, "連絡先", "contact"),
        field!(
            Org,
            offers,
            Prose,
            false,
            Person,
            "提供できること",
            "what they offer"
        ),
        field!(
            Org,
            participation,
            Term(PARTICIPATION),
            false,
            Person,
            "参画意向",
            "willingness to join"
        ),
        field!(
            Org,
            introduced_by,
            Line,
            false,
            Person,
            "紹介者",
            "introduced by"
        ),
        field!(
            Org,
            listing_consent,
            Flag,
            false,
            Person,
            "公開掲載の同意",
            "public-listing consent"
        ),
        field!(Org, added_by, Line, false, App, "追加した人", "added by"),
        field!(Org, added_at, DateTime, false, App, "追加日時", "added at"),
        field!(Org, owner, Ref, false, App, "所有する端末", "owning device"),
        field!(
            Org,
            surveyed_on,
            Date,
            false,
            Person,
            "調査日",
            "surveyed on"
        ),
        field!(Org, replied, Flag, false, Person, "回答", "replied"),
        field!(
            Org,
            activities,
            Terms(ACTIVITIES),
            false,
            Person,
            "活動",
            "activities"
        ),
        field!(Org, base_area, Line, false, Person, "拠点地域", "base area"),
        field!(
            Org,
            wants_info,
            Flag,
            false,
            Person,
            "情報提供希望",
            "wants information"
        ),
        field!(
            Org,
            deleted_at,
            DateTime,
            false,
            App,
            "削除日時",
            "deleted at"
        ),
    ];

    fn blank(id: &str) -> Org {
        Org {
            id: id.to_string(),
            ..Org::default()
        }
    }

    fn home(&self) -> DocId {
        DocId::Orgs
    }

    const OWNED: bool = true;

    fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }

    fn validate(&self, now: NaiveDateTime) -> Result<(), ValidationError> {
        v::required_text("name", &self.name, MAX_NAME_CHARS)?;
        v::term("sector", SECTORS, &self.sector)?;
        v::optional_text("contact", &self.contact, MAX_SHORT_CHARS)?;
        v::optional_text("offers", &self.offers, MAX_TEXT_CHARS)?;
        if !self.participation.is_empty() {
            v::term("participation", PARTICIPATION, &self.participation)?;
        }
        v::optional_text("introduced_by", &self.introduced_by, MAX_SHORT_CHARS)?;
        if let Some(day) = &self.surveyed_on {
            v::date("surveyed_on", day, now.date(), 0)?;
        }
        v::terms("activities", ACTIVITIES, &self.activities)?;
        v::optional_text("base_area", &self.base_area, MAX_SHORT_CHARS)?;
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

    #[test]
    fn sector_and_participation_come_from_the_taxonomy() {
        let org = Org::new("座間市社会福祉協議会", "社協")
            .normalized(now_jst())
            .unwrap();
        assert_eq!(org.sector, "shakyo");
        let bad = Org {
            sector: "mafia".into(),
            ..org.clone()
        };
        assert_eq!(bad.validate(now_jst()).unwrap_err().field, "sector");
        let bad = Org {
            participation: "maybe later".into(),
            ..org.clone()
        };
        assert_eq!(bad.validate(now_jst()).unwrap_err().field, "participation");
        let bad = Org {
            name: String::new(),
            ..org
        };
        assert_eq!(bad.validate(now_jst()).unwrap_err().field, "name");
    }
}

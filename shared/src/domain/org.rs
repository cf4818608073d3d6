//! A member organization of the platform (the directory, リソース調査).

use super::fields::{FieldMap, FieldMapExt, FieldValue, opt, text_or_null};
use super::record::{Record, RecordKind};
use crate::taxonomy::{PARTICIPATION, SECTORS};
use crate::validate::{
    self as v, MAX_NAME_CHARS, MAX_SHORT_CHARS, MAX_TEXT_CHARS, Reason, ValidationError,
};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// A directory entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Tombstone.
    pub deleted_at: Option<String>,
}

impl Org {
    /// A new entry with the required fields.
    pub fn new(name: &str, sector: &str) -> Org {
        Org {
            id: super::new_id(),
            name: name.trim().to_string(),
            sector: sector.to_string(),
            contact: String::new(),
            offers: String::new(),
            participation: String::new(),
            introduced_by: String::new(),
            listing_consent: false,
            added_by: String::new(),
            added_at: String::new(),
            owner: None,
            deleted_at: None,
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

    fn to_fields(&self) -> FieldMap {
        let mut m = FieldMap::new();
        m.insert("name".into(), FieldValue::Str(self.name.clone()));
        m.insert("sector".into(), FieldValue::Str(self.sector.clone()));
        m.insert("contact".into(), text_or_null(&self.contact));
        m.insert("offers".into(), text_or_null(&self.offers));
        m.insert("participation".into(), text_or_null(&self.participation));
        m.insert("introduced_by".into(), text_or_null(&self.introduced_by));
        m.insert(
            "listing_consent".into(),
            FieldValue::Bool(self.listing_consent),
        );
        m.insert("added_by".into(), text_or_null(&self.added_by));
        m.insert("added_at".into(), text_or_null(&self.added_at));
        m.insert("owner".into(), opt(&self.owner));
        m.insert("deleted_at".into(), opt(&self.deleted_at));
        m
    }

    fn from_fields(id: &str, f: &FieldMap) -> Self {
        Org {
            id: id.to_string(),
            name: f.text("name"),
            sector: f.text("sector"),
            contact: f.text("contact"),
            offers: f.text("offers"),
            participation: f.text("participation"),
            introduced_by: f.text("introduced_by"),
            listing_consent: f.flag("listing_consent"),
            added_by: f.text("added_by"),
            added_at: f.text("added_at"),
            owner: f.opt_text("owner"),
            deleted_at: f.opt_text("deleted_at"),
        }
    }

    fn validate(&self, _now: NaiveDateTime) -> Result<(), ValidationError> {
        v::required_text("name", &self.name, MAX_NAME_CHARS)?;
        v::term("sector", SECTORS, &self.sector)?;
        v::optional_text("contact", &self.contact, MAX_SHORT_CHARS)?;
        v::optional_text("offers", &self.offers, MAX_TEXT_CHARS)?;
        if !self.participation.is_empty() {
            v::term("participation", PARTICIPATION, &self.participation)?;
        }
        v::optional_text("introduced_by", &self.introduced_by, MAX_SHORT_CHARS)?;
        Ok(())
    }

    fn set_text(&mut self, field: &str, value: &str) -> Result<(), ValidationError> {
        let value_t = value.trim().to_string();
        match field {
            "name" => self.name = value_t,
            "sector" => self.sector = v::term("sector", SECTORS, value)?.to_string(),
            "contact" => self.contact = value_t,
            "offers" => self.offers = value.to_string(),
            "participation" => {
                self.participation = if value_t.is_empty() {
                    String::new()
                } else {
                    v::term("participation", PARTICIPATION, value)?.to_string()
                }
            }
            "introduced_by" => self.introduced_by = value_t,
            "listing_consent" => self.listing_consent = v::parse_bool("listing_consent", value)?,
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

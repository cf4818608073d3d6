//! What every record kind shares: its fields, validation and a tombstone.

use super::fields::FieldMap;
use super::schema::{self, Field};
use crate::doc::DocId;
use crate::store::index::Indexed;
use crate::validate::ValidationError;
use chrono::NaiveDateTime;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// The kinds of records kept in documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// A gathering place (居場所).
    Place,
    /// A member organization.
    Org,
    /// A visit / outreach record.
    Visit,
    /// A referral (つなぐ) between teams or to an organization.
    Referral,
}

impl RecordKind {
    /// Every kind.
    pub const ALL: [RecordKind; 4] = [
        RecordKind::Place,
        RecordKind::Org,
        RecordKind::Visit,
        RecordKind::Referral,
    ];

    /// Its name, as commands, the index and JSON write it.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Place => "place",
            RecordKind::Org => "org",
            RecordKind::Visit => "visit",
            RecordKind::Referral => "referral",
        }
    }

    /// Runs `job` for this kind's record type.
    pub fn with<F: ForKind>(self, job: F) -> F::Out {
        match self {
            RecordKind::Place => job.run::<super::Place>(),
            RecordKind::Org => job.run::<super::Org>(),
            RecordKind::Visit => job.run::<super::Visit>(),
            RecordKind::Referral => job.run::<super::Referral>(),
        }
    }

    /// The root key of the map holding records of this kind in a document.
    pub fn root_key(self) -> &'static str {
        match self {
            RecordKind::Place => "places",
            RecordKind::Org => "orgs",
            RecordKind::Visit => "visits",
            RecordKind::Referral => "referrals",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RecordKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecordKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownKind(s.to_string()))
    }
}

/// A kind name that is none of [`RecordKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown record kind {0:?}")]
pub struct UnknownKind(pub String);

/// Who writes a change, as the server knows it (never as the change claims).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writer<'a> {
    /// The device's role.
    pub role: crate::sync::Role,
    /// Its team (workers).
    pub team: Option<&'a str>,
}

/// Something done with a record type chosen at run time: [`RecordKind::with`] is the one place
/// where a kind becomes its type.
pub trait ForKind {
    /// What it gives.
    type Out;
    /// Does it for records of type `R` (which the query index keeps too).
    fn run<R: Record + Indexed + Send>(self) -> Self::Out;
}

/// A record stored as a map of scalar fields keyed by its id. Its fields are its table
/// ([`Record::FIELDS`]); reading, writing and setting from text are derived from it.
pub trait Record: Sized + Clone + 'static {
    /// The kind.
    const KIND: RecordKind;
    /// Every stored field, in the order forms, files and exports show them.
    const FIELDS: &'static [Field<Self>];
    /// The record `id` with every field as a missing one reads.
    fn blank(id: &str) -> Self;
    /// The id.
    fn id(&self) -> &str;
    /// Checks every rule; `now` is Japan local time.
    fn validate(&self, now: NaiveDateTime) -> Result<(), ValidationError>;
    /// When it was deleted, if it is.
    fn deleted_at(&self) -> Option<&str>;
    /// The document it lives in: where its id or its fields say.
    fn home(&self) -> DocId;
    /// Whether `writer` may make this record what it is, from `before` (`None`: it is new): the
    /// rules of a kind whose records two sides answer. The gate applies them to what a device
    /// sends, and the device to its own edits before keeping them.
    fn writer_may(&self, _before: Option<&Self>, _writer: &Writer<'_>) -> Result<(), String> {
        Ok(())
    }
    /// What an edit by a person brings with it, given the record as it was (`today` in Japan):
    /// editing a place's opening hours stamps them checked.
    fn edited(&mut self, _before: &Self, _today: chrono::NaiveDate) {}
    /// Whether a member may change a record of this kind only as its owner ([`Record::owner`]).
    const OWNED: bool = false;
    /// The device that owns it, for kinds that are [`Record::OWNED`].
    fn owner(&self) -> Option<&str> {
        None
    }

    /// All stored fields.
    fn to_fields(&self) -> FieldMap {
        schema::to_map(Self::FIELDS, self)
    }
    /// Reads a record back; missing fields read as empty.
    fn from_fields(id: &str, fields: &FieldMap) -> Self {
        schema::from_map(Self::FIELDS, Self::blank(id), fields)
    }
    /// Sets one field a person may set from text, as they type it (`place set ID FIELD VALUE`).
    fn set_text(&mut self, field: &str, value: &str) -> Result<(), ValidationError> {
        let field = schema::settable(Self::FIELDS, field)?;
        let value = field.parse(value)?;
        (field.put)(self, &value);
        Ok(())
    }
}

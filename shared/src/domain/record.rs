//! What every record kind shares: its fields, validation and a tombstone.

use super::fields::FieldMap;
use crate::validate::ValidationError;
use chrono::NaiveDateTime;
use serde::Serialize;
use std::fmt;

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
}

impl RecordKind {
    /// The root key of the map holding records of this kind in a document.
    pub fn root_key(self) -> &'static str {
        match self {
            RecordKind::Place => "places",
            RecordKind::Org => "orgs",
            RecordKind::Visit => "visits",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordKind::Place => "place",
            RecordKind::Org => "org",
            RecordKind::Visit => "visit",
        })
    }
}

/// A record stored as a map of scalar fields keyed by its id.
pub trait Record: Sized + Clone {
    /// The kind.
    const KIND: RecordKind;
    /// The id.
    fn id(&self) -> &str;
    /// All stored fields.
    fn to_fields(&self) -> FieldMap;
    /// Reads a record back; missing fields read as empty.
    fn from_fields(id: &str, fields: &FieldMap) -> Self;
    /// Checks every rule; `now` is Japan local time.
    fn validate(&self, now: NaiveDateTime) -> Result<(), ValidationError>;
    /// Sets one field from text, as a person types it (`place set ID FIELD VALUE`).
    fn set_text(&mut self, field: &str, value: &str) -> Result<(), ValidationError>;
    /// When it was deleted, if it is.
    fn deleted_at(&self) -> Option<&str>;
}

//! Each record kind's fields, written once: a static table of [`Field`]s per kind, from which the
//! plumbing is derived — reading and writing a record as a [`FieldMap`], setting a field from
//! text (`place set`), the fields a person may set, labels, and the CSV and GeoJSON columns.
//!
//! A kind's table is its `Record::FIELDS`. Adding a field is one row; adding a kind is one table,
//! its struct and its rules (`validate`, where it lives, who owns it).

use super::fields::{FieldMap, FieldValue};
use crate::i18n::Text;
use crate::taxonomy::Term;
use crate::validate::{self as v, Reason, ValidationError};

/// What a field holds: decides how text typed for it is read, and how it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// One line of text, trimmed.
    Line,
    /// Free text, kept as typed (line breaks too).
    Prose,
    /// An id from a taxonomy list; a label or an alias reads as its id.
    Term(&'static [Term]),
    /// Target-group ids, in taxonomy order.
    Targets,
    /// Ids from a taxonomy list, several (activities), in taxonomy order.
    Terms(&'static [Term]),
    /// A number (coordinates, accuracy in metres).
    Number,
    /// A count of people.
    Count,
    /// Yes or no.
    Flag,
    /// A date, `YYYY-MM-DD` (`YYYY/MM/DD` reads too).
    Date,
    /// A date and time, filled in by the app.
    DateTime,
    /// The id of another record or of a device.
    Ref,
}

/// Who sets a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetBy {
    /// A person, with `place set` / `org set` / `visit set`, a form or a CSV file.
    Person,
    /// The app itself (who added it and when, the owner, the tombstone, where a visit was).
    App,
}

/// One field of records of kind `R`.
pub struct Field<R> {
    /// The key in the record's map, and in `set` commands and JSON.
    pub name: &'static str,
    /// What it holds.
    pub ty: FieldType,
    /// Whether text typed for it may be empty.
    pub required: bool,
    /// Who sets it.
    pub set_by: SetBy,
    /// How people read its name, in Japanese and English.
    pub label: Text,
    /// Whether places' CSV files carry it (in table order, between `id` and `revision`).
    pub csv: bool,
    /// Its key among a GeoJSON feature's properties, when exported there.
    pub geojson: Option<&'static str>,
    /// Its value in a record.
    pub get: fn(&R) -> FieldValue,
    /// Sets it in a record from a stored value.
    pub put: fn(&mut R, &FieldValue),
}

impl<R> std::fmt::Debug for Field<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Field")
            .field("name", &self.name)
            .field("ty", &self.ty)
            .field("set_by", &self.set_by)
            .finish_non_exhaustive()
    }
}

impl<R> Field<R> {
    /// Reads text as a person types it into the value this field stores: labels become ids,
    /// numbers and dates are checked, and an empty optional field becomes null.
    pub fn parse(&self, text: &str) -> Result<FieldValue, ValidationError> {
        let trimmed = text.trim();
        if trimmed.is_empty() && !self.required && self.ty != FieldType::Flag {
            return Ok(FieldValue::Null);
        }
        let name = self.name;
        Ok(match self.ty {
            FieldType::Line | FieldType::DateTime | FieldType::Ref => {
                FieldValue::Str(trimmed.to_string())
            }
            FieldType::Prose => FieldValue::Str(text.to_string()),
            FieldType::Term(list) => FieldValue::Str(v::term(name, list, text)?.to_string()),
            FieldType::Targets => FieldValue::Str(v::targets(&v::split_list(text))?.join(",")),
            FieldType::Terms(list) => {
                FieldValue::Str(v::terms(name, list, &v::split_list(text))?.join(","))
            }
            FieldType::Number => FieldValue::F64(v::parse_f64(name, text)?),
            FieldType::Count => FieldValue::Int(i64::from(v::people(text)?)),
            FieldType::Flag => FieldValue::Bool(v::parse_bool(name, text)?),
            FieldType::Date => FieldValue::Str(trimmed.replace('/', "-")),
        })
    }
}

/// A field `name` of `R` that may be set from text, or the error `place set` gives for others.
pub fn settable<R: 'static>(
    fields: &'static [Field<R>],
    name: &str,
) -> Result<&'static Field<R>, ValidationError> {
    fields
        .iter()
        .find(|f| f.name == name && f.set_by == SetBy::Person)
        .ok_or_else(|| ValidationError::new(name, Reason::UnknownField(name.to_string())))
}

/// A record's fields as its map: every field of the table, by name.
pub fn to_map<R>(fields: &[Field<R>], record: &R) -> FieldMap {
    fields
        .iter()
        .map(|f| (f.name.to_string(), (f.get)(record)))
        .collect()
}

/// Reads a record from its map on top of `blank` (the values a missing or null field reads as):
/// forgiving, so that a record written by an older or newer device still shows.
pub fn from_map<R>(fields: &[Field<R>], mut blank: R, map: &FieldMap) -> R {
    for f in fields {
        match map.get(f.name) {
            None | Some(FieldValue::Null) => {}
            Some(value) => (f.put)(&mut blank, value),
        }
    }
    blank
}

/// How a Rust field of a record is stored as a [`FieldValue`] and read back, forgivingly: a
/// mistyped value reads as empty.
pub trait Slot: Sized {
    /// The stored value.
    fn to_value(&self) -> FieldValue;
    /// The value read back.
    fn from_value(value: &FieldValue) -> Self;
}

/// Text as the stored value shows it: text, or a number written as text.
fn text_of(value: &FieldValue) -> Option<String> {
    match value {
        FieldValue::Str(s) if !s.is_empty() => Some(s.clone()),
        FieldValue::F64(_) | FieldValue::Int(_) => Some(value.as_text()),
        _ => None,
    }
}

impl Slot for String {
    fn to_value(&self) -> FieldValue {
        super::fields::text_or_null(self)
    }
    fn from_value(value: &FieldValue) -> Self {
        text_of(value).unwrap_or_default()
    }
}

impl Slot for Option<String> {
    fn to_value(&self) -> FieldValue {
        super::fields::opt(self)
    }
    fn from_value(value: &FieldValue) -> Self {
        text_of(value)
    }
}

/// A list is stored as its items joined by commas.
impl Slot for Vec<String> {
    fn to_value(&self) -> FieldValue {
        super::fields::text_or_null(&self.join(","))
    }
    fn from_value(value: &FieldValue) -> Self {
        String::from_value(value)
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }
}

fn number_of(value: &FieldValue) -> Option<f64> {
    match value {
        FieldValue::F64(f) => Some(*f),
        FieldValue::Int(i) => Some(*i as f64),
        FieldValue::Str(s) => s.parse().ok(),
        _ => None,
    }
}

/// A required number reads as NaN when missing, which no rule accepts.
impl Slot for f64 {
    fn to_value(&self) -> FieldValue {
        FieldValue::F64(*self)
    }
    fn from_value(value: &FieldValue) -> Self {
        number_of(value).unwrap_or(f64::NAN)
    }
}

impl Slot for Option<f64> {
    fn to_value(&self) -> FieldValue {
        self.map(FieldValue::F64).unwrap_or(FieldValue::Null)
    }
    fn from_value(value: &FieldValue) -> Self {
        number_of(value)
    }
}

/// A count is stored as an integer.
impl Slot for u32 {
    fn to_value(&self) -> FieldValue {
        FieldValue::Int(i64::from(*self))
    }
    fn from_value(value: &FieldValue) -> Self {
        let n = match value {
            FieldValue::Int(i) => *i,
            FieldValue::F64(f) => *f as i64,
            FieldValue::Str(s) => s.parse().unwrap_or(0),
            _ => 0,
        };
        n.clamp(0, i64::from(u32::MAX)) as u32
    }
}

impl Slot for bool {
    fn to_value(&self) -> FieldValue {
        FieldValue::Bool(*self)
    }
    fn from_value(value: &FieldValue) -> Self {
        matches!(value, FieldValue::Bool(true))
    }
}

/// One row of a field table: `field!(Type, name, FieldType, required, SetBy, "ラベル", "label")`,
/// optionally followed by `csv: bool, geojson: Option<&str>`. The accessors are derived from the
/// name.
macro_rules! field {
    ($record:ty, $name:ident, $ty:expr, $required:expr, $set_by:ident, $ja:literal, $en:literal) => {
        $crate::domain::schema::field!(
            $record, $name, $ty, $required, $set_by, $ja, $en, csv: false, geojson: None
        )
    };
    ($record:ty, $name:ident, $ty:expr, $required:expr, $set_by:ident, $ja:literal, $en:literal,
        csv: $csv:expr, geojson: $geojson:expr) => {
        $crate::domain::schema::Field::<$record> {
            name: stringify!($name),
            ty: $ty,
            required: $required,
            set_by: $crate::domain::schema::SetBy::$set_by,
            label: $crate::i18n::t($ja, $en),
            csv: $csv,
            geojson: $geojson,
            get: |r| $crate::domain::schema::Slot::to_value(&r.$name),
            put: |r, v| r.$name = $crate::domain::schema::Slot::from_value(v),
        }
    };
}
pub(crate) use field;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Org, Place, Record, Visit};

    fn names<R>(fields: &[Field<R>]) -> Vec<&'static str> {
        fields.iter().map(|f| f.name).collect()
    }

    #[test]
    fn each_table_names_each_field_once() {
        for names in [
            names(Place::FIELDS),
            names(Org::FIELDS),
            names(Visit::FIELDS),
        ] {
            let mut unique = names.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), names.len(), "{names:?}");
        }
    }

    #[test]
    fn a_field_the_app_sets_cannot_be_set_by_a_person() {
        assert!(settable(Place::FIELDS, "hours_checked_at").is_ok());
        let e = settable(Place::FIELDS, "added_by").unwrap_err();
        assert_eq!(e.field, "added_by");
        assert!(settable(Org::FIELDS, "owner").is_err());
        assert!(settable(Visit::FIELDS, "team").is_err());
    }

    #[test]
    fn text_is_read_by_what_the_field_holds() {
        let field = |name| settable(Place::FIELDS, name).unwrap();
        assert_eq!(
            field("category").parse("子ども食堂").unwrap(),
            FieldValue::Str("kodomo_shokudo".into())
        );
        assert_eq!(field("accuracy_m").parse(" ").unwrap(), FieldValue::Null);
        assert_eq!(field("lat").parse("").unwrap_err().field, "lat");
        assert_eq!(
            field("hours_checked_at").parse("2026/04/01").unwrap(),
            FieldValue::Str("2026-04-01".into())
        );
        assert_eq!(
            field("listing_consent").parse("はい").unwrap(),
            FieldValue::Bool(true)
        );
        assert_eq!(
            field("description").parse(" 二行\nの説明 ").unwrap(),
            FieldValue::Str(" 二行\nの説明 ".into())
        );
    }

    /// A made-up fifth kind: its struct, one table and its rules are all it takes to be read,
    /// written and set from text like every other kind.
    #[test]
    fn a_new_kind_is_its_table_and_its_rules() {
        #[derive(Debug, Clone, PartialEq)]
        struct Survey {
            org: String,
            replied: bool,
            people: u32,
        }
        const FIELDS: &[Field<Survey>] = &[
            field!(
                Survey,
                org,
                FieldType::Ref,
                true,
                App,
                "団体",
                "organization"
            ),
            field!(
                Survey,
                replied,
                FieldType::Flag,
                false,
                Person,
                "回答",
                "replied"
            ),
            field!(
                Survey,
                people,
                FieldType::Count,
                false,
                Person,
                "人数",
                "people"
            ),
        ];
        let blank = || Survey {
            org: String::new(),
            replied: false,
            people: 0,
        };
        let mut survey = blank();
        survey.org = "o1".into();
        for (name, text) in [("replied", "はい"), ("people", "12")] {
            let field = settable(FIELDS, name).unwrap();
            (field.put)(&mut survey, &field.parse(text).unwrap());
        }
        let map = to_map(FIELDS, &survey);
        assert_eq!(map["people"], FieldValue::Int(12));
        assert_eq!(from_map(FIELDS, blank(), &map), survey);
        assert!(settable(FIELDS, "org").is_err());
    }
}

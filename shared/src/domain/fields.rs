//! Field values as records store them: the scalar values an Automerge map holds.

use automerge::ScalarValue;
use serde::Serialize;
use std::collections::BTreeMap;

/// One scalar field value of a record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// Text.
    Str(String),
    /// A floating-point number (coordinates, accuracy).
    F64(f64),
    /// An integer (counts).
    Int(i64),
    /// A yes/no.
    Bool(bool),
    /// No value.
    Null,
}

impl FieldValue {
    /// Converts from an Automerge scalar; other scalar kinds read as their text.
    pub fn from_scalar(value: &ScalarValue) -> FieldValue {
        match value {
            ScalarValue::Str(s) => FieldValue::Str(s.to_string()),
            ScalarValue::F64(f) => FieldValue::F64(*f),
            ScalarValue::Int(i) => FieldValue::Int(*i),
            ScalarValue::Uint(u) => FieldValue::Int(i64::try_from(*u).unwrap_or(i64::MAX)),
            ScalarValue::Boolean(b) => FieldValue::Bool(*b),
            ScalarValue::Null => FieldValue::Null,
            ScalarValue::Timestamp(t) => FieldValue::Int(*t),
            ScalarValue::Counter(c) => FieldValue::Int(i64::from(c)),
            other => FieldValue::Str(other.to_string()),
        }
    }

    /// Converts to an Automerge scalar.
    pub fn to_scalar(&self) -> ScalarValue {
        match self {
            FieldValue::Str(s) => ScalarValue::Str(s.as_str().into()),
            FieldValue::F64(f) => ScalarValue::F64(*f),
            FieldValue::Int(i) => ScalarValue::Int(*i),
            FieldValue::Bool(b) => ScalarValue::Boolean(*b),
            FieldValue::Null => ScalarValue::Null,
        }
    }

    /// The value as text (empty for null), for display and CSV.
    pub fn as_text(&self) -> String {
        match self {
            FieldValue::Str(s) => s.clone(),
            FieldValue::F64(f) => f.to_string(),
            FieldValue::Int(i) => i.to_string(),
            FieldValue::Bool(b) => b.to_string(),
            FieldValue::Null => String::new(),
        }
    }
}

/// A record's fields by name.
pub type FieldMap = BTreeMap<String, FieldValue>;

/// Typed, forgiving reads from a [`FieldMap`]: a missing or mistyped field reads as empty, so a
/// record written by an older or newer device still shows.
pub trait FieldMapExt {
    /// Text, or empty.
    fn text(&self, key: &str) -> String;
    /// Text, or `None` when missing, null or empty.
    fn opt_text(&self, key: &str) -> Option<String>;
    /// A number, or `None`.
    fn num(&self, key: &str) -> Option<f64>;
    /// An integer, or `None`.
    fn int(&self, key: &str) -> Option<i64>;
    /// A yes/no, or `false`.
    fn flag(&self, key: &str) -> bool;
    /// A comma-separated list.
    fn list(&self, key: &str) -> Vec<String>;
}

impl FieldMapExt for FieldMap {
    fn text(&self, key: &str) -> String {
        self.opt_text(key).unwrap_or_default()
    }
    fn opt_text(&self, key: &str) -> Option<String> {
        match self.get(key) {
            Some(FieldValue::Str(s)) if !s.is_empty() => Some(s.clone()),
            Some(FieldValue::F64(_) | FieldValue::Int(_)) => self.get(key).map(FieldValue::as_text),
            _ => None,
        }
    }
    fn num(&self, key: &str) -> Option<f64> {
        match self.get(key) {
            Some(FieldValue::F64(f)) => Some(*f),
            Some(FieldValue::Int(i)) => Some(*i as f64),
            Some(FieldValue::Str(s)) => s.parse().ok(),
            _ => None,
        }
    }
    fn int(&self, key: &str) -> Option<i64> {
        match self.get(key) {
            Some(FieldValue::Int(i)) => Some(*i),
            Some(FieldValue::F64(f)) => Some(*f as i64),
            Some(FieldValue::Str(s)) => s.parse().ok(),
            _ => None,
        }
    }
    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some(FieldValue::Bool(true)))
    }
    fn list(&self, key: &str) -> Vec<String> {
        self.text(key)
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }
}

/// Builds a text value, or null when empty.
pub fn text_or_null(value: &str) -> FieldValue {
    if value.is_empty() {
        FieldValue::Null
    } else {
        FieldValue::Str(value.to_string())
    }
}

/// Builds an optional text value.
pub fn opt(value: &Option<String>) -> FieldValue {
    value
        .as_deref()
        .map(text_or_null)
        .unwrap_or(FieldValue::Null)
}

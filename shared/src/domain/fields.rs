//! Field values as records store them: the scalar values an Automerge map holds.

use automerge::ScalarValue;
use serde::Serialize;
use std::collections::BTreeMap;

/// One scalar field value of a record. As JSON: a string, a number (integers stay integers), a
/// boolean or null.
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

impl<'de> serde::Deserialize<'de> for FieldValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde_json::Value;
        Ok(match Value::deserialize(d)? {
            Value::String(s) => FieldValue::Str(s),
            Value::Bool(b) => FieldValue::Bool(b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => FieldValue::Int(i),
                None => FieldValue::F64(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::Null => FieldValue::Null,
            other => FieldValue::Str(other.to_string()),
        })
    }
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

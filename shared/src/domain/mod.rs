//! The records ibasho keeps: places, organizations, visits and the workspace, with their validation.

pub mod fields;
mod org;
mod place;
mod record;
mod referral;
pub mod schema;
mod visit;

pub use fields::{FieldMap, FieldValue};
pub use org::Org;
pub use place::Place;
pub use record::{ForKind, Record, RecordKind, UnknownKind, Writer};
pub use referral::{
    MAX_SUMMARY_CHARS, NEEDS_REVIEW, Referral, fhir_status, follows, reconcile, steps_text,
};
pub use visit::Visit;

/// Generates a new record id: a UUID v7 (time-ordered, random), generated on the device.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

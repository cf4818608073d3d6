//! Files in and out: GeoJSON (RFC 7946) and CSV that Excel opens, CSV import in UTF-8 or
//! Shift_JIS, and referrals as FHIR Tasks.

mod csv_columns;
pub(crate) mod csv_export;
mod csv_import;
pub mod fhir;
mod geojson_export;
mod org_csv;

pub use csv_export::{places_csv, places_csv_with_revisions};
pub use csv_import::{ImportReport, ImportedRow, RowError, decode_text, parse_places_csv};
pub use geojson_export::places_geojson;
pub use org_csv::{ImportedOrg, orgs_csv, orgs_geojson, parse_orgs_csv};

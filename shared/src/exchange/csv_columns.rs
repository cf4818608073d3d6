//! The place columns of CSV files, shared by export and import.

use crate::i18n::{Lang, field_label};

/// Place columns in file order.
pub(super) const PLACE_COLUMNS: &[&str] = &[
    "id",
    "name",
    "reading",
    "category",
    "targets",
    "lat",
    "lon",
    "accuracy_m",
    "address",
    "hours",
    "contact",
    "description",
    "status",
    "listing_consent",
    "hours_checked_at",
];

/// The header of a column in `lang`.
pub(super) fn header(column: &str, lang: Lang) -> &'static str {
    if column == "id" {
        "id"
    } else {
        field_label(column).get(lang)
    }
}

/// The column a header names: its id, or its Japanese or English label.
pub(super) fn column_of(header: &str) -> Option<&'static str> {
    let h = header.trim().trim_start_matches('\u{feff}');
    PLACE_COLUMNS
        .iter()
        .copied()
        .find(|c| *c == h || field_label(c).ja == h || field_label(c).en.eq_ignore_ascii_case(h))
}

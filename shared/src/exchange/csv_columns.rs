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
    "revision",
];

/// The header of a column in `lang`.
pub(super) fn header(column: &str, lang: Lang) -> &'static str {
    match (column, lang) {
        ("id", _) => "id",
        // Which state of the place the row was exported from: import compares the row with it to
        // write only what was edited in the file.
        ("revision", Lang::Ja) => "版",
        ("revision", Lang::En) => "revision",
        _ => field_label(column).get(lang),
    }
}

/// The column a header names: its id, or its Japanese or English label.
pub(super) fn column_of(text: &str) -> Option<&'static str> {
    let h = text.trim().trim_start_matches('\u{feff}');
    PLACE_COLUMNS.iter().copied().find(|c| {
        *c == h || header(c, Lang::Ja) == h || header(c, Lang::En).eq_ignore_ascii_case(h)
    })
}

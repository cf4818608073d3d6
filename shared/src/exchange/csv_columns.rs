//! The place columns of CSV files, shared by export and import: `id`, the fields the place table
//! marks for CSV (in its order), and `revision`.

use crate::domain::schema::Field;
use crate::domain::{Place, Record};
use crate::i18n::{Lang, field_label};
use std::sync::LazyLock;

/// The fields of a place that CSV files carry, in file order.
pub(super) fn place_fields() -> impl Iterator<Item = &'static Field<Place>> {
    Place::FIELDS.iter().filter(|f| f.csv)
}

/// Place columns in file order.
pub(super) static PLACE_COLUMNS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    std::iter::once("id")
        .chain(place_fields().map(|f| f.name))
        .chain(std::iter::once("revision"))
        .collect()
});

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

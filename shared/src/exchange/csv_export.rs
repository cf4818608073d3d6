//! Places as CSV that Excel opens directly: UTF-8 with a byte-order mark, CRLF line ends, labels in
//! the chosen language. The file imports back with `ibasho import csv`.
//!
//! Anyone may name a place, so a text cell that a spreadsheet would take for a formula (it starts
//! with `=`, `+`, `-`, `@`, a tab or a carriage return) is written with a leading `'`, as OWASP
//! recommends against CSV injection. Import takes that quote off again.

use super::csv_columns::{PLACE_COLUMNS, header};
use crate::domain::Place;
use crate::i18n::Lang;
use crate::taxonomy::{self, CATEGORIES, STATUSES, TARGET_GROUPS};

fn label(list: &'static [taxonomy::Term], id: &str, lang: Lang) -> String {
    taxonomy::lookup(list, id)
        .map(|t| t.label(lang).to_string())
        .unwrap_or_else(|| id.to_string())
}

/// A text cell as written: with a leading `'` where a spreadsheet would read a formula.
pub(super) fn neutralised(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// A text cell as read back: the quote [`neutralised`] added, taken off.
pub(super) fn unneutralised(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

/// What a spreadsheet takes for the start of a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Writes places as CSV bytes, without revisions (see [`places_csv_with_revisions`]).
pub fn places_csv(places: &[Place], lang: Lang) -> Result<Vec<u8>, csv::Error> {
    let rows: Vec<(Place, String)> = places.iter().map(|p| (p.clone(), String::new())).collect();
    places_csv_with_revisions(&rows, lang)
}

/// Writes places as CSV bytes, each with the revision it was read at (the heads of its document,
/// hex): importing the file again writes only what was edited in it.
pub fn places_csv_with_revisions(
    rows: &[(Place, String)],
    lang: Lang,
) -> Result<Vec<u8>, csv::Error> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        w.write_record(PLACE_COLUMNS.iter().map(|c| header(c, lang)))?;
        let sep = if lang == Lang::Ja { "、" } else { ", " };
        for (p, revision) in rows {
            let yes_no = match (lang, p.listing_consent) {
                (Lang::Ja, true) => "はい",
                (Lang::Ja, false) => "いいえ",
                (Lang::En, b) => {
                    if b {
                        "true"
                    } else {
                        "false"
                    }
                }
            };
            let text = |s: &str| neutralised(s).into_owned();
            w.write_record([
                p.id.clone(),
                text(&p.name),
                text(&p.reading),
                label(CATEGORIES, &p.category, lang),
                p.targets
                    .iter()
                    .map(|t| label(TARGET_GROUPS, t, lang))
                    .collect::<Vec<_>>()
                    .join(sep),
                // Numbers this program wrote: a spreadsheet reads a negative one as a number.
                p.lat.to_string(),
                p.lon.to_string(),
                p.accuracy_m.map(|a| a.to_string()).unwrap_or_default(),
                text(&p.address),
                text(&p.hours),
                text(&p.contact),
                text(&p.description),
                label(STATUSES, &p.status, lang),
                yes_no.to_string(),
                p.hours_checked_at.clone().unwrap_or_default(),
                revision.clone(),
            ])?;
        }
        w.flush()?;
    }
    Ok(out)
}

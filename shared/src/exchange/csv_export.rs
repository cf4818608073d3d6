//! Places as CSV that Excel opens directly: UTF-8 with a byte-order mark, CRLF line ends, labels in
//! the chosen language. The file imports back with `ibasho import csv`.
//!
//! Anyone may name a place, so a text cell that a spreadsheet would take for a formula (it starts
//! with `=`, `+`, `-`, `@`, a tab or a carriage return) is written with a leading `'`, as OWASP
//! recommends against CSV injection. Import takes that quote off again.

use super::csv_columns::{PLACE_COLUMNS, header, place_fields};
use crate::domain::schema::FieldType;
use crate::domain::{FieldValue, Place};
use crate::i18n::Lang;
use crate::taxonomy::{self, TARGET_GROUPS};

fn label(list: &'static [taxonomy::Term], id: &str, lang: Lang) -> String {
    taxonomy::lookup(list, id)
        .map(|t| t.label(lang).to_string())
        .unwrap_or_else(|| id.to_string())
}

/// A field's value as a cell: taxonomy ids as labels in `lang`, yes/no in words, text a
/// spreadsheet would run quoted. Numbers this program wrote stay numbers (a spreadsheet reads a
/// negative one as a number).
pub(crate) fn cell(ty: FieldType, value: &FieldValue, lang: Lang) -> String {
    let text = value.as_text();
    match (ty, value) {
        (FieldType::Term(list), _) => label(list, &text, lang),
        (FieldType::Targets | FieldType::Terms(_), _) => {
            let list = match ty {
                FieldType::Terms(list) => list,
                _ => TARGET_GROUPS,
            };
            let sep = if lang == Lang::Ja { "、" } else { ", " };
            text.split(',')
                .filter(|t| !t.is_empty())
                .map(|t| label(list, t, lang))
                .collect::<Vec<_>>()
                .join(sep)
        }
        (FieldType::Flag, FieldValue::Bool(yes)) => match (lang, yes) {
            (Lang::Ja, true) => "はい".into(),
            (Lang::Ja, false) => "いいえ".into(),
            (Lang::En, yes) => yes.to_string(),
        },
        (FieldType::Flag, _) => cell(ty, &FieldValue::Bool(false), lang),
        (FieldType::Number | FieldType::Count | FieldType::Date | FieldType::DateTime, _) => text,
        (FieldType::Line | FieldType::Prose | FieldType::Ref, _) => neutralised(&text).into_owned(),
    }
}

/// A text cell as written: with a leading `'` where a spreadsheet would read a formula.
pub(crate) fn neutralised(cell: &str) -> std::borrow::Cow<'_, str> {
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
        for (p, revision) in rows {
            let cells = std::iter::once(p.id.clone())
                .chain(place_fields().map(|f| cell(f.ty, &(f.get)(p), lang)))
                .chain(std::iter::once(revision.clone()));
            w.write_record(cells)?;
        }
        w.flush()?;
    }
    Ok(out)
}

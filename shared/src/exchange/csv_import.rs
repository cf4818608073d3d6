//! CSV import of places: UTF-8 (with or without BOM) or Shift_JIS, headers by id or by Japanese or
//! English label. Every bad row is reported with its line number and reason.

use super::csv_columns::column_of;
use crate::domain::schema::FieldType;
use crate::domain::{Place, Record};
use crate::i18n::Lang;
use crate::validate::{Reason, ValidationError};
use chrono::NaiveDateTime;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;

/// A refused row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowError {
    /// Line number in the file (the header is line 1).
    pub line: u64,
    /// The refused field.
    pub field: String,
    /// Why, in Japanese.
    pub message_ja: String,
    /// Why, in English.
    pub message_en: String,
}

/// What an import found and did.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ImportReport {
    /// Data rows read.
    pub rows: usize,
    /// Places imported: added and updated.
    pub imported: usize,
    /// Rows that were new places.
    pub added: usize,
    /// Rows whose `id` named a place here that they changed (only the fields that differ are
    /// written, so edits made elsewhere to other fields survive).
    pub updated: usize,
    /// Rows whose `id` named a place here that they left as it was.
    pub unchanged: usize,
    /// The text encoding detected.
    pub encoding: String,
    /// Every refused row.
    pub errors: Vec<RowError>,
}

impl ImportReport {
    /// A summary and every error, in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        let mut out = match (lang, self.imported) {
            (Lang::Ja, 0) if !self.errors.is_empty() => format!(
                "{} 行中 {} 行に誤りがあるため、何も取り込んでいません（--skip-invalid で正しい行だけ取り込めます）",
                self.rows,
                self.errors.len()
            ),
            (Lang::En, 0) if !self.errors.is_empty() => format!(
                "{} of {} rows have errors, so nothing was imported (--skip-invalid imports the valid rows)",
                self.errors.len(),
                self.rows
            ),
            (Lang::Ja, _) => format!(
                "{} 行を読みました（{}）: 追加 {}、更新 {}、変更なし {}、エラー {}",
                self.rows,
                self.encoding,
                self.added,
                self.updated,
                self.unchanged,
                self.errors.len()
            ),
            (Lang::En, _) => format!(
                "read {} rows ({}): {} added, {} updated, {} unchanged, {} refused",
                self.rows,
                self.encoding,
                self.added,
                self.updated,
                self.unchanged,
                self.errors.len()
            ),
        };
        for e in &self.errors {
            let msg = if lang == Lang::Ja {
                &e.message_ja
            } else {
                &e.message_en
            };
            let line = if lang == Lang::Ja {
                format!("\n  {} 行目: {msg}", e.line)
            } else {
                format!("\n  line {}: {msg}", e.line)
            };
            out.push_str(&line);
        }
        out
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Lang::En))
    }
}

/// Decodes file bytes as UTF-8 (BOM stripped) or else Shift_JIS; returns the text and the encoding,
/// or `None` when the bytes are neither.
pub fn decode_text(bytes: &[u8]) -> Option<(String, &'static str)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Some((text.to_string(), "UTF-8"));
    }
    let (text, _, had_errors) = encoding_rs::SHIFT_JIS.decode(bytes);
    (!had_errors).then(|| (text.into_owned(), "Shift_JIS"))
}

pub(super) fn row_error(line: u64, e: &ValidationError) -> RowError {
    RowError {
        line,
        field: e.field.clone(),
        message_ja: e.message(Lang::Ja),
        message_en: e.message(Lang::En),
    }
}

/// The column of each field a file's header row names.
pub(super) type Columns = HashMap<&'static str, usize>;

/// The rows of a CSV file to import, each with the line it starts on, and its columns: the
/// field each header names (`column_of`). The file is decoded (UTF-8 or Shift_JIS, said in the
/// report); a file that cannot be read, a header row that cannot, a `required` column missing
/// or a row that cannot is put in the report. `None` when the file cannot be imported at all.
pub(super) fn read_rows(
    bytes: &[u8],
    column_of: fn(&str) -> Option<&'static str>,
    required: &[&str],
    report: &mut ImportReport,
) -> Option<(Columns, Vec<(u64, csv::StringRecord)>)> {
    let Some((text, encoding)) = decode_text(bytes) else {
        report.errors.push(RowError {
            line: 1,
            field: "file".into(),
            message_ja: "UTF-8 でも Shift_JIS でもない文字が含まれています".into(),
            message_en: "the file is neither UTF-8 nor Shift_JIS text".into(),
        });
        return None;
    };
    report.encoding = encoding.to_string();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let columns: Columns = match reader.headers() {
        Ok(h) => h
            .iter()
            .enumerate()
            .filter_map(|(i, h)| column_of(h).map(|c| (c, i)))
            .collect(),
        Err(e) => {
            report.errors.push(RowError {
                line: 1,
                field: "header".into(),
                message_ja: format!("見出し行が読めません: {e}"),
                message_en: format!("cannot read the header row: {e}"),
            });
            return None;
        }
    };
    for field in required {
        if !columns.contains_key(field) {
            report
                .errors
                .push(row_error(1, &ValidationError::new(field, Reason::Required)));
        }
    }
    if !report.errors.is_empty() {
        return None;
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        report.rows += 1;
        // The line a row starts on (a quoted cell may hold line breaks).
        let line_of =
            |p: Option<&csv::Position>| p.map_or(i as u64 + 2, |p| line_at(&text, p.byte()));
        match record {
            Ok(record) => rows.push((line_of(record.position()), record)),
            Err(e) => report.errors.push(RowError {
                line: line_of(e.position()),
                field: "row".into(),
                message_ja: format!("行が読めません: {e}"),
                message_en: format!("unreadable row: {e}"),
            }),
        }
    }
    Some((columns, rows))
}

/// The 1-based line on which a record starting at `byte` lies (quoted fields may span lines). The
/// csv reader puts a record's start on the `\n` of a preceding CRLF, so that byte is counted too.
pub(super) fn line_at(text: &str, byte: u64) -> u64 {
    let end = (byte as usize + 1).min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64
        + 1
}

/// Every rule of its kind `place` breaks, not only the first: each broken field is set aside (given
/// a value known to pass) and the place checked again.
fn every_rule_broken(place: &Place, now: NaiveDateTime) -> Vec<ValidationError> {
    let passing = Place::new("x", "cafe", 35.0, 139.0).to_fields();
    let mut probe = place.to_fields();
    let mut broken: Vec<ValidationError> = Vec::new();
    for _ in 0..16 {
        let Err(e) = Place::from_fields(&place.id, &probe).normalized(now) else {
            break;
        };
        if broken.iter().any(|b| b.field == e.field) {
            break;
        }
        let fields: &[&str] = match e.field.as_str() {
            "location" => &["lat", "lon"],
            other => &[other],
        };
        for field in fields {
            match passing.get(*field) {
                Some(value) => probe.insert((*field).to_string(), value.clone()),
                None => probe.remove(*field),
            };
        }
        broken.push(e);
    }
    broken
}

/// A row read from a CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedRow {
    /// Its line in the file.
    pub line: u64,
    /// The place it describes (with the file's `id` when it gives one of the right form).
    pub place: Place,
    /// The fields of `place` the file has columns for: updating a place by id sets those only.
    pub fields: crate::domain::FieldMap,
    /// Whether the file gave that id.
    pub has_id: bool,
    /// The revision the row was exported at (the heads of its document), when the file gives it.
    pub revision: Vec<automerge::ChangeHash>,
}

/// Parses places from CSV bytes. Returns the valid places with their line numbers and a report of
/// the rows refused, every error of a row named (nothing is stored here).
pub fn parse_places_csv(bytes: &[u8], now: NaiveDateTime) -> (Vec<ImportedRow>, ImportReport) {
    let mut report = ImportReport::default();
    let required: Vec<&str> = super::csv_columns::place_fields()
        .filter(|f| f.required)
        .map(|f| f.name)
        .collect();
    let Some((columns, rows)) = read_rows(bytes, column_of, &required, &mut report) else {
        return (Vec::new(), report);
    };
    let mut places = Vec::new();
    for (line, record) in rows {
        let get = |c: &str| {
            let cell = columns.get(c).and_then(|&i| record.get(i)).unwrap_or("");
            super::csv_export::unneutralised(cell).to_string()
        };
        // Every error of the row is named, not only the first.
        let mut errors = Vec::new();
        let lat = crate::validate::parse_f64("lat", &get("lat")).map_err(|e| errors.push(e));
        let lon = crate::validate::parse_f64("lon", &get("lon")).map_err(|e| errors.push(e));
        let mut place = Place::new(
            &get("name"),
            &get("category"),
            lat.unwrap_or(0.0),
            lon.unwrap_or(0.0),
        );
        let id = get("id");
        let has_id = crate::validate::is_record_id(id.trim());
        if has_id {
            place.id = id.trim().to_string();
        }
        // Every other column of the file format: the ones read above are not fields set as text.
        let set_as_text = super::csv_columns::place_fields()
            .filter(|f| !["name", "category", "lat", "lon"].contains(&f.name));
        for f in set_as_text {
            let field = f.name;
            let mut value = get(field);
            // A spreadsheet cell broken over lines (Alt+Enter) in a one-line field keeps its
            // words, on one line.
            if f.ty != FieldType::Prose && value.contains(['\n', '\r']) {
                value = value
                    .split(['\r', '\n'])
                    .filter(|l| !l.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
            }
            if columns.contains_key(field)
                && !(field == "status" && value.trim().is_empty())
                && let Err(e) = place.set_text(field, &value)
            {
                errors.push(e);
            }
        }
        match place.clone().normalized(now) {
            Ok(place) if errors.is_empty() => places.push(ImportedRow {
                line,
                fields: place
                    .to_fields()
                    .into_iter()
                    .filter(|(field, _)| columns.contains_key(field.as_str()))
                    .collect(),
                place,
                has_id,
                revision: get("revision")
                    .split_whitespace()
                    .filter_map(|h| h.parse().ok())
                    .collect(),
            }),
            _ => {
                // The rest of the row's rules too; a location that did not parse is named once.
                let unparsed = errors.iter().any(|e| e.field == "lat" || e.field == "lon");
                for e in every_rule_broken(&place, now) {
                    let location = matches!(e.field.as_str(), "location" | "lat" | "lon");
                    let named = errors.iter().any(|x| x.field == e.field);
                    let skip = named || (unparsed && location);
                    if !skip {
                        errors.push(e);
                    }
                }
            }
        }
        report
            .errors
            .extend(errors.iter().map(|e| row_error(line, e)));
    }
    (places, report)
}

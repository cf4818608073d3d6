//! The organization directory and survey as CSV: a municipality's spreadsheet maps onto it by the
//! fields' ids or their Japanese or English labels (名称, セクター, 参画意向, 調査日, 回答, 活動, 拠点地域,
//! 情報提供希望, 公開掲載の同意, 連絡先, 提供できること, 紹介者). UTF-8 or Shift_JIS in; every error of every
//! bad row named by its line; Excel-ready UTF-8 with a BOM out.

use super::csv_import::{ImportReport, read_rows, row_error};
use crate::domain::schema::{Field, SetBy};
use crate::domain::{FieldMap, Org, Record};
use crate::i18n::Lang;
use crate::validate::{Reason, ValidationError};
use chrono::NaiveDateTime;
use std::collections::HashMap;

/// The fields of an organization a file carries, in file order.
fn org_fields() -> impl Iterator<Item = &'static Field<Org>> {
    Org::FIELDS.iter().filter(|f| f.set_by == SetBy::Person)
}

/// The field a header names: its id, or its Japanese or English label.
fn column_of(text: &str) -> Option<&'static str> {
    let h = text.trim().trim_start_matches('\u{feff}');
    if h == "id" {
        return Some("id");
    }
    org_fields()
        .find(|f| {
            f.name == h
                || f.label.get(Lang::Ja) == h
                || f.label.get(Lang::En).eq_ignore_ascii_case(h)
        })
        .map(|f| f.name)
}

/// A row of an organization file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedOrg {
    /// Its line.
    pub line: u64,
    /// The organization it describes (with the file's `id` when it gives one).
    pub org: Org,
    /// The fields the file has columns for: updating an entry sets those only.
    pub fields: FieldMap,
    /// Whether the file gave an id.
    pub has_id: bool,
}

/// Parses organizations from CSV bytes; every error of every bad row is named (nothing is stored
/// here). `回答` (replied) takes yes/no in words or a date (a date: replied).
pub fn parse_orgs_csv(bytes: &[u8], now: NaiveDateTime) -> (Vec<ImportedOrg>, ImportReport) {
    let mut report = ImportReport::default();
    let Some((columns, rows)) = read_rows(bytes, column_of, &["name", "sector"], &mut report)
    else {
        return (Vec::new(), report);
    };
    let mut orgs = Vec::new();
    // Rows without an id, by name and contact, with their line: a second one is a duplicate.
    let mut seen: HashMap<(String, String), u64> = HashMap::new();
    for (line, record) in rows {
        let get = |c: &str| {
            let cell = columns.get(c).and_then(|&i| record.get(i)).unwrap_or("");
            super::csv_export::unneutralised(cell).trim().to_string()
        };
        let mut org = Org::new(&get("name"), &get("sector"));
        let id = get("id");
        let has_id = crate::validate::is_record_id(&id);
        let mut errors = Vec::new();
        if has_id {
            org.id = id;
        } else if !id.is_empty() {
            // A mistyped id would otherwise add the row as a second entry.
            errors.push(ValidationError::new("id", Reason::BadId(id)));
        }
        for f in org_fields().filter(|f| !["name", "sector"].contains(&f.name)) {
            if !columns.contains_key(f.name) {
                continue;
            }
            let mut value = get(f.name);
            // A list typed one item a line in the cell (Alt+Enter in Excel).
            if matches!(f.ty, crate::domain::schema::FieldType::Terms(_)) {
                value = value.replace("\r\n", "\n").replace('\n', ",");
            }
            // A reply given as the date it came.
            if f.name == "replied"
                && chrono::NaiveDate::parse_from_str(&value.replace('/', "-"), "%Y-%m-%d").is_ok()
            {
                value = "true".into();
            }
            if let Err(e) = org.set_text(f.name, &value) {
                errors.push(e);
            }
        }
        if !has_id && !org.contact.is_empty() {
            let key = (org.name.clone(), org.contact.clone());
            if let Some(first) = seen.get(&key) {
                errors.push(ValidationError::new(
                    "name",
                    Reason::DuplicateRow { line: *first },
                ));
            } else {
                seen.insert(key, line);
            }
        }
        // Every rule the row breaks: a broken name or sector is set aside and the row checked
        // again, so that both are named.
        let mut checked = org.clone();
        for _ in 0..2 {
            match checked.clone().normalized(now) {
                Err(e) if e.field == "name" && !errors.iter().any(|x| x.field == "name") => {
                    errors.push(e);
                    checked.name = "-".into();
                }
                Err(e) if e.field == "sector" && !errors.iter().any(|x| x.field == "sector") => {
                    errors.push(e);
                    checked.sector = crate::taxonomy::SECTORS[0].id.into();
                }
                _ => break,
            }
        }
        match org.clone().normalized(now) {
            Ok(org) if errors.is_empty() => orgs.push(ImportedOrg {
                line,
                fields: org
                    .to_fields()
                    .into_iter()
                    .filter(|(field, _)| columns.contains_key(field.as_str()))
                    .collect(),
                org,
                has_id,
            }),
            Ok(_) => {}
            Err(e) => {
                if !errors.iter().any(|x| x.field == e.field) {
                    errors.push(e);
                }
            }
        }
        report
            .errors
            .extend(errors.iter().map(|e| row_error(line, e)));
    }
    (orgs, report)
}

/// Organizations as CSV that Excel opens (UTF-8 with BOM, CRLF, labels in `lang`); imports back.
pub fn orgs_csv(orgs: &[Org], lang: Lang) -> Result<Vec<u8>, csv::Error> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        w.write_record(std::iter::once("id").chain(org_fields().map(|f| f.label.get(lang))))?;
        for org in orgs {
            w.write_record(
                std::iter::once(org.id.clone()).chain(
                    org_fields().map(|f| super::csv_export::cell(f.ty, &(f.get)(org), lang)),
                ),
            )?;
        }
        w.flush()?;
    }
    Ok(out)
}

/// Organizations as a GeoJSON FeatureCollection: they have no location of their own, so each
/// feature's geometry is null and its properties the directory's fields.
pub fn orgs_geojson(orgs: &[Org], lang: Lang) -> serde_json::Value {
    let features: Vec<serde_json::Value> = orgs
        .iter()
        .map(|org| {
            let mut props = serde_json::Map::new();
            for f in org_fields() {
                props.insert(
                    f.name.to_string(),
                    serde_json::Value::String(super::csv_export::cell(f.ty, &(f.get)(org), lang)),
                );
            }
            serde_json::json!({ "type": "Feature", "id": org.id, "geometry": null, "properties": props })
        })
        .collect();
    serde_json::json!({ "type": "FeatureCollection", "features": features })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 6)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap()
    }

    fn errors_of(csv: &str) -> Vec<(u64, String)> {
        let (_, report) = parse_orgs_csv(csv.as_bytes(), now());
        report
            .errors
            .iter()
            .map(|e| (e.line, e.field.clone()))
            .collect()
    }

    #[test]
    fn every_bad_row_is_named_by_the_line_it_starts_on_with_every_field() {
        let csv = "id,名称,セクター,活動,連絡先\n\
                   ,さがみ野自治会,地域団体,\"居場所づくり\n相談窓口\",046-1\n\
                   ,,でたらめ,,\n\
                   abc,南栗原商店,企業,,046-2\n\
                   ,さがみ野自治会,地域団体,,046-1\n";
        let errors = errors_of(csv);
        // Line 2's quoted cell spans two lines: the next row starts on line 4.
        assert!(errors.contains(&(4, "name".into())), "{errors:?}");
        assert!(
            errors.contains(&(4, "sector".into())),
            "both rules the row breaks: {errors:?}"
        );
        assert!(
            errors.contains(&(5, "id".into())),
            "a mistyped id: {errors:?}"
        );
        assert!(
            errors.contains(&(6, "name".into())),
            "a repeated row: {errors:?}"
        );
        assert_eq!(errors.len(), 4, "{errors:?}");
    }
}

//! Places as CSV that Excel opens directly: UTF-8 with a byte-order mark, CRLF line ends, labels in
//! the chosen language. The file imports back with `ibasho import csv`.

use super::csv_columns::{PLACE_COLUMNS, header};
use crate::domain::Place;
use crate::i18n::Lang;
use crate::taxonomy::{self, CATEGORIES, STATUSES, TARGET_GROUPS};

fn label(list: &'static [taxonomy::Term], id: &str, lang: Lang) -> String {
    taxonomy::lookup(list, id)
        .map(|t| t.label(lang).to_string())
        .unwrap_or_else(|| id.to_string())
}

/// Writes places as CSV bytes.
pub fn places_csv(places: &[Place], lang: Lang) -> Result<Vec<u8>, csv::Error> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        w.write_record(PLACE_COLUMNS.iter().map(|c| header(c, lang)))?;
        let sep = if lang == Lang::Ja { "、" } else { ", " };
        for p in places {
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
            w.write_record([
                p.id.clone(),
                p.name.clone(),
                p.reading.clone(),
                label(CATEGORIES, &p.category, lang),
                p.targets
                    .iter()
                    .map(|t| label(TARGET_GROUPS, t, lang))
                    .collect::<Vec<_>>()
                    .join(sep),
                p.lat.to_string(),
                p.lon.to_string(),
                p.accuracy_m.map(|a| a.to_string()).unwrap_or_default(),
                p.address.clone(),
                p.hours.clone(),
                p.contact.clone(),
                p.description.clone(),
                label(STATUSES, &p.status, lang),
                yes_no.to_string(),
                p.hours_checked_at.clone().unwrap_or_default(),
            ])?;
        }
        w.flush()?;
    }
    Ok(out)
}

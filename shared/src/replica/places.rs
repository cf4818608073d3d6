//! Places through the replica.

use super::Replica;
use super::edit::RecordEdit;
use crate::doc::DocId;
use crate::domain::{Place, Record};
use crate::error::Result;
use crate::hours::now_jst;
use crate::store::query::{self, PlaceHit, PlaceQuery};

impl Replica {
    /// Adds a place: labels normalised to ids, validated, durable before returning.
    pub fn add_place(&mut self, place: Place) -> Result<Place> {
        let mut added = self.add_places(vec![place])?;
        Ok(added.remove(0))
    }

    /// Adds many places at once: all are validated first and either all are stored or none.
    pub fn add_places(&mut self, places: Vec<Place>) -> Result<Vec<Place>> {
        self.workspace()?;
        let now = now_jst();
        let person = self.person()?;
        let mut ready = Vec::with_capacity(places.len());
        for mut place in places {
            place.added_by = person.clone();
            place.added_at = now.format("%Y-%m-%dT%H:%M:%S").to_string();
            ready.push(place.normalized(now)?);
        }
        let edits = ready.iter().map(RecordEdit::create).collect();
        self.apply(edits)?;
        Ok(ready)
    }

    /// Saves an edited place (from a form): validated whole, only the changed fields written.
    pub fn update_place(&mut self, place: Place) -> Result<Place> {
        let (doc_id, before) = self.record_in::<Place>(&place.id)?;
        let mut after = Place {
            added_by: before.added_by.clone(),
            added_at: before.added_at.clone(),
            ..place
        };
        after.edited(&before, now_jst().date());
        let after = after.normalized(now_jst())?;
        self.apply(vec![RecordEdit::diff(doc_id, &before, &after)])?;
        Ok(after)
    }

    /// Places whose opening hours were not checked for `months` months, or never: to re-check.
    pub fn stale_places(&self, months: u32) -> Result<Vec<PlaceHit>> {
        let today = now_jst().date();
        let since = today
            .checked_sub_months(chrono::Months::new(months))
            .unwrap_or(today);
        self.places(&PlaceQuery {
            checked_before: Some(since),
            ..PlaceQuery::default()
        })
    }

    /// Stamps a place's opening hours as checked today ("still correct").
    pub fn confirm_place(&mut self, id: &str) -> Result<Place> {
        let today = now_jst().date().to_string();
        self.set::<Place>(id, "hours_checked_at", &today)
    }

    /// Places matching a query, read from the index.
    pub fn places(&self, q: &PlaceQuery) -> Result<Vec<PlaceHit>> {
        self.require_workspace()?;
        Ok(query::places(&self.conn, q)?)
    }

    /// Number of places (not deleted).
    pub fn place_count(&self) -> Result<usize> {
        let n: i64 =
            self.conn
                .query_row("SELECT COUNT(*) FROM places WHERE deleted = 0", [], |r| {
                    r.get(0)
                })?;
        Ok(n as usize)
    }
}

impl PlaceHit {
    /// The place's id.
    pub fn id(&self) -> &str {
        self.place.id()
    }
}

impl Replica {
    /// Places as CSV for Excel, each row with the revision it was read at, so that the file
    /// imported again (`import_places_csv`) writes only what was edited in it.
    pub fn export_places_csv(&mut self, places: &[Place], lang: crate::Lang) -> Result<Vec<u8>> {
        let mut rows = Vec::with_capacity(places.len());
        for p in places {
            let heads = self.doc_heads(&DocId::for_place(&p.id))?;
            let revision = heads
                .iter()
                .map(|h| h.to_string())
                .collect::<Vec<_>>()
                .join(" ");
            rows.push((p.clone(), revision));
        }
        Ok(crate::exchange::places_csv_with_revisions(&rows, lang)?)
    }

    /// Imports places from CSV bytes (UTF-8 or Shift_JIS). Unless `skip_invalid`, nothing is imported
    /// when any row is refused; the report lists every refused row with its line number.
    pub fn import_places_csv(
        &mut self,
        bytes: &[u8],
        skip_invalid: bool,
    ) -> Result<crate::exchange::ImportReport> {
        self.workspace()?;
        let (rows, mut report) = crate::exchange::parse_places_csv(bytes, now_jst());
        let header_broken = report.errors.iter().any(|e| e.line <= 1);
        if header_broken || (!report.errors.is_empty() && !skip_invalid) {
            return Err(crate::Error::Import(report));
        }
        // A row whose id names a place here updates it: only the columns the file has, and of
        // those only what differs, so an export edited in Excel and imported again changes what
        // was edited and duplicates nothing.
        let (mut new, mut edits) = (Vec::new(), Vec::new());
        for row in rows {
            let existing = if row.has_id {
                self.record_in::<Place>(&row.place.id).ok()
            } else {
                None
            };
            let Some((doc_id, before)) = existing else {
                new.push(row.place);
                continue;
            };
            // What the row was exported from, when the file says: only the fields edited in the
            // file since then are written, so what changed here meanwhile survives.
            let exported = if row.revision.is_empty() {
                None
            } else {
                let doc = &mut self.loaded(&doc_id)?.doc;
                // A revision this replica has (another workspace's file names others).
                let known = row
                    .revision
                    .iter()
                    .all(|h| doc.get_change_meta_by_hash(h).is_some());
                known
                    .then(|| {
                        crate::doc::read_record_at(
                            doc,
                            crate::RecordKind::Place,
                            &before.id,
                            &row.revision,
                        )
                    })
                    .flatten()
                    .map(|f| Place::from_fields(&before.id, &f).to_fields())
            };
            let mut fields = before.to_fields();
            for (field, value) in row.fields {
                let edited_in_file = exported
                    .as_ref()
                    .is_none_or(|base| base.get(&field) != Some(&value));
                if edited_in_file {
                    fields.insert(field, value);
                }
            }
            let after = Place::from_fields(&before.id, &fields).normalized(now_jst())?;
            if after.to_fields() == before.to_fields() {
                report.unchanged += 1;
            } else {
                edits.push(RecordEdit::diff(doc_id, &before, &after));
                report.updated += 1;
            }
        }
        self.apply(edits)?;
        report.added = self.add_places(new)?.len();
        report.imported = report.added + report.updated;
        Ok(report)
    }
}

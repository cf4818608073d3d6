//! The organization directory through the replica.

use super::Replica;
use super::edit::RecordEdit;
use crate::domain::Org;
use crate::error::Result;
use crate::hours::now_jst;
use crate::store::query;

impl Replica {
    /// Adds a directory entry.
    pub fn add_org(&mut self, org: Org) -> Result<Org> {
        self.workspace()?;
        let now = now_jst();
        let org = Org {
            owner: self.server()?.map(|s| s.device).or(org.owner.clone()),
            added_by: self.person()?,
            added_at: now.format("%Y-%m-%dT%H:%M:%S").to_string(),
            ..org
        }
        .normalized(now)?;
        self.apply(vec![RecordEdit::create(&org)])?;
        Ok(org)
    }

    /// Every entry, by name.
    pub fn orgs(&self) -> Result<Vec<Org>> {
        self.require_workspace()?;
        Ok(query::orgs(&self.conn, false)?)
    }

    /// Imports the directory and survey from CSV bytes (see [`crate::exchange::parse_orgs_csv`]):
    /// a row whose id, or whose name and contact, names an entry here updates it with the columns
    /// the file has; the others are added. "Introduced by" naming an organization of the directory
    /// becomes a link to it (its id); otherwise it stays as text. All or nothing unless
    /// `skip_invalid`.
    pub fn import_orgs_csv(
        &mut self,
        bytes: &[u8],
        skip_invalid: bool,
    ) -> Result<crate::exchange::ImportReport> {
        use crate::domain::Record;
        self.workspace()?;
        let now = now_jst();
        let (rows, mut report) = crate::exchange::parse_orgs_csv(bytes, now);
        let header_broken = report.errors.iter().any(|e| e.line <= 1);
        if header_broken || (!report.errors.is_empty() && !skip_invalid) {
            return Err(crate::Error::Import(report));
        }
        let existing = self.orgs()?;
        let person = self.person()?;
        let mut names: Vec<(String, String)> = existing
            .iter()
            .map(|o| (o.name.clone(), o.id.clone()))
            .collect();
        names.extend(rows.iter().map(|r| (r.org.name.clone(), r.org.id.clone())));
        let link = |text: &str| {
            names
                .iter()
                .find(|(name, _)| name == text.trim())
                .map_or_else(|| text.to_string(), |(_, id)| id.clone())
        };
        let mut edits = Vec::new();
        for mut row in rows {
            if !row.org.introduced_by.is_empty() {
                row.org.introduced_by = link(&row.org.introduced_by);
                if row.fields.contains_key("introduced_by") {
                    row.fields.insert(
                        "introduced_by".into(),
                        crate::domain::FieldValue::Str(row.org.introduced_by.clone()),
                    );
                }
            }
            // By id first; only a row without a known id is matched by name and contact.
            let by_id = row
                .has_id
                .then(|| existing.iter().find(|o| o.id == row.org.id))
                .flatten();
            let here = by_id.or_else(|| {
                existing.iter().find(|o| {
                    !row.org.contact.is_empty()
                        && o.name == row.org.name
                        && o.contact == row.org.contact
                })
            });
            match here {
                None => {
                    let org = Org {
                        added_by: person.clone(),
                        added_at: now.format("%Y-%m-%dT%H:%M:%S").to_string(),
                        owner: self.server()?.map(|s| s.device),
                        ..row.org
                    };
                    edits.push(RecordEdit::create(&org));
                    report.added += 1;
                }
                Some(before) => {
                    let mut fields = before.to_fields();
                    fields.extend(row.fields);
                    let after = Org::from_fields(&before.id, &fields).normalized(now)?;
                    if after.to_fields() == before.to_fields() {
                        report.unchanged += 1;
                    } else {
                        edits.push(RecordEdit::diff(crate::DocId::Orgs, before, &after));
                        report.updated += 1;
                    }
                }
            }
        }
        report.imported = report.added + report.updated;
        self.apply(edits)?;
        Ok(report)
    }
}

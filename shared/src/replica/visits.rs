//! Visits, follow-ups and referrals through the replica; private notes stay on the device.

use super::Replica;
use super::edit::RecordEdit;
use crate::domain::{Record, Visit};
use crate::error::{Error, Result};
use crate::hours::now_jst;
use crate::store::query::{self, VisitQuery};
use crate::validate::{self, MAX_TEXT_CHARS, Reason, ValidationError};
use rusqlite::OptionalExtension;

impl Replica {
    /// Logs a visit. Its private note, if any, is stored on this device only.
    pub fn add_visit(&mut self, visit: Visit, note: Option<&str>) -> Result<Visit> {
        let mut added = self.add_visits(vec![(visit, note.map(String::from))])?;
        Ok(added.remove(0))
    }

    /// Logs many visits at once: all are validated first and either all are stored or none.
    pub fn add_visits(&mut self, visits: Vec<(Visit, Option<String>)>) -> Result<Vec<Visit>> {
        let workspace = self.workspace()?;
        let now = now_jst();
        let worker = self.person()?;
        let mut ready = Vec::with_capacity(visits.len());
        for (visit, note) in visits {
            if !workspace.teams.iter().any(|t| t.id == visit.team) {
                return Err(ValidationError::new(
                    "team",
                    Reason::UnknownRecord(visit.team.clone()),
                )
                .into());
            }
            for (field, id) in [
                ("place", &visit.place_id),
                ("follows", &visit.follows),
                ("referral_to", &visit.referral_to),
            ] {
                if let Some(id) = id
                    && self.locate(id).is_err()
                {
                    return Err(
                        ValidationError::new(field, Reason::UnknownRecord(id.clone())).into(),
                    );
                }
            }
            if let Some(note) = &note {
                validate::optional_text("note", note, MAX_TEXT_CHARS)?;
            }
            let visit = Visit {
                worker: worker.clone(),
                ..visit
            }
            .normalized(now)?;
            ready.push((visit, note));
        }
        let edits = ready.iter().map(|(v, _)| RecordEdit::create(v)).collect();
        self.apply(edits)?;
        for (visit, note) in &ready {
            if let Some(note) = note.as_deref().filter(|n| !n.trim().is_empty()) {
                self.set_private_note(visit.id(), note)?;
            }
        }
        Ok(ready.into_iter().map(|(v, _)| v).collect())
    }

    /// Visits matching a query.
    pub fn visits(&self, q: &VisitQuery) -> Result<Vec<Visit>> {
        self.require_workspace()?;
        Ok(query::visits(&self.conn, q)?)
    }

    /// Stores a private note for a visit on this device only (never in a document).
    pub fn set_private_note(&mut self, visit_id: &str, note: &str) -> Result<()> {
        validate::optional_text("note", note, MAX_TEXT_CHARS)?;
        if self.locate(visit_id).is_err() {
            return Err(Error::NotFound {
                kind: "visit",
                id: visit_id.to_string(),
            });
        }
        self.conn.execute(
            "INSERT INTO private_notes (visit_id, note, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (visit_id) DO UPDATE SET note = excluded.note, updated_at = excluded.updated_at",
            [visit_id, note, &now_jst().to_string()],
        )?;
        Ok(())
    }

    /// The private note kept on this device for a visit.
    pub fn private_note(&self, visit_id: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT note FROM private_notes WHERE visit_id = ?1",
                [visit_id],
                |r| r.get(0),
            )
            .optional()?)
    }
}

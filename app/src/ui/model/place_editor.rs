//! The place editor: the form of one place (text as typed, only what the person changed is
//! written), and the actions of the place screen.

use super::{AppModel, Screen};
use ibasho_shared::domain::schema::{Field, SetBy};
use ibasho_shared::hours::now_jst;
use ibasho_shared::validate::{self, ValidationError};
use ibasho_shared::{Place, Record};
use std::collections::BTreeMap;

/// The place form: text as typed, and the first validation error.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlaceForm {
    pub id: Option<String>,
    /// Each field of the place a person sets (its table's `SetBy::Person` rows), as text: taxonomy
    /// ids as ids, target groups joined by commas, yes/no as `true`/`false`.
    pub values: BTreeMap<&'static str, String>,
    /// Who added it and when (read-only).
    pub added: String,
    pub error: Option<ValidationError>,
    pub deleted: bool,
    /// Who changed what, newest last (read when the place opens or is saved).
    pub history: Vec<ibasho_shared::doc::HistoryEntry>,
    /// Fields edited on two devices at once.
    pub conflicts: Vec<ibasho_shared::doc::Conflict>,
    /// The place as it was stored when the form opened (or last took in a change from elsewhere):
    /// a field whose text still equals it is one the person did not touch.
    pub opened: Option<Place>,
    /// Fields the person is editing that another device changed meanwhile.
    pub changed_elsewhere: Vec<&'static str>,
}

/// The fields of a place a person sets in the form.
pub(crate) fn form_fields() -> impl Iterator<Item = &'static Field<Place>> {
    Place::FIELDS.iter().filter(|f| f.set_by == SetBy::Person)
}

/// Each field a person sets, as the form shows it.
fn texts_of(p: &Place) -> BTreeMap<&'static str, String> {
    form_fields()
        .map(|f| (f.name, (f.get)(p).as_text()))
        .collect()
}

impl PlaceForm {
    pub(super) fn new_at(lat: f64, lon: f64) -> PlaceForm {
        let mut values = texts_of(&Place::new("", "ibasho", lat, lon));
        values.insert("lat", format!("{lat:.6}"));
        values.insert("lon", format!("{lon:.6}"));
        PlaceForm {
            id: None,
            values,
            added: String::new(),
            error: None,
            deleted: false,
            history: Vec::new(),
            conflicts: Vec::new(),
            opened: None,
            changed_elsewhere: Vec::new(),
        }
    }

    fn from_place(p: &Place) -> PlaceForm {
        PlaceForm {
            id: Some(p.id.clone()),
            values: texts_of(p),
            added: format!(
                "{} {}",
                p.added_by,
                ibasho_shared::hours::shown_jst(&p.added_at)
            ),
            error: None,
            deleted: p.deleted_at.is_some(),
            history: Vec::new(),
            conflicts: Vec::new(),
            opened: Some(p.clone()),
            changed_elsewhere: Vec::new(),
        }
    }

    /// The text of `field` as the form shows it.
    pub(crate) fn text(&self, field: &str) -> &str {
        self.values.get(field).map_or("", String::as_str)
    }

    /// The ids of a list field (target groups).
    pub(crate) fn list(&self, field: &str) -> Vec<String> {
        validate::split_list(self.text(field))
    }

    /// Whether a yes/no field says yes.
    pub(crate) fn flag(&self, field: &str) -> bool {
        self.text(field) == "true"
    }

    /// Sets the text of `field` as typed.
    pub(crate) fn set(&mut self, field: &'static str, text: String) {
        self.values.insert(field, text);
    }

    /// Takes in `current`, the place as stored now (changed on another device): fields the person
    /// has not touched show the new values; fields the person is editing keep what they typed
    /// and are marked as changed elsewhere.
    fn take_in(&mut self, current: &Place) {
        if self.opened.as_ref() == Some(current) {
            return;
        }
        let Some(opened) = self.opened.as_ref().map(texts_of) else {
            return;
        };
        for (field, now) in texts_of(current) {
            let typed = self.values.entry(field).or_default();
            if *typed == opened[field] {
                *typed = now;
            } else if now != opened[field] && !self.changed_elsewhere.contains(&field) {
                self.changed_elsewhere.push(field);
            }
        }
        self.deleted = current.deleted_at.is_some();
        self.opened = Some(current.clone());
    }

    /// The place the form describes, on top of `base` (the stored place, when editing). Only the
    /// fields the person changed are taken from the form: the others keep what is stored, which
    /// another device may have changed since the form opened.
    fn to_place(&self, base: Option<Place>) -> Result<Place, ValidationError> {
        let opened = self.opened.as_ref().map(texts_of).unwrap_or_default();
        let mut p = base.unwrap_or_else(|| Place::new("", "", f64::NAN, f64::NAN));
        for (field, text) in &self.values {
            if opened.get(field) != Some(text) {
                p.set_text(field, text)?;
            }
        }
        p.validate(now_jst())?;
        Ok(p)
    }
}

impl AppModel {
    /// An open place form takes in what changed underneath it (another device's edit that a push
    /// brought, a conflict resolved elsewhere): history and conflicts are read again.
    pub(super) fn refresh_form(&mut self) {
        let Some(id) = self.form.as_ref().and_then(|f| f.id.clone()) else {
            return;
        };
        let Ok(current) = self.replica.get::<Place>(&id) else {
            return;
        };
        let (history, conflicts) = self.notes_of(&id);
        if let Some(form) = &mut self.form {
            form.take_in(&current);
            form.history = history;
            form.conflicts = conflicts;
        }
    }

    /// Starts a new place at a map position.
    pub(crate) fn click_map_at_empty(&mut self, lat: f64, lon: f64) {
        self.form = Some(PlaceForm::new_at(lat, lon));
        self.show_place_screen();
    }

    /// Shows the place screen, remembering where it was opened from.
    fn show_place_screen(&mut self) {
        if matches!(self.screen, Screen::Map | Screen::List) {
            self.place_from = self.screen;
        }
        self.screen = Screen::Place;
    }

    /// Closes the place form without saving: back to where it was opened from.
    pub(crate) fn cancel_place(&mut self) {
        self.form = None;
        self.screen = self.place_from;
    }

    /// Opens the place screen for `id`.
    pub(crate) fn open_place(&mut self, id: &str) -> anyhow::Result<()> {
        let place = self.replica.get::<Place>(id)?;
        self.form = Some(self.form_for(&place));
        self.show_place_screen();
        Ok(())
    }

    /// The form for a stored place, with its history and conflicts.
    fn form_for(&mut self, place: &Place) -> PlaceForm {
        let mut form = PlaceForm::from_place(place);
        (form.history, form.conflicts) = self.notes_of(&place.id);
        form
    }

    /// A place's history and its fields in conflict, as its form shows them.
    fn notes_of(
        &mut self,
        id: &str,
    ) -> (
        Vec<ibasho_shared::doc::HistoryEntry>,
        Vec<ibasho_shared::doc::Conflict>,
    ) {
        let history = self.replica.history(id).unwrap_or_default();
        let conflicts = self
            .replica
            .conflicts()
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.record == id)
            .collect();
        (history, conflicts)
    }

    /// Saves the place form: validated by the shared rules; the error shows inline and nothing is
    /// stored when it fails.
    pub(crate) fn save_place(&mut self) -> anyhow::Result<bool> {
        let Some(form) = self.form.clone() else {
            return Ok(false);
        };
        let base = match &form.id {
            Some(id) => Some(self.replica.get::<Place>(id)?),
            None => None,
        };
        let result = form
            .to_place(base)
            .map_err(ibasho_shared::Error::from)
            .and_then(|p| match &form.id {
                Some(_) => self.replica.update_place(p),
                None => self.replica.add_place(p),
            });
        match result {
            Ok(saved) => {
                self.form = Some(self.form_for(&saved));
                self.flash = Some(crate::ui::text::SAVED.get(self.lang).to_string());
                self.reload()?;
                Ok(true)
            }
            Err(ibasho_shared::Error::Invalid(e)) => {
                if let Some(f) = &mut self.form {
                    f.error = Some(e);
                }
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes or restores the place in the form.
    pub(crate) fn set_place_deleted(&mut self, deleted: bool) -> anyhow::Result<()> {
        if let Some(id) = self.form.as_ref().and_then(|f| f.id.clone()) {
            if deleted {
                self.replica.delete::<Place>(&id)?;
            } else {
                self.replica.restore::<Place>(&id)?;
            }
            self.open_place(&id)?;
            self.reload()?;
        }
        Ok(())
    }

    /// Keeps value number `choice` (1-based) of a field edited on two devices at once, and shows
    /// the place again.
    pub(crate) fn resolve_conflict(
        &mut self,
        record: &str,
        field: &str,
        choice: usize,
    ) -> anyhow::Result<()> {
        self.replica.resolve_conflict(record, field, choice)?;
        self.open_place(record)?;
        self.reload()
    }

    /// Starts a visit at the place open in the form.
    pub(crate) fn log_visit_here(&mut self) -> anyhow::Result<()> {
        let Some(id) = self.form.as_ref().and_then(|f| f.id.clone()) else {
            return Ok(());
        };
        let place = self.replica.get::<Place>(&id)?;
        self.start_visit(Some(&place));
        Ok(())
    }
}

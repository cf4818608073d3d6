//! The visit editor: the form of a new visit (team, place picker, what happened, follow-up), and
//! the actions of the visits screen.

use super::{AppModel, Screen};
use ibasho_shared::hours::now_jst;
use ibasho_shared::sync::Role;
use ibasho_shared::validate::{self, ValidationError};
use ibasho_shared::{Place, PlaceHit, PlaceQuery, Visit};

/// The visit form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VisitForm {
    /// The team the visit is logged for: a worker's own; a coordinator chooses.
    pub team: String,
    /// What the place picker searches for (by name; nearest to the map centre first).
    pub place_search: String,
    pub place_id: Option<String>,
    pub place_name: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub kind: String,
    pub people: String,
    pub targets: Vec<String>,
    pub follow_up: String,
    pub referral_to: String,
    pub note: String,
    pub error: Option<ValidationError>,
}

impl AppModel {
    /// Starts a visit form for a place (or for the map centre when `None`).
    /// The place, when there is one, is chosen in the form (or given here); the visit's coordinates
    /// come from the place or stay empty, never from where the map happens to be.
    pub(crate) fn start_visit(&mut self, place: Option<&Place>) {
        let team = self.replica.default_team().unwrap_or_default();
        let team = if team.is_empty() {
            self.visit_teams()
                .first()
                .map(|t| t.id.clone())
                .unwrap_or_default()
        } else {
            team
        };
        self.visit_form = Some(VisitForm {
            team,
            place_search: String::new(),
            place_id: place.map(|p| p.id.clone()),
            place_name: place.map(|p| p.name.clone()).unwrap_or_default(),
            lat: None,
            lon: None,
            kind: "visit".into(),
            people: "1".into(),
            targets: Vec::new(),
            follow_up: String::new(),
            referral_to: String::new(),
            note: String::new(),
            error: None,
        });
        self.screen = Screen::Visits;
    }

    /// The teams this device may log visits for: a coordinator's choice of every team, a worker's
    /// own.
    pub(crate) fn visit_teams(&self) -> Vec<ibasho_shared::doc::Team> {
        let teams = self.lists.teams.clone();
        match (self.role, self.replica.default_team().ok()) {
            (Some(Role::Worker), Some(own)) => teams.into_iter().filter(|t| t.id == own).collect(),
            _ => teams,
        }
    }

    /// Places for the visit form's picker: those whose name holds the search, nearest to the map
    /// centre first.
    pub(crate) fn visit_place_choices(&self) -> Vec<PlaceHit> {
        let search = self
            .visit_form
            .as_ref()
            .map(|f| f.place_search.trim().to_string())
            .unwrap_or_default();
        let q = PlaceQuery {
            search: (!search.is_empty()).then_some(search),
            near: Some((
                self.map.viewport.center_lat,
                self.map.viewport.center_lon,
                20_000_000.0,
            )),
            ..Default::default()
        };
        let mut hits = self.replica.places(&q).unwrap_or_default();
        hits.sort_by(|a, b| {
            let d = |h: &PlaceHit| h.distance_m.unwrap_or(f64::MAX);
            d(a).total_cmp(&d(b))
        });
        hits.truncate(12);
        hits
    }

    /// Chooses the visit's place (or none).
    pub(crate) fn choose_visit_place(&mut self, place: Option<(String, String)>) {
        if let Some(form) = &mut self.visit_form {
            (form.place_id, form.place_name) = match place {
                Some((id, name)) => (Some(id), name),
                None => (None, String::new()),
            };
            form.lat = None;
            form.lon = None;
            form.error = None;
        }
    }

    /// Saves the visit form.
    pub(crate) fn save_visit(&mut self) -> anyhow::Result<bool> {
        let Some(form) = self.visit_form.clone() else {
            return Ok(false);
        };
        let built = (|| -> Result<Visit, ValidationError> {
            let team = Some(form.team.clone())
                .filter(|t| !t.is_empty())
                .ok_or_else(|| ValidationError::new("team", validate::Reason::Required))?;
            let mut v = Visit::new(&team, &form.kind, now_jst());
            v.place_id = form.place_id.clone();
            v.lat = form.lat;
            v.lon = form.lon;
            v.people = validate::people(&form.people)?;
            v.targets = form.targets.clone();
            v.follow_up =
                (!form.follow_up.trim().is_empty()).then(|| form.follow_up.trim().to_string());
            v.referral_to = (!form.referral_to.is_empty()).then(|| form.referral_to.clone());
            Ok(v)
        })();
        let note = (!form.note.trim().is_empty()).then_some(form.note.as_str());
        match built
            .map_err(ibasho_shared::Error::from)
            .and_then(|v| self.replica.add_visit(v, note))
        {
            Ok(_) => {
                self.visit_form = None;
                self.flash = Some(crate::ui::text::SAVED.get(self.lang).to_string());
                self.reload()?;
                Ok(true)
            }
            Err(ibasho_shared::Error::Invalid(e)) => {
                if let Some(f) = &mut self.visit_form {
                    f.error = Some(e);
                }
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Marks a visit's follow-up done.
    pub(crate) fn mark_follow_up_done(&mut self, visit: &str) -> anyhow::Result<()> {
        self.replica.set::<Visit>(visit, "follow_up_done", "true")?;
        self.reload()
    }
}

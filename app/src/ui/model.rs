//! Everything the window shows, as a plain struct with methods: the logic is testable without a
//! webview, and components stay thin. All data goes through the replica API.

use ibasho_shared::domain::schema::{Field, SetBy};
use ibasho_shared::hours::now_jst;
use ibasho_shared::map::{Marker, Pin, PinIndex, Viewport, hit_test};
use ibasho_shared::sync::Role;
use ibasho_shared::validate::ValidationError;
use ibasho_shared::{
    Lang, Org, Place, PlaceHit, PlaceQuery, Record, Replica, Visit, VisitQuery, validate,
};
use std::collections::BTreeMap;

use std::path::{Path, PathBuf};

/// Which screen is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Screen {
    Map,
    List,
    Place,
    Visits,
    Directory,
    Settings,
}

/// The sync bar's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SyncState {
    /// Not joined to any server.
    Local,
    Connecting,
    Syncing,
    /// Last completed round, HH:MM.
    Synced(String),
    /// The server cannot be reached (no signal): calm, not a failure; unsent changes wait. With
    /// when the last sync was, in Japan time.
    Offline(Option<String>),
    /// In words a person understands.
    Failed(String),
}

/// List filters.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ListFilter {
    pub search: String,
    pub category: String,
    pub target: String,
    pub status: String,
    pub open_now: bool,
}

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
    fn new_at(lat: f64, lon: f64) -> PlaceForm {
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

/// A pointer drag on the map: panning, or moving a pin.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Drag {
    pub start: (f64, f64),
    pub last: (f64, f64),
    pub pin: Option<String>,
    pub moved: bool,
}

/// The window's whole state.
#[derive(Debug)]
pub(crate) struct AppModel {
    pub replica: Replica,
    pub home: PathBuf,
    pub lang: Lang,
    pub screen: Screen,
    /// Whether the map area's size is known yet (see [`AppModel::resize`]).
    measured: bool,
    /// The screen the place screen was opened from (the map or the list): its tab stays
    /// highlighted, and Cancel goes back to it.
    pub place_from: Screen,
    pub viewport: Viewport,
    pins: PinIndex,
    pin_list: Vec<Pin>,
    pub filter: ListFilter,
    pub form: Option<PlaceForm>,
    pub visit_form: Option<VisitForm>,
    pub sync: SyncState,
    pub unsent: usize,
    pub role: Option<Role>,
    pub tile_url: String,
    pub flash: Option<String>,
    pub drag: Option<Drag>,
    /// A pin being dragged: its id and where it is now (screen px).
    pub dragged_pin: Option<(String, f64, f64)>,
    /// Settings form fields.
    pub join_url: String,
    pub join_invite: String,
    pub person: String,
}

const CLUSTER_RADIUS_PX: f64 = 22.0;
const CLICK_SLOP_PX: f64 = 4.0;
const PIN_HIT_PX: f64 = 12.0;

impl AppModel {
    /// Opens the replica in `home` (creating it when missing).
    pub(crate) fn open(home: &Path, lang: Lang) -> anyhow::Result<AppModel> {
        let replica = Replica::open(&crate::paths::replica_file(home))?;
        let lang = match replica.setting("lang")? {
            Some(l) => l.parse().unwrap_or(lang),
            None => lang,
        };
        let tile_url = replica.setting("tile_url")?.unwrap_or_default();
        let person = replica.person()?;
        let mut model = AppModel {
            replica,
            home: home.to_path_buf(),
            lang,
            screen: Screen::Map,
            measured: false,
            place_from: Screen::Map,
            viewport: Viewport::japan(960.0, 600.0),
            pins: PinIndex::new(&[]),
            pin_list: Vec::new(),
            filter: ListFilter::default(),
            form: None,
            visit_form: None,
            sync: SyncState::Local,
            unsent: 0,
            role: None,
            tile_url,
            flash: None,
            drag: None,
            dragged_pin: None,
            join_url: String::new(),
            join_invite: String::new(),
            person,
        };
        model.reload()?;
        model.center_workspace();
        Ok(model)
    }

    /// Whether the replica holds a workspace (else the welcome screen shows).
    pub(crate) fn has_workspace(&mut self) -> bool {
        self.replica.workspace().is_ok()
    }

    /// Re-reads what the index holds (after an edit, or after sync brought changes).
    pub(crate) fn reload(&mut self) -> anyhow::Result<()> {
        self.replica.refresh_if_changed()?;
        self.role = self.replica.server()?.map(|s| s.role);
        if self.replica.workspace().is_err() {
            return Ok(());
        }
        self.pin_list = self
            .replica
            .places(&PlaceQuery::default())?
            .into_iter()
            .map(|h| Pin {
                id: h.place.id,
                lat: h.place.lat,
                lon: h.place.lon,
                category: h.place.category,
            })
            .collect();
        self.pins = PinIndex::new(&self.pin_list);
        self.unsent = self.replica.unsent_changes().unwrap_or(0);
        self.refresh_form();
        Ok(())
    }

    /// An open place form takes in what changed underneath it (another device's edit that a push
    /// brought, a conflict resolved elsewhere): history and conflicts are read again.
    fn refresh_form(&mut self) {
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

    /// Whether the visit screens and buttons exist for this device (never for members).
    pub(crate) fn can_see_visits(&self) -> bool {
        self.role != Some(Role::Member)
    }

    /// Pins and clusters for the current viewport.
    pub(crate) fn markers(&self) -> Vec<Marker> {
        self.pins.cluster(&self.viewport, CLUSTER_RADIUS_PX)
    }

    /// Fits the map to the bulk of the places (or Japan when there are none): a pin entered far
    /// away by mistake does not shrink everything else to a dot.
    pub(crate) fn center_workspace(&mut self) {
        let points: Vec<(f64, f64)> = self.pin_list.iter().map(|p| (p.lat, p.lon)).collect();
        match ibasho_shared::map::bulk::bulk_bounds(&points) {
            Some((s, w, n, e)) => self.viewport.fit(s, w, n, e),
            None => self.viewport = Viewport::japan(self.viewport.width, self.viewport.height),
        }
    }

    /// The map area's size in CSS pixels. The first real size refits the first view to it (it
    /// was worked out for a default size before the window was measured): a phone's first view
    /// fits the phone.
    pub(crate) fn resize(&mut self, width: f64, height: f64) {
        if width > 10.0 && height > 10.0 {
            let first = !self.measured;
            self.viewport.width = width;
            self.viewport.height = height;
            self.measured = true;
            if first {
                self.center_workspace();
            }
        }
    }

    /// Why the place at (`lat`, `lon`) looks entered by mistake, in words, if it does: outside
    /// Japan, or far from the workspace's other places.
    pub(crate) fn far_away_warning(&self, lat: f64, lon: f64) -> Option<&'static str> {
        use ibasho_shared::map::bulk::{FarAway, far_away};
        let others: Vec<(f64, f64)> = self.pin_list.iter().map(|p| (p.lat, p.lon)).collect();
        Some(match far_away((lat, lon), &others)? {
            FarAway::OutsideJapan => crate::ui::text::OUTSIDE_JAPAN.get(self.lang),
            FarAway::FarFromTheOthers => crate::ui::text::FAR_FROM_OTHERS.get(self.lang),
        })
    }

    /// Zoom by `delta` levels around the map centre.
    pub(crate) fn zoom_by(&mut self, delta: f64) {
        let (x, y) = (self.viewport.width / 2.0, self.viewport.height / 2.0);
        self.viewport.zoom_at(delta, x, y);
    }

    /// Pointer pressed on the map (`on_pin` when on a pin).
    pub(crate) fn pointer_down(&mut self, x: f64, y: f64, on_pin: Option<String>) {
        self.drag = Some(Drag {
            start: (x, y),
            last: (x, y),
            pin: on_pin,
            moved: false,
        });
    }

    /// Pointer moved: pans the map, or moves the pin being dragged.
    pub(crate) fn pointer_move(&mut self, x: f64, y: f64) {
        let Some(drag) = &mut self.drag else { return };
        let (dx, dy) = (x - drag.last.0, y - drag.last.1);
        drag.last = (x, y);
        if (x - drag.start.0).hypot(y - drag.start.1) > CLICK_SLOP_PX {
            drag.moved = true;
        }
        if !drag.moved {
            return;
        }
        match &drag.pin {
            Some(id) => self.dragged_pin = Some((id.clone(), x, y)),
            None => self.viewport.pan_by(dx, dy),
        }
    }

    /// Pointer released at (x, y): a click when it barely moved, else the end of a drag.
    pub(crate) fn pointer_up(&mut self, x: f64, y: f64) -> anyhow::Result<()> {
        let Some(drag) = self.drag.take() else {
            return Ok(());
        };
        self.dragged_pin = None;
        if !drag.moved {
            return self.click_map(x, y);
        }
        if let Some(id) = drag.pin {
            let (lat, lon) = self.viewport.unproject(x, y);
            let mut place = self.replica.get::<Place>(&id)?;
            place.lat = (lat * 1e6).round() / 1e6;
            place.lon = (lon * 1e6).round() / 1e6;
            match self.replica.update_place(place) {
                Ok(_) => self.reload()?,
                Err(e) => self.flash = Some(e.message(self.lang)),
            }
        }
        Ok(())
    }

    /// A click on the map: a pin opens its place, a cluster zooms in, elsewhere starts a new place.
    pub(crate) fn click_map(&mut self, x: f64, y: f64) -> anyhow::Result<()> {
        let markers = self.markers();
        match hit_test(&markers, x, y, PIN_HIT_PX) {
            Some(Marker::Pin { id, .. }) => {
                let id = id.clone();
                self.open_place(&id)?;
            }
            Some(Marker::Cluster {
                south,
                west,
                north,
                east,
                ..
            }) => {
                let (s, w, n, e) = (*south, *west, *north, *east);
                if (n - s).abs() < 1e-6 && (e - w).abs() < 1e-6 {
                    self.viewport.zoom_at(2.0, x, y);
                } else {
                    self.viewport.fit(s, w, n, e);
                }
            }
            None => {
                let (lat, lon) = self.viewport.unproject(x, y);
                self.click_map_at_empty(lat, lon);
            }
        }
        Ok(())
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

    /// Places for the list screen, filtered; with distance from the map centre.
    pub(crate) fn list(&self) -> anyhow::Result<Vec<PlaceHit>> {
        let opt = |s: &String| (!s.is_empty()).then(|| s.clone());
        let q = PlaceQuery {
            search: opt(&self.filter.search),
            category: opt(&self.filter.category),
            target: opt(&self.filter.target),
            status: opt(&self.filter.status),
            open_at: self.filter.open_now.then(now_jst),
            near: Some((
                self.viewport.center_lat,
                self.viewport.center_lon,
                20_000_000.0,
            )),
            ..Default::default()
        };
        Ok(self.replica.places(&q)?)
    }

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
    pub(crate) fn visit_teams(&mut self) -> Vec<ibasho_shared::doc::Team> {
        let teams = self
            .replica
            .workspace()
            .map(|w| w.teams)
            .unwrap_or_default();
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
                self.viewport.center_lat,
                self.viewport.center_lon,
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

    /// Visits with an open follow-up due today or earlier.
    pub(crate) fn due_visits(&self) -> anyhow::Result<Vec<Visit>> {
        Ok(self.replica.visits(&VisitQuery {
            due_by: Some(now_jst().date()),
            ..Default::default()
        })?)
    }

    /// The team's log (all visits this device may see), newest first.
    pub(crate) fn team_log(&self) -> anyhow::Result<Vec<Visit>> {
        Ok(self.replica.visits(&VisitQuery::default())?)
    }

    /// The directory.
    pub(crate) fn orgs(&self) -> anyhow::Result<Vec<Org>> {
        Ok(self.replica.orgs()?)
    }

    /// Switches the language and remembers it on this device.
    pub(crate) fn set_lang(&mut self, lang: Lang) -> anyhow::Result<()> {
        self.lang = lang;
        self.replica.set_setting("lang", &lang.to_string())?;
        Ok(())
    }

    /// Saves the display name and tile URL.
    pub(crate) fn save_settings(&mut self) -> anyhow::Result<()> {
        let url = self.tile_url.trim().to_string();
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            self.flash = Some(match self.lang {
                Lang::Ja => "タイルURLは http:// か https:// で始めてください".into(),
                Lang::En => "the tile URL must start with http:// or https://".into(),
            });
            return Ok(());
        }
        if let Err(e) = self.replica.set_person(&self.person) {
            self.flash = Some(e.message(self.lang));
            return Ok(());
        }
        self.replica.set_setting("tile_url", &url)?;
        self.flash = Some(crate::ui::text::SETTINGS_SAVED.get(self.lang).to_string());
        Ok(())
    }

    /// Creates the demo workspace (first run, offline).
    pub(crate) fn make_demo(&mut self) -> anyhow::Result<()> {
        crate::cli::make_demo(&mut self.replica, 300, 7)?;
        self.person = self.replica.person()?;
        self.reload()?;
        self.center_workspace();
        self.screen = Screen::Map;
        Ok(())
    }

    /// The name of a place by id (for visit lists).
    pub(crate) fn place_name(&mut self, id: &str) -> String {
        self.replica
            .get::<Place>(id)
            .map(|p| p.name)
            .unwrap_or_default()
    }
}

/// Two-digit HH:MM of an RFC 3339 time, in Japan time.
pub(crate) fn hhmm(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            (t.with_timezone(&chrono::Utc) + chrono::Duration::hours(9))
                .format("%H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// `YYYY-MM-DD HH:MM` of an RFC 3339 time, in Japan time.
pub(crate) fn hhmm_date(rfc3339: &str) -> String {
    ibasho_shared::hours::shown_jst(rfc3339)
}

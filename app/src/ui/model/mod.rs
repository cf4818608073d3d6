//! Everything the window shows, as a plain struct in parts with methods: the logic is testable
//! without a webview, components stay thin, and every button calls a method here. All data goes
//! through the replica API; lists are read when the data changes ([`AppModel::reload`]), not when
//! a screen draws.

mod map;
pub(crate) use map::PinInfo;
pub(crate) mod offline_area;
pub(crate) use offline_area::AreaJob;
mod org_editor;
mod place_editor;
mod referral_editor;
mod settings;
mod visit_editor;

pub(crate) use map::MapView;
pub(crate) use org_editor::{OrgFilter, OrgForm, org_form_fields};
pub(crate) use place_editor::{PlaceForm, form_fields};
pub(crate) use referral_editor::{ReferralForm, Side};
pub(crate) use settings::{SettingsForm, join};
pub(crate) use visit_editor::VisitForm;

use ibasho_shared::doc::Team;
use ibasho_shared::hours::now_jst;
use ibasho_shared::map::Pin;
use ibasho_shared::sync::Role;
use ibasho_shared::{Lang, Org, Place, PlaceHit, PlaceQuery, Replica, Visit, VisitQuery};
use std::path::{Path, PathBuf};

/// Which screen is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Screen {
    Map,
    List,
    Place,
    Visits,
    Directory,
    Referrals,
    Reports,
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
    /// Only places whose opening hours were not checked for [`STALE_MONTHS`], or never.
    pub stale: bool,
}

/// Months after which a place's opening hours are to be checked again.
pub(crate) const STALE_MONTHS: u32 = 6;

/// Whether a place's opening hours are to be checked again.
pub(crate) fn is_stale(p: &Place) -> bool {
    let today = now_jst().date();
    let since = today
        .checked_sub_months(chrono::Months::new(STALE_MONTHS))
        .unwrap_or(today)
        .to_string();
    p.hours_checked_at.as_deref().is_none_or(|d| *d < *since)
}

/// What the screens list, read again when the data changes (not on every draw).
#[derive(Debug, Clone, Default)]
pub(crate) struct Lists {
    /// The directory, by name.
    pub orgs: Vec<Org>,
    /// Visits with an open follow-up due today or earlier.
    pub due: Vec<Visit>,
    /// Every visit this device may see, newest first.
    pub log: Vec<Visit>,
    /// The workspace's teams.
    pub teams: Vec<Team>,
    /// The names of the places the visits name, by id.
    pub place_names: std::collections::HashMap<String, String>,
    /// This device's changes the server refused, and still held, each with the record as people
    /// know it.
    pub stuck: Vec<(ibasho_shared::Stuck, String)>,
    /// The erase log.
    pub erasures: Vec<ibasho_shared::doc::epoch::Erasure>,
    /// How many months the workspace keeps visits, as the server last said.
    pub retention_months: Option<u32>,
    /// Referrals this device may see (none for members).
    pub referrals: Vec<ibasho_shared::ReferralView>,
    /// The workspace's case conference team, when one is marked.
    pub case_conference: Option<String>,
}

/// The window's whole state, in parts: the map, the place and visit editors, the settings forms,
/// and the lists the screens show.
#[derive(Debug)]
pub(crate) struct AppModel {
    pub replica: Replica,
    pub home: PathBuf,
    pub lang: Lang,
    pub screen: Screen,
    /// The screen the place screen was opened from (the map or the list): its tab stays
    /// highlighted, and Cancel goes back to it.
    pub place_from: Screen,
    pub map: MapView,
    pub lists: Lists,
    pub form: Option<PlaceForm>,
    pub visit_form: Option<VisitForm>,
    pub referral_form: Option<ReferralForm>,
    pub org_form: Option<OrgForm>,
    /// The current fiscal year's figures, read when the reports screen shows.
    pub report: Option<ibasho_shared::Report>,
    pub settings: SettingsForm,
    /// The basemap drawn when online (the person's, else the workspace's, else GSI's).
    pub source: crate::tiles::Source,
    pub sync: SyncState,
    pub unsent: usize,
    pub role: Option<Role>,
    pub flash: Option<String>,
}

impl AppModel {
    /// Opens the replica in `home` (creating it when missing).
    pub(crate) fn open(home: &Path, lang: Lang) -> anyhow::Result<AppModel> {
        let replica = Replica::open(&crate::paths::replica_file(home))?;
        let lang = match replica.setting("lang")? {
            Some(l) => l.parse().unwrap_or(lang),
            None => lang,
        };
        let settings = SettingsForm {
            tile_url: replica.setting("tile_url")?.unwrap_or_default(),
            tile_attribution: replica.setting("tile_attribution")?.unwrap_or_default(),
            person: replica.person()?,
            ..SettingsForm::default()
        };
        let mut model = AppModel {
            replica,
            home: home.to_path_buf(),
            lang,
            screen: Screen::Map,
            place_from: Screen::Map,
            map: MapView::new(home),
            lists: Lists::default(),
            form: None,
            visit_form: None,
            referral_form: None,
            org_form: None,
            report: None,
            settings,
            source: crate::tiles::Source::gsi_std(),
            sync: SyncState::Local,
            unsent: 0,
            role: None,
            flash: None,
        };
        model.reload()?;
        model.map.center_workspace();
        Ok(model)
    }

    /// Whether the replica holds a workspace (else the welcome screen shows).
    pub(crate) fn has_workspace(&mut self) -> bool {
        self.replica.workspace().is_ok()
    }

    /// Re-reads what the index holds (after an edit, or after sync brought changes): the pins,
    /// the lists, the unsent count, and an open place form.
    pub(crate) fn reload(&mut self) -> anyhow::Result<()> {
        self.replica.refresh_if_changed()?;
        self.role = self.replica.server()?.map(|s| s.role);
        if self.replica.workspace().is_err() {
            return Ok(());
        }
        self.source = crate::tiles::source_of(&mut self.replica);
        let conflicted = self.replica.conflicted_records().unwrap_or_default();
        let mut info = std::collections::HashMap::new();
        let pins = self
            .replica
            .places(&PlaceQuery::default())?
            .into_iter()
            .map(|h| {
                let place = h.place;
                info.insert(
                    place.id.clone(),
                    map::PinInfo {
                        stale: is_stale(&place),
                        conflict: conflicted.contains(&place.id),
                        name: place.name,
                        category: place.category.clone(),
                        hours: place.hours,
                    },
                );
                Pin {
                    id: place.id,
                    lat: place.lat,
                    lon: place.lon,
                    category: place.category,
                }
            })
            .collect();
        self.map.set_pins(pins, info);
        let due = self.replica.visits(&VisitQuery {
            due_by: Some(now_jst().date()),
            ..Default::default()
        })?;
        let log = self.replica.visits(&VisitQuery::default())?;
        let place_names = log
            .iter()
            .chain(&due)
            .filter_map(|v| v.place_id.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|id| {
                let name = self.place_name(&id);
                (id, name)
            })
            .collect();
        self.lists = Lists {
            orgs: self.replica.orgs()?,
            due,
            log,
            teams: self.replica.workspace()?.teams,
            case_conference: self.replica.workspace()?.case_conference,
            place_names,
            stuck: self
                .replica
                .stuck()?
                .into_iter()
                .map(|s| {
                    let label = s
                        .record
                        .as_deref()
                        .map(|r| self.record_label(r))
                        .unwrap_or_else(|| s.doc.clone());
                    (s, label)
                })
                .collect(),
            erasures: self.replica.erasures()?,
            retention_months: self
                .replica
                .setting("visit_retention_months")?
                .and_then(|m| m.parse().ok()),
            referrals: if self.can_see_visits() {
                self.replica
                    .referrals(&ibasho_shared::ReferralQuery::default())?
            } else {
                Vec::new()
            },
        };
        self.unsent = self.replica.unsent_changes().unwrap_or(0);
        if self.screen == Screen::Reports {
            self.refresh_report();
        }
        self.refresh_form();
        Ok(())
    }

    /// Whether the visit screens and buttons exist for this device (never for members).
    pub(crate) fn can_see_visits(&self) -> bool {
        self.role != Some(Role::Member)
    }

    /// A place's opening hours are still correct: stamped checked today.
    pub(crate) fn confirm_place(&mut self, id: &str) -> anyhow::Result<()> {
        self.replica.confirm_place(id)?;
        self.reload()
    }

    /// Reads the current fiscal year's figures again (the reports screen).
    pub(crate) fn refresh_report(&mut self) {
        let period = ibasho_shared::Period::fiscal_year();
        self.report = self.replica.report(&period, self.lang).ok();
    }

    /// Shows `screen` (the reports screen reads its figures first).
    pub(crate) fn show(&mut self, screen: Screen) {
        self.screen = screen;
        self.flash = None;
        if screen == Screen::Reports {
            self.refresh_report();
        }
    }

    /// Drops this device's unsent change to `record` (one field, or all of it) that the server
    /// refuses; the next sync is clean again.
    pub(crate) fn discard(&mut self, record: &str, field: Option<&str>) -> anyhow::Result<()> {
        self.replica.discard(record, field)?;
        self.reload()
    }

    /// A record as people know it: a place's or an organization's name, a visit's kind and time.
    pub(crate) fn record_label(&mut self, id: &str) -> String {
        use ibasho_shared::taxonomy::{CONTACT_TYPES, lookup};
        if let Ok(p) = self.replica.get::<Place>(id) {
            return p.name;
        }
        if let Ok(o) = self.replica.get::<Org>(id) {
            return o.name;
        }
        if let Ok(v) = self.replica.get::<Visit>(id) {
            let kind = lookup(CONTACT_TYPES, &v.kind)
                .map_or(v.kind.clone(), |t| t.label(self.lang).to_string());
            return format!(
                "{kind} {}",
                v.at.replace('T', " ").get(..16).unwrap_or(&v.at)
            );
        }
        id.to_string()
    }

    /// Places for the list screen, filtered by `filter`; with distance from the map centre.
    pub(crate) fn list(&self, filter: &ListFilter) -> anyhow::Result<Vec<PlaceHit>> {
        let opt = |s: &String| (!s.is_empty()).then(|| s.clone());
        let q = PlaceQuery {
            search: opt(&filter.search),
            category: opt(&filter.category),
            target: opt(&filter.target),
            status: opt(&filter.status),
            open_at: filter.open_now.then(now_jst),
            checked_before: filter.stale.then(|| {
                let today = now_jst().date();
                today
                    .checked_sub_months(chrono::Months::new(STALE_MONTHS))
                    .unwrap_or(today)
            }),
            near: Some((
                self.map.viewport.center_lat,
                self.map.viewport.center_lon,
                20_000_000.0,
            )),
            ..Default::default()
        };
        Ok(self.replica.places(&q)?)
    }

    /// The name of a place by id (for visit lists).
    pub(crate) fn place_name(&mut self, id: &str) -> String {
        self.replica
            .get::<Place>(id)
            .map(|p| p.name)
            .unwrap_or_default()
    }
}

/// Each field a person sets of `record`, as a form shows it (lists joined by commas, yes/no as
/// `true`/`false`).
pub(crate) fn form_values<R: ibasho_shared::Record>(
    record: &R,
) -> std::collections::BTreeMap<&'static str, String> {
    R::FIELDS
        .iter()
        .filter(|f| f.set_by == ibasho_shared::domain::schema::SetBy::Person)
        .map(|f| (f.name, (f.get)(record).as_text()))
        .collect()
}

/// An error in words for the person: the engine's and the transport's in their language.
pub(crate) fn error_words(e: &anyhow::Error, lang: Lang) -> String {
    if let Some(engine) = e.downcast_ref::<ibasho_shared::Error>() {
        return engine.message(lang);
    }
    if let Some(transport) = e.downcast_ref::<crate::sync::error::TransportError>() {
        return transport.message(lang);
    }
    format!("{e:#}")
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

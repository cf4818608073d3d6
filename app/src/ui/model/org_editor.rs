//! The directory screen's state: filters, order, and the form of one organization (its table's
//! fields a person sets, as text), by role: coordinators edit every entry, members add theirs and
//! edit only their own.

use super::{AppModel, form_values};
use ibasho_shared::domain::schema::SetBy;
use ibasho_shared::hours::now_jst;
use ibasho_shared::sync::Role;
use ibasho_shared::validate::ValidationError;
use ibasho_shared::{Org, Record};
use std::collections::BTreeMap;

/// The directory's filters and order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct OrgFilter {
    pub participation: String,
    pub sector: String,
    pub activity: String,
    /// `name`, `sector`, `participation` or `surveyed_on`.
    pub sort: String,
}

/// The form of one organization.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrgForm {
    pub id: Option<String>,
    /// Each field a person sets, as text (lists joined by commas, yes/no as `true`/`false`).
    pub values: BTreeMap<&'static str, String>,
    pub error: Option<ValidationError>,
}

impl OrgForm {
    pub(crate) fn text(&self, field: &str) -> &str {
        self.values.get(field).map_or("", String::as_str)
    }
}

impl AppModel {
    /// The directory as the filters and order say.
    pub(crate) fn directory(&self, filter: &OrgFilter) -> Vec<Org> {
        let mut orgs: Vec<Org> = self
            .lists
            .orgs
            .iter()
            .filter(|o| filter.participation.is_empty() || o.participation == filter.participation)
            .filter(|o| filter.sector.is_empty() || o.sector == filter.sector)
            .filter(|o| filter.activity.is_empty() || o.activities.contains(&filter.activity))
            .cloned()
            .collect();
        match filter.sort.as_str() {
            "sector" => orgs.sort_by(|a, b| a.sector.cmp(&b.sector).then(a.name.cmp(&b.name))),
            "participation" => orgs.sort_by(|a, b| {
                a.participation
                    .cmp(&b.participation)
                    .then(a.name.cmp(&b.name))
            }),
            "surveyed_on" => orgs.sort_by(|a, b| b.surveyed_on.cmp(&a.surveyed_on)),
            _ => orgs.sort_by(|a, b| a.name.cmp(&b.name)),
        }
        orgs
    }

    /// Whether this device may change `org`: coordinators any, members their own.
    pub(crate) fn may_edit(&self, org: &Org) -> bool {
        match self.role {
            None | Some(Role::Coordinator) => true,
            Some(Role::Member) => self
                .replica
                .server()
                .ok()
                .flatten()
                .is_some_and(|s| org.owner.as_deref() == Some(s.device.as_str())),
            Some(Role::Worker) => false,
        }
    }

    /// Whether this device may add an organization.
    pub(crate) fn may_add_org(&self) -> bool {
        self.role != Some(Role::Worker)
    }

    /// Opens the form of `id`, or of a new organization.
    pub(crate) fn open_org(&mut self, id: Option<&str>) {
        let org = id
            .and_then(|id| self.lists.orgs.iter().find(|o| o.id == id).cloned())
            .unwrap_or_else(|| Org::new("", "npo"));
        self.org_form = Some(OrgForm {
            id: id.map(String::from),
            values: form_values(&org),
            error: None,
        });
    }

    /// Saves the organization form: checked by the shared rules, only the fields changed written.
    pub(crate) fn save_org(&mut self) -> anyhow::Result<bool> {
        let Some(form) = self.org_form.clone() else {
            return Ok(false);
        };
        let before = match &form.id {
            Some(id) => Some(self.replica.get::<Org>(id)?),
            None => None,
        };
        let base = before.clone().unwrap_or_else(|| Org::new("", "npo"));
        let opened = form_values(&base);
        let mut org = base;
        let built = (|| -> Result<Org, ValidationError> {
            for (field, text) in &form.values {
                if opened.get(field) != Some(text) {
                    org.set_text(field, text)?;
                }
            }
            org.validate(now_jst())?;
            Ok(org)
        })();
        let saved = built
            .map_err(ibasho_shared::Error::from)
            .and_then(|org| match before {
                Some(_) => self.replica.update(org),
                None => self.replica.add_org(org),
            });
        match saved {
            Ok(_) => {
                self.org_form = None;
                self.flash = Some(crate::ui::text::SAVED.get(self.lang).to_string());
                self.reload()?;
                Ok(true)
            }
            Err(ibasho_shared::Error::Invalid(e)) => {
                if let Some(f) = &mut self.org_form {
                    f.error = Some(e);
                }
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The fields of an organization a person sets in the form.
pub(crate) fn org_form_fields()
-> impl Iterator<Item = &'static ibasho_shared::domain::schema::Field<Org>> {
    Org::FIELDS.iter().filter(|f| f.set_by == SetBy::Person)
}

//! The つなぐ screen's state: a new referral's form (started from a visit, a place or the screen
//! itself) and the steps the two sides take.

use super::{AppModel, Screen};
use ibasho_shared::hours::now_jst;
use ibasho_shared::sync::Role;
use ibasho_shared::validate::ValidationError;
use ibasho_shared::{Referral, ReferralView};

/// The form of a new referral, as typed.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ReferralForm {
    /// The receiving team (a team id), or empty.
    pub to_team: String,
    /// Or the receiving organization (an organization id), or empty.
    pub to_org: String,
    pub reason: String,
    pub targets: Vec<String>,
    pub people: String,
    pub due: String,
    pub summary: String,
    /// The visit it comes from.
    pub visit: Option<String>,
    /// To the case conference (支援会議).
    pub escalate: bool,
    pub error: Option<ValidationError>,
}

/// Which side of a referral this device answers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The sending team: it withdraws.
    Sender,
    /// The receiving team: it accepts and answers.
    Receiver,
    /// A coordinator: either.
    Both,
    /// Neither (a referral to an organization, seen by a coordinator, …).
    Neither,
}

impl AppModel {
    /// The device's side of `r`.
    pub(crate) fn side_of(&self, r: &Referral) -> Side {
        if self.role == Some(Role::Coordinator) {
            return Side::Both;
        }
        let team = self.replica.default_team().unwrap_or_default();
        if r.from_team == team && r.to_team.is_none() {
            // An organization with no team: the sender records its answers too.
            Side::Both
        } else if r.from_team == team {
            Side::Sender
        } else if r.to_team.as_deref() == Some(team.as_str()) {
            Side::Receiver
        } else {
            Side::Neither
        }
    }

    /// Referrals to this device's team still waiting for its answer (the sync bar counts them).
    pub(crate) fn waiting_referrals(&self) -> usize {
        let team = self.replica.default_team().unwrap_or_default();
        self.lists
            .referrals
            .iter()
            .filter(|v| !v.legacy && v.referral.waiting())
            .filter(|v| v.referral.to_team.as_deref() == Some(team.as_str()))
            .count()
    }

    /// Opens the つなぐ screen with a new referral's form, from `visit` when given.
    pub(crate) fn start_referral(&mut self, visit: Option<&str>) {
        self.referral_form = Some(ReferralForm {
            reason: "isolation".into(),
            people: "1".into(),
            visit: visit.map(String::from),
            ..ReferralForm::default()
        });
        self.screen = Screen::Referrals;
    }

    /// Starts a referral from the place open in the form: its name in the summary.
    pub(crate) fn refer_from_place(&mut self) {
        let name = self
            .form
            .as_ref()
            .map(|f| f.text("name").to_string())
            .unwrap_or_default();
        self.start_referral(None);
        if let Some(f) = &mut self.referral_form {
            f.summary = format!("{}: {name}", crate::ui::text::PLACE.get(self.lang));
        }
    }

    /// Sends the referral of the form: checked by the shared rules; the error shows in the form
    /// and nothing is stored when it fails.
    pub(crate) fn save_referral(&mut self) -> anyhow::Result<bool> {
        let Some(form) = self.referral_form.clone() else {
            return Ok(false);
        };
        let mut referral = Referral::new("", &form.reason, now_jst());
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        referral.to_team = some(&form.to_team);
        referral.to_org = some(&form.to_org);
        referral.targets = form.targets.clone();
        referral.due = some(&form.due);
        referral.summary = form.summary.clone();
        referral.visit = form.visit.clone();
        let people = ibasho_shared::validate::people(&form.people);
        let result = people
            .map_err(ibasho_shared::Error::from)
            .and_then(|people| {
                referral.people = people;
                if form.escalate {
                    self.replica.escalate(referral)
                } else {
                    self.replica.add_referral(referral)
                }
            });
        match result {
            Ok(_) => {
                self.referral_form = None;
                self.flash = Some(crate::ui::text::SAVED.get(self.lang).to_string());
                self.reload()?;
                Ok(true)
            }
            Err(ibasho_shared::Error::Invalid(e)) => {
                if let Some(f) = &mut self.referral_form {
                    f.error = Some(e);
                }
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Takes `step` of referral `id` (with `reason` where the step needs one).
    pub(crate) fn referral_step(
        &mut self,
        id: &str,
        step: &str,
        reason: Option<&str>,
    ) -> anyhow::Result<()> {
        self.replica.referral_step(id, step, reason, None)?;
        self.reload()
    }

    /// The referrals of the つなぐ screen: incoming (to this device's team) or outgoing.
    pub(crate) fn referral_list(&self, incoming: bool) -> Vec<ReferralView> {
        let team = self.replica.default_team().unwrap_or_default();
        let coordinator = self.role == Some(Role::Coordinator);
        self.lists
            .referrals
            .iter()
            .filter(|v| {
                let to_us = v.referral.to_team.as_deref() == Some(team.as_str());
                if coordinator {
                    incoming == v.referral.to_team.is_some()
                } else {
                    incoming == to_us
                }
            })
            .cloned()
            .collect()
    }
}

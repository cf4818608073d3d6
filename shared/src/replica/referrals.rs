//! Referrals (つなぐ) through the replica: made by the sending team, answered by the receiving
//! one, each step with who and when; concurrent steps the lifecycle does not allow together shown
//! as needing reconciliation (要確認) until one side chooses.

use super::Replica;
use super::edit::RecordEdit;
use crate::doc;
use crate::domain::{FieldValue, Record, RecordKind, Referral, follows, reconcile};
use crate::error::{Error, Result};
use crate::hours::now_jst;
use crate::validate::{Reason, ValidationError};
use serde::Serialize;

/// Which referrals to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferralQuery {
    /// Only those to this device's team.
    pub incoming: bool,
    /// Only those from this device's team.
    pub outgoing: bool,
    /// Only this status.
    pub status: Option<String>,
}

/// A referral as the lists show it: with the steps taken concurrently on both sides when they
/// disagree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReferralView {
    /// The referral (its status: the value shown).
    #[serde(flatten)]
    pub referral: Referral,
    /// Every step taken concurrently (one when there is no disagreement).
    pub statuses: Vec<String>,
    /// The steps together are not a state of the lifecycle (a withdrawal and a connection made
    /// offline): 要確認 until one side chooses.
    pub needs_review: bool,
    /// Recorded in a visit's referral fields before referrals were records (read-only).
    pub legacy: bool,
    /// The reasons given with the steps taken concurrently (when they disagree, both are kept).
    pub reasons: Vec<String>,
}

impl ReferralView {
    /// Its status for a person: the step's label, or 要確認 with the steps that disagree.
    pub fn status_text(&self, lang: crate::i18n::Lang) -> String {
        if self.needs_review {
            format!(
                "{}（{}）",
                crate::domain::NEEDS_REVIEW.get(lang),
                crate::domain::steps_text(&self.statuses, lang)
            )
        } else {
            crate::domain::steps_text(std::slice::from_ref(&self.referral.status), lang)
        }
    }
}

impl Replica {
    /// The names of the workspace's teams and of the directory's organizations, by id: the two
    /// kinds of party a referral is between.
    pub fn party_names(&mut self) -> Result<std::collections::HashMap<String, String>> {
        let teams = self.workspace()?.teams;
        let orgs = self.orgs()?;
        Ok(orgs
            .into_iter()
            .map(|o| (o.id, o.name))
            .chain(teams.into_iter().map(|t| (t.id, t.name)))
            .collect())
    }

    /// Makes a referral from this device's team: labels normalised to ids, the receiving team or
    /// organization and the visit checked, sent now. Durable before returning.
    pub fn add_referral(&mut self, referral: Referral) -> Result<Referral> {
        let workspace = self.workspace()?;
        let now = now_jst();
        let from = match referral.from_team.trim() {
            "" => self.default_team()?,
            team => team.to_string(),
        };
        if !workspace.teams.iter().any(|t| t.id == from) {
            return Err(ValidationError::new("from_team", Reason::UnknownRecord(from)).into());
        }
        if let Some(to) = &referral.to_team
            && !workspace.teams.iter().any(|t| t.id == *to)
        {
            return Err(ValidationError::new("to_team", Reason::UnknownRecord(to.clone())).into());
        }
        if let Some(org) = &referral.to_org
            && self.get::<crate::Org>(org).is_err()
        {
            return Err(ValidationError::new("to_org", Reason::UnknownRecord(org.clone())).into());
        }
        if let Some(visit) = &referral.visit
            && self.get::<crate::Visit>(visit).is_err()
        {
            return Err(ValidationError::new("visit", Reason::UnknownRecord(visit.clone())).into());
        }
        let person = self.person()?;
        let at = now.format("%Y-%m-%dT%H:%M:%S").to_string();
        let referral = Referral {
            from_team: from,
            created_at: at.clone(),
            created_by: person.clone(),
            status: "sent".into(),
            status_at: at,
            status_by: person,
            ..referral
        }
        .normalized(now)?;
        self.apply(vec![RecordEdit::create(&referral)])?;
        Ok(referral)
    }

    /// Takes a step of referral `id`: `accepted`, `in_progress`, `connected`, `not_connected` or
    /// `declined` (the receiving team), `withdrawn` (the sending team), with a reason where the
    /// step needs one (`unreachable`, `not_eligible`, … or their labels) and a note. The step must
    /// follow the current one in the lifecycle — or be one of two steps taken concurrently, which
    /// settles the disagreement.
    pub fn referral_step(
        &mut self,
        id: &str,
        status: &str,
        reason: Option<&str>,
        note: Option<&str>,
    ) -> Result<Referral> {
        let (doc_id, before) = self.record_in::<Referral>(id)?;
        let concurrent = self.concurrent_steps(&doc_id, id)?;
        let mut after = before.clone();
        after.set_text("status", status)?;
        let settles = concurrent.len() > 1 && concurrent.contains(&after.status);
        if !settles && !follows(&before.status, &after.status) {
            return Err(ValidationError::new(
                "status",
                Reason::NotAfter {
                    from: before.status.clone(),
                    to: after.status.clone(),
                },
            )
            .into());
        }
        after.set_text("status_reason", reason.unwrap_or(""))?;
        after.set_text("status_note", note.unwrap_or(""))?;
        after.status_by = self.person()?;
        after.status_at = now_jst().format("%Y-%m-%dT%H:%M:%S").to_string();
        after.validate(now_jst())?;
        let mut edit = RecordEdit::diff(doc_id, &before, &after);
        // The step is written again even when the value shown is the same: writing it settles a
        // disagreement (Automerge keeps one value where it had two).
        edit.fields
            .insert("status".into(), FieldValue::Str(after.status.clone()));
        self.apply(vec![edit])?;
        Ok(after)
    }

    /// Escalates a case to the workspace's case conference (支援会議) in one step: a referral to
    /// that team, readable only by the sender, it and coordinators, with the same rules.
    pub fn escalate(&mut self, referral: Referral) -> Result<Referral> {
        let conference = self
            .workspace()?
            .case_conference
            .ok_or_else(|| ValidationError::new("to_team", Reason::NoCaseConference))?;
        self.add_referral(Referral {
            to_team: Some(conference),
            to_org: None,
            escalated: true,
            ..referral
        })
    }

    /// Withdraws a referral this device's team sent (a reason is required).
    pub fn withdraw_referral(&mut self, id: &str, reason: Option<&str>) -> Result<Referral> {
        self.referral_step(id, "withdrawn", reason, None)
    }

    /// Referrals this device may see, newest first, with disagreements.
    pub fn referrals(&mut self, q: &ReferralQuery) -> Result<Vec<ReferralView>> {
        self.require_workspace()?;
        let team = self.server()?.and_then(|s| s.team);
        let rows: Vec<(String, String)> = self
            .conn
            .prepare(
                "SELECT json, doc_id FROM referrals WHERE deleted = 0 ORDER BY created_at DESC",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::new();
        for (json, doc) in rows {
            let Ok(referral) = serde_json::from_str::<Referral>(&json) else {
                continue;
            };
            let mine = |t: &Option<String>| team.is_some() && *t == team;
            if (q.incoming && !mine(&referral.to_team))
                || (q.outgoing && !mine(&Some(referral.from_team.clone())))
            {
                continue;
            }
            let doc_id: crate::DocId = doc.parse()?;
            let statuses = self.concurrent_steps(&doc_id, &referral.id)?;
            let reasons: Vec<String> = doc::field_values(
                &self.loaded(&doc_id)?.doc,
                RecordKind::Referral,
                &referral.id,
            )
            .into_iter()
            .find(|(field, _)| field == "status_reason")
            .map(|(_, values)| values.iter().map(FieldValue::as_text).collect())
            .unwrap_or_else(|| vec![referral.status_reason.clone()])
            .into_iter()
            .filter(|r| !r.is_empty())
            .collect();
            let steps: Vec<&str> = statuses.iter().map(String::as_str).collect();
            let needs_review = reconcile(&steps).is_none();
            if q.status.as_ref().is_some_and(|s| *s != referral.status) {
                continue;
            }
            out.push(ReferralView {
                referral,
                statuses,
                needs_review,
                legacy: false,
                reasons,
            });
        }
        // Referrals recorded before referrals were records, in a visit's fields: shown as such,
        // so nothing recorded then is lost.
        if !q.incoming {
            let visits = self.visits(&crate::VisitQuery::default())?;
            for v in visits.into_iter().filter(|v| v.referral_to.is_some()) {
                let status = if v.referral_outcome.is_empty() {
                    "sent"
                } else {
                    "connected"
                };
                if q.status.as_ref().is_some_and(|s| s != status) {
                    continue;
                }
                out.push(ReferralView {
                    referral: Referral {
                        id: v.id.clone(),
                        from_team: v.team.clone(),
                        to_org: v.referral_to.clone(),
                        created_at: v.at.clone(),
                        created_by: v.worker.clone(),
                        reason: "other".into(),
                        targets: v.targets.clone(),
                        people: v.people,
                        visit: Some(v.id.clone()),
                        summary: v.referral_reason.clone(),
                        status: status.into(),
                        status_note: v.referral_outcome.clone(),
                        ..Referral::default()
                    },
                    statuses: vec![status.into()],
                    needs_review: false,
                    legacy: true,
                    reasons: Vec::new(),
                });
            }
        }
        Ok(out)
    }

    /// The steps a referral holds at once: its status, or every value of it taken concurrently.
    fn concurrent_steps(&mut self, doc_id: &crate::DocId, id: &str) -> Result<Vec<String>> {
        let doc = &self.loaded(doc_id)?.doc;
        let values = doc::field_values(doc, RecordKind::Referral, id)
            .into_iter()
            .find(|(field, _)| field == "status")
            .map(|(_, values)| values.iter().map(FieldValue::as_text).collect());
        match values {
            Some(values) => Ok(values),
            None => {
                let fields = doc::read_record(doc, RecordKind::Referral, id).ok_or_else(|| {
                    Error::NotFound {
                        kind: "referral",
                        id: id.to_string(),
                    }
                })?;
                Ok(vec![Referral::from_fields(id, &fields).status])
            }
        }
    }
}

//! Outcome figures over a period of months, from what this device may see: visits (with the
//! counts retention kept), follow-ups, referrals, organizations and places. Each section has a
//! `total` and `by_<dimension>` maps from a label to a count. A member's report has no visit,
//! follow-up or referral section at all.

use super::Replica;
use crate::domain::{Record, RecordKind, Visit};
use crate::error::Result;
use crate::hours::now_jst;
use crate::i18n::Lang;
use crate::sync::Role;
use crate::taxonomy::{self, Term};
use serde::Serialize;
use std::collections::BTreeMap;

/// Counts by label.
pub type Counts = BTreeMap<String, i64>;

/// The period a report covers: months `from` to `to`, inclusive (`YYYY-MM`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// First month.
    pub from: String,
    /// Last month.
    pub to: String,
}

impl Period {
    /// The current fiscal year (April to March), Japan time.
    pub fn fiscal_year() -> Period {
        use chrono::Datelike;
        let today = now_jst().date();
        let start = if today.month() >= 4 {
            today.year()
        } else {
            today.year() - 1
        };
        Period {
            from: format!("{start}-04"),
            to: format!("{}-03", start + 1),
        }
    }

    /// Whether a date or date-time (`YYYY-MM…`) falls in it.
    pub fn holds(&self, at: &str) -> bool {
        at.get(..7)
            .is_some_and(|m| m >= self.from.as_str() && m <= self.to.as_str())
    }
}

/// Visits in the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VisitFigures {
    /// Visits.
    pub total: i64,
    /// People reached.
    pub people: i64,
    /// By month.
    pub by_month: Counts,
    /// By month and team name (for charts; not a published table).
    #[serde(skip)]
    pub by_month_team: BTreeMap<String, Counts>,
    /// People reached by month.
    pub people_by_month: Counts,
    /// By team name.
    pub by_team: Counts,
    /// By target group.
    pub by_target: Counts,
    /// People reached by target group (a visit with two groups counts its people in both).
    pub people_by_target: Counts,
    /// By contact type.
    pub by_kind: Counts,
}

/// Follow-ups of visits in the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FollowUpFigures {
    /// Follow-ups set.
    pub total: i64,
    /// Done.
    pub done: i64,
    /// Open and due today or later.
    pub due: i64,
    /// Open and past their date.
    pub overdue: i64,
}

/// Referrals made in the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReferralFigures {
    /// Referrals.
    pub total: i64,
    /// By status.
    pub by_status: Counts,
    /// By reason.
    pub by_reason: Counts,
    /// By receiving team or organization.
    pub by_receiver: Counts,
    /// Connected, as a share of those answered to the end (connected or not).
    pub connected_rate: Option<f64>,
}

/// The directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OrgFigures {
    /// Organizations.
    pub total: i64,
    /// Added in the period.
    pub new: i64,
    /// The survey funnel: reached by the survey.
    pub surveyed: i64,
    /// Replied.
    pub replied: i64,
    /// Replied, and their work relates to the platform's (a willingness other than "not now").
    pub related: i64,
    /// Want to join, or joined.
    pub wants: i64,
    /// Joined.
    pub joined: i64,
    /// By willingness to join.
    pub by_participation: Counts,
    /// By sector.
    pub by_sector: Counts,
}

/// Places.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PlaceFigures {
    /// Places (not deleted).
    pub total: i64,
    /// Added in the period.
    pub new: i64,
    /// By category.
    pub by_category: Counts,
    /// By status.
    pub by_status: Counts,
    /// Whose opening hours were not checked for six months, or never.
    pub stale: i64,
}

/// A report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The months it covers.
    pub period: Period,
    /// Visits (absent from a member's report).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visits: Option<VisitFigures>,
    /// Follow-ups (absent from a member's report).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_ups: Option<FollowUpFigures>,
    /// Referrals (absent from a member's report).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrals: Option<ReferralFigures>,
    /// Organizations.
    pub orgs: OrgFigures,
    /// Places.
    pub places: PlaceFigures,
}

impl Report {
    /// Every figure as (section, dimension, label, count) rows; a total's label is empty.
    pub fn rows(&self) -> Vec<[String; 4]> {
        rows_of(&serde_json::to_value(self).expect("a report encodes"))
    }
}

/// Every figure of a report given as JSON (as it is, or as published) as (section, dimension,
/// label, count) rows; a total's label is empty.
pub fn rows_of(value: &serde_json::Value) -> Vec<[String; 4]> {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut rows = Vec::new();
    for (section, figures) in value.as_object().into_iter().flatten() {
        if section == "period" {
            continue;
        }
        for (key, v) in figures.as_object().into_iter().flatten() {
            match v {
                serde_json::Value::Object(map) => {
                    for (label, n) in map {
                        rows.push([section.clone(), key.clone(), label.clone(), text(n)]);
                    }
                }
                serde_json::Value::Null => {}
                n => rows.push([section.clone(), key.clone(), String::new(), text(n)]),
            }
        }
    }
    rows
}

/// Report rows as CSV that Excel opens (UTF-8 with BOM, CRLF); labels someone typed (team names)
/// never run as formulas.
pub fn rows_csv(rows: &[[String; 4]]) -> std::result::Result<Vec<u8>, csv::Error> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        w.write_record(["section", "dimension", "label", "count"])?;
        for [section, dimension, label, count] in rows {
            let label = crate::exchange::csv_export::neutralised(label).into_owned();
            w.write_record([section.as_str(), dimension, &label, count])?;
        }
        w.flush()?;
    }
    Ok(out)
}

fn add(counts: &mut Counts, label: impl Into<String>, n: i64) {
    *counts.entry(label.into()).or_insert(0) += n;
}

fn label(list: &'static [Term], id: &str, lang: Lang) -> String {
    taxonomy::lookup(list, id).map_or_else(|| id.to_string(), |t| t.label(lang).to_string())
}

impl Replica {
    /// The figures of `period` in `lang`, from what this device may see: a worker's count its own
    /// team's visits and the referrals it sent or received; a member's have no visit, follow-up
    /// or referral section.
    pub fn report(&mut self, period: &Period, lang: Lang) -> Result<Report> {
        let workspace = self.workspace()?;
        let team_name = |id: &str| {
            workspace
                .teams
                .iter()
                .find(|t| t.id == id)
                .map_or_else(|| id.to_string(), |t| t.name.clone())
        };
        let member = self.server()?.is_some_and(|s| s.role == Role::Member);
        let orgs = self.orgs()?;
        let (visits, follow_ups, referrals) = if member {
            (None, None, None)
        } else {
            let (v, f) = self.visit_figures(period, lang, &team_name)?;
            let org_name = |id: &str| {
                orgs.iter()
                    .find(|o| o.id == id)
                    .map_or_else(|| team_name(id), |o| o.name.clone())
            };
            (
                Some(v),
                Some(f),
                Some(self.referral_figures(period, lang, &org_name)?),
            )
        };
        let mut o = OrgFigures::default();
        for org in &orgs {
            o.total += 1;
            if period.holds(&org.added_at) {
                o.new += 1;
            }
            let p = org.participation.as_str();
            o.surveyed += i64::from(org.surveyed_on.is_some());
            o.replied += i64::from(org.replied);
            o.related += i64::from(org.replied && !p.is_empty() && p != "not_now");
            o.wants += i64::from(matches!(p, "wants" | "joined"));
            o.joined += i64::from(p == "joined");
            let participation = if org.participation.is_empty() {
                crate::i18n::t("未回答", "unknown").get(lang).to_string()
            } else {
                label(taxonomy::PARTICIPATION, &org.participation, lang)
            };
            add(&mut o.by_participation, participation, 1);
            add(
                &mut o.by_sector,
                label(taxonomy::SECTORS, &org.sector, lang),
                1,
            );
        }
        let mut p = PlaceFigures::default();
        for hit in self.places(&crate::PlaceQuery::default())? {
            let place = hit.place;
            p.total += 1;
            if period.holds(&place.added_at) {
                p.new += 1;
            }
            add(
                &mut p.by_category,
                label(taxonomy::CATEGORIES, &place.category, lang),
                1,
            );
            add(
                &mut p.by_status,
                label(taxonomy::STATUSES, &place.status, lang),
                1,
            );
        }
        p.stale = self.stale_places(6)?.len() as i64;
        Ok(Report {
            period: period.clone(),
            visits,
            follow_ups,
            referrals,
            orgs: o,
            places: p,
        })
    }

    /// Visits and follow-ups of the period: the visit documents this device holds, live visits
    /// (deleted ones left out) and, for months retention emptied, the counts kept in their place.
    fn visit_figures(
        &mut self,
        period: &Period,
        lang: Lang,
        team_name: &dyn Fn(&str) -> String,
    ) -> Result<(VisitFigures, FollowUpFigures)> {
        let today = now_jst().date().to_string();
        let mut v = VisitFigures::default();
        let mut f = FollowUpFigures::default();
        for doc_id in self.doc_ids()? {
            let crate::DocId::Visits { team, month } = &doc_id else {
                continue;
            };
            if !period.holds(month) {
                continue;
            }
            let doc = &mut self.loaded(&doc_id)?.doc;
            let summary = crate::doc::epoch::summary_of(doc);
            let team = team_name(team);
            for (key, n) in &summary {
                match key.split_once('/') {
                    None if key == "visits" => {
                        v.total += n;
                        add(&mut v.by_month, month.clone(), *n);
                        add(&mut v.by_team, team.clone(), *n);
                        add(
                            v.by_month_team.entry(month.clone()).or_default(),
                            team.clone(),
                            *n,
                        );
                    }
                    None if key == "people" => {
                        v.people += n;
                        add(&mut v.people_by_month, month.clone(), *n);
                    }
                    Some(("kind", kind)) => add(
                        &mut v.by_kind,
                        label(taxonomy::CONTACT_TYPES, kind, lang),
                        *n,
                    ),
                    Some(("target", target)) => add(
                        &mut v.by_target,
                        label(taxonomy::TARGET_GROUPS, target, lang),
                        *n,
                    ),
                    Some(("people_target", target)) => add(
                        &mut v.people_by_target,
                        label(taxonomy::TARGET_GROUPS, target, lang),
                        *n,
                    ),
                    Some(("follow_up", state)) => {
                        f.total += n;
                        if state == "done" {
                            f.done += n;
                        } else {
                            f.overdue += n;
                        }
                    }
                    _ => {}
                }
            }
            for (id, fields, _) in crate::doc::all_records(doc, RecordKind::Visit) {
                let visit = Visit::from_fields(&id, &fields);
                if visit.deleted_at.is_some() {
                    continue;
                }
                v.total += 1;
                v.people += i64::from(visit.people);
                add(&mut v.by_month, month.clone(), 1);
                add(
                    &mut v.people_by_month,
                    month.clone(),
                    i64::from(visit.people),
                );
                add(&mut v.by_team, team.clone(), 1);
                add(
                    v.by_month_team.entry(month.clone()).or_default(),
                    team.clone(),
                    1,
                );
                add(
                    &mut v.by_kind,
                    label(taxonomy::CONTACT_TYPES, &visit.kind, lang),
                    1,
                );
                for target in &visit.targets {
                    let target = label(taxonomy::TARGET_GROUPS, target, lang);
                    add(&mut v.by_target, target.clone(), 1);
                    add(&mut v.people_by_target, target, i64::from(visit.people));
                }
                if let Some(due) = &visit.follow_up {
                    f.total += 1;
                    if visit.follow_up_done {
                        f.done += 1;
                    } else if *due < today {
                        f.overdue += 1;
                    } else {
                        f.due += 1;
                    }
                }
            }
        }
        Ok((v, f))
    }

    /// Referrals made in the period.
    fn referral_figures(
        &mut self,
        period: &Period,
        lang: Lang,
        name_of: &dyn Fn(&str) -> String,
    ) -> Result<ReferralFigures> {
        let mut r = ReferralFigures::default();
        let (mut connected, mut ended) = (0, 0);
        for view in self.referrals(&super::ReferralQuery::default())? {
            let referral = view.referral;
            if view.legacy || !period.holds(&referral.created_at) {
                continue;
            }
            r.total += 1;
            add(
                &mut r.by_status,
                label(taxonomy::REFERRAL_STATUSES, &referral.status, lang),
                1,
            );
            add(
                &mut r.by_reason,
                label(taxonomy::REFERRAL_REASONS, &referral.reason, lang),
                1,
            );
            let to = referral
                .to_team
                .as_deref()
                .or(referral.to_org.as_deref())
                .unwrap_or("");
            add(&mut r.by_receiver, name_of(to), 1);
            match referral.status.as_str() {
                "connected" => {
                    connected += 1;
                    ended += 1;
                }
                "not_connected" => ended += 1,
                _ => {}
            }
        }
        r.connected_rate = (ended > 0).then(|| connected as f64 / ended as f64);
        Ok(r)
    }
}

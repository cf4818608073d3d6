//! `ibasho taxonomy`, `visit …`, `org …`, `conflicts`.

use super::args::{OrgCmd, ReferralCmd, VisitAdd, VisitCmd};
use super::out::outln;
use super::print_json;
use crate::text;
use anyhow::Result;
use ibasho_shared::hours::now_jst;
use ibasho_shared::i18n::Text;
use ibasho_shared::taxonomy::{self, Term};
use ibasho_shared::{Lang, Org, Replica, Visit, VisitQuery, validate};

pub(super) fn taxonomy(json: bool, lang: Lang) -> Result<()> {
    let tax = taxonomy::default_taxonomy();
    if json {
        return print_json(&tax);
    }
    let sections: [(Text, &[Term]); 6] = [
        (text::CATEGORIES_HEADING, tax.categories),
        (text::TARGETS_HEADING, tax.target_groups),
        (text::SECTORS_HEADING, tax.sectors),
        (text::CONTACT_TYPES_HEADING, tax.contact_types),
        (text::STATUSES_HEADING, tax.statuses),
        (text::PARTICIPATION_HEADING, tax.participation),
    ];
    for (heading, terms) in sections {
        outln!("# {}", heading.get(lang));
        for t in terms {
            outln!("{:<24} {}  /  {}", t.id, t.label.ja, t.label.en);
        }
        outln!();
    }
    Ok(())
}

pub(super) fn visit(replica: &mut Replica, cmd: &VisitCmd, lang: Lang) -> Result<()> {
    match cmd {
        VisitCmd::Add(add) => {
            let visit = replica.add_visit(new_visit(replica, add)?, add.note.as_deref())?;
            outln!("{}", visit.id);
        }
        VisitCmd::List { json, due, team } => {
            let q = VisitQuery {
                team: team.clone(),
                due_by: due.then(|| now_jst().date()),
                ..Default::default()
            };
            let visits = replica.visits(&q)?;
            if *json {
                let with_notes: Vec<serde_json::Value> = visits
                    .iter()
                    .map(|v| {
                        let mut value = serde_json::to_value(v).expect("visits encode");
                        value["private_note"] =
                            serde_json::json!(replica.private_note(&v.id).ok().flatten());
                        value
                    })
                    .collect();
                print_json(&with_notes)?;
            } else {
                for v in &visits {
                    let kind = taxonomy::lookup(taxonomy::CONTACT_TYPES, &v.kind)
                        .map(|t| t.label(lang))
                        .unwrap_or(&v.kind);
                    let due = v
                        .follow_up
                        .as_deref()
                        .map(|d| format!("  → {d}"))
                        .unwrap_or_default();
                    outln!(
                        "{}  {}  {kind}  {}{due}  {}",
                        v.id,
                        ibasho_shared::hours::shown_jst(&v.at),
                        v.people,
                        v.worker
                    );
                }
                eprintln!(
                    "{}",
                    text::fill(text::COUNT_VISITS, lang, &[("n", &visits.len())])
                );
            }
        }
        VisitCmd::Set { id, field, value } => {
            replica.set::<Visit>(id, field, value)?;
        }
        VisitCmd::Delete { id } => replica.delete::<Visit>(id)?,
        VisitCmd::Restore { id } => replica.restore::<Visit>(id)?,
    }
    Ok(())
}

fn new_visit(replica: &Replica, add: &VisitAdd) -> Result<Visit> {
    let now = now_jst();
    let at = match &add.at {
        Some(text) => validate::datetime("at", text, now)?,
        None => now,
    };
    let team = match &add.team {
        Some(t) => t.clone(),
        None => replica.default_team()?,
    };
    let mut visit = Visit::new(&team, &add.kind, at);
    visit.place_id = add.place.clone();
    visit.lat = add.lat;
    visit.lon = add.lon;
    visit.people = add.people;
    visit.follow_up = add.follow_up.clone();
    visit.targets = add
        .targets
        .iter()
        .flat_map(|t| validate::split_list(t))
        .collect();
    visit.follows = add.follows.clone();
    visit.referral_to = add.referral_to.clone();
    visit.referral_reason = add.referral_reason.clone().unwrap_or_default();
    Ok(visit)
}

pub(super) fn org(replica: &mut Replica, cmd: &OrgCmd, lang: Lang) -> Result<()> {
    match cmd {
        OrgCmd::Add {
            name,
            sector,
            contact,
            offers,
            participation,
            introduced_by,
            consent,
        } => {
            let org = Org {
                contact: contact.clone().unwrap_or_default(),
                offers: offers.clone().unwrap_or_default(),
                participation: participation.clone().unwrap_or_default(),
                introduced_by: introduced_by.clone().unwrap_or_default(),
                listing_consent: *consent,
                ..Org::new(name, sector)
            };
            outln!("{}", replica.add_org(org)?.id);
        }
        OrgCmd::List { json } => {
            let orgs = replica.orgs()?;
            if *json {
                print_json(&orgs)?;
            } else {
                for o in &orgs {
                    let sector = taxonomy::lookup(taxonomy::SECTORS, &o.sector)
                        .map(|t| t.label(lang))
                        .unwrap_or(&o.sector);
                    outln!("{}  {}  ({sector})  {}", o.id, o.name, o.offers);
                }
            }
        }
        OrgCmd::Set { id, field, value } => {
            replica.set::<Org>(id, field, value)?;
        }
        OrgCmd::Import { file, skip_invalid } => {
            let bytes = std::fs::read(file)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
            let report = replica.import_orgs_csv(&bytes, *skip_invalid)?;
            outln!("{}", report.message(lang));
        }
        OrgCmd::Export {
            format,
            out,
            public,
        } => {
            let orgs: Vec<Org> = replica
                .orgs()?
                .into_iter()
                .filter(|o| !public || o.listing_consent)
                .collect();
            let bytes = match format {
                super::args::OrgFormat::Csv => ibasho_shared::exchange::orgs_csv(&orgs, lang)?,
                super::args::OrgFormat::Geojson => {
                    let mut text = serde_json::to_string_pretty(
                        &ibasho_shared::exchange::orgs_geojson(&orgs, lang),
                    )?;
                    text.push('\n');
                    text.into_bytes()
                }
            };
            super::files::write_out(out.as_deref(), &bytes)?;
        }
    }
    Ok(())
}

pub(super) fn conflicts(replica: &mut Replica, json: bool, lang: Lang) -> Result<()> {
    let conflicts = replica.conflicts()?;
    if json {
        return print_json(&conflicts);
    }
    if conflicts.is_empty() {
        outln!("{}", text::NO_CONFLICTS.get(lang));
    }
    for c in &conflicts {
        outln!("{} {} {}", c.kind, c.record, c.field);
        for (i, v) in c.values.iter().enumerate() {
            outln!(
                "  {}. {:?}  — {} ({}) {}",
                i + 1,
                v.value.as_text(),
                v.by,
                v.device,
                ibasho_shared::hours::shown_jst(&v.at)
            );
        }
    }
    Ok(())
}

/// The erase log (coordinators see who and why).
pub(super) fn erasures(replica: &Replica, json: bool, lang: Lang) -> Result<()> {
    let log = replica.erasures()?;
    if json {
        return print_json(&log);
    }
    if log.is_empty() {
        outln!("{}", text::NO_ERASURES.get(lang));
    }
    for e in log {
        let what = match (&e.record, &e.field) {
            (None, _) => text::EVERY_RECORD.get(lang).to_string(),
            (Some(r), None) => r.clone(),
            (Some(r), Some(f)) => format!("{r} {}", ibasho_shared::i18n::field_label(f).get(lang)),
        };
        outln!(
            "{}  {}  {what}  {}  {}",
            ibasho_shared::hours::shown_jst(&e.at),
            e.doc,
            text::erasure_by(&e, lang),
            text::erasure_reason(&e, lang)
        );
    }
    Ok(())
}

/// A month given as `YYYY-MM`, or the error naming the flag.
fn month(flag: &str, text: &str, lang: Lang) -> Result<String> {
    match chrono::NaiveDate::parse_from_str(&format!("{}-01", text.trim()), "%Y-%m-%d") {
        // Written back as YYYY-MM, so that 2026-4 is April (months are compared as text).
        Ok(date) => Ok(date.format("%Y-%m").to_string()),
        Err(_) => anyhow::bail!(crate::text::fill(
            crate::text::NOT_A_MONTH,
            lang,
            &[("flag", &flag), ("text", &text)]
        )),
    }
}

/// What `ibasho report` was asked for.
pub(super) struct ReportArgs<'a> {
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub json: bool,
    pub csv: Option<&'a std::path::Path>,
    /// Publishing, with this minimum cell.
    pub min_cell: Option<i64>,
}

/// Outcome figures of a period, as they are or as published.
pub(super) fn report(replica: &mut Replica, args: ReportArgs<'_>, lang: Lang) -> Result<()> {
    let fiscal = ibasho_shared::Period::fiscal_year();
    let period = ibasho_shared::Period {
        from: args
            .from
            .map(|m| month("--from", m, lang))
            .transpose()?
            .unwrap_or(fiscal.from),
        to: args
            .to
            .map(|m| month("--to", m, lang))
            .transpose()?
            .unwrap_or(fiscal.to),
    };
    if period.from > period.to {
        anyhow::bail!(crate::text::fill(
            crate::text::TO_BEFORE_FROM,
            lang,
            &[("to", &period.to), ("from", &period.from)]
        ));
    }
    let report = replica.report(&period, lang)?;
    let value = match args.min_cell {
        Some(min) => replica.publish_report(&report, min)?,
        None => serde_json::to_value(&report)?,
    };
    let rows = ibasho_shared::rows_of(&value);
    if let Some(path) = args.csv {
        std::fs::write(path, ibasho_shared::rows_csv(&rows)?)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    if args.json {
        return print_json(&value);
    }
    outln!("{} 〜 {}", period.from, period.to);
    let mut section = String::new();
    for [s, dimension, label, count] in rows {
        if s != section {
            outln!("# {s}");
            section = s;
        }
        if label.is_empty() {
            outln!("  {dimension}: {count}");
        } else {
            outln!("  {dimension}  {label}: {count}");
        }
    }
    Ok(())
}

/// `ibasho referral …`.
pub(super) fn referral(replica: &mut Replica, cmd: &ReferralCmd, lang: Lang) -> Result<()> {
    use ibasho_shared::taxonomy::{REFERRAL_REASONS, REFERRAL_STATUSES, lookup};
    match cmd {
        ReferralCmd::Add(add) => {
            let targets = add
                .targets
                .iter()
                .flat_map(|t| ibasho_shared::validate::split_list(t))
                .collect();
            let referral = ibasho_shared::Referral {
                to_team: add.to_team.clone(),
                to_org: add.to_org.clone(),
                targets,
                people: add.people,
                due: add.due.clone(),
                visit: add.visit.clone(),
                summary: add.summary.clone().unwrap_or_default(),
                ..ibasho_shared::Referral::new("", &add.reason, ibasho_shared::hours::now_jst())
            };
            let added = replica.add_referral(referral)?;
            outln!("{}", added.id);
        }
        ReferralCmd::List {
            incoming,
            outgoing,
            status,
            json,
        } => {
            let status = status
                .as_deref()
                .map(|s| ibasho_shared::validate::term("status", REFERRAL_STATUSES, s))
                .transpose()?
                .map(String::from);
            let list = replica.referrals(&ibasho_shared::ReferralQuery {
                incoming: *incoming,
                outgoing: *outgoing,
                status,
            })?;
            if *json {
                return print_json(&list);
            }
            let label = |list: &'static [ibasho_shared::taxonomy::Term], id: &str| {
                lookup(list, id).map_or(id.to_string(), |t| t.label(lang).to_string())
            };
            let names = replica.party_names()?;
            let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
            for view in &list {
                let r = &view.referral;
                let status = view.status_text(lang);
                let to = r.to_team.clone().or(r.to_org.clone()).unwrap_or_default();
                outln!(
                    "{}  {}  {} → {}  {}  {}",
                    r.id,
                    ibasho_shared::hours::shown_jst(&r.created_at),
                    name(&r.from_team),
                    name(&to),
                    label(REFERRAL_REASONS, &r.reason),
                    status
                );
            }
            eprintln!(
                "{}",
                text::fill(text::COUNT_REFERRALS, lang, &[("n", &list.len())])
            );
        }
        ReferralCmd::Set {
            id,
            field,
            value,
            reason,
            note,
        } => {
            if field != "status" {
                return Err(ibasho_shared::Error::from(
                    ibasho_shared::validate::ValidationError::new(
                        field,
                        ibasho_shared::validate::Reason::UnknownField(field.clone()),
                    ),
                )
                .into());
            }
            replica.referral_step(id, value, reason.as_deref(), note.as_deref())?;
        }
        ReferralCmd::Escalate {
            reason,
            visit,
            summary,
            people,
        } => {
            let escalated = replica.escalate(ibasho_shared::Referral {
                visit: visit.clone(),
                summary: summary.clone().unwrap_or_default(),
                people: *people,
                ..ibasho_shared::Referral::new("", reason, ibasho_shared::hours::now_jst())
            })?;
            outln!("{}", escalated.id);
        }
        ReferralCmd::History { id, json } => super::places::history(replica, id, *json, lang)?,
        ReferralCmd::Withdraw { id, reason } => {
            replica.withdraw_referral(id, reason.as_deref())?;
        }
    }
    Ok(())
}

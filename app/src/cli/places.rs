//! `ibasho place …`

use super::args::{PlaceAdd, PlaceCmd, PlaceList};
use super::out::outln;
use super::print_json;
use crate::text;
use anyhow::{Context, Result};
use ibasho_shared::hours::{Hours, OpenState, now_jst};
use ibasho_shared::taxonomy::{self, CATEGORIES};
use ibasho_shared::{Lang, Place, PlaceQuery, Replica, validate};

pub(super) fn run(replica: &mut Replica, cmd: &PlaceCmd, lang: Lang) -> Result<()> {
    match cmd {
        PlaceCmd::Add(add) => {
            let place = replica.add_place(new_place(add)?)?;
            outln!("{}", place.id);
        }
        PlaceCmd::Set { id, field, value } => {
            replica.set::<Place>(id, field, value)?;
        }
        PlaceCmd::Delete { id } => replica.delete::<Place>(id)?,
        PlaceCmd::Checked { id } => {
            replica.confirm_place(id)?;
        }
        PlaceCmd::Restore { id } => replica.restore::<Place>(id)?,
        PlaceCmd::Show { id, json } => {
            let place = replica.get::<Place>(id)?;
            if *json {
                print_json(&place)?;
            } else {
                show(&place, lang);
            }
        }
        PlaceCmd::List(list) => {
            let hits = replica.places(&query(list)?)?;
            if list.json {
                print_json(&hits)?;
            } else {
                for hit in &hits {
                    let p = &hit.place;
                    let category = taxonomy::lookup(CATEGORIES, &p.category)
                        .map(|t| t.label(lang))
                        .unwrap_or(&p.category);
                    let distance = hit
                        .distance_m
                        .map(|d| format!("  {d:.0} m"))
                        .unwrap_or_default();
                    let deleted = if p.deleted_at.is_some() {
                        "  [deleted]"
                    } else {
                        ""
                    };
                    outln!("{}  {}  ({category}){distance}{deleted}", p.id, p.name);
                }
                eprintln!(
                    "{}",
                    text::fill(text::COUNT_PLACES, lang, &[("n", &hits.len())])
                );
            }
        }
        PlaceCmd::History { id, json } => history(replica, id, *json, lang)?,
    }
    Ok(())
}

fn new_place(add: &PlaceAdd) -> Result<Place> {
    let mut place = Place::new(&add.name, &add.category, add.lat, add.lon);
    place.targets = add
        .targets
        .iter()
        .flat_map(|t| validate::split_list(t))
        .collect();
    place.hours = add.hours.clone().unwrap_or_default();
    place.address = add.address.clone().unwrap_or_default();
    place.reading = add.reading.clone().unwrap_or_default();
    place.contact = add.contact.clone().unwrap_or_default();
    place.description = add.description.clone().unwrap_or_default();
    if let Some(status) = &add.status {
        place.status = status.clone();
    }
    place.listing_consent = add.consent;
    place.accuracy_m = add.accuracy_m;
    Ok(place)
}

fn query(list: &PlaceList) -> Result<PlaceQuery> {
    let near = match &list.near {
        Some(text) => {
            let (lat, lon) = text
                .split_once(',')
                .context("--near takes LAT,LON, e.g. 35.4889,139.4075")?;
            let lat = validate::parse_f64("lat", lat)?;
            let lon = validate::parse_f64("lon", lon)?;
            validate::location(lat, lon)?;
            if !(list.radius_m > 0.0 && list.radius_m <= 500_000.0) {
                anyhow::bail!("--radius-m must be between 0 and 500000 metres");
            }
            Some((lat, lon, list.radius_m))
        }
        None => None,
    };
    let term = |field, terms, value: &Option<String>| -> Result<Option<String>> {
        Ok(match value {
            Some(v) => Some(validate::term(field, terms, v)?.to_string()),
            None => None,
        })
    };
    Ok(PlaceQuery {
        near,
        category: term("category", CATEGORIES, &list.category)?,
        target: term("targets", taxonomy::TARGET_GROUPS, &list.target)?,
        status: term("status", taxonomy::STATUSES, &list.status)?,
        open_at: list.open_now.then(now_jst),
        search: list.search.clone(),
        include_deleted: list.deleted,
        checked_before: list.stale.then(|| {
            let today = now_jst().date();
            today
                .checked_sub_months(chrono::Months::new(list.stale_months))
                .unwrap_or(today)
        }),
        ..Default::default()
    })
}

fn show(p: &Place, lang: Lang) {
    let label = |list, id: &str| {
        taxonomy::lookup(list, id)
            .map(|t| t.label(lang).to_string())
            .unwrap_or_else(|| id.to_string())
    };
    let field = |name: &str| ibasho_shared::i18n::field_label(name).get(lang);
    outln!("{}: {}", field("name"), p.name);
    outln!("id: {}", p.id);
    outln!("{}: {}", field("category"), label(CATEGORIES, &p.category));
    let targets: Vec<String> = p
        .targets
        .iter()
        .map(|t| label(taxonomy::TARGET_GROUPS, t))
        .collect();
    outln!("{}: {}", field("targets"), targets.join("、"));
    outln!("{}: {}, {}", field("location"), p.lat, p.lon);
    outln!("{}: {}", field("address"), p.address);
    let now = now_jst();
    let state = Hours::parse(&p.hours)
        .ok()
        .filter(|_| !p.hours.is_empty())
        .map(|h| {
            let word = match h.state(now) {
                OpenState::Open => text::OPEN.get(lang),
                OpenState::Closed => text::CLOSED.get(lang),
                OpenState::Unknown => "?",
            };
            match h.next_change(now) {
                Some(next) => format!(" [{word}, → {}]", next.format("%m/%d %H:%M")),
                None => format!(" [{word}]"),
            }
        });
    outln!(
        "{}: {}{}",
        field("hours"),
        p.hours,
        state.unwrap_or_default()
    );
    outln!(
        "{}: {}",
        field("status"),
        label(taxonomy::STATUSES, &p.status)
    );
    outln!("{}: {}", field("listing_consent"), p.listing_consent);
    if let Some(d) = &p.deleted_at {
        outln!("deleted_at: {d}");
    }
}

/// Who changed what of record `id`, when (any kind: `place history`, `referral history`).
pub(super) fn history(replica: &mut Replica, id: &str, json: bool, lang: Lang) -> Result<()> {
    let history = replica.history(id)?;
    if json {
        return print_json(&history);
    }
    // Once joined, a name the server does not vouch for is marked.
    let joined = replica.server()?.is_some();
    for h in history {
        let unverified = if h.vouched || !joined {
            ""
        } else {
            text::UNVERIFIED.get(lang)
        };
        let what = if h.changes.is_empty() {
            text::CREATED.get(lang)
        } else {
            ""
        };
        outln!(
            "{}  {}{unverified} ({})  {what}",
            ibasho_shared::hours::shown_jst(&h.at),
            h.by,
            h.device,
        );
        for c in &h.changes {
            let label = ibasho_shared::i18n::field_label(&c.field).get(lang);
            let shown = |v: &str| {
                if v.is_empty() {
                    "—".to_string()
                } else {
                    v.to_string()
                }
            };
            outln!("  {label}: {} → {}", shown(&c.old), shown(&c.new));
        }
    }
    Ok(())
}

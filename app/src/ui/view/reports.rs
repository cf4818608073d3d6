//! 報告: the figures of the current fiscal year as charts a coordinator would put in a slide —
//! visits per month stacked by team, people reached by target group, the referral and organization
//! funnels, places by category in the map's colours. SVG drawn here (no chart library fetched at
//! run time), a "copy as CSV" and a print-friendly view.

use super::super::text as t;
use super::{category_color, use_model};
use dioxus::prelude::*;
use ibasho_shared::Report;

/// Team colours for stacked bars (the map's palette).
const SERIES: [&str; 8] = [
    "#2e86de", "#e4572e", "#29bf12", "#f3a712", "#8e44ad", "#ff66b3", "#a8763e", "#5f6c7b",
];

/// Horizontal bars: label, value, colour.
#[component]
fn Bars(title: String, bars: Vec<(String, i64, String)>) -> Element {
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1) as f64;
    let row = 26.0;
    let height = (bars.len() as f64 * row).max(row);
    rsx! {
        figure { class: "chart",
            figcaption { "{title}" }
            svg { view_box: "0 0 400 {height}", width: "400", height: "{height}", role: "img", "aria-label": "{title}",
                for (i, (label, value, color)) in bars.iter().enumerate() {
                    {
                        let y = i as f64 * row;
                        let w = (*value as f64 / max) * 220.0;
                        rsx! {
                            text { x: "0", y: "{y + 17.0}", font_size: "12", "{label}" }
                            rect { x: "140", y: "{y + 5.0}", width: "{w}", height: "16", fill: "{color}", rx: "2" }
                            text { x: "{146.0 + w}", y: "{y + 17.0}", font_size: "12", "{value}" }
                        }
                    }
                }
            }
        }
    }
}

/// Visits per month, each bar stacked by team.
#[component]
fn StackedMonths(
    title: String,
    months: Vec<(String, Vec<(String, i64)>)>,
    teams: Vec<String>,
) -> Element {
    let max = months
        .iter()
        .map(|(_, parts)| parts.iter().map(|p| p.1).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let width = (months.len() as f64 * 34.0).max(120.0) + 20.0;
    let colour =
        |team: &str| SERIES[teams.iter().position(|t| t == team).unwrap_or(0) % SERIES.len()];
    rsx! {
        figure { class: "chart",
            figcaption { "{title}" }
            svg { view_box: "0 0 {width} 190", width: "{width}", height: "190", role: "img", "aria-label": "{title}",
                for (i, (month, parts)) in months.iter().enumerate() {
                    {
                        let x = 10.0 + i as f64 * 34.0;
                        let mut top = 160.0;
                        let bars: Vec<(f64, f64, &'static str)> = parts
                            .iter()
                            .map(|(team, n)| {
                                let h = *n as f64 / max * 140.0;
                                top -= h;
                                (top, h, colour(team))
                            })
                            .collect();
                        let total: i64 = parts.iter().map(|p| p.1).sum();
                        let label = month.get(5..).unwrap_or(month).to_string();
                        rsx! {
                            for (y, h, c) in bars {
                                rect { x: "{x}", y: "{y}", width: "26", height: "{h}", fill: "{c}" }
                            }
                            text { x: "{x}", y: "{top - 4.0}", font_size: "10", "{total}" }
                            text { x: "{x + 4.0}", y: "176", font_size: "10", "{label}" }
                        }
                    }
                }
            }
            ul { class: "legend",
                for (i, team) in teams.iter().enumerate() {
                    li { span { class: "swatch", style: "background: {SERIES[i % SERIES.len()]}" } "{team}" }
                }
            }
        }
    }
}

/// A funnel: each step's count as a bar, the first one the widest.
fn funnel(steps: &[(&str, i64)]) -> Vec<(String, i64, String)> {
    steps
        .iter()
        .map(|(label, n)| (label.to_string(), *n, "#2e86de".to_string()))
        .collect()
}

fn bars_of(map: &ibasho_shared::Counts, color: &str) -> Vec<(String, i64, String)> {
    let mut bars: Vec<(String, i64, String)> = map
        .iter()
        .map(|(k, v)| (k.clone(), *v, color.to_string()))
        .collect();
    bars.sort_by_key(|b| std::cmp::Reverse(b.1));
    bars
}

#[component]
pub(crate) fn ReportsScreen() -> Element {
    let model = use_model();
    let (lang, report) = {
        let m = model.read();
        (m.lang, m.report.clone())
    };
    let Some(report) = report else {
        return rsx! { p { "—" } };
    };
    let csv = ibasho_shared::rows_csv(&report.rows())
        .map(|b| {
            String::from_utf8_lossy(&b)
                .trim_start_matches('\u{feff}')
                .to_string()
        })
        .unwrap_or_default();
    let Report {
        period,
        visits,
        referrals,
        orgs,
        places,
        ..
    } = report;
    let categories: Vec<(String, i64, String)> = {
        let mut bars: Vec<(String, i64, String)> = places
            .by_category
            .iter()
            .map(|(label, n)| {
                let id = ibasho_shared::taxonomy::CATEGORIES
                    .iter()
                    .find(|c| c.label(lang) == label)
                    .map_or("", |c| c.id);
                (label.clone(), *n, category_color(id).to_string())
            })
            .collect();
        bars.sort_by_key(|b| std::cmp::Reverse(b.1));
        bars
    };
    rsx! {
        section { class: "reports",
            div { class: "report-head",
                h2 { {format!("{} {} 〜 {}", t::TAB_REPORTS.get(lang), period.from, period.to)} }
                button {
                    id: "copy-csv",
                    onclick: move |_| {
                        let script = format!("navigator.clipboard.writeText({})", serde_json::to_string(&csv).unwrap_or_default());
                        document::eval(&script);
                        let mut m = model;
                        m.write().flash = Some(t::COPIED.get(lang).to_string());
                    },
                    {t::COPY_CSV.get(lang)}
                }
                button { id: "print", onclick: move |_| { document::eval("window.print()"); }, {t::PRINT.get(lang)} }
            }
            if let Some(v) = visits {
                {
                    let teams: Vec<String> = v.by_team.keys().cloned().collect();
                    let months: Vec<(String, Vec<(String, i64)>)> = v
                        .by_month_team
                        .iter()
                        .map(|(month, parts)| (month.clone(), parts.iter().map(|(k, n)| (k.clone(), *n)).collect()))
                        .collect();
                    rsx! {
                        p { class: "figures", {t::fill(t::REPORT_VISITS, lang, &[("visits", &v.total), ("people", &v.people)])} }
                        StackedMonths { title: t::CHART_MONTHS.get(lang).to_string(), months, teams }
                        Bars { title: t::CHART_TARGETS.get(lang).to_string(), bars: bars_of(&v.people_by_target, "#29bf12") }
                    }
                }
            }
            if let Some(r) = referrals {
                {
                    let answered: i64 = r
                        .by_status
                        .iter()
                        .filter(|(k, _)| k.as_str() != ibasho_shared::taxonomy::REFERRAL_STATUSES[0].label(lang))
                        .map(|(_, n)| n)
                        .sum();
                    let connected = r
                        .by_status
                        .get(ibasho_shared::taxonomy::REFERRAL_STATUSES[5].label(lang))
                        .copied()
                        .unwrap_or(0);
                    rsx! {
                        Bars {
                            title: t::CHART_REFERRALS.get(lang).to_string(),
                            bars: funnel(&[(t::FUNNEL_SENT.get(lang), r.total), (t::FUNNEL_ANSWERED.get(lang), answered), (t::FUNNEL_CONNECTED.get(lang), connected)]),
                        }
                    }
                }
            }
            Bars {
                title: t::CHART_ORGS.get(lang).to_string(),
                bars: funnel(&[
                    (t::FUNNEL_SURVEYED.get(lang), orgs.surveyed),
                    (t::FUNNEL_REPLIED.get(lang), orgs.replied),
                    (t::FUNNEL_RELATED.get(lang), orgs.related),
                    (t::FUNNEL_WANTS.get(lang), orgs.wants),
                    (t::FUNNEL_JOINED.get(lang), orgs.joined),
                ]),
            }
            Bars { title: t::CHART_PLACES.get(lang).to_string(), bars: categories }
            p { class: "meta", {t::fill(t::STALE_COUNT, lang, &[("n", &places.stale)])} }
        }
    }
}

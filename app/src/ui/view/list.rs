//! List & search: Japanese full-text search, filters, distance from the map centre.

use super::super::model::{ListFilter, is_stale};
use super::super::text as t;
use super::{act, label, use_model};
use dioxus::prelude::*;
use ibasho_shared::hours::{Hours, OpenState, now_jst};
use ibasho_shared::taxonomy::{CATEGORIES, STATUSES, TARGET_GROUPS};

#[component]
pub(crate) fn ListScreen() -> Element {
    let model = use_model();
    let mut filters = use_context::<Signal<ListFilter>>();
    let lang = model.read().lang;
    let filter = filters.read().clone();
    // Read again when the filters or the data change, not on every draw.
    let hits = use_memo(move || model.read().list(&filters.read()).unwrap_or_default());
    let hits = hits.read().clone();
    let now = now_jst();
    rsx! {
        section { class: "list",
            div { class: "filters",
                label { class: "grow",
                    span { class: "visually-hidden", {t::SEARCH.get(lang)} }
                    input {
                        id: "search",
                        r#type: "search",
                        placeholder: t::SEARCH.get(lang),
                        initial_value: "{filter.search}",
                        oninput: move |e| filters.write().search = e.value(),
                    }
                }
                select {
                    "aria-label": t::ALL_CATEGORIES.get(lang),
                    onchange: move |e| filters.write().category = e.value(),
                    option { value: "", {t::ALL_CATEGORIES.get(lang)} }
                    for c in CATEGORIES {
                        option { value: c.id, selected: filter.category == c.id, {c.label(lang)} }
                    }
                }
                select {
                    "aria-label": t::ALL_TARGETS.get(lang),
                    onchange: move |e| filters.write().target = e.value(),
                    option { value: "", {t::ALL_TARGETS.get(lang)} }
                    for g in TARGET_GROUPS {
                        option { value: g.id, selected: filter.target == g.id, {g.label(lang)} }
                    }
                }
                select {
                    "aria-label": t::ALL_STATUSES.get(lang),
                    onchange: move |e| filters.write().status = e.value(),
                    option { value: "", {t::ALL_STATUSES.get(lang)} }
                    for s in STATUSES {
                        option { value: s.id, selected: filter.status == s.id, {s.label(lang)} }
                    }
                }
                label { class: "check",
                    input {
                        r#type: "checkbox",
                        checked: filter.open_now,
                        onchange: move |e| filters.write().open_now = e.checked(),
                    }
                    {t::OPEN_NOW.get(lang)}
                }
                label { class: "check",
                    input {
                        r#type: "checkbox",
                        id: "stale-only",
                        checked: filter.stale,
                        onchange: move |e| filters.write().stale = e.checked(),
                    }
                    {t::TO_RECHECK.get(lang)}
                }
            }
            p { class: "count", "{hits.len()} {t::PLACES_COUNT.get(lang)}" }
            ul { class: "places",
                for hit in hits.into_iter().take(500) {
                    {
                        let id = hit.place.id.clone();
                        let open = Hours::parse(&hit.place.hours).ok().filter(|_| !hit.place.hours.is_empty()).map(|h| h.state(now));
                        let distance = hit.distance_m.map(|d| if d < 1000.0 { format!("{d:.0} m") } else { format!("{:.1} km", d / 1000.0) });
                        rsx! {
                            li { key: "{id}",
                                button {
                                    class: "row",
                                    onclick: move |_| { let id = id.clone(); act(model, |m| m.open_place(&id)); },
                                    span { class: "dot", style: "background: {super::category_color(&hit.place.category)}" }
                                    span { class: "name", "{hit.place.name}" }
                                    span { class: "meta", {label(CATEGORIES, &hit.place.category, lang)} }
                                    match open {
                                        Some(OpenState::Open) => rsx! { span { class: "badge open", {t::OPEN.get(lang)} } },
                                        Some(OpenState::Closed) => rsx! { span { class: "badge closed", {t::CLOSED.get(lang)} } },
                                        _ => rsx! {},
                                    }
                                    if let Some(d) = distance {
                                        span { class: "distance", title: t::DISTANCE.get(lang), "{d}" }
                                    }
                                }
                                if is_stale(&hit.place) {
                                    {
                                        let id = hit.place.id.clone();
                                        rsx! {
                                            button {
                                                class: "link",
                                                id: "confirm-{hit.place.id}",
                                                title: t::TO_RECHECK.get(lang),
                                                onclick: move |_| { let id = id.clone(); act(model, move |m| m.confirm_place(&id)); },
                                                {t::STILL_CORRECT.get(lang)}
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

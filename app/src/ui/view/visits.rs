//! Visits: log a visit (kind, people reached, target groups, follow-up date, referral, private
//! note), follow-ups due, and the team's log. Never rendered for the member role.

use super::super::model::VisitForm;
use super::super::text as t;
use super::{act, label, use_model};
use dioxus::prelude::*;
use ibasho_shared::taxonomy::CONTACT_TYPES;

fn edit(model: Signal<super::super::model::AppModel>, f: impl FnOnce(&mut VisitForm)) {
    let mut m = model;
    if let Some(form) = m.write().visit_form.as_mut() {
        f(form);
        form.error = None;
    }
}

#[component]
pub(crate) fn VisitsScreen() -> Element {
    let model = use_model();
    if !model.read().can_see_visits() {
        return rsx! {};
    }
    let (lang, form) = {
        let m = model.read();
        (m.lang, m.visit_form.clone())
    };
    let teams = model.read().visit_teams();
    let choices = if form.as_ref().is_some_and(|f| f.place_id.is_none()) {
        model.read().visit_place_choices()
    } else {
        Vec::new()
    };
    let (due, log, orgs, names) = {
        let lists = &model.read().lists;
        (
            lists.due.clone(),
            lists.log.clone(),
            lists.orgs.clone(),
            lists.place_names.clone(),
        )
    };
    let place_of = |v: &ibasho_shared::Visit| {
        v.place_id
            .as_ref()
            .and_then(|id| names.get(id).cloned())
            .unwrap_or_else(|| "—".into())
    };
    rsx! {
        section { class: "visits",
            if let Some(form) = form {
                form {
                    class: "visit-form",
                    id: "visit-form",
                    onsubmit: move |e| { e.prevent_default(); act(model, |m| m.save_visit().map(|_| ())); },
                    h2 { {t::LOG_VISIT.get(lang)} if !form.place_name.is_empty() { " — {form.place_name}" } }
                    if teams.len() > 1 || form.team.is_empty() {
                        div { class: if form.error.as_ref().is_some_and(|e| e.field == "team") { "field invalid" } else { "field" },
                            label { r#for: "visit-team", {t::TEAM.get(lang)} }
                            select { id: "visit-team", onchange: move |e| edit(model, |f| f.team = e.value()),
                                option { value: "", selected: form.team.is_empty(), {t::CHOOSE_TEAM.get(lang)} }
                                for team in teams.iter() {
                                    option { key: "{team.id}", value: "{team.id}", selected: form.team == team.id, "{team.name}" }
                                }
                            }
                        }
                    }
                    div { class: "field place-picker",
                        label { r#for: "visit-place-search", {t::PLACE.get(lang)} }
                        if form.place_id.is_some() {
                            p { class: "chosen",
                                "{form.place_name} "
                                button { r#type: "button", class: "link", id: "visit-no-place", onclick: move |_| { let mut m = model; m.write().choose_visit_place(None); }, {t::CHANGE.get(lang)} }
                            }
                        } else {
                            input { id: "visit-place-search", r#type: "search", placeholder: t::SEARCH_NEAREST.get(lang), initial_value: "{form.place_search}", oninput: move |e| edit(model, |f| f.place_search = e.value()) }
                            p { class: "hint", {t::NO_PLACE.get(lang)} }
                            ul { class: "choices",
                                for hit in choices.iter() {
                                    {
                                        let (id, name) = (hit.place.id.clone(), hit.place.name.clone());
                                        let distance = hit.distance_m.map(|d| if d < 1000.0 { format!("{d:.0} m") } else { format!("{:.1} km", d / 1000.0) }).unwrap_or_default();
                                        rsx! {
                                            li { key: "{id}",
                                                button { r#type: "button", class: "link", onclick: move |_| { let mut m = model; m.write().choose_visit_place(Some((id.clone(), name.clone()))); }, "{hit.place.name}" }
                                                span { class: "meta", " {distance}" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    div { class: "field",
                        label { r#for: "visit-kind", {t::KIND.get(lang)} }
                        select { id: "visit-kind", onchange: move |e| edit(model, |f| f.kind = e.value()),
                            for k in CONTACT_TYPES {
                                option { value: k.id, selected: form.kind == k.id, {k.label(lang)} }
                            }
                        }
                    }
                    div { class: if form.error.as_ref().is_some_and(|e| e.field == "people") { "field invalid" } else { "field" },
                        label { r#for: "visit-people", {t::PEOPLE.get(lang)} }
                        input { id: "visit-people", r#type: "number", min: "0", initial_value: "{form.people}", oninput: move |e| edit(model, |f| f.people = e.value()) }
                    }
                    super::TargetsField { selected: form.targets.clone(), on_toggle: move |(id, on): (&str, bool)| edit(model, |f| super::toggle(&mut f.targets, id, on)) }
                    div { class: "field",
                        label { r#for: "visit-follow-up", {t::FOLLOW_UP.get(lang)} }
                        // Text in one date format everywhere (a date input shows the system
                        // locale's, e.g. 12/06/2026).
                        input { id: "visit-follow-up", r#type: "text", inputmode: "numeric", placeholder: "YYYY-MM-DD", pattern: "[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}", initial_value: "{form.follow_up}", oninput: move |e| edit(model, |f| f.follow_up = e.value()) }
                    }
                    div { class: "field",
                        label { r#for: "visit-referral", {t::REFER_TO.get(lang)} }
                        select { id: "visit-referral", onchange: move |e| edit(model, |f| f.referral_to = e.value()),
                            option { value: "", {t::NONE.get(lang)} }
                            for o in orgs.iter() {
                                option { key: "{o.id}", value: "{o.id}", selected: form.referral_to == o.id, "{o.name}" }
                            }
                        }
                    }
                    div { class: "field",
                        label { r#for: "visit-note", {t::NOTE.get(lang)} }
                        textarea { id: "visit-note", initial_value: "{form.note}", oninput: move |e| edit(model, |f| f.note = e.value()) }
                        p { class: "hint", {t::PRIVATE_NOTE_HINT.get(lang)} }
                    }
                    if let Some(e) = &form.error {
                        p { class: "error", role: "alert", {e.message(lang)} }
                    }
                    div { class: "actions",
                        button { r#type: "submit", class: "primary", id: "save-visit", {t::SAVE.get(lang)} }
                        button { r#type: "button", onclick: move |_| { let mut m = model; m.write().visit_form = None; }, {t::CANCEL.get(lang)} }
                    }
                }
            } else {
                button { class: "primary", id: "new-visit", onclick: move |_| { let mut m = model; m.write().start_visit(None); }, {t::LOG_VISIT.get(lang)} }
            }
            h2 { {t::FOLLOW_UPS_DUE.get(lang)} }
            if due.is_empty() {
                p { class: "empty", {t::NO_VISITS.get(lang)} }
            }
            ul { class: "due",
                for v in due.iter() {
                    {
                        let id = v.id.clone();
                        rsx! {
                            li { key: "{v.id}",
                                span { class: "date", "{v.follow_up.clone().unwrap_or_default()}" }
                                span { "{place_of(v)}" }
                                span { class: "meta", {label(CONTACT_TYPES, &v.kind, lang)} }
                                button { onclick: move |_| { let id = id.clone(); act(model, |m| m.mark_follow_up_done(&id)); }, {t::MARK_DONE.get(lang)} }
                            }
                        }
                    }
                }
            }
            h2 { {t::TEAM_LOG.get(lang)} }
            ul { class: "log",
                for v in log.iter().take(200) {
                    li { key: "{v.id}",
                        span { class: "date", "{v.at.replace('T', \" \").get(..16).unwrap_or_default()}" }
                        span { "{place_of(v)}" }
                        span { class: "meta", {label(CONTACT_TYPES, &v.kind, lang)} }
                        span { class: "meta", "{v.people}" }
                        span { class: "meta", "{v.worker}" }
                        {
                            let id = v.id.clone();
                            rsx! {
                                button {
                                    class: "link",
                                    onclick: move |_| { let mut m = model; m.write().start_referral(Some(&id)); },
                                    {t::REFER.get(lang)}
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

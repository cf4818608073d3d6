//! A place: every field of the domain, inline validation in the UI language, opening hours with
//! "open now / next change", status, listing consent, history and conflicts with a one-tap choice.

use super::super::model::{PlaceForm, form_fields};
use super::super::text as t;
use super::{act, label, use_model};
use dioxus::prelude::*;
use ibasho_shared::domain::schema::FieldType;
use ibasho_shared::hours::{Hours, OpenState, now_jst};
use ibasho_shared::i18n::field_label;
use ibasho_shared::taxonomy::{CATEGORIES, STATUSES};

/// A labelled text input bound to one form field.
#[component]
fn Field(
    name: &'static str,
    value: String,
    error: Option<String>,
    multiline: bool,
    #[props(default)] autofocus: bool,
    on_input: EventHandler<String>,
) -> Element {
    let model = use_model();
    let lang = model.read().lang;
    let id = format!("place-{name}");
    rsx! {
        div { class: if error.is_some() { "field invalid" } else { "field" },
            label { r#for: "{id}", {field_label(name).get(lang)} }
            if multiline {
                textarea { id: "{id}", name: "{name}", initial_value: "{value}", oninput: move |e| on_input.call(e.value()) }
            } else {
                input { id: "{id}", name: "{name}", initial_value: "{value}", autofocus, "aria-invalid": error.is_some(), oninput: move |e| on_input.call(e.value()) }
            }
            if let Some(message) = error.clone() {
                p { class: "error", role: "alert", "{message}" }
            }
        }
    }
}

/// Whether a field is drawn as a text input (the others as a select, checkboxes or a checkbox).
fn shown_as_text(ty: FieldType) -> bool {
    !matches!(
        ty,
        FieldType::Term(_) | FieldType::Targets | FieldType::Terms(_) | FieldType::Flag
    )
}

fn edit(model: Signal<super::super::model::AppModel>, f: impl FnOnce(&mut PlaceForm)) {
    let mut m = model;
    if let Some(form) = m.write().form.as_mut() {
        f(form);
        form.error = None;
    }
}

#[component]
pub(crate) fn PlaceScreen() -> Element {
    let model = use_model();
    let (lang, form, can_visit, joined) = {
        let m = model.read();
        (m.lang, m.form.clone(), m.can_see_visits(), m.role.is_some())
    };
    // Once joined, a name the server does not vouch for is marked.
    let unverified = |vouched: bool| {
        if vouched || !joined {
            ""
        } else {
            t::UNVERIFIED.get(lang)
        }
    };
    let Some(form) = form else {
        return rsx! { p { "—" } };
    };
    let error_for = |field: &str| {
        form.error
            .as_ref()
            .filter(|e| e.field == field || (field == "lat" && e.field == "location"))
            .map(|e| e.message(lang))
            .or_else(|| {
                // Another device changed what the person is editing: saving keeps what they typed.
                form.changed_elsewhere
                    .contains(&field)
                    .then(|| t::CHANGED_ELSEWHERE.get(lang).to_string())
            })
    };
    // Errors of fields drawn as text inputs show beside them; the others below the form.
    let other_error = form
        .error
        .as_ref()
        .filter(|e| {
            e.field != "location"
                && !form_fields().any(|f| f.name == e.field && shown_as_text(f.ty))
        })
        .map(|e| e.message(lang));
    let (history, conflicts) = (form.history.clone(), form.conflicts.clone());
    let now = now_jst();
    let far_away = match (
        form.text("lat").trim().parse::<f64>(),
        form.text("lon").trim().parse::<f64>(),
    ) {
        (Ok(lat), Ok(lon)) => model.read().map.far_away_warning(lat, lon, lang),
        _ => None,
    };
    let hours_state = Hours::parse(form.text("hours"))
        .ok()
        .filter(|_| !form.text("hours").trim().is_empty())
        .map(|h| (h.state(now), h.next_change(now)));
    let title = if form.id.is_some() {
        t::EDIT_PLACE.get(lang)
    } else {
        t::NEW_PLACE.get(lang)
    };
    rsx! {
        section { class: "place",
            // A form opens at its top, wherever the screen was scrolled before.
            h2 {
                key: "{form.id.clone().unwrap_or_default()}",
                onmounted: move |e| async move {
                    let _ = e.scroll_to(ScrollBehavior::Instant).await;
                },
                "{title}"
            }
            if form.deleted {
                p { class: "deleted", {t::DELETED.get(lang)} }
            }
            if form.id.is_some() {
                p { class: "meta", {format!("{}: {}", t::ADDED_BY.get(lang), form.added)} }
            }
            form {
                class: "place-form",
                id: "place-form",
                onsubmit: move |e| {
                    e.prevent_default();
                    act(model, |m| m.save_place().map(|_| ()));
                },
                for f in form_fields() {
                    match f.ty {
                        // Latitude and longitude side by side (longitude is drawn with latitude).
                        FieldType::Number if f.name == "lon" => rsx! {},
                        FieldType::Number if f.name == "lat" => rsx! {
                            div { class: "row2",
                                Field { name: "lat", value: form.text("lat").to_string(), error: error_for("lat"), multiline: false, on_input: move |v| edit(model, |f| f.set("lat", v)) }
                                Field { name: "lon", value: form.text("lon").to_string(), error: error_for("lon"), multiline: false, on_input: move |v| edit(model, |f| f.set("lon", v)) }
                            }
                            if let Some(warning) = far_away {
                                p { class: "warning", role: "note", id: "far-away", "{warning}" }
                            }
                        },
                        FieldType::Term(list) => rsx! {
                            div { class: "field",
                                label { r#for: "place-{f.name}", {f.label.get(lang)} }
                                select { id: "place-{f.name}", onchange: move |e| edit(model, |form| form.set(f.name, e.value())),
                                    for term in list {
                                        option { value: term.id, selected: form.text(f.name) == term.id, {term.label(lang)} }
                                    }
                                }
                            }
                        },
                        FieldType::Targets => rsx! {
                            super::TargetsField {
                                selected: form.list(f.name),
                                on_toggle: move |(id, on): (&str, bool)| edit(model, |form| {
                                    let mut list = form.list(f.name);
                                    super::toggle(&mut list, id, on);
                                    form.set(f.name, list.join(","));
                                }),
                            }
                        },
                        FieldType::Flag => rsx! {
                            label { class: "check",
                                input { r#type: "checkbox", checked: form.flag(f.name), onchange: move |e| edit(model, |form| form.set(f.name, e.checked().to_string())) }
                                {f.label.get(lang)}
                            }
                        },
                        _ => rsx! {
                            Field {
                                name: f.name,
                                value: form.text(f.name).to_string(),
                                error: error_for(f.name),
                                multiline: f.ty == FieldType::Prose,
                                autofocus: f.name == "name" && form.id.is_none(),
                                on_input: move |v| edit(model, |form| form.set(f.name, v)),
                            }
                            if f.name == "hours" {
                                if let Some((state, next)) = hours_state {
                                    p { class: "hours-state",
                                        match state {
                                            OpenState::Open => rsx! { span { class: "badge open", {t::OPEN.get(lang)} } },
                                            OpenState::Closed => rsx! { span { class: "badge closed", {t::CLOSED.get(lang)} } },
                                            OpenState::Unknown => rsx! { span { class: "badge", "?" } },
                                        }
                                        if let Some(next) = next {
                                            span { {format!(" {} {}", t::OPENS_AT.get(lang), next.format("%m/%d %H:%M"))} }
                                        }
                                    }
                                }
                            }
                        },
                    }
                }
                if let Some(message) = other_error {
                    p { class: "error", role: "alert", "{message}" }
                }
                div { class: "actions",
                    button { r#type: "submit", class: "primary", id: "save-place", {t::SAVE.get(lang)} }
                    button { r#type: "button", onclick: move |_| { let mut m = model; m.write().cancel_place(); }, {t::CANCEL.get(lang)} }
                    if form.id.is_some() && can_visit {
                        button {
                            r#type: "button",
                            id: "log-visit",
                            onclick: move |_| act(model, |m| m.log_visit_here()),
                            {t::LOG_VISIT.get(lang)}
                        }
                        button {
                            r#type: "button",
                            id: "refer-from-place",
                            onclick: move |_| { let mut m = model; m.write().refer_from_place(); },
                            {t::REFER.get(lang)}
                        }
                    }
                    if form.id.is_some() {
                        if form.deleted {
                            button { r#type: "button", onclick: move |_| act(model, |m| m.set_place_deleted(false)), {t::RESTORE.get(lang)} }
                        } else {
                            button { r#type: "button", class: "danger", onclick: move |_| act(model, |m| m.set_place_deleted(true)), {t::DELETE.get(lang)} }
                        }
                    }
                }
            }
            if !conflicts.is_empty() {
                section { class: "conflicts",
                    h3 { {t::CONFLICTS.get(lang)} }
                    for c in conflicts {
                        div { class: "conflict", key: "{c.field}",
                            strong { {field_label(&c.field).get(lang)} }
                            for (i, v) in c.values.iter().enumerate() {
                                {
                                    let (record, field) = (c.record.clone(), c.field.clone());
                                    let shown = match c.field.as_str() {
                                        "category" => label(CATEGORIES, &v.value.as_text(), lang),
                                        "status" => label(STATUSES, &v.value.as_text(), lang),
                                        _ => v.value.as_text(),
                                    };
                                    rsx! {
                                        div { class: "choice", key: "{i}",
                                            span { "{shown}" }
                                            span { class: "meta", " — {v.by}{unverified(v.vouched)} {super::super::model::hhmm_date(&v.at)}" }
                                            button {
                                                onclick: move |_| {
                                                    let (record, field) = (record.clone(), field.clone());
                                                    act(model, |m| m.resolve_conflict(&record, &field, i + 1));
                                                },
                                                {t::CHOOSE.get(lang)}
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if !history.is_empty() {
                section { class: "history",
                    h3 { {t::HISTORY.get(lang)} }
                    ul {
                        for (i, h) in history.iter().rev().enumerate() {
                            li { key: "{i}",
                                span { class: "meta", "{super::super::model::hhmm_date(&h.at)} " }
                                strong { "{h.by}{unverified(h.vouched)}" }
                                " "
                                if h.changes.is_empty() {
                                    {t::NEW_PLACE.get(lang)}
                                }
                                for (j, c) in h.changes.iter().enumerate() {
                                    div { class: "change", key: "{j}",
                                        "{field_label(&c.field).get(lang)}: "
                                        span { class: "old", {if c.old.is_empty() { "—".to_string() } else { c.old.clone() }} }
                                        " → "
                                        span { class: "new", {if c.new.is_empty() { "—".to_string() } else { c.new.clone() }} }
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

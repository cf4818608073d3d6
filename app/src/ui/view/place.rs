//! A place: every field of the domain, inline validation in the UI language, opening hours with
//! "open now / next change", status, listing consent, history and conflicts with a one-tap choice.

use super::super::model::PlaceForm;
use super::super::text as t;
use super::{act, label, use_model};
use dioxus::prelude::*;
use ibasho_shared::Place;
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
    let other_error = form
        .error
        .as_ref()
        .filter(|e| {
            ![
                "name",
                "reading",
                "lat",
                "lon",
                "location",
                "accuracy_m",
                "address",
                "hours",
                "hours_checked_at",
                "contact",
                "description",
            ]
            .contains(&e.field.as_str())
        })
        .map(|e| e.message(lang));
    let (history, conflicts) = (form.history.clone(), form.conflicts.clone());
    let now = now_jst();
    let far_away = match (
        form.lat.trim().parse::<f64>(),
        form.lon.trim().parse::<f64>(),
    ) {
        (Ok(lat), Ok(lon)) => model.read().far_away_warning(lat, lon),
        _ => None,
    };
    let hours_state = Hours::parse(&form.hours)
        .ok()
        .filter(|_| !form.hours.trim().is_empty())
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
                Field { name: "name", value: form.name.clone(), error: error_for("name"), multiline: false, autofocus: form.id.is_none(), on_input: move |v| edit(model, |f| f.name = v) }
                Field { name: "reading", value: form.reading.clone(), error: error_for("reading"), multiline: false, on_input: move |v| edit(model, |f| f.reading = v) }
                div { class: "field",
                    label { r#for: "place-category", {field_label("category").get(lang)} }
                    select { id: "place-category", onchange: move |e| edit(model, |f| f.category = e.value()),
                        for c in CATEGORIES {
                            option { value: c.id, selected: form.category == c.id, {c.label(lang)} }
                        }
                    }
                }
                super::TargetsField { selected: form.targets.clone(), on_toggle: move |(id, on): (&str, bool)| edit(model, |f| super::toggle(&mut f.targets, id, on)) }
                div { class: "row2",
                    Field { name: "lat", value: form.lat.clone(), error: error_for("lat"), multiline: false, on_input: move |v| edit(model, |f| f.lat = v) }
                    Field { name: "lon", value: form.lon.clone(), error: error_for("lon"), multiline: false, on_input: move |v| edit(model, |f| f.lon = v) }
                }
                if let Some(warning) = far_away {
                    p { class: "warning", role: "note", id: "far-away", "{warning}" }
                }
                Field { name: "accuracy_m", value: form.accuracy_m.clone(), error: error_for("accuracy_m"), multiline: false, on_input: move |v| edit(model, |f| f.accuracy_m = v) }
                Field { name: "address", value: form.address.clone(), error: error_for("address"), multiline: false, on_input: move |v| edit(model, |f| f.address = v) }
                Field { name: "hours", value: form.hours.clone(), error: error_for("hours"), multiline: false, on_input: move |v| edit(model, |f| f.hours = v) }
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
                Field { name: "hours_checked_at", value: form.hours_checked_at.clone(), error: error_for("hours_checked_at"), multiline: false, on_input: move |v| edit(model, |f| f.hours_checked_at = v) }
                Field { name: "contact", value: form.contact.clone(), error: error_for("contact"), multiline: false, on_input: move |v| edit(model, |f| f.contact = v) }
                Field { name: "description", value: form.description.clone(), error: error_for("description"), multiline: true, on_input: move |v| edit(model, |f| f.description = v) }
                div { class: "field",
                    label { r#for: "place-status", {field_label("status").get(lang)} }
                    select { id: "place-status", onchange: move |e| edit(model, |f| f.status = e.value()),
                        for s in STATUSES {
                            option { value: s.id, selected: form.status == s.id, {s.label(lang)} }
                        }
                    }
                }
                label { class: "check",
                    input { r#type: "checkbox", checked: form.listing_consent, onchange: move |e| edit(model, |f| f.listing_consent = e.checked()) }
                    {field_label("listing_consent").get(lang)}
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
                            onclick: move |_| act(model, |m| {
                                let id = m.form.as_ref().and_then(|f| f.id.clone()).unwrap_or_default();
                                let place = m.replica.get::<Place>(&id)?;
                                m.start_visit(Some(&place));
                                Ok(())
                            }),
                            {t::LOG_VISIT.get(lang)}
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
                                                    act(model, |m| {
                                                        m.replica.resolve_conflict(&record, &field, i + 1)?;
                                                        m.open_place(&record)?;
                                                        m.reload()
                                                    });
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

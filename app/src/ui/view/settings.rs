//! Settings and joining: join with an invite (URL + token), display name, language, tile URL.

use super::super::model::join;
use super::super::text as t;
use super::{act, use_model};
use crate::tiles::{GSI_PALE, GSI_STD, human_bytes};
use dioxus::prelude::*;
use ibasho_shared::Lang;

/// Join a workspace with an invite.
#[component]
pub(crate) fn JoinForm() -> Element {
    let model = use_model();
    let (lang, url, invite, person, joined) = {
        let m = model.read();
        (
            m.lang,
            m.settings.join_url.clone(),
            m.settings.join_invite.clone(),
            m.settings.person.clone(),
            m.role.is_some(),
        )
    };
    if joined {
        return rsx! {};
    }
    rsx! {
        form {
            class: "join",
            onsubmit: move |e| async move {
                e.prevent_default();
                let (home, url, invite, person) = model.peek().join_request();
                let result = join(home, url, invite, person).await;
                let mut m = model;
                m.write().joined(result);
            },
            h2 { {t::JOIN.get(lang)} }
            div { class: "field",
                label { r#for: "join-url", {t::SERVER_URL.get(lang)} }
                input { id: "join-url", placeholder: "http://192.0.2.10:7700", initial_value: "{url}", oninput: move |e| { let mut m = model; m.write().settings.join_url = e.value(); } }
            }
            div { class: "field",
                label { r#for: "join-invite", {t::INVITE.get(lang)} }
                input { id: "join-invite", initial_value: "{invite}", oninput: move |e| { let mut m = model; m.write().settings.join_invite = e.value(); } }
            }
            div { class: "field",
                label { r#for: "join-person", {t::DISPLAY_NAME.get(lang)} }
                input { id: "join-person", initial_value: "{person}", oninput: move |e| { let mut m = model; m.write().settings.person = e.value(); } }
            }
            button { r#type: "submit", class: "primary", {t::JOIN.get(lang)} }
        }
    }
}

#[component]
pub(crate) fn SettingsScreen() -> Element {
    let model = use_model();
    let (lang, person, tile_url, tile_attribution, role, areas) = {
        let m = model.read();
        (
            m.lang,
            m.settings.person.clone(),
            m.settings.tile_url.clone(),
            m.settings.tile_attribution.clone(),
            m.role,
            m.map.areas.clone(),
        )
    };
    let (stuck, erasures, retention) = {
        let lists = &model.read().lists;
        (
            lists.stuck.clone(),
            lists.erasures.clone(),
            lists.retention_months,
        )
    };
    rsx! {
        section { class: "settings",
            form {
                onsubmit: move |e| { e.prevent_default(); act(model, |m| m.save_settings()); },
                div { class: "field",
                    label { r#for: "settings-person", {t::DISPLAY_NAME.get(lang)} }
                    input { id: "settings-person", initial_value: "{person}", oninput: move |e| { let mut m = model; m.write().settings.person = e.value(); } }
                }
                div { class: "field",
                    label { r#for: "settings-lang", {t::LANGUAGE.get(lang)} }
                    select {
                        id: "settings-lang",
                        onchange: move |e| { let l: Lang = e.value().parse().unwrap_or_default(); act(model, |m| m.set_lang(l)); },
                        option { value: "ja", selected: lang == Lang::Ja, "日本語" }
                        option { value: "en", selected: lang == Lang::En, "English" }
                    }
                }
                div { class: "field",
                    label { r#for: "settings-basemap", {t::BASEMAP.get(lang)} }
                    select {
                        id: "settings-basemap",
                        onchange: move |e| {
                            let mut m = model;
                            let mut m = m.write();
                            m.settings.tile_url = e.value();
                            m.settings.tile_attribution.clear();
                        },
                        option { value: "", selected: tile_url.is_empty(), {t::BASEMAP_DEFAULT.get(lang)} }
                        option { value: GSI_STD, selected: tile_url == GSI_STD, {t::BASEMAP_STD.get(lang)} }
                        option { value: GSI_PALE, selected: tile_url == GSI_PALE, {t::BASEMAP_PALE.get(lang)} }
                    }
                }
                div { class: "field",
                    label { r#for: "settings-tiles", {t::TILE_URL.get(lang)} }
                    input { id: "settings-tiles", placeholder: "https://tile.example.org/{{z}}/{{x}}/{{y}}.png", value: "{tile_url}", oninput: move |e| { let mut m = model; m.write().settings.tile_url = e.value(); } }
                }
                div { class: "field",
                    label { r#for: "settings-attribution", {t::BASEMAP_ATTRIBUTION.get(lang)} }
                    input { id: "settings-attribution", value: "{tile_attribution}", oninput: move |e| { let mut m = model; m.write().settings.tile_attribution = e.value(); } }
                }
                if let Some(role) = role {
                    p { {t::ROLE.get(lang)} ": {role.label(lang)}" }
                }
                if role.is_some() {
                    p { id: "retention",
                        {t::RETENTION.get(lang)} ": "
                        {match retention {
                            Some(n) => t::fill(t::RETENTION_MONTHS, lang, &[("n", &n)]),
                            None => t::RETENTION_FOREVER.get(lang).to_string(),
                        }}
                    }
                }
                button { r#type: "submit", class: "primary", {t::SAVE.get(lang)} }
            }
            if !areas.is_empty() {
                section { class: "areas", id: "offline-areas",
                    h3 { {t::OFFLINE_AREAS.get(lang)} }
                    ul {
                        for a in areas {
                            li { key: "{a.id}",
                                span { "{a.spec.name} · z{a.spec.zooms} · {a.tiles} {t::TILES_UNIT.get(lang)} · {human_bytes(a.bytes)} · " }
                                span { if a.complete { {t::TILES_COMPLETE.get(lang)} } else { {t::TILES_PARTIAL.get(lang)} } }
                                button { class: "danger",
                                    onclick: move |_| act(model, |m| m.delete_offline_area(a.id)),
                                    {t::DELETE.get(lang)}
                                }
                            }
                        }
                    }
                }
            }
            if !stuck.is_empty() {
                section { class: "stuck", id: "stuck",
                    h3 { {t::STUCK_HEADING.get(lang)} }
                    ul {
                        for (i, (s, label)) in stuck.into_iter().enumerate() {
                            li { key: "{i}",
                                span { {stuck_line(&s, &label, lang)} }
                                if let Some(record) = s.record.clone() {
                                    button {
                                        class: "danger",
                                        id: "discard-{i}",
                                        onclick: move |_| {
                                            let (record, field) = (record.clone(), s.field.clone());
                                            act(model, move |m| m.discard(&record, field.as_deref()));
                                        },
                                        {t::DISCARD.get(lang)}
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if role == Some(ibasho_shared::sync::Role::Coordinator) && !erasures.is_empty() {
                section { class: "erasures",
                    h3 { {t::ERASE_LOG.get(lang)} }
                    ul {
                        for (i, e) in erasures.into_iter().enumerate() {
                            li { key: "{i}",
                                "{ibasho_shared::hours::shown_jst(&e.at)} {e.doc} "
                                {e.record.clone().unwrap_or_default()} " "
                                {e.field.as_deref().map(|f| ibasho_shared::i18n::field_label(f).get(lang)).unwrap_or("")}
                                {format!(" — {}: {}", t::erasure_by(&e, lang), t::erasure_reason(&e, lang))}
                            }
                        }
                    }
                }
            }
            JoinForm {}
        }
    }
}

/// A refused change in the person's language: which record (as people know it) and field, and
/// why.
fn stuck_line(s: &ibasho_shared::Stuck, label: &str, lang: Lang) -> String {
    let why = crate::sync::error::refusal_words(s.code, None, lang);
    match &s.field {
        Some(f) => format!(
            "{label} — {}: {why}",
            ibasho_shared::i18n::field_label(f).get(lang)
        ),
        None => format!("{label}: {why}"),
    }
}

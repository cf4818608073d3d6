//! つなぐ: referrals received and sent, what waits for an answer and what is overdue, a new
//! referral (from a visit, a place or here), and each step one tap.

use super::super::model::{ReferralForm, Side};
use super::super::text as t;
use super::{act, label, use_model};
use dioxus::prelude::*;
use ibasho_shared::ReferralView;
use ibasho_shared::hours::now_jst;
use ibasho_shared::i18n::field_label;
use ibasho_shared::taxonomy::{REFERRAL_OUTCOMES, REFERRAL_REASONS, REFERRAL_STATUSES};

fn edit(model: Signal<super::super::model::AppModel>, f: impl FnOnce(&mut ReferralForm)) {
    let mut m = model;
    if let Some(form) = m.write().referral_form.as_mut() {
        f(form);
        form.error = None;
    }
}

#[component]
pub(crate) fn ReferralsScreen() -> Element {
    let model = use_model();
    if !model.read().can_see_visits() {
        return rsx! {};
    }
    let (lang, form, incoming, outgoing) = {
        let m = model.read();
        (
            m.lang,
            m.referral_form.clone(),
            m.referral_list(true),
            m.referral_list(false),
        )
    };
    let waiting = model.read().waiting_referrals();
    rsx! {
        section { class: "referrals",
            if let Some(form) = form {
                NewReferral { form }
            } else {
                button { class: "primary", id: "new-referral", onclick: move |_| { let mut m = model; m.write().start_referral(None); }, {t::NEW_REFERRAL.get(lang)} }
            }
            h3 { {t::INCOMING.get(lang)}
                if waiting > 0 {
                    span { class: "badge closed", {t::fill(t::WAITING, lang, &[("n", &waiting)])} }
                }
            }
            ReferralRows { views: incoming }
            h3 { {t::OUTGOING.get(lang)} }
            ReferralRows { views: outgoing }
        }
    }
}

#[component]
fn ReferralRows(views: Vec<ReferralView>) -> Element {
    let model = use_model();
    let lang = model.read().lang;
    if views.is_empty() {
        return rsx! { p { class: "meta", {t::NO_REFERRALS.get(lang)} } };
    }
    rsx! {
        ul { class: "referral-list",
            for view in views {
                {
                    let side = model.read().side_of(&view.referral);
                    rsx! { ReferralRow { key: "{view.referral.id}", view, side } }
                }
            }
        }
    }
}

/// The name of a team or an organization, by id.
fn name_of(model: &super::super::model::AppModel, id: &str) -> String {
    model
        .lists
        .teams
        .iter()
        .find(|t| t.id == id)
        .map(|t| t.name.clone())
        .or_else(|| {
            model
                .lists
                .orgs
                .iter()
                .find(|o| o.id == id)
                .map(|o| o.name.clone())
        })
        .unwrap_or_else(|| id.to_string())
}

/// The steps `side` may take from `status`: (step, needs a reason).
fn next_steps(side: Side, status: &str) -> Vec<(&'static str, bool)> {
    let receiver: &[(&str, bool)] = match status {
        "sent" => &[("accepted", false), ("declined", true)],
        "accepted" => &[
            ("in_progress", false),
            ("connected", false),
            ("not_connected", true),
        ],
        "in_progress" => &[("connected", false), ("not_connected", true)],
        _ => &[],
    };
    let sender: &[(&str, bool)] = match status {
        "sent" | "accepted" | "in_progress" => &[("withdrawn", true)],
        _ => &[],
    };
    match side {
        Side::Receiver => receiver.to_vec(),
        Side::Sender => sender.to_vec(),
        Side::Both => receiver.iter().chain(sender).copied().collect(),
        Side::Neither => Vec::new(),
    }
}

#[component]
fn ReferralRow(view: ReferralView, side: Side) -> Element {
    let model = use_model();
    let mut reason = use_signal(|| "other".to_string());
    let lang = model.read().lang;
    let r = view.referral.clone();
    let (from, to) = {
        let m = model.read();
        (
            name_of(&m, &r.from_team),
            name_of(
                &m,
                r.to_team.as_deref().or(r.to_org.as_deref()).unwrap_or(""),
            ),
        )
    };
    let today = now_jst().date().to_string();
    let open = !matches!(
        r.status.as_str(),
        "declined" | "withdrawn" | "connected" | "not_connected"
    );
    let overdue = open && r.due.as_deref().is_some_and(|d| d < today.as_str());
    let steps: Vec<(&'static str, bool)> = if view.needs_review {
        // One side chooses one of the two steps: the lists settle on it everywhere.
        view.statuses
            .iter()
            .filter_map(|s| REFERRAL_STATUSES.iter().find(|t| t.id == s))
            .filter(|t| {
                let senders = matches!(t.id, "sent" | "withdrawn");
                match side {
                    Side::Both => true,
                    Side::Sender => senders,
                    Side::Receiver => !senders,
                    Side::Neither => false,
                }
            })
            .map(|t| (t.id, false))
            .collect()
    } else if view.legacy {
        Vec::new()
    } else {
        next_steps(side, &r.status)
    };
    let needs_reason = steps.iter().any(|(_, needs)| *needs);
    let status_text = view.status_text(lang);
    let id = r.id.clone();
    rsx! {
        li { class: if view.needs_review { "referral review" } else { "referral" },
            div { class: "row-head",
                strong { {label(REFERRAL_REASONS, &r.reason, lang)} }
                span { class: "meta", " {from} → {to}" }
                span { class: if view.needs_review { "badge closed" } else { "badge" }, "{status_text}" }
                if r.escalated {
                    span { class: "badge", {t::ESCALATED.get(lang)} }
                }
                if let Some(due) = r.due.clone() {
                    span { class: if overdue { "due overdue" } else { "due" },
                        {format!("{} {due}", field_label("due").get(lang))}
                        if overdue { {format!(" {}", t::OVERDUE.get(lang))} }
                    }
                }
            }
            if !r.summary.is_empty() {
                p { class: "summary", "{r.summary}" }
            }
            if !view.reasons.is_empty() {
                p { class: "meta",
                    {format!(
                        "{}: {}",
                        field_label("status_reason").get(lang),
                        view.reasons.iter().map(|r| label(REFERRAL_OUTCOMES, r, lang)).collect::<Vec<_>>().join(" / ")
                    )}
                }
            }
            if !r.status_by.is_empty() && !view.needs_review {
                p { class: "meta", {format!("{} — {} {}", label(REFERRAL_STATUSES, &r.status, lang), r.status_by, r.status_at.replace('T', " ").get(..16).unwrap_or_default())} }
            }
            if !steps.is_empty() {
                div { class: "actions",
                    if needs_reason {
                        select {
                            "aria-label": field_label("status_reason").get(lang),
                            onchange: move |e| reason.set(e.value()),
                            for o in REFERRAL_OUTCOMES {
                                option { value: o.id, selected: reason() == o.id, {o.label(lang)} }
                            }
                        }
                    }
                    for (step, needs) in steps {
                        {
                            let id = id.clone();
                            rsx! {
                                button {
                                    id: "step-{step}",
                                    class: if step == "withdrawn" || step == "declined" || step == "not_connected" { "danger" } else { "" },
                                    onclick: move |_| {
                                        let id = id.clone();
                                        let why = needs.then(|| reason.cloned());
                                        act(model, move |m| m.referral_step(&id, step, why.as_deref()));
                                    },
                                    {label(REFERRAL_STATUSES, step, lang)}
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[component]
fn NewReferral(form: ReferralForm) -> Element {
    let model = use_model();
    let (lang, teams, orgs, own, conference) = {
        let m = model.read();
        let own = m.replica.default_team().unwrap_or_default();
        let conference = m.lists.case_conference.clone();
        (
            m.lang,
            m.lists.teams.clone(),
            m.lists.orgs.clone(),
            own,
            conference,
        )
    };
    let error = form.error.as_ref().map(|e| e.message(lang));
    rsx! {
        form {
            class: "referral-form",
            id: "referral-form",
            onsubmit: move |e| { e.prevent_default(); act(model, |m| m.save_referral().map(|_| ())); },
            h2 { {t::NEW_REFERRAL.get(lang)} }
            if form.visit.is_some() {
                p { class: "meta", {t::FROM_VISIT.get(lang)} }
            }
            if conference.is_some() {
                label { class: "check",
                    input { r#type: "checkbox", checked: form.escalate, onchange: move |e| edit(model, |f| f.escalate = e.checked()) }
                    {t::ESCALATE.get(lang)}
                }
            }
            if !form.escalate {
                div { class: "field",
                    label { r#for: "referral-team", {field_label("to_team").get(lang)} }
                    select { id: "referral-team", onchange: move |e| edit(model, |f| { f.to_team = e.value(); f.to_org.clear(); }),
                        option { value: "", {t::NONE.get(lang)} }
                        for team in teams.into_iter().filter(|t| t.id != own) {
                            option { value: "{team.id}", selected: form.to_team == team.id, "{team.name}" }
                        }
                    }
                }
                div { class: "field",
                    label { r#for: "referral-org", {field_label("to_org").get(lang)} }
                    select { id: "referral-org", onchange: move |e| edit(model, |f| { f.to_org = e.value(); f.to_team.clear(); }),
                        option { value: "", {t::NONE.get(lang)} }
                        for org in orgs {
                            option { value: "{org.id}", selected: form.to_org == org.id, "{org.name}" }
                        }
                    }
                }
            }
            div { class: "field",
                label { r#for: "referral-reason", {field_label("reason").get(lang)} }
                select { id: "referral-reason", onchange: move |e| edit(model, |f| f.reason = e.value()),
                    for r in REFERRAL_REASONS {
                        option { value: r.id, selected: form.reason == r.id, {r.label(lang)} }
                    }
                }
            }
            super::TargetsField { selected: form.targets.clone(), on_toggle: move |(id, on): (&str, bool)| edit(model, |f| super::toggle(&mut f.targets, id, on)) }
            div { class: "row2",
                div { class: "field",
                    label { r#for: "referral-people", {field_label("people").get(lang)} }
                    input { id: "referral-people", inputmode: "numeric", initial_value: "{form.people}", oninput: move |e| edit(model, |f| f.people = e.value()) }
                }
                div { class: "field",
                    label { r#for: "referral-due", {field_label("due").get(lang)} }
                    input { id: "referral-due", placeholder: "YYYY-MM-DD", initial_value: "{form.due}", oninput: move |e| edit(model, |f| f.due = e.value()) }
                }
            }
            div { class: "field",
                label { r#for: "referral-summary", {field_label("summary").get(lang)} }
                p { class: "warning", role: "note", {t::SUMMARY_WARNING.get(lang)} }
                textarea { id: "referral-summary", initial_value: "{form.summary}", oninput: move |e| edit(model, |f| f.summary = e.value()) }
            }
            if let Some(message) = error {
                p { class: "error", role: "alert", "{message}" }
            }
            div { class: "actions",
                button { r#type: "submit", class: "primary", id: "send-referral", {t::SEND.get(lang)} }
                button { r#type: "button", onclick: move |_| { let mut m = model; m.write().referral_form = None; }, {t::CANCEL.get(lang)} }
            }
        }
    }
}

//! The directory of member organizations: filters by 参画意向, sector and activity, an order, and
//! adding and editing entries by role (coordinators any, members their own), the form drawn from
//! the organization's field table.

use super::super::model::{OrgFilter, OrgForm, org_form_fields};
use super::super::text as t;
use super::{act, label, use_model};
use dioxus::prelude::*;
use ibasho_shared::domain::schema::FieldType;
use ibasho_shared::i18n::field_label;
use ibasho_shared::taxonomy::{ACTIVITIES, PARTICIPATION, SECTORS};

fn edit(model: Signal<super::super::model::AppModel>, f: impl FnOnce(&mut OrgForm)) {
    let mut m = model;
    if let Some(form) = m.write().org_form.as_mut() {
        f(form);
        form.error = None;
    }
}

#[component]
pub(crate) fn DirectoryScreen() -> Element {
    let model = use_model();
    let mut filter = use_signal(OrgFilter::default);
    let lang = model.read().lang;
    let orgs = model.read().directory(&filter.read());
    let (form, may_add) = {
        let m = model.read();
        (m.org_form.clone(), m.may_add_org())
    };
    rsx! {
        section { class: "directory",
            h2 { {t::DIRECTORY.get(lang)} " ({orgs.len()})" }
            if let Some(form) = form {
                OrgEditor { form }
            } else if may_add {
                button { class: "primary", id: "new-org", onclick: move |_| { let mut m = model; m.write().open_org(None); }, {t::NEW_ORG.get(lang)} }
            }
            div { class: "filters",
                select { "aria-label": field_label("participation").get(lang), onchange: move |e| filter.write().participation = e.value(),
                    option { value: "", {t::ALL_PARTICIPATION.get(lang)} }
                    for p in PARTICIPATION { option { value: p.id, {p.label(lang)} } }
                }
                select { "aria-label": field_label("sector").get(lang), onchange: move |e| filter.write().sector = e.value(),
                    option { value: "", {t::ALL_SECTORS.get(lang)} }
                    for s in SECTORS { option { value: s.id, {s.label(lang)} } }
                }
                select { "aria-label": field_label("activities").get(lang), onchange: move |e| filter.write().activity = e.value(),
                    option { value: "", {t::ALL_ACTIVITIES.get(lang)} }
                    for a in ACTIVITIES { option { value: a.id, {a.label(lang)} } }
                }
                select { "aria-label": t::SORT.get(lang), onchange: move |e| filter.write().sort = e.value(),
                    option { value: "name", {t::SORT_NAME.get(lang)} }
                    option { value: "sector", {field_label("sector").get(lang)} }
                    option { value: "participation", {field_label("participation").get(lang)} }
                    option { value: "surveyed_on", {field_label("surveyed_on").get(lang)} }
                }
            }
            table {
                thead {
                    tr {
                        th { {field_label("name").get(lang)} }
                        th { {field_label("sector").get(lang)} }
                        th { {field_label("participation").get(lang)} }
                        th { {field_label("activities").get(lang)} }
                        th { {field_label("contact").get(lang)} }
                        th {}
                    }
                }
                tbody {
                    for o in orgs {
                        {
                            let editable = model.read().may_edit(&o);
                            let id = o.id.clone();
                            rsx! {
                                tr { key: "{o.id}",
                                    td { "{o.name}" }
                                    td { {label(SECTORS, &o.sector, lang)} }
                                    td { {if o.participation.is_empty() { String::new() } else { label(PARTICIPATION, &o.participation, lang) }} }
                                    td { {o.activities.iter().map(|a| label(ACTIVITIES, a, lang)).collect::<Vec<_>>().join("、")} }
                                    td { "{o.contact}" }
                                    td {
                                        if editable {
                                            button { class: "link", onclick: move |_| { let mut m = model; m.write().open_org(Some(&id)); }, {t::EDIT.get(lang)} }
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

#[component]
fn OrgEditor(form: OrgForm) -> Element {
    let model = use_model();
    let lang = model.read().lang;
    let error = form.error.as_ref().map(|e| e.message(lang));
    rsx! {
        form {
            class: "org-form",
            id: "org-form",
            onsubmit: move |e| { e.prevent_default(); act(model, |m| m.save_org().map(|_| ())); },
            for f in org_form_fields() {
                match f.ty {
                    FieldType::Term(list) => rsx! {
                        div { class: "field",
                            label { r#for: "org-{f.name}", {f.label.get(lang)} }
                            select { id: "org-{f.name}", onchange: move |e| edit(model, |form| { form.values.insert(f.name, e.value()); }),
                                if !f.required { option { value: "", "—" } }
                                for term in list {
                                    option { value: term.id, selected: form.text(f.name) == term.id, {term.label(lang)} }
                                }
                            }
                        }
                    },
                    FieldType::Terms(list) => rsx! {
                        fieldset { class: "targets",
                            legend { {f.label.get(lang)} }
                            for term in list {
                                label { class: "check",
                                    input {
                                        r#type: "checkbox",
                                        checked: form.text(f.name).split(',').any(|x| x == term.id),
                                        onchange: move |e| edit(model, |form| {
                                            let mut ids: Vec<String> = form.text(f.name).split(',').filter(|x| !x.is_empty() && *x != term.id).map(String::from).collect();
                                            if e.checked() { ids.push(term.id.to_string()); }
                                            form.values.insert(f.name, ids.join(","));
                                        }),
                                    }
                                    {term.label(lang)}
                                }
                            }
                        }
                    },
                    FieldType::Flag => rsx! {
                        label { class: "check",
                            input { r#type: "checkbox", checked: form.text(f.name) == "true", onchange: move |e| edit(model, |form| { form.values.insert(f.name, e.checked().to_string()); }) }
                            {f.label.get(lang)}
                        }
                    },
                    _ => rsx! {
                        div { class: "field",
                            label { r#for: "org-{f.name}", {f.label.get(lang)} }
                            if f.ty == FieldType::Prose {
                                textarea { id: "org-{f.name}", initial_value: "{form.text(f.name)}", oninput: move |e| edit(model, |form| { form.values.insert(f.name, e.value()); }) }
                            } else {
                                input { id: "org-{f.name}", initial_value: "{form.text(f.name)}", placeholder: if f.ty == FieldType::Date { "YYYY-MM-DD" } else { "" }, oninput: move |e| edit(model, |form| { form.values.insert(f.name, e.value()); }) }
                            }
                        }
                    },
                }
            }
            if let Some(message) = error {
                p { class: "error", role: "alert", "{message}" }
            }
            div { class: "actions",
                button { r#type: "submit", class: "primary", id: "save-org", {t::SAVE.get(lang)} }
                button { r#type: "button", onclick: move |_| { let mut m = model; m.write().org_form = None; }, {t::CANCEL.get(lang)} }
            }
        }
    }
}

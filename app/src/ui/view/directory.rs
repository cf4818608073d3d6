//! The directory of member organizations: sector, contact, what they offer, 参画意向.

use super::super::text as t;
use super::{label, use_model};
use dioxus::prelude::*;
use ibasho_shared::i18n::field_label;
use ibasho_shared::taxonomy::{PARTICIPATION, SECTORS};

#[component]
pub(crate) fn DirectoryScreen() -> Element {
    let model = use_model();
    let lang = model.read().lang;
    let orgs = model.read().lists.orgs.clone();
    rsx! {
        section { class: "directory",
            h2 { {t::DIRECTORY.get(lang)} " ({orgs.len()})" }
            table {
                thead {
                    tr {
                        th { {field_label("name").get(lang)} }
                        th { {field_label("sector").get(lang)} }
                        th { {field_label("contact").get(lang)} }
                        th { {field_label("offers").get(lang)} }
                        th { {field_label("participation").get(lang)} }
                    }
                }
                tbody {
                    for o in orgs {
                        tr { key: "{o.id}",
                            td { "{o.name}" }
                            td { {label(SECTORS, &o.sector, lang)} }
                            td { "{o.contact}" }
                            td { "{o.offers}" }
                            td { {if o.participation.is_empty() { String::new() } else { label(PARTICIPATION, &o.participation, lang) }} }
                        }
                    }
                }
            }
        }
    }
}

//! The window's components: thin, reading and changing the `AppModel` held in one signal.

mod directory;
mod list;
mod map;
mod place;
mod referrals;
mod reports;
mod settings;
mod shell;
mod visits;

#[cfg(test)]
pub(crate) use shell::TEST_MODEL;
pub(crate) use shell::{App, Launch};

use super::model::AppModel;
use dioxus::prelude::*;
use ibasho_shared::Lang;

/// The model, from context.
pub(crate) fn use_model() -> Signal<AppModel> {
    use_context::<Signal<AppModel>>()
}

/// The label of a taxonomy id in `lang`.
pub(crate) fn label(
    list: &'static [ibasho_shared::taxonomy::Term],
    id: &str,
    lang: Lang,
) -> String {
    ibasho_shared::taxonomy::lookup(list, id)
        .map(|t| t.label(lang).to_string())
        .unwrap_or_else(|| id.to_string())
}

/// Runs a model action, showing any error in the flash line instead of losing it.
pub(crate) fn act(
    mut model: Signal<AppModel>,
    f: impl FnOnce(&mut AppModel) -> anyhow::Result<()>,
) {
    let result = f(&mut model.write());
    if let Err(e) = result {
        let lang = model.peek().lang;
        let text = match e.downcast_ref::<ibasho_shared::Error>() {
            Some(engine) => engine.message(lang),
            None => format!("{e:#}"),
        };
        model.write().flash = Some(text);
    }
}

/// Colour of a category's pins, by kind of place.
pub(crate) fn category_color(category: &str) -> &'static str {
    match category {
        "ibasho" | "hikikomori_ibasho" => "#e4572e",
        "kodomo_shokudo" | "daremo_shokudo" => "#f3a712",
        "cafe" | "laundry_cafe" | "food_truck" | "snack_bar" | "dagashiya" | "bookshop" => {
            "#a8763e"
        }
        "community_hall" | "community_base" | "park" | "library" => "#29bf12",
        "childcare_support" | "nursery" | "study_support" => "#ff66b3",
        "sports" | "arts" => "#8e44ad",
        "consultation"
        | "comprehensive_support"
        | "ward_health_center"
        | "employment_support"
        | "housing_support" => "#2e86de",
        _ => "#5f6c7b",
    }
}

/// The map's legend: each pin colour and what it stands for (see [`category_color`]).
pub(crate) const LEGEND: [(&str, ibasho_shared::i18n::Text); 8] = {
    use super::text as t;
    [
        ("#e4572e", t::LEGEND_IBASHO),
        ("#f3a712", t::LEGEND_SHOKUDO),
        ("#a8763e", t::LEGEND_SHOPS),
        ("#29bf12", t::LEGEND_COMMUNITY),
        ("#ff66b3", t::LEGEND_CHILDREN),
        ("#8e44ad", t::LEGEND_CULTURE),
        ("#2e86de", t::LEGEND_CONSULTATION),
        ("#5f6c7b", t::LEGEND_OTHER),
    ]
};

/// The target-group checkboxes of the place and visit forms.
#[component]
pub(crate) fn TargetsField(
    selected: Vec<String>,
    on_toggle: EventHandler<(&'static str, bool)>,
) -> Element {
    let lang = use_model().read().lang;
    rsx! {
        fieldset { class: "targets",
            legend { {ibasho_shared::i18n::field_label("targets").get(lang)} }
            for g in ibasho_shared::taxonomy::TARGET_GROUPS {
                label { class: "check",
                    input {
                        r#type: "checkbox",
                        checked: selected.iter().any(|x| x == g.id),
                        onchange: move |e| on_toggle.call((g.id, e.checked())),
                    }
                    {g.label(lang)}
                }
            }
        }
    }
}

/// Adds or removes a target group id in a list.
pub(crate) fn toggle(targets: &mut Vec<String>, id: &str, on: bool) {
    targets.retain(|x| x != id);
    if on {
        targets.push(id.to_string());
    }
}

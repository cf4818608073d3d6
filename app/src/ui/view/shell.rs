//! The frame: navigation, the sync bar (always visible), the open screen, and first run.

use super::super::model::{AppModel, Screen, SyncState};
use super::super::text as t;
use super::{act, use_model};
use dioxus::prelude::*;

const CSS: &str = include_str!("../../../assets/app.css");

/// What the launcher passes in: Send + Sync, turned into the model inside the app.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub home: std::path::PathBuf,
    pub lang: ibasho_shared::Lang,
    /// Run the background sync loop (off in component tests).
    pub sync: bool,
}

/// The model, opened once, handed from `App` to `Shell` (which puts it in a signal).
#[derive(Clone)]
struct ModelSlot(Rc<RefCell<Option<AppModel>>>);

impl PartialEq for ModelSlot {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// The root component.
#[component]
pub(crate) fn App() -> Element {
    let launch = use_context::<Launch>();
    let opened = use_hook(|| match AppModel::open(&launch.home, launch.lang) {
        Ok(model) => Ok(ModelSlot(Rc::new(RefCell::new(Some(model))))),
        Err(e) => Err(format!("{e:#}")),
    });
    match opened {
        Ok(slot) => rsx! { Shell { slot, sync: launch.sync } },
        Err(e) => rsx! {
            style { {CSS} }
            div { class: "fatal", role: "alert", "{e}" }
        },
    }
}

use std::cell::RefCell;
use std::rc::Rc;

#[cfg(test)]
thread_local! {
    /// The model of the last window built on this thread, for component tests.
    pub(crate) static TEST_MODEL: std::cell::RefCell<Option<Signal<AppModel>>> = const { std::cell::RefCell::new(None) };
}

#[component]
fn Shell(slot: ModelSlot, sync: bool) -> Element {
    let mut model = use_context_provider(|| {
        Signal::new(slot.0.borrow_mut().take().expect("the model is taken once"))
    });
    // The list's filters are their own signal: typing a search re-draws the list, not the window.
    use_context_provider(|| Signal::new(super::super::model::ListFilter::default()));
    #[cfg(test)]
    TEST_MODEL.with(|m| *m.borrow_mut() = Some(model));
    let syncer = use_coroutine(move |nudges: UnboundedReceiver<()>| async move {
        if sync {
            super::super::syncer::run(model, nudges).await;
        }
    });
    use_context_provider(|| syncer);
    let has_workspace = model.write().has_workspace();
    let lang = model.read().lang;
    let (screen, place_from) = {
        let m = model.read();
        (m.screen, m.place_from)
    };
    let show_visits = model.read().can_see_visits();
    let flash = model.read().flash.clone();
    rsx! {
        style { {CSS} }
        div {
            class: "app",
            lang: "{lang}",
            tabindex: "-1",
            // Keep the shortcuts below working when focus fell back to the page body (e.g. the
            // focused control disappeared): such key presses are handed to the app.
            onmounted: move |_| {
                document::eval(
                    "const app = document.querySelector('.app');
                     if (app) { app.focus({ preventScroll: true }); }
                     document.addEventListener('keydown', (e) => {
                         const app = document.querySelector('.app');
                         if (app && e.altKey && !app.contains(document.activeElement)) {
                             e.preventDefault();
                             app.focus({ preventScroll: true });
                             app.dispatchEvent(new KeyboardEvent('keydown', { key: e.key, code: e.code, altKey: true, bubbles: true }));
                         }
                     }, true);",
                );
            },
            // Keyboard: Alt+1…5 switch screens, Alt+N logs a visit.
            onkeydown: move |e| {
                if !e.modifiers().alt() {
                    return;
                }
                let target = match e.key() {
                    Key::Character(c) if c == "1" => Some(Screen::Map),
                    Key::Character(c) if c == "2" => Some(Screen::List),
                    Key::Character(c) if c == "3" => Some(Screen::Visits),
                    Key::Character(c) if c == "4" => Some(Screen::Directory),
                    Key::Character(c) if c == "5" => Some(Screen::Settings),
                    Key::Character(c) if c == "n" || c == "N" => {
                        let mut m = model;
                        if m.peek().can_see_visits() {
                            m.write().start_visit(None);
                        }
                        None
                    }
                    _ => None,
                };
                if let Some(screen) = target {
                    let mut m = model;
                    if screen != Screen::Visits || m.peek().can_see_visits() {
                        let mut w = m.write();
                        w.screen = screen;
                        w.flash = None;
                    }
                }
            },
            header { class: "top",
                h1 { class: "brand", {t::APP_NAME.get(lang)} }
                if has_workspace {
                    nav { class: "tabs", "aria-label": "screens",
                        Tab { screen: Screen::Map, text: t::TAB_MAP.get(lang), current: screen, from: place_from }
                        Tab { screen: Screen::List, text: t::TAB_LIST.get(lang), current: screen, from: place_from }
                        if show_visits {
                            Tab { screen: Screen::Visits, text: t::TAB_VISITS.get(lang), current: screen, from: place_from }
                        }
                        if show_visits {
                            Tab { screen: Screen::Referrals, text: t::TAB_REFERRALS.get(lang), current: screen, from: place_from }
                        }
                        Tab { screen: Screen::Directory, text: t::TAB_DIRECTORY.get(lang), current: screen, from: place_from }
                        Tab { screen: Screen::Reports, text: t::TAB_REPORTS.get(lang), current: screen, from: place_from }
                        Tab { screen: Screen::Settings, text: t::TAB_SETTINGS.get(lang), current: screen, from: place_from }
                    }
                }
            }
            SyncBar {}
            if let Some(text) = flash {
                div { class: "flash", role: "status",
                    span { "{text}" }
                    button { class: "link", "aria-label": "close", onclick: move |_| model.write().flash = None, "×" }
                }
            }
            main { class: "screen",
                if !has_workspace {
                    Welcome {}
                } else {
                    match screen {
                        Screen::Map => rsx! { super::map::MapScreen {} },
                        Screen::List => rsx! { super::list::ListScreen {} },
                        Screen::Place => rsx! { super::place::PlaceScreen {} },
                        Screen::Visits => rsx! { super::visits::VisitsScreen {} },
                        Screen::Directory => rsx! { super::directory::DirectoryScreen {} },
                        Screen::Referrals => rsx! { super::referrals::ReferralsScreen {} },
                        Screen::Reports => rsx! { super::reports::ReportsScreen {} },
                        Screen::Settings => rsx! { super::settings::SettingsScreen {} },
                    }
                }
            }
        }
    }
}

#[component]
fn Tab(screen: Screen, text: &'static str, current: Screen, from: Screen) -> Element {
    let model = use_model();
    // The place screen belongs to the tab it was opened from.
    let selected = screen == current || (current == Screen::Place && screen == from);
    rsx! {
        button {
            class: if selected { "tab selected" } else { "tab" },
            "aria-current": if selected { "page" } else { "false" },
            id: "tab-{screen:?}",
            onclick: move |_| {
                let mut m = model;
                m.write().show(screen);
            },
            "{text}"
        }
    }
}

/// Always visible: offline / connecting / syncing / synced at HH:MM, unsent changes (once joined to
/// a server), errors, retry.
#[component]
fn SyncBar() -> Element {
    let model = use_model();
    let syncer = use_context::<Coroutine<()>>();
    let (state, unsent, joined, lang, waiting) = {
        let m = model.read();
        (
            m.sync.clone(),
            m.unsent,
            m.role.is_some(),
            m.lang,
            m.waiting_referrals(),
        )
    };
    let (class, text) = match &state {
        SyncState::Local => ("sync local", t::OFFLINE.get(lang).to_string()),
        SyncState::Connecting => ("sync busy", t::CONNECTING.get(lang).to_string()),
        SyncState::Syncing => ("sync busy", t::SYNCING.get(lang).to_string()),
        SyncState::Synced(at) => ("sync ok", format!("{} {at}", t::SYNCED_AT.get(lang))),
        SyncState::Offline(last) => (
            "sync offline",
            match last {
                Some(at) => format!(
                    "{}（{} {at}）",
                    t::OFFLINE_WAITING.get(lang),
                    t::LAST_SYNC.get(lang)
                ),
                None => t::OFFLINE_WAITING.get(lang).to_string(),
            },
        ),
        SyncState::Failed(why) => (
            "sync failed",
            format!("{}: {why}", t::SYNC_FAILED.get(lang)),
        ),
    };
    rsx! {
        div { class: "{class}", id: "sync-bar", role: "status", "aria-live": "polite",
            span { class: "sync-text", "{text}" }
            // Not joined to a server, nothing waits to be sent anywhere.
            if joined {
                span { class: "unsent", "{unsent} {t::UNSENT.get(lang)}" }
            }
            // Referrals to this device's team waiting for its answer.
            if waiting > 0 {
                button {
                    class: "link waiting",
                    id: "referrals-waiting",
                    onclick: move |_| { let mut m = model; m.write().screen = Screen::Referrals; },
                    {t::fill(t::REFERRALS_WAITING, lang, &[("n", &waiting)])}
                }
            }
            if matches!(state, SyncState::Failed(_) | SyncState::Synced(_) | SyncState::Offline(_)) {
                button { class: "link", onclick: move |_| syncer.send(()), {t::RETRY.get(lang)} }
            }
        }
    }
}

#[component]
fn Welcome() -> Element {
    let model = use_model();
    let lang = model.read().lang;
    rsx! {
        section { class: "welcome",
            p { {t::WELCOME.get(lang)} }
            button { id: "try-demo", class: "primary", onclick: move |_| act(model, |m| m.make_demo()), {t::TRY_DEMO.get(lang)} }
            super::settings::JoinForm {}
        }
    }
}

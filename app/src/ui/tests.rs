//! Component tests: the real components in a `VirtualDom`, rendered with `dioxus-ssr` (no webview),
//! events driven through the runtime.

use super::model::{AppModel, Screen};
use super::view::{App, Launch, TEST_MODEL};
use dioxus::dioxus_core::{ElementId, Mutation, Mutations, NoOpMutations};
use dioxus::html::SerializedHtmlEventConverter;
use dioxus::prelude::*;
use ibasho_shared::Place;
use ibasho_shared::sync::Role;
use ibasho_shared::{Lang, Replica, ServerBinding};
use std::any::Any;
use std::rc::Rc;

struct Window {
    dom: VirtualDom,
    _home: tempfile::TempDir,
}

impl Window {
    /// A window on a fresh replica; `demo` fills it with the demo city first.
    fn open(demo: bool, role: Option<Role>) -> Window {
        let home = tempfile::tempdir().unwrap();
        if demo {
            let mut replica = Replica::open(&crate::paths::replica_file(home.path())).unwrap();
            crate::cli::make_demo(&mut replica, 120, 3).unwrap();
            if let Some(role) = role {
                let workspace = replica.workspace().unwrap().id;
                let binding = ServerBinding {
                    url: "ws://127.0.0.1:9".into(),
                    device: "d1".into(),
                    token: "t".into(),
                    workspace,
                    role,
                    team: None,
                    ca_cert: None,
                };
                replica.bind_server(binding, "テスト").unwrap();
            }
        }
        set_event_converter(Box::new(SerializedHtmlEventConverter));
        let launch = Launch {
            home: home.path().to_path_buf(),
            lang: Lang::Ja,
            sync: false,
        };
        let mut dom = VirtualDom::new(App).with_root_context(launch);
        dom.rebuild_in_place();
        Window { dom, _home: home }
    }

    fn model(&self) -> Signal<AppModel> {
        TEST_MODEL.with(|m| m.borrow().expect("the window built its model"))
    }

    /// Changes the model, then re-renders.
    fn with(&mut self, f: impl FnOnce(&mut AppModel)) {
        let model = self.model();
        self.dom.in_runtime(|| {
            let mut m = model;
            f(&mut m.write());
        });
        self.dom.render_immediate(&mut NoOpMutations);
    }

    fn html(&self) -> String {
        dioxus_ssr::render(&self.dom)
    }

    /// Re-renders everything and returns the mutations (to find listeners).
    fn remount(&mut self) -> Mutations {
        self.dom.rebuild_to_vec()
    }

    /// Dispatches an event; returns the mutations of the re-render (new listeners show up there).
    fn fire(&mut self, name: &str, id: ElementId, data: Box<dyn Any>) -> Mutations {
        let event = Event::new(Rc::new(PlatformEventData::new(data)) as Rc<dyn Any>, true);
        self.dom.runtime().handle_event(name, event, id);
        self.dom.render_immediate_to_vec()
    }
}

/// The element whose `id` attribute is `html_id` (set dynamically, so it appears in the mutations).
fn element(m: &Mutations, html_id: &str) -> ElementId {
    m.edits
        .iter()
        .find_map(|e| match e {
            Mutation::SetAttribute {
                name: "id",
                value: dioxus::dioxus_core::AttributeValue::Text(v),
                id,
                ..
            } if v == html_id => Some(*id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no element with id {html_id}"))
}

fn listeners(m: &Mutations, event: &str) -> Vec<ElementId> {
    m.edits
        .iter()
        .filter_map(|e| match e {
            Mutation::NewEventListener { name, id } if name == event => Some(*id),
            _ => None,
        })
        .collect()
}

#[test]
fn first_run_offers_join_or_demo() {
    let w = Window::open(false, None);
    let html = w.html();
    assert!(html.contains("デモを試す"), "{html}");
    assert!(html.contains("ワークスペースに参加"));
    assert!(html.contains("オフライン"), "the sync bar is always there");
}

#[test]
fn the_map_shows_the_basemap_pins_and_clusters() {
    let w = Window::open(true, None);
    let html = w.html();
    assert!(
        html.contains("class=\"land\"") || html.contains("class=\"coast\""),
        "basemap drawn"
    );
    assert!(
        html.contains("class=\"pin\"") || html.contains("class=\"cluster\""),
        "markers drawn"
    );
    assert!(html.contains("地図をクリックすると"));
    assert!(html.contains("id=\"sync-bar\""));
}

#[test]
fn clicking_a_tab_and_typing_a_search_filter_the_list() {
    let mut w = Window::open(true, None);
    let m = w.remount();
    let list_tab = element(&m, "tab-List");
    assert!(listeners(&m, "click").contains(&list_tab));
    let m = w.fire("click", list_tab, Box::<SerializedMouseData>::default());
    assert_eq!(w.model().peek().screen, Screen::List);
    let all = w.html().matches("class=\"row\"").count();
    assert!(all > 50, "{all} rows");
    let inputs = listeners(&m, "input");
    w.fire(
        "input",
        inputs[0],
        Box::new(SerializedFormData::new("子ども食堂".into(), vec![])),
    );
    let html = w.html();
    let rows = html.matches("class=\"row\"").count();
    assert!(
        rows > 0 && rows < all,
        "search narrowed {all} rows to {rows}"
    );
    assert!(html.contains("子ども食堂"));
}

#[test]
fn the_place_form_shows_validation_errors_and_saves_valid_input() {
    let mut w = Window::open(true, None);
    let before = w.model().peek().replica.place_count().unwrap();
    w.with(|m| {
        let (x, y) = (
            m.map.viewport.width / 2.0 + 3.0,
            m.map.viewport.height / 2.0 + 3.0,
        );
        let (lat, lon) = m.map.viewport.unproject(x, y);
        m.form = None;
        m.click_map_at_empty(lat, lon);
    });
    assert!(w.html().contains("新しい場所"));
    // Saving with no name: the shared validation speaks in Japanese, nothing is stored.
    w.with(|m| {
        m.save_place().unwrap();
    });
    let html = w.html();
    assert!(html.contains("名称: 入力してください"), "{html}");
    assert_eq!(w.model().peek().replica.place_count().unwrap(), before);
    // Bad opening hours, then good input.
    w.with(|m| {
        let f = m.form.as_mut().unwrap();
        f.set("name", "喫茶ランドリー相武台".into());
        f.set("hours", "毎日いつでも".into());
        m.save_place().unwrap();
    });
    assert!(
        w.html()
            .contains("開所時間: OSMのopening_hours形式として読めません")
    );
    w.with(|m| {
        m.form
            .as_mut()
            .unwrap()
            .set("hours", "Mo-Sa 09:00-18:00; PH off".into());
        assert!(m.save_place().unwrap());
    });
    assert_eq!(w.model().peek().replica.place_count().unwrap(), before + 1);
    let html = w.html();
    assert!(html.contains("保存しました"));
    assert!(html.contains("変更履歴"), "history shows after saving");
}

#[test]
fn a_visit_is_logged_from_a_place_with_a_device_only_note() {
    let mut w = Window::open(true, None);
    let place = w
        .model()
        .peek()
        .replica
        .places(&Default::default())
        .unwrap()[0]
        .place
        .clone();
    w.with(|m| m.start_visit(Some(&place)));
    let html = w.html();
    assert!(html.contains("訪問を記録") && html.contains(&place.name));
    assert!(html.contains("この端末だけに保存されます"));
    w.with(|m| {
        m.visit_form.as_mut().unwrap().people = "たくさん".into();
        m.save_visit().unwrap();
    });
    assert!(w.html().contains("人数"), "people error shown");
    assert!(w.html().contains("数値ではありません"));
    w.with(|m| {
        let f = m.visit_form.as_mut().unwrap();
        f.people = "3".into();
        f.note = "本人の事情".into();
        assert!(m.save_visit().unwrap());
    });
    let visits = w
        .model()
        .peek()
        .replica
        .visits(&Default::default())
        .unwrap();
    let mine = visits
        .iter()
        .find(|v| v.place_id.as_deref() == Some(place.id.as_str()) && v.people == 3)
        .expect("saved");
    assert_eq!(
        w.model()
            .peek()
            .replica
            .private_note(&mine.id)
            .unwrap()
            .as_deref(),
        Some("本人の事情")
    );
}

#[test]
fn a_member_never_sees_visit_ui() {
    let mut w = Window::open(true, Some(Role::Member));
    let html = w.html();
    assert!(!html.contains("tab-Visits"), "no visits tab");
    let place = w
        .model()
        .peek()
        .replica
        .places(&Default::default())
        .unwrap()[0]
        .place
        .id
        .clone();
    w.with(|m| m.open_place(&place).unwrap());
    let html = w.html();
    assert!(html.contains("場所の編集"));
    assert!(
        !html.contains("訪問を記録"),
        "no 'log a visit' on a member's place screen"
    );
    w.with(|m| m.screen = Screen::Visits);
    let html = w.html();
    assert!(
        !html.contains("フォローアップ") && !html.contains("チームの記録"),
        "the visits screen renders nothing"
    );
}

#[test]
fn the_directory_and_settings_render_in_english_too() {
    let mut w = Window::open(true, None);
    w.with(|m| {
        m.set_lang(Lang::En).unwrap();
        m.screen = Screen::Directory;
    });
    let html = w.html();
    assert!(html.contains("Member organizations"));
    assert!(html.contains("Social welfare council") || html.contains("NPO"));
    w.with(|m| m.screen = Screen::Settings);
    let html = w.html();
    assert!(html.contains("Display name") && html.contains("Map tile URL"));
    w.with(|m| {
        m.settings.tile_url = "ftp://tiles".into();
        m.save_settings().unwrap();
    });
    assert!(w.html().contains("must start with http"));
}

#[test]
fn dragging_a_pin_moves_the_place_and_dragging_the_map_pans() {
    let mut w = Window::open(true, None);
    let mut moved = None;
    w.with(|m| {
        let marker = m
            .map
            .markers()
            .into_iter()
            .find(|mk| !mk.is_cluster())
            .expect("a single pin at the city view");
        let (x, y) = marker.position();
        let id = marker.ids()[0].clone();
        let before = m.replica.get::<Place>(&id).unwrap();
        m.map.pointer_down(x, y, Some(id.clone()));
        m.map.pointer_move(x + 40.0, y + 30.0);
        m.pointer_up(x + 40.0, y + 30.0).unwrap();
        moved = Some((id, before));
    });
    let (id, before) = moved.unwrap();
    let mut after = None;
    w.with(|m| {
        after = Some((
            m.replica.get::<Place>(&id).unwrap(),
            m.replica.history(&id).unwrap(),
        ))
    });
    let (after, history) = after.unwrap();
    assert!(
        after.lat < before.lat && after.lon > before.lon,
        "moved down and right: {before:?} → {after:?}"
    );
    assert!(history.last().unwrap().fields.contains(&"lat".to_string()));

    let center = w.model().peek().map.viewport.center_lon;
    w.with(|m| {
        m.map.pointer_down(100.0, 100.0, None);
        m.map.pointer_move(300.0, 100.0);
        m.pointer_up(300.0, 100.0).unwrap();
    });
    assert!(
        w.model().peek().map.viewport.center_lon < center,
        "dragging right pans the map west"
    );
    assert_eq!(
        w.model().peek().screen,
        Screen::Map,
        "a drag is not a click"
    );
}

#[test]
fn the_sync_bar_counts_unsent_changes_only_once_joined_to_a_server() {
    let w = Window::open(true, None);
    let html = w.html();
    assert!(html.contains("オフライン（この端末のみ）"), "{html}");
    assert!(!html.contains("未送信"), "nowhere to send to: {html}");

    let w = Window::open(true, Some(Role::Coordinator));
    let unsent = w.model().peek().unsent;
    assert!(unsent > 0, "the demo's edits were never sent");
    assert!(
        w.html().contains(&format!("{unsent} 未送信")),
        "{}",
        w.html()
    );
}

/// The window's count of unsent changes follows what the background sync (another `Replica` on the
/// same file, as in the app) got the server to acknowledge, instead of what the window saw when it
/// opened.
#[test]
fn the_unsent_count_drops_once_another_connection_sent_the_changes() {
    use automerge::sync::{State, SyncDoc};
    let mut w = Window::open(true, Some(Role::Coordinator));
    let unsent = w.model().peek().unsent;
    assert!(unsent > 0);
    let home = w.model().peek().home.clone();
    let mut syncer = Replica::open(&crate::paths::replica_file(&home)).unwrap();
    // A server that has everything says so.
    let ids = syncer.doc_ids().unwrap();
    let messages: Vec<(ibasho_shared::DocId, Vec<u8>)> = ids
        .into_iter()
        .map(|id| {
            let mut server = automerge::AutoCommit::load(&syncer.doc_bytes(&id).unwrap()).unwrap();
            let message = server
                .sync()
                .generate_sync_message(&mut State::new())
                .unwrap();
            (id, message.encode())
        })
        .collect();
    syncer
        .receive_sync_messages(
            messages
                .iter()
                .map(|(id, m)| (id.clone(), m.as_slice()))
                .collect(),
            false,
        )
        .unwrap();
    assert_eq!(syncer.unsent_changes().unwrap(), 0);
    w.with(|m| m.reload().unwrap());
    assert_eq!(w.model().peek().unsent, 0);
    assert!(w.html().contains("0 未送信"), "{}", w.html());
}

/// A connection lost on the way is said in plain words, whichever way it was lost: the bar
/// matches on the kind of failure, never on the words of an English message.
#[test]
fn a_lost_connection_is_said_in_plain_words() {
    use crate::sync::error::Lost;
    let mut w = Window::open(true, Some(Role::Coordinator));
    for how in [
        Lost::Silent(90),
        Lost::NotTaken {
            bytes: 400_000,
            secs: 225,
        },
        Lost::Closed(None),
        Lost::NoAnswer(60),
    ] {
        let english = how.to_string();
        let lost = crate::sync::transport::lost(how);
        w.with(|m| m.sync = super::syncer::failure(&lost, m));
        let html = w.html();
        assert!(
            html.contains("サーバーとの接続が切れました"),
            "{english}: {html}"
        );
        assert!(!html.contains(&english), "{english}");
    }
}

/// With no signal the server is out of reach: the bar reads calm and neutral, says that unsent
/// changes go out when the signal is back, and when the last sync was. Red is kept for what needs
/// a person (a refused change, a revoked device, a certificate that does not verify).
#[test]
fn out_of_reach_is_offline_and_calm_and_red_is_kept_for_what_needs_a_person() {
    let mut w = Window::open(true, Some(Role::Worker));
    let unreachable = anyhow::Error::new(crate::sync::error::TransportError::Unreachable {
        target: "ws://192.0.2.1:7700/sync".into(),
        cause: "Connection refused".into(),
    });
    w.with(|m| {
        m.replica.record_sync().unwrap();
        m.sync = super::syncer::failure(&unreachable, m);
    });
    let html = w.html();
    assert!(html.contains("sync offline"), "{html}");
    assert!(!html.contains("sync failed"), "{html}");
    assert!(
        html.contains("オフライン・電波が戻ったら送ります"),
        "{html}"
    );
    assert!(html.contains("最終同期"), "{html}");
    assert!(!html.contains("同期できませんでした"), "{html}");

    let certificate = anyhow::Error::new(crate::sync::error::TransportError::from(
        crate::sync::tls::CertificateError {
            host: "sync.example.jp".into(),
            reason: crate::sync::tls::CertificateReason::Expired,
        },
    ));
    w.with(|m| m.sync = super::syncer::failure(&certificate, m));
    let html = w.html();
    assert!(html.contains("sync failed"), "{html}");
    assert!(html.contains("有効期限が切れています"), "{html}");
    let revoked = anyhow::Error::new(crate::sync::error::TransportError::Revoked);
    w.with(|m| m.sync = super::syncer::failure(&revoked, m));
    let html = w.html();
    assert!(html.contains("sync failed"), "{html}");
    assert!(html.contains("利用停止"), "{html}");
}

/// A place form open while another device changes the place: fields the person has not touched
/// show the new values, and saving writes only what the person changed, so the other device's
/// edit survives (an untouched field used to be written back with its old value). A field both
/// changed keeps what the person typed, marked "changed on another device".
#[test]
fn a_form_open_while_another_device_edits_never_writes_back_old_values() {
    let mut w = Window::open(true, None);
    let id = w
        .model()
        .peek()
        .replica
        .places(&Default::default())
        .unwrap()[0]
        .place
        .id
        .clone();
    w.with(|m| m.open_place(&id).unwrap());
    // Another device's edit arrives underneath the open form.
    w.with(|m| {
        m.replica
            .set::<Place>(&id, "contact", "046-999-0000")
            .unwrap();
        m.reload().unwrap();
    });
    assert_eq!(
        w.model().peek().form.as_ref().unwrap().text("contact"),
        "046-999-0000",
        "the untouched field shows the new value"
    );
    // The person renames the place and saves: the contact stays as the other device set it.
    w.with(|m| {
        m.form
            .as_mut()
            .unwrap()
            .set("name", "喫茶ランドリー（改名）".into());
        assert!(m.save_place().unwrap());
    });
    let mut stored = None;
    w.with(|m| stored = Some(m.replica.get::<Place>(&id).unwrap()));
    let stored = stored.unwrap();
    assert_eq!(stored.name, "喫茶ランドリー（改名）");
    assert_eq!(stored.contact, "046-999-0000");

    // Both change the description: the form keeps what the person typed and says so.
    w.with(|m| {
        m.open_place(&id).unwrap();
        m.form
            .as_mut()
            .unwrap()
            .set("description", "この端末の説明".into());
        m.replica
            .set::<Place>(&id, "description", "他の端末の説明")
            .unwrap();
        m.replica
            .set::<Place>(&id, "contact", "046-111-2222")
            .unwrap();
        m.reload().unwrap();
    });
    {
        let model = w.model();
        let m = model.peek();
        let form = m.form.as_ref().unwrap();
        assert_eq!(form.text("description"), "この端末の説明");
        assert_eq!(form.text("contact"), "046-111-2222");
        assert_eq!(form.changed_elsewhere, vec!["description"]);
    }
    w.with(|m| m.screen = super::model::Screen::Place);
    assert!(
        w.html().contains("他の端末で変更されました"),
        "{}",
        w.html()
    );
    w.with(|m| assert!(m.save_place().unwrap()));
    let mut stored = None;
    w.with(|m| stored = Some(m.replica.get::<Place>(&id).unwrap()));
    let stored = stored.unwrap();
    assert_eq!(stored.description, "この端末の説明");
    assert_eq!(stored.contact, "046-111-2222");
}

/// A coordinator logs a visit in the window: it chooses the team (the form shows every team), picks
/// a place nearest first or none, and the coordinates come from the place or stay empty, never
/// from where the map happens to be.
#[test]
fn a_coordinator_logs_a_visit_choosing_the_team_and_the_place() {
    let mut w = Window::open(true, Some(Role::Coordinator));
    w.with(|m| {
        m.replica.set_default_team("").ok();
        m.start_visit(None);
    });
    w.with(|m| m.screen = super::model::Screen::Visits);
    let html = w.html();
    assert!(html.contains("visit-team"), "a team field: {html}");
    assert!(html.contains("visit-place-search"), "a place picker");
    assert!(
        html.contains("placeholder=\"YYYY-MM-DD\"") && !html.contains("type=\"date\""),
        "dates read and show one format"
    );
    {
        let model = w.model();
        let m = model.peek();
        let form = m.visit_form.as_ref().unwrap();
        assert_eq!((form.lat, form.lon), (None, None), "not the map centre");
    }
    // Nearest first, searchable by name.
    let (team, first) = {
        let mut out = None;
        w.with(|m| {
            let team = m.visit_teams()[0].id.clone();
            let choices = m.visit_place_choices();
            assert!(!choices.is_empty());
            let distances: Vec<f64> = choices.iter().map(|h| h.distance_m.unwrap()).collect();
            assert!(distances.windows(2).all(|d| d[0] <= d[1]), "{distances:?}");
            out = Some((team, choices[0].place.clone()));
        });
        out.unwrap()
    };
    w.with(|m| {
        let form = m.visit_form.as_mut().unwrap();
        form.team = team.clone();
        m.choose_visit_place(Some((first.id.clone(), first.name.clone())));
        assert!(m.save_visit().unwrap());
    });
    let mut visits = Vec::new();
    w.with(|m| visits = m.replica.visits(&Default::default()).unwrap());
    let visit = visits
        .iter()
        .find(|v| v.place_id.as_deref() == Some(first.id.as_str()))
        .expect("the visit was logged at the chosen place");
    assert_eq!(visit.team, team);
    assert_eq!((visit.lat, visit.lon), (None, None));
}

/// A conflict on an open place is resolved on another device: when that arrives, the form's
/// conflicts are read again and the choice disappears (choosing then failed with "not found").
#[test]
fn a_conflict_resolved_elsewhere_leaves_the_open_form() {
    use ibasho_shared::DocId;
    let mut w = Window::open(true, None);
    let dir = tempfile::tempdir().unwrap();
    let mut other = Replica::open(&dir.path().join("other.sqlite3")).unwrap();
    let mut id = String::new();
    w.with(|m| {
        id = m.replica.places(&Default::default()).unwrap()[0]
            .place
            .id
            .clone();
        for doc in [DocId::Workspace, DocId::for_place(&id)] {
            other
                .merge_doc(&doc, &m.replica.doc_bytes(&doc).unwrap())
                .unwrap();
        }
        // Both change the contact while apart, then the other device's document arrives.
        other.set_person("鈴木").unwrap();
        other.set::<Place>(&id, "contact", "046-111-1111").unwrap();
        m.replica
            .set::<Place>(&id, "contact", "046-222-2222")
            .unwrap();
        let doc = DocId::for_place(&id);
        m.replica
            .merge_doc(&doc, &other.doc_bytes(&doc).unwrap())
            .unwrap();
        m.open_place(&id).unwrap();
        assert_eq!(
            m.form.as_ref().unwrap().conflicts.len(),
            1,
            "a conflict shows"
        );
    });
    // The other device takes this one's edit too, resolves the conflict, and that arrives.
    w.with(|m| {
        let doc = DocId::for_place(&id);
        other
            .merge_doc(&doc, &m.replica.doc_bytes(&doc).unwrap())
            .unwrap();
        other.resolve_conflict(&id, "contact", 1).unwrap();
        m.replica
            .merge_doc(&doc, &other.doc_bytes(&doc).unwrap())
            .unwrap();
        m.reload().unwrap();
        assert!(
            m.form.as_ref().unwrap().conflicts.is_empty(),
            "the open form no longer offers a choice"
        );
    });
}

/// A place opened from the list keeps 一覧 highlighted, and Cancel goes back to the list.
#[test]
fn a_place_opened_from_the_list_keeps_its_tab_and_cancel_returns_there() {
    let mut w = Window::open(true, None);
    let selected = |html: &str, tab: &str| {
        let at = html.find(&format!("id=\"tab-{tab}\"")).expect("the tab");
        let start = html[..at].rfind("<button").unwrap();
        html[start..at].contains("tab selected")
    };
    w.with(|m| {
        m.screen = Screen::List;
        let id = m.replica.places(&Default::default()).unwrap()[0]
            .place
            .id
            .clone();
        m.open_place(&id).unwrap();
    });
    let html = w.html();
    assert!(selected(&html, "List"), "一覧 stays highlighted");
    assert!(!selected(&html, "Map"));
    w.with(|m| m.cancel_place());
    assert_eq!(w.model().peek().screen, Screen::List);
    // From the map, the map's tab.
    w.with(|m| {
        m.screen = Screen::Map;
        let id = m.replica.places(&Default::default()).unwrap()[0]
            .place
            .id
            .clone();
        m.open_place(&id).unwrap();
    });
    assert!(selected(&w.html(), "Map"));
    w.with(|m| m.cancel_place());
    assert_eq!(w.model().peek().screen, Screen::Map);
}

/// A pin entered in Paris by mistake does not wreck the first view or ⌂: views fit the bulk of
/// the places, and the place's form warns that it lies outside Japan.
#[test]
fn a_pin_far_away_does_not_wreck_the_view_and_is_flagged() {
    let mut w = Window::open(true, None);
    let mut paris = String::new();
    w.with(|m| {
        let place = ibasho_shared::Place::new("パリの店", "cafe", 48.8566, 2.3522);
        paris = m.replica.add_place(place).unwrap().id;
        m.reload().unwrap();
        m.map.resize(390.0, 700.0);
        m.map.center_workspace();
        let (s, west, n, e) = m.map.viewport.bounds();
        assert!(
            s > 30.0 && n < 40.0 && west > 130.0 && e < 145.0,
            "the view fits the city, not the world: {s} {west} {n} {e}"
        );
        m.open_place(&paris).unwrap();
    });
    let html = w.html();
    assert!(html.contains("この位置は日本の外です"), "{html}");
    // A place in the city has no warning.
    w.with(|m| {
        let near = m
            .replica
            .places(&Default::default())
            .unwrap()
            .into_iter()
            .find(|h| h.place.id != paris)
            .unwrap()
            .place
            .id;
        m.open_place(&near).unwrap();
    });
    assert!(!w.html().contains("far-away"));
}

/// A change the server refused is listed in the settings in Japanese — the place by its name, the
/// field by its label, why by the refusal's kind — and the Discard button drops it: the place
/// keeps its other fields, and nothing is listed any more.
#[test]
fn a_refused_change_is_shown_by_name_and_discarded_with_one_button() {
    use super::model::Screen;
    use ibasho_shared::{DocId, Place, sync::ErrorCode};
    let mut w = Window::open(true, Some(Role::Member));
    let place = w
        .model()
        .write()
        .replica
        .add_place(Place {
            contact: "046-000-0000".into(),
            ..Place::new("相武台の喫茶店", "cafe", 35.5, 139.4)
        })
        .unwrap();
    w.with(|m| {
        m.replica
            .record_refusal(
                &DocId::for_place(&place.id).to_string(),
                Some(&place.id),
                Some("contact"),
                ErrorCode::Forbidden,
                "refused",
            )
            .unwrap();
        m.reload().unwrap();
        m.screen = Screen::Settings;
    });
    let html = w.html();
    assert!(html.contains("サーバーが受け付けない変更"), "{html}");
    assert!(html.contains("相武台の喫茶店 — 連絡先"), "{html}");
    assert!(
        html.contains("この端末の役割では送れない変更です"),
        "{html}"
    );
    assert!(!html.contains("refused"), "no English: {html}");
    // Rebuilt (the window reopens its model from the replica), then the tab clicked: the
    // button's listener is among the mutations.
    let m = w.remount();
    let settings = element(&m, "tab-Settings");
    let m = w.fire("click", settings, Box::<SerializedMouseData>::default());
    w.fire(
        "click",
        element(&m, "discard-0"),
        Box::<SerializedMouseData>::default(),
    );
    let html = w.html();
    assert!(!html.contains("サーバーが受け付けない変更"), "{html}");
    let kept = w.model().write().replica.get::<Place>(&place.id).unwrap();
    assert_eq!(kept.name, "相武台の喫茶店");
    assert_eq!(kept.contact, "", "the refused value is dropped");
}

/// The つなぐ screen lists a referral received, in Japanese, with the steps the device may take,
/// and one tap takes the step; the sync bar counts what waits for an answer.
#[test]
fn a_referral_is_answered_with_one_tap() {
    use super::model::Screen;
    use ibasho_shared::Referral;
    let mut w = Window::open(true, Some(Role::Coordinator));
    let referral = {
        let mut model = w.model();
        let mut m = model.write();
        let teams = m.replica.workspace().unwrap().teams;
        let own = teams[0].id.clone();
        m.replica.set_default_team(&own).unwrap();
        let other = teams[1].id.clone();
        // Sent to this device's own team by the other, so that it waits for this device.
        m.replica
            .add_referral(Referral {
                from_team: other,
                to_team: Some(own),
                summary: "週末に話せる場所を探している".into(),
                ..Referral::new("", "孤立", ibasho_shared::hours::now_jst())
            })
            .unwrap()
    };
    w.with(|m| {
        m.reload().unwrap();
        m.screen = Screen::Referrals;
    });
    let html = w.html();
    assert!(html.contains("受けたつなぎ"), "{html}");
    assert!(html.contains("孤立"), "{html}");
    assert!(html.contains("送付"), "{html}");
    assert!(html.contains("つなぐ 1"), "the sync bar counts it: {html}");
    let m = w.remount();
    let tab = element(&m, "tab-Referrals");
    let m = w.fire("click", tab, Box::<SerializedMouseData>::default());
    w.fire(
        "click",
        element(&m, "step-accepted"),
        Box::<SerializedMouseData>::default(),
    );
    let now = w
        .model()
        .write()
        .replica
        .get::<Referral>(&referral.id)
        .unwrap();
    assert_eq!(now.status, "accepted");
    assert!(w.html().contains("受付"));
    assert!(!w.html().contains("つなぐ 1"));
}

/// The reports screen draws the fiscal year's figures as charts, in Japanese, with the numbers the
/// report gives.
#[test]
fn the_reports_screen_draws_the_years_figures() {
    let mut w = Window::open(true, None);
    let m = w.remount();
    let tab = element(&m, "tab-Reports");
    w.fire("click", tab, Box::<SerializedMouseData>::default());
    let html = w.html();
    for words in [
        "月別の訪問（チーム別）",
        "対象別の人数",
        "団体調査の流れ",
        "カテゴリ別の居場所",
        "CSVとしてコピー",
    ] {
        assert!(html.contains(words), "{words}: {html}");
    }
    let report = w.model().peek().report.clone().unwrap();
    let visits = report.visits.unwrap();
    assert!(visits.total > 0);
    assert!(
        html.contains(&format!("訪問 {} 件", visits.total)),
        "{html}"
    );
    assert!(html.contains("<svg"), "charts are SVG drawn by the app");
}

/// The directory screen adds an organization through its form (drawn from the organization's
/// field table) and filters the list by sector.
#[test]
fn the_directory_adds_an_organization_and_filters_by_sector() {
    use super::model::Screen;
    let mut w = Window::open(true, None);
    w.with(|m| {
        m.screen = Screen::Directory;
        m.open_org(None);
        let form = m.org_form.as_mut().unwrap();
        form.values.insert("name", "ひだまり食堂".into());
        form.values.insert("sector", "community".into());
        form.values.insert("activities", "food,ibasho".into());
        form.values.insert("surveyed_on", "2026-09-01".into());
    });
    assert!(w.html().contains("id=\"org-form\""));
    w.with(|m| assert!(m.save_org().unwrap()));
    let html = w.html();
    assert!(html.contains("ひだまり食堂"), "{html}");
    assert!(html.contains("食支援"), "{html}");
    let added = w
        .model()
        .peek()
        .lists
        .orgs
        .iter()
        .find(|o| o.name == "ひだまり食堂")
        .cloned()
        .unwrap();
    assert_eq!(added.activities, ["ibasho", "food"]);
    let all = w.model().peek().directory(&Default::default()).len();
    let community = w
        .model()
        .peek()
        .directory(&super::model::OrgFilter {
            sector: "community".into(),
            ..Default::default()
        })
        .len();
    assert!(community >= 1 && community < all);
    // A bad date is refused in the form, naming the field.
    w.with(|m| {
        m.open_org(Some(&added.id));
        m.org_form
            .as_mut()
            .unwrap()
            .values
            .insert("surveyed_on", "昨日".into());
        assert!(!m.save_org().unwrap());
        assert_eq!(
            m.org_form.as_ref().unwrap().error.as_ref().unwrap().field,
            "surveyed_on"
        );
    });
}

#[test]
fn the_map_has_a_legend_its_attribution_and_a_card_for_a_tapped_pin() {
    let mut w = Window::open(true, None);
    let html = w.html();
    assert!(
        html.contains("凡例") && html.contains("子ども食堂・食堂"),
        "the legend"
    );
    assert!(
        html.contains("地理院タイル"),
        "the default basemap's attribution"
    );
    assert!(
        !html.contains("現在地"),
        "no locate button that cannot locate"
    );
    // Tap the first single pin on the screen: its card shows, and the place is not opened.
    let (id, x, y, name) = {
        let model = w.model();
        let m = model.peek();
        let pin = m
            .map
            .markers()
            .into_iter()
            .find_map(|mk| match mk {
                ibasho_shared::map::Marker::Pin { id, x, y, .. } => Some((id, x, y)),
                _ => None,
            })
            .expect("a single pin in the first view");
        let name = m.map.info[&pin.0].name.clone();
        (pin.0, pin.1, pin.2, name)
    };
    w.with(|m| m.click_map(x, y).unwrap());
    assert_eq!(w.model().peek().map.card.as_deref(), Some(id.as_str()));
    let html = w.html();
    assert!(html.contains("class=\"place-card\""), "{html}");
    assert!(html.contains(&name) && html.contains("詳細"));
    assert!(matches!(w.model().peek().screen, Screen::Map));
    // A tap elsewhere closes the card rather than starting a new place.
    w.with(|m| m.click_map(2.0, 2.0).unwrap());
    assert!(w.model().peek().map.card.is_none());
    assert!(matches!(w.model().peek().screen, Screen::Map));
}

#[test]
fn saving_the_view_fills_the_pack_the_map_then_draws_from() {
    use super::model::offline_area;
    use ibasho_tests::tile_server::TileServer;
    let mut w = Window::open(true, None);
    // Zoom in on the demo city so that the view is a small area.
    w.with(|m| {
        let vp = &mut m.map.viewport;
        vp.width = 390.0;
        vp.height = 600.0;
        vp.zoom = 15.0;
    });
    let spec = w.model().write().view_area().unwrap();
    assert_eq!(spec.zooms.min, 13);
    assert_eq!(spec.zooms.max, 17, "a street-level area fits one download");
    let server = TileServer::start(ibasho_shared::map::tiles_of(&spec.bbox, spec.zooms));
    let spec = ibasho_shared::map::AreaSpec {
        url: server.url(),
        ..spec
    };
    let path = w.model().peek().pack_path();
    let plan = offline_area::plan(path.clone(), spec.clone()).unwrap();
    assert!(plan.exact, "the server's list gives the exact size");
    assert_eq!(plan.fetch.len() as u64, plan.tiles);
    let mut seen = Vec::new();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let result = offline_area::download(path, &plan, 50.0, &mut |p| seen.push(p), &stop);
    assert!(
        seen.last()
            .is_some_and(|p| p.done == p.of && p.of == plan.tiles)
    );
    w.with(|m| m.area_download_ended(result));
    drop(server);
    let html = w.html();
    assert!(html.contains("id=\"area-done\""), "{html}");
    // The map's tiles now come from the pack, not the network.
    let model = w.model();
    let m = model.peek();
    let tiles = ibasho_shared::map::tiles_for(&m.map.viewport);
    assert!(!tiles.is_empty());
    for t in tiles
        .iter()
        .filter(|t| ibasho_shared::map::area::holds(&spec.bbox, spec.zooms, t.z, t.x, t.y))
    {
        assert!(
            m.map
                .pack_tile(t.z, t.x, t.y)
                .is_some_and(|d| d.starts_with("data:image/png;base64,"))
        );
    }
    assert_eq!(m.map.areas.len(), 1);
    assert!(
        html.contains("data:image/png;base64,"),
        "tiles drawn from the pack"
    );
    // Closer than the pack goes (zoom 19), a zoom-17 tile is drawn scaled up.
    let (lat, lon) = m.map.viewport.unproject(195.0, 300.0);
    let n = 2f64.powi(19);
    let (wx, wy) = ibasho_shared::map::world_px(lat, lon);
    let (x, y) = ((wx * n / 256.0) as u32, (wy * n / 256.0) as u32);
    let (data, part) = m.map.pack_tile_or_parent(19, x, y).expect("a parent tile");
    assert!(data.starts_with("data:image/png;base64,"));
    assert_eq!(
        part.unwrap().split(' ').nth(2),
        Some("64"),
        "a quarter of a quarter"
    );
}

//! A coordinator, two workers in different teams and a member edit offline, then sync in varying
//! orders: shared documents converge, conflicts look the same everywhere, and visits reach only the
//! devices allowed to see them.

use ibasho_tests::{Device, Server, contains};
use std::path::Path;

struct Workspace {
    server: Server,
    workspace: String,
    coordinator: Device,
    worker_a: Device,
    worker_b: Device,
    member: Device,
}

fn workspace(dir: &Path) -> Workspace {
    let server = Server::start(&dir.join("server"));
    let ws = server.admin(&[
        "workspace",
        "create",
        "--name",
        "座間市 孤独・孤立官民連携PF",
    ]);
    let team_a = server.team(&ws, "座間市社協");
    let team_b = server.team(&ws, "NPOつなぐ");
    let invite = |role: &str, team: Option<&str>| server.invite(&ws, role, team);
    let (ci, ai, bi, mi) = (
        invite("coordinator", None),
        invite("worker", Some(&team_a)),
        invite("worker", Some(&team_b)),
        invite("member", None),
    );
    Workspace {
        coordinator: Device::joined(&server, &ci, "佐藤"),
        worker_a: Device::joined(&server, &ai, "鈴木"),
        worker_b: Device::joined(&server, &bi, "高橋"),
        member: Device::joined(&server, &mi, "喫茶ランドリー店主"),
        workspace: ws,
        server,
    }
}

/// The heads of every exported document of a device, by file name.
fn heads(device: &Device) -> std::collections::BTreeMap<String, Vec<automerge::ChangeHash>> {
    let out = device.home.path().join("export");
    let _ = std::fs::remove_dir_all(&out);
    device.ok(&["export", "automerge", "--out", out.to_str().unwrap()]);
    std::fs::read_dir(&out)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let mut doc = automerge::AutoCommit::load(&std::fs::read(&path).unwrap()).unwrap();
            let mut h = doc.get_heads();
            h.sort();
            (path.file_name().unwrap().to_string_lossy().to_string(), h)
        })
        .collect()
}

const MARKER_A: &str = "MARKER-TEAM-A-7f3c";

#[test]
fn offline_edits_converge_and_visits_reach_only_allowed_devices() {
    let dir = tempfile::tempdir().unwrap();
    let w = workspace(dir.path());
    let all = [&w.coordinator, &w.worker_a, &w.worker_b, &w.member];

    // Everyone edits offline.
    let p1 = w.coordinator.add_place("カフェ・ひだまり");
    w.coordinator.ok(&[
        "org",
        "add",
        "--name",
        "座間市社会福祉協議会",
        "--sector",
        "社協",
    ]);
    let p2 = w.worker_a.add_place("ざま子ども食堂");
    w.worker_a.ok(&[
        "visit", "add", "--place", &p2, "--kind", "visit", "--people", "4",
    ]);
    let visit_a = w.worker_a.json(&["visit", "list", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.worker_a
        .ok(&["visit", "set", &visit_a, "referral_reason", MARKER_A]);
    w.worker_b.add_place("相武台の古本屋");
    w.worker_b.ok(&["visit", "add", "--kind", "phone"]);
    w.member.add_place("喫茶ランドリー相武台");
    w.member.ok(&[
        "org",
        "add",
        "--name",
        "喫茶ランドリー",
        "--sector",
        "企業",
        "--offers",
        "居場所の提供",
    ]);

    // Sync in a varying order, twice round.
    for device in [
        &w.worker_a,
        &w.member,
        &w.coordinator,
        &w.worker_b,
        &w.member,
        &w.worker_a,
        &w.coordinator,
        &w.worker_b,
    ] {
        device.sync();
    }
    let places = |d: &Device| {
        d.json(&["place", "list", "--json"])
            .as_array()
            .unwrap()
            .len()
    };
    for d in all {
        assert_eq!(places(d), 4, "every device has every place");
        assert_eq!(
            d.json(&["org", "list", "--json"]).as_array().unwrap().len(),
            2
        );
    }
    let shared = |d: &Device| {
        heads(d)
            .into_iter()
            .filter(|(k, _)| !k.starts_with("visits"))
            .collect::<Vec<_>>()
    };
    let reference = shared(&w.coordinator);
    for d in all {
        assert_eq!(
            shared(d),
            reference,
            "places, orgs and workspace documents are identical"
        );
    }

    // Who sees which visits.
    assert_eq!(
        w.coordinator
            .json(&["visit", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        w.worker_a
            .json(&["visit", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        w.worker_b
            .json(&["visit", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        w.member.json(&["visit", "list", "--json"]),
        serde_json::json!([])
    );
    assert!(
        contains(&w.coordinator.replica_bytes(), MARKER_A.as_bytes()),
        "the coordinator sees team A's visit"
    );
    assert!(
        !contains(&w.member.replica_bytes(), MARKER_A.as_bytes()),
        "no byte of team A's visits on the member's device"
    );
    assert!(
        !contains(&w.worker_b.replica_bytes(), MARKER_A.as_bytes()),
        "no byte of team A's visits on team B's device"
    );

    // A concurrent edit of one field is the same conflict on every replica.
    w.coordinator
        .ok(&["place", "set", &p1, "name", "カフェ・ひだまり座間"]);
    w.worker_b
        .ok(&["place", "set", &p1, "name", "ひだまりカフェ"]);
    for _ in 0..2 {
        for d in all {
            d.sync();
        }
    }
    let conflicts = w.coordinator.json(&["conflicts", "--json"]);
    assert_eq!(conflicts[0]["field"], "name");
    assert_eq!(conflicts[0]["values"].as_array().unwrap().len(), 2);
    for d in all {
        assert_eq!(d.json(&["conflicts", "--json"]), conflicts);
    }

    // Resolving it with the value shown (Automerge removes the other value) is accepted by the
    // server and reaches everyone.
    let shown = conflicts[0]["values"][0]["value"].clone();
    w.coordinator
        .ok(&["conflicts", "resolve", &p1, "name", "1"]);
    for _ in 0..2 {
        for d in all {
            d.sync();
        }
    }
    for d in all {
        assert_eq!(d.json(&["conflicts", "--json"]), serde_json::json!([]));
        let places = d.json(&["place", "list", "--json"]);
        let place = places
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == p1.as_str())
            .unwrap();
        assert_eq!(place["name"], shown);
    }
    let status = w.member.json(&["status", "--json"]);
    assert_eq!(status["unsent_changes"], 0);
    assert_eq!(status["server"]["role"], "member");
}

/// What the server would refuse is refused on the device at once, naming why, and nothing is kept
/// that could never be sent (it used to be kept, refused at every sync, and block the device's
/// other work). A member editing another organization's entry; a member logging a visit; a worker
/// logging a visit for another team. The member's own new entry and the worker's own visit then
/// sync as usual, and `status` counts nothing stuck.
#[test]
fn what_the_role_may_not_do_is_refused_on_the_device_and_sync_stays_clean() {
    let dir = tempfile::tempdir().unwrap();
    let w = workspace(dir.path());
    let org = w
        .coordinator
        .ok(&[
            "org",
            "add",
            "--name",
            "座間市社会福祉協議会",
            "--sector",
            "社協",
        ])
        .trim()
        .to_string();
    w.coordinator.sync();
    w.member.sync();
    let err = w.member.fails(&["org", "set", &org, "offers", "乗っ取り"]);
    assert!(err.contains("only its own organization"), "{err}");
    let place = w.member.add_place("喫茶ランドリー");
    let err = w
        .member
        .fails(&["visit", "add", "--place", &place, "--kind", "visit"]);
    assert!(err.contains("members cannot log visits"), "{err}");
    let team_a = w.worker_a.json(&["status", "--json"])["server"]["team"]
        .as_str()
        .unwrap()
        .to_string();
    let err = w
        .worker_b
        .fails(&["visit", "add", "--team", &team_a, "--kind", "phone"]);
    assert!(err.contains("another team"), "{err}");
    // In Japanese too, with nothing English in it.
    let out = w
        .member
        .run(&["--lang", "ja", "visit", "add", "--kind", "visit"]);
    let ja = String::from_utf8_lossy(&out.stderr);
    assert!(ja.contains("メンバーは訪問を記録できません"), "{ja}");
    let status = w.member.run(&["--lang", "ja", "status"]);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("役割: メンバー"), "{status}");
    assert!(!status.contains("member"), "{status}");

    let own = w
        .member
        .ok(&["org", "add", "--name", "喫茶ランドリー", "--sector", "企業"])
        .trim()
        .to_string();
    w.member.sync();
    w.worker_b.ok(&["visit", "add", "--kind", "phone"]);
    w.worker_b.sync();
    for device in [&w.member, &w.worker_b] {
        assert_eq!(device.json(&["status", "--json"])["unsent_changes"], 0);
    }
    w.coordinator.sync();
    let orgs = w.coordinator.json(&["org", "list", "--json"]);
    let offers: Vec<_> = orgs
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["id"] == org.as_str())
        .map(|o| o["offers"].clone())
        .collect();
    assert_eq!(offers, vec![serde_json::json!("")]);
    assert!(
        orgs.as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == own.as_str())
    );
    assert_eq!(
        w.coordinator
            .json(&["visit", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let _ = &w.server;
}

#[test]
fn a_team_a_coordinator_adds_in_the_app_can_file_visits() {
    let dir = tempfile::tempdir().unwrap();
    let w = workspace(dir.path());
    let team = w
        .coordinator
        .ok(&["team", "add", "夜回り班"])
        .trim()
        .to_string();
    w.coordinator
        .ok(&["visit", "add", "--kind", "walk_in", "--team", &team]);
    w.coordinator.sync();
    let other = w.server.join(&w.workspace, "coordinator", None, "高橋");
    let visits = other.json(&["visit", "list", "--json"]);
    assert_eq!(visits[0]["team"], team.as_str());
}

/// Every edit a person can make with the command line (and so with the app, which calls the same
/// replica API) is accepted by the server's gate: each field set and cleared, deletions and
/// restores, teams, organizations, visits with follow-ups and referrals, and conflicts resolved
/// with either value. `sync` fails on any refusal. A new device then sees what the editors see.
#[test]
fn every_edit_a_person_can_make_is_accepted_by_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let w = workspace(dir.path());
    let (c, a) = (&w.coordinator, &w.worker_a);

    let place = c.add_place("カフェ・ひだまり");
    for (field, value) in [
        ("name", "カフェ・ひだまり相武台"),
        ("reading", "かふぇ・ひだまり"),
        ("category", "bookshop"),
        ("targets", "高齢者,ひきこもり"),
        ("lat", "35.4901"),
        ("lon", "139.4102"),
        ("accuracy_m", "12"),
        ("address", "座間市相武台1-2-3"),
        ("hours", "Tu-Su 10:00-18:00; PH off"),
        ("contact", "046-000-0000"),
        ("description", "本の貸し借りとお茶の会"),
        ("status", "temporarily_closed"),
        ("listing_consent", "true"),
        ("hours_checked_at", "2026-11-01"),
    ] {
        c.ok(&["place", "set", &place, field, value]);
    }
    c.sync();
    for field in [
        "reading",
        "accuracy_m",
        "address",
        "contact",
        "description",
        "hours_checked_at",
    ] {
        c.ok(&["place", "set", &place, field, ""]);
    }
    c.sync();
    c.ok(&["place", "delete", &place]);
    c.sync();
    c.ok(&["place", "restore", &place]);
    c.sync();

    c.ok(&["team", "add", "見守りチーム"]);
    let org = c
        .ok(&[
            "org",
            "add",
            "--name",
            "座間市社会福祉協議会",
            "--sector",
            "社協",
            "--contact",
            "046-111-1111",
            "--offers",
            "生活相談",
            "--participation",
            "joined",
            "--introduced-by",
            "市福祉課",
            "--consent",
        ])
        .trim()
        .to_string();
    for (field, value) in [
        ("name", "座間市社協"),
        ("sector", "NPO"),
        ("contact", ""),
        ("offers", "食料支援"),
        ("participation", "considering"),
        ("introduced_by", ""),
        ("listing_consent", "false"),
    ] {
        c.ok(&["org", "set", &org, field, value]);
    }
    c.sync();

    a.sync();
    let first = a
        .ok(&[
            "visit",
            "add",
            "--place",
            &place,
            "--kind",
            "visit",
            "--people",
            "2",
            "--target",
            "高齢者",
            "--note",
            "本人の事情",
            "--follow-up",
            "2026-12-10",
        ])
        .trim()
        .to_string();
    a.ok(&[
        "visit",
        "add",
        "--kind",
        "phone",
        "--lat",
        "35.49",
        "--lon",
        "139.41",
        "--follows",
        &first,
        "--referral-to",
        &org,
        "--referral-reason",
        "食料支援の相談",
    ]);
    for (field, value) in [
        ("kind", "walk_in"),
        ("targets", "高齢者,子育て中"),
        ("people", "3"),
        ("follow_up", "2026-12-20"),
        ("follow_up_done", "true"),
        ("referral_to", &org),
        ("referral_reason", "家計の相談"),
        ("referral_outcome", "社協の窓口につないだ"),
        ("follow_up", ""),
        ("referral_to", ""),
    ] {
        a.ok(&["visit", "set", &first, field, value]);
    }
    a.sync();

    // Conflicts, resolved with the value shown and with the other one.
    for (field, choice) in [("name", "1"), ("contact", "2")] {
        c.ok(&["place", "set", &place, field, "コーディネーターの値"]);
        a.ok(&["place", "set", &place, field, "ワーカーの値"]);
        c.sync();
        a.sync();
        c.sync();
        assert_eq!(c.json(&["conflicts", "--json"])[0]["field"], field);
        c.ok(&["conflicts", "resolve", &place, field, choice]);
        c.sync();
        a.sync();
        assert_eq!(a.json(&["conflicts", "--json"]), serde_json::json!([]));
    }

    let fresh = w.server.join(&w.workspace, "coordinator", None, "新任");
    for what in [
        vec!["place", "show", place.as_str(), "--json"],
        vec!["org", "list", "--json"],
        vec!["conflicts", "--json"],
    ] {
        assert_eq!(fresh.json(&what), c.json(&what), "{what:?}");
    }
    assert_eq!(
        fresh
            .json(&["visit", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

//! Referrals (つなぐ) through the real server: both sides see and answer, no one else receives
//! them, each side takes only its own steps, and steps taken offline on both sides that do not
//! fit together show as 要確認 everywhere until one side chooses.

use ibasho_tests::{Device, Server, contains};
use serde_json::Value;

struct Platform {
    _dir: tempfile::TempDir,
    server: Server,
    ws: String,
    team_b: String,
    a: Device,
    b: Device,
    c: Device,
    member: Device,
    coordinator: Device,
}

fn platform() -> Platform {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let ws = server.admin(&["workspace", "create", "--name", "座間市PF"]);
    let team_a = server.team(&ws, "社協");
    let team_b = server.team(&ws, "ひきこもり支援NPO");
    let team_c = server.team(&ws, "子ども食堂");
    let a = server.join(&ws, "worker", Some(&team_a), "鈴木");
    let b = server.join(&ws, "worker", Some(&team_b), "高橋");
    let c = server.join(&ws, "worker", Some(&team_c), "田中");
    let member = server.join(&ws, "member", None, "喫茶店");
    let coordinator = server.join(&ws, "coordinator", None, "佐藤");
    Platform {
        _dir: dir,
        server,
        ws,
        team_b,
        a,
        b,
        c,
        member,
        coordinator,
    }
}

fn referrals(device: &Device, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["referral", "list", "--json"];
    all.extend_from_slice(args);
    device.json(&all).as_array().unwrap().clone()
}

fn find<'a>(list: &'a [Value], id: &str) -> &'a Value {
    list.iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {list:?}"))
}

fn refer(p: &Platform, summary: &str) -> String {
    p.a.ok(&[
        "referral",
        "add",
        "--to-team",
        &p.team_b,
        "--reason",
        "ひきこもり",
        "--people",
        "1",
        "--summary",
        summary,
    ])
    .trim()
    .to_string()
}

/// Team A refers to team B; B sees it, accepts and marks it connected; A sees each step; team C
/// and a member never receive it; each side takes only its own steps; a withdrawal reaches B.
#[test]
fn both_teams_see_and_answer_and_no_one_else_receives_it() {
    const MARKER: &str = "夜間の見守りREF1";
    let p = platform();
    let id = refer(&p, &format!("{MARKER} 30代"));
    p.a.sync();
    p.b.sync();
    let incoming = referrals(&p.b, &["--incoming"]);
    assert_eq!(find(&incoming, &id)["status"], "sent");
    assert!(referrals(&p.a, &["--incoming"]).is_empty());
    assert_eq!(referrals(&p.a, &["--outgoing"]).len(), 1);

    // Each side takes only its own steps, refused at once with the reason.
    let refused = p.a.fails(&["referral", "set", &id, "status", "accepted"]);
    assert!(refused.contains("receiving team answers"), "{refused}");
    let refused =
        p.b.fails(&["referral", "withdraw", &id, "--reason", "other"]);
    assert!(refused.contains("does not take"), "{refused}");
    let refused = p.b.fails(&["referral", "set", &id, "status", "declined"]);
    assert!(
        refused.contains("status reason"),
        "a reason is required: {refused}"
    );

    for step in ["accepted", "connected"] {
        p.b.ok(&["referral", "set", &id, "status", step, "--note", "面談済み"]);
        p.b.sync();
        p.a.sync();
        let seen = find(&referrals(&p.a, &[]), &id).clone();
        assert_eq!(seen["status"], step);
        assert_eq!(seen["status_by"], "高橋");
    }
    // A step that does not follow is refused.
    let refused = p.b.fails(&["referral", "set", &id, "status", "accepted"]);
    assert!(refused.contains("does not follow"), "{refused}");

    // A withdrawal reaches B.
    let second = refer(&p, "二件目");
    p.a.sync();
    p.a.ok(&[
        "referral",
        "withdraw",
        &second,
        "--reason",
        "本人が希望しない",
    ]);
    p.a.sync();
    p.b.sync();
    let seen = find(&referrals(&p.b, &[]), &second).clone();
    assert_eq!(seen["status"], "withdrawn");
    assert_eq!(seen["status_reason"], "person_declined");

    // Team C and a member never receive it; coordinators see both.
    for other in [&p.c, &p.member] {
        other.sync();
        assert!(
            !contains(&other.replica_bytes(), MARKER.as_bytes()),
            "the referral reached a device outside its two teams"
        );
    }
    assert!(referrals(&p.c, &[]).is_empty());
    p.coordinator.sync();
    assert_eq!(referrals(&p.coordinator, &[]).len(), 2);
    let _ = &p.server;
}

/// A withdrawal by A and "connected" by B, made while both were offline, end as 要確認 on every
/// replica with both steps and both reasons kept, and settle to one state when either side
/// chooses. A referral made by A and accepted by B offline (after A synced) converges.
#[test]
fn steps_taken_offline_on_both_sides_that_do_not_fit_need_reconciliation() {
    let p = platform();
    let id = refer(&p, "オフラインの両側");
    p.a.sync();
    p.b.sync();
    // Accepted by B offline; A sees it once both synced.
    p.b.ok(&["referral", "set", &id, "status", "accepted"]);
    p.b.sync();
    p.a.sync();
    assert_eq!(find(&referrals(&p.a, &[]), &id)["status"], "accepted");

    // Both offline: A withdraws, B marks it connected.
    p.a.ok(&["referral", "withdraw", &id, "--reason", "resolved"]);
    p.b.ok(&["referral", "set", &id, "status", "connected"]);
    p.a.sync();
    p.b.sync();
    p.a.sync();
    p.coordinator.sync();
    for device in [&p.a, &p.b, &p.coordinator] {
        let seen = find(&referrals(device, &[]), &id).clone();
        assert_eq!(seen["needs_review"], true, "{seen}");
        let mut steps: Vec<String> = seen["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        steps.sort();
        assert_eq!(steps, ["connected", "withdrawn"]);
        assert_eq!(
            seen["reasons"][0], "resolved",
            "the withdrawal's reason is kept"
        );
    }
    let listed = p.coordinator.ok(&["--lang", "ja", "referral", "list"]);
    assert!(listed.contains("要確認"), "{listed}");

    let history = p.a.ok(&["--lang", "ja", "referral", "history", &id]);
    assert!(
        history.contains("状況") && history.contains("高橋"),
        "{history}"
    );

    // B chooses: every replica settles on it.
    p.b.ok(&["referral", "set", &id, "status", "connected"]);
    p.b.sync();
    p.a.sync();
    for device in [&p.a, &p.b] {
        let seen = find(&referrals(device, &[]), &id).clone();
        assert_eq!(seen["needs_review"], false, "{seen}");
        assert_eq!(seen["status"], "connected");
    }
}

/// An escalation to the case conference reaches only that team and coordinators; referrals export
/// as FHIR Tasks; a referral recorded in a visit's fields before referrals were records shows as one.
#[test]
fn an_escalation_reaches_only_the_case_conference_and_referrals_export_as_fhir() {
    const MARKER: &str = "支援会議へERF3";
    let p = platform();
    let conference = p.server.team(&p.ws, "支援会議");
    p.server.admin(&[
        "workspace",
        "set",
        "--workspace",
        &p.ws,
        "--case-conference",
        &conference,
    ]);
    let d = p
        .server
        .join(&p.ws, "worker", Some(&conference), "会議事務局");
    p.a.sync();
    let visit =
        p.a.ok(&["visit", "add", "--kind", "visit"])
            .trim()
            .to_string();
    let id =
        p.a.ok(&[
            "referral",
            "escalate",
            "--reason",
            "孤立",
            "--visit",
            &visit,
            "--summary",
            MARKER,
        ])
        .trim()
        .to_string();
    p.a.sync();
    d.sync();
    let seen = find(&referrals(&d, &["--incoming"]), &id).clone();
    assert_eq!(seen["escalated"], true);
    assert_eq!(seen["visit"], visit.as_str());
    for other in [&p.b, &p.c, &p.member] {
        other.sync();
        assert!(!contains(&other.replica_bytes(), MARKER.as_bytes()));
    }

    p.coordinator.sync();
    let out = p.coordinator.home.path().join("referrals.fhir.json");
    p.coordinator
        .ok(&["export", "fhir", "--out", out.to_str().unwrap()]);
    let bundle: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    let task = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|t| t["id"] == id)
        .unwrap();
    assert_eq!(task["status"], "requested");
    assert_eq!(task["priority"], "urgent");
    assert_eq!(task["owner"]["display"], "支援会議");

    // Recorded the old way, in a visit: shown as a referral.
    let org = p
        .coordinator
        .ok(&[
            "org",
            "add",
            "--name",
            "ハローワーク座間",
            "--sector",
            "行政",
        ])
        .trim()
        .to_string();
    p.coordinator.sync();
    p.a.sync();
    p.a.ok(&[
        "visit",
        "add",
        "--kind",
        "visit",
        "--referral-to",
        &org,
        "--referral-reason",
        "就労の相談",
    ]);
    let old = referrals(&p.a, &[]);
    let legacy = old.iter().find(|r| r["legacy"] == true).unwrap();
    assert_eq!(legacy["to_org"], org.as_str());
    assert_eq!(legacy["summary"], "就労の相談");
}

//! Erasure that reaches every replica, through the real server and real devices: a wrong detail
//! wiped everywhere (files, write-ahead logs, exports), a device offline during the erasure keeping
//! its own edits, an old change refused, visits past retention gone with their counts kept, and a
//! revoked device wiping itself.

use ibasho_tests::{Device, Server, contains};
use serde_json::Value;
use std::path::Path;

mod raw;

/// A server with a workspace and a team.
fn platform() -> (tempfile::TempDir, Server, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let ws = server.admin(&["workspace", "create", "--name", "座間市PF"]);
    let team = server.team(&ws, "北地区");
    (dir, server, ws, team)
}

/// A worker's new visit with `marker` in its referral reason (and `more` arguments); its id.
fn visit_with(worker: &Device, marker: &str, more: &[&str]) -> String {
    let mut args = vec![
        "visit",
        "add",
        "--kind",
        "visit",
        "--referral-reason",
        marker,
    ];
    args.extend_from_slice(more);
    worker.ok(&args).trim().to_string()
}

/// Every byte of every file under `dir` (databases, write-ahead logs, exports).
fn bytes_under(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(bytes_under(&path));
        } else {
            out.extend(std::fs::read(&path).unwrap_or_default());
        }
    }
    out
}

/// Whether a device's files, and an export of its documents, hold `marker`.
fn device_holds(device: &Device, marker: &str) -> bool {
    let export = device.home.path().join("export");
    let _ = std::fs::remove_dir_all(&export);
    device.ok(&["export", "automerge", "--out", export.to_str().unwrap()]);
    contains(&bytes_under(device.home.path()), marker.as_bytes())
}

fn visits(device: &Device) -> Vec<Value> {
    let mut list = device
        .json(&["visit", "list", "--json"])
        .as_array()
        .unwrap()
        .clone();
    list.sort_by_key(|v| v["id"].as_str().unwrap().to_string());
    list
}

fn visit<'a>(list: &'a [Value], id: &str) -> &'a Value {
    list.iter().find(|v| v["id"] == id).unwrap()
}

/// The scenario of the issue: a worker types a name into a visit's referral reason, corrects it a
/// minute later and syncs; a coordinator erases the field's past values. Afterwards the marker is
/// in no file of the server or of any device that synced (nor in their exports), the record's
/// other fields remain, a device that joins later never sees it, and the worker — offline during
/// the erasure, with its own unsent edits to the same document — keeps those edits and converges.
#[test]
fn an_erased_value_is_gone_from_every_file_and_offline_edits_survive() {
    const MARKER: &str = "山田花子さん宅ERASE1";
    let (dir, server, ws, team) = platform();
    let coordinator = server.join(&ws, "coordinator", None, "佐藤");
    let worker = server.join(&ws, "worker", Some(&team), "鈴木");

    let id = visit_with(&worker, &format!("{MARKER} 近くの方"), &["--people", "2"]);
    worker.sync();
    worker.ok(&["visit", "set", &id, "referral_reason", "訂正済み"]);
    worker.sync();
    coordinator.sync();
    assert!(
        device_holds(&coordinator, MARKER),
        "Automerge keeps the old value"
    );

    // The worker goes offline with edits of its own to the same document.
    worker.ok(&["visit", "set", &id, "people", "3"]);
    let second = worker
        .ok(&["visit", "add", "--kind", "phone", "--people", "1"])
        .trim()
        .to_string();

    let said = coordinator.ok(&[
        "erase",
        &id,
        "referral_reason",
        "--reason",
        "本人の希望による消去",
    ]);
    assert!(said.contains("epoch 1"), "{said}");
    assert!(
        !device_holds(&coordinator, MARKER),
        "gone from the coordinator's files"
    );
    assert!(
        !contains(&bytes_under(&dir.path().join("server")), MARKER.as_bytes()),
        "gone from the server's store and its log"
    );
    let after = visits(&coordinator);
    assert_eq!(visit(&after, &id)["referral_reason"], "訂正済み");
    assert_eq!(
        visit(&after, &id)["kind"],
        "visit",
        "the other fields remain"
    );

    // The worker comes back: it takes the new epoch and keeps its own edits.
    worker.sync();
    coordinator.sync();
    assert!(!device_holds(&worker, MARKER));
    let on_worker = visits(&worker);
    let on_coordinator = visits(&coordinator);
    assert_eq!(
        visit(&on_worker, &id)["people"],
        3,
        "its unsent edit survived"
    );
    assert_eq!(
        visit(&on_coordinator, &id)["people"],
        3,
        "and reached the others"
    );
    assert!(on_coordinator.iter().any(|v| v["id"] == second));
    assert_eq!(on_worker, on_coordinator, "both replicas converge");

    // A device that joins afterwards never sees it; the erase log says who and why, not what.
    let later = server.join(&ws, "coordinator", None, "高橋");
    assert!(!device_holds(&later, MARKER));
    let log = later.json(&["erasures", "--json"]);
    assert_eq!(log[0]["record"], id.as_str());
    assert_eq!(log[0]["field"], "referral_reason");
    assert_eq!(log[0]["reason"], "本人の希望による消去");
    assert_eq!(log[0]["by"], "佐藤");
    assert!(!log.to_string().contains(MARKER));

    // A worker may not erase.
    let refused = worker.fails(&["erase", &second, "--reason", "x"]);
    assert!(refused.contains("coordinators"), "{refused}");
}

/// A file saved before an erasure (`export automerge` on a USB stick) cannot bring the erased value
/// back: importing it after the device took the new epoch is refused, and sync carries on.
#[test]
fn an_export_from_before_an_erasure_cannot_bring_the_value_back() {
    const MARKER: &str = "山田花子さん宅ERASE3";
    let (dir, server, ws, team) = platform();
    let coordinator = server.join(&ws, "coordinator", None, "佐藤");
    let worker = server.join(&ws, "worker", Some(&team), "鈴木");
    let id = visit_with(&worker, MARKER, &[]);
    worker.ok(&["visit", "set", &id, "referral_reason", "訂正済み"]);
    worker.sync();
    coordinator.sync();
    let stick = dir.path().join("usb-stick");
    coordinator.ok(&["export", "automerge", "--out", stick.to_str().unwrap()]);
    coordinator.ok(&["erase", &id, "referral_reason", "--reason", "本人の申出"]);
    assert!(!device_holds(&coordinator, MARKER));

    let refused = coordinator.fails(&["import", "automerge", stick.to_str().unwrap()]);
    assert!(refused.contains("erasure"), "{refused}");
    assert!(
        !device_holds(&coordinator, MARKER),
        "the old file brought nothing back"
    );
    coordinator.sync();
    worker.sync();
    assert_eq!(
        visit(&visits(&coordinator), &id)["referral_reason"],
        "訂正済み"
    );
    assert!(!device_holds(&worker, MARKER));
}

/// A change built on the closed epoch (an old client that kept its copy) is refused with a clear
/// code, and the erased value does not come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_built_on_a_closed_epoch_is_refused() {
    use automerge::ReadDoc;
    use automerge::transaction::Transactable;
    use ibasho_shared::sync::ErrorCode;
    const MARKER: &str = "古い版ERASE2";
    let (dir, server, ws, team) = platform();
    let worker = server.join(&ws, "worker", Some(&team), "鈴木");
    let id = visit_with(&worker, MARKER, &[]);
    worker.sync();
    let doc_id = visits(&worker)[0]["at"].as_str().unwrap()[..7].to_string();
    let doc_id = format!("visits/{team}/{doc_id}");

    // An old client: it holds the document as it was, and its own actor.
    let (token, actor) = raw::join_as(&server, &server.invite(&ws, "worker", Some(&team))).await;
    let mut ws_old = raw::connect(&server, &token).await;
    let mut old = automerge::AutoCommit::new().with_actor(actor);
    raw::fetch(&mut ws_old, &doc_id, &mut old).await;
    drop(ws_old);

    server.admin(&["erase", "--workspace", &ws, &id, "--reason", "誤って記入"]);

    let visits_map = old.get(automerge::ROOT, "visits").unwrap().unwrap().1;
    let record = old.get(&visits_map, id.as_str()).unwrap().unwrap().1;
    old.put(&record, "people", 5).unwrap();
    old.commit();
    let mut ws_old = raw::connect(&server, &token).await;
    let (code, message) = raw::push(&mut ws_old, &doc_id, &mut old).await;
    assert_eq!(code, ErrorCode::ClosedEpoch, "{message}");
    assert!(message.contains("erasure"), "{message}");
    assert!(!contains(
        &bytes_under(&dir.path().join("server")),
        MARKER.as_bytes()
    ));
    // The current device takes the new epoch: the record is gone.
    worker.sync();
    assert!(visits(&worker).iter().all(|v| v["id"] != id));
    assert!(!device_holds(&worker, MARKER));
}

/// With a retention of one month, visits dated two months back are erased from the server and
/// every device at its next sync, and the report's counts for that month do not change.
#[test]
fn visits_past_retention_are_erased_everywhere_and_their_counts_stay() {
    const MARKER: &str = "二か月前ERASE3";
    let (dir, server, ws, team) = platform();
    let coordinator = server.join(&ws, "coordinator", None, "佐藤");
    let worker = server.join(&ws, "worker", Some(&team), "鈴木");
    let today = chrono::Utc::now().date_naive();
    let old = today
        .checked_sub_months(chrono::Months::new(2))
        .unwrap()
        .format("%Y-%m-%dT10:00")
        .to_string();
    let old_month = old[..7].to_string();
    for people in ["2", "4"] {
        visit_with(&worker, MARKER, &["--at", &old, "--people", people]);
    }
    worker.ok(&["visit", "add", "--kind", "phone"]);
    worker.sync();
    coordinator.sync();
    let report = |device: &Device| {
        device.json(&["report", "--json", "--from", &old_month, "--to", "2099-12"])
    };
    let before = report(&coordinator);
    assert_eq!(before["visits"]["by_month"][&old_month], 2);
    assert_eq!(before["visits"]["people_by_month"][&old_month], 6);

    let said = server.admin(&[
        "workspace",
        "set",
        "--workspace",
        &ws,
        "--visit-retention-months",
        "1",
    ]);
    assert!(said.contains("1 month document"), "{said}");
    assert!(!contains(
        &bytes_under(&dir.path().join("server")),
        MARKER.as_bytes()
    ));
    for device in [&coordinator, &worker] {
        device.sync();
        assert!(!device_holds(device, MARKER));
        let listed = visits(device);
        assert_eq!(listed.len(), 1, "only this month's visit stays");
        let after = report(device);
        assert_eq!(after["visits"]["by_month"][&old_month], 2, "counts kept");
        assert_eq!(after["visits"]["people_by_month"][&old_month], 6);
        assert_eq!(after["visits"]["total"], before["visits"]["total"]);
        assert_eq!(after["visits"]["people"], before["visits"]["people"]);
    }
    // A visit of that month is not taken any more: the change is stuck, `status` says where and
    // why, and once discarded sync is clean again.
    let late = worker
        .ok(&["visit", "add", "--kind", "visit", "--at", &old])
        .trim()
        .to_string();
    let refused = worker.fails(&["sync"]);
    assert!(refused.contains("refused"), "{refused}");
    let status = worker.json(&["status", "--json"]);
    let stuck = &status["stuck"][0];
    assert_eq!(stuck["doc"], format!("visits/{team}/{old_month}"));
    assert!(
        stuck["message"]
            .as_str()
            .unwrap()
            .contains("keeps visits 1 months"),
        "{stuck}"
    );
    assert!(worker.ok(&["status"]).contains("stuck change"));
    worker.ok(&["discard", &late]);
    worker.sync();
    assert!(
        worker.json(&["status", "--json"])["stuck"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(visits(&worker).iter().all(|v| v["id"] != late));
}

/// A revoked device's next contact wipes it: its replica no longer holds any visit, and the
/// server's device list says it wiped.
#[test]
fn a_revoked_device_wipes_itself_on_its_next_contact() {
    const MARKER: &str = "紛失した端末ERASE4";
    let (_dir, server, ws, team) = platform();
    let worker = server.join(&ws, "worker", Some(&team), "鈴木");
    visit_with(&worker, MARKER, &["--note", MARKER]);
    worker.sync();
    assert!(contains(&worker.replica_bytes(), MARKER.as_bytes()));
    let device = worker.json(&["status", "--json"])["server"]["device"]
        .as_str()
        .unwrap()
        .to_string();
    server.admin(&["revoke", &device]);

    let said = worker.fails(&["sync"]);
    assert!(said.contains("deleted"), "{said}");
    assert!(!contains(&worker.replica_bytes(), MARKER.as_bytes()));
    assert!(worker.fails(&["visit", "list"]).contains("workspace"));
    let listed = server.admin(&["devices", "--workspace", &ws]);
    assert!(
        listed.contains("revoked") && listed.contains("wiped"),
        "{listed}"
    );
    assert!(listed.contains("last seen"), "{listed}");
}

/// Visits are deleted and restored like places, by those who may edit them.
#[test]
fn visits_are_deleted_and_restored() {
    let device = Device::new();
    device.ok(&["demo", "--places", "5"]);
    let id = device
        .ok(&["visit", "add", "--kind", "visit"])
        .trim()
        .to_string();
    device.ok(&["visit", "delete", &id]);
    assert!(
        visits(&device).iter().all(|v| v["id"] != id),
        "no longer listed"
    );
    device.ok(&["visit", "restore", &id]);
    assert!(visit(&visits(&device), &id)["deleted_at"].is_null());
    assert!(
        device
            .fails(&["visit", "delete", "0123"])
            .contains("not found")
    );
}

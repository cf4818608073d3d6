//! `ibasho sync --watch` stays connected: other devices' changes arrive by push, edits made on the
//! device (by other `ibasho` commands) go out as they happen, and a dropped server is reconnected.
//! Also: offline work made before joining is merged on join.

use ibasho_tests::{Device, Server};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Watch(Child);

impl Watch {
    fn start(device: &Device) -> Watch {
        Self::start_with(device, &[], Stdio::null())
    }

    fn start_with(device: &Device, flags: &[&str], stderr: impl Into<Stdio>) -> Watch {
        Watch(
            Command::new(ibasho_tests::bin("ibasho"))
                .arg("--home")
                .arg(device.home.path())
                .args(["--lang", "en", "sync", "--watch"])
                .args(flags)
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn has_place(device: &Device, id: &str) -> bool {
    device
        .json(&["place", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == id)
}

#[test]
fn a_watching_device_receives_pushes_sends_its_edits_and_survives_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("server"));
    let ws = server.admin(&["workspace", "create", "--name", "座間市PF"]);
    let watcher = server.join(&ws, "member", None, "見守る人");
    let other = server.join(&ws, "coordinator", None, "佐藤");
    let _watch = Watch::start(&watcher);
    eventually("the watcher is connected", || {
        server.metric("ibasho_connections ") == 1
    });

    // Pushed from the server.
    let from_other = other.add_place("相武台の喫茶店");
    other.sync();
    eventually("the push arrived", || has_place(&watcher, &from_other));

    // An edit made on the watcher's device by another command goes out without `ibasho sync`.
    let from_watcher = watcher.add_place("駄菓子屋さん");
    eventually("the watcher's edit reached the server", || {
        other.sync();
        has_place(&other, &from_watcher)
    });

    // The server dies and comes back; the watcher reconnects with backoff.
    server.restart();
    eventually("the watcher reconnected", || {
        server.metric("ibasho_connections ") == 1
    });
    let after_restart = watcher.add_place("図書館の一角");
    eventually("edits flow again", || {
        other.sync();
        has_place(&other, &after_restart)
    });
}

/// A server that stops answering without closing anything (a network that dropped the connection
/// silently; here the server process is frozen with SIGSTOP): the watching device pings it, takes
/// it to be gone after `--server-silence-secs`, and connects again; once the server answers again,
/// pushes flow.
#[test]
fn a_watching_device_reconnects_when_the_server_goes_silent() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let ws = server.admin(&["workspace", "create", "--name", "座間市PF"]);
    let watcher = server.join(&ws, "member", None, "見守る人");
    let other = server.join(&ws, "coordinator", None, "佐藤");
    let log = dir.path().join("watch.log");
    let _watch = Watch::start_with(
        &watcher,
        &["--server-silence-secs", "3"],
        std::fs::File::create(&log).unwrap(),
    );
    eventually("the watcher is connected", || {
        server.metric("ibasho_connections ") == 1
    });

    let signal = |name: &str| {
        let pid = server.pid().to_string();
        assert!(
            Command::new("kill")
                .args([name, &pid])
                .status()
                .unwrap()
                .success()
        );
    };
    signal("-STOP");
    eventually("the watcher noticed the silence", || {
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("the server went silent")
    });
    signal("-CONT");

    let from_other = other.add_place("相武台の喫茶店");
    other.sync();
    eventually("the push arrived over a new connection", || {
        has_place(&watcher, &from_other)
    });
}

#[test]
fn offline_work_made_before_joining_is_merged_on_join() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let ws = server.admin(&["workspace", "create", "--name", "仙台市PF"]);
    let team = server.team(&ws, "地区社協");
    let coordinator = server.join(&ws, "coordinator", None, "佐藤");

    let field = Device::new();
    field.ok(&["init", "--name", "電波の届かない現場", "--person", "鈴木"]);
    let place = field.add_place("山あいの集会所");
    field.ok(&[
        "visit", "add", "--place", &place, "--kind", "visit", "--people", "5",
    ]);
    let out = field.ok(&[
        "join",
        &server.url(),
        &server.invite(&ws, "worker", Some(&team)),
        "--person",
        "鈴木",
    ]);
    assert!(out.contains("1 places, 1 visits"), "{out}");

    let status = field.json(&["status", "--json"]);
    assert_eq!(
        status["workspace"]["name"], "仙台市PF",
        "the device now belongs to the server's workspace"
    );
    assert_eq!(status["unsent_changes"], 0);
    coordinator.sync();
    assert!(has_place(&coordinator, &place));
    let visits = coordinator.json(&["visit", "list", "--json"]);
    assert_eq!(
        visits[0]["team"],
        team.as_str(),
        "the visit was re-filed under the worker's team"
    );
    assert_eq!(visits[0]["people"], 5);
}

#[test]
fn a_members_directory_entry_made_before_joining_is_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let ws = server.admin(&["workspace", "create", "--name", "座間市PF"]);
    let coordinator = server.join(&ws, "coordinator", None, "佐藤");
    let shop = Device::new();
    shop.ok(&["init", "--name", "店のメモ", "--person", "店主"]);
    let org = shop
        .ok(&[
            "org",
            "add",
            "--name",
            "喫茶ランドリー相武台",
            "--sector",
            "企業",
            "--offers",
            "居場所の提供",
        ])
        .trim()
        .to_string();
    shop.ok(&[
        "join",
        &server.url(),
        &server.invite(&ws, "member", None),
        "--person",
        "店主",
    ]);
    shop.ok(&["org", "set", &org, "offers", "居場所の提供、見守り"]);
    shop.ok(&["sync"]);
    coordinator.sync();
    let orgs = coordinator.json(&["org", "list", "--json"]);
    assert_eq!(orgs[0]["offers"], "居場所の提供、見守り");
}

#[test]
fn a_workers_directory_entries_made_before_joining_stay_local_without_failing_sync() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let ws = server.admin(&["workspace", "create", "--name", "座間市PF"]);
    let team = server.team(&ws, "社協");
    let worker = Device::new();
    worker.ok(&["init", "--name", "現場メモ", "--person", "鈴木"]);
    worker.ok(&[
        "org",
        "add",
        "--name",
        "近所の自治会",
        "--sector",
        "地域団体",
    ]);
    let out = worker.ok(&[
        "join",
        &server.url(),
        &server.invite(&ws, "worker", Some(&team)),
        "--person",
        "鈴木",
    ]);
    assert!(
        out.contains("1 directory entries stay on this device only"),
        "{out}"
    );
    worker.ok(&["sync"]);
    assert_eq!(
        worker
            .json(&["org", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1,
        "kept on the device"
    );
    let coordinator = server.join(&ws, "coordinator", None, "佐藤");
    assert_eq!(
        coordinator.json(&["org", "list", "--json"]),
        serde_json::json!([]),
        "not merged"
    );
}

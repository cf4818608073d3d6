//! The server is killed with SIGKILL in the middle of a sync and restarted: after the next sync
//! every edit any device made is on every device allowed to see it.

use ibasho_tests::{Device, Server};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn csv_of(n: usize, prefix: &str) -> String {
    let mut csv = String::from("name,category,lat,lon,address\n");
    for i in 0..n {
        csv.push_str(&format!(
            "{prefix}{i},cafe,{},{},座間市{i}\n",
            35.40 + (i % 100) as f64 * 0.001,
            139.35 + (i / 100) as f64 * 0.001
        ));
    }
    csv
}

#[test]
fn sigkill_during_sync_loses_no_edit() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("server"));
    let ws = server.admin(&["workspace", "create", "--name", "仙台市PF"]);
    let team = server.team(&ws, "アウトリーチ");
    let coordinator = server.join(&ws, "coordinator", None, "佐藤");
    let worker = server.join(&ws, "worker", Some(&team), "鈴木");

    // A big offline batch on the coordinator, small edits on the worker.
    let file = dir.path().join("places.csv");
    std::fs::write(&file, csv_of(3000, "仙台の居場所")).unwrap();
    coordinator.ok(&["import", "csv", file.to_str().unwrap()]);
    let mine = worker.add_place("鈴木の見つけた喫茶店");
    worker.ok(&["visit", "add", "--place", &mine, "--kind", "visit"]);

    // Kill the server while the coordinator's sync is under way, twice.
    for _ in 0..2 {
        let mut sync = Command::new(ibasho_tests::bin("ibasho"))
            .arg("--home")
            .arg(coordinator.home.path())
            .arg("sync")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while server.metric("ibasho_frames_received_total ") == 0
            && start.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        server.kill9();
        let _ = sync.wait().unwrap();
        server.restart();
    }
    // Everything is exchanged, and the count of unsent changes says so (it used to keep counting
    // changes the server had acknowledged after a restart).
    for _ in 0..2 {
        worker.sync();
        coordinator.sync();
    }
    let count = |d: &Device| {
        d.json(&["place", "list", "--json"])
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count(&coordinator), 3001);
    assert_eq!(count(&worker), 3001);
    assert_eq!(
        coordinator
            .json(&["visit", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    for d in [&coordinator, &worker] {
        assert_eq!(d.json(&["status", "--json"])["unsent_changes"], 0);
    }
}

#[test]
fn sigterm_stops_the_server_cleanly_with_everything_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("server"));
    let ws = server.admin(&["workspace", "create", "--name", "座間市PF"]);
    let member = server.join(&ws, "member", None, "店主");
    member.add_place("喫茶ランドリー");
    member.sync();
    let health = std::process::Command::new("curl")
        .args(["-sf", &format!("{}/healthz", server.url())])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&health.stdout).trim(), "ok");
    assert!(server.terminate(), "the server exits 0 on SIGTERM");
    server.restart();
    let other = server.join(&ws, "member", None, "もう一人");
    assert_eq!(
        other.json(&["place", "list", "--json"])[0]["name"],
        "喫茶ランドリー"
    );
    let backup = dir.path().join("backup.sqlite3");
    server.admin(&["backup", "--out", backup.to_str().unwrap()]);
    assert!(std::fs::metadata(&backup).unwrap().len() > 0);
    // Tokens, visits and private notes: the files are their owner's alone.
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [
            server.data.join("server.sqlite3"),
            backup.clone(),
            member.replica_file(),
            other.replica_file(),
        ] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        }
    }
    let restored = dir.path().join("restored");
    std::fs::create_dir_all(&restored).unwrap();
    std::fs::copy(&backup, restored.join("server.sqlite3")).unwrap();
    assert!(
        ibasho_tests::admin(&restored, &["devices", "--workspace", &ws]).contains("店主"),
        "the backup holds the devices"
    );
}

/// The body and status of `/healthz`.
fn health(server: &Server) -> (String, String) {
    let out = Command::new("curl")
        .args([
            "-s",
            "-w",
            "\n%{http_code}",
            &format!("{}/healthz", server.url()),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (body.trim().to_string(), code.to_string())
}

/// A change chunk of a stored document is damaged on disk. Automerge skipped such a chunk without a
/// word, and a new device got part of the document while sync said it was done. Now the server
/// finds it at start: `/healthz` answers 503 naming the document, `/metrics` counts it, and devices
/// are told the document is damaged instead of being served part of it. Restoring the store from a
/// backup made before the last edit brings everything back. The device that made that edit sends it
/// again by itself, and a new device gets all of it.
#[test]
fn a_damaged_document_is_reported_not_served_in_part_and_a_backup_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("server"));
    let ws = server.admin(&["workspace", "create", "--name", "座間市PF"]);
    let coordinator = server.join(&ws, "coordinator", None, "佐藤");
    let file = dir.path().join("places.csv");
    std::fs::write(&file, csv_of(300, "座間の居場所")).unwrap();
    coordinator.ok(&["import", "csv", file.to_str().unwrap()]);
    coordinator.sync();
    let backup = dir.path().join("backup.sqlite3");
    server.admin(&["backup", "--out", backup.to_str().unwrap()]);
    assert_eq!(health(&server), ("ok".into(), "200".into()));

    // An edit after the backup: stored as a chunk after the document's snapshot.
    let places = coordinator.json(&["place", "list", "--json"]);
    let place = places[0]["id"].as_str().unwrap().to_string();
    coordinator.ok(&[
        "place",
        "set",
        &place,
        "description",
        "バックアップの後の編集",
    ]);
    coordinator.sync();
    server.kill9();
    let store = rusqlite::Connection::open(server.data.join("server.sqlite3")).unwrap();
    let doc: String = store
        .query_row(
            "SELECT doc_id FROM doc_chunks ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    store
        .execute(
            "UPDATE doc_chunks SET bytes = CAST(substr(bytes, 1, 12) || zeroblob(length(bytes) - 12) AS BLOB) WHERE doc_id = ?1",
            [&doc],
        )
        .unwrap();
    drop(store);

    server.restart();
    let (body, code) = health(&server);
    assert_eq!(code, "503", "{body}");
    assert!(body.contains(&doc), "{body}");
    assert_eq!(server.metric("ibasho_damaged_documents "), 1);
    let newcomer = server.join(&ws, "coordinator", None, "新任");
    let refused = newcomer.run(&["sync"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(stderr.contains("damaged"), "{stderr}");

    // Restore: stop, put the backup in place of the store, start.
    server.kill9();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(server.data.join(format!("server.sqlite3{suffix}")));
    }
    std::fs::copy(&backup, server.data.join("server.sqlite3")).unwrap();
    server.restart();
    assert_eq!(health(&server), ("ok".into(), "200".into()));
    coordinator.sync();
    assert_eq!(coordinator.json(&["status", "--json"])["unsent_changes"], 0);
    // (Devices that joined after the backup was made join again.)
    let fresh = server.join(&ws, "coordinator", None, "後任");
    assert_eq!(
        fresh
            .json(&["place", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        300
    );
    assert_eq!(
        fresh.json(&["place", "show", &place, "--json"])["description"],
        "バックアップの後の編集",
        "the edit the backup lacked came back from the device that made it"
    );
}

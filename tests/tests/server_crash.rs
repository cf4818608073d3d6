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

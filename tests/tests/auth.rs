//! Invites are single-use and expire; a revoked device is refused at once, also while connected.

use ibasho_tests::{Device, Server};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn setup(dir: &std::path::Path) -> (Server, String) {
    let server = Server::start(&dir.join("server"));
    let ws = server.admin(&["workspace", "create", "--name", "富山県PF"]);
    (server, ws)
}

#[test]
fn an_invite_works_once() {
    let dir = tempfile::tempdir().unwrap();
    let (server, ws) = setup(dir.path());
    let invite = server.invite(&ws, "member", None);
    Device::joined(&server, &invite, "一人目");
    let second = Device::new();
    let err = second.fails(&["join", &server.url(), &invite, "--person", "二人目"]);
    assert!(err.contains("already used"), "{err}");
    let err = second.fails(&["join", &server.url(), "not-an-invite", "--person", "二人目"]);
    assert!(err.contains("unknown invite"), "{err}");
    assert!(second.fails(&["sync"]).contains("has not joined"));
}

#[test]
fn an_expired_invite_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (server, ws) = setup(dir.path());
    let invite = server.admin(&[
        "invite",
        "--workspace",
        &ws,
        "--role",
        "member",
        "--expires",
        "1s",
    ]);
    std::thread::sleep(Duration::from_millis(2100));
    let err = Device::new().fails(&["join", &server.url(), &invite, "--person", "遅刻"]);
    assert!(err.contains("expired"), "{err}");
}

#[test]
fn a_revoked_device_is_refused_at_once_even_while_connected() {
    let dir = tempfile::tempdir().unwrap();
    let (server, ws) = setup(dir.path());
    let watcher = server.join(&ws, "member", None, "見守り");
    let device_id = watcher.json(&["status", "--json"])["server"]["device"]
        .as_str()
        .unwrap()
        .to_string();
    let mut child = Command::new(ibasho_tests::bin("ibasho"))
        .arg("--home")
        .arg(watcher.home.path())
        .args(["sync", "--watch"])
        .env("IBASHO_LANG", "en")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while server.metric("ibasho_connections ") == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the watcher never connected"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        server
            .admin(&["devices", "--workspace", &ws])
            .contains(&device_id)
    );
    server.admin(&["revoke", &device_id]);
    let revoked_at = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(5),
            "the live connection outlived the revocation"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("revoked"), "{stderr}");
    let err = watcher.fails(&["sync"]);
    assert!(err.contains("revoked"), "{err}");
}

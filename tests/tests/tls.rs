//! Encrypted transport. The real server terminates TLS with certificates made in the test (a
//! municipality's private CA and leaves it signs), and real devices join and sync over it. A
//! certificate that does not verify (wrong name, expired, unknown issuer) is refused, naming the
//! host and the reason, and the device stays unjoined. A certificate replaced while serving is
//! picked up after SIGHUP. Tokens never reach the server's log.

use ibasho_tests::{Device, Server, bin, contains};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A certificate authority: its issuer and its certificate as a PEM file.
struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pem: PathBuf,
}

fn authority(dir: &Path, name: &str) -> Authority {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let pem = dir.join(format!("{name}.pem"));
    std::fs::write(&pem, issuer.pem()).unwrap();
    Authority { issuer, pem }
}

/// A server certificate for `names` signed by `ca`, written as `stem.pem` and `stem.key`; an
/// expired one when `expired`.
fn leaf(
    dir: &Path,
    ca: &Authority,
    names: &[&str],
    expired: bool,
    stem: &str,
) -> (PathBuf, PathBuf) {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    let (cert_file, key_file) = (
        dir.join(format!("{stem}.pem")),
        dir.join(format!("{stem}.key")),
    );
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (cert_file, key_file)
}

fn tls_server(data: &Path, cert: &Path, key: &Path) -> Server {
    Server::start_with(
        data,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    )
}

/// `ibasho ARGS` on `device`, in `lang`, with `IBASHO_CA_CERT` when given.
fn ibasho(
    device: &Device,
    args: &[&str],
    lang: &str,
    ca_env: Option<&Path>,
) -> std::process::Output {
    let mut command = Command::new(bin("ibasho"));
    command
        .arg("--home")
        .arg(device.home.path())
        .args(args)
        .env("IBASHO_LANG", lang)
        .env_remove("IBASHO_CA_CERT");
    if let Some(ca) = ca_env {
        command.env("IBASHO_CA_CERT", ca);
    }
    command.output().unwrap()
}

/// A device's stored server token, read from its replica file.
fn token_of(device: &Device) -> String {
    let db = rusqlite::Connection::open(device.replica_file()).unwrap();
    db.query_row(
        "SELECT value FROM meta WHERE key = 'server_token'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn devices_join_and_sync_over_tls_and_no_token_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let ca = authority(dir.path(), "座間市テスト認証局");
    let (cert, key) = leaf(
        dir.path(),
        &ca,
        &["localhost", "127.0.0.1"],
        false,
        "server",
    );
    let log = dir.path().join("server.log");
    let server = Server::start_logging_to(
        &dir.path().join("server"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &log,
    );
    assert!(server.tls);
    let ws = server.admin(&["workspace", "create", "--name", "座間市PF"]);
    let invite = server.invite(&ws, "coordinator", None);

    // The coordinator gives the municipality's CA at join; later syncs remember it.
    let coordinator = Device::new();
    let joined = ibasho(
        &coordinator,
        &[
            "join",
            &server.url(),
            &invite,
            "--person",
            "佐藤",
            "--ca-cert",
            ca.pem.to_str().unwrap(),
        ],
        "en",
        None,
    );
    assert!(
        joined.status.success(),
        "{}",
        String::from_utf8_lossy(&joined.stderr)
    );
    let place = coordinator.add_place("喫茶ランドリー");
    let synced = ibasho(&coordinator, &["sync"], "en", None);
    assert!(
        synced.status.success(),
        "{}",
        String::from_utf8_lossy(&synced.stderr)
    );

    // Another device trusts the CA through the environment.
    let member = Device::new();
    let invite_member = server.invite(&ws, "member", None);
    let joined = ibasho(
        &member,
        &["join", &server.url(), &invite_member, "--person", "店主"],
        "en",
        Some(&ca.pem),
    );
    assert!(
        joined.status.success(),
        "{}",
        String::from_utf8_lossy(&joined.stderr)
    );
    let shown = ibasho(
        &member,
        &["place", "show", &place, "--json"],
        "en",
        Some(&ca.pem),
    );
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["name"], "喫茶ランドリー");

    // Health and metrics are served over TLS too.
    for path in ["healthz", "metrics"] {
        let out = Command::new("curl")
            .args(["-sf", "--cacert", ca.pem.to_str().unwrap()])
            .arg(format!("{}/{path}", server.url()))
            .output()
            .unwrap();
        assert!(out.status.success(), "{path} over TLS");
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(
            body.contains(if path == "healthz" {
                "ok"
            } else {
                "ibasho_connections"
            }),
            "{body}"
        );
    }

    drop(server);
    let log = std::fs::read(&log).unwrap();
    assert!(!log.is_empty(), "the server logged at debug level");
    for secret in [
        token_of(&coordinator),
        token_of(&member),
        invite,
        invite_member,
    ] {
        assert!(
            !contains(&log, secret.as_bytes()),
            "a secret reached the server's log"
        );
    }
}

#[test]
fn certificates_that_do_not_verify_are_refused_naming_the_host_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let ca = authority(dir.path(), "座間市テスト認証局");
    let cases = [
        (
            "wrong-name",
            vec!["sync.example.jp"],
            false,
            true,
            "issued for another name",
            "別の名前",
        ),
        (
            "expired",
            vec!["localhost", "127.0.0.1"],
            true,
            true,
            "has expired",
            "有効期限が切れ",
        ),
        (
            "unknown-issuer",
            vec!["localhost", "127.0.0.1"],
            false,
            false,
            "unknown issuer",
            "発行元を信頼できません",
        ),
    ];
    for (stem, names, expired, trust_ca, english, japanese) in cases {
        let (cert, key) = leaf(dir.path(), &ca, &names, expired, stem);
        let server = tls_server(&dir.path().join(stem), &cert, &key);
        let ws = server.admin(&["workspace", "create", "--name", "座間市PF"]);
        let invite = server.invite(&ws, "member", None);
        let device = Device::new();
        let url = server.url();
        let mut args = vec!["join", url.as_str(), invite.as_str()];
        if trust_ca {
            args.extend(["--ca-cert", ca.pem.to_str().unwrap()]);
        }
        for (lang, words) in [("en", english), ("ja", japanese)] {
            let out = ibasho(&device, &args, lang, None);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{stem}: joined");
            assert!(stderr.contains("localhost"), "{stem}: {stderr}");
            assert!(stderr.contains(words), "{stem} ({lang}): {stderr}");
        }
        // Not joined, and the invite is still unused.
        let status = ibasho(&device, &["status", "--json"], "en", None);
        let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        assert!(status["server"].is_null(), "{stem}: {status}");
        drop(server);
    }
}

#[test]
fn a_certificate_replaced_while_serving_is_used_after_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let old_ca = authority(dir.path(), "旧認証局");
    let new_ca = authority(dir.path(), "新認証局");
    let (cert, key) = leaf(
        dir.path(),
        &old_ca,
        &["localhost", "127.0.0.1"],
        false,
        "server",
    );
    let server = tls_server(&dir.path().join("server"), &cert, &key);
    let ws = server.admin(&["workspace", "create", "--name", "座間市PF"]);
    let join = |ca: &Path| {
        let device = Device::new();
        let invite = server.invite(&ws, "member", None);
        let out = ibasho(
            &device,
            &[
                "join",
                &server.url(),
                &invite,
                "--person",
                "店主",
                "--ca-cert",
                ca.to_str().unwrap(),
            ],
            "en",
            None,
        );
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    assert!(join(&old_ca.pem).0, "the first certificate is served");
    assert!(!join(&new_ca.pem).0);

    // The renewal is written over the same files, and the server told.
    let (renewed, renewed_key) = leaf(
        dir.path(),
        &new_ca,
        &["localhost", "127.0.0.1"],
        false,
        "renewed",
    );
    std::fs::copy(&renewed, &cert).unwrap();
    std::fs::copy(&renewed_key, &key).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let mut joined = false;
    for _ in 0..50 {
        if join(&new_ca.pem).0 {
            joined = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(joined, "the renewed certificate is served after SIGHUP");
    let (ok, stderr) = join(&old_ca.pem);
    assert!(!ok && stderr.contains("unknown issuer"), "{stderr}");
}

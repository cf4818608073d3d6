//! `ibasho join`, `ibasho sync`, `ibasho status`.

use super::out::outln;
use super::print_json;
use crate::sync::{self, SyncReport};
use anyhow::{Context, Result, bail};
use ibasho_shared::{Lang, Replica};
use serde_json::json;

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub(super) fn join(
    replica: &mut Replica,
    url: &str,
    invite: &str,
    person: Option<&str>,
    ca_cert: Option<&std::path::Path>,
    lang: Lang,
) -> Result<()> {
    let person = person
        .map(String::from)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "me".into());
    let ca = match ca_cert {
        Some(path) => {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("--ca-cert: cannot read {}", path.display()))?;
            sync::tls::read_pem(&pem).with_context(|| format!("--ca-cert: {}", path.display()))?;
            Some(pem)
        }
        None => None,
    };
    warn_if_clear_text(url, lang);
    let rt = runtime()?;
    let report = rt.block_on(sync::join_trusting(
        replica,
        url,
        invite,
        &person,
        ca.as_deref(),
    ))?;
    let server = replica.server()?.expect("just joined");
    match lang {
        Lang::Ja => outln!(
            "参加しました: {} （役割: {}）",
            server.url,
            server.role.label(lang)
        ),
        Lang::En => outln!("joined {} as {}", server.url, server.role.label(lang)),
    }
    if report.places + report.visits_refiled > 0 {
        match lang {
            Lang::Ja => outln!(
                "オフラインでの編集を残しました: 場所 {} 件、訪問 {} 件（自分のチームに付け替え）",
                report.places,
                report.visits_refiled
            ),
            Lang::En => outln!(
                "offline edits kept: {} places, {} visits (re-filed under your team)",
                report.places,
                report.visits_refiled
            ),
        }
    }
    let role = server.role.label(lang);
    if report.visits_local_only > 0 {
        match lang {
            Lang::Ja => outln!(
                "訪問 {} 件はこの端末だけに残ります（{}の役割では訪問を共有できません）",
                report.visits_local_only,
                role
            ),
            Lang::En => outln!(
                "{} visits stay on this device only: the {role} role cannot share visits",
                report.visits_local_only
            ),
        }
    }
    if report.orgs_local_only > 0 {
        match lang {
            Lang::Ja => outln!(
                "団体 {} 件はこの端末だけに残ります（{}の役割では団体名簿に追加できません）",
                report.orgs_local_only,
                role
            ),
            Lang::En => outln!(
                "{} directory entries stay on this device only: the {role} role cannot add to the directory",
                report.orgs_local_only
            ),
        }
    }
    // Bring the workspace down right away.
    let first = rt.block_on(sync::sync_once(replica))?;
    print_report(&first, lang);
    Ok(())
}

/// Warns once, on stderr, when `url` is clear text to another machine.
fn warn_if_clear_text(url: &str, lang: Lang) {
    if sync::tls::clear_text_to_another_host(url) {
        eprintln!("{}", sync::tls::clear_text_warning(url, lang));
    }
}

fn print_report(r: &SyncReport, lang: Lang) {
    match lang {
        Lang::Ja => eprintln!(
            "同期: 送信 {} 文書 / 更新 {} 文書 / {} バイト送信, {} バイト受信",
            r.docs_sent,
            r.docs_changed.len(),
            r.bytes_sent,
            r.bytes_received
        ),
        Lang::En => eprintln!(
            "sync: sent {} docs, {} changed here, {} bytes up, {} bytes down",
            r.docs_sent,
            r.docs_changed.len(),
            r.bytes_sent,
            r.bytes_received
        ),
    }
    for d in &r.docs_changed {
        eprintln!("  ← {d}");
    }
    for kept in &r.kept_local {
        eprintln!("  · {kept}");
    }
    for refused in &r.refused {
        eprintln!("  ✗ {refused}");
    }
}

/// One sync round, or with `watch` (the server's allowed silence) a connection kept open.
pub(super) fn sync(
    replica: &mut Replica,
    watch: Option<std::time::Duration>,
    json: bool,
    lang: Lang,
) -> Result<()> {
    if let Some(server) = replica.server()? {
        warn_if_clear_text(&server.url, lang);
    }
    let rt = runtime()?;
    if let Some(silence) = watch {
        return rt.block_on(sync::watch(replica, silence, |r| {
            if json {
                super::out::raw(&serde_json::to_string(r).expect("reports encode"));
            } else if !r.docs_changed.is_empty() || r.docs_sent > 0 || !r.refused.is_empty() {
                print_report(r, lang);
            }
        }));
    }
    let report = rt.block_on(sync::sync_once(replica))?;
    if json {
        print_json(&report)?;
    } else {
        print_report(&report, lang);
    }
    if !report.refused.is_empty() {
        bail!(
            "the server refused {} change(s); they stay on this device (see above)",
            report.refused.len()
        );
    }
    Ok(())
}

pub(super) fn status(replica: &mut Replica, json: bool, lang: Lang) -> Result<()> {
    let server = replica.server()?;
    let unsent = replica.unsent_changes()?;
    let last = replica.last_sync()?;
    let workspace = replica.workspace().ok();
    if json {
        return print_json(&json!({
            "workspace": workspace,
            "server": server,
            "unsent_changes": unsent,
            "last_sync": last,
            "device": replica.device_id(),
        }));
    }
    let ja = lang == Lang::Ja;
    if let Some(ws) = &workspace {
        outln!(
            "{}: {}",
            if ja {
                "ワークスペース"
            } else {
                "workspace"
            },
            ws.name
        );
    }
    match &server {
        Some(s) => {
            outln!("{}: {}", if ja { "サーバー" } else { "server" }, s.url);
            outln!(
                "{}: {}",
                if ja { "役割" } else { "role" },
                s.role.label(lang)
            );
            outln!(
                "{}: {}",
                if ja { "チーム" } else { "team" },
                s.team.as_deref().unwrap_or("-")
            );
        }
        None => outln!(
            "{}",
            if ja {
                "サーバー: なし（この端末のみ）"
            } else {
                "server: none (this device only)"
            }
        ),
    }
    outln!(
        "{}: {unsent}",
        if ja {
            "未送信の変更"
        } else {
            "unsent changes"
        }
    );
    outln!(
        "{}: {}",
        if ja { "最終同期" } else { "last sync" },
        last.as_deref()
            .map_or_else(|| "-".to_string(), ibasho_shared::hours::shown_jst)
    );
    Ok(())
}

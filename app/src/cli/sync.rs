//! `ibasho join`, `ibasho sync`, `ibasho status`.

use super::out::outln;
use super::print_json;
use crate::sync::{self, SyncReport};
use crate::text;
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
    let role = server.role.label(lang);
    outln!(
        "{}",
        text::fill(
            text::JOINED_AS,
            lang,
            &[("url", &server.url), ("role", &role)]
        )
    );
    if report.places + report.visits_refiled > 0 {
        outln!(
            "{}",
            text::fill(
                text::OFFLINE_EDITS_KEPT,
                lang,
                &[
                    ("places", &report.places),
                    ("visits", &report.visits_refiled)
                ]
            )
        );
    }
    if report.visits_local_only > 0 {
        outln!(
            "{}",
            text::fill(
                text::VISITS_LOCAL_ONLY,
                lang,
                &[("n", &report.visits_local_only), ("role", &role)]
            )
        );
    }
    if report.orgs_local_only > 0 {
        outln!(
            "{}",
            text::fill(
                text::ORGS_LOCAL_ONLY,
                lang,
                &[("n", &report.orgs_local_only), ("role", &role)]
            )
        );
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
    eprintln!(
        "{}",
        text::fill(
            text::SYNC_REPORT,
            lang,
            &[
                ("sent", &r.docs_sent),
                ("changed", &r.docs_changed.len()),
                ("up", &r.bytes_sent),
                ("down", &r.bytes_received),
            ]
        )
    );
    for d in &r.docs_changed {
        eprintln!("  ← {d}");
    }
    for kept in &r.kept_local {
        eprintln!("  · {kept}");
    }
    for (refused, (code, doc)) in r.refused.iter().zip(&r.refusals) {
        eprintln!(
            "  ✗ {}: {refused}",
            sync::error::refusal_words(*code, doc.as_deref(), lang)
        );
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
            "{}",
            text::fill(text::SYNC_REFUSED, lang, &[("n", &report.refused.len())])
        );
    }
    Ok(())
}

pub(super) fn status(replica: &mut Replica, json: bool, lang: Lang) -> Result<()> {
    let server = replica.server()?;
    let unsent = replica.unsent_changes()?;
    let last = replica.last_sync()?;
    let workspace = replica.workspace().ok();
    let stuck = replica.stuck()?;
    if json {
        return print_json(&json!({
            "workspace": workspace,
            "server": server,
            "unsent_changes": unsent,
            "last_sync": last,
            "device": replica.device_id(),
            "stuck": stuck,
        }));
    }
    if let Some(ws) = &workspace {
        outln!("{}: {}", text::STATUS_WORKSPACE.get(lang), ws.name);
    }
    match &server {
        Some(s) => {
            outln!("{}: {}", text::STATUS_SERVER.get(lang), s.url);
            outln!("{}: {}", text::ROLE.get(lang), s.role.label(lang));
            let team = s.team.as_deref().map(|id| {
                workspace
                    .as_ref()
                    .and_then(|w| w.teams.iter().find(|t| t.id == id))
                    .map_or(id.to_string(), |t| t.name.clone())
            });
            outln!(
                "{}: {}",
                text::TEAM.get(lang),
                team.as_deref().unwrap_or("-")
            );
        }
        None => outln!("{}", text::STATUS_NO_SERVER.get(lang)),
    }
    outln!("{}: {unsent}", text::STATUS_UNSENT.get(lang));
    for s in &stuck {
        outln!("{}", stuck_words(s, lang));
    }
    outln!(
        "{}: {}",
        text::LAST_SYNC.get(lang),
        last.as_deref()
            .map_or_else(|| "-".to_string(), ibasho_shared::hours::shown_jst)
    );
    Ok(())
}

/// Erases a record, or one field's past values, everywhere (coordinators).
pub(super) fn erase(
    replica: &mut Replica,
    id: &str,
    field: Option<&str>,
    reason: &str,
    lang: Lang,
) -> Result<()> {
    let rt = runtime()?;
    let (erasure, report) = rt.block_on(sync::erase(replica, id, field, reason))?;
    let what = match &erasure.field {
        Some(f) => format!("{id} {}", ibasho_shared::i18n::field_label(f).get(lang)),
        None => id.to_string(),
    };
    outln!(
        "{}",
        text::fill(
            text::ERASED,
            lang,
            &[
                ("doc", &erasure.doc),
                ("what", &what),
                ("epoch", &erasure.epoch)
            ]
        )
    );
    print_report(&report, lang);
    Ok(())
}

/// A change the server refused, in the person's language: which record and field, why, and how
/// to discard it.
pub(crate) fn stuck_words(s: &ibasho_shared::Stuck, lang: Lang) -> String {
    let why = sync::error::refusal_words(s.code, Some(&s.doc), lang);
    let what = match (&s.record, &s.field) {
        (Some(r), Some(f)) => format!("{r} {}", ibasho_shared::i18n::field_label(f).get(lang)),
        (Some(r), None) => r.clone(),
        _ => s.doc.clone(),
    };
    let discard = match (&s.record, &s.field) {
        (Some(r), Some(f)) => format!("ibasho discard {r} {f}"),
        (Some(r), None) => format!("ibasho discard {r}"),
        _ => String::new(),
    };
    let detail = if lang == Lang::En {
        format!(" ({})", s.message)
    } else {
        String::new()
    };
    text::fill(
        text::STUCK,
        lang,
        &[("what", &what), ("why", &why), ("discard", &discard)],
    ) + &detail
}

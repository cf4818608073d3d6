//! The app's background sync: while the device is joined and online it stays connected, receiving
//! other devices' changes as the server pushes them and sending this device's edits (looked for
//! every 2 seconds); when the connection cannot be made, ends, or the server refuses a change, it
//! tries again every 15 seconds or when nudged (retry). The sync bar shows where it is.

use super::model::{AppModel, SyncState, hhmm};
use crate::sync::error::{Lost, TransportError, refusal_words};
use crate::sync::{LiveSession, SERVER_SILENCE, SyncReport};
use dioxus::prelude::*;
use futures_util::StreamExt;
use ibasho_shared::Replica;
use std::time::{Duration, Instant};

/// How long to wait before connecting again, unless nudged.
const RETRY_EVERY: Duration = Duration::from_secs(15);
/// How often edits made by other processes on this device (the command line) are looked for, and
/// the server's silence checked.
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// Least time between two compactions of the replica.
const MAINTAIN_EVERY: Duration = Duration::from_secs(15);
/// Least time between two refreshes of the screens while pushes keep arriving (each reads the
/// replica again on the window's thread).
const SHOW_EVERY: Duration = Duration::from_secs(1);
/// Longest the first exchange of a connection may take.
const FIRST_ROUND: Duration = Duration::from_secs(120);

/// Runs until the app closes. `nudges` are presses of retry.
pub(crate) async fn run(model: Signal<AppModel>, mut nudges: UnboundedReceiver<()>) {
    let home = model.peek().home.clone();
    let Ok(mut replica) = Replica::open(&crate::paths::replica_file(&home)) else {
        return;
    };
    loop {
        if replica.server().ok().flatten().is_some() {
            let ended = connected(&mut replica, model, &mut nudges).await;
            if ended.is_none() {
                return;
            }
        }
        let _ = tokio::time::timeout(RETRY_EVERY, nudges.next()).await;
    }
}

/// One connection, from its first exchange until it ends (the error is shown in the sync bar).
/// `None` once the app is closing.
async fn connected(
    replica: &mut Replica,
    mut model: Signal<AppModel>,
    nudges: &mut UnboundedReceiver<()>,
) -> Option<()> {
    model.write().sync = SyncState::Connecting;
    replica.refresh_if_changed().ok();
    let opened = tokio::time::timeout(FIRST_ROUND, async {
        model.write().sync = SyncState::Syncing;
        LiveSession::open(replica).await
    })
    .await;
    let mut session = match opened {
        Ok(Ok((session, report))) => {
            show(replica, model, &report, true);
            if !report.refused.is_empty() {
                return Some(());
            }
            // The screens re-read what changed; the records' ids are not needed.
            let mut session = session;
            session.track_records = false;
            session
        }
        Ok(Err(e)) => {
            fail(model, &e);
            return Some(());
        }
        Err(_) => {
            let lang = model.read().lang;
            model.write().sync = SyncState::Failed(
                TransportError::Lost(Lost::NoAnswer(FIRST_ROUND.as_secs())).message(lang),
            );
            return Some(());
        }
    };
    let mut look = tokio::time::interval(LOOK_EVERY);
    look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut maintained = Instant::now();
    let mut shown = Instant::now();
    // Rounds not shown yet (pushes arriving faster than `SHOW_EVERY`), and whether there are any.
    let mut unshown = SyncReport::default();
    let mut deferred = false;
    loop {
        let round = tokio::select! {
            frame = session.recv_frame() => match frame {
                Ok(Some(frame)) => session.take(replica, frame).await,
                Ok(None) => Err(crate::sync::transport::lost(Lost::Closed(None))),
                Err(e) => Err(e),
            },
            nudge = nudges.next() => {
                nudge?;
                replica.refresh_if_changed().ok();
                session.push(replica).await
            }
            _ = look.tick() => {
                let pushed = match session.keep_alive(SERVER_SILENCE).await {
                    Ok(()) => {
                        replica.refresh_if_changed().ok();
                        session.push(replica).await
                    }
                    Err(e) => Err(e),
                };
                match pushed {
                    // Nothing to say and nothing waiting to be shown.
                    Ok(r) if r.docs_sent == 0 && !deferred => continue,
                    other => other,
                }
            }
        };
        let report = match round {
            Ok(report) => report,
            Err(e) => {
                // What arrived before is stored: the screens show it even so.
                if deferred {
                    let _ = model.write().reload();
                }
                fail(model, &e);
                return Some(());
            }
        };
        unshown.docs_changed.extend(report.docs_changed);
        unshown.docs_sent += report.docs_sent;
        unshown.refused.extend(report.refused);
        if shown.elapsed() < SHOW_EVERY && unshown.refused.is_empty() {
            deferred = true;
            continue;
        }
        deferred = false;
        let compact = maintained.elapsed() >= MAINTAIN_EVERY;
        if compact {
            maintained = Instant::now();
        }
        let report = std::mem::take(&mut unshown);
        show(replica, model, &report, compact);
        shown = Instant::now();
        // A refused change is not sent again on this connection: the next one sends it again,
        // and the bar says it was refused until then.
        if !report.refused.is_empty() {
            return Some(());
        }
    }
}

/// Shows a round in the sync bar and, when it moved anything, on the screens.
fn show(replica: &mut Replica, mut model: Signal<AppModel>, report: &SyncReport, compact: bool) {
    let mut m = model.write();
    if !report.refused.is_empty() {
        let lang = m.lang;
        let mut words: Vec<String> = report
            .refusals
            .iter()
            .map(|(code, doc)| refusal_words(*code, doc.as_deref(), lang))
            .collect();
        words.dedup();
        m.sync = SyncState::Failed(words.join("; "));
    } else {
        let _ = replica.record_sync();
        let at = replica
            .last_sync()
            .ok()
            .flatten()
            .map(|t| hhmm(&t))
            .unwrap_or_default();
        m.sync = SyncState::Synced(at);
    }
    if !report.docs_changed.is_empty() || report.docs_sent > 0 || compact {
        // Compacting rewrites documents from what this replica holds: only once it read again
        // what the background sync and other processes stored.
        if m.reload().is_ok() && compact {
            let _ = m.replica.maintain();
        }
    }
}

/// Shows a failed connection in the sync bar; a device wiped after its revocation shows the
/// first-run screen again.
fn fail(mut model: Signal<AppModel>, e: &anyhow::Error) {
    let state = failure(e, &model.read());
    let mut m = model.write();
    m.sync = state;
    if matches!(e.downcast_ref(), Some(TransportError::Wiped)) {
        m.flash = Some(crate::ui::text::WIPED.get(m.lang).to_string());
        let _ = m.reload();
    }
}

/// What a failed connection puts in the sync bar, by the kind of failure: a server out of reach
/// is being offline (calm, with the last sync); every other transport failure is said in the
/// person's language; anything else (the replica's own error) as it says it.
pub(crate) fn failure(e: &anyhow::Error, m: &super::model::AppModel) -> SyncState {
    match e.downcast_ref::<TransportError>() {
        Some(transport) if transport.is_unreachable() => {
            let last = m
                .replica
                .last_sync()
                .ok()
                .flatten()
                .map(|at| super::model::hhmm_date(&at));
            SyncState::Offline(last)
        }
        Some(transport) => SyncState::Failed(transport.message(m.lang)),
        None => match e.downcast_ref::<ibasho_shared::Error>() {
            Some(engine) => SyncState::Failed(engine.message(m.lang)),
            None => SyncState::Failed(format!("{e:#}")),
        },
    }
}

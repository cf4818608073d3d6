//! Cold sync of a city and a reconnect: a workspace at the scale of DOMAIN.md (500 organizations,
//! 5,000 places, 20 teams, 50,000 visits over 12 months) is generated from a seed and uploaded; a new
//! coordinator device then syncs all of it. Reports wall time, bytes on the wire and the ratio to the
//! lower bound (the compressed document snapshots); then 10 offline edits and a reconnect.
//! Prints one JSON object.

use anyhow::Result;
use clap::Parser;
use ibasho_app::sync::{join, sync_once};
use ibasho_shared::Place;
use ibasho_shared::Replica;
use ibasho_shared::demo::generate;
use ibasho_tests::Server;
use std::time::Instant;

#[derive(Debug, Parser)]
struct Args {
    /// A tenth of the city (for --quick runs).
    #[arg(long)]
    tenth: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let scale = if args.tenth { 10 } else { 1 };
    let spec = ibasho_bench::city(scale);
    let dir = tempfile::tempdir()?;
    let server = Server::start(&dir.path().join("server"));
    let ws = server.admin(&["workspace", "create", "--name", "仙台市 孤独・孤立対策PF"]);
    // Teams exist on the server, so the generator files visits under them.
    for i in 0..spec.teams {
        server.team(&ws, &format!("チーム{i}"));
    }
    let mut author = Replica::open(&dir.path().join("author.sqlite3"))?;
    join(
        &mut author,
        &server.url(),
        &server.invite(&ws, "coordinator", None),
        "生成",
    )
    .await?;
    sync_once(&mut author).await?;
    let t = Instant::now();
    let made = generate(&mut author, &spec)?;
    let generate_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let uploaded = sync_once(&mut author).await?;
    anyhow::ensure!(
        uploaded.refused.is_empty(),
        "the server refused: {:?}",
        uploaded.refused
    );
    let upload_s = t.elapsed().as_secs_f64();
    let lower_bound: usize = author
        .doc_ids()?
        .iter()
        .map(|id| author.doc_bytes(id).map(|b| b.len()).unwrap_or(0))
        .sum();
    eprintln!("generated {made:?} in {generate_s:.1} s, uploaded in {upload_s:.1} s");

    // Where a cold sync's time goes on the receiving side: decoding alone, then decoding + indexing.
    if std::env::var_os("COLDSYNC_BREAKDOWN").is_some() {
        let docs: Vec<_> = author
            .doc_ids()?
            .into_iter()
            .map(|id| {
                let b = author.doc_bytes(&id).unwrap();
                (id, b)
            })
            .collect();
        let t = Instant::now();
        for (_, b) in &docs {
            let _ = automerge::AutoCommit::load(b)?;
        }
        eprintln!("decode only: {:.2} s", t.elapsed().as_secs_f64());
        let mut local = Replica::open(&dir.path().join("merge.sqlite3"))?;
        let t = Instant::now();
        for (id, b) in &docs {
            local.merge_doc(id, b)?;
        }
        eprintln!("decode + store + index: {:.2} s", t.elapsed().as_secs_f64());
    }

    // A new coordinator device: cold sync of everything.
    let mut fresh = Replica::open(&dir.path().join("fresh.sqlite3"))?;
    let invite = server.invite(&ws, "coordinator", None);
    let before = server.wire_bytes();
    let server_cpu = ibasho_bench::cpu_time(server.pid());
    let client_cpu = ibasho_bench::cpu_time(std::process::id());
    let t = Instant::now();
    join(&mut fresh, &server.url(), &invite, "新任").await?;
    let report = sync_once(&mut fresh).await?;
    let cold_s = t.elapsed().as_secs_f64();
    let cold_server_cpu_s = (ibasho_bench::cpu_time(server.pid()) - server_cpu).as_secs_f64();
    let cold_client_cpu_s = (ibasho_bench::cpu_time(std::process::id()) - client_cpu).as_secs_f64();
    let cold_bytes = server.wire_bytes() - before;
    let places = fresh.place_count()?;
    let visits = fresh.visits(&Default::default())?.len();
    assert!(report.refused.is_empty());

    // Reconnect after 10 offline edits.
    let ids: Vec<String> = fresh
        .places(&Default::default())?
        .into_iter()
        .take(10)
        .map(|h| h.place.id)
        .collect();
    for (i, id) in ids.iter().enumerate() {
        fresh.set::<Place>(id, "description", &format!("確認済み {i}"))?;
    }
    let before = server.wire_bytes();
    let t = Instant::now();
    let again = sync_once(&mut fresh).await?;
    eprintln!(
        "reconnect: sent {} doc messages, {} up / {} down (client side), changed {:?}",
        again.docs_sent, again.bytes_sent, again.bytes_received, again.docs_changed
    );
    let reconnect_ms = t.elapsed().as_secs_f64() * 1000.0;
    let reconnect_bytes = server.wire_bytes() - before;

    let out = serde_json::json!({
        "cold_sync_server_cpu_s": cold_server_cpu_s,
        "cold_sync_client_cpu_s": cold_client_cpu_s,
        "places": places,
        "visits": visits,
        "orgs": made.orgs,
        "teams": spec.teams,
        "documents": author.doc_ids()?.len(),
        "generate_s": generate_s,
        "upload_s": upload_s,
        "cold_sync_s": cold_s,
        "cold_sync_bytes": cold_bytes,
        "snapshot_bytes_lower_bound": lower_bound,
        "cold_bytes_over_bound": cold_bytes as f64 / lower_bound as f64,
        "reconnect_edits": 10,
        "reconnect_ms": reconnect_ms,
        "reconnect_bytes": reconnect_bytes,
    });
    println!("{out}");
    Ok(())
}

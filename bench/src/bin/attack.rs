//! An honest device's sync while another device attacks within the server's limits. A city is
//! generated and uploaded. A worker device then repeats a round of one edit and one sync, timed
//! from the edit to the end of the round. Quiet and attacked stretches alternate, so that drift
//! falls on both alike. During an attacked stretch a member device uses every connection it may
//! hold to repeat the heaviest request it can make: every document it may read, asked for from
//! nothing. Each such request is answered with the whole of every document, until its reply budget
//! makes it wait. The attacker draws its burst first; what is measured is the attack it can keep
//! up. Prints one JSON object: p50 and p99 of both, and their ratios.

use anyhow::{Context, Result};
use automerge::sync::{State, SyncDoc};
use clap::Parser;
use ibasho_app::sync::transport::Connection;
use ibasho_app::sync::{join, sync_once};
use ibasho_shared::Place;
use ibasho_shared::Replica;
use ibasho_shared::demo::generate;
use ibasho_shared::sync::{DocMessage, Frame};
use ibasho_tests::Server;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
struct Args {
    /// A tenth of the city and fewer rounds (for --quick runs).
    #[arg(long)]
    quick: bool,
    /// Rounds per stretch.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Stretches of each kind (quiet, attacked), alternating.
    #[arg(long, default_value_t = 4)]
    stretches: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

/// What the attacker's connections did.
#[derive(Default)]
struct Attacked {
    requests: AtomicU64,
    reply_bytes: AtomicU64,
}

/// One connection of the attacking device: while `on`, asks for everything and reads the answer.
async fn attack(
    url: String,
    token: String,
    on: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    tally: Arc<Attacked>,
) -> Result<()> {
    let mut conn = Connection::open(&url, "/sync", Some(&token)).await?;
    let manifest = match conn.recv(Duration::from_secs(30)).await? {
        Frame::Welcome { manifest, .. } => manifest,
        other => anyhow::bail!("unexpected first frame: {other:?}"),
    };
    let nothing = automerge::AutoCommit::new()
        .sync()
        .generate_sync_message(&mut State::new())
        .context("a first message")?
        .encode();
    let everything = Frame::Sync {
        docs: manifest
            .iter()
            .map(|entry| DocMessage {
                doc: entry.doc.clone(),
                message: nothing.clone(),
            })
            .collect(),
    };
    while !stop.load(Ordering::Relaxed) {
        if !on.load(Ordering::Relaxed) {
            // Idle but connected: answer what the server sends.
            let _ = tokio::time::timeout(Duration::from_millis(20), conn.recv_any()).await;
            continue;
        }
        conn.send(&everything).await?;
        tally.requests.fetch_add(1, Ordering::Relaxed);
        loop {
            match conn.recv(Duration::from_secs(120)).await? {
                Frame::SyncReply { docs } => {
                    let bytes: usize = docs.iter().map(|d| d.message.len()).sum();
                    tally.reply_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
                    break;
                }
                _ => continue,
            }
        }
    }
    Ok(())
}

async fn run(args: Args) -> Result<()> {
    let scale = if args.quick { 10 } else { 1 };
    let rounds = if args.quick {
        args.rounds.min(5)
    } else {
        args.rounds
    };
    let stretches = if args.quick {
        args.stretches.min(2)
    } else {
        args.stretches
    };
    let spec = ibasho_bench::city(scale);
    let dir = tempfile::tempdir()?;
    let server = Server::start(&dir.path().join("server"));
    let ws = server.admin(&["workspace", "create", "--name", "仙台市 孤独・孤立対策PF"]);
    let mut teams = Vec::new();
    for i in 0..spec.teams {
        teams.push(server.team(&ws, &format!("チーム{i}")));
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
    generate(&mut author, &spec)?;
    let uploaded = sync_once(&mut author).await?;
    anyhow::ensure!(
        uploaded.refused.is_empty(),
        "refused: {:?}",
        uploaded.refused
    );

    let mut worker = Replica::open(&dir.path().join("worker.sqlite3"))?;
    join(
        &mut worker,
        &server.url(),
        &server.invite(&ws, "worker", Some(&teams[0])),
        "ワーカー",
    )
    .await?;
    sync_once(&mut worker).await?;
    let place = worker
        .places(&Default::default())?
        .into_iter()
        .next()
        .context("a place")?
        .place
        .id;

    let mut attacker = Replica::open(std::path::Path::new(":memory:"))?;
    join(
        &mut attacker,
        &server.url(),
        &server.invite(&ws, "member", None),
        "攻撃者",
    )
    .await?;
    let token = attacker.server()?.context("joined")?.token;
    let (on, stop) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let tally = Arc::new(Attacked::default());
    let mut attackers = Vec::new();
    for _ in 0..4 {
        attackers.push(tokio::spawn(attack(
            server.url(),
            token.clone(),
            on.clone(),
            stop.clone(),
            tally.clone(),
        )));
    }

    // The attacker first draws its burst (replies at full speed, as a cold sync would have them):
    // what is measured is the attack it can keep up.
    // Honest rounds go on meanwhile, and are reported apart.
    on.store(true, Ordering::Relaxed);
    let warm = Instant::now();
    let mut during_burst = Vec::new();
    let mut edit = 0;
    while tally.reply_bytes.load(Ordering::Relaxed) < 5 * 1024 * 1024
        && warm.elapsed() < Duration::from_secs(30)
    {
        edit += 1;
        let t = Instant::now();
        worker.set::<Place>(&place, "description", &format!("確認 {edit}"))?;
        sync_once(&mut worker).await?;
        during_burst.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    on.store(false, Ordering::Relaxed);
    let warm_up_mb = tally.reply_bytes.load(Ordering::Relaxed) as f64 / 1e6;
    let (mut quiet, mut attacked) = (Vec::new(), Vec::new());
    for stretch in 0..stretches * 2 {
        let attacking = stretch % 2 == 1;
        on.store(attacking, Ordering::Relaxed);
        if attacking {
            // Let the attack reach its stride.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        for _ in 0..rounds {
            edit += 1;
            let t = Instant::now();
            worker.set::<Place>(&place, "description", &format!("確認 {edit}"))?;
            let report = sync_once(&mut worker).await?;
            anyhow::ensure!(report.refused.is_empty(), "refused: {:?}", report.refused);
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if attacking { &mut attacked } else { &mut quiet }.push(ms);
        }
    }
    stop.store(true, Ordering::Relaxed);
    on.store(false, Ordering::Relaxed);
    for a in attackers {
        if let Ok(Err(e)) = a.await {
            eprintln!("attacker connection: {e:#}");
        }
    }
    during_burst.sort_by(f64::total_cmp);
    quiet.sort_by(f64::total_cmp);
    attacked.sort_by(f64::total_cmp);
    let (q50, q99) = (
        ibasho_bench::percentile(&quiet, 50.0),
        ibasho_bench::percentile(&quiet, 99.0),
    );
    let (a50, a99) = (
        ibasho_bench::percentile(&attacked, 50.0),
        ibasho_bench::percentile(&attacked, 99.0),
    );
    let out = serde_json::json!({
        "places": spec.places,
        "rounds_each": quiet.len(),
        "quiet_ms": {"p50": q50, "p99": q99},
        "attacked_ms": {"p50": a50, "p99": a99},
        "ratio_p50": a50 / q50,
        "ratio_p99": a99 / q99,
        "attack_requests": tally.requests.load(Ordering::Relaxed),
        "attack_reply_mb": tally.reply_bytes.load(Ordering::Relaxed) as f64 / 1e6,
        "attack_connections": 4,
        "attack_warm_up_mb": warm_up_mb,
        "during_burst_ms": {
            "p50": ibasho_bench::percentile(&during_burst, 50.0),
            "p99": ibasho_bench::percentile(&during_burst, 99.0),
            "rounds": during_burst.len(),
        },
    });
    println!("{out}");
    Ok(())
}

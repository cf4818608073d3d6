//! Server under load: N devices (real replicas and the real sync client) each make small edits at a
//! steady rate — alternately a visit in their team's document and a place field in one of 16 shared
//! place documents — while an observer device measures how long each edit takes to reach it.
//! Prints one JSON object (the same shape as `bench/js/reference-load.mjs`).

use anyhow::{Context, Result};
use clap::Parser;
use ibasho_app::sync::{LiveSession, join, sync_once};
use ibasho_bench::{cpu_time, percentile, status_kb};
use ibasho_shared::hours::now_jst;
use ibasho_shared::{Place, Replica, Visit};
use ibasho_tests::Server;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
struct Args {
    /// Simulated devices.
    #[arg(long, default_value_t = 10)]
    devices: usize,
    /// Measurement window in seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Edits per second per device.
    #[arg(long, default_value_t = 2.0)]
    rate: f64,
}

const PLACES: usize = 16 * 20;

fn micros(start: Instant) -> u64 {
    start.elapsed().as_micros() as u64
}

/// `bench:{device}:{seq}:{sent_us}`
fn parse_marker(text: &str) -> Option<(String, u64)> {
    let rest = text.strip_prefix("bench:")?;
    let (key, sent) = rest.rsplit_once(':')?;
    Some((key.to_string(), sent.parse().ok()?))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(&dir.path().join("server"));
    let ws = server.admin(&["workspace", "create", "--name", "負荷試験PF"]);
    let teams: Vec<String> = (0..args.devices.div_ceil(10))
        .map(|i| {
            server.admin(&[
                "team",
                "create",
                "--workspace",
                &ws,
                "--name",
                &format!("班{i}"),
            ])
        })
        .collect();

    // The observer (a coordinator) seeds the shared place documents.
    let mut observer = Replica::open(&dir.path().join("observer.sqlite3"))?;
    let invite = server.invite(&ws, "coordinator", None);
    join(&mut observer, &server.url(), &invite, "observer").await?;
    let seeded: Vec<Place> = (0..PLACES)
        .map(|i| {
            Place::new(
                &format!("居場所{i}"),
                "ibasho",
                35.48 + (i % 20) as f64 * 0.001,
                139.40 + (i / 20) as f64 * 0.001,
            )
        })
        .collect();
    let place_ids: Vec<String> = observer
        .add_places(seeded)?
        .into_iter()
        .map(|p| p.id)
        .collect();
    sync_once(&mut observer).await?;
    eprintln!(
        "seeded {} places; joining {} devices…",
        place_ids.len(),
        args.devices
    );

    let mut devices = Vec::new();
    for i in 0..args.devices {
        let team = &teams[i % teams.len()];
        // Simulated devices keep their replica in memory: the load generator measures the server,
        // not the disks of a hundred phones sharing two cores.
        let mut replica = Replica::open(std::path::Path::new(":memory:"))?;
        let invite = server.invite(&ws, "worker", Some(team));
        join(&mut replica, &server.url(), &invite, &format!("worker{i}"))
            .await
            .with_context(|| format!("device {i} joining"))?;
        devices.push(replica);
    }
    eprintln!(
        "running {} s at {} edits/s per device…",
        args.seconds, args.rate
    );

    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let latencies: Arc<Mutex<Vec<(u64, f64)>>> = Arc::new(Mutex::new(Vec::new()));
    let window_end_us = args.seconds * 1_000_000;

    let obs = {
        let latencies = latencies.clone();
        tokio::spawn(async move {
            let (mut session, first) = LiveSession::open(&mut observer).await?;
            if !first.refused.is_empty() {
                eprintln!("observer: refused {:?}", first.refused);
            }
            let mut seen = std::collections::HashSet::new();
            // Never cancelled mid-exchange: the task is aborted once the window and the wait for
            // stragglers are over.
            while let Some(frame) = session.recv_frame().await? {
                // Receipt is when the frame arrived, not after the acknowledgement round trip.
                let now = micros(start);
                let report = session.take(&mut observer, frame).await?;
                // Changes that came in the answers to our acknowledgement arrived by now at the latest.
                let after = micros(start);
                if !report.refused.is_empty() {
                    eprintln!("observer: refused {:?}", report.refused);
                }
                for id in report.records_changed {
                    let text = match observer.place(&id) {
                        Ok(p) => p.description,
                        Err(_) => observer
                            .visit(&id)
                            .map(|v| v.referral_reason)
                            .unwrap_or_default(),
                    };
                    if let Some((key, sent_us)) = parse_marker(&text)
                        && seen.insert(key)
                    {
                        let received = if sent_us <= now { now } else { after };
                        let ms = received.saturating_sub(sent_us) as f64 / 1000.0;
                        latencies.lock().unwrap().push((sent_us, ms));
                    }
                }
            }
            anyhow::Ok(())
        })
    };

    let cpu_before = cpu_time(server.pid());
    let peak_rss = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak, pid) = (stop.clone(), peak_rss.clone(), server.pid());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(status_kb(pid, "VmRSS"), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    let mut tasks = Vec::new();
    for (i, mut replica) in devices.into_iter().enumerate() {
        let (stop, sent, place_ids) = (stop.clone(), sent.clone(), place_ids.clone());
        let team = teams[i % teams.len()].clone();
        let period = Duration::from_secs_f64(1.0 / args.rate);
        tasks.push(tokio::spawn(async move {
            let (mut session, _) = LiveSession::open(&mut replica).await?;
            // Spread devices over the period (a random-looking but fixed phase per device).
            tokio::time::sleep(period.mul_f64(((i * 7919) % 1000) as f64 / 1000.0)).await;
            let mut tick = tokio::time::interval(period);
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tokio::select! {
                    _ = tick.tick() => {
                        let t = micros(start);
                        if t >= window_end_us { break; }
                        let marker = format!("bench:{i}-{seq}:{t}");
                        if seq.is_multiple_of(2) {
                            let mut v = Visit::new(&team, "visit", now_jst());
                            v.people = 1 + (seq % 5) as u32;
                            v.referral_reason = marker;
                            replica.add_visit(v, None)?;
                        } else {
                            let id = &place_ids[(i * 31 + seq as usize * 17) % place_ids.len()];
                            replica.set_place_field(id, "description", &marker)?;
                        }
                        seq += 1;
                        sent.fetch_add(1, Ordering::Relaxed);
                        let pushed = session.push(&mut replica).await?;
                        if !pushed.refused.is_empty() {
                            eprintln!("device {i}: refused {:?}", pushed.refused);
                        }
                    }
                    frame = session.recv_frame() => match frame? {
                        Some(frame) => { session.take(&mut replica, frame).await?; }
                        None => break,
                    },
                }
            }
            anyhow::Ok(())
        }));
    }
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let cpu_used = cpu_time(server.pid()).saturating_sub(cpu_before);
    // Stragglers: up to 5 s for edits still in flight.
    let expected = sent.load(Ordering::Relaxed);
    let wait = Instant::now();
    while (latencies.lock().unwrap().len() as u64) < expected
        && wait.elapsed() < Duration::from_secs(5)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut failures = 0;
    for t in tasks {
        if let Ok(Err(e)) = t.await {
            failures += 1;
            eprintln!("device: {e:#}");
        }
    }
    eprintln!(
        "server accepted {} document updates, {} rejects",
        server.metric("ibasho_changes_accepted_total "),
        server.metric("ibasho_rejects_total ")
    );
    obs.abort();
    let _ = sampler.await;
    let peak_kb = peak_rss
        .load(Ordering::Relaxed)
        .max(status_kb(server.pid(), "VmHWM"));

    let observed: Vec<(u64, f64)> = latencies
        .lock()
        .unwrap()
        .iter()
        .copied()
        .filter(|(s, _)| *s < window_end_us)
        .collect();
    let mut lat: Vec<f64> = observed.iter().map(|(_, l)| *l).collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let out = serde_json::json!({
        "server": "ibasho-sync-server",
        "devices": args.devices,
        "seconds": args.seconds,
        "rate": args.rate,
        "edits_sent": expected,
        "edits_observed": observed.len(),
        "throughput_per_s": observed.len() as f64 / args.seconds as f64,
        "latency_ms": { "p50": percentile(&lat, 50.0), "p99": percentile(&lat, 99.0) },
        "server_cpu_s": cpu_used.as_secs_f64(),
        "server_cpu_pct": 100.0 * cpu_used.as_secs_f64() / args.seconds as f64,
        "server_peak_rss_mb": peak_kb as f64 / 1024.0,
        "device_failures": failures,
    });
    println!("{out}");
    Ok(())
}

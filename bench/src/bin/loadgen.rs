//! Server under load: N devices (real replicas and the real sync client) each make small edits at a
//! steady rate — alternately a visit in their team's document and a place field in one of 16 shared
//! place documents — while an observer device measures how long each edit takes to reach it.
//! Prints one JSON object (the same shape as `bench/js/reference-load.mjs`).

use anyhow::{Context, Result};
use clap::Parser;
use ibasho_app::sync::{LiveSession, join, sync_once};
use ibasho_bench::lean::LeanDevice;
use ibasho_bench::{cpu_time, percentile, status_kb};
use ibasho_shared::doc::{DocId, PLACE_SHARDS};
use ibasho_shared::hours::now_jst;
use ibasho_shared::{Place, RecordKind, Replica, Visit};
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
    /// How devices are simulated: `lean` (default) holds only the two documents a device writes
    /// (its team's visits and one place document) in memory and speaks the wire protocol; `replica`
    /// is the full app client (a replica of everything readable, in-memory SQLite).
    #[arg(long, default_value = "lean", value_parser = ["lean", "replica"])]
    client: String,
    /// The server's `--threads`.
    #[arg(long, default_value_t = 1)]
    server_threads: usize,
    /// Earlier changes each document has before the run (one per change, as edits come in): 0
    /// for fresh documents; ~500 is a place shard or a team's month of visits in a city at the
    /// scale of DOMAIN.md.
    #[arg(long, default_value_t = 0)]
    history: usize,
}

/// A simulated device.
enum Sim {
    /// The app's own client with a full (in-memory) replica.
    Replica(Box<Replica>),
    /// Only the documents it writes: its team's visits and its home place document.
    Lean {
        device: Box<LeanDevice>,
        home: DocId,
        places: Vec<String>,
    },
}

const PLACES: usize = 16 * 20;

/// How often the observer answers the server at most (the server's default bound is 50 frames/s).
const ANSWER_EVERY: Duration = Duration::from_millis(25);

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
    let threads = args.server_threads.to_string();
    let server = Server::start_with(&dir.path().join("server"), &["--threads", &threads]);
    let ws = server.admin(&["workspace", "create", "--name", "負荷試験PF"]);
    let teams: Vec<String> = (0..args.devices.div_ceil(10))
        .map(|i| server.team(&ws, &format!("班{i}")))
        .collect();

    // The observer (a coordinator) seeds the shared place documents.
    // In memory, like the reference side's observer: it measures, it is not measured.
    let mut observer = Replica::open(std::path::Path::new(":memory:"))?;
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
    // History: about `--history` description edits in every place document, one change each.
    let mut by_doc: std::collections::BTreeMap<DocId, Vec<&String>> = Default::default();
    for id in &place_ids {
        by_doc.entry(DocId::for_place(id)).or_default().push(id);
    }
    for k in 0..args.history {
        for ids in by_doc.values() {
            observer.set::<Place>(ids[k % ids.len()], "description", &format!("history {k}"))?;
        }
    }
    sync_once(&mut observer).await?;
    eprintln!(
        "seeded {} places ({} earlier changes per document); joining {} devices…",
        place_ids.len(),
        args.history,
        args.devices
    );

    let mut devices = Vec::new();
    for i in 0..args.devices {
        let team = &teams[i % teams.len()];
        // Simulated devices keep their replica in memory: the load generator measures the server,
        // not the disks of a hundred phones sharing two cores.
        let mut replica = Replica::open(std::path::Path::new(":memory:"))?;
        let invite = server.invite(&ws, "worker", Some(team));
        let person = format!("worker{i}");
        join(&mut replica, &server.url(), &invite, &person)
            .await
            .with_context(|| format!("device {i} joining"))?;
        // The team's first device gives its visits document its history.
        if i < teams.len() && args.history > 0 {
            sync_once(&mut replica).await?;
            for k in 0..args.history {
                let mut v = Visit::new(team, "visit", now_jst());
                v.people = 1 + (k % 5) as u32;
                v.referral_reason = format!("history {k}");
                replica.add_visit(v, None)?;
            }
            sync_once(&mut replica).await?;
        }
        if args.client == "replica" {
            devices.push(Sim::Replica(Box::new(replica)));
            continue;
        }
        let binding = replica.server()?.context("joined")?;
        let home = DocId::Places((i % usize::from(PLACE_SHARDS)) as u8);
        let visits = DocId::Visits {
            team: team.clone(),
            month: Visit::new(team, "visit", now_jst()).month(),
        };
        let actor = automerge::ActorId::from(hex::decode(replica.device_id())?);
        let device = LeanDevice::connect(&binding, actor, &person, &[visits, home.clone()])
            .await
            .with_context(|| format!("device {i} syncing its documents"))?;
        let places = device.record_ids(&home, RecordKind::Place);
        anyhow::ensure!(!places.is_empty(), "place document {home} is empty");
        devices.push(Sim::Lean {
            device: Box::new(device),
            home,
            places,
        });
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
            // Answers go out without waiting for replies, at most every ANSWER_EVERY (the
            // server bounds frames per second), so a stream of pushes never waits on round trips.
            let mut answered = Instant::now();
            let mut pending = false;
            loop {
                let due = tokio::time::Instant::from_std(answered + ANSWER_EVERY);
                let frame = tokio::select! {
                    frame = session.recv_frame() => match frame? {
                        Some(frame) => Some(frame),
                        None => break,
                    },
                    _ = tokio::time::sleep_until(due), if pending => None,
                };
                if let Some(frame) = frame {
                    // Receipt is when the frame arrived.
                    let now = micros(start);
                    let report = session.receive(&mut observer, frame)?;
                    pending = true;
                    if !report.refused.is_empty() {
                        eprintln!("observer: refused {:?}", report.refused);
                    }
                    for id in report.records_changed {
                        let text = match observer.get::<Place>(&id) {
                            Ok(p) => p.description,
                            Err(_) => observer
                                .get::<Visit>(&id)
                                .map(|v| v.referral_reason)
                                .unwrap_or_default(),
                        };
                        if let Some((key, sent_us)) = parse_marker(&text)
                            && seen.insert(key)
                        {
                            let ms = now.saturating_sub(sent_us) as f64 / 1000.0;
                            latencies.lock().unwrap().push((sent_us, ms));
                        }
                    }
                }
                if pending && answered.elapsed() >= ANSWER_EVERY {
                    session.send_answers(&mut observer).await?;
                    answered = Instant::now();
                    pending = false;
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
    for (i, sim) in devices.into_iter().enumerate() {
        let place_ids = place_ids.clone();
        let edits = Edits {
            i,
            team: teams[i % teams.len()].clone(),
            period: Duration::from_secs_f64(1.0 / args.rate),
            start,
            window_end_us,
            stop: stop.clone(),
            sent: sent.clone(),
        };
        tasks.push(tokio::spawn(async move {
            match sim {
                Sim::Replica(replica) => run_replica(*replica, place_ids, edits).await,
                Sim::Lean {
                    device,
                    home,
                    places,
                } => run_lean(*device, home, places, edits).await,
            }
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
    let accepted = server.metric("ibasho_changes_accepted_total ");
    let frames_in = server.metric("ibasho_frames_received_total ");
    let frames_out = server.metric("ibasho_frames_sent_total ");
    eprintln!(
        "server accepted {accepted} document updates, {} rejects; frames in {frames_in}, out {frames_out}",
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
        "server_frames_per_edit": (frames_in + frames_out) as f64 / accepted.max(1) as f64,
        "history": args.history,
    });
    println!("{out}");
    Ok(())
}

/// What a simulated device's edit loop needs: who it is, its pace and the shared counters.
struct Edits {
    i: usize,
    team: String,
    period: Duration,
    start: Instant,
    window_end_us: u64,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
}

impl Edits {
    /// Waits for the next tick; the marker of the edit to make, or `None` once the window is over.
    async fn next(&self, tick: &mut tokio::time::Interval, seq: u64) -> Option<String> {
        tick.tick().await;
        let t = micros(self.start);
        if t >= self.window_end_us || self.stop.load(Ordering::Relaxed) {
            return None;
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        Some(format!("bench:{}-{seq}:{t}", self.i))
    }

    /// A steady tick with a fixed per-device phase (spread over the period).
    async fn ticker(&self) -> tokio::time::Interval {
        let phase = ((self.i * 7919) % 1000) as f64 / 1000.0;
        tokio::time::sleep(self.period.mul_f64(phase)).await;
        tokio::time::interval(self.period)
    }

    fn visit(&self, seq: u64, marker: String) -> Visit {
        let mut v = Visit::new(&self.team, "visit", now_jst());
        v.people = 1 + (seq % 5) as u32;
        v.referral_reason = marker;
        v
    }
}

/// A device running the app's client over a full replica: edits alternate between a visit and a
/// place description anywhere in the workspace.
async fn run_replica(mut replica: Replica, place_ids: Vec<String>, e: Edits) -> Result<()> {
    let (mut session, _) = LiveSession::open(&mut replica).await?;
    let mut tick = e.ticker().await;
    let mut seq = 0u64;
    loop {
        tokio::select! {
            marker = e.next(&mut tick, seq) => {
                let Some(marker) = marker else { break };
                if seq.is_multiple_of(2) {
                    replica.add_visit(e.visit(seq, marker), None)?;
                } else {
                    let id = &place_ids[(e.i * 31 + seq as usize * 17) % place_ids.len()];
                    replica.set::<Place>(id, "description", &marker)?;
                }
                seq += 1;
                let pushed = session.push(&mut replica).await?;
                if !pushed.refused.is_empty() {
                    eprintln!("device {}: refused {:?}", e.i, pushed.refused);
                }
            }
            frame = session.recv_frame() => match frame? {
                Some(frame) => { session.take(&mut replica, frame).await?; }
                None => break,
            },
        }
    }
    session.close().await;
    Ok(())
}

/// A lean device: edits alternate between a visit and the description of a place in its home
/// place document.
async fn run_lean(
    mut device: LeanDevice,
    home: DocId,
    places: Vec<String>,
    e: Edits,
) -> Result<()> {
    let mut tick = e.ticker().await;
    let mut seq = 0u64;
    loop {
        tokio::select! {
            marker = e.next(&mut tick, seq) => {
                let Some(marker) = marker else { break };
                if seq.is_multiple_of(2) {
                    device.add_visit(&e.visit(seq, marker)).await?;
                } else {
                    let id = &places[(e.i * 31 + seq as usize * 17) % places.len()];
                    device.set_place_description(&home, id, &marker).await?;
                }
                seq += 1;
            }
            frame = device.recv_frame() => match frame? {
                Some(frame) => { device.take(frame).await?; }
                None => break,
            },
        }
    }
    let refused = device.refused;
    device.close().await;
    anyhow::ensure!(refused == 0, "the server refused {refused} messages");
    Ok(())
}

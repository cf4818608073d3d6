//! `ibasho-sync-server`: serve, and the admin commands on the same data directory.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use ibasho_shared::sync::Role;
use ibasho_sync_server::listener::{self, ListenLimits};
use ibasho_sync_server::{AppState, admin, hub::Hub, limits::Limits, router, store};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The ibasho sync server.
#[derive(Debug, Parser)]
#[command(name = "ibasho-sync-server", version, about)]
struct Cli {
    /// Data directory (SQLite store).
    #[arg(long, env = "IBASHO_SERVER_DATA")]
    data: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve websockets and HTTP.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:7700 (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:7700")]
        listen: String,
        /// Largest frame accepted, in bytes.
        #[arg(long, default_value_t = Limits::default().max_frame_bytes)]
        max_frame_bytes: usize,
        /// Most documents in one frame.
        #[arg(long, default_value_t = Limits::default().max_docs_per_frame)]
        max_docs_per_frame: usize,
        /// Sustained frames per second per connection.
        #[arg(long, default_value_t = Limits::default().frames_per_second)]
        frames_per_second: f64,
        /// Burst of frames above the sustained rate.
        #[arg(long, default_value_t = Limits::default().burst)]
        burst: f64,
        /// Seconds a frame to a device may take to be sent, beyond its size at
        /// --min-send-rate, before the device (which stopped reading) is disconnected.
        #[arg(long, default_value_t = Limits::default().send_timeout.as_secs_f64())]
        send_timeout_secs: f64,
        /// Slowest link a device may sync over, in bytes per second.
        #[arg(long, default_value_t = Limits::default().min_send_rate)]
        min_send_rate: f64,
        /// Seconds a connected device may stay silent (it is pinged after a third of that) before
        /// it is taken to be gone and disconnected.
        #[arg(long, default_value_t = Limits::default().silence.as_secs_f64())]
        device_silence_secs: f64,
        /// Seconds a document may stay idle in memory.
        #[arg(long, default_value_t = 60)]
        idle_secs: u64,
        /// Most documents in memory.
        #[arg(long, default_value_t = 2000)]
        max_docs: usize,
        /// Threads serving connections. Documents are behind one lock, so more threads mostly add
        /// hand-offs between them; 1 serves everything on one thread (file syncs run on their own).
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Seconds a connection may take to send a request's head (slow or silent sockets are
        /// closed after it).
        #[arg(long, default_value_t = ListenLimits::default().header_timeout.as_secs_f64())]
        header_timeout_secs: f64,
        /// Most connections open at once (default: what the limit on open files leaves, less a
        /// reserve).
        #[arg(long)]
        max_connections: Option<usize>,
        /// Most connections that have not shown a device token or an invite; beyond, the oldest of
        /// them is closed to make room.
        #[arg(long, default_value_t = ListenLimits::default().max_unauthenticated)]
        max_unauthenticated: usize,
        /// The same, from one address.
        #[arg(long, default_value_t = ListenLimits::default().max_unauthenticated_per_address)]
        max_unauthenticated_per_address: usize,
        /// Reply bytes one device may draw per second, sustained (beyond its burst, its next frame
        /// waits).
        #[arg(long, default_value_t = Limits::default().reply_bytes_per_second)]
        reply_bytes_per_second: f64,
        /// Reply bytes one device may draw at once before the sustained rate applies.
        #[arg(long, default_value_t = Limits::default().reply_burst_bytes)]
        reply_burst_bytes: f64,
        /// Most bytes one reply holds; a frame's documents past it are asked for again.
        #[arg(long, default_value_t = Limits::default().max_reply_bytes)]
        max_reply_bytes: usize,
        /// Most connections one device may hold at once.
        #[arg(long, default_value_t = Limits::default().max_connections_per_device)]
        max_connections_per_device: usize,
        /// Serve over TLS with this certificate (chain, PEM); with --tls-key. Read again on
        /// SIGHUP. Without both, plain HTTP (for use behind a TLS proxy on the same machine).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM); with --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Largest the store may grow, in megabytes (none by default). Beyond it the server
        /// refuses to store changes, as on a full disk, and devices keep them until there is room.
        #[arg(long)]
        max_store_mb: Option<u64>,
    },
    /// Workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCmd),
    /// Teams.
    #[command(subcommand)]
    Team(TeamCmd),
    /// Create a single-use invite; prints the token.
    Invite {
        #[arg(long)]
        workspace: String,
        /// coordinator, worker or member.
        #[arg(long)]
        role: Role,
        /// The worker's team.
        #[arg(long)]
        team: Option<String>,
        /// How long it stays valid: 30m, 12h, 7d.
        #[arg(long, default_value = "7d")]
        expires: String,
    },
    /// List the devices of a workspace.
    Devices {
        #[arg(long)]
        workspace: String,
    },
    /// Revoke a device: it is refused at once, also on a live connection; its next contact tells
    /// it to delete the workspace's data.
    Revoke { device: String },
    /// Erase a record, or one field's past values, everywhere: the document holding it is
    /// rewritten without them (a new epoch); devices take it on their next sync.
    Erase {
        #[arg(long)]
        workspace: String,
        /// The record's id.
        id: String,
        /// Only this field's past values (its current value stays).
        field: Option<String>,
        /// Why (kept in the erase log; never the erased value).
        #[arg(long)]
        reason: String,
    },
    /// The erase log of a workspace.
    Erasures {
        #[arg(long)]
        workspace: String,
    },
    /// Write a consistent copy of the store (safe while serving).
    Backup {
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum WorkspaceCmd {
    /// Create a workspace; prints its id.
    Create {
        #[arg(long)]
        name: String,
    },
    /// Change a workspace's settings.
    Set {
        #[arg(long)]
        workspace: String,
        /// How many months visits are kept (0: for ever); older months are erased at once, on
        /// the server and on every device at its next sync, their counts kept for reports.
        #[arg(long)]
        visit_retention_months: Option<u32>,
        /// The team that is the workspace's case conference (支援会議): escalations go to it.
        #[arg(long)]
        case_conference: Option<String>,
        /// The basemap every device uses unless its person sets another: an XYZ URL template
        /// (https://…/{z}/{x}/{y}.png); an empty string goes back to the app's default
        /// (国土地理院's 標準地図).
        #[arg(long)]
        basemap_url: Option<String>,
        /// The attribution shown with that basemap, as its terms require (e.g. 地理院タイル).
        #[arg(long, requires = "basemap_url")]
        basemap_attribution: Option<String>,
    },
    /// Show a workspace's settings.
    Show {
        #[arg(long)]
        workspace: String,
    },
}

#[derive(Debug, Subcommand)]
enum TeamCmd {
    /// Create a team; prints its id.
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        name: String,
    },
}

/// Makes glibc's allocator hand memory back to the kernel as it is freed. Its defaults raise the
/// size above which blocks get their own mapping each time such a block is freed, so after the
/// first large sync message (whole documents sent to a joining device) later ones come from the
/// heap and stay there as free pages.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called once, before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 * 1024);
    }
}

fn main() -> Result<()> {
    tune_allocator();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let mut conn = store::open(&cli.data)
        .with_context(|| format!("opening the store in {}", cli.data.display()))?;
    match cli.command {
        Command::Serve {
            listen,
            max_frame_bytes,
            max_docs_per_frame,
            frames_per_second,
            burst,
            send_timeout_secs,
            min_send_rate,
            device_silence_secs,
            idle_secs,
            max_docs,
            threads,
            max_store_mb,
            header_timeout_secs,
            max_connections,
            max_unauthenticated,
            max_unauthenticated_per_address,
            max_connections_per_device,
            reply_bytes_per_second,
            reply_burst_bytes,
            max_reply_bytes,
            tls_cert,
            tls_key,
        } => {
            let certificate = match (&tls_cert, &tls_key) {
                (Some(cert), Some(key)) => {
                    Some(ibasho_sync_server::tls::Certificate::load(cert, key)?)
                }
                _ => None,
            };
            if let Some(mb) = max_store_mb {
                store::limit_size(&conn, mb.saturating_mul(1024 * 1024))
                    .context("--max-store-mb")?;
            }
            let seconds = |flag: &str, value: f64| {
                Duration::try_from_secs_f64(value)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        anyhow::anyhow!("--{flag}: {value} is not a positive number of seconds")
                    })
            };
            let send_timeout = seconds("send-timeout-secs", send_timeout_secs)?;
            let header_timeout = seconds("header-timeout-secs", header_timeout_secs)?;
            for (flag, value) in [
                ("max-unauthenticated", max_unauthenticated),
                (
                    "max-unauthenticated-per-address",
                    max_unauthenticated_per_address,
                ),
                ("max-connections-per-device", max_connections_per_device),
                ("max-connections", max_connections.unwrap_or(1)),
                ("max-reply-bytes", max_reply_bytes),
            ] {
                if value == 0 {
                    anyhow::bail!("--{flag}: must be at least 1");
                }
            }
            let budget = listener::connection_budget();
            let listen_limits = ListenLimits {
                header_timeout,
                max_connections: max_connections.map_or(budget, |m| m.min(budget)),
                max_unauthenticated,
                max_unauthenticated_per_address,
            };
            let silence = seconds("device-silence-secs", device_silence_secs)?;
            for (flag, value) in [
                ("reply-bytes-per-second", reply_bytes_per_second),
                ("reply-burst-bytes", reply_burst_bytes),
            ] {
                if !(value.is_finite() && value > 0.0) {
                    anyhow::bail!("--{flag}: {value} is not a positive number of bytes");
                }
            }
            if !(min_send_rate.is_finite() && min_send_rate > 0.0) {
                anyhow::bail!(
                    "--min-send-rate: {min_send_rate} is not a positive number of bytes per second"
                );
            }
            let limits = Limits {
                max_frame_bytes,
                max_docs_per_frame,
                frames_per_second,
                burst,
                send_timeout,
                min_send_rate,
                silence,
                max_connections_per_device,
                reply_bytes_per_second,
                reply_burst_bytes,
                max_reply_bytes,
            };
            let runtime = if threads <= 1 {
                tokio::runtime::Builder::new_current_thread()
            } else {
                let mut builder = tokio::runtime::Builder::new_multi_thread();
                builder.worker_threads(threads);
                builder
            }
            .enable_all()
            .build()?;
            runtime.block_on(serve(
                conn,
                &listen,
                limits,
                listen_limits,
                certificate,
                Duration::from_secs(idle_secs),
                max_docs,
            ))?;
        }
        Command::Workspace(WorkspaceCmd::Create { name }) => {
            println!("{}", admin::create_workspace(&mut conn, &name)?)
        }
        Command::Workspace(WorkspaceCmd::Set {
            workspace,
            visit_retention_months,
            case_conference,
            basemap_url,
            basemap_attribution,
        }) => {
            if let Some(url) = basemap_url {
                let attribution = basemap_attribution.unwrap_or_default();
                admin::set_basemap(&mut conn, &workspace, &url, &attribution)?;
                println!(
                    "the basemap is {}",
                    if url.is_empty() { "the default" } else { &url }
                );
            }
            if let Some(team) = case_conference {
                admin::set_case_conference(&mut conn, &workspace, &team)?;
                println!("the case conference is team {team}");
            }
            if let Some(months) = visit_retention_months {
                let erased = admin::set_visit_retention(&mut conn, &workspace, months)?;
                println!(
                    "visits are kept {}; {} month document(s) erased now",
                    if months == 0 {
                        "for ever".to_string()
                    } else {
                        format!("{months} months")
                    },
                    erased.len()
                );
            }
        }
        Command::Workspace(WorkspaceCmd::Show { workspace }) => {
            let months = store::visit_retention(&conn, &workspace)?;
            println!(
                "visit_retention_months: {}",
                months.map_or_else(|| "none (kept for ever)".to_string(), |m| m.to_string())
            );
        }
        Command::Erase {
            workspace,
            id,
            field,
            reason,
        } => {
            let erasure = ibasho_sync_server::erase::erase(
                &mut conn,
                &workspace,
                &ibasho_sync_server::erase::EraseRequest {
                    record: id,
                    field,
                    reason,
                    by: "admin".into(),
                },
            )?;
            println!("{} epoch {}", erasure.doc, erasure.epoch);
        }
        Command::Erasures { workspace } => {
            for e in store::erasures(&conn, &workspace)? {
                println!(
                    "{}  {}  epoch {}  {}{}  by {}  — {}",
                    e.at,
                    e.doc,
                    e.epoch,
                    e.record.as_deref().unwrap_or("(every record)"),
                    e.field.map(|f| format!(" {f}")).unwrap_or_default(),
                    e.by,
                    e.reason
                );
            }
        }
        Command::Team(TeamCmd::Create { workspace, name }) => {
            println!("{}", admin::create_team(&mut conn, &workspace, &name)?)
        }
        Command::Invite {
            workspace,
            role,
            team,
            expires,
        } => {
            let expires = admin::parse_duration(&expires)?;
            println!(
                "{}",
                admin::create_invite(&conn, &workspace, role, team.as_deref(), expires)?
            );
        }
        Command::Devices { workspace } => {
            for d in admin::list_devices(&conn, &workspace)? {
                let revoked = d
                    .revoked_at
                    .map(|t| format!("  revoked {t}"))
                    .unwrap_or_default();
                let seen = d
                    .last_seen_at
                    .map(|t| format!("  last seen {t}"))
                    .unwrap_or_default();
                let wiped = match (&d.wiped_at, revoked.is_empty()) {
                    (Some(t), _) => format!("  wiped {t}"),
                    (None, false) => "  not wiped yet".to_string(),
                    (None, true) => String::new(),
                };
                println!(
                    "{}  {}  {}  {}{revoked}{seen}{wiped}",
                    d.id,
                    d.role,
                    d.team.unwrap_or_else(|| "-".into()),
                    d.person
                );
            }
        }
        Command::Revoke { device } => admin::revoke(&conn, &device)?,
        Command::Backup { out } => admin::backup(&conn, &out)?,
    }
    Ok(())
}

async fn serve(
    conn: rusqlite::Connection,
    listen: &str,
    limits: Limits,
    listen_limits: ListenLimits,
    certificate: Option<Arc<ibasho_sync_server::tls::Certificate>>,
    idle: Duration,
    max_docs: usize,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    let hub = Arc::new(Hub::new(conn, max_docs)?);
    hub.check_store();
    let durability = hub.durability.clone();
    tokio::spawn(async move {
        let error = durability.run().await;
        // Nothing more can be acknowledged; devices send again what was not.
        tracing::error!(%error, "the store's log could not be synced; stopping");
        eprintln!("ibasho-sync-server: the store's log could not be synced ({error}); stopping");
        std::process::exit(1);
    });
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let state = AppState {
        hub: hub.clone(),
        limits,
        shutdown: shutdown_rx,
    };
    let evictor = hub.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            evictor.evict(idle, max_docs);
        }
    });
    // Visits past each workspace's retention: erased at start, then hourly.
    let keeper = hub.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let emptied = keeper.apply_retention(chrono::Utc::now().date_naive());
            if emptied > 0 {
                tracing::info!(emptied, "visits past retention erased");
            }
        }
    });
    let tls = match &certificate {
        Some(certificate) => {
            certificate.reload_on_hangup();
            Some(certificate.acceptor()?)
        }
        None => None,
    };
    // The line tests and scripts wait for.
    println!(
        "listening on {addr}{}",
        if tls.is_some() { " (TLS)" } else { "" }
    );
    tracing::info!(%addr, "serving");
    listener::serve(
        listener,
        router(state),
        listen_limits,
        tls,
        async {
            stop_signal().await;
            tracing::info!("shutting down");
        },
        shutdown_tx,
    )
    .await;
    hub.with_store(|c| c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);"))?;
    tracing::info!("stopped; everything is stored");
    Ok(())
}

async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

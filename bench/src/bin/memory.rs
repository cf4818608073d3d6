//! Server memory against documents and connections: 10,000 stored documents, then 200 idle
//! connections, then one device reading everything, then idle eviction. Prints one JSON object.

use anyhow::{Result, bail};
use futures_util::{SinkExt, StreamExt};
use ibasho_app::sync::{join, sync_once};
use ibasho_bench::status_kb;
use ibasho_shared::sync::{Frame, PROTOCOL_VERSION};
use ibasho_shared::{Replica, Visit};
use ibasho_tests::Server;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const TEAMS: usize = 35;

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

async fn raw_join(server: &Server, invite: &str) -> Result<String> {
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/join", server.addr)).await?;
    let frame = Frame::Join {
        version: PROTOCOL_VERSION,
        invite: invite.into(),
        person: "idle".into(),
        actor: automerge::ActorId::random().to_bytes().to_vec(),
    };
    ws.send(Message::Binary(frame.encode().into())).await?;
    while let Some(msg) = ws.next().await {
        if let Message::Binary(b) = msg? {
            if let Frame::Joined { token, .. } = Frame::decode(&b)? {
                return Ok(token);
            }
            bail!("join refused");
        }
    }
    bail!("no answer to join")
}

fn main() -> Result<()> {
    // `--quick`: 2,000 documents and 50 connections instead of 10,000 and 200.
    let quick = std::env::args().any(|a| a == "--quick");
    let (docs, idle) = if quick { (2_000, 50) } else { (10_000, 200) };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(docs, idle))
}

async fn run(docs: usize, idle: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let flags = [
        "--frames-per-second",
        "1000",
        "--burst",
        "10000",
        "--idle-secs",
        "3",
        "--max-docs",
        "2000",
    ];
    let mut server = Server::start_with(&dir.path().join("server"), &flags);
    let ws = server.admin(&["workspace", "create", "--name", "記憶量試験PF"]);
    let teams: Vec<String> = (0..TEAMS)
        .map(|i| server.team(&ws, &format!("班{i}")))
        .collect();
    let mut author = Replica::open(&dir.path().join("author.sqlite3"))?;
    join(
        &mut author,
        &server.url(),
        &server.invite(&ws, "coordinator", None),
        "作成",
    )
    .await?;
    sync_once(&mut author).await?;
    // One visit in each of 10,000 (team, month) documents, months from 2000-01 on.
    let mut visits = Vec::with_capacity(docs);
    for i in 0..docs {
        let (team, month) = (&teams[i % TEAMS], i / TEAMS);
        let at =
            chrono::NaiveDate::from_ymd_opt(2000 + (month / 12) as i32, 1 + (month % 12) as u32, 1)
                .unwrap()
                .and_hms_opt(10, 0, 0)
                .unwrap();
        visits.push((Visit::new(team, "visit", at), None));
    }
    author.add_visits(visits)?;
    let report = sync_once(&mut author).await?;
    if !report.refused.is_empty() {
        bail!(
            "refused: {:?}",
            &report.refused[..3.min(report.refused.len())]
        );
    }
    let stored = author.doc_ids()?.len();
    eprintln!("{stored} documents stored on the server");

    server.restart();
    // `restart` keeps the flags only for the first start; start again with them.
    let data = server.data.clone();
    drop(server);
    let server = Server::start_with(&data, &flags);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = server.pid();
    let rss_started = status_kb(pid, "VmRSS");

    let mut sockets = Vec::new();
    for _ in 0..idle {
        let token = raw_join(&server, &server.invite(&ws, "member", None)).await?;
        let mut request = format!("ws://{}/sync", server.addr).into_client_request()?;
        request
            .headers_mut()
            .insert("Authorization", format!("Bearer {token}").parse()?);
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
        let _welcome = socket.next().await;
        sockets.push(socket);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = status_kb(pid, "VmRSS");
    let loaded_idle = server.metric("ibasho_documents_loaded ");

    // One coordinator reads everything.
    let mut reader = Replica::open(&dir.path().join("reader.sqlite3"))?;
    join(
        &mut reader,
        &server.url(),
        &server.invite(&ws, "coordinator", None),
        "読む人",
    )
    .await?;
    sync_once(&mut reader).await?;
    let rss_after_read = status_kb(pid, "VmRSS");
    let loaded_after_read = server.metric("ibasho_documents_loaded ");
    tokio::time::sleep(Duration::from_secs(10)).await;
    let loaded_after_idle = server.metric("ibasho_documents_loaded ");
    let rss_after_idle = status_kb(pid, "VmRSS");

    println!(
        "{}",
        serde_json::json!({
            "stored_documents": stored,
            "idle_connections": sockets.len(),
            "rss_started_mb": mb(rss_started),
            "rss_with_idle_connections_mb": mb(rss_idle),
            "documents_loaded_with_idle_connections": loaded_idle,
            "rss_after_one_device_read_everything_mb": mb(rss_after_read),
            "documents_loaded_after_read": loaded_after_read,
            "documents_loaded_after_idle_eviction": loaded_after_idle,
            "rss_after_idle_eviction_mb": mb(rss_after_idle),
            "peak_rss_mb": mb(status_kb(pid, "VmHWM")),
        })
    );
    Ok(())
}

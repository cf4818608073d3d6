use ibasho_app::sync::{join, sync_once};
use ibasho_shared::Replica;
use ibasho_shared::demo::{DemoSpec, generate};
use ibasho_tests::Server;
use std::time::Instant;
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let dir = std::path::Path::new("/tmp/citysrv");
    if !dir.exists() {
        let server = Server::start(&dir.join("server"));
        let ws = server.admin(&["workspace", "create", "--name", "x"]);
        for i in 0..20 {
            server.admin(&[
                "team",
                "create",
                "--workspace",
                &ws,
                "--name",
                &format!("t{i}"),
            ]);
        }
        let mut author = Replica::open(&dir.join("author.sqlite3"))?;
        join(
            &mut author,
            &server.url(),
            &server.invite(&ws, "coordinator", None),
            "g",
        )
        .await?;
        sync_once(&mut author).await?;
        generate(
            &mut author,
            &DemoSpec {
                places: 5000,
                orgs: 500,
                teams: 20,
                visits: 50_000,
                months: 12,
                center: (38.2682, 140.8694),
                radius_km: 12.0,
                seed: 2026,
            },
        )?;
        sync_once(&mut author).await?;
        std::fs::write(dir.join("ws"), &ws)?;
        return Ok(());
    }
    let ws = std::fs::read_to_string(dir.join("ws"))?;
    let server = Server::start(&dir.join("server"));
    for i in 0..3 {
        let p = format!("/tmp/fresh{i}.sqlite3");
        let _ = std::fs::remove_file(&p);
        let mut fresh = Replica::open(std::path::Path::new(&p))?;
        let invite = server.invite(&ws, "coordinator", None);
        let t = Instant::now();
        join(&mut fresh, &server.url(), &invite, "n").await?;
        let j = t.elapsed().as_secs_f64();
        sync_once(&mut fresh).await?;
        eprintln!("join {:.2} s, total {:.2} s", j, t.elapsed().as_secs_f64());
    }
    Ok(())
}

use ibasho_shared::Replica;
use ibasho_shared::demo::{DemoSpec, generate};
use std::time::Instant;
fn main() -> anyhow::Result<()> {
    let dir = std::path::Path::new("/tmp/city");
    if !dir.exists() {
        std::fs::create_dir_all(dir)?;
        let mut author = Replica::open(&dir.join("author.sqlite3"))?;
        author.init("x", "y")?;
        for i in 0..20 {
            author.add_team(&format!("t{i}"))?;
        }
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
    }
    let mut author = Replica::open(&dir.join("author.sqlite3"))?;
    let docs: Vec<_> = author
        .doc_ids()?
        .into_iter()
        .map(|id| {
            let b = author.doc_bytes(&id).unwrap();
            (id, b)
        })
        .collect();
    let _ = std::fs::remove_file("/tmp/merge.sqlite3");
    let mut local = Replica::open(std::path::Path::new("/tmp/merge.sqlite3"))?;
    let t = Instant::now();
    for (id, b) in &docs {
        local.merge_doc(id, b)?;
    }
    eprintln!("merge: {:.2} s", t.elapsed().as_secs_f64());
    Ok(())
}

//! Local edit durability, per operation: p50/p99 of adding a place and logging a visit through the
//! replica API (durable before returning), against a bare rusqlite WAL insert of the same row with the
//! same fsync setting as the floor. Prints Markdown lines.

use ibasho_bench::percentile;
use ibasho_shared::hours::now_jst;
use ibasho_shared::{Place, Replica, Visit};
use rusqlite::{Connection, params};
use std::time::Instant;

const N: usize = 400;

fn timed(mut f: impl FnMut(usize)) -> Vec<f64> {
    let mut times: Vec<f64> = (0..N)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    times
}

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut r = Replica::open(&dir.path().join("replica.sqlite3"))?;
    r.init("計測用PF", "計測")?;
    r.add_places(
        (0..300)
            .map(|i| Place::new(&format!("既存{i}"), "cafe", 35.4 + i as f64 * 1e-4, 139.4))
            .collect(),
    )?;
    let team = r.default_team()?;
    let place = timed(|i| {
        let mut p = Place::new(
            &format!("喫茶{i}"),
            "cafe",
            35.48 + (i % 100) as f64 * 1e-4,
            139.40,
        );
        p.hours = "Mo-Fr 10:00-16:00; PH off".into();
        r.add_place(p).unwrap();
    });
    let visit = timed(|_| {
        r.add_visit(Visit::new(&team, "visit", now_jst()), None)
            .unwrap();
    });
    let floor_db = Connection::open(dir.path().join("floor.sqlite3"))?;
    floor_db.pragma_update(None, "journal_mode", "WAL")?;
    floor_db.pragma_update(None, "synchronous", "FULL")?;
    floor_db.execute_batch("CREATE TABLE places (id TEXT PRIMARY KEY, name TEXT, category TEXT, lat REAL, lon REAL, hours TEXT)")?;
    let floor = timed(|i| {
        floor_db
            .execute(
                "INSERT INTO places VALUES (?1, ?2, 'cafe', ?3, 139.40, 'Mo-Fr 10:00-16:00; PH off')",
                params![format!("{i:032x}"), format!("喫茶{i}"), 35.48 + (i % 100) as f64 * 1e-4],
            )
            .unwrap();
    });
    let (f50, f99) = (percentile(&floor, 50.0), percentile(&floor, 99.0));
    for (name, t) in [
        ("add place (replica)", &place),
        ("log visit (replica)", &visit),
        ("bare rusqlite WAL insert (floor)", &floor),
    ] {
        let (p50, p99) = (percentile(t, 50.0), percentile(t, 99.0));
        println!(
            "- {name}: p50 {p50:.3} ms, p99 {p99:.3} ms ({:.1}× / {:.1}× the floor)",
            p50 / f50,
            p99 / f99
        );
    }
    Ok(())
}

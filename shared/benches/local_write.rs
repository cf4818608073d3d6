//! Local edit durability: adding a place and logging a visit through the replica API (validated,
//! an Automerge change, the chunk and the index in one SQLite transaction, fsync'd) against the
//! floor — a bare rusqlite insert of the same row into a WAL database with the same fsync setting.

use criterion::{Criterion, criterion_group, criterion_main};
use ibasho_shared::hours::now_jst;
use ibasho_shared::{Place, Replica, Visit};
use rusqlite::{Connection, params};

fn replica_with_workspace(dir: &std::path::Path) -> Replica {
    let mut r = Replica::open(&dir.join("replica.sqlite3")).unwrap();
    r.init("計測用PF", "計測").unwrap();
    // A realistic shard size: a few hundred places already there.
    let places: Vec<Place> = (0..300)
        .map(|i| Place::new(&format!("既存{i}"), "cafe", 35.4 + i as f64 * 1e-4, 139.4))
        .collect();
    r.add_places(places).unwrap();
    r
}

fn local_writes(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut replica = replica_with_workspace(dir.path());
    let team = replica.default_team().unwrap();
    let mut group = c.benchmark_group("local_write");
    let mut i = 0u64;
    group.bench_function("add_place_via_replica", |b| {
        b.iter(|| {
            i += 1;
            let mut p = Place::new(
                &format!("喫茶{i}"),
                "cafe",
                35.48 + (i % 100) as f64 * 1e-4,
                139.40,
            );
            p.hours = "Mo-Fr 10:00-16:00; PH off".into();
            replica.add_place(p).unwrap();
        })
    });
    group.bench_function("log_visit_via_replica", |b| {
        b.iter(|| {
            let mut v = Visit::new(&team, "visit", now_jst());
            v.people = 2;
            replica.add_visit(v, None).unwrap();
        })
    });
    let floor = Connection::open(dir.path().join("floor.sqlite3")).unwrap();
    floor.pragma_update(None, "journal_mode", "WAL").unwrap();
    floor.pragma_update(None, "synchronous", "FULL").unwrap();
    floor
        .execute_batch("CREATE TABLE places (id TEXT PRIMARY KEY, name TEXT, category TEXT, lat REAL, lon REAL, hours TEXT)")
        .unwrap();
    let mut j = 0u64;
    group.bench_function("bare_rusqlite_wal_insert", |b| {
        b.iter(|| {
            j += 1;
            floor
                .execute(
                    "INSERT INTO places (id, name, category, lat, lon, hours) VALUES (?1, ?2, 'cafe', ?3, 139.40, 'Mo-Fr 10:00-16:00; PH off')",
                    params![format!("{j:032x}"), format!("喫茶{j}"), 35.48 + (j % 100) as f64 * 1e-4],
                )
                .unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, local_writes);
criterion_main!(benches);

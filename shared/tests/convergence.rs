//! Property: replicas that make random concurrent edits and exchange documents in random orders end
//! with identical documents and identical index query results.

mod support;

use ibasho_shared::{Place, PlaceQuery, Replica, Visit, VisitQuery, hours::now_jst};
use proptest::prelude::*;
use support::*;

const REPLICAS: usize = 3;
const NAMES: [&str; 4] = ["ひだまり", "こもれび", "Sunny Café", "喫茶ランドリー"];
const CATEGORIES: [&str; 4] = ["cafe", "kodomo_shokudo", "library", "laundry_cafe"];
const FIELDS: [(&str, &[&str]); 5] = [
    ("name", &NAMES),
    ("status", &["active", "temporarily_closed", "moved"]),
    (
        "hours",
        &["Mo-Fr 10:00-16:00", "Sa 11:00-14:00; PH off", ""],
    ),
    ("targets", &["elderly", "hikikomori,foreign", ""]),
    ("lat", &["35.48", "35.49", "35.50"]),
];

#[derive(Debug, Clone)]
enum Op {
    Add {
        replica: usize,
        name: usize,
        category: usize,
    },
    Set {
        replica: usize,
        place: usize,
        field: usize,
        value: usize,
    },
    Delete {
        replica: usize,
        place: usize,
    },
    Restore {
        replica: usize,
        place: usize,
    },
    Visit {
        replica: usize,
        place: usize,
        people: u32,
    },
    Send {
        from: usize,
        to: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let r = 0..REPLICAS;
    prop_oneof![
        (r.clone(), 0..NAMES.len(), 0..CATEGORIES.len()).prop_map(|(replica, name, category)| {
            Op::Add {
                replica,
                name,
                category,
            }
        }),
        (r.clone(), 0..8usize, 0..FIELDS.len(), 0..3usize).prop_map(
            |(replica, place, field, value)| Op::Set {
                replica,
                place,
                field,
                value
            }
        ),
        (r.clone(), 0..8usize).prop_map(|(replica, place)| Op::Delete { replica, place }),
        (r.clone(), 0..8usize).prop_map(|(replica, place)| Op::Restore { replica, place }),
        (r.clone(), 0..8usize, 1..20u32).prop_map(|(replica, place, people)| Op::Visit {
            replica,
            place,
            people
        }),
        (r.clone(), r).prop_map(|(from, to)| Op::Send { from, to }),
    ]
}

/// Everything a user could see through the index: all places, places near a point, a search,
/// visits and conflicts.
type View = (
    Vec<String>,
    Vec<String>,
    Vec<String>,
    Vec<String>,
    Vec<ibasho_shared::doc::Conflict>,
);

/// What `r` shows.
fn view(r: &mut Replica) -> View {
    let all = r
        .places(&PlaceQuery {
            include_deleted: true,
            ..Default::default()
        })
        .unwrap();
    let places = all
        .iter()
        .map(|h| serde_json::to_string(&h.place).unwrap())
        .collect();
    let near = r
        .places(&PlaceQuery {
            near: Some((35.49, 139.4075, 1_500.0)),
            ..Default::default()
        })
        .unwrap();
    let near = near
        .iter()
        .map(|h| format!("{} {:.3}", h.place.id, h.distance_m.unwrap()))
        .collect();
    let found = r
        .places(&PlaceQuery {
            search: Some("ひだまり".into()),
            target: None,
            ..Default::default()
        })
        .unwrap();
    let found = found.iter().map(|h| h.place.id.clone()).collect();
    let visits = r
        .visits(&VisitQuery::default())
        .unwrap()
        .iter()
        .map(|v| serde_json::to_string(v).unwrap())
        .collect();
    let mut conflicts = r.conflicts().unwrap();
    conflicts.sort_by(|a, b| (&a.record, &a.field).cmp(&(&b.record, &b.field)));
    (places, near, found, visits, conflicts)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge_whatever_the_order_of_exchange(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let mut first = founder(dir.path(), "r0");
        let mut replicas = vec![];
        for i in 1..REPLICAS {
            replicas.push(joiner(&mut first, dir.path(), &format!("r{i}")));
        }
        replicas.insert(0, first);
        let team = replicas[0].default_team().unwrap();
        let mut known: Vec<Vec<String>> = vec![Vec::new(); REPLICAS];

        for op in ops {
            match op {
                Op::Add { replica, name, category } => {
                    let p = replicas[replica].add_place(Place::new(NAMES[name], CATEGORIES[category], 35.49, 139.4075)).unwrap();
                    known[replica].push(p.id);
                }
                Op::Set { replica, place, field, value } => {
                    if let Some(id) = known[replica].get(place) {
                        let (field, values) = FIELDS[field];
                        replicas[replica].set::<Place>(id, field, values[value % values.len()]).unwrap();
                    }
                }
                Op::Delete { replica, place } => {
                    if let Some(id) = known[replica].get(place) { replicas[replica].delete::<Place>(id).unwrap(); }
                }
                Op::Restore { replica, place } => {
                    if let Some(id) = known[replica].get(place) { replicas[replica].restore::<Place>(id).unwrap(); }
                }
                Op::Visit { replica, place, people } => {
                    let mut v = Visit::new(&team, "visit", now_jst());
                    v.place_id = known[replica].get(place).cloned();
                    v.people = people;
                    replicas[replica].add_visit(v, None).unwrap();
                }
                Op::Send { from, to } if from != to => {
                    let (a, b) = if from < to { let (l, r) = replicas.split_at_mut(to); (&mut l[from], &mut r[0]) }
                                 else { let (l, r) = replicas.split_at_mut(from); (&mut r[0], &mut l[to]) };
                    send_all(a, b);
                    known[to] = known[from].iter().chain(known[to].iter()).cloned().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
                }
                Op::Send { .. } => {}
            }
        }
        // Everyone tells everyone (a ring twice is enough for three replicas).
        for _ in 0..2 {
            for i in 0..REPLICAS {
                let j = (i + 1) % REPLICAS;
                let (a, b) = if i < j { let (l, r) = replicas.split_at_mut(j); (&mut l[i], &mut r[0]) }
                             else { let (l, r) = replicas.split_at_mut(i); (&mut r[0], &mut l[j]) };
                send_all(a, b);
            }
        }
        let heads0 = all_heads(&mut replicas[0]);
        let view0 = view(&mut replicas[0]);
        for r in replicas.iter_mut().skip(1) {
            prop_assert_eq!(&all_heads(r), &heads0);
            prop_assert_eq!(&view(r), &view0);
        }
        // What was merged is durable: a replica reopened from its file is the same.
        let path = replicas[1].path().to_path_buf();
        replicas[1] = Replica::open(&path).unwrap();
        prop_assert_eq!(&all_heads(&mut replicas[1]), &heads0);
        prop_assert_eq!(&view(&mut replicas[1]), &view0);
        // Same heads means the same change set; check the materialised content too.
        let ids = replicas[0].doc_ids().unwrap();
        let content0: Vec<serde_json::Value> = ids.iter().map(|id| content(&replicas[0].doc_bytes(id).unwrap())).collect();
        for r in replicas.iter_mut().skip(1) {
            prop_assert_eq!(&r.doc_ids().unwrap(), &ids);
            for (id, c) in ids.iter().zip(&content0) {
                prop_assert!(&content(&r.doc_bytes(id).unwrap()) == c, "document {} differs", id);
            }
        }
    }
}

/// A document's content as JSON.
fn content(bytes: &[u8]) -> serde_json::Value {
    let doc = automerge::Automerge::load(bytes).unwrap();
    serde_json::to_value(automerge::AutoSerde::from(&doc)).unwrap()
}

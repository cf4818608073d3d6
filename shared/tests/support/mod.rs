//! Helpers that let the tests read as specifications.
#![allow(dead_code)]

use ibasho_shared::{DocId, Place, Replica};
use std::path::Path;

/// A replica with a new workspace, at `dir/name.sqlite3`.
pub fn founder(dir: &Path, person: &str) -> Replica {
    let mut r = Replica::open(&dir.join(format!("{person}.sqlite3"))).unwrap();
    r.init("座間市 孤独・孤立官民連携PF", person).unwrap();
    r
}

/// A replica that received every document of `from` (as joining would bring them).
pub fn joiner(from: &mut Replica, dir: &Path, person: &str) -> Replica {
    let mut r = Replica::open(&dir.join(format!("{person}.sqlite3"))).unwrap();
    r.set_person(person).unwrap();
    send_all(from, &mut r);
    assert!(
        r.workspace().is_ok(),
        "joining binds the replica to the workspace"
    );
    r
}

/// Sends every document `from` holds into `to`.
pub fn send_all(from: &mut Replica, to: &mut Replica) {
    for id in from.doc_ids().unwrap() {
        let bytes = from.doc_bytes(&id).unwrap();
        to.merge_doc(&id, &bytes).unwrap();
    }
}

/// Both ways.
pub fn exchange(a: &mut Replica, b: &mut Replica) {
    send_all(a, b);
    send_all(b, a);
}

/// A valid place near Sagamigaoka, Zama.
pub fn cafe(name: &str) -> Place {
    let mut p = Place::new(name, "cafe", 35.4889, 139.4075);
    p.hours = "Mo-Fr 10:00-16:00; PH off".into();
    p.targets = vec!["elderly".into()];
    p
}

/// Every document's heads, for comparing replicas.
pub fn all_heads(r: &mut Replica) -> Vec<(DocId, Vec<automerge::ChangeHash>)> {
    let mut ids = r.doc_ids().unwrap();
    ids.sort();
    ids.into_iter()
        .map(|id| {
            let mut heads = r.doc_heads(&id).unwrap();
            heads.sort();
            (id, heads)
        })
        .collect()
}

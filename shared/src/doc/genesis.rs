//! The first change of every document, identical on every device.
//!
//! Root maps (`places`, `teams`, …) must never be created by two devices concurrently: Automerge
//! would keep both as a conflict and show only one, hiding every record inside the other. So every
//! document begins with a genesis change made with a fixed actor at time 0 that creates its root
//! maps. Every device produces the same bytes and therefore the same change hash, so the genesis
//! changes of two devices merge as one.

use super::DocId;
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ObjType, ROOT};

/// The actor of genesis changes.
pub const GENESIS_ACTOR: [u8; 16] = *b"ibasho-genesis-1";

/// The root maps a document of this id starts with.
fn root_maps(doc_id: &DocId) -> &'static [&'static str] {
    match doc_id {
        DocId::Workspace => &["teams"],
        DocId::Places(_) => &["places"],
        DocId::Orgs => &["orgs"],
        DocId::Visits { .. } => &["visits"],
        DocId::Referrals { .. } => &["referrals"],
    }
}

/// A new document holding only its genesis change, with `actor` set for later changes.
pub fn genesis(doc_id: &DocId, actor: ActorId) -> AutoCommit {
    let mut doc = AutoCommit::new().with_actor(ActorId::from(GENESIS_ACTOR.as_slice()));
    for key in root_maps(doc_id) {
        doc.put_object(ROOT, *key, ObjType::Map)
            .expect("a fresh document takes a root map");
    }
    doc.commit_with(CommitOptions::default().with_time(0));
    doc.set_actor(actor);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_is_identical_on_every_device() {
        let id = DocId::Places(3);
        let mut a = genesis(&id, ActorId::random());
        let mut b = genesis(&id, ActorId::random());
        assert_eq!(a.get_heads(), b.get_heads());
        assert_ne!(
            genesis(&DocId::Orgs, ActorId::random()).get_heads(),
            a.get_heads()
        );
        assert_eq!(a.save(), b.save());
    }
}

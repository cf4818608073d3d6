//! Taking in a whole document received from elsewhere while this device holds none of it yet.

use automerge::AutoCommit;

/// What [`load_whole`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    /// The bytes do not load on their own; the document is unchanged.
    No,
    /// Loaded, with changes of the device's own merged in.
    Merged,
    /// Loaded, and the bytes are one compressed document holding everything: they can be stored
    /// as the document's snapshot as they are, with no need to encode it again.
    AsIs,
}

/// Replaces `local`, a document of which nothing is stored yet (its genesis change at most), by the
/// received `bytes` loaded as a document, with `local`'s own changes merged in. Loading a document
/// in one piece is several times faster than applying its changes one by one, which is what
/// merging into a non-empty document does (a new device's cold sync).
///
/// When the bytes do not load on their own (changes whose dependencies are elsewhere, or not
/// Automerge at all) `local` is left unchanged; the caller then merges them the usual way, which
/// reports what is wrong.
pub fn load_whole(local: &mut AutoCommit, bytes: &[u8]) -> Loaded {
    match AutoCommit::load(bytes) {
        Ok(incoming) => adopt_whole(local, incoming, bytes),
        Err(_) => Loaded::No,
    }
}

/// The second half of [`load_whole`], for bytes already loaded as `incoming` (loading, the costly
/// half, can then run on several documents at once).
pub fn adopt_whole(local: &mut AutoCommit, mut incoming: AutoCommit, bytes: &[u8]) -> Loaded {
    let heads = incoming.get_heads();
    if incoming.merge(local).is_err() {
        return Loaded::No;
    }
    incoming.set_actor(local.get_actor().clone());
    *local = incoming;
    if is_document_chunk(bytes) && local.get_heads() == heads {
        Loaded::AsIs
    } else {
        Loaded::Merged
    }
}

/// Whether the bytes are one Automerge document chunk and nothing else (magic, checksum, type 0,
/// length, then exactly that many bytes). Loading one checks that every change in it comes back
/// under its hash; loading change chunks does not (see [`super::storable`]).
pub fn is_document_chunk(bytes: &[u8]) -> bool {
    if bytes.len() <= 9 || bytes[..4] != [0x85, 0x6f, 0x4a, 0x83] || bytes[8] != 0 {
        return false;
    }
    let mut rest = &bytes[9..];
    leb128::read::unsigned(&mut rest).is_ok_and(|len| len == rest.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::{DocId, genesis, read_record, write_fields};
    use crate::domain::{FieldMap, FieldValue, RecordKind};
    use automerge::ActorId;

    fn place_doc(name: &str) -> AutoCommit {
        let mut doc = genesis(&DocId::Places(1), ActorId::random());
        let fields = FieldMap::from([("name".to_string(), FieldValue::Str(name.into()))]);
        write_fields(&mut doc, RecordKind::Place, "p1", &fields).unwrap();
        doc.commit();
        doc
    }

    #[test]
    fn a_whole_document_replaces_a_bare_genesis_and_keeps_the_actor() {
        let mut remote = place_doc("喫茶ひだまり");
        let mut local = genesis(&DocId::Places(1), ActorId::random());
        let actor = local.get_actor().clone();
        assert_eq!(load_whole(&mut local, &remote.save()), Loaded::AsIs);
        assert_eq!(local.get_heads(), remote.get_heads());
        assert_eq!(local.get_actor(), &actor);
        let name = read_record(&local, RecordKind::Place, "p1").unwrap()["name"].clone();
        assert_eq!(name, FieldValue::Str("喫茶ひだまり".into()));
    }

    #[test]
    fn bytes_that_do_not_load_alone_leave_the_document_as_it_was() {
        let mut remote = place_doc("a");
        let base = remote.get_heads();
        let fields = FieldMap::from([("name".to_string(), FieldValue::Str("b".into()))]);
        write_fields(&mut remote, RecordKind::Place, "p1", &fields).unwrap();
        remote.commit();
        // Only the last change: its dependency is not in the bytes.
        let tail = remote.save_after(&base);
        let mut local = genesis(&DocId::Places(1), ActorId::random());
        let heads = local.get_heads();
        assert_eq!(load_whole(&mut local, &tail), Loaded::No);
        assert_eq!(load_whole(&mut local, b"not automerge"), Loaded::No);
        assert_eq!(local.get_heads(), heads);
    }

    #[test]
    fn changes_of_the_device_own_make_the_bytes_no_longer_the_whole_document() {
        let mut remote = place_doc("a");
        let mut local = place_doc("b");
        assert_eq!(load_whole(&mut local, &remote.save()), Loaded::Merged);
        assert_ne!(local.get_heads(), remote.get_heads());
        // Change chunks load too, but are not a document to store as it is.
        let mut fresh = genesis(&DocId::Places(1), ActorId::random());
        let changes = remote.save_after(&[]);
        assert_eq!(load_whole(&mut fresh, &changes), Loaded::Merged);
        assert_eq!(fresh.get_heads(), remote.get_heads());
    }
}

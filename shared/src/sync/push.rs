//! Building a push: Automerge's `generate_sync_message`, without encoding a just-accepted change
//! again. Automerge rebuilds every change it sends from its operations; a server pushing a
//! device's change to the other devices already holds it as the device sent it.

use automerge::sync::{
    BloomFilter, Capability, ChunkList, Have, Message, MessageFlags, MessageVersion, State, SyncDoc,
};
use automerge::{AutoCommit, ChangeHash};

/// The one change a document last accepted, as its sender encoded it, with the document's heads
/// before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    before: Vec<ChangeHash>,
    after: Vec<ChangeHash>,
    hash: ChangeHash,
    bytes: Vec<u8>,
}

/// The first bytes of every Automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// The chunk type of an uncompressed change.
const CHANGE_CHUNK: u8 = 1;

impl Accepted {
    /// The change a message added to `doc` (which has taken it in; `before`: its heads before),
    /// when the message's changes (`chunks`, as sent) were exactly one uncompressed change and
    /// the document had more than its first change before. `None` otherwise: pushes are then
    /// built by Automerge alone.
    pub fn new(doc: &mut AutoCommit, before: Vec<ChangeHash>, chunks: Vec<u8>) -> Option<Accepted> {
        if before.is_empty() {
            return None;
        }
        let after = doc.get_heads();
        let mut added = after.iter().filter(|h| !before.contains(h));
        let hash = *added.next()?;
        if added.next().is_some() || !is_one_change(&chunks, &hash) {
            return None;
        }
        // Automerge sends a whole document instead of a change when the change is more than a
        // third of it: a document that held only its first change.
        if let [only] = before.as_slice()
            && doc.get_change_meta_by_hash(only)?.deps.is_empty()
        {
            return None;
        }
        Some(Accepted {
            before,
            after,
            hash,
            bytes: chunks,
        })
    }

    /// Whether [`generate`] builds the message for `state` itself: the document is still at the
    /// heads this change left it at, and the peer's state is the one Automerge leaves after the
    /// peer acknowledged `before` (shared heads and its heads there, one summary of what it has
    /// since, nothing needed, no reset pending).
    pub fn in_step_before(&self, doc: &mut AutoCommit, state: &State) -> bool {
        !state.needs_reset
            && state.shared_heads == self.before
            && state.their_heads.as_ref() == Some(&self.before)
            && state.their_need.as_ref().is_some_and(|n| n.is_empty())
            && matches!(state.their_have.as_deref(), Some([have]) if have.last_sync == self.before)
            && doc.get_heads() == self.after
    }
}

/// Whether `bytes` are exactly one uncompressed change chunk, the change `hash` (whose first four
/// bytes are the chunk's checksum).
fn is_one_change(bytes: &[u8], hash: &ChangeHash) -> bool {
    if bytes.len() < 10 || bytes[..4] != MAGIC || bytes[4..8] != hash.0[..4] {
        return false;
    }
    if bytes[8] != CHANGE_CHUNK {
        return false;
    }
    // The length of the chunk's body follows, as unsigned LEB128.
    let mut rest = &bytes[9..];
    let Ok(length) = leb128::read::unsigned(&mut rest) else {
        return false;
    };
    rest.len() as u64 == length
}

/// Automerge's `generate_sync_message(doc, state)`: the same message, and `state` left the same.
/// When the peer was in step with the document just before `accepted` (it had acknowledged those
/// heads and needs nothing), the message is built here with the change as its sender encoded
/// it; in every other case Automerge builds it.
pub fn generate(
    doc: &mut AutoCommit,
    state: &mut State,
    accepted: Option<&Accepted>,
) -> Option<Message> {
    let Some(accepted) = accepted.filter(|a| a.in_step_before(doc, state)) else {
        return doc.sync().generate_sync_message(state);
    };
    let heads = accepted.after.clone();
    // What the peer has: everything up to `before`, and what its Bloom filter holds since.
    let their_bloom = &state.their_have.as_ref().expect("checked")[0].bloom;
    let send = !their_bloom.contains_hash(&accepted.hash)
        && !state.sent_hashes.contains(&accepted.hash)
        && !state.peer_read_only;
    let heads_unchanged = state.last_sent_heads == heads;
    let heads_equal = state.their_heads.as_ref() == Some(&heads);
    if heads_unchanged
        && state.have_responded
        && (((heads_equal || state.read_only) && !send) || state.in_flight)
    {
        return None;
    }
    let v2 = state
        .their_capabilities
        .as_ref()
        .is_some_and(|c| c.contains(&Capability::MessageV2));
    let changes = if send {
        ChunkList::from(vec![accepted.bytes.clone()])
    } else {
        ChunkList::empty()
    };
    state.have_responded = true;
    state.last_sent_heads.clone_from(&heads);
    if send {
        state.sent_hashes.insert(accepted.hash);
    }
    let mut flags = MessageFlags::new();
    flags.set(MessageFlags::SUPPORTS_SYNC_RESET);
    if state.read_only {
        flags.set(MessageFlags::READ_ONLY);
    }
    state.in_flight = true;
    Some(Message {
        heads,
        need: Vec::new(),
        // The changes since the shared heads (`before`): the accepted one.
        have: vec![Have {
            last_sync: state.shared_heads.clone(),
            bloom: BloomFilter::from_hashes([accepted.hash].iter()),
        }],
        changes,
        flags: Some(flags),
        version: if v2 {
            MessageVersion::V2
        } else {
            MessageVersion::V1
        },
    })
}

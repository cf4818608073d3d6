//! Taking in a sync message: Automerge's `receive_sync_message`, leaving document and sync state
//! exactly as it does, without its walk of the document's whole history where the walk cannot
//! matter. Both the server's gate and the device's replica take messages in through here.

use automerge::sync::{Capability, Message, MessageFlags, State, SyncDoc};
use automerge::{AutoCommit, ChangeHash};
use std::collections::BTreeSet;

/// Whether taking in `message` needs Automerge's walk of the document's history (see
/// [`receive_message`]): only when sent hashes might be dropped and the peer's heads are not the
/// document's. Messages with changes this side does not take (a read-only state) are left to
/// Automerge too.
pub fn needs_history_walk(doc: &mut AutoCommit, state: &State, message: &Message) -> bool {
    if state.read_only && !message.changes.is_empty() {
        return true;
    }
    let reset = message
        .flags
        .is_some_and(|f| f.contains(MessageFlags::SYNC_RESET));
    !(reset
        || state.sent_hashes.is_empty()
        || (message.changes.is_empty() && message.heads == doc.get_heads()))
}

/// Automerge's `receive_sync_message`, leaving the document and `state` exactly as it does, but
/// without its walk of the document's whole history when that walk cannot matter. Automerge
/// walks every ancestor of the peer's heads on every message, to drop those from the hashes
/// sent to the peer, so each message cost more as a document grew. Nothing is dropped when no
/// hash was sent (or the peer asked to start over), and everything is when the peer's heads
/// are the document's: nearly every message either side takes in.
pub fn receive_message(
    doc: &mut AutoCommit,
    state: &mut State,
    message: Message,
) -> Result<(), automerge::AutomergeError> {
    if needs_history_walk(doc, state, &message) {
        return doc.sync().receive_sync_message(state, message);
    }
    state.in_flight = false;
    let before = doc.get_heads();
    if let Some(flags) = message.flags {
        let mut capabilities = vec![Capability::MessageV2];
        if flags.contains(MessageFlags::SUPPORTS_SYNC_RESET) {
            capabilities.push(Capability::SyncReset);
        }
        state.their_capabilities = Some(capabilities);
        if flags.contains(MessageFlags::SYNC_RESET) {
            state.sent_hashes.clear();
        }
        state.peer_read_only = flags.contains(MessageFlags::READ_ONLY);
    }
    let has_changes = !message.changes.is_empty();
    let after = if has_changes {
        let joined: Vec<u8> = message.changes.iter().flatten().copied().collect();
        doc.load_incremental(&joined)?;
        let after = doc.get_heads();
        // Heads the changes added, and shared heads still among ours.
        let mut advanced: BTreeSet<ChangeHash> = after
            .iter()
            .filter(|h| !before.contains(h))
            .copied()
            .collect();
        advanced.extend(state.shared_heads.iter().filter(|h| after.contains(h)));
        state.shared_heads = advanced.into_iter().collect();
        after
    } else {
        before.clone()
    };
    // What the walk would drop: nothing (none sent) or everything (the peer has all of ours).
    state.sent_hashes.clear();
    if !has_changes && message.heads == before {
        state.last_sent_heads.clone_from(&message.heads);
    }
    let known: Vec<ChangeHash> = message
        .heads
        .iter()
        .filter(|h| after.contains(h) || doc.get_change_meta_by_hash(h).is_some())
        .copied()
        .collect();
    if known.len() == message.heads.len() {
        state.shared_heads.clone_from(&message.heads);
        if message.heads.is_empty() {
            state.last_sent_heads = Vec::new();
            state.sent_hashes = Default::default();
        }
    } else {
        let shared: BTreeSet<ChangeHash> =
            state.shared_heads.iter().chain(&known).copied().collect();
        state.shared_heads = shared.into_iter().collect();
    }
    state.their_have = Some(message.have);
    state.their_heads = Some(message.heads);
    state.their_need = Some(message.need);
    Ok(())
}

/// Most probes a Bloom filter from a peer may ask for (Automerge uses 7).
const MAX_BLOOM_PROBES: u64 = 64;

/// Most hashes a message may name in each of its lists (heads, changes needed, and the last sync
/// of each Bloom filter). A document's heads are as many as the changes made concurrently at its
/// tip, a handful; a list far longer only costs the receiver work.
pub const MAX_HASHES: usize = 1024;

/// Whether a peer's message is one Automerge could have built, checked before Automerge sees it:
/// its lists of hashes sorted without repeats (Automerge asserts it, and would otherwise keep the
/// disorder in the sync state, whose saving then fails on every later sync), none of them too long,
/// and its Bloom filters usable ([`sound_bloom_filters`]).
pub fn sound_message(message: &Message) -> Result<(), String> {
    let lists = [("heads", &message.heads), ("need", &message.need)]
        .into_iter()
        .chain(message.have.iter().map(|h| ("have", &h.last_sync)));
    for (name, hashes) in lists {
        if hashes.len() > MAX_HASHES {
            return Err(format!(
                "{} hashes in `{name}` (at most {MAX_HASHES})",
                hashes.len()
            ));
        }
        if !hashes.windows(2).all(|w| w[0] < w[1]) {
            return Err(format!("the hashes in `{name}` are not sorted"));
        }
    }
    if message.have.len() > MAX_HASHES {
        return Err(format!(
            "{} Bloom filters (at most {MAX_HASHES})",
            message.have.len()
        ));
    }
    sound_bloom_filters(message)
}

/// Whether the Bloom filters a peer sent (what it has, `Message::have`) can be used: Automerge
/// checks each of our changes against them when it next builds a message for the peer, and
/// divides by the number of bits (zero when the filter says it has entries but no bits per entry)
/// and sets aside memory for every probe it asks for (up to four billion).
pub fn sound_bloom_filters(message: &Message) -> Result<(), String> {
    for have in &message.have {
        let bytes = have.bloom.to_bytes();
        let mut rest = bytes.as_slice();
        let mut read = || leb128::read::unsigned(&mut rest).ok();
        let (Some(entries), Some(bits_per_entry), Some(probes)) = (read(), read(), read()) else {
            continue; // An empty filter: nothing to check against.
        };
        if entries > 0 && (bits_per_entry == 0 || rest.is_empty()) {
            return Err("a Bloom filter with entries but no bits".into());
        }
        if probes > MAX_BLOOM_PROBES {
            return Err(format!(
                "a Bloom filter asking for {probes} probes (at most {MAX_BLOOM_PROBES})"
            ));
        }
    }
    Ok(())
}

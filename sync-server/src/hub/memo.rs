//! Sync work done once per document state and reused for every device in that state.

use super::*;

/// Automerge's `generate_sync_message` is a function of the document and the peer's sync state
/// alone, and taking in an acknowledgement (a message without changes) one of the document, the
/// state and the message. Devices in step with the server have equal states and acknowledge a
/// push with equal messages, so a new change is encoded into a push once for all of them, and
/// their acknowledgements are worked out once.
#[derive(Default)]
pub(super) struct SyncMemo {
    /// The heads the entries are valid at.
    pub(super) heads: Vec<ChangeHash>,
    /// Pushes, by the state they were built from: the state after, and the encoded message.
    pub(super) pushes: HashMap<State, (State, Option<Vec<u8>>)>,
    /// Acknowledgements, by the hash of the state and the message: those two, and the state after.
    pub(super) acks: HashMap<u64, (State, Vec<u8>, State)>,
}

impl SyncMemo {
    /// Empties the memo when the document moved on.
    pub(super) fn at(&mut self, heads: Vec<ChangeHash>) -> &mut Self {
        if self.heads != heads {
            self.heads = heads;
            self.pushes.clear();
            self.acks.clear();
        }
        self
    }
}

/// Most entries a document's memo keeps of each kind, and the largest message it keeps.
pub(super) const MEMO_ENTRIES: usize = 64;
pub(super) const MEMO_BYTES: usize = 64 * 1024;

/// The memo's key for an acknowledgement: a hash of the state and the message (entries keep both
/// and are compared in full on a hit).
pub(super) fn ack_key(hasher: &foldhash::fast::RandomState, state: &State, message: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    hasher.hash_one((state, message))
}

impl DocSlot {
    /// Takes in a device's message through the gate ([`accept::receive`]); an acknowledgement
    /// already worked out at these heads for an equal state is not worked out again.
    pub(super) fn receive(
        &mut self,
        doc_id: &DocId,
        state: &mut State,
        message: &[u8],
        access: Access,
        sender: &ibasho_shared::sync::Sender,
    ) -> Result<accept::Outcome, ibasho_shared::sync::Rejection> {
        let heads = self.doc.get_heads();
        // Everything before this message is stored: its chunks alone are what will be unsaved.
        let all_stored = self.saved_heads == heads;
        let key = ack_key(self.memo.acks.hasher(), state, message);
        if let Some((before, bytes, after)) = self.memo.at(heads.clone()).acks.get(&key)
            && before == state
            && bytes == message
        {
            *state = after.clone();
            return Ok(accept::Outcome {
                changed: false,
                dropped: None,
                need: Vec::new(),
                chunks: None,
                created: Vec::new(),
            });
        }
        let before = state.clone();
        self.unsaved_chunks = None;
        let mut outcome = accept::receive(&mut self.doc, doc_id, state, message, access, sender)?;
        if let Some(chunks) = &outcome.chunks {
            self.accepted = push::Accepted::new(&mut self.doc, heads, chunks.clone());
        }
        self.unsaved_chunks = outcome.chunks.take().filter(|_| all_stored);
        if !outcome.changed
            && outcome.dropped.is_none()
            && outcome.need.is_empty()
            && self.memo.acks.len() < MEMO_ENTRIES
            && message.len() <= MEMO_BYTES
        {
            self.memo
                .acks
                .insert(key, (before, message.to_vec(), state.clone()));
        }
        Ok(outcome)
    }

    /// The encoded message for a peer in `state` (updated as Automerge would), built once per
    /// distinct state at the current heads.
    pub(super) fn push_message(&mut self, state: &mut State) -> Option<Vec<u8>> {
        let heads = self.doc.get_heads();
        if let Some((after, message)) = self.memo.at(heads).pushes.get(state) {
            *state = after.clone();
            return message.clone();
        }
        let before = state.clone();
        let message =
            push::generate(&mut self.doc, state, self.accepted.as_ref()).map(|m| m.encode());
        if self.memo.pushes.len() < MEMO_ENTRIES
            && message.as_ref().is_none_or(|m| m.len() <= MEMO_BYTES)
        {
            self.memo
                .pushes
                .insert(before, (state.clone(), message.clone()));
        }
        message
    }
}

//! The frames of the sync protocol: binary websocket messages, encoded with postcard.

use serde::{Deserialize, Serialize};

/// Version of the frame format; both ends refuse another.
pub const PROTOCOL_VERSION: u32 = 4;

/// One document's Automerge sync message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocMessage {
    /// Document id (`places/03`, `visits/{team}/{yyyy-mm}`, …).
    pub doc: String,
    /// An encoded `automerge::sync::Message`.
    #[serde(with = "serde_bytes")]
    pub message: Vec<u8>,
}

/// A document the device may read, with the server's current heads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Document id.
    pub doc: String,
    /// The server's heads (32-byte change hashes).
    pub heads: Vec<[u8; 32]>,
    /// Whether the device may change it.
    pub writable: bool,
    /// Its epoch: how many times the server rewrote it to erase values (see
    /// [`crate::doc::epoch`]). A device holding an earlier epoch replaces its copy.
    pub epoch: u32,
}

/// Why the server refused something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The frame could not be decoded.
    BadFrame,
    /// Frame over the size bound, or too many documents in it.
    TooLarge,
    /// Too many frames per second.
    RateLimited,
    /// Not a document id, or not one of this workspace.
    UnknownDoc,
    /// The role may not read this document.
    Forbidden,
    /// The role may only read this document; its changes were not merged.
    ReadOnly,
    /// The changes failed validation; nothing of them was stored.
    Invalid,
    /// The device was revoked.
    Revoked,
    /// The invite is unknown, used or expired.
    BadInvite,
    /// Something failed on the server.
    Internal,
    /// The changes are built on an epoch of the document that an erasure closed: nothing of them
    /// was taken; the device takes the new epoch and sends its edits again.
    ClosedEpoch,
    /// A document the device holds started a new epoch: the server ends the connection, and the
    /// device connects again to take it.
    NewEpoch,
    /// The role may not do this (erase, as anyone but a coordinator).
    NotAllowed,
    /// Visits of a month the workspace no longer keeps (past its retention).
    PastRetention,
}

/// A frame, either way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Frame {
    /// Client → server on `/join`: exchange an invite for a device token.
    Join {
        /// Protocol version.
        version: u32,
        /// The invite token.
        invite: String,
        /// The person's display name.
        person: String,
        /// The replica's Automerge actor id (16 bytes): bound to the new device, the only actor
        /// whose new changes the server takes from it.
        #[serde(with = "serde_bytes")]
        actor: Vec<u8>,
    },
    /// Server → client on `/join`: the device's credentials.
    Joined {
        /// Device id.
        device: String,
        /// Bearer token for `/sync` (shown once; the server keeps only its hash).
        token: String,
        /// Workspace id.
        workspace: String,
        /// `coordinator`, `worker` or `member`.
        role: String,
        /// The worker's team, if any.
        team: Option<String>,
    },
    /// Server → client on `/sync`, first: who the device is and what it may read.
    Welcome {
        /// Protocol version.
        version: u32,
        /// Device id.
        device: String,
        /// Workspace id.
        workspace: String,
        /// Role.
        role: String,
        /// Team.
        team: Option<String>,
        /// Every document the device may read.
        manifest: Vec<ManifestEntry>,
        /// The erasures of those documents, oldest first: what a device drops of its own edits
        /// made on an earlier epoch. Reasons and names only for coordinators.
        erasures: Vec<crate::doc::epoch::Erasure>,
        /// How many months the workspace keeps visits (`None`: for ever).
        visit_retention_months: Option<u32>,
    },
    /// Client → server on `/sync`, coordinators only: erase a record, or one field's past values,
    /// everywhere (the document holding it starts a new epoch).
    Erase {
        /// The record.
        record: String,
        /// The field whose past values go (its current value stays); `None`: the whole record.
        field: Option<String>,
        /// Why (kept in the erase log; never the erased value).
        reason: String,
    },
    /// Server → client: the erasure done.
    Erased {
        /// What was erased, as logged.
        erasure: crate::doc::epoch::Erasure,
    },
    /// Sync messages of several documents. A client's `Sync` is always answered by exactly one
    /// `SyncReply` (possibly empty); the server's unsolicited pushes of new changes are `Sync`
    /// (answered by the device with [`Frame::Answer`]).
    Sync {
        /// The messages.
        docs: Vec<DocMessage>,
    },
    /// The server's answer to a client's `Sync`.
    SyncReply {
        /// The messages.
        docs: Vec<DocMessage>,
    },
    /// A refusal. With a document when it concerns one; the connection stays open unless the code
    /// is `BadFrame`, `TooLarge`, `RateLimited` or `Revoked`.
    Error {
        /// What kind.
        code: ErrorCode,
        /// The document concerned.
        doc: Option<String>,
        /// Words for people (English).
        message: String,
        /// The record whose change was refused, when one was.
        record: Option<String>,
        /// Its field, when the refusal names one.
        field: Option<String>,
    },
    /// A device's answer to the server's `Sync` (a push, or the server's own answer): taken in
    /// like `Sync`, but the server replies only when it has something to say, and then with a
    /// `Sync`. Acknowledging a push costs one frame, not two.
    Answer {
        /// The messages.
        docs: Vec<DocMessage>,
    },
}

/// Why bytes are not a frame.
#[derive(Debug, thiserror::Error)]
#[error("not an ibasho frame: {0}")]
pub struct FrameError(#[from] postcard::Error);

impl Frame {
    /// The frame a device sends its sync messages in: an [`Frame::Answer`] when they answer the
    /// server (no empty reply wanted), a [`Frame::Sync`] otherwise (always replied to).
    pub fn from_device(docs: Vec<DocMessage>, answer: bool) -> Frame {
        if answer {
            Frame::Answer { docs }
        } else {
            Frame::Sync { docs }
        }
    }

    /// Encodes to bytes.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("frames always encode")
    }

    /// Decodes from bytes.
    pub fn decode(bytes: &[u8]) -> Result<Frame, FrameError> {
        Ok(postcard::from_bytes(bytes)?)
    }

    /// Shorthand for an error frame.
    pub fn error(code: ErrorCode, doc: Option<&str>, message: impl Into<String>) -> Frame {
        Frame::Error {
            code,
            doc: doc.map(String::from),
            message: message.into(),
            record: None,
            field: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_garbage_is_refused() {
        let frame = Frame::Sync {
            docs: vec![DocMessage {
                doc: "places/00".into(),
                message: vec![0x42, 1, 2],
            }],
        };
        assert_eq!(Frame::decode(&frame.encode()).unwrap(), frame);
        assert!(Frame::decode(&[0xff, 0xff, 0xff]).is_err());
        assert!(Frame::decode(&frame.encode()[..5]).is_err());
    }
}

//! What can go wrong between a device and the server, typed: the sync bar, the CLI and the
//! reconnect loop match on the variant, never on words.

use super::tls::CertificateError;
use crate::text;
use ibasho_shared::Lang;
use ibasho_shared::sync::ErrorCode;

/// A failed connection or exchange with the server.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The server could not be reached at all: no network, no server at that address, or no
    /// answer in time. For a phone in the field this is the ordinary state, not a failure: what is
    /// unsent waits for the signal.
    #[error("cannot reach {target} (offline, or no server there): {cause}")]
    Unreachable {
        /// Where the device tried to connect.
        target: String,
        /// What the network said (or that nothing answered in time).
        cause: String,
    },
    /// The server's certificate does not verify; nothing else is tried.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// The server refused the connection before it opened (HTTP status and its words).
    #[error("the server refused: {status} {words}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's words.
        words: String,
    },
    /// The workspace's coordinator revoked this device.
    #[error("this device was revoked by the workspace's coordinator")]
    Revoked,
    /// This device was revoked, and the workspace's data on it is deleted.
    #[error(
        "this device was revoked by the workspace's coordinator; the workspace's data on it was deleted"
    )]
    Wiped,
    /// The connection was lost on the way; the next try connects again.
    #[error("{0}")]
    Lost(Lost),
    /// The server does not speak this app's protocol, or answered for another workspace.
    #[error("{0}")]
    Protocol(String),
}

/// How a connection was lost.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Lost {
    /// Nothing came from the server for this long.
    #[error("the server went silent for {0} s")]
    Silent(u64),
    /// A frame of this many bytes was not taken within this many seconds.
    #[error("the server did not take a frame of {bytes} bytes within {secs} s")]
    NotTaken {
        /// The frame's size.
        bytes: usize,
        /// The deadline.
        secs: u64,
    },
    /// No answer within this many seconds.
    #[error("the server did not answer within {0} s")]
    NoAnswer(u64),
    /// The server closed the connection (with its words, when it said why).
    #[error("the server closed the connection{}", .0.as_ref().map(|w| format!(": {w}")).unwrap_or_default())]
    Closed(Option<String>),
}

impl TransportError {
    /// Whether trying again cannot help until a person acts: the device was revoked or is unknown.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            TransportError::Revoked
                | TransportError::Wiped
                | TransportError::Refused {
                    status: 401 | 403,
                    ..
                }
        )
    }

    /// Whether this is being out of reach (calm, not a failure).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, TransportError::Unreachable { .. })
    }

    /// Words for the person, in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            TransportError::Certificate(c) => c.message(lang),
            TransportError::Lost(_) => text::CONNECTION_LOST.get(lang).to_string(),
            TransportError::Revoked | TransportError::Refused { status: 403, .. } => {
                text::REVOKED.get(lang).to_string()
            }
            TransportError::Wiped => text::WIPED.get(lang).to_string(),
            TransportError::Refused { status: 401, .. } => {
                text::UNKNOWN_DEVICE.get(lang).to_string()
            }
            TransportError::Unreachable { target, .. } => {
                format!("{} ({target})", text::UNREACHABLE.get(lang))
            }
            _ if lang == Lang::En => self.to_string(),
            TransportError::Refused { status, words } => {
                format!("{} ({status} {words})", text::SERVER_REFUSED.get(lang))
            }
            TransportError::Protocol(words) => {
                format!("{} ({words})", text::PROTOCOL_MISMATCH.get(lang))
            }
        }
    }
}

/// What the server refused of this device's changes, by its code, in `lang`; `doc` names the
/// document.
pub fn refusal_words(code: ErrorCode, doc: Option<&str>, lang: Lang) -> String {
    let why = match code {
        ErrorCode::Forbidden => text::REFUSED_FORBIDDEN,
        ErrorCode::ReadOnly => text::REFUSED_READ_ONLY,
        ErrorCode::TooLarge | ErrorCode::RateLimited => text::REFUSED_TOO_MUCH,
        ErrorCode::UnknownDoc => text::REFUSED_UNKNOWN,
        ErrorCode::Revoked => text::REVOKED,
        ErrorCode::Internal => text::REFUSED_SERVER_FAULT,
        ErrorCode::ClosedEpoch | ErrorCode::NewEpoch => text::REFUSED_CLOSED_EPOCH,
        ErrorCode::NotAllowed => text::REFUSED_FORBIDDEN,
        ErrorCode::PastRetention => text::REFUSED_PAST_RETENTION,
        _ => text::REFUSED_INVALID,
    };
    match doc {
        Some(doc) => format!("{}（{doc}）", why.get(lang)),
        None => why.get(lang).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_is_said_in_japanese_and_english_by_its_kind() {
        let lost = TransportError::Lost(Lost::Silent(90));
        assert!(lost.message(Lang::Ja).contains("接続が切れました"));
        assert!(lost.message(Lang::En).contains("connection"));
        assert!(TransportError::Revoked.is_fatal());
        assert!(
            TransportError::Refused {
                status: 401,
                words: "unknown device token".into()
            }
            .is_fatal()
        );
        assert!(!lost.is_fatal());
        let ja = refusal_words(ErrorCode::Forbidden, Some("orgs"), Lang::Ja);
        assert!(ja.contains("orgs") && !ja.contains("forbidden"), "{ja}");
        assert!(
            !TransportError::Protocol("v2".into())
                .message(Lang::Ja)
                .is_empty()
        );
    }
}

//! Why the hub refused a document of a frame: one enum, turned into the error frame the device
//! receives and into the refusal counter in one place ([`DocRefusal::frame`]).

use ibasho_shared::sync::{ErrorCode, Frame, Rejection};

/// A document of a `Sync` frame the hub did not take (or took only in part: a read-only
/// document's changes).
#[derive(Debug, Clone, PartialEq)]
pub enum DocRefusal {
    /// The name is no document id.
    NotADocument {
        /// The name as sent.
        doc: String,
    },
    /// Changes to visits of a team the workspace does not have.
    NoSuchTeam {
        /// The document.
        doc: String,
    },
    /// The device may not read the document.
    NotReadable {
        /// The document.
        doc: String,
    },
    /// The stored document does not load whole: it is served to no one rather than in part.
    Damaged {
        /// The document.
        doc: String,
    },
    /// A record new to the document under an id another document already holds.
    IdTaken {
        /// The document.
        doc: String,
        /// The record's id.
        id: String,
        /// The document that holds it.
        home: String,
    },
    /// Accepted changes could not be stored; nothing of them was kept.
    NotStored {
        /// The document.
        doc: String,
    },
    /// Visits of a month older than the workspace keeps visits.
    PastRetention {
        /// The document.
        doc: String,
        /// How many months the workspace keeps visits.
        months: u32,
    },
    /// The gate refused the message (its form, or what its changes do; see
    /// [`ibasho_shared::sync::Fault`]).
    Gate {
        /// The document.
        doc: String,
        /// The gate's refusal.
        rejection: Rejection,
    },
}

impl DocRefusal {
    /// The error frame the device receives.
    pub fn frame(&self) -> Frame {
        let (code, doc, message) = match self {
            DocRefusal::NotADocument { doc } => (
                ErrorCode::UnknownDoc,
                doc,
                format!("{doc:?} is not a document id"),
            ),
            DocRefusal::NoSuchTeam { doc } => (
                ErrorCode::UnknownDoc,
                doc,
                format!("{doc}: no such team in this workspace"),
            ),
            DocRefusal::NotReadable { doc } => (
                ErrorCode::Forbidden,
                doc,
                format!("{doc}: not readable by this device"),
            ),
            DocRefusal::Damaged { doc } => (
                ErrorCode::Internal,
                doc,
                format!(
                    "{doc}: damaged on the server, so it is not served in part; the server's administrator restores the store from a backup"
                ),
            ),
            DocRefusal::IdTaken { doc, id, home } => (
                ErrorCode::Invalid,
                doc,
                format!(
                    "{doc}: record {id}: this id already names a record in {home}; a new record needs a new id"
                ),
            ),
            DocRefusal::NotStored { doc } => (
                ErrorCode::Internal,
                doc,
                "the server could not store these changes".to_string(),
            ),
            DocRefusal::PastRetention { doc, months } => (
                ErrorCode::PastRetention,
                doc,
                format!(
                    "{doc}: this workspace keeps visits {months} months; older ones are not taken"
                ),
            ),
            DocRefusal::Gate { doc, rejection } => (rejection.code, doc, rejection.message.clone()),
        };
        let (record, field) = match self {
            DocRefusal::IdTaken { id, .. } => (Some(id.clone()), None),
            DocRefusal::Gate { rejection, .. } => rejection
                .fault
                .as_ref()
                .map_or((None, None), |fault| fault.names()),
            _ => (None, None),
        };
        Frame::Error {
            code,
            doc: Some(doc.clone()),
            message,
            record,
            field,
        }
    }

    /// Whether it counts as a refusal of what a device sent (`ibasho_rejects_total`), rather than
    /// the server failing (a damaged store, a failed write).
    pub fn counts_as_reject(&self) -> bool {
        !matches!(
            self,
            DocRefusal::Damaged { .. } | DocRefusal::NotStored { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_names_its_document_and_its_kind() {
        let frame = DocRefusal::IdTaken {
            doc: "visits/t1/2026-11".into(),
            id: "0190".into(),
            home: "places/03".into(),
        }
        .frame();
        let Frame::Error {
            code, doc, message, ..
        } = frame
        else {
            panic!("an error frame");
        };
        assert_eq!(code, ErrorCode::Invalid);
        assert_eq!(doc.as_deref(), Some("visits/t1/2026-11"));
        assert!(message.contains("places/03"), "{message}");
        assert!(!DocRefusal::NotStored { doc: "orgs".into() }.counts_as_reject());
        assert!(
            DocRefusal::NoSuchTeam {
                doc: "visits/x/2026-01".into()
            }
            .counts_as_reject()
        );
    }
}

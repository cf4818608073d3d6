//! What is wrong with changes the gate's checks refuse, in words for people (Japanese and
//! English). The server sends the English words to the device; a device refusing a file shows them
//! in its user's language.

use super::accept::Rejection;
use super::frame::ErrorCode;
use crate::Lang;
use crate::doc::storable::Damaged;
use crate::doc::{DocId, short_actor};
use crate::validate::ValidationError;

/// Why changes were refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// They change the document's shape: a map, field or kind of value it may not hold. The
    /// words (English) name the record and field where there is one.
    Shape(String),
    /// A record they change breaks a rule of its kind.
    Record {
        /// The record.
        id: String,
        /// The rule, naming the field.
        error: ValidationError,
    },
    /// They are damaged: Automerge could not apply them, or could not save and load them again.
    Damaged(Damaged),
    /// A record is not in the document its id or its fields say it lives in.
    Misplaced {
        /// The record.
        id: String,
        /// Where it lives.
        home: String,
        /// The document it was written in.
        doc: String,
    },
    /// A side changed what is the other side's (a referral's receiver its reason, its sender its
    /// answer).
    NotYours {
        /// The record.
        id: String,
        /// Which rule (English).
        why: String,
    },
    /// A member changed an organization's entry that is not its own.
    NotOwner {
        /// The organization's record.
        id: String,
    },
    /// A change the server does not have is by another device's actor: a device sends only its
    /// own changes (others' it may relay once their own device sent them).
    NotOwnChange {
        /// The actor the change names.
        actor: automerge::ActorId,
    },
    /// One message holds more than the sender's role may send at once.
    TooMuch {
        /// What: `new records` or `operations`.
        what: &'static str,
        /// The bound.
        limit: usize,
    },
    /// A change is, or builds on, a change of an epoch of the document an erasure closed.
    ClosedEpoch,
    /// A change is dated further ahead of the server's clock than drift explains.
    FutureTime {
        /// Its time (seconds since 1970, UTC).
        at: i64,
    },
}

impl Fault {
    /// The reason in `lang`, for people.
    pub fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (Fault::Shape(words), Lang::En) => words.clone(),
            (Fault::Shape(words), Lang::Ja) => format!("文書の形に合わない変更です（{words}）"),
            (Fault::Record { id, error }, Lang::En) => {
                format!("record {id}: {}", error.message(lang))
            }
            (Fault::Record { id, error }, Lang::Ja) => {
                format!("記録 {id}: {}", error.message(lang))
            }
            (Fault::Damaged(why), _) => why.message(lang),
            (Fault::Misplaced { id, home, doc }, Lang::En) => {
                format!("record {id}: it belongs in {home}, not {doc}")
            }
            (Fault::Misplaced { id, home, doc }, Lang::Ja) => {
                format!("記録 {id}: {doc} ではなく {home} に置く記録です")
            }
            (Fault::NotYours { id, why }, Lang::En) => format!("record {id}: {why}"),
            (Fault::NotYours { id, .. }, Lang::Ja) => {
                format!("記録 {id}: 相手側が決める項目は変更できません")
            }
            (Fault::NotOwner { id }, Lang::En) => {
                format!("record {id}: a member may change only its own organization's entry")
            }
            (Fault::NotOwner { id }, Lang::Ja) => {
                format!("記録 {id}: 会員が変更できるのは自分の団体の項目だけです")
            }
            (Fault::NotOwnChange { actor }, Lang::En) => format!(
                "a change by another device ({}) that the server does not have: a device sends only its own changes",
                short_actor(actor)
            ),
            (Fault::NotOwnChange { actor }, Lang::Ja) => format!(
                "サーバーにない他の端末（{}）の変更です。端末が送れるのは自分の変更だけです",
                short_actor(actor)
            ),
            (Fault::TooMuch { what, limit }, Lang::En) => format!(
                "more {what} in one message than this role may send at once ({limit}): send them in parts"
            ),
            (Fault::TooMuch { what, limit }, Lang::Ja) => format!(
                "一度に送れる{}の上限（{limit}）を超えています。分けて送ってください",
                if *what == "operations" {
                    "操作"
                } else {
                    "新しい記録"
                }
            ),
            (Fault::ClosedEpoch, Lang::En) => "these changes are built on an epoch an erasure closed; nothing of them was taken (take the new epoch: sync again with a current app)".to_string(),
            (Fault::ClosedEpoch, Lang::Ja) => "消去で閉じられた版に基づく変更のため、受け付けていません（最新のアプリでもう一度同期してください）".to_string(),
            (Fault::FutureTime { at }, Lang::En) => format!(
                "a change is dated {} (Japan time), ahead of the server's clock: check this device's date and time",
                shown(*at)
            ),
            (Fault::FutureTime { at }, Lang::Ja) => format!(
                "変更の日時 {} がサーバーの時計より先です。端末の日付と時刻を確かめてください",
                shown(*at)
            ),
        }
    }

    /// The record (and field) a device's refused change concerns, when the fault names one.
    pub fn names(&self) -> (Option<String>, Option<String>) {
        match self {
            Fault::Record { id, error } => (Some(id.clone()), Some(error.field.clone())),
            Fault::NotOwner { id } | Fault::Misplaced { id, .. } | Fault::NotYours { id, .. } => {
                (Some(id.clone()), None)
            }
            _ => (None, None),
        }
    }

    /// The refusal the server sends for changes to `doc_id` with this fault.
    pub fn rejection(&self, doc_id: &DocId) -> Rejection {
        let code = match self {
            Fault::NotOwner { .. } | Fault::NotOwnChange { .. } | Fault::NotYours { .. } => {
                ErrorCode::Forbidden
            }
            Fault::TooMuch { .. } => ErrorCode::TooLarge,
            Fault::ClosedEpoch => ErrorCode::ClosedEpoch,
            _ => ErrorCode::Invalid,
        };
        Rejection {
            code,
            message: format!("{doc_id}: {}", self.message(Lang::En)),
            fault: Some(Box::new(self.clone())),
        }
    }
}

/// A change's time (seconds since 1970) as people read it (see [`crate::hours::shown_jst`]).
fn shown(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0).map_or_else(
        || at.to_string(),
        |t| crate::hours::shown_jst(&t.to_rfc3339()),
    )
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message(Lang::En))
    }
}

impl From<Damaged> for Fault {
    fn from(why: Damaged) -> Self {
        Fault::Damaged(why)
    }
}

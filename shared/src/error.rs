//! The engine's error type.

use crate::i18n::Lang;
use crate::validate::ValidationError;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input refused; nothing was changed.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// No record with that id.
    #[error("{kind} not found: {id}")]
    NotFound {
        /// Record kind.
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The replica has no workspace yet.
    #[error("no workspace here yet: run `ibasho init --name NAME` or `ibasho demo`")]
    NoWorkspace,
    /// `init` on a replica that already has one.
    #[error("this replica already holds workspace {0:?}")]
    WorkspaceExists(String),
    /// A conflict choice that does not exist.
    #[error("{record} {field}: no conflict value number {choice} (there are {count})")]
    NoSuchChoice {
        /// Record id.
        record: String,
        /// Field.
        field: String,
        /// Choice asked for (1-based).
        choice: usize,
        /// Values available.
        count: usize,
    },
    /// `join` on a replica already bound to a server.
    #[error("this replica already syncs with {0}")]
    AlreadyJoined(String),
    /// A message from the server that does not follow the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// Import refused; nothing was imported.
    #[error("{0}")]
    Import(crate::exchange::ImportReport),
    /// A document id that is not one.
    #[error(transparent)]
    BadDocId(#[from] crate::doc::BadDocId),
    /// A record kind that is not one (a damaged index).
    #[error(transparent)]
    UnknownKind(#[from] crate::domain::UnknownKind),
    /// Publishing would reveal a hidden count (a table the suppression could not protect).
    #[error("publishing {0}: a hidden count could be worked out; nothing was published")]
    Disclosure(String),
    /// SQLite failed.
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// Stored document bytes could not be read.
    #[error("stored document: {0}")]
    Load(Box<crate::store::doc_store::LoadError>),
    /// Automerge refused an operation or bytes.
    #[error("document: {0}")]
    Automerge(Box<automerge::AutomergeError>),
    /// Changes from elsewhere refused as damaged; nothing of them was taken in.
    #[error("{doc}: {why}; nothing was taken in")]
    Damaged {
        /// The document.
        doc: String,
        /// Why.
        why: crate::doc::storable::Damaged,
    },
    /// Changes from elsewhere refused because the server would refuse them (they break the shape
    /// or the rules of the records they change); nothing of them was taken in.
    #[error("{doc}: {fault}; nothing was taken in (the server would refuse it)")]
    Refused {
        /// The document.
        doc: String,
        /// Why.
        fault: Box<crate::sync::Fault>,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A CSV file could not be read or written.
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
    /// This device's role may not make the edit: the server would refuse it, so it is refused
    /// here at once and nothing changes.
    #[error("{}", .0.message(Lang::En))]
    NotPermitted(Permission),
}

/// What a device's role may not do (see [`Error::NotPermitted`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permission {
    /// Members never log visits (nor receive any).
    MembersLogNoVisits,
    /// A worker logs visits only for its own team.
    AnotherTeamsVisits {
        /// The team the visit was for.
        team: String,
    },
    /// A member changes only its own organization's directory entry.
    NotYourEntry {
        /// The entry.
        id: String,
    },
    /// The other side of a referral decides this (the receiver its answer, the sender what it
    /// says).
    OtherSide {
        /// The record.
        id: String,
        /// Which rule (English).
        why: String,
    },
    /// The document may only be read by this role.
    ReadOnly {
        /// The document.
        doc: String,
    },
}

impl Permission {
    /// Words for people in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (Permission::MembersLogNoVisits, Lang::Ja) => {
                "メンバーは訪問を記録できません（訪問記録はチームの役割です）".into()
            }
            (Permission::MembersLogNoVisits, Lang::En) => {
                "members cannot log visits (visits belong to teams)".into()
            }
            (Permission::AnotherTeamsVisits { team }, Lang::Ja) => {
                format!(
                    "ほかのチーム（{team}）の訪問は記録・変更できません。自分のチームで記録してください"
                )
            }
            (Permission::AnotherTeamsVisits { team }, Lang::En) => format!(
                "visits of another team ({team}) cannot be logged or changed here; log it under your own team"
            ),
            (Permission::OtherSide { .. }, Lang::Ja) => {
                "つなぐ記録のこの変更は相手側が行います（送る側は内容と取り下げ、受ける側は受付から結果まで）"
                    .into()
            }
            (Permission::OtherSide { why, .. }, Lang::En) => why.clone(),
            (Permission::NotYourEntry { id }, Lang::Ja) => {
                format!("{id}: メンバーが変更できるのは自分の団体の項目だけです")
            }
            (Permission::NotYourEntry { id }, Lang::En) => {
                format!("{id}: a member may change only its own organization's entry")
            }
            (Permission::ReadOnly { doc }, Lang::Ja) => {
                format!("{doc}: この役割では閲覧のみで、変更できません")
            }
            (Permission::ReadOnly { doc }, Lang::En) => {
                format!("{doc}: this role may only read it, not change it")
            }
        }
    }
}

impl Error {
    /// The message in `lang`, for people.
    pub fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (Error::Invalid(e), _) => e.message(lang),
            (Error::NotFound { kind, id }, Lang::Ja) => format!("見つかりません（{kind}）: {id}"),
            (Error::NoWorkspace, Lang::Ja) => {
                "ワークスペースがまだありません。`ibasho init --name 名前` か `ibasho demo` を実行してください".into()
            }
            (Error::WorkspaceExists(name), Lang::Ja) => format!("この端末にはすでにワークスペース「{name}」があります"),
            (Error::NoSuchChoice { record, field, choice, count }, Lang::Ja) => {
                format!("{record} の {field}: {choice} 番の値はありません（{count} 件）")
            }
            (Error::Import(report), _) => report.message(lang),
            (Error::Damaged { doc, why }, Lang::Ja) => {
                format!("{doc}: {}。何も取り込んでいません", why.message(lang))
            }
            (Error::Refused { doc, fault }, Lang::Ja) => {
                format!("{doc}: {}。サーバーが受け付けない変更のため、何も取り込んでいません", fault.message(lang))
            }
            (Error::Automerge(e), Lang::Ja) => format!("文書を扱えません: {e}"),
            (Error::BadDocId(e), Lang::Ja) => format!("文書の名前ではありません: {:?}", e.0),
            (Error::UnknownKind(e), Lang::Ja) => format!("記録の種類ではありません: {:?}", e.0),
            (Error::AlreadyJoined(url), Lang::Ja) => format!("この端末はすでに {url} と同期しています"),
            (Error::NotPermitted(why), _) => why.message(lang),
            (Error::Disclosure(section), Lang::Ja) => {
                format!("{section} を公表すると秘匿した数が計算で分かるため、公表していません")
            }
            _ => self.to_string(),
        }
    }
}

impl From<crate::store::doc_store::LoadError> for Error {
    fn from(e: crate::store::doc_store::LoadError) -> Self {
        Error::Load(Box::new(e))
    }
}

impl From<automerge::AutomergeError> for Error {
    fn from(e: automerge::AutomergeError) -> Self {
        Error::Automerge(Box::new(e))
    }
}

/// Result with the engine's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

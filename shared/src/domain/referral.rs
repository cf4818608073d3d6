//! A referral (つなぐ) from one team to another team or to an organization, with a status both
//! sides answer: a lifecycle that maps one to one onto the HL7 FHIR SDOH referral Task.
//!
//! A summary says what the referral is about; it must not identify the person (names of the
//! people supported are never fields of any record).

use super::record::{Record, RecordKind, Writer};
use super::schema::{Field, FieldType::*, field};
use crate::doc::DocId;
use crate::sync::Role;
use crate::taxonomy::{REFERRAL_OUTCOMES, REFERRAL_REASONS, REFERRAL_STATUSES};
use crate::validate::{self as v, MAX_SHORT_CHARS, Reason, ValidationError};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// Longest summary (characters): a few lines, not a case file.
pub const MAX_SUMMARY_CHARS: usize = 500;

/// A referral record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Referral {
    /// Device-generated id.
    pub id: String,
    /// The sending team.
    pub from_team: String,
    /// The receiving team, when it is one.
    pub to_team: Option<String>,
    /// Or the receiving organization (of the directory), when it has no team.
    pub to_org: Option<String>,
    /// When it was made (Japan time).
    pub created_at: String,
    /// Who made it (display name).
    pub created_by: String,
    /// Reason id (`REFERRAL_REASONS`).
    pub reason: String,
    /// Target groups.
    pub targets: Vec<String>,
    /// How many people.
    pub people: u32,
    /// The visit it came from, if any.
    pub visit: Option<String>,
    /// When an answer is due (`YYYY-MM-DD`).
    pub due: Option<String>,
    /// A short summary that does not identify the person.
    pub summary: String,
    /// Status id (`REFERRAL_STATUSES`).
    pub status: String,
    /// Why it was declined, withdrawn or did not connect (`REFERRAL_OUTCOMES`).
    pub status_reason: String,
    /// A note to the step.
    pub status_note: String,
    /// Who took the last step (display name).
    pub status_by: String,
    /// When (Japan time).
    pub status_at: String,
    /// Whether it escalates a case to the workspace's case conference (支援会議).
    pub escalated: bool,
    /// Tombstone.
    pub deleted_at: Option<String>,
}

/// Steps that need a reason.
const NEED_A_REASON: [&str; 3] = ["declined", "withdrawn", "not_connected"];
/// Steps the sender takes; the receiver takes every other one.
const SENDER_STEPS: [&str; 2] = ["sent", "withdrawn"];
/// The receiver's closing steps, over which the sender may still take `withdrawn` when the two
/// were taken offline at once (settling 要確認).
const RECEIVER_CLOSING: [&str; 3] = ["connected", "not_connected", "declined"];
/// Fields the receiver may change: the status and what goes with it.
const STATUS_FIELDS: [&str; 5] = [
    "status",
    "status_reason",
    "status_note",
    "status_by",
    "status_at",
];

/// What a referral whose concurrent steps do not fit together shows (要確認).
pub const NEEDS_REVIEW: crate::i18n::Text = crate::i18n::t("要確認", "needs reconciliation");

/// Steps by their labels in `lang`, joined with ` / ` (an unknown id as it is).
pub fn steps_text(steps: &[String], lang: crate::i18n::Lang) -> String {
    steps
        .iter()
        .map(|s| {
            REFERRAL_STATUSES
                .iter()
                .find(|t| t.id == s.as_str())
                .map_or(s.as_str(), |t| t.label(lang))
        })
        .collect::<Vec<_>>()
        .join(" / ")
}

/// Whether the lifecycle goes from `from` to `to` (in one or more steps, or none).
pub fn follows(from: &str, to: &str) -> bool {
    let next: &[&str] = match from {
        "sent" => &["accepted", "declined", "withdrawn"],
        "accepted" => &["in_progress", "connected", "not_connected", "withdrawn"],
        "in_progress" => &["connected", "not_connected", "withdrawn"],
        _ => &[],
    };
    from == to || next.iter().any(|n| follows(n, to))
}

/// The status concurrent steps come to, when the lifecycle allows them together (one follows the
/// other: the later one); `None` when it does not (a withdrawal and a connection made while both
/// sides were offline): the referral needs reconciliation (要確認) until one side chooses.
pub fn reconcile<'a>(steps: &[&'a str]) -> Option<&'a str> {
    let mut latest = *steps.first()?;
    for step in &steps[1..] {
        if follows(latest, step) {
            latest = step;
        } else if !follows(step, latest) {
            return None;
        }
    }
    Some(latest)
}

/// The FHIR Task status of a step (SDOH closed-loop referral).
pub fn fhir_status(status: &str) -> &'static str {
    match status {
        "sent" => "requested",
        "accepted" => "accepted",
        "declined" => "rejected",
        "withdrawn" => "cancelled",
        "in_progress" => "in-progress",
        "connected" => "completed",
        "not_connected" => "failed",
        _ => "draft",
    }
}

impl Referral {
    /// A new referral from `from_team`, sent now.
    pub fn new(from_team: &str, reason: &str, at: NaiveDateTime) -> Referral {
        let at = at.format("%Y-%m-%dT%H:%M:%S").to_string();
        Referral {
            id: super::new_id(),
            from_team: from_team.to_string(),
            created_at: at.clone(),
            reason: reason.to_string(),
            people: 1,
            status: "sent".into(),
            status_at: at,
            ..Referral::default()
        }
    }

    /// Normalises labels to ids and validates.
    pub fn normalized(mut self, now: NaiveDateTime) -> Result<Referral, ValidationError> {
        self.reason = v::term("reason", REFERRAL_REASONS, &self.reason)?.to_string();
        self.status = v::term("status", REFERRAL_STATUSES, &self.status)?.to_string();
        if !self.status_reason.trim().is_empty() {
            self.status_reason =
                v::term("status_reason", REFERRAL_OUTCOMES, &self.status_reason)?.to_string();
        }
        self.targets = v::targets(&self.targets)?;
        self.validate(now)?;
        Ok(self)
    }

    /// Whether it waits for the receiver's answer.
    pub fn waiting(&self) -> bool {
        self.status == "sent" && self.deleted_at.is_none()
    }
}

impl Record for Referral {
    const KIND: RecordKind = RecordKind::Referral;

    const FIELDS: &'static [Field<Referral>] = &[
        field!(
            Referral,
            from_team,
            Ref,
            true,
            App,
            "送り元チーム",
            "from team"
        ),
        field!(
            Referral,
            to_team,
            Ref,
            false,
            App,
            "つなぎ先チーム",
            "to team"
        ),
        field!(
            Referral,
            to_org,
            Ref,
            false,
            App,
            "つなぎ先団体",
            "to organization"
        ),
        field!(
            Referral,
            created_at,
            DateTime,
            true,
            App,
            "作成日時",
            "made at"
        ),
        field!(Referral, created_by, Line, false, App, "作成者", "made by"),
        field!(
            Referral,
            reason,
            Term(REFERRAL_REASONS),
            true,
            Person,
            "つなぐ理由",
            "reason"
        ),
        field!(
            Referral,
            targets,
            Targets,
            false,
            Person,
            "対象",
            "target groups"
        ),
        field!(Referral, people, Count, true, Person, "人数", "people"),
        field!(Referral, visit, Ref, false, App, "元の訪問", "from visit"),
        field!(Referral, due, Date, false, Person, "回答期日", "answer due"),
        field!(
            Referral,
            summary,
            Prose,
            false,
            Person,
            "概要（個人を特定しない）",
            "summary (not identifying anyone)"
        ),
        field!(
            Referral,
            status,
            Term(REFERRAL_STATUSES),
            true,
            Person,
            "状況",
            "status"
        ),
        field!(
            Referral,
            status_reason,
            Term(REFERRAL_OUTCOMES),
            false,
            Person,
            "状況の理由",
            "status reason"
        ),
        field!(
            Referral,
            status_note,
            Line,
            false,
            Person,
            "状況のメモ",
            "status note"
        ),
        field!(
            Referral,
            status_by,
            Line,
            false,
            App,
            "状況を更新した人",
            "status set by"
        ),
        field!(
            Referral,
            status_at,
            DateTime,
            false,
            App,
            "状況の更新日時",
            "status set at"
        ),
        field!(
            Referral,
            escalated,
            Flag,
            false,
            App,
            "支援会議へのつなぎ",
            "escalated to the case conference"
        ),
        field!(
            Referral,
            deleted_at,
            DateTime,
            false,
            App,
            "削除日時",
            "deleted at"
        ),
    ];

    fn blank(id: &str) -> Referral {
        Referral {
            id: id.to_string(),
            ..Referral::default()
        }
    }

    fn id(&self) -> &str {
        &self.id
    }

    fn validate(&self, now: NaiveDateTime) -> Result<(), ValidationError> {
        if self.from_team.trim().is_empty() {
            return Err(ValidationError::new("from_team", Reason::Required));
        }
        match (&self.to_team, &self.to_org) {
            (Some(team), None) if *team == self.from_team => {
                return Err(ValidationError::new("to_team", Reason::SameTeam));
            }
            (Some(_), None) | (None, Some(_)) => {}
            _ => return Err(ValidationError::new("to", Reason::OneOfTwo)),
        }
        v::datetime("created_at", &self.created_at, now)?;
        v::term("reason", REFERRAL_REASONS, &self.reason)?;
        v::targets(&self.targets)?;
        if self.people > v::MAX_PEOPLE {
            return Err(ValidationError::new(
                "people",
                Reason::OutOfRange {
                    min: 0.0,
                    max: v::MAX_PEOPLE as f64,
                },
            ));
        }
        if let Some(due) = &self.due {
            v::date("due", due, now.date(), 2)?;
        }
        v::optional_text("summary", &self.summary, MAX_SUMMARY_CHARS)?;
        v::term("status", REFERRAL_STATUSES, &self.status)?;
        if self.status_reason.is_empty() {
            if NEED_A_REASON.contains(&self.status.as_str()) {
                return Err(ValidationError::new("status_reason", Reason::Required));
            }
        } else {
            v::term("status_reason", REFERRAL_OUTCOMES, &self.status_reason)?;
        }
        v::optional_text("status_note", &self.status_note, MAX_SHORT_CHARS)?;
        Ok(())
    }

    fn deleted_at(&self) -> Option<&str> {
        self.deleted_at.as_deref()
    }

    /// Referrals of a pair of teams (or to organizations with no team) of one year.
    fn home(&self) -> DocId {
        DocId::Referrals {
            from: self.from_team.clone(),
            to: self.to_team.clone(),
            year: self.created_at.get(..4).unwrap_or("0000").to_string(),
        }
    }

    /// The sending team makes a referral and may change what it says, and takes the steps
    /// `sent` and `withdrawn`; the receiving team changes only the status, with the other steps.
    /// A step follows the one before in the lifecycle, except that a side may take its own
    /// closing step over the other side's (settling 要確認: a withdrawal against a connection,
    /// which offline steps leave shown either way). Coordinators may do anything.
    fn writer_may(&self, before: Option<&Referral>, writer: &Writer<'_>) -> Result<(), String> {
        if writer.role == Role::Coordinator {
            return Ok(());
        }
        let sender = writer.team == Some(self.from_team.as_str());
        let receiver = writer.team.is_some() && writer.team == self.to_team.as_deref();
        let step_changed = before.is_none_or(|b| b.status != self.status);
        let changed: Vec<&str> = match before {
            None => Self::FIELDS.iter().map(|f| f.name).collect(),
            Some(b) => Self::FIELDS
                .iter()
                .filter(|f| (f.get)(b) != (f.get)(self))
                .map(|f| f.name)
                .collect(),
        };
        if let Some(b) = before.filter(|_| step_changed && (sender || receiver)) {
            let (from, to) = (b.status.as_str(), self.status.as_str());
            let settles = (sender && to == "withdrawn" && RECEIVER_CLOSING.contains(&from))
                || (receiver && from == "withdrawn" && to != "sent");
            if !follows(from, to) && !settles {
                return Err(format!(
                    "the step {to:?} does not follow {from:?} in the referral's lifecycle"
                ));
            }
        }
        if sender {
            // A referral to an organization with no team stays with the sender, who records
            // every step.
            if self.to_team.is_none() {
                return Ok(());
            }
            // The receiver's answer (its reason, note, who and when) is the receiver's.
            if !step_changed && let Some(field) = changed.iter().find(|f| STATUS_FIELDS.contains(f))
            {
                return Err(format!(
                    "the sending team does not change the receiving team's answer ({field:?})"
                ));
            }
            if step_changed && !SENDER_STEPS.contains(&self.status.as_str()) {
                return Err(format!(
                    "the sending team does not take the step {:?}: the receiving team answers",
                    self.status
                ));
            }
            if before.is_none() && self.status != "sent" {
                return Err("a referral starts as sent".into());
            }
            return Ok(());
        }
        if receiver {
            if before.is_none() {
                return Err("only the sending team makes a referral".into());
            }
            if let Some(field) = changed.iter().find(|f| !STATUS_FIELDS.contains(f)) {
                return Err(format!(
                    "the receiving team changes only the status, not {field:?}"
                ));
            }
            if step_changed && SENDER_STEPS.contains(&self.status.as_str()) {
                return Err(format!(
                    "the receiving team does not take the step {:?}",
                    self.status
                ));
            }
            return Ok(());
        }
        Err("only the two teams of a referral (and coordinators) change it".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hours::now_jst;

    fn sent() -> Referral {
        Referral {
            to_team: Some("team-b".into()),
            ..Referral::new("team-a", "ひきこもり", now_jst())
        }
        .normalized(now_jst())
        .unwrap()
    }

    fn writer(team: &str) -> Writer<'_> {
        Writer {
            role: Role::Worker,
            team: Some(team),
        }
    }

    #[test]
    fn the_lifecycle_and_its_reconciliation() {
        assert!(follows("sent", "connected"));
        assert!(follows("accepted", "withdrawn"));
        assert!(!follows("connected", "withdrawn"));
        assert!(!follows("declined", "accepted"));
        assert_eq!(reconcile(&["accepted", "in_progress"]), Some("in_progress"));
        assert_eq!(reconcile(&["connected", "sent"]), Some("connected"));
        assert_eq!(reconcile(&["withdrawn", "connected"]), None, "要確認");
        assert_eq!(fhir_status("declined"), "rejected");
        assert_eq!(fhir_status("connected"), "completed");
    }

    #[test]
    fn rules_name_their_field() {
        let mut r = sent();
        r.status = "declined".into();
        assert_eq!(r.validate(now_jst()).unwrap_err().field, "status_reason");
        r.status_reason = "対象外".into();
        let r = r.normalized(now_jst()).unwrap();
        assert_eq!(r.status_reason, "not_eligible");
        let both = Referral {
            to_org: Some("org-1".into()),
            ..sent()
        };
        assert_eq!(both.validate(now_jst()).unwrap_err().field, "to");
        let itself = Referral {
            to_team: Some("team-a".into()),
            ..sent()
        };
        assert_eq!(itself.validate(now_jst()).unwrap_err().field, "to_team");
        let long = Referral {
            summary: "あ".repeat(MAX_SUMMARY_CHARS + 1),
            ..sent()
        };
        assert_eq!(long.validate(now_jst()).unwrap_err().field, "summary");
    }

    #[test]
    fn a_step_follows_the_lifecycle_even_when_written_directly() {
        let with = |status: &str, reason: &str| Referral {
            status: status.into(),
            status_reason: reason.into(),
            ..sent()
        };
        let declined = with("declined", "not_eligible");
        let connected = with("connected", "");
        let withdrawn = with("withdrawn", "resolved");
        // The receiver cannot turn a decline into a connection, nor go back to accepted.
        assert!(
            connected
                .writer_may(Some(&declined), &writer("team-b"))
                .is_err()
        );
        assert!(
            with("accepted", "")
                .writer_may(Some(&connected), &writer("team-b"))
                .is_err()
        );
        // The sender cannot send again what it withdrew.
        assert!(
            sent()
                .writer_may(Some(&withdrawn), &writer("team-a"))
                .is_err()
        );
        // Settling 要確認: each side may take its own closing step over the other's.
        assert!(
            withdrawn
                .writer_may(Some(&connected), &writer("team-a"))
                .is_ok()
        );
        assert!(
            connected
                .writer_may(Some(&withdrawn), &writer("team-b"))
                .is_ok()
        );
        // The sender does not rewrite the receiver's answer.
        let reworded = Referral {
            status_reason: "no_capacity".into(),
            ..declined.clone()
        };
        assert!(
            reworded
                .writer_may(Some(&declined), &writer("team-a"))
                .is_err()
        );
        assert!(
            reworded
                .writer_may(Some(&declined), &writer("team-b"))
                .is_ok()
        );
    }

    #[test]
    fn each_side_takes_its_own_steps() {
        let before = sent();
        assert!(before.writer_may(None, &writer("team-a")).is_ok());
        assert!(before.writer_may(None, &writer("team-b")).is_err());
        let accepted = Referral {
            status: "accepted".into(),
            ..before.clone()
        };
        assert!(
            accepted
                .writer_may(Some(&before), &writer("team-b"))
                .is_ok()
        );
        assert!(
            accepted
                .writer_may(Some(&before), &writer("team-a"))
                .is_err()
        );
        let reworded = Referral {
            reason: "poverty".into(),
            ..before.clone()
        };
        assert!(
            reworded
                .writer_may(Some(&before), &writer("team-b"))
                .is_err()
        );
        assert!(
            reworded
                .writer_may(Some(&before), &writer("team-a"))
                .is_ok()
        );
        let withdrawn = Referral {
            status: "withdrawn".into(),
            status_reason: "resolved".into(),
            ..before.clone()
        };
        assert!(
            withdrawn
                .writer_may(Some(&before), &writer("team-a"))
                .is_ok()
        );
        assert!(
            withdrawn
                .writer_may(Some(&before), &writer("team-b"))
                .is_err()
        );
        assert!(
            accepted
                .writer_may(Some(&before), &writer("team-c"))
                .is_err()
        );
        // To an organization with no team: the sender records every step.
        let to_org = Referral {
            to_team: None,
            to_org: Some("org-1".into()),
            ..before.clone()
        };
        let connected = Referral {
            status: "connected".into(),
            ..to_org.clone()
        };
        assert!(
            connected
                .writer_may(Some(&to_org), &writer("team-a"))
                .is_ok()
        );
    }
}

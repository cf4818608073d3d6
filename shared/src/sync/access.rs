//! Who may read and write which document.
//!
//! | role | workspace | places | orgs | visits of own team | other visits | referrals from or to own team | other referrals |
//! |---|---|---|---|---|---|---|---|
//! | coordinator | write | write | write | write | write | write | write |
//! | worker | read | write | read | write | none | write | none |
//! | member | read | write | own entry | none | none | none | none |
//!
//! Which fields of a referral each side may change is the gate's (`Referral::writer_may`).

use crate::doc::DocId;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A device's role in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The municipality's lead section: everything.
    Coordinator,
    /// Outreach staff of a team.
    Worker,
    /// A member organization or resident.
    Member,
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "coordinator" => Ok(Role::Coordinator),
            "worker" => Ok(Role::Worker),
            "member" => Ok(Role::Member),
            other => Err(format!(
                "unknown role {other:?} (coordinator, worker or member)"
            )),
        }
    }
}

impl Role {
    /// The role's name for people, in `lang` (the one place it is defined).
    pub fn label(self, lang: crate::Lang) -> &'static str {
        match (self, lang) {
            (Role::Coordinator, crate::Lang::Ja) => "調整役",
            (Role::Worker, crate::Lang::Ja) => "ワーカー",
            (Role::Member, crate::Lang::Ja) => "メンバー",
            (Role::Coordinator, crate::Lang::En) => "coordinator",
            (Role::Worker, crate::Lang::En) => "worker",
            (Role::Member, crate::Lang::En) => "member",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Coordinator => "coordinator",
            Role::Worker => "worker",
            Role::Member => "member",
        })
    }
}

/// What a device may do with a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Not even know its contents.
    None,
    /// Receive it.
    Read,
    /// Receive it and send changes (still validated).
    Write,
}

/// The access rules for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPolicy {
    /// Role.
    pub role: Role,
    /// Team (workers).
    pub team: Option<String>,
}

impl AccessPolicy {
    /// What this device may do with `doc`.
    pub fn access(&self, doc: &DocId) -> Access {
        match (self.role, doc) {
            (Role::Coordinator, _) => Access::Write,
            (_, DocId::Places(_)) => Access::Write,
            (_, DocId::Workspace) => Access::Read,
            (Role::Worker, DocId::Orgs) => Access::Read,
            // A member writes only its own entry; the server checks which records changed.
            (Role::Member, DocId::Orgs) => Access::Write,
            (Role::Worker, DocId::Visits { team, .. }) if self.team.as_deref() == Some(team) => {
                Access::Write
            }
            (_, DocId::Visits { .. }) => Access::None,
            (Role::Worker, DocId::Referrals { from, to, .. })
                if self.team.as_deref() == Some(from)
                    || (to.is_some() && self.team.as_deref() == to.as_deref()) =>
            {
                Access::Write
            }
            (_, DocId::Referrals { .. }) => Access::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visits(team: &str) -> DocId {
        DocId::Visits {
            team: team.into(),
            month: "2026-11".into(),
        }
    }

    #[test]
    fn each_role_sees_what_the_domain_allows() {
        let coordinator = AccessPolicy {
            role: Role::Coordinator,
            team: None,
        };
        let worker_a = AccessPolicy {
            role: Role::Worker,
            team: Some("a".into()),
        };
        let member = AccessPolicy {
            role: Role::Member,
            team: None,
        };
        assert_eq!(coordinator.access(&visits("b")), Access::Write);
        assert_eq!(worker_a.access(&visits("a")), Access::Write);
        assert_eq!(worker_a.access(&visits("b")), Access::None);
        assert_eq!(worker_a.access(&DocId::Orgs), Access::Read);
        assert_eq!(worker_a.access(&DocId::Workspace), Access::Read);
        assert_eq!(member.access(&visits("a")), Access::None);
        assert_eq!(member.access(&DocId::Places(3)), Access::Write);
        assert_eq!(member.access(&DocId::Workspace), Access::Read);
        let teamless_worker = AccessPolicy {
            role: Role::Worker,
            team: None,
        };
        assert_eq!(teamless_worker.access(&visits("a")), Access::None);
        let referrals = |from: &str, to: Option<&str>| DocId::Referrals {
            from: from.into(),
            to: to.map(String::from),
            year: "2026".into(),
        };
        assert_eq!(worker_a.access(&referrals("a", Some("b"))), Access::Write);
        assert_eq!(worker_a.access(&referrals("b", Some("a"))), Access::Write);
        assert_eq!(worker_a.access(&referrals("b", Some("c"))), Access::None);
        assert_eq!(worker_a.access(&referrals("b", None)), Access::None);
        assert_eq!(member.access(&referrals("a", Some("b"))), Access::None);
        assert_eq!(
            coordinator.access(&referrals("b", Some("c"))),
            Access::Write
        );
    }
}

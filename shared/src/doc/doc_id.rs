//! Document ids: the unit of sync and of access control.
//!
//! | id | holds |
//! |---|---|
//! | `workspace` | name, teams, settings, taxonomy version |
//! | `places/{shard}` | places, sharded by a stable hash of the place id |
//! | `orgs` | the member-organization directory |
//! | `visits/{team}/{yyyy-mm}` | one team's visits of one month |
//! | `referrals/{from}/{to}/{yyyy}` | referrals from one team to another (or to organizations with no team: `to` = `org`) made in one year |
//!
//! A referral document holds exactly what both its teams (and coordinators) may read, so access
//! stays per document: no record of it has to be filtered out for anyone.

use crate::domain::RecordKind;
use std::fmt;
use std::str::FromStr;

/// Number of place shards.
pub const PLACE_SHARDS: u8 = 16;

/// Which document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocId {
    /// The workspace settings and teams.
    Workspace,
    /// One shard of places.
    Places(u8),
    /// The organization directory.
    Orgs,
    /// One team's visits of one month.
    Visits {
        /// Team id.
        team: String,
        /// `YYYY-MM`.
        month: String,
    },
    /// Referrals from one team to another, or to organizations with no team, of one year.
    Referrals {
        /// The sending team.
        from: String,
        /// The receiving team, or `None` for organizations with no team (their referrals stay
        /// with the sender).
        to: Option<String>,
        /// `YYYY`.
        year: String,
    },
}

/// The `to` segment of referrals to organizations with no team.
const TO_ORG: &str = "org";

impl DocId {
    /// The shard document holding place `id`: FNV-1a of the id, stable across devices and versions.
    pub fn for_place(id: &str) -> DocId {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in id.as_bytes() {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        DocId::Places((hash % u64::from(PLACE_SHARDS)) as u8)
    }

    /// The kind of records the document holds, if any.
    pub fn record_kind(&self) -> Option<RecordKind> {
        match self {
            DocId::Workspace => None,
            DocId::Places(_) => Some(RecordKind::Place),
            DocId::Orgs => Some(RecordKind::Org),
            DocId::Visits { .. } => Some(RecordKind::Visit),
            DocId::Referrals { .. } => Some(RecordKind::Referral),
        }
    }

    /// Every place shard.
    pub fn all_place_shards() -> impl Iterator<Item = DocId> {
        (0..PLACE_SHARDS).map(DocId::Places)
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocId::Workspace => f.write_str("workspace"),
            DocId::Places(shard) => write!(f, "places/{shard:02x}"),
            DocId::Orgs => f.write_str("orgs"),
            DocId::Visits { team, month } => write!(f, "visits/{team}/{month}"),
            DocId::Referrals { from, to, year } => {
                write!(
                    f,
                    "referrals/{from}/{}/{year}",
                    to.as_deref().unwrap_or(TO_ORG)
                )
            }
        }
    }
}

/// Why a document id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a document id: {0:?}")]
pub struct BadDocId(pub String);

/// Whether `s` is an acceptable team id: 1–64 ASCII letters, digits, `-` or `_`.
pub fn is_valid_team_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_valid_month(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit)
        && matches!(s[5..].parse::<u8>(), Ok(1..=12))
}

impl FromStr for DocId {
    type Err = BadDocId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadDocId(s.to_string());
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            ["workspace"] => Ok(DocId::Workspace),
            ["orgs"] => Ok(DocId::Orgs),
            ["places", shard] if shard.len() == 2 => {
                let n = u8::from_str_radix(shard, 16).map_err(|_| bad())?;
                if n < PLACE_SHARDS && format!("{n:02x}") == *shard {
                    Ok(DocId::Places(n))
                } else {
                    Err(bad())
                }
            }
            ["visits", team, month] if is_valid_team_id(team) && is_valid_month(month) => {
                Ok(DocId::Visits {
                    team: team.to_string(),
                    month: month.to_string(),
                })
            }
            ["referrals", from, to, year]
                if is_valid_team_id(from)
                    && is_valid_team_id(to)
                    && year.len() == 4
                    && year.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(DocId::Referrals {
                    from: from.to_string(),
                    to: (*to != TO_ORG).then(|| to.to_string()),
                    year: year.to_string(),
                })
            }
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_strangers_are_refused() {
        for id in [
            DocId::Workspace,
            DocId::Orgs,
            DocId::Places(0),
            DocId::Places(15),
            DocId::Visits {
                team: "team-a".into(),
                month: "2026-11".into(),
            },
        ] {
            assert_eq!(id.to_string().parse::<DocId>().unwrap(), id);
        }
        for bad in [
            "",
            "places/16",
            "places/1",
            "places/0A",
            "visits/a/2026-13",
            "visits/../2026-01",
            "visits/a b/2026-01",
            "orgs/x",
        ] {
            assert!(bad.parse::<DocId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn place_shards_are_stable_and_spread() {
        assert_eq!(
            DocId::for_place("0190a0b0c0d0e0f0"),
            DocId::for_place("0190a0b0c0d0e0f0")
        );
        let shards: std::collections::HashSet<_> = (0..200)
            .map(|_| DocId::for_place(&crate::domain::new_id()))
            .collect();
        assert!(shards.len() >= 12, "{} shards used", shards.len());
    }
}

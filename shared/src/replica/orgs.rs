//! The organization directory through the replica.

use super::Replica;
use super::edit::RecordEdit;
use crate::domain::Org;
use crate::error::Result;
use crate::hours::now_jst;
use crate::store::query;

impl Replica {
    /// Adds a directory entry.
    pub fn add_org(&mut self, org: Org) -> Result<Org> {
        self.workspace()?;
        let now = now_jst();
        let org = Org {
            owner: self.server()?.map(|s| s.device).or(org.owner.clone()),
            added_by: self.person()?,
            added_at: now.format("%Y-%m-%dT%H:%M:%S").to_string(),
            ..org
        }
        .normalized(now)?;
        self.apply(vec![RecordEdit::create(&org)])?;
        Ok(org)
    }

    /// Every entry, by name.
    pub fn orgs(&self) -> Result<Vec<Org>> {
        self.require_workspace()?;
        Ok(query::orgs(&self.conn, false)?)
    }
}

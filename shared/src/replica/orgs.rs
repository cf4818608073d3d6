//! The organization directory through the replica.

use super::Replica;
use super::edit::RecordEdit;
use crate::doc::DocId;
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
        self.apply(vec![RecordEdit::create(DocId::Orgs, &org)])?;
        Ok(org)
    }

    /// The entry with this id.
    pub fn org(&mut self, id: &str) -> Result<Org> {
        Ok(self.record::<Org>(id)?.1)
    }

    /// Sets one field from text.
    pub fn set_org_field(&mut self, id: &str, field: &str, value: &str) -> Result<Org> {
        self.set_field::<Org>(id, field, value)
    }

    /// Marks an entry deleted.
    pub fn delete_org(&mut self, id: &str) -> Result<()> {
        self.set_deleted::<Org>(id, true)
    }

    /// Every entry, by name.
    pub fn orgs(&self) -> Result<Vec<Org>> {
        self.require_workspace()?;
        Ok(query::orgs(&self.conn, false)?)
    }
}

//! The `workspace` document: name, teams, taxonomy version, the case conference team.

use super::records::{ensure_map, map_at};
use automerge::{AutoCommit, ROOT, ReadDoc, ScalarValue, Value, transaction::Transactable};
use serde::Serialize;

/// A team: the unit that owns visit records (an organization's outreach staff).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Team {
    /// Team id (used in visit document ids).
    pub id: String,
    /// Display name.
    pub name: String,
}

/// What the workspace document says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct WorkspaceInfo {
    /// Workspace id.
    pub id: String,
    /// Name (e.g. 座間市 孤独・孤立官民連携PF).
    pub name: String,
    /// Taxonomy version.
    pub taxonomy_version: u32,
    /// Teams, by name.
    pub teams: Vec<Team>,
    /// The team that is the workspace's case conference (支援会議), when one is marked:
    /// escalations go to it.
    pub case_conference: Option<String>,
    /// The basemap a coordinator set for everyone: an XYZ URL template and its attribution
    /// (empty: the app's default). A person's own setting comes first.
    pub basemap: Option<(String, String)>,
}

fn text(doc: &AutoCommit, obj: &automerge::ObjId, key: &str) -> String {
    match doc.get(obj, key).ok().flatten() {
        Some((Value::Scalar(v), _)) => match v.as_ref() {
            ScalarValue::Str(s) => s.to_string(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

/// Reads the workspace document.
pub fn read_workspace(doc: &AutoCommit) -> WorkspaceInfo {
    let mut teams = Vec::new();
    if let Some(map) = map_at(doc, &ROOT, "teams") {
        for id in doc.keys(&map) {
            let name = map_at(doc, &map, &id)
                .map(|t| text(doc, &t, "name"))
                .unwrap_or_default();
            teams.push(Team { id, name });
        }
    }
    teams.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let taxonomy_version = match doc.get(ROOT, "taxonomy_version").ok().flatten() {
        Some((Value::Scalar(v), _)) => match v.as_ref() {
            ScalarValue::Uint(n) => *n as u32,
            ScalarValue::Int(n) => *n as u32,
            _ => 0,
        },
        _ => 0,
    };
    WorkspaceInfo {
        id: text(doc, &ROOT, "id"),
        name: text(doc, &ROOT, "name"),
        taxonomy_version,
        teams,
        case_conference: Some(text(doc, &ROOT, CASE_CONFERENCE_KEY)).filter(|t| !t.is_empty()),
        basemap: Some(text(doc, &ROOT, BASEMAP_URL_KEY))
            .filter(|u| !u.is_empty())
            .map(|u| (u, text(doc, &ROOT, BASEMAP_ATTRIBUTION_KEY))),
    }
}

/// The root key naming the case conference team.
pub const CASE_CONFERENCE_KEY: &str = "case_conference";

/// Marks `team` as the workspace's case conference. The caller commits.
pub fn write_case_conference(
    doc: &mut AutoCommit,
    team: &str,
) -> Result<(), automerge::AutomergeError> {
    doc.put(ROOT, CASE_CONFERENCE_KEY, team)
}

/// The root key holding the workspace's basemap URL template.
pub(crate) const BASEMAP_URL_KEY: &str = "basemap_url";
/// The root key holding the attribution shown with the workspace's basemap.
pub(crate) const BASEMAP_ATTRIBUTION_KEY: &str = "basemap_attribution";

/// Sets the workspace's basemap (an empty URL: the app's default). The caller commits.
pub fn write_basemap(
    doc: &mut AutoCommit,
    url: &str,
    attribution: &str,
) -> Result<(), automerge::AutomergeError> {
    doc.put(ROOT, BASEMAP_URL_KEY, url)?;
    doc.put(ROOT, BASEMAP_ATTRIBUTION_KEY, attribution)
}

/// Writes the workspace's id, name and taxonomy version. The caller commits.
pub fn write_workspace(
    doc: &mut AutoCommit,
    id: &str,
    name: &str,
    taxonomy_version: u32,
) -> Result<(), automerge::AutomergeError> {
    doc.put(ROOT, "id", id)?;
    doc.put(ROOT, "name", name)?;
    doc.put(ROOT, "taxonomy_version", i64::from(taxonomy_version))?;
    ensure_map(doc, &ROOT, "teams")?;
    Ok(())
}

/// Adds or renames a team. The caller commits.
pub fn write_team(doc: &mut AutoCommit, team: &Team) -> Result<(), automerge::AutomergeError> {
    let teams = ensure_map(doc, &ROOT, "teams")?;
    let t = ensure_map(doc, &teams, &team.id)?;
    doc.put(&t, "name", team.name.as_str())?;
    Ok(())
}

/// A device as the server vouches for it: written into the workspace document by the server when
/// the device joins, under the device's Automerge actor id. History and conflicts name the person
/// from here, not from what a change's note claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vouched {
    /// The person's display name given at join.
    pub person: String,
    /// The device id on the server.
    pub device: String,
    /// The device's role.
    pub role: String,
}

/// The root key of the devices the server vouches for.
pub const VOUCHED_KEY: &str = "devices";

/// Records that the server vouches for the device whose actor is `actor_hex`. The caller commits.
pub fn write_vouched(
    doc: &mut AutoCommit,
    actor_hex: &str,
    vouched: &Vouched,
) -> Result<(), automerge::AutomergeError> {
    let devices = ensure_map(doc, &ROOT, VOUCHED_KEY)?;
    let d = ensure_map(doc, &devices, actor_hex)?;
    doc.put(&d, "person", vouched.person.as_str())?;
    doc.put(&d, "device", vouched.device.as_str())?;
    doc.put(&d, "role", vouched.role.as_str())?;
    Ok(())
}

/// The devices the server vouches for, by actor id (hex).
pub fn read_vouched(doc: &AutoCommit) -> std::collections::BTreeMap<String, Vouched> {
    let mut out = std::collections::BTreeMap::new();
    if let Some(map) = map_at(doc, &ROOT, VOUCHED_KEY) {
        for actor in doc.keys(&map) {
            if let Some(d) = map_at(doc, &map, &actor) {
                let vouched = Vouched {
                    person: text(doc, &d, "person"),
                    device: text(doc, &d, "device"),
                    role: text(doc, &d, "role"),
                };
                out.insert(actor, vouched);
            }
        }
    }
    out
}

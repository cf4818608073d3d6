//! Admin commands on the server's store: workspaces, teams, invites, devices, backup.

use crate::hub::admin_edit;
use crate::store::{self, Device};
use anyhow::{Context, Result, bail};
use ibasho_shared::doc::{self, DocId, Team};
use ibasho_shared::sync::Role;
use rusqlite::{Connection, params};
use std::path::Path;

/// A workspace's or team's name passes the shared rule for names (as a device checks them).
fn valid_name(name: &str, what: &str) -> Result<()> {
    use ibasho_shared::validate::{MAX_NAME_CHARS, required_text};
    if let Err(e) = required_text("name", name, MAX_NAME_CHARS) {
        bail!(
            "--name: a {what} name of 1–{MAX_NAME_CHARS} characters is required ({})",
            e.message(ibasho_shared::Lang::En)
        );
    }
    Ok(())
}

/// Creates a workspace (and its workspace document); returns its id.
pub fn create_workspace(conn: &mut Connection, name: &str) -> Result<String> {
    let name = name.trim();
    valid_name(name, "workspace")?;
    let id = store::new_secret()[..16].to_string();
    conn.execute(
        "INSERT INTO workspaces (id, name, created_at) VALUES (?1, ?2, ?3)",
        params![id, name, chrono::Utc::now().to_rfc3339()],
    )?;
    admin_edit(conn, &id, &DocId::Workspace, |d| {
        doc::write_workspace(d, &id, name, ibasho_shared::taxonomy::TAXONOMY_VERSION)
    })?;
    Ok(id)
}

/// Sets how many months a workspace keeps visits (0: for ever) and erases the months past it now.
pub fn set_visit_retention(
    conn: &mut Connection,
    workspace: &str,
    months: u32,
) -> Result<Vec<ibasho_shared::doc::epoch::Erasure>> {
    if !store::workspace_exists(conn, workspace)? {
        bail!("--workspace: no workspace {workspace:?}");
    }
    store::set_visit_retention(conn, workspace, (months > 0).then_some(months))?;
    crate::erase::apply_retention(conn, workspace, chrono::Utc::now().date_naive())
}

/// Marks a team of the workspace as its case conference (支援会議), in the workspace document.
pub fn set_case_conference(conn: &mut Connection, workspace: &str, team: &str) -> Result<()> {
    if !store::team_exists(conn, workspace, team)? {
        bail!("--case-conference: no team {team:?} in workspace {workspace:?}");
    }
    admin_edit(conn, workspace, &DocId::Workspace, |d| {
        doc::write_case_conference(d, team)
    })
}

/// Sets the workspace's basemap in the workspace document (an empty URL: the app's default).
pub fn set_basemap(
    conn: &mut Connection,
    workspace: &str,
    url: &str,
    attribution: &str,
) -> Result<()> {
    if !store::workspace_exists(conn, workspace)? {
        bail!("--workspace: no workspace {workspace:?}");
    }
    let url = url.trim();
    if !(url.is_empty() || ibasho_shared::map::tiles::is_url_template(url)) {
        bail!("--basemap-url: must start with http:// or https:// and hold {{z}}, {{x}} and {{y}}");
    }
    let attribution = attribution.trim();
    if attribution.chars().count() > 200 || attribution.chars().any(char::is_control) {
        bail!("--basemap-attribution: at most 200 characters, no control characters");
    }
    admin_edit(conn, workspace, &DocId::Workspace, |d| {
        doc::write_basemap(d, url, attribution)
    })
}

/// Creates a team in a workspace; returns its id.
pub fn create_team(conn: &mut Connection, workspace: &str, name: &str) -> Result<String> {
    if !store::workspace_exists(conn, workspace)? {
        bail!("--workspace: no workspace {workspace:?} (see `workspace create`)");
    }
    let name = name.trim();
    valid_name(name, "team")?;
    let id = store::new_secret()[..12].to_string();
    conn.execute(
        "INSERT INTO teams (id, workspace, name) VALUES (?1, ?2, ?3)",
        params![id, workspace, name],
    )?;
    let team = Team {
        id: id.clone(),
        name: name.to_string(),
    };
    admin_edit(conn, workspace, &DocId::Workspace, |d| {
        doc::write_team(d, &team)
    })?;
    Ok(id)
}

/// The longest an invite may stay valid: an unused invite is a key left lying about.
pub const MAX_INVITE_LIFE: chrono::Duration = chrono::Duration::days(365);

/// Parses a duration such as `30m`, `12h`, `7d` (a bare number is seconds), at most
/// [`MAX_INVITE_LIFE`].
pub fn parse_duration(text: &str) -> Result<chrono::Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = number
        .parse()
        .with_context(|| format!("--expires: {text:?} is not a duration like 30m, 12h or 7d"))?;
    let d = match unit {
        "" | "s" => chrono::Duration::try_seconds(n),
        "m" => chrono::Duration::try_minutes(n),
        "h" => chrono::Duration::try_hours(n),
        "d" => chrono::Duration::try_days(n),
        other => bail!("--expires: unknown unit {other:?} (use s, m, h or d)"),
    };
    if n <= 0 {
        bail!("--expires: must be in the future");
    }
    match d {
        Some(d) if d <= MAX_INVITE_LIFE => Ok(d),
        _ => bail!(
            "--expires: {text:?} is longer than an invite may stay valid ({} days)",
            MAX_INVITE_LIFE.num_days()
        ),
    }
}

/// Creates a single-use invite; returns the token (the store keeps only its hash).
pub fn create_invite(
    conn: &Connection,
    workspace: &str,
    role: Role,
    team: Option<&str>,
    expires: chrono::Duration,
) -> Result<String> {
    if !store::workspace_exists(conn, workspace)? {
        bail!("--workspace: no workspace {workspace:?}");
    }
    match (role, team) {
        (Role::Worker, None) => bail!("--team: a worker belongs to a team (see `team create`)"),
        (Role::Member, Some(_)) => bail!("--team: members have no team"),
        (_, Some(team)) if !store::team_exists(conn, workspace, team)? => {
            bail!("--team: no team {team:?} in workspace {workspace}")
        }
        _ => {}
    }
    let secret = store::new_secret();
    let expires_at = (chrono::Utc::now() + expires).timestamp();
    store::insert_invite(conn, &secret, workspace, role, team, expires_at)?;
    Ok(secret)
}

/// The devices of a workspace.
pub fn list_devices(conn: &Connection, workspace: &str) -> Result<Vec<Device>> {
    if !store::workspace_exists(conn, workspace)? {
        bail!("--workspace: no workspace {workspace:?}");
    }
    Ok(store::devices(conn, workspace)?)
}

/// Revokes a device.
pub fn revoke(conn: &Connection, device: &str) -> Result<()> {
    if !store::revoke(conn, device)? {
        bail!("no device {device:?} (see `devices --workspace WS`)");
    }
    Ok(())
}

/// Writes a consistent copy of the store to `out` while the server may be running.
pub fn backup(conn: &Connection, out: &Path) -> Result<()> {
    if out.exists() {
        bail!("--out: {} already exists", out.display());
    }
    conn.execute("VACUUM INTO ?1", [out.to_string_lossy()])
        .with_context(|| format!("writing the backup to {}", out.display()))?;
    ibasho_shared::store::make_private(out)
        .with_context(|| format!("making {} readable by its owner only", out.display()))?;
    Ok(())
}

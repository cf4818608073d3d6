//! Settings: the display name, the language, the tile URL, joining a workspace, the demo.

use super::{AppModel, Screen};
use ibasho_shared::Lang;

/// The settings and join forms, as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SettingsForm {
    pub join_url: String,
    pub join_invite: String,
    pub person: String,
    pub tile_url: String,
    pub tile_attribution: String,
}

impl AppModel {
    /// Switches the language and remembers it on this device.
    pub(crate) fn set_lang(&mut self, lang: Lang) -> anyhow::Result<()> {
        self.lang = lang;
        self.replica.set_setting("lang", &lang.to_string())?;
        Ok(())
    }

    /// Saves the display name and the basemap (an empty URL: the workspace's, else 国土地理院's
    /// 標準地図).
    pub(crate) fn save_settings(&mut self) -> anyhow::Result<()> {
        let url = self.settings.tile_url.trim().to_string();
        if let Err(e) = Some(&url)
            .filter(|u| !u.is_empty())
            .map_or(Ok(()), |u| crate::tiles::check_url(u, self.lang))
        {
            self.flash = Some(e);
            return Ok(());
        }
        if let Err(e) = self.replica.set_person(&self.settings.person) {
            self.flash = Some(e.message(self.lang));
            return Ok(());
        }
        self.replica.set_setting("tile_url", &url)?;
        self.replica
            .set_setting("tile_attribution", self.settings.tile_attribution.trim())?;
        self.source = crate::tiles::source_of(&mut self.replica);
        self.flash = Some(crate::ui::text::SETTINGS_SAVED.get(self.lang).to_string());
        Ok(())
    }

    /// Creates the demo workspace (first run, offline).
    pub(crate) fn make_demo(&mut self) -> anyhow::Result<()> {
        crate::cli::make_demo(&mut self.replica, 300, 7)?;
        self.settings.person = self.replica.person()?;
        self.reload()?;
        self.map.center_workspace();
        self.screen = Screen::Map;
        Ok(())
    }

    /// What joining needs, from the join form: the server, the invite and the person's name.
    pub(crate) fn join_request(&self) -> (std::path::PathBuf, String, String, String) {
        let s = &self.settings;
        (
            self.home.clone(),
            s.join_url.trim().to_string(),
            s.join_invite.trim().to_string(),
            s.person.trim().to_string(),
        )
    }

    /// Shows what joining came to: the workspace on the map, or the error in the person's
    /// language.
    pub(crate) fn joined(&mut self, result: anyhow::Result<()>) {
        match result {
            Ok(()) => {
                self.flash = Some(crate::ui::text::JOINED.get(self.lang).to_string());
                let _ = self.reload();
                self.map.center_workspace();
            }
            Err(e) => self.flash = Some(super::error_words(&e, self.lang)),
        }
    }
}

/// Joins the workspace at `url` with `invite` as `person` from the replica in `home`, and syncs
/// once. Runs outside the model (it waits on the network); [`AppModel::joined`] shows the result.
pub(crate) async fn join(
    home: std::path::PathBuf,
    url: String,
    invite: String,
    person: String,
) -> anyhow::Result<()> {
    let mut replica = ibasho_shared::Replica::open(&crate::paths::replica_file(&home))?;
    crate::sync::join(&mut replica, &url, &invite, &person).await?;
    crate::sync::sync_once(&mut replica).await?;
    Ok(())
}

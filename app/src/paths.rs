//! The only module that knows about platform paths.

use std::path::PathBuf;

/// The platform's data directory for ibasho (e.g. `~/.local/share/ibasho` on Linux).
pub fn default_home() -> PathBuf {
    directories::ProjectDirs::from("jp", "ibasho", "ibasho")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".ibasho"))
}

/// The replica file inside a home directory.
pub fn replica_file(home: &std::path::Path) -> PathBuf {
    home.join("replica.sqlite3")
}

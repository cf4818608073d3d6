//! The only module that knows about platform paths.

use std::path::PathBuf;

/// The platform's data directory for ibasho: `~/.local/share/ibasho` on Linux, the app's Application
/// Support folder on macOS/iOS, and on Android the app's internal files directory (not `$HOME`,
/// which Android apps do not have).
pub fn default_home() -> PathBuf {
    #[cfg(target_os = "android")]
    {
        // Context.getFilesDir() of the package; the same path without a JNI round trip.
        PathBuf::from("/data/data/jp.ibasho.app/files")
    }
    #[cfg(not(target_os = "android"))]
    {
        directories::ProjectDirs::from("jp", "ibasho", "ibasho")
            .map(|d| d.data_dir().to_path_buf())
            .unwrap_or_else(|| PathBuf::from(".ibasho"))
    }
}

/// The replica file inside a home directory.
pub fn replica_file(home: &std::path::Path) -> PathBuf {
    home.join("replica.sqlite3")
}

/// The offline map pack inside a home directory (MBTiles).
pub fn tile_pack(home: &std::path::Path) -> PathBuf {
    home.join("tiles.mbtiles")
}

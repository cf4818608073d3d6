//! Before the window opens on Linux: is there a display to open it on? GTK aborts with a panic
//! when there is none, so the app says so itself, in words a user can act on. (It does not probe
//! the X server: a connection opened and closed here can make an X server with no other client
//! reset just as the window connects.)

use anyhow::bail;

/// Fails with a clear error when neither an X display nor a Wayland compositor is named.
pub fn check() -> anyhow::Result<()> {
    let x = std::env::var("DISPLAY").unwrap_or_default();
    let wayland = std::env::var("WAYLAND_DISPLAY").unwrap_or_default();
    if x.is_empty() && wayland.is_empty() {
        bail!(
            "no display: `ibasho app` needs a desktop session (DISPLAY or WAYLAND_DISPLAY is unset). \
             On a machine without one, run it under `xvfb-run ibasho app`, or use the command line \
             (`ibasho --help`). / 画面がありません: デスクトップ環境で起動してください。"
        );
    }
    Ok(())
}

//! The app window (Dioxus 0.7): desktop now (`desktop` feature), phones through `dx` (`mobile`).
//! Components call the replica API only; no SQL or Automerge here.

#[cfg(all(feature = "desktop", target_os = "linux"))]
mod display;
mod model;
mod syncer;
use ibasho_app::text;
mod view;

#[cfg(test)]
mod tests;

use ibasho_shared::Lang;
use std::path::PathBuf;
use view::App;
pub(crate) use view::Launch;

/// Opens the window on the replica in `home`; returns when the window closes.
pub fn launch(home: PathBuf, lang: Lang) -> anyhow::Result<()> {
    std::fs::create_dir_all(&home)?;
    // WebKitGTK's accelerated compositing costs more than it gives a page of flat SVG, and without
    // a GPU it runs through software GL: a pan step with 5,000 places takes 62 ms with it and
    // 46 ms without (bench/map-window). Off unless the person says otherwise.
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        // SAFETY: no other thread exists yet (the runtime is created below), so nothing reads
        // the environment while it changes.
        unsafe { std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1") };
    }
    // A multi-thread runtime entered before launch: the window's tasks (sync) run on it.
    let runtime = tokio::runtime::Runtime::new()?;
    let _guard = runtime.enter();
    let launch = Launch {
        home,
        lang,
        sync: true,
    };
    #[cfg(feature = "desktop")]
    {
        use dioxus::desktop::{Config, LogicalSize, WindowBuilder};
        #[cfg(target_os = "linux")]
        display::check()?;
        let window = WindowBuilder::new()
            .with_title("ibasho — いばしょ")
            .with_inner_size(LogicalSize::new(1100.0, 760.0));
        dioxus::LaunchBuilder::desktop()
            .with_cfg(Config::new().with_window(window).with_menu(None))
            .with_context(launch)
            .launch(App);
    }
    #[cfg(all(feature = "mobile", not(feature = "desktop")))]
    {
        dioxus::LaunchBuilder::mobile()
            .with_context(launch)
            .launch(App);
    }
    #[allow(unreachable_code)]
    Ok(())
}

//! `ibasho`: the app window (`ibasho app`) and the command line over this device's replica.

mod cli;
use ibasho_app::{paths, sync, text, tiles};
#[cfg(feature = "ui")]
mod ui;

/// Opens the app window, when this build has one.
fn launch_app(home: std::path::PathBuf, lang: ibasho_shared::Lang) -> anyhow::Result<()> {
    #[cfg(feature = "ui")]
    {
        ui::launch(home, lang)
    }
    #[cfg(not(feature = "ui"))]
    {
        let _ = (home, lang);
        anyhow::bail!("this build of ibasho has no app window: build it with `--features desktop`")
    }
}

#[cfg(not(any(target_os = "android", target_os = "ios")))]
fn main() -> std::process::ExitCode {
    ibasho_app::timing::process_started();
    cli::run()
}

/// On phones the binary is the app: no command line.
#[cfg(any(target_os = "android", target_os = "ios"))]
fn main() {
    if let Err(e) = ui::launch(paths::default_home(), ibasho_shared::Lang::Ja) {
        eprintln!("ibasho: {e:#}");
    }
}

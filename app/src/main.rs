//! `ibasho`: the command line (and, later, the app window) over this device's replica.

mod cli;
mod paths;
mod sync;

fn main() -> std::process::ExitCode {
    cli::run()
}

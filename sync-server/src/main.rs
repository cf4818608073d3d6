//! `ibasho-sync-server`: the websocket sync server (not serving yet).

fn main() -> std::process::ExitCode {
    eprintln!(
        "ibasho-sync-server: this build does not serve yet; replicas exchange documents with `ibasho export/import automerge`."
    );
    std::process::ExitCode::FAILURE
}

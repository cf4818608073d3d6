//! The `ibasho` command line: parses arguments, calls the replica API, prints results.

mod args;
mod files;
pub(crate) mod out;
mod places;
mod records;
mod sync;
mod tiles;

use anyhow::Result;
use args::{Cli, Command, ConflictCmd, TeamCmd};
use clap::Parser;
use ibasho_shared::Replica;
use out::outln;
use std::process::ExitCode;

/// Runs the command line; errors go to stderr with a non-zero exit.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let lang = cli.lang;
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let text = if let Some(engine) = e.downcast_ref::<ibasho_shared::Error>() {
                engine.message(lang)
            } else if let Some(transport) = e.downcast_ref::<crate::sync::error::TransportError>() {
                transport.message(lang)
            } else {
                format!("{e:#}")
            };
            let prefix = crate::text::ERROR_PREFIX.get(lang);
            eprintln!("{prefix}: {text}");
            ExitCode::FAILURE
        }
    }
}

fn open(cli: &Cli) -> Result<Replica> {
    open_home(&home(cli))
}

fn home(cli: &Cli) -> std::path::PathBuf {
    cli.home.clone().unwrap_or_else(crate::paths::default_home)
}

fn open_home(home: &std::path::Path) -> Result<Replica> {
    Ok(Replica::open(&crate::paths::replica_file(home))?)
}

fn execute(cli: Cli) -> Result<()> {
    let lang = cli.lang;
    match &cli.command {
        Command::Taxonomy { json } => records::taxonomy(*json, lang),
        Command::Init { name, person } => {
            let mut replica = open(&cli)?;
            let person = person
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "me".into());
            let ws = replica.init(name, &person)?;
            outln!("{}", ws.id);
            Ok(())
        }
        Command::Demo { places, seed } => {
            let mut replica = open(&cli)?;
            let report = make_demo(&mut replica, *places, *seed)?;
            outln!(
                "{}",
                crate::text::fill(
                    crate::text::DEMO_CREATED,
                    lang,
                    &[
                        ("places", &report.places),
                        ("orgs", &report.orgs),
                        ("teams", &report.teams),
                        ("visits", &report.visits),
                    ]
                )
            );
            Ok(())
        }
        Command::App => {
            let home = cli.home.clone().unwrap_or_else(crate::paths::default_home);
            crate::launch_app(home, lang)
        }
        Command::Place(cmd) => places::run(&mut open(&cli)?, cmd, lang),
        Command::Visit(cmd) => records::visit(&mut open(&cli)?, cmd, lang),
        Command::Org(cmd) => records::org(&mut open(&cli)?, cmd, lang),
        Command::Referral(cmd) => records::referral(&mut open(&cli)?, cmd, lang),
        Command::Team(cmd) => {
            let mut replica = open(&cli)?;
            match cmd {
                TeamCmd::Add { name } => outln!("{}", replica.add_team(name)?.id),
                TeamCmd::List => {
                    let default = replica.default_team().ok();
                    for team in replica.workspace()?.teams {
                        let mark = if default.as_deref() == Some(&team.id) {
                            "*"
                        } else {
                            " "
                        };
                        outln!("{mark} {}  {}", team.id, team.name);
                    }
                }
            }
            Ok(())
        }
        Command::Conflicts { json, action } => {
            let mut replica = open(&cli)?;
            match action {
                Some(ConflictCmd::Resolve {
                    record,
                    field,
                    choice,
                }) => Ok(replica.resolve_conflict(record, field, *choice)?),
                None => records::conflicts(&mut replica, *json, lang),
            }
        }
        Command::Join {
            url,
            invite,
            person,
            ca_cert,
        } => sync::join(
            &mut open(&cli)?,
            url,
            invite,
            person.as_deref(),
            ca_cert.as_deref(),
            lang,
        ),
        Command::Sync {
            watch,
            server_silence_secs,
            json,
        } => {
            let silence = std::time::Duration::from_secs((*server_silence_secs).max(1));
            let watch = watch.then_some(silence);
            sync::sync(&mut open(&cli)?, watch, *json, lang)
        }
        Command::Status { json } => sync::status(&mut open(&cli)?, *json, lang),
        Command::Erase { id, field, reason } => {
            sync::erase(&mut open(&cli)?, id, field.as_deref(), reason, lang)
        }
        Command::Erasures { json } => records::erasures(&open(&cli)?, *json, lang),
        Command::Discard { id, field } => {
            let discarded = open(&cli)?.discard(id, field.as_deref())?;
            outln!(
                "{}",
                crate::text::fill(
                    crate::text::DISCARDED,
                    lang,
                    &[
                        ("fields", &discarded.fields),
                        ("records", &discarded.records)
                    ]
                )
            );
            Ok(())
        }
        Command::Report {
            from,
            to,
            json,
            csv,
            publish,
            min_cell,
        } => records::report(
            &mut open(&cli)?,
            records::ReportArgs {
                from: from.as_deref(),
                to: to.as_deref(),
                json: *json,
                csv: csv.as_deref(),
                min_cell: min_cell.or(publish.then_some(3)),
            },
            lang,
        ),
        Command::Tiles(cmd) => tiles::run(&home(&cli), cmd, lang),
        Command::Export(cmd) => files::export(&mut open(&cli)?, cmd, lang),
        Command::Import(cmd) => files::import(&mut open(&cli)?, cmd, lang),
    }
}

/// Creates the demo workspace in an empty replica.
pub(crate) fn make_demo(
    replica: &mut Replica,
    places: usize,
    seed: u64,
) -> Result<ibasho_shared::demo::DemoReport> {
    if replica.workspace().is_ok() {
        anyhow::bail!("this replica already holds a workspace; use another --home for the demo");
    }
    replica.init("座間市 孤独・孤立官民連携PF（デモ）", "デモ担当")?;
    let spec = ibasho_shared::demo::DemoSpec {
        places,
        seed,
        ..Default::default()
    };
    Ok(ibasho_shared::demo::generate(replica, &spec)?)
}

/// Prints a value as pretty JSON.
fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    out::raw(&serde_json::to_string_pretty(value)?);
    Ok(())
}

//! `ibasho export …` and `ibasho import …`.

use super::args::{ExportCmd, ExportPlaces, ImportCmd};
use anyhow::{Context, Result};
use ibasho_shared::exchange;
use ibasho_shared::{Lang, PlaceQuery, Replica};
use std::io::Write;
use std::path::Path;

fn places(replica: &Replica, opts: &ExportPlaces) -> Result<Vec<ibasho_shared::Place>> {
    let q = PlaceQuery {
        public_only: opts.public,
        ..Default::default()
    };
    Ok(replica.places(&q)?.into_iter().map(|h| h.place).collect())
}

fn write_out(out: Option<&Path>, bytes: &[u8]) -> Result<()> {
    match out {
        Some(path) => {
            std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
        }
        None => Ok(std::io::stdout().write_all(bytes)?),
    }
}

pub(super) fn export(replica: &mut Replica, cmd: &ExportCmd, lang: Lang) -> Result<()> {
    match cmd {
        ExportCmd::Geojson(opts) => {
            let collection = exchange::places_geojson(&places(replica, opts)?, lang);
            let mut text = serde_json::to_string_pretty(&collection)?;
            text.push('\n');
            write_out(opts.out.as_deref(), text.as_bytes())
        }
        ExportCmd::Csv(opts) => write_out(
            opts.out.as_deref(),
            &exchange::places_csv(&places(replica, opts)?, lang)?,
        ),
        ExportCmd::Automerge { out } => {
            std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
            let ids = replica.doc_ids()?;
            for id in &ids {
                let file = out.join(format!("{}.automerge", id.to_string().replace('/', "__")));
                std::fs::write(&file, replica.doc_bytes(id)?)
                    .with_context(|| format!("writing {}", file.display()))?;
            }
            eprintln!("{} documents → {}", ids.len(), out.display());
            Ok(())
        }
    }
}

pub(super) fn import(replica: &mut Replica, cmd: &ImportCmd, lang: Lang) -> Result<()> {
    match cmd {
        ImportCmd::Csv { file, skip_invalid } => {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let report = replica.import_places_csv(&bytes, *skip_invalid)?;
            println!("{}", report.message(lang));
            Ok(())
        }
    }
}

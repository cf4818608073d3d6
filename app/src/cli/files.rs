//! `ibasho export …` and `ibasho import …`.

use super::args::{ExportCmd, ExportPlaces, ImportCmd};
use super::out::outln;
use crate::text;
use anyhow::{Context, Result, bail};
use ibasho_shared::exchange;
use ibasho_shared::{DocId, Error, Lang, PlaceQuery, Replica};
use std::io::Write;
use std::path::Path;

fn places(replica: &Replica, opts: &ExportPlaces) -> Result<Vec<ibasho_shared::Place>> {
    let q = PlaceQuery {
        public_only: opts.public,
        ..Default::default()
    };
    Ok(replica.places(&q)?.into_iter().map(|h| h.place).collect())
}

pub(super) fn write_out(out: Option<&Path>, bytes: &[u8]) -> Result<()> {
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
        ExportCmd::Csv(opts) => {
            let places = places(replica, opts)?;
            write_out(
                opts.out.as_deref(),
                &replica.export_places_csv(&places, lang)?,
            )
        }
        ExportCmd::Fhir { out } => {
            let names = replica.party_names()?;
            let referrals: Vec<(ibasho_shared::Referral, Vec<String>)> = replica
                .referrals(&ibasho_shared::ReferralQuery::default())?
                .into_iter()
                .filter(|v| !v.legacy)
                .map(|v| {
                    let disputed = if v.needs_review {
                        v.statuses
                    } else {
                        Vec::new()
                    };
                    (v.referral, disputed)
                })
                .collect();
            let name_of = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
            let bundle = exchange::fhir::referrals_bundle(&referrals, &name_of, lang);
            let mut text = serde_json::to_string_pretty(&bundle)?;
            text.push('\n');
            write_out(out.as_deref(), text.as_bytes())
        }
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

/// Merges one document file (named after its document, `places__0a.automerge`): whether it changed
/// anything, or why it was refused (changing nothing) in `lang`. `Err` only when the replica
/// itself failed.
fn merge_file(
    replica: &mut Replica,
    file: &Path,
    lang: Lang,
) -> Result<std::result::Result<bool, String>> {
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let doc_id: DocId = match stem.replace("__", "/").parse() {
        Ok(id) => id,
        Err(e) => return Ok(Err(Error::BadDocId(e).message(lang))),
    };
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(e) => return Ok(Err(e.to_string())),
    };
    match replica.merge_doc(&doc_id, &bytes) {
        Ok(changed) => Ok(Ok(changed)),
        // What the file holds: damaged, refused, or not an Automerge document at all.
        Err(e @ (Error::Damaged { .. } | Error::Refused { .. } | Error::Automerge(_))) => {
            Ok(Err(e.message(lang)))
        }
        Err(e) => Err(e).with_context(|| format!("merging {}", file.display())),
    }
}

pub(super) fn import(replica: &mut Replica, cmd: &ImportCmd, lang: Lang) -> Result<()> {
    match cmd {
        ImportCmd::Automerge { dir, person } => {
            if replica.person()?.is_empty() {
                let name = person
                    .clone()
                    .or_else(|| std::env::var("USER").ok())
                    .unwrap_or_else(|| "me".into());
                replica.set_person(&name)?;
            }
            let mut files: Vec<_> = std::fs::read_dir(dir)
                .with_context(|| format!("reading {}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "automerge"))
                .collect();
            files.sort();
            // The workspace first: it binds an empty replica to the workspace.
            files.sort_by_key(|p| p.file_stem().is_none_or(|s| s != "workspace"));
            // Each document is merged or refused on its own: a refused one (unreadable, damaged,
            // or with changes the server would refuse) changes nothing, and the others are still
            // read.
            let mut changed = 0;
            let mut refused = 0;
            for file in &files {
                match merge_file(replica, file, lang)? {
                    Ok(true) => changed += 1,
                    Ok(false) => {}
                    Err(why) => {
                        refused += 1;
                        eprintln!("  ✗ {}: {why}", file.display());
                    }
                }
            }
            let read = files.len();
            if refused > 0 {
                bail!(
                    "{}",
                    text::fill(
                        text::FILES_REFUSED,
                        lang,
                        &[
                            ("read", &read),
                            ("refused", &refused),
                            ("changed", &changed)
                        ]
                    )
                );
            }
            outln!(
                "{}",
                text::fill(
                    text::FILES_READ,
                    lang,
                    &[("read", &read), ("changed", &changed)]
                )
            );
            Ok(())
        }
        ImportCmd::Csv { file, skip_invalid } => {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let report = replica.import_places_csv(&bytes, *skip_invalid)?;
            outln!("{}", report.message(lang));
            Ok(())
        }
    }
}

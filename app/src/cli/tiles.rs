//! `ibasho tiles`: download an area of the basemap for use without a connection, list the areas
//! the device keeps, delete one.

use super::args::TilesCmd;
use super::out::line;
use crate::text::{self as t, fill};
use crate::tiles::{Downloader, ListSkipped, ListUse, Progress, Source, TileError, human_bytes};
use anyhow::{Context, Result, bail};
use ibasho_shared::Lang;
use ibasho_shared::map::{AreaSpec, Bbox, TilePack, Zooms};
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// Runs a `tiles` command against the pack in `home`.
pub(crate) fn run(home: &Path, cmd: &TilesCmd, lang: Lang) -> Result<()> {
    let path = crate::paths::tile_pack(home);
    match cmd {
        TilesCmd::Download {
            bbox,
            around,
            radius_km,
            zoom,
            url,
            attribution,
            name,
            estimate,
            no_list,
            list,
            rate,
        } => {
            let zooms: Zooms = zoom.parse().map_err(|e| anyhow::anyhow!("--{e}"))?;
            let (bbox, default_name) =
                area_of(home, bbox.as_deref(), around.as_deref(), *radius_km)?;
            let source = match url {
                Some(u) => {
                    crate::tiles::check_url(u, lang).map_err(|e| anyhow::anyhow!("--url: {e}"))?;
                    Source::choose(Some((u, attribution.as_deref().unwrap_or(""))), None)
                }
                None => crate::tiles::source_of(&mut super::open_home(home)?),
            };
            let spec = AreaSpec {
                name: name.clone().unwrap_or(default_name),
                bbox,
                zooms,
                url: source.url.clone(),
                attribution: source.attribution.clone(),
            };
            let mut pack = TilePack::open(&path)?;
            let downloader = Downloader::new(*rate);
            let plan = downloader
                .plan(
                    &pack,
                    spec,
                    match (no_list, list) {
                        (true, _) => ListUse::Never,
                        (_, true) => ListUse::Always,
                        _ => ListUse::Auto,
                    },
                )
                .map_err(|e| anyhow::anyhow!(e.message(lang)))?;
            line(&fill(
                if plan.exact {
                    t::TILES_PLAN_EXACT
                } else {
                    t::TILES_PLAN_ABOUT
                },
                lang,
                &[
                    ("tiles", &plan.tiles),
                    ("fetch", &plan.fetch.len()),
                    ("have", &plan.have),
                    ("absent", &plan.absent),
                    ("bytes", &human_bytes(plan.bytes)),
                    ("url", &plan.spec.url),
                ],
            ));
            match &plan.list_skipped {
                Some(ListSkipped::TooLarge(bytes)) => line(&fill(
                    t::TILES_LIST_TOO_LARGE,
                    lang,
                    &[("bytes", &human_bytes(*bytes))],
                )),
                Some(ListSkipped::Unreadable(why)) => {
                    line(&fill(t::TILES_LIST_UNREADABLE, lang, &[("why", why)]))
                }
                None => {}
            }
            if *estimate {
                return Ok(());
            }
            let mut shown = 0u64;
            let mut progress = |p: Progress| {
                let tenth = (p.done * 10).checked_div(p.of).unwrap_or(10);
                if p.done == p.of || tenth > shown {
                    shown = tenth;
                    eprintln!(
                        "{}",
                        fill(
                            t::TILES_PROGRESS,
                            lang,
                            &[
                                ("done", &p.done),
                                ("of", &p.of),
                                ("pct", &(p.done * 100).checked_div(p.of).unwrap_or(100)),
                                ("bytes", &human_bytes(p.bytes)),
                            ],
                        )
                    );
                }
            };
            let outcome = downloader
                .run(&mut pack, &plan, &mut progress, &AtomicBool::new(false))
                .map_err(|e: TileError| anyhow::anyhow!(e.message(lang)))?;
            line(&fill(
                t::TILES_DONE,
                lang,
                &[
                    ("fetched", &outcome.fetched),
                    ("absent", &outcome.absent),
                    ("bytes", &human_bytes(outcome.bytes)),
                    ("path", &path.display()),
                ],
            ));
            if outcome.damaged > 0 {
                bail!(fill(t::TILES_DAMAGED, lang, &[("n", &outcome.damaged)]));
            }
            Ok(())
        }
        TilesCmd::List { json } => {
            let areas = if path.exists() {
                TilePack::open(&path)?.areas()?
            } else {
                Vec::new()
            };
            if *json {
                let rows: Vec<serde_json::Value> = areas
                    .iter()
                    .map(|a| {
                        serde_json::json!({
                            "id": a.id,
                            "name": a.spec.name,
                            "bbox": [a.spec.bbox.south, a.spec.bbox.west, a.spec.bbox.north, a.spec.bbox.east],
                            "minzoom": a.spec.zooms.min,
                            "maxzoom": a.spec.zooms.max,
                            "url": a.spec.url,
                            "attribution": a.spec.attribution,
                            "created_at": a.created_at,
                            "complete": a.complete,
                            "tiles": a.tiles,
                            "bytes": a.bytes,
                        })
                    })
                    .collect();
                return super::print_json(&rows);
            }
            if areas.is_empty() {
                line(t::TILES_NONE.get(lang));
            }
            for a in areas {
                line(&format!(
                    "{}  {}  {}  z{}  {} {}  {}  {}",
                    a.id,
                    a.spec.name,
                    a.spec.bbox,
                    a.spec.zooms,
                    a.tiles,
                    t::TILES_UNIT.get(lang),
                    human_bytes(a.bytes),
                    if a.complete {
                        t::TILES_COMPLETE.get(lang)
                    } else {
                        t::TILES_PARTIAL.get(lang)
                    },
                ));
            }
            Ok(())
        }
        TilesCmd::Delete { id } => {
            if !path.exists() {
                bail!(fill(t::TILES_NO_AREA, lang, &[("id", id)]));
            }
            let removed = TilePack::open(&path)?.delete_area(*id)?;
            match removed {
                Some(n) => {
                    line(&fill(t::TILES_DELETED, lang, &[("id", id), ("n", &n)]));
                    Ok(())
                }
                None => bail!(fill(t::TILES_NO_AREA, lang, &[("id", id)])),
            }
        }
    }
}

/// The box to download: `--bbox`, or `--around` with `--radius-km`, or else the bulk of the
/// workspace's places; and a name for it.
fn area_of(
    home: &Path,
    bbox: Option<&str>,
    around: Option<&str>,
    radius_km: Option<f64>,
) -> Result<(Bbox, String)> {
    if let Some(b) = bbox {
        let bbox: Bbox = b.parse().map_err(|e| anyhow::anyhow!("--{e}"))?;
        return Ok((bbox, b.to_string()));
    }
    if let Some(a) = around {
        let (lat, lon) = a
            .split_once(',')
            .and_then(|(la, lo)| Some((la.trim().parse().ok()?, lo.trim().parse().ok()?)))
            .context("--around: expected LAT,LON, e.g. 35.4881,139.4075")?;
        let r = radius_km.context("--radius-km: needed with --around")?;
        let bbox = Bbox::around(lat, lon, r).map_err(|e| anyhow::anyhow!("--{e}"))?;
        return Ok((bbox, format!("{a} {r} km")));
    }
    let mut replica = super::open_home(home)?;
    let name = replica.workspace().map(|w| w.name).unwrap_or_default();
    let points: Vec<(f64, f64)> = replica
        .places(&Default::default())?
        .into_iter()
        .map(|h| (h.place.lat, h.place.lon))
        .collect();
    let Some((s, w, n, e)) = ibasho_shared::map::bulk::bulk_bounds(&points) else {
        bail!("--bbox or --around: this workspace has no places to take the area from");
    };
    // One place (or all at one spot) is a point: the area is a kilometre around it.
    let bbox = Bbox::new(s, w, n, e)
        .or_else(|_| Bbox::around((s + n) / 2.0, (w + e) / 2.0, 1.0))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((bbox, name))
}

//! Street maps to keep offline: which basemap source the map uses, and downloading an area of it
//! into the device's pack (`HOME/tiles.mbtiles`, see [`TilePack`]).
//!
//! A download is planned first — how many tiles, how many bytes — and refused above
//! [`MAX_AREA_TILES`]. It then fetches one tile at a time at a polite rate with a plain
//! User-Agent (no token, cookie or anything about the person), stores tiles in batches so an
//! interruption keeps what it finished, and resumes by fetching only what the pack lacks. Where the
//! source publishes a list of its tiles with their MD5s (GSI's `mokuroku.csv.gz`), the size is
//! exact, tiles the source does not have are not asked for, every tile is checked before it is
//! kept, and running the download again fetches only the tiles that changed.

use std::io::{BufReader, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ibasho_shared::Lang;
use ibasho_shared::map::listing::{Listing, listing_url, md5_hex, read_listing};
use ibasho_shared::map::{AreaSpec, MapError, TilePack, area, tile_count};

/// 国土地理院's standard map (標準地図): the default basemap.
pub const GSI_STD: &str = "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png";
/// 国土地理院's pale map (淡色地図), on which coloured pins read better.
pub const GSI_PALE: &str = "https://cyberjapandata.gsi.go.jp/xyz/pale/{z}/{x}/{y}.png";
/// The attribution GSI's terms require wherever its tiles are shown or printed.
pub const GSI_ATTRIBUTION: &str = "地理院タイル";
/// The largest area one download may be, in tiles (about 300 MB of GSI's standard map).
pub const MAX_AREA_TILES: u64 = 20_000;
/// Requests per second, unless told otherwise: polite to a public server.
pub const DEFAULT_RATE: f64 = 8.0;
/// Fastest rate a person may ask for.
pub const MAX_RATE: f64 = 50.0;
/// The User-Agent of every tile request: the app and its version, nothing about the person.
pub const USER_AGENT: &str = concat!("ibasho/", env!("CARGO_PKG_VERSION"), " (offline map areas)");
/// Bytes a tile is taken to be when the source lists no sizes.
const GUESS_TILE_BYTES: u64 = 15_000;
/// The largest tile accepted.
const MAX_TILE_BYTES: u64 = 4 << 20;
/// Tiles stored per transaction.
const BATCH: usize = 32;
/// The largest tile list read without being asked to (`ListUse::Auto`): GSI's list of the
/// standard map is far larger than any area worth saving, and is then left alone.
pub const MAX_AUTO_LIST_BYTES: u64 = 64 << 20;

/// Whether to read the source's list of its tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListUse {
    /// When it is at most [`MAX_AUTO_LIST_BYTES`]; a list that cannot be read is done without.
    Auto,
    /// Whatever its size; a list that cannot be read stops the download.
    Always,
    /// Never.
    Never,
}

/// Why a plan is without the source's list although the source may have one.
#[derive(Debug, Clone, PartialEq)]
pub enum ListSkipped {
    /// The list is larger than [`MAX_AUTO_LIST_BYTES`] (its size in bytes).
    TooLarge(u64),
    /// The list could not be read (why).
    Unreadable(String),
}

/// A basemap source: an XYZ URL template and the attribution to show with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// `https://…/{z}/{x}/{y}.png`.
    pub url: String,
    /// Shown on the map whenever its tiles are (e.g. 地理院タイル).
    pub attribution: String,
}

impl Source {
    /// GSI's standard map.
    pub fn gsi_std() -> Source {
        Source {
            url: GSI_STD.into(),
            attribution: GSI_ATTRIBUTION.into(),
        }
    }

    /// The source a person's setting, else the workspace's, else GSI's standard map names. A
    /// setting without an attribution of its own gets GSI's when it is a GSI URL, else its host.
    pub fn choose(person: Option<(&str, &str)>, workspace: Option<(&str, &str)>) -> Source {
        let Some((url, attribution)) = person
            .filter(|(u, _)| !u.trim().is_empty())
            .or(workspace.filter(|(u, _)| !u.trim().is_empty()))
        else {
            return Source::gsi_std();
        };
        let url = url.trim().to_string();
        let attribution = match attribution.trim() {
            "" if url.contains("cyberjapandata.gsi.go.jp") => GSI_ATTRIBUTION.to_string(),
            "" => url
                .split("://")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .unwrap_or(&url)
                .to_string(),
            a => a.to_string(),
        };
        Source { url, attribution }
    }
}

/// The source this device uses: the person's setting (`tile_url`, `tile_attribution`), else the
/// workspace's, else GSI's standard map.
pub fn source_of(replica: &mut ibasho_shared::Replica) -> Source {
    let setting = |k: &str| replica.setting(k).ok().flatten().unwrap_or_default();
    let (url, attribution) = (setting("tile_url"), setting("tile_attribution"));
    let workspace = replica.workspace().ok().and_then(|w| w.basemap);
    Source::choose(
        Some((url.as_str(), attribution.as_str())),
        workspace.as_ref().map(|(u, a)| (u.as_str(), a.as_str())),
    )
}

/// Why a URL template cannot be a basemap source, if it cannot: it must be http(s) and hold
/// `{z}`, `{x}` and `{y}`.
pub fn check_url(url: &str, lang: Lang) -> Result<(), String> {
    if ibasho_shared::map::tiles::is_url_template(url) {
        return Ok(());
    }
    Err(crate::text::TILE_URL_SCHEME.get(lang).to_string())
}

/// What went wrong with tiles, in words for a person.
#[derive(Debug, thiserror::Error)]
pub enum TileError {
    /// The area has more tiles than one download may.
    #[error(
        "the area has {tiles} tiles; at most {max} per download: choose a smaller area or fewer zooms"
    )]
    TooLarge {
        /// Tiles in the area.
        tiles: u64,
        /// The limit.
        max: u64,
    },
    /// The download stopped before the end; what was stored is kept.
    #[error("stopped after {done} of {of} tiles ({why}); run the same download again to resume")]
    Interrupted {
        /// Tiles handled.
        done: u64,
        /// Tiles planned.
        of: u64,
        /// Why.
        why: String,
    },
    /// The download was stopped by the person; what was stored is kept.
    #[error("stopped after {done} of {of} tiles; what was fetched is kept")]
    Stopped {
        /// Tiles handled.
        done: u64,
        /// Tiles planned.
        of: u64,
    },
    /// The area overlaps one saved from another source: one pack holds one source's tiles.
    #[error(
        "the area overlaps area {id}, saved from {url}; delete it first (ibasho tiles delete {id})"
    )]
    OtherSource {
        /// The saved area.
        id: i64,
        /// Its source.
        url: String,
    },
    /// The source's tile list could not be read.
    #[error("reading the tile list {url}: {why}")]
    Listing {
        /// Its URL.
        url: String,
        /// Why.
        why: String,
    },
    /// The pack could not be read or written.
    #[error(transparent)]
    Pack(#[from] MapError),
}

impl TileError {
    /// The error in the person's language.
    pub fn message(&self, lang: Lang) -> String {
        use crate::text::{self as t, fill};
        match self {
            TileError::TooLarge { tiles, max } => {
                fill(t::TILES_TOO_LARGE, lang, &[("tiles", tiles), ("max", max)])
            }
            TileError::Interrupted { done, of, why } => fill(
                t::TILES_INTERRUPTED,
                lang,
                &[("done", done), ("of", of), ("why", why)],
            ),
            TileError::Stopped { done, of } => {
                fill(t::TILES_STOPPED, lang, &[("done", done), ("of", of)])
            }
            TileError::OtherSource { id, url } => {
                fill(t::TILES_OTHER_SOURCE, lang, &[("id", id), ("url", url)])
            }
            TileError::Listing { url, why } => {
                fill(t::TILES_LISTING, lang, &[("url", url), ("why", why)])
            }
            TileError::Pack(e) => e.message(lang),
        }
    }
}

/// A download worked out before it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The area.
    pub spec: AreaSpec,
    /// Tiles of the area.
    pub tiles: u64,
    /// Tiles the source's list says it does not have (not asked for).
    pub absent: u64,
    /// Tiles the pack already holds as the source has them.
    pub have: u64,
    /// Tiles to fetch, in order.
    pub fetch: Vec<(u8, u32, u32)>,
    /// Bytes to fetch: exact when `exact`, else an estimate.
    pub bytes: u64,
    /// Whether `bytes` comes from the source's list.
    pub exact: bool,
    /// Why the source's list was not used, when it has one but was left alone.
    pub list_skipped: Option<ListSkipped>,
    listing: Option<Listing>,
}

/// How far a download has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Tiles handled (fetched, absent at the source or refused as damaged).
    pub done: u64,
    /// Tiles to handle.
    pub of: u64,
    /// Bytes received.
    pub bytes: u64,
}

/// What a finished download did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Tiles fetched and stored.
    pub fetched: u64,
    /// Tiles the source did not have (404).
    pub absent: u64,
    /// Tiles received twice with bytes that did not match the list (or were not an image), and
    /// not kept.
    pub damaged: u64,
    /// Bytes stored.
    pub bytes: u64,
}

/// Fetches tiles over HTTP(S), one at a time, at a set rate.
#[derive(Debug, Clone)]
pub struct Downloader {
    agent: ureq::Agent,
    /// For the source's list, which may stream for minutes: no overall time limit.
    list_agent: ureq::Agent,
    rate: f64,
}

impl Downloader {
    /// A downloader making at most `rate` requests a second (clamped to 0.5..=[`MAX_RATE`]; a
    /// rate that is not a number is the default).
    pub fn new(rate: f64) -> Downloader {
        let config = |global: Option<Duration>| -> ureq::Agent {
            ureq::Agent::config_builder()
                .timeout_global(global)
                .timeout_connect(Some(Duration::from_secs(15)))
                .timeout_recv_response(Some(Duration::from_secs(30)))
                .http_status_as_error(false)
                .user_agent(USER_AGENT)
                .build()
                .into()
        };
        let rate = if rate.is_finite() { rate } else { DEFAULT_RATE };
        Downloader {
            agent: config(Some(Duration::from_secs(60))),
            list_agent: config(None),
            rate: rate.clamp(0.5, MAX_RATE),
        }
    }

    /// Works out a download: refuses an area above [`MAX_AREA_TILES`] or overlapping one saved
    /// from another source, reads the source's list when it has one (as `list` says), and leaves
    /// out what the pack already holds as the list has it (any stored tile, without a list).
    pub fn plan(&self, pack: &TilePack, spec: AreaSpec, list: ListUse) -> Result<Plan, TileError> {
        let tiles = tile_count(&spec.bbox, spec.zooms);
        if tiles > MAX_AREA_TILES {
            return Err(TileError::TooLarge {
                tiles,
                max: MAX_AREA_TILES,
            });
        }
        if let Some(other) = pack.areas()?.into_iter().find(|a| {
            a.spec.url != spec.url
                && a.spec.bbox.intersects(&spec.bbox)
                && a.spec.zooms.min <= spec.zooms.max
                && spec.zooms.min <= a.spec.zooms.max
        }) {
            return Err(TileError::OtherSource {
                id: other.id,
                url: other.spec.url,
            });
        }
        let mut list_skipped = None;
        let listing = match listing_url(&spec.url).filter(|_| list != ListUse::Never) {
            Some(url) => match self.listing(&url, &spec, list) {
                Ok(Ok(listing)) => listing,
                Ok(Err(skipped)) => {
                    list_skipped = Some(skipped);
                    None
                }
                Err(e) if list == ListUse::Always => return Err(e),
                Err(e) => {
                    list_skipped = Some(ListSkipped::Unreadable(match e {
                        TileError::Listing { why, .. } => why,
                        other => other.to_string(),
                    }));
                    None
                }
            },
            None => None,
        };
        let (mut absent, mut have, mut bytes) = (0u64, 0u64, 0u64);
        let mut fetch = Vec::new();
        for (z, x, y) in area::tiles_of(&spec.bbox, spec.zooms) {
            match listing.as_ref().map(|l| l.get(&(z, x, y))) {
                Some(None) => absent += 1,
                Some(Some(listed))
                    if pack.stored_md5(z, x, y)?.as_deref() == Some(listed.md5.as_str()) =>
                {
                    have += 1
                }
                Some(Some(listed)) => {
                    bytes += listed.size;
                    fetch.push((z, x, y));
                }
                // Without a list there is nothing to compare a stored tile with: having it is
                // enough, and its bytes are not read.
                None if pack.has_tile(z, x, y)? => have += 1,
                None => {
                    bytes += GUESS_TILE_BYTES;
                    fetch.push((z, x, y));
                }
            }
        }
        Ok(Plan {
            spec,
            tiles,
            absent,
            have,
            fetch,
            bytes,
            exact: listing.is_some(),
            list_skipped,
            listing,
        })
    }

    /// The source's list, kept to the area's tiles; `None` when the source has none (404), or
    /// why it was left alone (too large for `ListUse::Auto`).
    fn listing(
        &self,
        url: &str,
        spec: &AreaSpec,
        list: ListUse,
    ) -> Result<Result<Option<Listing>, ListSkipped>, TileError> {
        let fail = |why: String| TileError::Listing {
            url: url.to_string(),
            why,
        };
        let mut resp = self
            .list_agent
            .get(url)
            .call()
            .map_err(|e| fail(e.to_string()))?;
        match resp.status().as_u16() {
            200 => {}
            404 | 403 | 410 => return Ok(Ok(None)),
            code => return Err(fail(format!("HTTP {code}"))),
        }
        let size = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if let Some(size) = size.filter(|s| list == ListUse::Auto && *s > MAX_AUTO_LIST_BYTES) {
            return Ok(Err(ListSkipped::TooLarge(size)));
        }
        let body = resp.body_mut().as_reader();
        let reader: Box<dyn Read> = if url.ends_with(".gz") {
            Box::new(flate2::read::GzDecoder::new(body))
        } else {
            Box::new(body)
        };
        let (bbox, zooms) = (spec.bbox, spec.zooms);
        read_listing(BufReader::new(reader), |z, x, y| {
            area::holds(&bbox, zooms, z, x, y)
        })
        .map(|l| Ok(Some(l)))
        .map_err(|e| fail(e.to_string()))
    }

    /// Fetches the plan's tiles into the pack, telling `progress` after each, until done or
    /// `stop` is set. The area is recorded first, so `tiles list` shows an unfinished one; it is
    /// marked complete when every tile was handled and none was damaged.
    pub fn run(
        &self,
        pack: &mut TilePack,
        plan: &Plan,
        progress: &mut dyn FnMut(Progress),
        stop: &AtomicBool,
    ) -> Result<Outcome, TileError> {
        let id = pack.add_area(&plan.spec)?;
        pack.mark_complete(id, false)?;
        let of = plan.fetch.len() as u64;
        let mut outcome = Outcome::default();
        let mut batch: Vec<(u8, u32, u32, Vec<u8>)> = Vec::new();
        let mut received = 0u64;
        let gap = Duration::from_secs_f64(1.0 / self.rate);
        // The earliest time of the next request: after a stall the pace stays the same, with no
        // burst to make up for it.
        let mut next = Instant::now();
        progress(Progress {
            done: 0,
            of,
            bytes: 0,
        });
        for (i, &(z, x, y)) in plan.fetch.iter().enumerate() {
            let interrupted = |why: Option<String>, batch: &mut Vec<_>, pack: &mut TilePack| {
                pack.put(batch)?;
                batch.clear();
                let done = i as u64;
                Err(match why {
                    Some(why) => TileError::Interrupted { done, of, why },
                    None => TileError::Stopped { done, of },
                })
            };
            if stop.load(Ordering::Relaxed) {
                return interrupted(None, &mut batch, pack);
            }
            let listed = plan.listing.as_ref().and_then(|l| l.get(&(z, x, y)));
            let url = plan
                .spec
                .url
                .replace("{z}", &z.to_string())
                .replace("{x}", &x.to_string())
                .replace("{y}", &y.to_string());
            match self.fetch_checked(&url, listed.map(|l| l.md5.as_str()), gap, &mut next) {
                Ok(Fetched::Tile(bytes)) => {
                    received += bytes.len() as u64;
                    outcome.fetched += 1;
                    outcome.bytes += bytes.len() as u64;
                    batch.push((z, x, y, bytes));
                }
                Ok(Fetched::Absent) => outcome.absent += 1,
                Ok(Fetched::Damaged) => outcome.damaged += 1,
                Err(why) => return interrupted(Some(why), &mut batch, pack),
            }
            if batch.len() >= BATCH {
                pack.put(&batch)?;
                batch.clear();
            }
            progress(Progress {
                done: i as u64 + 1,
                of,
                bytes: received,
            });
        }
        pack.put(&batch)?;
        pack.mark_complete(id, outcome.damaged == 0)?;
        Ok(outcome)
    }

    /// One tile: retried on a server error or a failed connection (three tries, backing off),
    /// fetched a second time when its bytes do not match the list (or, without one, are not an
    /// image), and never returned damaged. Every request waits for its turn at the rate.
    fn fetch_checked(
        &self,
        url: &str,
        md5: Option<&str>,
        gap: Duration,
        next: &mut Instant,
    ) -> Result<Fetched, String> {
        let mut last = String::new();
        let mut mismatches = 0;
        for attempt in 0..4u32 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(250 * 2u64.pow(attempt)));
            }
            let now = Instant::now();
            if let Some(wait) = next.checked_duration_since(now) {
                std::thread::sleep(wait);
            }
            *next = (*next).max(now) + gap;
            match self.fetch(url) {
                Ok(Some(bytes)) => {
                    let sound = match md5 {
                        Some(want) => md5_hex(&bytes) == want,
                        None => is_image(&bytes),
                    };
                    if sound {
                        return Ok(Fetched::Tile(bytes));
                    }
                    mismatches += 1;
                    if mismatches == 2 {
                        return Ok(Fetched::Damaged);
                    }
                }
                Ok(None) => return Ok(Fetched::Absent),
                Err(why) => last = why,
            }
        }
        Err(last)
    }

    fn fetch(&self, url: &str) -> Result<Option<Vec<u8>>, String> {
        let mut resp = self.agent.get(url).call().map_err(|e| e.to_string())?;
        match resp.status().as_u16() {
            200 => resp
                .body_mut()
                .with_config()
                .limit(MAX_TILE_BYTES)
                .read_to_vec()
                .map(Some)
                .map_err(|e| e.to_string()),
            404 | 204 => Ok(None),
            code => Err(format!("HTTP {code} for {url}")),
        }
    }
}

enum Fetched {
    Tile(Vec<u8>),
    Absent,
    Damaged,
}

/// Whether bytes start as a PNG, JPEG or WebP image does.
fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x89PNG\r\n\x1a\n")
        || bytes.starts_with(&[0xff, 0xd8, 0xff])
        || (bytes.len() > 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP")
}

/// A byte count for people: `12.3 MB`.
pub fn human_bytes(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / f64::from(1u32 << 30)),
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1u32 << 20)),
        b => format!("{:.0} KB", (b as f64 / 1024.0).ceil()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_person_s_source_comes_before_the_workspace_s_and_gsi_is_the_default() {
        assert_eq!(Source::choose(None, None), Source::gsi_std());
        let ws = Some((GSI_PALE, ""));
        assert_eq!(
            Source::choose(None, ws),
            Source {
                url: GSI_PALE.into(),
                attribution: GSI_ATTRIBUTION.into()
            }
        );
        let mine = Source::choose(Some(("https://t.example.org/{z}/{x}/{y}.png", "")), ws);
        assert_eq!(mine.attribution, "t.example.org");
        let blank = Source::choose(Some(("  ", "")), ws);
        assert_eq!(blank.url, GSI_PALE);
    }

    #[test]
    fn a_source_url_needs_a_scheme_and_the_three_holes() {
        assert!(check_url(GSI_STD, Lang::Ja).is_ok());
        assert!(check_url("ftp://t/{z}/{x}/{y}.png", Lang::Ja).is_err());
        assert!(check_url("https://t/{z}/{x}.png", Lang::En).is_err());
    }

    #[test]
    fn an_area_beyond_the_limit_is_refused_before_anything_is_fetched() {
        let dir = tempfile::tempdir().unwrap();
        let pack = TilePack::open(dir.path().join("t.mbtiles")).unwrap();
        let spec = AreaSpec {
            name: "big".into(),
            bbox: "34,138,36,140".parse().unwrap(),
            zooms: "10-17".parse().unwrap(),
            // Nothing listens here: the refusal must come first.
            url: "http://127.0.0.1:9/{z}/{x}/{y}.png".into(),
            attribution: String::new(),
        };
        let err = Downloader::new(8.0)
            .plan(&pack, spec, ListUse::Auto)
            .unwrap_err();
        assert!(matches!(
            err,
            TileError::TooLarge {
                max: MAX_AREA_TILES,
                ..
            }
        ));
        assert!(err.message(Lang::Ja).contains("20000"));
    }
}

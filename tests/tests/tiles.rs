//! Offline map areas through the real `ibasho` binary against a tile server on 127.0.0.1 that
//! serves generated PNG tiles and a GSI-style list of them (`mokuroku.csv.gz`).

use ibasho_shared::map::{Bbox, Zooms, tile_count, tiles_of};
use ibasho_tests::Device;
use ibasho_tests::tile_server::TileServer;
use rusqlite::Connection;
use std::collections::{BTreeSet, HashMap};

const BBOX: &str = "35.470,139.380,35.500,139.430";
const ZOOM: &str = "12-16";

fn area() -> Vec<(u8, u32, u32)> {
    let bbox: Bbox = BBOX.parse().unwrap();
    let zooms: Zooms = ZOOM.parse().unwrap();
    tiles_of(&bbox, zooms).collect()
}

/// The pack's tiles as XYZ addresses with their bytes, read straight from the MBTiles file (TMS
/// rows flipped back).
fn pack_tiles(device: &Device) -> HashMap<(u8, u32, u32), Vec<u8>> {
    let conn = Connection::open(device.home.path().join("tiles.mbtiles")).unwrap();
    let mut stmt = conn
        .prepare("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles")
        .unwrap();
    stmt.query_map([], |r| {
        let z: u8 = r.get(0)?;
        let row: u32 = r.get(2)?;
        Ok(((z, r.get(1)?, (1u32 << z) - 1 - row), r.get(3)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn download(device: &Device, server: &TileServer, extra: &[&str]) -> std::process::Output {
    let url = server.url();
    let mut args = vec![
        "tiles",
        "download",
        "--bbox",
        BBOX,
        "--zoom",
        ZOOM,
        "--url",
        &url,
        "--attribution",
        "テスト地図",
        "--rate",
        "50",
    ];
    args.extend_from_slice(extra);
    device.run(&args)
}

#[test]
fn an_area_downloads_exactly_resumes_after_an_interruption_and_refreshes_only_what_changed() {
    let tiles = area();
    assert!(tiles.len() > 20, "a test area of several zooms");
    // Two tiles of the area are sea: the source has none. A tile beyond the area exists too.
    let sea: BTreeSet<_> = tiles[tiles.len() - 2..].iter().copied().collect();
    let beyond = (16, tiles[0].1 + 400, tiles[0].2);
    let held: Vec<_> = tiles
        .iter()
        .copied()
        .filter(|t| !sea.contains(t))
        .chain([beyond])
        .collect();
    let server = TileServer::start(held);
    let device = Device::new();

    // The estimate is exact from the list and fetches nothing.
    let out = download(&device, &server, &["--estimate"]);
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    let wanted = tiles.len() - sea.len();
    assert!(
        said.contains(&format!(
            "{} tiles in the area: {wanted} to fetch",
            tiles.len()
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!("{} not at the source", sea.len())),
        "{said}"
    );
    assert!(server.tiles_requested().is_empty());

    // The source stops answering after 10 tiles; one tile arrives damaged once.
    let damaged = tiles[12];
    server.damage(damaged, 1);
    server.fail_after(Some(10));
    let out = download(&device, &server, &[]);
    assert!(!out.status.success(), "an interrupted download fails");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Stopped after 10 of"), "{err}");
    assert!(
        err.contains("run the same download again to resume"),
        "{err}"
    );
    assert_eq!(pack_tiles(&device).len(), 10, "what finished is kept");
    let listed = device.json(&["tiles", "list", "--json"]);
    assert_eq!(listed[0]["complete"], false);

    // Resumed: only the tiles still missing are asked for, and the pack holds exactly the area.
    server.fail_after(None);
    let before = server.tiles_requested().len();
    let out = download(&device, &server, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(
        progress.contains(&format!("{0}/{0} tiles (100%)", wanted - 10)),
        "{progress}"
    );
    let asked: Vec<_> = server.tiles_requested()[before..].to_vec();
    let stored = pack_tiles(&device);
    assert_eq!(
        asked.iter().filter(|t| **t != damaged).count(),
        wanted - 10 - usize::from(asked.contains(&damaged)),
        "no tile fetched twice except the damaged one"
    );
    let expected: BTreeSet<_> = tiles.iter().copied().filter(|t| !sea.contains(t)).collect();
    assert_eq!(stored.keys().copied().collect::<BTreeSet<_>>(), expected);
    for (tile, bytes) in &stored {
        assert_eq!(
            Some(bytes),
            server.bytes_of(*tile).as_ref(),
            "{tile:?} as the source has it"
        );
    }
    assert!(!server.tiles_requested().contains(&beyond));
    assert!(
        sea.iter().all(|t| !server.tiles_requested().contains(t)),
        "sea tiles not asked for"
    );

    // The pack is MBTiles 1.3 with its metadata.
    let conn = Connection::open(device.home.path().join("tiles.mbtiles")).unwrap();
    let meta: HashMap<String, String> = conn
        .prepare("SELECT name, value FROM metadata")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(meta["format"], "png");
    assert_eq!(meta["minzoom"], "12");
    assert_eq!(meta["maxzoom"], "16");
    assert_eq!(meta["attribution"], "テスト地図");
    assert_eq!(meta["bounds"], "139.380000,35.470000,139.430000,35.500000");
    assert!(meta.contains_key("name"));

    // A tile changes at the source: running the download again fetches only it.
    let changed = tiles[5];
    server.change(changed);
    let before = server.tiles_requested().len();
    let out = download(&device, &server, &[]);
    assert!(out.status.success());
    assert_eq!(server.tiles_requested()[before..], [changed]);
    assert_eq!(
        pack_tiles(&device)[&changed],
        server.bytes_of(changed).unwrap()
    );

    // Tile requests carry nothing about the person: no token, no cookie, a plain User-Agent.
    for seen in server.seen() {
        assert!(!seen.headers.contains_key("authorization"), "{seen:?}");
        assert!(!seen.headers.contains_key("cookie"), "{seen:?}");
        assert!(
            seen.headers["user-agent"].starts_with("ibasho/"),
            "{seen:?}"
        );
    }

    let listed = device.json(&["tiles", "list", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["complete"], true);
    assert_eq!(listed[0]["tiles"], expected.len());
    device.ok(&["tiles", "delete", "1"]);
    assert!(pack_tiles(&device).is_empty());
    assert!(
        device
            .fails(&["tiles", "delete", "1"])
            .contains("No area 1")
    );
}

#[test]
fn a_download_too_large_or_malformed_is_refused_before_any_request() {
    let server = TileServer::start([]);
    let device = Device::new();
    let url = server.url();
    let err = device.fails(&[
        "tiles",
        "download",
        "--around",
        "35.48,139.40",
        "--radius-km",
        "30",
        "--zoom",
        "10-17",
        "--url",
        &url,
    ]);
    assert!(err.contains("at most 20000 per download"), "{err}");
    let bbox: Bbox = Bbox::around(35.48, 139.40, 30.0).unwrap();
    assert!(err.contains(&tile_count(&bbox, "10-17".parse().unwrap()).to_string()));
    let err = device.fails(&[
        "tiles",
        "download",
        "--bbox",
        "35.5,139.4,35.4,139.5",
        "--url",
        &url,
    ]);
    assert!(err.contains("south must be below north"), "{err}");
    let err = device.fails(&[
        "tiles", "download", "--bbox", BBOX, "--zoom", "15-12", "--url", &url,
    ]);
    assert!(err.contains("zoom"), "{err}");
    let err = device.fails(&[
        "tiles",
        "download",
        "--bbox",
        BBOX,
        "--url",
        "ftp://x/{z}/{x}/{y}",
    ]);
    assert!(err.contains("--url"), "{err}");
    let err = device.fails(&[
        "tiles", "download", "--bbox", BBOX, "--url", &url, "--rate", "NaN",
    ]);
    assert!(err.contains("--rate"), "{err}");
    let err = device.fails(&[
        "tiles",
        "download",
        "--around",
        "89,0",
        "--radius-km",
        "1",
        "--url",
        &url,
    ]);
    assert!(err.contains("around"), "{err}");
    assert!(server.seen().is_empty(), "nothing was asked of the source");
    assert!(!device.home.path().join("tiles.mbtiles").exists() || pack_tiles(&device).is_empty());
}

#[test]
fn without_an_area_the_download_covers_the_workspace_s_places() {
    let device = Device::new();
    device.ok(&["demo", "--places", "40"]);
    let server = TileServer::start([]);
    let url = server.url();
    let out = device.ok(&[
        "tiles",
        "download",
        "--zoom",
        "11",
        "--url",
        &url,
        "--estimate",
        "--no-list",
    ]);
    // The demo city fits a few zoom-11 tiles; the estimate names them, approximately sized.
    assert!(out.contains("tiles in the area"), "{out}");
    assert!(out.contains("about"), "{out}");
    assert!(server.seen().is_empty());
}

#[test]
fn without_a_list_a_tile_that_is_not_an_image_is_fetched_again_or_not_kept() {
    let tiles = area();
    let server = TileServer::start(tiles.iter().copied());
    let device = Device::new();
    let (healed, refused) = (tiles[3], tiles[7]);
    server.damage(healed, 1);
    server.damage(refused, 2);
    let out = download(&device, &server, &["--no-list"]);
    assert!(
        !out.status.success(),
        "a tile that never arrived sound is reported"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1 tiles did not match"), "{err}");
    let stored = pack_tiles(&device);
    assert_eq!(
        stored[&healed],
        server.bytes_of(healed).unwrap(),
        "the second try was kept"
    );
    assert!(
        !stored.contains_key(&refused),
        "a damaged tile is never kept"
    );
    assert_eq!(stored.len(), tiles.len() - 1);
    assert_eq!(
        device.json(&["tiles", "list", "--json"])[0]["complete"],
        false
    );
    // Run again: only the missing tile is asked for, and the area is complete.
    let before = server.tiles_requested().len();
    assert!(download(&device, &server, &["--no-list"]).status.success());
    assert_eq!(server.tiles_requested()[before..], [refused]);
    assert_eq!(
        device.json(&["tiles", "list", "--json"])[0]["complete"],
        true
    );

    // An overlapping area from another source is refused: a device keeps one map's tiles.
    let other = TileServer::start(tiles.iter().copied());
    let url = other.url();
    let err = device.fails(&[
        "tiles", "download", "--bbox", BBOX, "--zoom", "14", "--url", &url,
    ]);
    assert!(err.contains("overlaps area 1"), "{err}");
    assert!(other.seen().is_empty());
}

#[test]
fn a_coordinator_sets_the_basemap_for_everyone_and_a_bad_url_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let server = ibasho_tests::Server::start(&data);
    let ws = server.admin(&["workspace", "create", "--name", "座間市PF"]);
    let tiles = TileServer::start([]);
    let url = tiles.url();
    server.admin(&[
        "workspace",
        "set",
        "--workspace",
        &ws,
        "--basemap-url",
        &url,
        "--basemap-attribution",
        "テスト地図",
    ]);
    let refused = std::process::Command::new(ibasho_tests::bin("ibasho-sync-server"))
        .arg("--data")
        .arg(&data)
        .args([
            "workspace",
            "set",
            "--workspace",
            &ws,
            "--basemap-url",
            "ftp://x/{z}/{x}/{y}.png",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("--basemap-url"), "{said}");

    // A device that joins uses the workspace's basemap, not the default nor the refused one.
    let device = server.join(&ws, "member", None, "鈴木");
    let plan = device.ok(&[
        "tiles",
        "download",
        "--bbox",
        BBOX,
        "--zoom",
        "12",
        "--estimate",
        "--no-list",
    ]);
    assert!(plan.contains(&url), "{plan}");
    assert!(
        tiles.seen().is_empty(),
        "an estimate without a list asks the source nothing"
    );
}

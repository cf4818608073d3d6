//! The real app window under Xvfb: launched on a demo replica, clicked with xdotool (add a place on
//! the map, type its name, save), checked through the replica, and photographed: map, place form,
//! list, visit form, sync bar; and the map drawn from a saved area once its tile server is gone.
//! Screenshots go to `target/screenshots/`.

use ibasho_tests::{Device, Server, bin};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn tool(name: &str) -> String {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{name} is missing: scripts/test installs it (Debian: xvfb xdotool imagemagick fonts-noto-cjk)"
    );
    name.to_string()
}

struct Display {
    xvfb: Child,
    name: String,
}

impl Display {
    /// Starts Xvfb on a display number it picks itself (`-displayfd`), and returns once the server
    /// says it accepts connections: no guessing at free numbers, no fixed sleep.
    fn start() -> Display {
        use std::io::BufRead;
        let mut xvfb = Command::new(tool("Xvfb"))
            .args([
                "-displayfd",
                "1",
                // Without it the server resets whenever its last client leaves: an `xdotool`
                // call ending just as the app connects would make the app fail to start.
                "-noreset",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(xvfb.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let number = line.trim();
        assert!(
            !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()),
            "Xvfb did not start (it wrote {line:?})"
        );
        Display {
            name: format!(":{number}"),
            xvfb,
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: Xvfb then removes its lock file and socket.
        let _ = Command::new("kill")
            .args(["-TERM", &self.xvfb.id().to_string()])
            .status();
        let _ = self.xvfb.wait();
    }
}

fn x(display: &Display, program: &str, args: &[&str]) -> String {
    let out = Command::new(tool(program))
        .args(args)
        .env("DISPLAY", &display.name)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn shot(display: &Display, dir: &Path, name: &str, crop: Option<&str>) -> PathBuf {
    let path = dir.join(format!("{name}.png"));
    let mut args = vec!["-window", "root"];
    if let Some(c) = crop {
        args.extend(["-crop", c]);
    }
    let p = path.to_string_lossy().to_string();
    args.push(&p);
    x(display, "import", &args);
    assert!(path.exists(), "screenshot {name}");
    path
}

fn key(display: &Display, keys: &str) {
    x(display, "xdotool", &["key", "--clearmodifiers", keys]);
    std::thread::sleep(Duration::from_millis(700));
}

/// Starts the app window on `device`'s replica; returns it and its X window id once it shows.
fn open_app(display: &Display, device: &Device) -> (Child, String) {
    let app_log = device.home.path().join("app.log");
    let mut app = Command::new(bin("ibasho"))
        .arg("--home")
        .arg(device.home.path())
        .arg("app")
        .env("DISPLAY", &display.name)
        .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&app_log).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let id = x(display, "xdotool", &["search", "--name", "ibasho"]);
        if let Some(id) = id.lines().last().filter(|l| !l.is_empty()) {
            return (app, id.to_string());
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the window never appeared"
        );
        if let Some(status) = app.try_wait().unwrap() {
            panic!(
                "the app exited early ({status}) on display {}; its log:\n{}",
                display.name,
                std::fs::read_to_string(&app_log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn add_a_place_on_the_map_and_photograph_every_screen() {
    let device = Device::new();
    device.ok(&["demo", "--places", "120"]);
    let before = device
        .json(&["place", "list", "--json"])
        .as_array()
        .unwrap()
        .len();
    let display = Display::start();
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    let (mut app, window) = open_app(&display, &device);
    x(&display, "xdotool", &["windowmove", &window, "0", "0"]);
    x(&display, "xdotool", &["windowsize", &window, "1100", "760"]);
    std::thread::sleep(Duration::from_secs(4));
    shot(&display, &shots, "map", None);
    shot(&display, &shots, "sync-bar", Some("1100x90+0+0"));
    // Zoom out with the "−" button (top right of the map) to the whole of Japan: the bundled
    // basemap, no tiles needed.
    for _ in 0..7 {
        x(
            &display,
            "xdotool",
            &[
                "mousemove",
                "--window",
                &window,
                "1068",
                "157",
                "click",
                "1",
            ],
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(Duration::from_millis(800));
    shot(&display, &shots, "map-japan", None);
    x(
        &display,
        "xdotool",
        &[
            "mousemove",
            "--window",
            &window,
            "1068",
            "204",
            "click",
            "1",
        ],
    );
    std::thread::sleep(Duration::from_millis(800));

    // Click an empty spot of the map (bottom left, away from the city's pins) to add a place there.
    x(
        &display,
        "xdotool",
        &["mousemove", "--window", &window, "60", "600", "click", "1"],
    );
    std::thread::sleep(Duration::from_millis(1200));
    x(
        &display,
        "xdotool",
        &["type", "--delay", "40", "Xvfb test cafe"],
    );
    std::thread::sleep(Duration::from_millis(500));
    shot(&display, &shots, "place-form", None);
    key(&display, "Return");
    std::thread::sleep(Duration::from_secs(1));

    let start = Instant::now();
    loop {
        let found = device.json(&["place", "list", "--json", "--search", "Xvfb test cafe"]);
        if found.as_array().unwrap().len() == 1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the place saved in the window is not in the replica"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(
        device
            .json(&["place", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        before + 1
    );
    shot(&display, &shots, "place-saved", None);

    key(&display, "alt+2");
    shot(&display, &shots, "list", None);
    key(&display, "alt+n");
    shot(&display, &shots, "visit-form", None);
    key(&display, "alt+4");
    shot(&display, &shots, "directory", None);

    // Phone width: 360 px.
    x(&display, "xdotool", &["windowsize", &window, "360", "740"]);
    key(&display, "alt+1");
    shot(&display, &shots, "phone-map", Some("360x740+0+0"));
    key(&display, "alt+2");
    shot(&display, &shots, "phone-list", Some("360x740+0+0"));

    let _ = app.kill();
    let _ = app.wait();
    eprintln!("screenshots in {}", shots.display());
}

#[test]
fn without_a_display_the_app_says_what_is_missing_and_changes_nothing() {
    let device = Device::new();
    device.ok(&["demo", "--places", "5"]);
    let before = device.replica_bytes();
    let out = Command::new(bin("ibasho"))
        .arg("--home")
        .arg(device.home.path())
        .args(["--lang", "en", "app"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a clear error, not a crash");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("DISPLAY") && err.contains("xvfb-run"),
        "the error names what is missing: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(device.replica_bytes(), before);
}

/// Waits up to `secs` seconds for `done`.
fn within(secs: u64, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(secs), "{what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A joined device's window stays connected: another device's place arrives as the server pushes
/// it, a place added on this device (here by the command line, beside the window) reaches the
/// other device, and while nothing happens nothing is sent either way.
#[test]
fn the_app_stays_connected_and_is_quiet_when_nothing_happens() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let ws = server.admin(&["workspace", "create", "--name", "座間市PF"]);
    let here = server.join(&ws, "coordinator", None, "佐藤");
    let there = server.join(&ws, "coordinator", None, "鈴木");
    let display = Display::start();
    let (mut app, _window) = open_app(&display, &here);
    within(60, "the window never connected", || {
        server.metric("ibasho_connections") == 1
    });

    let names = |device: &Device| -> Vec<String> {
        device
            .json(&["place", "list", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    there.add_place("遠くのカフェ");
    there.sync();
    within(
        10,
        "the other device's place was not pushed to the window",
        || names(&here).contains(&"遠くのカフェ".to_string()),
    );
    here.add_place("窓の端末のカフェ");
    within(
        20,
        "the place added beside the window did not reach the server",
        || {
            there.sync();
            names(&there).contains(&"窓の端末のカフェ".to_string())
        },
    );

    std::thread::sleep(Duration::from_secs(3));
    let frames = || {
        server.metric("ibasho_frames_received_total") + server.metric("ibasho_frames_sent_total")
    };
    let before = frames();
    std::thread::sleep(Duration::from_secs(20));
    assert_eq!(
        frames(),
        before,
        "frames went back and forth while nothing happened"
    );
    assert_eq!(server.metric("ibasho_connections"), 1, "still connected");
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    shot(&display, &shots, "sync-live", None);

    let _ = app.kill();
    let _ = app.wait();
}

/// Pixels of `rgb` in a screenshot.
fn count_pixels(path: &Path, rgb: [u8; 3]) -> usize {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    buf[..info.buffer_size()]
        .chunks(step)
        .filter(|p| p[..3] == rgb)
        .count()
}

#[test]
fn an_area_saved_from_a_tile_server_is_drawn_after_the_server_is_gone() {
    use ibasho_tests::tile_server::TileServer;
    let device = Device::new();
    device.ok(&["demo", "--places", "120"]);
    // Every tile of the demo city's area from zoom 11 to 15, served from 127.0.0.1.
    let places = device.json(&["place", "list", "--json"]);
    let points: Vec<(f64, f64)> = places
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["lat"].as_f64().unwrap(), p["lon"].as_f64().unwrap()))
        .collect();
    let (s, w, n, e) = ibasho_shared::map::bulk::bulk_bounds(&points).unwrap();
    let bbox = ibasho_shared::map::Bbox::new(s, w, n, e).unwrap();
    let tiles: Vec<_> = ibasho_shared::map::tiles_of(&bbox, "11-15".parse().unwrap()).collect();
    let server = TileServer::start(tiles.iter().copied());
    let url = server.url();
    device.ok(&[
        "tiles",
        "download",
        "--zoom",
        "11-15",
        "--url",
        &url,
        "--attribution",
        "テスト地図",
        "--rate",
        "50",
    ]);
    assert_eq!(server.tiles_requested().len(), tiles.len());
    drop(server);

    let display = Display::start();
    let (mut app, _window) = open_app(&display, &device);
    std::thread::sleep(Duration::from_secs(8));
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let path = shot(&display, &shots, "map-offline-pack", None);
    let _ = app.kill();
    let _ = app.wait();
    // The test tiles' borders are drawn in rgb(120, 120, 130), a colour nothing else on the map
    // uses: many of them mean the tiles are under the pins.
    let borders = count_pixels(&path, [120, 120, 130]);
    assert!(
        borders > 2000,
        "tile borders on the screen: {borders} pixels ({})",
        path.display()
    );
}

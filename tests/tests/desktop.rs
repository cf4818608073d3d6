//! The real app window under Xvfb: launched on a demo replica, clicked with xdotool (add a place on
//! the map, type its name, save), checked through the replica, and photographed: map, place form,
//! list, visit form, sync bar. Screenshots go to `target/screenshots/`.

use ibasho_tests::{Device, bin};
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
    fn start() -> Display {
        let xvfb = tool("Xvfb");
        for n in 90..130 {
            if Path::new(&format!("/tmp/.X{n}-lock")).exists() {
                continue;
            }
            let name = format!(":{n}");
            let child = Command::new(&xvfb)
                .args([&name, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(500));
            return Display { xvfb: child, name };
        }
        panic!("no free X display number");
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.xvfb.kill();
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

    let mut app = Command::new(bin("ibasho"))
        .arg("--home")
        .arg(device.home.path())
        .arg("app")
        .env("DISPLAY", &display.name)
        .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let window = loop {
        let id = x(&display, "xdotool", &["search", "--name", "ibasho"]);
        if let Some(id) = id.lines().last().filter(|l| !l.is_empty()) {
            break id.to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the window never appeared"
        );
        assert!(app.try_wait().unwrap().is_none(), "the app exited early");
        std::thread::sleep(Duration::from_millis(300));
    };
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

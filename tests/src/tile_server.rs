//! A tile server on 127.0.0.1 for tests: generated PNG tiles under `/std/{z}/{x}/{y}.png` and a
//! list of them in GSI's `mokuroku.csv.gz` form. It can stop answering after a number of tiles,
//! send a tile's bytes damaged, change a tile, leave tiles out (the sea), and records every
//! request with its headers.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use md5::{Digest, Md5};

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The path, e.g. `/std/12/3637/1614.png`.
    pub path: String,
    /// Header names (lowercase) and values.
    pub headers: HashMap<String, String>,
}

#[derive(Default)]
struct State {
    /// Tiles the server has, with a version (a changed tile has a new one).
    tiles: HashMap<(u8, u32, u32), u32>,
    /// Answer 503 to every tile request after this many tiles were served.
    fail_after: Option<usize>,
    served: usize,
    /// Tiles to send damaged, and how many more times.
    damaged: HashMap<(u8, u32, u32), u32>,
    seen: Vec<Seen>,
}

/// The running server; stops when dropped.
pub struct TileServer {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TileServer {
    /// Starts a server holding `tiles`.
    pub fn start(tiles: impl IntoIterator<Item = (u8, u32, u32)>) -> TileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            tiles: tiles.into_iter().map(|t| (t, 1)).collect(),
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let _ = serve(conn, &s);
                }
            }
        });
        TileServer {
            port,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// The XYZ URL template of its tiles.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/std/{{z}}/{{x}}/{{y}}.png", self.port)
    }

    /// Tile requests answer 503 once `n` more tiles have been served (`None`: never).
    pub fn fail_after(&self, n: Option<usize>) {
        let mut s = self.state.lock().unwrap();
        s.fail_after = n.map(|n| s.served + n);
    }

    /// The next `times` answers for this tile carry damaged bytes (its list entry stays right).
    pub fn damage(&self, tile: (u8, u32, u32), times: u32) {
        self.state.lock().unwrap().damaged.insert(tile, times);
    }

    /// The tile changes at the source (new bytes, and a new list entry).
    pub fn change(&self, tile: (u8, u32, u32)) {
        *self
            .state
            .lock()
            .unwrap()
            .tiles
            .get_mut(&tile)
            .expect("a tile the server has") += 1;
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// The tiles requested so far (z, x, y), in order.
    pub fn tiles_requested(&self) -> Vec<(u8, u32, u32)> {
        self.seen()
            .iter()
            .filter_map(|s| parse_tile(&s.path))
            .collect()
    }

    /// The bytes the server sends for a tile now.
    pub fn bytes_of(&self, tile: (u8, u32, u32)) -> Option<Vec<u8>> {
        let v = *self.state.lock().unwrap().tiles.get(&tile)?;
        Some(tile_png(tile, v))
    }
}

impl Drop for TileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn parse_tile(path: &str) -> Option<(u8, u32, u32)> {
    let rest = path.strip_prefix("/std/")?.strip_suffix(".png")?;
    let mut p = rest.split('/');
    Some((
        p.next()?.parse().ok()?,
        p.next()?.parse().ok()?,
        p.next()?.parse().ok()?,
    ))
}

fn serve(mut conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let (status, body, kind) = {
        let mut s = state.lock().unwrap();
        s.seen.push(Seen {
            path: path.clone(),
            headers,
        });
        if path == "/std/mokuroku.csv.gz" {
            (200, listing(&s.tiles), "application/gzip")
        } else if let Some(tile) = parse_tile(&path) {
            if s.fail_after.is_some_and(|n| s.served >= n) {
                (503, b"busy".to_vec(), "text/plain")
            } else if let Some(&v) = s.tiles.get(&tile) {
                s.served += 1;
                let mut bytes = tile_png(tile, v);
                if let Some(left) = s.damaged.get_mut(&tile).filter(|n| **n > 0) {
                    // The first byte: neither its MD5 nor its PNG signature holds.
                    *left -= 1;
                    bytes[0] ^= 0xff;
                }
                (200, bytes, "image/png")
            } else {
                (404, b"no such tile".to_vec(), "text/plain")
            }
        } else {
            (404, b"not found".to_vec(), "text/plain")
        }
    };
    write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    conn.write_all(&body)?;
    conn.flush()
}

/// GSI's list form: `z/x/y.png,mtime,size,md5` per line, gzipped.
fn listing(tiles: &HashMap<(u8, u32, u32), u32>) -> Vec<u8> {
    let mut keys: Vec<_> = tiles.keys().copied().collect();
    keys.sort_unstable();
    let mut text =
        String::from("check_xyz_overlay.html,1494211591,8081,427d3fb00cb72f371e663d751e2c2768\n");
    for (z, x, y) in keys {
        let bytes = tile_png((z, x, y), tiles[&(z, x, y)]);
        text.push_str(&format!(
            "{z}/{x}/{y}.png,1700000000,{},{}\n",
            bytes.len(),
            hex_md5(&bytes)
        ));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

fn hex_md5(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A 256-pixel tile that looks like a street map from far away: a pale ground tinted by zoom,
/// a grid of white "streets" and a dark border, different for every tile and version.
pub fn tile_png((z, x, y): (u8, u32, u32), version: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, 256, 256);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().unwrap();
    let seed =
        (u32::from(z) * 7919) ^ x.wrapping_mul(31) ^ y.wrapping_mul(17) ^ version.wrapping_mul(101);
    let ground = [
        226 - (seed % 12) as u8,
        232 - (u32::from(z) % 8) as u8 * 3,
        214 + (seed % 9) as u8,
    ];
    let step = 32 + (seed % 4) * 8;
    let mut data = vec![0u8; 256 * 256 * 3];
    for py in 0..256u32 {
        for px in 0..256u32 {
            let i = ((py * 256 + px) * 3) as usize;
            let border = px < 2 || py < 2;
            let street = (px + seed) % step < 3 || (py + seed / 3) % step < 3;
            let rgb = if border {
                [120, 120, 130]
            } else if street {
                [255, 255, 255]
            } else {
                ground
            };
            data[i..i + 3].copy_from_slice(&rgb);
        }
    }
    writer.write_image_data(&data).unwrap();
    writer.finish().unwrap();
    out
}

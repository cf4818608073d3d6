//! A tile source's list of its tiles (GSI's 地理院タイル目録, `mokuroku.csv.gz`): every tile's path,
//! last change, size and MD5, one per line, e.g. `11/1826/793.png,1600150263,22021,493b…c804`.
//!
//! With it a download knows its exact size before it starts, skips tiles the source does not have
//! (the sea), checks every tile it receives, and a refresh fetches only the tiles that changed.

use std::collections::HashMap;
use std::io::BufRead;

use md5::{Digest, Md5};

/// What the list says of one tile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Size in bytes.
    pub size: u64,
    /// MD5 of its bytes, 32 lowercase hex digits.
    pub md5: String,
}

/// The listed tiles a download wants, by XYZ address.
pub type Listing = HashMap<(u8, u32, u32), Listed>;

/// Where a source that follows GSI's layout keeps its list: beside the `{z}` directory, for a URL
/// template ending in `/{z}/{x}/{y}.<ext>`. `None` for other templates.
pub fn listing_url(template: &str) -> Option<String> {
    let at = template.find("{z}/{x}/{y}.")?;
    let (base, rest) = template.split_at(at);
    (base.ends_with('/') && !rest.contains('?') && !rest["{z}/{x}/{y}.".len()..].contains('/'))
        .then(|| format!("{base}mokuroku.csv.gz"))
}

/// Reads a list (already decompressed), keeping the tiles `wanted` accepts. Lines that are not a
/// tile (`z/x/y.ext,mtime,size,md5`) are skipped, as GSI's list has a few; a line that cannot be
/// read as text ends the read with the error.
pub fn read_listing(
    reader: impl BufRead,
    wanted: impl Fn(u8, u32, u32) -> bool,
) -> std::io::Result<Listing> {
    let mut out = Listing::new();
    for line in reader.lines() {
        let line = line?;
        if let Some((z, x, y, listed)) = parse_line(&line, &wanted) {
            out.insert((z, x, y), listed);
        }
    }
    Ok(out)
}

fn parse_line(
    line: &str,
    wanted: &impl Fn(u8, u32, u32) -> bool,
) -> Option<(u8, u32, u32, Listed)> {
    let mut cols = line.trim_end().split(',');
    let path = cols.next()?;
    let mut parts = path.splitn(3, '/');
    let z: u8 = parts.next()?.parse().ok()?;
    let x: u32 = parts.next()?.parse().ok()?;
    let y: u32 = parts.next()?.split_once('.')?.0.parse().ok()?;
    if !wanted(z, x, y) {
        return None;
    }
    let _mtime = cols.next()?;
    let size: u64 = cols.next()?.parse().ok()?;
    let md5 = cols.next()?.to_ascii_lowercase();
    (md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_hexdigit())).then_some((
        z,
        x,
        y,
        Listed { size, md5 },
    ))
}

/// The MD5 of some bytes as 32 lowercase hex digits, as lists write it.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_lives_beside_the_zoom_directories() {
        assert_eq!(
            listing_url("https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png").as_deref(),
            Some("https://cyberjapandata.gsi.go.jp/xyz/std/mokuroku.csv.gz")
        );
        assert_eq!(listing_url("https://t.example/{z}/{x}/{y}.png?key=1"), None);
        assert_eq!(
            listing_url("https://t.example/tiles?z={z}&x={x}&y={y}"),
            None
        );
    }

    #[test]
    fn a_list_is_read_keeping_only_the_wanted_tiles_and_skipping_other_lines() {
        let text = "0/0/0.png,1457603626,77992,7186204bdc21218bf6d9dd0a39b17ef8\n\
                    11/1826/793.png,1600150263,22021,493B024EB6046319E1ECA362AC9EC804\n\
                    11/1826/794.png,1600150263,100,493b024eb6046319e1eca362ac9ec805\n\
                    check_xyz_overlay.html,1494211591,8081,427d3fb00cb72f371e663d751e2c2768\n\
                    {z}/{x}/{y}.png,1459157325,2772,0bf10793eb58a94f6a174c39001d98fc\n\
                    12/3557/Thumbs.db,14917104\n";
        let listing = read_listing(text.as_bytes(), |z, _, _| z == 11).unwrap();
        assert_eq!(listing.len(), 2);
        assert_eq!(
            listing[&(11, 1826, 793)],
            Listed {
                size: 22021,
                md5: "493b024eb6046319e1eca362ac9ec804".into()
            }
        );
    }

    #[test]
    fn md5_is_lowercase_hex() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    }
}

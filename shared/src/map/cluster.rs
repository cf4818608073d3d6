//! Clustering of pins for a viewport, in the manner of supercluster.
//!
//! A [`PinIndex`] is built once from the pins (their positions are projected to world pixels
//! then). For each cluster radius it is asked for, it computes — once, then keeps — a hierarchy
//! of clusters for every integer zoom from 19 down to 3: at each zoom, pins and clusters of the
//! zoom above are taken in a fixed order, and each one not yet taken gathers every other not yet
//! taken within the radius (in that zoom's pixels) into a cluster placed at their weighted
//! centre. So a cluster at zoom `z` is a union of markers at zoom `z + 1`: clusters split as one
//! zooms in and merge as one zooms out, and panning never changes them.
//!
//! [`PinIndex::cluster`] then only picks the markers of level `floor(zoom)` that touch the
//! viewport (grown by the radius) and projects them to the screen: a pin inside the viewport is
//! in exactly one marker. The output is sorted top to bottom (then left to right), the order to
//! paint them in so that lower markers overlap higher ones.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

use super::projection::{MAX_ZOOM, MIN_ZOOM, Viewport, world_px, world_to_lat_lon};

/// A place to show on the map.
#[derive(Debug, Clone, PartialEq)]
pub struct Pin {
    /// The place's id.
    pub id: String,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// The place's category id (for the marker's icon and colour).
    pub category: String,
}

/// What to draw at one spot on the screen: a single pin or a cluster of several.
#[derive(Debug, Clone, PartialEq)]
pub enum Marker {
    /// One pin.
    Pin {
        /// The pin's id.
        id: String,
        /// Screen x, CSS pixels.
        x: f64,
        /// Screen y, CSS pixels.
        y: f64,
        /// The pin's category.
        category: String,
    },
    /// Several pins drawn as one, at their centre.
    Cluster {
        /// Screen x of the pins' centre, CSS pixels.
        x: f64,
        /// Screen y of the pins' centre, CSS pixels.
        y: f64,
        /// How many pins.
        count: usize,
        /// The pins' ids.
        ids: Vec<String>,
        /// The pins' bounding box: southernmost latitude.
        south: f64,
        /// Westernmost longitude.
        west: f64,
        /// Northernmost latitude.
        north: f64,
        /// Easternmost longitude.
        east: f64,
    },
}

impl Marker {
    /// Screen position (x, y) of the marker.
    pub fn position(&self) -> (f64, f64) {
        match self {
            Marker::Pin { x, y, .. } | Marker::Cluster { x, y, .. } => (*x, *y),
        }
    }

    /// Whether this is a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Marker::Cluster { .. })
    }

    /// The ids of the pins the marker stands for.
    pub fn ids(&self) -> &[String] {
        match self {
            Marker::Pin { id, .. } => std::slice::from_ref(id),
            Marker::Cluster { ids, .. } => ids,
        }
    }
}

/// Clusters `pins` for the viewport `vp`: pins closer than `radius_px` screen pixels (at the
/// integer zoom below `vp.zoom`) become one marker.
///
/// This builds a [`PinIndex`] every call; when the pins stay the same across frames, build the
/// index once and call [`PinIndex::cluster`].
pub fn cluster(pins: &[Pin], vp: &Viewport, radius_px: f64) -> Vec<Marker> {
    PinIndex::new(pins).cluster(vp, radius_px)
}

/// Pins prepared for clustering many viewports: positions projected once, and the cluster
/// hierarchy for each radius asked for computed on first use and kept.
///
/// Pins with a non-finite latitude or longitude are left out.
pub struct PinIndex {
    pins: Vec<IndexedPin>,
    hierarchies: Mutex<Vec<Arc<Hierarchy>>>,
}

#[derive(Debug)]
struct IndexedPin {
    id: String,
    category: String,
    x: f64,
    y: f64,
}

/// How many radii's hierarchies a [`PinIndex`] keeps.
const KEPT_HIERARCHIES: usize = 4;
const LEVELS: usize = (MAX_ZOOM - MIN_ZOOM) as usize + 1;
const NONE: u32 = u32::MAX;

#[derive(Debug)]
struct Hierarchy {
    radius_bits: u64,
    /// `levels[z - 3]`: the markers at integer zoom `z`.
    levels: Vec<Level>,
    /// Pin indices in tree order: every node's pins are `order[start..start + count]`.
    order: Vec<u32>,
}

#[derive(Debug, Default)]
struct Level {
    nodes: Vec<Node>,
    /// Children of the nodes (indices into the level below, or into the pins for zoom 19).
    children: Vec<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    x: f64,
    y: f64,
    min_x: f64,
    min_y: f64,
    max_x: f64,
    max_y: f64,
    count: u32,
    start: u32,
    child_start: u32,
    child_len: u32,
}

impl Node {
    fn leaf(x: f64, y: f64) -> Node {
        Node {
            x,
            y,
            min_x: x,
            min_y: y,
            max_x: x,
            max_y: y,
            count: 1,
            start: 0,
            child_start: 0,
            child_len: 0,
        }
    }
}

impl std::fmt::Debug for PinIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let radii: Vec<f64> = self
            .hierarchies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|h| f64::from_bits(h.radius_bits))
            .collect();
        f.debug_struct("PinIndex")
            .field("pins", &self.pins.len())
            .field("radii", &radii)
            .finish()
    }
}

impl PinIndex {
    /// Projects the pins and keeps them in a fixed order (by id, then position), so the
    /// clusters do not depend on the order the pins were given in.
    pub fn new(pins: &[Pin]) -> Self {
        let mut indexed: Vec<IndexedPin> = pins
            .iter()
            .filter(|p| p.lat.is_finite() && p.lon.is_finite())
            .map(|p| {
                let (x, y) = world_px(p.lat, p.lon);
                IndexedPin {
                    id: p.id.clone(),
                    category: p.category.clone(),
                    x,
                    y,
                }
            })
            .collect();
        indexed.sort_by(|a, b| {
            a.id.cmp(&b.id)
                .then(a.x.total_cmp(&b.x))
                .then(a.y.total_cmp(&b.y))
        });
        PinIndex {
            pins: indexed,
            hierarchies: Mutex::new(Vec::new()),
        }
    }

    /// How many pins the index holds.
    pub fn len(&self) -> usize {
        self.pins.len()
    }

    /// Whether the index holds no pins.
    pub fn is_empty(&self) -> bool {
        self.pins.is_empty()
    }

    /// Computes the cluster hierarchy for `radius_px` now rather than on the first
    /// [`cluster`](Self::cluster) call with it (a few milliseconds for 10,000 pins).
    pub fn prepare(&self, radius_px: f64) {
        self.hierarchy(radius_px);
    }

    /// The markers for the viewport: every pin or cluster at level `floor(vp.zoom)` that has a
    /// pin within the viewport grown by `radius_px` on every side, sorted top to bottom.
    /// A `radius_px` that is not a positive number clusters only pins at the very same spot.
    pub fn cluster(&self, vp: &Viewport, radius_px: f64) -> Vec<Marker> {
        if self.pins.is_empty() {
            return Vec::new();
        }
        let radius = sanitize_radius(radius_px);
        let hierarchy = self.hierarchy(radius);
        let level_zoom = (vp.effective_zoom() + 1e-9)
            .floor()
            .clamp(MIN_ZOOM, MAX_ZOOM);
        let level = &hierarchy.levels[(level_zoom - MIN_ZOOM) as usize];
        let (x0, y0, x1, y1) = vp.world_bounds(radius);

        let mut markers: Vec<(f64, f64, Marker)> = Vec::new();
        for node in &level.nodes {
            if node.max_x < x0 || node.min_x > x1 || node.max_y < y0 || node.min_y > y1 {
                continue;
            }
            let (x, y) = vp.world_to_screen(node.x, node.y);
            let start = node.start as usize;
            let count = node.count as usize;
            let marker = if count == 1 {
                let pin = &self.pins[hierarchy.order[start] as usize];
                Marker::Pin {
                    id: pin.id.clone(),
                    x,
                    y,
                    category: pin.category.clone(),
                }
            } else {
                let ids = hierarchy.order[start..start + count]
                    .iter()
                    .map(|&i| self.pins[i as usize].id.clone())
                    .collect();
                let (north, west) = world_to_lat_lon(node.min_x, node.min_y);
                let (south, east) = world_to_lat_lon(node.max_x, node.max_y);
                Marker::Cluster {
                    x,
                    y,
                    count,
                    ids,
                    south,
                    west,
                    north,
                    east,
                }
            };
            markers.push((y, x, marker));
        }
        markers.sort_by(|a, b| {
            a.0.total_cmp(&b.0)
                .then(a.1.total_cmp(&b.1))
                .then_with(|| a.2.ids()[0].cmp(&b.2.ids()[0]))
        });
        markers.into_iter().map(|(_, _, m)| m).collect()
    }

    fn hierarchy(&self, radius_px: f64) -> Arc<Hierarchy> {
        let radius = sanitize_radius(radius_px);
        let bits = radius.to_bits();
        let mut cache = self
            .hierarchies
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(pos) = cache.iter().position(|h| h.radius_bits == bits) {
            let h = cache.remove(pos);
            cache.push(Arc::clone(&h));
            return h;
        }
        let h = Arc::new(build_hierarchy(&self.pins, radius));
        if cache.len() >= KEPT_HIERARCHIES {
            cache.remove(0);
        }
        cache.push(Arc::clone(&h));
        h
    }
}

fn sanitize_radius(radius_px: f64) -> f64 {
    if radius_px.is_finite() && radius_px > 0.0 {
        radius_px
    } else {
        0.0
    }
}

fn build_hierarchy(pins: &[IndexedPin], radius_px: f64) -> Hierarchy {
    let leaves: Vec<Node> = pins.iter().map(|p| Node::leaf(p.x, p.y)).collect();
    let mut levels: Vec<Level> = Vec::with_capacity(LEVELS);
    for i in (0..LEVELS).rev() {
        let zoom = MIN_ZOOM + i as f64;
        let below = levels.last().map_or(&leaves[..], |l: &Level| &l.nodes[..]);
        let level = cluster_level(below, radius_px / zoom.exp2());
        // A zero radius asks for pins at the very same spot only (see `cluster`).
        let level = if radius_px > 0.0 {
            separate_level(level, below, zoom.exp2())
        } else {
            level
        };
        levels.push(level);
    }
    levels.reverse();

    // Give every node the range of the pins under it in one tree order.
    let mut start = 0u32;
    for node in &mut levels[0].nodes {
        node.start = start;
        start += node.count;
    }
    let mut order = vec![NONE; pins.len()];
    for i in 0..LEVELS {
        let (upper, lower) = levels.split_at_mut(i + 1);
        let level = &upper[i];
        for node in &level.nodes {
            let mut s = node.start;
            let kids = &level.children
                [node.child_start as usize..(node.child_start + node.child_len) as usize];
            for &child in kids {
                if let Some(below) = lower.first_mut() {
                    let c = &mut below.nodes[child as usize];
                    c.start = s;
                    s += c.count;
                } else {
                    order[s as usize] = child;
                    s += 1;
                }
            }
        }
    }
    debug_assert!(order.iter().all(|&i| i != NONE));
    Hierarchy {
        radius_bits: radius_px.to_bits(),
        levels,
        order,
    }
}

/// One greedy clustering pass over the markers of the zoom above, `r` in world pixels.
fn cluster_level(below: &[Node], r: f64) -> Level {
    let mut level = Level {
        nodes: Vec::with_capacity(below.len()),
        children: Vec::with_capacity(below.len()),
    };
    let grid = Grid::new(below, 2.0 * r);
    let mut taken = vec![false; below.len()];
    let r2 = r * r;
    let mut members: Vec<u32> = Vec::new();
    for (i, seed) in below.iter().enumerate() {
        if taken[i] {
            continue;
        }
        taken[i] = true;
        members.clear();
        members.push(i as u32);
        grid.for_each_near(seed.x, seed.y, |j| {
            let other = &below[j as usize];
            let (dx, dy) = (other.x - seed.x, other.y - seed.y);
            if !taken[j as usize] && dx * dx + dy * dy <= r2 {
                taken[j as usize] = true;
                members.push(j);
            }
        });
        members[1..].sort_unstable();
        let mut node = Node::leaf(seed.x, seed.y);
        if members.len() > 1 {
            let (mut sx, mut sy, mut count) = (0.0, 0.0, 0u32);
            for &m in &members {
                let n = &below[m as usize];
                let w = f64::from(n.count);
                sx += n.x * w;
                sy += n.y * w;
                count += n.count;
                node.min_x = node.min_x.min(n.min_x);
                node.min_y = node.min_y.min(n.min_y);
                node.max_x = node.max_x.max(n.max_x);
                node.max_y = node.max_y.max(n.max_y);
            }
            node.x = sx / f64::from(count);
            node.y = sy / f64::from(count);
            node.count = count;
        } else {
            node = Node {
                child_start: 0,
                child_len: 0,
                start: 0,
                ..*seed
            };
        }
        node.child_start = level.children.len() as u32;
        node.child_len = members.len() as u32;
        level.children.extend_from_slice(&members);
        level.nodes.push(node);
    }
    level
}

/// The radius, in screen pixels, a marker standing for `count` pins is drawn with, its outline
/// (and a pin's mark ring) included. Markers of one level never overlap when drawn this size.
pub fn marker_radius(count: usize) -> f64 {
    if count <= 1 {
        12.0
    } else {
        14.0 + (count as f64).log10() * 6.0
    }
}

/// Merges the markers of a level whose drawn circles would overlap at its zoom (`scale` screen
/// pixels per world pixel), until none do. A level is shown from its zoom up to the next, where
/// distances only grow, so markers that do not overlap at the level's zoom overlap at none. A
/// merged marker is the union of its parts, so clusters still split as one zooms in.
fn separate_level(level: Level, below: &[Node], scale: f64) -> Level {
    let mut nodes = level.nodes;
    let mut members: Vec<Vec<u32>> = nodes
        .iter()
        .map(|n| {
            level.children[n.child_start as usize..(n.child_start + n.child_len) as usize].to_vec()
        })
        .collect();
    let radius = |n: &Node| marker_radius(n.count as usize) / scale;
    // Each pass that merges removes at least one marker, so this ends.
    loop {
        let widest = nodes.iter().map(radius).fold(0.0, f64::max);
        let grid = Grid::new(&nodes, 4.0 * widest);
        let mut gone = vec![false; nodes.len()];
        let mut merged = false;
        for i in 0..nodes.len() {
            if gone[i] {
                continue;
            }
            let mut near: Vec<u32> = Vec::new();
            grid.for_each_near(nodes[i].x, nodes[i].y, |j| {
                let j = j as usize;
                if j != i && !gone[j] {
                    let (a, b) = (&nodes[i], &nodes[j]);
                    let reach = radius(a) + radius(b);
                    if (a.x - b.x).powi(2) + (a.y - b.y).powi(2) < reach * reach {
                        near.push(j as u32);
                    }
                }
            });
            near.sort_unstable();
            for j in near {
                let j = j as usize;
                let other = nodes[j];
                let node = &mut nodes[i];
                let (wa, wb) = (f64::from(node.count), f64::from(other.count));
                node.x = (node.x * wa + other.x * wb) / (wa + wb);
                node.y = (node.y * wa + other.y * wb) / (wa + wb);
                node.count += other.count;
                node.min_x = node.min_x.min(other.min_x);
                node.min_y = node.min_y.min(other.min_y);
                node.max_x = node.max_x.max(other.max_x);
                node.max_y = node.max_y.max(other.max_y);
                let taken = std::mem::take(&mut members[j]);
                members[i].extend(taken);
                gone[j] = true;
                merged = true;
            }
        }
        if !merged {
            break;
        }
        let mut keep = gone.iter().map(|g| !g);
        nodes.retain(|_| keep.next().unwrap_or(false));
        let mut keep = gone.iter().map(|g| !g);
        members.retain(|_| keep.next().unwrap_or(false));
    }
    let mut out = Level {
        nodes: Vec::with_capacity(nodes.len()),
        children: Vec::with_capacity(level.children.len()),
    };
    for (mut node, mut kids) in nodes.into_iter().zip(members) {
        kids.sort_unstable();
        if kids.len() == 1 && node.count == 1 {
            // A lone pin keeps its own position exactly.
            let only = below[kids[0] as usize];
            node.x = only.x;
            node.y = only.y;
        }
        node.child_start = out.children.len() as u32;
        node.child_len = kids.len() as u32;
        out.children.extend_from_slice(&kids);
        out.nodes.push(node);
    }
    out
}

/// A uniform grid over points (cells of side `cell`), as linked lists in arrays: a point's
/// neighbours within `cell / 2` are in the 2 × 2 cells around it.
struct Grid {
    cell: f64,
    heads: HashMap<(i64, i64), u32, BuildHasherDefault<FxHasher>>,
    next: Vec<u32>,
}

impl Grid {
    fn new(points: &[Node], cell: f64) -> Grid {
        // A zero radius still gathers pins at the very same spot.
        let cell = cell.max(1e-9);
        let mut heads: HashMap<(i64, i64), u32, BuildHasherDefault<FxHasher>> =
            HashMap::with_capacity_and_hasher(points.len(), BuildHasherDefault::default());
        let mut next = vec![NONE; points.len()];
        for (i, p) in points.iter().enumerate().rev() {
            let key = ((p.x / cell).floor() as i64, (p.y / cell).floor() as i64);
            let head = heads.entry(key).or_insert(NONE);
            next[i] = *head;
            *head = i as u32;
        }
        Grid { cell, heads, next }
    }

    /// Calls `f` with every point in the 2 × 2 cells that hold the disc of radius `cell / 2`
    /// around (x, y), in a fixed order.
    fn for_each_near(&self, x: f64, y: f64, mut f: impl FnMut(u32)) {
        let gx = x / self.cell;
        let gy = y / self.cell;
        let cx = (gx - 0.5).floor() as i64;
        let cy = (gy - 0.5).floor() as i64;
        for key in [(cx, cy), (cx + 1, cy), (cx, cy + 1), (cx + 1, cy + 1)] {
            let mut i = self.heads.get(&key).copied().unwrap_or(NONE);
            while i != NONE {
                f(i);
                i = self.next[i as usize];
            }
        }
    }
}

/// A small, fast, deterministic hasher for grid keys (the multiply-rotate hash of rustc's
/// FxHasher).
#[derive(Default)]
struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_i64(&mut self, i: i64) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn pin(id: &str, lat: f64, lon: f64) -> Pin {
        Pin {
            id: id.to_string(),
            lat,
            lon,
            category: "cafe".to_string(),
        }
    }

    /// A deterministic spread of pins around Osaka (splitmix64).
    fn osaka_pins(n: usize, seed: u64) -> Vec<Pin> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|i| {
                pin(
                    &format!("p{i:05}"),
                    34.55 + next() * 0.3,
                    135.35 + next() * 0.4,
                )
            })
            .collect()
    }

    fn all_ids(markers: &[Marker]) -> Vec<String> {
        markers
            .iter()
            .flat_map(|m| m.ids().iter().cloned())
            .collect()
    }

    #[test]
    fn pins_far_apart_stay_single_pins() {
        let pins = [
            pin("a", 35.0, 139.0),
            pin("b", 35.0, 139.1),
            pin("c", 35.1, 139.0),
        ];
        let vp = Viewport::new(35.05, 139.05, 12.0, 800.0, 600.0);
        let markers = cluster(&pins, &vp, 40.0);
        assert_eq!(markers.len(), 3);
        assert!(markers.iter().all(|m| !m.is_cluster()));
        let (x, y) = markers
            .iter()
            .find(|m| m.ids()[0] == "a")
            .unwrap()
            .position();
        let (ex, ey) = vp.project(35.0, 139.0);
        assert!((x - ex).abs() < 1e-9 && (y - ey).abs() < 1e-9);
    }

    #[test]
    fn nearby_pins_become_one_cluster_with_their_count_ids_and_bounds() {
        let pins = [
            pin("a", 35.0, 139.0),
            pin("b", 35.001, 139.001),
            pin("c", 35.002, 139.0),
        ];
        let vp = Viewport::new(35.0, 139.0, 10.0, 800.0, 600.0);
        let markers = cluster(&pins, &vp, 40.0);
        assert_eq!(markers.len(), 1);
        let Marker::Cluster {
            count,
            ids,
            south,
            west,
            north,
            east,
            x,
            y,
        } = &markers[0]
        else {
            panic!("expected a cluster: {markers:?}");
        };
        assert_eq!(*count, 3);
        let mut ids = ids.clone();
        ids.sort();
        assert_eq!(ids, ["a", "b", "c"]);
        assert!((south - 35.0).abs() < 1e-9 && (north - 35.002).abs() < 1e-9);
        assert!((west - 139.0).abs() < 1e-9 && (east - 139.001).abs() < 1e-9);
        // At the pins' centre.
        let (ax, ay) = vp.project(35.001, 139.000_333_333_333_3);
        assert!(
            (x - ax).abs() < 0.01 && (y - ay).abs() < 0.01,
            "{x},{y} vs {ax},{ay}"
        );
    }

    #[test]
    fn clusters_split_when_zooming_in_and_merge_when_zooming_out() {
        let pins = [pin("a", 35.0, 139.0), pin("b", 35.0, 139.003)];
        let index = PinIndex::new(&pins);
        let mut vp = Viewport::new(35.0, 139.0015, 8.0, 800.0, 600.0);
        assert_eq!(index.cluster(&vp, 40.0).len(), 1, "one cluster at zoom 8");
        vp.zoom_at(8.0, 400.0, 300.0);
        let markers = index.cluster(&vp, 40.0);
        assert_eq!(markers.len(), 2, "two pins at zoom 16: {markers:?}");
        vp.zoom_at(-8.0, 400.0, 300.0);
        assert_eq!(
            index.cluster(&vp, 40.0).len(),
            1,
            "one cluster again at zoom 8"
        );
    }

    #[test]
    fn every_marker_at_one_zoom_lies_within_one_marker_a_zoom_out() {
        let pins = osaka_pins(2000, 7);
        let index = PinIndex::new(&pins);
        for zoom in 4..19 {
            let coarse_vp = Viewport::new(34.7, 135.55, zoom as f64, 4000.0, 4000.0);
            let fine_vp = Viewport {
                zoom: zoom as f64 + 1.0,
                ..coarse_vp
            };
            let coarse = index.cluster(
                &Viewport {
                    width: 1e7,
                    height: 1e7,
                    ..coarse_vp
                },
                40.0,
            );
            let fine = index.cluster(
                &Viewport {
                    width: 1e7,
                    height: 1e7,
                    ..fine_vp
                },
                40.0,
            );
            let owner: HashMap<&str, usize> = coarse
                .iter()
                .enumerate()
                .flat_map(|(i, m)| m.ids().iter().map(move |id| (id.as_str(), i)))
                .collect();
            for m in &fine {
                let parents: HashSet<usize> = m.ids().iter().map(|id| owner[id.as_str()]).collect();
                assert_eq!(
                    parents.len(),
                    1,
                    "zoom {}: a marker split across clusters",
                    zoom + 1
                );
            }
            assert!(fine.len() >= coarse.len());
        }
    }

    #[test]
    fn every_visible_pin_is_in_exactly_one_marker() {
        let pins = osaka_pins(5000, 42);
        let index = PinIndex::new(&pins);
        for (zoom, lat, lon) in [
            (9.3, 34.7, 135.5),
            (12.0, 34.69, 135.5),
            (14.7, 34.7, 135.52),
        ] {
            let vp = Viewport::new(lat, lon, zoom, 1024.0, 768.0);
            let markers = index.cluster(&vp, 40.0);
            let ids = all_ids(&markers);
            let unique: HashSet<&String> = ids.iter().collect();
            assert_eq!(
                unique.len(),
                ids.len(),
                "a pin in two markers at zoom {zoom}"
            );
            let (south, west, north, east) = vp.bounds();
            let visible = pins
                .iter()
                .filter(|p| p.lat > south && p.lat < north && p.lon > west && p.lon < east);
            let mut n = 0;
            for p in visible {
                assert!(unique.contains(&p.id), "visible pin {} has no marker", p.id);
                n += 1;
            }
            assert!(n > 0);
        }
    }

    #[test]
    fn pins_outside_the_viewport_and_margin_get_no_marker() {
        let pins = [pin("tokyo", 35.68, 139.76), pin("sapporo", 43.06, 141.35)];
        let vp = Viewport::new(35.68, 139.76, 12.0, 800.0, 600.0);
        let markers = cluster(&pins, &vp, 40.0);
        assert_eq!(all_ids(&markers), ["tokyo"]);
    }

    #[test]
    fn no_two_single_pins_are_closer_than_the_radius() {
        let pins = osaka_pins(3000, 3);
        let index = PinIndex::new(&pins);
        for zoom in [13.0, 15.5, 17.0] {
            let vp = Viewport::new(34.7, 135.55, zoom, 1200.0, 900.0);
            let singles: Vec<(f64, f64)> = index
                .cluster(&vp, 40.0)
                .iter()
                .filter(|m| !m.is_cluster())
                .map(Marker::position)
                .collect();
            assert!(singles.len() > 1, "zoom {zoom}");
            for (i, a) in singles.iter().enumerate() {
                for b in &singles[i + 1..] {
                    let d = ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
                    assert!(d > 40.0, "zoom {zoom}: two pins {d} px apart");
                }
            }
        }
    }

    #[test]
    fn output_is_deterministic_and_independent_of_input_order() {
        let pins = osaka_pins(1500, 11);
        let mut reversed = pins.clone();
        reversed.reverse();
        let vp = Viewport::new(34.7, 135.5, 11.5, 1024.0, 768.0);
        let a = cluster(&pins, &vp, 50.0);
        let b = cluster(&reversed, &vp, 50.0);
        assert_eq!(a, b);
        assert_eq!(a, PinIndex::new(&pins).cluster(&vp, 50.0));
        let ys: Vec<f64> = a.iter().map(|m| m.position().1).collect();
        assert!(ys.windows(2).all(|w| w[0] <= w[1]), "sorted top to bottom");
    }

    #[test]
    fn panning_does_not_change_the_clusters() {
        let pins = osaka_pins(3000, 5);
        let index = PinIndex::new(&pins);
        let mut vp = Viewport::new(34.7, 135.5, 12.0, 1024.0, 768.0);
        let before = index.cluster(&vp, 40.0);
        vp.pan_by(-120.0, 45.0);
        let after = index.cluster(&vp, 40.0);
        let key = |m: &Marker| {
            let mut ids = m.ids().to_vec();
            ids.sort();
            ids
        };
        let before: HashSet<Vec<String>> = before.iter().map(key).collect();
        let common = after.iter().map(key).filter(|k| before.contains(k)).count();
        // Markers visible in both views are the same clusters.
        assert!(
            common * 10 >= after.len() * 7,
            "{common} of {}",
            after.len()
        );
        let after_ids: HashSet<Vec<String>> = after.iter().map(key).collect();
        for k in &after_ids {
            // No cluster in the new view overlaps a different cluster of the old one.
            for b in &before {
                assert!(k == b || k.iter().all(|id| !b.contains(id)));
            }
        }
    }

    #[test]
    fn no_two_markers_overlap_when_drawn_at_any_zoom() {
        let pins = osaka_pins(5000, 11);
        let index = PinIndex::new(&pins);
        let mut zoom = 5.0;
        while zoom < 19.0 {
            let vp = Viewport::new(34.7, 135.52, zoom, 1280.0, 800.0);
            let markers = index.cluster(&vp, 22.0);
            for (i, a) in markers.iter().enumerate() {
                for b in &markers[i + 1..] {
                    let ((ax, ay), (bx, by)) = (a.position(), b.position());
                    let reach = marker_radius(a.ids().len()) + marker_radius(b.ids().len());
                    assert!(
                        (ax - bx).hypot(ay - by) >= reach - 1e-6,
                        "zoom {zoom}: markers of {} and {} pins overlap",
                        a.ids().len(),
                        b.ids().len()
                    );
                }
            }
            zoom += 0.37;
        }
    }

    #[test]
    fn a_zero_radius_only_clusters_pins_at_the_same_spot() {
        let pins = [
            pin("a", 35.0, 139.0),
            pin("b", 35.0, 139.0),
            pin("c", 35.0, 139.0001),
        ];
        let vp = Viewport::new(35.0, 139.0, 5.0, 800.0, 600.0);
        let markers = cluster(&pins, &vp, 0.0);
        assert_eq!(markers.len(), 2);
        assert_eq!(markers.iter().filter(|m| m.is_cluster()).count(), 1);
    }

    #[test]
    fn pins_without_a_position_are_left_out() {
        let pins = [pin("a", f64::NAN, 139.0), pin("b", 35.0, 139.0)];
        let index = PinIndex::new(&pins);
        assert_eq!(index.len(), 1);
        let vp = Viewport::new(35.0, 139.0, 10.0, 800.0, 600.0);
        assert_eq!(all_ids(&index.cluster(&vp, 40.0)), ["b"]);
        assert!(PinIndex::new(&[]).cluster(&vp, 40.0).is_empty());
    }
}

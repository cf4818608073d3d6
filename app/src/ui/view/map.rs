//! The map: basemap of Japan (never blank offline), raster tiles (offline MBTiles pack or a tile URL
//! when online), pins coloured by category, clusters that split as you zoom; pan and zoom with mouse,
//! touch and buttons; click to add a place there; drag a pin to correct it.

use super::super::text as t;
use super::{act, category_color, use_model};
use dioxus::prelude::*;
use ibasho_shared::map::{BasemapKind, Marker, tiles_for};

#[component]
pub(crate) fn MapScreen() -> Element {
    let model = use_model();
    let mut origin = use_signal(|| (0.0f64, 0.0f64));
    let m = model.read();
    let lang = m.lang;
    let vp = m.map.viewport;
    let (w, h) = (vp.width, vp.height);
    let basemap = ibasho_shared::map::Basemap::japan().svg_paths(&vp);
    let tiles: Vec<(String, f64, f64, f64)> = tiles_for(&vp)
        .into_iter()
        .filter_map(|tr| {
            let href = m.map.pack_tile(tr.z, tr.x, tr.y).or_else(|| {
                (!m.settings.tile_url.is_empty()).then(|| {
                    m.settings
                        .tile_url
                        .replace("{z}", &tr.z.to_string())
                        .replace("{x}", &tr.x.to_string())
                        .replace("{y}", &tr.y.to_string())
                })
            })?;
            Some((href, tr.left, tr.top, tr.size))
        })
        .collect();
    let markers = m.map.markers();
    let dragged = m.map.dragged_pin.clone();
    drop(m);
    // Pointer positions relative to the map, from client coordinates (the event target may be a pin).
    let local = move |cx: f64, cy: f64| (cx - origin().0, cy - origin().1);
    rsx! {
        div { class: "map-wrap",
            onmounted: move |e| async move {
                if let Ok(rect) = e.get_client_rect().await {
                    origin.set((rect.origin.x, rect.origin.y));
                    let mut m = model;
                    m.write().map.resize(rect.size.width, rect.size.height);
                }
            },
            onresize: move |e| {
                if let Ok(size) = e.get_border_box_size() {
                    let mut m = model;
                    m.write().map.resize(size.width, size.height);
                }
            },
            svg {
                class: "map",
                id: "map",
                role: "application",
                "aria-label": t::TAB_MAP.get(lang),
                width: "{w}",
                height: "{h}",
                view_box: "0 0 {w} {h}",
                onmousedown: move |e| {
                    let c = e.data().client_coordinates();
                    let (x, y) = local(c.x, c.y);
                    act(model, |m| {
                        m.map.pointer_down(x, y, None);
                        Ok(())
                    });
                },
                onmousemove: move |e| {
                    if model.peek().map.drag.is_some() {
                        let c = e.data().client_coordinates();
                    let (x, y) = local(c.x, c.y);
                        let mut m = model;
                        m.write().map.pointer_move(x, y);
                    }
                },
                onmouseup: move |e| {
                    let c = e.data().client_coordinates();
                    let (x, y) = local(c.x, c.y);
                    act(model, |m| m.pointer_up(x, y));
                },
                onwheel: move |e| {
                    e.prevent_default();
                    let d = e.data().delta().strip_units();
                    let c = e.data().client_coordinates();
                    let (x, y) = local(c.x, c.y);
                    let step = if d.y < 0.0 { 0.5 } else { -0.5 };
                    let mut m = model;
                    m.write().map.viewport.zoom_at(step, x, y);
                },
                ontouchstart: move |e| {
                    if let Some(p) = e.data().touches().first() {
                        let c = p.client_coordinates();
                        let (x, y) = (c.x - origin().0, c.y - origin().1);
                        act(model, |m| {
                            m.map.pointer_down(x, y, None);
                            Ok(())
                        });
                    }
                },
                ontouchmove: move |e| {
                    if let Some(p) = e.data().touches().first() {
                        let c = p.client_coordinates();
                        let mut m = model;
                        m.write().map.pointer_move(c.x - origin().0, c.y - origin().1);
                    }
                },
                ontouchend: move |e| {
                    if let Some(p) = e.data().touches_changed().first() {
                        let c = p.client_coordinates();
                        let (x, y) = (c.x - origin().0, c.y - origin().1);
                        act(model, |m| m.pointer_up(x, y));
                    }
                },
                rect { class: "sea", x: "0", y: "0", width: "{w}", height: "{h}" }
                for (href, left, top, size) in tiles {
                    image { key: "{href}", href: "{href}", x: "{left}", y: "{top}", width: "{size}", height: "{size}" }
                }
                for (i, path) in basemap.into_iter().enumerate() {
                    path {
                        key: "{i}",
                        class: match path.kind {
                            BasemapKind::Land => "land",
                            BasemapKind::Coast => "coast",
                            BasemapKind::PrefectureBorder => "pref",
                        },
                        d: "{path.d}",
                    }
                }
                for marker in markers {
                    match marker {
                        Marker::Pin { id, x, y, category } => {
                            let (x, y) = match &dragged {
                                Some((d, dx, dy)) if *d == id => (*dx, *dy),
                                _ => (x, y),
                            };
                            let pin_id = id.clone();
                            rsx! {
                                circle {
                                    key: "{id}",
                                    class: "pin",
                                    "data-id": "{id}",
                                    cx: "{x}",
                                    cy: "{y}",
                                    r: "7",
                                    fill: category_color(&category),
                                    onmousedown: move |e| {
                                        e.stop_propagation();
                                        let c = e.data().client_coordinates();
                    let (x, y) = local(c.x, c.y);
                                        let id = pin_id.clone();
                                        act(model, |m| {
                                            m.map.pointer_down(x, y, Some(id));
                                            Ok(())
                                        });
                                    },
                                }
                            }
                        }
                        Marker::Cluster { x, y, count, .. } => {
                            let r = 12.0 + (count as f64).log10() * 6.0;
                            rsx! {
                                g { key: "c{x:.0}-{y:.0}", class: "cluster",
                                    circle { cx: "{x}", cy: "{y}", r: "{r}" }
                                    text { x: "{x}", y: "{y}", dy: "0.35em", "text-anchor": "middle", "{count}" }
                                }
                            }
                        }
                    }
                }
            }
            div { class: "map-controls",
                button { "aria-label": t::ZOOM_IN.get(lang), title: t::ZOOM_IN.get(lang), onclick: move |_| { let mut m = model; m.write().map.zoom_by(1.0); }, "+" }
                button { "aria-label": t::ZOOM_OUT.get(lang), title: t::ZOOM_OUT.get(lang), onclick: move |_| { let mut m = model; m.write().map.zoom_by(-1.0); }, "−" }
                button { "aria-label": t::CENTER.get(lang), title: t::CENTER.get(lang), onclick: move |_| { let mut m = model; m.write().map.center_workspace(); }, "⌂" }
                button {
                    "aria-label": t::LOCATE.get(lang),
                    title: t::LOCATE.get(lang),
                    onclick: move |_| { let mut m = model; m.write().map.center_workspace(); },
                    "◎"
                }
            }
            p { class: "map-hint", {t::MAP_HINT.get(lang)} }
        }
    }
}

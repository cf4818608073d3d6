//! The map: basemap of Japan (never blank offline) under raster tiles (the offline pack, else the
//! basemap source when online) with their attribution always shown, pins coloured by category
//! with a legend, names on hover, marks for stale hours and conflicts, a card for a tapped pin,
//! clusters that split as you zoom; pan and zoom with mouse, touch and buttons; click to add a
//! place there; drag a pin to correct it.

use super::super::model::{AppModel, AreaJob, PinInfo, offline_area};
use super::super::text as t;
use super::{act, category_color, label, use_model};
use crate::tiles::{Plan, Progress, human_bytes};
use dioxus::prelude::*;
use ibasho_shared::hours::{Hours, OpenState, now_jst};
use ibasho_shared::map::{BasemapKind, Marker, tiles_for};
use ibasho_shared::taxonomy::CATEGORIES;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[component]
pub(crate) fn MapScreen() -> Element {
    let model = use_model();
    let mut origin = use_signal(|| (0.0f64, 0.0f64));
    // Online tiles that failed to load (no connection): not drawn again, so the outline shows
    // through instead of a broken image, until the next zoom tries them again.
    let mut failed = use_signal(std::collections::HashSet::<String>::new);
    let m = model.read();
    let lang = m.lang;
    let vp = m.map.viewport;
    let (w, h) = (vp.width, vp.height);
    let basemap = ibasho_shared::map::Basemap::japan().svg_paths(&vp);
    let mut from_pack = false;
    let tiles: Vec<(String, f64, f64, f64, Option<String>)> = tiles_for(&vp)
        .into_iter()
        .map(|tr| {
            let (href, part) = match m.map.pack_tile_or_parent(tr.z, tr.x, tr.y) {
                Some(found) => {
                    from_pack = true;
                    found
                }
                None => (tr.url(&m.source.url), None),
            };
            (href, tr.left, tr.top, tr.size, part)
        })
        .filter(|(href, ..)| !failed.read().contains(href))
        .collect();
    let mut attribution = vec![m.source.attribution.clone()];
    if let Some(pack) = m
        .map
        .pack_attribution()
        .filter(|a| from_pack && !attribution.contains(a))
    {
        attribution.push(pack);
    }
    let attribution = attribution.join(" / ");
    let markers = m.map.markers();
    let marker_count = markers.len();
    let dragged = m.map.dragged_pin.clone();
    let info = m.map.info.clone();
    let legend_open = m.map.legend_open;
    let area_job = m.map.area_job.clone();
    let card = m.map.card.clone().and_then(|id| {
        let i = m.map.info.get(&id)?.clone();
        Some((id, i))
    });
    drop(m);
    // With IBASHO_TIMING set, each drawn view is timed to the frame the webview paints it in.
    use_effect(use_reactive!(|(w, h, marker_count)| {
        let _ = (
            w,
            h,
            model.read().map.viewport.zoom,
            model.read().map.viewport.center_lat,
        );
        if ibasho_app::timing::enabled() {
            spawn(async move {
                let painted = document::eval(
                    "await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0))); return 1;",
                );
                let _ = painted.join::<i32>().await;
                ibasho_app::timing::shown(marker_count);
            });
        }
    }));
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
                        ibasho_app::timing::input();
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
                    ibasho_app::timing::input();
                    // A zoom tries tiles that failed before again (the connection may be back).
                    failed.write().clear();
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
                // Tiles over the outline: where one is missing (offline, outside the pack), the
                // outline shows through.
                for (href, left, top, size, part) in tiles {
                    if let Some(part) = part {
                        // Part of a wider tile from the pack, scaled up.
                        svg { key: "{left:.0}-{top:.0}-{part}", x: "{left}", y: "{top}", width: "{size}", height: "{size}", view_box: "{part}",
                            image { class: "tile", href: "{href}", width: "256", height: "256" }
                        }
                    } else {
                        image { key: "{href}", class: "tile", href: "{href}", x: "{left}", y: "{top}", width: "{size}", height: "{size}",
                            onerror: {
                                let href = href.clone();
                                move |_| { failed.write().insert(href.clone()); }
                            },
                        }
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
                            let pin = info.get(&id);
                            let name = pin.map(|p| p.name.clone()).unwrap_or_default();
                            let stale = pin.is_some_and(|p| p.stale);
                            let conflict = pin.is_some_and(|p| p.conflict);
                            rsx! {
                                g { key: "{id}",
                                if conflict {
                                    circle { class: "mark-conflict", cx: "{x}", cy: "{y}", r: "11" }
                                } else if stale {
                                    circle { class: "mark-stale", cx: "{x}", cy: "{y}", r: "11" }
                                }
                                circle {
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
                                    title { "{name}" }
                                }
                                }
                            }
                        }
                        Marker::Cluster { x, y, count, .. } => {
                            // Drawn inside the radius the clustering keeps apart (less the outline).
                            let r = ibasho_shared::map::marker_radius(count) - 2.0;
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
                button { "aria-label": t::ZOOM_IN.get(lang), title: t::ZOOM_IN.get(lang), onclick: move |_| { ibasho_app::timing::input(); failed.write().clear(); let mut m = model; m.write().map.zoom_by(1.0); }, "+" }
                button { "aria-label": t::ZOOM_OUT.get(lang), title: t::ZOOM_OUT.get(lang), onclick: move |_| { ibasho_app::timing::input(); failed.write().clear(); let mut m = model; m.write().map.zoom_by(-1.0); }, "−" }
                button { "aria-label": t::CENTER.get(lang), title: t::CENTER.get(lang), onclick: move |_| { let mut m = model; m.write().map.center_workspace(); }, "⌂" }
                button { id: "save-area", "aria-label": t::SAVE_AREA.get(lang), title: t::SAVE_AREA.get(lang), onclick: move |_| plan_view(model), "⤓" }
            }
            if let Some(job) = area_job {
                AreaPanel { job }
            }
            details { class: "map-legend", open: legend_open,
                summary {
                    onclick: move |e| { e.prevent_default(); let mut m = model; let open = m.read().map.legend_open; m.write().map.legend_open = !open; },
                    {t::LEGEND.get(lang)}
                }
                ul {
                    for (color, text) in super::LEGEND {
                        li { span { class: "dot", style: "background: {color}" } {text.get(lang)} }
                    }
                    li { span { class: "ring stale" } {t::LEGEND_STALE.get(lang)} }
                    li { span { class: "ring conflict" } {t::LEGEND_CONFLICT.get(lang)} }
                }
            }
            if let Some((id, pin)) = card {
                PlaceCard { id, pin }
            }
            p { class: "map-hint", {t::MAP_HINT.get(lang)} }
            p { class: "map-attribution", "{attribution}" }
        }
    }
}

/// The card of a tapped pin: name, category, open now, marks, and the way to the details.
#[component]
fn PlaceCard(id: String, pin: PinInfo) -> Element {
    let model = use_model();
    let lang = model.read().lang;
    let open = Hours::parse(&pin.hours)
        .ok()
        .filter(|_| !pin.hours.is_empty())
        .map(|h| h.state(now_jst()));
    rsx! {
        div { class: "place-card", role: "dialog", "aria-label": "{pin.name}",
            button { class: "close", "aria-label": t::CLOSE.get(lang), title: t::CLOSE.get(lang),
                onclick: move |_| { let mut m = model; m.write().map.card = None; }, "×" }
            h3 { "{pin.name}" }
            p { class: "meta",
                span { class: "dot", style: "background: {category_color(&pin.category)}" }
                {label(CATEGORIES, &pin.category, lang)}
                match open {
                    Some(OpenState::Open) => rsx! { span { class: "badge open", {t::OPEN.get(lang)} } },
                    Some(OpenState::Closed) => rsx! { span { class: "badge closed", {t::CLOSED.get(lang)} } },
                    _ => rsx! {},
                }
            }
            if pin.conflict {
                p { class: "warn", {t::LEGEND_CONFLICT.get(lang)} }
            } else if pin.stale {
                p { class: "warn", {t::LEGEND_STALE.get(lang)} }
            }
            button { class: "primary",
                onclick: move |_| { let id = id.clone(); act(model, |m| { m.map.card = None; m.open_place(&id) }); },
                {t::DETAILS.get(lang)}
            }
        }
    }
}

/// Works out the size of saving the view, off the window's thread.
fn plan_view(mut model: Signal<AppModel>) {
    let spec = model.write().view_area();
    let spec = match spec {
        Ok(spec) => spec,
        Err(why) => {
            model.write().map.area_job = Some(AreaJob::Failed(why));
            return;
        }
    };
    let path = model.peek().pack_path();
    model.write().map.area_job = Some(AreaJob::Planning);
    spawn(async move {
        let planned = tokio::task::spawn_blocking(move || offline_area::plan(path, spec)).await;
        let lang = model.peek().lang;
        let job = match planned {
            Ok(Ok(plan)) => AreaJob::Ready(Box::new(plan)),
            Ok(Err(e)) => AreaJob::Failed(e.message(lang)),
            Err(e) => AreaJob::Failed(e.to_string()),
        };
        if matches!(model.peek().map.area_job, Some(AreaJob::Planning)) {
            model.write().map.area_job = Some(job);
        }
    });
}

/// Fetches a planned area off the window's thread, showing progress as it goes.
fn start_download(mut model: Signal<AppModel>, plan: Plan) {
    let stop = Arc::new(AtomicBool::new(false));
    let path = model.peek().pack_path();
    model.write().map.area_job = Some(AreaJob::Running {
        progress: Progress {
            done: 0,
            of: plan.fetch.len() as u64,
            bytes: 0,
        },
        stop: stop.clone(),
    });
    spawn(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
        let work = tokio::task::spawn_blocking(move || {
            offline_area::download(
                path,
                &plan,
                crate::tiles::DEFAULT_RATE,
                &mut |p| {
                    let _ = tx.send(p);
                },
                &stop,
            )
        });
        while let Some(p) = rx.recv().await {
            if let Some(AreaJob::Running { progress, .. }) = &mut model.write().map.area_job {
                *progress = p;
            }
        }
        let result = match work.await {
            Ok(result) => result,
            Err(e) => Err(crate::tiles::TileError::Interrupted {
                done: 0,
                of: 0,
                why: e.to_string(),
            }),
        };
        model.write().area_download_ended(result);
    });
}

/// The panel for saving the view: the estimate with start, the progress with stop, the end.
#[component]
fn AreaPanel(job: AreaJob) -> Element {
    let model = use_model();
    let lang = model.read().lang;
    let close = move |_| {
        let mut m = model;
        m.write().map.area_job = None;
    };
    rsx! {
        div { class: "area-panel", role: "dialog", "aria-label": t::SAVE_AREA.get(lang),
            h3 { {t::SAVE_AREA.get(lang)} }
            match job {
                AreaJob::Planning => rsx! { p { {t::AREA_PLANNING.get(lang)} } },
                AreaJob::Ready(plan) => {
                    let text = t::fill(
                        if plan.exact { t::AREA_ESTIMATE_EXACT } else { t::AREA_ESTIMATE_ABOUT },
                        lang,
                        &[
                            ("min", &plan.spec.zooms.min),
                            ("max", &plan.spec.zooms.max),
                            ("fetch", &plan.fetch.len()),
                            ("bytes", &human_bytes(plan.bytes)),
                            ("have", &plan.have),
                        ],
                    );
                    rsx! {
                        p { id: "area-estimate", "{text}" }
                        div { class: "actions",
                            button { class: "primary", id: "area-start",
                                onclick: move |_| start_download(model, (*plan).clone()),
                                {t::AREA_START.get(lang)}
                            }
                            button { onclick: close, {t::CANCEL.get(lang)} }
                        }
                    }
                }
                AreaJob::Running { progress, stop } => {
                    let pct = (progress.done * 100).checked_div(progress.of).unwrap_or(100);
                    rsx! {
                        progress { max: "{progress.of}", value: "{progress.done}" }
                        p { {t::fill(t::AREA_PROGRESS, lang, &[("done", &progress.done), ("of", &progress.of), ("pct", &pct), ("bytes", &human_bytes(progress.bytes))])} }
                        button { onclick: move |_| stop.store(true, Ordering::Relaxed), {t::AREA_STOP.get(lang)} }
                    }
                }
                AreaJob::Done(outcome) => rsx! {
                    p { id: "area-done", {t::fill(t::AREA_DONE, lang, &[("n", &outcome.fetched), ("bytes", &human_bytes(outcome.bytes))])} }
                    button { onclick: close, {t::CLOSE.get(lang)} }
                },
                AreaJob::Failed(why) => rsx! {
                    p { class: "warn", "{why}" }
                    button { onclick: close, {t::CLOSE.get(lang)} }
                },
            }
        }
    }
}

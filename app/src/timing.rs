//! What the window reports of its own speed when `IBASHO_TIMING` is set (for `bench/map-window`):
//! the time from the process starting to the first map with its places drawn, and the time from
//! each pan or zoom input to the frame that shows it. "Drawn" and "shows" mean the webview has
//! painted: the page answers from a task queued in the animation frame that follows the change,
//! which runs once that frame is painted.

use std::sync::Mutex;
use std::sync::OnceLock;
use std::time::Instant;

static START: OnceLock<Instant> = OnceLock::new();
static ENABLED: OnceLock<bool> = OnceLock::new();
static PENDING: Mutex<Option<Instant>> = Mutex::new(None);
static FIRST_SHOWN: OnceLock<()> = OnceLock::new();

/// Notes when the process started; call first thing in `main`.
pub fn process_started() {
    START.get_or_init(Instant::now);
}

/// Whether the window reports timings (`IBASHO_TIMING` set).
pub fn enabled() -> bool {
    *ENABLED.get_or_init(|| std::env::var_os("IBASHO_TIMING").is_some())
}

/// A pan or zoom input arrived: the next frame shown is timed from it (the earliest input not
/// yet shown counts).
pub fn input() {
    if enabled() {
        let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
        pending.get_or_insert_with(Instant::now);
    }
}

/// A frame with `markers` markers was painted: reports the first map (once there are markers),
/// or the step from the pending input, on standard error as `ibasho-timing NAME=MS markers=N`.
pub fn shown(markers: usize) {
    if !enabled() || markers == 0 {
        return;
    }
    if FIRST_SHOWN.set(()).is_ok() {
        let start = START.get_or_init(Instant::now);
        eprintln!(
            "ibasho-timing first_map_ms={:.1} markers={markers}",
            start.elapsed().as_secs_f64() * 1e3
        );
        return;
    }
    let taken = PENDING.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(at) = taken {
        eprintln!(
            "ibasho-timing step_ms={:.1} markers={markers}",
            at.elapsed().as_secs_f64() * 1e3
        );
    }
}

//! Helpers shared by the benchmark binaries: process resource sampling, percentiles, and the lean
//! simulated device of the load benchmark.

pub mod lean;

use std::time::Duration;

/// CPU time (user + system) a process has used so far.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    Duration::from_secs_f64(ticks as f64 / 100.0)
}

/// A line of `/proc/PID/status` in kB (e.g. `VmRSS`, `VmHWM`).
pub fn status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(key).and_then(|r| {
                r.trim_start_matches(':')
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}

/// The city of DOMAIN.md (500 organizations, 5,000 places, 20 teams, 50,000 visits over 12 months,
/// around Sendai), or a `scale`-th of it.
pub fn city(scale: usize) -> ibasho_shared::demo::DemoSpec {
    ibasho_shared::demo::DemoSpec {
        places: 5000 / scale,
        orgs: 500 / scale,
        teams: 20,
        visits: 50_000 / scale,
        months: 12,
        center: (38.2682, 140.8694),
        radius_km: 12.0,
        seed: 2026,
    }
}

/// The `p`-th percentile (0–100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_list() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 51.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let me = std::process::id();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        assert!(status_kb(me, "VmRSS") > 0);
        assert!(cpu_time(me) > Duration::ZERO);
    }
}

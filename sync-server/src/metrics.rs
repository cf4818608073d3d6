//! Counters exposed at `/metrics` in Prometheus text format.

use std::sync::atomic::{AtomicU64, Ordering};

/// Server counters and gauges.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Open websocket connections.
    pub connections: AtomicU64,
    /// Documents held in memory.
    pub docs_loaded: AtomicU64,
    /// Frames received.
    pub frames_in: AtomicU64,
    /// Frames sent.
    pub frames_out: AtomicU64,
    /// Bytes received in frames.
    pub bytes_in: AtomicU64,
    /// Bytes sent in frames.
    pub bytes_out: AtomicU64,
    /// Refusals (error frames sent).
    pub rejects: AtomicU64,
    /// Document updates accepted.
    pub changes_accepted: AtomicU64,
    /// Documents found damaged in the store (see `Hub::check_store`).
    pub damaged_docs: AtomicU64,
}

impl Metrics {
    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let rows: [(&str, &str, &str, &AtomicU64); 9] = [
            (
                "ibasho_connections",
                "gauge",
                "Open websocket connections.",
                &self.connections,
            ),
            (
                "ibasho_documents_loaded",
                "gauge",
                "Documents held in memory.",
                &self.docs_loaded,
            ),
            (
                "ibasho_frames_received_total",
                "counter",
                "Frames received.",
                &self.frames_in,
            ),
            (
                "ibasho_frames_sent_total",
                "counter",
                "Frames sent.",
                &self.frames_out,
            ),
            (
                "ibasho_bytes_received_total",
                "counter",
                "Bytes received in frames.",
                &self.bytes_in,
            ),
            (
                "ibasho_bytes_sent_total",
                "counter",
                "Bytes sent in frames.",
                &self.bytes_out,
            ),
            (
                "ibasho_rejects_total",
                "counter",
                "Error frames sent.",
                &self.rejects,
            ),
            (
                "ibasho_changes_accepted_total",
                "counter",
                "Document updates accepted.",
                &self.changes_accepted,
            ),
            (
                "ibasho_damaged_documents",
                "gauge",
                "Documents whose stored bytes do not load whole (restore from a backup).",
                &self.damaged_docs,
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, value) in rows {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}\n",
                value.load(Ordering::Relaxed)
            ));
        }
        out
    }
}

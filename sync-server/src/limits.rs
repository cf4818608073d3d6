//! Bounds on what one connection may send.

use std::time::{Duration, Instant};

/// Per-connection bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest frame accepted, in bytes.
    pub max_frame_bytes: usize,
    /// Most documents in one frame.
    pub max_docs_per_frame: usize,
    /// Sustained frames per second.
    pub frames_per_second: f64,
    /// Burst of frames allowed above the sustained rate.
    pub burst: f64,
    /// How long a frame to the device may take to be sent, beyond its size at
    /// [`Limits::min_send_rate`]. A device that stops reading (its socket's buffers full) is
    /// disconnected after this, instead of holding its connection and the changes queued for it
    /// for as long as its socket stays open.
    pub send_timeout: Duration,
    /// Slowest link a device may sync over, in bytes per second: a frame of `n` bytes may take
    /// [`Limits::send_timeout`] plus `n` at this rate.
    pub min_send_rate: f64,
    /// How long a connected device may stay silent before it is taken to be gone (a phone that
    /// lost its signal closes nothing): it is pinged once it has been silent a third of this, and
    /// any frame, ping or pong from it counts.
    pub silence: Duration,
    /// Most connections one device may hold at once (the window and `sync --watch` on a phone
    /// are two); beyond, a new one is refused before the upgrade.
    pub max_connections_per_device: usize,
}

impl Limits {
    /// How long a frame of `bytes` may take to be sent.
    pub fn send_deadline(&self, bytes: usize) -> Duration {
        ibasho_shared::sync::send_deadline(self.send_timeout, self.min_send_rate, bytes)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 16 * 1024 * 1024,
            max_docs_per_frame: 512,
            frames_per_second: 50.0,
            burst: 200.0,
            send_timeout: ibasho_shared::sync::SEND_TIMEOUT,
            min_send_rate: ibasho_shared::sync::SLOWEST_LINK,
            silence: Duration::from_secs(90),
            max_connections_per_device: 4,
        }
    }
}

/// A token bucket for one connection's frame rate.
#[derive(Debug)]
pub struct RateLimiter {
    tokens: f64,
    last: Instant,
    rate: f64,
    burst: f64,
}

impl RateLimiter {
    /// A full bucket.
    pub fn new(limits: &Limits) -> Self {
        RateLimiter {
            tokens: limits.burst,
            last: Instant::now(),
            rate: limits.frames_per_second,
            burst: limits.burst,
        }
    }

    /// Takes a token; `false` when the connection is over its rate.
    pub fn allow(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_and_then_refused() {
        let mut limiter = RateLimiter::new(&Limits {
            frames_per_second: 0.001,
            burst: 3.0,
            ..Limits::default()
        });
        assert!(limiter.allow() && limiter.allow() && limiter.allow());
        assert!(!limiter.allow());
    }
}

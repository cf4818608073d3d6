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
    /// Reply bytes one device (all its connections together) may draw per second, sustained:
    /// beyond its burst, the server takes its next frame only once the budget allows (honest
    /// devices draw far less).
    pub reply_bytes_per_second: f64,
    /// Reply bytes a device may draw at once before the sustained rate applies (a cold sync of a
    /// city at the scale of DOMAIN.md is about 1.5 MB).
    pub reply_burst_bytes: f64,
    /// Most bytes one reply holds: once a frame's replies pass it, its remaining documents are
    /// refused with `TooLarge`, to be asked for in another frame.
    pub max_reply_bytes: usize,
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
            reply_bytes_per_second: 256.0 * 1024.0,
            reply_burst_bytes: 4.0 * 1024.0 * 1024.0,
            max_reply_bytes: 64 * 1024 * 1024,
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

/// A token bucket of reply bytes for one device (its connections share it): what the server spends
/// building replies for it, bounded per second.
#[derive(Debug)]
pub struct ReplyBudget {
    rate: f64,
    burst: f64,
    /// Bytes left, and when they were counted.
    bucket: std::sync::Mutex<(f64, Instant)>,
}

impl ReplyBudget {
    /// A full bucket.
    pub fn new(limits: &Limits) -> Self {
        ReplyBudget {
            rate: limits.reply_bytes_per_second,
            burst: limits.reply_burst_bytes,
            bucket: std::sync::Mutex::new((limits.reply_burst_bytes, Instant::now())),
        }
    }

    /// The bucket, refilled to now.
    fn refilled(&self) -> std::sync::MutexGuard<'_, (f64, Instant)> {
        let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        bucket.0 =
            (bucket.0 + now.duration_since(bucket.1).as_secs_f64() * self.rate).min(self.burst);
        bucket.1 = now;
        bucket
    }

    /// Takes `bytes` of replies (the bucket may go below empty).
    pub fn spend(&self, bytes: usize) {
        self.refilled().0 -= bytes as f64;
    }

    /// How long to wait before taking the device's next frame: zero while the bucket holds bytes.
    pub fn wait(&self) -> Duration {
        let bytes = self.refilled().0;
        if bytes >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bytes / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_over_its_reply_budget_waits_in_proportion() {
        let budget = ReplyBudget::new(&Limits {
            reply_bytes_per_second: 1000.0,
            reply_burst_bytes: 2000.0,
            ..Limits::default()
        });
        budget.spend(1500);
        assert_eq!(budget.wait(), Duration::ZERO, "within the burst");
        budget.spend(2500);
        let wait = budget.wait();
        assert!(
            wait > Duration::from_millis(1900) && wait <= Duration::from_secs(2),
            "{wait:?}"
        );
    }

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

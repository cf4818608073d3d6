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
}

impl Limits {
    /// How long a frame of `bytes` may take to be sent.
    pub fn send_deadline(&self, bytes: usize) -> Duration {
        let carrying =
            Duration::try_from_secs_f64(bytes as f64 / self.min_send_rate).unwrap_or(Duration::MAX);
        self.send_timeout.saturating_add(carrying)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 16 * 1024 * 1024,
            max_docs_per_frame: 512,
            frames_per_second: 50.0,
            burst: 200.0,
            send_timeout: Duration::from_secs(30),
            // 16 kbit/s: a frame of the 32 documents a device asks for at once (about 400 kB in a
            // city at the scale of DOMAIN.md) may take over three minutes.
            min_send_rate: 2048.0,
            silence: Duration::from_secs(90),
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
    fn a_larger_frame_may_take_longer_to_send() {
        let limits = Limits {
            send_timeout: Duration::from_secs(30),
            min_send_rate: 2048.0,
            ..Limits::default()
        };
        assert_eq!(limits.send_deadline(0), Duration::from_secs(30));
        assert_eq!(limits.send_deadline(409_600), Duration::from_secs(230));
        let slowest = Limits {
            min_send_rate: f64::MIN_POSITIVE,
            ..limits
        };
        assert_eq!(slowest.send_deadline(1), Duration::MAX, "no overflow");
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

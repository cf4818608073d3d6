//! Whether the other end of a connection is still there. A connection silent for a third of the
//! silence allowed is pinged (once), and one silent for all of it is taken to be gone: a phone that
//! loses its signal, or a network that drops a connection, closes nothing. The server keeps one per
//! device, and a device one per live connection. Both also give up on a frame the other end does
//! not take in time ([`send_deadline`]).

use std::time::{Duration, Instant};

/// How long a frame may take to be sent, beyond its size at [`SLOWEST_LINK`], by default.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Slowest link a device may sync over, in bytes per second, by default: 16 kbit/s. A frame of the
/// 32 documents a device asks for at once (about 400 kB in a city at the scale of DOMAIN.md) may
/// then take over three minutes.
pub const SLOWEST_LINK: f64 = 2048.0;

/// How long a frame of `bytes` may take to be taken by the other end: `timeout`, plus its size at
/// `slowest` bytes a second, so that a slow link is not taken for one that stopped reading.
pub fn send_deadline(timeout: Duration, slowest: f64, bytes: usize) -> Duration {
    let carrying = Duration::try_from_secs_f64(bytes as f64 / slowest).unwrap_or(Duration::MAX);
    timeout.saturating_add(carrying)
}

/// What a connection's silence calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Nothing yet.
    Nothing,
    /// A ping, to be answered.
    Ping,
    /// Nothing more: the other end is gone, silent this long.
    Gone(Duration),
}

/// When the other end was last heard from, and whether it was pinged since.
#[derive(Debug, Clone)]
pub struct Liveness {
    heard: Instant,
    pinged: bool,
}

impl Default for Liveness {
    fn default() -> Self {
        Self::new()
    }
}

impl Liveness {
    /// Heard from just now (the connection was just made).
    pub fn new() -> Self {
        Liveness {
            heard: Instant::now(),
            pinged: false,
        }
    }

    /// Something came from the other end: a frame, a ping or a pong.
    pub fn heard(&mut self) {
        (self.heard, self.pinged) = (Instant::now(), false);
    }

    /// The other end took something at `at` (a frame sent to it went through): it counts as being
    /// there, though it did not answer a ping.
    pub fn took(&mut self, at: Instant) {
        self.heard = self.heard.max(at);
    }

    /// What is due now, with `silence` allowed.
    pub fn due(&mut self, silence: Duration) -> Due {
        let silent = self.heard.elapsed();
        if silent >= silence {
            Due::Gone(silent)
        } else if silent >= silence / 3 && !self.pinged {
            self.pinged = true;
            Due::Ping
        } else {
            Due::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_larger_frame_may_take_longer_to_send() {
        let timeout = Duration::from_secs(30);
        assert_eq!(send_deadline(timeout, 2048.0, 0), timeout);
        assert_eq!(
            send_deadline(timeout, 2048.0, 409_600),
            Duration::from_secs(230)
        );
        assert_eq!(
            send_deadline(timeout, f64::MIN_POSITIVE, 1),
            Duration::MAX,
            "no overflow"
        );
    }

    fn silent_for(secs: u64) -> Liveness {
        Liveness {
            heard: Instant::now() - Duration::from_secs(secs),
            pinged: false,
        }
    }

    #[test]
    fn a_third_of_the_silence_calls_for_one_ping_and_all_of_it_for_giving_up() {
        let silence = Duration::from_secs(90);
        assert_eq!(silent_for(10).due(silence), Due::Nothing);
        let mut quiet = silent_for(40);
        assert_eq!(quiet.due(silence), Due::Ping);
        assert_eq!(quiet.due(silence), Due::Nothing, "one ping per silence");
        assert!(matches!(silent_for(95).due(silence), Due::Gone(s) if s >= silence));
        quiet.heard();
        assert_eq!(quiet.due(silence), Due::Nothing);
    }

    #[test]
    fn something_taken_counts_as_being_there_but_does_not_answer_the_ping() {
        let silence = Duration::from_secs(90);
        let mut slow = silent_for(95);
        slow.took(Instant::now() - Duration::from_secs(40));
        assert_eq!(slow.due(silence), Due::Ping);
        slow.took(Instant::now());
        assert_eq!(slow.due(silence), Due::Nothing);
        slow.took(Instant::now() - Duration::from_secs(200));
        assert_eq!(
            slow.due(silence),
            Due::Nothing,
            "an older moment changes nothing"
        );
    }
}

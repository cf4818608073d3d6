//! Opening hours: OSM `opening_hours` syntax, evaluated in Japan time with Japanese public holidays
//! (`PH`), through the `opening-hours` crate.

use crate::validate::{Reason, ValidationError};
use chrono::{NaiveDateTime, Utc};
use opening_hours::localization::Country;
use opening_hours::{Context, OpeningHours, RuleKind};
use std::sync::LazyLock;

static JP_CONTEXT: LazyLock<Context> =
    LazyLock::new(|| Context::default().with_holidays(Country::JP.holidays()));

/// Parsed opening hours of a place.
#[derive(Debug, Clone)]
pub struct Hours(OpeningHours);

/// Whether a place is open at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenState {
    /// Open.
    Open,
    /// Closed.
    Closed,
    /// The hours say "unknown" (or event-only, e.g. `"by appointment"`).
    Unknown,
}

impl Hours {
    /// Parses OSM syntax; the error names the `hours` field.
    pub fn parse(raw: &str) -> Result<Hours, ValidationError> {
        raw.trim()
            .parse::<OpeningHours>()
            .map(|oh| Hours(oh.with_context(JP_CONTEXT.clone())))
            .map_err(|e| {
                // The parser's report is a source excerpt with arrows (`--> 1:1`): what a
                // person can use of it is where reading stopped.
                let at = e
                    .to_string()
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("--> ").map(str::to_string))
                    .and_then(|pos| pos.split(':').nth(1).and_then(|c| c.parse::<usize>().ok()));
                let near: String = match at {
                    Some(column) => raw
                        .trim()
                        .chars()
                        .skip(column.saturating_sub(1))
                        .take(12)
                        .collect(),
                    None => String::new(),
                };
                ValidationError::new("hours", Reason::BadHours(near))
            })
    }

    /// The state at `at` (Japan local time).
    pub fn state(&self, at: NaiveDateTime) -> OpenState {
        match self.0.state(at).0 {
            RuleKind::Open => OpenState::Open,
            RuleKind::Closed => OpenState::Closed,
            RuleKind::Unknown => OpenState::Unknown,
        }
    }

    /// When the state next changes after `at`, within the coming year.
    pub fn next_change(&self, at: NaiveDateTime) -> Option<NaiveDateTime> {
        self.0
            .next_change(at)
            .filter(|t| *t < at + chrono::Duration::days(366))
    }
}

/// The current time in Japan (UTC+9, no daylight saving).
pub fn now_jst() -> NaiveDateTime {
    (Utc::now() + chrono::Duration::hours(9)).naive_utc()
}

/// A moment (RFC 3339, any offset) as people read it: Japan time, `2026-12-06 10:16`. What is
/// not such a moment is shown as it is.
pub fn shown_jst(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            (t.with_timezone(&Utc) + chrono::Duration::hours(9))
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .or_else(|_| {
            // A moment already in Japan time without an offset (a visit's `at`).
            NaiveDateTime::parse_from_str(rfc3339, "%Y-%m-%dT%H:%M:%S")
                .or_else(|_| NaiveDateTime::parse_from_str(rfc3339, "%Y-%m-%dT%H:%M"))
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        })
        .unwrap_or_else(|_| rfc3339.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn moments_are_shown_in_japan_time_in_one_format() {
        assert_eq!(shown_jst("2026-12-06T01:16:09+00:00"), "2026-12-06 10:16");
        assert_eq!(shown_jst("2026-12-06T10:16:09+09:00"), "2026-12-06 10:16");
        assert_eq!(shown_jst("2026-12-05T20:30:00Z"), "2026-12-06 05:30");
        assert_eq!(shown_jst("2026-12-06T10:16:00"), "2026-12-06 10:16");
        assert_eq!(shown_jst("いつか"), "いつか");
    }

    fn at(y: i32, m: u32, d: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    #[test]
    fn weekday_hours_are_open_inside_and_closed_outside() {
        let h = Hours::parse("Mo-Fr 10:00-16:00").unwrap();
        assert_eq!(h.state(at(2026, 11, 25, 11)), OpenState::Open); // Wednesday
        assert_eq!(h.state(at(2026, 11, 25, 17)), OpenState::Closed);
        assert_eq!(h.state(at(2026, 11, 28, 11)), OpenState::Closed); // Saturday
        assert_eq!(
            h.next_change(at(2026, 11, 25, 11)),
            Some(at(2026, 11, 25, 16))
        );
    }

    #[test]
    fn japanese_public_holidays_close_ph_off_places() {
        let h = Hours::parse("Mo-Fr 10:00-16:00; PH off").unwrap();
        // 2026-11-23 (Mon) is 勤労感謝の日.
        assert_eq!(h.state(at(2026, 11, 23, 11)), OpenState::Closed);
        assert_eq!(h.state(at(2026, 11, 24, 11)), OpenState::Open);
    }

    #[test]
    fn bad_syntax_names_the_hours_field() {
        let e = Hours::parse("月曜 10時から").unwrap_err();
        assert_eq!(e.field, "hours");
        assert!(matches!(e.reason, Reason::BadHours(_)));
    }
}

//! Validation rules shared by the app, the CLI, imports and the sync server.
//!
//! A [`ValidationError`] names the field and the reason, in Japanese and English. Callers validate a
//! whole record before writing anything, so invalid input changes nothing.

use crate::i18n::{Lang, field_label};
use crate::taxonomy::{self, Term};
use chrono::{NaiveDate, NaiveDateTime};
use std::fmt;

/// Longest name accepted (characters).
pub const MAX_NAME_CHARS: usize = 120;
/// Longest free-text field accepted (characters): descriptions, offers, notes.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Longest short text accepted (characters): address, contact, reading.
pub const MAX_SHORT_CHARS: usize = 300;
/// Most people one visit record may count.
pub const MAX_PEOPLE: u32 = 10_000;

/// Why a field was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// The field is required and was empty.
    Required,
    /// Longer than `max` characters.
    TooLong {
        /// The bound.
        max: usize,
    },
    /// A number outside `min..=max`.
    OutOfRange {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// Not a number.
    NotANumber(String),
    /// Latitude and longitude both zero: a GPS fix that never happened.
    NullIsland,
    /// Not one of the taxonomy's ids.
    UnknownTerm {
        /// The value given.
        value: String,
        /// Up to a few of the allowed terms, as a hint (shown by their labels in the person's
        /// language).
        expected: Vec<&'static Term>,
    },
    /// The same value twice in a list.
    Duplicate(String),
    /// Opening hours that the OSM `opening_hours` grammar does not accept.
    BadHours(String),
    /// Not a date (YYYY-MM-DD) or date-time.
    BadDate(String),
    /// A date before 2000 or too far in the future for this field.
    DateOutOfRange(String),
    /// A follow-up date before the visit itself.
    BeforeVisit,
    /// A referral to the team that sends it.
    SameTeam,
    /// A report period whose last month comes before its first.
    EndsBeforeStart,
    /// A report period that overlaps one published before without being the same (or is the
    /// same, published with another minimum cell or other figures).
    OverlapsPublished {
        /// The earlier period's first month.
        from: String,
        /// Its last month.
        to: String,
    },
    /// Escalation asked for, but the workspace marks no team as its case conference.
    NoCaseConference,
    /// A step that does not follow the current one in the lifecycle.
    NotAfter {
        /// The current step.
        from: String,
        /// The step asked for.
        to: String,
    },
    /// Exactly one of two must be given (a team or an organization).
    OneOfTwo,
    /// Not `true` or `false`.
    NotABool(String),
    /// A reference to a record that does not exist (or is deleted).
    UnknownRecord(String),
    /// A field the record does not have, or one that cannot be set this way.
    UnknownField(String),
    /// A control character (an ANSI escape, a bidi override, a line break in a one-line field):
    /// text that would rewrite a terminal or reverse what a person reads.
    ControlCharacter(char),
    /// Not an id as ibasho makes them (32 lowercase hex digits).
    BadId(String),
    /// A row of an imported file repeating an earlier row (its line).
    DuplicateRow {
        /// The earlier row's line.
        line: u64,
    },
}

/// A refused field: which one and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationError {
    /// The field's id (`name`, `lat`, …).
    pub field: String,
    /// Why.
    pub reason: Reason,
}

impl ValidationError {
    /// Builds an error for `field`.
    pub fn new(field: &str, reason: Reason) -> Self {
        ValidationError {
            field: field.to_string(),
            reason,
        }
    }

    /// The message in `lang`, starting with the field's label.
    pub fn message(&self, lang: Lang) -> String {
        let label = field_label(&self.field).get(lang);
        let why = match (lang, &self.reason) {
            (Lang::Ja, Reason::Required) => "入力してください".to_string(),
            (Lang::En, Reason::Required) => "is required".to_string(),
            (Lang::Ja, Reason::TooLong { max }) => format!("{max}文字以内にしてください"),
            (Lang::En, Reason::TooLong { max }) => format!("must be at most {max} characters"),
            (Lang::Ja, Reason::OutOfRange { min, max }) => {
                format!("{min}から{max}の範囲で入力してください")
            }
            (Lang::En, Reason::OutOfRange { min, max }) => {
                format!("must be between {min} and {max}")
            }
            (Lang::Ja, Reason::NotANumber(v)) => format!("数値ではありません: {v:?}"),
            (Lang::En, Reason::NotANumber(v)) => format!("is not a number: {v:?}"),
            (Lang::Ja, Reason::NullIsland) => {
                "緯度0・経度0は位置が取れていない値です。地図で位置を選んでください".to_string()
            }
            (Lang::En, Reason::NullIsland) => {
                "0,0 is not a real location (no GPS fix); pick the place on the map".to_string()
            }
            (Lang::Ja, Reason::UnknownTerm { value, expected }) => {
                let labels: Vec<&str> = expected.iter().map(|t| t.label(lang)).collect();
                format!(
                    "「{value}」は選べる値ではありません（例: {}）",
                    labels.join("、")
                )
            }
            (Lang::En, Reason::UnknownTerm { value, expected }) => {
                let labels: Vec<&str> = expected.iter().map(|t| t.label(lang)).collect();
                format!(
                    "{value:?} is not one of the allowed values (e.g. {})",
                    labels.join(", ")
                )
            }
            (Lang::Ja, Reason::Duplicate(v)) => format!("{v:?} が重複しています"),
            (Lang::En, Reason::Duplicate(v)) => format!("{v:?} is listed twice"),
            (Lang::Ja, Reason::BadHours(near)) if near.is_empty() => {
                "OSMのopening_hours形式として読めません（例: Mo-Fr 10:00-16:00; PH off）"
                    .to_string()
            }
            (Lang::Ja, Reason::BadHours(near)) => format!(
                "OSMのopening_hours形式として読めません（「{near}」のあたり。例: Mo-Fr 10:00-16:00; PH off）"
            ),
            (Lang::En, Reason::BadHours(near)) if near.is_empty() => {
                "is not valid OSM opening_hours syntax (e.g. Mo-Fr 10:00-16:00; PH off)".to_string()
            }
            (Lang::En, Reason::BadHours(near)) => format!(
                "is not valid OSM opening_hours syntax near {near:?} (e.g. Mo-Fr 10:00-16:00; PH off)"
            ),
            (Lang::Ja, Reason::BadDate(v)) => {
                format!("日付として読めません（YYYY-MM-DD）: {v:?}")
            }
            (Lang::En, Reason::BadDate(v)) => format!("is not a date (YYYY-MM-DD): {v:?}"),
            (Lang::Ja, Reason::DateOutOfRange(v)) => format!("ありえない日付です: {v}"),
            (Lang::En, Reason::DateOutOfRange(v)) => format!("is not a plausible date: {v}"),
            (Lang::Ja, Reason::BeforeVisit) => "訪問日より前にはできません".to_string(),
            (Lang::Ja, Reason::NotAfter { from, to }) => format!(
                "「{}」の次に「{}」にはできません",
                crate::taxonomy::lookup(crate::taxonomy::REFERRAL_STATUSES, from)
                    .map_or(from.as_str(), |t| t.label.ja),
                crate::taxonomy::lookup(crate::taxonomy::REFERRAL_STATUSES, to)
                    .map_or(to.as_str(), |t| t.label.ja)
            ),
            (Lang::En, Reason::NotAfter { from, to }) => {
                format!("{to:?} does not follow {from:?} in a referral's lifecycle")
            }
            (Lang::Ja, Reason::NoCaseConference) => {
                "ワークスペースに支援会議のチームが指定されていません".to_string()
            }
            (Lang::En, Reason::NoCaseConference) => {
                "the workspace marks no team as its case conference".to_string()
            }
            (Lang::Ja, Reason::OverlapsPublished { from, to }) => format!(
                "公表済みの期間（{from}〜{to}）と重なるため公表できません。重ならない期間にしてください。同じ期間は、同じ最小セルで数が変わっていないときだけ公表できます（差し引くと秘匿した数が分かるため）"
            ),
            (Lang::En, Reason::OverlapsPublished { from, to }) => format!(
                "overlaps the period {from} to {to} published before: publish a period that does not overlap; the same period only with the same minimum cell and unchanged figures (subtracting the two would reveal hidden counts)"
            ),
            (Lang::Ja, Reason::EndsBeforeStart) => "終わりの月が始まりの月より前です".to_string(),
            (Lang::En, Reason::EndsBeforeStart) => {
                "the last month comes before the first".to_string()
            }
            (Lang::Ja, Reason::SameTeam) => "送り元と同じチームにはつなげません".to_string(),
            (Lang::En, Reason::SameTeam) => "cannot be the sending team itself".to_string(),
            (Lang::Ja, Reason::OneOfTwo) => {
                "チームか団体のどちらか一つを指定してください".to_string()
            }
            (Lang::En, Reason::OneOfTwo) => "give either a team or an organization".to_string(),
            (Lang::En, Reason::BeforeVisit) => "cannot be before the visit".to_string(),
            (Lang::Ja, Reason::NotABool(v)) => {
                format!("はい/いいえ（true/false）で入力してください: {v:?}")
            }
            (Lang::En, Reason::NotABool(v)) => format!("must be true or false: {v:?}"),
            (Lang::Ja, Reason::UnknownRecord(id)) => format!("見つかりません: {id}"),
            (Lang::En, Reason::UnknownRecord(id)) => format!("no such record: {id}"),
            (Lang::Ja, Reason::UnknownField(f)) => format!("この方法では変更できない項目です: {f}"),
            (Lang::En, Reason::UnknownField(f)) => format!("cannot be set this way: {f}"),
            (Lang::Ja, Reason::ControlCharacter(c)) => {
                format!("制御文字（U+{:04X}）は使えません", u32::from(*c))
            }
            (Lang::En, Reason::ControlCharacter(c)) => {
                format!(
                    "must not contain control characters (U+{:04X})",
                    u32::from(*c)
                )
            }
            (Lang::Ja, Reason::DuplicateRow { line }) => {
                format!("{line} 行目と同じ名称・連絡先の行です")
            }
            (Lang::En, Reason::DuplicateRow { line }) => {
                format!("repeats the name and contact of line {line}")
            }
            (Lang::Ja, Reason::BadId(id)) => format!("IDの形式ではありません: {id:?}"),
            (Lang::En, Reason::BadId(id)) => format!("is not an id: {id:?}"),
        };
        match lang {
            Lang::Ja => format!("{label}: {why}"),
            Lang::En => format!("{label} {why}"),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.message(Lang::Ja), self.message(Lang::En))
    }
}

impl std::error::Error for ValidationError {}

/// Result of a validation rule.
pub type Check = Result<(), ValidationError>;

/// A required text no longer than `max` characters.
pub fn required_text(field: &str, value: &str, max: usize) -> Check {
    if value.trim().is_empty() {
        return Err(ValidationError::new(field, Reason::Required));
    }
    optional_text(field, value, max)
}

/// An optional text no longer than `max` characters, without control characters. Long texts
/// (up to [`MAX_TEXT_CHARS`]) may hold line breaks and tabs; shorter ones are one line.
pub fn optional_text(field: &str, value: &str, max: usize) -> Check {
    if value.chars().count() > max {
        return Err(ValidationError::new(field, Reason::TooLong { max }));
    }
    plain_text(field, value, max >= MAX_TEXT_CHARS)
}

/// The first character of `value` that text may not hold: C0 and C1 control characters (ANSI
/// escapes start with one), DEL, and the bidi overrides and isolates that make text read in
/// another order than it is stored. Line breaks and tabs are allowed in `multiline` text.
pub fn control_character(value: &str, multiline: bool) -> Option<char> {
    value.chars().find(|&c| is_control_character(c, multiline))
}

/// Whether text may not hold `c` (see [`control_character`]).
pub fn is_control_character(c: char, multiline: bool) -> bool {
    let allowed = multiline && matches!(c, '\n' | '\t' | '\r');
    !allowed && (c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
}

/// Text without the characters [`control_character`] finds.
pub fn plain_text(field: &str, value: &str, multiline: bool) -> Check {
    match control_character(value, multiline) {
        Some(c) => Err(ValidationError::new(field, Reason::ControlCharacter(c))),
        None => Ok(()),
    }
}

/// Whether `id` is a record id as [`crate::domain::new_id`] makes them: 32 lowercase hex digits.
pub fn is_record_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Latitude and longitude in range and not (0,0).
pub fn location(lat: f64, lon: f64) -> Check {
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(ValidationError::new(
            "lat",
            Reason::OutOfRange {
                min: -90.0,
                max: 90.0,
            },
        ));
    }
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(ValidationError::new(
            "lon",
            Reason::OutOfRange {
                min: -180.0,
                max: 180.0,
            },
        ));
    }
    if lat == 0.0 && lon == 0.0 {
        return Err(ValidationError::new("location", Reason::NullIsland));
    }
    Ok(())
}

/// Parses a number given as text, naming the field when it is not one.
pub fn parse_f64(field: &str, value: &str) -> Result<f64, ValidationError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| ValidationError::new(field, Reason::NotANumber(value.to_string())))
}

/// Parses `true`/`false` (also はい/いいえ, yes/no, 1/0).
pub fn parse_bool(field: &str, value: &str) -> Result<bool, ValidationError> {
    match value.trim().to_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "はい" | "あり" | "同意" => Ok(true),
        "false" | "no" | "n" | "0" | "いいえ" | "なし" | "" => Ok(false),
        _ => Err(ValidationError::new(
            field,
            Reason::NotABool(value.to_string()),
        )),
    }
}

/// A value from a taxonomy list (by id or label); returns the stored id.
pub fn term(
    field: &str,
    list: &'static [Term],
    value: &str,
) -> Result<&'static str, ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::new(field, Reason::Required));
    }
    taxonomy::lookup(list, value).map(|t| t.id).ok_or_else(|| {
        let expected = list.iter().take(4).collect::<Vec<_>>();
        ValidationError::new(
            field,
            Reason::UnknownTerm {
                value: value.trim().to_string(),
                expected,
            },
        )
    })
}

/// Several terms of `list` (ids or labels); returns the ids in taxonomy order, no duplicates.
pub fn terms<S: AsRef<str>>(
    field: &str,
    list: &'static [Term],
    values: &[S],
) -> Result<Vec<String>, ValidationError> {
    let mut ids: Vec<&'static str> = Vec::new();
    for value in values
        .iter()
        .map(AsRef::as_ref)
        .filter(|v| !v.trim().is_empty())
    {
        let id = term(field, list, value)?;
        if ids.contains(&id) {
            return Err(ValidationError::new(
                field,
                Reason::Duplicate(value.trim().to_string()),
            ));
        }
        ids.push(id);
    }
    ids.sort_by_key(|id| list.iter().position(|t| t.id == *id));
    Ok(ids.into_iter().map(String::from).collect())
}

/// A list of target groups (ids or labels); returns the ids in taxonomy order, no duplicates.
pub fn targets<S: AsRef<str>>(values: &[S]) -> Result<Vec<String>, ValidationError> {
    let mut ids: Vec<&'static str> = Vec::new();
    for value in values
        .iter()
        .map(AsRef::as_ref)
        .filter(|v| !v.trim().is_empty())
    {
        let id = term("targets", taxonomy::TARGET_GROUPS, value)?;
        if ids.contains(&id) {
            return Err(ValidationError::new(
                "targets",
                Reason::Duplicate(value.trim().to_string()),
            ));
        }
        ids.push(id);
    }
    ids.sort_by_key(|id| taxonomy::TARGET_GROUPS.iter().position(|t| t.id == *id));
    Ok(ids.into_iter().map(String::from).collect())
}

/// Splits a target-group list written as text: commas, semicolons, 、 or ・ separate entries.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split([',', ';', '、', '|', '，'])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Opening hours in OSM syntax (empty is allowed: unknown).
pub fn hours(value: &str) -> Check {
    if value.trim().is_empty() {
        return Ok(());
    }
    crate::hours::Hours::parse(value).map(|_| ())
}

/// The earliest date accepted anywhere.
pub fn earliest_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date")
}

/// Parses a date `YYYY-MM-DD` (also `YYYY/MM/DD`) and checks it is after 2000-01-01 and at most
/// `max_years_ahead` years after `today`.
pub fn date(
    field: &str,
    value: &str,
    today: NaiveDate,
    max_years_ahead: i32,
) -> Result<NaiveDate, ValidationError> {
    let v = value.trim().replace('/', "-");
    let d = NaiveDate::parse_from_str(&v, "%Y-%m-%d")
        .map_err(|_| ValidationError::new(field, Reason::BadDate(value.to_string())))?;
    let latest = today
        .checked_add_months(chrono::Months::new(12 * max_years_ahead.max(0) as u32))
        .unwrap_or(today);
    if d < earliest_date() || d > latest {
        return Err(ValidationError::new(
            field,
            Reason::DateOutOfRange(d.to_string()),
        ));
    }
    Ok(d)
}

/// Parses a date-time `YYYY-MM-DDTHH:MM[:SS]` (or a bare date, taken as 00:00) no earlier than 2000 and
/// no more than a day after `now`.
pub fn datetime(
    field: &str,
    value: &str,
    now: NaiveDateTime,
) -> Result<NaiveDateTime, ValidationError> {
    let v = value.trim().replace('/', "-").replace(' ', "T");
    let parsed = NaiveDateTime::parse_from_str(&v, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(&v, "%Y-%m-%dT%H:%M"))
        .or_else(|_| {
            NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight"))
        })
        .map_err(|_| ValidationError::new(field, Reason::BadDate(value.to_string())))?;
    if parsed.date() < earliest_date() || parsed > now + chrono::Duration::days(1) {
        return Err(ValidationError::new(
            field,
            Reason::DateOutOfRange(parsed.to_string()),
        ));
    }
    Ok(parsed)
}

/// A non-negative count no larger than [`MAX_PEOPLE`].
pub fn people(value: &str) -> Result<u32, ValidationError> {
    let n: i64 = value
        .trim()
        .parse()
        .map_err(|_| ValidationError::new("people", Reason::NotANumber(value.to_string())))?;
    if !(0..=MAX_PEOPLE as i64).contains(&n) {
        return Err(ValidationError::new(
            "people",
            Reason::OutOfRange {
                min: 0.0,
                max: MAX_PEOPLE as f64,
            },
        ));
    }
    Ok(n as u32)
}

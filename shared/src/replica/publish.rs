//! Publishing a report without revealing small counts (秘匿). Counts of vulnerable people in small
//! towns are personal: every count below the minimum cell (3 by default, as Japan's official
//! statistics do) is replaced by `<N`, and then further cells are hidden (`x`, complementary
//! suppression) so that no hidden cell can be worked out from the totals that are shown. A check
//! proves it for every published table; a log of what was published refuses a report whose period
//! overlaps an earlier one's without being the same (subtracting the two would reveal the cells
//! of the months between).

use super::Replica;
use super::report::{Counts, Report};
use crate::error::{Error, Result};
use crate::validate::{Reason, ValidationError};
use rusqlite::OptionalExtension;
use serde_json::{Map, Value, json};

/// A table of a section: cells (label → count) that add up to `total` when `additive`.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The count of each label.
    pub cells: Counts,
    /// The table's total (the section's `total`, or the people reached for people's tables).
    pub total: i64,
    /// Whether the cells add up to the total (a visit counts once by month; by target group it
    /// may count several times).
    pub additive: bool,
}

/// A cell as published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// The count.
    Count(i64),
    /// Below the minimum cell: 1 to `min - 1`.
    Small,
    /// Hidden so that a small cell cannot be worked out: at least `min`, as only such cells are
    /// ever hidden.
    Hidden,
}

/// What the published table shows: each cell, and whether the total is hidden.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// Each label's cell.
    pub cells: Vec<(String, Shown)>,
    /// Whether the total is hidden too.
    pub total_hidden: bool,
}

/// The values a reader knows a cell may take from its mark alone.
fn own_range(shown: Shown, min: i64, total: i64) -> (i64, i64) {
    match shown {
        Shown::Count(n) => (n, n),
        Shown::Small => (1, min - 1),
        Shown::Hidden => (min, total.max(min)),
    }
}

/// The interval a cell may take, given everything the table shows: each cell's own range, and,
/// when the total is shown and the cells add up to it, the total less the others' ranges. For one
/// sum over cells each in an interval this is exact: every value in it is reached.
fn bounds(table: &Table, published: &Published, min: i64, cell: usize) -> (i64, i64) {
    let ranges: Vec<(i64, i64)> = published
        .cells
        .iter()
        .map(|(_, s)| own_range(*s, min, table.total))
        .collect();
    let (lo, hi) = ranges[cell];
    if published.total_hidden || !table.additive {
        return (lo, hi);
    }
    let (others_lo, others_hi) = ranges
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != cell)
        .fold((0, 0), |(a, b), (_, (l, h))| (a + l, b + h));
    (
        lo.max(table.total - others_hi),
        hi.min(table.total - others_lo),
    )
}

/// Whether any cell not shown as a count can be worked out from what the table shows (its
/// interval is one value).
pub fn reveals(table: &Table, published: &Published, min: i64) -> bool {
    published.cells.iter().enumerate().any(|(i, (_, s))| {
        !matches!(s, Shown::Count(_)) && {
            let (lo, hi) = bounds(table, published, min, i);
            lo >= hi
        }
    })
}

/// Suppresses `table` for publishing with minimum cell `min`: small cells become `<min`, then the
/// smallest shown cells are hidden until no hidden cell can be worked out (and, when that is not
/// enough, the total too). A total below the minimum is hidden.
pub fn suppress(table: &Table, min: i64) -> Published {
    let mut published = Published {
        cells: table
            .cells
            .iter()
            .map(|(label, n)| {
                let shown = if *n < min {
                    Shown::Small
                } else {
                    Shown::Count(*n)
                };
                (label.clone(), shown)
            })
            .collect(),
        total_hidden: table.total > 0 && table.total < min,
    };
    while reveals(table, &published, min) {
        let next = published
            .cells
            .iter()
            .enumerate()
            .filter_map(|(i, (_, s))| match s {
                Shown::Count(n) => Some((i, *n)),
                _ => None,
            })
            .min_by_key(|(_, n)| *n);
        match next {
            Some((i, _)) => published.cells[i].1 = Shown::Hidden,
            None => {
                published.total_hidden = true;
                break;
            }
        }
    }
    published
}

/// Where a table sits in a report: a map of cells (`by_*`), or figures of the section that add
/// up to its total (follow-ups: done, due, overdue).
#[derive(Debug, Clone, PartialEq)]
enum Place {
    Map(String),
    Figures(Vec<String>),
}

/// The tables of a report: (section, where, the key of its total, table).
fn tables(value: &Value) -> Vec<(String, Place, String, Table)> {
    let mut out = Vec::new();
    for (section, figures) in value.as_object().into_iter().flatten() {
        let Some(total) = figures.get("total").and_then(Value::as_i64) else {
            continue;
        };
        if section == "follow_ups" {
            let keys = ["done", "due", "overdue"];
            let cells: Counts = keys
                .iter()
                .filter_map(|k| Some((k.to_string(), figures.get(*k)?.as_i64()?)))
                .filter(|(_, n)| *n > 0)
                .collect();
            out.push((
                section.clone(),
                Place::Figures(keys.iter().map(|k| k.to_string()).collect()),
                "total".to_string(),
                Table {
                    cells,
                    total,
                    additive: true,
                },
            ));
            continue;
        }
        for (key, cells) in figures.as_object().into_iter().flatten() {
            let Some(map) = cells.as_object() else {
                continue;
            };
            let cells: Counts = map
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_i64()?)))
                .collect();
            // People's tables add up to the people reached, not to the visits.
            let total_key = if key.starts_with("people_by_") {
                "people"
            } else {
                "total"
            };
            let Some(table_total) = figures.get(total_key).and_then(Value::as_i64) else {
                continue;
            };
            out.push((
                section.clone(),
                Place::Map(key.clone()),
                total_key.to_string(),
                Table {
                    cells,
                    total: table_total,
                    additive: !matches!(key.as_str(), "by_target" | "people_by_target"),
                },
            ));
        }
    }
    out
}

fn mark(shown: Shown, min: i64) -> Value {
    match shown {
        Shown::Count(n) => json!(n),
        Shown::Small => json!(format!("<{min}")),
        Shown::Hidden => json!("x"),
    }
}

/// A report as published with minimum cell `min`: counts as numbers, small ones as `"<min"`,
/// hidden ones as `"x"`. Every table passes the check that none of its hidden cells can be worked
/// out; figures that repeat a table's cells (the organizations joined and wanting to join, the
/// connected rate) are hidden with them; any other figure below the minimum shows as `"<min"`.
pub fn published_json(report: &Report, min: i64) -> Result<Value> {
    publish_value(serde_json::to_value(report).expect("a report encodes"), min)
}

/// [`published_json`] of a report already in its JSON form.
fn publish_value(plain: Value, min: i64) -> Result<Value> {
    let mut value = plain.clone();
    let mut settled: Vec<(String, String)> = Vec::new();
    for (section, place, total_key, table) in tables(&plain) {
        let published = suppress(&table, min);
        if reveals(&table, &published, min) {
            return Err(Error::Disclosure(section));
        }
        match &place {
            Place::Map(key) => {
                let map: Map<String, Value> = published
                    .cells
                    .iter()
                    .map(|(label, shown)| (label.clone(), mark(*shown, min)))
                    .collect();
                value[&section][key] = Value::Object(map);
                settled.push((section.clone(), key.clone()));
            }
            Place::Figures(keys) => {
                for (label, shown) in &published.cells {
                    value[&section][label] = mark(*shown, min);
                }
                settled.extend(keys.iter().map(|k| (section.clone(), k.clone())));
            }
        }
        if published.total_hidden {
            value[&section][&total_key] = json!("x");
        }
        settled.push((section.clone(), total_key));
    }
    link_repeated_figures(&mut value, &mut settled);
    // Any other figure of a section (organizations surveyed, places to re-check…) is shown only
    // at or above the minimum, like any cell.
    for (section, figures) in value.as_object_mut().into_iter().flatten() {
        for (key, v) in figures.as_object_mut().into_iter().flatten() {
            if settled.iter().any(|(s, k)| s == section && k == key) {
                continue;
            }
            if let Some(n) = v.as_i64()
                && n > 0
                && n < min
            {
                *v = json!(format!("<{min}"));
            }
        }
    }
    Ok(value)
}

/// Figures that repeat cells of a table take the cells' marks: `orgs.joined` is the 参画済み cell
/// of `by_participation`, `orgs.wants` that cell and 参画したい together, and the referrals'
/// `connected_rate` is worked out from the つながった and つながらなかった cells.
fn link_repeated_figures(value: &mut Value, settled: &mut Vec<(String, String)>) {
    use crate::taxonomy::{PARTICIPATION, REFERRAL_STATUSES};
    let cell =
        |value: &Value, section: &str, table: &str, terms: &[crate::taxonomy::Term], id: &str| {
            let term = terms.iter().find(|t| t.id == id)?;
            let map = value.get(section)?.get(table)?.as_object()?;
            [term.label.ja, term.label.en]
                .iter()
                .find_map(|l| map.get(*l).cloned())
        };
    let hidden = |v: &Option<Value>| v.as_ref().is_some_and(|v| !v.is_i64());
    let joined = cell(value, "orgs", "by_participation", PARTICIPATION, "joined");
    let wants = cell(value, "orgs", "by_participation", PARTICIPATION, "wants");
    if value.get("orgs").is_some() {
        if hidden(&joined) {
            value["orgs"]["joined"] = json!("x");
        }
        if hidden(&joined) || hidden(&wants) {
            value["orgs"]["wants"] = json!("x");
        }
        settled.push(("orgs".into(), "joined".into()));
        settled.push(("orgs".into(), "wants".into()));
    }
    let connected = cell(
        value,
        "referrals",
        "by_status",
        REFERRAL_STATUSES,
        "connected",
    );
    let not_connected = cell(
        value,
        "referrals",
        "by_status",
        REFERRAL_STATUSES,
        "not_connected",
    );
    if value.get("referrals").is_some_and(Value::is_object) {
        if hidden(&connected) || hidden(&not_connected) {
            value["referrals"]["connected_rate"] = json!("x");
        }
        settled.push(("referrals".into(), "connected_rate".into()));
    }
}

impl Replica {
    /// Publishes `report` with minimum cell `min`. Refused when its period overlaps the period of
    /// a report published before without being the same, or is the same period published with
    /// another minimum cell or other figures (either pair could be subtracted); logged.
    pub fn publish_report(&mut self, report: &Report, min: i64) -> Result<Value> {
        if !(3..=1000).contains(&min) {
            return Err(ValidationError::new(
                "min_cell",
                Reason::OutOfRange {
                    min: 3.0,
                    max: 1000.0,
                },
            )
            .into());
        }
        let p = &report.period;
        if p.from > p.to {
            return Err(ValidationError::new("period", Reason::EndsBeforeStart).into());
        }
        let figures = {
            use sha2::Digest;
            let plain = serde_json::to_vec(report).expect("a report encodes");
            hex::encode(sha2::Sha256::digest(plain))
        };
        let clash: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT period_from, period_to FROM published_reports
                 WHERE period_from <= ?2 AND period_to >= ?1
                   AND NOT (period_from = ?1 AND period_to = ?2 AND min_cell = ?3 AND figures = ?4)
                 LIMIT 1",
                rusqlite::params![p.from, p.to, min, figures],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((from, to)) = clash {
            return Err(Error::from(ValidationError::new(
                "period",
                Reason::OverlapsPublished { from, to },
            )));
        }
        let published = published_json(report, min)?;
        self.conn.execute(
            "INSERT INTO published_reports (period_from, period_to, min_cell, figures, at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![p.from, p.to, min, figures, chrono::Utc::now().to_rfc3339()],
        )?;
        Ok(published)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cells: &[(&str, i64)]) -> Table {
        Table {
            cells: cells.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            total: cells.iter().map(|(_, v)| v).sum(),
            additive: true,
        }
    }

    #[test]
    fn one_small_cell_takes_a_second_one_with_it() {
        let t = table(&[("北", 10), ("南", 1), ("東", 7)]);
        let p = suppress(&t, 3);
        assert_eq!(p.cells[1].1, Shown::Small);
        // Without a second hidden cell, 南 = 18 - 10 - 7.
        assert!(
            p.cells
                .iter()
                .filter(|(_, s)| !matches!(s, Shown::Count(_)))
                .count()
                >= 2
        );
        assert!(!reveals(&t, &p, 3));
    }

    #[test]
    fn no_hidden_cell_is_ever_determined() {
        // Every table of up to five cells with counts 1..=6: the check holds after suppression.
        let mut cells = vec![1i64; 1];
        let mut checked = 0;
        loop {
            let named: Vec<(String, i64)> = cells
                .iter()
                .enumerate()
                .map(|(i, n)| (format!("c{i}"), *n))
                .collect();
            let t = Table {
                cells: named.into_iter().collect(),
                total: cells.iter().sum(),
                additive: true,
            };
            let p = suppress(&t, 3);
            assert!(!reveals(&t, &p, 3), "{cells:?} → {p:?}");
            assert!(
                p.cells
                    .iter()
                    .all(|(_, s)| !matches!(s, Shown::Count(n) if *n < 3))
            );
            checked += 1;
            // Next combination.
            let mut i = 0;
            loop {
                if i == cells.len() {
                    if cells.len() == 5 {
                        assert!(checked > 9000);
                        return;
                    }
                    cells = vec![1; cells.len() + 1];
                    break;
                }
                cells[i] += 1;
                if cells[i] <= 6 {
                    break;
                }
                cells[i] = 1;
                i += 1;
            }
        }
    }

    /// Whether some other table, agreeing with everything `published` shows (the counts shown,
    /// `<min` cells between 1 and `min - 1`, `x` cells at least `min`, and the total), has a
    /// different value in cell `cell`: found by trying every such table.
    fn another_table_fits(t: &Table, published: &Published, min: i64, cell: usize) -> bool {
        let values: Vec<i64> = t.cells.values().copied().collect();
        let unshown: Vec<usize> = (0..values.len())
            .filter(|i| !matches!(published.cells[*i].1, Shown::Count(_)))
            .collect();
        let shown_sum: i64 = (0..values.len())
            .filter(|i| !unshown.contains(i))
            .map(|i| values[i])
            .sum();
        let fits = |i: usize, v: i64| match published.cells[i].1 {
            Shown::Small => (1..min).contains(&v),
            Shown::Hidden => v >= min,
            Shown::Count(n) => v == n,
        };
        let fixed_total = !published.total_hidden && t.additive;
        // Try every value for every unshown cell but the last, which the total then gives.
        fn walk(
            at: usize,
            unshown: &[usize],
            chosen: &mut Vec<i64>,
            limit: i64,
            done: &mut dyn FnMut(&[i64]) -> bool,
        ) -> bool {
            if at == unshown.len() {
                return done(chosen);
            }
            for v in 1..=limit {
                chosen.push(v);
                let found = walk(at + 1, unshown, chosen, limit, done);
                chosen.pop();
                if found {
                    return true;
                }
            }
            false
        }
        let limit = t.total.max(min);
        let last = unshown.len().saturating_sub(usize::from(fixed_total));
        let mut check = |chosen: &[i64]| {
            let mut candidate: Vec<(usize, i64)> = unshown[..last]
                .iter()
                .copied()
                .zip(chosen.iter().copied())
                .collect();
            if fixed_total && let Some(&l) = unshown.last() {
                let so_far: i64 = chosen.iter().sum();
                candidate.push((l, t.total - shown_sum - so_far));
            }
            candidate.iter().all(|(i, v)| fits(*i, *v))
                && candidate
                    .iter()
                    .any(|(i, v)| *i == cell && *v != values[cell])
        };
        walk(0, &unshown[..last], &mut Vec::new(), limit, &mut check)
    }

    #[test]
    fn an_attacker_trying_every_table_finds_no_hidden_cell() {
        // Every table of up to four cells with counts 1..=5, at minimum cells 3 and 4: each cell
        // not shown as a count could have been another value, whatever the reader tries.
        for min in [3, 4] {
            let mut cells = vec![1i64];
            loop {
                let t = Table {
                    cells: cells
                        .iter()
                        .enumerate()
                        .map(|(i, n)| (format!("c{i}"), *n))
                        .collect(),
                    total: cells.iter().sum(),
                    additive: true,
                };
                let p = suppress(&t, min);
                for (i, (_, shown)) in p.cells.iter().enumerate() {
                    if !matches!(shown, Shown::Count(_)) {
                        assert!(
                            another_table_fits(&t, &p, min, i),
                            "min {min}: {cells:?} → {p:?} gives cell {i} away"
                        );
                    }
                }
                let mut i = 0;
                loop {
                    if i == cells.len() {
                        if cells.len() == 4 {
                            break;
                        }
                        cells = vec![1; cells.len() + 1];
                        i = usize::MAX;
                        break;
                    }
                    cells[i] += 1;
                    if cells[i] <= 5 {
                        i = usize::MAX;
                        break;
                    }
                    cells[i] = 1;
                    i += 1;
                }
                if i != usize::MAX {
                    break;
                }
            }
        }
    }

    #[test]
    fn a_hidden_cell_is_known_to_be_at_least_the_minimum() {
        // 1 is small; were 3 shown as "x" only, x ≥ 3 and x + small = 4 would give both away.
        let t = table(&[("04", 1), ("05", 3)]);
        let p = suppress(&t, 3);
        assert!(!reveals(&t, &p, 3));
        assert!(p.total_hidden || p.cells.iter().all(|(_, s)| !matches!(s, Shown::Count(_))));
    }

    #[test]
    fn figures_that_repeat_cells_are_hidden_with_them() {
        let report = json!({
            "period": {"from": "2026-04", "to": "2027-03"},
            "visits": {"total": 19, "people": 19, "by_month": {"04": 10, "05": 2, "06": 7},
                       "people_by_month": {"04": 10, "05": 2, "06": 7}, "by_team": {"北": 19},
                       "by_target": {}, "people_by_target": {}, "by_kind": {"訪問": 19}},
            "follow_ups": {"total": 10, "done": 8, "due": 0, "overdue": 2},
            "referrals": {"total": 10, "by_status": {"つながった": 5, "つながらなかった": 1, "送付": 4},
                          "by_reason": {"孤立": 10}, "by_receiver": {"南": 10}, "connected_rate": 0.8333},
            "orgs": {"total": 19, "new": 0, "surveyed": 19, "replied": 19, "related": 18, "wants": 8,
                     "joined": 3, "by_participation": {"参画済み": 3, "参画したい": 5, "参画しない": 10, "未回答": 1},
                     "by_sector": {"NPO": 19}},
            "places": {"total": 5, "new": 0, "by_category": {"カフェ": 5}, "by_status": {"営業中": 5}, "stale": 0}
        });
        let v = publish_value(report, 3).unwrap();
        // people_by_month adds up to the people reached: 05 = 19 - 10 - 7 must not be worked out.
        let pm = &v["visits"]["people_by_month"];
        assert_eq!(pm["05"], "<3");
        assert!(
            pm["04"] == "x" || pm["06"] == "x" || v["visits"]["people"] == "x",
            "{pm}"
        );
        // Follow-ups: overdue = 10 - 8 - 0 must not be worked out.
        let f = &v["follow_ups"];
        assert_eq!(f["overdue"], "<3");
        assert!(f["done"] == "x" || f["total"] == "x", "{f}");
        // The rate is hidden with the cells it is worked out from.
        assert_eq!(v["referrals"]["by_status"]["つながらなかった"], "<3");
        assert_eq!(v["referrals"]["connected_rate"], "x");
        // orgs.joined repeats the 参画済み cell: hidden with it.
        let o = &v["orgs"];
        if !o["by_participation"]["参画済み"].is_i64() {
            assert_eq!(o["joined"], "x");
            assert_eq!(o["wants"], "x");
        }
    }

    #[test]
    fn the_same_period_is_published_again_only_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let mut replica = Replica::open(&dir.path().join("r.sqlite3")).unwrap();
        replica.init("PF", "テスト").unwrap();
        let period = crate::Period {
            from: "2026-04".into(),
            to: "2026-09".into(),
        };
        let report = replica.report(&period, crate::Lang::Ja).unwrap();
        replica.publish_report(&report, 3).unwrap();
        replica
            .publish_report(&report, 3)
            .expect("the same publication again");
        let other_min = replica.publish_report(&report, 5).unwrap_err();
        assert!(
            other_min
                .message(crate::Lang::En)
                .contains("same minimum cell")
        );
        let overlapping = crate::Period {
            from: "2026-07".into(),
            to: "2026-12".into(),
        };
        let report2 = replica.report(&overlapping, crate::Lang::Ja).unwrap();
        assert!(replica.publish_report(&report2, 3).is_err());
        let backwards = crate::Period {
            from: "2027-03".into(),
            to: "2027-01".into(),
        };
        let report3 = replica.report(&backwards, crate::Lang::Ja).unwrap();
        assert!(replica.publish_report(&report3, 3).is_err());
    }
}

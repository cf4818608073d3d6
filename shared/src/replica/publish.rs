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
use serde_json::{Map, Value, json};

/// A table of a section: cells (label → count) that add up to `total` when `additive`.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The count of each label.
    pub cells: Counts,
    /// The section's total.
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
    /// Below the minimum cell.
    Small,
    /// Hidden so that a small cell cannot be worked out.
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

/// The interval a hidden cell may take, given what is shown: every cell counted is at least 1,
/// a small one at most `min - 1`, and the hidden cells add up to the total less the shown ones.
fn bounds(table: &Table, published: &Published, min: i64, cell: usize) -> (i64, i64) {
    let hidden: Vec<(usize, i64)> = published
        .cells
        .iter()
        .enumerate()
        .filter_map(|(i, (_, s))| match s {
            Shown::Count(_) => None,
            Shown::Small => Some((i, min - 1)),
            Shown::Hidden => Some((i, table.total)),
        })
        .collect();
    let own_max = hidden
        .iter()
        .find(|(i, _)| *i == cell)
        .map_or(0, |(_, m)| *m);
    if published.total_hidden || !table.additive {
        return (1, own_max.max(1));
    }
    let shown: i64 = published
        .cells
        .iter()
        .filter_map(|(_, s)| match s {
            Shown::Count(n) => Some(*n),
            _ => None,
        })
        .sum();
    let rest = table.total - shown;
    let others_max: i64 = hidden
        .iter()
        .filter(|(i, _)| *i != cell)
        .map(|(_, m)| *m)
        .sum();
    let others_min = (hidden.len() as i64 - 1).max(0);
    ((rest - others_max).max(1), own_max.min(rest - others_min))
}

/// Whether any hidden cell of `published` can be worked out from what it shows (its interval is
/// one value).
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
/// enough, the total too).
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
    let any_small = published.cells.iter().any(|(_, s)| *s == Shown::Small);
    while any_small && reveals(table, &published, min) {
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

/// The tables of a report's sections: (section, dimension, table).
fn tables(report: &Report) -> Vec<(String, String, Table)> {
    let value = serde_json::to_value(report).expect("a report encodes");
    let mut out = Vec::new();
    for (section, figures) in value.as_object().into_iter().flatten() {
        let Some(total) = figures.get("total").and_then(Value::as_i64) else {
            continue;
        };
        for (key, cells) in figures.as_object().into_iter().flatten() {
            let Some(map) = cells.as_object() else {
                continue;
            };
            let cells: Counts = map
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_i64()?)))
                .collect();
            let additive = !matches!(
                key.as_str(),
                "by_target" | "people_by_month" | "people_by_target"
            );
            out.push((
                section.clone(),
                key.clone(),
                Table {
                    cells,
                    total,
                    additive,
                },
            ));
        }
    }
    out
}

/// A report as published with minimum cell `min`: counts as numbers, small ones as `"<min"`,
/// hidden ones as `"x"`; the check that no hidden cell can be worked out has passed for every
/// table.
pub fn published_json(report: &Report, min: i64) -> Value {
    let mut value = serde_json::to_value(report).expect("a report encodes");
    for (section, key, table) in tables(report) {
        let published = suppress(&table, min);
        debug_assert!(!reveals(&table, &published, min));
        let mut map = Map::new();
        for (label, shown) in &published.cells {
            map.insert(
                label.clone(),
                match shown {
                    Shown::Count(n) => json!(n),
                    Shown::Small => json!(format!("<{min}")),
                    Shown::Hidden => json!("x"),
                },
            );
        }
        value[&section][&key] = Value::Object(map);
        if published.total_hidden {
            value[&section]["total"] = json!("x");
        }
    }
    // Figures of a section that are no table (people reached, rates) are shown only above the
    // minimum, like any cell.
    for section in value
        .as_object_mut()
        .into_iter()
        .flat_map(|o| o.values_mut())
    {
        for (key, v) in section.as_object_mut().into_iter().flatten() {
            if key != "total"
                && let Some(n) = v.as_i64()
                && n > 0
                && n < min
            {
                *v = json!(format!("<{min}"));
            }
        }
    }
    value
}

impl Replica {
    /// Publishes `report` with minimum cell `min`: refused when its period overlaps the period of
    /// a report published before without being the same (the two could be subtracted); logged.
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
        let overlapping: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT period_from, period_to FROM published_reports
                 WHERE period_from <= ?2 AND period_to >= ?1
                   AND NOT (period_from = ?1 AND period_to = ?2) LIMIT 1",
                [&p.from, &p.to],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok();
        if let Some((from, to)) = overlapping {
            return Err(Error::from(ValidationError::new(
                "period",
                Reason::OverlapsPublished { from, to },
            )));
        }
        self.conn.execute(
            "INSERT INTO published_reports (period_from, period_to, min_cell, at) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![p.from, p.to, min, chrono::Utc::now().to_rfc3339()],
        )?;
        Ok(published_json(report, min))
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
}

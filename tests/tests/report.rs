//! Outcome figures: every figure of `report --json` on the seeded demo city equals the same
//! figure worked out here from the lists; stale opening hours are listed and stamped; a member's
//! report has no visit or referral section.

use ibasho_tests::{Device, Server};
use serde_json::Value;
use std::collections::BTreeMap;

fn list(device: &Device, args: &[&str]) -> Vec<Value> {
    device.json(args).as_array().unwrap().clone()
}

/// The counts of a `by_…` map, sorted (labels are words; what is compared is how many of each).
fn counts(map: &Value) -> Vec<i64> {
    let mut c: Vec<i64> = map
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_i64().unwrap())
        .collect();
    c.sort_unstable();
    c
}

fn tally<'a>(keys: impl Iterator<Item = String> + 'a) -> Vec<i64> {
    let mut map: BTreeMap<String, i64> = BTreeMap::new();
    for k in keys {
        *map.entry(k).or_default() += 1;
    }
    let mut c: Vec<i64> = map.into_values().collect();
    c.sort_unstable();
    c
}

#[test]
fn every_figure_of_the_demo_city_report_is_what_the_lists_say() {
    let device = Device::new();
    device.ok(&["demo", "--places", "150"]);
    let report = device.json(&["report", "--json", "--from", "2000-01", "--to", "2099-12"]);
    let visits = list(&device, &["visit", "list", "--json"]);
    let places = list(&device, &["place", "list", "--json"]);
    let orgs = list(&device, &["org", "list", "--json"]);
    let stale = list(&device, &["place", "list", "--stale", "--json"]);
    assert!(visits.len() > 10 && places.len() == 150);

    let v = &report["visits"];
    assert_eq!(v["total"], visits.len());
    let people: i64 = visits.iter().map(|x| x["people"].as_i64().unwrap()).sum();
    assert_eq!(v["people"], people);
    for (month, n) in v["by_month"].as_object().unwrap() {
        let here = visits
            .iter()
            .filter(|x| x["at"].as_str().unwrap().starts_with(month.as_str()))
            .count();
        assert_eq!(n.as_u64().unwrap() as usize, here, "{month}");
    }
    assert_eq!(
        counts(&v["by_team"]),
        tally(visits.iter().map(|x| x["team"].to_string()))
    );
    assert_eq!(
        counts(&v["by_kind"]),
        tally(visits.iter().map(|x| x["kind"].to_string()))
    );
    assert_eq!(
        counts(&v["by_target"]),
        tally(visits.iter().flat_map(|x| {
            x["targets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
        }))
    );
    let mut people_by_target = std::collections::BTreeMap::<String, i64>::new();
    for x in &visits {
        for t in x["targets"].as_array().unwrap() {
            *people_by_target.entry(t.to_string()).or_default() += x["people"].as_i64().unwrap();
        }
    }
    let mut expected: Vec<i64> = people_by_target.into_values().collect();
    expected.sort_unstable();
    assert_eq!(counts(&v["people_by_target"]), expected);

    let f = &report["follow_ups"];
    let today = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).unwrap())
        .date_naive()
        .to_string();
    let with: Vec<&Value> = visits
        .iter()
        .filter(|x| x["follow_up"].is_string())
        .collect();
    let done = with.iter().filter(|x| x["follow_up_done"] == true).count();
    let overdue = with
        .iter()
        .filter(|x| {
            x["follow_up_done"] == false && x["follow_up"].as_str().unwrap() < today.as_str()
        })
        .count();
    assert_eq!(f["total"], with.len());
    assert_eq!(f["done"], done);
    assert_eq!(f["overdue"], overdue);
    assert_eq!(f["due"], with.len() - done - overdue);

    let p = &report["places"];
    assert_eq!(p["total"], places.len());
    assert_eq!(p["stale"], stale.len());
    assert_eq!(
        counts(&p["by_category"]),
        tally(places.iter().map(|x| x["category"].to_string()))
    );
    assert_eq!(
        counts(&p["by_status"]),
        tally(places.iter().map(|x| x["status"].to_string()))
    );
    assert_eq!(report["orgs"]["total"], orgs.len());
    assert_eq!(
        counts(&report["orgs"]["by_sector"]),
        tally(orgs.iter().map(|x| x["sector"].to_string()))
    );
    assert_eq!(report["referrals"]["total"], 0);

    // The same figures as CSV for Excel.
    let csv = device.home.path().join("report.csv");
    device.ok(&[
        "report",
        "--from",
        "2000-01",
        "--to",
        "2099-12",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&csv).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.contains(&format!("visits,total,,{}", visits.len())),
        "{text}"
    );

    // Stale hours: editing them or saying they are still correct takes a place off the list.
    let first = stale[0]["id"].as_str().unwrap().to_string();
    let second = stale[1]["id"].as_str().unwrap().to_string();
    device.ok(&["place", "set", &first, "hours", "Mo-Fr 10:00-16:00"]);
    device.ok(&["place", "checked", &second]);
    let now_stale = list(&device, &["place", "list", "--stale", "--json"]);
    assert_eq!(now_stale.len(), stale.len() - 2);
    assert!(
        now_stale
            .iter()
            .all(|x| x["id"] != first && x["id"] != second)
    );
}

#[test]
fn a_members_report_has_no_visit_or_referral_section() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let ws = server.admin(&["workspace", "create", "--name", "座間市PF"]);
    let team = server.team(&ws, "北地区");
    let worker = server.join(&ws, "worker", Some(&team), "鈴木");
    worker.ok(&["visit", "add", "--kind", "visit", "--people", "4"]);
    worker.sync();
    let member = server.join(&ws, "member", None, "喫茶店");
    let report = member.json(&["report", "--json"]);
    for section in ["visits", "follow_ups", "referrals"] {
        assert!(report.get(section).is_none(), "{section}: {report}");
    }
    assert!(report.get("places").is_some() && report.get("orgs").is_some());
    let workers = worker.json(&["report", "--json"]);
    assert_eq!(workers["visits"]["total"], 1);
    assert_eq!(workers["visits"]["people"], 4);
}

/// A survey file in the shape municipalities keep (Japanese headers, はい/いいえ, a date for a
/// reply): 454 organizations, 132 replied, 95 related, 86 wanting to join — the funnel reads
/// exactly that, from UTF-8 and from Shift_JIS alike; importing it again changes nothing.
#[test]
fn the_organization_survey_funnel_reads_what_the_file_says() {
    let mut csv = String::from("名称,セクター,調査日,回答,参画意向,活動,拠点地域,連絡先,紹介者\n");
    for i in 0..454 {
        let (replied, participation) = match i {
            0..26 => ("はい", "参画済み"),
            26..86 => ("2026/10/01", "参画したい"),
            86..95 => ("はい", "検討中"),
            95..132 => ("はい", "参画しない"),
            _ => ("いいえ", ""),
        };
        let introduced = if i == 1 { "団体0" } else { "" };
        csv.push_str(&format!(
            "団体{i},NPO,2026-09-01,{replied},{participation},居場所づくり、相談窓口,座間市,046-000-{i:04},{introduced}\n"
        ));
    }
    let funnel = |bytes: &[u8]| {
        let device = Device::new();
        device.ok(&["init", "--name", "仙台市PF"]);
        let file = device.home.path().join("survey.csv");
        std::fs::write(&file, bytes).unwrap();
        let said = device.ok(&["org", "import", file.to_str().unwrap()]);
        assert!(said.contains("454 added"), "{said}");
        let again = device.ok(&["org", "import", file.to_str().unwrap()]);
        assert!(again.contains("454 unchanged"), "{again}");
        let orgs = device.json(&["report", "--json"])["orgs"].clone();
        let listed = device.json(&["org", "list", "--json"]);
        let second = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == "団体1")
            .unwrap()
            .clone();
        let first_id = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == "団体0")
            .unwrap()["id"]
            .clone();
        assert_eq!(
            second["introduced_by"], first_id,
            "a link to the organization"
        );
        assert_eq!(
            second["activities"],
            serde_json::json!(["ibasho", "consultation"])
        );
        [
            orgs["total"].as_i64().unwrap(),
            orgs["surveyed"].as_i64().unwrap(),
            orgs["replied"].as_i64().unwrap(),
            orgs["related"].as_i64().unwrap(),
            orgs["wants"].as_i64().unwrap(),
            orgs["joined"].as_i64().unwrap(),
        ]
    };
    assert_eq!(funnel(csv.as_bytes()), [454, 454, 132, 95, 86, 26]);
    let (sjis, _, lossy) = encoding_rs::SHIFT_JIS.encode(&csv);
    assert!(!lossy);
    assert_eq!(funnel(&sjis), [454, 454, 132, 95, 86, 26]);
}

/// Published with a minimum cell of 3, no count below 3 shows, no hidden cell can be worked out
/// from a table's total and its other cells, and a report whose period overlaps one published
/// before without being the same is refused (subtracting the two would reveal the months between).
#[test]
fn a_published_report_hides_small_counts_so_that_none_can_be_worked_out() {
    let device = Device::new();
    device.ok(&["demo", "--places", "40"]);
    let all = ["--from", "2000-01", "--to", "2099-12"];
    let mut args = vec!["report", "--json", "--publish"];
    args.extend(all);
    let published = device.json(&args);
    let plain = {
        let mut a = vec!["report", "--json"];
        a.extend(all);
        device.json(&a)
    };
    let mut hidden_somewhere = false;
    for (section, figures) in published.as_object().unwrap() {
        if section == "period" {
            continue;
        }
        for (key, cells) in figures.as_object().unwrap() {
            let Some(map) = cells.as_object() else {
                if let Some(n) = cells.as_i64() {
                    assert!(n == 0 || n >= 3, "{section}.{key} = {n}");
                }
                continue;
            };
            let mut hidden = 0;
            let mut shown = 0;
            for (label, v) in map {
                match v.as_i64() {
                    Some(n) => {
                        assert!(n >= 3, "{section}.{key}.{label} = {n}");
                        shown += n;
                    }
                    None => hidden += 1,
                }
            }
            hidden_somewhere |= hidden > 0;
            // A table whose cells add up to its total (the people reached for people's tables):
            // each "<3" is 1 or 2 and each "x" at least 3 (only such cells are hidden), and no
            // cell may be pinned to one value by the total less the others.
            let total_key = if key.starts_with("people_by_") {
                "people"
            } else {
                "total"
            };
            let additive = !matches!(key.as_str(), "by_target" | "people_by_target");
            if additive && hidden > 0 && figures[total_key].is_i64() {
                let rest = figures[total_key].as_i64().unwrap() - shown;
                let marks: Vec<(i64, i64)> = map
                    .values()
                    .filter(|v| !v.is_i64())
                    .map(|v| if v == "x" { (3, rest) } else { (1, 2) })
                    .collect();
                for (i, (lo, hi)) in marks.iter().enumerate() {
                    let others = marks.iter().enumerate().filter(|(j, _)| *j != i);
                    let (others_lo, others_hi) =
                        others.fold((0, 0), |(a, b), (_, (l, h))| (a + l, b + h));
                    let (lo, hi) = ((*lo).max(rest - others_hi), (*hi).min(rest - others_lo));
                    assert!(lo < hi, "{section}.{key}: a hidden cell can only be {lo}");
                }
            }
            // What is shown is what the report says.
            for (label, v) in map {
                if let Some(n) = v.as_i64() {
                    assert_eq!(plain[section][key][label], n);
                }
            }
        }
    }
    assert!(hidden_somewhere, "the demo city has small counts to hide");

    // The same period again is fine; an overlapping one is refused, naming why.
    device.ok(&args);
    let refused = device.fails(&[
        "report",
        "--publish",
        "--from",
        "2000-01",
        "--to",
        "2099-11",
    ]);
    assert!(refused.contains("overlaps"), "{refused}");
    device.ok(&[
        "report",
        "--publish",
        "--from",
        "2100-01",
        "--to",
        "2100-12",
    ]);
}

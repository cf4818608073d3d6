//! A realistic demo workspace, generated from a seed: a Zama-like city with gathering places across
//! the taxonomy, member organizations, teams and visits. Also the generator of larger test cities.

use crate::domain::{Org, Place, Visit};
use crate::error::Result;
use crate::hours::now_jst;
use crate::replica::Replica;
use crate::taxonomy::{CATEGORIES, CONTACT_TYPES, PARTICIPATION, SECTORS, STATUSES, TARGET_GROUPS};

/// How big a city to generate.
#[derive(Debug, Clone)]
pub struct DemoSpec {
    /// Places.
    pub places: usize,
    /// Member organizations.
    pub orgs: usize,
    /// Teams.
    pub teams: usize,
    /// Visits, spread over the last `months` months.
    pub visits: usize,
    /// Months of visits.
    pub months: u32,
    /// City centre (lat, lon).
    pub center: (f64, f64),
    /// Radius of the city in kilometres.
    pub radius_km: f64,
    /// Seed: the same seed gives the same city.
    pub seed: u64,
}

impl Default for DemoSpec {
    /// Zama (座間市): about 300 places.
    fn default() -> Self {
        DemoSpec {
            places: 300,
            orgs: 40,
            teams: 3,
            visits: 240,
            months: 6,
            center: (35.4889, 139.4075),
            radius_km: 3.5,
            seed: 7,
        }
    }
}

/// What was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoReport {
    /// Places added.
    pub places: usize,
    /// Organizations added.
    pub orgs: usize,
    /// Teams added.
    pub teams: usize,
    /// Visits added.
    pub visits: usize,
}

/// SplitMix64: small, fast, reproducible.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// One element of a slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const AREAS: &[&str] = &[
    "相武台",
    "栗原",
    "入谷",
    "緑ケ丘",
    "立野台",
    "広野台",
    "東原",
    "ひばりが丘",
    "小松原",
    "四ツ谷",
    "新田宿",
    "座間",
    "さがみ野",
    "南栗原",
    "西栗原",
    "明王",
    "新田宿",
    "東原",
    "相模が丘",
    "栗原中央",
];
const FIRST: &[&str] = &[
    "ひだまり",
    "こもれび",
    "つばさ",
    "ぽかぽか",
    "ゆうやけ",
    "みどり",
    "はなみずき",
    "さくら",
    "わかば",
    "すずらん",
    "おひさま",
    "ふれあい",
];
const HOURS: &[&str] = &[
    "Mo-Fr 10:00-16:00; PH off",
    "Mo-Sa 09:00-18:00",
    "Tu-Su 11:00-19:00; PH off",
    "Sa 11:00-14:00",
    "We,Fr 15:00-18:00",
    "Mo-Fr 08:30-17:15; PH off",
    "Su 10:00-15:00",
    "Mo-Su 07:00-21:00",
    "Th 13:00-16:00",
    "",
];
const PEOPLE: &[&str] = &[
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤",
];
const OFFERS: &[&str] = &[
    "居場所の提供",
    "食事の提供",
    "相談の受け付け",
    "見守り",
    "学習支援",
    "会場の貸し出し",
    "情報の掲示",
    "就労体験",
    "移動支援",
    "イベントの共催",
];
const ORG_SUFFIX: &[(&str, &str)] = &[
    ("government", "市役所 地域福祉課"),
    ("shakyo", "社会福祉協議会"),
    ("npo", "NPO法人"),
    ("business", "商店"),
    ("community", "自治会"),
    ("individual", "個人ボランティア"),
];

fn place_name(rng: &mut Rng, category: &str, label: &str) -> String {
    let area = rng.pick(AREAS);
    match category {
        "cafe" | "laundry_cafe" | "snack_bar" | "dagashiya" | "bookshop" => format!(
            "{}{}",
            rng.pick(FIRST),
            label.split('・').next().unwrap_or(label)
        ),
        "park" | "library" | "community_hall" => format!("{area}{label}"),
        _ => format!("{area} {}{label}", rng.pick(FIRST)),
    }
}

/// Fills a replica that already holds a workspace with a demo city.
pub fn generate(replica: &mut Replica, spec: &DemoSpec) -> Result<DemoReport> {
    let mut rng = Rng::new(spec.seed);
    let mut report = DemoReport::default();
    let mut teams = Vec::new();
    let existing = replica.workspace()?.teams;
    teams.extend(existing.iter().map(|t| t.id.clone()));
    let team_names = [
        "座間市社協 地域支え合い",
        "NPOつなぐ アウトリーチ",
        "地域包括支援センター 南部",
        "生活支援 相談室",
    ];
    while teams.len() < spec.teams {
        let name = team_names
            .get(teams.len())
            .map(|s| s.to_string())
            .unwrap_or_else(|| format!("チーム{}", teams.len() + 1));
        teams.push(replica.add_team(&name)?.id);
        report.teams += 1;
    }
    let km_lat = 1.0 / 110.574;
    let km_lon = 1.0 / (111.320 * spec.center.0.to_radians().cos());
    let mut places = Vec::with_capacity(spec.places);
    for i in 0..spec.places {
        let category = &CATEGORIES[i % CATEGORIES.len()];
        let (r, a) = (
            spec.radius_km * rng.unit().sqrt(),
            rng.unit() * std::f64::consts::TAU,
        );
        let lat = spec.center.0 + r * a.sin() * km_lat;
        let lon = spec.center.1 + r * a.cos() * km_lon;
        let mut p = Place::new(
            &place_name(&mut rng, category.id, category.label.ja),
            category.id,
            (lat * 1e6).round() / 1e6,
            (lon * 1e6).round() / 1e6,
        );
        let targets = rng.below(4);
        for _ in 0..targets {
            let t = rng.pick(TARGET_GROUPS).id.to_string();
            if !p.targets.contains(&t) {
                p.targets.push(t);
            }
        }
        p.hours = rng.pick(HOURS).to_string();
        p.address = format!(
            "座間市{}{}丁目{}-{}",
            rng.pick(AREAS),
            1 + rng.below(5),
            1 + rng.below(30),
            1 + rng.below(20)
        );
        p.description = format!(
            "{}の{}。{}",
            rng.pick(AREAS),
            category.label.ja,
            rng.pick(OFFERS)
        );
        p.status = if rng.below(12) == 0 {
            STATUSES[1 + rng.below(STATUSES.len() - 1)].id.to_string()
        } else {
            "active".into()
        };
        p.listing_consent = rng.below(3) > 0;
        p.accuracy_m = Some((5 + rng.below(30)) as f64);
        places.push(p);
    }
    let places = replica.add_places(places)?;
    report.places = places.len();
    let mut org_ids = Vec::new();
    for i in 0..spec.orgs {
        let (sector, suffix) = ORG_SUFFIX[i % ORG_SUFFIX.len()];
        let mut org = Org::new(&format!("{}{}", rng.pick(AREAS), suffix), sector);
        org.offers = format!("{}、{}", rng.pick(OFFERS), rng.pick(OFFERS));
        org.contact = format!("046-25{}-{:04}", rng.below(10), rng.below(10_000));
        org.participation = rng.pick(PARTICIPATION).id.to_string();
        org.introduced_by = rng.pick(PEOPLE).to_string();
        org.listing_consent = rng.below(2) == 0;
        org_ids.push(replica.add_org(org)?.id);
        report.orgs += 1;
    }
    let _ = SECTORS;
    let now = now_jst();
    let span_minutes = i64::from(spec.months.max(1)) * 30 * 24 * 60;
    let mut batch = Vec::new();
    for _ in 0..spec.visits {
        let team = rng.pick(&teams).clone();
        let at = now - chrono::Duration::minutes(60 + (rng.unit() * span_minutes as f64) as i64);
        let mut v = Visit::new(&team, rng.pick(CONTACT_TYPES).id, at);
        if !places.is_empty() && rng.below(4) > 0 {
            v.place_id = Some(rng.pick(&places).id.clone());
        } else {
            let (r, a) = (
                spec.radius_km * rng.unit().sqrt(),
                rng.unit() * std::f64::consts::TAU,
            );
            v.lat = Some(spec.center.0 + r * a.sin() * km_lat);
            v.lon = Some(spec.center.1 + r * a.cos() * km_lon);
        }
        v.people = 1 + rng.below(6) as u32;
        v.targets = vec![rng.pick(TARGET_GROUPS).id.to_string()];
        if rng.below(3) == 0 {
            let due = at.date() + chrono::Duration::days(7 + rng.below(28) as i64);
            v.follow_up = Some(due.min(now.date() + chrono::Duration::days(60)).to_string());
            v.follow_up_done = due < now.date() && rng.below(2) == 0;
        }
        if !org_ids.is_empty() && rng.below(5) == 0 {
            v.referral_to = Some(rng.pick(&org_ids).clone());
            v.referral_reason = "継続的な相談のため".into();
        }
        batch.push((v, None));
        if batch.len() == 2000 {
            report.visits += replica.add_visits(std::mem::take(&mut batch))?.len();
        }
    }
    report.visits += replica.add_visits(batch)?.len();
    Ok(report)
}

//! The default taxonomy: categories of places, target groups, organization sectors, contact types,
//! place statuses and willingness to join, each with a stable id and Japanese/English labels.

use crate::i18n::{Lang, Text, t};
use serde::Serialize;

/// One entry of a taxonomy list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Term {
    /// Stable id stored in documents.
    pub id: &'static str,
    /// Labels.
    pub label: Text,
}

impl Term {
    /// The label in `lang`.
    pub fn label(&self, lang: Lang) -> &'static str {
        self.label.get(lang)
    }
}

const fn term(id: &'static str, ja: &'static str, en: &'static str) -> Term {
    Term {
        id,
        label: t(ja, en),
    }
}

/// Version of the default taxonomy written into new workspaces.
pub const TAXONOMY_VERSION: u32 = 1;

/// What an organization does (活動), as the organization survey asks.
pub const ACTIVITIES: &[Term] = &[
    term("ibasho", "居場所づくり", "Drop-in spaces"),
    term("consultation", "相談窓口", "Consultation"),
    term("outreach", "アウトリーチ", "Outreach"),
    term("food", "食支援", "Food support"),
    term("study", "学習支援", "Study support"),
    term("employment", "就労支援", "Employment support"),
    term("watching", "見守り", "Watching over"),
    term("parenting", "子育て支援", "Parenting support"),
    term("events", "交流・イベント", "Gatherings and events"),
    term("other", "その他", "Other"),
];

/// Why a person is referred (つなぐ理由).
pub const REFERRAL_REASONS: &[Term] = &[
    term("poverty", "生活困窮", "Financial hardship"),
    term("hikikomori", "ひきこもり", "Social withdrawal (hikikomori)"),
    term("parenting", "子育て", "Parenting"),
    term("elderly_care", "高齢・介護", "Old age and care"),
    term("disability", "障害", "Disability"),
    term("mental_health", "心の健康", "Mental health"),
    term("dv", "DV", "Domestic violence"),
    term("housing", "住まい", "Housing"),
    term("employment", "就労", "Employment"),
    term("isolation", "孤立", "Isolation"),
    term("other", "その他", "Other"),
];

/// The steps of a referral, a lifecycle that maps one to one onto the HL7 FHIR Task status of the
/// Gravity Project's SDOH closed-loop referral (in brackets): sent (requested) → accepted
/// (accepted) | declined (rejected) | withdrawn (cancelled); accepted → in progress
/// (in-progress) | connected (completed) | not connected (failed) | withdrawn.
pub const REFERRAL_STATUSES: &[Term] = &[
    term("sent", "送付", "Sent"),
    term("accepted", "受付", "Accepted"),
    term("declined", "辞退", "Declined"),
    term("withdrawn", "取り下げ", "Withdrawn"),
    term("in_progress", "対応中", "In progress"),
    term("connected", "つながった", "Connected"),
    term("not_connected", "つながらなかった", "Not connected"),
];

/// Why a referral was declined, withdrawn or did not connect (plain outcome codes, as closed-loop
/// referral tools use).
pub const REFERRAL_OUTCOMES: &[Term] = &[
    term("unreachable", "連絡がつかない", "Could not be reached"),
    term("not_eligible", "対象外", "Not eligible"),
    term("no_capacity", "受け入れ枠がない", "No capacity"),
    term(
        "person_declined",
        "本人が希望しない",
        "The person did not want it",
    ),
    term("resolved", "解決した", "Already resolved"),
    term("other", "その他", "Other"),
];

/// Categories of gathering places (居場所).
pub const CATEGORIES: &[Term] = &[
    term("ibasho", "居場所", "Drop-in space"),
    term(
        "hikikomori_ibasho",
        "中高年ひきこもり居場所",
        "Drop-in for middle-aged hikikomori",
    ),
    term("kodomo_shokudo", "子ども食堂", "Children's cafeteria"),
    term(
        "daremo_shokudo",
        "だれでも食堂",
        "Community cafeteria for anyone",
    ),
    term("cafe", "喫茶店・カフェ", "Café"),
    term("laundry_cafe", "喫茶ランドリー", "Laundromat café"),
    term("food_truck", "キッチンカー", "Food truck"),
    term("bookshop", "書店・古本屋", "Bookshop"),
    term("snack_bar", "スナック・バー", "Snack bar"),
    term("dagashiya", "駄菓子屋", "Sweet shop"),
    term("community_hall", "公民館", "Community hall"),
    term("community_base", "地域拠点施設", "Community base"),
    term("park", "公園", "Park"),
    term("library", "図書館", "Library"),
    term(
        "childcare_support",
        "子育て支援拠点",
        "Childcare support centre",
    ),
    term("nursery", "保育園", "Nursery"),
    term("study_support", "学習支援", "Study support"),
    term("sports", "スポーツ団体", "Sports club"),
    term("arts", "文化芸術・アート", "Culture and arts"),
    term("consultation", "相談窓口", "Consultation desk"),
    term(
        "comprehensive_support",
        "地域包括支援センター",
        "Community comprehensive support centre",
    ),
    term(
        "ward_health_center",
        "区保健福祉センター",
        "Ward health and welfare centre",
    ),
    term("employment_support", "就労支援", "Employment support"),
    term("housing_support", "居住支援", "Housing support"),
    term("neighborhood_assoc", "町内会", "Neighbourhood association"),
    term(
        "district_council",
        "地区社協",
        "District social welfare council",
    ),
    term(
        "disaster_prevention",
        "自主防災組織",
        "Voluntary disaster-prevention group",
    ),
];

/// Target groups (対象).
pub const TARGET_GROUPS: &[Term] = &[
    term(
        "elderly",
        "高齢者（ひとり暮らし）",
        "Older people (living alone)",
    ),
    term("hikikomori", "ひきこもり", "Hikikomori (social withdrawal)"),
    term("disability", "障害者", "People with disabilities"),
    term("mental_health", "心の健康", "Mental health"),
    term("poverty", "生活困窮", "Financial hardship"),
    term(
        "children_youth",
        "子ども・若者",
        "Children and young people",
    ),
    term("young_carer", "ヤングケアラー", "Young carers"),
    term("school_refusal", "不登校", "School non-attendance"),
    term("parenting", "子育て中", "Parents raising children"),
    term("foreign", "外国籍", "Foreign residents"),
    term("dv", "DV", "Domestic violence"),
    term("disaster", "被災者", "Disaster survivors"),
    term("housing", "住まい探し", "Looking for housing"),
    term("employment", "就労", "Work and employment"),
];

/// Sectors of member organizations.
pub const SECTORS: &[Term] = &[
    term("government", "行政", "Government"),
    term("shakyo", "社協", "Social welfare council"),
    term("npo", "NPO", "NPO"),
    term("business", "企業", "Business"),
    term("community", "地域団体", "Community group"),
    term("individual", "個人", "Individual"),
];

/// Contact types of a visit record.
pub const CONTACT_TYPES: &[Term] = &[
    term("visit", "訪問", "Visit"),
    term("phone", "電話", "Phone"),
    term("event", "イベント", "Event"),
    term("walk_in", "来所", "Walk-in"),
];

/// Status of a place.
pub const STATUSES: &[Term] = &[
    term("active", "活動中", "Active"),
    term("temporarily_closed", "休止中", "Temporarily closed"),
    term("moved", "移転", "Moved"),
    term("closed", "閉鎖", "Closed"),
];

/// Willingness of an organization to join the platform (参画意向).
pub const PARTICIPATION: &[Term] = &[
    term("joined", "参画済み", "Joined"),
    term("wants", "参画したい", "Wants to join"),
    term("considering", "検討中", "Considering"),
    term("not_now", "参画しない", "Not now"),
];

/// Finds a term by id, or by its Japanese or English label (case-insensitive for English). A label's
/// short form, without its parenthesised part, also matches: 高齢者 finds 高齢者（ひとり暮らし）.
pub fn lookup(list: &'static [Term], key: &str) -> Option<&'static Term> {
    let key = key.trim();
    let short = |label: &'static str, open: &str| label.split(open).next().unwrap_or(label).trim();
    let alias = ALIASES.iter().find(|(a, _)| *a == key).map(|(_, id)| *id);
    list.iter().find(|term| {
        term.id == key
            || alias == Some(term.id)
            || term.label.ja == key
            || term.label.en.eq_ignore_ascii_case(key)
            || short(term.label.ja, "（") == key
            || short(term.label.en, " (").eq_ignore_ascii_case(key)
            || (term.label.ja.contains('・') && term.label.ja.split('・').any(|part| part == key))
    })
}

/// Other spellings people use for a term.
const ALIASES: &[(&str, &str)] = &[
    ("こども食堂", "kodomo_shokudo"),
    ("子供食堂", "kodomo_shokudo"),
    ("誰でも食堂", "daremo_shokudo"),
    ("コインランドリーカフェ", "laundry_cafe"),
    ("社会福祉協議会", "shakyo"),
];

/// Finds a category by id or label.
pub fn category(key: &str) -> Option<&'static Term> {
    lookup(CATEGORIES, key)
}

/// Finds a target group by id or label.
pub fn target_group(key: &str) -> Option<&'static Term> {
    lookup(TARGET_GROUPS, key)
}

/// The whole taxonomy, for `ibasho taxonomy --json` and the UI.
#[derive(Debug, Serialize)]
pub struct Taxonomy {
    /// Taxonomy version.
    pub version: u32,
    /// Place categories.
    pub categories: &'static [Term],
    /// Target groups.
    pub target_groups: &'static [Term],
    /// Organization sectors.
    pub sectors: &'static [Term],
    /// Visit contact types.
    pub contact_types: &'static [Term],
    /// Place statuses.
    pub statuses: &'static [Term],
    /// Willingness to join.
    pub participation: &'static [Term],
}

/// The default taxonomy.
pub fn default_taxonomy() -> Taxonomy {
    Taxonomy {
        version: TAXONOMY_VERSION,
        categories: CATEGORIES,
        target_groups: TARGET_GROUPS,
        sectors: SECTORS,
        contact_types: CONTACT_TYPES,
        statuses: STATUSES,
        participation: PARTICIPATION,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_labelled_in_both_languages() {
        for list in [
            CATEGORIES,
            TARGET_GROUPS,
            SECTORS,
            CONTACT_TYPES,
            STATUSES,
            PARTICIPATION,
            REFERRAL_REASONS,
            REFERRAL_STATUSES,
            REFERRAL_OUTCOMES,
            ACTIVITIES,
        ] {
            let ids: HashSet<_> = list.iter().map(|t| t.id).collect();
            assert_eq!(ids.len(), list.len());
            for term in list {
                assert!(
                    !term.label.ja.is_empty() && !term.label.en.is_empty(),
                    "{}",
                    term.id
                );
                assert!(!term.id.contains(','), "ids are stored comma-separated");
            }
        }
    }

    #[test]
    fn lookup_accepts_id_and_both_labels() {
        assert_eq!(category("子ども食堂").unwrap().id, "kodomo_shokudo");
        assert_eq!(category("laundromat café").unwrap().id, "laundry_cafe");
        assert_eq!(target_group("hikikomori").unwrap().id, "hikikomori");
        assert_eq!(target_group("高齢者").unwrap().id, "elderly");
        assert_eq!(category("カフェ").unwrap().id, "cafe");
        assert_eq!(category("古本屋").unwrap().id, "bookshop");
        assert_eq!(category("こども食堂").unwrap().id, "kodomo_shokudo");
        assert_eq!(target_group("older people").unwrap().id, "elderly");
        assert!(category("pachinko").is_none());
    }
}

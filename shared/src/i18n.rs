//! The one catalogue of user-facing words: every label and message exists in Japanese and English.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A language the product speaks. Japanese is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// 日本語
    #[default]
    Ja,
    /// English
    En,
}

impl FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ja" | "jp" | "ja-jp" | "日本語" => Ok(Lang::Ja),
            "en" | "en-us" | "en-gb" | "english" => Ok(Lang::En),
            other => Err(format!("unknown language {other:?} (use ja or en)")),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        })
    }
}

/// A text in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Text {
    /// Japanese.
    pub ja: &'static str,
    /// English.
    pub en: &'static str,
}

impl Text {
    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Ja => self.ja,
            Lang::En => self.en,
        }
    }
}

/// Shorthand for building a [`Text`].
pub const fn t(ja: &'static str, en: &'static str) -> Text {
    Text { ja, en }
}

/// Field names as people read them, for error messages and form labels.
pub fn field_label(field: &str) -> Text {
    match field {
        "name" => t("名称", "name"),
        "reading" => t("よみがな", "reading"),
        "category" => t("カテゴリ", "category"),
        "targets" => t("対象", "target groups"),
        "lat" => t("緯度", "latitude"),
        "lon" => t("経度", "longitude"),
        "accuracy_m" => t("位置の精度", "location accuracy"),
        "location" => t("位置", "location"),
        "address" => t("住所", "address"),
        "hours" => t("開所時間", "opening hours"),
        "contact" => t("連絡先", "contact"),
        "description" => t("説明", "description"),
        "status" => t("状態", "status"),
        "listing_consent" => t("公開掲載の同意", "public-listing consent"),
        "hours_checked_at" => t("開所時間の確認日", "hours last checked"),
        "sector" => t("セクター", "sector"),
        "offers" => t("提供できること", "what they offer"),
        "participation" => t("参画意向", "willingness to join"),
        "introduced_by" => t("紹介者", "introduced by"),
        "kind" => t("接触の種類", "contact type"),
        "people" => t("人数", "people reached"),
        "at" => t("日時", "date and time"),
        "follow_up" => t("フォローアップ期日", "follow-up date"),
        "follow_up_done" => t("フォローアップ完了", "follow-up done"),
        "follows" => t("元の訪問", "earlier visit"),
        "place" => t("場所", "place"),
        "team" => t("チーム", "team"),
        "referral_to" => t("つなぎ先", "referred to"),
        "referral_reason" => t("つなぐ理由", "referral reason"),
        "referral_outcome" => t("つないだ結果", "referral outcome"),
        "note" => t("個人メモ", "private note"),
        "workspace" => t("ワークスペース", "workspace"),
        "person" => t("表示名", "display name"),
        _ => t("項目", "field"),
    }
}

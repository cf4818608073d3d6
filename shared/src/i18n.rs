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

/// Field names as people read them, for error messages and form labels: from the record kinds'
/// field tables, then the few names that are no single field.
pub fn field_label(field: &str) -> Text {
    use crate::domain::{Org, Place, Record, Referral, Visit};
    fn find<R: Record>(field: &str) -> Option<Text> {
        R::FIELDS.iter().find(|f| f.name == field).map(|f| f.label)
    }
    find::<Place>(field)
        .or_else(|| find::<Org>(field))
        .or_else(|| find::<Visit>(field))
        .or_else(|| find::<Referral>(field))
        .unwrap_or(match field {
            "location" => t("位置", "location"),
            "to" => t("つなぎ先", "referred to"),
            "period" => t("期間", "period"),
            "min_cell" => t("最小セル", "minimum cell"),
            "place" => t("場所", "place"),
            "note" => t("個人メモ", "private note"),
            "workspace" => t("ワークスペース", "workspace"),
            "person" => t("表示名", "display name"),
            _ => t("項目", "field"),
        })
}

//! Referrals as HL7 FHIR R4 `Task` resources in a `Bundle`, as the Gravity Project's SDOH
//! closed-loop referral profiles use them: each step of the lifecycle is a Task status (see
//! [`crate::domain::fhir_status`]), the reason a `statusReason`, the summary a `note`. Nothing of
//! a referral is lost on the way: what FHIR has no field for travels as an `extension` or a
//! `businessStatus` with ibasho's own code.

use crate::domain::{Referral, fhir_status};
use crate::i18n::Lang;
use crate::taxonomy::{self, REFERRAL_OUTCOMES, REFERRAL_REASONS, REFERRAL_STATUSES};
use serde_json::{Value, json};

/// The code system of ibasho's own codes (reasons, steps, outcomes).
pub const CODE_SYSTEM: &str = "https://ibasho.example/fhir/CodeSystem";

fn coding(list: &'static [taxonomy::Term], system: &str, id: &str, lang: Lang) -> Value {
    json!({
        "system": format!("{CODE_SYSTEM}/{system}"),
        "code": id,
        "display": taxonomy::lookup(list, id).map_or(id, |t| t.label(lang)),
    })
}

/// One referral as a Task. `name_of` gives a team's or organization's name by id. `disputed`
/// holds the steps the two sides took offline at once that do not fit together (要確認); the
/// Task is then `on-hold` with the business status `needs-review` naming both, rather than
/// whichever step happens to show.
pub fn referral_task(
    r: &Referral,
    disputed: &[String],
    name_of: &dyn Fn(&str) -> String,
    lang: Lang,
) -> Value {
    let reference = |kind: &str, id: &str| json!({ "identifier": { "system": format!("{CODE_SYSTEM}/{kind}"), "value": id }, "display": name_of(id) });
    let mut task = json!({
        "resourceType": "Task",
        "id": r.id,
        "meta": { "profile": ["http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/SDOHCC-TaskForReferralManagement"] },
        "status": fhir_status(&r.status),
        "businessStatus": { "coding": [coding(REFERRAL_STATUSES, "referral-status", &r.status, lang)] },
        "intent": "order",
        "priority": if r.escalated { "urgent" } else { "routine" },
        "code": { "coding": [{ "system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill" }] },
        "reasonCode": { "coding": [coding(REFERRAL_REASONS, "referral-reason", &r.reason, lang)] },
        "authoredOn": format!("{}+09:00", r.created_at),
        "requester": reference("team", &r.from_team),
        "owner": match (&r.to_team, &r.to_org) {
            (Some(team), _) => reference("team", team),
            (None, Some(org)) => reference("organization", org),
            (None, None) => Value::Null,
        },
        "input": [
            { "type": { "text": "people" }, "valueInteger": r.people },
        ],
    });
    let object = task.as_object_mut().expect("a task is an object");
    if !disputed.is_empty() {
        object.insert("status".into(), json!("on-hold"));
        object.insert(
            "businessStatus".into(),
            json!({
                "coding": [{ "system": format!("{CODE_SYSTEM}/referral-status"), "code": "needs-review",
                             "display": crate::domain::NEEDS_REVIEW.get(lang) }],
                "text": crate::domain::steps_text(disputed, lang),
            }),
        );
    }
    if !r.status_at.is_empty() {
        object.insert(
            "lastModified".into(),
            json!(format!("{}+09:00", r.status_at)),
        );
    }
    if !r.status_reason.is_empty() {
        object.insert(
            "statusReason".into(),
            json!({ "coding": [coding(REFERRAL_OUTCOMES, "referral-outcome", &r.status_reason, lang)], "text": r.status_note }),
        );
    }
    let mut notes = Vec::new();
    if !r.summary.is_empty() {
        notes.push(json!({ "text": r.summary, "authorString": r.created_by }));
    }
    if !r.status_note.is_empty() {
        notes.push(json!({ "text": r.status_note, "authorString": r.status_by }));
    }
    if !notes.is_empty() {
        object.insert("note".into(), json!(notes));
    }
    if let Some(due) = &r.due {
        object.insert("restriction".into(), json!({ "period": { "end": due } }));
    }
    if let Some(visit) = &r.visit {
        object.insert(
            "focus".into(),
            json!({ "identifier": { "system": format!("{CODE_SYSTEM}/visit"), "value": visit } }),
        );
    }
    if !r.targets.is_empty() {
        object.insert(
            "extension".into(),
            json!([{ "url": format!("{CODE_SYSTEM}/target-group"), "valueCode": r.targets.join(",") }]),
        );
    }
    task
}

/// Referrals as a FHIR `Bundle` of type `collection`.
pub fn referrals_bundle(
    referrals: &[(Referral, Vec<String>)],
    name_of: &dyn Fn(&str) -> String,
    lang: Lang,
) -> Value {
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": chrono::Utc::now().to_rfc3339(),
        "entry": referrals
            .iter()
            .map(|(r, disputed)| json!({ "fullUrl": format!("urn:uuid:{}", r.id), "resource": referral_task(r, disputed, name_of, lang) }))
            .collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hours::now_jst;

    #[test]
    fn every_step_and_reason_travels() {
        let r = Referral {
            to_team: Some("t2".into()),
            status: "declined".into(),
            status_reason: "no_capacity".into(),
            status_note: "来月なら".into(),
            summary: "週末の居場所を希望".into(),
            ..Referral::new("t1", "isolation", now_jst())
        };
        let task = referral_task(&r, &[], &|id| format!("name of {id}"), Lang::Ja);
        assert_eq!(task["status"], "rejected");
        assert_eq!(task["businessStatus"]["coding"][0]["code"], "declined");
        assert_eq!(task["statusReason"]["coding"][0]["code"], "no_capacity");
        assert_eq!(
            task["statusReason"]["coding"][0]["display"],
            "受け入れ枠がない"
        );
        assert_eq!(task["reasonCode"]["coding"][0]["display"], "孤立");
        assert_eq!(task["owner"]["display"], "name of t2");
        assert_eq!(task["note"][0]["text"], "週末の居場所を希望");
        let bundle = referrals_bundle(&[(r.clone(), Vec::new())], &|id| id.to_string(), Lang::En);
        assert_eq!(bundle["entry"][0]["resource"]["resourceType"], "Task");
        // Steps taken offline at once that do not fit: on hold, both named, neither chosen.
        let disputed = ["withdrawn".to_string(), "connected".to_string()];
        let task = referral_task(&r, &disputed, &|id| id.to_string(), Lang::Ja);
        assert_eq!(task["status"], "on-hold");
        assert_eq!(task["businessStatus"]["coding"][0]["code"], "needs-review");
        assert_eq!(task["businessStatus"]["text"], "取り下げ / つながった");
    }
}

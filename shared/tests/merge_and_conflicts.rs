//! Replicas that edit apart and merge: fields merge independently, concurrent edits of one field are
//! kept as a conflict with who wrote each value, and a person resolves it by choosing.

mod support;

use ibasho_shared::Place;
use ibasho_shared::PlaceQuery;
use ibasho_shared::domain::FieldValue;
use support::*;

#[test]
fn concurrent_edits_of_one_field_surface_as_the_same_conflict_on_both_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let mut sato = founder(dir.path(), "佐藤");
    let place = sato.add_place(cafe("カフェ")).unwrap();
    let mut suzuki = joiner(&mut sato, dir.path(), "鈴木");

    sato.set::<Place>(&place.id, "name", "カフェ・ひだまり")
        .unwrap();
    suzuki
        .set::<Place>(&place.id, "name", "ひだまりカフェ")
        .unwrap();
    // Different fields merge without conflict.
    suzuki
        .set::<Place>(&place.id, "address", "座間市相武台2-3")
        .unwrap();
    exchange(&mut sato, &mut suzuki);

    let a = sato.conflicts().unwrap();
    let b = suzuki.conflicts().unwrap();
    assert_eq!(a, b, "both replicas show the same conflict");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].field, "name");
    let mut by: Vec<_> = a[0]
        .values
        .iter()
        .map(|v| (v.by.as_str(), v.value.clone()))
        .collect();
    by.sort_by(|x, y| x.0.cmp(y.0));
    assert_eq!(
        by,
        vec![
            ("佐藤", FieldValue::Str("カフェ・ひだまり".into())),
            ("鈴木", FieldValue::Str("ひだまりカフェ".into())),
        ]
    );
    assert_eq!(
        sato.get::<Place>(&place.id).unwrap().address,
        "座間市相武台2-3"
    );
    assert_eq!(
        sato.get::<Place>(&place.id).unwrap().name,
        a[0].values[0].value.as_text(),
        "the first value is the one shown"
    );

    // Editing another field does not silently resolve the conflict.
    sato.set::<Place>(&place.id, "contact", "046-000-0000")
        .unwrap();
    assert_eq!(sato.conflicts().unwrap().len(), 1);

    let choice = a[0].values.iter().position(|v| v.by == "鈴木").unwrap() + 1;
    sato.resolve_conflict(&place.id, "name", choice).unwrap();
    exchange(&mut sato, &mut suzuki);
    assert!(sato.conflicts().unwrap().is_empty());
    assert!(suzuki.conflicts().unwrap().is_empty());
    assert_eq!(
        suzuki.get::<Place>(&place.id).unwrap().name,
        "ひだまりカフェ"
    );
    assert_eq!(all_heads(&mut sato), all_heads(&mut suzuki));
}

#[test]
fn resolving_with_a_choice_that_does_not_exist_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut sato = founder(dir.path(), "佐藤");
    let place = sato.add_place(cafe("カフェ")).unwrap();
    let mut suzuki = joiner(&mut sato, dir.path(), "鈴木");
    sato.set::<Place>(&place.id, "hours", "Mo-Fr 09:00-17:00")
        .unwrap();
    suzuki
        .set::<Place>(&place.id, "hours", "Tu-Su 10:00-18:00")
        .unwrap();
    exchange(&mut sato, &mut suzuki);
    let heads = all_heads(&mut sato);
    assert!(matches!(
        sato.resolve_conflict(&place.id, "hours", 3),
        Err(ibasho_shared::Error::NoSuchChoice { count: 2, .. })
    ));
    assert!(
        sato.resolve_conflict(&place.id, "name", 1).is_err(),
        "name is not in conflict"
    );
    assert_eq!(all_heads(&mut sato), heads);
}

#[test]
fn an_edit_concurrent_with_a_delete_is_kept_and_visible() {
    let dir = tempfile::tempdir().unwrap();
    let mut sato = founder(dir.path(), "佐藤");
    let place = sato.add_place(cafe("古本屋")).unwrap();
    let mut suzuki = joiner(&mut sato, dir.path(), "鈴木");
    sato.delete::<Place>(&place.id).unwrap();
    suzuki
        .set::<Place>(&place.id, "description", "能登の地震で半壊し、移転しました")
        .unwrap();
    exchange(&mut sato, &mut suzuki);
    for r in [&mut sato, &mut suzuki] {
        let p = r.get::<Place>(&place.id).unwrap();
        assert!(p.deleted_at.is_some());
        assert_eq!(p.description, "能登の地震で半壊し、移転しました");
        assert!(r.places(&PlaceQuery::default()).unwrap().is_empty());
    }
    suzuki.restore::<Place>(&place.id).unwrap();
    exchange(&mut sato, &mut suzuki);
    assert_eq!(sato.places(&PlaceQuery::default()).unwrap().len(), 1);
}

#[test]
fn history_tells_who_changed_which_field_from_which_device() {
    let dir = tempfile::tempdir().unwrap();
    let mut sato = founder(dir.path(), "佐藤");
    let place = sato.add_place(cafe("喫茶ランドリー")).unwrap();
    let mut suzuki = joiner(&mut sato, dir.path(), "鈴木");
    suzuki
        .set::<Place>(&place.id, "status", "temporarily_closed")
        .unwrap();
    suzuki
        .set::<Place>(&place.id, "targets", "子育て中, 外国籍")
        .unwrap();
    exchange(&mut sato, &mut suzuki);

    let history = sato.history(&place.id).unwrap();
    let summary: Vec<(String, Vec<String>)> = history
        .iter()
        .map(|h| (h.by.clone(), h.fields.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("佐藤".to_string(), vec!["*".to_string()]),
            ("鈴木".to_string(), vec!["status".to_string()]),
            ("鈴木".to_string(), vec!["targets".to_string()]),
        ]
    );
    assert_eq!(&history[0].device, &sato.device_id()[..12]);
    assert_eq!(&history[1].device, &suzuki.device_id()[..12]);
    assert_ne!(history[0].device, history[1].device);
}

#[test]
fn receiving_changes_names_the_records_they_touched() {
    use automerge::sync::{State, SyncDoc};
    let dir = tempfile::tempdir().unwrap();
    let mut sato = founder(dir.path(), "佐藤");
    let place = sato.add_place(cafe("喫茶ランドリー")).unwrap();
    let doc_id = ibasho_shared::DocId::for_place(&place.id);
    let mut suzuki = joiner(&mut sato, dir.path(), "鈴木");
    sato.set::<Place>(&place.id, "name", "喫茶ランドリー相武台")
        .unwrap();
    // Suzuki pulls from a server-like copy of Sato's document.
    let mut server = automerge::AutoCommit::load(&sato.doc_bytes(&doc_id).unwrap()).unwrap();
    let mut server_state = State::new();
    let mut touched = Vec::new();
    for _ in 0..6 {
        if let Some(m) = suzuki.sync_message(&doc_id).unwrap() {
            server
                .sync()
                .receive_sync_message(
                    &mut server_state,
                    automerge::sync::Message::decode(&m).unwrap(),
                )
                .unwrap();
        }
        let Some(reply) = server.sync().generate_sync_message(&mut server_state) else {
            break;
        };
        if let Some(records) = suzuki
            .receive_sync_message_records(&doc_id, &reply.encode())
            .unwrap()
        {
            touched.extend(records);
        }
    }
    assert_eq!(touched, vec![place.id.clone()]);
    assert_eq!(
        suzuki.get::<Place>(&place.id).unwrap().name,
        "喫茶ランドリー相武台"
    );
}

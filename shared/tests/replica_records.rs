//! Places, visits and organizations through the replica API: validation, durability, tombstones,
//! the query index and device-only notes.

mod support;

use chrono::NaiveDate;
use ibasho_shared::{
    DocId, Error, Org, Place, PlaceQuery, Replica, Visit, VisitQuery, hours::now_jst,
};
use support::*;

#[test]
fn invalid_input_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let good = r.add_place(cafe("カフェ・ひだまり")).unwrap();
    let heads = all_heads(&mut r);

    let err = r
        .add_place(Place {
            lat: 0.0,
            lon: 0.0,
            ..cafe("ぬるぽ島")
        })
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(e) if e.field == "location"),
        "{err}"
    );
    let err = r
        .set::<Place>(&good.id, "hours", "毎日いつでも")
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(e) if e.field == "hours"),
        "{err}"
    );
    let err = r.set::<Place>(&good.id, "lat", "95").unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(e) if e.field == "lat"),
        "{err}"
    );
    let batch = vec![
        cafe("一軒目"),
        Place {
            category: "casino".into(),
            ..cafe("二軒目")
        },
    ];
    assert!(r.add_places(batch).is_err());

    assert_eq!(all_heads(&mut r), heads, "no document changed");
    assert_eq!(r.place_count().unwrap(), 1);
    assert_eq!(r.get::<Place>(&good.id).unwrap(), good);
}

#[test]
fn edits_survive_reopening_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("佐藤.sqlite3");
    let id = {
        let mut r = founder(dir.path(), "佐藤");
        let p = r.add_place(cafe("喫茶ランドリー")).unwrap();
        drop(r);
        let mut r = Replica::open(&path).unwrap();
        assert_eq!(
            r.get::<Place>(&p.id).unwrap(),
            p,
            "a single edit is read back after reopening"
        );
        assert_eq!(r.workspace().unwrap().name, "座間市 孤独・孤立官民連携PF");
        // More edits than a document keeps as chunks: it is compacted into a snapshot on the way.
        for i in 0..80 {
            r.set::<Place>(&p.id, "description", &format!("第{i}版"))
                .unwrap();
        }
        p.id
    };
    let mut r = Replica::open(&path).unwrap();
    let p = r.get::<Place>(&id).unwrap();
    assert_eq!(p.description, "第79版");
    assert_eq!(r.history(&id).unwrap().len(), 81);
    assert_eq!(r.integrity_check().unwrap(), "ok");
}

#[test]
fn delete_is_a_tombstone_that_can_be_restored() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let p = r.add_place(cafe("古書ほんの木")).unwrap();
    r.delete::<Place>(&p.id).unwrap();
    assert!(r.places(&PlaceQuery::default()).unwrap().is_empty());
    let with_deleted = r
        .places(&PlaceQuery {
            include_deleted: true,
            ..Default::default()
        })
        .unwrap();
    assert!(with_deleted[0].place.deleted_at.is_some());
    r.restore::<Place>(&p.id).unwrap();
    assert_eq!(r.places(&PlaceQuery::default()).unwrap().len(), 1);
    let fields: Vec<_> = r
        .history(&p.id)
        .unwrap()
        .into_iter()
        .flat_map(|h| h.fields)
        .collect();
    assert_eq!(fields, vec!["*", "deleted_at", "deleted_at"]);
}

#[test]
fn queries_filter_by_area_category_target_text_and_open_hours() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let mut shokudo = Place::new("ざま子ども食堂", "子ども食堂", 35.4880, 139.4070);
    shokudo.targets = vec!["子ども・若者".into(), "生活困窮".into()];
    shokudo.hours = "Sa 11:00-14:00".into();
    shokudo.address = "座間市緑ケ丘".into();
    let shokudo = r.add_place(shokudo).unwrap();
    let cafe_near = r.add_place(cafe("相武台カフェ")).unwrap();
    let mut far = Place::new("仙台市民図書館", "library", 38.2682, 140.8694);
    far.description = "仙台の中心にある図書館".into();
    let far = r.add_place(far).unwrap();

    let ids = |q: PlaceQuery| -> Vec<String> {
        r.places(&q)
            .unwrap()
            .into_iter()
            .map(|h| h.place.id)
            .collect()
    };
    let near = ids(PlaceQuery {
        near: Some((35.4885, 139.4072, 2_000.0)),
        ..Default::default()
    });
    assert_eq!(near.len(), 2);
    assert!(!near.contains(&far.id));
    assert_eq!(
        ids(PlaceQuery {
            category: Some("kodomo_shokudo".into()),
            ..Default::default()
        }),
        vec![shokudo.id.clone()]
    );
    assert_eq!(
        ids(PlaceQuery {
            target: Some("poverty".into()),
            ..Default::default()
        }),
        vec![shokudo.id.clone()]
    );
    // Trigram full text (3+ characters) and short Japanese words (2 characters) both find.
    assert_eq!(
        ids(PlaceQuery {
            search: Some("子ども食堂".into()),
            ..Default::default()
        }),
        vec![shokudo.id.clone()]
    );
    assert_eq!(
        ids(PlaceQuery {
            search: Some("食堂".into()),
            ..Default::default()
        }),
        vec![shokudo.id.clone()]
    );
    assert_eq!(
        ids(PlaceQuery {
            search: Some("緑ケ丘".into()),
            ..Default::default()
        }),
        vec![shokudo.id.clone()]
    );
    assert_eq!(
        ids(PlaceQuery {
            search: Some("仙台 図書館".into()),
            ..Default::default()
        }),
        vec![far.id.clone()]
    );
    assert!(
        ids(PlaceQuery {
            search: Some("居酒屋".into()),
            ..Default::default()
        })
        .is_empty()
    );
    // Saturday 2026-11-28 12:00: the cafeteria is open, the weekday café is not.
    let saturday_noon = NaiveDate::from_ymd_opt(2026, 11, 28)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap();
    assert_eq!(
        ids(PlaceQuery {
            open_at: Some(saturday_noon),
            ..Default::default()
        }),
        vec![shokudo.id.clone()]
    );
    // Monday 2026-11-23 is a public holiday (勤労感謝の日): the café's `PH off` closes it.
    let holiday = NaiveDate::from_ymd_opt(2026, 11, 23)
        .unwrap()
        .and_hms_opt(11, 0, 0)
        .unwrap();
    assert!(
        ids(PlaceQuery {
            open_at: Some(holiday),
            ..Default::default()
        })
        .is_empty()
    );
    let tuesday = NaiveDate::from_ymd_opt(2026, 11, 24)
        .unwrap()
        .and_hms_opt(11, 0, 0)
        .unwrap();
    assert_eq!(
        ids(PlaceQuery {
            open_at: Some(tuesday),
            ..Default::default()
        }),
        vec![cafe_near.id]
    );
}

#[test]
fn follow_ups_due_are_listed_and_notes_stay_on_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let team = r.default_team().unwrap();
    let place = r.add_place(cafe("喫茶ランドリー")).unwrap();
    let org = r.add_org(Org::new("座間市社会福祉協議会", "社協")).unwrap();
    let now = now_jst();
    let mut due = Visit::new(&team, "visit", now - chrono::Duration::days(10));
    due.place_id = Some(place.id.clone());
    due.follow_up = Some((now.date() - chrono::Duration::days(1)).to_string());
    due.referral_to = Some(org.id.clone());
    let due = r
        .add_visit(due, Some("PRIVATE-MARKER-4711 本人の事情"))
        .unwrap();
    let mut later = Visit::new(&team, "phone", now - chrono::Duration::days(1));
    later.follow_up = Some((now.date() + chrono::Duration::days(30)).to_string());
    r.add_visit(later, None).unwrap();

    let q = VisitQuery {
        due_by: Some(now.date()),
        ..Default::default()
    };
    assert_eq!(
        r.visits(&q)
            .unwrap()
            .iter()
            .map(|v| v.id.clone())
            .collect::<Vec<_>>(),
        vec![due.id.clone()]
    );
    r.set::<Visit>(&due.id, "follow_up_done", "true").unwrap();
    assert!(r.visits(&q).unwrap().is_empty());

    assert_eq!(
        r.private_note(&due.id).unwrap().as_deref(),
        Some("PRIVATE-MARKER-4711 本人の事情")
    );
    for id in r.doc_ids().unwrap() {
        let bytes = r.doc_bytes(&id).unwrap();
        assert!(
            !bytes.windows(19).any(|w| w == b"PRIVATE-MARKER-4711"),
            "note leaked into {id}"
        );
    }
}

#[test]
fn visits_refuse_unknown_teams_places_and_organizations() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let team = r.default_team().unwrap();
    let now = now_jst();
    let err = r
        .add_visit(Visit::new("no-such-team", "visit", now), None)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(e) if e.field == "team"),
        "{err}"
    );
    let err = r
        .add_visit(
            Visit {
                place_id: Some("nowhere".into()),
                ..Visit::new(&team, "visit", now)
            },
            None,
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(e) if e.field == "place"),
        "{err}"
    );
    let err = r
        .add_visit(
            Visit {
                referral_to: Some("nobody".into()),
                ..Visit::new(&team, "visit", now)
            },
            None,
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(e) if e.field == "referral_to"),
        "{err}"
    );
    assert!(r.visits(&VisitQuery::default()).unwrap().is_empty());
}

#[test]
fn garbage_bytes_do_not_touch_a_document() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    r.add_place(cafe("喫茶ランドリー")).unwrap();
    let before = all_heads(&mut r);
    let shard = r
        .doc_ids()
        .unwrap()
        .into_iter()
        .find(|d| matches!(d, ibasho_shared::DocId::Places(_)))
        .unwrap();
    assert!(
        r.merge_doc(&shard, b"\x85\x6f\x4a\x83 definitely not automerge")
            .is_err()
    );
    assert_eq!(all_heads(&mut r), before);
    assert_eq!(r.place_count().unwrap(), 1);
}

/// A copy of `shard` on another device (its own actor) that set place `id`'s description.
fn edited_elsewhere(
    r: &mut Replica,
    shard: &ibasho_shared::DocId,
    id: &str,
    description: &str,
) -> automerge::AutoCommit {
    use automerge::transaction::Transactable;
    use automerge::{ROOT, ReadDoc};
    let mut other = automerge::AutoCommit::load(&r.doc_bytes(shard).unwrap()).unwrap();
    other.set_actor(automerge::ActorId::random());
    let places = other.get(ROOT, "places").unwrap().unwrap().1;
    let rec = other.get(&places, id).unwrap().unwrap().1;
    other.put(&rec, "description", description).unwrap();
    other.commit();
    other
}

/// Files carried from another device (`ibasho import automerge`) whose changes Automerge would
/// panic on, or would take in but not load again from the replica's next snapshot: each is refused
/// with the reason, in Japanese too, and the replica keeps exactly what it had, also after it is
/// opened again.
#[test]
fn damaged_changes_in_a_file_are_refused_and_the_replica_keeps_what_it_had() {
    use ibasho_shared::doc::storable::Damaged;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("佐藤.sqlite3");
    let mut r = founder(dir.path(), "佐藤");
    let p = r.add_place(cafe("喫茶ランドリー")).unwrap();
    let shard = ibasho_shared::DocId::for_place(&p.id);
    let before = all_heads(&mut r);

    let mut other = edited_elsewhere(&mut r, &shard, &p.id, "壊れた変更");
    let change = other.get_last_local_change().unwrap().decode();
    let mut second_without_first = change.clone();
    second_without_first.seq = 2;
    let mut numbered_back = change;
    numbered_back.start_op = std::num::NonZeroU64::new(1).unwrap();

    for (mut bad, why) in [
        (second_without_first, Damaged::Malformed),
        (numbered_back, Damaged::NumberedBack),
    ] {
        bad.hash = None;
        let bytes = automerge::Change::from(bad).raw_bytes().to_vec();
        let err = r.merge_doc(&shard, &bytes).unwrap_err();
        assert!(
            matches!(&err, Error::Damaged { why: w, .. } if *w == why),
            "{err}"
        );
        assert!(err.to_string().contains("nothing was taken in"), "{err}");
        assert!(
            err.message(ibasho_shared::Lang::Ja)
                .contains("何も取り込んでいません"),
            "{}",
            err.message(ibasho_shared::Lang::Ja)
        );
        assert_eq!(all_heads(&mut r), before, "{why:?}");
    }
    assert_eq!(r.get::<Place>(&p.id).unwrap().description, "");
    drop(r);
    let mut r = Replica::open(&path).unwrap();
    assert_eq!(all_heads(&mut r), before);
    r.set::<Place>(&p.id, "description", "週末は子ども食堂")
        .unwrap();
    assert_eq!(
        r.get::<Place>(&p.id).unwrap().description,
        "週末は子ども食堂"
    );
}

/// A sync message carrying a change Automerge panics on (as a faulty server could send): an
/// error naming the document, nothing taken in, and the next good message is taken in as usual.
#[test]
fn a_sync_message_with_a_change_automerge_panics_on_is_an_error_and_sync_goes_on() {
    use automerge::sync::{ChunkList, Have, Message, MessageVersion, State, SyncDoc};
    use ibasho_shared::doc::storable::Damaged;
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let p = r.add_place(cafe("喫茶ランドリー")).unwrap();
    let shard = ibasho_shared::DocId::for_place(&p.id);
    let before = all_heads(&mut r);

    let mut server = edited_elsewhere(&mut r, &shard, &p.id, "週末は子ども食堂");
    let mut damaged = server.get_last_local_change().unwrap().decode();
    damaged.seq = 2;
    damaged.hash = None;
    let damaged = automerge::Change::from(damaged);
    let message = Message {
        heads: vec![damaged.hash()],
        need: Vec::new(),
        have: vec![Have::default()],
        changes: ChunkList::from(vec![damaged.raw_bytes().to_vec()]),
        flags: None,
        version: MessageVersion::V1,
    };
    let err = r
        .receive_sync_message(&shard, &message.encode())
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ibasho_shared::Error::Damaged {
                why: Damaged::Malformed,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains(&shard.to_string()), "{err}");
    assert_eq!(all_heads(&mut r), before);

    // The same change as it should be, through an ordinary exchange.
    let mut state = State::new();
    let mut changed = false;
    for _ in 0..5 {
        if let Some(m) = server.sync().generate_sync_message(&mut state) {
            changed |= r.receive_sync_message(&shard, &m.encode()).unwrap();
        }
        let Some(answer) = r.sync_message(&shard).unwrap() else {
            break;
        };
        let answer = Message::decode(&answer).unwrap();
        server
            .sync()
            .receive_sync_message(&mut state, answer)
            .unwrap();
    }
    assert!(changed);
    assert_eq!(
        r.get::<Place>(&p.id).unwrap().description,
        "週末は子ども食堂"
    );
}

#[test]
fn search_follows_edits_and_survives_the_index_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("佐藤.sqlite3");
    let search = |r: &Replica, text: &str| -> Vec<String> {
        r.places(&PlaceQuery {
            search: Some(text.into()),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|h| h.place.name)
        .collect()
    };
    let (cafe_id, _) = {
        let mut r = founder(dir.path(), "佐藤");
        let a = r.add_place(cafe("喫茶ひだまり")).unwrap();
        let b = r.add_place(cafe("ブックカフェ栞")).unwrap();
        r.set::<Place>(&a.id, "description", "毎週火曜に編み物の会")
            .unwrap();
        assert_eq!(search(&r, "編み物の会"), vec!["喫茶ひだまり"]);
        // The old text is gone from the search index, not kept beside the new one.
        r.set::<Place>(&a.id, "description", "毎週木曜に将棋の会")
            .unwrap();
        assert!(search(&r, "編み物の会").is_empty());
        assert_eq!(search(&r, "将棋の会"), vec!["喫茶ひだまり"]);
        (a.id, b.id)
    };
    // A replica written by the first schema: search rows with rowids of their own.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TEMP TABLE old AS SELECT id, name, reading, address, description FROM places_fts;
             DELETE FROM places_fts;
             INSERT INTO places_fts (rowid, id, name, reading, address, description)
               SELECT 1000 + rowid, id, name, reading, address, description FROM old;
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let mut r = Replica::open(&path).unwrap();
    assert_eq!(search(&r, "将棋の会"), vec!["喫茶ひだまり"]);
    assert_eq!(search(&r, "ブックカフェ"), vec!["ブックカフェ栞"]);
    r.set::<Place>(&cafe_id, "description", "毎週土曜に囲碁の会")
        .unwrap();
    assert!(search(&r, "将棋の会").is_empty());
    assert_eq!(search(&r, "囲碁の会"), vec!["喫茶ひだまり"]);
}

/// A file carried from another device holding changes the server's gate would refuse (an invalid
/// record, a field records do not have) is refused with the record, the field and the reason, in
/// Japanese too: taken in, it could never be sent on, and every later edit of the document would
/// wait behind it. The replica keeps exactly what it had; a good file from the same device merges.
#[test]
fn a_file_with_changes_the_server_would_refuse_is_refused_and_the_replica_keeps_what_it_had() {
    use automerge::transaction::Transactable;
    use automerge::{ROOT, ReadDoc};
    use ibasho_shared::sync::Fault;
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let p = r.add_place(cafe("喫茶ランドリー")).unwrap();
    let shard = ibasho_shared::DocId::for_place(&p.id);
    let before = all_heads(&mut r);
    let mut put = |field: &str, value: &str| {
        let mut other = edited_elsewhere(&mut r, &shard, &p.id, "週末は子ども食堂");
        let places = other.get(ROOT, "places").unwrap().unwrap().1;
        let rec = other.get(&places, p.id.as_str()).unwrap().unwrap().1;
        other.put(&rec, field, value).unwrap();
        other.commit();
        other.save()
    };
    let bad_hours = put("hours", "毎日いつでも");
    let unknown_field = put("secret", "x");

    let err = r.merge_doc(&shard, &bad_hours).unwrap_err();
    match &err {
        Error::Refused { fault, .. } => match fault.as_ref() {
            Fault::Record { id, error } => {
                assert_eq!(id, &p.id);
                assert_eq!(error.field, "hours");
            }
            other => panic!("{other}"),
        },
        other => panic!("{other}"),
    }
    assert!(
        err.to_string().contains("the server would refuse it"),
        "{err}"
    );
    let ja = err.message(ibasho_shared::Lang::Ja);
    assert!(
        ja.contains("開所時間") && ja.contains("何も取り込んでいません"),
        "{ja}"
    );

    let err = r.merge_doc(&shard, &unknown_field).unwrap_err();
    assert!(
        matches!(&err, Error::Refused { fault, .. }
            if matches!(fault.as_ref(), Fault::Shape(words) if words.contains("\"secret\" is not allowed"))),
        "{err}"
    );
    assert!(
        err.message(ibasho_shared::Lang::Ja)
            .contains("文書の形に合わない変更です")
    );

    assert_eq!(all_heads(&mut r), before);
    let kept = r.get::<Place>(&p.id).unwrap();
    assert_eq!(
        (kept.description.as_str(), kept.hours.as_str()),
        ("", p.hours.as_str())
    );

    let good = edited_elsewhere(&mut r, &shard, &p.id, "週末は子ども食堂").save();
    assert!(r.merge_doc(&shard, &good).unwrap());
    assert_eq!(
        r.get::<Place>(&p.id).unwrap().description,
        "週末は子ども食堂"
    );
}

/// Exchanges `doc_id` between the replica and `server` until neither has anything to say, as the
/// server would (without the gate): afterwards the replica knows what the server has.
fn sync_with(r: &mut Replica, server: &mut automerge::AutoCommit, doc_id: &DocId) {
    use automerge::sync::{Message, State, SyncDoc};
    let mut state = State::new();
    for _ in 0..10 {
        let mine = r.sync_message(doc_id).unwrap();
        if let Some(m) = &mine {
            server
                .sync()
                .receive_sync_message(&mut state, Message::decode(m).unwrap())
                .unwrap();
        }
        let theirs = server
            .sync()
            .generate_sync_message(&mut state)
            .map(Message::encode);
        if let Some(m) = &theirs {
            r.receive_sync_message(doc_id, m).unwrap();
        }
        if mine.is_none() && theirs.is_none() {
            return;
        }
    }
    panic!("no end to the exchange");
}

/// A change the server refuses can be discarded, one field or a whole record: the document goes
/// back to what the server has, the other unsent edits stay, the discarded value is gone from
/// the document, and there is nothing left to discard.
#[test]
fn a_refused_change_is_discarded_and_the_other_unsent_edits_stay() {
    const MARKER: &str = "046-DISCARD-ME";
    let dir = tempfile::tempdir().unwrap();
    let mut r = Replica::open(&dir.path().join("r.sqlite3")).unwrap();
    r.init("座間市PF", "佐藤").unwrap();
    let place = r
        .add_place(Place::new("喫茶ランドリー", "cafe", 35.5, 139.4))
        .unwrap();
    let doc_id = DocId::for_place(&place.id);
    let mut server = automerge::AutoCommit::new();
    sync_with(&mut r, &mut server, &doc_id);
    // (The workspace document, not exchanged here, counts as unsent.)
    let synced = r.unsent_changes().unwrap();

    r.set::<Place>(&place.id, "contact", MARKER).unwrap();
    r.set::<Place>(&place.id, "description", "朝から開いています")
        .unwrap();
    let added = r
        .add_place(Place::new("別の居場所", "ibasho", 35.5, 139.4))
        .unwrap();
    r.record_refusal(
        &doc_id.to_string(),
        Some(&place.id),
        Some("contact"),
        ibasho_shared::sync::ErrorCode::Forbidden,
        "refused",
    )
    .unwrap();
    assert_eq!(r.stuck().unwrap().len(), 1);

    let discarded = r.discard(&place.id, Some("contact")).unwrap();
    assert_eq!(discarded.fields, 1);
    let now = r.get::<Place>(&place.id).unwrap();
    assert_eq!(now.contact, "", "back to what the server has");
    assert_eq!(
        now.description, "朝から開いています",
        "the other edit stays"
    );
    assert!(
        r.get::<Place>(&added.id).is_ok(),
        "a place added here stays"
    );
    assert!(r.unsent_changes().unwrap() > synced);
    let bytes = r.doc_bytes(&doc_id).unwrap();
    assert!(!bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()));
    assert!(r.stuck().unwrap().is_empty());
    assert!(matches!(
        r.discard(&place.id, Some("contact")),
        Err(ibasho_shared::Error::NotFound { .. })
    ));

    // A record created here is dropped whole.
    let whole = r.discard(&added.id, None).unwrap();
    assert_eq!(whole.records, 1);
    assert!(r.get::<Place>(&added.id).is_err());
    assert_eq!(
        r.get::<Place>(&place.id).unwrap().description,
        "朝から開いています"
    );
}

//! The server's gate: what a device sends is merged only when its role allows it and every record it
//! touches stays valid; otherwise nothing of it is stored.

mod support;

use automerge::sync::{State, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT, ReadDoc};
use ibasho_shared::doc::genesis;
use ibasho_shared::doc::storable::Damaged;
use ibasho_shared::sync::{
    Access, AccessPolicy, ErrorCode, Fault, Rejection, Role, Sender, accept, receive,
};
use ibasho_shared::{DocId, Org, Visit, hours::now_jst};
use support::*;

/// Runs a raw document's sync against the server's copy until quiet; returns the first refusal.
fn push_raw(
    server: &mut AutoCommit,
    doc_id: &DocId,
    device: &mut AutoCommit,
    access: Access,
    sender: &Sender,
) -> Result<Vec<Rejection>, Rejection> {
    let (mut server_state, mut device_state) = (State::new(), State::new());
    let mut dropped = Vec::new();
    // An honest device: every change it holds was made by it.
    let sender = &authoring(
        sender.clone(),
        device.get_changes(&[]).iter().map(|c| c.raw_bytes()),
    );
    for _ in 0..10 {
        let Some(m) = device.sync().generate_sync_message(&mut device_state) else {
            break;
        };
        let outcome = accept::receive(
            server,
            doc_id,
            &mut server_state,
            &m.encode(),
            access,
            sender,
        )?;
        dropped.extend(outcome.dropped);
        if let Some(reply) = server.sync().generate_sync_message(&mut server_state) {
            device
                .sync()
                .receive_sync_message(&mut device_state, reply)
                .unwrap();
        }
    }
    Ok(dropped)
}

fn worker() -> Sender {
    Sender {
        role: Role::Worker,
        device: "dev-worker".into(),
        actors: Vec::new(),
        closed: Default::default(),
        team: None,
    }
}

fn member(device: &str) -> Sender {
    Sender {
        role: Role::Member,
        device: device.into(),
        actors: Vec::new(),
        closed: Default::default(),
        team: None,
    }
}

/// `sender` as the device that made the changes in `chunks` (those that are single changes): the
/// server bound their actors to it. Tests of other rules offer changes as their own author would.
fn authoring<'a>(mut sender: Sender, chunks: impl IntoIterator<Item = &'a [u8]>) -> Sender {
    for chunk in chunks {
        if let Ok(change) = automerge::Change::from_bytes(chunk.to_vec())
            && !sender.actors.contains(change.actor_id())
        {
            sender.actors.push(change.actor_id().clone());
        }
    }
    sender
}

/// [`authoring`] for the changes an encoded sync message carries.
fn author_of(sender: Sender, message: &[u8]) -> Sender {
    let message = automerge::sync::Message::decode(message).unwrap();
    authoring(sender, message.changes.iter())
}

fn server_copy_of(replica: &mut ibasho_shared::Replica, doc_id: &DocId) -> AutoCommit {
    AutoCommit::load(&replica.doc_bytes(doc_id).unwrap()).unwrap()
}

/// A founder's replica holding one café: its directory, the replica, the café's id and document.
fn one_cafe() -> (tempfile::TempDir, ibasho_shared::Replica, String, DocId) {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let p = r.add_place(cafe("喫茶ランドリー")).unwrap();
    let doc_id = DocId::for_place(&p.id);
    (dir, r, p.id, doc_id)
}

/// The record map of place `id` in `doc`.
fn place_in(doc: &AutoCommit, id: &str) -> automerge::ObjId {
    let places = doc.get(ROOT, "places").unwrap().unwrap().1;
    doc.get(&places, id).unwrap().unwrap().1
}

#[test]
fn a_valid_new_place_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let p = r.add_place(cafe("喫茶ランドリー")).unwrap();
    let doc_id = DocId::for_place(&p.id);
    let mut server = genesis(&doc_id, automerge::ActorId::random());
    let mut device = server_copy_of(&mut r, &doc_id);
    push_raw(&mut server, &doc_id, &mut device, Access::Write, &worker()).unwrap();
    assert_eq!(server.get_heads(), r.doc_heads(&doc_id).unwrap());
}

#[test]
fn an_invalid_record_is_refused_naming_the_record_and_field_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let p = r.add_place(cafe("喫茶ランドリー")).unwrap();
    let doc_id = DocId::for_place(&p.id);
    let mut server = server_copy_of(&mut r, &doc_id);
    let before = server.get_heads();
    // A device that bypasses local validation: latitude 999.
    let mut device = server.fork();
    let places = device.get(ROOT, "places").unwrap().unwrap().1;
    let rec = device.get(&places, p.id.as_str()).unwrap().unwrap().1;
    device.put(&rec, "lat", 999.0).unwrap();
    device.commit();
    let err = push_raw(&mut server, &doc_id, &mut device, Access::Write, &worker()).unwrap_err();
    assert_eq!(err.code, ErrorCode::Invalid);
    assert!(
        matches!(err.fault.as_deref(), Some(Fault::Record { id, error }) if *id == p.id && error.field == "lat"),
        "{}",
        err.message
    );
    assert_eq!(
        server.get_heads(),
        before,
        "nothing of the batch was stored"
    );
}

#[test]
fn the_structure_of_a_document_cannot_be_changed() {
    let doc_id = DocId::Places(1);
    let mut server = genesis(&doc_id, automerge::ActorId::random());
    let before = server.get_heads();
    let mut device = server.fork();
    device.put(ROOT, "places", "gone").unwrap();
    device.commit();
    let err = push_raw(&mut server, &doc_id, &mut device, Access::Write, &worker()).unwrap_err();
    assert_eq!(err.code, ErrorCode::Invalid);
    assert_eq!(server.get_heads(), before);

    let mut device = server.fork();
    let places = device.get(ROOT, "places").unwrap().unwrap().1;
    let rec = device
        .put_object(&places, "x1", automerge::ObjType::Map)
        .unwrap();
    device
        .put_object(&rec, "name", automerge::ObjType::List)
        .unwrap();
    device.commit();
    let err = push_raw(&mut server, &doc_id, &mut device, Access::Write, &worker()).unwrap_err();
    assert_eq!(err.code, ErrorCode::Invalid);
    assert!(
        err.message.contains("fields are plain values"),
        "{}",
        err.message
    );
    assert_eq!(server.get_heads(), before);

    // A counter is not a plain value either, even where the field is allowed.
    let mut device = server.fork();
    let places = device.get(ROOT, "places").unwrap().unwrap().1;
    let rec = device
        .put_object(&places, "x2", automerge::ObjType::Map)
        .unwrap();
    device
        .put(&rec, "description", automerge::ScalarValue::counter(1))
        .unwrap();
    device.commit();
    let err = push_raw(&mut server, &doc_id, &mut device, Access::Write, &worker()).unwrap_err();
    assert_eq!(err.code, ErrorCode::Invalid);
    assert!(
        err.message.contains("fields are plain values"),
        "{}",
        err.message
    );
    assert_eq!(server.get_heads(), before);
}

#[test]
fn changes_to_a_read_only_document_are_dropped_while_reading_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut coordinator = founder(dir.path(), "佐藤");
    coordinator
        .add_org(Org::new("座間市社会福祉協議会", "社協"))
        .unwrap();
    let mut server = server_copy_of(&mut coordinator, &DocId::Orgs);
    let before = server.get_heads();
    // A worker's device holds an entry it made offline; orgs are read-only for workers.
    let mut device = genesis(&DocId::Orgs, automerge::ActorId::random());
    let orgs = device.get(ROOT, "orgs").unwrap().unwrap().1;
    let rec = device
        .put_object(&orgs, "w1", automerge::ObjType::Map)
        .unwrap();
    device.put(&rec, "name", "勝手な団体").unwrap();
    device.put(&rec, "sector", "npo").unwrap();
    device.commit();
    let dropped = push_raw(
        &mut server,
        &DocId::Orgs,
        &mut device,
        Access::Read,
        &worker(),
    )
    .unwrap();
    assert!(dropped.iter().all(|r| r.code == ErrorCode::ReadOnly) && !dropped.is_empty());
    assert_eq!(server.get_heads(), before, "nothing merged");
    let orgs = device.get(ROOT, "orgs").unwrap().unwrap().1;
    assert_eq!(
        device.keys(&orgs).count(),
        2,
        "the worker still received the directory"
    );
}

#[test]
fn unreadable_documents_are_forbidden() {
    let doc_id = DocId::Visits {
        team: "a".into(),
        month: "2026-11".into(),
    };
    let policy = AccessPolicy {
        role: Role::Member,
        team: None,
    };
    let mut server = genesis(&doc_id, automerge::ActorId::random());
    let mut device = genesis(&doc_id, automerge::ActorId::random());
    let err = push_raw(
        &mut server,
        &doc_id,
        &mut device,
        policy.access(&doc_id),
        &member("m1"),
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
}

#[test]
fn a_member_changes_only_its_own_directory_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut coordinator = founder(dir.path(), "佐藤");
    let shakyo = coordinator
        .add_org(Org::new("座間市社会福祉協議会", "社協"))
        .unwrap();
    let mut server = server_copy_of(&mut coordinator, &DocId::Orgs);
    let before = server.get_heads();

    let mut device = server.fork();
    let orgs = device.get(ROOT, "orgs").unwrap().unwrap().1;
    let rec = device.get(&orgs, shakyo.id.as_str()).unwrap().unwrap().1;
    device.put(&rec, "offers", "乗っ取り").unwrap();
    device.commit();
    let err = push_raw(
        &mut server,
        &DocId::Orgs,
        &mut device,
        Access::Write,
        &member("m1"),
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert_eq!(server.get_heads(), before);

    // Its own entry (owner = its device) is accepted.
    let mut member_replica = joiner(
        &mut coordinator,
        &dir.path().join("m"),
        "喫茶ランドリー店主",
    );
    let own = Org {
        owner: Some("m1".into()),
        ..Org::new("喫茶ランドリー", "企業")
    };
    let own = member_replica.add_org(own).unwrap();
    let mut device = server_copy_of(&mut member_replica, &DocId::Orgs);
    push_raw(
        &mut server,
        &DocId::Orgs,
        &mut device,
        Access::Write,
        &member("m1"),
    )
    .unwrap();
    let orgs = server.get(ROOT, "orgs").unwrap().unwrap().1;
    assert!(server.get(&orgs, own.id.as_str()).unwrap().is_some());
}

#[test]
fn a_visit_must_live_in_its_own_team_and_month() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let team = r.default_team().unwrap();
    let v = r
        .add_visit(Visit::new(&team, "visit", now_jst()), None)
        .unwrap();
    let real = DocId::Visits {
        team: team.clone(),
        month: v.month(),
    };
    let mut device = server_copy_of(&mut r, &real);
    // The same bytes offered as another team's document.
    let other = DocId::Visits {
        team: "other-team".into(),
        month: v.month(),
    };
    let mut server = genesis(&other, automerge::ActorId::random());
    let err = push_raw(&mut server, &other, &mut device, Access::Write, &worker()).unwrap_err();
    assert_eq!(err.code, ErrorCode::Invalid);
}

#[test]
fn every_concurrent_value_is_validated_not_only_the_one_shown() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let p = r.add_place(cafe("喫茶ランドリー")).unwrap();
    let doc_id = DocId::for_place(&p.id);
    let mut server = server_copy_of(&mut r, &doc_id);
    let mut device = server.fork();
    let record = |d: &AutoCommit| {
        let places = d.get(ROOT, "places").unwrap().unwrap().1;
        d.get(&places, p.id.as_str()).unwrap().unwrap().1
    };
    // The server's copy and the device change the same field concurrently; the device's value is bad.
    let rec = record(&server);
    server.put(&rec, "hours", "Mo-Fr 09:00-12:00").unwrap();
    server.commit();
    let before = server.get_heads();
    let rec = record(&device);
    device.put(&rec, "hours", "毎日いつでも").unwrap();
    device.commit();
    let err = push_raw(&mut server, &doc_id, &mut device, Access::Write, &worker()).unwrap_err();
    assert_eq!(err.code, ErrorCode::Invalid);
    assert!(
        matches!(err.fault.as_deref(), Some(Fault::Record { error, .. }) if error.field == "hours"),
        "{}",
        err.message
    );
    assert_eq!(server.get_heads(), before);

    // A valid concurrent value is accepted and kept as a conflict.
    let mut device = server_copy_of(&mut r, &doc_id);
    let rec = record(&device);
    device.put(&rec, "hours", "Sa 10:00-14:00").unwrap();
    device.commit();
    push_raw(&mut server, &doc_id, &mut device, Access::Write, &worker()).unwrap();
    let rec = record(&server);
    assert_eq!(server.get_all(&rec, "hours").unwrap().len(), 2);

    // A counter or an object as the value that loses: the patch shows only the winner, and the
    // losing value is refused all the same.
    type Put = fn(&mut AutoCommit, &automerge::ObjId);
    let losing: [(&str, Put); 2] = [
        ("a counter", |d, rec| {
            d.put(rec, "description", automerge::ScalarValue::counter(1))
                .unwrap();
        }),
        ("an object", |d, rec| {
            d.put_object(rec, "description", automerge::ObjType::Map)
                .unwrap();
        }),
    ];
    for (what, put) in losing {
        // Equal operation numbers: the higher actor's value wins.
        let mut winner = server_copy_of(&mut r, &doc_id);
        winner.set_actor(automerge::ActorId::from(vec![0xff; 16]));
        let mut loser = server_copy_of(&mut r, &doc_id);
        loser.set_actor(automerge::ActorId::from(vec![0x01; 16]));
        let rec = record(&winner);
        winner.put(&rec, "description", "週末は子ども食堂").unwrap();
        winner.commit();
        let rec = record(&loser);
        put(&mut loser, &rec);
        loser.commit();
        let mut server = server_copy_of(&mut r, &doc_id);
        push_raw(&mut server, &doc_id, &mut winner, Access::Write, &worker()).unwrap();
        let before = server.get_heads();
        let err = push_raw(&mut server, &doc_id, &mut loser, Access::Write, &worker()).unwrap_err();
        assert_eq!(err.code, ErrorCode::Invalid, "{what}");
        assert!(
            err.message.contains("plain values"),
            "{what}: {}",
            err.message
        );
        assert_eq!(server.get_heads(), before, "{what}");

        // The winner and the loser in one message: the patch shows the winner only.
        let mut both = winner.fork();
        both.merge(&mut loser).unwrap();
        let mut server = server_copy_of(&mut r, &doc_id);
        let before = server.get_heads();
        let err = push_raw(&mut server, &doc_id, &mut both, Access::Write, &worker()).unwrap_err();
        assert_eq!(err.code, ErrorCode::Invalid, "{what}, one message");
        assert!(
            err.message.contains("plain values"),
            "{what}: {}",
            err.message
        );
        assert_eq!(server.get_heads(), before, "{what}, one message");
    }
}

/// A field already set concurrently by two devices: a third value that loses to both makes no
/// patch at all. It is checked all the same, from the change's operations.
#[test]
fn a_value_added_to_a_conflict_is_checked_though_nothing_shows() {
    let (_dir, mut r, id, doc_id) = one_cafe();
    let record = |d: &AutoCommit| place_in(d, &id);
    let mut server = server_copy_of(&mut r, &doc_id);
    for (actor, hours) in [(0xf0, "Mo-Fr 09:00-12:00"), (0xf1, "Sa 10:00-14:00")] {
        let mut device = server_copy_of(&mut r, &doc_id);
        device.set_actor(automerge::ActorId::from(vec![actor; 16]));
        let rec = record(&device);
        device.put(&rec, "hours", hours).unwrap();
        device.commit();
        push_raw(&mut server, &doc_id, &mut device, Access::Write, &worker()).unwrap();
    }
    let rec = record(&server);
    assert_eq!(server.get_all(&rec, "hours").unwrap().len(), 2);
    let before = server.get_heads();

    type Put = fn(&mut AutoCommit, &automerge::ObjId);
    let third: [(&str, Put, &str); 2] = [
        (
            "invalid hours",
            |d, rec| d.put(rec, "hours", "毎日いつでも").unwrap(),
            "opening hours",
        ),
        (
            "a counter",
            |d, rec| {
                d.put(rec, "hours", automerge::ScalarValue::counter(1))
                    .unwrap()
            },
            "plain values",
        ),
    ];
    for (what, put, why) in third {
        // Concurrent with both values, and losing to both (the lowest actor).
        let mut device = server_copy_of(&mut r, &doc_id);
        device.set_actor(automerge::ActorId::from(vec![0x01; 16]));
        let rec = record(&device);
        put(&mut device, &rec);
        device.commit();
        let mut unguarded = server.fork();
        let change = device.get_last_local_change().unwrap().raw_bytes().to_vec();
        unguarded.update_diff_cursor();
        unguarded.load_incremental(&change).unwrap();
        assert!(unguarded.diff_incremental().is_empty(), "{what}: no patch");

        let err =
            push_raw(&mut server, &doc_id, &mut device, Access::Write, &worker()).unwrap_err();
        assert_eq!(err.code, ErrorCode::Invalid, "{what}");
        assert!(err.message.contains(why), "{what}: {}", err.message);
        assert_eq!(server.get_heads(), before, "{what}");
    }
}

/// A device's second change that does not build on its first (it depends only on the document's
/// first change): Automerge takes it in, but a document saved with it does not load.
#[test]
fn a_change_that_does_not_build_on_its_devices_previous_one_is_refused() {
    let (_dir, mut r, id, doc_id) = one_cafe();
    let mut server = server_copy_of(&mut r, &doc_id);
    let (genesis, genesis_max_op) = server
        .get_changes_meta(&[])
        .into_iter()
        .find(|m| m.deps.is_empty())
        .map(|m| (m.hash, m.max_op))
        .unwrap();
    let mut device = server.fork();
    let rec = place_in(&device, &id);
    device.put(&rec, "description", "週末は子ども食堂").unwrap();
    device.commit();
    push_raw(&mut server, &doc_id, &mut device, Access::Write, &worker()).unwrap();
    let before = server.get_heads();

    let second = automerge::Change::from(automerge::ExpandedChange {
        operations: Vec::new(),
        actor_id: device.get_actor().clone(),
        hash: None,
        seq: 2,
        start_op: std::num::NonZeroU64::new(genesis_max_op + 1).unwrap(),
        time: 0,
        message: None,
        deps: vec![genesis],
        extra_bytes: Vec::new(),
        author: None,
    });
    let mut unguarded = server.fork();
    unguarded.load_incremental(second.raw_bytes()).unwrap();
    assert!(AutoCommit::load(&unguarded.save()).is_err());

    refused(&mut server, &doc_id, &second, |f| {
        *f == Fault::Damaged(Damaged::NotOnPrevious)
    });
    assert_eq!(
        AutoCommit::load(&server.save()).unwrap().get_heads(),
        before
    );

    // A device's first and second change in one message, both on the server's heads, numbered one
    // after the other: a saved document counts the second's operations from the heads and would
    // give it the first's as well.
    let actor = automerge::ActorId::random();
    let mut first_device = server.fork();
    first_device.set_actor(actor.clone());
    let rec = place_in(&first_device, &id);
    first_device
        .put(&rec, "name", "喫茶ランドリー 本店")
        .unwrap();
    first_device.put(&rec, "contact", "042-000-0000").unwrap();
    first_device.commit();
    let first = first_device.get_last_local_change().unwrap().clone();
    let mut second_device = server.fork();
    second_device.set_actor(actor);
    let rec = place_in(&second_device, &id);
    second_device
        .put(&rec, "reading", "きっさらんどりー")
        .unwrap();
    second_device.commit();
    let mut second = second_device.get_last_local_change().unwrap().decode();
    second.seq = 2;
    second.start_op = std::num::NonZeroU64::new(first.max_op() + 1).unwrap();
    second.hash = None;
    let second = automerge::Change::from(second);
    let both = vec![first.raw_bytes().to_vec(), second.raw_bytes().to_vec()];
    let mut unguarded = server.fork();
    unguarded.load_incremental(&both.concat()).unwrap();
    let reloaded = AutoCommit::load(&unguarded.save()).map(|mut d| d.get_heads());
    assert!(
        reloaded.is_err() || reloaded.unwrap() != unguarded.get_heads(),
        "a saved document does not come back"
    );
    let err = accept::receive(
        &mut server,
        &doc_id,
        &mut State::new(),
        &carrying(both.clone()),
        Access::Write,
        &authoring(worker(), both.iter().map(Vec::as_slice)),
    )
    .unwrap_err();
    assert!(
        err.message
            .contains("does not build on its device's previous change"),
        "{}",
        err.message
    );
    assert_eq!(server.get_heads(), before);
}

/// What a device says it has is a Bloom filter that Automerge checks every change against when it
/// next builds a message for the device. One with entries but no bits makes it divide by zero; one
/// asking for billions of probes makes it set aside gigabytes. Both are refused as they arrive.
#[test]
fn bloom_filters_automerge_cannot_use_are_refused() {
    let (_dir, mut r, _, doc_id) = one_cafe();
    let mut server = server_copy_of(&mut r, &doc_id);
    let with_bloom = |bloom: &[u8]| automerge::sync::Message {
        heads: Vec::new(),
        need: Vec::new(),
        have: vec![automerge::sync::Have {
            last_sync: Vec::new(),
            bloom: automerge::sync::BloomFilter::try_from(bloom).unwrap(),
        }],
        changes: automerge::sync::ChunkList::empty(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    };
    let no_bits = with_bloom(&[1, 0, 7]);
    let mut unguarded = server.fork();
    let mut state = State::new();
    unguarded
        .sync()
        .receive_sync_message(&mut state, no_bits.clone())
        .unwrap();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        unguarded.sync().generate_sync_message(&mut state)
    }));
    assert!(panicked.is_err(), "Automerge divides by zero");

    let billions = with_bloom(&[1, 10, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0]);
    for (message, why) in [(no_bits, "no bits"), (billions, "probes")] {
        let mut state = State::new();
        let err = accept::receive(
            &mut server,
            &doc_id,
            &mut state,
            &message.encode(),
            Access::Write,
            &worker(),
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::BadFrame);
        assert!(err.message.contains(why), "{}", err.message);
        assert_eq!(state, State::new());
    }
}

#[test]
fn a_change_sent_without_the_one_before_it_is_asked_for_again_then_merged() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let places = r
        .add_places((0..12).map(|i| cafe(&format!("居場所{i}"))).collect())
        .unwrap();
    let doc_id = DocId::for_place(&places[0].id);
    let id = places
        .iter()
        .find(|p| DocId::for_place(&p.id) == doc_id)
        .unwrap()
        .id
        .clone();
    let mut server = server_copy_of(&mut r, &doc_id);
    let mut device = server.fork();
    let record = |d: &AutoCommit| {
        let places = d.get(ROOT, "places").unwrap().unwrap().1;
        d.get(&places, id.as_str()).unwrap().unwrap().1
    };
    let rec = record(&device);
    device.put(&rec, "description", "火曜は編み物").unwrap();
    device.commit();
    let first = device.get_heads()[0];
    device.put(&rec, "description", "木曜は将棋").unwrap();
    device.commit();
    let second = device.get_heads()[0];

    let (mut server_state, mut device_state) = (State::new(), State::new());
    let exchange = |device: &mut AutoCommit,
                    server: &mut AutoCommit,
                    device_state: &mut State,
                    server_state: &mut State,
                    drop_first: bool| {
        let mut m = device.sync().generate_sync_message(device_state)?;
        if drop_first && !m.changes.is_empty() {
            // The device believes the server has the first change (a Bloom filter false
            // positive) and sends only the second.
            let bytes = device
                .get_change_by_hash(&second)
                .unwrap()
                .raw_bytes()
                .to_vec();
            m.changes = bytes.into();
        }
        let encoded = m.encode();
        let outcome = accept::receive(
            server,
            &doc_id,
            server_state,
            &encoded,
            Access::Write,
            &Sender {
                actors: vec![device.get_actor().clone()],
                ..worker()
            },
        )
        .unwrap();
        if let Some(reply) = accept::reply(server, server_state, &outcome.need) {
            device
                .sync()
                .receive_sync_message(device_state, reply)
                .unwrap();
        }
        Some(outcome)
    };
    let before = server.get_heads();
    exchange(
        &mut device,
        &mut server,
        &mut device_state,
        &mut server_state,
        false,
    );
    let outcome = exchange(
        &mut device,
        &mut server,
        &mut device_state,
        &mut server_state,
        true,
    )
    .unwrap();
    assert!(!outcome.changed);
    assert_eq!(outcome.need, vec![first]);
    assert_eq!(server.get_heads(), before, "nothing of it was merged");
    assert!(
        server.get_missing_deps(&[]).is_empty(),
        "nothing waits in the server's document to be applied later"
    );
    for _ in 0..5 {
        exchange(
            &mut device,
            &mut server,
            &mut device_state,
            &mut server_state,
            false,
        );
    }
    assert_eq!(server.get_heads(), vec![second]);
    let rec = record(&server);
    assert_eq!(
        server
            .get(&rec, "description")
            .unwrap()
            .unwrap()
            .0
            .to_string(),
        "\"木曜は将棋\""
    );
}

/// The next number of the tests' seeded sequence (a linear congruential generator; the high bits
/// pick what happens next).
fn advance(seed: &mut u64) {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
}

/// `nothing_to_say` lets the server skip building a message; it must never skip one Automerge
/// would send. Two peers edit and exchange in a scripted but irregular order (messages lost,
/// answered late, edits on both sides), and at every step its prediction is checked against
/// Automerge's own answer.
#[test]
fn skipping_a_sync_message_only_when_automerge_would_send_none() {
    let (mut a, mut b) = (AutoCommit::new(), AutoCommit::new());
    let (mut sa, mut sb) = (State::new(), State::new());
    let mut to_b: Vec<automerge::sync::Message> = Vec::new();
    let mut to_a: Vec<automerge::sync::Message> = Vec::new();
    let (mut skipped, mut sent) = (0, 0);
    let mut seed: u64 = 2026;
    for step in 0..600 {
        advance(&mut seed);
        match (seed >> 33) % 7 {
            0 => a.put(ROOT, format!("k{}", step % 5), step as i64).unwrap(),
            1 => b.put(ROOT, format!("k{}", step % 3), step as i64).unwrap(),
            2 | 3 => {
                let predicted = accept::nothing_to_say(&mut a, &sa);
                let mut probe = sa.clone();
                let actual = a.sync().generate_sync_message(&mut probe);
                if predicted {
                    assert!(
                        actual.is_none(),
                        "step {step}: skipped a message Automerge sends"
                    );
                    skipped += 1;
                } else if let Some(m) = accept::reply(&mut a, &mut sa, &[]) {
                    to_b.push(m);
                    sent += 1;
                }
            }
            4 => {
                if let Some(m) = b.sync().generate_sync_message(&mut sb) {
                    to_a.push(m);
                }
            }
            5 => {
                // Deliver what is in flight; now and then a message is lost on the way.
                for m in to_b.drain(..) {
                    if !(seed >> 40).is_multiple_of(9) {
                        b.sync().receive_sync_message(&mut sb, m).unwrap();
                    }
                }
            }
            _ => {
                for m in to_a.drain(..) {
                    a.sync().receive_sync_message(&mut sa, m).unwrap();
                }
            }
        }
    }
    assert!(
        skipped > 20 && sent > 20,
        "both paths ran: {skipped} skipped, {sent} sent"
    );
}

/// The server takes in messages without Automerge's walk of the whole history where it cannot
/// matter (`receive_message`); document and sync state must come out exactly as Automerge's own
/// `receive_sync_message` leaves it. Two peers edit and exchange irregularly (answered late, in
/// batches, both sides editing; nothing lost, as over one websocket), and every message is taken
/// in both ways.
#[test]
fn taking_in_messages_leaves_the_sync_state_as_automerge_does() {
    let (mut a, mut b) = (AutoCommit::new(), AutoCommit::new());
    let (mut sa, mut sb) = (State::new(), State::new());
    let mut to_b: Vec<automerge::sync::Message> = Vec::new();
    let mut to_a: Vec<automerge::sync::Message> = Vec::new();
    let (mut quick, mut quick_with_changes, mut walked) = (0, 0, 0);
    let mut seed: u64 = 1127;
    for step in 0..6000 {
        advance(&mut seed);
        // Mostly the server's side (a) edits, as on a server pushing others' changes, and
        // messages flow more often than edits are made.
        match (seed >> 33) % 16 {
            0 => a.put(ROOT, format!("k{}", step % 5), step as i64).unwrap(),
            1 if (seed >> 45).is_multiple_of(6) => {
                b.put(ROOT, format!("k{}", step % 3), step as i64).unwrap()
            }
            1..=5 => {
                if let Some(m) = a.sync().generate_sync_message(&mut sa) {
                    to_b.push(m);
                }
            }
            6..=9 => {
                if let Some(m) = b.sync().generate_sync_message(&mut sb) {
                    to_a.push(m);
                }
            }
            10..=12 => {
                for m in to_b.drain(..) {
                    b.sync().receive_sync_message(&mut sb, m).unwrap();
                }
            }
            _ => {
                for m in to_a.drain(..) {
                    let mut expected_doc = a.fork();
                    let mut expected = sa.clone();
                    expected_doc
                        .sync()
                        .receive_sync_message(&mut expected, m.clone())
                        .unwrap();
                    if receive::needs_history_walk(&mut a, &sa, &m) {
                        walked += 1;
                    } else if m.changes.is_empty() {
                        quick += 1;
                    } else {
                        quick_with_changes += 1;
                    }
                    receive::receive_message(&mut a, &mut sa, m).unwrap();
                    assert_eq!(sa, expected, "step {step}");
                    assert_eq!(a.get_heads(), expected_doc.get_heads(), "step {step}");
                    // As the server does once a device has everything (`receive`).
                    if sa.their_heads.as_ref() == Some(&a.get_heads()) {
                        sa.sent_hashes.clear();
                    }
                }
            }
        }
    }
    // A change sent without the one before it waits in Automerge's queue: the device's head is
    // not known, and the shared heads are what the changes advanced them to.
    let mut c = a.fork();
    c.put(ROOT, "x", 1).unwrap();
    c.commit();
    c.put(ROOT, "x", 2).unwrap();
    c.commit();
    let second = c.get_last_local_change().unwrap().bytes().to_vec();
    let m = automerge::sync::Message {
        heads: c.get_heads(),
        need: Vec::new(),
        have: vec![automerge::sync::Have::default()],
        changes: automerge::sync::ChunkList::from(vec![second]),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    };
    sa.shared_heads = a.get_heads();
    sa.sent_hashes.clear();
    let mut expected_doc = a.fork();
    let mut expected = sa.clone();
    expected_doc
        .sync()
        .receive_sync_message(&mut expected, m.clone())
        .unwrap();
    assert!(!receive::needs_history_walk(&mut a, &sa, &m));
    receive::receive_message(&mut a, &mut sa, m).unwrap();
    assert_eq!(sa, expected);
    assert!(!sa.shared_heads.is_empty());
    assert!(
        quick > 50 && quick_with_changes > 20 && walked > 5,
        "every path ran: {quick} without changes and {quick_with_changes} with, without the \
         walk; {walked} with it"
    );
}

/// A hand-made change that creates a valid record but names another record's map among its
/// operation's predecessors: Automerge then removes that other record too. The gate judges what
/// the change did, not what it says it does, and refuses it; the other record stays.
#[test]
fn a_change_cannot_remove_another_record_through_its_predecessors() {
    use automerge::legacy::{Key, ObjectId, Op, OpId, OpType, SortedVec};
    use ibasho_shared::Record;
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let p = r.add_place(cafe("喫茶ランドリー")).unwrap();
    let doc_id = DocId::for_place(&p.id);
    let mut server = server_copy_of(&mut r, &doc_id);
    let before = server.get_heads();

    let op_id = |id: &automerge::ObjId| match id {
        automerge::ObjId::Id(counter, actor, _) => OpId(*counter, actor.clone()),
        automerge::ObjId::Root => panic!("not an object"),
    };
    let (_, places) = server.get(ROOT, "places").unwrap().unwrap();
    let (_, victim) = server.get(&places, p.id.as_str()).unwrap().unwrap();
    let actor = automerge::ActorId::random();
    let start = 1_000_000;
    let made = OpId(start, actor.clone());
    let mut operations = vec![Op {
        action: OpType::Make(automerge::ObjType::Map),
        obj: ObjectId::Id(op_id(&places)),
        key: Key::Map("zzzz".into()),
        pred: SortedVec::from(vec![op_id(&victim)]),
        insert: false,
    }];
    let valid = cafe("別の喫茶店");
    for (field, value) in valid.to_fields() {
        operations.push(Op {
            action: OpType::Put(value.to_scalar()),
            obj: ObjectId::Id(made.clone()),
            key: Key::Map(field.as_str().into()),
            pred: SortedVec::new(),
            insert: false,
        });
    }
    let change = automerge::Change::from(automerge::ExpandedChange {
        operations,
        actor_id: actor,
        hash: None,
        seq: 1,
        start_op: std::num::NonZeroU64::new(start).unwrap(),
        time: 0,
        message: None,
        deps: before.clone(),
        extra_bytes: Vec::new(),
        author: None,
    });
    // Taken in without the gate, the change removes the other record.
    let mut unguarded = server.fork();
    unguarded.load_incremental(change.raw_bytes()).unwrap();
    assert!(unguarded.get(&places, "zzzz").unwrap().is_some());
    assert!(unguarded.get(&places, p.id.as_str()).unwrap().is_none());
    refused(
        &mut server,
        &doc_id,
        &change,
        |f| matches!(f, Fault::Shape(words) if words.contains("records are kept in a map")),
    );
    assert!(server.get(&places, p.id.as_str()).unwrap().is_some());
}

/// A change chunk with `data` as its body, with the checksum Automerge verifies made right again.
fn rechunk(kind: u8, data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut body = vec![kind];
    leb128::write::unsigned(&mut body, data.len() as u64).unwrap();
    body.extend_from_slice(data);
    let checksum = sha2::Sha256::digest(&body);
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83];
    chunk.extend_from_slice(&checksum[..4]);
    chunk.extend_from_slice(&body);
    chunk
}

/// A worker's message carrying `change` as it is, taken in by the server's gate with a new state.
fn offer(
    server: &mut AutoCommit,
    doc_id: &DocId,
    change: &automerge::Change,
) -> Result<accept::Outcome, Rejection> {
    accept::receive(
        server,
        doc_id,
        &mut State::new(),
        &carrying(vec![change.raw_bytes().to_vec()]),
        Access::Write,
        &authoring(worker(), [change.raw_bytes()]),
    )
}

/// Offers `change` as a worker and expects it refused as invalid for the fault `expected` matches,
/// with the server's document as it was.
fn refused(
    server: &mut AutoCommit,
    doc_id: &DocId,
    change: &automerge::Change,
    expected: impl Fn(&Fault) -> bool,
) {
    let before = server.get_heads();
    let err = offer(server, doc_id, change).unwrap_err();
    assert_eq!(err.code, ErrorCode::Invalid, "{}", err.message);
    assert!(err.fault.as_deref().is_some_and(expected), "{err:?}");
    assert_eq!(server.get_heads(), before);
}

/// A message carrying `chunks` as they are.
fn carrying(chunks: Vec<Vec<u8>>) -> Vec<u8> {
    automerge::sync::Message {
        heads: Vec::new(),
        need: Vec::new(),
        have: vec![automerge::sync::Have::default()],
        changes: automerge::sync::ChunkList::from(chunks),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    }
    .encode()
}

/// Changes damaged in transit or made by a faulty client: thousands of real changes (an edit of
/// two fields, a new place) with a few bytes overwritten, inserted or removed and the checksum made
/// right again. Automerge skips the chunks it cannot read, panics on some changes (an actor it has
/// not met, an object that does not exist), takes in others that it then cannot save and load
/// (the same operations in other bytes), and takes in the rest as the valid changes they still
/// are. The gate refuses the panicking and the unsaveable ones, leaving the document exactly as it
/// was, and every document it keeps saves and loads again, from a snapshot and from the chunk as
/// sent.
#[test]
fn damaged_changes_are_refused_and_every_kept_document_loads_again() {
    /// Damaged copies of each change.
    const TRIES: usize = 3000;
    use std::collections::BTreeMap;
    let (_dir, mut r, id, doc_id) = one_cafe();
    let mut server = server_copy_of(&mut r, &doc_id);
    let original = server.save();

    let mut editor = server.fork();
    let mut creator = server.fork();
    let places = editor.get(ROOT, "places").unwrap().unwrap().1;
    let place = editor.get(&places, id.as_str()).unwrap().unwrap().1;
    editor
        .put(&place, "description", "週末は子ども食堂")
        .unwrap();
    editor.put(&place, "name", "喫茶ランドリー 二号店").unwrap();
    editor.commit();
    let fresh = cafe("本屋カフェ");
    let rec = creator
        .put_object(&places, fresh.id.as_str(), automerge::ObjType::Map)
        .unwrap();
    for (field, value) in ibasho_shared::Record::to_fields(&fresh) {
        creator
            .put(&rec, field.as_str(), value.to_scalar())
            .unwrap();
    }
    creator.commit();
    let changes = [
        editor.get_last_local_change().unwrap().raw_bytes().to_vec(),
        creator
            .get_last_local_change()
            .unwrap()
            .raw_bytes()
            .to_vec(),
    ];

    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut refusals: BTreeMap<String, usize> = BTreeMap::new();
    let mut kept = 0;
    let mut unchanged = 0;
    for change in &changes {
        // Magic (4 bytes), checksum (4), chunk type (1), body length, body.
        let kind = change[8];
        let mut rest = &change[9..];
        let len = leb128::read::unsigned(&mut rest).unwrap() as usize;
        let body = &rest[..len];
        for _ in 0..TRIES {
            let mut damaged = body.to_vec();
            advance(&mut seed);
            for _ in 0..1 + (seed >> 61) % 3 {
                advance(&mut seed);
                let at = (seed >> 20) as usize % damaged.len();
                let byte = (seed >> 52) as u8;
                match (seed >> 62) % 4 {
                    0 => damaged.insert(at, byte),
                    1 => {
                        damaged.remove(at);
                    }
                    _ => damaged[at] = byte,
                }
            }
            let message = carrying(vec![rechunk(kind, &damaged)]);
            let mut doc = server.clone();
            let mut state = State::new();
            match accept::receive(
                &mut doc,
                &doc_id,
                &mut state,
                &message,
                Access::Write,
                &author_of(worker(), &message),
            ) {
                Err(refusal) => {
                    assert_eq!(doc.save(), original, "refused: {}", refusal.message);
                    assert_eq!(state, State::new());
                    let why = refusal.message.split_once(": ").unwrap().1;
                    let why: String = why.chars().take(40).collect();
                    *refusals.entry(why).or_default() += 1;
                }
                Ok(outcome) if outcome.changed => {
                    kept += 1;
                    let mut loaded = AutoCommit::load(&doc.save()).unwrap();
                    assert_eq!(loaded.get_heads(), doc.get_heads());
                    let mut stored = AutoCommit::load(&original).unwrap();
                    stored.load_incremental(&outcome.chunks.unwrap()).unwrap();
                    assert_eq!(stored.get_heads(), doc.get_heads());
                }
                Ok(_) => {
                    unchanged += 1;
                    assert_eq!(doc.save(), original)
                }
            }
        }
    }
    // The tally, for `--nocapture`: how often each outcome came up.
    let count = |start: &str| -> usize {
        refusals
            .iter()
            .filter(|(why, _)| why.starts_with(start))
            .map(|(_, n)| n)
            .sum()
    };
    eprintln!(
        "of {} damaged changes: {} malformed (Automerge panicked), {} not encoded as Automerge \
         encodes them, {} other refusals, {} kept as valid changes, {} skipped by Automerge",
        changes.len() * TRIES,
        count("a change is malformed"),
        count("a change is not encoded as Automerge"),
        refusals.values().sum::<usize>()
            - count("a change is malformed")
            - count("a change is not encoded as Automerge"),
        kept,
        unchanged
    );
    let seen = |start: &str| refusals.keys().any(|why| why.starts_with(start));
    assert!(seen("a change is malformed"), "{refusals:?}");
    assert!(seen("a change is not encoded as Automerge"), "{refusals:?}");
    assert!(kept > 0, "some damage leaves a valid change: {refusals:?}");
    assert!(
        unchanged > 0,
        "Automerge skips chunks it cannot read: {refusals:?}"
    );
}

/// A change whose operations are numbered below those of the changes it depends on: Automerge takes
/// it in, but a document saved with it does not load. The gate refuses it.
#[test]
fn a_change_numbered_before_what_it_depends_on_is_refused() {
    let (_dir, mut r, id, doc_id) = one_cafe();
    let mut server = server_copy_of(&mut r, &doc_id);
    let mut device = server.fork();
    let place = place_in(&device, &id);
    device
        .put(&place, "description", "週末は子ども食堂")
        .unwrap();
    device.commit();
    let mut going_back = device.get_last_local_change().unwrap().decode();
    going_back.start_op = std::num::NonZeroU64::new(going_back.start_op.get() - 3).unwrap();
    going_back.hash = None;
    let going_back = automerge::Change::from(going_back);

    let mut unguarded = server.fork();
    unguarded.load_incremental(going_back.raw_bytes()).unwrap();
    assert!(AutoCommit::load(&unguarded.save()).is_err());

    refused(&mut server, &doc_id, &going_back, |f| {
        *f == Fault::Damaged(Damaged::NumberedBack)
    });
}

/// A device that edited offline on older heads sends its edits as a chain, each on the one before:
/// the first builds on a change of the device the server already has, not on the server's heads.
/// Every link is checked against the one before it, and the whole chain is kept.
#[test]
fn a_chain_of_offline_edits_on_older_heads_is_kept() {
    let (_dir, mut r, id, doc_id) = one_cafe();
    let mut server = server_copy_of(&mut r, &doc_id);
    let record = |d: &AutoCommit| place_in(d, &id);
    let mut device = server.fork();
    let rec = record(&device);
    device.put(&rec, "description", "一").unwrap();
    device.commit();
    push_raw(&mut server, &doc_id, &mut device, Access::Write, &worker()).unwrap();
    // Meanwhile someone else edits; the device does not hear of it.
    let mut other = server.fork();
    let rec = record(&other);
    other.put(&rec, "contact", "042-000-0000").unwrap();
    other.commit();
    push_raw(&mut server, &doc_id, &mut other, Access::Write, &worker()).unwrap();
    let mut offline = device.fork();
    offline.set_actor(device.get_actor().clone());
    let rec = record(&offline);
    for i in 0..50 {
        offline
            .put(&rec, "description", format!("{i} 回目"))
            .unwrap();
        offline.commit();
    }
    let changes = offline.get_changes(&device.get_heads());
    assert_eq!(changes.len(), 50);
    let outcome = accept::receive(
        &mut server,
        &doc_id,
        &mut State::new(),
        &carrying(changes.iter().map(|c| c.raw_bytes().to_vec()).collect()),
        Access::Write,
        &authoring(worker(), changes.iter().map(|c| c.raw_bytes())),
    )
    .unwrap();
    assert!(outcome.changed);
    let mut loaded = AutoCommit::load(&server.save()).unwrap();
    assert_eq!(loaded.get_heads(), server.get_heads());
    let rec = record(&loaded);
    assert_eq!(
        loaded
            .get(&rec, "description")
            .unwrap()
            .unwrap()
            .0
            .to_string(),
        "\"49 回目\""
    );
}

/// Two coordinators rename the same team at the same time: both renames are kept (one shows, the
/// other waits as a conflict), not refused on every sync. A team name that is a counter is
/// refused, also as the value that loses.
#[test]
fn concurrent_team_renames_are_kept_and_only_plain_names_are() {
    use ibasho_shared::doc::{Team, write_team, write_workspace};
    let coordinator = Sender {
        role: Role::Coordinator,
        device: "dev-coordinator".into(),
        actors: Vec::new(),
        closed: Default::default(),
        team: None,
    };
    let mut server = genesis(&DocId::Workspace, automerge::ActorId::random());
    write_workspace(&mut server, "ws-1", "座間市PF", 1).unwrap();
    write_team(
        &mut server,
        &Team {
            id: "t1".into(),
            name: "北チーム".into(),
        },
    )
    .unwrap();
    server.commit();
    let team = |d: &AutoCommit| {
        let teams = d.get(ROOT, "teams").unwrap().unwrap().1;
        d.get(&teams, "t1").unwrap().unwrap().1
    };
    let rename = |actor: u8, name: &str, server: &mut AutoCommit| {
        let mut device = server.fork();
        device.set_actor(automerge::ActorId::from(vec![actor; 16]));
        let t = team(&device);
        device.put(&t, "name", name).unwrap();
        device.commit();
        device
    };
    let mut first = rename(0xf0, "北部チーム", &mut server);
    let mut second = rename(0x01, "きたチーム", &mut server);
    let mut counter = server.fork();
    counter.set_actor(automerge::ActorId::from(vec![0x00; 16]));
    let t = team(&counter);
    counter
        .put(&t, "name", automerge::ScalarValue::counter(1))
        .unwrap();
    counter.commit();

    push_raw(
        &mut server,
        &DocId::Workspace,
        &mut first,
        Access::Write,
        &coordinator,
    )
    .unwrap();
    push_raw(
        &mut server,
        &DocId::Workspace,
        &mut second,
        Access::Write,
        &coordinator,
    )
    .unwrap();
    let t = team(&server);
    assert_eq!(server.get_all(&t, "name").unwrap().len(), 2);
    let before = server.get_heads();
    let err = push_raw(
        &mut server,
        &DocId::Workspace,
        &mut counter,
        Access::Write,
        &coordinator,
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::Invalid);
    assert!(
        err.message.contains("only the workspace's name and teams"),
        "{}",
        err.message
    );
    assert_eq!(server.get_heads(), before);
}

#[test]
fn resolving_a_conflict_is_accepted_whichever_value_is_chosen() {
    let (_dir, mut r, id, doc_id) = one_cafe();
    let mut server = server_copy_of(&mut r, &doc_id);
    // Two devices rename the café at the same time; the higher actor's value is shown.
    let renamed = |actor: u8, name: &str, server: &mut AutoCommit| {
        let mut device = server.fork();
        device.set_actor(automerge::ActorId::from(vec![actor; 16]));
        let rec = place_in(&device, &id);
        device.put(&rec, "name", name).unwrap();
        device.commit();
        device
    };
    let devices = [
        renamed(0xf0, "カフェ・ひだまり", &mut server),
        renamed(0x01, "ひだまりカフェ", &mut server),
    ];
    for mut device in devices {
        push_raw(&mut server, &doc_id, &mut device, Access::Write, &worker()).unwrap();
    }
    let rec = place_in(&server, &id);
    assert_eq!(server.get_all(&rec, "name").unwrap().len(), 2);
    let shown = server
        .get(&rec, "name")
        .unwrap()
        .unwrap()
        .0
        .as_str()
        .map(String::from);
    assert_eq!(shown.as_deref(), Some("カフェ・ひだまり"));

    for chosen in ["カフェ・ひだまり", "ひだまりカフェ"] {
        let mut server = server.fork();
        let mut device = server.fork();
        let rec = place_in(&device, &id);
        device.put(&rec, "name", chosen).unwrap();
        device.commit();
        // Choosing the value shown removes the other one: Automerge writes a removal.
        let removal = device
            .get_last_local_change()
            .unwrap()
            .decode()
            .operations
            .iter()
            .any(|op| matches!(op.action, automerge::legacy::OpType::Delete));
        assert_eq!(removal, chosen == "カフェ・ひだまり");
        push_raw(&mut server, &doc_id, &mut device, Access::Write, &worker())
            .unwrap_or_else(|e| panic!("choosing {chosen}: {}", e.message));
        let rec = place_in(&server, &id);
        let values: Vec<_> = server
            .get_all(&rec, "name")
            .unwrap()
            .into_iter()
            .map(|(v, _)| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(values, [chosen]);
        assert_eq!(server.get_heads(), device.get_heads());
    }

    // A removal that leaves the field empty is still refused.
    let mut device = server.fork();
    let rec = place_in(&device, &id);
    device.delete(&rec, "name").unwrap();
    device.commit();
    let before = server.get_heads();
    let err = push_raw(&mut server, &doc_id, &mut device, Access::Write, &worker()).unwrap_err();
    assert!(err.message.contains("cannot be removed"), "{}", err.message);
    assert_eq!(server.get_heads(), before);
}

/// A removal that resolves a conflict may remove only values of its own field: one whose
/// predecessors also name a losing value of another field (which Automerge would remove too,
/// showing in no patch) is refused, as the change is not what Automerge encodes for what it did.
#[test]
fn a_removal_cannot_reach_another_fields_values_through_its_predecessors() {
    use automerge::legacy::{OpId, OpType};
    let (_dir, mut r, id, doc_id) = one_cafe();
    let mut server = server_copy_of(&mut r, &doc_id);
    // Conflicts on two fields, set by two devices at the same time.
    let edited = |actor: u8, name: &str, hours: &str, server: &mut AutoCommit| {
        let mut device = server.fork();
        device.set_actor(automerge::ActorId::from(vec![actor; 16]));
        let rec = place_in(&device, &id);
        device.put(&rec, "name", name).unwrap();
        device.put(&rec, "hours", hours).unwrap();
        device.commit();
        device
    };
    let devices = [
        edited(0xf0, "カフェ・ひだまり", "Mo-Fr 10:00-16:00", &mut server),
        edited(0x01, "ひだまりカフェ", "Sa 10:00-14:00", &mut server),
    ];
    for mut device in devices {
        push_raw(&mut server, &doc_id, &mut device, Access::Write, &worker()).unwrap();
    }
    let rec = place_in(&server, &id);
    let loser = |field: &str| {
        let all = server.get_all(&rec, field).unwrap();
        assert_eq!(all.len(), 2);
        match &all[0].1 {
            automerge::ObjId::Id(counter, actor, _) => OpId(*counter, actor.clone()),
            automerge::ObjId::Root => unreachable!(),
        }
    };
    let hours_loser = loser("hours");

    // Resolving the name with the value shown, the removal also naming the losing hours.
    let mut device = server.fork();
    let rec = place_in(&device, &id);
    device.put(&rec, "name", "カフェ・ひだまり").unwrap();
    device.commit();
    let mut change = device.get_last_local_change().unwrap().decode();
    let removal = change
        .operations
        .iter_mut()
        .find(|op| matches!(op.action, OpType::Delete))
        .expect("a removal");
    let mut pred: Vec<OpId> = removal.pred.iter().cloned().collect();
    pred.push(hours_loser);
    pred.sort();
    removal.pred = automerge::legacy::SortedVec::from(pred);
    change.hash = None;
    let change = automerge::Change::from(change);

    // Taken in without the gate, it removes the losing hours too.
    let mut unguarded = server.fork();
    unguarded.load_incremental(change.raw_bytes()).unwrap();
    let unguarded_rec = place_in(&unguarded, &id);
    assert_eq!(unguarded.get_all(&unguarded_rec, "hours").unwrap().len(), 1);

    refused(&mut server, &doc_id, &change, |f| {
        *f == Fault::Damaged(Damaged::NotAsEncoded)
    });
    let rec = place_in(&server, &id);
    assert_eq!(server.get_all(&rec, "hours").unwrap().len(), 2);
}

/// A member who takes a worker's actor id and its next sequence number is refused: the server
/// does not have that change, and the actor is not the member's. The worker's own change under
/// that number is then taken as usual, so its sync goes on. A change of the worker's that the
/// server already has may still be relayed by anyone.
#[test]
fn a_change_under_another_devices_actor_is_refused_and_that_devices_sync_goes_on() {
    let (_dir, mut r, id, doc_id) = one_cafe();
    let mut server = server_copy_of(&mut r, &doc_id);
    let worker_actor = automerge::ActorId::random();
    let honest_worker = Sender {
        actors: vec![worker_actor.clone()],
        ..worker()
    };
    let hostile_member = Sender {
        actors: vec![automerge::ActorId::random()],
        ..member("dev-member")
    };
    // The worker's first edit reaches the server.
    let mut phone = server.fork();
    phone.set_actor(worker_actor.clone());
    phone
        .put(place_in(&phone, &id), "contact", "046-000-0001")
        .unwrap();
    phone.commit();
    let first = phone.get_last_local_change().unwrap().clone();
    accept::receive(
        &mut server,
        &doc_id,
        &mut State::new(),
        &carrying(vec![first.raw_bytes().to_vec()]),
        Access::Write,
        &honest_worker,
    )
    .unwrap();
    // The member forges the worker's next change.
    let mut forger = server.fork();
    forger.set_actor(worker_actor.clone());
    forger
        .put(place_in(&forger, &id), "contact", "偽の連絡先")
        .unwrap();
    forger.commit();
    let forged = forger.get_last_local_change().unwrap().clone();
    assert_eq!(forged.seq(), first.seq() + 1, "the worker's next number");
    let before = server.get_heads();
    let err = accept::receive(
        &mut server,
        &doc_id,
        &mut State::new(),
        &carrying(vec![forged.raw_bytes().to_vec()]),
        Access::Write,
        &hostile_member,
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{}", err.message);
    assert!(
        matches!(err.fault.as_deref(), Some(&Fault::NotOwnChange { .. })),
        "{}",
        err.message
    );
    assert_eq!(server.get_heads(), before, "nothing of it was kept");
    // The worker's own next change, under the same number, is taken.
    phone
        .put(place_in(&phone, &id), "contact", "046-000-0002")
        .unwrap();
    phone.commit();
    let second = phone.get_last_local_change().unwrap().clone();
    assert_eq!(second.seq(), forged.seq());
    let outcome = accept::receive(
        &mut server,
        &doc_id,
        &mut State::new(),
        &carrying(vec![second.raw_bytes().to_vec()]),
        Access::Write,
        &honest_worker,
    )
    .unwrap();
    assert!(outcome.changed);
    // Relaying what the server has is no new claim.
    let relayed = accept::receive(
        &mut server,
        &doc_id,
        &mut State::new(),
        &carrying(vec![first.raw_bytes().to_vec()]),
        Access::Write,
        &hostile_member,
    )
    .unwrap();
    assert!(!relayed.changed);
    let place =
        ibasho_shared::doc::read_record(&server, ibasho_shared::RecordKind::Place, &id).unwrap();
    assert_eq!(
        place.get("contact"),
        Some(&ibasho_shared::domain::FieldValue::Str(
            "046-000-0002".into()
        ))
    );
}

/// A change dated days ahead of the server's clock claims a time that has not come: refused,
/// naming the device's clock. One made now is taken.
#[test]
fn a_change_dated_in_the_future_is_refused() {
    let (_dir, mut r, id, doc_id) = one_cafe();
    let mut server = server_copy_of(&mut r, &doc_id);
    let mut device = server.fork();
    device
        .put(place_in(&device, &id), "contact", "046-000-0003")
        .unwrap();
    let in_two_days = chrono::Utc::now().timestamp() + 2 * 24 * 60 * 60;
    device.commit_with(automerge::transaction::CommitOptions::default().with_time(in_two_days));
    let change = device.get_last_local_change().unwrap().clone();
    refused(&mut server, &doc_id, &change, |f| {
        matches!(f, Fault::FutureTime { .. })
    });

    let mut device = server.fork();
    device
        .put(place_in(&device, &id), "contact", "046-000-0003")
        .unwrap();
    device.commit_with(
        automerge::transaction::CommitOptions::default().with_time(chrono::Utc::now().timestamp()),
    );
    let change = device.get_last_local_change().unwrap().clone();
    assert!(offer(&mut server, &doc_id, &change).unwrap().changed);
}

/// A record lives where its id says: a copy of an existing place written under its id into another
/// shard is refused (a coordinator's index would point at the copy), and so is a record whose id is
/// not one devices make (empty, long, or of another form).
#[test]
fn a_record_lives_where_its_id_says_and_ids_have_one_form() {
    use ibasho_shared::doc::write_fields;
    use ibasho_shared::{Place, Record, RecordKind};
    let (_dir, r, id, doc_id) = one_cafe();
    let elsewhere = DocId::Places(match doc_id {
        DocId::Places(n) => (n + 1) % ibasho_shared::doc::PLACE_SHARDS,
        _ => unreachable!(),
    });
    let mut copy = Place::new("喫茶ランドリー（偽）", "cafe", 35.5, 139.4);
    copy.id = id.clone();
    let mut server = genesis(&elsewhere, automerge::ActorId::random());
    let mut device = server.fork();
    write_fields(&mut device, RecordKind::Place, &id, &copy.to_fields()).unwrap();
    device.commit();
    let change = device.get_last_local_change().unwrap().clone();
    refused(&mut server, &elsewhere, &change, |f| {
        matches!(f, Fault::Misplaced { home, doc, .. }
            if *home == doc_id.to_string() && *doc == elsewhere.to_string())
    });

    for bad in [
        "",
        "x1",
        &"a".repeat(33),
        &id.to_uppercase(),
        "../places/00",
    ] {
        let mut device = server.fork();
        write_fields(&mut device, RecordKind::Place, bad, &copy.to_fields()).unwrap();
        device.commit();
        let change = device.get_last_local_change().unwrap().clone();
        let before = server.get_heads();
        let err = offer(&mut server, &elsewhere, &change).unwrap_err();
        assert_eq!(err.code, ErrorCode::Invalid, "{bad:?}: {}", err.message);
        assert!(
            matches!(err.fault.as_deref(), Some(Fault::Record { error, .. }) if error.field == "id"),
            "{bad:?}: {}",
            err.message
        );
        assert_eq!(server.get_heads(), before);
    }
    // Under its own id in its own shard, the same fields are taken.
    let fresh = Place::new("喫茶ランドリー二号店", "cafe", 35.5, 139.4);
    let home = DocId::for_place(&fresh.id);
    let mut server = genesis(&home, automerge::ActorId::random());
    let mut device = server.fork();
    write_fields(
        &mut device,
        RecordKind::Place,
        &fresh.id,
        &fresh.to_fields(),
    )
    .unwrap();
    device.commit();
    let change = device.get_last_local_change().unwrap().clone();
    assert!(offer(&mut server, &home, &change).unwrap().changed);
    drop(r);
}

/// Text is text: an ANSI escape, a bidi override or a line break in a one-line field is refused in
/// any field, also in those the app fills in itself; a line break in a long text is kept.
#[test]
fn control_characters_are_refused_in_every_field() {
    let (_dir, mut r, id, doc_id) = one_cafe();
    let mut server = server_copy_of(&mut r, &doc_id);
    for (field, value) in [
        ("description", "\u{1b}[2J\u{1b}[31m消えた画面"),
        ("name", "喫茶\u{202e}ーリドンラ"),
        ("name", "喫茶\nランドリー"),
        ("contact", "046\u{7}"),
        ("added_by", "\u{1b}]0;title\u{7}"),
        ("description", "\u{9b}31m"),
    ] {
        let mut device = server.fork();
        device.put(place_in(&device, &id), field, value).unwrap();
        device.commit();
        let change = device.get_last_local_change().unwrap().clone();
        let before = server.get_heads();
        let err = offer(&mut server, &doc_id, &change).unwrap_err();
        assert_eq!(err.code, ErrorCode::Invalid, "{field}: {}", err.message);
        assert!(
            matches!(err.fault.as_deref(), Some(Fault::Record { error, .. })
                if error.field == field
                    && matches!(error.reason, ibasho_shared::validate::Reason::ControlCharacter(_))),
            "{field}: {}",
            err.message
        );
        assert_eq!(server.get_heads(), before);
    }
    let mut device = server.fork();
    device
        .put(
            place_in(&device, &id),
            "description",
            "月曜は休み\n\t火曜から営業",
        )
        .unwrap();
    device.commit();
    let change = device.get_last_local_change().unwrap().clone();
    assert!(offer(&mut server, &doc_id, &change).unwrap().changed);
}

/// One message may create only so many records and hold only so many operations, by role: 40,000
/// places from a member stalled the server and grew every coordinator's replica. Beyond the bound
/// the refusal names it and nothing is kept; the same change from a coordinator is taken.
#[test]
fn a_message_creating_more_records_than_the_role_may_is_refused() {
    use ibasho_shared::doc::write_fields;
    use ibasho_shared::{Place, Record, RecordKind};
    let doc_id = DocId::Places(3);
    let mut server = genesis(&doc_id, automerge::ActorId::random());
    let mut device = server.fork();
    let limit = accept::max_new_records(Role::Member);
    let mut made = 0;
    while made <= limit {
        let place = Place::new(&format!("居場所{made}"), "cafe", 35.45, 139.39);
        if DocId::for_place(&place.id) == doc_id {
            write_fields(
                &mut device,
                RecordKind::Place,
                &place.id,
                &place.to_fields(),
            )
            .unwrap();
            made += 1;
        }
    }
    device.commit();
    let change = device.get_last_local_change().unwrap().clone();
    let message = carrying(vec![change.raw_bytes().to_vec()]);
    let before = server.get_heads();
    let err = accept::receive(
        &mut server,
        &doc_id,
        &mut State::new(),
        &message,
        Access::Write,
        &authoring(member("dev-member"), [change.raw_bytes()]),
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::TooLarge, "{}", err.message);
    assert!(
        matches!(err.fault.as_deref(), Some(&Fault::TooMuch { limit: l, .. }) if l == limit),
        "{}",
        err.message
    );
    assert_eq!(server.get_heads(), before, "nothing was kept");
    let coordinator = Sender {
        role: Role::Coordinator,
        ..authoring(member("dev-coordinator"), [change.raw_bytes()])
    };
    let outcome = accept::receive(
        &mut server,
        &doc_id,
        &mut State::new(),
        &message,
        Access::Write,
        &coordinator,
    )
    .unwrap();
    assert!(outcome.changed);
}

/// The gate holds each side of a referral to its own part, whatever the device claims: the
/// receiving team may not change what the referral says nor withdraw it, the sending team may not
/// answer it, and a third team may do neither; each side's own step is accepted.
#[test]
fn each_side_of_a_referral_changes_only_its_own_part() {
    use ibasho_shared::doc::write_fields;
    use ibasho_shared::{Record, RecordKind, Referral};
    let referral = Referral {
        to_team: Some("team-b".into()),
        ..Referral::new("team-a", "ひきこもり", now_jst())
    }
    .normalized(now_jst())
    .unwrap();
    let doc_id = referral.home();
    let mut server = genesis(&doc_id, automerge::ActorId::random());
    write_fields(
        &mut server,
        RecordKind::Referral,
        &referral.id,
        &referral.to_fields(),
    )
    .unwrap();
    server.commit();
    let of = |team: &str| Sender {
        team: Some(team.into()),
        ..worker()
    };
    let change = |server: &mut AutoCommit, fields: &[(&str, &str)]| {
        let mut device = server.fork();
        let record = device
            .get(
                device.get(ROOT, "referrals").unwrap().unwrap().1,
                referral.id.as_str(),
            )
            .unwrap()
            .unwrap()
            .1;
        for (field, value) in fields {
            device.put(&record, *field, *value).unwrap();
        }
        device.commit();
        device.get_last_local_change().unwrap().clone()
    };
    let offer_as = |server: &mut AutoCommit, team: &str, change: &automerge::Change| {
        accept::receive(
            server,
            &doc_id,
            &mut State::new(),
            &carrying(vec![change.raw_bytes().to_vec()]),
            Access::Write,
            &authoring(of(team), [change.raw_bytes()]),
        )
    };
    for (team, fields) in [
        ("team-b", &[("reason", "poverty")][..]),
        (
            "team-b",
            &[("status", "withdrawn"), ("status_reason", "other")][..],
        ),
        ("team-a", &[("status", "accepted")][..]),
        ("team-c", &[("status", "accepted")][..]),
    ] {
        let before = server.get_heads();
        let made = change(&mut server, fields);
        let err = offer_as(&mut server, team, &made).unwrap_err();
        assert_eq!(
            err.code,
            ErrorCode::Forbidden,
            "{team} {fields:?}: {}",
            err.message
        );
        assert!(
            matches!(err.fault.as_deref(), Some(Fault::NotYours { .. })),
            "{err:?}"
        );
        assert_eq!(server.get_heads(), before, "nothing was kept");
    }
    let accepted = change(&mut server, &[("status", "accepted")]);
    assert!(offer_as(&mut server, "team-b", &accepted).unwrap().changed);
    let reworded = change(&mut server, &[("summary", "追記")]);
    assert!(offer_as(&mut server, "team-a", &reworded).unwrap().changed);
}

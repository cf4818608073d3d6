//! Taking in a device's acknowledgement of a push, as the server does for every device holding a
//! document after every change: Automerge's own `receive_sync_message` against
//! `sync::receive::receive_message`, on documents with a growing history.
//!
//! Run: `cargo bench -p ibasho-shared --bench sync_receive -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use automerge::sync::{Message, State, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ibasho_shared::sync::receive::receive_message;

/// A server document with `changes` changes, a device in step with it, one more change pushed
/// to the device; returns the server's document, its sync state before the device's
/// acknowledgement, and that acknowledgement.
fn acknowledged_push(changes: usize) -> (AutoCommit, State, Message) {
    let mut server = AutoCommit::new();
    for i in 0..changes {
        server.put(ROOT, format!("k{}", i % 50), i as i64).unwrap();
        server.commit();
    }
    // The device starts with the same history, so getting in step takes a few messages.
    let mut device = server.fork();
    let (mut on_server, mut on_device) = (State::new(), State::new());
    loop {
        let to_device = send(&mut server, &mut on_server, &mut device, &mut on_device);
        let to_server = send(&mut device, &mut on_device, &mut server, &mut on_server);
        if !to_device && !to_server {
            break;
        }
    }
    server.put(ROOT, "new", 1).unwrap();
    server.commit();
    let push = server.sync().generate_sync_message(&mut on_server).unwrap();
    device
        .sync()
        .receive_sync_message(&mut on_device, push)
        .unwrap();
    let ack = device.sync().generate_sync_message(&mut on_device).unwrap();
    assert!(ack.changes.is_empty() && ack.heads == server.get_heads());
    (server, on_server, ack)
}

/// One sync message from `from` to `to`, if `from` has one; whether it had.
fn send(
    from: &mut AutoCommit,
    from_state: &mut State,
    to: &mut AutoCommit,
    to_state: &mut State,
) -> bool {
    let Some(m) = from.sync().generate_sync_message(from_state) else {
        return false;
    };
    to.sync().receive_sync_message(to_state, m).unwrap();
    true
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("take in an acknowledgement");
    for changes in [100, 1_000, 10_000] {
        let (mut doc, state, ack) = acknowledged_push(changes);
        group.bench_with_input(
            BenchmarkId::new("automerge receive_sync_message", changes),
            &changes,
            |b, _| {
                b.iter(|| {
                    let mut s = state.clone();
                    doc.sync()
                        .receive_sync_message(&mut s, ack.clone())
                        .unwrap();
                    black_box(s)
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("sync::receive::receive_message", changes),
            &changes,
            |b, _| {
                b.iter(|| {
                    let mut s = state.clone();
                    receive_message(&mut doc, &mut s, ack.clone()).unwrap();
                    black_box(s)
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Pushes built from a change as its sender encoded it (`sync::push`) are exactly Automerge's.

use automerge::sync::{Message, State, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use ibasho_shared::sync::{push, receive};

/// The next number of a seeded sequence (a linear congruential generator).
fn advance(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

/// A server and its peers: one document each, and the sync states on both ends.
struct World {
    server: AutoCommit,
    devices: Vec<AutoCommit>,
    server_states: Vec<State>,
    device_states: Vec<State>,
    accepted: Option<push::Accepted>,
    built_here: usize,
    built_here_with_change: usize,
    by_automerge: usize,
}

impl World {
    /// The server's next message to device `d`, checked against Automerge's, message and state.
    fn server_message(&mut self, d: usize, step: usize) -> Option<Message> {
        let state = &mut self.server_states[d];
        let mut expected_state = state.clone();
        let expected = self
            .server
            .sync()
            .generate_sync_message(&mut expected_state);
        let here = self
            .accepted
            .as_ref()
            .is_some_and(|a| a.in_step_before(&mut self.server, state));
        let actual = push::generate(&mut self.server, state, self.accepted.as_ref());
        assert_eq!(
            actual.clone().map(Message::encode),
            expected.map(Message::encode),
            "step {step}: device {d}"
        );
        assert_eq!(*state, expected_state, "step {step}: device {d}");
        if here {
            self.built_here += 1;
            self.built_here_with_change +=
                usize::from(actual.as_ref().is_some_and(|m| !m.changes.is_empty()));
        } else {
            self.by_automerge += 1;
        }
        actual
    }

    /// Device `d` and the server answer each other until neither has more to say.
    fn exchange(&mut self, d: usize, step: &mut usize) {
        for _ in 0..8 {
            *step += 1;
            let said = self.device_message(d);
            let reply = self.server_message(d, *step);
            let replied = reply.is_some();
            if let Some(m) = reply {
                self.devices[d]
                    .sync()
                    .receive_sync_message(&mut self.device_states[d], m)
                    .unwrap();
            }
            if !said && !replied {
                break;
            }
        }
    }

    /// Device `d`'s next message, taken in by the server as it does (nothing of a read-only
    /// device's changes is kept there; see `accept::receive`).
    fn device_message(&mut self, d: usize) -> bool {
        let Some(m) = self.devices[d]
            .sync()
            .generate_sync_message(&mut self.device_states[d])
        else {
            return false;
        };
        let state = &mut self.server_states[d];
        if state.read_only && !m.changes.is_empty() {
            return false;
        }
        let before = self.server.get_heads();
        let chunks: Vec<u8> = m.changes.iter().flatten().copied().collect();
        receive::receive_message(&mut self.server, state, m).unwrap();
        if state.their_heads.as_ref() == Some(&self.server.get_heads()) {
            state.sent_hashes.clear();
        }
        if self.server.get_heads() != before {
            self.accepted = push::Accepted::new(&mut self.server, before, chunks);
        }
        true
    }
}

/// Rounds as a server sees them: a device edits (one change, sometimes two, sometimes while
/// another device edits too) and syncs, and the server pushes to the others, who acknowledge.
/// Now and then a push or an acknowledgement is lost, or a device speaks only the first message
/// version, as older peers do; one device may only read. Every message the server builds is
/// compared with Automerge's `generate_sync_message`, byte for byte, and so is the state left.
#[test]
fn pushes_are_the_messages_automerge_builds() {
    let mut server = AutoCommit::new();
    server.put(ROOT, "genesis", 0).unwrap();
    server.commit();
    let devices: Vec<AutoCommit> = (0..4).map(|_| server.fork()).collect();
    let mut world = World {
        server,
        devices,
        server_states: (0..4).map(|_| State::new()).collect(),
        device_states: (0..4).map(|_| State::new()).collect(),
        accepted: None,
        built_here: 0,
        built_here_with_change: 0,
        by_automerge: 0,
    };
    // Device 2 may only read: the server tells it so with each message.
    world.server_states[2].set_read_only(true);
    let mut seed: u64 = 77;
    let mut step = 0;
    let mut waiting: Vec<Vec<Message>> = vec![Vec::new(); 4];
    for round in 0..600 {
        // Device 2 only reads.
        let sender = [0, 1, 3][(advance(&mut seed) % 3) as usize];
        let edits = 1 + usize::from(advance(&mut seed).is_multiple_of(5));
        for i in 0..edits {
            world.devices[sender]
                .put(ROOT, format!("k{}", (round + i) % 7), round as i64)
                .unwrap();
            world.devices[sender].commit();
        }
        if advance(&mut seed).is_multiple_of(15) {
            let other = if sender == 0 { 1 } else { 0 };
            world.devices[other]
                .put(ROOT, "other", round as i64)
                .unwrap();
            world.devices[other].commit();
        }
        // The sender and the server until neither has more to say.
        world.exchange(sender, &mut step);
        // Pushes to the others, and their answers; now and then a device takes a push in late
        // (nothing is lost, as over one websocket).
        for d in (0..4).filter(|d| *d != sender) {
            step += 1;
            if advance(&mut seed).is_multiple_of(6) {
                world.server_states[d].their_capabilities = None;
            }
            if let Some(m) = world.server_message(d, step) {
                waiting[d].push(m);
            }
            if !advance(&mut seed).is_multiple_of(10) {
                for m in waiting[d].drain(..) {
                    world.devices[d]
                        .sync()
                        .receive_sync_message(&mut world.device_states[d], m)
                        .unwrap();
                }
                world.exchange(d, &mut step);
            }
        }
    }
    assert!(
        world.built_here_with_change > 500 && world.by_automerge > 500,
        "every path ran: {} messages built here, {} with a change; {} by Automerge",
        world.built_here,
        world.built_here_with_change,
        world.by_automerge
    );
}

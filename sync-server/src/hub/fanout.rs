//! The connected devices: who they are, their sync states, and the news of changed documents sent
//! to those that may read them.

use super::*;

/// What the hub tells a connection.
#[derive(Debug)]
pub enum PeerEvent {
    /// These documents have new changes the device may not have.
    Changed(Vec<DocId>),
    /// This document started a new epoch (an erasure): the device must connect again.
    NewEpoch(DocId),
}

pub(super) struct Peer {
    pub(super) workspace: String,
    pub(super) device: String,
    pub(super) policy: AccessPolicy,
    pub(super) tx: mpsc::UnboundedSender<PeerEvent>,
    /// [`Inner::store_version`] when it connected: what another process stored before, its
    /// manifest already shows.
    pub(super) since: u64,
}

/// A connection's side of the sync: who it is and its sync state per document.
#[derive(Debug)]
pub struct Session {
    /// The device.
    pub device: Device,
    /// Its access rules.
    pub policy: AccessPolicy,
    /// Connection id in the hub.
    pub id: u64,
    pub(super) states: HashMap<DocId, State>,
    /// Documents pushed to the device before it said anything about them in this session. Until
    /// it answers, later changes are not pushed again: its answer brings them all, and a device
    /// that does not hold the document is not sent every change of it.
    pub(super) notified: HashSet<DocId>,
    /// Sync states changed since they were last saved ([`Hub::save_states`]).
    pub(super) unsaved: HashSet<DocId>,
    /// [`Inner::store_version`] at the last revocation check.
    pub(super) checked_version: u64,
}

impl Session {
    pub(super) fn sender(&self) -> Sender {
        Sender {
            role: self.device.role,
            device: self.device.id.clone(),
            actors: self.device.actors.clone(),
            closed: Default::default(),
            team: self.device.team.clone(),
        }
    }
}

impl Hub {
    /// Registers a connected device; its events arrive on the returned receiver.
    pub fn connect(&self, device: Device) -> (Session, mpsc::UnboundedReceiver<PeerEvent>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let policy = AccessPolicy {
            role: device.role,
            team: device.team.clone(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let mut inner = self.lock();
        let since = inner.observe_external_writes(true);
        inner.peers.insert(
            id,
            Peer {
                workspace: device.workspace.clone(),
                device: device.id.clone(),
                policy: policy.clone(),
                tx,
                since,
            },
        );
        drop(inner);
        self.metrics.connections.fetch_add(1, Ordering::Relaxed);
        (
            Session {
                device,
                policy,
                id,
                states: HashMap::default(),
                notified: HashSet::default(),
                unsaved: HashSet::default(),
                checked_version: 0,
            },
            rx,
        )
    }

    /// How many connections the device holds now.
    pub fn connections_of(&self, device: &str) -> usize {
        self.lock()
            .peers
            .values()
            .filter(|p| p.device == device)
            .count()
    }

    /// Unregisters a connection, saving its sync states.
    pub fn disconnect(&self, session: &mut Session) {
        self.save_states(session);
        self.lock().peers.remove(&session.id);
        self.metrics.connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// Saves the sync states changed since the last save, in one transaction. They only spare
    /// a reconnecting device a longer exchange, so they are saved now and then (and when the
    /// device leaves), not with every frame; one lost in a crash costs bytes, never changes.
    pub fn save_states(&self, session: &mut Session) {
        if session.unsaved.is_empty() {
            return;
        }
        let states: Vec<(String, Vec<u8>)> = session
            .unsaved
            .drain()
            .filter_map(|doc_id| {
                let state = session.states.get(&doc_id)?;
                let key = store::doc_key(&session.device.workspace, &doc_id.to_string());
                Some((key, state.encode()))
            })
            .collect();
        if let Err(e) = store::save_sync_states(&self.lock().conn, &session.device.id, &states) {
            tracing::warn!(error = %e, "saving sync states failed");
        }
    }
}

pub(super) fn load_state<'a>(
    conn: &Connection,
    states: &'a mut HashMap<DocId, State>,
    device: &Device,
    doc_id: &DocId,
) -> &'a mut State {
    // Looked up before inserting: most calls find the state, and need no copy of the id.
    if !states.contains_key(doc_id) {
        let key = store::doc_key(&device.workspace, &doc_id.to_string());
        let state = store::sync_state(conn, &device.id, &key)
            .ok()
            .flatten()
            .and_then(|b| State::decode(&b).ok())
            .unwrap_or_default();
        states.insert(doc_id.clone(), state);
    }
    states.get_mut(doc_id).expect("inserted above")
}

impl Inner {
    /// After `erasure` rewrote its document in the store: what memory holds of it goes, and the
    /// devices connect again.
    pub(super) fn took_new_epoch(
        &mut self,
        ws: &str,
        erasure: &ibasho_shared::doc::epoch::Erasure,
    ) {
        if let Ok(doc_id) = erasure.doc.parse::<DocId>() {
            self.docs.remove(&store::doc_key(ws, &erasure.doc));
            self.announce_epoch(ws, &doc_id, u64::MAX);
        }
    }

    /// Tells the connected devices of `ws` that `doc` started a new epoch, those that connected
    /// before [`Inner::store_version`] reached `version` (the others' manifest showed it): they
    /// connect again.
    pub(super) fn announce_epoch(&self, ws: &str, doc: &DocId, version: u64) {
        for peer in self
            .peers
            .values()
            .filter(|p| p.workspace == ws && p.since < version)
        {
            let _ = peer.tx.send(PeerEvent::NewEpoch(doc.clone()));
        }
    }

    /// Tells the connected devices of `ws` (but connection `except`) that `changed` documents have
    /// new changes, each device only of those it may read.
    pub(super) fn announce(&self, ws: &str, except: Option<u64>, changed: &[DocId]) {
        if changed.is_empty() {
            return;
        }
        for (id, peer) in &self.peers {
            if Some(*id) == except || peer.workspace != ws {
                continue;
            }
            let readable: Vec<DocId> = changed
                .iter()
                .filter(|d| peer.policy.access(d) != Access::None)
                .cloned()
                .collect();
            if !readable.is_empty() {
                let _ = peer.tx.send(PeerEvent::Changed(readable));
            }
        }
    }

    /// After a document's changes were not kept (refused after the gate, or not stored): it is
    /// read again from the store, and the device's sync state for it starts over, since what it
    /// says the device and the server share is no longer true; the device then sends again
    /// whatever the server lacks.
    pub(super) fn start_over(&mut self, session: &mut Session, ws: &str, doc_id: &DocId) {
        self.docs.remove(&store::doc_key(ws, &doc_id.to_string()));
        session.states.insert(doc_id.clone(), State::new());
        session.unsaved.insert(doc_id.clone());
    }
}

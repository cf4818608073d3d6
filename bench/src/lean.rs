//! A lean simulated device for the load benchmark: ibasho's own wire protocol (websocket frames
//! carrying Automerge sync messages, as `ibasho_app::sync` speaks it) with only the documents the
//! device writes held in memory — no SQLite replica, no index. It answers every sync message for
//! those documents at once and ignores pushes for the others, so a hundred of them on two cores
//! load the server rather than themselves.

use anyhow::{Context, Result, bail};
use automerge::AutoCommit;
use automerge::sync::{Message, State, SyncDoc};
use automerge::transaction::CommitOptions;
use ibasho_app::sync::transport::Connection;
use ibasho_shared::doc::{self, ChangeNote, DocId};
use ibasho_shared::domain::{FieldMap, FieldValue};
use ibasho_shared::sync::receive::receive_message;
use ibasho_shared::sync::{DocMessage, Frame};
use ibasho_shared::{Record, RecordKind, ServerBinding, Visit};
use std::collections::HashMap;
use std::time::Duration;

/// One held document and its sync state with the server.
struct Held {
    id: DocId,
    doc: AutoCommit,
    state: State,
}

/// A device holding a few documents in memory, connected to the server.
pub struct LeanDevice {
    conn: Connection,
    docs: HashMap<String, Held>,
    person: String,
    /// Refusals the server sent (should stay 0).
    pub refused: usize,
}

impl LeanDevice {
    /// Connects with a joined device's binding and syncs `docs` until they hold what the server has.
    /// Its changes are by `actor`, the one its replica joined with (the server takes no other's).
    pub async fn connect(
        binding: &ServerBinding,
        actor: automerge::ActorId,
        person: &str,
        docs: &[DocId],
    ) -> Result<Self> {
        let mut conn = Connection::open(&binding.url, "/sync", Some(&binding.token)).await?;
        match conn.recv(Duration::from_secs(30)).await? {
            Frame::Welcome { .. } => {}
            other => bail!("unexpected first frame: {other:?}"),
        }
        let docs = docs
            .iter()
            .map(|id| {
                let held = Held {
                    id: id.clone(),
                    doc: doc::genesis(id, actor.clone()),
                    state: State::new(),
                };
                (id.to_string(), held)
            })
            .collect();
        let mut device = LeanDevice {
            conn,
            docs,
            person: person.to_string(),
            refused: 0,
        };
        let keys: Vec<String> = device.docs.keys().cloned().collect();
        device.send_messages(&keys, false).await?;
        // Until every held document has the server's heads.
        while !device.synced() {
            let frame = device
                .conn
                .recv(Duration::from_secs(30))
                .await
                .context("initial sync")?;
            device.take(frame).await?;
        }
        Ok(device)
    }

    fn synced(&mut self) -> bool {
        self.docs.values_mut().all(|h| {
            let theirs = h.state.their_heads.clone();
            theirs
                .is_some_and(|theirs| theirs.iter().all(|c| h.doc.get_change_by_hash(c).is_some()))
        })
    }

    /// Ids of the records of `kind` in a held document.
    pub fn record_ids(&self, doc_id: &DocId, kind: RecordKind) -> Vec<String> {
        self.docs
            .get(&doc_id.to_string())
            .map(|h| doc::record_ids(&h.doc, kind))
            .unwrap_or_default()
    }

    /// Adds a visit to its (held) team-month document and sends it.
    pub async fn add_visit(&mut self, visit: &Visit) -> Result<()> {
        let doc_id = DocId::Visits {
            team: visit.team.clone(),
            month: visit.month(),
        };
        self.write(
            &doc_id,
            RecordKind::Visit,
            &visit.id,
            visit.to_fields(),
            true,
        )
        .await
    }

    /// Sets a place's description in a held place document and sends it.
    pub async fn set_place_description(
        &mut self,
        doc_id: &DocId,
        id: &str,
        text: &str,
    ) -> Result<()> {
        let fields = FieldMap::from([("description".to_string(), FieldValue::Str(text.into()))]);
        self.write(doc_id, RecordKind::Place, id, fields, false)
            .await
    }

    async fn write(
        &mut self,
        doc_id: &DocId,
        kind: RecordKind,
        id: &str,
        fields: FieldMap,
        created: bool,
    ) -> Result<()> {
        let key = doc_id.to_string();
        let held = self
            .docs
            .get_mut(&key)
            .with_context(|| format!("{key} is not held by this device"))?;
        doc::write_fields(&mut held.doc, kind, id, &fields)?;
        let mut note = ChangeNote::by(&self.person);
        let touched = if created {
            vec!["*".to_string()]
        } else {
            fields.keys().cloned().collect()
        };
        note.touch(id, touched);
        held.doc.commit_with(
            CommitOptions::default()
                .with_message(note.to_message())
                .with_time(chrono::Utc::now().timestamp()),
        );
        self.send_messages(&[key], false).await
    }

    /// Sends whatever Automerge has to say for these held documents, in one frame: an `Answer`
    /// when it answers the server, a `Sync` (which the server always replies to) otherwise.
    async fn send_messages(&mut self, keys: &[String], answer: bool) -> Result<()> {
        let mut out = Vec::new();
        for key in keys {
            let Some(held) = self.docs.get_mut(key) else {
                continue;
            };
            if let Some(m) = held.doc.sync().generate_sync_message(&mut held.state) {
                out.push(DocMessage {
                    doc: key.clone(),
                    message: m.encode(),
                });
            }
        }
        if !out.is_empty() {
            self.conn.send(&Frame::from_device(out, answer)).await?;
        }
        Ok(())
    }

    /// Closes the connection politely.
    pub async fn close(self) {
        self.conn.close().await;
    }

    /// The next frame from the server (`None` once it closed the connection).
    pub async fn recv_frame(&mut self) -> Result<Option<Frame>> {
        self.conn.recv_any().await
    }

    /// Takes in a frame: held documents receive their messages and answer at once; messages for
    /// documents not held are ignored. Returns the held documents that changed.
    pub async fn take(&mut self, frame: Frame) -> Result<Vec<DocId>> {
        let docs = match frame {
            Frame::Sync { docs } | Frame::SyncReply { docs } => docs,
            Frame::Error { message, .. } => {
                self.refused += 1;
                eprintln!("lean device: the server refused: {message}");
                return Ok(Vec::new());
            }
            other => bail!("unexpected frame: {other:?}"),
        };
        let mut answer = Vec::new();
        let mut changed = Vec::new();
        for DocMessage { doc, message } in docs {
            let Some(held) = self.docs.get_mut(&doc) else {
                continue;
            };
            let before = held.doc.get_heads();
            receive_message(&mut held.doc, &mut held.state, Message::decode(&message)?)?;
            if held.doc.get_heads() != before {
                changed.push(held.id.clone());
            }
            answer.push(doc);
        }
        self.send_messages(&answer, true).await?;
        Ok(changed)
    }
}

//! The sync protocol, sans-IO: frames, access rules, and the server's gate for incoming changes.
//! Both ends run Automerge's own sync messages (`generate_sync_message` / `receive_sync_message`)
//! per document, many documents batched in one frame; neither end here touches a socket.
//!
//! A session, as the client and server run it over a websocket:
//! 1. The server authenticates the device and sends [`Frame::Welcome`] with a manifest: every
//!    document the device may read, with its heads.
//! 2. The client sends [`Frame::Sync`] for every document whose heads differ (and its own new
//!    documents it may write); the server answers each `Sync` with one [`Frame::SyncReply`].
//! 3. Both loop until neither has a message to send. While connected, the server pushes new changes
//!    of other devices as unsolicited [`Frame::Sync`] frames; the device acknowledges them with
//!    [`Frame::Answer`], which the server replies to only when it has something to say.
//!
//! ```
//! use ibasho_shared::sync::{AccessPolicy, Role, Sender, accept};
//! use ibasho_shared::{DocId, Place, Replica};
//! use automerge::sync::{State, SyncDoc};
//!
//! // A server-side copy of a places shard, and a device with a new place in it.
//! let dir = tempfile::tempdir().unwrap();
//! let mut device = Replica::open(&dir.path().join("r.sqlite3")).unwrap();
//! device.init("座間市 孤独・孤立官民連携PF", "佐藤").unwrap();
//! let place = device.add_place(Place::new("喫茶ランドリー", "laundry_cafe", 35.4889, 139.4075)).unwrap();
//! let doc_id = DocId::for_place(&place.id);
//! let mut server_doc = ibasho_shared::doc::genesis(&doc_id, automerge::ActorId::random());
//! // The server bound the device's actor to it when it joined.
//! let actors = vec![automerge::ActorId::from(hex::decode(device.device_id()).unwrap())];
//! let (mut server_state, sender) = (State::new(), Sender { role: Role::Worker, device: "d1".into(), actors, closed: Default::default(), team: None });
//! let policy = AccessPolicy { role: Role::Worker, team: None };
//!
//! // Messages flow until neither side has anything to say.
//! let mut to_server = device.sync_message(&doc_id).unwrap();
//! while let Some(message) = to_server {
//!     accept::receive(&mut server_doc, &doc_id, &mut server_state, &message, policy.access(&doc_id), &sender).unwrap();
//!     let reply = server_doc.sync().generate_sync_message(&mut server_state).map(|m| m.encode());
//!     if let Some(reply) = &reply { device.receive_sync_message(&doc_id, reply).unwrap(); }
//!     to_server = device.sync_message(&doc_id).unwrap();
//!     if reply.is_none() && to_server.is_none() { break; }
//! }
//! assert_eq!(server_doc.get_heads(), device.doc_heads(&doc_id).unwrap());
//! ```

pub mod accept;
mod access;
mod fault;
mod frame;
mod liveness;
pub mod push;
pub mod receive;

pub use accept::{Outcome, Rejection, Sender};
pub use access::{Access, AccessPolicy, Role};
pub use fault::Fault;
pub use frame::{DocMessage, ErrorCode, Frame, FrameError, ManifestEntry, PROTOCOL_VERSION};
pub use liveness::{Due, Liveness, SEND_TIMEOUT, SLOWEST_LINK, send_deadline};

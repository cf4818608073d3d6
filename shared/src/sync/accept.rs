//! The server's gate for incoming changes: applied, checked, and kept only if every check passes.

use super::access::{Access, Role};
use super::fault::Fault;
use super::frame::ErrorCode;
use super::receive::{receive_message, sound_message};
use crate::doc::{self, DocId};
use crate::domain::{ForKind, Record, RecordKind};
use crate::hours::now_jst;
use crate::store::index::Indexed;
use automerge::sync::{Message, MessageFlags, State, SyncDoc};
use automerge::{AutoCommit, ChangeHash, PatchAction, Prop, ReadDoc, Value};
use std::collections::BTreeSet;

/// Why a message was refused. Nothing of it was applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Kind of refusal.
    pub code: ErrorCode,
    /// Words for people (English, as the server sends them), naming the record and field where
    /// there is one.
    pub message: String,
    /// What the gate's checks found, when the changes themselves were at fault (not the message's
    /// form, access, or the server): what tests and a device's own checks match on.
    pub fault: Option<Box<Fault>>,
}

impl Rejection {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Rejection {
            code,
            message: message.into(),
            fault: None,
        }
    }
}

/// What the device sending the message is, as the server knows it (never as the message claims).
#[derive(Debug, Clone)]
pub struct Sender {
    /// Its role.
    pub role: Role,
    /// Its device id (a member may change only organization entries it owns).
    pub device: String,
    /// The Automerge actors bound to the device when it joined: every change the server does not
    /// have yet must be by one of them. Changes of other devices that the server already has are
    /// not new, and pass (a device may relay them); ones it lacks are refused, so that no device
    /// can take another's next sequence number and block its sync.
    pub actors: Vec<automerge::ActorId>,
    /// The changes of the document's epochs that an erasure closed (see
    /// [`crate::doc::epoch`]): a change among them, or built on one, is refused, since it would
    /// bring erased values back (it builds on the same genesis as the new epoch, so it applies).
    pub closed: std::sync::Arc<std::collections::HashSet<ChangeHash>>,
    /// Its team (workers): which side of a referral it answers for.
    pub team: Option<String>,
}

/// What receiving a message did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Whether the document changed.
    pub changed: bool,
    /// Changes the device sent for a document it may only read: dropped, not merged. The rest of
    /// the message (what the device has and needs) was still processed, so it keeps receiving.
    pub dropped: Option<Rejection>,
    /// Changes the message's changes depend on that the server does not have. Automerge's sync
    /// leaves out changes it believes the other side has (a Bloom filter, rarely wrong), so a
    /// device can send a change without the one before it. Such changes are not kept waiting in
    /// the document, where they would later be applied unchecked as part of another device's
    /// message: nothing of the message is merged, and [`reply`] asks the device for these and
    /// everything again.
    pub need: Vec<ChangeHash>,
    /// When the document changed: the message's change chunks as the device sent them, one after
    /// the other. Together they hold every change the message added (and perhaps some the
    /// document already had), so they can be stored as they are instead of encoding the new
    /// changes again.
    pub chunks: Option<Vec<u8>>,
    /// Records the message added to the document (ids). The server checks them against the
    /// records of other documents, which the gate does not see.
    pub created: Vec<String>,
}

/// Receives an encoded sync message for `doc_id` into `doc`. Changes are applied and checked
/// (structure, record validation, ownership); only if all pass does the document keep them. On
/// refusal neither `doc` nor `state` changes: the document is rebuilt from its history up to the
/// heads it had (rare, and dearer than copying it before every message, which it replaces).
pub fn receive(
    doc: &mut AutoCommit,
    doc_id: &DocId,
    state: &mut State,
    raw: &[u8],
    access: Access,
    sender: &Sender,
) -> Result<Outcome, Rejection> {
    let mut message = Message::decode(raw).map_err(|e| {
        Rejection::new(
            ErrorCode::BadFrame,
            format!("{doc_id}: not a sync message: {e}"),
        )
    })?;
    sound_message(&message).map_err(|e| {
        Rejection::new(
            ErrorCode::BadFrame,
            format!("{doc_id}: not a sync message: {e}"),
        )
    })?;
    if access == Access::None {
        return Err(Rejection::new(
            ErrorCode::Forbidden,
            format!("{doc_id}: not readable by this device"),
        ));
    }
    let mut dropped = None;
    if access == Access::Read && !message.changes.is_empty() {
        message.changes = automerge::sync::ChunkList::empty();
        dropped = Some(Rejection::new(
            ErrorCode::ReadOnly,
            format!("{doc_id}: read-only for this device; its changes were not merged"),
        ));
    }
    // Nothing to merge (an acknowledgement, or what the device has and needs): no fork needed.
    if message.changes.is_empty() {
        receive_without_changes(doc, doc_id, state, message)?;
        forget_acknowledged(doc, state);
        return Ok(Outcome {
            changed: false,
            dropped,
            need: Vec::new(),
            chunks: None,
            created: Vec::new(),
        });
    }
    let before = doc.get_heads();
    let chunks: Vec<u8> = message.changes.iter().flatten().copied().collect();
    let mut new_state = state.clone();
    // Index what the message changes, so the check diffs only that, not the whole document.
    doc.update_diff_cursor();
    // Automerge panics on some malformed changes (one naming an actor it has not met, or an
    // object that does not exist) part way through applying them: a refusal like any other, and
    // the document is rebuilt from its history up to `before` below.
    let applied = doc::storable::guarded(|| {
        apply_and_check(doc, doc_id, &mut new_state, message, &before, sender)
    })
    .unwrap_or_else(|e| Err(Fault::from(e).rejection(doc_id)));
    // The index is not kept: it would grow with every later change.
    doc.reset_diff_cursor();
    match applied {
        Ok(Applied::Kept(created)) => {
            let changed = doc.get_heads() != before;
            *state = new_state;
            forget_acknowledged(doc, state);
            Ok(Outcome {
                changed,
                dropped,
                need: Vec::new(),
                chunks: changed.then_some(chunks),
                created,
            })
        }
        // Changes whose dependencies the server lacks would wait in the document's queue and be
        // applied later as part of someone else's changes, unchecked: take in only what the
        // message says about the device, and ask for the missing changes (see `Outcome::need`).
        Ok(Applied::Missing(need)) => {
            restore(doc, doc_id, &before)?;
            let mut message = Message::decode(raw).expect("decoded above");
            message.changes = automerge::sync::ChunkList::empty();
            receive_without_changes(doc, doc_id, state, message)?;
            Ok(Outcome {
                changed: false,
                dropped,
                need,
                chunks: None,
                created: Vec::new(),
            })
        }
        Err(rejection) => {
            restore(doc, doc_id, &before)?;
            Err(rejection)
        }
    }
}

/// Checks changes taken into `doc` from elsewhere than a device's connection (a file carried
/// over): what changed since `before` must pass the gate's checks, so that the server will not
/// refuse it once this device sends it. Who made a change cannot be told from a file, so the
/// ownership of organization entries is left to the server.
pub fn check_taken_in(
    doc: &mut AutoCommit,
    doc_id: &DocId,
    before: &[ChangeHash],
) -> Result<(), Fault> {
    let after = doc.get_heads();
    if after == before {
        return Ok(());
    }
    check(doc, doc_id, before, &after, None).map(|_| ())
}

/// What applying a message's changes came to.
enum Applied {
    /// Applied and checked; the records new to the document.
    Kept(Vec<String>),
    /// Some depend on changes the document lacks: these.
    Missing(Vec<ChangeHash>),
}

/// Applies the message to `doc` and checks what changed; the caller restores `doc` unless `Kept`.
fn apply_and_check(
    doc: &mut AutoCommit,
    doc_id: &DocId,
    state: &mut State,
    message: Message,
    before: &[ChangeHash],
    sender: &Sender,
) -> Result<Applied, Rejection> {
    receive_message(doc, state, message).map_err(|e| {
        Rejection::new(
            ErrorCode::Invalid,
            format!("{doc_id}: changes do not apply: {e}"),
        )
    })?;
    let need = doc.get_missing_deps(&[]);
    if !need.is_empty() {
        return Ok(Applied::Missing(need));
    }
    let after = doc.get_heads();
    if after == before {
        return Ok(Applied::Kept(Vec::new()));
    }
    let created =
        check(doc, doc_id, before, &after, Some(sender)).map_err(|f| f.rejection(doc_id))?;
    Ok(Applied::Kept(created))
}

/// Puts the document back as it was at `before` (its heads before a refused message): its history
/// up to there, without what the message added, applied or waiting.
/// Should that fail (Automerge panicked part way through and left its history unsound), the
/// refusal is [`ErrorCode::Internal`]: the caller must drop `doc` and load it again from its store.
fn restore(doc: &mut AutoCommit, doc_id: &DocId, before: &[ChangeHash]) -> Result<(), Rejection> {
    let fork = doc::storable::guarded(|| {
        let mut fork = doc.fork_at(before).ok()?;
        (fork.get_heads() == before).then_some(fork)
    });
    match fork {
        Ok(Some(fork)) => {
            *doc = fork;
            Ok(())
        }
        _ => Err(Rejection::new(
            ErrorCode::Internal,
            format!("{doc_id}: the document could not be put back as it was; it is read again"),
        )),
    }
}

/// Takes in a message that carries no changes (what the device has and needs); the document
/// cannot change.
fn receive_without_changes(
    doc: &mut AutoCommit,
    doc_id: &DocId,
    state: &mut State,
    message: Message,
) -> Result<(), Rejection> {
    receive_message(doc, state, message)
        .map_err(|e| Rejection::new(ErrorCode::Invalid, format!("{doc_id}: {e}")))
}

/// Once the device has every change of the document, the hashes sent to it so far are dropped
/// from the state: they only keep changes still in flight from being sent twice, and otherwise
/// grow with every change for as long as the connection lasts. Devices in step then have equal
/// states, which lets the server build one push for all of them.
fn forget_acknowledged(doc: &mut AutoCommit, state: &mut State) {
    if !state.sent_hashes.is_empty() && state.their_heads.as_ref() == Some(&doc.get_heads()) {
        state.sent_hashes.clear();
    }
}

/// The server's next message to the device: Automerge's own, plus a request for the changes in
/// `need` (from [`Outcome::need`]) with the reset flag, so the device sends them and resends what
/// it already sent and the server did not keep.
pub fn reply(doc: &mut AutoCommit, state: &mut State, need: &[ChangeHash]) -> Option<Message> {
    if need.is_empty() && nothing_to_say(doc, state) {
        return None;
    }
    let mut message = doc.sync().generate_sync_message(state)?;
    if !need.is_empty() {
        message.need.extend_from_slice(need);
        // Sorted without repeats, as Automerge encodes and as `receive::sound_message` requires.
        message.need.sort_unstable();
        message.need.dedup();
        let mut flags = message.flags.unwrap_or_else(MessageFlags::new);
        flags.set(MessageFlags::SYNC_RESET);
        message.flags = Some(flags);
    }
    Some(message)
}

/// Whether Automerge's `generate_sync_message` would return `None` for this peer, decided from
/// the sync state alone: the peer was told our current heads, and either has not answered yet or
/// answered with those same heads and needs nothing. Automerge reaches the same answer only after
/// building a Bloom filter and the list of changes to send, which is most of the cost of an
/// acknowledgement.
pub fn nothing_to_say(doc: &mut AutoCommit, state: &State) -> bool {
    if !state.have_responded {
        return false;
    }
    let heads = doc.get_heads();
    state.last_sent_heads == heads
        && (state.in_flight
            || (state.their_heads.as_ref() == Some(&heads)
                && state.their_need.as_ref().is_none_or(|n| n.is_empty())))
}

/// The fields a record of `kind` may have: those of its table. Worked out once.
fn allowed_fields(kind: RecordKind) -> &'static BTreeSet<String> {
    use std::sync::LazyLock;
    struct Names;
    impl ForKind for Names {
        type Out = BTreeSet<String>;
        fn run<R: Record + Indexed + Send>(self) -> Self::Out {
            R::FIELDS.iter().map(|f| f.name.to_string()).collect()
        }
    }
    static ALLOWED: LazyLock<Vec<(RecordKind, BTreeSet<String>)>> = LazyLock::new(|| {
        RecordKind::ALL
            .into_iter()
            .map(|kind| (kind, kind.with(Names)))
            .collect()
    });
    ALLOWED
        .iter()
        .find_map(|(k, names)| (*k == kind).then_some(names))
        .expect("every kind is listed")
}

/// An object of a document (not the root) by the id of the operation that made it.
type ObjOp = (u64, automerge::ActorId);

/// The operation id of `id` (`None`: the root).
fn obj_op(id: &automerge::ObjId) -> Option<ObjOp> {
    match id {
        automerge::ObjId::Id(counter, actor, _) => Some((*counter, actor.clone())),
        automerge::ObjId::Root => None,
    }
}

/// The object made by operation `obj`, as Automerge's reading API names it.
fn obj_id((counter, actor): &ObjOp) -> automerge::ObjId {
    automerge::ObjId::Id(*counter, actor.clone(), usize::MAX)
}

/// The map at `key` of the document's root.
fn root_map(doc: &AutoCommit, key: &str) -> Option<ObjOp> {
    doc.get(automerge::ROOT, key)
        .ok()
        .flatten()
        .and_then(|(_, id)| obj_op(&id))
}

/// The key `obj` has in the map `map` (`None`: it is not in that map). Found for objects that do
/// not show too (a losing value).
fn key_in(doc: &AutoCommit, obj: &ObjOp, map: &ObjOp) -> Option<String> {
    let parent = doc.parents(obj_id(obj)).ok()?.next()?;
    match parent.prop {
        Prop::Map(key) if obj_op(&parent.obj).as_ref() == Some(map) => Some(key),
        _ => None,
    }
}

/// Whether an operation puts a plain value (not a counter, not an object) in a map.
fn puts_plain_value(op: &automerge::legacy::Op) -> bool {
    !op.insert && matches!(&op.action, automerge::legacy::OpType::Put(v) if !v.is_counter())
}

/// Whether an operation removes values of a field of `obj` that keeps a value: Automerge resolves
/// a conflict in favour of the value shown by removing the others. A removal that leaves the field
/// empty shows in the diff, and is refused there.
///
/// Automerge applies a change's `pred` to whatever operations it names in the objects the change
/// touches, not only at the operation's own field. That a removal removes values of its own field
/// only rests on [`doc::storable::check`], which runs first on every path: the change is encoded
/// again from what it did, and a removal naming operations elsewhere comes back under another hash.
fn removes_losing_values(
    doc: &AutoCommit,
    obj: Option<&ObjOp>,
    key: &str,
    op: &automerge::legacy::Op,
) -> bool {
    let id = obj.map_or(automerge::ROOT, obj_id);
    matches!(op.action, automerge::legacy::OpType::Delete)
        && doc.get(&id, key).ok().flatten().is_some()
}

/// Every operation of `changes` (taken into `doc`) is a record made in the records map, a plain
/// value put in an allowed field of a record, or the removal of the losing values of such a field.
/// Returns the records they touch.
fn check_operations(
    doc: &AutoCommit,
    kind: RecordKind,
    changes: &[automerge::Change],
    allowed_fields: &BTreeSet<String>,
) -> Result<BTreeSet<String>, String> {
    use automerge::legacy::{Key, ObjectId, OpType};
    use std::collections::HashMap;
    let records_map =
        root_map(doc, kind.root_key()).ok_or("records are kept in a map keyed by id")?;
    // The record each object is (`None`: not a record), worked out once per object.
    let mut record_of: HashMap<ObjOp, Option<String>> = HashMap::new();
    let mut touched = BTreeSet::new();
    for change in changes {
        for op in change.decode().operations {
            let ObjectId::Id(obj) = &op.obj else {
                return Err("the document's structure cannot be changed".into());
            };
            let obj = (obj.0, obj.1.clone());
            let Key::Map(key) = &op.key else {
                return Err("records hold plain values only".into());
            };
            if obj == records_map {
                if op.insert || !matches!(op.action, OpType::Make(automerge::ObjType::Map)) {
                    return Err("records are kept in a map keyed by id".into());
                }
                touched.insert(key.to_string());
                continue;
            }
            let record = record_of
                .entry(obj.clone())
                .or_insert_with(|| key_in(doc, &obj, &records_map));
            let Some(record) = record else {
                return Err("records hold plain values only".into());
            };
            match &op.action {
                _ if !allowed_fields.contains(key.as_str()) => {
                    return Err(format!("record {record}: field {key:?} is not allowed"));
                }
                _ if puts_plain_value(&op) => {}
                _ if removes_losing_values(doc, Some(&obj), key, &op) => {}
                OpType::Delete => {
                    return Err(format!("record {record}: field {key:?} cannot be removed"));
                }
                _ => return Err(format!("record {record}: fields are plain values")),
            }
            touched.insert(record.clone());
        }
    }
    Ok(touched)
}

/// Checks what changed between `before` and `after` in `doc`. Organization entries are checked
/// against `owner` (the device that sent them, when it is a member) unless `owner` is `None`.
/// Returns the records new to the document.
fn check(
    doc: &mut AutoCommit,
    doc_id: &DocId,
    before: &[automerge::ChangeHash],
    after: &[automerge::ChangeHash],
    owner: Option<&Sender>,
) -> Result<Vec<String>, Fault> {
    let invalid = Fault::Shape;
    let patches = doc.diff(before, after);
    let Some(kind) = doc_id.record_kind() else {
        // The devices the server vouches for are the server's to write: they come to a device
        // only from the server, or in a file another device carried (`owner` is `None`).
        let vouched_allowed = owner.is_none();
        check_workspace(&patches, vouched_allowed).map_err(invalid)?;
        let changes = doc::storable::check(doc, before)?;
        check_authors(&changes, owner)?;
        check_workspace_operations(doc, &changes, vouched_allowed).map_err(invalid)?;
        return Ok(Vec::new());
    };
    let allowed_fields = allowed_fields(kind);
    let mut touched = BTreeSet::new();
    for patch in &patches {
        match patch.path.as_slice() {
            [] => return Err(invalid("the document's structure cannot be changed".into())),
            [(_, Prop::Map(root))] if root == kind.root_key() => {
                // A record added or replaced: it must be a map.
                if let PatchAction::PutMap {
                    key,
                    value: (value, _),
                    ..
                } = &patch.action
                {
                    if !matches!(value, Value::Object(automerge::ObjType::Map)) {
                        return Err(invalid(format!("record {key} is not a map")));
                    }
                    touched.insert(key.clone());
                } else {
                    return Err(invalid("records are kept in a map keyed by id".into()));
                }
            }
            [(_, Prop::Map(root)), (_, Prop::Map(id))] if root == kind.root_key() => {
                match &patch.action {
                    PatchAction::PutMap {
                        key,
                        value: (Value::Scalar(value), _),
                        ..
                    } if allowed_fields.contains(key) && !value.is_counter() => {}
                    // Two devices set the field concurrently: every value is a plain one (the
                    // operations' check below sees the losing values too), and is validated below.
                    PatchAction::Conflict {
                        prop: Prop::Map(key),
                    } if allowed_fields.contains(key) => {}
                    PatchAction::PutMap { key, .. } if !allowed_fields.contains(key) => {
                        return Err(invalid(format!(
                            "record {id}: field {key:?} is not allowed"
                        )));
                    }
                    PatchAction::DeleteMap { key } => {
                        return Err(invalid(format!(
                            "record {id}: field {key:?} cannot be removed"
                        )));
                    }
                    _ => return Err(invalid(format!("record {id}: fields are plain values"))),
                }
                touched.insert(id.clone());
            }
            _ => return Err(invalid("records hold plain values only".into())),
        }
    }
    let changes = doc::storable::check(doc, before)?;
    check_epoch(&changes, owner)?;
    check_authors(&changes, owner)?;
    if let Some(sender) = owner {
        within_bounds(&changes, sender.role)?;
    }
    let fork: &AutoCommit = doc;
    // The patches show what the changes did that shows; their operations, everything they did:
    // a value that loses to one set concurrently, or anything inside an object that does not
    // show, makes no patch.
    touched.extend(check_operations(fork, kind, &changes, allowed_fields).map_err(invalid)?);
    kind.with(CheckRecords {
        fork,
        doc_id,
        before,
        owner,
        touched: &touched,
    })
}

/// The rules of the records a message touched, checked for their kind's record type.
struct CheckRecords<'a> {
    fork: &'a AutoCommit,
    doc_id: &'a DocId,
    before: &'a [automerge::ChangeHash],
    owner: Option<&'a Sender>,
    touched: &'a BTreeSet<String>,
}

impl ForKind for CheckRecords<'_> {
    type Out = Result<Vec<String>, Fault>;

    /// Every touched record is valid (each concurrent value of a field too), lives where it says,
    /// and, from a member, is its own; returns the records new to the document.
    fn run<R: Record + Indexed + Send>(self) -> Self::Out {
        let CheckRecords {
            fork,
            doc_id,
            before,
            owner,
            touched,
        } = self;
        let kind = R::KIND;
        let now = now_jst();
        let mut created = Vec::new();
        for id in touched {
            // The record as it was is read only when needed (reading an earlier state is not free).
            let old_cell = std::cell::OnceCell::new();
            let old = || old_cell.get_or_init(|| doc::read_record_at(fork, kind, id, before));
            // A record already invalid before (e.g. two valid concurrent edits that together break
            // a cross-field rule) must not block sync forever; a new or valid record must stay
            // valid.
            let must_stay_valid = || {
                old()
                    .as_ref()
                    .is_none_or(|o| validate_fields::<R>(id, o, now).is_ok())
            };
            let new = doc::read_record(fork, kind, id).ok_or_else(|| {
                Fault::Shape(format!(
                    "record {id} was removed (delete with a tombstone instead)"
                ))
            })?;
            if old().is_none() {
                is_an_id(id)?;
                created.push(id.clone());
                if let Some(sender) = owner
                    && created.len() > max_new_records(sender.role)
                {
                    return Err(Fault::TooMuch {
                        what: "new records",
                        limit: max_new_records(sender.role),
                    });
                }
            }
            // Each concurrent value of a field must be valid too, not only the one shown.
            for (field, values) in doc::field_values(fork, kind, id) {
                for value in values {
                    let mut alternative = new.clone();
                    alternative.insert(field.clone(), value);
                    if let Err(error) = validate_fields::<R>(id, &alternative, now)
                        && must_stay_valid()
                    {
                        return Err(Fault::Record {
                            id: id.clone(),
                            error,
                        });
                    }
                }
            }
            let record = R::from_fields(id, &new);
            if record.home() != *doc_id {
                return Err(Fault::Misplaced {
                    id: id.clone(),
                    home: record.home().to_string(),
                    doc: doc_id.to_string(),
                });
            }
            // Records two sides answer: each side changes only what is its own.
            if let Some(sender) = owner {
                let writer = crate::domain::Writer {
                    role: sender.role,
                    team: sender.team.as_deref(),
                };
                let before = old().as_ref().map(|o| R::from_fields(id, o));
                if let Err(why) = record.writer_may(before.as_ref(), &writer) {
                    return Err(Fault::NotYours {
                        id: id.clone(),
                        why,
                    });
                }
            }
            // A member changes only what it owns, and cannot give it away.
            if let Some(sender) = owner.filter(|s| R::OWNED && s.role == Role::Member) {
                let own = |r: &R| r.owner() == Some(sender.device.as_str());
                let was_other = old().as_ref().is_some_and(|o| !own(&R::from_fields(id, o)));
                if !own(&record) || was_other {
                    return Err(Fault::NotOwner { id: id.clone() });
                }
            }
            if let Err(error) = record.validate(now).and_then(|()| plain_fields(&new))
                && must_stay_valid()
            {
                return Err(Fault::Record {
                    id: id.clone(),
                    error,
                });
            }
        }
        Ok(created)
    }
}

/// Most records one message may create in one document, by role: a member adds a place or its
/// organization at a time, a worker a day's visits, a coordinator imports a city (the demo's
/// 5,000 places are about 320 a document).
pub fn max_new_records(role: Role) -> usize {
    match role {
        Role::Member => 100,
        Role::Worker => 1_000,
        Role::Coordinator => 5_000,
    }
}

/// Most operations the new changes of one message may hold, by role (a place is about fifteen).
pub fn max_operations(role: Role) -> u64 {
    max_new_records(role) as u64 * 40
}

/// The new changes of a message hold no more operations than the sender's role allows: taking
/// them in, and sending them to every other device, costs in proportion.
fn within_bounds(changes: &[automerge::Change], role: Role) -> Result<(), Fault> {
    let operations: u64 = changes.iter().map(|c| c.len() as u64).sum();
    if operations > max_operations(role) {
        return Err(Fault::TooMuch {
            what: "operations",
            limit: max_operations(role) as usize,
        });
    }
    Ok(())
}

/// No new change is, or builds on, a change of a closed epoch.
fn check_epoch(changes: &[automerge::Change], sender: Option<&Sender>) -> Result<(), Fault> {
    let Some(closed) = sender.map(|s| &s.closed).filter(|c| !c.is_empty()) else {
        return Ok(());
    };
    if changes
        .iter()
        .any(|c| closed.contains(&c.hash()) || c.deps().iter().any(|d| closed.contains(d)))
    {
        return Err(Fault::ClosedEpoch);
    }
    Ok(())
}

/// How far ahead of the server's clock a change's time may be: phones' clocks drift, but a change
/// dated further ahead claims a time that has not come.
pub const MAX_CLOCK_AHEAD_SECS: i64 = 24 * 60 * 60;

/// Every new change is by an actor bound to the sending device (when it is known: a file carried
/// between devices cannot say who sent it), and not dated in the future.
fn check_authors(changes: &[automerge::Change], sender: Option<&Sender>) -> Result<(), Fault> {
    let now = chrono::Utc::now().timestamp();
    for change in changes {
        if change.timestamp() > now.saturating_add(MAX_CLOCK_AHEAD_SECS) {
            return Err(Fault::FutureTime {
                at: change.timestamp(),
            });
        }
        if let Some(sender) = sender
            && !sender.actors.contains(change.actor_id())
        {
            return Err(Fault::NotOwnChange {
                actor: change.actor_id().clone(),
            });
        }
    }
    Ok(())
}

/// A record new to the document has an id as devices make them: a copy under an existing
/// record's id elsewhere would be taken for that record.
fn is_an_id(id: &str) -> Result<(), Fault> {
    use crate::validate::{Reason, ValidationError, is_record_id};
    if !is_record_id(id) {
        return Err(Fault::Record {
            id: id.chars().take(40).collect(),
            error: ValidationError::new("id", Reason::BadId(id.chars().take(40).collect())),
        });
    }
    Ok(())
}

/// Every text of a record is free of control characters (also the fields the app fills in itself,
/// which no rule of the record's kind reads).
fn plain_fields(fields: &crate::domain::FieldMap) -> Result<(), crate::validate::ValidationError> {
    for (field, value) in fields {
        if let crate::domain::FieldValue::Str(text) = value {
            crate::validate::plain_text(field, text, true)?;
        }
    }
    Ok(())
}

/// Validates a record of type `R` given as fields.
fn validate_fields<R: Record>(
    id: &str,
    fields: &crate::domain::FieldMap,
    now: chrono::NaiveDateTime,
) -> Result<(), crate::validate::ValidationError> {
    R::from_fields(id, fields)
        .validate(now)
        .and_then(|()| plain_fields(fields))
}

/// The workspace's own fields.
const WORKSPACE_FIELDS: [&str; 4] = ["id", "name", "taxonomy_version", doc::CASE_CONFERENCE_KEY];

/// The workspace document: only its known keys, teams as maps of plain values (and, when
/// `vouched_allowed`, the devices the server vouches for).
fn check_workspace(patches: &[automerge::Patch], vouched_allowed: bool) -> Result<(), String> {
    let plain = |value: &Value| matches!(value, Value::Scalar(s) if !s.is_counter());
    for patch in patches {
        let vouched = match (patch.path.first(), &patch.action) {
            (Some((_, Prop::Map(root))), _) => root == doc::VOUCHED_KEY,
            (None, PatchAction::PutMap { key, .. }) => key == doc::VOUCHED_KEY,
            _ => false,
        };
        if vouched && vouched_allowed {
            continue;
        }
        match (patch.path.as_slice(), &patch.action) {
            ([], PatchAction::PutMap { key, value, .. })
                if WORKSPACE_FIELDS.contains(&key.as_str()) && plain(&value.0) => {}
            // Set concurrently on two devices: the operations' check below sees every value.
            (
                [],
                PatchAction::Conflict {
                    prop: Prop::Map(key),
                },
            ) if WORKSPACE_FIELDS.contains(&key.as_str()) => {}
            (
                [(_, Prop::Map(root))],
                PatchAction::PutMap {
                    value: (Value::Object(automerge::ObjType::Map), _),
                    ..
                },
            ) if root == "teams" => {}
            ([(_, Prop::Map(root)), _], PatchAction::PutMap { key, value, .. })
                if root == "teams" && key == "name" && plain(&value.0) => {}
            (
                [(_, Prop::Map(root)), _],
                PatchAction::Conflict {
                    prop: Prop::Map(key),
                },
            ) if root == "teams" && key == "name" => {}
            _ => return Err("only the workspace's name and teams can change".into()),
        }
    }
    Ok(())
}

/// Every operation of `changes` (taken into the workspace document `doc`) puts a plain value in
/// the workspace's own fields or a team's name (or removes its losing values), or makes a team:
/// also those no patch shows.
fn check_workspace_operations(
    doc: &AutoCommit,
    changes: &[automerge::Change],
    vouched_allowed: bool,
) -> Result<(), String> {
    use automerge::legacy::{Key, ObjectId, OpType};
    let refuse = || Err("only the workspace's name and teams can change".to_string());
    let teams = root_map(doc, "teams");
    let vouched = root_map(doc, doc::VOUCHED_KEY);
    for change in changes {
        for op in change.decode().operations {
            let Key::Map(key) = &op.key else {
                return refuse();
            };
            let obj = match &op.obj {
                ObjectId::Root => None,
                ObjectId::Id(obj) => Some((obj.0, obj.1.clone())),
            };
            let plain_or_resolved =
                puts_plain_value(&op) || removes_losing_values(doc, obj.as_ref(), key, &op);
            // The server's own entries: the map, a map per device, plain values in those.
            if vouched_allowed {
                let in_vouched = match (&obj, &vouched) {
                    (None, _) => key == doc::VOUCHED_KEY,
                    (Some(obj), Some(v)) => obj == v || key_in(doc, obj, v).is_some(),
                    (Some(_), None) => false,
                };
                if in_vouched {
                    continue;
                }
            }
            let allowed = match (&obj, &teams) {
                (None, _) => plain_or_resolved && WORKSPACE_FIELDS.contains(&key.as_str()),
                (Some(obj), Some(teams)) if obj == teams => {
                    !op.insert && matches!(op.action, OpType::Make(automerge::ObjType::Map))
                }
                (Some(obj), Some(teams)) => {
                    key == "name" && plain_or_resolved && key_in(doc, obj, teams).is_some()
                }
                (Some(_), None) => false,
            };
            if !allowed {
                return refuse();
            }
        }
    }
    Ok(())
}

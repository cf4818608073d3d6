//! Changes from elsewhere that Automerge 0.12 takes in but should not: some make it panic part way
//! through applying them, and some it applies but cannot save and load again. The server's gate
//! and a device merging files both refuse them.

use crate::Lang;
use automerge::{ActorId, AutoCommit, Change, ChangeHash};
use std::collections::HashMap;

/// Why changes were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Damaged {
    /// Automerge panicked taking the change in (it names an actor Automerge has not met, or an
    /// object that does not exist).
    #[error("a change is malformed: it could not be applied")]
    Malformed,
    /// The change's bytes are not the ones Automerge encodes for its operations: it would come
    /// back under another hash.
    #[error("a change is not encoded as Automerge encodes it")]
    NotAsEncoded,
    /// The change's operations are numbered at or below those of a change it depends on: a saved
    /// document would not load.
    #[error("a change's operation numbers do not come after those of the changes it depends on")]
    NumberedBack,
    /// The change does not build on its device's previous change (which Automerge's changes
    /// always do): a saved document would not load.
    #[error("a change does not build on its device's previous change")]
    NotOnPrevious,
}

impl Damaged {
    /// The reason in `lang`, for people.
    pub fn message(self, lang: Lang) -> String {
        match lang {
            Lang::En => self.to_string(),
            Lang::Ja => match self {
                Damaged::Malformed => "壊れた変更があり、適用できません",
                Damaged::NotAsEncoded => "Automerge の符号化と異なる変更があります",
                Damaged::NumberedBack => "依存する変更より前の操作番号を持つ変更があります",
                Damaged::NotOnPrevious => "同じ端末の前の変更に続いていない変更があります",
            }
            .into(),
        }
    }
}

/// Most earlier changes [`check`] looks through, per message, for a device's previous change.
const HISTORY_STEPS: usize = 100_000;

/// The changes a message added, found by hash and by device and sequence number.
struct Added<'a> {
    by_hash: HashMap<ChangeHash, &'a Change>,
    by_seq: HashMap<(&'a ActorId, u64), &'a Change>,
}

/// Whether `change`'s device's previous change comes before it, as Automerge's own changes
/// always have it: among the changes it depends on (`follows` is the last operation number of
/// those), so that a saved document, which counts a change's operations from there, finds the
/// same ones. Automerge puts the previous change among the direct dependencies; a change made on
/// an earlier state (`isolate`) has it further back in its history, walked in breadth within
/// `budget` steps for the whole message, never past an older change of the same device. When
/// the change builds on the heads the document had (`before`), all the document had is in its
/// history.
fn follows_previous(
    doc: &mut AutoCommit,
    before: &[ChangeHash],
    added: &Added<'_>,
    change: &Change,
    follows: u64,
    budget: &mut usize,
) -> bool {
    let (actor, seq) = (change.actor_id(), change.seq() - 1);
    if let Some(previous) = added.by_seq.get(&(actor, seq)) {
        if previous.max_op() > follows {
            return false;
        }
        if change.deps().contains(&previous.hash()) {
            return true;
        }
    } else {
        let mut deps = change.deps().to_vec();
        deps.sort_unstable();
        if deps == before {
            return true;
        }
    }
    // The device and sequence number of a change, and the changes it depends on.
    let mut describe = |hash: &ChangeHash| match added.by_hash.get(hash) {
        Some(new) => Some((new.actor_id().clone(), new.seq(), new.deps().to_vec())),
        None => doc
            .get_change_meta_by_hash(hash)
            .map(|meta| (meta.actor.into_owned(), meta.seq, meta.deps)),
    };
    let mut seen = std::collections::HashSet::new();
    let mut queue: std::collections::VecDeque<ChangeHash> = change.deps().iter().copied().collect();
    while let Some(hash) = queue.pop_front() {
        if !seen.insert(hash) {
            continue;
        }
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        let Some((of, at, earlier)) = describe(&hash) else {
            continue;
        };
        if &of == actor {
            if at == seq {
                return true;
            }
            if at < seq {
                continue; // The previous change came after this one.
            }
        }
        queue.extend(earlier);
    }
    false
}

/// Runs `f`, which takes changes into a document, with a panic inside Automerge turned into
/// [`Damaged::Malformed`]. The document `f` worked on may then be half-changed: the caller puts
/// it back (rebuilds it, or loads it again from the store).
///
/// A panic caught here outside our own code (inside Automerge, or the standard library under it)
/// is the input's fault, and is logged at debug level instead of printed (a device sending damaged
/// changes could otherwise fill the server's log); every other panic, ours included, goes to the
/// hook there was before.
pub fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, Damaged> {
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let guarded = GUARDED.try_with(|g| g.get()).unwrap_or(false);
            // Our crates' sources are named from the workspace's root; dependencies' are not.
            let ours = info.location().is_some_and(|at| {
                OUR_CRATES.iter().any(|dir| {
                    let file = at.file();
                    file.strip_prefix(dir)
                        .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('\\'))
                })
            });
            if guarded && !ours {
                tracing::debug!(%info, "Automerge panicked on damaged input");
            } else {
                previous(info);
            }
        }));
    });
    let outer = GUARDED.replace(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.set(outer);
    result.map_err(|_| Damaged::Malformed)
}

thread_local! {
    /// Whether this thread is inside [`guarded`].
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The workspace's crates, by directory: a panic there inside [`guarded`] is a bug of ours, and
/// printed.
const OUR_CRATES: [&str; 5] = ["shared", "sync-server", "app", "bench", "tests"];

/// Installs the panic hook that keeps [`guarded`] panics out of the log, once.
static QUIET_HOOK: std::sync::Once = std::sync::Once::new();

/// Whether the changes `doc` took in since it had the heads `before` come back as they arrived
/// once the document is saved and loaded again, or sent on:
/// - Automerge keeps each change under the hash it arrived with, but encodes it again from its
///   operations when it saves the document or sends the change on. A change encoded otherwise
///   (the same operations in other bytes) would come back under another hash.
/// - A saved document records only the last operation number of each change, and counts a
///   change's operations from the last one of the changes it depends on. A change whose
///   operations are numbered at or below those (Automerge numbers every operation above all it
///   has seen) would not load.
/// - A saved document also needs each device's operation numbers never to go down from one of its
///   changes to the next. Automerge builds every change on the same device's previous one, whose
///   operations then come before; a change that does not would not load.
///
/// Either way devices would never agree on the document's heads, and a saved snapshot would not
/// load. Returns the new changes, encoded again (the cost of the check).
pub fn check(doc: &mut AutoCommit, before: &[ChangeHash]) -> Result<Vec<Change>, Damaged> {
    // Automerge's debug builds assert that what they encode again is under the hash they keep:
    // that panic is the same finding.
    let changes = guarded(|| doc.get_changes(before)).map_err(|_| Damaged::NotAsEncoded)?;
    // Encoded again, each change must be under a hash the document keeps: a change sent in other
    // bytes comes back under a hash it does not know (a change the device also sent as Automerge
    // encodes it would have been refused for its repeated sequence number).
    if changes
        .iter()
        .any(|c| doc.get_change_meta_by_hash(&c.hash()).is_none())
    {
        return Err(Damaged::NotAsEncoded);
    }
    // From here the changes are as they were sent.
    let mut budget = HISTORY_STEPS;
    let added = Added {
        by_hash: changes.iter().map(|c| (c.hash(), c)).collect(),
        by_seq: changes
            .iter()
            .map(|c| ((c.actor_id(), c.seq()), c))
            .collect(),
    };
    let mut last_op: HashMap<ChangeHash, u64> =
        changes.iter().map(|c| (c.hash(), c.max_op())).collect();
    for change in &changes {
        let mut follows = 0;
        for dep in change.deps() {
            let dep_max = match last_op.get(dep) {
                Some(max) => *max,
                None => {
                    let max = doc.get_change_meta_by_hash(dep).map_or(0, |m| m.max_op);
                    last_op.insert(*dep, max);
                    max
                }
            };
            follows = follows.max(dep_max);
        }
        if change.start_op().get() <= follows {
            return Err(Damaged::NumberedBack);
        }
        // The device's previous change must come before this one: a saved document needs each
        // device's operation numbers to rise from one change to the next.
        if change.seq() > 1 && !follows_previous(doc, before, &added, change, follows, &mut budget)
        {
            return Err(Damaged::NotOnPrevious);
        }
    }
    Ok(changes)
}

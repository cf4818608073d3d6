//! How records map onto Automerge documents: a root map per record kind, records as maps keyed by
//! id, fields as scalars. Writing a record puts only the fields that changed, so concurrent edits of
//! different fields never clash; concurrent edits of one field are kept by Automerge as a conflict.
//!
//! Every change carries a [`ChangeNote`] as its message: who (display name) changed which fields of
//! which records. History and conflict authorship are read back from that change metadata.

mod doc_id;
pub mod epoch;
mod genesis;
mod history;
mod records;
pub mod storable;
mod whole;
mod workspace;

pub use doc_id::{BadDocId, DocId, PLACE_SHARDS, is_valid_team_id};
pub use genesis::{GENESIS_ACTOR, genesis};
pub use history::{
    ChangeNote, Conflict, ConflictValue, FieldChange, HistoryEntry, conflicts_of, history_of,
    short_actor,
};
pub use records::{
    all_records, conflicted_fields, field_values, read_record, read_record_at, record_ids,
    write_fields,
};
pub use whole::{Loaded, adopt_whole, is_document_chunk, load_whole};
pub use workspace::{
    CASE_CONFERENCE_KEY, Team, VOUCHED_KEY, Vouched, WorkspaceInfo, read_vouched, read_workspace,
    write_basemap, write_case_conference, write_team, write_vouched, write_workspace,
};

//! The ibasho engine, shared by the app, the `ibasho` CLI and the sync server.
//!
//! - [`domain`]: places, organizations, visits; [`validate`]: the rules, with errors that name the
//!   field in Japanese and English; [`taxonomy`]: the default categories and target groups.
//! - [`doc`]: how records map onto Automerge documents, conflicts and history.
//! - [`store`]: SQLite schema, document bytes and the query index; [`Replica`]: the API the app and
//!   CLI call.
//! - [`exchange`]: GeoJSON and CSV out, CSV in.
//!
//! Architecture invariant: this crate does no network IO.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub mod demo;
pub mod doc;
pub mod domain;
mod error;
pub mod exchange;
pub mod hours;
pub mod i18n;
pub mod map;
mod replica;
pub mod store;
/// Publishing reports without revealing small counts (see `Replica::publish_report`).
pub mod publish {
    pub use crate::replica::{Published, Shown, Table, published_json, reveals, suppress};
}
pub mod sync;
pub mod taxonomy;
pub mod validate;

pub use doc::DocId;
pub use domain::{Org, Place, Record, RecordKind, Referral, Visit};
pub use error::{Error, Permission, Result};
pub use i18n::Lang;
pub use replica::{
    Counts, Discarded, FollowUpFigures, JoinReport, OrgFigures, Period, PlaceFigures,
    ReferralFigures, ReferralQuery, ReferralView, Replica, Report, ServerBinding, Stuck,
    VisitFigures, rows_csv, rows_of,
};
pub use store::query::{PlaceHit, PlaceQuery, VisitQuery};

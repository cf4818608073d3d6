//! The SQLite side of a replica: schema, document bytes and the query index.

pub mod doc_store;
pub mod index;
pub mod query;
pub mod schema;

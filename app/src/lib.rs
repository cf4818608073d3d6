//! The device side of ibasho beyond the engine: the sync client and platform paths. The `ibasho`
//! binary (command line and app window) is built on it; so are the load benchmarks.

#![warn(missing_docs, missing_debug_implementations)]

pub mod paths;
pub mod sync;
#[allow(missing_docs)] // Each word's name says what it is for.
pub mod text;
pub mod tiles;
pub mod timing;

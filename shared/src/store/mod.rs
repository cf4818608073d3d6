//! The SQLite side of a replica: schema, document bytes and the query index.

pub mod doc_store;
pub mod index;
pub mod query;
pub mod schema;

/// Makes a store file readable and writable by its owner only (0600), and its directory
/// enterable by its owner only when it had to be created: replicas hold device tokens and
/// private notes, the server's store every workspace. SQLite gives its `-wal` and `-shm` files
/// the database file's permissions. Does nothing where permissions are not Unix ones.
pub fn make_private(file: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if file.exists() {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
        }
        for suffix in ["-wal", "-shm"] {
            let mut side = file.as_os_str().to_owned();
            side.push(suffix);
            let side = std::path::PathBuf::from(side);
            if side.exists() {
                std::fs::set_permissions(&side, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Heads (change hashes) as stored: 32 bytes each, one after the other.
pub fn encode_heads(heads: &[automerge::ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

/// Heads stored by [`encode_heads`].
pub fn decode_heads(bytes: &[u8]) -> Vec<automerge::ChangeHash> {
    bytes
        .chunks_exact(32)
        .map(|c| automerge::ChangeHash(c.try_into().expect("32 bytes")))
        .collect()
}

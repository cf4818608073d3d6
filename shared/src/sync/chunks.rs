//! Automerge's storage chunks as they travel in sync messages: a message's changes are one chunk
//! each, or several one after the other.

/// The first bytes of every Automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// The type of a chunk holding one change.
pub(crate) const CHANGE: u8 = 1;
/// The type of a chunk holding one change, compressed.
pub(crate) const COMPRESSED_CHANGE: u8 = 2;

/// One chunk: its type, its checksum (the first four bytes of the change's hash) and its bytes
/// (header included).
pub(crate) struct Chunk<'a> {
    pub(crate) kind: u8,
    pub(crate) checksum: [u8; 4],
    pub(crate) bytes: &'a [u8],
}

/// Splits `bytes` into the chunks it holds, one after the other; `None` unless it is exactly that.
pub(crate) fn split(mut bytes: &[u8]) -> Option<Vec<Chunk<'_>>> {
    let mut chunks = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 10 || bytes[..4] != MAGIC {
            return None;
        }
        let checksum = bytes[4..8].try_into().expect("four bytes");
        let kind = bytes[8];
        // The length of the chunk's body: unsigned LEB128.
        let (mut length, mut shift, mut at) = (0u64, 0u32, 9usize);
        loop {
            let &byte = bytes.get(at)?;
            at += 1;
            if shift > 56 {
                return None;
            }
            length |= u64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        let end = usize::try_from(length).ok()?.checked_add(at)?;
        if end > bytes.len() {
            return None;
        }
        chunks.push(Chunk {
            kind,
            checksum,
            bytes: &bytes[..end],
        });
        bytes = &bytes[end..];
    }
    Some(chunks)
}

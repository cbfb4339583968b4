//! Short content hashes: stable, distinct names derived from a text (record
//! ids, cut key values, query fingerprints).

use sha2::{Digest, Sha256};

/// The first `bytes` bytes of the SHA-256 of `text`, as lowercase hex.
pub fn sha256_hex(text: &str, bytes: usize) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest[..bytes.min(digest.len())]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

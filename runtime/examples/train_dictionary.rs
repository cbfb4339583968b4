//! Trains the zstd dictionary that stored records are compressed with, from
//! the CloudTrail logs in the repository's `examples/cloudtrail` (real records
//! from public sources, see its README for attribution).
//!
//! ```sh
//! cargo run -p tracker-runtime --example train_dictionary -- /tmp/new.dict
//! ```
//!
//! A dictionary that has shipped is never replaced: every stored record names
//! its dictionary by id, so a new dictionary must get a new file and be added
//! beside the old one in `runtime/src/event.rs` (which keeps reading both).

use std::path::{Path, PathBuf};

use tracker_runtime::cloudtrail::{Record, read_log_records};

/// Size of the dictionary: large enough to hold CloudTrail's recurring keys
/// and values, small enough to stay in cache.
const DICTIONARY_BYTES: usize = 16 * 1024;

fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("usage: train_dictionary <output file>"))?;
    anyhow::ensure!(
        !out.exists(),
        "{} exists; a shipped dictionary is never overwritten",
        out.display()
    );
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/cloudtrail");
    let mut records = Vec::new();
    for file in log_files(&corpus)? {
        let bytes = std::fs::read(&file)?;
        read_log_records(bytes.as_slice(), |raw| {
            if let Ok(record) = Record::from_raw(raw) {
                records.push(record.json.into_bytes());
            }
        })
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    }
    anyhow::ensure!(!records.is_empty(), "no records under {}", corpus.display());
    let dictionary = zstd::dict::from_samples(&records, DICTIONARY_BYTES)?;
    std::fs::write(&out, &dictionary)?;
    println!(
        "{} records → {} ({} bytes)",
        records.len(),
        out.display(),
        dictionary.len()
    );
    Ok(())
}

/// The `.json.gz` files under `dir`, sorted, so training is repeatable.
fn log_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.to_string_lossy().ends_with(".json.gz") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

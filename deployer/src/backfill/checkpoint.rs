//! The resume log of a backfill: one line per object fully ingested
//! (`key<TAB>fingerprint`), appended as each finishes. Re-running the same
//! command skips what is listed; the fingerprint holds the object's ETag or
//! size and mtime, and what the run stores (target, window, skip list), so a
//! run with other options never skips what it has not stored.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use tracker_runtime::ingest::FileLedger;

pub struct Checkpoint {
    path: PathBuf,
    done: Mutex<HashSet<String>>,
    file: Mutex<File>,
}

impl Checkpoint {
    /// Opens (or creates) the checkpoint at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Checkpoint> {
        let mut done = HashSet::new();
        if path.exists() {
            let reader = BufReader::new(
                File::open(path).with_context(|| format!("cannot read {}", path.display()))?,
            );
            for line in reader.lines() {
                done.insert(line.with_context(|| format!("cannot read {}", path.display()))?);
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| {
                format!(
                    "cannot write the checkpoint {}; pass --checkpoint elsewhere",
                    path.display()
                )
            })?;
        Ok(Checkpoint {
            path: path.to_owned(),
            done: Mutex::new(done),
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> usize {
        self.done.lock().map(|d| d.len()).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn line(key: &str, fingerprint: &str) -> String {
    format!("{}\t{fingerprint}", key.replace(['\t', '\n'], " "))
}

impl FileLedger for Checkpoint {
    fn is_done(&self, key: &str, fingerprint: &str) -> bool {
        self.done
            .lock()
            .is_ok_and(|d| d.contains(&line(key, fingerprint)))
    }

    fn mark_done(&self, key: &str, fingerprint: &str) {
        let entry = line(key, fingerprint);
        let written = self
            .file
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))
            .and_then(|mut f| writeln!(f, "{entry}").and_then(|_| f.flush()));
        if let Err(error) = written {
            tracing::warn!(key, %error, "Could not write the checkpoint; this object will be read again on resume.");
        }
        if let Ok(mut done) = self.done.lock() {
            done.insert(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c");
        let c = Checkpoint::open(&path).unwrap();
        assert!(!c.is_done("a", "1"));
        c.mark_done("a", "1");
        assert!(c.is_done("a", "1"));
        drop(c);
        let c = Checkpoint::open(&path).unwrap();
        assert!(c.is_done("a", "1"));
        assert!(
            !c.is_done("a", "2"),
            "another fingerprint is another object"
        );
        assert_eq!(c.len(), 1);
    }
}

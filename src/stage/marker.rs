//! The one mark that a piece of work is complete: every stage's parts, dedup's steps,
//! tokenize's spilled parts and the pipeline's Slurm tasks use it.
//!
//! A marker names the plan the work was done for (a hash of its inputs and configuration) and
//! each file it vouches for, with its length and xxh3. It is written after those files, under a
//! temporary name and a rename. Files are not synced one by one (see
//! [`crate::dataset`]'s durability notes), so after a machine crash a marker may outlive its
//! files' data: a file missing, of another length or with other bytes voids the marker, and
//! the work is redone. A resume checks the length first (what a crash changes) and then the
//! xxh3, read back from the disk: a disk that corrupts bytes without changing a size must not
//! get its damage reused and carried downstream (downstream plans hash the recorded xxh3, so
//! they would not notice either). Reading a part back costs a fraction of writing it.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::dataset::{self, DatasetError, PartFile};

/// A file a marker vouches for, relative to the marker's base folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMark {
    pub file: String,
    pub bytes: u64,
    /// xxh3-64 of the file's bytes, 16 hex digits.
    pub xxh3: String,
}

impl FileMark {
    /// Measures `rel` under `base` (reads it once to hash it).
    pub fn of(base: &Path, rel: &str) -> Result<FileMark, DatasetError> {
        let path = base.join(rel);
        let (bytes, xxh3) = hash_file(&path).map_err(|source| DatasetError::Io { path: path.clone(), source })?;
        Ok(FileMark { file: rel.to_string(), bytes, xxh3 })
    }

    /// Whether the file is there with the recorded length and bytes (the length first: cheap,
    /// and what a crash changes).
    fn intact(&self, base: &Path) -> bool {
        let path = base.join(&self.file);
        if !fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == self.bytes) {
            return false;
        }
        match hash_file(&path) {
            Ok((bytes, xxh3)) if bytes == self.bytes && xxh3 == self.xxh3 => true,
            Ok(_) => {
                tracing::warn!(
                    "{}: its bytes are not those recorded (xxh3 {}), though its length is: redoing its work",
                    path.display(),
                    self.xxh3
                );
                false
            }
            Err(_) => false,
        }
    }
}

/// A file's length and xxh3-64 (16 hex digits), read in 1 MiB blocks.
fn hash_file(path: &Path) -> io::Result<(u64, String)> {
    let mut f = File::open(path)?;
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((bytes, format!("{:016x}", h.digest())))
}

impl From<&PartFile> for FileMark {
    fn from(p: &PartFile) -> FileMark {
        FileMark { file: p.file.clone(), bytes: p.bytes, xxh3: p.xxh3.clone() }
    }
}

/// Where a marker lives: its file, and the folder its files are named relative to.
#[derive(Debug, Clone)]
pub struct MarkerPath {
    pub base: PathBuf,
    /// Relative to `base`.
    pub name: String,
}

impl MarkerPath {
    pub fn new(base: impl Into<PathBuf>, name: impl Into<String>) -> MarkerPath {
        MarkerPath { base: base.into(), name: name.into() }
    }

    pub fn path(&self) -> PathBuf {
        self.base.join(&self.name)
    }
}

/// A finished piece of work: the plan it followed, the files it vouches for and what it
/// reported (`data`, so that resuming costs no recount).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Marker<T> {
    pub plan: String,
    pub files: Vec<FileMark>,
    pub data: T,
}

impl<T: Serialize + DeserializeOwned> Marker<T> {
    /// The marker at `at` if it is complete for `plan`: present, readable, the same plan, and
    /// every file it names there with its recorded length.
    pub fn valid(at: &MarkerPath, plan: &str) -> Option<Marker<T>> {
        let bytes = fs::read(at.path()).ok()?;
        let m: Marker<T> = serde_json::from_slice(&bytes).ok()?;
        (m.plan == plan && m.files.iter().all(|f| f.intact(&at.base))).then_some(m)
    }

    /// Writes the marker (atomically; after the files it names).
    pub fn write(&self, at: &MarkerPath) -> Result<(), DatasetError> {
        let path = at.path();
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|source| DatasetError::Io { path: dir.to_path_buf(), source })?;
        }
        let mut json = serde_json::to_vec_pretty(self).expect("a marker serializes");
        json.push(b'\n');
        dataset::write_atomic(&path, &json)
    }
}

/// Removes a marker (the work is to be redone); a missing one is not an error.
pub fn remove(at: &MarkerPath) -> io::Result<()> {
    match fs::remove_file(at.path()) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_is_void_when_its_plan_or_a_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.bin"), b"hello").unwrap();
        let at = MarkerPath::new(dir.path(), "m/a.done");
        let mark = FileMark::of(dir.path(), "a.bin").unwrap();
        assert_eq!(mark.bytes, 5);
        assert_eq!(mark.xxh3, format!("{:016x}", xxhash_rust::xxh3::xxh3_64(b"hello")));
        Marker { plan: "p1".into(), files: vec![mark], data: 7u32 }.write(&at).unwrap();
        assert_eq!(Marker::<u32>::valid(&at, "p1").map(|m| m.data), Some(7));
        assert!(Marker::<u32>::valid(&at, "p2").is_none(), "another plan");
        assert!(Marker::<String>::valid(&at, "p1").is_none(), "another payload type");
        fs::write(dir.path().join("a.bin"), b"hellO").unwrap();
        assert!(Marker::<u32>::valid(&at, "p1").is_none(), "a byte changed, the length not");
        fs::write(dir.path().join("a.bin"), b"hello").unwrap();
        assert!(Marker::<u32>::valid(&at, "p1").is_some(), "the bytes recorded again");
        fs::write(dir.path().join("a.bin"), b"hell").unwrap();
        assert!(Marker::<u32>::valid(&at, "p1").is_none(), "a file cut short");
        fs::remove_file(dir.path().join("a.bin")).unwrap();
        assert!(Marker::<u32>::valid(&at, "p1").is_none(), "a file gone");
        remove(&at).unwrap();
        remove(&at).unwrap();
        assert!(!at.path().exists());
    }
}

//! One lock per output folder, taken by every way of writing it: a stage command, a pipeline's
//! stage run here, a Slurm task. A whole run (which cleans up leftovers and commits the
//! manifest) holds it alone; the tasks of one step of a job array share it, each writing its own
//! parts. Anyone else is refused with the folder named, instead of two writers reporting success
//! over each other's files.
//!
//! The lock is the operating system's advisory file lock (`flock` on Unix): it goes away with
//! the process, however the process ends, so there is nothing stale to clean up. The file stays
//! empty (a run's folders are the same bytes whoever wrote them).

use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::dataset::{DatasetError, Shard};

/// The lock file's name, inside the folder a stage keeps its state in (`_parts/`, `.spill/`).
pub const LOCK_FILE: &str = "writer.lock";

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct OutputLock {
    _file: File,
}

impl OutputLock {
    /// Takes the lock of the output whose state folder is `dir` (created if missing): alone
    /// for a whole run, shared for one shard's. `out` names the output in the refusal.
    pub fn acquire(dir: &Path, out: &Path, shard: Shard) -> Result<OutputLock, DatasetError> {
        let io = |path: PathBuf| move |source| DatasetError::Io { path, source };
        fs::create_dir_all(dir).map_err(io(dir.to_path_buf()))?;
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io(path.clone()))?;
        let whole = shard == Shard::WHOLE;
        let got = if whole { file.try_lock() } else { file.try_lock_shared() };
        match got {
            Ok(()) => Ok(OutputLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(DatasetError::Busy { path: out.to_path_buf(), lock: path }),
            Err(TryLockError::Error(source)) => Err(DatasetError::Io { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_run_excludes_everyone_and_shards_share() {
        let d = tempfile::tempdir().unwrap();
        let (dir, out) = (d.path().join("_parts"), d.path());
        let shard = |i| Shard { index: i, count: 2 };
        let whole = OutputLock::acquire(&dir, out, Shard::WHOLE).unwrap();
        let e = OutputLock::acquire(&dir, out, Shard::WHOLE).unwrap_err().to_string();
        assert!(e.contains(&out.display().to_string()) && e.contains("writer.lock"), "{e}");
        assert!(OutputLock::acquire(&dir, out, shard(0)).is_err(), "a shard waits for the whole run");
        drop(whole);
        let (a, b) =
            (OutputLock::acquire(&dir, out, shard(0)).unwrap(), OutputLock::acquire(&dir, out, shard(1)).unwrap());
        assert!(OutputLock::acquire(&dir, out, Shard::WHOLE).is_err(), "the whole run waits for the shards");
        drop((a, b));
        OutputLock::acquire(&dir, out, Shard::WHOLE).unwrap();
    }
}

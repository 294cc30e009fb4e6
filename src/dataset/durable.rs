//! Atomic writes and syncing (see [Durability](super#durability)).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{io_err, DatasetError, TMP_PREFIX};

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename (not
/// synced: see [Durability](super#durability)).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DatasetError> {
    let (tmp, mut f) = temp_file(path)?;
    f.write_all(bytes).map_err(io_err(tmp.path()))?;
    drop(f);
    tmp.persist(path)
}

/// A temporary file's path, removed when dropped unless [`TempPath::persist`] renamed it into
/// place: a write that fails half-way (a full disk) leaves nothing behind.
#[derive(Debug)]
pub struct TempPath(Option<PathBuf>);

impl TempPath {
    pub fn path(&self) -> &Path {
        self.0.as_deref().expect("a temporary is there until persisted or dropped")
    }

    /// Renames the file onto `dest`.
    pub fn persist(mut self, dest: &Path) -> Result<(), DatasetError> {
        let tmp = self.0.take().expect("persisted once");
        fs::rename(&tmp, dest).map_err(|e| {
            self.0 = Some(tmp);
            DatasetError::Io { path: dest.to_path_buf(), source: e }
        })
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// A new temporary file beside `dest`, to be renamed onto it when complete. Its name is this
/// writer's own (`.tmp-PID-TIME-N-name`) and it is created exclusively, never truncated: two
/// writers of the same file (a Slurm task and its requeued twin, a stage command and a
/// pipeline's task) each write their own and the last rename wins, instead of one writing
/// into the other's half-written file. The prefix is what cleanups look for.
pub fn temp_file(dest: &Path) -> Result<(TempPath, File), DatasetError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let tmp = dest.with_file_name(format!(
        "{TMP_PREFIX}{}-{:x}-{}-{name}",
        std::process::id(),
        started & 0xffff_ffff_ffff,
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let f = File::options().write(true).create_new(true).open(&tmp).map_err(io_err(&tmp))?;
    Ok((TempPath(Some(tmp)), f))
}

/// Whether the environment asks for syncing (`KBCURATE_SYNC=1`, which Slurm tasks inherit).
/// Read at the command line's edge: stages take syncing as an option (`sync` in their options).
pub fn sync_from_env() -> bool {
    std::env::var_os("KBCURATE_SYNC").is_some_and(|v| v == "1")
}

/// Writes the file that commits the output in `dir` (a manifest). When `sync` is asked for,
/// everything already written there is synced first ([`sync_written`]), then `name` is
/// written, synced, renamed into place and the rename synced, so the commit never reaches the
/// disk before what it describes. Otherwise it is [`write_atomic`].
pub fn write_commit(dir: &Path, name: &str, bytes: &[u8], sync: bool) -> Result<(), DatasetError> {
    if !sync {
        return write_atomic(&dir.join(name), bytes);
    }
    sync_written(dir, true)?;
    let path = dir.join(name);
    let (tmp, mut f) = temp_file(&path)?;
    f.write_all(bytes).map_err(io_err(tmp.path()))?;
    f.sync_all().map_err(io_err(tmp.path()))?;
    drop(f);
    tmp.persist(&path)?;
    sync_dir(dir)
}

/// When `sync` is asked for, makes the files written under `dir`
/// durable, in one go: on Linux one `syncfs` for the filesystem that holds it (one journal
/// commit for all, instead of one per file); elsewhere every file under `dir` is synced, then
/// the folders.
pub fn sync_written(dir: &Path, sync: bool) -> Result<(), DatasetError> {
    if !sync {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let d = File::open(dir).map_err(io_err(dir))?;
        // SAFETY: `d` is an open descriptor for the life of the call; syncfs reads nothing else.
        if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
            return Err(DatasetError::Io { path: dir.to_path_buf(), source: io::Error::last_os_error() });
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        fn walk(dir: &Path) -> Result<(), DatasetError> {
            for e in fs::read_dir(dir).map_err(io_err(dir))? {
                let e = e.map_err(io_err(dir))?;
                let path = e.path();
                if e.file_type().map_err(io_err(&path))?.is_dir() {
                    walk(&path)?;
                } else {
                    File::open(&path).and_then(|f| f.sync_all()).map_err(io_err(&path))?;
                }
            }
            sync_dir(dir)
        }
        walk(dir)
    }
}

/// Syncs a folder's entries (the renames into it). Folders cannot be opened for syncing on
/// every platform; there it is a no-op.
fn sync_dir(dir: &Path) -> Result<(), DatasetError> {
    #[cfg(unix)]
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two writers of one file never share a temporary: each has its own, created exclusively,
    /// so neither truncates the other's half-written bytes; the last rename wins whole.
    #[test]
    fn each_writer_has_its_own_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("part-00000.parquet");
        let (t1, mut f1) = temp_file(&dest).unwrap();
        let (t2, mut f2) = temp_file(&dest).unwrap();
        assert_ne!(t1.path(), t2.path());
        for t in [&t1, &t2] {
            let name = t.path().file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.starts_with(TMP_PREFIX) && name.ends_with("-part-00000.parquet"), "{name}");
        }
        f1.write_all(b"first writer").unwrap();
        f2.write_all(b"second").unwrap();
        assert_eq!(fs::read(t1.path()).unwrap(), b"first writer", "not truncated by the second writer");
        t2.persist(&dest).unwrap();
        t1.persist(&dest).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"first writer");
        // A writer that gives up (an error, a full disk) leaves no temporary behind.
        let (t3, mut f3) = temp_file(&dest).unwrap();
        f3.write_all(b"half").unwrap();
        let gone = t3.path().to_path_buf();
        drop(t3);
        assert!(!gone.exists());
        write_atomic(&dest, b"again").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"again");
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }
}

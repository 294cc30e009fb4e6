//! Atomic writes and syncing (see [Durability](super#durability)).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{io_err, DatasetError, TMP_PREFIX};

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename (not
/// synced: see [Durability](super#durability)).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DatasetError> {
    let tmp = tmp_path(path);
    fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
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
    let tmp = tmp_path(&path);
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    drop(f);
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
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

pub(super) fn tmp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!("{TMP_PREFIX}{name}"))
}

//! Finding the input files under what a collection's patterns match: folders read recursively,
//! hidden names left out, only regular files taken.
//!
//! Library storage holds symbolic links. Each folder is visited once (by device and inode), so
//! a link back up (`sub/up -> ..`) ends the descent instead of looping forever. A link whose
//! target lies outside the folder the pattern names is not followed unless asked
//! (`follow_links`, as ripgrep's `-L` and find's `-L`): it is named in the log and in the
//! manifest's inputs, never pulled in silently. Devices, FIFOs and sockets are never read
//! (`ALTO/0001.xml -> /dev/zero` is a link to something that is not a file).

use std::collections::{BTreeSet, HashSet};
use std::path::{Component, Path, PathBuf};

/// A link that was not followed, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct SkippedLink {
    pub(super) link: PathBuf,
    /// Where it points (as far as it resolves).
    pub(super) target: String,
    pub(super) why: &'static str,
}

/// One walk over the matches of a collection's patterns.
pub(super) struct Walk {
    follow_links: bool,
    visited: HashSet<DirId>,
    pub(super) skipped: Vec<SkippedLink>,
}

#[cfg(unix)]
type DirId = (u64, u64);
#[cfg(not(unix))]
type DirId = PathBuf;

fn dir_id(path: &Path, meta: &std::fs::Metadata) -> DirId {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = path;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
    }
}

impl Walk {
    pub(super) fn new(follow_links: bool) -> Walk {
        Walk { follow_links, visited: HashSet::new(), skipped: Vec::new() }
    }

    /// Adds `p` (a file) or the files under `p` (a folder, recursively) to `out`; `root` is
    /// the folder the pattern names (links leaving it are not followed unless asked).
    pub(super) fn add(&mut self, p: &Path, root: &Path, out: &mut BTreeSet<PathBuf>) {
        let Ok(meta) = std::fs::symlink_metadata(p) else { return };
        if meta.file_type().is_symlink() {
            let target = match std::fs::canonicalize(p) {
                Ok(t) => t,
                Err(e) => {
                    self.skip(p, format!("({e})"), "it points at nothing");
                    return;
                }
            };
            if !self.follow_links && !target.starts_with(root) {
                self.skip(p, target.display().to_string(), "it leaves the input folder (--follow-links follows it)");
                return;
            }
            let Ok(tmeta) = std::fs::metadata(&target) else { return };
            if tmeta.is_dir() {
                self.dir(p, &tmeta, root, out);
            } else if tmeta.is_file() && !is_hidden(p) {
                out.insert(p.to_path_buf());
            } else if !tmeta.is_file() {
                self.skip(p, target.display().to_string(), "it is not a regular file");
            }
            return;
        }
        if meta.is_dir() {
            self.dir(p, &meta, root, out);
        } else if meta.is_file() && !is_hidden(p) {
            out.insert(p.to_path_buf());
        }
    }

    fn dir(&mut self, dir: &Path, meta: &std::fs::Metadata, root: &Path, out: &mut BTreeSet<PathBuf>) {
        if !self.visited.insert(dir_id(dir, meta)) {
            return; // seen already: a link back up, or two links to one folder
        }
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        // In name order, so that which of two links to one folder is walked never varies.
        paths.sort();
        for path in paths {
            if !is_hidden(&path) {
                self.add(&path, root, out);
            }
        }
    }

    fn skip(&mut self, link: &Path, target: String, why: &'static str) {
        tracing::warn!("{}: a symbolic link to {target}, not followed: {why}", link.display());
        self.skipped.push(SkippedLink { link: link.to_path_buf(), target, why });
    }
}

fn is_hidden(p: &Path) -> bool {
    p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// The folder a pattern names: its components up to the first one with a glob character (for
/// a plain file, its folder), resolved.
pub(super) fn pattern_root(full: &Path) -> PathBuf {
    let mut root = PathBuf::new();
    for c in full.components() {
        let s = c.as_os_str().to_string_lossy();
        if matches!(c, Component::Normal(_)) && s.contains(['*', '?', '[', '{']) {
            break;
        }
        root.push(c);
    }
    if root == full && !full.is_dir() {
        root.pop();
    }
    std::fs::canonicalize(&root).unwrap_or(root)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn walk(root: &Path, follow: bool) -> (Vec<String>, Vec<SkippedLink>) {
        let mut w = Walk::new(follow);
        let mut out = BTreeSet::new();
        w.add(root, &pattern_root(root), &mut out);
        let files = out.iter().map(|p| p.strip_prefix(root).unwrap().display().to_string()).collect();
        (files, w.skipped)
    }

    /// `sub/up -> ..` and `self -> .` end the descent; before, the walk never returned.
    #[test]
    fn link_cycles_end() {
        let d = tempfile::tempdir().unwrap();
        let input = d.path().join("in");
        std::fs::create_dir_all(input.join("sub")).unwrap();
        std::fs::write(input.join("a.txt"), "a").unwrap();
        std::fs::write(input.join("sub/b.txt"), "b").unwrap();
        symlink("..", input.join("sub/up")).unwrap();
        symlink(".", input.join("self")).unwrap();
        let (files, skipped) = walk(&input, false);
        assert_eq!(files, ["a.txt", "sub/b.txt"]);
        assert!(skipped.is_empty(), "{skipped:?}");
    }

    /// A link out of the input folder is named, not followed; with `follow_links` it is.
    #[test]
    fn links_leaving_the_input_are_named_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let (input, elsewhere) = (d.path().join("in"), d.path().join("elsewhere"));
        std::fs::create_dir_all(&input).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(input.join("a.txt"), "a").unwrap();
        std::fs::write(elsewhere.join("foreign.txt"), "x").unwrap();
        symlink(&elsewhere, input.join("docs")).unwrap();
        symlink(elsewhere.join("foreign.txt"), input.join("one.txt")).unwrap();
        symlink(input.join("a.txt"), input.join("alias.txt")).unwrap();
        let (files, skipped) = walk(&input, false);
        assert_eq!(files, ["a.txt", "alias.txt"], "a link inside the input is followed");
        let named: Vec<_> =
            skipped.iter().map(|s| s.link.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(named, ["docs", "one.txt"]);
        assert!(skipped.iter().all(|s| s.why.contains("leaves the input")));
        let (files, skipped) = walk(&input, true);
        assert_eq!(files, ["a.txt", "alias.txt", "docs/foreign.txt", "one.txt"]);
        assert!(skipped.is_empty());
    }

    /// A link to a device is never read, even when links may be followed anywhere.
    #[test]
    fn links_to_devices_are_not_read() {
        let d = tempfile::tempdir().unwrap();
        let input = d.path().join("in");
        std::fs::create_dir_all(input.join("ALTO")).unwrap();
        symlink("/dev/zero", input.join("ALTO/0001.xml")).unwrap();
        let (files, skipped) = walk(&input, true);
        assert!(files.is_empty(), "{files:?}");
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].why.contains("not a regular file"));
    }

    #[test]
    fn a_pattern_names_the_folder_before_its_first_glob() {
        let d = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(d.path()).unwrap();
        std::fs::create_dir_all(base.join("x/y")).unwrap();
        std::fs::write(base.join("x/y/f.txt"), "f").unwrap();
        assert_eq!(pattern_root(&base.join("x/*/f.txt")), base.join("x"));
        assert_eq!(pattern_root(&base.join("x/y")), base.join("x/y"));
        assert_eq!(pattern_root(&base.join("x/y/f.txt")), base.join("x/y"));
        assert_eq!(pattern_root(&base.join("x/**/*.txt")), base.join("x"));
    }
}

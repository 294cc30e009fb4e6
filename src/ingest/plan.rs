//! Planning a run: which files, in which format, grouped into which parts. The plan depends on
//! the inputs and the config only, never on timing or thread count, which is what makes output
//! reproducible and parts resumable.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::json;

use super::args::IngestOptions;
use super::context::CollectionPlan;
use super::error::IngestError;
use super::format::{self, Format};
use super::source::ReadError;
use super::walk::{pattern_root, Walk};
use super::{input, mets};
use crate::reject::Reason;

/// One input file of the plan.
#[derive(Debug, Clone)]
pub(super) struct Unit {
    pub(super) collection: usize,
    pub(super) path: PathBuf,
    /// Provenance path (relative to the config's folder), part of document ids.
    pub(super) rel: String,
    /// `Err` when the format could not be detected or the file not opened.
    pub(super) format: Result<Format, ReadError>,
    pub(super) size: u64,
    /// What says the file changed although its size did not: the modification times of the
    /// file (and of a METS package's pages), or with `hash_inputs` their content's xxh3.
    pub(super) stamp: u64,
    /// A byte range of the file, when a big uncompressed line-oriented file is split over parts.
    pub(super) range: Option<(u64, u64)>,
}

pub(super) fn part_plan_hash(salt: &str, units: &[Unit], part: &[usize]) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(salt.as_bytes());
    for &u in part {
        let u = &units[u];
        h.update(
            format!(
                "\0{}\0{}\0{}\0{:x}\0{:?}\0{:?}",
                u.collection,
                u.rel,
                u.size,
                u.stamp,
                u.format.as_ref().map(|f| f.as_str()),
                u.range
            )
            .as_bytes(),
        );
    }
    format!("{:032x}", h.digest128())
}

/// Expands the collections' globs into the sorted list of input units.
pub(super) fn plan_units(
    colls: &[CollectionPlan],
    base: &Path,
    opts: &IngestOptions,
) -> Result<(Vec<Unit>, serde_json::Value, u64), IngestError> {
    let (output, max_part_size, follow_links, strict) = (&opts.output, opts.part_size, opts.follow_links, opts.strict);
    let out_abs = std::fs::canonicalize(output).ok();
    let mut files: Vec<(usize, PathBuf)> = Vec::new();
    let mut inputs = Vec::new();
    // Never read our own output; resolved once per folder, not per file.
    let mut in_output: std::collections::HashMap<PathBuf, bool> = Default::default();
    for (ci, cp) in colls.iter().enumerate() {
        let mut found: BTreeSet<PathBuf> = BTreeSet::new();
        let excludes: Vec<glob::Pattern> = cp.c.exclude.iter().filter_map(|p| glob::Pattern::new(p).ok()).collect();
        for pattern in &cp.c.paths {
            let full = if Path::new(pattern).is_absolute() { PathBuf::from(pattern) } else { base.join(pattern) };
            let full_str = full.to_string_lossy().into_owned();
            // A path without glob characters names one file or folder: when it is not there, that
            // is a mistake to report, not an empty collection.
            if !pattern.contains(['*', '?', '[', '{']) && std::fs::symlink_metadata(&full).is_err() {
                return Err(IngestError::Other(format!(
                    "collection `{}`: `{}` does not exist (a glob that matches nothing is only a warning)",
                    cp.c.name,
                    full.display()
                )));
            }
            let matches: Vec<PathBuf> = if full.is_dir() {
                vec![full.clone()]
            } else {
                glob::glob(&full_str)
                    .map_err(|e| IngestError::Other(format!("collection `{}`: bad glob `{pattern}`: {e}", cp.c.name)))?
                    .filter_map(Result::ok)
                    .collect()
            };
            let before = found.len();
            let (root, mut walk) = (pattern_root(&full), Walk::new(follow_links));
            for m in matches {
                walk.add(&m, &root, &mut found);
            }
            let n = found.len() - before;
            if n == 0 && strict {
                return Err(IngestError::Other(format!(
                    "collection `{}`: `{}` matches no files (--strict)",
                    cp.c.name, pattern
                )));
            }
            if n == 0 {
                tracing::warn!("collection `{}`: `{}` matches no files", cp.c.name, pattern);
            }
            let mut entry = json!({"collection": cp.c.name, "pattern": pattern, "files": n});
            if !walk.skipped.is_empty() {
                entry["skipped_links"] = walk
                    .skipped
                    .iter()
                    .map(|s| json!({"link": s.link.display().to_string(), "target": s.target, "why": s.why}))
                    .collect();
            }
            inputs.push(entry);
        }
        for f in found {
            let dir = f.parent().unwrap_or(Path::new("")).to_path_buf();
            let inside = *in_output.entry(dir).or_insert_with_key(|d| {
                out_abs.as_ref().is_some_and(|o| std::fs::canonicalize(d).is_ok_and(|a| a.starts_with(o)))
            });
            if inside {
                continue;
            }
            let rel = rel_path(&f, base);
            if excludes.iter().any(|p| p.matches(&rel) || p.matches_path(&f)) {
                continue;
            }
            files.push((ci, f));
        }
    }
    // Detect formats (reading each file's first bytes) in parallel.
    let mut units: Vec<Unit> = files
        .par_iter()
        .map(|(ci, path)| {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            let rel = rel_path(path, base);
            let format = detect_file(path, colls[*ci].c.format);
            Unit { collection: *ci, path: path.clone(), rel, format, size, stamp: 0, range: None }
        })
        .collect();
    // Pages of METS packages are read through their package.
    let claimed: BTreeSet<PathBuf> = units
        .par_iter()
        .filter(|u| matches!(u.format, Ok(Format::Mets)))
        .flat_map_iter(|u| mets_bytes(colls, u).map(|b| mets::referenced_files(&u.path, &b)).unwrap_or_default())
        .collect();
    if !claimed.is_empty() {
        units.retain(|u| !claimed.contains(&u.path));
        for u in units.iter_mut().filter(|u| matches!(u.format, Ok(Format::Mets))) {
            if let Some(b) = mets_bytes(colls, u) {
                u.size += mets::referenced_files(&u.path, &b)
                    .iter()
                    .filter_map(|p| std::fs::metadata(p).ok())
                    .map(|m| m.len())
                    .sum::<u64>();
            }
        }
    }
    units.par_iter_mut().for_each(|u| {
        let mut files = vec![u.path.clone()];
        if matches!(u.format, Ok(Format::Mets)) && !claimed.is_empty() {
            if let Some(b) = mets_bytes(colls, u) {
                files.extend(mets::referenced_files(&u.path, &b));
            }
        }
        u.stamp = stamp(&files, opts.hash_inputs);
    });
    let part_size = part_size_for(units.iter().map(|u| u.size).sum(), max_part_size);
    // A big uncompressed JSONL file is split at line boundaries over several parts, so that
    // even one huge file is written by every core.
    let units = units
        .into_par_iter()
        .flat_map_iter(|u| {
            let splittable = u.size > part_size
                && matches!(u.format, Ok(f) if f.is_line_oriented())
                && input::head(&u.path, 0).is_ok()
                && raw_head(&u.path).is_some_and(|h| format::Compression::sniff(&h) == format::Compression::None);
            let ranges =
                if splittable { line_ranges(&u.path, u.size, part_size).unwrap_or_default() } else { Vec::new() };
            if ranges.len() <= 1 {
                return vec![u];
            }
            ranges.into_iter().map(|(a, b)| Unit { size: b - a, range: Some((a, b)), ..u.clone() }).collect()
        })
        .collect();
    Ok((units, json!(inputs), part_size))
}

/// The [`Unit::stamp`] of these files: their modification times (to the nanosecond), or
/// with `content` the xxh3 of their bytes (read once more; for stores whose times cannot be
/// trusted). A file that cannot be read stamps as absent: its task says why.
fn stamp(files: &[PathBuf], content: bool) -> u64 {
    use std::io::Read;
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for f in files {
        if content {
            let Ok(mut file) = std::fs::File::open(f) else {
                h.update(b"\0absent");
                continue;
            };
            let mut buf = vec![0u8; 1 << 20];
            while let Ok(n) = file.read(&mut buf) {
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            h.update(b"\0");
        } else {
            let t = std::fs::metadata(f).and_then(|m| m.modified()).ok();
            let ns = t.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
            h.update(&ns.to_le_bytes());
        }
    }
    h.digest()
}

fn raw_head(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut buf = vec![0u8; 4];
    let n = std::fs::File::open(path).ok()?.read(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// A METS file's bytes, read as its task will read them (bounded, a regular file only); `None`
/// when that fails (the task then rejects the file, saying why).
fn mets_bytes(colls: &[CollectionPlan], u: &Unit) -> Option<Vec<u8>> {
    let limit = colls[u.collection].options.max_doc_bytes.saturating_mul(4);
    input::read_file_bounded(&u.path, limit).ok()?.ok()
}

/// Cuts `[0, size)` into ranges of about `target` bytes that end just after a newline.
pub(super) fn line_ranges(path: &Path, size: u64, target: u64) -> std::io::Result<Vec<(u64, u64)>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let mut ranges = Vec::new();
    let mut start = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    while start < size {
        let mut end = start.saturating_add(target.max(1));
        if end >= size {
            ranges.push((start, size));
            break;
        }
        // Move the cut to just after the next newline.
        f.seek(SeekFrom::Start(end - 1))?;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                end = size;
                break;
            }
            if let Some(p) = memchr::memchr(b'\n', &buf[..n]) {
                end = end - 1 + p as u64 + 1;
                break;
            }
            end += n as u64;
        }
        let end = end.min(size);
        ranges.push((start, end));
        start = end;
    }
    Ok(ranges)
}

pub(super) fn rel_path(p: &Path, base: &Path) -> String {
    let base = if base.as_os_str().is_empty() { Path::new(".") } else { base };
    let s = p.strip_prefix(base).unwrap_or(p);
    s.to_string_lossy().replace('\\', "/")
}

pub(super) fn detect_file(path: &Path, declared: Option<Format>) -> Result<Format, ReadError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // A declared format is trusted without reading the file, unless the name says archive.
    if let Some(d) = declared {
        let lower = name.to_ascii_lowercase();
        if !(format::inner_name(&lower).ends_with(".tar") || lower.ends_with(".tgz")) {
            return Ok(d);
        }
    }
    let head = input::head(path, 8192).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
            ReadError::new(Reason::CorruptCompression, e.to_string())
        }
        _ => ReadError::new(Reason::IoError, e.to_string()),
    });
    let head = match head {
        Ok(h) => h,
        Err(e) => {
            // A truncated gzip can still fail on its first bytes; let the reader report it.
            if e.reason == Reason::CorruptCompression {
                return Ok(declared.unwrap_or(Format::Text));
            }
            return Err(e);
        }
    };
    let detected = format::detect(&name, &head);
    if detected == Some(Format::Tar) {
        return Ok(Format::Tar);
    }
    if let Some(d) = declared {
        return Ok(d);
    }
    if head.iter().all(u8::is_ascii_whitespace) {
        return Err(ReadError::new(Reason::EmptyFile, "the file is empty"));
    }
    if detected.is_none() && String::from_utf8_lossy(&head).contains("<!ENTITY") {
        return Err(ReadError::new(
            Reason::XmlEntities,
            "the DTD declares entities; kbcurate refuses entity declarations (entity expansion, external entities)",
        ));
    }
    detected.ok_or_else(|| {
        ReadError::new(
            Reason::UnknownFormat,
            "no reader recognises this file; set `format` for the collection (see `kbcurate ingest --help`)",
        )
    })
}

/// Parts hold at most `max` input bytes, and small inputs are cut finer (down to 8 MiB) so that
/// there are parts for 64 threads: each part writes its own file, and writing inside one part
/// is serial. The size depends on the inputs only, never on the thread count.
pub(super) fn part_size_for(total: u64, max: u64) -> u64 {
    (total / 64).clamp((8 << 20).min(max), max.max(1))
}

pub(super) fn group_parts(units: &[Unit], part_size: u64) -> Vec<Vec<usize>> {
    let mut parts: Vec<Vec<usize>> = Vec::new();
    let mut cur = Vec::new();
    let mut size = 0u64;
    for (i, u) in units.iter().enumerate() {
        if !cur.is_empty() && size + u.size > part_size {
            parts.push(std::mem::take(&mut cur));
            size = 0;
        }
        cur.push(i);
        size += u.size;
    }
    if !cur.is_empty() || parts.is_empty() {
        parts.push(cur);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ranges_cut_after_newlines_and_cover_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl");
        let body: String = (0..1000).map(|i| format!("{{\"text\": \"rad {i}\"}}\n")).collect();
        std::fs::write(&p, &body).unwrap();
        let r = line_ranges(&p, body.len() as u64, 1000).unwrap();
        assert!(r.len() > 10);
        assert_eq!(r[0].0, 0);
        assert_eq!(r.last().unwrap().1, body.len() as u64);
        for w in r.windows(2) {
            assert_eq!(w[0].1, w[1].0);
            assert_eq!(body.as_bytes()[w[0].1 as usize - 1], b'\n');
        }
    }
}

//! Sorted runs on disk and their k-way merge: how LSH buckets are formed with memory bounded by
//! one part, not the corpus. Each part writes, per band, its (key, document) pairs sorted by
//! key; a band's buckets are then read by merging the parts' runs as streams.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

/// One entry: a 128-bit key (band key, or exact-text hash) and a dense document index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub key: u128,
    pub doc: u64,
}

const ENTRY: usize = 24;

/// Sorts `entries` and writes them to `path` (through a temporary name).
pub fn write_run(path: &Path, entries: &mut [Entry]) -> io::Result<()> {
    entries.sort_unstable();
    let tmp = path.with_extension("tmp");
    let mut w = BufWriter::with_capacity(1 << 16, File::create(&tmp)?);
    for e in entries.iter() {
        w.write_all(&e.key.to_le_bytes())?;
        w.write_all(&e.doc.to_le_bytes())?;
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(tmp, path)
}

struct RunReader {
    r: BufReader<File>,
}

impl RunReader {
    fn next(&mut self) -> io::Result<Option<Entry>> {
        let mut b = [0u8; ENTRY];
        match self.r.read_exact(&mut b) {
            Ok(()) => Ok(Some(Entry {
                key: u128::from_le_bytes(b[..16].try_into().expect("16 bytes")),
                doc: u64::from_le_bytes(b[16..].try_into().expect("8 bytes")),
            })),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Merges sorted runs and calls `group` with each key's documents (in ascending order) when a
/// key has more than one. Memory: one buffered reader per run and one group.
pub fn merge_groups(paths: &[impl AsRef<Path>], group: impl FnMut(u128, &[u64]) -> io::Result<()>) -> io::Result<()> {
    merge(paths, 2, group)
}

/// As [`merge_groups`], for every key (single entries too).
pub fn merge_all(paths: &[impl AsRef<Path>], group: impl FnMut(u128, &[u64]) -> io::Result<()>) -> io::Result<()> {
    merge(paths, 1, group)
}

fn merge(
    paths: &[impl AsRef<Path>],
    min: usize,
    mut group: impl FnMut(u128, &[u64]) -> io::Result<()>,
) -> io::Result<()> {
    let mut readers = Vec::with_capacity(paths.len());
    for p in paths {
        readers.push(RunReader { r: BufReader::with_capacity(1 << 16, File::open(p.as_ref())?) });
    }
    let mut heap = BinaryHeap::new();
    for (i, r) in readers.iter_mut().enumerate() {
        if let Some(e) = r.next()? {
            heap.push(Reverse((e, i)));
        }
    }
    let mut current: Option<u128> = None;
    let mut docs: Vec<u64> = Vec::new();
    while let Some(Reverse((e, i))) = heap.pop() {
        if current != Some(e.key) {
            if let Some(k) = current {
                if docs.len() >= min {
                    group(k, &docs)?;
                }
            }
            current = Some(e.key);
            docs.clear();
        }
        docs.push(e.doc);
        if let Some(next) = readers[i].next()? {
            heap.push(Reverse((next, i)));
        }
    }
    if let (Some(k), true) = (current, docs.len() >= min) {
        group(k, &docs)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_runs_into_groups() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.run");
        let b = dir.path().join("b.run");
        write_run(&a, &mut [Entry { key: 5, doc: 1 }, Entry { key: 1, doc: 0 }, Entry { key: 9, doc: 2 }]).unwrap();
        write_run(
            &b,
            &mut [
                Entry { key: 5, doc: 11 },
                Entry { key: 9, doc: 10 },
                Entry { key: 7, doc: 12 },
                Entry { key: 5, doc: 13 },
            ],
        )
        .unwrap();
        let mut got = Vec::new();
        merge_groups(&[a, b], |k, d| {
            got.push((k, d.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(got, vec![(5, vec![1, 11, 13]), (9, vec![2, 10])]);
    }
}

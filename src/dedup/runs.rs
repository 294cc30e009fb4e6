//! Sorted runs on disk and their k-way merge: how LSH buckets are formed with memory bounded by
//! one part, not the corpus. Each part writes, per band, its (key, document) pairs sorted by
//! key; a band's buckets are then read by merging the parts' runs as streams.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::ops::RangeInclusive;
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
    write_entries(path, entries.iter().copied())
}

/// Writes entries, already in key order, to `path` (through a temporary name).
fn write_entries(path: &Path, entries: impl Iterator<Item = Entry>) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut w = BufWriter::with_capacity(1 << 16, File::create(&tmp)?);
    for e in entries {
        w.write_all(&e.key.to_le_bytes())?;
        w.write_all(&e.doc.to_le_bytes())?;
    }
    drop(w.into_inner().map_err(|e| e.into_error())?);
    std::fs::rename(tmp, path)
}

/// Entries grouped by the high half of their key (an LSH band, or the exact band): `keys[g]`
/// holds group `g`'s (low half, document) pairs, in any order.
#[derive(Debug, Default)]
pub struct Grouped {
    pub high: Vec<u64>,
    pub keys: Vec<Vec<(u64, u64)>>,
}

impl Grouped {
    /// Groups with these high halves (strictly increasing), each with room for `per_group`.
    pub fn new(high: Vec<u64>, per_group: usize) -> Grouped {
        assert!(high.windows(2).all(|w| w[0] < w[1]), "group keys must increase");
        let keys = high.iter().map(|_| Vec::with_capacity(per_group)).collect();
        Grouped { high, keys }
    }

    /// Sorts each group and writes the whole as a run: the same file as [`write_run`] on the
    /// union of the entries. A part's band keys sorted as one array of 32-byte entries went to
    /// memory at every step; a group (a few thousand 16-byte pairs) sorts in cache, and the
    /// high half is not compared at all.
    pub fn write_run(&mut self, path: &Path) -> io::Result<()> {
        let mut scratch = Vec::new();
        self.keys.iter_mut().for_each(|keys| sort_hashed(keys, &mut scratch));
        let entries = self.high.iter().zip(&self.keys).flat_map(|(high, keys)| {
            keys.iter().map(move |&(low, doc)| Entry { key: (*high as u128) << 64 | low as u128, doc })
        });
        write_entries(path, entries)
    }
}

/// Sorts (key, document) pairs whose keys are hash values, spread evenly over `u64`: a
/// counting pass scatters them into about one bucket per pair by the key's top bits, then each
/// bucket (a pair or two; more only where keys repeat) is sorted on its own. The same order as
/// `sort_unstable` (a total order, so the same bytes); ~9% of the signature step went to
/// sorting band keys as a comparison sort.
fn sort_hashed(keys: &mut Vec<(u64, u64)>, scratch: &mut Vec<(u64, u64)>) {
    let n = keys.len();
    if n < 64 {
        keys.sort_unstable();
        return;
    }
    let bits = (usize::BITS - (n - 1).leading_zeros()).min(20);
    let shift = 64 - bits;
    let mut starts = vec![0u32; (1 << bits) + 1];
    for &(k, _) in keys.iter() {
        starts[(k >> shift) as usize + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    scratch.clear();
    scratch.resize(n, (0, 0));
    let mut at = starts.clone();
    for &pair in keys.iter() {
        let b = (pair.0 >> shift) as usize;
        scratch[at[b] as usize] = pair;
        at[b] += 1;
    }
    for w in starts.windows(2) {
        let bucket = &mut scratch[w[0] as usize..w[1] as usize];
        if bucket.len() > 1 {
            bucket.sort_unstable();
        }
    }
    std::mem::swap(keys, scratch);
}

/// Runs mapped for reading: a buffered reader copied every 24-byte entry out through a
/// `read_exact` call, a quarter of the serial cluster step. Mapped, a run can also be read
/// from any key on (a binary search), so that ranges of keys merge in parallel.
pub struct MappedRuns {
    maps: Vec<Option<memmap2::Mmap>>,
}

/// The system's page size (mapped ranges are released in whole pages).
fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions; a failure returns -1, caught below.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

impl MappedRuns {
    pub fn open(paths: &[impl AsRef<Path>]) -> io::Result<MappedRuns> {
        let mut maps = Vec::with_capacity(paths.len());
        for p in paths {
            let path = p.as_ref();
            let f = File::open(path)?;
            let len = f.metadata()?.len();
            if len % ENTRY as u64 != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {len} bytes, not whole {ENTRY}-byte entries; run the step again", path.display()),
                ));
            }
            // SAFETY: runs are this stage's own work files, complete (renamed into place)
            // before any step reads them and never written again; an empty file is not mapped.
            maps.push(if len == 0 { None } else { Some(unsafe { memmap2::Mmap::map(&f)? }) });
        }
        Ok(MappedRuns { maps })
    }

    /// Merges the runs' entries whose key has its high half in `high` (an LSH band, or the
    /// exact band) and calls `group` with each key's documents, in ascending order, when the
    /// key has at least `min`. Keys come in ascending order.
    pub fn merge_in(
        &self,
        high: RangeInclusive<u64>,
        min: usize,
        mut group: impl FnMut(u128, &[u64]) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut cursors: Vec<&[u8]> = self.maps.iter().flatten().map(|m| entries_in(m, &high)).collect();
        let mut heap = BinaryHeap::with_capacity(cursors.len());
        for (i, c) in cursors.iter_mut().enumerate() {
            if let Some(e) = next(c) {
                heap.push(Reverse((e, i)));
            }
        }
        let mut current: Option<u128> = None;
        let mut docs: Vec<u64> = Vec::new();
        while let Some(mut top) = heap.peek_mut() {
            let Reverse((e, i)) = *top;
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
            // The run's next entry replaces the top in place: one sift down, where a pop and a
            // push cost two.
            match next(&mut cursors[i]) {
                Some(n) => *top = Reverse((n, i)),
                None => {
                    std::collections::binary_heap::PeekMut::pop(top);
                }
            }
        }
        if let (Some(k), true) = (current, docs.len() >= min) {
            group(k, &docs)?;
        }
        Ok(())
    }

    /// Gives back the pages of every entry whose key has its high half up to `high`, once they
    /// have been merged and will not be read again: keys are merged in ascending order (a band
    /// after another), so a run is done from its start up to there. The pages stay in the
    /// page cache, but leave this process's resident set, which otherwise grows to every run's
    /// size by the last band (Slurm's memory accounting may count it).
    pub fn release_through(&self, high: u64) {
        let page = page_size();
        for m in self.maps.iter().flatten() {
            let done = entries_in(m, &(0..=high)).len() / page * page;
            if done > 0 {
                // SAFETY: a read-only shared mapping of a file: dropped pages are read back
                // from the file if touched again, unchanged (the runs are never written while
                // mapped), so no borrowed slice can see other data. Nothing reads them again
                // anyway. A failure (an old kernel) only keeps the pages.
                let _ = unsafe { m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, 0, done) };
            }
        }
    }
}

fn entry_at(run: &[u8], i: usize) -> Entry {
    let b = &run[i * ENTRY..(i + 1) * ENTRY];
    Entry {
        key: u128::from_le_bytes(b[..16].try_into().expect("16 bytes")),
        doc: u64::from_le_bytes(b[16..].try_into().expect("8 bytes")),
    }
}

/// The bytes of the sorted run's entries whose key has its high half in `high`.
fn entries_in<'a>(run: &'a [u8], high: &RangeInclusive<u64>) -> &'a [u8] {
    let n = run.len() / ENTRY;
    let first_at_least = |h: u64| {
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if ((entry_at(run, mid).key >> 64) as u64) < h {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    };
    let from = first_at_least(*high.start());
    let to = high.end().checked_add(1).map_or(n, first_at_least);
    &run[from * ENTRY..to.max(from) * ENTRY]
}

fn next(cursor: &mut &[u8]) -> Option<Entry> {
    if cursor.is_empty() {
        return None;
    }
    let e = entry_at(cursor, 0);
    *cursor = &cursor[ENTRY..];
    Some(e)
}

/// Merges sorted runs and calls `group` with each key's documents (in ascending order) when a
/// key has more than one. Memory: the runs are mapped, and one group is held.
pub fn merge_groups(paths: &[impl AsRef<Path>], group: impl FnMut(u128, &[u64]) -> io::Result<()>) -> io::Result<()> {
    MappedRuns::open(paths)?.merge_in(0..=u64::MAX, 2, group)
}

/// As [`merge_groups`], for every key (single entries too).
pub fn merge_all(paths: &[impl AsRef<Path>], group: impl FnMut(u128, &[u64]) -> io::Result<()>) -> io::Result<()> {
    MappedRuns::open(paths)?.merge_in(0..=u64::MAX, 1, group)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Released pages are read back unchanged: merging a band again after its release, and the
    /// bands after it, give the same groups.
    #[test]
    fn released_bands_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for r in 0..3u64 {
            // Two bands of ~100k entries each (several pages per band and run).
            let mut entries: Vec<Entry> = (0..200_000u64)
                .map(|i| Entry { key: ((i % 2) as u128) << 64 | ((i * 7 + r) % 5000) as u128, doc: i * 3 + r })
                .collect();
            let p = dir.path().join(format!("{r}.run"));
            write_run(&p, &mut entries).unwrap();
            paths.push(p);
        }
        let runs = MappedRuns::open(&paths).unwrap();
        let groups = |band: u64| {
            let mut out = Vec::new();
            runs.merge_in(band..=band, 2, |k, docs| {
                out.push((k, docs.to_vec()));
                Ok(())
            })
            .unwrap();
            out
        };
        let (first, second) = (groups(0), groups(1));
        assert!(!first.is_empty() && !second.is_empty());
        runs.release_through(0);
        assert_eq!(groups(0), first);
        assert_eq!(groups(1), second);
        runs.release_through(1);
        assert_eq!(groups(1), second);
    }

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

    /// Merging band by band gives the groups of one merge over all bands, in the same order.
    #[test]
    fn ranges_of_bands_merge_like_the_whole() {
        let dir = tempfile::tempdir().unwrap();
        let high = vec![0, 1, 2, 5, u64::MAX];
        let mut paths = Vec::new();
        for r in 0..3u64 {
            let mut g = Grouped::new(high.clone(), 8);
            for (k, keys) in g.keys.iter_mut().enumerate() {
                for d in 0..20u64 {
                    keys.push(((d * 7 + k as u64 + r) % 6, r * 100 + d));
                }
            }
            let p = dir.path().join(format!("{r}.run"));
            g.write_run(&p).unwrap();
            paths.push(p);
        }
        std::fs::write(dir.path().join("empty.run"), b"").unwrap();
        paths.push(dir.path().join("empty.run"));
        let mut whole = Vec::new();
        merge_groups(&paths, |k, d| {
            whole.push((k, d.to_vec()));
            Ok(())
        })
        .unwrap();
        let runs = MappedRuns::open(&paths).unwrap();
        let mut banded = Vec::new();
        for h in [0, 1, 2, 3, 4, 5, u64::MAX] {
            runs.merge_in(h..=h, 2, |k, d| {
                assert_eq!((k >> 64) as u64, h);
                banded.push((k, d.to_vec()));
                Ok(())
            })
            .unwrap();
        }
        assert!(whole.len() > 20);
        assert_eq!(banded, whole);
        std::fs::write(dir.path().join("torn.run"), [0u8; 25]).unwrap();
        let e = MappedRuns::open(&[dir.path().join("torn.run")]).err().unwrap();
        assert!(e.to_string().contains("torn.run") && e.to_string().contains("25 bytes"), "{e}");
    }

    proptest::proptest! {
        /// The bucket sort of hashed keys gives `sort_unstable`'s order: keys over all of
        /// `u64` and keys crowded into a few buckets, repeated keys, any length.
        #[test]
        fn hashed_keys_sort_as_a_comparison_sort(
            pairs in proptest::collection::vec((proptest::prelude::any::<u64>(), 0u64..5, 0u64..100), 0..3000),
            crowd in 0u32..64,
        ) {
            let mut keys: Vec<(u64, u64)> = pairs.iter().map(|&(k, rep, doc)| {
                // Some keys repeated (duplicates share band keys), some shifted into few buckets.
                let k = if rep == 0 { 42 } else { k };
                (k >> crowd, doc)
            }).collect();
            let mut want = keys.clone();
            want.sort_unstable();
            sort_hashed(&mut keys, &mut Vec::new());
            proptest::prop_assert_eq!(keys, want);
        }

        /// A grouped run is byte for byte the run of its entries sorted as one.
        #[test]
        fn grouped_run_equals_sorted_run(
            pairs in proptest::collection::vec((0usize..4, 0u64..50, 0u64..20), 0..200)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let high = vec![0, 1, 7, u64::MAX];
            let mut grouped = Grouped::new(high.clone(), 4);
            let mut flat = Vec::new();
            for &(g, low, doc) in &pairs {
                grouped.keys[g].push((low, doc));
                flat.push(Entry { key: (high[g] as u128) << 64 | low as u128, doc });
            }
            let (a, b) = (dir.path().join("a.run"), dir.path().join("b.run"));
            grouped.write_run(&a).unwrap();
            write_run(&b, &mut flat).unwrap();
            proptest::prop_assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        }
    }
}

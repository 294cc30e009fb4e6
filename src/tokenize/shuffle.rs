//! Repeats, the seeded global shuffle, and the train/validation split.
//!
//! **Shuffle (external sort by hash key).** Each (document, repeat r) gets the key
//! `xxh3_64(id ‖ 0xff ‖ r, seed)`. The key's top bits pick one of B buckets (B chosen so that a
//! bucket's tokens fit the memory budget); pass one streams the dataset and appends each
//! record (key, document fields, token ids) to its bucket's spill file; pass two loads one bucket
//! at a time and sorts it by key. Reading buckets in order then gives the corpus sorted by a
//! uniform random key: a true global shuffle — copies of one document land far apart — with
//! memory bounded by one bucket (per worker), never a whole-corpus array. The order depends on
//! the seed and the document ids only: not on threads, parts or position.
//!
//! **Split.** A document (all its repeats) goes to validation when
//! `xxh3_64(id, seed ^ SPLIT_SALT) / 2^64 < fraction`: by document id, so a repeat never leaks
//! across splits, and in expectation the same fraction of every genre.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{io_err, TokenizeError};

pub fn key(seed: u64, id: &str, repeat: u32) -> u64 {
    let mut buf = Vec::with_capacity(id.len() + 5);
    buf.extend_from_slice(id.as_bytes());
    buf.push(0xff);
    buf.extend_from_slice(&repeat.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64_with_seed(&buf, seed)
}

/// The bucket of a key among `n` (by its top bits, so buckets are key ranges).
pub fn bucket(key: u64, n: u32) -> u32 {
    ((key as u128 * n as u128) >> 64) as u32
}

/// One (document, repeat) as spilled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: u64,
    pub id: String,
    pub repeat: u32,
    pub genre: Option<String>,
    pub decade: Option<i16>,
    pub source: Option<String>,
    pub tokens: Vec<u32>,
}

fn put_str(buf: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => buf.extend_from_slice(&u32::MAX.to_le_bytes()),
        Some(s) => {
            buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
            buf.extend_from_slice(s.as_bytes());
        }
    }
}

/// Appends a record's bytes to `buf`.
#[allow(clippy::too_many_arguments)]
pub fn encode_record(
    buf: &mut Vec<u8>,
    key: u64,
    id: &str,
    repeat: u32,
    genre: Option<&str>,
    decade: Option<i16>,
    source: Option<&str>,
    tokens: &[u32],
) {
    buf.extend_from_slice(&key.to_le_bytes());
    put_str(buf, Some(id));
    buf.extend_from_slice(&repeat.to_le_bytes());
    put_str(buf, genre);
    buf.extend_from_slice(&decade.unwrap_or(i16::MIN).to_le_bytes());
    put_str(buf, source);
    buf.extend_from_slice(&(tokens.len() as u32).to_le_bytes());
    for t in tokens {
        buf.extend_from_slice(&t.to_le_bytes());
    }
}

/// Parses records written by [`encode_record`].
pub fn decode_records(b: &[u8], out: &mut Vec<Record>) -> Result<(), String> {
    let mut o = 0usize;
    let take = |o: &mut usize, n: usize| -> Result<&[u8], String> {
        let s = b.get(*o..*o + n).ok_or("truncated spill record")?;
        *o += n;
        Ok(s)
    };
    let u32_ = |o: &mut usize| -> Result<u32, String> { Ok(u32::from_le_bytes(take(o, 4)?.try_into().unwrap())) };
    let str_ = |o: &mut usize| -> Result<Option<String>, String> {
        let n = u32_(o)?;
        if n == u32::MAX {
            return Ok(None);
        }
        let s = take(o, n as usize)?;
        Ok(Some(String::from_utf8(s.to_vec()).map_err(|_| "spill record: bad UTF-8")?))
    };
    while o < b.len() {
        let key = u64::from_le_bytes(take(&mut o, 8)?.try_into().unwrap());
        let id = str_(&mut o)?.ok_or("spill record without id")?;
        let repeat = u32_(&mut o)?;
        let genre = str_(&mut o)?;
        let decade = i16::from_le_bytes(take(&mut o, 2)?.try_into().unwrap());
        let source = str_(&mut o)?;
        let n = u32_(&mut o)? as usize;
        let tokens = take(&mut o, n * 4)?.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
        out.push(Record { key, id, repeat, genre, decade: (decade != i16::MIN).then_some(decade), source, tokens });
    }
    Ok(())
}

/// Buffers spill records per (split, bucket) and appends them to
/// `<dir>/<split>-<bucket>-p<part>.spill` in chunks: one writer per part, so files never
/// interleave between threads.
pub struct Spiller {
    dir: PathBuf,
    part: u32,
    bufs: Vec<Vec<u8>>,
    /// Bytes appended to each (split, bucket) file so far.
    written: Vec<u64>,
    buckets: u32,
    flush_at: usize,
}

pub const SPLITS: [&str; 2] = ["train", "validation"];

pub fn spill_path(dir: &Path, split: usize, bucket: u32, part: u32) -> PathBuf {
    dir.join(format!("{}-{bucket:05}-p{part:05}.spill", SPLITS[split]))
}

/// Removes the spill files (and part markers) of the parts `unfinished` selects: a part is spilled
/// by appending, so a partial spill must go before the part is spilled again.
pub fn remove_spills(dir: &Path, unfinished: impl Fn(u32) -> bool) -> Result<(), TokenizeError> {
    for e in fs::read_dir(dir).map_err(io_err(dir))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let part = name
            .strip_suffix(".spill")
            .and_then(|n| n.rsplit_once("-p"))
            .and_then(|(_, p)| p.parse::<u32>().ok())
            .or_else(|| name.strip_prefix("part-").and_then(|n| n.strip_suffix(".done")).and_then(|p| p.parse().ok()));
        if part.is_some_and(&unfinished) || name.starts_with(crate::dataset::TMP_PREFIX) {
            fs::remove_file(e.path()).map_err(io_err(&e.path()))?;
        }
    }
    Ok(())
}

impl Spiller {
    pub fn new(dir: &Path, part: u32, buckets: u32) -> Self {
        Spiller {
            dir: dir.to_path_buf(),
            part,
            bufs: vec![Vec::new(); 2 * buckets as usize],
            written: vec![0; 2 * buckets as usize],
            buckets,
            flush_at: 1 << 20,
        }
    }

    pub fn buf(&mut self, split: usize, bucket: u32) -> &mut Vec<u8> {
        &mut self.bufs[split * self.buckets as usize + bucket as usize]
    }

    /// Writes out buffers over the threshold (all with `all`).
    pub fn flush(&mut self, all: bool) -> Result<(), TokenizeError> {
        for (i, buf) in self.bufs.iter_mut().enumerate() {
            if buf.is_empty() || (!all && buf.len() < self.flush_at) {
                continue;
            }
            let (split, bucket) = (i / self.buckets as usize, (i % self.buckets as usize) as u32);
            let path = spill_path(&self.dir, split, bucket, self.part);
            let mut f = OpenOptions::new().create(true).append(true).open(&path).map_err(io_err(&path))?;
            f.write_all(buf).map_err(io_err(&path))?;
            self.written[i] += buf.len() as u64;
            buf.clear();
        }
        Ok(())
    }

    /// The name and length of every spill file written so far, for the part's marker.
    pub fn files(&self) -> Vec<(String, u64)> {
        let b = self.buckets as usize;
        (0..self.written.len())
            .filter(|&i| self.written[i] > 0)
            .map(|i| {
                let path = spill_path(&self.dir, i / b, (i % b) as u32, self.part);
                (path.file_name().expect("a file name").to_string_lossy().into_owned(), self.written[i])
            })
            .collect()
    }
}

/// Whether every file of `files` (names in `dir`, lengths) is there with its length: a part's
/// marker vouches for spill files that a crash may have cut short (they are not synced one by
/// one).
pub fn files_intact(dir: &Path, files: &[(String, u64)]) -> bool {
    files.iter().all(|(name, len)| fs::metadata(dir.join(name)).is_ok_and(|m| m.len() == *len))
}

/// All records of one (split, bucket), from every part in part order, sorted by (key, id,
/// repeat). The spill files stay until the stage ends, so an interrupted pass two can be rerun
/// without encoding again.
pub fn load_bucket(dir: &Path, split: usize, bucket: u32, parts: u32) -> Result<Vec<Record>, TokenizeError> {
    let mut out = Vec::new();
    for p in 0..parts {
        let path = spill_path(dir, split, bucket, p);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(TokenizeError::Io { path, source: e }),
        };
        decode_records(&bytes, &mut out).map_err(|why| TokenizeError::Invalid(format!("{}: {why}", path.display())))?;
    }
    out.sort_unstable_by(|a, b| (a.key, &a.id, a.repeat).cmp(&(b.key, &b.id, b.repeat)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let mut buf = Vec::new();
        encode_record(&mut buf, 7, "a", 0, Some("news"), Some(1890), None, &[1, 2, 3]);
        encode_record(&mut buf, 9, "b", 2, None, None, Some("kb"), &[]);
        let mut out = Vec::new();
        decode_records(&buf, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].tokens, vec![1, 2, 3]);
        assert_eq!(out[0].decade, Some(1890));
        assert_eq!((out[1].genre.as_deref(), out[1].source.as_deref(), out[1].repeat), (None, Some("kb"), 2));
        assert!(decode_records(&buf[..buf.len() - 1], &mut Vec::new()).is_err());
    }

    #[test]
    fn keys_spread() {
        let n = 20_000;
        let mut per_bucket = [0u32; 8];
        for i in 0..n {
            per_bucket[bucket(key(1, &format!("doc{i}"), 0), 8) as usize] += 1;
        }
        assert!(per_bucket.iter().all(|&c| (2_200..2_800).contains(&c)), "{per_bucket:?}");
        assert_ne!(key(1, "a", 0), key(1, "a", 1));
        assert_ne!(key(1, "a", 0), key(2, "a", 0));
    }
}

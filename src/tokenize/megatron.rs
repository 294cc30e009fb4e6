//! Megatron-LM's indexed dataset (`MMIDIDX`): a `.bin` of tokens and a `.idx` index.
//!
//! ```text
//! .idx: b"MMIDIDX\x00\x00"  u64 version = 1  u8 dtype code (4 = int32, 8 = uint16)
//!       u64 S (sequences)   u64 D (document indices = documents + 1)
//!       i32 lengths[S]      i64 byte pointers[S]   i64 document_indices[D]
//! .bin: the sequences' tokens back to back, little-endian, in the dtype
//! ```
//! All integers little-endian. `document_indices` starts at 0 and holds, after each document,
//! the number of sequences written so far (Megatron's `IndexedDatasetBuilder.end_document`).
//! Both files are written under temporary names and renamed into place by [`MegatronWriter::finish`].

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{io_err, TokenizeError};

pub const MAGIC: &[u8; 9] = b"MMIDIDX\x00\x00";
pub const VERSION: u64 = 1;
/// Vocabularies below this are stored as uint16 (Megatron's own rule of thumb).
pub const UINT16_VOCAB_LIMIT: usize = 65_500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    Uint16,
    Int32,
}

impl DType {
    pub fn for_vocab(vocab_size: usize) -> DType {
        if vocab_size < UINT16_VOCAB_LIMIT {
            DType::Uint16
        } else {
            DType::Int32
        }
    }
    pub fn code(self) -> u8 {
        match self {
            DType::Uint16 => 8,
            DType::Int32 => 4,
        }
    }
    pub fn from_code(c: u8) -> Option<DType> {
        match c {
            8 => Some(DType::Uint16),
            4 => Some(DType::Int32),
            _ => None,
        }
    }
    pub fn size(self) -> usize {
        match self {
            DType::Uint16 => 2,
            DType::Int32 => 4,
        }
    }
}

/// A file written: name relative to the shards folder, size, xxh3-64.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileSum {
    pub file: String,
    pub bytes: u64,
    pub xxh3: String,
}

pub struct MegatronWriter {
    bin: BufWriter<File>,
    /// The `.bin`'s temporary name ([`crate::dataset::temp_file`]).
    bin_tmp: crate::dataset::TempPath,
    hasher: xxhash_rust::xxh3::Xxh3,
    dir: PathBuf,
    rel: String,
    dtype: DType,
    lengths: Vec<i32>,
    doc_indices: Vec<i64>,
    buf: Vec<u8>,
}

impl MegatronWriter {
    /// Writes `<dir>/<rel>.bin` and `<dir>/<rel>.idx`.
    pub fn create(dir: &Path, rel: &str, dtype: DType) -> Result<Self, TokenizeError> {
        let path = dir.join(format!("{rel}.bin"));
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let (t, f) = crate::dataset::temp_file(&path)?;
        Ok(MegatronWriter {
            bin: BufWriter::with_capacity(1 << 20, f),
            bin_tmp: t,
            hasher: Default::default(),
            dir: dir.to_path_buf(),
            rel: rel.to_string(),
            dtype,
            lengths: Vec::new(),
            doc_indices: vec![0],
            buf: Vec::new(),
        })
    }

    /// Appends one sequence.
    pub fn add_sequence(&mut self, tokens: &[u32]) -> Result<(), TokenizeError> {
        self.buf.clear();
        match self.dtype {
            DType::Uint16 => {
                for &t in tokens {
                    let v = u16::try_from(t)
                        .map_err(|_| TokenizeError::Invalid(format!("token id {t} does not fit uint16 shards")))?;
                    self.buf.extend_from_slice(&v.to_le_bytes());
                }
            }
            DType::Int32 => {
                for &t in tokens {
                    let v = i32::try_from(t)
                        .map_err(|_| TokenizeError::Invalid(format!("token id {t} does not fit int32 shards")))?;
                    self.buf.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        self.bin.write_all(&self.buf).map_err(io_err(self.bin_tmp.path()))?;
        self.hasher.update(&self.buf);
        self.lengths.push(i32::try_from(tokens.len()).expect("sequence under 2^31 tokens"));
        Ok(())
    }

    /// Closes a document: the sequences since the last call form one.
    pub fn end_document(&mut self) {
        self.doc_indices.push(self.lengths.len() as i64);
    }

    pub fn sequences(&self) -> usize {
        self.lengths.len()
    }

    /// Writes the index and renames both files into place: (`.bin`, `.idx`). They are synced
    /// with the stage's manifest (`dataset::write_commit`).
    pub fn finish(self) -> Result<(FileSum, FileSum), TokenizeError> {
        let bin_path = self.dir.join(format!("{}.bin", self.rel));
        let idx_path = self.dir.join(format!("{}.idx", self.rel));
        let bin_tmp = self.bin_tmp;
        let f = self
            .bin
            .into_inner()
            .map_err(|e| TokenizeError::Io { path: bin_tmp.path().to_path_buf(), source: e.into_error() })?;
        let bin_bytes = f.metadata().map_err(io_err(bin_tmp.path()))?.len();
        drop(f);
        let idx = index_bytes(self.dtype, &self.lengths, &self.doc_indices);
        let (idx_tmp, mut f) = crate::dataset::temp_file(&idx_path)?;
        f.write_all(&idx).map_err(io_err(idx_tmp.path()))?;
        drop(f);
        bin_tmp.persist(&bin_path)?;
        idx_tmp.persist(&idx_path)?;
        Ok((
            FileSum {
                file: format!("{}.bin", self.rel),
                bytes: bin_bytes,
                xxh3: format!("{:016x}", self.hasher.digest()),
            },
            FileSum {
                file: format!("{}.idx", self.rel),
                bytes: idx.len() as u64,
                xxh3: format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&idx)),
            },
        ))
    }
}

/// The `.idx` bytes for these sequences.
pub fn index_bytes(dtype: DType, lengths: &[i32], doc_indices: &[i64]) -> Vec<u8> {
    let mut v = Vec::with_capacity(34 + lengths.len() * 12 + doc_indices.len() * 8);
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&VERSION.to_le_bytes());
    v.push(dtype.code());
    v.extend_from_slice(&(lengths.len() as u64).to_le_bytes());
    v.extend_from_slice(&(doc_indices.len() as u64).to_le_bytes());
    for l in lengths {
        v.extend_from_slice(&l.to_le_bytes());
    }
    let mut ptr = 0i64;
    for l in lengths {
        v.extend_from_slice(&ptr.to_le_bytes());
        ptr += *l as i64 * dtype.size() as i64;
    }
    for d in doc_indices {
        v.extend_from_slice(&d.to_le_bytes());
    }
    v
}

/// A parsed `.idx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub dtype: DType,
    pub lengths: Vec<i32>,
    pub pointers: Vec<i64>,
    pub doc_indices: Vec<i64>,
}

/// Parses and checks an `.idx`: magic, version, dtype, sizes, pointers consistent with lengths,
/// document indices from 0 to S, non-decreasing.
pub fn read_index(path: &Path) -> Result<Index, TokenizeError> {
    let b = fs::read(path).map_err(io_err(path))?;
    let bad = |why: String| TokenizeError::Invalid(format!("{}: {why}", path.display()));
    if b.len() < 34 || &b[..9] != MAGIC {
        return Err(bad("not a Megatron index (no MMIDIDX magic)".into()));
    }
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
    let version = u64_at(9);
    if version != VERSION {
        return Err(bad(format!("version {version}, expected {VERSION}")));
    }
    let dtype = DType::from_code(b[17]).ok_or_else(|| bad(format!("dtype code {} (expected 4 or 8)", b[17])))?;
    let (s, d) = (u64_at(18), u64_at(26));
    // Checked: a crafted header's counts must not wrap around to the file's real size.
    let want = s.checked_mul(12).and_then(|x| x.checked_add(d.checked_mul(8)?)).and_then(|x| x.checked_add(34));
    if want != Some(b.len() as u64) {
        let want = want.map_or("more than 2^64".to_string(), |w| w.to_string());
        return Err(bad(format!("{} bytes, but S = {s} and D = {d} make {want}", b.len())));
    }
    let (s, d) = (s as usize, d as usize);
    let mut o = 34;
    let lengths: Vec<i32> =
        (0..s).map(|i| i32::from_le_bytes(b[o + 4 * i..o + 4 * i + 4].try_into().unwrap())).collect();
    o += 4 * s;
    let pointers: Vec<i64> =
        (0..s).map(|i| i64::from_le_bytes(b[o + 8 * i..o + 8 * i + 8].try_into().unwrap())).collect();
    o += 8 * s;
    let doc_indices: Vec<i64> =
        (0..d).map(|i| i64::from_le_bytes(b[o + 8 * i..o + 8 * i + 8].try_into().unwrap())).collect();
    let mut ptr = 0i64;
    for (i, (&l, &p)) in lengths.iter().zip(&pointers).enumerate() {
        if l < 0 || p != ptr {
            return Err(bad(format!("sequence {i}: length {l}, pointer {p}, expected pointer {ptr}")));
        }
        ptr += l as i64 * dtype.size() as i64;
    }
    if doc_indices.first() != Some(&0)
        || doc_indices.last() != Some(&(s as i64))
        || doc_indices.windows(2).any(|w| w[0] > w[1])
    {
        return Err(bad(format!("document indices must rise from 0 to {s}")));
    }
    Ok(Index { dtype, lengths, pointers, doc_indices })
}

impl Index {
    /// Bytes the `.bin` must have.
    pub fn bin_bytes(&self) -> u64 {
        self.lengths.iter().map(|&l| l as u64).sum::<u64>() * self.dtype.size() as u64
    }

    /// Tokens of sequence `i` from the `.bin` bytes.
    pub fn sequence(&self, bin: &[u8], i: usize) -> Vec<u32> {
        let start = self.pointers[i] as usize;
        let n = self.lengths[i] as usize;
        let b = &bin[start..start + n * self.dtype.size()];
        match self.dtype {
            DType::Uint16 => b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as u32).collect(),
            DType::Int32 => b.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap()) as u32).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_exact_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = MegatronWriter::create(dir.path(), "train/shard-00000", DType::Uint16).unwrap();
        w.add_sequence(&[1, 2, 3]).unwrap();
        w.end_document();
        w.add_sequence(&[65_000]).unwrap();
        w.add_sequence(&[]).unwrap();
        w.end_document();
        assert!(w.add_sequence(&[70_000]).is_err(), "uint16 overflow is an error");
        let (bin, idx) = w.finish().unwrap();
        let idx_bytes = fs::read(dir.path().join(&idx.file)).unwrap();
        let mut want = Vec::new();
        want.extend_from_slice(b"MMIDIDX\x00\x00");
        want.extend_from_slice(&1u64.to_le_bytes());
        want.push(8);
        want.extend_from_slice(&3u64.to_le_bytes());
        want.extend_from_slice(&3u64.to_le_bytes());
        for l in [3i32, 1, 0] {
            want.extend_from_slice(&l.to_le_bytes());
        }
        for p in [0i64, 6, 8] {
            want.extend_from_slice(&p.to_le_bytes());
        }
        for d in [0i64, 1, 3] {
            want.extend_from_slice(&d.to_le_bytes());
        }
        assert_eq!(idx_bytes, want);
        let bin_bytes = fs::read(dir.path().join(&bin.file)).unwrap();
        assert_eq!(bin_bytes, [1, 0, 2, 0, 3, 0, 0xe8, 0xfd]);
        assert_eq!(bin.xxh3, format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bin_bytes)));
        let index = read_index(&dir.path().join(&idx.file)).unwrap();
        assert_eq!(index.sequence(&bin_bytes, 1), vec![65_000]);
        assert_eq!(index.bin_bytes(), 8);
        // A damaged header is named.
        let mut bad = idx_bytes.clone();
        bad[17] = 5;
        fs::write(dir.path().join("bad.idx"), &bad).unwrap();
        let err = read_index(&dir.path().join("bad.idx")).unwrap_err().to_string();
        assert!(err.contains("bad.idx") && err.contains("dtype code 5"), "{err}");
        // S = 2^62 makes 12·S wrap to 0, so 34 + 12·S + 8·D "is" the 34 bytes of the header
        // alone: named, not trusted, no panic.
        let mut wrap = idx_bytes[..34].to_vec();
        let (s, d) = (1u64 << 62, 0u64);
        wrap[18..26].copy_from_slice(&s.to_le_bytes());
        wrap[26..34].copy_from_slice(&d.to_le_bytes());
        fs::write(dir.path().join("wrap.idx"), &wrap).unwrap();
        let err = read_index(&dir.path().join("wrap.idx")).unwrap_err().to_string();
        assert!(err.contains("wrap.idx") && err.contains("more than 2^64"), "{err}");
    }

    #[test]
    fn dtype_rule() {
        assert_eq!(DType::for_vocab(32_000), DType::Uint16);
        assert_eq!(DType::for_vocab(65_500), DType::Int32);
        assert_eq!(DType::for_vocab(100_277), DType::Int32);
    }
}

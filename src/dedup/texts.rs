//! The normalized text of every document, kept beside its signature for verification: a
//! candidate pair is confirmed by aligning the two texts ([`super::align`]), never by the
//! signatures alone. A part's texts lie one after another in `text-N.bin`; `text-N.off` holds
//! the `rows + 1` byte offsets (u64, little-endian) that cut them apart. The signatures step
//! writes them into `_work/`, and a saved index keeps its kept documents' texts the same way.
//! They take about as much disk as the corpus's text while the stage runs.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::error::{io_err, DedupError};

/// The data and offset files of a text store at `stem` (`…/text-N`).
pub(super) fn paths(dir: &Path, stem: &str) -> [PathBuf; 2] {
    [dir.join(format!("{stem}.bin")), dir.join(format!("{stem}.off"))]
}

/// Writes a text store through temporary files, renamed into place by [`TextWriter::finish`].
pub(super) struct TextWriter {
    data: BufWriter<File>,
    offsets: BufWriter<File>,
    tmp: [PathBuf; 2],
    path: [PathBuf; 2],
    at: u64,
}

impl TextWriter {
    pub(super) fn create(path: [PathBuf; 2]) -> Result<TextWriter, DedupError> {
        let tmp = [path[0].with_extension("bin.tmp"), path[1].with_extension("off.tmp")];
        let open = |p: &Path| -> Result<BufWriter<File>, DedupError> {
            Ok(BufWriter::with_capacity(1 << 20, File::create(p).map_err(io_err(p))?))
        };
        let mut offsets = open(&tmp[1])?;
        offsets.write_all(&0u64.to_le_bytes()).map_err(io_err(&tmp[1]))?;
        Ok(TextWriter { data: open(&tmp[0])?, offsets, tmp, path, at: 0 })
    }

    pub(super) fn push(&mut self, text: &str) -> Result<(), DedupError> {
        self.data.write_all(text.as_bytes()).map_err(io_err(&self.tmp[0]))?;
        self.at += text.len() as u64;
        self.offsets.write_all(&self.at.to_le_bytes()).map_err(io_err(&self.tmp[1]))
    }

    pub(super) fn finish(self) -> Result<(), DedupError> {
        for (w, (tmp, path)) in [self.data, self.offsets].into_iter().zip(self.tmp.iter().zip(&self.path)) {
            drop(w.into_inner().map_err(|e| DedupError::Io { path: tmp.clone(), source: e.into_error() })?);
            std::fs::rename(tmp, path).map_err(io_err(path))?;
        }
        Ok(())
    }
}

/// A text store, mapped.
pub(super) struct TextStore {
    data: memmap2::Mmap,
    offsets: memmap2::Mmap,
}

impl TextStore {
    /// Opens the store of a part of `rows` documents, checking that its files agree.
    pub(super) fn open(path: &[PathBuf; 2], rows: u64) -> Result<TextStore, DedupError> {
        let map = |p: &Path| -> Result<memmap2::Mmap, DedupError> {
            let f = File::open(p).map_err(io_err(p))?;
            // SAFETY: the stores are this stage's own (`_work/`) or a saved index's, complete
            // before the cluster step starts (their markers say so) and not written while it
            // runs; offsets are checked against the data before any text is read.
            unsafe { memmap2::Mmap::map(&f) }.map_err(io_err(p))
        };
        let (data, offsets) = (map(&path[0])?, map(&path[1])?);
        let store = TextStore { data, offsets };
        let damaged = |what: &str| {
            DedupError::Other(format!(
                "{}: {what}; run the signatures step again (or rebuild the saved index)",
                path[1].display()
            ))
        };
        if store.offsets.len() as u64 != (rows + 1) * 8 {
            return Err(damaged(&format!("{} bytes of offsets for {rows} documents", store.offsets.len())));
        }
        if store.offset(rows as usize) != store.data.len() as u64 {
            return Err(damaged("the offsets do not end where the texts do"));
        }
        if (0..rows as usize).any(|r| store.offset(r) > store.offset(r + 1)) {
            return Err(damaged("offsets out of order"));
        }
        Ok(store)
    }

    fn offset(&self, i: usize) -> u64 {
        u64::from_le_bytes(self.offsets[8 * i..8 * i + 8].try_into().expect("8 bytes"))
    }

    /// The normalized text of row `row` (empty if the bytes are not UTF-8, which a store
    /// written by this stage never holds).
    pub(super) fn get(&self, row: usize) -> &str {
        let (a, b) = (self.offset(row) as usize, self.offset(row + 1) as usize);
        std::str::from_utf8(&self.data[a..b]).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path(), "text-0");
        let mut w = TextWriter::create(p.clone()).unwrap();
        for t in ["forsta sidan", "", "tredje 1861"] {
            w.push(t).unwrap();
        }
        w.finish().unwrap();
        let s = TextStore::open(&p, 3).unwrap();
        assert_eq!((s.get(0), s.get(1), s.get(2)), ("forsta sidan", "", "tredje 1861"));
        let e = TextStore::open(&p, 4).err().expect("wrong row count").to_string();
        assert!(e.contains("text-0.off") && e.contains("for 4 documents"), "{e}");
        std::fs::write(&p[0], b"forsta sidan").unwrap();
        let e = TextStore::open(&p, 3).err().expect("cut data").to_string();
        assert!(e.contains("do not end where the texts do"), "{e}");
    }
}

//! Reading inputs: decompression (gzip, zstd; told by magic bytes), bounded reads, line chunks
//! for line-oriented formats, and tar members (never extracted to disk).

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Component, Path};

use super::format::Compression;

/// How many times its own size a compressed input may expand to. Text compresses 3–10×
/// (highly repetitive JSONL perhaps 30×); a file that expands further is a decompression
/// bomb, whose bytes would cost CPU time out of all proportion (1 MB of newline-free
/// `.jsonl.zst` streams 30 GB) even when every line is skipped as too long.
pub const MAX_EXPANSION: u64 = 100;

/// Every compressed input may expand to at least this many bytes, whatever its size.
const EXPANSION_FLOOR: u64 = 64 << 20;

/// The error a decompressing reader gives when its input expands past its limit
/// ([`MAX_EXPANSION`]); found again with [`is_expansion_limit`].
#[derive(Debug, thiserror::Error)]
#[error(
    "decompressed to more than {limit} bytes, over {MAX_EXPANSION}× the {compressed} compressed bytes: \
     a decompression bomb? (unpack it and ingest the plain file if it is real)"
)]
pub struct ExpansionLimit {
    pub limit: u64,
    pub compressed: u64,
}

/// Whether `e` is an [`ExpansionLimit`].
pub fn is_expansion_limit(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<ExpansionLimit>())
}

/// A decompressing reader that stops with [`ExpansionLimit`] past `limit` bytes.
struct Expansion<R> {
    inner: R,
    left: u64,
    limit: u64,
    compressed: u64,
}

impl<R: Read> Read for Expansion<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(io::Error::other(ExpansionLimit { limit: self.limit, compressed: self.compressed }));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Opens a file, transparently decompressing gzip and zstd (expanding at most
/// [`MAX_EXPANSION`] times the file's size).
pub fn open(path: &Path) -> io::Result<(Box<dyn Read + Send>, Compression)> {
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    // 64 KiB: large enough for few syscalls, small enough to stay off mmap for every file.
    let mut f = BufReader::with_capacity(64 << 10, file);
    let head = {
        use std::io::BufRead;
        f.fill_buf()?.get(..4).map(|h| h.to_vec()).unwrap_or_else(|| f.buffer().to_vec())
    };
    let c = Compression::sniff(&head);
    Ok((decompress(Box::new(f), c, size)?, c))
}

/// `r` decompressed as `c` says, stopping with [`ExpansionLimit`] when `compressed` bytes expand
/// past [`MAX_EXPANSION`] times their size.
pub fn decompress(r: Box<dyn Read + Send>, c: Compression, compressed: u64) -> io::Result<Box<dyn Read + Send>> {
    let limit = compressed.saturating_mul(MAX_EXPANSION).max(EXPANSION_FLOOR);
    let bounded = |inner: Box<dyn Read + Send>| -> Box<dyn Read + Send> {
        Box::new(Expansion { inner, left: limit, limit, compressed })
    };
    Ok(match c {
        Compression::None => r,
        Compression::Gzip => bounded(Box::new(flate2::read::MultiGzDecoder::new(r))),
        Compression::Zstd => bounded(Box::new(zstd::stream::read::Decoder::new(r)?)),
    })
}

/// The first `n` bytes of the decompressed content (fewer for a short file).
pub fn head(path: &Path, n: usize) -> io::Result<Vec<u8>> {
    let (r, _) = open(path)?;
    let mut buf = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Reads to the end, but at most `max` bytes: `Ok(Err(n))` when the input is larger (`n` =
/// bytes seen before giving up).
pub fn read_bounded(r: &mut dyn Read, max: usize, size_hint: u64) -> io::Result<Result<Vec<u8>, u64>> {
    let mut buf = Vec::with_capacity((size_hint as usize).min(max).saturating_add(1));
    let n = r.take((max as u64).saturating_add(1)).read_to_end(&mut buf)?;
    if n > max {
        return Ok(Err(n as u64));
    }
    Ok(Ok(buf))
}

/// A file's bytes as they are on disk (no decompression), at most `max`: `Ok(Err(n))` when it
/// is larger. Only a regular file is read: a path that is (or links to) a device, a FIFO or a
/// socket is an error, never a read that cannot end.
pub fn read_file_bounded(path: &Path, max: usize) -> io::Result<Result<Vec<u8>, u64>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
    }
    read_bounded(&mut File::open(path)?, max, meta.len())
}

/// A chunk of whole lines.
#[derive(Debug, Default)]
pub struct LineChunk {
    pub bytes: Vec<u8>,
    /// Byte offset of the chunk's first line in the (decompressed) input.
    pub offset: u64,
    /// Lines longer than the limit, skipped without being buffered: (byte offset, bytes).
    pub oversized: Vec<(u64, u64)>,
    /// Input bytes this chunk accounts for (including skipped lines).
    pub input_bytes: u64,
}

/// Splits a stream into chunks of about `chunk_size` bytes that end at a newline. A line longer
/// than `max_line` is skipped (streamed past, never held in memory) and reported.
pub struct LineChunker<R: Read> {
    reader: R,
    chunk_size: usize,
    max_line: usize,
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for a newline.
    scanned: usize,
    last_nl: Option<usize>,
    /// Byte offset of `buf[0]` in the input.
    offset: u64,
    eof: bool,
    /// A read error seen after some complete lines: those are handed out first.
    pending_err: Option<io::Error>,
}

impl<R: Read> LineChunker<R> {
    pub fn new(reader: R, chunk_size: usize, max_line: usize) -> Self {
        Self {
            reader,
            chunk_size: chunk_size.max(1),
            max_line,
            buf: Vec::new(),
            scanned: 0,
            last_nl: None,
            offset: 0,
            eof: false,
            pending_err: None,
        }
    }

    /// Offsets count from `offset` (for a byte range that starts inside a file).
    pub fn starting_at(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }

    fn fill(&mut self) -> io::Result<usize> {
        let old = self.buf.len();
        let want = (self.chunk_size / 4).clamp(64 << 10, 4 << 20);
        self.buf.resize(old + want, 0);
        let n = loop {
            match self.reader.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(old);
                    // Hand out the complete lines read so far; the cut-off line is lost with the stream.
                    if let Some(nl) = self.last_nl {
                        self.buf.truncate(nl + 1);
                        self.pending_err = Some(e);
                        self.eof = true;
                        return Ok(0);
                    }
                    return Err(e);
                }
            }
        };
        self.buf.truncate(old + n);
        if n == 0 {
            self.eof = true;
        }
        if let Some(p) = memchr::memrchr(b'\n', &self.buf[self.scanned..]) {
            self.last_nl = Some(self.scanned + p);
        }
        self.scanned = self.buf.len();
        Ok(n)
    }

    fn take_until(&mut self, end: usize, oversized: Vec<(u64, u64)>, skipped: u64) -> LineChunk {
        let rest = self.buf.split_off(end);
        let bytes = std::mem::replace(&mut self.buf, rest);
        let offset = self.offset;
        self.offset += bytes.len() as u64;
        self.scanned = self.buf.len();
        self.last_nl = memchr::memrchr(b'\n', &self.buf);
        let input_bytes = bytes.len() as u64 + skipped;
        LineChunk { bytes, offset, oversized, input_bytes }
    }

    fn next_chunk(&mut self) -> io::Result<Option<LineChunk>> {
        if self.buf.is_empty() {
            if let Some(e) = self.pending_err.take() {
                return Err(e);
            }
        }
        let mut oversized = Vec::new();
        let mut skipped = 0u64;
        loop {
            if let Some(nl) = self.last_nl {
                if self.buf.len() >= self.chunk_size || self.eof {
                    return Ok(Some(self.take_until(nl + 1, oversized, skipped)));
                }
            } else if self.buf.len() > self.max_line {
                // A line longer than the limit: stream past its end.
                let mut size = self.buf.len() as u64;
                self.buf.clear();
                self.scanned = 0;
                loop {
                    if self.fill()? == 0 {
                        break;
                    }
                    if let Some(p) = memchr::memchr(b'\n', &self.buf) {
                        size += p as u64 + 1;
                        self.buf.drain(..=p);
                        break;
                    }
                    size += self.buf.len() as u64;
                    self.buf.clear();
                    self.scanned = 0;
                }
                self.scanned = 0;
                self.last_nl = None;
                if let Some(p) = memchr::memrchr(b'\n', &self.buf) {
                    self.last_nl = Some(p);
                }
                self.scanned = self.buf.len();
                oversized.push((self.offset, size));
                skipped += size;
                self.offset += size;
                continue;
            } else if self.eof {
                if self.buf.is_empty() && oversized.is_empty() {
                    return Ok(None);
                }
                let end = self.buf.len();
                return Ok(Some(self.take_until(end, oversized, skipped)));
            }
            if !self.eof {
                self.fill()?;
            }
        }
    }
}

impl<R: Read> Iterator for LineChunker<R> {
    type Item = io::Result<LineChunk>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk().transpose()
    }
}

/// Whether a tar member path stays inside the archive (no `..`, not absolute).
pub fn safe_member_path(p: &Path) -> bool {
    p.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir)) && p.components().next().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chunks(input: &[u8], size: usize, max_line: usize) -> Vec<LineChunk> {
        LineChunker::new(input, size, max_line).map(|c| c.unwrap()).collect()
    }

    #[test]
    fn chunks_end_at_newlines_and_number_lines() {
        let c = chunks(b"a\nbb\nccc\ndddd", 4, 100);
        let joined: Vec<u8> = c.iter().flat_map(|c| c.bytes.clone()).collect();
        assert_eq!(joined, b"a\nbb\nccc\ndddd");
        for ch in &c[..c.len() - 1] {
            assert_eq!(ch.bytes.last(), Some(&b'\n'));
        }
        assert_eq!(c[0].offset, 0);
        assert_eq!(c[1].offset, c[0].bytes.len() as u64);
        let last = c.last().unwrap();
        assert!(last.bytes.ends_with(b"dddd"));
    }

    /// A few kB of zstd that expand to 256 MiB of one line: the reader stops at the limit
    /// (here the 64 MiB floor, more than 100× the file), long before the end.
    #[test]
    fn a_decompression_bomb_stops_at_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bomb.jsonl.zst");
        {
            let mut enc = zstd::stream::write::Encoder::new(File::create(&path).unwrap(), 1).unwrap();
            let zeros = vec![b'x'; 1 << 20];
            for _ in 0..256 {
                io::Write::write_all(&mut enc, &zeros).unwrap();
            }
            enc.finish().unwrap();
        }
        let size = std::fs::metadata(&path).unwrap().len();
        let (r, c) = open(&path).unwrap();
        assert_eq!(c, Compression::Zstd);
        let mut seen = 0u64;
        let mut err = None;
        for chunk in LineChunker::new(r, 1 << 20, 1 << 20) {
            match chunk {
                Ok(c) => seen += c.input_bytes,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let err = err.expect("the bomb is stopped");
        assert!(is_expansion_limit(&err), "{err}");
        assert!(err.to_string().contains("decompression bomb"), "{err}");
        let limit = (size * MAX_EXPANSION).max(EXPANSION_FLOOR);
        assert!(seen <= limit, "{seen} bytes streamed past a limit of {limit}");
        // A file within the limit reads to its end.
        let ok = dir.path().join("ok.jsonl.gz");
        let mut gz = flate2::write::GzEncoder::new(File::create(&ok).unwrap(), flate2::Compression::default());
        io::Write::write_all(&mut gz, &b"{\"text\": \"hej\"}\n".repeat(1000)).unwrap();
        gz.finish().unwrap();
        let (mut r, _) = open(&ok).unwrap();
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(all.len(), 16 * 1000);
    }

    #[test]
    fn oversized_lines_are_skipped_not_buffered() {
        let mut input = b"ok1\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 300_000));
        input.extend(b"\nok3\n");
        let c = chunks(&input, 1024, 1000);
        let oversized: Vec<(u64, u64)> = c.iter().flat_map(|c| c.oversized.clone()).collect();
        assert_eq!(oversized, vec![(4, 300_001)]);
        let text: Vec<u8> = c.iter().flat_map(|c| c.bytes.clone()).collect();
        assert_eq!(text, b"ok1\nok3\n");
        let offset_of_ok3 = c.iter().find(|c| c.bytes.starts_with(b"ok3")).unwrap().offset;
        assert_eq!(offset_of_ok3, 4 + 300_001);
        assert_eq!(c.iter().map(|c| c.input_bytes).sum::<u64>(), input.len() as u64);
    }

    #[test]
    fn member_paths() {
        assert!(safe_member_path(Path::new("a/b.xml")));
        assert!(safe_member_path(Path::new("./a.xml")));
        assert!(!safe_member_path(Path::new("../evil.xml")));
        assert!(!safe_member_path(Path::new("a/../../evil.xml")));
        assert!(!safe_member_path(Path::new("/etc/passwd")));
    }

    proptest! {
        #[test]
        fn chunking_loses_nothing(lines in proptest::collection::vec("[a-z]{0,40}", 0..60), size in 1usize..200) {
            let input = lines.join("\n");
            let c = chunks(input.as_bytes(), size, 1 << 20);
            let joined: Vec<u8> = c.iter().flat_map(|c| c.bytes.clone()).collect();
            prop_assert_eq!(joined, input.as_bytes().to_vec());
            let mut offset = 0;
            for ch in &c {
                prop_assert_eq!(ch.offset, offset);
                offset += ch.bytes.len() as u64;
            }
        }
    }
}

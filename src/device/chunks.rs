//! How a batch's documents are cut into chunks of raw text, one normalization thread each: the
//! layout the GPU's `normalize_chunks` kernel reads and the CPU references of its loop
//! (`dedup::batch`, `tokenize::merge`) walk the same way.

/// Bytes of raw text per normalization thread: small enough that a long document is spread
/// over many threads, large enough that finding a chunk's first letter (up to a word) is little
/// extra work.
pub const NORMALIZE_CHUNK: usize = 1024;

/// A batch's documents cut into chunks for `normalize_chunks`: chunk `k` starts at byte
/// `begin[k]` of document `doc[k]`; document `d`'s chunks start at `first[d]` (`first[docs]`
/// is the number of chunks). Every document has at least one chunk, an empty one included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chunks {
    pub begin: Vec<u32>,
    pub doc: Vec<u32>,
    pub first: Vec<u32>,
}

impl Chunks {
    /// The chunks of the documents at `offsets` (`docs + 1` byte offsets), `size` bytes each.
    pub fn of(offsets: &[u32], size: usize) -> Self {
        let mut c = Chunks::default();
        for (d, w) in offsets.windows(2).enumerate() {
            c.first.push(c.begin.len() as u32);
            let mut at = w[0];
            loop {
                c.begin.push(at);
                c.doc.push(d as u32);
                at = at.saturating_add(size as u32);
                if at >= w[1] {
                    break;
                }
            }
        }
        c.first.push(c.begin.len() as u32);
        c
    }

    pub fn len(&self) -> usize {
        self.begin.len()
    }

    pub fn is_empty(&self) -> bool {
        self.begin.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_document() {
        let c = Chunks::of(&[0, 0, 5, 2053, 2054], 1024);
        assert_eq!(c.begin, vec![0, 0, 5, 1029, 2053]);
        assert_eq!(c.doc, vec![0, 1, 2, 2, 3]);
        assert_eq!(c.first, vec![0, 1, 2, 4, 5]);
        let c = Chunks::of(&[0, 2048], 1024);
        assert_eq!((c.begin, c.first), (vec![0, 1024], vec![0, 2]));
    }
}

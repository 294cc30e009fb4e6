//! Packing documents into fixed-length windows: pure functions over document lengths (tokens,
//! BOS/EOS included), so they are tested and benchmarked without any text.
//!
//! - [`concat()`]: documents joined end to end and cut every `seq_len` tokens (Megatron's way).
//!   Documents straddling a cut are truncated (split over two windows); only the last window
//!   may be short.
//! - [`best_fit`]: Best-Fit-Decreasing (Ding et al. 2024, "Fewer Truncations Improve Language
//!   Modeling"). Only documents longer than the window are split: into whole windows plus a
//!   remainder. Remainders and short documents, longest first, each go into the open window
//!   with the least room that still fits it whole (or a new window); the rest is padding.
//!
//! Both return windows as lists of [`Piece`]s: which document, from which token, how many.
//! Document boundaries inside a window are the pieces' offsets (`cu_seqlens`).

/// A run of one document's tokens inside a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Index into the lengths given.
    pub doc: u32,
    /// First token of the document in this piece.
    pub start: u32,
    pub len: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    Concat,
    BestFit,
}

impl Strategy {
    pub fn as_str(&self) -> &'static str {
        match self {
            Strategy::Concat => "concat",
            Strategy::BestFit => "best-fit",
        }
    }
}

/// Windows of pieces: window `w` holds `pieces[bounds[w]..bounds[w + 1]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Packing {
    pub seq_len: u32,
    pub pieces: Vec<Piece>,
    pub bounds: Vec<usize>,
}

/// What a packing did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PackStats {
    pub documents: u64,
    pub tokens: u64,
    pub windows: u64,
    /// `windows × seq_len − tokens`: padding, or missing from a short last window.
    pub pad_tokens: u64,
    /// Documents split over more than one window.
    pub truncated_documents: u64,
}

impl PackStats {
    pub fn padding_share(&self) -> f64 {
        let total = self.tokens + self.pad_tokens;
        if total == 0 {
            0.0
        } else {
            self.pad_tokens as f64 / total as f64
        }
    }

    pub fn add(&mut self, o: &PackStats) {
        self.documents += o.documents;
        self.tokens += o.tokens;
        self.windows += o.windows;
        self.pad_tokens += o.pad_tokens;
        self.truncated_documents += o.truncated_documents;
    }
}

impl Packing {
    pub fn windows(&self) -> usize {
        self.bounds.len().saturating_sub(1)
    }

    pub fn window(&self, w: usize) -> &[Piece] {
        &self.pieces[self.bounds[w]..self.bounds[w + 1]]
    }

    pub fn stats(&self, lengths: &[u32]) -> PackStats {
        let mut pieces = vec![0u32; lengths.len()];
        for p in &self.pieces {
            pieces[p.doc as usize] += 1;
        }
        let tokens: u64 = self.pieces.iter().map(|p| p.len as u64).sum();
        PackStats {
            documents: lengths.iter().filter(|&&n| n > 0).count() as u64,
            tokens,
            windows: self.windows() as u64,
            pad_tokens: self.windows() as u64 * self.seq_len as u64 - tokens,
            truncated_documents: pieces.iter().filter(|&&n| n > 1).count() as u64,
        }
    }
}

/// Packs `lengths` by concatenation into windows of `seq_len`.
pub fn concat(lengths: &[u32], seq_len: u32) -> Packing {
    assert!(seq_len > 0, "seq_len must be positive");
    let total: u64 = lengths.iter().map(|&n| n as u64).sum();
    let mut out = Packing { seq_len, pieces: Vec::with_capacity(lengths.len() * 2), bounds: vec![0] };
    out.bounds.reserve((total / seq_len as u64) as usize + 1);
    let mut pos = 0u32;
    for (d, &n) in lengths.iter().enumerate() {
        let mut s = 0u32;
        while s < n {
            let take = (n - s).min(seq_len - pos);
            out.pieces.push(Piece { doc: d as u32, start: s, len: take });
            s += take;
            pos += take;
            if pos == seq_len {
                out.bounds.push(out.pieces.len());
                pos = 0;
            }
        }
    }
    if pos > 0 {
        out.bounds.push(out.pieces.len());
    }
    out
}

/// Packs `lengths` best-fit-decreasing into windows of `seq_len`. Deterministic: ties go to
/// the earlier document; windows come out ordered by the first document they hold.
pub fn best_fit(lengths: &[u32], seq_len: u32) -> Packing {
    assert!(seq_len > 0, "seq_len must be positive");
    let l = seq_len as usize;
    // Whole windows cut from long documents, and the items left to place.
    let mut full: Vec<Piece> = Vec::new();
    let mut items: Vec<Piece> = Vec::with_capacity(lengths.len());
    for (d, &n) in lengths.iter().enumerate() {
        let mut s = 0u32;
        while n - s >= seq_len {
            full.push(Piece { doc: d as u32, start: s, len: seq_len });
            s += seq_len;
        }
        if s < n {
            items.push(Piece { doc: d as u32, start: s, len: n - s });
        }
    }
    // Longest first (stable on document order: counting sort by length).
    let mut count = vec![0usize; l + 1];
    for p in &items {
        count[p.len as usize] += 1;
    }
    let mut at = vec![0usize; l + 1];
    let mut acc = 0;
    for len in (1..=l).rev() {
        at[len] = acc;
        acc += count[len];
    }
    let mut sorted = vec![Piece { doc: 0, start: 0, len: 0 }; items.len()];
    for p in items {
        sorted[at[p.len as usize]] = p;
        at[p.len as usize] += 1;
    }
    // Open windows by remaining room: a stack per room size and a bitmap of non-empty rooms.
    let mut by_room: Vec<Vec<u32>> = vec![Vec::new(); l + 1];
    let mut bits = vec![0u64; l / 64 + 1];
    let mut window_of: Vec<u32> = Vec::with_capacity(sorted.len());
    let mut room: Vec<u32> = Vec::new();
    for p in &sorted {
        let need = p.len as usize;
        let w = match first_set_at_or_after(&bits, need) {
            Some(r) => {
                let w = by_room[r].pop().expect("bit set for a non-empty room");
                if by_room[r].is_empty() {
                    bits[r / 64] &= !(1u64 << (r % 64));
                }
                w
            }
            None => {
                room.push(seq_len);
                room.len() as u32 - 1
            }
        };
        room[w as usize] -= p.len;
        let r = room[w as usize] as usize;
        if r > 0 {
            by_room[r].push(w);
            bits[r / 64] |= 1u64 << (r % 64);
        }
        window_of.push(w);
    }
    // Assemble: full windows and packed windows, ordered by their first document.
    let n_packed = room.len();
    let mut first = vec![u32::MAX; n_packed];
    let mut size = vec![0usize; n_packed];
    for (p, &w) in sorted.iter().zip(&window_of) {
        first[w as usize] = first[w as usize].min(p.doc);
        size[w as usize] += 1;
    }
    // Each packed window's pieces in document order (ascending): gather then sort in place.
    let mut start = vec![0usize; n_packed + 1];
    for w in 0..n_packed {
        start[w + 1] = start[w] + size[w];
    }
    let mut packed = vec![Piece { doc: 0, start: 0, len: 0 }; sorted.len()];
    let mut fill = start.clone();
    for (p, &w) in sorted.iter().zip(&window_of) {
        packed[fill[w as usize]] = *p;
        fill[w as usize] += 1;
    }
    for w in 0..n_packed {
        packed[start[w]..start[w + 1]].sort_unstable_by_key(|p| (p.doc, p.start));
    }
    // Order: (first doc, first start); full windows of one document keep their order.
    enum Win {
        Full(usize),
        Packed(usize),
    }
    let mut order: Vec<(u32, u32, Win)> =
        full.iter().enumerate().map(|(i, p)| (p.doc, p.start, Win::Full(i))).collect();
    order.extend((0..n_packed).map(|w| (first[w], packed[start[w]].start, Win::Packed(w))));
    order.sort_unstable_by_key(|(d, s, _)| (*d, *s));
    let mut out = Packing { seq_len, pieces: Vec::with_capacity(full.len() + packed.len()), bounds: vec![0] };
    out.bounds.reserve(order.len());
    for (_, _, w) in order {
        match w {
            Win::Full(i) => out.pieces.push(full[i]),
            Win::Packed(w) => out.pieces.extend_from_slice(&packed[start[w]..start[w + 1]]),
        }
        out.bounds.push(out.pieces.len());
    }
    out
}

/// The first set bit at index ≥ `from`.
fn first_set_at_or_after(bits: &[u64], from: usize) -> Option<usize> {
    let mut i = from / 64;
    if i >= bits.len() {
        return None;
    }
    let mut word = bits[i] & (u64::MAX << (from % 64));
    loop {
        if word != 0 {
            return Some(i * 64 + word.trailing_zeros() as usize);
        }
        i += 1;
        if i >= bits.len() {
            return None;
        }
        word = bits[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every token of every document exactly once, in order; no window over seq_len.
    fn check(p: &Packing, lengths: &[u32]) {
        let mut next = vec![0u32; lengths.len()];
        let mut seen: Vec<Vec<Piece>> = vec![Vec::new(); lengths.len()];
        for w in 0..p.windows() {
            let used: u32 = p.window(w).iter().map(|x| x.len).sum();
            assert!(used <= p.seq_len, "window {w} holds {used} > {}", p.seq_len);
            assert!(!p.window(w).is_empty(), "empty window {w}");
            for x in p.window(w) {
                assert!(x.len > 0);
                seen[x.doc as usize].push(*x);
            }
        }
        for (d, pieces) in seen.iter_mut().enumerate() {
            pieces.sort_by_key(|x| x.start);
            for x in pieces.iter() {
                assert_eq!(x.start, next[d], "doc {d}: gap or duplicate");
                next[d] += x.len;
            }
            assert_eq!(next[d], lengths[d], "doc {d}: tokens lost");
        }
    }

    #[test]
    fn concat_cuts_every_window() {
        let p = concat(&[3, 5, 2], 4);
        check(&p, &[3, 5, 2]);
        assert_eq!(p.windows(), 3);
        let s = p.stats(&[3, 5, 2]);
        assert_eq!((s.tokens, s.pad_tokens, s.truncated_documents), (10, 2, 1));
        assert_eq!(p.window(0), &[Piece { doc: 0, start: 0, len: 3 }, Piece { doc: 1, start: 0, len: 1 }]);
    }

    #[test]
    fn best_fit_places_whole_documents() {
        // 6+2 and 5+3 fill two windows of 8; 10 = 8 + 2 (the only split); 2 joins a window.
        let lengths = [6, 5, 3, 2, 10];
        let p = best_fit(&lengths, 8);
        check(&p, &lengths);
        let s = p.stats(&lengths);
        assert_eq!(s.truncated_documents, 1);
        assert_eq!(s.windows, 4, "{p:?}");
        assert_eq!(s.pad_tokens, 4 * 8 - 26);
    }

    proptest! {
        #[test]
        fn packings_lose_and_duplicate_nothing(lengths in prop::collection::vec(0u32..200, 0..300), seq_len in 1u32..90) {
            let c = concat(&lengths, seq_len);
            check(&c, &lengths);
            for w in 0..c.windows().saturating_sub(1) {
                prop_assert_eq!(c.window(w).iter().map(|x| x.len).sum::<u32>(), seq_len);
            }
            let b = best_fit(&lengths, seq_len);
            check(&b, &lengths);
            for (d, &n) in lengths.iter().enumerate() {
                let pieces = b.pieces.iter().filter(|x| x.doc as usize == d).count() as u32;
                // Short documents are never cut; long ones only into whole windows + one remainder.
                prop_assert_eq!(pieces, n.div_ceil(seq_len), "doc {} of {} tokens", d, n);
            }
            // Best-fit never needs more windows than concat plus one per split document... and
            // never more than one window per document.
            prop_assert!(b.windows() <= lengths.iter().map(|n| n.div_ceil(seq_len) as usize).sum::<usize>());
        }
    }
}

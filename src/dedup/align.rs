//! The measure that confirms a duplicate: the two normalized texts aligned word by word.
//!
//! MinHash finds candidates by shared shingles, and shared shingles cannot tell a noisy copy
//! from a different document on the same template: two shipping lists or two weeks of banns
//! share most of their character n-grams (their words come from short lists), while a copy
//! read by a 19th-century engine keeps only a third of them. What separates the two is order
//! and nearness: a copy has the original's words *in the original's order*, each the same or
//! a near miss (a few letters confused), while a templated document has other names, in
//! another order, where the copy would have near misses. So the score is the longest common
//! subsequence of the two word sequences, where two words match when they are equal or
//! within a third of their letters of each other (Levenshtein), over the longer text's words.
//!
//! Figures (all-digit words) match when equal or one digit off (a digit dropped, doubled
//! or misread). Two market-price lists differ only in their prices, so their words align
//! almost entirely; a copy rarely changes a figure by more than a digit (an engine's
//! misread digit mostly becomes a letter, or one other digit). The alignment is therefore
//! run a second time with every figure matching every figure: the extra words it aligns
//! are figures that stand where the other text has other figures
//! ([`Alignment::figure_conflict`]), and many of them mean different facts, not a copy.
//!
//! The alignment is bit-parallel (Allison & Dix 1986; Hyyrö 2004): one column of the dynamic
//! programme per word of the second text, 64 rows per machine word. The recurrence needs only
//! each column's match vector, so the fuzzy match relation (not an equivalence) is allowed;
//! the tests check it against the plain dynamic programme.

use rustc_hash::FxHashMap as HashMap;

/// How two texts align.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alignment {
    /// Words aligned in order (equal or near misses, figures only when equal) over the longer
    /// text's word count: 1 for equal texts, about 0.3 for unrelated ones.
    pub score: f64,
    /// Figures (all-digit words) in the first and the second text.
    pub figures: (u32, u32),
    /// Aligned places where both texts hold figures that differ by more than one digit, over
    /// the fewer figures of the two; 0 when either text has fewer than the `min_figures`
    /// asked for.
    pub figure_conflict: f64,
}

/// One text prepared as the first side of alignments: its words, and for each distinct word
/// the bit vector of its positions. Preparing costs about as much as one alignment, so a
/// kept copy compared with many others is prepared once.
pub struct Prepared<'t> {
    n: usize,
    words: usize,
    index: HashMap<&'t str, u32>,
    distinct: Vec<Word<'t>>,
    /// How often each distinct word occurs.
    counts: Vec<u32>,
    /// `distinct.len() × words` machine words: the positions of each distinct word.
    masks: Vec<u64>,
    /// The positions of every figure.
    figure_mask: Vec<u64>,
    figures: u32,
    /// Distinct non-figure words sorted by length in characters, for the near-miss search,
    /// with their filters beside them (one contiguous scan); `len_start[l]` is where words of
    /// `l` characters begin.
    by_len: Vec<Candidate>,
    len_start: Vec<u32>,
    /// Distinct figures.
    figure_words: Vec<u32>,
}

/// The words of the prepared text that one alignment's near misses may stand for (those it
/// has more of than the other text): per distinct word, and as candidates by length.
struct Spare<'s> {
    is: &'s [bool],
    by_len: Vec<Candidate>,
    len_start: Vec<u32>,
}

/// A distinct word of the prepared text as the near-miss search scans it.
#[derive(Clone, Copy)]
struct Candidate {
    charset: u64,
    pairs: u64,
    d: u32,
    chars: u32,
}

struct Word<'t> {
    text: &'t str,
    chars: u32,
    /// One bit per letter (mod 64) and one per pair of neighbouring letters (hashed): cheap
    /// filters before the edit distance.
    charset: u64,
    pairs: u64,
    figure: bool,
}

/// The other side of an alignment, counted against the prepared text.
struct Tally<'o> {
    /// Distinct words in order of first occurrence.
    entries: Vec<Entry<'o>>,
    /// The text as indices into `entries`.
    seq: Vec<u32>,
    /// Per distinct word of the prepared text: whether it occurs more often there than here.
    spare: Vec<bool>,
}

struct Entry<'o> {
    text: &'o str,
    count: u32,
    /// The equal distinct word of the prepared text.
    equal: Option<u32>,
}

impl<'t> Word<'t> {
    fn of(text: &'t str) -> Word<'t> {
        let (mut chars, mut charset, mut pairs, mut last) = (0u32, 0u64, 0u64, 0u32);
        for c in text.chars() {
            chars += 1;
            charset |= 1u64 << (c as u32 % 64);
            pairs |= 1u64 << ((last.wrapping_mul(31).wrapping_add(c as u32)).wrapping_mul(0x9E37_79B1) >> 26);
            last = c as u32;
        }
        Word { text, chars, charset, pairs, figure: !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) }
    }
}

/// The edits allowed between two words whose longer one has `m` characters: a third of its
/// letters, at least one; words of one or two letters match only when equal.
fn allowed_edits(m: u32) -> u32 {
    if m < 3 {
        0
    } else {
        (m / 3).max(1)
    }
}

/// Whether `a` and `b` (neither a figure, not equal) are a near miss of each other (the
/// tests' reference; the search inlines it).
#[cfg(test)]
fn near(a: &Word, b: &Word) -> bool {
    filters_pass(a, b) && levenshtein_within(a.text, b.text, allowed_edits(a.chars.max(b.chars)) as usize)
}

/// Cheap necessary conditions of [`near`]: a third of the letters may be edited, and an edit
/// changes at most two letters of the set and four neighbour pairs (two gone, two new; the
/// word's start counts as a letter).
#[cfg(test)]
fn filters_pass(a: &Word, b: &Word) -> bool {
    let k = allowed_edits(a.chars.max(b.chars));
    k > 0
        && a.chars.abs_diff(b.chars) <= k
        && (a.charset ^ b.charset).count_ones() <= 2 * k
        && (a.pairs ^ b.pairs).count_ones() <= 4 * k
}

/// A word of at most 64 ASCII letters as the pattern of Myers' bit-vector edit distance
/// (1999, in Hyyrö's form): the distance to another word in one pass over its letters.
struct Pattern {
    peq: [u64; 128],
    len: usize,
}

impl Pattern {
    fn of(word: &str) -> Option<Pattern> {
        if !word.is_ascii() || word.is_empty() || word.len() > 64 {
            return None;
        }
        let mut peq = [0u64; 128];
        for (i, b) in word.bytes().enumerate() {
            peq[b as usize] |= 1u64 << i;
        }
        Some(Pattern { peq, len: word.len() })
    }

    /// The Levenshtein distance from the pattern to `text` (ASCII).
    fn distance(&self, text: &[u8]) -> usize {
        let last = 1u64 << (self.len - 1);
        let (mut pv, mut mv, mut score) = (u64::MAX, 0u64, self.len);
        for &c in text {
            let eq = self.peq[(c & 127) as usize];
            let xv = eq | mv;
            let xh = ((eq & pv).wrapping_add(pv) ^ pv) | eq;
            let mut ph = mv | !(xh | pv);
            let mut mh = pv & xh;
            if ph & last != 0 {
                score += 1;
            } else if mh & last != 0 {
                score -= 1;
            }
            ph = (ph << 1) | 1;
            mh <<= 1;
            pv = mh | !(xv | ph);
            mv = ph & xv;
        }
        score
    }
}

/// Whether the Levenshtein distance of `a` and `b` is at most `k` (words are short: the plain
/// dynamic programme, stopped as soon as a row exceeds `k`; over bytes, on the stack, when
/// both are ASCII and short, as normalized words nearly always are).
fn levenshtein_within(a: &str, b: &str, k: usize) -> bool {
    const MAX: usize = 64;
    if a.is_ascii() && b.is_ascii() && a.len() < MAX && b.len() < MAX {
        let mut rows = [[0u8; MAX]; 2];
        return within(a.as_bytes(), b.as_bytes(), k, &mut rows);
    }
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = [vec![0usize; b.len() + 1], vec![0usize; b.len() + 1]];
    within(&a, &b, k, &mut rows)
}

/// The check of [`levenshtein_within`] with two rows of at least `b.len() + 1` cells, whose
/// type holds `a.len() + b.len()`.
fn within<T: PartialEq, R: AsMut<[C]>, C: Copy + Ord + TryFrom<usize> + Into<usize>>(
    a: &[T],
    b: &[T],
    k: usize,
    rows: &mut [R; 2],
) -> bool {
    let c = |v: usize| C::try_from(v).unwrap_or_else(|_| unreachable!("rows hold a.len() + b.len()"));
    let [r0, r1] = rows;
    let (mut prev, mut cur) = (&mut r0.as_mut()[..=b.len()], &mut r1.as_mut()[..=b.len()]);
    for (j, p) in prev.iter_mut().enumerate() {
        *p = c(j);
    }
    for (i, x) in a.iter().enumerate() {
        cur[0] = c(i + 1);
        let mut best = i + 1;
        for (j, y) in b.iter().enumerate() {
            let v = (prev[j].into() + (x != y) as usize).min(prev[j + 1].into() + 1).min(cur[j].into() + 1);
            cur[j + 1] = c(v);
            best = best.min(v);
        }
        if best > k {
            return false;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()].into() <= k
}

impl<'t> Prepared<'t> {
    /// `text` normalized (words separated by single spaces, as the dedup normalization writes).
    pub fn new(text: &'t str) -> Prepared<'t> {
        let tokens: Vec<&str> = text.split(' ').filter(|t| !t.is_empty()).collect();
        let n = tokens.len();
        let words = n.div_ceil(64).max(1);
        let mut index: HashMap<&str, u32> = HashMap::with_capacity_and_hasher(n, Default::default());
        let mut distinct: Vec<Word> = Vec::new();
        let mut counts: Vec<u32> = Vec::new();
        let mut masks: Vec<u64> = Vec::new();
        let mut figure_mask = vec![0u64; words];
        let mut figures = 0u32;
        for (i, t) in tokens.iter().enumerate() {
            let d = *index.entry(t).or_insert_with(|| {
                distinct.push(Word::of(t));
                counts.push(0);
                masks.extend(std::iter::repeat_n(0u64, words));
                (distinct.len() - 1) as u32
            }) as usize;
            counts[d] += 1;
            masks[d * words + i / 64] |= 1u64 << (i % 64);
            if distinct[d].figure {
                figure_mask[i / 64] |= 1u64 << (i % 64);
                figures += 1;
            }
        }
        let figure_words: Vec<u32> = (0..distinct.len() as u32).filter(|&d| distinct[d as usize].figure).collect();
        let mut by_len: Vec<Candidate> = distinct
            .iter()
            .enumerate()
            .filter(|(_, w)| !w.figure)
            .map(|(d, w)| Candidate { charset: w.charset, pairs: w.pairs, d: d as u32, chars: w.chars })
            .collect();
        by_len.sort_unstable_by_key(|c| (c.chars, c.d));
        let longest = by_len.last().map_or(0, |c| c.chars as usize);
        let len_start: Vec<u32> =
            (0..=longest + 1).map(|l| by_len.partition_point(|c| (c.chars as usize) < l) as u32).collect();
        Prepared { n, words, index, distinct, counts, masks, figure_mask, figures, by_len, len_start, figure_words }
    }

    /// Words in the text.
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    fn mask(&self, d: u32) -> &[u64] {
        &self.masks[d as usize * self.words..(d as usize + 1) * self.words]
    }

    /// The positions of this text that `word` of the other text, which has no equal word
    /// here (a word the other text's engine got wrong), matches: its near misses among the
    /// words this text has more of than the other (`spare`: a misread word stands where the
    /// other text lost an instance of its original). `out` starts as zeros.
    fn near_column(&self, word: &Word, spare: &Spare, out: &mut [u64]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU has POPCNT (checked just above), the only requirement of
            // `near_column_popcnt`.
            return unsafe { self.near_column_popcnt(word, spare, out) };
        }
        self.near_column_body(word, spare, out)
    }

    /// [`Prepared::near_column`] with the filters' bit counts in one instruction each (the
    /// baseline x86-64 target counts bits in a dozen).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    unsafe fn near_column_popcnt(&self, word: &Word, spare: &Spare, out: &mut [u64]) {
        self.near_column_body(word, spare, out)
    }

    #[inline(always)]
    fn near_column_body(&self, word: &Word, spare: &Spare, out: &mut [u64]) {
        if word.figure {
            // A figure matches figures one digit off (a dropped, doubled or misread digit);
            // figures further apart are other figures.
            for &d in &self.figure_words {
                if spare.is[d as usize] && levenshtein_within(self.distinct[d as usize].text, word.text, 1) {
                    for (o, m) in out.iter_mut().zip(self.mask(d)) {
                        *o |= m;
                    }
                }
            }
            return;
        }
        // Shorter words within a third of this one's letters; longer ones within a third of
        // theirs, which reaches words half as long again.
        let n = word.chars as usize;
        let lo = n.saturating_sub(allowed_edits(word.chars) as usize).min(spare.len_start.len() - 1);
        let hi = (n * 3 / 2 + 1).min(spare.len_start.len() - 1);
        let range = spare.len_start[lo] as usize..spare.len_start[hi] as usize;
        // The word as a bit-parallel pattern (most normalized words are short ASCII).
        let pattern = Pattern::of(word.text);
        for c in &spare.by_len[range] {
            // The filters of `near`, on the candidate's own copy of them.
            let k = allowed_edits(c.chars.max(word.chars));
            if k == 0
                || c.chars.abs_diff(word.chars) > k
                || (c.charset ^ word.charset).count_ones() > 2 * k
                || (c.pairs ^ word.pairs).count_ones() > 4 * k
            {
                continue;
            }
            let x = &self.distinct[c.d as usize];
            let is_near = match &pattern {
                Some(p) if x.text.is_ascii() => p.distance(x.text.as_bytes()) <= k as usize,
                _ => levenshtein_within(x.text, word.text, k as usize),
            };
            if is_near {
                for (o, m) in out.iter_mut().zip(self.mask(c.d)) {
                    *o |= m;
                }
            }
        }
    }

    /// The near-miss search's candidates for one alignment: the words marked in `is`.
    fn spare<'s>(&self, is: &'s [bool]) -> Spare<'s> {
        let by_len: Vec<Candidate> = self.by_len.iter().filter(|c| is[c.d as usize]).copied().collect();
        let len_start =
            (0..self.len_start.len()).map(|l| by_len.partition_point(|c| (c.chars as usize) < l) as u32).collect();
        Spare { is, by_len, len_start }
    }

    /// `other`'s words against this text: each distinct word once, with its count and its
    /// equal word here; and which of this text's words `other` has fewer of (the only ones a
    /// misread word of `other` may stand for).
    fn tally<'o>(&self, other: &'o str) -> Tally<'o> {
        let mut entries: Vec<Entry<'o>> = Vec::with_capacity(self.distinct.len());
        let mut seen: HashMap<&'o str, u32> =
            HashMap::with_capacity_and_hasher(2 * self.distinct.len(), Default::default());
        let mut seq: Vec<u32> = Vec::with_capacity(self.n + self.n / 2);
        for t in other.split(' ').filter(|t| !t.is_empty()) {
            let e = *seen.entry(t).or_insert_with(|| {
                entries.push(Entry { text: t, count: 0, equal: self.index.get(t).copied() });
                (entries.len() - 1) as u32
            });
            entries[e as usize].count += 1;
            seq.push(e);
        }
        let mut spare: Vec<bool> = self.counts.iter().map(|_| true).collect();
        for e in &entries {
            if let Some(d) = e.equal {
                spare[d as usize] = self.counts[d as usize] > e.count;
            }
        }
        Tally { entries, seq, spare }
    }

    /// [`Prepared::align`], unless a bound that costs one alignment on equal words alone
    /// shows that its score stays below `floor`: then `None`.
    pub fn align_unless_below(&self, other: &str, min_figures: u32, floor: f64) -> Option<Alignment> {
        let tally = self.tally(other);
        self.bound_reaches(&tally, floor).then(|| self.align_tally(&tally, min_figures))
    }

    /// Whether `tally`'s text may align with this text at `floor` or above: false only when
    /// the equal-word alignment plus the near misses there could be falls short. A near miss
    /// pairs a word of the other text with no equal word here with a word that it has fewer
    /// of than this text, so there are at most as many as the fewer of those two kinds of
    /// place.
    fn bound_reaches(&self, tally: &Tally, floor: f64) -> bool {
        let longer = self.n.max(tally.seq.len());
        if longer == 0 {
            return 1.0 >= floor;
        }
        let none = vec![0u64; self.words];
        let unmatched = tally.seq.iter().filter(|&&e| tally.entries[e as usize].equal.is_none()).count();
        let spare: usize = self.counts.iter().zip(&tally.spare).filter(|(_, &s)| s).map(|(&c, _)| c as usize).sum();
        let equal = self.lcs(tally.seq.iter().map(|&e| match tally.entries[e as usize].equal {
            Some(d) => self.mask(d),
            None => &none[..],
        }));
        ((equal + unmatched.min(spare)) as f64) >= floor * longer as f64
    }

    /// Aligns `other` (normalized like this text) against this text. Figures are compared
    /// when both texts have at least `min_figures` of them.
    pub fn align(&self, other: &str, min_figures: u32) -> Alignment {
        self.align_tally(&self.tally(other), min_figures)
    }

    fn align_tally(&self, tally: &Tally, min_figures: u32) -> Alignment {
        let longer = self.n.max(tally.seq.len());
        if longer == 0 {
            return Alignment { score: 1.0, figures: (0, 0), figure_conflict: 0.0 };
        }
        // An equal word's column is its mask here; the others' are computed once each.
        let (mut near, mut columns) = (Vec::new(), Vec::with_capacity(tally.entries.len()));
        let mut spare: Option<Spare> = None;
        let mut figure = vec![false; tally.entries.len()];
        for (e, fig) in tally.entries.iter().zip(&mut figure) {
            match e.equal {
                Some(d) => {
                    *fig = self.distinct[d as usize].figure;
                    columns.push((true, d as usize * self.words));
                }
                None => {
                    let w = Word::of(e.text);
                    *fig = w.figure;
                    let at = near.len();
                    near.resize(at + self.words, 0u64);
                    let spare = spare.get_or_insert_with(|| self.spare(&tally.spare));
                    self.near_column(&w, spare, &mut near[at..]);
                    columns.push((false, at));
                }
            }
        }
        let figures = tally.seq.iter().filter(|&&e| figure[e as usize]).count() as u32;
        let column = |e: u32| {
            let (here, at) = columns[e as usize];
            if here {
                &self.masks[at..at + self.words]
            } else {
                &near[at..at + self.words]
            }
        };
        let raw = self.lcs(tally.seq.iter().map(|&e| column(e)));
        let figure_conflict = if self.figures.min(figures) >= min_figures.max(1) {
            let folded =
                self.lcs(tally.seq.iter().map(|&e| if figure[e as usize] { &self.figure_mask[..] } else { column(e) }));
            folded.saturating_sub(raw) as f64 / self.figures.min(figures) as f64
        } else {
            0.0
        };
        Alignment { score: raw as f64 / longer as f64, figures: (self.figures, figures), figure_conflict }
    }

    /// The length of the longest common subsequence, given each column's match vector.
    fn lcs<'m>(&self, columns: impl Iterator<Item = &'m [u64]>) -> usize {
        if self.n == 0 {
            return 0;
        }
        let mut v = vec![u64::MAX; self.words];
        let tail = self.n % 64;
        if tail != 0 {
            v[self.words - 1] = (1u64 << tail) - 1;
        }
        let top = v[self.words - 1];
        for m in columns {
            // V' = (V + (V & M)) | (V & !M), with the carry across machine words.
            let mut carry = 0u64;
            for (x, &mk) in v.iter_mut().zip(m) {
                let u = *x & mk;
                let (s1, c1) = x.overflowing_add(u);
                let (s2, c2) = s1.overflowing_add(carry);
                carry = (c1 | c2) as u64;
                *x = s2 | (*x & !mk);
            }
            v[self.words - 1] &= top;
        }
        self.n - v.iter().map(|x| x.count_ones() as usize).sum::<usize>()
    }
}

/// Aligns two normalized texts ([`Prepared::align`]).
pub fn align(a: &str, b: &str, min_figures: u32) -> Alignment {
    Prepared::new(a).align(b, min_figures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain dynamic programme, the reference.
    fn lcs_dp(a: &[&str], b: &[&str], fold_figures: bool) -> usize {
        let wa: Vec<Word> = a.iter().map(|t| Word::of(t)).collect();
        let wb: Vec<Word> = b.iter().map(|t| Word::of(t)).collect();
        let exact_in_a = |y: &Word| a.contains(&y.text);
        let count = |s: &[&str], w: &str| s.iter().filter(|t| **t == w).count();
        let spare = |x: &Word| count(a, x.text) > count(b, x.text);
        let m = |x: &Word, y: &Word| {
            if fold_figures && x.figure && y.figure {
                return true;
            }
            if x.text == y.text {
                return true;
            }
            if exact_in_a(y) || x.figure != y.figure || !spare(x) {
                return false;
            }
            if y.figure {
                levenshtein_within(x.text, y.text, 1)
            } else {
                near(x, y)
            }
        };
        let mut prev = vec![0usize; b.len() + 1];
        for x in &wa {
            let mut cur = vec![0usize; b.len() + 1];
            for (j, y) in wb.iter().enumerate() {
                cur[j + 1] = if m(x, y) { prev[j] + 1 } else { prev[j + 1].max(cur[j]) };
            }
            prev = cur;
        }
        prev[b.len()]
    }

    fn words(s: &str) -> Vec<&str> {
        s.split(' ').filter(|t| !t.is_empty()).collect()
    }

    #[test]
    fn near_misses_and_figures() {
        let w = Word::of;
        assert!(near(&w("kapten"), &w("kaptcn")), "one letter confused");
        assert!(near(&w("stockholm"), &w("ftockbolm")), "two of nine");
        assert!(!near(&w("berg"), &w("ek")), "other names");
        assert!(!near(&w("vega"), &w("svea")), "two edits in four letters");
        assert!(!near(&w("ab"), &w("ac")), "two-letter words only when equal");
        assert!(levenshtein_within("rnan", "man", 2) && !levenshtein_within("rnan", "man", 1));
        let a = align("pris 120 ore 35 ore 12 ore 8 ore", "pris 95 ore 40 ore 12 ore 7 ore", 4);
        assert_eq!(a.figures, (4, 4));
        // 8 and 7 are one digit apart (a misread digit); 120/95 and 35/40 are other prices.
        assert!((a.figure_conflict - 0.5).abs() < 1e-12, "two of four prices differ: {a:?}");
        assert!((a.score - 7.0 / 9.0).abs() < 1e-12, "{a:?}");
        let copy = align("ar 1891 den 12 maj 150 kr 35 ore", "ar 891 den 12 maj 1500 kr 35 ore", 4);
        assert_eq!(copy.figure_conflict, 0.0, "a dropped and a doubled digit: {copy:?}");
        assert_eq!(copy.score, 1.0);
        let few = align("pris 120 ore", "pris 95 ore", 4);
        assert_eq!(few.figure_conflict, 0.0, "too few figures to judge");
    }

    #[test]
    fn a_noisy_copy_aligns_and_a_templated_list_does_not() {
        let original = "vega kapten berg fran riga med salt oscar kapten holm fran hull med sill \
                        freja kapten lind fran kiel med tegel";
        let copy = "vcga kaptcn berg fran rlga mcd salt oscar kapteu holm fraa hull med sill \
                    freja kapten liud fran kiel med tegcl";
        let other = "drott kapten ek fran memel med vin thule kapten dahl fran reval med kaffe \
                     ceres kapten fors fran abo med socker";
        let c = align(original, copy, 4);
        let o = align(original, other, 4);
        assert!(c.score > 0.9, "{c:?}");
        assert!(o.score < 0.5, "{o:?}");
        assert_eq!(align("", "", 4).score, 1.0);
        assert_eq!(align("a b", "", 4).score, 0.0);
    }

    fn levenshtein(a: &str, b: &str) -> usize {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, x) in a.iter().enumerate() {
            let mut cur = vec![i + 1];
            for (j, y) in b.iter().enumerate() {
                cur.push((prev[j] + (x != y) as usize).min(prev[j + 1] + 1).min(cur[j] + 1));
            }
            prev = cur;
        }
        prev[b.len()]
    }

    proptest! {
        /// Myers' bit-vector distance is the edit distance; the bound of `align_reaching`
        /// never turns away a pair the full alignment would let through.
        #[test]
        fn myers_and_the_bound(a in "[a-e]{1,64}", b in "[a-e]{0,70}", texts in proptest::collection::vec(0usize..6, 0..90), floor in 0.0f64..1.0) {
            prop_assert_eq!(Pattern::of(&a).unwrap().distance(b.as_bytes()), levenshtein(&a, &b));
            const VOCAB: [&str; 6] = ["kapten", "kaptcn", "och", "12", "13", "berg"];
            let (left, right) = texts.split_at(texts.len() / 2);
            let sa = left.iter().map(|&i| VOCAB[i]).collect::<Vec<_>>().join(" ");
            let sb = right.iter().map(|&i| VOCAB[(i + 1) % 6]).collect::<Vec<_>>().join(" ");
            let p = Prepared::new(&sa);
            let full = p.align(&sb, 1);
            match p.align_unless_below(&sb, 1, floor) {
                Some(got) => prop_assert_eq!(got, full),
                None => prop_assert!(full.score < floor, "{} >= {}", full.score, floor),
            }
        }

        /// The filters before the edit distance never turn a near miss away, and the banded
        /// check agrees with the full edit distance.
        #[test]
        fn near_is_edit_distance_within_a_third(a in "[a-eåö]{0,12}", b in "[a-eåö]{0,12}", long in "[a-c]{60,70}") {
            let (wa, wb) = (Word::of(&a), Word::of(&b));
            if a != b {
                let k = allowed_edits(wa.chars.max(wb.chars)) as usize;
                prop_assert_eq!(near(&wa, &wb), k > 0 && levenshtein(&a, &b) <= k);
            }
            for k in 0..4 {
                prop_assert_eq!(levenshtein_within(&a, &b, k), levenshtein(&a, &b) <= k);
                let b2 = format!("{long}{b}");
                prop_assert_eq!(levenshtein_within(&long, &b2, k), levenshtein(&long, &b2) <= k);
            }
        }

        /// The bit-parallel alignment equals the plain dynamic programme, for texts longer
        /// than one machine word and with near misses and figures in the mix.
        #[test]
        fn bit_parallel_equals_the_dynamic_programme(
            a in proptest::collection::vec(0usize..13, 0..150),
            b in proptest::collection::vec(0usize..13, 0..150),
        ) {
            // ("kapte" and "kaptens": two edits, a third of the longer word's letters.)
            const VOCAB: [&str; 13] = [
                "och", "ocb", "kapten", "kaptcn", "kapte", "stockholm", "12", "1861", "861", "fran", "frau", "45",
                "kaptens",
            ];
            let ta: Vec<&str> = a.iter().map(|&i| VOCAB[i]).collect();
            let tb: Vec<&str> = b.iter().map(|&i| VOCAB[i]).collect();
            let (sa, sb) = (ta.join(" "), tb.join(" "));
            let got = align(&sa, &sb, 1);
            let raw = lcs_dp(&words(&sa), &words(&sb), false);
            let longer = ta.len().max(tb.len());
            let want = if longer == 0 { 1.0 } else { raw as f64 / longer as f64 };
            prop_assert!((got.score - want).abs() < 1e-12, "{} vs {}", got.score, want);
            let fa = ta.iter().filter(|t| t.bytes().all(|c| c.is_ascii_digit())).count();
            let fb = tb.iter().filter(|t| t.bytes().all(|c| c.is_ascii_digit())).count();
            if fa.min(fb) >= 1 {
                let folded = lcs_dp(&words(&sa), &words(&sb), true);
                let conflict = (folded - raw) as f64 / fa.min(fb) as f64;
                prop_assert!((got.figure_conflict - conflict).abs() < 1e-12);
            }
        }
    }
}

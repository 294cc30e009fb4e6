//! Clusters of duplicates around their kept copies, and the choice of the copy to keep.
//!
//! Candidate pairs (documents that share an LSH band and pass the estimate) form a graph.
//! Clusters are not its connected components: a chain of pairs joins documents that are not
//! alike (A like B, B like C, A unlike C), which is how unique documents sharing a template
//! were lost. Instead the documents are visited best copy first ([`better_by`]); each joins
//! the first kept copy (centre) it is *verified* against directly, or becomes a centre
//! itself. The centres it is tried against are those it has a candidate pair with, the
//! centres of its neighbours and the centres next to its neighbours (so that a copy whose
//! band partner is another copy still meets the kept one), best first, at most
//! [`MAX_TRIES`] of them. Every removal therefore names the very copy it was verified
//! against, with the measured similarity.

use std::cmp::Ordering;
use std::collections::HashMap;

/// The most centres a document is verified against before it is kept as its own.
pub const MAX_TRIES: usize = 4;

/// The candidate graph: every pair in both directions, sorted, so that a document's
/// neighbours are one slice. 8 bytes per pair and direction; no array over all documents.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    adj: Vec<(u32, u32)>,
}

impl Graph {
    /// From unordered pairs (duplicates allowed).
    pub fn new(pairs: &[(u32, u32)]) -> Graph {
        let mut adj: Vec<(u32, u32)> = Vec::with_capacity(pairs.len() * 2);
        for &(a, b) in pairs {
            if a != b {
                adj.push((a, b));
                adj.push((b, a));
            }
        }
        adj.sort_unstable();
        adj.dedup();
        Graph { adj }
    }

    pub fn neighbours(&self, d: u32) -> impl Iterator<Item = u32> + '_ {
        let lo = self.adj.partition_point(|&(a, _)| a < d);
        let hi = self.adj.partition_point(|&(a, _)| a <= d);
        self.adj[lo..hi].iter().map(|&(_, b)| b)
    }

    /// Documents with at least one neighbour, ascending.
    pub fn nodes(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.adj.iter().map(|&(a, _)| a).collect();
        v.dedup();
        v
    }

    /// `order` (this graph's documents, best copy first) regrouped by connected component:
    /// the components in the order of their best documents, each in `order`'s order.
    /// [`assign`] decides a component from the relative order of its own documents alone, so
    /// it gives the same roles for either order; regrouped, the copies of one text come one
    /// after another and meet their kept copy while it is still prepared.
    pub fn by_component(&self, order: &[u32]) -> Vec<u32> {
        let position: HashMap<u32, u32> = order.iter().enumerate().map(|(i, &d)| (d, i as u32)).collect();
        let mut parent: Vec<u32> = (0..order.len() as u32).collect();
        fn root(parent: &mut [u32], mut x: u32) -> u32 {
            while parent[x as usize] != x {
                parent[x as usize] = parent[parent[x as usize] as usize];
                x = parent[x as usize];
            }
            x
        }
        for &(a, b) in &self.adj {
            if a < b {
                let (ra, rb) = (root(&mut parent, position[&a]), root(&mut parent, position[&b]));
                // The root is the component's best document (the smallest position).
                parent[ra.max(rb) as usize] = ra.min(rb);
            }
        }
        let mut keyed: Vec<(u32, u32)> = (0..order.len() as u32).map(|i| (root(&mut parent, i), i)).collect();
        keyed.sort_unstable();
        keyed.into_iter().map(|(_, i)| order[i as usize]).collect()
    }

    /// Candidate pairs (each counted once).
    pub fn pairs(&self) -> usize {
        self.adj.len() / 2
    }
}

/// What became of a document of the graph.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Role {
    /// Kept; the copies verified against it are removed in its favour.
    Centre,
    /// Removed: verified against `centre` with this similarity.
    Member { centre: u32, similarity: f32 },
}

/// Assigns every document of `order` (the graph's documents, best copy first) a role.
/// `always_centre` documents (an earlier release's) are never removed. The centres a
/// document may join are tried most `likely(doc, centre)` first (the estimate), then best
/// copy first; `verify(doc, centre)` measures the pair from their texts and says whether
/// `doc` is a copy of `centre`, with what similarity. Deterministic: it depends on the order,
/// `likely` and `verify` alone.
pub fn assign(
    order: &[u32],
    graph: &Graph,
    always_centre: impl Fn(u32) -> bool,
    likely: impl Fn(u32, u32) -> f64,
    mut verify: impl FnMut(u32, u32) -> Option<f32>,
) -> HashMap<u32, Role> {
    let position: HashMap<u32, usize> = order.iter().enumerate().map(|(i, &d)| (d, i)).collect();
    let mut role: HashMap<u32, Role> = HashMap::with_capacity(order.len());
    // For each document, the centres among its neighbours (filled as centres are made).
    let mut centres_near: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut tries: Vec<u32> = Vec::new();
    for &d in order {
        tries.clear();
        if !always_centre(d) {
            for n in graph.neighbours(d) {
                match role.get(&n) {
                    Some(Role::Centre) => tries.push(n),
                    Some(Role::Member { centre, .. }) => tries.push(*centre),
                    // The first centres made next to it (the best copies); a few suffice, and
                    // in a dense graph all of them would cost a list per neighbour.
                    None => tries.extend(centres_near.get(&n).map_or(&[][..], |c| &c[..c.len().min(MAX_TRIES)])),
                }
            }
            tries.sort_unstable();
            tries.dedup();
            let mut ranked: Vec<(f64, usize, u32)> = tries.iter().map(|&c| (likely(d, c), position[&c], c)).collect();
            ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            tries.clear();
            tries.extend(ranked.into_iter().take(MAX_TRIES).map(|(_, _, c)| c));
        }
        let joined = tries.iter().find_map(|&c| verify(d, c).map(|s| (c, s)));
        match joined {
            Some((centre, similarity)) => {
                role.insert(d, Role::Member { centre, similarity });
            }
            None => {
                role.insert(d, Role::Centre);
                for n in graph.neighbours(d) {
                    centres_near.entry(n).or_default().push(d);
                }
            }
        }
    }
    role
}

/// What decides which copy of a cluster is kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rank {
    /// Mean OCR confidence; `NaN` when unknown (ranks last).
    pub ocr_confidence: f32,
    pub n_chars: u32,
    /// Days since 1970; `i32::MAX` when unknown (ranks last).
    pub date: i32,
    /// The document id (16 bytes of its 32 hex digits), the final tie-break.
    pub id: [u8; 16],
    /// The share of the document's words that other candidate documents also have
    /// ([`WordCounts::common_words`]); `NaN` when not measured (ranks last).
    pub common_words: f32,
}

/// One criterion of the order that picks the copy to keep, each in its natural direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepKey {
    /// Highest OCR confidence first (unknown last).
    OcrConfidence,
    /// Longest first.
    Length,
    /// Earliest date first (unknown last).
    Date,
    /// Latest date first (unknown last).
    Latest,
    /// Most words shared with other documents first: a text-quality key for copies without
    /// (comparable) OCR confidence. A word an engine misread is a string no other document
    /// has, so the cleanest copy has the most words that others also have ([`WordCounts::common_words`]).
    CommonWords,
}

impl std::str::FromStr for KeepKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "ocr_confidence" => Ok(KeepKey::OcrConfidence),
            "length" => Ok(KeepKey::Length),
            "date" | "earliest" => Ok(KeepKey::Date),
            "latest" => Ok(KeepKey::Latest),
            "common_words" => Ok(KeepKey::CommonWords),
            other => Err(format!(
                "unknown keep-order key `{other}`; expected ocr_confidence, common_words, length, date (earliest) or latest"
            )),
        }
    }
}

impl std::fmt::Display for KeepKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeepKey::OcrConfidence => "ocr_confidence",
            KeepKey::Length => "length",
            KeepKey::Date => "date",
            KeepKey::Latest => "latest",
            KeepKey::CommonWords => "common_words",
        })
    }
}

/// The default order: most common words (the copy with the fewest misread words), then
/// highest OCR confidence, then longest, then earliest; the id always breaks the last tie,
/// so the order is total and never depends on arrival. Common words come before confidence
/// because engines' confidences are not comparable with each other (a Fraktur engine can be
/// sure of its misreadings, and a transcription has none): on the planted corpus of `kbcurate
/// eval dedup` with uninformative confidences, confidence first kept the clean copy of 0.23
/// of the clusters and found 0.51 of the copies, common words first 0.91 and 0.94 — as many as
/// confidence first when the clean copy always has the highest (schemas/dedup-profiles.md).
pub const DEFAULT_KEEP_ORDER: [KeepKey; 4] =
    [KeepKey::CommonWords, KeepKey::OcrConfidence, KeepKey::Length, KeepKey::Date];

/// Compares two copies, best first, by `order` and then by id.
pub fn better_by(order: &[KeepKey], a: &Rank, b: &Rank) -> Ordering {
    let conf = |r: &Rank| if r.ocr_confidence.is_nan() { f32::NEG_INFINITY } else { r.ocr_confidence };
    let latest = |r: &Rank| if r.date == i32::MAX { i32::MIN } else { r.date };
    let common = |r: &Rank| if r.common_words.is_nan() { f32::NEG_INFINITY } else { r.common_words };
    for k in order {
        let o = match k {
            KeepKey::OcrConfidence => conf(b).total_cmp(&conf(a)),
            KeepKey::Length => b.n_chars.cmp(&a.n_chars),
            KeepKey::Date => a.date.cmp(&b.date),
            KeepKey::Latest => latest(b).cmp(&latest(a)),
            KeepKey::CommonWords => common(b).total_cmp(&common(a)),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.id.cmp(&b.id)
}

/// Document frequencies of words in a fixed table (a count-min sketch of two rows of 2^24
/// saturating bytes, 32 MiB), so that memory does not grow with the vocabulary; a word
/// counts once per document.
pub struct WordCounts {
    rows: Vec<u8>,
    scratch: Vec<u64>,
}

const COUNT_BITS: u32 = 24;

impl Default for WordCounts {
    fn default() -> Self {
        WordCounts { rows: vec![0; 2 << COUNT_BITS], scratch: Vec::new() }
    }
}

impl WordCounts {
    fn slots(h: u64) -> [usize; 2] {
        let mask = (1usize << COUNT_BITS) - 1;
        [h as usize & mask, (1 << COUNT_BITS) + ((h >> 32) as usize & mask)]
    }

    fn words(&mut self, text: &str) {
        self.scratch.clear();
        self.scratch
            .extend(text.split(' ').filter(|w| !w.is_empty()).map(|w| xxhash_rust::xxh3::xxh3_64(w.as_bytes())));
        self.scratch.sort_unstable();
        self.scratch.dedup();
    }

    /// Counts the distinct words of a normalized text.
    pub fn add(&mut self, text: &str) {
        self.words(text);
        for i in 0..self.scratch.len() {
            for s in Self::slots(self.scratch[i]) {
                self.rows[s] = self.rows[s].saturating_add(1);
            }
        }
    }

    fn count(&self, h: u64) -> u8 {
        let [a, b] = Self::slots(h);
        self.rows[a].min(self.rows[b])
    }

    /// The share of `text`'s words (occurrences) found in at least one other counted document
    /// (`text` itself counted).
    pub fn common_words(&self, text: &str) -> f32 {
        let (mut n, mut common) = (0u32, 0u32);
        for w in text.split(' ').filter(|w| !w.is_empty()) {
            n += 1;
            common += (self.count(xxhash_rust::xxh3::xxh3_64(w.as_bytes())) >= 2) as u32;
        }
        if n == 0 {
            0.0
        } else {
            common as f32 / n as f32
        }
    }
}

/// [`better_by`] with the default order.
pub fn better(a: &Rank, b: &Rank) -> Ordering {
    better_by(&DEFAULT_KEEP_ORDER, a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Regrouped by component, the order gives the same roles: a component is decided by
        /// its own documents' relative order alone.
        #[test]
        fn components_decide_alone(
            pairs in proptest::collection::vec((0u32..40, 0u32..40), 0..60),
            shuffle in proptest::collection::vec(0u32..1000, 40),
            seed in 0u64..1000,
        ) {
            let g = Graph::new(&pairs);
            let mut order = g.nodes();
            order.sort_by_key(|&d| (shuffle[d as usize], d));
            let grouped = g.by_component(&order);
            let mut sorted = grouped.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sorted, g.nodes(), "a permutation of the documents");
            // Within each component, `order`'s order.
            let pos = |d: u32| order.iter().position(|&x| x == d).unwrap();
            for w in grouped.windows(2) {
                if g.neighbours(w[0]).any(|n| n == w[1]) {
                    prop_assert!(pos(w[0]) < pos(w[1]));
                }
            }
            let verify = |d: u32, c: u32| xxhash_rust::xxh3::xxh3_64_with_seed(&[d as u8, c as u8], seed).is_multiple_of(3).then_some(0.7);
            let likely = |d: u32, c: u32| (d ^ c) as f64;
            prop_assert_eq!(assign(&order, &g, |d| d == 7, likely, verify), assign(&grouped, &g, |d| d == 7, likely, verify));
        }
    }

    /// A chain A–B–C where C is not like A: C is not removed in A's favour; and a copy whose
    /// only candidate pair is another copy still meets the kept one.
    #[test]
    fn removals_need_direct_evidence() {
        // 0 is the best copy. 1 is like 0; 2 is like 1 but not like 0 (a chain).
        let like = |a: u32, b: u32| matches!((a.min(b), a.max(b)), (0, 1) | (1, 2) | (0, 3) | (3, 4) | (0, 4));
        let verify = |d: u32, c: u32| like(d, c).then_some(0.8);
        let g = Graph::new(&[(0, 1), (1, 2), (3, 4), (0, 3), (1, 2)]);
        assert_eq!(g.pairs(), 4);
        assert_eq!(g.nodes(), vec![0, 1, 2, 3, 4]);
        let roles = assign(&[0, 1, 2, 3, 4], &g, |_| false, |_, _| 0.0, verify);
        assert_eq!(roles[&0], Role::Centre);
        assert_eq!(roles[&1], Role::Member { centre: 0, similarity: 0.8 });
        assert_eq!(roles[&2], Role::Centre, "reached only through 1: kept");
        assert_eq!(roles[&3], Role::Member { centre: 0, similarity: 0.8 });
        // 4's only candidate pair is 3 (a member), but it is verified against 0 directly.
        assert_eq!(roles[&4], Role::Member { centre: 0, similarity: 0.8 });
        // Union-find would have put all five in one cluster.
        let star = assign(&[1, 0, 2], &Graph::new(&[(0, 1), (1, 2)]), |_| false, |_, _| 0.0, verify);
        assert_eq!(
            (star[&1], star[&0], star[&2]),
            (Role::Centre, Role::Member { centre: 1, similarity: 0.8 }, Role::Member { centre: 1, similarity: 0.8 })
        );
        let fixed = assign(&[1, 0], &Graph::new(&[(0, 1)]), |d| d == 0, |_, _| 0.0, verify);
        assert_eq!(fixed[&0], Role::Centre, "an earlier release's document is never removed");
    }

    #[test]
    fn best_copy_order() {
        let r = |c: f32, n: u32, d: i32, id: u8| Rank {
            ocr_confidence: c,
            n_chars: n,
            date: d,
            id: [id; 16],
            common_words: f32::NAN,
        };
        assert_eq!(better(&r(0.9, 10, 0, 1), &r(0.8, 99, 0, 0)), Ordering::Less, "confidence first");
        assert_eq!(better(&r(f32::NAN, 99, 0, 0), &r(0.1, 1, 0, 1)), Ordering::Greater, "unknown confidence last");
        assert_eq!(better(&r(0.8, 20, 5, 1), &r(0.8, 10, 0, 0)), Ordering::Less, "then longest");
        assert_eq!(better(&r(0.8, 10, 5, 0), &r(0.8, 10, 3, 1)), Ordering::Greater, "then earliest");
        assert_eq!(better(&r(0.8, 10, i32::MAX, 0), &r(0.8, 10, 3, 1)), Ordering::Greater, "unknown date last");
        assert_eq!(better(&r(0.8, 10, 3, 0), &r(0.8, 10, 3, 1)), Ordering::Less, "then id");
        let latest_first = [KeepKey::Latest, KeepKey::OcrConfidence];
        assert_eq!(better_by(&latest_first, &r(0.1, 1, 9, 1), &r(0.9, 99, 3, 0)), Ordering::Less, "configured order");
        assert_eq!(better_by(&latest_first, &r(0.1, 1, i32::MAX, 1), &r(0.9, 99, 3, 0)), Ordering::Greater);
        assert_eq!(better_by(&[], &r(0.1, 1, 9, 0), &r(0.9, 99, 3, 1)), Ordering::Less, "only the id");
        let c = |w: f32, id: u8| Rank { common_words: w, ..r(0.5, 10, 0, id) };
        let by_words = [KeepKey::CommonWords];
        assert_eq!(better_by(&by_words, &c(0.9, 1), &c(0.5, 0)), Ordering::Less, "more common words first");
        assert_eq!(better_by(&by_words, &c(f32::NAN, 0), &c(0.1, 1)), Ordering::Greater, "unmeasured last");
    }

    /// A copy whose words an engine misread has fewer words that other documents share.
    #[test]
    fn common_words_prefer_the_clean_copy() {
        let mut counts = WordCounts::default();
        let clean = "det var en gang en kung som hade tre dottrar";
        let noisy = "dct var en gaug en kuug som hadc tre dottrar";
        let other = "det var sa att kungen hade en gang tre soner";
        for t in [clean, noisy, other] {
            counts.add(t);
        }
        let (c, n) = (counts.common_words(clean), counts.common_words(noisy));
        assert!(c > n, "clean {c} noisy {n}");
        assert_eq!(counts.common_words("okant ord"), 0.0, "words counted nowhere");
        assert_eq!(counts.common_words(""), 0.0);
    }
}

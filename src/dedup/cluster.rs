//! Clusters of duplicates: union-find over verified edges, and the choice of the copy to keep.

use std::cmp::Ordering;

/// Union-find over dense document indexes, 4 bytes per document. Roots are always the
/// smallest index of their set, so the result does not depend on the order edges arrive in.
#[derive(Debug, Clone)]
pub struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    pub fn new(n: usize) -> Self {
        Self { parent: (0..n as u32).collect() }
    }

    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize]; // path halving
            x = p;
        }
        x
    }

    /// Whether `a` and `b` are in one set, without compressing paths (so it can be asked from
    /// many threads at once).
    pub fn connected(&self, a: u32, b: u32) -> bool {
        let root = |mut x: u32| {
            while self.parent[x as usize] != x {
                x = self.parent[x as usize];
            }
            x
        };
        root(a) == root(b)
    }

    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        match ra.cmp(&rb) {
            Ordering::Less => self.parent[rb as usize] = ra,
            Ordering::Greater => self.parent[ra as usize] = rb,
            Ordering::Equal => {}
        }
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }
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
}

impl std::str::FromStr for KeepKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "ocr_confidence" => Ok(KeepKey::OcrConfidence),
            "length" => Ok(KeepKey::Length),
            "date" | "earliest" => Ok(KeepKey::Date),
            "latest" => Ok(KeepKey::Latest),
            other => Err(format!(
                "unknown keep-order key `{other}`; expected ocr_confidence, length, date (earliest) or latest"
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
        })
    }
}

/// The default order: highest OCR confidence, then longest, then earliest; the id always
/// breaks the last tie, so the order is total and never depends on arrival.
pub const DEFAULT_KEEP_ORDER: [KeepKey; 3] = [KeepKey::OcrConfidence, KeepKey::Length, KeepKey::Date];

/// Compares two copies, best first, by `order` and then by id.
pub fn better_by(order: &[KeepKey], a: &Rank, b: &Rank) -> Ordering {
    let conf = |r: &Rank| if r.ocr_confidence.is_nan() { f32::NEG_INFINITY } else { r.ocr_confidence };
    let latest = |r: &Rank| if r.date == i32::MAX { i32::MIN } else { r.date };
    for k in order {
        let o = match k {
            KeepKey::OcrConfidence => conf(b).total_cmp(&conf(a)),
            KeepKey::Length => b.n_chars.cmp(&a.n_chars),
            KeepKey::Date => a.date.cmp(&b.date),
            KeepKey::Latest => latest(b).cmp(&latest(a)),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.id.cmp(&b.id)
}

/// [`better_by`] with the default order.
pub fn better(a: &Rank, b: &Rank) -> Ordering {
    better_by(&DEFAULT_KEEP_ORDER, a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_find_roots_are_smallest_members() {
        let mut uf = UnionFind::new(6);
        uf.union(4, 2);
        uf.union(5, 4);
        uf.union(1, 3);
        assert!(uf.connected(5, 4) && uf.connected(2, 5) && !uf.connected(0, 5) && !uf.connected(3, 2));
        assert_eq!(uf.find(5), 2);
        assert_eq!(uf.find(3), 1);
        assert_eq!(uf.find(0), 0);
        let mut other = UnionFind::new(6);
        other.union(1, 3);
        other.union(4, 5);
        other.union(2, 5);
        assert_eq!((0..6).map(|i| other.find(i)).collect::<Vec<_>>(), (0..6).map(|i| uf.find(i)).collect::<Vec<_>>());
    }

    #[test]
    fn best_copy_order() {
        let r = |c: f32, n: u32, d: i32, id: u8| Rank { ocr_confidence: c, n_chars: n, date: d, id: [id; 16] };
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
    }
}

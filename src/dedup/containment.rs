//! Containment: a short document whose text is a passage of a longer one (an article also
//! printed inside a whole page, a bulletin repeated in a longer report, a leaflet bound into
//! a book).
//!
//! A short text and the long text it stands in are not near-duplicates: most of the long
//! text has no counterpart, so their alignment over the longer text stays low. What shows
//! containment is the passage of the long text where the short one would stand: the window
//! of as many words as the short text holds that shares the most words with it, rare words
//! counting most (on heavily misread text the few intact names and rare words place it; the
//! function words are everywhere). The short
//! text is contained when it aligns with that passage by the measure and at the bar that
//! verify a copy ([`super::align`]): a templated notice set inside a page of other notices
//! finds a passage of the same form but not of the same words, as two copies of a template
//! do.
//!
//! The longer documents are decided first, so a document found to contain another is never
//! itself contained in a third: every contained document names a container that is kept.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use super::align::{Alignment, Prepared};
use super::cluster::{Graph, Role, MAX_TRIES};
use super::profile::Verify;

/// What happens to a document found contained in a longer kept one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ContainedPolicy {
    /// Not looked for.
    Off,
    /// Kept, with `contained_in` naming the container and `contained_score` the alignment.
    #[default]
    Flag,
    /// Removed (`contained` in `rejected/`, naming the container); so are its verified copies.
    Remove,
}

impl std::fmt::Display for ContainedPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ContainedPolicy::Off => "off",
            ContainedPolicy::Flag => "flag",
            ContainedPolicy::Remove => "remove",
        })
    }
}

/// The byte range of `long`'s passage where `short` would stand: as many words as `short`
/// has, holding the most words that `short` has too, each weighed by how rare it is in
/// `long` (the earliest such window). Both are normalized texts, words separated by single
/// spaces.
pub fn passage(short: &str, long: &str) -> Range<usize> {
    let vocabulary: HashSet<&str> = short.split(' ').filter(|w| !w.is_empty()).collect();
    let n = short.split(' ').filter(|w| !w.is_empty()).count();
    let mut spans: Vec<Range<usize>> = Vec::new();
    let mut at = 0;
    for w in long.split(' ') {
        if !w.is_empty() {
            spans.push(at..at + w.len());
        }
        at += w.len() + 1;
    }
    if spans.len() <= n || n == 0 {
        return 0..long.len();
    }
    // A word of `short` counts in inverse proportion to how often the long text has it: a
    // function word stands everywhere, a name or a rare word only where the passage is (on
    // heavily misread text the few intact rare words must outweigh the common ones).
    let mut seen: HashMap<&str, u64> = HashMap::new();
    for r in &spans {
        *seen.entry(&long[r.clone()]).or_default() += 1;
    }
    let weight: Vec<u64> = spans
        .iter()
        .map(|r| {
            let w = &long[r.clone()];
            if vocabulary.contains(w) {
                1_000_000 / seen[w]
            } else {
                0
            }
        })
        .collect();
    let hit = |i: usize| weight[i];
    let mut count: u64 = (0..n).map(hit).sum();
    let (mut best, mut best_start) = (count, 0);
    for start in 1..=spans.len() - n {
        count = count + hit(start + n - 1) - hit(start - 1);
        if count > best {
            (best, best_start) = (count, start);
        }
    }
    spans[best_start].start..spans[best_start + n - 1].end
}

/// How `short` aligns with its passage of `long`, unless the equal-word bound already puts
/// it below the bar.
pub fn align_in_passage(short: &str, long: &str, verify: &Verify) -> Option<Alignment> {
    let window = &long[passage(short, long)];
    Prepared::new(window).align_unless_below(short, verify.min_figures, verify.min_alignment)
}

/// Whether `a` passes `verify`'s bar and figure check.
pub fn verified(a: &Alignment, verify: &Verify) -> bool {
    a.score >= verify.min_alignment && a.figure_conflict <= verify.max_figure_conflict
}

/// Finds, for each kept document of `roles` (a centre) too short to be a copy of a longer
/// kept neighbour in `graph` (or the kept copy of a neighbour), the first such document it is
/// contained in: containers are
/// tried longest first, then most `likely(doc, container)`. `words(doc)` counts a document's
/// words; `contained(doc, container)` measures the pair from their texts. Documents are
/// decided longest first, and one found contained is not a container. `never` documents (an
/// earlier release's) are not looked at as contained. Deterministic for its inputs.
pub fn find(
    roles: &HashMap<u32, Role>,
    graph: &Graph,
    min_alignment: f64,
    never: impl Fn(u32) -> bool,
    words: impl Fn(u32) -> usize,
    likely: impl Fn(u32, u32) -> f64,
    mut contained: impl FnMut(u32, u32) -> Option<f32>,
) -> HashMap<u32, (u32, f32)> {
    let mut centres: Vec<(usize, u32)> =
        roles.iter().filter(|(_, r)| matches!(r, Role::Centre)).map(|(&d, _)| (words(d), d)).collect();
    centres.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let size: HashMap<u32, usize> = centres.iter().map(|&(n, d)| (d, n)).collect();
    let mut found: HashMap<u32, (u32, f32)> = HashMap::new();
    for &(n, d) in &centres {
        if never(d) {
            continue;
        }
        // Containers: kept neighbours, and the kept copies of removed neighbours (the pair
        // may have met a copy of the page rather than the page kept), long enough that `d`
        // could not be their copy (shorter than the bar's share of them), not themselves
        // contained.
        let mut near: Vec<u32> = graph
            .neighbours(d)
            .filter_map(|c| match roles.get(&c) {
                Some(Role::Centre) => Some(c),
                Some(Role::Member { centre, .. }) => Some(*centre),
                None => None,
            })
            .collect();
        near.sort_unstable();
        near.dedup();
        let mut tries: Vec<(f64, u32)> = near
            .into_iter()
            .filter(|c| size.get(c).is_some_and(|&m| (n as f64) < min_alignment * m as f64))
            .filter(|c| !found.contains_key(c))
            .map(|c| (likely(d, c), c))
            .collect();
        tries.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        if let Some((c, score)) = tries.iter().take(MAX_TRIES).find_map(|&(_, c)| contained(d, c).map(|s| (c, s))) {
            found.insert(d, (c, score));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_passage_is_where_the_short_text_stands() {
        let long = "a b c d kapten berg fran riga med salt e f g";
        let r = passage("kapten berg fran riga med salt", long);
        assert_eq!(&long[r], "kapten berg fran riga med salt");
        // A noisy excerpt still finds its place by the words it kept.
        let r = passage("kaptcn berg frau riga med salt", long);
        assert_eq!(&long[r], "kapten berg fran riga med salt");
        assert_eq!(passage("x y", "a"), 0..1, "a long text shorter than the short one is all passage");
        assert_eq!(passage("", "a b"), 0..3);
    }

    #[test]
    fn an_excerpt_is_contained_and_a_templated_notice_is_not() {
        let verify = Verify::default();
        let page = "stockholms dagblad den 3 maj 1872 vega kapten berg fran riga med salt oscar kapten \
                    holm fran hull med sill freja kapten lind fran kiel med tegel till aktenskap lysas \
                    snickaren johan berg och jungfru maria holm bagaren per lind och jungfru anna ek";
        let excerpt = "vcga kaptcn berg fran rlga mcd salt oscar kapteu holm fraa hull med sill";
        let other = "drott kapten ek fran memel med vin thule kapten dahl fran reval med kaffe";
        let a = align_in_passage(excerpt, page, &verify).expect("above the bound");
        assert!(verified(&a, &verify), "{a:?}");
        let o = align_in_passage(other, page, &verify);
        assert!(o.is_none_or(|o| !verified(&o, &verify)), "{o:?}");
    }
}

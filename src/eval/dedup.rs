//! `kbcurate eval dedup`: plants noisy duplicates in real text, runs ingest and dedup on them,
//! and scores the result against the planted clusters.
//!
//! The noise imitates what OCR engines did to the Kant 1784 page (`../shared/data/ocr_variants`):
//! character confusions (e→c, n→u, rn→m, ſ/s→f, ä→a, i→l, 1→l, …), words split in two and
//! neighbours joined, a dropped run of words (a lost line), and a cut end (a truncated page).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use serde_json::json;

use crate::dataset::Dataset;
use crate::dedup::cluster::KeepKey;
use crate::dedup::profile::Profile;
use crate::dedup::stage::{dedup, DedupOptions};
use crate::ingest::config::IngestConfig;
use crate::ingest::{ingest, IngestOptions};

/// The base texts for planting: the `text` field of each JSON line of `path` (lines that are
/// not JSON objects with a string `text` are passed over); none at all is an error.
pub fn read_texts(path: &Path) -> anyhow::Result<Vec<String>> {
    let raw = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let base: Vec<String> = raw
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect();
    if base.is_empty() {
        anyhow::bail!("{}: no JSON lines with a `text` field", path.display());
    }
    Ok(base)
}

#[derive(Debug, Clone)]
pub struct PlantParams {
    /// Original documents (cut from the base texts).
    pub originals: usize,
    /// Each original gets 0..=max_copies noisy copies.
    pub max_copies: usize,
    /// Share of words a copy corrupts.
    pub word_noise: f64,
    pub words_per_doc: usize,
    pub seed: u64,
    /// How the planted documents carry `ocr_confidence`.
    pub confidence: Confidence,
    /// Unique documents that share a template with others (shipping lists, market prices,
    /// banns, pages under one masthead), each its own cluster: a dedup that removes one has
    /// removed a unique document.
    pub hard_negatives: usize,
    /// Character noise instead of word noise: each copy draws a rate in this range and every
    /// character of it is confused, dropped, doubled or replaced with that probability, as a
    /// 19th-century engine reads Fraktur (10–20% gives word-2-gram Jaccard 0.05–0.15).
    pub char_noise: Option<(f64, f64)>,
    /// Excerpts: a passage of an original (a fifth to a half of its words; one per original
    /// at most), noisy like the copies; each its own cluster (a passage is no copy), expected to be found contained in
    /// a document of its original's cluster.
    pub excerpts: usize,
}

/// Where the planted documents' `ocr_confidence` comes from. Only `Correlated` tells the clean
/// copy by its confidence; with the others the keep order must find it from the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Confidence {
    /// None at all, as in plain-text deliveries and hOCR without confidences.
    Absent,
    /// Drawn at random (0.55–0.95) for every document, clean or not.
    Independent,
    /// Originals 0.90–0.95, copies 0.55–0.85: the clean copy always has the highest.
    Correlated,
}

impl Default for PlantParams {
    fn default() -> Self {
        // 16% of words corrupted (and half as many stray tokens added) gives planted pairs a
        // plain word-3-gram Jaccard near 0.3, the figure measured on real reprinted newspaper
        // stories (NEWS-COPY).
        Self {
            originals: 400,
            max_copies: 3,
            word_noise: 0.16,
            words_per_doc: 300,
            seed: 42,
            confidence: Confidence::Independent,
            hard_negatives: 200,
            char_noise: None,
            excerpts: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Planted {
    pub text: String,
    pub cluster: u64,
    pub clean: bool,
    pub ocr_confidence: Option<f32>,
    /// A templated unique document ([`PlantParams::hard_negatives`]).
    pub negative: bool,
    /// An excerpt ([`PlantParams::excerpts`]): the planted cluster of the original it is a
    /// passage of.
    pub excerpt_of: Option<u64>,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const CONFUSIONS: [(&str, &str); 14] = [
    ("e", "c"),
    ("n", "u"),
    ("u", "n"),
    ("rn", "m"),
    ("m", "rn"),
    ("s", "f"),
    ("ä", "a"),
    ("ö", "o"),
    ("i", "l"),
    ("l", "1"),
    ("h", "b"),
    ("c", "e"),
    ("a", "o"),
    ("t", "r"),
];

fn corrupt_word(w: &str, rng: &mut Rng) -> String {
    for _ in 0..4 {
        let (from, to) = CONFUSIONS[rng.below(CONFUSIONS.len())];
        if w.contains(from) {
            return w.replacen(from, to, 1);
        }
    }
    // No confusable letter: drop a character instead.
    let chars: Vec<char> = w.chars().collect();
    if chars.len() > 1 {
        let k = rng.below(chars.len());
        return chars.iter().enumerate().filter(|(i, _)| *i != k).map(|(_, c)| c).collect();
    }
    format!("{w}.")
}

/// What heavy OCR adds that is not in the page: specks, rules and broken glyphs read as tokens.
const JUNK: [&str; 8] = ["„", "i", ".", "|", "—", "'", "l", "»"];

/// A noisy copy of `words`. With `junk`, stray tokens are also added (a share `noise / 2` of
/// the words get one after them), as heavy OCR does, so that a noisy copy is as often longer
/// than its original as shorter: length alone must not tell the clean copy.
fn noisy_copy(words: &[&str], noise: f64, junk: bool, rng: &mut Rng) -> String {
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        if junk && rng.unit() < noise / 2.0 {
            out.push(JUNK[rng.below(JUNK.len())].to_string());
        }
        let w = words[i];
        if rng.unit() < noise {
            match rng.below(10) {
                0 if w.chars().count() > 3 => {
                    // a split word
                    let cut = w.char_indices().nth(w.chars().count() / 2).map_or(w.len(), |(k, _)| k);
                    out.push(w[..cut].to_string());
                    out.push(w[cut..].to_string());
                }
                1 if i + 1 < words.len() => {
                    // joined with its neighbour
                    out.push(format!("{w}{}", words[i + 1]));
                    i += 1;
                }
                _ => out.push(corrupt_word(w, rng)),
            }
        } else {
            out.push(w.to_string());
        }
        i += 1;
    }
    lose_a_line_and_cut_the_end(&mut out, rng);
    out.join(" ")
}

/// A lost line (a run of about 8 words) now and then, and a cut end: what both noise models
/// do to a copy's words after their own noise.
fn lose_a_line_and_cut_the_end<T>(words: &mut Vec<T>, rng: &mut Rng) {
    if rng.unit() < 0.3 && words.len() > 20 {
        let at = rng.below(words.len() - 10);
        words.drain(at..at + 8);
    }
    let keep = words.len() - rng.below(words.len() / 10 + 1);
    words.truncate(keep);
}

/// Visually close letters an engine reads for one another on worn Fraktur and Antiqua.
const LOOKALIKES: [(char, &str); 22] = [
    ('e', "co"),
    ('c', "ee"),
    ('n', "uri"),
    ('u', "nii"),
    ('i', "lj1"),
    ('l', "i1t"),
    ('s', "fſ"),
    ('f', "ſs"),
    ('a', "oä"),
    ('o', "ae"),
    ('ä', "aå"),
    ('å', "aä"),
    ('ö', "oø"),
    ('h', "bk"),
    ('b', "hl"),
    ('t', "rf"),
    ('r', "tn"),
    ('m', "nu"),
    ('k', "ltx"),
    ('d', "ol"),
    ('v', "yw"),
    ('g', "qy"),
];

/// A copy of `words` with character noise at `rate`: each letter is confused with a look-alike,
/// dropped, doubled or replaced by a random letter; some word breaks are lost or added; junk
/// tokens appear, and, as with word noise, a line may be lost and the end cut.
fn char_noisy_copy(words: &[&str], rate: f64, rng: &mut Rng) -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            // A lost word break joins two words; otherwise a space.
            if rng.unit() >= rate / 4.0 {
                out.push(' ');
            }
        }
        if rng.unit() < rate / 3.0 {
            out.push_str(JUNK[rng.below(JUNK.len())]);
            out.push(' ');
        }
        for c in w.chars() {
            if rng.unit() >= rate {
                out.push(c);
                continue;
            }
            let lower = c.to_lowercase().next().unwrap_or(c);
            match rng.below(10) {
                0..=4 => match LOOKALIKES.iter().find(|(k, _)| *k == lower) {
                    Some((_, alts)) => {
                        let alts: Vec<char> = alts.chars().collect();
                        out.push(alts[rng.below(alts.len())]);
                    }
                    None => out.push(LETTERS[rng.below(LETTERS.len())] as char),
                },
                5 | 6 => {} // dropped
                7 => {
                    out.push(c);
                    out.push(c);
                }
                8 => out.push(LETTERS[rng.below(LETTERS.len())] as char),
                _ => {
                    // a broken word
                    out.push(c);
                    out.push(' ');
                }
            }
        }
    }
    let mut toks: Vec<&str> = out.split(' ').filter(|t| !t.is_empty()).collect();
    lose_a_line_and_cut_the_end(&mut toks, rng);
    toks.join(" ")
}

/// `text` with OCR noise planted as in the duplicates' copies (a share `noise` of the words
/// confused, split or joined; now and then a lost line and a cut end). Deterministic for a seed.
pub fn noisy_text(text: &str, noise: f64, seed: u64) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return String::new();
    }
    noisy_copy(&words, noise, false, &mut Rng(seed))
}

const MONTHS: [&str; 12] = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
];
const SHIPS: [&str; 16] = [
    "Vega",
    "Nordstjernan",
    "Svea",
    "Göta",
    "Freja",
    "Oscar",
    "Hoppet",
    "Carl Johan",
    "Drott",
    "Wasa",
    "Thule",
    "Aurora",
    "Gefle",
    "Ceres",
    "Najaden",
    "Eolus",
];
const NAMES: [&str; 16] = [
    "Andersson",
    "Berg",
    "Carlsson",
    "Dahl",
    "Ek",
    "Fors",
    "Gustafsson",
    "Holm",
    "Isaksson",
    "Jansson",
    "Lind",
    "Möller",
    "Nyström",
    "Ohlsson",
    "Pettersson",
    "Sjöberg",
];
const GIVEN: [&str; 12] =
    ["Johan", "Carl", "Erik", "Per", "Anders", "Lars", "Maria", "Anna", "Kristina", "Stina", "Greta", "Karolina"];
const PORTS: [&str; 12] = [
    "Lübeck",
    "Danzig",
    "Riga",
    "Åbo",
    "Hull",
    "Stettin",
    "Kiel",
    "London",
    "Memel",
    "Helsingfors",
    "Reval",
    "Amsterdam",
];
const CARGO: [&str; 8] = ["spannmål", "salt", "stenkol", "vin", "sill", "tegel", "socker", "kaffe"];
const MARKET: [&str; 14] = [
    "Smör, färskt, prima, per kilo",
    "Smör, saltadt, per kilo",
    "Ost, mager, per kilo",
    "Ägg, färska, per tjog",
    "Mjölk, söt, per kanna",
    "Potatis, per hektoliter",
    "Råg, per hektoliter",
    "Hafre, per hektoliter",
    "Kalfkött, per kilo",
    "Oxkött, per kilo",
    "Fläsk, färskt, per kilo",
    "Strömming, färsk, per kilo",
    "Ved, björk, per famn",
    "Hö, per centner",
];

/// A unique document built on a template that many documents of a library share: which of
/// four kinds and every name, date, place and number drawn at random, so that two of them
/// differ in their facts, not in their form.
fn templated(k: usize, story: &[&str], rng: &mut Rng) -> String {
    let date = |rng: &mut Rng| format!("den {} {} 18{}", 1 + rng.below(28), MONTHS[rng.below(12)], 50 + rng.below(50));
    let pick = |list: &[&'static str], rng: &mut Rng| list[rng.below(list.len())];
    match k % 4 {
        // Arrivals in the port: the same sentence frame, other ships, masters, ports, cargoes.
        0 => {
            let mut t = format!("Stockholms hamn. Ankomne fartyg {}:", date(rng));
            for _ in 0..14 {
                t.push_str(&format!(
                    " {}, kapten {}, från {}, med {}.",
                    pick(&SHIPS, rng),
                    pick(&NAMES, rng),
                    pick(&PORTS, rng),
                    pick(&CARGO, rng)
                ));
            }
            t
        }
        // Market prices: the same wares in the same order, other prices.
        1 => {
            let mut t = format!("Torgpriser i Stockholm {}. Enligt polisens uppgift betalades:", date(rng));
            for w in MARKET {
                t.push_str(&format!(" {w} {} öre.", 10 + rng.below(190)));
            }
            t
        }
        // Banns: the same formula, other couples.
        2 => {
            let mut t = format!("Till äktenskap lysas i Storkyrkoförsamlingen söndagen {}:", date(rng));
            for _ in 0..6 {
                t.push_str(&format!(
                    " {} {}, {}, och jungfru {} {};",
                    pick(&GIVEN[..6], rng),
                    pick(&NAMES, rng),
                    pick(&["snickare", "handlande", "sjöman", "drängen", "skräddare", "bagare"], rng),
                    pick(&GIVEN[6..], rng),
                    pick(&NAMES, rng)
                ));
            }
            t
        }
        // One masthead over another story (its own, used once): the masthead is a third of
        // the page.
        _ => {
            format!(
                "STOCKHOLMS DAGBLAD N:r {} {}. Prenumeration: helt år 12 kr., halft år 6 kr. 50 öre, kvartal \
                 3 kr. 50 öre. Redaktion och expedition: Klara Norra Kyrkogata 5. Annonser emottagas till \
                 10 öre raden. {}",
                1 + rng.below(300),
                date(rng),
                story.join(" ")
            )
        }
    }
}

/// A noisy copy of `words` by the corpus's noise model: character noise at a rate drawn from
/// its range, or word noise.
fn planted_copy(words: &[&str], p: &PlantParams, rng: &mut Rng) -> String {
    match p.char_noise {
        Some((lo, hi)) => {
            let rate = lo + (hi - lo) * rng.unit();
            char_noisy_copy(words, rate, rng)
        }
        None => noisy_copy(words, p.word_noise, true, rng),
    }
}

/// Cuts the base texts into originals and plants noisy copies, and adds the templated unique
/// documents. Deterministic for a seed.
pub fn plant(base: &[String], p: &PlantParams) -> Vec<Planted> {
    let mut rng = Rng(p.seed);
    let mut originals: Vec<Vec<&str>> = Vec::new();
    // Stories for the masthead pages, each used once: cut first, so that every masthead page
    // has its own (a page of masthead alone would be a copy of the others), and none shares
    // text with a planted document.
    let mut stories: Vec<Vec<&str>> = Vec::new();
    let stories_wanted = p.hard_negatives.div_ceil(4);
    'outer: for t in base {
        let words: Vec<&str> = t.split_whitespace().collect();
        let mut rest = &words[..];
        while stories.len() < stories_wanted && rest.len() >= 60 {
            stories.push(rest[..60].to_vec());
            rest = &rest[60..];
        }
        for chunk in rest.chunks(p.words_per_doc) {
            if originals.len() >= p.originals {
                break 'outer;
            }
            if chunk.len() >= p.words_per_doc / 2 {
                originals.push(chunk.to_vec());
            }
        }
    }
    let mut docs = Vec::new();
    let confidence = |clean: bool, rng: &mut Rng| match p.confidence {
        Confidence::Absent => None,
        Confidence::Independent => Some(0.55 + (0.4 * rng.unit()) as f32),
        Confidence::Correlated if clean => Some(0.9 + 0.05 * rng.unit() as f32),
        Confidence::Correlated => Some(0.85 - (0.3 * rng.unit()) as f32),
    };
    for (c, words) in originals.iter().enumerate() {
        let ocr_confidence = confidence(true, &mut rng);
        docs.push(Planted {
            text: words.join(" "),
            cluster: c as u64,
            clean: true,
            ocr_confidence,
            negative: false,
            excerpt_of: None,
        });
        for _ in 0..rng.below(p.max_copies + 1) {
            let ocr_confidence = confidence(false, &mut rng);
            let text = planted_copy(words, p, &mut rng);
            docs.push(Planted {
                text,
                cluster: c as u64,
                clean: false,
                ocr_confidence,
                negative: false,
                excerpt_of: None,
            });
        }
    }
    for k in 0..p.hard_negatives {
        let ocr_confidence = confidence(true, &mut rng);
        let Some(story) = stories.get(k / 4) else { break };
        docs.push(Planted {
            text: templated(k, story, &mut rng),
            cluster: (originals.len() + k) as u64,
            clean: true,
            ocr_confidence,
            negative: true,
            excerpt_of: None,
        });
    }
    // Excerpts come last, so that corpora without them stay as they were.
    let clusters = docs.iter().map(|d| d.cluster + 1).max().unwrap_or(0);
    // One per original at most: two passages of one original may overlap into copies.
    for k in 0..p.excerpts.min(originals.len()) {
        let c = k % originals.len();
        let words = &originals[c];
        let len = words.len() / 5 + rng.below(words.len() * 3 / 10 + 1);
        let start = rng.below(words.len() - len + 1);
        let passage = &words[start..start + len];
        let ocr_confidence = confidence(false, &mut rng);
        let text = planted_copy(passage, p, &mut rng);
        docs.push(Planted {
            text,
            cluster: clusters + k as u64,
            clean: true,
            ocr_confidence,
            negative: false,
            excerpt_of: Some(c as u64),
        });
    }
    // Arrival order must not matter: shuffle (Fisher–Yates).
    for i in (1..docs.len()).rev() {
        let j = rng.below(i + 1);
        docs.swap(i, j);
    }
    docs
}

/// The sorted, distinct xxh3 hashes of `text`'s word 3-grams, lowercased and split at
/// whitespace: no normalization beyond that.
fn plain_word_trigrams(text: &str) -> Vec<u64> {
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    let mut out: Vec<u64> = words.windows(3).map(|w| xxhash_rust::xxh3::xxh3_64(w.join(" ").as_bytes())).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Pair-counting scores of a predicted clustering against the truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub ari: f64,
}

/// Precision, recall and F1 over same-cluster pairs, and the adjusted Rand index.
pub fn score(truth: &[u64], predicted: &[u64]) -> PairScores {
    let pairs = |n: u64| n * n.saturating_sub(1) / 2;
    let mut joint: HashMap<(u64, u64), u64> = HashMap::new();
    let mut t: HashMap<u64, u64> = HashMap::new();
    let mut p: HashMap<u64, u64> = HashMap::new();
    for (a, b) in truth.iter().zip(predicted) {
        *joint.entry((*a, *b)).or_default() += 1;
        *t.entry(*a).or_default() += 1;
        *p.entry(*b).or_default() += 1;
    }
    let tp: u64 = joint.values().map(|&n| pairs(n)).sum();
    let true_pairs: u64 = t.values().map(|&n| pairs(n)).sum();
    let pred_pairs: u64 = p.values().map(|&n| pairs(n)).sum();
    let precision = if pred_pairs == 0 { 1.0 } else { tp as f64 / pred_pairs as f64 };
    let recall = if true_pairs == 0 { 1.0 } else { tp as f64 / true_pairs as f64 };
    let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    let all = pairs(truth.len() as u64) as f64;
    let expected = true_pairs as f64 * pred_pairs as f64 / all.max(1.0);
    let max = (true_pairs as f64 + pred_pairs as f64) / 2.0;
    let ari = if (max - expected).abs() < f64::EPSILON { 1.0 } else { (tp as f64 - expected) / (max - expected) };
    PairScores { precision, recall, f1, ari }
}

/// What one evaluation run measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub profile: String,
    pub documents: usize,
    pub planted_pairs: usize,
    pub mean_jaccard_w3: f64,
    pub scores: PairScores,
    /// Predicted clusters that mix documents of different planted clusters.
    pub impure_clusters: usize,
    /// Share of planted clusters (with copies) whose kept document is the clean original.
    pub kept_cleanest: f64,
    /// Templated unique documents planted, and how many of them dedup removed.
    pub negatives: usize,
    pub negatives_removed: usize,
    /// Planted clusters (originals with their copies, and templated uniques) of which no
    /// document is left: every member removed in favour of another cluster's document.
    pub clusters_lost: usize,
    pub seconds: f64,
    /// Excerpts planted, how many were found contained in a document of their original's
    /// cluster, and how many other documents were found contained in anything.
    pub excerpts: usize,
    pub excerpts_found: usize,
    pub others_flagged: usize,
}

impl Report {
    pub fn render(&self) -> String {
        format!(
            "| {} | {} | {} | {:.3} | {:.4} | {:.4} | {:.4} | {:.4} | {} | {:.3} | {} of {} | {} | {:.2} |",
            self.profile,
            self.documents,
            self.planted_pairs,
            self.mean_jaccard_w3,
            self.scores.precision,
            self.scores.recall,
            self.scores.f1,
            self.scores.ari,
            self.impure_clusters,
            self.kept_cleanest,
            self.negatives_removed,
            self.negatives,
            self.clusters_lost,
            self.seconds
        )
    }

    /// The containment line, when excerpts were planted.
    pub fn render_excerpts(&self) -> Option<String> {
        (self.excerpts > 0).then(|| {
            format!(
                "{}: excerpts found contained in their original: {} of {} ({:.3}); other documents flagged as \
                 contained: {}",
                self.profile,
                self.excerpts_found,
                self.excerpts,
                self.excerpts_found as f64 / self.excerpts as f64,
                self.others_flagged
            )
        })
    }

    pub const HEADER: &'static str = "| profile | docs | planted pairs | mean word-3-gram Jaccard | precision | recall | F1 | ARI | impure clusters | kept cleanest | templated uniques removed | clusters with no document left | dedup s |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|";
}

/// Plants duplicates in `base`, writes them to `work/planted.jsonl`, ingests and dedups them with
/// `profile`, and scores the outcome.
pub fn evaluate(
    base: &[String],
    params: &PlantParams,
    profile: &Profile,
    keep_order: &[KeepKey],
    work: &Path,
) -> anyhow::Result<Report> {
    let docs = plant(base, params);
    std::fs::create_dir_all(work)?;
    let input = work.join("planted.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input)?);
    for (i, d) in docs.iter().enumerate() {
        let mut rec = json!({"id": i, "text": d.text, "truth": d.cluster, "clean": d.clean});
        if let Some(c) = d.ocr_confidence {
            rec["ocr_confidence"] = c.into();
        }
        if let Some(c) = d.excerpt_of {
            rec["excerpt_of"] = c.into();
        }
        writeln!(f, "{rec}")?;
    }
    f.flush()?;
    drop(f);
    // Word-3-gram Jaccard of every planted copy against its original, measured with a neutral
    // shingler (lowercase words split at whitespace), not kbcurate's normalizer, which undoes
    // some of the planted confusions and would make the copies look closer than they are.
    let originals: BTreeMap<u64, Vec<u64>> =
        docs.iter().filter(|d| d.clean).map(|d| (d.cluster, plain_word_trigrams(&d.text))).collect();
    let js: Vec<f64> = docs
        .iter()
        .filter(|d| !d.clean)
        .map(|d| crate::dedup::minhash::jaccard(&originals[&d.cluster], &plain_word_trigrams(&d.text)))
        .collect();
    let mean_jaccard_w3 = js.iter().sum::<f64>() / js.len().max(1) as f64;

    let ingested = work.join("ingested");
    let deduped = work.join(format!("deduped-{}", profile.name));
    let _ = std::fs::remove_dir_all(&ingested);
    let _ = std::fs::remove_dir_all(&deduped);
    let cfg = IngestConfig::from_toml("[[collection]]\nname = \"planted\"\npaths = [\"planted.jsonl\"]\n", "eval")?;
    ingest(&cfg, work, &IngestOptions::new(&ingested))?;
    let t = Instant::now();
    let mut o = DedupOptions::new(&deduped);
    o.profile = profile.clone();
    o.keep_order = keep_order.to_vec();
    dedup(&ingested, &o)?;
    let seconds = t.elapsed().as_secs_f64();

    // Truth per document id, from the ingested dataset's meta.
    let mut truth: HashMap<String, (u64, bool)> = HashMap::new();
    let mut excerpt_of: HashMap<String, u64> = HashMap::new();
    for d in Dataset::open(&ingested)?.documents() {
        let d = d?;
        let m: serde_json::Value = serde_json::from_str(&d.meta)?;
        if let Some(c) = m["excerpt_of"].as_u64() {
            excerpt_of.insert(d.id.clone(), c);
        }
        truth.insert(d.id, (m["truth"].as_u64().unwrap_or(u64::MAX), m["clean"].as_bool().unwrap_or(false)));
    }
    // Predicted cluster per document: the kept copy's id.
    let out = Dataset::open(&deduped)?;
    let mut predicted: HashMap<String, String> = HashMap::new();
    // Kept documents found contained in another: their container.
    let mut contained_in: HashMap<String, String> = HashMap::new();
    for p in &out.manifest.parts {
        for b in out.batches(p)? {
            let b = b?;
            use arrow_array::cast::AsArray;
            use arrow_array::Array;
            let ids = b.column_by_name("id").expect("id").as_string::<i32>().clone();
            let cl = b.column_by_name("dup_cluster").expect("dup_cluster").as_string::<i32>().clone();
            let within = b.column_by_name("contained_in").map(|c| c.as_string::<i32>().clone());
            for r in 0..b.num_rows() {
                predicted.insert(ids.value(r).to_string(), cl.value(r).to_string());
                if let Some(w) = within.as_ref().filter(|w| w.is_valid(r)) {
                    contained_in.insert(ids.value(r).to_string(), w.value(r).to_string());
                }
            }
        }
    }
    let excerpts_found = excerpt_of
        .iter()
        .filter(|(id, c)| contained_in.get(*id).is_some_and(|w| truth.get(w).is_some_and(|(t, _)| t == *c)))
        .count();
    let others_flagged = contained_in.keys().filter(|id| !excerpt_of.contains_key(*id)).count();
    for r in out.rejections()? {
        let kept = r.detail.strip_prefix("kept ").and_then(|s| s.split_whitespace().next()).unwrap_or_default();
        predicted.insert(r.id.clone(), kept.to_string());
    }
    let mut t_labels = Vec::new();
    let mut p_labels = Vec::new();
    let mut label_of: HashMap<String, u64> = HashMap::new();
    let mut members: HashMap<u64, std::collections::BTreeSet<u64>> = HashMap::new();
    for (id, (t, _)) in &truth {
        let p = predicted.get(id).cloned().unwrap_or_else(|| id.clone());
        let n = label_of.len() as u64;
        let pl = *label_of.entry(p).or_insert(n);
        t_labels.push(*t);
        p_labels.push(pl);
        members.entry(pl).or_default().insert(*t);
    }
    let scores = score(&t_labels, &p_labels);
    let impure_clusters = members.values().filter(|s| s.len() > 1).count();
    // Kept copies: documents of the output; per planted cluster with copies, is the kept one clean?
    let kept: Vec<&String> = predicted.iter().filter(|(id, p)| id == p).map(|(id, _)| id).collect();
    let sizes = docs.iter().fold(HashMap::<u64, usize>::new(), |mut m, d| {
        *m.entry(d.cluster).or_default() += 1;
        m
    });
    let negative_ids: std::collections::HashSet<u64> = docs.iter().filter(|d| d.negative).map(|d| d.cluster).collect();
    let negatives_removed = truth
        .iter()
        .filter(|(id, (t, _))| negative_ids.contains(t) && predicted.get(*id).is_some_and(|p| p != *id))
        .count();
    let kept_truth: std::collections::HashSet<u64> =
        truth.iter().filter(|(id, _)| predicted.get(*id).is_none_or(|p| p == *id)).map(|(_, (t, _))| *t).collect();
    let clusters_lost = sizes.keys().filter(|t| !kept_truth.contains(t)).count();
    let (mut with_copies, mut clean_kept) = (0usize, 0usize);
    for id in kept {
        let (t, clean) = truth[id];
        if sizes[&t] > 1 {
            with_copies += 1;
            clean_kept += clean as usize;
        }
    }
    Ok(Report {
        profile: profile.name.clone(),
        documents: docs.len(),
        planted_pairs: sizes.values().map(|&n| n * (n - 1) / 2).sum(),
        mean_jaccard_w3,
        scores,
        impure_clusters,
        kept_cleanest: clean_kept as f64 / with_copies.max(1) as f64,
        negatives: negative_ids.len(),
        negatives_removed,
        clusters_lost,
        seconds,
        excerpts: excerpt_of.len(),
        excerpts_found,
        others_flagged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_of_known_clusterings() {
        let truth = [0, 0, 0, 1, 1, 2];
        let perfect = score(&truth, &[5, 5, 5, 7, 7, 9]);
        assert_eq!((perfect.precision, perfect.recall, perfect.f1), (1.0, 1.0, 1.0));
        assert!((perfect.ari - 1.0).abs() < 1e-12);
        let singletons = score(&truth, &[0, 1, 2, 3, 4, 5]);
        assert_eq!(singletons.recall, 0.0);
        let merged = score(&truth, &[0, 0, 0, 0, 0, 0]);
        assert_eq!(merged.recall, 1.0);
        assert!((merged.precision - 4.0 / 15.0).abs() < 1e-12);
        assert!(merged.ari.abs() < 1e-12, "one big cluster is chance level: {}", merged.ari);
    }

    #[test]
    fn planting_is_deterministic_and_noisy_at_the_set_level() {
        let base: Vec<String> =
            (0..40).map(|i| (0..400).map(|w| format!("ord{}x{}", i, w % 97)).collect::<Vec<_>>().join(" ")).collect();
        let p = PlantParams { originals: 20, ..Default::default() };
        let a = plant(&base, &p);
        assert_eq!(a, plant(&base, &p));
        assert_eq!(a.iter().filter(|d| d.clean && !d.negative).count(), 20);
        assert!(a.iter().any(|d| !d.clean));
        assert_eq!(a.iter().filter(|d| d.negative).count(), p.hard_negatives);
        // By default the confidence says nothing about which copy is clean: some copy has a
        // higher one than its original.
        let conf = |d: &Planted| d.ocr_confidence.unwrap();
        assert!(a
            .iter()
            .filter(|d| !d.clean)
            .any(|d| { a.iter().any(|o| o.clean && o.cluster == d.cluster && conf(o) < conf(d)) }));
        // Templated uniques are all different documents.
        let mut texts: Vec<&str> = a.iter().filter(|d| d.negative).map(|d| d.text.as_str()).collect();
        texts.sort();
        texts.dedup();
        assert_eq!(texts.len(), p.hard_negatives);
        let absent = plant(&base, &PlantParams { confidence: Confidence::Absent, ..p.clone() });
        assert!(absent.iter().all(|d| d.ocr_confidence.is_none()));
        assert!(
            (crate::dedup::minhash::jaccard(&plain_word_trigrams("a b c d"), &plain_word_trigrams("A b c e"))
                - 1.0 / 3.0)
                .abs()
                < 1e-12
        );
    }
}

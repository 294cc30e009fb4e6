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
use crate::dedup::minhash::{jaccard, MinHasher, Shingles};
use crate::dedup::normalize::Normalization;
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
}

impl Default for PlantParams {
    fn default() -> Self {
        // 23% of words corrupted gives planted pairs a word-3-gram Jaccard near 0.3, the figure
        // measured on real reprinted newspaper stories (NEWS-COPY).
        Self { originals: 400, max_copies: 3, word_noise: 0.23, words_per_doc: 300, seed: 42 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Planted {
    pub text: String,
    pub cluster: u64,
    pub clean: bool,
    pub ocr_confidence: f32,
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

/// A noisy copy of `words`.
fn noisy_copy(words: &[&str], noise: f64, rng: &mut Rng) -> String {
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
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
    // A lost line (a run of about 8 words) now and then, and a cut end.
    if rng.unit() < 0.3 && out.len() > 20 {
        let at = rng.below(out.len() - 10);
        out.drain(at..at + 8);
    }
    let keep = out.len() - rng.below(out.len() / 10 + 1);
    out.truncate(keep);
    out.join(" ")
}

/// `text` with OCR noise planted as in the duplicates' copies (a share `noise` of the words
/// confused, split or joined; now and then a lost line and a cut end). Deterministic for a seed.
pub fn noisy_text(text: &str, noise: f64, seed: u64) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return String::new();
    }
    noisy_copy(&words, noise, &mut Rng(seed))
}

/// Cuts the base texts into originals and plants noisy copies. Deterministic for a seed.
pub fn plant(base: &[String], p: &PlantParams) -> Vec<Planted> {
    let mut rng = Rng(p.seed);
    let mut originals: Vec<Vec<&str>> = Vec::new();
    'outer: for t in base {
        let words: Vec<&str> = t.split_whitespace().collect();
        for chunk in words.chunks(p.words_per_doc) {
            if chunk.len() >= p.words_per_doc / 2 {
                originals.push(chunk.to_vec());
                if originals.len() == p.originals {
                    break 'outer;
                }
            }
        }
    }
    let mut docs = Vec::new();
    for (c, words) in originals.iter().enumerate() {
        docs.push(Planted {
            text: words.join(" "),
            cluster: c as u64,
            clean: true,
            ocr_confidence: 0.9 + 0.05 * rng.unit() as f32,
        });
        for _ in 0..rng.below(p.max_copies + 1) {
            let conf = 0.85 - (0.3 * rng.unit()) as f32;
            docs.push(Planted {
                text: noisy_copy(words, p.word_noise, &mut rng),
                cluster: c as u64,
                clean: false,
                ocr_confidence: conf,
            });
        }
    }
    // Arrival order must not matter: shuffle (Fisher–Yates).
    for i in (1..docs.len()).rev() {
        let j = rng.below(i + 1);
        docs.swap(i, j);
    }
    docs
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
    pub seconds: f64,
}

impl Report {
    pub fn render(&self) -> String {
        format!(
            "| {} | {} | {} | {:.3} | {:.4} | {:.4} | {:.4} | {:.4} | {} | {:.3} | {:.2} |",
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
            self.seconds
        )
    }

    pub const HEADER: &'static str = "| profile | docs | planted pairs | mean word-3-gram Jaccard | precision | recall | F1 | ARI | impure clusters | kept cleanest | dedup s |\n|---|---|---|---|---|---|---|---|---|---|---|";
}

/// Plants duplicates in `base`, writes them to `work/planted.jsonl`, ingests and dedups them with
/// `profile`, and scores the outcome.
pub fn evaluate(base: &[String], params: &PlantParams, profile: &Profile, work: &Path) -> anyhow::Result<Report> {
    let docs = plant(base, params);
    std::fs::create_dir_all(work)?;
    let input = work.join("planted.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input)?);
    for (i, d) in docs.iter().enumerate() {
        let rec =
            json!({"id": i, "text": d.text, "truth": d.cluster, "clean": d.clean, "ocr_confidence": d.ocr_confidence});
        writeln!(f, "{rec}")?;
    }
    f.flush()?;
    drop(f);
    // Word-3-gram Jaccard of every planted copy against its original.
    let mut h = MinHasher::new(1, 0, Shingles::Words { n: 3 }, Normalization::default());
    let originals: BTreeMap<u64, Vec<u64>> =
        docs.iter().filter(|d| d.clean).map(|d| (d.cluster, h.shingle_hashes(&d.text).to_vec())).collect();
    let js: Vec<f64> =
        docs.iter().filter(|d| !d.clean).map(|d| jaccard(&originals[&d.cluster], h.shingle_hashes(&d.text))).collect();
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
    dedup(&ingested, &o)?;
    let seconds = t.elapsed().as_secs_f64();

    // Truth per document id, from the ingested dataset's meta.
    let mut truth: HashMap<String, (u64, bool)> = HashMap::new();
    for d in Dataset::open(&ingested)?.documents() {
        let d = d?;
        let m: serde_json::Value = serde_json::from_str(&d.meta)?;
        truth.insert(d.id, (m["truth"].as_u64().unwrap_or(u64::MAX), m["clean"].as_bool().unwrap_or(false)));
    }
    // Predicted cluster per document: the kept copy's id.
    let out = Dataset::open(&deduped)?;
    let mut predicted: HashMap<String, String> = HashMap::new();
    for p in &out.manifest.parts {
        for b in out.batches(p)? {
            let b = b?;
            use arrow_array::cast::AsArray;
            let ids = b.column_by_name("id").expect("id").as_string::<i32>().clone();
            let cl = b.column_by_name("dup_cluster").expect("dup_cluster").as_string::<i32>().clone();
            for r in 0..b.num_rows() {
                predicted.insert(ids.value(r).to_string(), cl.value(r).to_string());
            }
        }
    }
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
        seconds,
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
        assert_eq!(a.iter().filter(|d| d.clean).count(), 20);
        assert!(a.iter().any(|d| !d.clean));
        for d in a.iter().filter(|d| !d.clean) {
            assert!(d.ocr_confidence < 0.9);
        }
    }
}

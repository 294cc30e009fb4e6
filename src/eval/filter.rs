//! `kbcurate eval langid`: accuracy per language and the confusion matrix of a detector on
//! labelled sentences (Universal Dependencies `*.tsv`: `label<TAB>sentence`), and accuracy on
//! whole OCR'd newspaper pages (JSONL with `language` and `text`), sampled and unsampled; and
//! `kbcurate eval lexicon`: how the lexicon signal (`unknown_word_share`) separates clean pages
//! from the same pages with planted OCR noise and from pages in other languages.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use crate::filter::config::LanguageConfig;
use crate::filter::langid::{self, LanguageDetector, Nordic, Whatlang};

/// Labelled examples: (ISO 639-3 label, text).
pub fn read_sentences(dir: &Path) -> std::io::Result<Vec<(String, String)>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(&f).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", f.display())))?;
        for line in text.lines() {
            let Some((label, s)) = line.split_once('\t') else { continue };
            let Some(code) = crate::language::normalize(label) else { continue };
            if !s.trim().is_empty() {
                out.push((code, s.trim().to_string()));
            }
        }
    }
    Ok(out)
}

/// Consecutive sentences of one language joined `n` at a time (a short article's worth of text,
/// closer to a document than one sentence is); a last group shorter than `n` is dropped.
pub fn group_sentences(data: &[(String, String)], n: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let lang = &data[i].0;
        let mut j = i;
        while j < data.len() && &data[j].0 == lang && j - i < n {
            j += 1;
        }
        if j - i == n {
            let text = data[i..j].iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join(" ");
            out.push((lang.clone(), text));
        }
        i = j;
    }
    out
}

/// Accuracy and confusion of one detector.
#[derive(Debug, Clone, Default)]
pub struct Confusion {
    pub name: String,
    /// true label → predicted → count.
    pub matrix: BTreeMap<String, BTreeMap<String, u64>>,
    pub seconds: f64,
    pub bytes: u64,
}

impl Confusion {
    pub fn add(&mut self, truth: &str, predicted: &str) {
        *self.matrix.entry(truth.to_string()).or_default().entry(predicted.to_string()).or_default() += 1;
    }

    pub fn accuracy(&self, truth: &str) -> f64 {
        let row = &self.matrix[truth];
        let n: u64 = row.values().sum();
        row.get(truth).copied().unwrap_or(0) as f64 / n.max(1) as f64
    }

    /// A markdown table: accuracy per language, then the confusion matrix (columns: the labels,
    /// then `other`).
    pub fn render(&self) -> String {
        let labels: Vec<&String> = self.matrix.keys().collect();
        let mut s = format!(
            "### {} ({:.1} MB/s on one core)\n\n| true \\ detected | n | accuracy |",
            self.name,
            self.bytes as f64 / 1e6 / self.seconds.max(1e-9)
        );
        for l in &labels {
            s.push_str(&format!(" {l} |"));
        }
        s.push_str(" other |\n|---|---|---|");
        s.push_str(&"---|".repeat(labels.len() + 1));
        s.push('\n');
        for t in &labels {
            let row = &self.matrix[*t];
            let n: u64 = row.values().sum();
            s.push_str(&format!("| {t} | {n} | {:.3} |", self.accuracy(t)));
            for p in &labels {
                s.push_str(&format!(" {} |", row.get(*p).copied().unwrap_or(0)));
            }
            let other: u64 = row.iter().filter(|(p, _)| !self.matrix.contains_key(*p)).map(|(_, v)| v).sum();
            s.push_str(&format!(" {other} |\n"));
        }
        s
    }
}

/// Runs `det` over the sentences.
pub fn confusion(name: &str, det: &dyn LanguageDetector, data: &[(String, String)]) -> Confusion {
    let mut c = Confusion { name: name.to_string(), ..Default::default() };
    let start = Instant::now();
    // KBCURATE_EVAL_ERRORS=sv-nob prints the sentences of one confusion (true-detected) to stderr.
    let show = std::env::var("KBCURATE_EVAL_ERRORS").ok();
    for (truth, text) in data {
        let p = det.detect(text).map_or_else(|| "none".to_string(), |g| g.lang);
        if show.as_deref() == Some(&format!("{truth}-{p}")) {
            eprintln!("{name}: {truth} → {p}: {text}");
        }
        c.add(truth, &p);
        c.bytes += text.len() as u64;
    }
    c.seconds = start.elapsed().as_secs_f64();
    c
}

/// The filter's own decision on each text, as a document without a declared language gets it
/// (`langid::identify`: windows, the confidence margin, `min_chars`), with no language
/// (`und`) counted as a wrong answer. The detectors' rows above score `detect()` alone, which
/// always answers; this row is what the filter keeps or drops by.
pub fn decision_confusion(cfg: &LanguageConfig, data: &[(String, String)]) -> Confusion {
    let det = langid::detector(cfg);
    let mut c = Confusion { name: "the filter's decision (`und` counted as wrong)".into(), ..Default::default() };
    let start = Instant::now();
    for (truth, text) in data {
        let r = langid::identify(text, None, det.as_ref(), cfg);
        c.add(truth, r.language.as_deref().unwrap_or("und"));
        c.bytes += text.len() as u64;
    }
    c.seconds = start.elapsed().as_secs_f64();
    c
}

/// The detectors compared: raw whatlang (all its languages), whatlang on the configured
/// candidates, and the configured candidates with the Nordic scorer (what `filter` uses).
pub fn detectors(cfg: &LanguageConfig) -> Vec<(String, Box<dyn LanguageDetector>)> {
    vec![
        ("whatlang (all languages)".into(), Box::new(Whatlang::new(&[])) as Box<dyn LanguageDetector>),
        ("whatlang (candidates)".into(), Box::new(Whatlang::new(&cfg.candidates))),
        ("whatlang + nordic (candidates; the filter's detector)".into(), {
            let d: Box<dyn LanguageDetector> = Box::new(Nordic::new(Whatlang::new(&cfg.candidates), &cfg.candidates));
            d
        }),
    ]
}

/// Whole pages: the document-level decision (no declared language), sampled as configured and
/// with every window, and how often the two agree.
pub fn pages_report(pages: &[(String, String)], cfg: &LanguageConfig) -> String {
    let det = langid::detector(cfg);
    let all = LanguageConfig { sample_windows: 0, ..cfg.clone() };
    let mut sampled = Confusion {
        name: format!("pages, {} windows of ~{} bytes", cfg.sample_windows, cfg.window_bytes),
        ..Default::default()
    };
    let mut full = Confusion { name: "pages, every window".into(), ..Default::default() };
    let mut agree = 0u64;
    for (truth, text) in pages {
        for (c, conf) in [(&mut sampled, cfg), (&mut full, &all)] {
            let start = Instant::now();
            let r = langid::identify(text, None, det.as_ref(), conf);
            c.seconds += start.elapsed().as_secs_f64();
            c.bytes += text.len() as u64;
            c.add(truth, r.language.as_deref().unwrap_or("none"));
        }
        let a = langid::identify(text, None, det.as_ref(), cfg).language;
        let b = langid::identify(text, None, det.as_ref(), &all).language;
        agree += (a == b) as u64;
    }
    format!(
        "{}\n{}\nsampled and unsampled decisions agree on {agree} of {} pages\n",
        sampled.render(),
        full.render(),
        pages.len()
    )
}

/// Reads pages from a JSONL file with `language` and `text` fields.
pub fn read_pages(path: &Path) -> std::io::Result<Vec<(String, String)>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            let lang = crate::language::normalize(v["language"].as_str()?)?;
            Some((lang, v["text"].as_str()?.to_string()))
        })
        .collect())
}

/// One row of the lexicon evaluation: a set of texts and its signal values.
#[derive(Debug, Clone)]
pub struct SignalRow {
    pub name: String,
    /// `unknown_word_share` per text.
    pub unknown: Vec<f32>,
    /// `non_word_share` per text (the language-light test, for comparison).
    pub non_word: Vec<f32>,
}

fn mean(v: &[f32]) -> f32 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f32>() / v.len() as f32
    }
}

/// Leave one out: each page of `language` is measured against the lexicon of all the other
/// pages of that language (words on at least `min_documents` of them), clean and with planted
/// OCR noise at each of `noises`; the pages of other languages against the lexicon of all.
/// Also returns the size of the lexicon built from every page.
pub fn lexicon_rows(
    pages: &[(String, String)],
    language: &str,
    min_documents: u64,
    noises: &[f64],
    seed: u64,
) -> (usize, Vec<SignalRow>) {
    use crate::filter::lexicon::{unknown_words, word_forms, WordCounter};
    let own: Vec<&str> = pages.iter().filter(|(l, _)| l == language).map(|(_, t)| t.as_str()).collect();
    let mut counter = WordCounter::new(usize::MAX);
    for t in &own {
        counter.add_document(t);
    }
    let size = counter.top(min_documents, usize::MAX).len();
    // Known without page `i`: its own forms count once less.
    let measure = |text: &str, own_forms: Option<&std::collections::HashSet<String>>| {
        unknown_words(text, |f| counter.count(f) - own_forms.is_some_and(|o| o.contains(f)) as u64 >= min_documents)
            .share()
    };
    let forms: Vec<_> = own.iter().map(|t| word_forms(t).0).collect();
    let mut texts =
        vec![(format!("{language}, left out, clean"), own.iter().map(|t| t.to_string()).collect::<Vec<_>>())];
    for &n in noises {
        let noisy =
            own.iter().enumerate().map(|(i, t)| super::dedup::noisy_text(t, n, seed.wrapping_add(i as u64))).collect();
        texts.push((format!("{language}, left out, {:.0}% of words noised", n * 100.0), noisy));
    }
    let mut rows: Vec<SignalRow> = texts
        .into_iter()
        .map(|(name, texts)| SignalRow {
            name,
            unknown: texts.iter().zip(&forms).map(|(t, f)| measure(t, Some(f))).collect(),
            non_word: texts.iter().map(|t| crate::filter::quality::measure(t).non_word_share()).collect(),
        })
        .collect();
    let others: Vec<&str> = pages.iter().filter(|(l, _)| l != language).map(|(_, t)| t.as_str()).collect();
    if !others.is_empty() {
        rows.push(SignalRow {
            name: "other languages".into(),
            unknown: others.iter().map(|t| measure(t, None)).collect(),
            non_word: others.iter().map(|t| crate::filter::quality::measure(t).non_word_share()).collect(),
        });
    }
    (size, rows)
}

/// The rows as a Markdown table, with the share of each row's texts above the clean texts'
/// maximum (how many a threshold just above clean text would remove).
pub fn render_signal_rows(rows: &[SignalRow]) -> String {
    let clean_max =
        |f: fn(&SignalRow) -> &Vec<f32>| rows.first().map_or(0.0, |r| f(r).iter().fold(0.0f32, |a, &b| a.max(b)));
    let (u_max, w_max) = (clean_max(|r| &r.unknown), clean_max(|r| &r.non_word));
    let mut s = String::from(
        "| texts | n | unknown_word_share mean (min–max) | above clean max | above its clean page | non_word_share mean (min–max) | above clean max | above its clean page |\n|---|---|---|---|---|---|---|---|\n",
    );
    // Noised copies line up with the clean texts (row 0): how often the copy scores higher.
    let paired = |v: &[f32], clean: &[f32]| {
        if v.len() != clean.len() || v.is_empty() {
            return "–".to_string();
        }
        format!("{:.2}", v.iter().zip(clean).filter(|(a, b)| a > b).count() as f64 / v.len() as f64)
    };
    for r in rows {
        let range = |v: &[f32]| {
            let (lo, hi) = v.iter().fold((f32::MAX, 0.0f32), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            format!("{:.3} ({:.3}–{:.3})", mean(v), if v.is_empty() { 0.0 } else { lo }, hi)
        };
        let above = |v: &[f32], max: f32| {
            format!("{:.2}", v.iter().filter(|&&x| x > max).count() as f64 / v.len().max(1) as f64)
        };
        let (cu, cw) = (&rows[0].unknown, &rows[0].non_word);
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.name,
            r.unknown.len(),
            range(&r.unknown),
            above(&r.unknown, u_max),
            if r.name.contains("noised") { paired(&r.unknown, cu) } else { "–".into() },
            range(&r.non_word),
            above(&r.non_word, w_max),
            if r.name.contains("noised") { paired(&r.non_word, cw) } else { "–".into() },
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A text the filter cannot place gets no language, and the decision's row counts that as
    /// wrong, where `detect()` alone would have guessed.
    #[test]
    fn the_decision_counts_und_as_wrong() {
        let cfg = LanguageConfig::default();
        let data = vec![
            ("swe".to_string(), "12 34 56 — 78.".to_string()),
            (
                "swe".to_string(),
                "Stockholm är Sveriges huvudstad och den största staden i landet, och där bor många människor \
                 som arbetar i staden."
                    .to_string(),
            ),
        ];
        let c = decision_confusion(&cfg, &data);
        assert_eq!(c.matrix["swe"].get("und"), Some(&1), "{:?}", c.matrix);
        assert_eq!(c.accuracy("swe"), 0.5);
        assert!(c.render().contains("| swe | 2 | 0.500 |"), "{}", c.render());
    }
}

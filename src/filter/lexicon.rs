//! Word-frequency lists, one per language, built from the data: the filter's test of whether a
//! token is a word *of the document's language*, where [`super::quality`] only asks whether it
//! looks like a word at all.
//!
//! A lexicon is built from a corpus (`kbcurate lexicon`): the word-like tokens of the documents
//! detected (or declared) in the language, counted once per document; words seen in at least
//! `min_documents` documents are kept, most frequent first. Built from the collection itself, it
//! holds what a modern list would miss (pre-1906 spelling: `hvad`, `qvinna`, `af`; dialect and
//! place names), while OCR errors, which rarely repeat the same way across documents, stay out.
//! The filter's `unknown_word_share` is the share of a document's tokens with letters whose
//! lower-case form is not in the lexicon of its language.
//!
//! **Memory.** Counting keeps at most `max_entries` distinct words per language: when the map
//! grows past that, the words seen in the fewest documents are dropped (lossy counting, as in
//! Manku & Motwani 2002) and the floor is recorded in the file. The words that survive into a
//! lexicon of the usual size are seen in hundreds of documents and are not affected. Parts are
//! counted in parallel and merged in part order, so the lexicon does not depend on the thread
//! count.
//!
//! **File format** (UTF-8, `\n`): `#` lines are comments (the builder writes its settings
//! there), then one `word<TAB>documents` line per word; the count is optional, so a plain word
//! list (one word per line) works too. Words are compared in lower case with `ſ` read as `s`.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::Array;
use arrow_schema::DataType;
use rayon::prelude::*;

use super::config::LanguageConfig;
use super::heuristics::Prehashed;
use super::langid;
use super::quality::{self, TokenClass};
use crate::dataset::{self, Dataset, DatasetError};

#[derive(Debug, thiserror::Error)]
pub enum LexiconError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: line {line}: {message}")]
    Invalid { path: String, line: usize, message: String },
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("{0}")]
    Other(String),
}

/// The form a word is counted and looked up under: lower case, `ſ` as `s`, edge punctuation
/// stripped. Written into `buf`; `false` when the token has no letter (not a word at all).
pub fn word_form(token: &str, buf: &mut String) -> bool {
    buf.clear();
    let t = quality::trim_edge(token);
    if t.is_ascii() {
        if !t.bytes().any(|b| b.is_ascii_alphabetic()) {
            return false;
        }
        buf.extend(t.bytes().map(|b| char::from(b.to_ascii_lowercase())));
        return true;
    }
    let mut letter = false;
    for c in t.chars() {
        letter |= c.is_alphabetic();
        if c == 'ſ' {
            buf.push('s');
        } else {
            buf.extend(c.to_lowercase());
        }
    }
    letter
}

fn key(form: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(form.as_bytes())
}

/// One language's word list, held as hashes of the word forms.
#[derive(Debug, Clone)]
pub struct Lexicon {
    pub language: String,
    words: HashSet<u64, BuildHasherDefault<Prehashed>>,
    /// xxh3 of the file's bytes: a changed lexicon changes the filter's plan.
    pub digest: u64,
}

/// Tokens with letters, and those of them the lexicon does not hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnknownWords {
    pub tokens: u32,
    pub unknown: u32,
}

impl UnknownWords {
    pub fn share(&self) -> f32 {
        quality::ratio(self.unknown as f64, self.tokens as f64)
    }
}

impl Lexicon {
    pub fn from_words<'a>(language: &str, words: impl IntoIterator<Item = &'a str>) -> Self {
        let mut buf = String::new();
        let mut set = HashSet::default();
        for w in words {
            if word_form(w, &mut buf) {
                set.insert(key(&buf));
            }
        }
        Self { language: language.to_string(), words: set, digest: 0 }
    }

    /// Reads a lexicon file (see the module docs); errors name the file and line.
    pub fn read(language: &str, path: &Path) -> Result<Self, LexiconError> {
        let bytes =
            std::fs::read(path).map_err(|source| LexiconError::Io { path: path.display().to_string(), source })?;
        let invalid =
            |line: usize, message: String| LexiconError::Invalid { path: path.display().to_string(), line, message };
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
            invalid(line, "not UTF-8".into())
        })?;
        let mut words = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (word, count) = line.split_once('\t').unwrap_or((line, ""));
            if word.trim().is_empty() || word.chars().any(char::is_whitespace) {
                return Err(invalid(n + 1, format!("`{word}`: expected one word, then optionally a tab and a count")));
            }
            if !count.is_empty() && count.trim().parse::<u64>().is_err() {
                return Err(invalid(n + 1, format!("`{count}` after the tab is not a count")));
            }
            words.push(word);
        }
        if words.is_empty() {
            return Err(invalid(0, "no words; build one with `kbcurate lexicon`".into()));
        }
        let mut lex = Self::from_words(language, words);
        lex.digest = xxhash_rust::xxh3::xxh3_64(&bytes);
        Ok(lex)
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn contains(&self, word: &str) -> bool {
        let mut buf = String::new();
        word_form(word, &mut buf) && self.words.contains(&key(&buf))
    }

    /// Counts `text`'s tokens with letters (split at whitespace) and those not in the lexicon.
    pub fn measure(&self, text: &str) -> UnknownWords {
        unknown_words(text, |form| self.words.contains(&key(form)))
    }
}

/// Counts `text`'s tokens with letters (split at whitespace) and those whose form `known`
/// refuses.
pub fn unknown_words(text: &str, mut known: impl FnMut(&str) -> bool) -> UnknownWords {
    let mut m = UnknownWords::default();
    let mut buf = String::with_capacity(32);
    for tok in text.split_whitespace() {
        if word_form(tok, &mut buf) {
            m.tokens += 1;
            if !known(&buf) {
                m.unknown += 1;
            }
        }
    }
    m
}

/// The distinct forms of the word-like tokens of `text` (what a document adds to a count),
/// and the number of word-like tokens.
pub fn word_forms(text: &str) -> (HashSet<String>, u64) {
    // Forms, not tokens: `Och` and `och,` are one word.
    let mut forms: HashSet<String> = HashSet::new();
    let mut buf = String::new();
    let mut tokens = 0;
    for tok in text.split_whitespace() {
        if quality::classify(tok) != TokenClass::Word {
            continue;
        }
        tokens += 1;
        if word_form(tok, &mut buf) && !forms.contains(buf.as_str()) {
            forms.insert(buf.clone());
        }
    }
    (forms, tokens)
}

/// The lexicons the filter uses, by language.
#[derive(Debug, Clone, Default)]
pub struct Lexicons(Vec<Lexicon>);

impl Lexicons {
    /// Reads every file of `paths` (language → file).
    pub fn read(paths: &std::collections::BTreeMap<String, PathBuf>) -> Result<Self, LexiconError> {
        paths.iter().map(|(lang, p)| Lexicon::read(lang, p)).collect::<Result<Vec<_>, _>>().map(Self)
    }

    pub fn get(&self, language: &str) -> Option<&Lexicon> {
        self.0.iter().find(|l| l.language == language)
    }

    /// Feeds each lexicon's language and digest to `h` (the filter's plan).
    pub fn hash_into(&self, h: &mut xxhash_rust::xxh3::Xxh3) {
        for l in &self.0 {
            h.update(l.language.as_bytes());
            h.update(&l.digest.to_le_bytes());
        }
    }
}

/// Document frequencies of one language's word forms, bounded in memory (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct WordCounter {
    counts: HashMap<String, u64>,
    max_entries: usize,
    /// Words seen in at most this many documents may have been dropped (0: nothing dropped).
    pub floor: u64,
    pub documents: u64,
    pub tokens: u64,
}

impl WordCounter {
    pub fn new(max_entries: usize) -> Self {
        Self { max_entries: max_entries.max(2), ..Default::default() }
    }

    /// Counts each word-like token form of `text` once.
    pub fn add_document(&mut self, text: &str) {
        let (forms, tokens) = word_forms(text);
        self.documents += 1;
        self.tokens += tokens;
        for f in forms {
            *self.counts.entry(f).or_default() += 1;
        }
        self.prune();
    }

    /// Documents `form` was counted in.
    pub fn count(&self, form: &str) -> u64 {
        self.counts.get(form).copied().unwrap_or(0)
    }

    /// Adds `other`'s counts (a later part).
    pub fn merge(&mut self, other: WordCounter) {
        self.documents += other.documents;
        self.tokens += other.tokens;
        self.floor = self.floor.max(other.floor);
        for (w, n) in other.counts {
            *self.counts.entry(w).or_default() += n;
        }
        self.prune();
    }

    fn prune(&mut self) {
        while self.counts.len() > self.max_entries {
            self.floor += 1;
            let floor = self.floor;
            self.counts.retain(|_, n| *n > floor);
        }
    }

    pub fn distinct(&self) -> usize {
        self.counts.len()
    }

    /// Words seen in at least `min_documents` documents, most frequent first (ties in word
    /// order), at most `max_words` of them.
    pub fn top(&self, min_documents: u64, max_words: usize) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> =
            self.counts.iter().filter(|(_, &n)| n >= min_documents).map(|(w, &n)| (w.clone(), n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(max_words);
        v
    }
}

/// Settings of `kbcurate lexicon`.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Languages to build lexicons for (ISO 639-3).
    pub languages: Vec<String>,
    /// How a document's language is decided (as the filter decides it).
    pub language: LanguageConfig,
    /// A word must occur in at least this many documents.
    pub min_documents: u64,
    /// At most this many words per lexicon.
    pub max_words: usize,
    /// Distinct words held per language while counting (memory bound).
    pub max_entries: usize,
    /// Only documents with at most this share of non-word tokens count (clean text).
    pub max_non_word_share: f32,
    /// Only documents with at least this `ocr_confidence` count (documents without one do).
    pub min_ocr_confidence: f32,
    pub threads: Option<usize>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            languages: vec!["swe".into()],
            language: LanguageConfig::default(),
            min_documents: 3,
            max_words: 200_000,
            max_entries: 4_000_000,
            max_non_word_share: 0.2,
            min_ocr_confidence: 0.8,
            threads: None,
        }
    }
}

/// One built lexicon and how it was counted.
#[derive(Debug, Clone)]
pub struct Built {
    pub language: String,
    pub counter: WordCounter,
    pub words: Vec<(String, u64)>,
}

/// What [`write()`] did for one language.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// `<output>/<language>.tsv`.
    File(std::path::PathBuf),
    /// No word qualified (no document identified as the language, or none clean enough).
    Empty,
}

/// Writes each built lexicon with words to `<output>/<language>.tsv` (atomically), in the
/// order built.
pub fn write(built: &[Built], opts: &BuildOptions, input: &Path, output: &Path) -> Result<Vec<Written>, LexiconError> {
    std::fs::create_dir_all(output)
        .map_err(|e| LexiconError::Other(format!("cannot create {}: {e}", output.display())))?;
    let mut out = Vec::new();
    for b in built {
        if b.words.is_empty() {
            out.push(Written::Empty);
            continue;
        }
        let path = output.join(format!("{}.tsv", b.language));
        crate::dataset::write_atomic(&path, b.render(opts, input).as_bytes())?;
        out.push(Written::File(path));
    }
    Ok(out)
}

impl Built {
    /// The file's text (see the module docs).
    pub fn render(&self, opts: &BuildOptions, input: &Path) -> String {
        let mut s = format!(
            "# kbcurate lexicon\n# language\t{}\n# input\t{}\n# documents\t{}\n# word_tokens\t{}\n# distinct_counted\t{}\n\
             # min_documents\t{}\n# max_words\t{}\n# pruned_at_or_below\t{}\n",
            self.language,
            input.display(),
            self.counter.documents,
            self.counter.tokens,
            self.counter.distinct(),
            opts.min_documents,
            opts.max_words,
            self.counter.floor,
        );
        for (w, n) in &self.words {
            s.push_str(w);
            s.push('\t');
            s.push_str(&n.to_string());
            s.push('\n');
        }
        s
    }
}

/// Counts the word forms of the documents of `input` in each of `opts.languages`.
pub fn build(input: &Path, opts: &BuildOptions) -> Result<Vec<Built>, LexiconError> {
    if opts.languages.is_empty() {
        return Err(LexiconError::Other("no languages to build lexicons for".into()));
    }
    let pool = crate::stage::thread_pool(opts.threads).map_err(LexiconError::Other)?;
    let ds = Dataset::open(input)?;
    let detector = langid::detector(&opts.language);
    let fresh = || opts.languages.iter().map(|_| WordCounter::new(opts.max_entries)).collect::<Vec<_>>();
    let mut total = fresh();
    // Parts in windows of a few per thread: memory holds that many counters, not one per part.
    let window = pool.current_num_threads().max(1) * 2;
    for chunk in ds.manifest.parts.chunks(window) {
        let counted: Vec<Result<Vec<WordCounter>, LexiconError>> = pool.install(|| {
            chunk
                .par_iter()
                .map(|part| {
                    let mut counters = fresh();
                    count_part(&ds, part, opts, detector.as_ref(), &mut counters)?;
                    Ok(counters)
                })
                .collect()
        });
        for c in counted {
            for (t, c) in total.iter_mut().zip(c?) {
                t.merge(c);
            }
        }
    }
    Ok(opts
        .languages
        .iter()
        .zip(total)
        .map(|(lang, counter)| Built {
            language: lang.clone(),
            words: counter.top(opts.min_documents, opts.max_words),
            counter,
        })
        .collect())
}

fn count_part(
    ds: &Dataset,
    part: &dataset::PartFile,
    opts: &BuildOptions,
    detector: &dyn langid::LanguageDetector,
    counters: &mut [WordCounter],
) -> Result<(), LexiconError> {
    let path = ds.dir.join(&part.file);
    for batch in ds.batches(part)? {
        let batch = batch?;
        let text = batch
            .column_by_name("text")
            .filter(|c| c.data_type() == &DataType::LargeUtf8)
            .ok_or_else(|| LexiconError::Other(format!("{}: no `text` column of type LargeUtf8", path.display())))?
            .as_string::<i64>();
        let declared = batch.column_by_name("language").filter(|c| c.data_type() == &DataType::Utf8);
        let conf = batch
            .column_by_name("ocr_confidence")
            .filter(|c| c.data_type() == &DataType::Float32)
            .map(|c| c.as_primitive::<Float32Type>());
        for r in 0..batch.num_rows() {
            if conf.is_some_and(|c| c.is_valid(r) && c.value(r) < opts.min_ocr_confidence) {
                continue;
            }
            let t = text.value(r);
            let decl = declared
                .map(|c| c.as_string::<i32>())
                .filter(|c| c.is_valid(r))
                .and_then(|c| crate::language::normalize(c.value(r)));
            let lang = langid::identify(t, decl.as_deref(), detector, &opts.language);
            let Some(k) = lang.language.as_ref().and_then(|l| opts.languages.iter().position(|x| x == l)) else {
                continue;
            };
            if quality::measure(t).non_word_share() > opts.max_non_word_share {
                continue;
            }
            counters[k].add_document(t);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_lower_case_with_long_s_and_no_edge_punctuation() {
        let mut b = String::new();
        assert!(word_form("Stockholm,", &mut b));
        assert_eq!(b, "stockholm");
        assert!(word_form("»Läſa«", &mut b));
        assert_eq!(b, "läsa");
        assert!(word_form("(ÅR)", &mut b));
        assert_eq!(b, "år");
        assert!(!word_form("1848.", &mut b));
        assert!(!word_form("—", &mut b));
    }

    #[test]
    fn measure_counts_tokens_with_letters_and_the_unknown_ones() {
        let lex = Lexicon::from_words("swe", ["och", "hvad", "qvinna", "af"]);
        let m = lex.measure("Och hvad Qvinna, 1848 af tlie ocli —");
        assert_eq!(m, UnknownWords { tokens: 6, unknown: 2 });
        assert!((m.share() - 2.0 / 6.0).abs() < 1e-6);
        assert_eq!(lex.measure("1848 — 12"), UnknownWords::default());
        assert_eq!(lex.measure("").share(), 0.0);
    }

    #[test]
    fn counter_counts_documents_not_tokens() {
        let mut c = WordCounter::new(100);
        c.add_document("och och Och hvad");
        c.add_document("och qvinna x1y");
        assert_eq!(c.documents, 2);
        assert_eq!(c.top(1, 10), vec![("och".into(), 2), ("hvad".into(), 1), ("qvinna".into(), 1)]);
        assert_eq!(c.top(2, 10), vec![("och".into(), 2)]);
        assert_eq!(c.top(1, 1), vec![("och".into(), 2)]);
    }

    #[test]
    fn pruning_keeps_frequent_words_and_records_the_floor() {
        let mut c = WordCounter::new(4);
        for i in 0..20 {
            c.add_document(&format!("och att ord{}", char::from(b'a' + i as u8)));
        }
        assert!(c.distinct() <= 4);
        assert!(c.floor >= 1);
        let top = c.top(10, 10);
        assert_eq!(top.iter().map(|(w, _)| w.as_str()).collect::<Vec<_>>(), ["att", "och"]);
        // Counted in two halves and merged, the frequent words survive with their counts.
        let (mut a, mut b) = (WordCounter::new(4), WordCounter::new(4));
        for i in 0..10 {
            a.add_document(&format!("och att ord{}", char::from(b'a' + i as u8)));
        }
        for i in 10..20 {
            b.add_document(&format!("och att ord{}", char::from(b'a' + i as u8)));
        }
        a.merge(b);
        assert_eq!(a.top(10, 10), top);
    }

    #[test]
    fn read_refuses_bad_lines_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("swe.tsv");
        std::fs::write(&p, "# kbcurate lexicon\noch\t12\nhvad\n").unwrap();
        let lex = Lexicon::read("swe", &p).unwrap();
        assert_eq!(lex.len(), 2);
        assert!(lex.contains("Hvad") && !lex.contains("vad"));
        std::fs::write(&p, "och\t12\ntwo words\t3\n").unwrap();
        let e = Lexicon::read("swe", &p).unwrap_err().to_string();
        assert!(e.contains("swe.tsv") && e.contains("line 2"), "{e}");
        std::fs::write(&p, "och\tmany\n").unwrap();
        let e = Lexicon::read("swe", &p).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("many"), "{e}");
        std::fs::write(&p, "# only a comment\n").unwrap();
        assert!(Lexicon::read("swe", &p).unwrap_err().to_string().contains("no words"));
        let e = Lexicon::read("swe", &dir.path().join("nope.tsv")).unwrap_err().to_string();
        assert!(e.contains("nope.tsv"), "{e}");
    }
}

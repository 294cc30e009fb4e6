//! The filter stage driver: reads a dataset, writes a dataset.
//!
//! Parts are processed in parallel, each on its own (documents in input order), so the output
//! does not depend on the thread count. Per document: language identification (on the
//! original text), optional removal of garbage lines, the signals (computed once), the rules
//! in order (the first rule broken removes the document; every rule broken counts in the
//! marginal table), and PII masking of what is written (kept text and rejected text alike).
//! A part's rule tables are kept in its marker (`_parts/part-NNNNN.json`, see [`crate::stage`]),
//! so a resumed run sums them without redoing the part.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::builder::{Float32Builder, StringBuilder, UInt32Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use super::config::FilterConfig;
use super::langid::{self, LanguageDetector};
use super::lexicon::Lexicons;
use super::pii::Masker;
use super::rules::{self, Signals, RULES};
use crate::dataset::{self, Counts, Dataset, DatasetError, PartRecord, RejectionSink, Shard};
use crate::reject::Reason;
use crate::stage::{self, DatasetStage, ManifestHead, Tally};

pub const STAGE: &str = "filter";

/// Columns the stage adds (after the input's columns), with their types. Documented in
/// `schemas/document.md`.
pub const ADDED_COLUMNS: [(&str, DataType, bool); 14] = [
    ("language_shares", DataType::Utf8, false),
    ("language_flag", DataType::Utf8, true),
    ("non_alpha_share", DataType::Float32, false),
    ("non_word_share", DataType::Float32, false),
    ("unknown_word_share", DataType::Float32, true),
    ("mean_word_length", DataType::Float32, false),
    ("repeat_char_share", DataType::Float32, false),
    ("symbol_ratio", DataType::Float32, false),
    ("punct_line_share", DataType::Float32, false),
    ("dup_line_share", DataType::Float32, false),
    ("dup_paragraph_share", DataType::Float32, false),
    ("bullet_line_share", DataType::Float32, false),
    ("timestamps", DataType::UInt32, false),
    ("pii_masked", DataType::UInt32, false),
];

#[derive(Debug, Clone)]
pub struct FilterOptions {
    pub output: PathBuf,
    pub config: FilterConfig,
    pub threads: Option<usize>,
    /// How the Parquet parts are compressed.
    pub compression: crate::dataset::Codec,
    /// Only these parts (a task of a job array): no manifest is written.
    pub shard: Shard,
    /// Sync the output to disk at its commit points (`--sync`; see the dataset module's
    /// durability notes). Changes no output.
    pub sync: bool,
}

impl FilterOptions {
    pub fn new(output: impl Into<PathBuf>) -> Self {
        Self {
            output: output.into(),
            sync: false,
            config: FilterConfig::default(),
            threads: None,
            compression: crate::dataset::Codec::default(),
            shard: Shard::WHOLE,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("{0}")]
    Other(String),
}

/// Per-part (and summed) tables beyond `Counts`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartStats {
    /// Documents breaking each rule, whatever the rules before it said.
    pub marginal: BTreeMap<String, u64>,
    /// PII masked, by kind.
    pub pii_masked: BTreeMap<String, u64>,
    /// Kept documents by language.
    pub kept_languages: BTreeMap<String, u64>,
    /// Documents (kept or not) whose declared language the detector contradicted.
    pub language_flags: u64,
    /// Bytes given to the language detector.
    pub sampled_bytes: u64,
    /// Bytes of text read (for throughput).
    pub text_bytes_in: u64,
}

impl Tally for PartStats {
    fn add(&mut self, o: &PartStats) {
        for (k, v) in &o.marginal {
            *self.marginal.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.pii_masked {
            *self.pii_masked.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.kept_languages {
            *self.kept_languages.entry(k.clone()).or_default() += v;
        }
        self.language_flags += o.language_flags;
        self.sampled_bytes += o.sampled_bytes;
        self.text_bytes_in += o.text_bytes_in;
    }
}

#[derive(Debug, Clone)]
pub struct FilterSummary {
    pub counts: Counts,
    pub stats: PartStats,
    pub elapsed: Duration,
}

impl FilterSummary {
    pub fn render(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut s = format!(
            "filter: {} documents kept of {} in {:.2}s ({:.0} docs/s, {} of text)\n",
            self.counts.kept,
            self.counts.input,
            secs,
            self.counts.input as f64 / secs,
            crate::size::Rate { bytes: self.stats.text_bytes_in, seconds: secs },
        );
        s.push_str("  rule                  sequential   marginal\n");
        for r in RULES {
            let seq = self.counts.rejected.get(r.as_str()).copied().unwrap_or(0);
            let mar = self.stats.marginal.get(r.as_str()).copied().unwrap_or(0);
            if seq > 0 || mar > 0 {
                s.push_str(&format!("  {:<20} {seq:>10} {mar:>10}\n", r.as_str()));
            }
        }
        for (why, n) in &self.counts.lines_removed {
            s.push_str(&format!("  lines removed ({why}): {n}\n"));
        }
        for (k, n) in &self.stats.pii_masked {
            s.push_str(&format!("  pii masked ({k}): {n}\n"));
        }
        if self.stats.language_flags > 0 {
            s.push_str(&format!("  declared language contradicted: {}\n", self.stats.language_flags));
        }
        let langs: Vec<String> = self.stats.kept_languages.iter().map(|(l, n)| format!("{l} {n}")).collect();
        if !langs.is_empty() {
            s.push_str(&format!("  kept by language: {}\n", langs.join(", ")));
        }
        s
    }
}

/// Runs the filter stage on the dataset at `input`.
pub fn filter(input: &Path, opts: &FilterOptions) -> Result<FilterSummary, FilterError> {
    opts.config.validate("filter config").map_err(|e| FilterError::Other(e.to_string()))?;
    stage::install(opts.threads, || run(input, opts)).map_err(FilterError::Other)?
}

/// The filter's parts: part `i` of the output is part `i` of the input, filtered.
struct FilterParts<'a> {
    ds: &'a Dataset,
    plan: &'a str,
    opts: &'a FilterOptions,
    tools: Tools<'a>,
}

impl DatasetStage for FilterParts<'_> {
    type Stats = PartStats;
    type Error = FilterError;

    fn parts(&self) -> usize {
        self.ds.manifest.parts.len()
    }

    fn plan(&self, _part: u32) -> String {
        self.plan.to_string()
    }

    fn write_part(&self, part: u32, _plan: &str) -> Result<(PartRecord, PartStats), FilterError> {
        let input = &self.ds.manifest.parts[part as usize];
        filter_part(self.ds, input, part, &self.opts.output, self.opts, &self.tools)
    }
}

fn run(input: &Path, opts: &FilterOptions) -> Result<FilterSummary, FilterError> {
    let start = Instant::now();
    let ds = Dataset::open(input)?;
    let out = &opts.output;
    let _lock = stage::prepare_output(out, STAGE, ds.manifest.parts.len(), opts.shard)?;
    let config_json = serde_json::to_value(&opts.config).expect("config serializes");
    let lexicons = Lexicons::read(&opts.config.quality.lexicons).map_err(|e| FilterError::Other(e.to_string()))?;
    let plan = stage::input_parts_plan(&config_json, |h| lexicons.hash_into(h), opts.compression, &ds.manifest.parts);
    let detector = langid::detector(&opts.config.language);
    let masker = Masker::new(&opts.config.pii);
    let tools = Tools { detector: detector.as_ref(), masker: &masker, lexicons: &lexicons };
    let work = FilterParts { ds: &ds, plan: &plan, opts, tools };
    let run = stage::run_dataset(&work, out, opts.shard)?;
    run.commit(out, opts.shard, opts.sync, |run| {
        let (counts, stats) = (&run.counts, &run.stats);
        let rules_table: Vec<serde_json::Value> = RULES
            .iter()
            .map(|r| {
                let seq = counts.rejected.get(r.as_str()).copied().unwrap_or(0);
                let mar = stats.marginal.get(r.as_str()).copied().unwrap_or(0);
                serde_json::json!({
                    "rule": r.as_str(),
                    "sequential": seq,
                    "marginal": mar,
                    "marginal_share": if counts.input == 0 { 0.0 } else { mar as f64 / counts.input as f64 },
                })
            })
            .collect();
        Ok::<_, FilterError>(ManifestHead {
            stage: STAGE,
            config: config_json,
            inputs: serde_json::json!({
                "dataset": input.display().to_string(),
                "stage": ds.manifest.stage,
                "parts": ds.manifest.parts,
            }),
            compression: opts.compression,
            stats: Some(serde_json::json!({
                "rules": rules_table,
                "pii_masked": stats.pii_masked,
                "kept_languages": stats.kept_languages,
                "language_flags": stats.language_flags,
                "detector": detector.name(),
                "sampled_bytes": stats.sampled_bytes,
            })),
        })
    })?;
    Ok(FilterSummary { counts: run.counts, stats: run.stats, elapsed: start.elapsed() })
}

/// The output schema: the input's columns (filter columns of an earlier run left out) plus
/// [`ADDED_COLUMNS`].
pub fn output_schema(input: &Schema) -> SchemaRef {
    let mut fields: Vec<Field> = input
        .fields()
        .iter()
        .filter(|f| !ADDED_COLUMNS.iter().any(|(n, _, _)| n == f.name()))
        .map(|f| f.as_ref().clone())
        .collect();
    for (name, ty, nullable) in ADDED_COLUMNS {
        fields.push(Field::new(name, ty, nullable));
    }
    Arc::new(Schema::new(fields))
}

/// Builders of the added columns.
struct Added {
    shares: StringBuilder,
    flag: StringBuilder,
    unknown: Float32Builder,
    f: [Float32Builder; 9],
    timestamps: UInt32Builder,
    pii: UInt32Builder,
}

impl Added {
    fn new() -> Self {
        Self {
            shares: StringBuilder::new(),
            flag: StringBuilder::new(),
            unknown: Float32Builder::new(),
            f: std::array::from_fn(|_| Float32Builder::new()),
            timestamps: UInt32Builder::new(),
            pii: UInt32Builder::new(),
        }
    }

    fn push(&mut self, lang: &langid::LanguageResult, s: &Signals, pii: u32) {
        self.shares.append_value(lang.shares_string());
        self.flag.append_option(lang.flag.as_deref());
        self.unknown.append_option(s.unknown_words.map(|u| u.share()));
        let v = [
            s.quality.non_alpha_share(),
            s.quality.non_word_share(),
            s.quality.mean_word_length(),
            s.quality.repeat_char_share(),
            s.symbol_ratio(),
            s.lines.punct_line_share(),
            s.lines.dup_line_share(),
            s.lines.dup_paragraph_share(),
            s.lines.bullet_line_share(),
        ];
        for (b, x) in self.f.iter_mut().zip(v) {
            b.append_value(x);
        }
        self.timestamps.append_value(s.lines.timestamps);
        self.pii.append_value(pii);
    }

    fn finish(mut self) -> Vec<ArrayRef> {
        let mut cols: Vec<ArrayRef> = vec![Arc::new(self.shares.finish()), Arc::new(self.flag.finish())];
        let mut f = self.f.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef);
        // The order of ADDED_COLUMNS: non_alpha_share, non_word_share, unknown_word_share, ...
        cols.extend(f.by_ref().take(2));
        cols.push(Arc::new(self.unknown.finish()));
        cols.extend(f);
        cols.push(Arc::new(self.timestamps.finish()));
        cols.push(Arc::new(self.pii.finish()));
        cols
    }
}

/// What every part shares: built once per run.
struct Tools<'a> {
    detector: &'a dyn LanguageDetector,
    masker: &'a Masker,
    lexicons: &'a Lexicons,
}

fn filter_part(
    ds: &Dataset,
    part: &dataset::PartFile,
    i: u32,
    out: &Path,
    opts: &FilterOptions,
    tools: &Tools,
) -> Result<(PartRecord, PartStats), FilterError> {
    let Tools { detector, masker, lexicons } = *tools;
    let cfg = &opts.config;
    let path = ds.dir.join(&part.file);
    let bad = |what: String| FilterError::Other(format!("{}: {what}", path.display()));
    let props = dataset::writer_properties(opts.compression);
    let mut rejected = RejectionSink::create(out, &dataset::rejected_part_name(i), props.clone(), 4096, 32 << 20)?;
    let mut kept_rows = dataset::KeptRows::new(out, i, props);
    let mut counts = Counts::default();
    let mut stats = PartStats::default();
    let mut text_bytes = 0u64;
    let mut schema: Option<SchemaRef> = None;
    for batch in ds.batches(part)? {
        let batch = batch?;
        let sch = schema.get_or_insert_with(|| output_schema(&batch.schema())).clone();
        let text = batch
            .column_by_name("text")
            .filter(|c| c.data_type() == &DataType::LargeUtf8)
            .ok_or_else(|| bad("no `text` column of type LargeUtf8; is this a kbcurate dataset?".into()))?
            .as_string::<i64>()
            .clone();
        let s = |name: &str| {
            batch
                .column_by_name(name)
                .filter(|c| c.data_type() == &DataType::Utf8)
                .map(|c| c.as_string::<i32>().clone())
        };
        let langs = s("language");
        let origin = dataset::RowOrigin::of(&batch);
        let conf = batch
            .column_by_name("ocr_confidence")
            .filter(|c| c.data_type() == &DataType::Float32)
            .map(|c| c.as_primitive::<Float32Type>().clone());
        let get = |c: &Option<arrow_array::StringArray>, r: usize| {
            c.as_ref().filter(|c| c.is_valid(r)).map(|c| c.value(r).to_string())
        };
        let mut keep = Vec::with_capacity(batch.num_rows());
        // Kept documents whose text changed (garbage lines dropped, PII masked).
        let mut edits = dataset::TextEdits::new();
        let mut new_lang = StringBuilder::new();
        let mut new_score = Float32Builder::new();
        let mut added = Added::new();
        for r in 0..batch.num_rows() {
            counts.input += 1;
            let original = text.value(r);
            stats.text_bytes_in += original.len() as u64;
            let declared = get(&langs, r).and_then(|l| crate::language::normalize(&l));
            let lang = langid::identify(original, declared.as_deref(), detector, &cfg.language);
            stats.sampled_bytes += lang.sampled_bytes as u64;
            if lang.flag.as_deref().is_some_and(|f| f.starts_with("declared ") && !f.contains(" kept;")) {
                stats.language_flags += 1;
            }
            let cleaned = if cfg.quality.drop_garbage_lines {
                super::quality::drop_garbage_lines(original, cfg.quality.garbage_line_share)
            } else {
                None
            };
            let t = cleaned.as_ref().map_or(original, |(t, _)| t.as_str());
            let mut signals = Signals::measure(t);
            if let Some(lex) = lang.language.as_deref().and_then(|l| lexicons.get(l)) {
                signals.unknown_words = Some(lex.measure(t));
            }
            let ocr = conf.as_ref().filter(|c| c.is_valid(r)).map(|c| c.value(r));
            let mut hits = rules::check(&signals, &lang, ocr, cfg);
            if t.trim().is_empty() {
                hits.insert(0, rules::Hit { reason: Reason::EmptyText, detail: "every line was garbage".into() });
            }
            for h in &hits {
                *stats.marginal.entry(h.reason.as_str().to_string()).or_default() += 1;
            }
            let masked = masker.mask(t);
            if let Some((_, c)) = &masked {
                for (k, n) in [("email", c.emails), ("phone", c.phones), ("personnummer", c.personnummer)] {
                    if n > 0 {
                        *stats.pii_masked.entry(k.to_string()).or_default() += n as u64;
                    }
                }
            }
            let final_text = masked.as_ref().map_or(t, |(m, _)| m.as_str());
            if let Some(first) = hits.into_iter().next() {
                *counts.rejected.entry(first.reason.as_str().to_string()).or_default() += 1;
                // The text as it was, PII masked.
                let text = match (&cleaned, &masked) {
                    (None, Some((m, _))) => m.clone(),
                    (None, None) => original.to_string(),
                    (Some(_), _) => masker.mask(original).map_or_else(|| original.to_string(), |(m, _)| m),
                };
                rejected.push(&origin.rejection(r, STAGE, first.reason.as_str(), first.detail, Some(text)))?;
                // Placeholders: the row is filtered out below.
                new_lang.append_null();
                new_score.append_null();
                added.push(&lang, &signals, 0);
                keep.push(false);
                continue;
            }
            if let Some((_, n)) = &cleaned {
                *counts.lines_removed.entry("garbage".into()).or_default() += n;
            }
            counts.kept += 1;
            text_bytes += final_text.len() as u64;
            if cleaned.is_some() || masked.is_some() {
                // The signals counted the words of `t`; masking may merge some.
                let words = if masked.is_some() { crate::document::count_words(final_text) } else { signals.words };
                edits.push(r, final_text.to_string(), words);
            }
            new_lang.append_option(lang.language.as_deref());
            new_score.append_value(lang.score);
            if let Some(l) = &lang.language {
                *stats.kept_languages.entry(l.clone()).or_default() += 1;
            }
            added.push(&lang, &signals, masked.as_ref().map_or(0, |(_, c)| c.total()));
            keep.push(true);
        }
        let edited = edits.apply(&batch).map_err(|e| bad(e.to_string()))?;
        let replaced: [(&str, DataType, ArrayRef); 2] = [
            ("language", DataType::Utf8, Arc::new(new_lang.finish())),
            ("language_score", DataType::Float32, Arc::new(new_score.finish())),
        ];
        let mut columns: Vec<ArrayRef> = edited
            .schema()
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| !ADDED_COLUMNS.iter().any(|(n, _, _)| n == f.name()))
            .map(|(k, f)| {
                replaced
                    .iter()
                    .find(|(n, ty, _)| n == f.name() && ty == f.data_type())
                    .map_or_else(|| edited.column(k).clone(), |(_, _, a)| a.clone())
            })
            .collect();
        columns.extend(added.finish());
        let full = RecordBatch::try_new(sch, columns).map_err(|e| bad(e.to_string()))?;
        kept_rows.write(&full, keep)?;
    }
    debug_assert_eq!(kept_rows.rows(), counts.kept);
    let documents = kept_rows.finish(output_schema(&crate::document::schema()))?;
    let rejected = rejected.finish()?;
    let rec = PartRecord { part: i, counts, documents, rejected, input_bytes: part.bytes, text_bytes };
    Ok((rec, stats))
}

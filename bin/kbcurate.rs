//! The kbcurate command line: parses arguments, calls the library, prints progress and summaries.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use kbcurate::ingest::config::{DateFrom, DateRule, IngestConfig};
use kbcurate::ingest::format::Format;
use kbcurate::ingest::source::MetsSplit;
use kbcurate::ingest::{self, IngestOptions};

#[derive(Parser)]
#[command(
    name = "kbcurate",
    version,
    about = "Turn a national library's digitized collections into balanced, deduplicated pretraining corpora"
)]
struct Cli {
    /// More log output (-v: info, -vv: debug). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Sync each stage's output to disk at its commit (before the manifest; at the end of a
    /// shard's or step's run), so a machine crash cannot cost a rerun. Off by default: renames
    /// alone survive killed processes, and a part cut short by a crash is detected. Also
    /// `KBCURATE_SYNC=1`.
    #[arg(long, global = true)]
    sync: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read OCR output (ALTO, METS/MODS, hOCR, PAGE, TEI), transcripts (SRT, WebVTT, CTM, ASR JSON),
    /// plain text, JSONL and Parquet into a dataset of Parquet parts.
    Ingest(Box<IngestArgs>),
    /// Remove exact and near-duplicate documents (MinHash LSH), keeping the best copy of each cluster.
    Dedup {
        /// The input dataset (e.g. the output of ingest).
        input: PathBuf,
        /// Output dataset folder.
        #[arg(short, long)]
        output: PathBuf,
        /// `ocr` (OCR'd and transcribed text; the default) or `web` (born-digital text).
        #[arg(long, default_value = "ocr")]
        profile: String,
        /// Override the profile's threshold on estimated Jaccard similarity (0..1).
        #[arg(long)]
        threshold: Option<f64>,
        /// Override the profile's LSH banding, e.g. `32x4` (bands × rows = hash functions).
        #[arg(long, conflicts_with = "banding_from_threshold")]
        bands_rows: Option<String>,
        /// Derive bands × rows from the threshold (minimizing missed pairs above it and false
        /// candidates below it), keeping the profile's number of hash functions.
        #[arg(long)]
        banding_from_threshold: bool,
        /// A line recurring in at least this many documents of one source is boilerplate and is
        /// removed from the text (0: keep every line).
        #[arg(long, default_value_t = 20)]
        boilerplate_min_docs: u64,
        /// An earlier release (a dataset, or an index saved with --save-index; repeatable):
        /// documents duplicating one of its documents are removed, naming the earlier document.
        /// A dataset with a saved index for the same profile is read through its index.
        #[arg(long)]
        against: Vec<PathBuf>,
        /// Also write `index/` into the output: the kept documents' signatures, for a later
        /// `--against` without reading this release's text again.
        #[arg(long)]
        save_index: bool,
        /// Run one step only (lines, boilerplate, signatures, cluster, filter, finalize, in
        /// that order), e.g. as a Slurm job; without it every step runs.
        #[arg(long)]
        step: Option<kbcurate::dedup::stage::Step>,
        /// With --step lines, signatures or filter: handle the parts of this shard only,
        /// INDEX/COUNT (part p belongs to shard p % COUNT), e.g. $SLURM_ARRAY_TASK_ID/16.
        #[arg(long, requires = "step")]
        shard: Option<kbcurate::dedup::stage::Shard>,
        /// How the copy to keep is chosen, best first: any of ocr_confidence, length, date
        /// (earliest), latest; the id breaks the last tie.
        #[arg(long, value_delimiter = ',', default_value = "ocr_confidence,length,date")]
        keep_order: Vec<kbcurate::dedup::cluster::KeepKey>,
        /// Worker threads (default: one per core). Output does not depend on it.
        #[arg(short = 'j', long)]
        threads: Option<usize>,
        /// Where signatures are computed: cpu, cuda, cuda:N, or auto (a GPU if there is one).
        /// Output does not depend on it.
        #[arg(long, default_value = "cpu")]
        device: kbcurate::gpu::Device,
        /// Compression of the Parquet parts: zstd (level 1), zstd:LEVEL (-7 to 22; below 1 is
        /// faster and larger), or none.
        #[arg(long, default_value = "zstd")]
        compression: kbcurate::dataset::Codec,
    },
    /// Language identification and quality filtering for OCR'd and spoken material; every
    /// removed document goes to rejected/ with the rule and the value that removed it.
    Filter {
        /// The input dataset (e.g. the output of dedup).
        input: PathBuf,
        /// Output dataset folder.
        #[arg(short, long)]
        output: PathBuf,
        /// Filter config (TOML; see schemas/filter.md). Without it, the defaults.
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Worker threads (default: one per core). Output does not depend on it.
        #[arg(short = 'j', long)]
        threads: Option<usize>,
        /// Compression of the Parquet parts: zstd (level 1), zstd:LEVEL (-7 to 22; below 1 is
        /// faster and larger), or none.
        #[arg(long, default_value = "zstd")]
        compression: kbcurate::dataset::Codec,
    },
    /// Build word-frequency lists (one per language) from a dataset, for the filter's
    /// `quality.lexicons` (the `unknown-words` rule): words of clean documents, counted once per
    /// document.
    Lexicon {
        /// The dataset to count words in (e.g. the output of dedup).
        input: PathBuf,
        /// Folder to write `<language>.tsv` into.
        #[arg(short, long)]
        output: PathBuf,
        /// Languages (ISO 639-3, repeatable); default: the filter config's `language.keep`.
        #[arg(long = "language")]
        languages: Vec<String>,
        /// Filter config whose `[language]` table decides each document's language.
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// A word must occur in at least this many documents.
        #[arg(long, default_value_t = kbcurate::filter::lexicon::BuildOptions::default().min_documents)]
        min_documents: u64,
        /// At most this many words per lexicon (the most frequent).
        #[arg(long, default_value_t = kbcurate::filter::lexicon::BuildOptions::default().max_words)]
        max_words: usize,
        /// Distinct words held per language while counting (bounds memory; rarer words are
        /// dropped beyond it, and the file records the floor).
        #[arg(long, default_value_t = kbcurate::filter::lexicon::BuildOptions::default().max_entries)]
        max_entries: usize,
        /// Only documents with at most this share of tokens that do not look like words count.
        #[arg(long, default_value_t = kbcurate::filter::lexicon::BuildOptions::default().max_non_word_share)]
        max_non_word_share: f32,
        /// Only documents with at least this OCR confidence count (documents without one do).
        #[arg(long, default_value_t = kbcurate::filter::lexicon::BuildOptions::default().min_ocr_confidence)]
        min_ocr_confidence: f32,
        /// Worker threads (default: one per core). Output does not depend on it.
        #[arg(short = 'j', long)]
        threads: Option<usize>,
    },
    /// Reweight the corpus by genre, decade, source (any metadata column) under a TOML policy:
    /// down-sample what dominates, up-sample with capped repeats.
    Balance {
        /// The input dataset (e.g. the output of dedup or filter).
        input: PathBuf,
        /// The policy (see policies/ and schemas/balance-policy.md).
        #[arg(long)]
        policy: PathBuf,
        /// Output dataset folder (not needed with --dry-run).
        #[arg(short, long, required_unless_present = "dry_run")]
        output: Option<PathBuf>,
        /// Print the plan (per dimension: current share, target, achieved share, weight,
        /// repeats) without writing anything.
        #[arg(long)]
        dry_run: bool,
        /// Override the policy's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Worker threads (default: one per core). Output does not depend on it.
        #[arg(short = 'j', long)]
        threads: Option<usize>,
        /// Compression of the Parquet parts: zstd (level 1), zstd:LEVEL (-7 to 22; below 1 is
        /// faster and larger), or none.
        #[arg(long, default_value = "zstd")]
        compression: kbcurate::dataset::Codec,
    },
    /// Write an audit report of a dataset or run folder: report.html (charts), report.json,
    /// report.md (a datasheet); or compare two datasets with --compare.
    Audit {
        /// A dataset folder, or a run folder holding stage folders (the last stage is audited,
        /// with every stage before it).
        input: PathBuf,
        /// Folder for report.html, report.json and report.md (default: INPUT/audit).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Compare INPUT with this dataset: shares side by side, largest differences first.
        #[arg(long)]
        compare: Option<PathBuf>,
    },
    /// Encode a (balanced) dataset with a tokenizer and pack it into trainer-ready shards
    /// (Megatron .bin/.idx or Parquet input_ids), applying repeats, a seeded global shuffle and a
    /// train/validation split.
    Tokenize(Box<TokenizeArgs>),
    /// Make a tokenizer: `kbcurate tokenizer train` learns a byte-level BPE from a dataset.
    #[command(subcommand)]
    Tokenizer(TokenizerCommand),
    /// Check a shards folder (headers, counts, boundaries, checksums); with --sequence, show the
    /// documents in one window.
    Verify {
        shards: PathBuf,
        /// SPLIT:N or SHARD:N (e.g. train:0, train/shard-00003:17): print window N's documents.
        #[arg(long)]
        sequence: Option<String>,
    },
    /// Measure a stage against planted ground truth.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Run a pipeline (pipeline.toml: ingest → dedup → filter → balance → tokenize → audit) here
    /// or on a Slurm cluster; rerunning resumes, redoing only what is not done.
    Run(Box<RunArgs>),
    /// Show what a run folder has done: each stage's state, and the Slurm jobs and tasks.
    Status {
        /// The run folder.
        run: PathBuf,
        /// The pipeline file (default: the one the run was started from).
        #[arg(long)]
        pipeline: Option<PathBuf>,
    },
    /// Print a dataset's manifest summary and a few rows.
    Inspect {
        dataset: PathBuf,
        /// Rows (and rejections) to show.
        #[arg(short = 'n', long, default_value_t = 5)]
        rows: usize,
        /// Bytes of text to show per row.
        #[arg(long, default_value_t = 160)]
        width: usize,
    },
}

#[derive(Subcommand)]
enum TokenizerCommand {
    /// Train a byte-level BPE tokenizer on a dataset (each document counted as often as its
    /// balance `repeats`) and write a Hugging Face tokenizer.json.
    Train {
        /// The dataset (e.g. the output of balance).
        input: PathBuf,
        /// The tokenizer.json to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Tokens in the vocabulary (the 256 byte tokens and the special tokens included).
        #[arg(long)]
        vocab_size: usize,
        /// A pair must occur at least this often to be merged.
        #[arg(long, default_value_t = 2)]
        min_frequency: u64,
        /// Special tokens (repeatable), ids 0, 1, ... in order.
        #[arg(long = "special", default_values_t = ["<|endoftext|>".to_string()])]
        special_tokens: Vec<String>,
        /// Share of documents to train on, chosen by id hash (bounds the word table on huge
        /// corpora).
        #[arg(long, default_value_t = 1.0)]
        sample: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Worker threads (default: one per core). Output does not depend on it.
        #[arg(short = 'j', long)]
        threads: Option<usize>,
    },
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Language identification: accuracy per language and confusion matrix on labelled sentences
    /// (`label<TAB>sentence` .tsv files), and accuracy on whole pages (JSONL with `language` and
    /// `text`), sampled and unsampled.
    Langid {
        /// Folder of `*.tsv` files.
        #[arg(long, default_value = "../shared/data/langid")]
        sentences: PathBuf,
        /// JSONL pages with `language` and `text` fields.
        #[arg(long, default_value = "../shared/data/newspaper_text/newseye_sv_fi_pages.train_dev.jsonl")]
        pages: PathBuf,
        /// Filter config whose `[language]` table is used.
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Also score groups of this many consecutive sentences (a short article's worth).
        #[arg(long, default_value_t = 8)]
        group: usize,
    },
    /// The lexicon signal: each page of a language measured against the lexicon of the other
    /// pages (leave one out): `unknown_word_share` (and, for comparison, `non_word_share`) on
    /// the pages clean and with planted OCR noise, and on pages of other languages.
    Lexicon {
        /// JSONL pages with `language` and `text` fields.
        #[arg(long, default_value = "../shared/data/newspaper_text/newseye_sv_fi_pages.train_dev.jsonl")]
        pages: PathBuf,
        #[arg(long, default_value = "swe")]
        language: String,
        /// A word must occur in at least this many of the other pages.
        #[arg(long, default_value_t = 2)]
        min_documents: u64,
        /// Shares of words to noise (comma-separated).
        #[arg(long, value_delimiter = ',', default_values_t = [0.05, 0.1, 0.2, 0.3])]
        noise: Vec<f64>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Plant noisy duplicates in real text, run ingest + dedup, and report precision, recall,
    /// F1 over duplicate pairs, adjusted Rand index and how often the cleanest copy is kept.
    Dedup {
        /// Base texts: a JSONL file with a `text` field (e.g. newspaper pages).
        #[arg(long)]
        texts: PathBuf,
        /// Original documents to cut from the base texts.
        #[arg(long, default_value_t = 400)]
        originals: usize,
        /// Each original gets 0..=N noisy copies.
        #[arg(long, default_value_t = 3)]
        max_copies: usize,
        /// Share of words each copy corrupts (0.23 gives word-3-gram Jaccard near 0.3).
        #[arg(long, default_value_t = 0.23)]
        noise: f64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// `ocr`, `web` or `both`.
        #[arg(long, default_value = "both")]
        profile: String,
        /// Working folder for the planted corpus and the datasets.
        #[arg(long, default_value = "out/eval-dedup")]
        work: PathBuf,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Executor {
    /// Every stage in this process.
    Local,
    /// sbatch job arrays chained with afterok (returns after submitting unless --wait).
    Slurm,
}

#[derive(Args)]
struct RunArgs {
    /// The pipeline file (see schemas/pipeline.md).
    pipeline: PathBuf,
    /// The run folder (default: `[run] dir` of the pipeline file, else `run/` beside it).
    #[arg(long)]
    run_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "local")]
    executor: Executor,
    /// First stage to run (the stage before it must be complete).
    #[arg(long)]
    from: Option<kbcurate::pipeline::StageKind>,
    /// Last stage to run.
    #[arg(long)]
    to: Option<kbcurate::pipeline::StageKind>,
    /// Rerun the selected stages even where they are recorded as done (parts still valid are
    /// reused; nothing is deleted).
    #[arg(long)]
    force: bool,
    /// Slurm: wait for the jobs to end, then report (exit status 1 if a task failed).
    #[arg(long)]
    wait: bool,
    /// Slurm: cancel the jobs of the run's latest submission that are still queued or running.
    #[arg(long, conflicts_with = "wait")]
    cancel: bool,
    /// Worker threads per stage (default: one per core). Outputs do not depend on it.
    #[arg(short = 'j', long)]
    threads: Option<usize>,
    /// Never draw a progress bar.
    #[arg(long)]
    quiet: bool,
    /// Internal (what a Slurm job runs): one step, STAGE.STEP (e.g. dedup.signatures).
    #[arg(long, hide = true)]
    task: Option<String>,
    /// Internal: with --task, the shard INDEX/COUNT of a per-part step.
    #[arg(long, hide = true, requires = "task")]
    shard: Option<kbcurate::dataset::Shard>,
}

#[derive(Args)]
struct TokenizeArgs {
    /// The input dataset (e.g. the output of balance; its `repeats` column is applied).
    input: PathBuf,
    /// Output shards folder.
    #[arg(short, long)]
    output: PathBuf,
    /// A tokenizer.json, a *.tiktoken rank file, or a built-in name (cl100k_base, o200k_base).
    #[arg(long)]
    tokenizer: String,
    /// Tokens per window.
    #[arg(long)]
    seq_len: u32,
    /// concat (join with EOS, cut into windows) or best-fit (whole documents, padded).
    #[arg(long, value_enum, default_value = "concat")]
    packing: kbcurate::tokenize::pack::Strategy,
    /// Token put before each document: a token's text or an id. None unless given.
    #[arg(long)]
    bos: Option<kbcurate::tokenize::special::TokenRef>,
    /// Token put after each document (required by concat). None unless given.
    #[arg(long)]
    eos: Option<kbcurate::tokenize::special::TokenRef>,
    /// Padding token (required by best-fit; with concat, pads the last window).
    #[arg(long)]
    pad: Option<kbcurate::tokenize::special::TokenRef>,
    /// Share of documents (by id hash) for the validation split.
    #[arg(long, default_value_t = 0.0)]
    val_fraction: f64,
    /// Seed of the shuffle and the split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, value_enum, default_value = "megatron")]
    format: kbcurate::tokenize::stage::Format,
    /// Memory budget of one shuffle bucket, MiB (one bucket per worker is in memory at a time).
    #[arg(long, default_value_t = 256)]
    bucket_mb: u64,
    /// Worker threads (default: one per core). Output does not depend on it.
    #[arg(short = 'j', long)]
    threads: Option<usize>,
    /// Where BPE merges run: cpu, cuda, cuda:N, or auto (a GPU if there is one). Output does
    /// not depend on it.
    #[arg(long, default_value = "cpu")]
    device: kbcurate::gpu::Device,
}

#[derive(Args)]
struct IngestArgs {
    /// Files, folders (read recursively) or globs for the one-collection case. Leave out with --config.
    inputs: Vec<String>,
    /// A collections config (TOML); see schemas/collections.md.
    #[arg(short, long, conflicts_with = "inputs")]
    config: Option<PathBuf>,
    /// Output dataset folder.
    #[arg(short, long)]
    output: PathBuf,
    /// One-collection case: the input format (detected per file when left out).
    #[arg(long)]
    format: Option<Format>,
    /// One-collection case: the collection's name.
    #[arg(long, default_value = "default")]
    collection: String,
    #[arg(long)]
    genre: Option<String>,
    #[arg(long)]
    source: Option<String>,
    /// A fixed date for every document (e.g. 1923 or 1897-03-12).
    #[arg(long, conflicts_with = "date_regex")]
    date: Option<String>,
    /// A regex on the file path whose groups give the date, e.g. '(\d{4})-(\d{2})-(\d{2})'.
    #[arg(long)]
    date_regex: Option<String>,
    /// Language hint (ISO 639) for documents that declare none.
    #[arg(long)]
    language: Option<String>,
    /// JSONL/Parquet: the field holding the text.
    #[arg(long)]
    text_field: Option<String>,
    /// OCR: drop words below this confidence (0..1).
    #[arg(long)]
    min_word_confidence: Option<f32>,
    /// OCR: drop lines whose mean word confidence is below this (0..1).
    #[arg(long)]
    min_line_confidence: Option<f32>,
    /// METS: one document per package (book, issue) or per article.
    #[arg(long, value_parser = parse_split)]
    mets_split: Option<MetsSplit>,
    /// Worker threads (default: one per core). Output does not depend on it.
    #[arg(short = 'j', long)]
    threads: Option<usize>,
    /// At most this many MiB of input per part (the unit of resume; small inputs get smaller parts).
    #[arg(long, default_value_t = 256)]
    part_size_mb: u64,
    /// Compression of the Parquet parts: zstd (level 1), zstd:LEVEL (-7 to 22; below 1 is
    /// faster and larger), or none.
    #[arg(long, default_value = "zstd")]
    compression: kbcurate::dataset::Codec,
    /// Never draw a progress bar.
    #[arg(long)]
    quiet: bool,
}

fn parse_split(s: &str) -> Result<MetsSplit, String> {
    match s {
        "package" => Ok(MetsSplit::Package),
        "article" => Ok(MetsSplit::Article),
        _ => Err("expected `package` or `article`".into()),
    }
}

/// Stages allocate and free batch-sized buffers (Arrow arrays, text, signature records) all the
/// time. glibc's malloc serves blocks over its mmap threshold with a fresh mapping and hands
/// them back to the system on free, so every batch paid page faults and zeroing again: 36 000
/// faults and a sixth of the wall time of a dedup run on the benchmark corpus (0.61–0.67 s →
/// 0.53–0.56 s at -j2, peak RSS 72 MB either way). Raising the thresholds keeps freed blocks for
/// reuse. mimalloc was tried instead: fewer faults, no faster here, and 117 MB peak RSS.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets malloc's parameters; it runs first in main, before any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

fn main() {
    tune_allocator();
    let cli = Cli::parse();
    let default = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
    if cli.sync {
        kbcurate::dataset::set_sync(true);
    }
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Ingest(a) => ingest_cmd(*a),
        Command::Dedup {
            input,
            output,
            profile,
            threshold,
            bands_rows,
            banding_from_threshold,
            boilerplate_min_docs,
            against,
            save_index,
            step,
            shard,
            keep_order,
            threads,
            device,
            compression,
        } => {
            let mut opts = kbcurate::dedup::stage::DedupOptions::new(&output);
            opts.profile = kbcurate::dedup::profile::Profile::by_name(&profile)
                .with_context(|| format!("unknown profile `{profile}`; expected `ocr` or `web`"))?;
            if let Some(t) = threshold {
                if !(0.0..=1.0).contains(&t) {
                    bail!("--threshold must be between 0 and 1");
                }
                opts.profile.threshold = t;
            }
            if let Some(br) = bands_rows {
                let (b, r) = br
                    .split_once(['x', 'X', '*'])
                    .and_then(|(b, r)| Some((b.trim().parse::<usize>().ok()?, r.trim().parse::<usize>().ok()?)))
                    .filter(|(b, r)| *b > 0 && *r > 0)
                    .with_context(|| format!("--bands-rows `{br}`: expected BANDSxROWS, e.g. 32x4"))?;
                opts.profile.banding = kbcurate::dedup::lsh::Banding { bands: b, rows: r };
            }
            if banding_from_threshold {
                let perms = opts.profile.banding.perms();
                opts.profile.banding =
                    kbcurate::dedup::lsh::Banding::for_threshold(opts.profile.threshold, perms, 0.5, 0.5);
                eprintln!(
                    "banding for threshold {}: {} bands × {} rows",
                    opts.profile.threshold, opts.profile.banding.bands, opts.profile.banding.rows
                );
            }
            opts.threads = threads;
            opts.device = device;
            opts.compression = compression;
            opts.boilerplate_min_docs = boilerplate_min_docs;
            opts.against = against;
            opts.save_index = save_index;
            opts.keep_order = keep_order;
            if let Some(step) = step {
                let shard = shard.unwrap_or(kbcurate::dedup::stage::Shard::WHOLE);
                let report = kbcurate::dedup::stage::dedup_step(&input, &opts, step, shard).with_context(|| {
                    format!("dedup step {step} (shard {shard}) of {} into {}", input.display(), output.display())
                })?;
                eprint!("{}", report.render());
                return Ok(());
            }
            let summary = kbcurate::dedup::stage::dedup(&input, &opts)
                .with_context(|| format!("dedup {} into {}", input.display(), output.display()))?;
            eprint!("{}", summary.render());
            Ok(())
        }
        Command::Balance { input, policy, output, dry_run, seed, threads, compression } => {
            let mut p = kbcurate::balance::policy::Policy::read(&policy)?;
            if let Some(seed) = seed {
                p.seed = seed;
            }
            if dry_run {
                let (_, plan) = kbcurate::balance::stage::plan(&input, &p)
                    .with_context(|| format!("planning {} with {}", input.display(), policy.display()))?;
                print!("{}", kbcurate::balance::solve::render(&plan));
                return Ok(());
            }
            let output = output.expect("clap requires --output without --dry-run");
            let mut opts = kbcurate::balance::stage::BalanceOptions::new(&output);
            opts.threads = threads;
            opts.compression = compression;
            let summary = kbcurate::balance::stage::balance(&input, &p, &opts)
                .with_context(|| format!("balance {} into {}", input.display(), output.display()))?;
            print!("{}", kbcurate::balance::solve::render(&summary.plan));
            eprint!("{}", summary.render());
            Ok(())
        }
        Command::Audit { input, output, compare } => {
            if let Some(other) = compare {
                print!("{}", kbcurate::audit::compare(&input, &other)?);
                return Ok(());
            }
            let out = output.unwrap_or_else(|| input.join("audit"));
            let r = kbcurate::audit::audit(&input, &out)
                .with_context(|| format!("audit of {} into {}", input.display(), out.display()))?;
            eprintln!(
                "audit: {} stages, {} documents; wrote {}",
                r.stages.len(),
                r.composition.total.docs_repeated,
                out.join("report.html").display()
            );
            Ok(())
        }
        Command::Eval(EvalCommand::Dedup { texts, originals, max_copies, noise, seed, profile, work }) => {
            let raw = std::fs::read_to_string(&texts).with_context(|| format!("read {}", texts.display()))?;
            let base: Vec<String> = raw
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter_map(|v| v["text"].as_str().map(str::to_string))
                .collect();
            if base.is_empty() {
                bail!("{}: no JSON lines with a `text` field", texts.display());
            }
            let params = kbcurate::dedup::eval::PlantParams {
                originals,
                max_copies,
                word_noise: noise,
                seed,
                ..Default::default()
            };
            let profiles =
                match profile.as_str() {
                    "both" => vec![kbcurate::dedup::profile::Profile::ocr(), kbcurate::dedup::profile::Profile::web()],
                    p => vec![kbcurate::dedup::profile::Profile::by_name(p)
                        .with_context(|| format!("unknown profile `{p}`"))?],
                };
            println!("{}", kbcurate::dedup::eval::Report::HEADER);
            for p in profiles {
                let r = kbcurate::dedup::eval::evaluate(&base, &params, &p, &work)?;
                println!("{}", r.render());
            }
            Ok(())
        }
        Command::Filter { input, output, config, threads, compression } => {
            let mut opts = kbcurate::filter::stage::FilterOptions::new(&output);
            if let Some(c) = &config {
                opts.config = kbcurate::filter::config::FilterConfig::from_file(c)?;
            }
            opts.threads = threads;
            opts.compression = compression;
            let summary = kbcurate::filter::stage::filter(&input, &opts)
                .with_context(|| format!("filter {} into {}", input.display(), output.display()))?;
            eprint!("{}", summary.render());
            Ok(())
        }
        Command::Lexicon {
            input,
            output,
            languages,
            config,
            min_documents,
            max_words,
            max_entries,
            max_non_word_share,
            min_ocr_confidence,
            threads,
        } => {
            use kbcurate::filter::lexicon;
            let cfg = match &config {
                Some(c) => kbcurate::filter::config::FilterConfig::from_file(c)?,
                None => Default::default(),
            };
            let languages = if languages.is_empty() { cfg.language.keep.clone() } else { languages };
            for l in &languages {
                if !kbcurate::language::is_code(l) {
                    anyhow::bail!("--language {l}: expected a lower-case ISO 639-3 code such as `swe`");
                }
            }
            let opts = lexicon::BuildOptions {
                languages,
                language: cfg.language,
                min_documents,
                max_words,
                max_entries,
                max_non_word_share,
                min_ocr_confidence,
                threads,
            };
            let start = std::time::Instant::now();
            let built = lexicon::build(&input, &opts).with_context(|| format!("lexicon from {}", input.display()))?;
            std::fs::create_dir_all(&output).with_context(|| format!("cannot create {}", output.display()))?;
            let mut written = 0;
            for b in &built {
                if b.words.is_empty() {
                    eprintln!(
                        "lexicon {}: no word in {} documents of {} (none identified as {}, or none clean enough: \
                         see --max-non-word-share, --min-ocr-confidence, --min-documents); nothing written",
                        b.language,
                        b.counter.documents,
                        input.display(),
                        b.language
                    );
                    continue;
                }
                written += 1;
                let path = output.join(format!("{}.tsv", b.language));
                kbcurate::dataset::write_atomic(&path, b.render(&opts, &input).as_bytes())?;
                eprintln!(
                    "lexicon {}: {} words (of {} counted) from {} documents, {} word tokens -> {}",
                    b.language,
                    b.words.len(),
                    b.counter.distinct(),
                    b.counter.documents,
                    b.counter.tokens,
                    path.display()
                );
            }
            eprintln!("lexicon: {:.2}s", start.elapsed().as_secs_f64());
            if written == 0 {
                anyhow::bail!("no lexicon written");
            }
            Ok(())
        }
        Command::Eval(EvalCommand::Lexicon { pages, language, min_documents, noise, seed }) => {
            let data = kbcurate::filter::eval::read_pages(&pages)?;
            let (size, rows) = kbcurate::filter::eval::lexicon_rows(&data, &language, min_documents, &noise, seed);
            if rows[0].unknown.is_empty() {
                anyhow::bail!("{}: no pages in {language}", pages.display());
            }
            println!(
                "## Lexicon signal ({}, language {language}: each page against the lexicon of the others, words on ≥ {min_documents}; {size} words from all)\n",
                pages.display()
            );
            println!("{}", kbcurate::filter::eval::render_signal_rows(&rows));
            Ok(())
        }
        Command::Eval(EvalCommand::Langid { sentences, pages, config, group }) => {
            let cfg = match &config {
                Some(c) => kbcurate::filter::config::FilterConfig::from_file(c)?,
                None => Default::default(),
            };
            let mut any = false;
            if sentences.exists() {
                let data = kbcurate::filter::eval::read_sentences(&sentences)?;
                println!("## Sentences ({}, {} sentences)\n", sentences.display(), data.len());
                for (name, det) in kbcurate::filter::eval::detectors(&cfg.language) {
                    println!("{}", kbcurate::filter::eval::confusion(&name, det.as_ref(), &data).render());
                }
                let groups = kbcurate::filter::eval::group_sentences(&data, group);
                println!("## Groups of {group} consecutive sentences ({} groups)\n", groups.len());
                for (name, det) in kbcurate::filter::eval::detectors(&cfg.language) {
                    println!("{}", kbcurate::filter::eval::confusion(&name, det.as_ref(), &groups).render());
                }
                any = true;
            } else {
                eprintln!("{}: not found; skipping sentences", sentences.display());
            }
            if pages.exists() {
                let data = kbcurate::filter::eval::read_pages(&pages)?;
                println!("## Pages ({}, {} pages)\n", pages.display(), data.len());
                println!("{}", kbcurate::filter::eval::pages_report(&data, &cfg.language));
                any = true;
            } else {
                eprintln!("{}: not found; skipping pages", pages.display());
            }
            if !any {
                bail!("nothing to evaluate: give --sentences and/or --pages");
            }
            Ok(())
        }
        Command::Tokenize(a) => {
            let a = *a;
            let mut o = kbcurate::tokenize::stage::TokenizeOptions::new(&a.output, &a.tokenizer, a.seq_len);
            o.packing = a.packing;
            o.bos = a.bos;
            o.eos = a.eos;
            o.pad = a.pad;
            o.val_fraction = a.val_fraction;
            o.seed = a.seed;
            o.format = a.format;
            o.bucket_bytes = a.bucket_mb.max(1) << 20;
            o.threads = a.threads;
            o.device = a.device;
            let summary = kbcurate::tokenize::stage::tokenize(&a.input, &o)
                .with_context(|| format!("tokenize {} into {}", a.input.display(), a.output.display()))?;
            eprint!("{}", summary.render());
            Ok(())
        }
        Command::Verify { shards, sequence } => {
            if let Some(seq) = sequence {
                let (what, n) = seq
                    .rsplit_once(':')
                    .and_then(|(w, n)| Some((w, n.parse::<u64>().ok()?)))
                    .with_context(|| format!("--sequence `{seq}`: expected SPLIT:N or SHARD:N, e.g. train:0"))?;
                let (shard, k, w) = kbcurate::tokenize::verify::locate(&shards, what, n)?;
                println!("{shard} window {k}: {} tokens", w.tokens.len());
                for (i, id) in w.doc_ids.iter().enumerate() {
                    println!(
                        "  tokens {}..{}: document {id} from its token {}",
                        w.cu_seqlens[i],
                        w.cu_seqlens[i + 1],
                        w.doc_starts[i]
                    );
                }
                return Ok(());
            }
            let report = kbcurate::tokenize::verify::verify(&shards)?;
            print!("{}", report.render());
            if !report.ok() {
                bail!("{}: {} problems", shards.display(), report.problems.len());
            }
            Ok(())
        }
        Command::Run(a) => run_cmd(*a),
        Command::Tokenizer(TokenizerCommand::Train {
            input,
            output,
            vocab_size,
            min_frequency,
            special_tokens,
            sample,
            seed,
            threads,
        }) => {
            let mut o = kbcurate::tokenize::train::TrainOptions::new(&output, vocab_size);
            o.min_frequency = min_frequency;
            o.special_tokens = special_tokens;
            o.sample = sample;
            o.seed = seed;
            o.threads = threads;
            let s = kbcurate::tokenize::train::train(&input, &o)
                .with_context(|| format!("training a tokenizer on {}", input.display()))?;
            eprint!("{}", s.render());
            Ok(())
        }
        Command::Status { run, pipeline } => {
            let run = kbcurate::pipeline::RunDir::open(&run)?;
            let path = pipeline
                .or_else(|| kbcurate::pipeline::status::remembered_pipeline(&run))
                .with_context(|| format!("{}: which pipeline? give --pipeline", run.root.display()))?;
            let p = kbcurate::pipeline::Pipeline::read(&path)?;
            print!("{}", kbcurate::pipeline::status::render(&p, &run));
            Ok(())
        }
        Command::Inspect { dataset, rows, width } => {
            print!("{}", kbcurate::inspect::inspect(&dataset, rows, width)?);
            Ok(())
        }
    }
}

fn run_cmd(a: RunArgs) -> Result<()> {
    use kbcurate::pipeline::{local, slurm, state::RunDir, status, steps, Pipeline, Slice};
    let p = Pipeline::read(&a.pipeline)?;
    let run = RunDir::create(&p.run_dir(a.run_dir.as_deref()))?;
    let opts = steps::RunOptions {
        threads: a.threads.or(p.run.threads),
        progress: !a.quiet && std::io::stderr().is_terminal(),
    };
    if let Some(task) = &a.task {
        let (stage, step) = task.split_once('.').with_context(|| format!("--task `{task}`: expected STAGE.STEP"))?;
        let kind: kbcurate::pipeline::StageKind = stage.parse().map_err(anyhow::Error::msg)?;
        let st = p.stage(kind).with_context(|| format!("{}: has no [{kind}] stage", p.path.display()))?;
        let shard = a.shard.unwrap_or(kbcurate::dataset::Shard::WHOLE);
        let summary = steps::run_task(&p, &run, st, step, shard, &opts)?;
        eprint!("{summary}");
        return Ok(());
    }
    status::remember_pipeline(&run, &p)?;
    let slice = Slice { from: a.from, to: a.to };
    match a.executor {
        Executor::Local if a.cancel => bail!("--cancel cancels Slurm jobs: add --executor slurm"),
        Executor::Local => {
            let o = local::LocalOptions { slice, force: a.force, run: opts };
            let outcomes = local::run_local(&p, &run, &o, |line| eprintln!("{line}"))?;
            let ran = outcomes.iter().filter(|o| o.ran).count();
            eprintln!("run {}: {ran} stages ran, {} were done already", run.root.display(), outcomes.len() - ran);
            Ok(())
        }
        Executor::Slurm if a.cancel => {
            let ids = slurm::cancel(&p, &run)?;
            eprintln!(
                "cancelled {} jobs{}",
                ids.len(),
                if ids.is_empty() { String::new() } else { format!(": {}", ids.join(" ")) }
            );
            Ok(())
        }
        Executor::Slurm => {
            let o = slurm::SlurmOptions { slice, force: a.force, wait: a.wait };
            let jobs = slurm::submit(&p, &run, &o, |line| eprintln!("{line}"))?;
            if jobs.is_empty() {
                eprintln!("run {}: every stage is done already; nothing submitted", run.root.display());
                return Ok(());
            }
            if !a.wait {
                eprintln!("submitted {} jobs; follow them with `kbcurate status {}`", jobs.len(), run.root.display());
                return Ok(());
            }
            let states = slurm::wait(&p, &jobs, |line| eprintln!("{line}"))?;
            let failed = states.iter().filter(|t| t.state != "COMPLETED" && t.state != "GONE").count();
            eprint!("{}", status::render_tasks(&states));
            let undone: Vec<&str> = slice
                .select(&p)?
                .into_iter()
                .filter(|s| !kbcurate::pipeline::state::is_done(&p, &run, s))
                .map(|s| s.kind.name())
                .collect();
            if failed > 0 || !undone.is_empty() {
                bail!(
                    "{failed} Slurm tasks did not complete; stages not done: {}. See the logs above; rerun the same \
                     command to resubmit what is missing",
                    undone.join(", ")
                );
            }
            eprintln!("run {}: all stages done", run.root.display());
            Ok(())
        }
    }
}

fn ingest_cmd(a: IngestArgs) -> Result<()> {
    let (config, base) = match &a.config {
        Some(path) => {
            let cfg = IngestConfig::from_file(path)?;
            let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (cfg, base)
        }
        None => {
            if a.inputs.is_empty() {
                bail!("give input files or folders, or --config collections.toml (see `kbcurate ingest --help`)");
            }
            let mut c = ingest::single_collection(a.inputs.clone(), &a.collection);
            c.format = a.format;
            c.genre = a.genre.clone();
            c.source = a.source.clone();
            c.language = a.language.clone();
            c.text_field = a.text_field.clone();
            c.min_word_confidence = a.min_word_confidence;
            c.min_line_confidence = a.min_line_confidence;
            c.mets_split = a.mets_split;
            c.date = match (&a.date, &a.date_regex) {
                (Some(d), _) => Some(DateRule::Fixed { fixed: d.clone() }),
                (None, Some(r)) => Some(DateRule::From { from: DateFrom::Path, regex: Some(r.clone()) }),
                _ => None,
            };
            let cfg = IngestConfig { collections: vec![c], ..Default::default() };
            cfg.validate("command line")?;
            (cfg, PathBuf::new())
        }
    };
    let mut opts = IngestOptions::new(&a.output);
    opts.threads = a.threads;
    opts.part_size = a.part_size_mb.max(1) << 20;
    opts.compression = a.compression;
    opts.progress = !a.quiet && std::io::stderr().is_terminal();
    let summary =
        ingest::ingest(&config, &base, &opts).with_context(|| format!("ingest into {}", a.output.display()))?;
    eprint!("{}", summary.render());
    Ok(())
}

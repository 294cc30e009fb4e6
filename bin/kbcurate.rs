//! The kbcurate command line: parses arguments, calls the library, prints progress and summaries.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use kbcurate::ingest::config::IngestConfig;
use kbcurate::ingest::{self};
use kbcurate::stage::args::WorkArgs;

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
    Ingest(Box<IngestCmd>),
    /// Remove exact and near-duplicate documents (MinHash LSH), keeping the best copy of each cluster.
    Dedup(Box<DedupCmd>),
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
        #[command(flatten)]
        work: WorkArgs,
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
        #[command(flatten)]
        work: WorkArgs,
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
    Tokenize(Box<TokenizeCmd>),
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
        /// Folder of `*.tsv` files (e.g. Universal Dependencies sentences, one `label<TAB>sentence`
        /// per line).
        #[arg(long, required_unless_present = "pages")]
        sentences: Option<PathBuf>,
        /// JSONL pages with `language` and `text` fields.
        #[arg(long)]
        pages: Option<PathBuf>,
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
        #[arg(long)]
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
    /// Plant noisy duplicates and templated unique documents in real text, run ingest + dedup,
    /// and report precision, recall, F1 over duplicate pairs, adjusted Rand index, how often the
    /// cleanest copy is kept and how many templated uniques were removed.
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
        /// Share of words each copy corrupts (0.16 gives a plain word-3-gram Jaccard near 0.3).
        #[arg(long, default_value_t = 0.16)]
        noise: f64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// `ocr`, `web` or `both`.
        #[arg(long, default_value = "both")]
        profile: String,
        /// Working folder for the planted corpus and the datasets.
        #[arg(long, default_value = "out/eval-dedup")]
        work: PathBuf,
        /// Where the planted documents' ocr_confidence comes from: `independent` (random for
        /// every document), `absent` (none), or `correlated` (the clean original always highest,
        /// which decides the keep order for the text).
        #[arg(long, value_enum, default_value = "independent")]
        confidence: kbcurate::eval::dedup::Confidence,
        /// Templated unique documents to plant beside the duplicates (shipping lists, market
        /// prices, banns, pages under one masthead): each one removed is a unique document lost.
        #[arg(long, default_value_t = 200)]
        hard_negatives: usize,
        /// Character noise instead of word noise (the heavy-noise corpus): each copy draws a
        /// rate in `LOW:HIGH` (or takes one value) and confuses, drops, doubles or replaces
        /// that share of its characters. `0.10:0.20` gives word-2-gram Jaccard 0.05–0.15.
        #[arg(long, value_parser = parse_rate_range)]
        char_noise: Option<(f64, f64)>,
        /// Excerpts to plant: a passage of an original (a fifth to a half of it), noisy like
        /// the copies, as an article printed both alone and within its page. Reported: how
        /// many dedup found contained in a document of their original, and how many other
        /// documents it found contained in anything.
        #[arg(long, default_value_t = 0)]
        excerpts: usize,
        /// Override the profiles' threshold on estimated Jaccard (which candidates are aligned).
        #[arg(long)]
        threshold: Option<f64>,
        /// Override the profiles' least alignment of a confirmed duplicate.
        #[arg(long)]
        min_alignment: Option<f64>,
        /// How dedup chooses the copy to keep (as `kbcurate dedup --keep-order`).
        #[arg(long, value_delimiter = ',', default_values_t = kbcurate::dedup::cluster::DEFAULT_KEEP_ORDER.to_vec())]
        keep_order: Vec<kbcurate::dedup::cluster::KeepKey>,
    },
}

/// `0.1:0.2` or `0.15`: a range of rates, each within 0..=1.
fn parse_rate_range(s: &str) -> Result<(f64, f64), String> {
    let rate = |t: &str| -> Result<f64, String> {
        let v: f64 = t.trim().parse().map_err(|_| format!("`{t}` is not a number"))?;
        if (0.0..=1.0).contains(&v) {
            Ok(v)
        } else {
            Err(format!("{v} is outside 0..=1"))
        }
    };
    let (lo, hi) = match s.split_once(':') {
        Some((a, b)) => (rate(a)?, rate(b)?),
        None => (rate(s)?, rate(s)?),
    };
    if lo > hi {
        return Err(format!("`{s}`: the low rate is above the high one"));
    }
    Ok((lo, hi))
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
struct TokenizeCmd {
    /// The input dataset (e.g. the output of balance; its `repeats` column is applied).
    input: PathBuf,
    /// Output shards folder.
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    args: kbcurate::tokenize::args::TokenizeArgs,
    /// Worker threads (default: one per core). Output does not depend on it.
    #[arg(short = 'j', long)]
    threads: Option<usize>,
}

#[derive(Args)]
struct DedupCmd {
    /// The input dataset (e.g. the output of ingest).
    input: PathBuf,
    /// Output dataset folder.
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    args: kbcurate::dedup::args::DedupArgs,
    /// Run one step only (lines, boilerplate, signatures, cluster, filter, finalize, in
    /// that order), e.g. as a Slurm job; without it every step runs.
    #[arg(long)]
    step: Option<kbcurate::dedup::stage::Step>,
    /// With --step lines, signatures or filter: handle the parts of this shard only,
    /// INDEX/COUNT (part p belongs to shard p % COUNT), e.g. $SLURM_ARRAY_TASK_ID/16.
    #[arg(long, requires = "step")]
    shard: Option<kbcurate::dataset::Shard>,
    #[command(flatten)]
    work: WorkArgs,
}

#[derive(Args)]
struct IngestCmd {
    #[command(flatten)]
    one: kbcurate::ingest::args::OneCollection,
    /// A collections config (TOML); see schemas/collections.md.
    #[arg(short, long, conflicts_with = "inputs")]
    config: Option<PathBuf>,
    /// Output dataset folder.
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    args: kbcurate::ingest::args::IngestArgs,
    #[command(flatten)]
    work: WorkArgs,
    /// Never draw a progress bar.
    #[arg(long)]
    quiet: bool,
}

/// Stages allocate and free batch-sized buffers (Arrow arrays, text, signature records) all the
/// time. glibc's malloc serves blocks over its mmap threshold with a fresh mapping and hands
/// them back to the system on free, so every batch paid page faults and zeroing again. Raising
/// the thresholds keeps freed blocks for reuse; mimalloc was tried instead and used more memory
/// for no gain. The figures: benches/datatrove_dedup.md.
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
    // Colour only on a terminal, and never under NO_COLOR (no-color.org): a log file or a Slurm
    // log gets plain text.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(colour)
        .init();
    // Syncing is every stage's option; the flag and the environment are read here, once.
    let sync = cli.sync || kbcurate::dataset::sync_from_env();
    if let Err(e) = run(cli.command, sync) {
        eprintln!("error: {}", chain(&e));
        std::process::exit(1);
    }
}

/// The error and its causes, each said once: an error that already quotes its cause (`{path}:
/// {source}`) is not followed by the cause again.
fn chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.is_empty() {
            out = text;
        } else if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

fn run(command: Command, sync: bool) -> Result<()> {
    match command {
        Command::Ingest(a) => ingest_cmd(*a, sync),
        Command::Dedup(c) => dedup_cmd(*c, sync),
        Command::Balance { input, policy, output, dry_run, seed, work } => {
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
            opts.threads = work.threads;
            opts.compression = work.compression;
            opts.sync = sync;
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
        Command::Eval(EvalCommand::Dedup {
            texts,
            originals,
            max_copies,
            noise,
            seed,
            profile,
            work,
            confidence,
            hard_negatives,
            char_noise,
            excerpts,
            threshold,
            min_alignment,
            keep_order,
        }) => {
            let base = kbcurate::eval::dedup::read_texts(&texts)?;
            let params = kbcurate::eval::dedup::PlantParams {
                originals,
                max_copies,
                word_noise: noise,
                seed,
                confidence,
                hard_negatives,
                char_noise,
                excerpts,
                ..Default::default()
            };
            let profiles =
                match profile.as_str() {
                    "both" => vec![kbcurate::dedup::profile::Profile::ocr(), kbcurate::dedup::profile::Profile::web()],
                    p => vec![kbcurate::dedup::profile::Profile::by_name(p)
                        .with_context(|| format!("unknown profile `{p}`"))?],
                };
            println!("{}", kbcurate::eval::dedup::Report::HEADER);
            for mut p in profiles {
                if let Some(t) = threshold {
                    p.threshold = t;
                }
                if let Some(a) = min_alignment {
                    p.verify.min_alignment = a;
                }
                let r = kbcurate::eval::dedup::evaluate(&base, &params, &p, &keep_order, &work)?;
                println!("{}", r.render());
                if let Some(e) = r.render_excerpts() {
                    eprintln!("{e}");
                }
            }
            Ok(())
        }
        Command::Filter { input, output, config, work } => {
            let mut opts = kbcurate::filter::stage::FilterOptions::new(&output);
            if let Some(c) = &config {
                opts.config = kbcurate::filter::config::FilterConfig::from_file(c)?;
            }
            opts.threads = work.threads;
            opts.compression = work.compression;
            opts.sync = sync;
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
            let written = lexicon::write(&built, &opts, &input, &output)?;
            for (b, w) in built.iter().zip(&written) {
                match w {
                    lexicon::Written::Empty => eprintln!(
                        "lexicon {}: no word in {} documents of {} (none identified as {}, or none clean enough: \
                         see --max-non-word-share, --min-ocr-confidence, --min-documents); nothing written",
                        b.language,
                        b.counter.documents,
                        input.display(),
                        b.language
                    ),
                    lexicon::Written::File(path) => eprintln!(
                        "lexicon {}: {} words (of {} counted) from {} documents, {} word tokens -> {}",
                        b.language,
                        b.words.len(),
                        b.counter.distinct(),
                        b.counter.documents,
                        b.counter.tokens,
                        path.display()
                    ),
                }
            }
            eprintln!("lexicon: {:.2}s", start.elapsed().as_secs_f64());
            if !written.iter().any(|w| matches!(w, lexicon::Written::File(_))) {
                anyhow::bail!("no lexicon written");
            }
            Ok(())
        }
        Command::Eval(EvalCommand::Lexicon { pages, language, min_documents, noise, seed }) => {
            let data = kbcurate::eval::filter::read_pages(&pages)?;
            let (size, rows) = kbcurate::eval::filter::lexicon_rows(&data, &language, min_documents, &noise, seed);
            if rows[0].unknown.is_empty() {
                anyhow::bail!("{}: no pages in {language}", pages.display());
            }
            println!(
                "## Lexicon signal ({}, language {language}: each page against the lexicon of the others, words on ≥ {min_documents}; {size} words from all)\n",
                pages.display()
            );
            println!("{}", kbcurate::eval::filter::render_signal_rows(&rows));
            Ok(())
        }
        Command::Eval(EvalCommand::Langid { sentences, pages, config, group }) => {
            let cfg = match &config {
                Some(c) => kbcurate::filter::config::FilterConfig::from_file(c)?,
                None => Default::default(),
            };
            if let Some(sentences) = &sentences {
                let data = kbcurate::eval::filter::read_sentences(sentences)?;
                println!("## Sentences ({}, {} sentences)\n", sentences.display(), data.len());
                for (name, det) in kbcurate::eval::filter::detectors(&cfg.language) {
                    println!("{}", kbcurate::eval::filter::confusion(&name, det.as_ref(), &data).render());
                }
                println!("{}", kbcurate::eval::filter::decision_confusion(&cfg.language, &data).render());
                let groups = kbcurate::eval::filter::group_sentences(&data, group);
                println!("## Groups of {group} consecutive sentences ({} groups)\n", groups.len());
                for (name, det) in kbcurate::eval::filter::detectors(&cfg.language) {
                    println!("{}", kbcurate::eval::filter::confusion(&name, det.as_ref(), &groups).render());
                }
                println!("{}", kbcurate::eval::filter::decision_confusion(&cfg.language, &groups).render());
            }
            if let Some(pages) = &pages {
                let data = kbcurate::eval::filter::read_pages(pages)?;
                println!("## Pages ({}, {} pages)\n", pages.display(), data.len());
                println!("{}", kbcurate::eval::filter::pages_report(&data, &cfg.language));
            }
            Ok(())
        }
        Command::Tokenize(c) => {
            let c = *c;
            let mut o = c.args.resolve(&c.output);
            o.threads = c.threads;
            o.sync = sync;
            o.device = kbcurate::gpu::encoder_placement(c.args.device);
            let summary = kbcurate::tokenize::stage::tokenize(&c.input, &o)
                .with_context(|| format!("tokenize {} into {}", c.input.display(), c.output.display()))?;
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
        Command::Run(a) => run_cmd(*a, sync),
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

fn run_cmd(a: RunArgs, sync: bool) -> Result<()> {
    use kbcurate::pipeline::{local, slurm, state::RunDir, status, steps, Pipeline, Slice};
    let mut p = Pipeline::read(&a.pipeline)?;
    // `--sync` (or KBCURATE_SYNC=1) as if `[run] sync = true`: it changes no stage's key.
    p.run.sync |= sync;
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

fn ingest_cmd(c: IngestCmd, sync: bool) -> Result<()> {
    let (config, base) = match &c.config {
        Some(path) => {
            let cfg = IngestConfig::from_file(path)?;
            let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (cfg, base)
        }
        None if c.one.inputs.is_empty() => {
            bail!("give input files or folders, or --config collections.toml (see `kbcurate ingest --help`)")
        }
        None => c.one.config()?,
    };
    let mut opts = c.args.resolve(&c.output).map_err(|e| anyhow::anyhow!("--part-size-mb: {e}"))?;
    opts.threads = c.work.threads;
    opts.compression = c.work.compression;
    opts.sync = sync;
    opts.progress = !c.quiet && std::io::stderr().is_terminal();
    let summary =
        ingest::ingest(&config, &base, &opts).with_context(|| format!("ingest into {}", c.output.display()))?;
    eprint!("{}", summary.render());
    Ok(())
}

fn dedup_cmd(c: DedupCmd, sync: bool) -> Result<()> {
    let mut opts = c.args.resolve(&c.output, Path::new("")).map_err(|e| anyhow::anyhow!("dedup: {e}"))?;
    if c.args.banding_from_threshold {
        let b = opts.profile.banding;
        eprintln!("banding for threshold {}: {} bands × {} rows", opts.profile.threshold, b.bands, b.rows);
    }
    opts.threads = c.work.threads;
    opts.compression = c.work.compression;
    opts.sync = sync;
    opts.device = kbcurate::gpu::signer_source(c.args.device);
    let (input, output) = (&c.input, &c.output);
    if let Some(step) = c.step {
        let shard = c.shard.unwrap_or(kbcurate::dataset::Shard::WHOLE);
        let report = kbcurate::dedup::stage::dedup_step(input, &opts, step, shard).with_context(|| {
            format!("dedup step {step} (shard {shard}) of {} into {}", input.display(), output.display())
        })?;
        eprint!("{}", report.render());
        return Ok(());
    }
    let summary = kbcurate::dedup::stage::dedup(input, &opts)
        .with_context(|| format!("dedup {} into {}", input.display(), output.display()))?;
    eprint!("{}", summary.render());
    Ok(())
}

//! The ingest driver: plans the parts, runs each part's tasks in parallel windows through the
//! stage runner ([`crate::stage`]), and commits the dataset.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use super::config::{Collection, DateResolver, IngestConfig};
use super::plan::{self, Unit};
use super::{finalize, task};
use crate::dataset::{self, Counts, DocumentSink, PartRecord, RejectionSink};
use crate::size::{Bytes, Rate};
use crate::stage::{self, DatasetStage, ManifestHead};

pub use super::args::IngestOptions;
use super::context::{CollectionPlan, Shared};
pub use super::error::IngestError;
use super::STAGE;

/// What a run did.
#[derive(Debug, Clone)]
pub struct IngestSummary {
    pub counts: Counts,
    pub parts: usize,
    pub parts_resumed: usize,
    pub files: usize,
    /// Symbolic links not followed (named in the log and in the manifest's `inputs`).
    pub links_skipped: usize,
    pub input_bytes: u64,
    pub text_bytes: u64,
    pub elapsed: Duration,
    pub output: PathBuf,
}

impl IngestSummary {
    pub fn render(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut s = format!(
            "ingest: {} documents kept of {} ({} rejected) from {} files, {} read, {} of text, in {:.2}s ({:.0} docs/s, {})\n",
            self.counts.kept,
            self.counts.input,
            self.counts.rejected_total(),
            self.files,
            Bytes(self.input_bytes),
            Bytes(self.text_bytes),
            secs,
            self.counts.input as f64 / secs,
            Rate { bytes: self.input_bytes, seconds: secs },
        );
        for (reason, n) in &self.counts.rejected {
            s.push_str(&format!("  rejected {reason}: {n}\n"));
        }
        for (kind, n) in &self.counts.warnings {
            s.push_str(&format!("  warning {kind}: {n}\n"));
        }
        if self.links_skipped > 0 {
            s.push_str(&format!(
                "  {} symbolic links not followed (named above and in the manifest's inputs; --follow-links \
                 follows those that leave the input folders)\n",
                self.links_skipped
            ));
        }
        if self.parts_resumed > 0 {
            s.push_str(&format!("  {} of {} parts were already complete and kept\n", self.parts_resumed, self.parts));
        }
        if let Some(kb) = peak_rss_kb() {
            s.push_str(&format!("  peak memory: {}\n", Bytes(kb * 1024)));
        }
        s.push_str(&format!("  dataset: {}\n", self.output.display()));
        s
    }
}

/// The process's peak resident memory (Linux `VmHWM`), for the run summary and benchmarks.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs ingest for `config`, whose relative paths are resolved against `base`.
pub fn ingest(config: &IngestConfig, base: &Path, opts: &IngestOptions) -> Result<IngestSummary, IngestError> {
    config.validate("config")?;
    let start = Instant::now();
    stage::install(opts.threads, || run(config, base, opts, start)).map_err(IngestError::Other)?
}

/// Ingest's parts: part `i` is the `i`th group of input units, read in order.
struct IngestParts<'a, 'b> {
    shared: &'a Shared<'b>,
    units: &'a [Unit],
    parts: &'a [Vec<usize>],
    plan_salt: &'a str,
}

impl DatasetStage for IngestParts<'_, '_> {
    type Stats = ();
    type Error = IngestError;

    fn parts(&self) -> usize {
        self.parts.len()
    }

    fn plan(&self, part: u32) -> String {
        plan::part_plan_hash(self.plan_salt, self.units, &self.parts[part as usize])
    }

    fn write_part(&self, part: u32, _plan: &str) -> Result<(PartRecord, ()), IngestError> {
        Ok((run_part(self.shared, self.units, part, &self.parts[part as usize])?, ()))
    }

    fn resumed(&self, record: &PartRecord) {
        self.shared.bar.inc(record.input_bytes);
    }
}

fn run(config: &IngestConfig, base: &Path, opts: &IngestOptions, start: Instant) -> Result<IngestSummary, IngestError> {
    let colls: Vec<CollectionPlan> = config
        .collections
        .iter()
        .map(|c| CollectionPlan {
            options: c.reader_options(&config.defaults),
            dates: DateResolver::new(c.date.as_ref()),
            language: c
                .language
                .as_deref()
                .or(config.defaults.language.as_deref())
                .and_then(crate::language::normalize),
            c: c.clone(),
        })
        .collect();
    let (units, inputs, part_size) = plan::plan_units(&colls, base, opts)?;
    let parts = plan::group_parts(&units, part_size);
    tracing::info!(
        "planned {} inputs in {} parts of up to {:.0} MB ({:.2}s)",
        units.len(),
        parts.len(),
        part_size as f64 / 1048576.0,
        start.elapsed().as_secs_f64()
    );
    let links_skipped =
        inputs.as_array().map_or(0, |a| a.iter().filter_map(|i| i["skipped_links"].as_array()).map(Vec::len).sum());
    let config_json = serde_json::to_value(config).expect("config serializes");
    let out = &opts.output;
    let _lock = stage::prepare_output(out, STAGE, parts.len(), opts.shard)?;

    let total_bytes: u64 = parts
        .iter()
        .enumerate()
        .filter(|(i, _)| opts.shard.owns(*i))
        .flat_map(|(_, p)| p.iter().map(|&u| units[u].size))
        .sum();
    let bar = if opts.progress {
        let b = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} ingest [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
            )
            .expect("valid template"),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let docs_done = AtomicU64::new(0);
    let shared = Shared { colls: &colls, opts, bar: &bar, docs_done: &docs_done, start };
    let plan_salt =
        format!("{}|{}|{}|{}", config_json, opts.compression, opts.row_group_bytes, env!("CARGO_PKG_VERSION"));
    let work = IngestParts { shared: &shared, units: &units, parts: &parts, plan_salt: &plan_salt };
    let run = stage::run_dataset(&work, out, opts.shard);
    bar.finish_and_clear();
    let run = run?;
    debug_assert!(run.counts.reconciles());
    let files = units.iter().map(|u| &u.path).collect::<std::collections::BTreeSet<_>>().len();
    run.commit(out, opts.shard, opts.sync, |_| {
        Ok::<_, IngestError>(ManifestHead {
            stage: STAGE,
            config: config_json,
            inputs,
            compression: opts.compression,
            stats: None,
        })
    })?;
    Ok(IngestSummary {
        counts: run.counts,
        parts: run.parts.len(),
        parts_resumed: run.resumed,
        files,
        links_skipped,
        input_bytes: run.input_bytes,
        text_bytes: run.text_bytes,
        elapsed: start.elapsed(),
        output: out.clone(),
    })
}

/// Writes one part: produces tasks from its units in order, parses them in parallel windows
/// while the previous window is written, and writes the results in order.
fn run_part(sh: &Shared, units: &[Unit], part: u32, unit_ids: &[usize]) -> Result<PartRecord, IngestError> {
    let out = &sh.opts.output;
    let props = dataset::writer_properties(sh.opts.compression);
    let mut run = PartRun {
        sh,
        writer: PartWriter {
            docs: DocumentSink::create(
                out,
                &dataset::part_name(part),
                props.clone(),
                1 << 16,
                sh.opts.row_group_bytes,
            )?,
            rejected: RejectionSink::create(
                out,
                &dataset::rejected_part_name(part),
                props,
                4096,
                sh.opts.row_group_bytes,
            )?,
            counts: Counts::default(),
        },
        window: Vec::new(),
        window_bytes: 0,
        pending: Vec::new(),
        input_bytes: 0,
    };
    for &ui in unit_ids {
        task::produce(sh, &units[ui], &mut |t| run.push(t))?;
    }
    run.step()?;
    let PartRun { mut writer, pending, input_bytes, .. } = run;
    writer.write(sh, pending)?;
    let PartWriter { docs, rejected, counts } = writer;
    sh.docs_done.fetch_add(counts.kept, Ordering::Relaxed);
    let text_bytes = docs.text_bytes;
    let documents = docs.finish()?;
    let rejected = rejected.finish()?;
    Ok(PartRecord { part, counts, documents, rejected, input_bytes, text_bytes })
}

/// A task's finalized outputs and the input bytes it accounts for.
struct Processed {
    outs: Vec<finalize::Out>,
    input_bytes: u64,
}

struct PartRun<'a, 'b> {
    sh: &'a Shared<'b>,
    writer: PartWriter,
    window: Vec<task::Task>,
    window_bytes: usize,
    /// The previous window's results, written while the next window is parsed.
    pending: Vec<Processed>,
    input_bytes: u64,
}

impl PartRun<'_, '_> {
    fn push(&mut self, t: task::Task) -> Result<(), IngestError> {
        self.input_bytes += t.input_bytes;
        self.window_bytes += t.weight();
        self.window.push(t);
        if self.window_bytes >= self.sh.opts.window {
            self.step()?;
        }
        Ok(())
    }

    /// Parses the current window while writing the previous one.
    fn step(&mut self) -> Result<(), IngestError> {
        let window = std::mem::take(&mut self.window);
        self.window_bytes = 0;
        let prev = std::mem::take(&mut self.pending);
        let (sh, writer) = (self.sh, &mut self.writer);
        let (written, processed) = rayon::join(|| writer.write(sh, prev), || process(sh, window));
        written?;
        self.pending = processed;
        Ok(())
    }
}

/// Runs and finalizes a window's tasks in parallel; results keep the window's order.
fn process(sh: &Shared, window: Vec<task::Task>) -> Vec<Processed> {
    window
        .into_par_iter()
        .map(|t| {
            let cp = &sh.colls[t.collection];
            let result = t.run(&cp.options);
            Processed { outs: finalize::outputs(cp, &t, result), input_bytes: t.input_bytes }
        })
        .collect()
}

struct PartWriter {
    docs: DocumentSink,
    rejected: RejectionSink,
    counts: Counts,
}

impl PartWriter {
    fn write(&mut self, sh: &Shared, batch: Vec<Processed>) -> Result<(), IngestError> {
        if batch.is_empty() {
            return Ok(());
        }
        let c = &mut self.counts;
        for p in batch {
            for o in p.outs {
                match o {
                    finalize::Out::Doc(d) => {
                        c.input += 1;
                        c.kept += 1;
                        self.docs.push(&d)?;
                    }
                    finalize::Out::Rej(r) => {
                        c.input += 1;
                        *c.rejected.entry(r.reason.clone()).or_default() += 1;
                        tracing::debug!(
                            "{}{}: {}: {}",
                            r.path,
                            if r.locator.is_empty() { String::new() } else { format!(" [{}]", r.locator) },
                            r.reason,
                            r.detail
                        );
                        self.rejected.push(&r)?;
                    }
                    finalize::Out::Warn(kind, detail) => {
                        tracing::warn!("{kind}: {detail}");
                        *c.warnings.entry(kind).or_default() += 1;
                    }
                }
            }
            sh.bar.inc(p.input_bytes);
        }
        let done = sh.docs_done.load(Ordering::Relaxed) + c.kept;
        let secs = sh.start.elapsed().as_secs_f64().max(1e-3);
        sh.bar.set_message(format!("{done} docs, {:.0} docs/s", done as f64 / secs));
        Ok(())
    }
}

/// A config for the one-collection case (`kbcurate ingest DIR --format alto --genre ...`).
pub fn single_collection(paths: Vec<String>, name: &str) -> Collection {
    Collection { name: name.to_string(), paths, ..Default::default() }
}

//! `kbcurate balance`: reads a dataset, writes the balanced dataset.
//!
//! Planning aggregates the strata (polars, metadata columns only) and solves the weights;
//! sampling then streams each part: a document's repeat count is its stratum's weight `w`
//! rounded down or up, up with probability `w - ⌊w⌋` decided by a seeded hash of its id — not
//! its position — so the same policy and seed give the same corpus on any number of threads,
//! parts or shards. Documents repeated zero times go to `rejected/` as `balanced-out`; those
//! the policy's selection leaves out as `excluded`. Kept documents carry `repeats`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::builder::UInt32Builder;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt32Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::policy::Policy;
use super::solve::{self, Plan};
use super::strata::{self, exclusion, Strata, NONE};
use crate::dataset::{self, Counts, Dataset, DatasetError, PartRecord, RejectionSink, Shard};
use crate::reject::Reason;
use crate::stage::{self, DatasetStage, ManifestHead};

pub const STAGE: &str = "balance";
pub const PLAN_FILE: &str = "plan.json";

#[derive(Debug, thiserror::Error)]
pub enum BalanceError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Strata(#[from] strata::StrataError),
    #[error(transparent)]
    Solve(#[from] solve::SolveError),
    #[error("{0}")]
    Other(String),
}

#[derive(Debug, Clone)]
pub struct BalanceOptions {
    pub output: PathBuf,
    pub threads: Option<usize>,
    /// How the Parquet parts are compressed.
    pub compression: crate::dataset::Codec,
    /// Only these parts (a task of a job array): the plan is computed (it is cheap: metadata
    /// columns only) but neither `plan.json` nor the manifest is written.
    pub shard: Shard,
    /// Sync the output to disk at its commit points (`--sync`; see the dataset module's
    /// durability notes). Changes no output.
    pub sync: bool,
}

impl BalanceOptions {
    pub fn new(output: impl Into<PathBuf>) -> Self {
        BalanceOptions {
            output: output.into(),
            sync: false,
            threads: None,
            compression: crate::dataset::Codec::default(),
            shard: Shard::WHOLE,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BalanceSummary {
    pub plan: Plan,
    pub counts: Counts,
    /// Documents in the balanced corpus counting repeats.
    pub documents_with_repeats: u64,
    pub elapsed: Duration,
}

impl BalanceSummary {
    pub fn render(&self) -> String {
        let mut s = format!(
            "balance: {} documents kept of {} ({} with repeats) in {:.2}s\n",
            self.counts.kept,
            self.counts.input,
            self.documents_with_repeats,
            self.elapsed.as_secs_f64()
        );
        for (r, n) in &self.counts.rejected {
            s.push_str(&format!("  rejected {r}: {n}\n"));
        }
        s
    }
}

/// Plans without touching the data (`--dry-run`): strata and weights.
pub fn plan(input: &Path, policy: &Policy) -> Result<(Strata, Plan), BalanceError> {
    let ds = Dataset::open(input)?;
    let strata = strata::strata(&ds, policy)?;
    let plan = solve::solve(policy, &strata)?;
    Ok((strata, plan))
}

/// A document's repeat count: `⌊w⌋`, plus one with probability `w - ⌊w⌋` by a seeded hash
/// of its id.
pub fn repeats(weight: f64, seed: u64, id: &str) -> u32 {
    let whole = weight.floor();
    let mut h = xxhash_rust::xxh3::Xxh3::with_seed(seed);
    h.update(id.as_bytes());
    let u = (h.digest() >> 11) as f64 / (1u64 << 53) as f64;
    whole as u32 + u32::from(u < weight - whole)
}

pub fn balance(input: &Path, policy: &Policy, opts: &BalanceOptions) -> Result<BalanceSummary, BalanceError> {
    stage::install(opts.threads, || run(input, policy, opts)).map_err(BalanceError::Other)?
}

/// Balance's parts: part `i` of the output is part `i` of the input, sampled.
struct SampleParts<'a> {
    ds: &'a Dataset,
    plan: &'a str,
    opts: &'a BalanceOptions,
    policy: &'a Policy,
    cols: &'a [String],
    weights: &'a HashMap<Vec<String>, f64>,
}

impl DatasetStage for SampleParts<'_> {
    /// Documents written counting repeats.
    type Stats = u64;
    type Error = BalanceError;

    fn parts(&self) -> usize {
        self.ds.manifest.parts.len()
    }

    fn plan(&self, _part: u32) -> String {
        self.plan.to_string()
    }

    fn write_part(&self, part: u32, _plan: &str) -> Result<(PartRecord, u64), BalanceError> {
        let input = &self.ds.manifest.parts[part as usize];
        let o = self.opts;
        sample_part(self.ds, input, part, &o.output, o.compression, self.policy, self.cols, self.weights)
    }
}

fn run(input: &Path, policy: &Policy, opts: &BalanceOptions) -> Result<BalanceSummary, BalanceError> {
    let start = Instant::now();
    let ds = Dataset::open(input)?;
    let (strata, plan) = self::plan(input, policy)?;
    let out = &opts.output;
    let parts = &ds.manifest.parts;
    let _lock = stage::prepare_output(out, STAGE, parts.len(), opts.shard)?;
    let policy_json = serde_json::to_value(policy).expect("policy serializes");
    let plan_hash = stage::input_parts_plan(&policy_json, |_| {}, opts.compression, parts);
    let weights: HashMap<Vec<String>, f64> = solve::weights_by_key(&plan).into_iter().collect();
    let cols = strata::key_columns(policy);
    let work = SampleParts { ds: &ds, plan: &plan_hash, opts, policy, cols: &cols, weights: &weights };
    let run = stage::run_dataset(&work, out, opts.shard)?;
    run.commit(out, opts.shard, opts.sync, |run| {
        // Planning (polars) and sampling (arrow-rs) read the same documents the same way.
        let counts = &run.counts;
        let excluded: u64 = strata.excluded.values().map(|s| s.docs).sum();
        let got = counts.rejected.get(Reason::Excluded.as_str()).copied().unwrap_or(0);
        if counts.input != strata.input.docs || got != excluded {
            return Err(BalanceError::Other(format!(
                "planning saw {} documents ({excluded} excluded), sampling {} ({got} excluded): the dataset \
                 changed while balancing?",
                strata.input.docs, counts.input
            )));
        }
        let plan_json = serde_json::to_vec_pretty(&serde_json::json!({
            "policy": policy_json,
            "plan": plan,
            "excluded": strata.excluded.iter().map(|(k, v)| (k.clone(), v.docs)).collect::<std::collections::BTreeMap<_, _>>(),
        }))
        .expect("plan serializes");
        dataset::write_atomic(&out.join(PLAN_FILE), &plan_json)?;
        Ok(ManifestHead {
            stage: STAGE,
            config: serde_json::json!({ "policy": policy_json, "budget": plan.budget, "unit": plan.unit_label }),
            inputs: serde_json::json!({
                "dataset": input.display().to_string(),
                "stage": ds.manifest.stage,
                "parts": ds.manifest.parts,
            }),
            compression: opts.compression,
            stats: None,
        })
    })?;
    Ok(BalanceSummary { plan, counts: run.counts, documents_with_repeats: run.stats, elapsed: start.elapsed() })
}

/// A column's value as text, as in strata keys (integers in decimal, null as `(none)`).
fn value_at(col: &ArrayRef, r: usize) -> String {
    use arrow_array::types::*;
    if col.is_null(r) {
        return NONE.to_string();
    }
    macro_rules! int {
        ($t:ty) => {
            col.as_primitive::<$t>().value(r).to_string()
        };
    }
    match col.data_type() {
        DataType::Utf8 => col.as_string::<i32>().value(r).to_string(),
        DataType::LargeUtf8 => col.as_string::<i64>().value(r).to_string(),
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        other => format!("({other})"),
    }
}

fn output_schema(input: &Schema) -> SchemaRef {
    let mut fields: Vec<Field> =
        input.fields().iter().filter(|f| f.name() != "repeats").map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("repeats", DataType::UInt32, false));
    Arc::new(Schema::new(fields))
}

#[allow(clippy::too_many_arguments)]
fn sample_part(
    ds: &Dataset,
    part: &dataset::PartFile,
    i: u32,
    out: &Path,
    compression: crate::dataset::Codec,
    policy: &Policy,
    cols: &[String],
    weights: &HashMap<Vec<String>, f64>,
) -> Result<(PartRecord, u64), BalanceError> {
    let props = dataset::writer_properties(compression);
    let mut rejected = RejectionSink::create(out, &dataset::rejected_part_name(i), props.clone(), 4096, 32 << 20)?;
    let mut kept_rows = dataset::KeptRows::new(out, i, props);
    let mut counts = Counts::default();
    let (mut text_bytes, mut with_repeats) = (0u64, 0u64);
    let dims: Vec<String> = policy.dimensions().into_iter().map(|(_, c, _)| c).collect();
    for batch in ds.batches(part)? {
        let batch = batch?;
        let sch = output_schema(&batch.schema());
        let col = |name: &str| -> Result<ArrayRef, BalanceError> {
            batch.column_by_name(name).cloned().ok_or_else(|| {
                BalanceError::Other(format!("{}: no `{name}` column", ds.dir.join(&part.file).display()))
            })
        };
        let key_cols: Vec<ArrayRef> = cols.iter().map(|c| col(c)).collect::<Result<_, _>>()?;
        let (ids, text) = (col("id")?, col("text")?);
        let (ids, text) = (ids.as_string::<i32>(), text.as_string::<i64>());
        let conf = batch.column_by_name("ocr_confidence").map(|c| c.as_primitive::<Float32Type>().clone());
        let chars = col("n_chars")?;
        let chars = chars.as_primitive::<UInt32Type>();
        let origin = dataset::RowOrigin::of(&batch);
        let mut keep = Vec::with_capacity(batch.num_rows());
        let mut reps = UInt32Builder::with_capacity(batch.num_rows());
        for r in 0..batch.num_rows() {
            counts.input += 1;
            let value = |c: &str| value_at(&key_cols[cols.iter().position(|x| x == c).expect("key column")], r);
            let ocr = conf.as_ref().filter(|c| c.is_valid(r)).map(|c| c.value(r));
            let id = ids.value(r);
            let (n, reason, detail) = match exclusion(&policy.select, value, ocr, chars.value(r) as u64) {
                Some(why) => (0, Reason::Excluded, why),
                None => {
                    let key: Vec<String> = dims.iter().map(|c| value(c)).collect();
                    let wt = weights.get(&key).copied().unwrap_or(0.0);
                    let n = repeats(wt, policy.seed, id);
                    let stratum: Vec<String> = dims.iter().zip(&key).map(|(d, v)| format!("{d} = {v}")).collect();
                    (
                        n,
                        Reason::BalancedOut,
                        format!("weight {wt:.4} for {} (seed {})", stratum.join(", "), policy.seed),
                    )
                }
            };
            reps.append_value(n);
            keep.push(n > 0);
            if n > 0 {
                counts.kept += 1;
                with_repeats += n as u64;
                text_bytes += text.value(r).len() as u64;
                continue;
            }
            *counts.rejected.entry(reason.as_str().to_string()).or_default() += 1;
            rejected.push(&origin.rejection(r, STAGE, reason.as_str(), detail, Some(text.value(r).to_string())))?;
        }
        let mut columns: Vec<ArrayRef> = batch
            .schema()
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| f.name() != "repeats")
            .map(|(k, _)| batch.column(k).clone())
            .collect();
        columns.push(Arc::new(reps.finish()));
        let full = RecordBatch::try_new(sch, columns).map_err(|e| BalanceError::Other(e.to_string()))?;
        kept_rows.write(&full, keep)?;
    }
    let documents = kept_rows.finish(output_schema(&crate::document::schema()))?;
    let rejected = rejected.finish()?;
    let rec = PartRecord { part: i, counts, documents, rejected, input_bytes: part.bytes, text_bytes };
    Ok((rec, with_repeats))
}

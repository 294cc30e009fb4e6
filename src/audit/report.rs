//! The numbers of a report (`report.json`): provenance and funnel from the stages' manifests,
//! composition from the metadata columns, and a few examples (the only place texts are read).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::Array;

use super::composition::{self, Composition};
use crate::dataset::{Counts, Dataset, DatasetError, Manifest};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("{path}: {source}")]
    Polars { path: String, source: polars::prelude::PolarsError },
    #[error("{0}")]
    Other(String),
}

/// One stage of the chain that produced the dataset, oldest first.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StageInfo {
    pub stage: String,
    pub path: String,
    pub kbcurate_version: String,
    pub counts: Counts,
    /// xxh3-64 of the stage's config as recorded in its manifest.
    pub config_hash: String,
    pub config: serde_json::Value,
    pub parts: usize,
    pub text_bytes: u64,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Example {
    pub id: String,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub genre: Option<String>,
    pub source: Option<String>,
    pub excerpt: String,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DupExample {
    pub kept: Example,
    pub removed: Vec<Example>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Report {
    pub kbcurate_version: String,
    pub dataset: String,
    pub stage: String,
    pub stages: Vec<StageInfo>,
    pub composition: Composition,
    pub dup_examples: Vec<DupExample>,
    /// The balance stage's plan (`plan.json`), when the chain has one.
    pub balance: Option<serde_json::Value>,
    /// Shards tokenized from this dataset (a sibling `tokenize` folder): tokenizer, packing and
    /// tokens per split and per genre/decade/source, from its manifest.
    pub tokens: Option<serde_json::Value>,
    pub kept_examples: Vec<Example>,
    /// Reason → a few rejected documents, over every stage of the chain.
    pub rejected_examples: BTreeMap<String, Vec<Example>>,
}

pub const EXCERPT_CHARS: usize = 400;
const EXAMPLES: usize = 3;

fn excerpt(t: &str, n: usize) -> String {
    let mut s: String = t.chars().take(n).collect();
    if t.chars().nth(n).is_some() {
        s.push('…');
    }
    s
}

/// Resolves the upstream dataset a manifest names: as written, else as a sibling folder.
fn upstream(dir: &Path, m: &Manifest) -> Option<PathBuf> {
    let p = PathBuf::from(m.inputs.get("dataset")?.as_str()?);
    if Manifest::read(&p).is_ok() {
        return Some(p);
    }
    let sibling = dir.parent()?.join(p.file_name()?);
    Manifest::read(&sibling).is_ok().then_some(sibling)
}

/// A dataset folder, or a run folder holding stage folders: the most downstream dataset.
pub fn resolve(path: &Path) -> Result<PathBuf, AuditError> {
    if Manifest::read(path).is_ok() {
        return Ok(path.to_path_buf());
    }
    let order = ["ingest", "dedup", "filter", "balance", "tokenize"];
    let mut best: Option<(usize, PathBuf)> = None;
    let entries = std::fs::read_dir(path)
        .map_err(|e| AuditError::Other(format!("{}: {e}: not a dataset or run folder", path.display())))?;
    for e in entries.flatten() {
        if let Ok(m) = Manifest::read(&e.path()) {
            let rank = order.iter().position(|s| *s == m.stage).unwrap_or(order.len());
            if best.as_ref().is_none_or(|(r, p)| rank > *r || (rank == *r && e.path() > *p)) {
                best = Some((rank, e.path()));
            }
        }
    }
    best.map(|(_, p)| p).ok_or_else(|| {
        AuditError::Other(format!(
            "{}: no manifest.json here or in its subfolders: not a dataset or run folder",
            path.display()
        ))
    })
}

pub fn build(path: &Path) -> Result<Report, AuditError> {
    let dir = resolve(path)?;
    let ds = Dataset::open(&dir)?;
    // The chain, newest first, then reversed.
    let mut chain: Vec<(PathBuf, Manifest)> = vec![(dir.clone(), ds.manifest.clone())];
    while let Some(up) = upstream(&chain.last().expect("non-empty").0, &chain.last().expect("non-empty").1) {
        if chain.iter().any(|(p, _)| p == &up) || chain.len() > 16 {
            break;
        }
        let m = Manifest::read(&up)?;
        chain.push((up, m));
    }
    chain.reverse();
    let stages: Vec<StageInfo> = chain
        .iter()
        .map(|(p, m)| StageInfo {
            stage: m.stage.clone(),
            path: p.display().to_string(),
            kbcurate_version: m.kbcurate_version.clone(),
            counts: m.counts.clone(),
            config_hash: format!("{:016x}", xxhash_rust::xxh3::xxh3_64(m.config.to_string().as_bytes())),
            config: m.config.clone(),
            parts: m.parts.len(),
            text_bytes: m.text_bytes,
        })
        .collect();
    let composition = composition::composition(&ds)
        .map_err(|source| AuditError::Polars { path: dir.display().to_string(), source })?;
    let balance = chain
        .iter()
        .rev()
        .find(|(_, m)| m.stage == "balance")
        .and_then(|(p, _)| std::fs::read(p.join(crate::balance::stage::PLAN_FILE)).ok())
        .and_then(|b| serde_json::from_slice(&b).ok());
    let mut rejected_examples: BTreeMap<String, Vec<(u64, Example)>> = BTreeMap::new();
    let mut dup_pairs: Vec<(u64, String, Example)> = Vec::new();
    for (p, _) in &chain {
        let d = Dataset::open(p)?;
        for r in d.rejections()? {
            let key = xxhash_rust::xxh3::xxh3_64(r.id.as_bytes());
            let ex = Example {
                id: r.id.clone(),
                reason: Some(r.reason.clone()),
                detail: Some(r.detail.clone()),
                genre: None,
                source: Some(r.collection.clone()),
                excerpt: excerpt(r.text.as_deref().unwrap_or(""), EXCERPT_CHARS),
            };
            if r.stage == "dedup" {
                if let Some(kept) = r.detail.strip_prefix("kept ").and_then(|d| d.split_whitespace().next()) {
                    dup_pairs.push((key, kept.to_string(), ex.clone()));
                }
            }
            let list = rejected_examples.entry(r.reason.clone()).or_default();
            list.push((key, ex));
            list.sort_by_key(|(k, _)| *k);
            list.truncate(EXAMPLES);
        }
    }
    // Example clusters: the kept copy beside its removed copies.
    dup_pairs.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    let mut clusters: BTreeMap<String, Vec<Example>> = BTreeMap::new();
    for (_, kept, ex) in dup_pairs {
        clusters.entry(kept).or_default().push(ex);
    }
    let mut chosen: Vec<String> = clusters.keys().cloned().collect();
    chosen.sort_by_key(|id| xxhash_rust::xxh3::xxh3_64(id.as_bytes()));
    chosen.truncate(EXAMPLES);
    let dedup_dir = chain.iter().find(|(_, m)| m.stage == "dedup").map(|(p, _)| p.clone());
    let kept_texts = match &dedup_dir {
        Some(d) => find_documents(&Dataset::open(d)?, &chosen)?,
        None => HashMap::new(),
    };
    let dup_examples = chosen
        .iter()
        .filter_map(|id| {
            let kept = kept_texts.get(id)?.clone();
            Some(DupExample { kept, removed: clusters[id].iter().take(EXAMPLES).cloned().collect() })
        })
        .collect();
    let kept_examples = sample_documents(&ds, EXAMPLES)?;
    let tokens = shards_of(&dir);
    Ok(Report {
        kbcurate_version: env!("CARGO_PKG_VERSION").into(),
        dataset: dir.display().to_string(),
        stage: ds.manifest.stage.clone(),
        stages,
        composition,
        dup_examples,
        balance,
        tokens,
        kept_examples,
        rejected_examples: rejected_examples
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().map(|(_, e)| e).collect()))
            .collect(),
    })
}

/// The manifest of shards tokenized from `dataset`: a sibling folder whose `manifest.json` is a
/// `tokenize` manifest naming a dataset with the same folder name.
fn shards_of(dataset: &Path) -> Option<serde_json::Value> {
    let name = dataset.file_name()?;
    let mut found: Vec<(PathBuf, serde_json::Value)> = std::fs::read_dir(dataset.parent()?)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let m: serde_json::Value =
                serde_json::from_slice(&std::fs::read(e.path().join("manifest.json")).ok()?).ok()?;
            let input = PathBuf::from(m["input"]["dataset"].as_str()?);
            (m["stage"] == "tokenize" && input.file_name() == Some(name)).then(|| (e.path(), m))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let (path, m) = found.into_iter().next()?;
    Some(serde_json::json!({
        "path": path.display().to_string(),
        "tokenizer": m["tokenizer"],
        "special_tokens": m["special_tokens"],
        "seq_len": m["seq_len"],
        "packing": m["packing"],
        "format": m["format"],
        "splits": m["splits"].as_object().map(|s| s.iter().map(|(k, v)| (k.clone(), serde_json::json!({
            "documents": v["documents"],
            "documents_with_repeats": v["documents_with_repeats"],
            "packing": v["packing"],
            "padding_share": v["padding_share"],
            "tokens_by": v["tokens_by"],
        }))).collect::<serde_json::Map<_, _>>()),
    }))
}

fn example_from(batch: &arrow_array::RecordBatch, r: usize) -> Example {
    let s = |name: &str| {
        batch.column_by_name(name).and_then(|c| {
            let c = c.as_string_opt::<i32>()?;
            c.is_valid(r).then(|| c.value(r).to_string())
        })
    };
    let text = batch.column_by_name("text").map(|c| c.as_string::<i64>().value(r).to_string()).unwrap_or_default();
    Example {
        id: s("id").unwrap_or_default(),
        reason: None,
        detail: None,
        genre: s("genre"),
        source: s("source"),
        excerpt: excerpt(&text, EXCERPT_CHARS),
    }
}

/// The documents with these ids: ids are read first, texts only from parts that hold one.
fn find_documents(ds: &Dataset, ids: &[String]) -> Result<HashMap<String, Example>, AuditError> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    for part in &ds.manifest.parts {
        let path = ds.dir.join(&part.file);
        let holds = crate::dataset::read_parquet_column(&path, "id")?.iter().any(|id| ids.contains(id));
        if !holds {
            continue;
        }
        for b in ds.batches(part)? {
            let b = b?;
            let col = b.column_by_name("id").expect("checked").as_string::<i32>().clone();
            for r in 0..b.num_rows() {
                if ids.iter().any(|i| i == col.value(r)) {
                    out.insert(col.value(r).to_string(), example_from(&b, r));
                }
            }
        }
    }
    Ok(out)
}

/// A few kept documents, chosen by the smallest hash of their id (reproducible, spread).
fn sample_documents(ds: &Dataset, n: usize) -> Result<Vec<Example>, AuditError> {
    let mut ids: Vec<(u64, String)> = Vec::new();
    for part in &ds.manifest.parts {
        for id in crate::dataset::read_parquet_column(&ds.dir.join(&part.file), "id")? {
            ids.push((xxhash_rust::xxh3::xxh3_64(id.as_bytes()), id));
            if ids.len() > 4 * n {
                ids.sort();
                ids.truncate(n);
            }
        }
    }
    ids.sort();
    ids.truncate(n);
    let wanted: Vec<String> = ids.into_iter().map(|(_, id)| id).collect();
    let found = find_documents(ds, &wanted)?;
    Ok(wanted.iter().filter_map(|id| found.get(id).cloned()).collect())
}

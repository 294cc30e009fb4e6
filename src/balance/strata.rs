//! The strata of a dataset: every combination of the policy's dimension values present, with
//! its documents, characters and words. Computed with polars over the metadata columns only
//! (one part at a time, projected; never the text), so planning over 100 M documents needs
//! memory for the strata, not for the corpus.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::Path;

use polars::prelude::*;
use polars_io::prelude::ParquetReader;
use polars_io::SerReader;

use super::policy::{Policy, Selection};
use crate::dataset::Dataset;

/// The value a missing (null) metadata field takes in strata keys.
pub const NONE: &str = "(none)";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sizes {
    pub docs: u64,
    pub chars: u64,
    pub words: u64,
}

impl Sizes {
    fn add(&mut self, o: &Sizes) {
        self.docs += o.docs;
        self.chars += o.chars;
        self.words += o.words;
    }
}

#[derive(Debug, Clone)]
pub struct Cell {
    /// One value per dimension, in the policy's dimension order.
    pub key: Vec<String>,
    pub size: Sizes,
}

#[derive(Debug, Clone)]
pub struct Strata {
    /// Dimension names and the columns they read.
    pub dims: Vec<(String, String)>,
    /// Sorted by key.
    pub cells: Vec<Cell>,
    /// Documents left out by the selection, by why.
    pub excluded: BTreeMap<String, Sizes>,
    pub input: Sizes,
}

#[derive(Debug, thiserror::Error)]
pub enum StrataError {
    #[error(transparent)]
    Dataset(#[from] crate::dataset::DatasetError),
    #[error("{path}: {source}")]
    Polars { path: String, source: PolarsError },
    #[error("{0}")]
    Invalid(String),
}

/// Why a document is left out by the selection, from its key values (`cols` order) and
/// numeric fields; `None` when it is selected. Shared by planning and sampling, so the two
/// agree on every document.
pub fn exclusion(sel: &Selection, value: impl Fn(&str) -> String, ocr: Option<f32>, chars: u64) -> Option<String> {
    for (col, vals) in &sel.exclude {
        let v = value(col);
        if vals.iter().any(|x| x.to_string() == v) {
            return Some(format!("{col} = {v} is excluded"));
        }
    }
    for (col, vals) in &sel.include {
        let v = value(col);
        if !vals.iter().any(|x| x.to_string() == v) {
            return Some(format!("{col} = {v} is not among the included values"));
        }
    }
    if let (Some(min), Some(c)) = (sel.min_ocr_confidence, ocr) {
        // Compared in f32, as stored, so that planning (polars) and sampling agree.
        if c < min as f32 {
            return Some(format!("ocr_confidence {c:.3} < {min}"));
        }
    }
    if let Some(min) = sel.min_chars {
        if chars < min {
            return Some(format!("{chars} characters < {min}"));
        }
    }
    None
}

/// The columns whose values take part in keys: dimensions, then selection columns.
pub fn key_columns(policy: &Policy) -> Vec<String> {
    let mut cols: Vec<String> = policy.dimensions().into_iter().map(|(_, c, _)| c).collect();
    for c in policy.select.exclude.keys().chain(policy.select.include.keys()) {
        if !cols.contains(c) {
            cols.push(c.clone());
        }
    }
    cols
}

/// Checks that the key columns exist and hold text or integers.
pub fn check_columns(ds: &Dataset, cols: &[String]) -> Result<(), StrataError> {
    let Some(part) = ds.manifest.parts.first() else { return Ok(()) };
    let path = ds.dir.join(&part.file);
    let file = File::open(&path).map_err(|e| StrataError::Invalid(format!("{}: {e}", path.display())))?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| StrataError::Invalid(format!("{}: {e}", path.display())))?;
    let schema = builder.schema();
    for c in cols {
        let Ok(f) = schema.field_with_name(c) else {
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            return Err(StrataError::Invalid(format!(
                "column `{c}` (named in the policy) is not in the dataset; its columns: {}",
                names.join(", ")
            )));
        };
        if !(f.data_type().is_integer()
            || matches!(f.data_type(), arrow_schema::DataType::Utf8 | arrow_schema::DataType::LargeUtf8))
        {
            return Err(StrataError::Invalid(format!(
                "column `{c}` is {}: balance by text or integer columns (e.g. `decade`, not `date`)",
                f.data_type()
            )));
        }
    }
    Ok(())
}

/// Aggregates the dataset's strata under the policy.
pub fn strata(ds: &Dataset, policy: &Policy) -> Result<Strata, StrataError> {
    let dims: Vec<(String, String)> = policy.dimensions().into_iter().map(|(n, c, _)| (n, c)).collect();
    let cols = key_columns(policy);
    check_columns(ds, &cols)?;
    let mut cells: HashMap<Vec<String>, Sizes> = HashMap::new();
    let mut excluded: BTreeMap<String, Sizes> = BTreeMap::new();
    let mut input = Sizes::default();
    for part in &ds.manifest.parts {
        let path = ds.dir.join(&part.file);
        let pe = |source: PolarsError| StrataError::Polars { path: path.display().to_string(), source };
        let df = aggregate_part(&path, &cols, &policy.select).map_err(pe)?;
        let keys: Vec<Vec<Option<String>>> = cols
            .iter()
            .map(|c| -> PolarsResult<Vec<Option<String>>> {
                Ok(df.column(c)?.str()?.iter().map(|v| v.map(str::to_string)).collect())
            })
            .collect::<PolarsResult<_>>()
            .map_err(pe)?;
        let num = |name: &str| -> PolarsResult<Vec<Option<u64>>> {
            Ok(df.column(name)?.cast(&DataType::UInt64)?.u64()?.iter().collect())
        };
        let (docs, chars, words) = (num("docs").map_err(pe)?, num("chars").map_err(pe)?, num("words").map_err(pe)?);
        let low_conf: Vec<Option<f32>> = df
            .column("__low_ocr")
            .map_err(pe)?
            .cast(&DataType::Float32)
            .map_err(pe)?
            .f32()
            .map_err(pe)?
            .iter()
            .collect();
        let short: Vec<Option<u64>> = num("__short").map_err(pe)?;
        for r in 0..df.height() {
            let size = Sizes { docs: docs[r].unwrap_or(0), chars: chars[r].unwrap_or(0), words: words[r].unwrap_or(0) };
            input.add(&size);
            let value = |c: &str| {
                let i = cols.iter().position(|x| x == c).expect("a key column");
                keys[i][r].clone().unwrap_or_else(|| NONE.to_string())
            };
            // Rows are grouped by the selection's outcome: `__low_ocr` holds a confidence
            // below the threshold (else null), `__short` a length below it.
            let why = exclusion(&policy.select, value, low_conf[r], short[r].unwrap_or(u64::MAX));
            match why {
                Some(w) => excluded.entry(generalize(&w)).or_default().add(&size),
                None => cells.entry(dims.iter().map(|(_, c)| value(c)).collect()).or_default().add(&size),
            }
        }
    }
    let mut cells: Vec<Cell> = cells.into_iter().map(|(key, size)| Cell { key, size }).collect();
    cells.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Strata { dims, cells, excluded, input })
}

/// Exclusion details name measured values; for the plan they are grouped by rule.
fn generalize(why: &str) -> String {
    if why.starts_with("ocr_confidence") {
        return "ocr_confidence below the minimum".into();
    }
    if why.ends_with(|c: char| c.is_ascii_digit()) && why.contains("characters <") {
        return "fewer characters than the minimum".into();
    }
    why.to_string()
}

/// One part's metadata, grouped by key values and by the outcome of the numeric selection
/// rules (so the Rust side can apply the same rules to the groups).
fn aggregate_part(path: &Path, cols: &[String], sel: &Selection) -> PolarsResult<DataFrame> {
    let mut read: Vec<String> = cols.to_vec();
    for c in ["n_chars", "n_words", "ocr_confidence"] {
        if !cols.iter().any(|x| x == c) {
            read.push(c.into());
        }
    }
    let file = File::open(path)?;
    let df = ParquetReader::new(file).with_columns(Some(read)).finish()?;
    let low_ocr = match sel.min_ocr_confidence {
        Some(min) => when(col("ocr_confidence").lt(lit(min as f32)))
            .then(col("ocr_confidence"))
            .otherwise(lit(NULL).cast(DataType::Float32)),
        None => lit(NULL).cast(DataType::Float32),
    };
    let short = match sel.min_chars {
        Some(min) => when(col("n_chars").cast(DataType::UInt64).lt(lit(min)))
            .then(col("n_chars").cast(DataType::UInt64))
            .otherwise(lit(NULL).cast(DataType::UInt64)),
        None => lit(NULL).cast(DataType::UInt64),
    };
    let mut exprs: Vec<Expr> = cols.iter().map(|c| col(c.as_str()).cast(DataType::String)).collect();
    exprs.push(low_ocr.alias("__low_ocr"));
    exprs.push(short.alias("__short"));
    let group: Vec<Expr> = cols.iter().map(|c| col(c.as_str())).chain([col("__low_ocr"), col("__short")]).collect();
    df.lazy()
        .with_columns(exprs)
        .group_by(group)
        .agg([
            len().alias("docs"),
            col("n_chars").cast(DataType::UInt64).sum().alias("chars"),
            col("n_words").cast(DataType::UInt64).sum().alias("words"),
        ])
        .collect()
}

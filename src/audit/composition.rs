//! Composition of a dataset by genre, decade, source, language, OCR-confidence bucket and
//! length, in documents and characters (and counting balance repeats where the dataset has
//! them). Polars over the metadata columns, one part at a time; the text is never read.

use std::collections::BTreeMap;
use std::fs::File;

use polars::prelude::*;
use polars_io::prelude::ParquetReader;
use polars_io::SerReader;

use crate::balance::strata::NONE;
use crate::dataset::Dataset;

/// The dimensions a report breaks the corpus down by.
pub const DIMENSIONS: [&str; 6] = ["genre", "decade", "source", "language", "ocr_confidence", "length"];

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Tally {
    pub docs: u64,
    pub chars: u64,
    /// Counting each document `repeats` times (balance output); equal to the above elsewhere.
    pub docs_repeated: u64,
    pub chars_repeated: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.docs += o.docs;
        self.chars += o.chars;
        self.docs_repeated += o.docs_repeated;
        self.chars_repeated += o.chars_repeated;
    }
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Composition {
    pub total: Tally,
    /// Whether the dataset carries `repeats` (the `_repeated` figures differ).
    pub repeats: bool,
    /// Dimension → value → tally.
    pub by: BTreeMap<String, BTreeMap<String, Tally>>,
    /// Genre → decade → characters.
    pub genre_decade: BTreeMap<String, BTreeMap<String, u64>>,
    /// Duplicate-cluster size → kept documents (dedup output).
    pub cluster_sizes: BTreeMap<u32, u64>,
}

/// Tenths of mean word confidence, "0.0–0.1" … "0.9–1.0", or `(none)`.
fn ocr_bucket() -> Expr {
    let tenth = (col("ocr_confidence") * lit(10.0f32)).cast(DataType::Int32);
    let tenth = when(tenth.clone().gt(lit(9)))
        .then(lit(9))
        .otherwise(when(tenth.clone().lt(lit(0))).then(lit(0)).otherwise(tenth));
    when(col("ocr_confidence").is_null()).then(lit(NONE)).otherwise(tenth.cast(DataType::String))
}

fn ocr_label(v: &str) -> String {
    match v.parse::<u32>() {
        Ok(t) => format!("{:.1}–{:.1}", t as f64 / 10.0, (t + 1) as f64 / 10.0),
        Err(_) => v.to_string(),
    }
}

fn length_bucket() -> Expr {
    let c = col("n_chars").cast(DataType::UInt64);
    when(c.clone().lt(lit(100u64)))
        .then(lit("0: < 100"))
        .when(c.clone().lt(lit(1_000u64)))
        .then(lit("1: 100 – 1k"))
        .when(c.clone().lt(lit(10_000u64)))
        .then(lit("2: 1k – 10k"))
        .when(c.lt(lit(100_000u64)))
        .then(lit("3: 10k – 100k"))
        .otherwise(lit("4: ≥ 100k"))
}

pub fn composition(ds: &Dataset) -> PolarsResult<Composition> {
    let mut out = Composition::default();
    for part in &ds.manifest.parts {
        let path = ds.dir.join(&part.file);
        let file = File::open(&path)?;
        let names: Vec<String> = {
            let f = File::open(&path)?;
            ParquetReader::new(f).schema()?.iter_names().map(|n| n.to_string()).collect()
        };
        let has = |c: &str| names.iter().any(|n| n == c);
        let mut read: Vec<String> = ["genre", "decade", "source", "language", "ocr_confidence", "n_chars"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        read.retain(|c| has(c));
        for c in ["repeats", "dup_cluster_size"] {
            if has(c) {
                read.push(c.into());
            }
        }
        out.repeats |= has("repeats");
        let df = ParquetReader::new(file).with_columns(Some(read)).finish()?;
        let mut lf = df.lazy();
        for c in ["genre", "decade", "source", "language"] {
            let e = if has(c) { col(c).cast(DataType::String).fill_null(lit(NONE)) } else { lit(NONE) };
            lf = lf.with_column(e.alias(c));
        }
        lf = lf.with_columns([ocr_bucket().alias("ocr_confidence"), length_bucket().alias("length")]);
        let reps = if has("repeats") { col("repeats").cast(DataType::UInt64) } else { lit(1u64) };
        lf = lf.with_column(reps.alias("__r"));
        let cube = lf
            .clone()
            .group_by(DIMENSIONS.iter().map(|d| col(*d)).collect::<Vec<_>>())
            .agg([
                len().cast(DataType::UInt64).alias("docs"),
                col("n_chars").cast(DataType::UInt64).sum().alias("chars"),
                col("__r").sum().alias("docs_r"),
                (col("n_chars").cast(DataType::UInt64) * col("__r")).sum().alias("chars_r"),
            ])
            .collect()?;
        let keys: Vec<Vec<Option<String>>> = DIMENSIONS
            .iter()
            .map(|d| -> PolarsResult<Vec<Option<String>>> {
                Ok(cube.column(d)?.str()?.iter().map(|v| v.map(str::to_string)).collect())
            })
            .collect::<PolarsResult<_>>()?;
        let num = |n: &str| -> PolarsResult<Vec<u64>> {
            Ok(cube.column(n)?.cast(&DataType::UInt64)?.u64()?.iter().map(|v| v.unwrap_or(0)).collect())
        };
        let (docs, chars, docs_r, chars_r) = (num("docs")?, num("chars")?, num("docs_r")?, num("chars_r")?);
        for r in 0..cube.height() {
            let t = Tally { docs: docs[r], chars: chars[r], docs_repeated: docs_r[r], chars_repeated: chars_r[r] };
            out.total.add(&t);
            for (k, d) in DIMENSIONS.iter().enumerate() {
                let mut v = keys[k][r].clone().unwrap_or_else(|| NONE.into());
                if *d == "ocr_confidence" {
                    v = ocr_label(&v);
                }
                out.by.entry(d.to_string()).or_default().entry(v).or_default().add(&t);
            }
            let (g, dec) = (keys[0][r].clone().unwrap_or(NONE.into()), keys[1][r].clone().unwrap_or(NONE.into()));
            *out.genre_decade.entry(g).or_default().entry(dec).or_default() += t.chars;
        }
        if has("dup_cluster_size") {
            let sizes = lf_sizes(&path)?;
            for (s, n) in sizes {
                *out.cluster_sizes.entry(s).or_default() += n;
            }
        }
    }
    Ok(out)
}

fn lf_sizes(path: &std::path::Path) -> PolarsResult<Vec<(u32, u64)>> {
    let df = ParquetReader::new(File::open(path)?).with_columns(Some(vec!["dup_cluster_size".into()])).finish()?;
    let g = df
        .lazy()
        .group_by([col("dup_cluster_size").cast(DataType::UInt32)])
        .agg([len().cast(DataType::UInt64).alias("n")])
        .collect()?;
    let s: Vec<u32> = g.column("dup_cluster_size")?.u32()?.iter().map(|v| v.unwrap_or(0)).collect();
    let n: Vec<u64> = g.column("n")?.u64()?.iter().map(|v| v.unwrap_or(0)).collect();
    Ok(s.into_iter().zip(n).collect())
}

//! The options of `kbcurate ingest`, declared once: the command line flattens [`IngestArgs`]
//! (clap), a pipeline's `[ingest]` table deserializes into it (serde), and
//! [`IngestArgs::resolve`] turns it into the stage's options ([`IngestOptions`], also here). What to read is a
//! collections config ([`IngestConfig`]) in both places; the command line can also describe one
//! collection with flags ([`OneCollection`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::{Collection, DateFrom, DateRule, IngestConfig};
use super::format::Format;
use super::source::MetsSplit;
use crate::dataset::Shard;

fn default_part_size_mb() -> f64 {
    256.0
}

/// What `kbcurate ingest` and `[ingest]` take besides the collections.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestArgs {
    /// At most this many MiB of input per part: the unit of resume and of an array task's work
    /// (small inputs get smaller parts, so that every core has one).
    #[arg(long, default_value_t = default_part_size_mb())]
    #[serde(default = "default_part_size_mb")]
    pub part_size_mb: f64,
    /// Follow symbolic links that leave the folder a pattern names (by default they are named
    /// in the log and the manifest, and not read). Links inside it are always followed; every
    /// folder is read once, so a link back up cannot loop.
    #[arg(long)]
    #[serde(default)]
    pub follow_links: bool,
    /// A glob that matches no files is an error, not a warning (a path without glob
    /// characters that does not exist is always an error).
    #[arg(long)]
    #[serde(default)]
    pub strict: bool,
    /// Tell changed inputs by their content (read once more when planning) rather than by size
    /// and modification time, for stores whose times cannot be trusted. Either way a changed
    /// input's part is redone on a rerun.
    #[arg(long)]
    #[serde(default)]
    pub hash_inputs: bool,
}

impl Default for IngestArgs {
    fn default() -> Self {
        IngestArgs { part_size_mb: default_part_size_mb(), follow_links: false, strict: false, hash_inputs: false }
    }
}

impl IngestArgs {
    /// Bytes of input per part (at least 4 KiB).
    pub fn part_size(&self) -> Result<u64, String> {
        if self.part_size_mb.is_nan() || self.part_size_mb <= 0.0 {
            return Err(format!("part_size_mb = {}: must be > 0", self.part_size_mb));
        }
        Ok(((self.part_size_mb * 1048576.0) as u64).max(4096))
    }

    /// The stage's options, writing to `output`.
    pub fn resolve(&self, output: &Path) -> Result<IngestOptions, String> {
        let mut o = IngestOptions::new(output);
        o.part_size = self.part_size()?;
        o.follow_links = self.follow_links;
        o.strict = self.strict;
        o.hash_inputs = self.hash_inputs;
        Ok(o)
    }
}

/// The stage's options, resolved: how the run is carried out.
/// Not what the run produces: outputs do not depend on `threads`.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub output: PathBuf,
    /// Worker threads; `None`: one per core.
    pub threads: Option<usize>,
    /// Most input bytes per part (the unit of resume and of parallel writing); smaller inputs
    /// get smaller parts so that every core has one.
    pub part_size: u64,
    /// Input bytes parsed in parallel at a time inside a part (bounds memory).
    pub window: usize,
    /// Bytes per chunk of a line-oriented input (JSONL).
    pub chunk: usize,
    /// Row groups hold at most this many bytes of text.
    pub row_group_bytes: usize,
    /// How the Parquet parts are compressed.
    pub compression: crate::dataset::Codec,
    /// Draw a progress bar (only ever on a terminal).
    pub progress: bool,
    /// Only these parts (a task of a job array): no manifest is written; a later whole run
    /// finds the parts complete and writes it.
    pub shard: Shard,
    /// Sync the output to disk at its commit points (`--sync`; see the dataset module's
    /// durability notes). Changes no output.
    pub sync: bool,
    /// Follow symbolic links that leave the input folders ([`IngestArgs::follow_links`]).
    pub follow_links: bool,
    /// A glob matching no files is an error ([`IngestArgs::strict`]).
    pub strict: bool,
    /// Plan on the inputs' content, not their modification times ([`IngestArgs::hash_inputs`]).
    pub hash_inputs: bool,
}

impl IngestOptions {
    pub fn new(output: impl Into<PathBuf>) -> Self {
        Self {
            output: output.into(),
            follow_links: false,
            strict: false,
            hash_inputs: false,
            sync: false,
            threads: None,
            part_size: 256 << 20,
            window: 16 << 20,
            chunk: 4 << 20,
            row_group_bytes: 32 << 20,
            compression: crate::dataset::Codec::default(),
            progress: false,
            shard: Shard::WHOLE,
        }
    }
}

/// One collection described on the command line (`kbcurate ingest DIR --genre ...`), instead
/// of a collections config.
#[derive(Debug, Clone, Default, PartialEq, clap::Args)]
pub struct OneCollection {
    /// Files, folders (read recursively) or globs for the one-collection case. Leave out with --config.
    pub inputs: Vec<String>,
    /// One-collection case: the input format (detected per file when left out).
    #[arg(long)]
    pub format: Option<Format>,
    /// One-collection case: the collection's name.
    #[arg(long, default_value = "default")]
    pub collection: String,
    #[arg(long)]
    pub genre: Option<String>,
    #[arg(long)]
    pub source: Option<String>,
    /// A fixed date for every document (e.g. 1923 or 1897-03-12).
    #[arg(long, conflicts_with = "date_regex")]
    pub date: Option<String>,
    /// A regex on the file path whose groups give the date, e.g. '(\d{4})-(\d{2})-(\d{2})'.
    #[arg(long)]
    pub date_regex: Option<String>,
    /// Language hint (ISO 639) for documents that declare none.
    #[arg(long)]
    pub language: Option<String>,
    /// JSONL/Parquet: the field holding the text.
    #[arg(long)]
    pub text_field: Option<String>,
    /// OCR: drop words below this confidence (0..1).
    #[arg(long)]
    pub min_word_confidence: Option<f32>,
    /// OCR: drop lines whose mean word confidence is below this (0..1).
    #[arg(long)]
    pub min_line_confidence: Option<f32>,
    /// METS: one document per package (book, issue) or per article.
    #[arg(long, value_parser = parse_split)]
    pub mets_split: Option<MetsSplit>,
}

fn parse_split(s: &str) -> Result<MetsSplit, String> {
    match s {
        "package" => Ok(MetsSplit::Package),
        "article" => Ok(MetsSplit::Article),
        _ => Err("expected `package` or `article`".into()),
    }
}

impl OneCollection {
    /// The collections config these flags describe, validated; relative paths are taken from
    /// the current folder.
    pub fn config(&self) -> Result<(IngestConfig, PathBuf), super::config::ConfigError> {
        let c = Collection {
            name: self.collection.clone(),
            paths: self.inputs.clone(),
            format: self.format,
            genre: self.genre.clone(),
            source: self.source.clone(),
            language: self.language.clone(),
            text_field: self.text_field.clone(),
            min_word_confidence: self.min_word_confidence,
            min_line_confidence: self.min_line_confidence,
            mets_split: self.mets_split,
            date: match (&self.date, &self.date_regex) {
                (Some(d), _) => Some(DateRule::Fixed { fixed: d.clone() }),
                (None, Some(r)) => Some(DateRule::From { from: DateFrom::Path, regex: Some(r.clone()) }),
                _ => None,
            },
            ..Default::default()
        };
        let cfg = IngestConfig { collections: vec![c], ..Default::default() };
        cfg.validate("command line")?;
        Ok((cfg, PathBuf::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: IngestArgs,
    }

    /// The command line and a `[ingest]` table read sizes the same way (MiB, fractions
    /// allowed), with one default.
    #[test]
    fn part_sizes_alike() {
        let cli = Cli::try_parse_from(["i"]).unwrap().args;
        assert_eq!(cli, IngestArgs::default());
        assert_eq!(toml::from_str::<IngestArgs>("").unwrap(), cli);
        assert_eq!(cli.part_size().unwrap(), 256 << 20);
        let half = Cli::try_parse_from(["i", "--part-size-mb", "0.5"]).unwrap().args;
        assert_eq!(half, toml::from_str::<IngestArgs>("part_size_mb = 0.5").unwrap());
        assert_eq!(half.part_size().unwrap(), 1 << 19);
        assert_eq!(IngestArgs { part_size_mb: 1e-9, ..Default::default() }.part_size().unwrap(), 4096);
        assert!(IngestArgs { part_size_mb: 0.0, ..Default::default() }.part_size().unwrap_err().contains("> 0"));
    }
}

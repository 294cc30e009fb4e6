//! `kbcurate ingest`: format readers and the parallel driver that turns a library's files into
//! a dataset (see [`crate::dataset`]).
//!
//! How the work is cut, so that output is the same whatever the thread count:
//! 1. **Plan.** Every collection's globs are expanded and sorted; files referenced by a METS
//!    package are read through the package, not again on their own. Files are grouped, in
//!    order, into *parts* of up to `part_size` input bytes (cut finer for small inputs, see
//!    `plan::part_size_for`). A part is the unit of resume.
//! 2. **Run.** Parts run in parallel. Inside a part, inputs are cut into *tasks* (a whole file,
//!    a chunk of JSONL lines, a tar member, a Parquet batch) that are parsed in parallel in
//!    windows of about `window` bytes, and written in order. Memory is bounded by threads ×
//!    window, not by the size of any input.

pub mod alto;
pub mod args;
pub mod asr_json;
pub mod config;
mod context;
pub mod ctm;
mod error;
mod finalize;
pub mod format;
pub mod fuzz;
pub mod hocr;
pub mod input;
pub mod jsonl;
pub mod mets;
pub mod page;
pub mod parquet_input;
mod plan;
pub mod source;
mod stage;
pub mod subtitles;
pub mod task;
pub mod tei;
#[cfg(test)]
pub(crate) mod testing;
pub mod text;
mod walk;
pub mod xml;

pub use args::IngestOptions;
pub use error::IngestError;
pub use stage::{ingest, peak_rss_kb, single_collection, IngestSummary};

/// The stage's name, in manifests and rejections.
pub const STAGE: &str = "ingest";

//! What every part's tasks share during a run: the collections with their readers' options and
//! date rules compiled, the run's options, progress.

use std::sync::atomic::AtomicU64;
use std::time::Instant;

use indicatif::ProgressBar;

use super::args::IngestOptions;
use super::config::{Collection, DateResolver};
use super::source::ReaderOptions;

/// A collection with everything compiled.
pub(super) struct CollectionPlan {
    pub(super) c: Collection,
    pub(super) options: ReaderOptions,
    pub(super) dates: DateResolver,
    pub(super) language: Option<String>,
}

/// The run, as the tasks of every part see it.
pub(super) struct Shared<'a> {
    pub(super) colls: &'a [CollectionPlan],
    pub(super) opts: &'a IngestOptions,
    pub(super) bar: &'a ProgressBar,
    pub(super) docs_done: &'a AtomicU64,
    pub(super) start: Instant,
}

//! What can go wrong in dedup.

use std::io;
use std::path::{Path, PathBuf};

use crate::dataset::DatasetError;

#[derive(Debug, thiserror::Error)]
pub enum DedupError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0}")]
    Other(String),
    #[error(transparent)]
    Gpu(#[from] crate::device::GpuError),
}

pub(super) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DedupError + '_ {
    move |source| DedupError::Io { path: path.to_path_buf(), source }
}

//! What can go wrong in ingest (a bad input is not an error: it is rejected with a reason).

use super::config;
use crate::dataset::DatasetError;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("{0}")]
    Other(String),
}

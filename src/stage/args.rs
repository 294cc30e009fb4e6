//! What every dataset stage takes on the command line besides its own options: worker threads
//! and compression. In a pipeline, `[run]` gives both for every stage.

use crate::dataset::Codec;

#[derive(Debug, Clone, Default, PartialEq, clap::Args)]
pub struct WorkArgs {
    /// Worker threads (default: one per core). Output does not depend on it.
    #[arg(short = 'j', long)]
    pub threads: Option<usize>,
    /// Compression of the Parquet parts: zstd (level 1), zstd:LEVEL (-7 to 22; below 1 is
    /// faster and larger), or none.
    #[arg(long, default_value_t = Codec::default())]
    pub compression: Codec,
}

//! The options of `kbcurate tokenize`, declared once: the command line flattens
//! [`TokenizeArgs`] (clap), a pipeline's `[tokenize]` table deserializes into it (serde), and
//! [`TokenizeArgs::resolve`] turns it into the stage's options ([`TokenizeOptions`], also here). Each option has its
//! one doc string and its one default here (the `default_*` functions).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::pack::Strategy;
use super::special::TokenRef;
use std::path::PathBuf;
use std::sync::Arc;

use super::encoder::EncoderPlacement;
use crate::device::Device;

pub(crate) fn default_packing() -> Strategy {
    Strategy::Concat
}
pub(crate) fn default_format() -> Format {
    Format::Megatron
}
pub(crate) fn default_bucket_mb() -> u64 {
    256
}

/// What `kbcurate tokenize` and `[tokenize]` take.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizeArgs {
    /// A tokenizer.json, a *.tiktoken rank file, or a built-in name (cl100k_base, o200k_base).
    #[arg(long)]
    pub tokenizer: String,
    /// Tokens per window.
    #[arg(long)]
    pub seq_len: u32,
    /// concat (join with EOS, cut into windows) or best-fit (whole documents, padded).
    #[arg(long, value_enum, default_value_t = default_packing())]
    #[serde(default = "default_packing")]
    pub packing: Strategy,
    /// Token put before each document: a token's text or an id. None unless given.
    #[arg(long)]
    #[serde(default)]
    pub bos: Option<TokenRef>,
    /// Token put after each document (required by concat). None unless given.
    #[arg(long)]
    #[serde(default)]
    pub eos: Option<TokenRef>,
    /// Padding token (required by best-fit; with concat, pads the last window).
    #[arg(long)]
    #[serde(default)]
    pub pad: Option<TokenRef>,
    /// Share of documents (by id hash) for the validation split.
    #[arg(long, default_value_t = 0.0)]
    #[serde(default)]
    pub val_fraction: f64,
    /// Seed of the shuffle and the split.
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub seed: u64,
    /// The shards' format: megatron (.bin/.idx) or parquet (input_ids).
    #[arg(long, value_enum, default_value_t = default_format())]
    #[serde(default = "default_format")]
    pub format: Format,
    /// Memory budget of one shuffle bucket, MiB (one bucket per worker is in memory at a time).
    #[arg(long, default_value_t = default_bucket_mb())]
    #[serde(default = "default_bucket_mb")]
    pub bucket_mb: u64,
    /// Where BPE merges run: cpu, cuda, cuda:N, or auto (a GPU if there is one). Output does
    /// not depend on it.
    #[arg(long, default_value_t = Device::Cpu)]
    #[serde(default)]
    pub device: Device,
}

impl TokenizeArgs {
    /// `tokenizer` and `seq_len` (which have no default), every other option at its default.
    pub fn new(tokenizer: &str, seq_len: u32) -> TokenizeArgs {
        TokenizeArgs {
            tokenizer: tokenizer.to_string(),
            seq_len,
            packing: default_packing(),
            bos: None,
            eos: None,
            pad: None,
            val_fraction: 0.0,
            seed: 0,
            format: default_format(),
            bucket_mb: default_bucket_mb(),
            device: Device::Cpu,
        }
    }

    /// The stage's options, writing to `output`. The device is resolved by the caller
    /// (`gpu::encoder_placement`), which sits above the stages.
    pub fn resolve(&self, output: &Path) -> TokenizeOptions {
        TokenizeOptions {
            output: output.to_path_buf(),
            tokenizer: self.tokenizer.clone(),
            seq_len: self.seq_len,
            packing: self.packing,
            bos: self.bos.clone(),
            eos: self.eos.clone(),
            pad: self.pad.clone(),
            val_fraction: self.val_fraction,
            seed: self.seed,
            format: self.format,
            bucket_bytes: self.bucket_mb.max(1) << 20,
            threads: None,
            device: None,
            shard: crate::dataset::Shard::WHOLE,
            sync: false,
        }
    }
}

/// The shards' format; and the stage's options, resolved: what [`super::stage::tokenize`] runs
/// with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Megatron,
    Parquet,
}

#[derive(Debug, Clone)]
pub struct TokenizeOptions {
    pub output: PathBuf,
    /// A built-in name, a tokenizer.json or a *.tiktoken rank file.
    pub tokenizer: String,
    pub seq_len: u32,
    pub packing: Strategy,
    pub bos: Option<TokenRef>,
    pub eos: Option<TokenRef>,
    pub pad: Option<TokenRef>,
    pub val_fraction: f64,
    pub seed: u64,
    pub format: Format,
    pub threads: Option<usize>,
    /// Memory budget of one shuffle bucket (bytes of tokens and fields): sets the bucket count.
    pub bucket_bytes: u64,
    /// Where BPE merges run when not on the CPU (`--device`, resolved to the GPU path by the
    /// caller: `gpu::on_device`); the ids do not depend on it.
    pub device: Option<Arc<dyn EncoderPlacement>>,
    /// Only pass one (encoding) for these parts, as a task of a job array: the encoded parts
    /// are kept, no shards or manifest are written; a whole run then packs them.
    pub shard: crate::dataset::Shard,
    /// Sync the output to disk at its commit points (`--sync`; see the dataset module's
    /// durability notes). Changes no output.
    pub sync: bool,
}

impl TokenizeOptions {
    /// Every option at its default ([`TokenizeArgs::new`]) but the three without one.
    pub fn new(output: impl Into<PathBuf>, tokenizer: &str, seq_len: u32) -> Self {
        TokenizeArgs::new(tokenizer, seq_len).resolve(&output.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: TokenizeArgs,
    }

    /// Given only what has no default, the command line, a `[tokenize]` table and `new` agree;
    /// what has no default is required in both.
    #[test]
    fn one_default_everywhere() {
        let cli = Cli::try_parse_from(["t", "--tokenizer", "cl100k_base", "--seq-len", "64"]).unwrap().args;
        let toml: TokenizeArgs = toml::from_str("tokenizer = \"cl100k_base\"\nseq_len = 64\n").unwrap();
        assert_eq!(cli, TokenizeArgs::new("cl100k_base", 64));
        assert_eq!(toml, cli);
        assert!(Cli::try_parse_from(["t", "--tokenizer", "cl100k_base"]).is_err());
        let e = toml::from_str::<TokenizeArgs>("tokenizer = \"cl100k_base\"\n").unwrap_err().to_string();
        assert!(e.contains("seq_len"), "{e}");
        let o = cli.resolve(Path::new("out"));
        assert_eq!((o.bucket_bytes, o.format, o.packing), (256 << 20, Format::Megatron, Strategy::Concat));
    }

    #[test]
    fn flags_and_keys_parse_alike() {
        let cli = Cli::try_parse_from([
            "t",
            "--tokenizer",
            "o200k_base",
            "--seq-len",
            "8",
            "--packing",
            "best-fit",
            "--eos",
            "<|endoftext|>",
            "--pad",
            "7",
            "--format",
            "parquet",
            "--device",
            "cuda:1",
        ])
        .unwrap()
        .args;
        let toml: TokenizeArgs = toml::from_str(
            "tokenizer = \"o200k_base\"\nseq_len = 8\npacking = \"best-fit\"\neos = \"<|endoftext|>\"\npad = \"7\"\n\
             format = \"parquet\"\ndevice = \"cuda:1\"\n",
        )
        .unwrap();
        assert_eq!(cli, toml);
        assert_eq!(toml.pad, Some(TokenRef::Id(7)));
        let e = toml::from_str::<TokenizeArgs>("tokenizer = \"x\"\nseq_len = 8\ndevice = \"tpu\"\n").unwrap_err();
        assert!(e.to_string().contains("cpu, cuda, cuda:N"), "{e}");
    }
}

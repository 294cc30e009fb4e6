//! `kbcurate tokenizer train`: a byte-level BPE tokenizer trained on a dataset, written as a
//! Hugging Face `tokenizer.json`, so a library can make its own Swedish tokenizer from the
//! corpus it will train on.
//!
//! The merges are learned by the `tokenizers` crate's BPE trainer (the reference
//! implementation every trainer's loader reads; writing our own would only add a second
//! definition of the same format). What is ours is what the trainer sees:
//!
//! - **The corpus as balanced**: a document with `repeats = n` (from `kbcurate balance`) is
//!   counted `n` times, one with `repeats = 0` not at all — the tokenizer fits the mixture the
//!   model will see, not the raw collection.
//! - **A sample** (`sample < 1`): documents chosen by xxh3(seed, id), so the choice does not
//!   depend on order or threads; the trainer's word table grows with distinct words, which
//!   OCR noise multiplies, and a sample bounds it.
//! - **The pre-tokenizer**: GPT-4's (cl100k) split — letters with an optional leading
//!   non-letter, digits in groups of at most three, punctuation runs, whitespace — then
//!   byte-level mapping, so every byte sequence is encodable (the 256 byte tokens are always in
//!   the vocabulary) and decoding gives back the exact text.
//!
//! Training is deterministic for a given input, config and seed (tested: two runs give
//! byte-identical `tokenizer.json`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt32Type;
use arrow_array::Array;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{AddedToken, SplitDelimiterBehavior, TokenizerBuilder};

use super::{io_err, TokenizeError};
use crate::dataset::{self, Dataset};

/// GPT-4's (cl100k_base) pre-tokenization pattern, with `\p{N}{1,3}` written as the `tokenizers`
/// crate's regex engine reads it.
pub const SPLIT_PATTERN: &str = super::pretokenize::CL100K_PATTERN;

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub output: PathBuf,
    /// Tokens in the vocabulary, special tokens and the 256 byte tokens included.
    pub vocab_size: usize,
    /// A pair must occur this often to be merged.
    pub min_frequency: u64,
    /// Special tokens, given ids 0, 1, ... in this order.
    pub special_tokens: Vec<String>,
    /// Share of documents to train on (by id hash); 1: all.
    pub sample: f64,
    pub seed: u64,
    pub threads: Option<usize>,
}

impl TrainOptions {
    pub fn new(output: impl Into<PathBuf>, vocab_size: usize) -> Self {
        TrainOptions {
            output: output.into(),
            vocab_size,
            min_frequency: 2,
            special_tokens: vec!["<|endoftext|>".into()],
            sample: 1.0,
            seed: 0,
            threads: None,
        }
    }
}

/// What training did.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    /// Documents read, and fed to the trainer (counting repeats).
    pub documents: u64,
    pub documents_fed: u64,
    pub text_bytes_fed: u64,
    pub vocab_size: usize,
    pub output: PathBuf,
}

impl TrainSummary {
    pub fn render(&self) -> String {
        format!(
            "tokenizer: byte-level BPE, {} tokens, trained on {} of {} documents (counting repeats), {} of text; wrote {}\n",
            self.vocab_size,
            self.documents_fed,
            self.documents,
            crate::size::Bytes(self.text_bytes_fed),
            self.output.display()
        )
    }
}

fn sampled(seed: u64, id: &str, share: f64) -> bool {
    if share >= 1.0 {
        return true;
    }
    let h = xxhash_rust::xxh3::xxh3_64_with_seed(id.as_bytes(), seed ^ 0x7472_6169_6e00_0000);
    ((h >> 11) as f64 / (1u64 << 53) as f64) < share
}

/// The documents' texts, each as often as its `repeats`, part by part, batch by batch (only one
/// batch of text is held here). The first error stops the stream and is kept in `error`.
fn texts<'a>(
    ds: &'a Dataset,
    o: &'a TrainOptions,
    error: &'a Mutex<Option<TokenizeError>>,
    counts: &'a Mutex<(u64, u64, u64)>,
) -> impl Iterator<Item = String> + Send + 'a {
    let fail = move |e: TokenizeError| {
        error.lock().expect("not poisoned").get_or_insert(e);
    };
    ds.manifest.parts.iter().flat_map(move |part| {
        let path = ds.dir.join(&part.file);
        let batches: Box<dyn Iterator<Item = _> + Send> = match dataset::read_parquet_batches(&path, 1024) {
            Ok(b) => Box::new(b),
            Err(e) => {
                fail(e.into());
                Box::new(std::iter::empty())
            }
        };
        batches.flat_map(move |batch| {
            let mut out: Vec<String> = Vec::new();
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    fail(e.into());
                    return out.into_iter();
                }
            };
            let (Some(ids), Some(text)) = (batch.column_by_name("id"), batch.column_by_name("text")) else {
                fail(TokenizeError::Invalid(format!("{}: no `id` or `text` column", path.display())));
                return out.into_iter();
            };
            let (ids, text) = (ids.as_string::<i32>(), text.as_string::<i64>());
            let reps = batch.column_by_name("repeats").map(|c| c.as_primitive::<UInt32Type>().clone());
            let mut c = counts.lock().expect("not poisoned");
            for r in 0..batch.num_rows() {
                c.0 += 1;
                let n = reps.as_ref().map_or(1, |a| if a.is_valid(r) { a.value(r) } else { 1 });
                if n == 0 || !sampled(o.seed, ids.value(r), o.sample) {
                    continue;
                }
                for _ in 0..n {
                    c.1 += 1;
                    c.2 += text.value(r).len() as u64;
                    out.push(text.value(r).to_string());
                }
            }
            out.into_iter()
        })
    })
}

/// Trains a byte-level BPE tokenizer on the dataset at `input` and writes `tokenizer.json`.
pub fn train(input: &Path, o: &TrainOptions) -> Result<TrainSummary, TokenizeError> {
    let invalid = |m: String| TokenizeError::Invalid(m);
    let min = 256 + o.special_tokens.len();
    if o.vocab_size < min {
        return Err(invalid(format!(
            "--vocab-size {}: at least {min} (the 256 byte tokens and {} special tokens)",
            o.vocab_size,
            o.special_tokens.len()
        )));
    }
    if !(o.sample > 0.0 && o.sample <= 1.0) {
        return Err(invalid(format!("--sample {}: must be in (0, 1]", o.sample)));
    }
    let ds = Dataset::open(input)?;
    let pool = crate::stage::thread_pool(o.threads).map_err(invalid)?;
    let split = Split::new(SplitPattern::Regex(SPLIT_PATTERN.into()), SplitDelimiterBehavior::Isolated, false)
        .map_err(|e| invalid(format!("the pre-tokenizer pattern: {e}")))?;
    let byte_level = ByteLevel::new(false, true, false);
    let pre = Sequence::new(vec![PreTokenizerWrapper::Split(split), PreTokenizerWrapper::ByteLevel(byte_level)]);
    let specials: Vec<AddedToken> = o.special_tokens.iter().map(|s| AddedToken::from(s.clone(), true)).collect();
    let mut tok = TokenizerBuilder::<BPE, NormalizerWrapper, PreTokenizerWrapper, ByteLevel, ByteLevel>::new()
        .with_model(BPE::default())
        .with_normalizer(None)
        .with_pre_tokenizer(Some(PreTokenizerWrapper::Sequence(pre)))
        .with_post_processor(Some(byte_level))
        .with_decoder(Some(byte_level))
        .build()
        .map_err(|e| invalid(format!("cannot build the tokenizer: {e}")))?;
    let mut trainer = BpeTrainerBuilder::new()
        .vocab_size(o.vocab_size)
        .min_frequency(o.min_frequency)
        .special_tokens(specials.clone())
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .show_progress(false)
        .build();
    let error = Mutex::new(None);
    let counts = Mutex::new((0u64, 0u64, 0u64));
    pool.install(|| tok.train(&mut trainer, texts(&ds, o, &error, &counts)).map(|_| ()))
        .map_err(|e| invalid(format!("training failed: {e}")))?;
    if let Some(e) = error.into_inner().expect("not poisoned") {
        return Err(e);
    }
    let (documents, documents_fed, text_bytes_fed) = counts.into_inner().expect("not poisoned");
    if documents_fed == 0 {
        return Err(invalid(format!("{}: no documents to train on", input.display())));
    }
    let _ = tok.add_special_tokens(specials.clone());
    let json = tok.to_string(true).map_err(|e| invalid(format!("cannot write the tokenizer: {e}")))?;
    if let Some(dir) = o.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    dataset::write_atomic(&o.output, json.as_bytes())?;
    Ok(TrainSummary {
        documents,
        documents_fed,
        text_bytes_fed,
        vocab_size: tok.get_vocab_size(true),
        output: o.output.clone(),
    })
}

//! Deduplication for noisy library text (`kbcurate dedup`, its options in [`args`]): normalization that forgives OCR
//! noise ([`normalize`]), shingles and signatures ([`minhash`], [`batch`] for the GPU's flat
//! layout), LSH banding ([`lsh`]), the named [`profile`]s (`schemas/dedup-profiles.md` has the
//! measurements behind them), sorted runs on disk ([`runs`]), boilerplate lines
//! ([`boilerplate`]), clusters ([`cluster`]), documents contained in longer ones ([`containment`]) and the stage and its steps ([`stage`]; its
//! `_work/` records in `work`, the saved index in `index`, the written part in `output`). Its
//! evaluation on planted duplicates is `crate::eval::dedup`.

pub mod align;
pub mod args;
pub mod batch;
pub mod boilerplate;
pub mod cluster;
pub mod containment;
mod error;
mod index;
pub mod lsh;
pub mod minhash;
pub mod normalize;
mod output;
pub mod profile;
pub mod rule_table;
pub mod runs;
pub mod stage;
mod texts;
mod work;

/// The stage's name, in manifests and rejections.
pub const STAGE: &str = "dedup";

//! Deduplication for noisy library text (`kbcurate dedup`, its options in [`args`]): normalization that forgives OCR
//! noise ([`normalize`]), shingles and signatures ([`minhash`], [`batch`] for the GPU's flat
//! layout), LSH banding ([`lsh`]), the named [`profile`]s (`schemas/dedup-profiles.md` has the
//! measurements behind them), sorted runs on disk ([`runs`]), boilerplate lines
//! ([`boilerplate`]), clusters ([`cluster`]), the stage and its steps ([`stage`]) and the
//! planted-duplicate evaluation ([`eval`]).

pub mod args;
pub mod batch;
pub mod boilerplate;
pub mod cluster;
pub mod eval;
pub mod lsh;
pub mod minhash;
pub mod normalize;
pub mod profile;
pub mod rule_table;
pub mod runs;
pub mod stage;

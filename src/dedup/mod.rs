//! Deduplication for noisy library text (`kbcurate dedup`, in progress): normalization that
//! forgives OCR noise, shingling, MinHash signatures and LSH banding.
//!
//! Built so far: the signature side ([`normalize`], [`minhash`], [`lsh`]) and the named
//! [`profile`]s (`schemas/dedup-profiles.md` has the measurements behind them). The stage that runs them over a dataset (bucket sorting, clustering, best-copy
//! choice, boilerplate lines) stands on these.

pub mod batch;
pub mod boilerplate;
pub mod cluster;
pub mod eval;
pub mod lsh;
pub mod minhash;
pub mod normalize;
pub mod profile;
pub mod runs;
pub mod stage;

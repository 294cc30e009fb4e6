//! kbcurate: turn a national library's digitized collections into balanced, deduplicated
//! pretraining corpora. The library holds every command as a function; `bin/kbcurate.rs` is a
//! thin CLI over it.

pub mod audit;
pub mod balance;
pub mod dataset;
pub mod date;
pub mod dedup;
pub mod device;
pub mod document;
pub mod eval;
pub mod filter;
pub mod gpu;
pub mod ingest;
pub mod inspect;
pub mod language;
pub mod pipeline;
pub mod reject;
pub mod size;
pub mod stage;
pub mod tokenize;

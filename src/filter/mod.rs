//! `kbcurate filter`: language identification and quality filtering tuned for OCR'd historical
//! and spoken material. Every removed document goes to `rejected/` with the rule and the value
//! that removed it; kept documents get the signals as columns, so thresholds can change later
//! without recomputing. The configuration: `schemas/filter.md`. Its evaluations (language
//! identification, the lexicon signal) are `crate::eval::filter`.

pub mod config;
pub mod heuristics;
pub mod langid;
pub mod lexicon;
pub mod nordic;
pub mod pii;
pub mod quality;
pub mod rules;
pub mod stage;

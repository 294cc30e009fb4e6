//! Declarative balancing: a TOML policy says how much of each genre, decade, source (any
//! metadata column) goes into the corpus; the solver finds per-stratum weights meeting every
//! dimension's targets under caps; sampling gives each document a repeat count by a seeded
//! hash of its id.

pub mod policy;
pub mod solve;
pub mod stage;
pub mod strata;

//! Evaluations of the stages against ground truth (`kbcurate eval ...`): planted duplicates
//! scored by precision and recall ([`dedup`]), language identification on labelled sentences
//! and pages and the lexicon signal on noised pages ([`filter`]).
//!
//! They sit above the stages: an evaluation runs stages (ingest then dedup) and borrows their
//! pieces, and no stage depends on an evaluation.

pub mod dedup;
pub mod filter;

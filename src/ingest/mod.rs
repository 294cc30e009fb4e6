//! `kbcurate ingest`: format readers and the parallel driver.

pub mod source;
pub mod xml;
pub mod alto;

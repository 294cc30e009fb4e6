//! `kbcurate tokenizer train`: a byte-level BPE trained on a dataset's text (filled in later).

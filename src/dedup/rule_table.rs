//! Normalization as data: the [`Rule`] of every code point in one table, and the small state
//! machine that applies it — the form the GPU runs (`gpu/kernels/normalize.cu`), one thread per
//! document, with no Unicode tables of its own.
//!
//! Why a table: the rules lean on Unicode properties (alphabetic, numeric, lower case,
//! canonical decomposition, combining class) that a kernel cannot call. Asking
//! [`rule`] once per code point and storing the answer keeps one
//! definition of the rules: the CPU path applies the same function. [`RuleTable::normalize_into`]
//! is the kernel's loop in Rust; the tests hold it equal to
//! [`normalize_into`](super::normalize::normalize_into) on all of `../shared/data` and on random
//! text, under every option.
//!
//! An entry is a `u32`: bits 0–2 the kind (`KIND_*`), bit 3 set when the character is
//! alphanumeric (the hyphenation rule asks), bits 4–7 the length of its normalized bytes and
//! bits 8–31 their offset in the pool.

use super::normalize::{rule, Emitted, Normalization, Rule};

pub const KIND_BREAK: u32 = 0;
pub const KIND_EMIT: u32 = 1;
pub const KIND_HYPHEN: u32 = 2;
pub const KIND_SOFT_HYPHEN: u32 = 3;
pub const KIND_COMBINING: u32 = 4;
pub const ALNUM: u32 = 1 << 3;

/// Code points: the table is indexed by any `char` directly.
pub const CODE_POINTS: usize = 0x11_0000;

/// The rule of every code point under one [`Normalization`].
#[derive(Debug, Clone)]
pub struct RuleTable {
    /// One entry per code point (surrogates, which are not chars, are breaks).
    pub rules: Vec<u32>,
    /// The normalized bytes of every character that emits some.
    pub pool: Vec<u8>,
    pub strip_diacritics: bool,
    /// Output bytes per input byte, at most: a document of `n` bytes normalizes to at most
    /// `expansion × n` (a character's bytes plus the space before it, over its UTF-8 length).
    pub expansion: u32,
}

impl RuleTable {
    /// Asks [`rule`] about every code point (~0.1–0.3 s; a signer builds it once).
    pub fn new(opts: Normalization) -> Self {
        let mut rules = vec![KIND_BREAK; CODE_POINTS];
        let mut pool = Vec::new();
        let mut pooled = std::collections::HashMap::<Vec<u8>, u32>::new();
        let mut expansion = 1;
        for (u, entry) in rules.iter_mut().enumerate() {
            let Some(c) = char::from_u32(u as u32) else { continue };
            let alnum = if c.is_alphanumeric() { ALNUM } else { 0 };
            *entry = alnum
                | match rule(c, opts) {
                    Rule::Break => KIND_BREAK,
                    Rule::Hyphen => KIND_HYPHEN,
                    Rule::SoftHyphen => KIND_SOFT_HYPHEN,
                    Rule::Combining => KIND_COMBINING,
                    Rule::Emit(e) => {
                        let bytes = e.bytes();
                        debug_assert!(!bytes.is_empty() && bytes.len() < 16 && Emitted::MAX < 16);
                        expansion = expansion.max((bytes.len() as u32 + 1).div_ceil(c.len_utf8() as u32));
                        let at = *pooled.entry(bytes.to_vec()).or_insert_with(|| {
                            pool.extend_from_slice(bytes);
                            (pool.len() - bytes.len()) as u32
                        });
                        KIND_EMIT | (bytes.len() as u32) << 4 | at << 8
                    }
                };
        }
        assert!(pool.len() < 1 << 24, "the pool's offsets fit in 24 bits");
        Self { rules, pool, strip_diacritics: opts.strip_diacritics, expansion }
    }

    /// Bytes on a GPU (rules and pool).
    pub fn device_bytes(&self) -> usize {
        self.rules.len() * 4 + self.pool.len()
    }

    /// `text` normalized into `out` (cleared first), character by character through the
    /// table with the hyphenation state of `Normalizer::char`.
    pub fn normalize_into(&self, text: &str, out: &mut Vec<u8>) {
        out.clear();
        self.normalize_chunk(text.as_bytes(), 0, text.len(), out);
    }

    /// Appends the part of `doc`'s normalized text that the chunk `doc[begin..end]` is
    /// responsible for: the kernel's loop, one GPU thread per chunk, so a long document is
    /// normalized by many threads. Any cut points work (`begin` need not be a character
    /// boundary); the chunks' parts, appended in order, are the document normalized (tested).
    ///
    /// Why cuts do not need the state before them: right after a character that emits (a
    /// letter or digit), the state is known whatever came before: no break pending, no
    /// hyphenation under way, output not empty. So a chunk other than the first starts right
    /// after its first emitting character, and every chunk runs on past its end up to and
    /// including the first emitting character there — the character where the next chunk
    /// starts after. A chunk with no emitting character has no part.
    pub fn normalize_chunk(&self, doc: &[u8], begin: usize, end: usize, out: &mut Vec<u8>) {
        let decode = |i: usize| -> (char, usize) {
            let n = match doc[i] {
                0x00..=0x7F => 1,
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            let c = std::str::from_utf8(&doc[i..i + n]).ok().and_then(|s| s.chars().next()).expect("valid UTF-8");
            (c, n)
        };
        let (mut pending, mut hyphen, mut hyphen_newline, mut nonempty) = (false, false, false, false);
        let mut i = begin;
        if begin > 0 {
            // Continuation bytes belong to the character before the cut.
            while i < doc.len() && doc[i] & 0xC0 == 0x80 {
                i += 1;
            }
            loop {
                if i >= end || i >= doc.len() {
                    return;
                }
                let (c, n) = decode(i);
                i += n;
                if self.rules[c as usize] & 7 == KIND_EMIT {
                    break;
                }
            }
            nonempty = true;
        }
        while i < doc.len() {
            let (c, n) = decode(i);
            let at_or_past_end = i >= end;
            i += n;
            let r = self.rules[c as usize];
            if hyphen {
                match c {
                    '\n' | '\r' => {
                        hyphen_newline = true;
                        continue;
                    }
                    ' ' | '\t' => continue,
                    _ => {
                        pending |= !(hyphen_newline && r & ALNUM != 0);
                        hyphen = false;
                        hyphen_newline = false;
                    }
                }
            }
            let joined = nonempty && !pending;
            match r & 7 {
                KIND_EMIT => {
                    if pending && nonempty {
                        out.push(b' ');
                    }
                    pending = false;
                    nonempty = true;
                    let (len, at) = ((r >> 4 & 15) as usize, (r >> 8) as usize);
                    out.extend_from_slice(&self.pool[at..at + len]);
                    if at_or_past_end {
                        return;
                    }
                }
                KIND_HYPHEN if joined => hyphen = true,
                KIND_HYPHEN => pending = true,
                KIND_SOFT_HYPHEN => hyphen = joined,
                KIND_COMBINING => {
                    if !self.strip_diacritics && joined {
                        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                }
                _ => pending = true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::normalize::normalize_into;
    use proptest::prelude::*;

    fn all_options() -> Vec<Normalization> {
        (0..8)
            .map(|k| Normalization { lowercase: k & 1 != 0, strip_diacritics: k & 2 != 0, fold_digits: k & 4 != 0 })
            .collect()
    }

    fn tables() -> &'static Vec<(Normalization, RuleTable)> {
        static T: std::sync::OnceLock<Vec<(Normalization, RuleTable)>> = std::sync::OnceLock::new();
        T.get_or_init(|| all_options().into_iter().map(|o| (o, RuleTable::new(o))).collect())
    }

    fn check(text: &str) {
        let (mut want, mut got) = (String::new(), Vec::new());
        for (opts, table) in tables() {
            normalize_into(text, *opts, &mut want);
            table.normalize_into(text, &mut got);
            assert_eq!(std::str::from_utf8(&got).unwrap(), want, "{opts:?} on {text:?}");
            assert!(got.len() <= table.expansion as usize * text.len(), "{opts:?}: expansion bound on {text:?}");
        }
    }

    #[test]
    fn table_normalization_equals_normalize_on_tricky_text() {
        for t in [
            "",
            "Men-\nſchen aus ſeiner",
            "Men- \r\n  schen",
            "Men-\n-schen",
            "a-\n\u{301}b",
            "ord\u{ad}delning \u{ad}x",
            "x¬\nord ⸗ y⸗\nz",
            "Zwoͤlftes Stuͤk",
            "ﬁnal ﬀ ﬃ ﬄ ﬅ ﬆ ſt",
            "İstanbul ΐ ẞ Ǆ ǅ ǆ",
            "ÅÄÖ åäö é ü 12 ½ ² ٣ 𝟘𝟙",
            "  \u{301}start - -x",
            "𝔉𝔯𝔞𝔨𝔱𝔲𝔯 \u{1F600}",
        ] {
            check(t);
        }
        for (opts, table) in tables() {
            eprintln!("{opts:?}: pool {} bytes, expansion {}", table.pool.len(), table.expansion);
            assert!(table.expansion <= 3, "{opts:?}: a document grows at most threefold");
        }
    }

    #[test]
    fn table_normalization_equals_normalize_on_shared_text() {
        let Some(dir) = crate::ingest::testing::shared_data("") else { return };
        let mut n = 0;
        for entry in walk(&dir) {
            let Ok(text) = std::fs::read_to_string(&entry) else { continue };
            // Whole files, markup and all: every character the samples hold.
            check(&text);
            n += 1;
        }
        assert!(n > 10, "read {n} files");
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out.sort();
        out
    }

    /// `text` normalized chunk by chunk, cut every `size` bytes.
    fn by_chunks(table: &RuleTable, text: &str, size: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut begin = 0;
        loop {
            let end = (begin + size).min(text.len());
            table.normalize_chunk(text.as_bytes(), begin, end, &mut out);
            if end == text.len() {
                return out;
            }
            begin = end;
        }
    }

    fn check_chunks(text: &str, size: usize) {
        let mut want = String::new();
        for (opts, table) in tables() {
            normalize_into(text, *opts, &mut want);
            let got = by_chunks(table, text, size);
            assert_eq!(std::str::from_utf8(&got).unwrap(), want, "{opts:?}, chunks of {size} on {text:?}");
        }
    }

    #[test]
    fn chunked_normalization_equals_normalize_on_shared_text() {
        let Some(dir) = crate::ingest::testing::shared_data("") else { return };
        let (mut files, mut bytes) = (0usize, 0usize);
        for (k, entry) in walk(&dir).iter().enumerate() {
            let Ok(text) = std::fs::read_to_string(entry) else { continue };
            check_chunks(&text, [1, 7, 64, 1024][k % 4]);
            files += 1;
            bytes += text.len();
        }
        // The shared samples hold dozens of text files (XML, subtitles, JSONL, CoNLL-U): a walk
        // that found few means this test checked next to nothing.
        assert!(files >= 20 && bytes >= 1 << 20, "only {files} files, {bytes} bytes of text under {}", dir.display());
    }

    proptest! {
        #[test]
        fn chunked_normalization_equals_normalize(text in "[a-zA-Z0-9 \\-\\n\\r\\t¬⸗\u{ad}\u{300}-\u{36f}ſﬁÀ-ɏ\u{1F600}.,]{0,40}", size in 1usize..12) {
            check_chunks(&text, size);
        }

        #[test]
        fn table_normalization_equals_normalize_on_random_text(text in "[a-zA-Z0-9 \\-\\n\\r\\t¬⸗\u{ad}\u{300}-\u{36f}ſﬁÀ-ɏΑ-ω\u{1F600}İ.,]{0,40}") {
            check(&text);
        }

        #[test]
        fn table_normalization_equals_normalize_on_any_chars(text in "\\PC{0,30}") {
            check(&text);
        }
    }
}

//! A fast encoder for byte-level BPE `tokenizer.json` files, giving the `tokenizers` crate's ids.
//!
//! Why: `kbcurate tokenizer train` writes a `tokenizer.json`, and the `tokenizers` crate encodes
//! one at well under 1 MB/s per core on this kind of text — most of it in its generic machinery
//! (normalized strings with alignments, a backtracking regex for the split, a `Token` with a
//! `String` per token). A byte-level BPE with no normalizer needs none of that: split the text
//! into pieces, encode each distinct piece once (a per-thread piece → ids cache), copy ids.
//!
//! **When.** [`FastBpe::from_json`] accepts a file only when every step it takes is provably the
//! crate's; otherwise it says why, and the caller keeps the crate (`encoder::load`):
//!
//! - model `BPE` without dropout, no continuing-subword prefix or end-of-word suffix, and all 256
//!   byte-level characters in the vocabulary (so `unk_token` and `byte_fallback` never act);
//!   `ignore_merges` is honoured (a piece that is a token is that token, as the crate does);
//! - no normalizer (or an empty sequence);
//! - pre-tokenizer `Split(regex, Isolated)` + `ByteLevel(use_regex = false)`, or
//!   `ByteLevel(use_regex = true)` (GPT-2's pattern), without a prefix space. The regex must be
//!   one the `regex` engine runs with the crate's meaning: no look-around except the closing
//!   `\s+(?!\S)|\s+` idiom (emulated, see [`Splitter`]), and no empty match;
//! - added tokens without `single_word`, `lstrip` or `rstrip`, and special tokens not encoded as
//!   text (`encode_special_tokens` off); a post-processor that adds nothing when no special
//!   tokens are asked for.
//!
//! **The merges.** The merge loop is the crate's rule, not tiktoken's: a pair merges only if it
//! is in `merges`, the lowest merge index first, the leftmost on a tie. So the ids are the
//! crate's whatever the order of the merges relative to the ids (a file whose merges are out of
//! id order still takes this path, and still gets the crate's ids; tested). The one case the
//! crate resolves differently — two merges producing the same token, where the crate's queue can
//! apply an expired entry — is refused.
//!
//! **Added tokens** are cut out of the text first, exactly as the crate's `AddedVocabulary`
//! does: leftmost-longest matches of the non-normalized tokens, then of the normalized ones in
//! what is left (with no normalizer the two passes see the same text). A special token written
//! in a document therefore becomes its id, as with the crate.
//!
//! **The split.** cl100k's pattern (the one `tokenizer train` writes) is run by a hand-written
//! scanner ([`cl100k_piece_end`]) over the same Unicode classes the `regex` crate uses (taken
//! from `regex-syntax` at start-up, so they cannot drift apart); other patterns run on
//! `regex-automata`. The tests check the scanner against the regex on all of `../shared/data`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex_automata::meta::Regex;
use regex_automata::Input;
use serde_json::Value;

/// cl100k_base's split pattern as `tokenizer.json` files write it (`tokenizer train`, `convert`).
pub const CL100K_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// GPT-2's pattern: what `ByteLevel(use_regex = true)` splits with.
pub const GPT2_PATTERN: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// The closing alternatives `\s+(?!\S)|\s+`: a whitespace run, less its last character when a
/// non-space follows. The `regex` engine has no look-ahead; see [`Splitter::Regex`].
const WS_LOOKAHEAD_TAIL: &str = r"|\s+(?!\S)|\s+";

/// Pieces longer than this are encoded but not cached (as the crate's own cache).
const MAX_CACHED_PIECE: usize = 256;
/// Pieces cached per thread (at most a few tens of MB); a full cache is emptied. 2^16 made
/// ../shared/data 1.5–2× slower than 2^19: OCR text has many distinct pieces.
const CACHE_PIECES: usize = 1 << 19;

/// Hashes a piece with one-shot xxh3 (std's `Hash` for `[u8]` writes the length, then the bytes).
#[derive(Default, Clone, Copy)]
pub(crate) struct PieceHash(u64);

impl Hasher for PieceHash {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }
    fn write_usize(&mut self, n: usize) {
        self.0 ^= (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_u64(&mut self, n: u64) {
        // Pair keys: a multiply-xorshift mix.
        let h = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<PieceHash>>;

// ---------------------------------------------------------------------------------------------
// Unicode classes, as the `regex` crate defines them.

const L: u8 = 1;
const N: u8 = 2;
const S: u8 = 4;

/// Class bits (`\p{L}`, `\p{N}`, `\s`) of every code point, from `regex-syntax`'s tables.
static CLASSES: LazyLock<Box<[u8]>> = LazyLock::new(|| {
    let mut t = vec![0u8; 0x11_0000].into_boxed_slice();
    for (pat, bit) in [(r"\p{L}", L), (r"\p{N}", N), (r"\s", S)] {
        let hir = regex_syntax::parse(pat).expect("a Unicode class");
        let regex_syntax::hir::HirKind::Class(regex_syntax::hir::Class::Unicode(c)) = hir.kind() else {
            panic!("{pat} is not a Unicode class");
        };
        for r in c.ranges() {
            for cp in r.start() as u32..=r.end() as u32 {
                t[cp as usize] |= bit;
            }
        }
    }
    t
});

#[inline]
fn class(c: char) -> u8 {
    CLASSES[c as usize]
}

/// The class bits of every code point (`\p{L}` 1, `\p{N}` 2, `\s` 4), as the GPU's split reads
/// them.
pub fn char_classes() -> &'static [u8] {
    &CLASSES
}

/// The character at byte `i` of `t` and its length in bytes.
#[inline]
fn char_at(t: &str, i: usize) -> (char, usize) {
    let b = t.as_bytes()[i];
    if b < 0x80 {
        return (b as char, 1);
    }
    let c = t[i..].chars().next().expect("i is a char boundary");
    (c, c.len_utf8())
}

/// End of the run of characters from `i` whose class has a bit of `bits`.
#[inline]
fn run_of(t: &str, mut i: usize, bits: u8) -> usize {
    while i < t.len() {
        let (c, n) = char_at(t, i);
        if class(c) & bits == 0 {
            break;
        }
        i += n;
    }
    i
}

/// `[^\s\p{L}\p{N}]`
#[inline]
fn is_other(c: char) -> bool {
    class(c) == 0
}

/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` after the apostrophe at `i - 1`: the match's end. Case folding
/// as the `regex` crate's (simple folding: `s` also matches `ſ`, U+017F).
fn contraction_end(t: &str, i: usize) -> Option<usize> {
    let b = t.as_bytes();
    let at = |k: usize| b.get(k).map(|c| c.to_ascii_lowercase());
    match at(i)? {
        b's' | b't' | b'm' | b'd' => Some(i + 1),
        b'r' | b'v' if at(i + 1) == Some(b'e') => Some(i + 2),
        b'l' if at(i + 1) == Some(b'l') => Some(i + 2),
        0xC5 if b.get(i + 1) == Some(&0xBF) => Some(i + 2), // ſ
        _ => None,
    }
}

/// The end of the piece cl100k's pattern matches at byte `i` of `t` (`i < t.len()`): the
/// alternatives in order, each as the backtracking engine resolves it.
pub fn cl100k_piece_end(t: &str, i: usize) -> usize {
    let (c, n) = char_at(t, i);
    // (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if c == '\'' {
        if let Some(e) = contraction_end(t, i + 1) {
            return e;
        }
    }
    let k = class(c);
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if k & L != 0 {
        return run_of(t, i + n, L);
    }
    if k & N == 0 && c != '\r' && c != '\n' && i + n < t.len() {
        let (d, m) = char_at(t, i + n);
        if class(d) & L != 0 {
            return run_of(t, i + n + m, L);
        }
    }
    // \p{N}{1,3}
    if k & N != 0 {
        let mut e = i + n;
        for _ in 0..2 {
            if e < t.len() {
                let (d, m) = char_at(t, e);
                if class(d) & N != 0 {
                    e += m;
                    continue;
                }
            }
            break;
        }
        return e;
    }
    //  ?[^\s\p{L}\p{N}]+[\r\n]*
    let from = if c == ' ' { i + 1 } else { i };
    if from < t.len() && is_other(char_at(t, from).0) {
        let mut e = from;
        while e < t.len() {
            let (d, m) = char_at(t, e);
            if !is_other(d) {
                break;
            }
            e += m;
        }
        while e < t.len() && matches!(t.as_bytes()[e], b'\r' | b'\n') {
            e += 1;
        }
        return e;
    }
    // `c` is whitespace. \s*[\r\n]+: up to the run's last line break.
    let end = run_of(t, i, S);
    if let Some(k) = t.as_bytes()[i..end].iter().rposition(|&b| b == b'\r' || b == b'\n') {
        return i + k + 1;
    }
    // \s+(?!\S): the run, at the end of the text; less its last character before a non-space.
    if end == t.len() {
        return end;
    }
    let last = t[i..end].char_indices().next_back().map_or(0, |(k, _)| k);
    if last > 0 {
        return i + last;
    }
    // \s+
    end
}

/// Whether a piece of cl100k's split starts at byte `i` of `t` whatever came before it: a
/// space between two letters (`\p{L}`). No alternative of the pattern takes a letter and then a
/// space, so the piece before ends at the letter, and the piece from the space is ` ` and a
/// letter run. Spaces between words are most of a text's spaces, so a long text can be cut
/// into chunks, each split from its first such space on: the GPU's split
/// (`gpu/kernels/split.cu`), whose loop [`cl100k_chunk_pieces`] is.
pub fn cl100k_sync_at(t: &str, i: usize) -> bool {
    let b = t.as_bytes();
    if i == 0 || i + 1 >= b.len() || b[i] != b' ' {
        return false;
    }
    let before = t[..i].chars().next_back().expect("i > 0");
    class(before) & L != 0 && class(char_at(t, i + 1).0) & L != 0
}

/// The starts of the pieces that the chunk `t[begin..end]` of the text `t` is responsible for,
/// appended to `out`: from the chunk's first [`cl100k_sync_at`] position (from 0 for the first
/// chunk), piece by piece, up to the first piece start at or past `end` that is such a
/// position — where the next chunk starts. The chunks' pieces, in order, are the text's
/// (tested). `begin` and `end` need not be character boundaries.
pub fn cl100k_chunk_pieces(t: &str, begin: usize, end: usize, out: &mut Vec<usize>) {
    let mut p = begin;
    if begin > 0 {
        while p < end && !cl100k_sync_at(t, p) {
            p += 1;
        }
        if p >= end {
            return;
        }
    }
    while p < t.len() {
        if p >= end && cl100k_sync_at(t, p) {
            return;
        }
        out.push(p);
        p = cl100k_piece_end(t, p);
    }
}

// ---------------------------------------------------------------------------------------------
// Pre-tokenization.

/// How text is split into pieces (`Split(…, Isolated)`: matches and the gaps between them).
#[derive(Debug)]
pub enum Splitter {
    /// cl100k's pattern, hand-written.
    Cl100k,
    /// A pattern on `regex-automata`. A pattern ending in `\s+(?!\S)|\s+` is run as three
    /// patterns, the first taking precedence: the pattern up to there with `|\s+$` (the run
    /// at the end of the text), `\s+\s` whose last character is given back (a run followed by
    /// a non-space: `\s+` backtracks by one, and the first `\s` matches where `(?!\S)` holds),
    /// and `\s+`. Where several patterns match at the leftmost position, the first wins, as
    /// the alternatives do.
    Regex { re: Regex, give_back: Vec<bool> },
}

impl Splitter {
    /// The splitter for `pattern`, or why it cannot be run with the `tokenizers` crate's meaning.
    pub fn new(pattern: &str) -> Result<Self, String> {
        if pattern == CL100K_PATTERN {
            return Ok(Splitter::Cl100k);
        }
        let (pats, give_back): (Vec<String>, Vec<bool>) = match pattern.strip_suffix(WS_LOOKAHEAD_TAIL) {
            Some(head) => {
                (vec![format!(r"{head}|\s+$"), r"\s+\s".to_string(), r"\s+".to_string()], vec![false, true, false])
            }
            None => (vec![pattern.to_string()], vec![false]),
        };
        for p in &pats {
            if p.contains("(?=") || p.contains("(?!") || p.contains("(?<") {
                return Err(format!("the split pattern has a look-around the fast path does not emulate: {pattern}"));
            }
            let hir = regex_syntax::parse(p).map_err(|e| format!("the split pattern is not `regex` syntax: {e}"))?;
            if hir.properties().minimum_len().is_none_or(|m| m == 0) {
                return Err(format!("the split pattern can match the empty string: {pattern}"));
            }
        }
        let re = Regex::new_many(&pats).map_err(|e| format!("the split pattern: {e}"))?;
        Ok(Splitter::Regex { re, give_back })
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Splitter::Cl100k => "cl100k split (hand-written)",
            Splitter::Regex { .. } => "split by regex-automata",
        }
    }

    /// Calls `f` on each piece of `text`, in order; the pieces cover `text`.
    #[inline]
    pub fn for_each(&self, text: &str, mut f: impl FnMut(&str)) {
        match self {
            Splitter::Cl100k => {
                let mut i = 0;
                while i < text.len() {
                    let e = cl100k_piece_end(text, i);
                    f(&text[i..e]);
                    i = e;
                }
            }
            Splitter::Regex { re, give_back } => {
                let mut at = 0;
                while at < text.len() {
                    let Some(m) = re.search(&Input::new(text).range(at..)) else { break };
                    let mut end = m.end();
                    if give_back[m.pattern().as_usize()] {
                        end -= text[..end].chars().next_back().map_or(0, char::len_utf8);
                    }
                    if m.start() > at {
                        f(&text[at..m.start()]);
                    }
                    f(&text[m.start()..end]);
                    at = end;
                }
                if at < text.len() {
                    f(&text[at..]);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// BPE by the crate's rule.

/// No merge for this pair.
const NO_MERGE: u64 = u64::MAX;

struct Merges {
    /// `left << 32 | right` → `merge index << 32 | id`.
    pairs: FastMap<u64, u64>,
    byte_ids: [u32; 256],
    /// `ignore_merges`: the tokens, by their bytes.
    whole: Option<FastMap<Box<[u8]>, u32>>,
}

impl Merges {
    #[inline]
    fn lookup(&self, l: u32, r: u32) -> u64 {
        self.pairs.get(&((l as u64) << 32 | r as u64)).copied().unwrap_or(NO_MERGE)
    }

    /// The ids of one piece, appended to `out`.
    fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>) {
        if let Some(id) = self.whole.as_ref().and_then(|w| w.get(piece)) {
            out.push(*id);
            return;
        }
        let from = out.len();
        out.extend(piece.iter().map(|&b| self.byte_ids[b as usize]));
        if piece.len() > 64 {
            self.merge_long(out, from);
            return;
        }
        let sym = &mut out[from..];
        let mut n = sym.len();
        // ranks[i]: the merge of sym[i] and sym[i + 1].
        let mut ranks = [NO_MERGE; 64];
        for i in 0..n.saturating_sub(1) {
            ranks[i] = self.lookup(sym[i], sym[i + 1]);
        }
        while n > 1 {
            let (mut best, mut j) = (NO_MERGE, 0);
            for (i, &r) in ranks[..n - 1].iter().enumerate() {
                if r < best {
                    best = r;
                    j = i;
                }
            }
            if best == NO_MERGE {
                break;
            }
            sym[j] = best as u32;
            sym.copy_within(j + 2..n, j + 1);
            ranks.copy_within(j + 1..n - 1, j);
            n -= 1;
            if j > 0 {
                ranks[j - 1] = self.lookup(sym[j - 1], sym[j]);
            }
            if j + 1 < n {
                ranks[j] = self.lookup(sym[j], sym[j + 1]);
            }
        }
        out.truncate(from + n);
    }

    /// The same rule for a long piece: a heap of candidate merges (merge index, position) over a
    /// linked list, as the crate does, so a long run costs n log n, not n².
    fn merge_long(&self, out: &mut Vec<u32>, from: usize) {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let mut sym: Vec<u32> = out.split_off(from);
        let n = sym.len();
        let (mut prev, mut next): (Vec<usize>, Vec<usize>) =
            ((0..n).map(|i| i.wrapping_sub(1)).collect(), (1..=n).collect());
        let mut alive = vec![true; n];
        let mut heap = BinaryHeap::new();
        for i in 0..n - 1 {
            let r = self.lookup(sym[i], sym[i + 1]);
            if r != NO_MERGE {
                heap.push(Reverse((r >> 32, i, r as u32)));
            }
        }
        while let Some(Reverse((_, i, id))) = heap.pop() {
            if !alive[i] || next[i] >= n {
                continue;
            }
            let j = next[i];
            // An expired entry: the pair at i changed since.
            let now = self.lookup(sym[i], sym[j]);
            if now == NO_MERGE || now as u32 != id {
                continue;
            }
            sym[i] = id;
            alive[j] = false;
            next[i] = next[j];
            if next[j] < n {
                prev[next[j]] = i;
            }
            if prev[i] < n {
                let r = self.lookup(sym[prev[i]], sym[i]);
                if r != NO_MERGE {
                    heap.push(Reverse((r >> 32, prev[i], r as u32)));
                }
            }
            if next[i] < n {
                let r = self.lookup(sym[i], sym[next[i]]);
                if r != NO_MERGE {
                    heap.push(Reverse((r >> 32, i, r as u32)));
                }
            }
        }
        out.extend((0..n).filter(|&i| alive[i]).map(|i| sym[i]));
    }
}

// ---------------------------------------------------------------------------------------------
// Added tokens.

/// The crate's `AddedVocabulary` split: leftmost-longest matches.
struct AddedSplit {
    ac: AhoCorasick,
    ids: Vec<u32>,
}

impl AddedSplit {
    fn new(tokens: &[(String, u32)]) -> Result<Option<Self>, String> {
        if tokens.is_empty() {
            return Ok(None);
        }
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(tokens.iter().map(|(t, _)| t.as_str()))
            .map_err(|e| format!("added tokens: {e}"))?;
        Ok(Some(AddedSplit { ac, ids: tokens.iter().map(|(_, id)| *id).collect() }))
    }
}

/// A run of text between added tokens, or an added token.
enum Seg<'a> {
    Text(&'a str),
    Token(u32),
}

/// Cuts the added tokens out of `s`, in order, onto `out`.
fn split_added<'a>(split: Option<&AddedSplit>, s: &'a str, out: &mut Vec<Seg<'a>>) {
    let Some(a) = split else {
        out.push(Seg::Text(s));
        return;
    };
    let mut at = 0;
    for m in a.ac.find_iter(s) {
        if m.start() > at {
            out.push(Seg::Text(&s[at..m.start()]));
        }
        out.push(Seg::Token(a.ids[m.pattern().as_usize()]));
        at = m.end();
    }
    if at < s.len() {
        out.push(Seg::Text(&s[at..]));
    }
}

// ---------------------------------------------------------------------------------------------
// The encoder.

/// An added token as the `tokenizers` crate holds it (content, id and flags).
#[derive(Debug, Clone)]
pub struct AddedTokenSpec {
    pub content: String,
    pub id: u32,
    pub normalized: bool,
    pub single_word: bool,
    pub lstrip: bool,
    pub rstrip: bool,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

struct PieceCache {
    owner: u64,
    map: FastMap<Box<[u8]>, Box<[u32]>>,
}

thread_local! {
    static CACHE: RefCell<PieceCache> = RefCell::new(PieceCache { owner: 0, map: FastMap::default() });
}

/// A byte-level BPE `tokenizer.json` encoded without the `tokenizers` crate, with its ids.
pub struct FastBpe {
    splitter: Splitter,
    merges: Merges,
    /// Non-normalized added tokens, then normalized ones (cut from what the first left).
    added: [Option<AddedSplit>; 2],
    /// Tells this encoder's entries in the thread-local cache from another's.
    id: u64,
}

fn is_noop_post_processor(v: &Value) -> bool {
    match v["type"].as_str() {
        None if v.is_null() => true,
        Some("ByteLevel" | "TemplateProcessing" | "BertProcessing" | "RobertaProcessing") => true,
        Some("Sequence") => v["processors"].as_array().is_some_and(|p| p.iter().all(is_noop_post_processor)),
        _ => false,
    }
}

/// The split pattern of an accepted pre-tokenizer, or why it is not one.
fn split_pattern(pre: &Value) -> Result<String, String> {
    let byte_level_ok = |b: &Value| {
        if b["add_prefix_space"].as_bool() != Some(false) {
            return Err("ByteLevel adds a prefix space".to_string());
        }
        Ok(b["use_regex"].as_bool().unwrap_or(true))
    };
    let steps: Vec<&Value> = match pre["type"].as_str() {
        Some("Sequence") => pre["pretokenizers"].as_array().map(|a| a.iter().collect()).unwrap_or_default(),
        Some(_) => vec![pre],
        None => return Err("no pre-tokenizer: not a byte-level BPE".into()),
    };
    match steps.as_slice() {
        [b] if b["type"] == "ByteLevel" => match byte_level_ok(b)? {
            true => Ok(GPT2_PATTERN.to_string()),
            false => Err("ByteLevel without a split: one piece per text".into()),
        },
        [s, b] if s["type"] == "Split" && b["type"] == "ByteLevel" => {
            if byte_level_ok(b)? {
                return Err("a Split followed by ByteLevel(use_regex = true)".into());
            }
            if s["behavior"] != "Isolated" || s["invert"].as_bool() == Some(true) {
                return Err(format!("Split behavior {} (invert {}), not Isolated", s["behavior"], s["invert"]));
            }
            s["pattern"]["Regex"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("Split pattern {} is not a regex", s["pattern"]))
        }
        _ => Err(format!(
            "pre-tokenizer {} is not Split(regex, Isolated) + ByteLevel or ByteLevel(use_regex)",
            steps.iter().map(|s| s["type"].as_str().unwrap_or("?")).collect::<Vec<_>>().join(" + ")
        )),
    }
}

impl FastBpe {
    /// The fast encoder for the `tokenizer.json` `json`, taking its added tokens from `hf`, the
    /// same file as the `tokenizers` crate loaded it.
    pub fn from_hf(json: &[u8], hf: &tokenizers::Tokenizer) -> Result<Self, String> {
        let added: Vec<AddedTokenSpec> = hf
            .get_added_tokens_decoder()
            .into_iter()
            .map(|(id, t)| AddedTokenSpec {
                content: t.content,
                id,
                normalized: t.normalized,
                single_word: t.single_word,
                lstrip: t.lstrip,
                rstrip: t.rstrip,
            })
            .collect();
        FastBpe::from_json(json, &added, hf.get_encode_special_tokens())
    }

    /// The fast encoder for the `tokenizer.json` `json` whose added tokens the `tokenizers` crate
    /// loaded as `added` (with `encode_special_tokens` as given), or why the file is not one it
    /// encodes exactly as the crate does.
    pub fn from_json(json: &[u8], added: &[AddedTokenSpec], encode_special_tokens: bool) -> Result<Self, String> {
        let doc: Value = serde_json::from_slice(json).map_err(|e| format!("not JSON: {e}"))?;
        let model = &doc["model"];
        if model["type"].as_str().is_some_and(|t| t != "BPE") || model["merges"].is_null() {
            return Err(format!("model {} is not BPE", model["type"]));
        }
        if model["dropout"].as_f64().is_some_and(|d| d > 0.0) {
            return Err("BPE dropout".into());
        }
        for k in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if model[k].as_str().is_some_and(|s| !s.is_empty()) {
                return Err(format!("BPE {k} {}", model[k]));
            }
        }
        let norm = &doc["normalizer"];
        let no_norm = norm.is_null()
            || (norm["type"] == "Sequence" && norm["normalizers"].as_array().is_some_and(|n| n.is_empty()));
        if !no_norm {
            return Err(format!("a normalizer ({})", norm["type"].as_str().unwrap_or("?")));
        }
        let pattern = split_pattern(&doc["pre_tokenizer"])?;
        if !is_noop_post_processor(&doc["post_processor"]) {
            return Err(format!("post-processor {}", doc["post_processor"]["type"]));
        }
        if encode_special_tokens {
            return Err("special tokens are encoded as text (encode_special_tokens)".into());
        }
        if let Some(t) = added.iter().find(|t| t.single_word || t.lstrip || t.rstrip || t.content.is_empty()) {
            return Err(format!("added token {:?} has single_word, lstrip or rstrip", t.content));
        }
        let splitter = Splitter::new(&pattern)?;

        // Byte-level: the vocabulary's strings are bytes mapped to printable characters.
        let to_byte: HashMap<char, u8> =
            super::convert::bytes_to_unicode().iter().enumerate().map(|(b, &c)| (c, b as u8)).collect();
        let unmap = |s: &str| s.chars().map(|c| to_byte.get(&c).copied()).collect::<Option<Vec<u8>>>();
        let vocab = model["vocab"].as_object().ok_or("the BPE vocabulary is not an object")?;
        let id_of = |s: &str| vocab.get(s).and_then(Value::as_u64).map(|i| i as u32);
        let mut byte_ids = [0u32; 256];
        for (b, c) in super::convert::bytes_to_unicode().iter().enumerate() {
            byte_ids[b] = id_of(&c.to_string())
                .ok_or_else(|| format!("byte 0x{b:02x} ({c:?}) is not in the vocabulary: not byte-level"))?;
        }
        let ignore_merges = model["ignore_merges"].as_bool().unwrap_or(false);
        let whole = ignore_merges.then(|| {
            let mut w = FastMap::default();
            for (s, id) in vocab {
                if let (Some(b), Some(id)) = (unmap(s), id.as_u64()) {
                    w.insert(b.into_boxed_slice(), id as u32);
                }
            }
            w
        });
        let list = model["merges"].as_array().ok_or("BPE merges are not a list")?;
        let mut pairs: FastMap<u64, u64> = FastMap::default();
        pairs.reserve(list.len());
        for (rank, m) in list.iter().enumerate() {
            let (a, b) = match m {
                Value::Array(p) if p.len() == 2 => (p[0].as_str(), p[1].as_str()),
                Value::String(s) => s.split_once(' ').map_or((None, None), |(a, b)| (Some(a), Some(b))),
                _ => (None, None),
            };
            let (Some(a), Some(b)) = (a, b) else { return Err(format!("merge {rank} is not a pair: {m}")) };
            let (Some(l), Some(r), Some(id)) = (id_of(a), id_of(b), id_of(&format!("{a}{b}"))) else {
                return Err(format!("merge {rank} ({a} {b}) is outside the vocabulary"));
            };
            // The crate's map keeps the last of repeated pairs.
            pairs.insert((l as u64) << 32 | r as u64, (rank as u64) << 32 | id as u64);
        }
        let mut made = std::collections::HashSet::with_capacity(pairs.len());
        for &v in pairs.values() {
            if !made.insert(v as u32) {
                return Err(format!("token {} is made by more than one merge", v as u32));
            }
        }
        let pick = |normalized: bool| {
            let v: Vec<(String, u32)> =
                added.iter().filter(|t| t.normalized == normalized).map(|t| (t.content.clone(), t.id)).collect();
            AddedSplit::new(&v)
        };
        Ok(FastBpe {
            splitter,
            merges: Merges { pairs, byte_ids, whole },
            added: [pick(false)?, pick(true)?],
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// The fast encoder of a rank BPE (`tokens[i]` is the token of id `i`, tiktoken's model)
    /// with the pre-tokenizer `pattern`, no added tokens: the encoder [`Self::from_json`] builds
    /// from `convert::ranks_to_hf_json`'s file, built without writing and parsing that file
    /// (a second or two for o200k_base in every process that encodes).
    pub fn from_ranks(tokens: &[Vec<u8>], pattern: &str) -> Result<Self, String> {
        let splitter = Splitter::new(pattern)?;
        let mut byte_ids = [u32::MAX; 256];
        for (id, t) in tokens.iter().enumerate() {
            if let [b] = t[..] {
                byte_ids[b as usize] = id as u32;
            }
        }
        if let Some(b) = byte_ids.iter().position(|&id| id == u32::MAX) {
            return Err(format!("byte 0x{b:02x} is not a token: not byte-level"));
        }
        let merges = super::convert::rank_merges(tokens)?;
        let mut pairs: FastMap<u64, u64> = FastMap::default();
        pairs.reserve(merges.len());
        for (rank, &(id, l, r)) in merges.iter().enumerate() {
            pairs.insert((l as u64) << 32 | r as u64, (rank as u64) << 32 | id as u64);
        }
        Ok(FastBpe {
            splitter,
            merges: Merges { pairs, byte_ids, whole: None },
            added: [AddedSplit::new(&[])?, AddedSplit::new(&[])?],
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// How this encodes, for `describe()`.
    pub fn describe(&self) -> String {
        format!(
            "{}, merges by the tokenizers crate's rule{}, per-thread piece cache",
            self.splitter.describe(),
            if self.merges.whole.is_some() { " (ignore_merges)" } else { "" }
        )
    }

    /// The ids of `text`: the `tokenizers` crate's `encode(text, add_special_tokens = false)`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let (mut first, mut segs) = (Vec::new(), Vec::new());
        split_added(self.added[0].as_ref(), text, &mut first);
        for seg in first {
            match seg {
                Seg::Text(s) => split_added(self.added[1].as_ref(), s, &mut segs),
                token => segs.push(token),
            }
        }
        let mut out = Vec::with_capacity(text.len() / 3 + 4);
        CACHE.with(|cell| {
            let mut cache = cell.borrow_mut();
            if cache.owner != self.id {
                cache.map.clear();
                cache.owner = self.id;
            }
            let map = &mut cache.map;
            for seg in segs {
                let s = match seg {
                    Seg::Token(id) => {
                        out.push(id);
                        continue;
                    }
                    Seg::Text(s) => s,
                };
                self.splitter.for_each(s, |piece| {
                    let p = piece.as_bytes();
                    if let Some(ids) = map.get(p) {
                        out.extend_from_slice(ids);
                        return;
                    }
                    let from = out.len();
                    self.merges.encode_piece(p, &mut out);
                    if p.len() <= MAX_CACHED_PIECE {
                        if map.len() >= CACHE_PIECES {
                            map.clear();
                        }
                        map.insert(p.into(), out[from..].into());
                    }
                });
            }
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small rank BPE: every byte, then merges that build Swedish words in a fixed order.
    fn small_ranks() -> Vec<Vec<u8>> {
        let mut tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        for t in ["st", "sto", "ck", "stock", "ho", "lm", "holm", "stockholm", " s", " stockholm", "å", "år", " år"]
        {
            tokens.push(t.as_bytes().to_vec());
        }
        tokens
    }

    /// A text split chunk by chunk, cut anywhere, gives the whole text's pieces.
    fn check_chunked_split(t: &str, size: usize) {
        let mut want = Vec::new();
        let mut i = 0;
        while i < t.len() {
            want.push(i);
            i = cl100k_piece_end(t, i);
        }
        let mut got = Vec::new();
        let mut begin = 0;
        while begin < t.len() {
            cl100k_chunk_pieces(t, begin, (begin + size).min(t.len()), &mut got);
            begin += size;
        }
        assert_eq!(got, want, "chunks of {size} on {t:?}");
    }

    #[test]
    fn chunked_cl100k_split_equals_the_whole_split() {
        for t in TRICKY {
            for size in [1, 2, 3, 5, 8, 64] {
                check_chunked_split(t, size);
            }
        }
        let page = "Stockholm den 12 mars 1897. Ångaren Freja anlände i går  till Skeppsbron, \
                    med last av trävaror; don't 's  \n\n  tabell\t 1234567 kr.\r\n — ſlut ";
        for size in 1..40 {
            check_chunked_split(page, size);
        }
    }

    proptest::proptest! {
        #[test]
        fn chunked_cl100k_split_on_random_text(t in "[a-zA-Z0-9åÅ' \\n\\r\\t.,—ſ\u{1F600}]{0,60}", size in 1usize..16) {
            check_chunked_split(&t, size);
        }
    }

    /// Built from the ranks directly, the encoder is the one built from the converted file.
    #[test]
    fn from_ranks_equals_from_the_converted_json() {
        let tokens = small_ranks();
        let pattern = super::super::convert::CL100K_HF_PATTERN;
        let json = super::super::convert::ranks_to_hf_json(&tokens, pattern, &[]).unwrap();
        let via_json = FastBpe::from_json(json.as_bytes(), &[], false).unwrap();
        let direct = FastBpe::from_ranks(&tokens, pattern).unwrap();
        for text in [
            "stockholm år stockholm",
            "Stockholm, 1897 år: stockholmare",
            "",
            "ståck hölm  år
",
        ] {
            assert_eq!(direct.encode(text), via_json.encode(text), "{text:?}");
        }
        assert!(direct.encode("stockholm").len() == 1);
        let mut missing = tokens.clone();
        missing[7] = b"xy".to_vec();
        let e = FastBpe::from_ranks(&missing, pattern).err().unwrap();
        assert!(e.contains("byte 0x07") && e.contains("not byte-level"), "{e}");
    }

    fn pieces(s: &Splitter, text: &str) -> Vec<String> {
        let mut v = Vec::new();
        s.for_each(text, |p| v.push(p.to_string()));
        v
    }

    /// The regex route for cl100k's pattern (what every other pattern gets), to check the scanner.
    fn cl100k_by_regex() -> Splitter {
        let head = CL100K_PATTERN.strip_suffix(WS_LOOKAHEAD_TAIL).unwrap();
        let pats = [format!(r"{head}|\s+$"), r"\s+\s".into(), r"\s+".into()];
        Splitter::Regex { re: Regex::new_many(&pats).unwrap(), give_back: vec![false, true, false] }
    }

    pub(crate) const TRICKY: [&str; 12] = [
        "",
        "hello world",
        "Stockholm 1897: 1234567 kr.\r\n\r\n  indrag\t\ttab   ",
        "don't I'LL we've   \n\n\n 'S 'ſ 're 'Re 'x 'lL",
        "ÅÄÖ åäö ſ ﬁ 𝔉raktur — ”citat” «guillemets» 日本語 🙂 ½ ² Ⅻ",
        "   leading and trailing   ",
        "a\u{00a0}b\u{2009}c\u{3000}d\u{0085}e\u{200b}f",
        " !!!\n\n?? \r\n x",
        "\n \n  \t\n a",
        "=====================================================================================x",
        "ab'  '  ,  ,\r\r\r\n",
        "x\u{301}y \u{301}z",
    ];

    #[test]
    fn cl100k_scanner_equals_the_regex() {
        let (fast, slow) = (Splitter::new(CL100K_PATTERN).unwrap(), cl100k_by_regex());
        assert!(matches!(fast, Splitter::Cl100k));
        for t in TRICKY {
            assert_eq!(pieces(&fast, t), pieces(&slow, t), "{t:?}");
            assert_eq!(pieces(&fast, t).concat(), t);
        }
        // Every pair and triple of a set of characters from each class.
        let chars = [
            "a", "Å", "ſ", "s", "S", "l", "e", "1", "²", "Ⅻ", "'", " ", "\t", "\n", "\r", ",", "-", "\u{a0}", "🙂",
            "\u{301}",
        ];
        for a in chars {
            for b in chars {
                for c in chars {
                    let t = format!("{a}{b}{c}{a}");
                    assert_eq!(pieces(&fast, &t), pieces(&slow, &t), "{t:?}");
                }
            }
        }
    }

    #[test]
    fn splitter_refuses_what_it_cannot_run() {
        assert!(Splitter::new(r"\w+(?=x)").unwrap_err().contains("look-around"));
        assert!(Splitter::new(r"a*").unwrap_err().contains("empty"));
        assert!(matches!(Splitter::new(GPT2_PATTERN).unwrap(), Splitter::Regex { .. }));
        // Gaps between matches are pieces too (Isolated).
        let s = Splitter::new(r"\d+").unwrap();
        assert_eq!(pieces(&s, "ab12cd3"), ["ab", "12", "cd", "3"]);
    }

    /// A toy vocabulary where the merge order is not the id order, and a word that needs the
    /// heap path: the same ids both ways.
    #[test]
    fn merges_follow_merge_order_and_long_pieces_agree() {
        let map = crate::tokenize::convert::bytes_to_unicode();
        let mut vocab = serde_json::Map::new();
        for (b, c) in map.iter().enumerate() {
            vocab.insert(c.to_string(), serde_json::json!(b));
        }
        for (t, id) in [("ab", 258), ("bc", 257), ("abc", 256), ("cc", 259)] {
            vocab.insert(t.into(), serde_json::json!(id));
        }
        let json = serde_json::json!({
            "added_tokens": [], "normalizer": null, "post_processor": null,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
            "model": {"type": "BPE", "vocab": vocab, "merges": [["a", "b"], ["b", "c"], ["ab", "c"], ["c", "c"]]}
        });
        let f = FastBpe::from_json(json.to_string().as_bytes(), &[], false).unwrap();
        // "abc": ab (merge 0) first, then ab+c; "bcc": bc (1) before cc (3).
        assert_eq!(f.encode("abc"), vec![256]);
        assert_eq!(f.encode("bcc"), vec![257, b'c' as u32]);
        assert_eq!(f.encode("ccc"), vec![259, b'c' as u32]);
        let long = "abcc".repeat(40);
        let mut short = Vec::new();
        for _ in 0..40 {
            short.extend(f.encode("abcc"));
        }
        assert_eq!(f.encode(&long), short);
    }
}

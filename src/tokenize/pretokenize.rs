//! Pre-tokenization: text cut into the pieces that byte-level BPE merges within.
//!
//! The built-ins' patterns — cl100k_base's (also what `tokenizer train` writes) and
//! o200k_base's — run on hand-written scanners ([`Scanner`]) over the same Unicode classes the
//! `regex` crate uses (taken from `regex-syntax` at start-up, so they cannot drift apart); other
//! patterns run on `regex-automata` ([`Splitter::Regex`]). Each scanner is the pattern's
//! alternatives in order, each resolved as a backtracking engine resolves it. The tests check
//! the scanners against the regex route on every pair and triple of characters from each class
//! and on random text; `tests/tokenizer_identity.rs` checks the encoders built on them against
//! the `tokenizers` crate on all of `../shared/data`.
//!
//! **Chunks.** Both patterns have positions where a piece starts whatever came before
//! ([`Scanner::sync_at`]), so a long text can be cut into chunks split independently
//! ([`Scanner::chunk_pieces`]): the GPU's split (`gpu/kernels/split.cu`), whose loops these are.

use std::sync::LazyLock;

use regex_automata::meta::Regex;
use regex_automata::Input;

/// cl100k_base's split pattern as `tokenizer.json` files write it (`tokenizer train`, `convert`).
pub const CL100K_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// o200k_base's split pattern in `tokenizers`' dialect (tiktoken's, `\p{N}{1,3}+` written
/// `\p{N}{1,3}`).
pub const O200K_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
);

/// GPT-2's pattern: what `ByteLevel(use_regex = true)` splits with.
pub const GPT2_PATTERN: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// The closing alternatives `\s+(?!\S)|\s+`: a whitespace run, less its last character when a
/// non-space follows. The `regex` engine has no look-ahead; see [`Splitter::Regex`].
const WS_LOOKAHEAD_TAIL: &str = r"|\s+(?!\S)|\s+";

// ---------------------------------------------------------------------------------------------
// Unicode classes, as the `regex` crate defines them.

/// `\p{L}`
const L: u8 = 1;
/// `\p{N}`
const N: u8 = 2;
/// `\s`
const S: u8 = 4;
/// o200k's leading letters: `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`.
const UPPER: u8 = 8;
/// o200k's trailing letters: `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`.
const LOWER: u8 = 16;

/// Class bits of every code point, from `regex-syntax`'s tables.
static CLASSES: LazyLock<Box<[u8]>> = LazyLock::new(|| {
    let mut t = vec![0u8; 0x11_0000].into_boxed_slice();
    for (pat, bit) in [
        (r"\p{L}", L),
        (r"\p{N}", N),
        (r"\s", S),
        (r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]", UPPER),
        (r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]", LOWER),
    ] {
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

/// The class bits of every code point (`\p{L}` 1, `\p{N}` 2, `\s` 4, o200k's leading letters
/// 8, its trailing letters 16), as the GPU's split reads them.
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
    class(c) & (L | N | S) == 0
}

/// `[^\r\n\p{L}\p{N}]`: the one character that may open a letters piece.
#[inline]
fn opens_letters(c: char) -> bool {
    class(c) & (L | N) == 0 && c != '\r' && c != '\n'
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

/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)?` at `i`.
#[inline]
fn optional_contraction(t: &str, i: usize) -> usize {
    match t.as_bytes().get(i) {
        Some(b'\'') => contraction_end(t, i + 1).unwrap_or(i),
        _ => i,
    }
}

/// `\p{N}{1,3}` at `i`, whose character (`n` bytes) is a number.
#[inline]
fn digits_end(t: &str, i: usize, n: usize) -> usize {
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
    e
}

/// ` ?[^\s\p{L}\p{N}]+` then a run of `closing` bytes, at `i` whose character is `c`.
#[inline]
fn punctuation_end(t: &str, i: usize, c: char, closing: &[u8]) -> Option<usize> {
    let from = if c == ' ' { i + 1 } else { i };
    if from >= t.len() || !is_other(char_at(t, from).0) {
        return None;
    }
    let mut e = from;
    while e < t.len() {
        let (d, m) = char_at(t, e);
        if !is_other(d) {
            break;
        }
        e += m;
    }
    while e < t.len() && closing.contains(&t.as_bytes()[e]) {
        e += 1;
    }
    Some(e)
}

/// `\s*[\r\n]+|\s+(?!\S)|\s+` at `i`, whose character is whitespace (both patterns end so).
#[inline]
fn whitespace_end(t: &str, i: usize) -> usize {
    // \s*[\r\n]+: up to the run's last line break.
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
    if opens_letters(c) && i + n < t.len() {
        let (d, m) = char_at(t, i + n);
        if class(d) & L != 0 {
            return run_of(t, i + n + m, L);
        }
    }
    // \p{N}{1,3}
    if k & N != 0 {
        return digits_end(t, i, n);
    }
    //  ?[^\s\p{L}\p{N}]+[\r\n]*
    if let Some(e) = punctuation_end(t, i, c, b"\r\n") {
        return e;
    }
    whitespace_end(t, i)
}

/// o200k's first letters alternative from `j`, after its optional opening character:
/// `[UPPER]*[LOWER]+(?i:…)?`. The greedy `[UPPER]*` gives back characters until `[LOWER]+` can
/// start: the match runs to the end of the `LOWER` run from the last position of the `UPPER`
/// run (or the one just past it) whose character is `LOWER`.
#[inline]
fn o200k_cased_end(t: &str, j: usize) -> Option<usize> {
    let (mut p, mut last_lower) = (j, None);
    while p < t.len() {
        let (d, m) = char_at(t, p);
        let k = class(d);
        if k & LOWER != 0 {
            last_lower = Some(p);
        }
        if k & UPPER == 0 {
            break;
        }
        p += m;
    }
    let q = last_lower?;
    Some(optional_contraction(t, run_of(t, q, LOWER)))
}

/// o200k's second letters alternative from `j`: `[UPPER]+[LOWER]*(?i:…)?`.
#[inline]
fn o200k_upper_end(t: &str, j: usize) -> Option<usize> {
    let e = run_of(t, j, UPPER);
    (e > j).then(|| optional_contraction(t, run_of(t, e, LOWER)))
}

/// The end of the piece o200k's pattern matches at byte `i` of `t` (`i < t.len()`): the
/// alternatives in order, each as the backtracking engine resolves it. Both letters
/// alternatives try with the opening character `[^\r\n\p{L}\p{N}]` taken first, then without
/// it (a mark, `\p{M}`, both opens and is a letter).
pub fn o200k_piece_end(t: &str, i: usize) -> usize {
    let (c, n) = char_at(t, i);
    let k = class(c);
    let opens = opens_letters(c);
    if k & (UPPER | LOWER) != 0 || opens {
        let starts = if opens { [i + n, i] } else { [i, usize::MAX] };
        for alternative in [o200k_cased_end, o200k_upper_end] {
            for j in starts {
                if j < t.len() {
                    if let Some(e) = alternative(t, j) {
                        return e;
                    }
                }
            }
        }
    }
    // \p{N}{1,3}
    if k & N != 0 {
        return digits_end(t, i, n);
    }
    //  ?[^\s\p{L}\p{N}]+[\r\n/]*
    if let Some(e) = punctuation_end(t, i, c, b"\r\n/") {
        return e;
    }
    whitespace_end(t, i)
}

/// A pattern with a hand-written scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scanner {
    Cl100k,
    O200k,
}

impl Scanner {
    /// The scanner for `pattern`, if it has one.
    pub fn for_pattern(pattern: &str) -> Option<Self> {
        match pattern {
            CL100K_PATTERN => Some(Scanner::Cl100k),
            O200K_PATTERN => Some(Scanner::O200k),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scanner::Cl100k => "cl100k",
            Scanner::O200k => "o200k",
        }
    }

    /// The end of the piece the pattern matches at byte `i` of `t` (`i < t.len()`).
    #[inline]
    pub fn piece_end(self, t: &str, i: usize) -> usize {
        match self {
            Scanner::Cl100k => cl100k_piece_end(t, i),
            Scanner::O200k => o200k_piece_end(t, i),
        }
    }

    /// Whether a piece starts at byte `i` of `t` whatever came before it: a space after a
    /// character that is not whitespace. In both patterns a space inside a piece is either its
    /// first character or in a piece of whitespace only, so that space opens a piece. For
    /// cl100k the rule asked is narrower, a space between two letters (`\p{L}`), as the GPU
    /// kernel was first written; either holds. Spaces between words are most of a text's
    /// spaces, so a long text can be cut into chunks, each split from its first such space on.
    pub fn sync_at(self, t: &str, i: usize) -> bool {
        let b = t.as_bytes();
        if i == 0 || i >= b.len() || b[i] != b' ' {
            return false;
        }
        let before = class(t[..i].chars().next_back().expect("i > 0"));
        match self {
            Scanner::Cl100k => before & L != 0 && i + 1 < b.len() && class(char_at(t, i + 1).0) & L != 0,
            Scanner::O200k => before & S == 0,
        }
    }

    /// The starts of the pieces that the chunk `t[begin..end]` of the text `t` is responsible
    /// for, appended to `out`: from the chunk's first [`Scanner::sync_at`] position (from 0 for
    /// the first chunk), piece by piece, up to the first piece start at or past `end` that is
    /// such a position — where the next chunk starts. The chunks' pieces, in order, are the
    /// text's (tested). `begin` and `end` need not be character boundaries.
    pub fn chunk_pieces(self, t: &str, begin: usize, end: usize, out: &mut Vec<usize>) {
        let mut p = begin;
        if begin > 0 {
            while p < end && !self.sync_at(t, p) {
                p += 1;
            }
            if p >= end {
                return;
            }
        }
        while p < t.len() {
            if p >= end && self.sync_at(t, p) {
                return;
            }
            out.push(p);
            let e = self.piece_end(t, p);
            assert!(e > p, "the {} scanner made no progress at byte {p}", self.name());
            p = e;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pre-tokenization.

/// How text is split into pieces (`Split(…, Isolated)`: matches and the gaps between them).
#[derive(Debug)]
pub enum Splitter {
    /// A pattern with a hand-written scanner.
    Scanner(Scanner),
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
        if let Some(s) = Scanner::for_pattern(pattern) {
            return Ok(Splitter::Scanner(s));
        }
        Self::by_regex(pattern)
    }

    /// `pattern` on `regex-automata`, even where it has a scanner (the tests' reference).
    pub fn by_regex(pattern: &str) -> Result<Self, String> {
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
            Splitter::Scanner(Scanner::Cl100k) => "cl100k split (hand-written)",
            Splitter::Scanner(Scanner::O200k) => "o200k split (hand-written)",
            Splitter::Regex { .. } => "split by regex-automata",
        }
    }

    /// Calls `f` on each piece of `text`, in order; the pieces cover `text`.
    #[inline]
    pub fn for_each(&self, text: &str, mut f: impl FnMut(&str)) {
        match self {
            Splitter::Scanner(s) => {
                let mut i = 0;
                while i < text.len() {
                    let e = s.piece_end(text, i);
                    // A scanner that stopped in place would loop for ever: fail loudly instead.
                    assert!(e > i, "the {} scanner made no progress at byte {i}", s.name());
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn pieces(s: &Splitter, text: &str) -> Vec<String> {
        let mut v = Vec::new();
        s.for_each(text, |p| v.push(p.to_string()));
        v
    }

    pub(crate) const TRICKY: [&str; 16] = [
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
        "CamelCaseWords HTTPServer iPhone McDONALD'S ǅemal ǈubljana ʰmodifier",
        "http://example.com/a/b//c\n/\r/ ./ //\n\n",
        "\u{301}\u{301}A\u{301}a \u{301}1 .\u{301} \u{20dd}X",
        "DON'T don'T Don'ts I'M i'm 'S's",
    ];

    /// Every pair and triple of characters from each class, between two copies of the first.
    const CHARS: [&str; 26] = [
        "a", "Å", "ſ", "s", "S", "l", "e", "1", "²", "Ⅻ", "'", " ", "\t", "\n", "\r", ",", "-", "/", "\u{a0}", "🙂",
        "\u{301}", "ǅ", "ʰ", "日", "\u{20dd}", "\u{85}",
    ];

    fn check_scanner(pattern: &str, want: Scanner) {
        let (fast, slow) = (Splitter::new(pattern).unwrap(), Splitter::by_regex(pattern).unwrap());
        assert!(matches!(fast, Splitter::Scanner(s) if s == want));
        for t in TRICKY {
            assert_eq!(pieces(&fast, t), pieces(&slow, t), "{t:?}");
            assert_eq!(pieces(&fast, t).concat(), t);
        }
        for a in CHARS {
            for b in CHARS {
                for c in CHARS {
                    let t = format!("{a}{b}{c}{a}");
                    assert_eq!(pieces(&fast, &t), pieces(&slow, &t), "{t:?}");
                }
            }
        }
    }

    #[test]
    fn cl100k_scanner_equals_the_regex() {
        check_scanner(CL100K_PATTERN, Scanner::Cl100k);
    }

    #[test]
    fn o200k_scanner_equals_the_regex() {
        check_scanner(O200K_PATTERN, Scanner::O200k);
    }

    #[test]
    fn o200k_splits_cased_words_as_tiktoken_does() {
        let s = Splitter::new(O200K_PATTERN).unwrap();
        assert_eq!(pieces(&s, "CamelCase HTTPServer don't"), ["Camel", "Case", " HTTPServer", " don't"]);
        assert_eq!(pieces(&s, "a/b\n/c"), ["a", "/b", "\n", "/c"]);
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

    /// A text split chunk by chunk, cut anywhere, gives the whole text's pieces.
    fn check_chunked_split(scanner: Scanner, t: &str, size: usize) {
        let mut want = Vec::new();
        let mut i = 0;
        while i < t.len() {
            want.push(i);
            i = scanner.piece_end(t, i);
        }
        let mut got = Vec::new();
        let mut begin = 0;
        while begin < t.len() {
            scanner.chunk_pieces(t, begin, (begin + size).min(t.len()), &mut got);
            begin += size;
        }
        assert_eq!(got, want, "{} in chunks of {size} on {t:?}", scanner.name());
    }

    #[test]
    fn chunked_split_equals_the_whole_split() {
        let page = "Stockholm den 12 mars 1897. Ångaren Freja anlände i går  till Skeppsbron, \
                    med last av trävaror; don't 's  \n\n  tabell\t 1234567 kr.\r\n — ſlut \u{301} McDONALD'S ";
        for scanner in [Scanner::Cl100k, Scanner::O200k] {
            for t in TRICKY {
                for size in [1, 2, 3, 5, 8, 64] {
                    check_chunked_split(scanner, t, size);
                }
            }
            for size in 1..40 {
                check_chunked_split(scanner, page, size);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn chunked_split_on_random_text(
            t in "[a-zA-Z0-9åÅ' \\n\\r\\t.,/—ſǅʰ\u{301}\u{1F600}]{0,60}",
            size in 1usize..16,
            o200k: bool,
        ) {
            check_chunked_split(if o200k { Scanner::O200k } else { Scanner::Cl100k }, &t, size);
        }

        #[test]
        fn scanners_equal_the_regex_on_random_text(
            t in "[a-zA-Z0-9åÅ' \\n\\r\\t.,/—ſǅʰ日\u{a0}\u{301}\u{20dd}\u{1F600}]{0,40}",
        ) {
            for pattern in [CL100K_PATTERN, O200K_PATTERN] {
                let (fast, slow) = (Splitter::new(pattern).unwrap(), Splitter::by_regex(pattern).unwrap());
                proptest::prop_assert_eq!(pieces(&fast, &t), pieces(&slow, &t));
            }
        }
    }
}

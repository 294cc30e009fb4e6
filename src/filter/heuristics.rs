//! Line- and paragraph-level heuristics in the spirit of Gopher and C4 (language-independent):
//! symbols per word, lines ending in punctuation, duplicate lines and paragraphs, bullet lines;
//! and the TV/radio listing detector (time stamps such as `20.00` or `19.05-24.00`, many of
//! them at the start of a line).
//!
//! Each line is walked once for its time stamps and symbol runs (the tokens found as
//! `split_whitespace` finds them, without decoding ASCII), and the duplicate sets key on the
//! xxh3 hashes as they are. The version with a pass per signal is kept in `reference` and the
//! tests hold the two equal.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// Line-level measures of a text.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LineMeasures {
    /// Non-blank lines.
    pub lines: u32,
    pub punct_lines: u32,
    /// Lines equal (after trimming) to an earlier line.
    pub dup_lines: u32,
    pub bullet_lines: u32,
    /// Blank-line separated paragraphs.
    pub paragraphs: u32,
    pub dup_paragraphs: u32,
    /// Runs of `#`, `…`, `|`, `■` and similar, and `...`.
    pub symbols: u32,
    pub timestamps: u32,
    /// Lines whose first token is a time stamp.
    pub timestamp_lines: u32,
}

impl LineMeasures {
    pub fn punct_line_share(&self) -> f32 {
        super::quality::ratio(self.punct_lines as f64, self.lines as f64)
    }
    pub fn dup_line_share(&self) -> f32 {
        super::quality::ratio(self.dup_lines as f64, self.lines as f64)
    }
    pub fn dup_paragraph_share(&self) -> f32 {
        super::quality::ratio(self.dup_paragraphs as f64, self.paragraphs as f64)
    }
    pub fn bullet_line_share(&self) -> f32 {
        super::quality::ratio(self.bullet_lines as f64, self.lines as f64)
    }
    pub fn timestamp_line_share(&self) -> f32 {
        super::quality::ratio(self.timestamp_lines as f64, self.lines as f64)
    }
}

const BULLETS: &[char] = &['•', '·', '▪', '‣', '◦', '●', '○', '■', '□', '►', '▶', '-', '–', '*', '>'];
const END_PUNCT: &[char] = &['.', '!', '?', ':', ';', '"', '\'', '”', '’', '»', ')', '…'];
/// `#`, `…`, `|`, `¦`, `■`, `□`, `▪`, `●`, `◆`, `★`, `☆`, `^`, `~`, `{`, `}`, `\`, `_`, `<`, `>`.
fn is_symbol(c: char) -> bool {
    if c.is_ascii() {
        is_ascii_symbol(c as u8)
    } else {
        matches!(c, '…' | '¦' | '■' | '□' | '▪' | '●' | '◆' | '★' | '☆')
    }
}

const SYMBOL: u8 = 1;
const DOT: u8 = 2;
const SPACE: u8 = 4;

/// [`is_symbol`], `.` and ASCII whitespace, by ASCII byte.
static ASCII_CLASS: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        let c = i as u8;
        if is_ascii_symbol(c) {
            t[i] |= SYMBOL;
        }
        if c == b'.' {
            t[i] |= DOT;
        }
        if matches!(c, b' ' | b'\t'..=b'\r') {
            t[i] |= SPACE;
        }
        i += 1;
    }
    t
};

const fn is_ascii_symbol(c: u8) -> bool {
    matches!(c, b'#' | b'|' | b'^' | b'~' | b'{' | b'}' | b'\\' | b'_' | b'<' | b'>')
}

/// Whether `token` is a time of day (`20.00`, `7.30`, `19:05`) or a range of two
/// (`19.05-24.00`, `6.00–9.30`), trailing punctuation allowed.
pub fn is_timestamp(token: &str) -> bool {
    let b = token.as_bytes();
    if b.len() < 4 || !(b[0].is_ascii_digit() || b[0] == b'(') {
        return false;
    }
    let t = token.trim_end_matches([',', '.', ';', ':', ')']).trim_start_matches('(');
    let one = |s: &str| -> bool {
        let Some((h, m)) = s.split_once(['.', ':']) else { return false };
        h.len() <= 2
            && !h.is_empty()
            && m.len() == 2
            && h.bytes().all(|b| b.is_ascii_digit())
            && m.bytes().all(|b| b.is_ascii_digit())
            && h.parse::<u32>().is_ok_and(|h| h <= 24)
            && m.parse::<u32>().is_ok_and(|m| m <= 59)
    };
    match t.split_once(['-', '–']) {
        Some((a, b)) => one(a) && one(b),
        None => one(t),
    }
}

/// xxh3 hashes are already evenly spread: the duplicate sets use them as they are instead of
/// hashing them again with SipHash.
#[derive(Default)]
pub(crate) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type HashSet64 = HashSet<u64, BuildHasherDefault<Prehashed>>;

/// Measures `text` line by line.
pub fn measure(text: &str) -> LineMeasures {
    let mut m = LineMeasures::default();
    let mut seen = HashSet64::default();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() {
            continue;
        }
        m.lines += 1;
        if !seen.insert(xxhash_rust::xxh3::xxh3_64(l.as_bytes())) {
            m.dup_lines += 1;
        }
        if l.ends_with(END_PUNCT) {
            m.punct_lines += 1;
        }
        if l.starts_with(BULLETS) {
            m.bullet_lines += 1;
        }
        scan_line(l, &mut m);
    }
    let mut paras = HashSet64::default();
    for p in split_paragraphs(text) {
        m.paragraphs += 1;
        if !paras.insert(xxhash_rust::xxh3::xxh3_64(p.as_bytes())) {
            m.dup_paragraphs += 1;
        }
    }
    m
}

/// The time stamps and symbols of one trimmed line, in one pass over its characters: tokens
/// are split as [`str::split_whitespace`] splits. A run of symbols (`■■■`, `###`) counts once,
/// like a word; so does `...`.
fn scan_line(l: &str, m: &mut LineMeasures) {
    let b = l.as_bytes();
    let (mut prev_sym, mut dots) = (false, 0);
    let mut token: Option<usize> = None;
    let mut first = true;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let (sym, dot, ws, len) = if c < 0x80 {
            // A table, not a `match`: the match became a jump table, one unpredictable
            // indirect branch per byte.
            let k = ASCII_CLASS[c as usize];
            (k & SYMBOL != 0, k & DOT != 0, k & SPACE != 0, 1)
        } else {
            let (ws, len) = super::quality::whitespace_at(l, i);
            // Only 0xC2 (`¦`) and 0xE2 (`…`, `■`, …) lead the non-ASCII symbols.
            let sym = matches!(c, 0xC2 | 0xE2) && l[i..].chars().next().is_some_and(is_symbol);
            (sym, false, ws, len)
        };
        if sym && !prev_sym {
            m.symbols += 1;
        }
        prev_sym = sym;
        if dot {
            dots += 1;
            if dots == 3 {
                m.symbols += 1;
                dots = 0;
            }
        } else {
            dots = 0;
        }
        if ws {
            if let Some(start) = token.take() {
                timestamp_token(&l[start..i], first, m);
                first = false;
            }
        } else if token.is_none() {
            token = Some(i);
        }
        i += len;
    }
    if let Some(start) = token {
        timestamp_token(&l[start..], first, m);
    }
}

fn timestamp_token(tok: &str, first: bool, m: &mut LineMeasures) {
    if is_timestamp(tok) {
        m.timestamps += 1;
        if first {
            m.timestamp_lines += 1;
        }
    }
}

/// Blank-line separated paragraphs, trimmed, non-empty.
pub fn split_paragraphs(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        let (p, r) = match find_blank_line(rest) {
            Some((a, b)) => (&rest[..a], &rest[b..]),
            None => (rest, ""),
        };
        rest = r;
        let p = p.trim();
        if !p.is_empty() {
            return Some(p);
        }
    })
}

/// The span of the first blank line (`\n` followed by optional spaces and another `\n`).
fn find_blank_line(s: &str) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(k) = memchr::memchr(b'\n', &b[i..]) {
        let nl = i + k;
        let mut j = nl + 1;
        while j < b.len() && matches!(b[j], b' ' | b'\t' | b'\r') {
            j += 1;
        }
        if j < b.len() && b[j] == b'\n' {
            return Some((nl, j + 1));
        }
        i = nl + 1;
    }
    None
}

/// The measures as first written (a `split_whitespace` and a `chars` pass per line, SipHash
/// sets): the reference the one-pass [`measure`] must agree with exactly.
#[cfg(test)]
mod reference {
    use std::collections::HashSet;

    use super::{is_symbol, is_timestamp, LineMeasures, BULLETS, END_PUNCT};

    pub(crate) fn measure(text: &str) -> LineMeasures {
        let mut m = LineMeasures::default();
        let mut seen: HashSet<u64> = HashSet::new();
        for line in text.lines() {
            let l = line.trim();
            if l.is_empty() {
                continue;
            }
            m.lines += 1;
            if !seen.insert(xxhash_rust::xxh3::xxh3_64(l.as_bytes())) {
                m.dup_lines += 1;
            }
            if l.ends_with(END_PUNCT) {
                m.punct_lines += 1;
            }
            if l.starts_with(BULLETS) {
                m.bullet_lines += 1;
            }
            let mut first = true;
            for tok in l.split_whitespace() {
                if is_timestamp(tok) {
                    m.timestamps += 1;
                    if first {
                        m.timestamp_lines += 1;
                    }
                }
                first = false;
            }
            // A run of symbols (`■■■`, `###`) counts once, like a word; so does `...`.
            let mut prev_sym = false;
            let mut dots = 0;
            for c in l.chars() {
                let sym = is_symbol(c);
                if sym && !prev_sym {
                    m.symbols += 1;
                }
                prev_sym = sym;
                if c == '.' {
                    dots += 1;
                    if dots == 3 {
                        m.symbols += 1;
                        dots = 0;
                    }
                } else {
                    dots = 0;
                }
            }
        }
        let mut paras: HashSet<u64> = HashSet::new();
        for p in super::split_paragraphs(text) {
            m.paragraphs += 1;
            if !paras.insert(xxhash_rust::xxh3::xxh3_64(p.as_bytes())) {
                m.dup_paragraphs += 1;
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        for t in ["20.00", "7.30", "19:05", "19.05-24.00", "6.00–9.30", "(20.00)", "21.15,"] {
            assert!(is_timestamp(t), "{t}");
        }
        for t in ["1898", "20.000", "25.00", "12.75", "2.5", "a.bc", "1.2.3"] {
            assert!(!is_timestamp(t), "{t}");
        }
    }

    #[test]
    fn a_tv_listing_and_a_news_text() {
        let tv = "SVT 1\n19.00 Rapport\n19.30 Sportnytt\n20.00 Hylands hörna\n21.00 Dokumentär: Norrland\n\
                  22.15 Aktuellt\n22.45-24.00 Nattfilm";
        let m = measure(tv);
        assert_eq!(m.timestamps, 6);
        assert_eq!(m.timestamp_lines, 6);
        assert!(m.timestamp_line_share() > 0.8);
        let news = "Tåget avgick kl. 20.00 från Centralen.\nDet var försenat i två timmar.";
        let m = measure(news);
        assert_eq!((m.timestamps, m.timestamp_lines), (1, 0));
        assert_eq!(m.punct_line_share(), 1.0);
    }

    #[test]
    fn duplicates_bullets_symbols() {
        let t = "Annons\nKöp nu!\nAnnons\nKöp nu!\n\n- ett\n- två\n\n# ### |||";
        let m = measure(t);
        assert_eq!(m.lines, 7);
        assert_eq!(m.dup_lines, 2);
        assert_eq!(m.bullet_lines, 2);
        assert_eq!(m.paragraphs, 3);
        assert_eq!(m.dup_paragraphs, 0);
        assert_eq!(m.symbols, 3);
        let p = "Samma stycke.\n\nSamma stycke.\n\nAnnat.";
        assert_eq!(measure(p).dup_paragraphs, 1);
    }

    #[test]
    fn one_pass_agrees_with_the_reference_on_real_pages() {
        let Some(pages) = crate::filter::quality::newspaper_pages() else { return };
        for (k, p) in pages.iter().enumerate() {
            assert_eq!(measure(p), reference::measure(p), "page {k}");
        }
    }

    #[test]
    fn one_pass_agrees_with_the_reference_on_corner_cases() {
        for t in [
            "",
            "\n\n",
            "19.00 Rapport\n(20.00) Film\n21.15, slut",
            "a ... b .... c ......",
            "■■■ ¦¦ … ……",
            "x\u{a0}20.00\u{2003}21.00",
            "# ### |||\n\n# ### |||",
            "•\tpunkt\r\n• punkt",
            "a\u{85}b\u{3000}c",
        ] {
            assert_eq!(measure(t), reference::measure(t), "{t:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn one_pass_agrees_with_the_reference(t in crate::filter::quality::TRICKY_ALPHABET) {
            proptest::prop_assert_eq!(measure(&t), reference::measure(&t));
        }
    }
}

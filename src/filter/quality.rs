//! OCR quality measured on the text: tokens without letters, tokens that do not look like words,
//! mean word length, runs of repeated characters; and the removal of garbage lines.
//!
//! "Looks like a word" is a character-level plausibility test, cheap and language-light (it
//! holds for the Latin-script languages of the collections): a token (edge punctuation
//! stripped) is not word-like when it mixes letters and digits (`1ndia`, `tl1e`), holds other
//! symbols inside (`w^e`, `a»b`), switches case inside (`tHe`, `StocKholm`), mixes scripts
//! (Latin with Greek or Cyrillic look-alikes), has no vowel in more than 3 letters, has 3 equal
//! letters in a row, 6 consonants or 5 vowels in a row, or more than 30 letters. OCR of Fraktur
//! produces exactly these; running text in Swedish, Finnish, German, English rarely does.
//!
//! **Speed.** This pass was the largest cost of the filter stage. [`measure`] walks the bytes
//! once: tokens are found without decoding (only a lead byte 0xC2 or 0xE1–0xE3 can start
//! non-ASCII whitespace), an all-ASCII token is classified byte by byte, Latin-1 characters
//! are looked up in a table built from the per-character functions, and the repeated-character
//! runs are counted in the same walk (edge punctuation and whitespace end a run anyway). The
//! straightforward version (a `split_whitespace` pass, then a `chars` pass) is kept in
//! `reference` and the tests hold the two equal on real pages and random text.

use std::sync::OnceLock;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenClass {
    /// Letters (possibly with an inner hyphen, apostrophe, period or colon) that look like a word.
    Word,
    /// Has letters but does not look like a word.
    NonWord,
    /// No letter at all: numbers, punctuation, symbols.
    NonAlpha,
}

const EDGE: &[char] = &[
    '.', ',', ';', ':', '!', '?', '"', '\'', '(', ')', '[', ']', '{', '}', '«', '»', '„', '“', '”', '‘', '’', '‚', '-',
    '–', '—', '…', '*', '/',
];

fn is_vowel(c: char) -> bool {
    matches!(
        c,
        'a' | 'e'
            | 'i'
            | 'o'
            | 'u'
            | 'y'
            | 'å'
            | 'ä'
            | 'ö'
            | 'æ'
            | 'ø'
            | 'é'
            | 'è'
            | 'ê'
            | 'á'
            | 'à'
            | 'â'
            | 'í'
            | 'ì'
            | 'î'
            | 'ó'
            | 'ò'
            | 'ô'
            | 'ú'
            | 'ù'
            | 'û'
            | 'ü'
            | 'ý'
            | 'ë'
            | 'ï'
            | 'õ'
    )
}

/// Lower-case form and case of a letter; Latin-1 letters without a Unicode table lookup.
#[inline]
fn lower_upper(c: char) -> (char, bool) {
    match c {
        'a'..='z' => (c, false),
        'A'..='Z' => (c.to_ascii_lowercase(), true),
        'à'..='þ' if c != '÷' => (c, false),
        'À'..='Þ' if c != '×' => (char::from_u32(c as u32 + 32).unwrap_or(c), true),
        'ß' | 'ÿ' => (c, false),
        _ => (c.to_lowercase().next().unwrap_or(c), c.is_uppercase()),
    }
}

/// Letter, digit or other, without a Unicode table lookup for ASCII and Latin-1.
#[inline]
fn kind_of(c: char) -> u8 {
    match c {
        'a'..='z' | 'A'..='Z' => 1,
        '0'..='9' => 2,
        c if c.is_ascii() => 3,
        'À'..='ÿ' if c != '×' && c != '÷' => 1,
        c if c.is_alphabetic() => 1,
        c if c.is_numeric() => 2,
        _ => 3,
    }
}

/// Latin letters (Basic Latin to Latin Extended-B, IPA, Latin Extended Additional).
fn is_latin(c: char) -> bool {
    (c as u32) < 0x0370 || ('\u{1E00}'..='\u{1EFF}').contains(&c)
}

#[inline]
fn is_edge(c: char) -> bool {
    if c.is_ascii() {
        matches!(
            c,
            '.' | ',' | ';' | ':' | '!' | '?' | '"' | '\'' | '(' | ')' | '[' | ']' | '{' | '}' | '-' | '*' | '/'
        )
    } else {
        EDGE.contains(&c)
    }
}

/// `token` without edge punctuation.
pub(crate) fn trim_edge(token: &str) -> &str {
    // Most tokens start and end with an ASCII letter or digit: nothing to trim.
    if let (Some(&a), Some(&z)) = (token.as_bytes().first(), token.as_bytes().last()) {
        if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
            return token;
        }
    }
    let start = token.char_indices().find(|(_, c)| !is_edge(*c)).map_or(token.len(), |(i, _)| i);
    let rest = &token[start..];
    let end = rest.char_indices().rev().find(|(_, c)| !is_edge(*c)).map_or(0, |(i, c)| i + c.len_utf8());
    &rest[..end]
}

/// Classifies one whitespace-separated token.
pub fn classify(token: &str) -> TokenClass {
    scan_token(token, token.is_ascii()).class
}

/// What the token pass needs to know about one character: looked up in a table for Latin-1
/// (nearly every character of the collections), computed from the functions above otherwise,
/// so both give the same answer by construction.
#[derive(Debug, Clone, Copy)]
struct CharInfo {
    /// As [`kind_of`]: 1 letter, 2 digit, 3 other.
    kind: u8,
    upper: bool,
    /// The lower-case letter, `ſ` read as `s` (runs of equal letters, vowels).
    lower: char,
    vowel: bool,
    latin: bool,
}

impl CharInfo {
    fn of(c: char) -> Self {
        let kind = kind_of(c);
        if kind != 1 {
            return Self { kind, upper: false, lower: c, vowel: false, latin: false };
        }
        let (lc, upper) = lower_upper(c);
        let lower = if lc == 'ſ' { 's' } else { lc };
        Self { kind, upper, lower, vowel: is_vowel(lower), latin: is_latin(c) }
    }
}

fn latin1() -> &'static [CharInfo; 256] {
    static TABLE: OnceLock<[CharInfo; 256]> = OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|b| CharInfo::of(char::from(b as u8))))
}

#[inline]
fn info(c: char, table: &[CharInfo; 256]) -> CharInfo {
    match table.get(c as usize) {
        Some(i) => *i,
        None => CharInfo::of(c),
    }
}

/// One token's class, letters, and its letters and digits in runs of 4+ equal characters.
struct TokenScan {
    class: TokenClass,
    letters: usize,
    repeat_chars: u64,
    alnum_chars: u64,
}

/// The running state of [`scan_token`]: the word-likeness checks and the repeated-character
/// runs, both fed one character at a time.
#[derive(Default)]
struct TokenState {
    letters: usize,
    digits: usize,
    other: usize,
    latin: bool,
    non_latin: bool,
    vowels: usize,
    vowel_run: usize,
    cons_run: usize,
    same_run: usize,
    prev: Option<char>,
    inner_upper: bool,
    lower_seen: bool,
    /// Letter ↔ digit switches.
    transitions: usize,
    prev_kind: u8,
    /// Characters seen.
    index: usize,
    /// Decided non-word by a run (equal letters, consonants, vowels): the checks stop.
    run_non_word: bool,
    run_prev: Option<char>,
    run: u64,
    repeat_chars: u64,
    alnum_chars: u64,
}

impl TokenState {
    #[inline(always)]
    fn step(&mut self, c: char, ci: CharInfo) {
        // Runs of the same letter or digit; anything else ends a run.
        if ci.kind != 3 {
            self.alnum_chars += 1;
            if self.run_prev == Some(c) {
                self.run += 1;
            } else {
                if self.run >= 4 {
                    self.repeat_chars += self.run;
                }
                self.run = 1;
            }
            self.run_prev = Some(c);
        } else {
            if self.run >= 4 {
                self.repeat_chars += self.run;
            }
            self.run = 0;
            self.run_prev = None;
        }
        if self.run_non_word {
            return;
        }
        let i = self.index;
        self.index += 1;
        let kind = ci.kind;
        let prev_kind_before = self.prev_kind;
        if kind != 3 && self.prev_kind != 0 && self.prev_kind != 3 && kind != self.prev_kind {
            self.transitions += 1;
        }
        self.prev_kind = kind;
        match kind {
            1 => {
                self.letters += 1;
                if ci.latin {
                    self.latin = true;
                } else {
                    self.non_latin = true;
                }
                if ci.upper {
                    // After a hyphen or apostrophe a capital starts a new part (`Hälsinge-Posten`).
                    if i > 0 && self.lower_seen && prev_kind_before == 1 {
                        self.inner_upper = true;
                    }
                } else {
                    self.lower_seen = true;
                }
                let lc = ci.lower;
                if ci.vowel {
                    self.vowels += 1;
                    self.vowel_run += 1;
                    self.cons_run = 0;
                } else {
                    self.cons_run += 1;
                    self.vowel_run = 0;
                }
                self.same_run = if self.prev == Some(lc) { self.same_run + 1 } else { 1 };
                self.prev = Some(lc);
                if self.same_run >= 3 || self.cons_run >= 6 || self.vowel_run >= 5 {
                    self.run_non_word = true;
                }
            }
            2 => {
                self.digits += 1;
                self.prev = None;
                self.vowel_run = 0;
                self.cons_run = 0;
            }
            _ => {
                // Inner hyphens, apostrophes, periods and colons are word characters (`bl.a.`,
                // `1:a`, `O'Connor`, `Hälsinge-Posten`); anything else is not.
                if !matches!(c, '-' | '\'' | '’' | '.' | ':' | '&') {
                    self.other += 1;
                }
                self.prev = None;
                self.vowel_run = 0;
                self.cons_run = 0;
            }
        }
    }

    fn finish(mut self, t: &str) -> TokenScan {
        if self.run >= 4 {
            self.repeat_chars += self.run;
        }
        let class = self.class(t);
        TokenScan { class, letters: self.letters, repeat_chars: self.repeat_chars, alnum_chars: self.alnum_chars }
    }

    fn class(&self, t: &str) -> TokenClass {
        if self.run_non_word {
            return TokenClass::NonWord;
        }
        if self.letters == 0 {
            return TokenClass::NonAlpha;
        }
        // `1:a` and `10-talet` have a separator; `2dra`, `3dje`, `1st` are ordinals. Any other
        // mix of digits and letters (`1ndia`, `tl1e`) is OCR noise.
        let mixed = self.digits > 0 && self.transitions > 0 && !is_ordinal(t);
        if self.other > 0
            || mixed
            || (self.latin && self.non_latin)
            || self.inner_upper
                && self.letters > 1
                && t.chars().filter(|c| c.is_lowercase()).count() > 0
                && !is_camel_name(t)
            || (self.vowels == 0 && self.letters > 3)
            || self.letters > 30
        {
            TokenClass::NonWord
        } else {
            TokenClass::Word
        }
    }
}

/// Classifies one whitespace-separated token (`ascii`: it is all ASCII) and counts its
/// repeated characters. Edge punctuation is stripped first; it is never a letter or digit, so
/// it neither starts nor continues a run of repeated characters.
fn scan_token(token: &str, ascii: bool) -> TokenScan {
    let t = trim_edge(token);
    let table = latin1();
    let mut st = TokenState::default();
    if ascii {
        for &b in t.as_bytes() {
            st.step(char::from(b), table[b as usize]);
        }
    } else {
        for c in t.chars() {
            st.step(c, info(c, table));
        }
    }
    st.finish(t)
}

/// `2dra`, `3dje`, `21sta`, `1st`, `4th`.
fn is_ordinal(t: &str) -> bool {
    let suffix = t.trim_start_matches(|c: char| c.is_ascii_digit());
    suffix.len() < t.len()
        && matches!(suffix, "a" | "e" | "dra" | "dje" | "sta" | "nde" | "de" | "te" | "st" | "nd" | "rd" | "th")
}

/// `McDonald`, `MacArthur`, `DeGeer`: one inner capital after a short prefix.
fn is_camel_name(t: &str) -> bool {
    let uppers: Vec<usize> = t.char_indices().filter(|(_, c)| c.is_uppercase()).map(|(i, _)| i).collect::<Vec<_>>();
    uppers.len() == 2 && uppers[0] == 0 && uppers[1] <= 3 && uppers[1] > 0
}

/// Token-level measures of a text.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QualityMeasures {
    pub tokens: u32,
    pub non_alpha: u32,
    pub non_word: u32,
    /// Letters in word-like tokens.
    pub word_letters: u64,
    pub words: u32,
    /// Letters and digits in runs of 4 or more of the same character.
    pub repeat_chars: u64,
    pub alnum_chars: u64,
}

impl QualityMeasures {
    /// Tokens without a letter, over all tokens.
    pub fn non_alpha_share(&self) -> f32 {
        ratio(self.non_alpha as f64, self.tokens as f64)
    }

    /// Tokens with letters that do not look like words, over tokens with letters.
    pub fn non_word_share(&self) -> f32 {
        ratio(self.non_word as f64, (self.tokens - self.non_alpha) as f64)
    }

    /// Mean length in letters of the word-like tokens.
    pub fn mean_word_length(&self) -> f32 {
        ratio(self.word_letters as f64, self.words as f64)
    }

    pub fn repeat_char_share(&self) -> f32 {
        ratio(self.repeat_chars as f64, self.alnum_chars as f64)
    }
}

pub(crate) fn ratio(a: f64, b: f64) -> f32 {
    if b == 0.0 {
        0.0
    } else {
        (a / b) as f32
    }
}

/// Measures `text` in one pass over its tokens (split as [`str::split_whitespace`] splits).
pub fn measure(text: &str) -> QualityMeasures {
    let mut m = QualityMeasures::default();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let (ws, len) = whitespace_at(text, i);
        if ws {
            i += len;
            continue;
        }
        let start = i;
        let mut ascii = true;
        while i < b.len() {
            let (ws, len) = whitespace_at(text, i);
            if ws {
                break;
            }
            ascii &= len == 1;
            i += len;
        }
        let tok = scan_token(&text[start..i], ascii);
        m.tokens += 1;
        m.repeat_chars += tok.repeat_chars;
        m.alnum_chars += tok.alnum_chars;
        match tok.class {
            TokenClass::NonAlpha => m.non_alpha += 1,
            TokenClass::NonWord => m.non_word += 1,
            TokenClass::Word => {
                m.words += 1;
                m.word_letters += tok.letters as u64;
            }
        }
    }
    m
}

/// Whether the character at byte `i` of `s` is whitespace ([`char::is_whitespace`]), and its
/// length in bytes. Only characters led by 0xC2, 0xE1, 0xE2 or 0xE3 can be non-ASCII
/// whitespace (U+0085, U+00A0, U+1680, U+2000–U+205F, U+3000); others are skipped undecoded.
#[inline(always)]
pub(crate) fn whitespace_at(s: &str, i: usize) -> (bool, usize) {
    let b = s.as_bytes()[i];
    match b {
        0x00..=0x7F => (matches!(b, b' ' | b'\t'..=b'\r'), 1),
        0xC2 | 0xE1..=0xE3 => {
            let c = s[i..].chars().next().unwrap_or(' ');
            (c.is_whitespace(), c.len_utf8())
        }
        0xC0..=0xDF => (false, 2),
        0xE0..=0xEF => (false, 3),
        _ => (false, 4),
    }
}

/// Whether a line is garbage: at least 3 tokens, and more than `max_share` of them are not
/// words (no letter, or not word-like). A line of only symbols (`=-=-=`, `■ ■ ■`) with letters
/// nowhere is garbage too.
pub fn is_garbage_line(line: &str, max_share: f32) -> bool {
    let (mut n, mut bad) = (0u32, 0u32);
    for tok in line.split_whitespace() {
        n += 1;
        if classify(tok) != TokenClass::Word {
            bad += 1;
        }
    }
    if n == 0 {
        return false;
    }
    let only_symbols = !line.chars().any(char::is_alphanumeric);
    (n >= 3 && bad as f32 / n as f32 > max_share) || (only_symbols && line.trim().chars().count() >= 3)
}

/// `text` without its garbage lines and how many were removed; `None` when there are none.
pub fn drop_garbage_lines(text: &str, max_share: f32) -> Option<(String, u64)> {
    let mut removed = 0u64;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if is_garbage_line(line, max_share) {
            removed += 1;
        } else {
            out.push_str(line);
        }
    }
    (removed > 0).then(|| (out.trim_end().to_string(), removed))
}

/// The measures as first written (a pass over `split_whitespace` tokens, then one over the
/// characters): the reference the one-pass [`measure`] must agree with exactly.
#[cfg(test)]
pub(crate) mod reference {
    use super::*;

    pub(crate) fn trim_edge(token: &str) -> &str {
        let start = token.char_indices().find(|(_, c)| !is_edge(*c)).map_or(token.len(), |(i, _)| i);
        let rest = &token[start..];
        let end = rest.char_indices().rev().find(|(_, c)| !is_edge(*c)).map_or(0, |(i, c)| i + c.len_utf8());
        &rest[..end]
    }

    pub(crate) fn classify_trimmed(t: &str) -> (TokenClass, usize) {
        // Most tokens without a letter are numbers: decide those without the full pass.
        if t.bytes().all(|b| b.is_ascii() && !b.is_ascii_alphabetic()) {
            return (TokenClass::NonAlpha, 0);
        }
        let (mut letters, mut digits, mut other) = (0usize, 0usize, 0usize);
        let (mut latin, mut non_latin) = (false, false);
        let (mut vowels, mut vowel_run, mut cons_run, mut same_run) = (0usize, 0usize, 0usize, 0usize);
        let mut prev: Option<char> = None;
        let mut inner_upper = false;
        let mut lower_seen = false;
        let mut transitions = 0; // letter ↔ digit switches
        let mut prev_kind = 0u8;
        for (i, c) in t.chars().enumerate() {
            let kind = kind_of(c);
            let prev_kind_before = prev_kind;
            if kind != 3 && prev_kind != 0 && prev_kind != 3 && kind != prev_kind {
                transitions += 1;
            }
            prev_kind = kind;
            match kind {
                1 => {
                    letters += 1;
                    if is_latin(c) {
                        latin = true;
                    } else {
                        non_latin = true;
                    }
                    let (lc, upper) = lower_upper(c);
                    if upper {
                        // After a hyphen or apostrophe a capital starts a new part (`Hälsinge-Posten`).
                        if i > 0 && lower_seen && prev_kind_before == 1 {
                            inner_upper = true;
                        }
                    } else {
                        lower_seen = true;
                    }
                    let lc = if lc == 'ſ' { 's' } else { lc };
                    if is_vowel(lc) {
                        vowels += 1;
                        vowel_run += 1;
                        cons_run = 0;
                    } else {
                        cons_run += 1;
                        vowel_run = 0;
                    }
                    same_run = if prev == Some(lc) { same_run + 1 } else { 1 };
                    prev = Some(lc);
                    if same_run >= 3 || cons_run >= 6 || vowel_run >= 5 {
                        return (TokenClass::NonWord, letters);
                    }
                }
                2 => {
                    digits += 1;
                    prev = None;
                    vowel_run = 0;
                    cons_run = 0;
                }
                _ => {
                    // Inner hyphens, apostrophes, periods and colons are word characters (`bl.a.`,
                    // `1:a`, `O'Connor`, `Hälsinge-Posten`); anything else is not.
                    if !matches!(c, '-' | '\'' | '’' | '.' | ':' | '&') {
                        other += 1;
                    }
                    prev = None;
                    vowel_run = 0;
                    cons_run = 0;
                }
            }
        }
        if letters == 0 {
            return (TokenClass::NonAlpha, 0);
        }
        // `1:a` and `10-talet` have a separator; `2dra`, `3dje`, `1st` are ordinals. Any other
        // mix of digits and letters (`1ndia`, `tl1e`) is OCR noise.
        let mixed = digits > 0 && transitions > 0 && !is_ordinal(t);
        if other > 0
            || mixed
            || (latin && non_latin)
            || inner_upper && letters > 1 && t.chars().filter(|c| c.is_lowercase()).count() > 0 && !is_camel_name(t)
            || (vowels == 0 && letters > 3)
            || letters > 30
        {
            (TokenClass::NonWord, letters)
        } else {
            (TokenClass::Word, letters)
        }
    }

    pub(crate) fn measure(text: &str) -> QualityMeasures {
        let mut m = QualityMeasures::default();
        for tok in text.split_whitespace() {
            m.tokens += 1;
            match classify_trimmed(trim_edge(tok)) {
                (TokenClass::NonAlpha, _) => m.non_alpha += 1,
                (TokenClass::NonWord, _) => m.non_word += 1,
                (TokenClass::Word, letters) => {
                    m.words += 1;
                    m.word_letters += letters as u64;
                }
            }
        }
        let (mut prev, mut run) = (None, 0u64);
        for c in text.chars() {
            if kind_of(c) != 3 {
                m.alnum_chars += 1;
                if prev == Some(c) {
                    run += 1;
                } else {
                    if run >= 4 {
                        m.repeat_chars += run;
                    }
                    run = 1;
                }
                prev = Some(c);
            } else {
                if run >= 4 {
                    m.repeat_chars += run;
                }
                run = 0;
                prev = None;
            }
        }
        if run >= 4 {
            m.repeat_chars += run;
        }
        m
    }
}

/// Real OCR'd pages (NewsEye, Swedish and Finnish, 1848–1918) for the equivalence tests of the
/// signal passes; `None`, with the reason printed, when `../shared/data` is absent.
#[cfg(test)]
pub(crate) fn newspaper_pages() -> Option<Vec<String>> {
    let p = crate::ingest::testing::shared_data("newspaper_text/newseye_sv_fi_pages.train_dev.jsonl")?;
    let pages = crate::eval::filter::read_pages(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    Some(pages.into_iter().map(|(_, t)| t).collect())
}

/// Texts that exercise the corners of the token and line passes: every kind of whitespace,
/// edge punctuation, Latin-1 and other letters, runs, time stamps, symbols, digits for PII.
#[cfg(test)]
pub(crate) const TRICKY_ALPHABET: &str = "[a-cA-CeEiIoOyYsſlL1-9 0åÅäÄöÖæøÆØéÉßÿµªœŒΑαРрuиÞþÐð.,;:!?\"'()«»„“”‘’‚\\-–—…*/#|^~{}_<>¦■□▪●•·@+&%$§\t\n\r\u{b}\u{c}\u{85}\u{a0}\u{1680}\u{2000}\u{2009}\u{200b}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}\u{1F600}]{0,120}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_non_words() {
        for w in [
            "och",
            "Stockholm,",
            "(hvad",
            "qvinna",
            "Hälsinge-Posten",
            "bl.a.",
            "1:a",
            "10-talet",
            "McDonald",
            "ſtaden",
            "järnvägsstationen",
            "HUFVUDSTADSBLADET",
            "i",
            "kr.",
        ] {
            assert_eq!(classify(w), TokenClass::Word, "{w}");
        }
        for w in ["1ndia", "tl1e1", "w^e", "tHe", "StocKholm", "aaaboo", "mrkstnd", "xzqwrtp", "a»b", "Рuтin"] {
            assert_eq!(classify(w), TokenClass::NonWord, "{w}");
        }
        for w in ["1898", "—", "12.50", "§", "3/4"] {
            assert_eq!(classify(w), TokenClass::NonAlpha, "{w}");
        }
    }

    #[test]
    fn measures_of_clean_and_garbled_ocr() {
        // A real-looking clean line of a 1898 newspaper, and the same through bad Fraktur OCR.
        let clean = measure("Lördagen den 22 Januari 1898. Hufvudstadsbladet meddelar att riksdagen sammanträder.");
        assert_eq!(clean.non_word, 0);
        assert!(clean.non_alpha_share() <= 0.2);
        assert!(clean.mean_word_length() > 4.0);
        let garbled = measure("L3rdagen dcn 2Z Ianuari l8g8. Hufvud^tadsbl adet mcddelar att ri5sdagen ſam'm;an");
        assert!(garbled.non_word_share() > 0.2, "{garbled:?}");
    }

    #[test]
    fn repeated_characters() {
        let m = measure("iiiiiiii llllll mmmmm text");
        assert!(m.repeat_char_share() > 0.7, "{m:?}");
        assert_eq!(measure("Jag tror att allt går bra").repeat_chars, 0);
    }

    #[test]
    fn garbage_lines_are_dropped() {
        let t = "Riksdagen sammanträdde i dag.\n,:; ^^ 1l1 ;;\n■ ■ ■ ■\nDen nya lagen antogs.";
        let (clean, n) = drop_garbage_lines(t, 0.6).unwrap();
        assert_eq!(n, 2);
        assert_eq!(clean, "Riksdagen sammanträdde i dag.\nDen nya lagen antogs.");
        assert!(drop_garbage_lines("Allt är bra här.", 0.6).is_none());
    }

    #[test]
    fn one_pass_agrees_with_the_reference_on_real_pages() {
        let Some(pages) = newspaper_pages() else { return };
        for (k, p) in pages.iter().enumerate() {
            assert_eq!(measure(p), reference::measure(p), "page {k}");
            for line in p.lines() {
                for tok in line.split_whitespace() {
                    assert_eq!(classify(tok), reference::classify_trimmed(reference::trim_edge(tok)).0, "{tok:?}");
                }
            }
        }
    }

    #[test]
    fn one_pass_agrees_with_the_reference_on_corner_cases() {
        for t in [
            "",
            " ",
            "a",
            "\u{a0}x\u{a0}",
            "aaaa",
            "llll.",
            "(1111)",
            "x1111y",
            "ſſſſ",
            "SSSſ",
            "ÅÅÅÅ åååå",
            "«Hvad»",
            "„Qvinna“",
            "…och…",
            "O'Connor",
            "tHe",
            "McDonald",
            "MacArthur",
            "1ndia",
            "2dra",
            "a1b2",
            "Рuтin",
            "ÞÞÞ",
            "µµµµ",
            "ªbcd",
            "word\u{2028}word",
            "a\u{85}b",
            "\u{1F600}\u{1F600}\u{1F600}\u{1F600}",
        ] {
            assert_eq!(measure(t), reference::measure(t), "{t:?}");
            assert_eq!(classify(t), reference::classify_trimmed(reference::trim_edge(t)).0, "{t:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn one_pass_agrees_with_the_reference(t in TRICKY_ALPHABET) {
            proptest::prop_assert_eq!(measure(&t), reference::measure(&t));
            for tok in t.split_whitespace() {
                proptest::prop_assert_eq!(classify(tok), reference::classify_trimmed(reference::trim_edge(tok)).0);
            }
        }
    }
}

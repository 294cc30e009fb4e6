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
fn trim_edge(token: &str) -> &str {
    let start = token.char_indices().find(|(_, c)| !is_edge(*c)).map_or(token.len(), |(i, _)| i);
    let rest = &token[start..];
    let end = rest.char_indices().rev().find(|(_, c)| !is_edge(*c)).map_or(0, |(i, c)| i + c.len_utf8());
    &rest[..end]
}

/// Classifies one whitespace-separated token.
pub fn classify(token: &str) -> TokenClass {
    classify_counting(token).0
}

/// The class and the number of letters of a token.
fn classify_counting(token: &str) -> (TokenClass, usize) {
    let t = trim_edge(token);
    let (class, letters) = classify_trimmed(t);
    (class, letters)
}

fn classify_trimmed(t: &str) -> (TokenClass, usize) {
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

/// Measures `text` in one pass over its tokens.
pub fn measure(text: &str) -> QualityMeasures {
    let mut m = QualityMeasures::default();
    for tok in text.split_whitespace() {
        m.tokens += 1;
        match classify_counting(tok) {
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
}

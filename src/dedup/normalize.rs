//! Text normalization for duplicate detection: what two OCR'd copies of the same text should
//! agree on. The output is only compared, never stored as the document's text.
//!
//! In order: Fraktur long s (`ſ`) → `s`, ligatures expanded, words hyphenated across a line
//! break joined (`Men-\nſchen` → `Menschen`; also `¬`, `⸗`, soft hyphen), lower case (option),
//! diacritics and combining marks removed (option), digits mapped to `0` (option), everything
//! that is not a letter or digit becomes a word break. Words come out separated by one space.

use unicode_normalization::char::{canonical_combining_class, decompose_canonical};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Normalization {
    pub lowercase: bool,
    /// Strip diacritics (`å` → `a`, `ü` → `u`) and combining marks (`oͤ` → `o`).
    pub strip_diacritics: bool,
    /// Map every digit to `0` (OCR confuses digits; page numbers and dates differ between copies).
    pub fold_digits: bool,
}

impl Default for Normalization {
    fn default() -> Self {
        Self { lowercase: true, strip_diacritics: true, fold_digits: true }
    }
}

/// Appends the normalized form of `text` to `out` (cleared first): words separated by one space.
///
/// **Speed.** This was two thirds of the time of a signature (`cargo bench --bench minhash`),
/// so it walks bytes in runs rather than chars one by one: a run of ASCII letters and digits
/// (most of Latin-script text) is mapped through a table and appended in one go; a letter of
/// U+00C0..U+00FF (`å ä ö é ü`, two bytes led by 0xC3) is looked up by its second byte;
/// anything else — punctuation, whitespace, other characters, a pending hyphenation break —
/// goes through `Normalizer::char`, the rules above written out for one character. The tests
/// hold the result equal to the plain per-char version (`reference`) on all of
/// `../shared/data` and on random text, under every option.
pub fn normalize_into(text: &str, opts: Normalization, out: &mut String) {
    out.clear();
    out.reserve(text.len());
    let ascii = ascii_table(opts);
    let latin1 = latin1_table(opts);
    let mut n = Normalizer { opts, pending_space: false, hyphen: false, hyphen_newline: false };
    // SAFETY: only whole UTF-8 sequences are appended below (ASCII bytes, a table entry that
    // holds one encoded char, chars encoded by `Normalizer`), so `out` stays valid UTF-8.
    let buf = unsafe { out.as_mut_vec() };
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !n.hyphen {
            i = ascii_run(b, i, ascii, buf, &mut n.pending_space);
            if i == b.len() {
                break;
            }
        }
        let x = b[i];
        if x < 0x80 {
            n.char(x as char, buf);
            i += 1;
            continue;
        }
        if x == 0xC3 && !n.hyphen && i + 1 < b.len() {
            let (len, bytes) = latin1[(b[i + 1] & 0x3F) as usize];
            if len != 0 {
                n.space_if_pending(buf);
                buf.extend_from_slice(&bytes[..len as usize]);
                i += 2;
                continue;
            }
        }
        // `i` is at a char boundary: every step above advances by whole chars.
        let c = text[i..].chars().next().expect("a char starts here");
        n.char(c, buf);
        i += c.len_utf8();
    }
}

/// Normalizes ASCII from `b[i..]` up to the first byte that is not ASCII or is a hyphen (the
/// two cases that need state or decoding), appending to `out`; returns where it stopped.
///
/// Without branches on the text: every byte writes a space and its mapped form at the end of
/// `out`, and the length advances only over what the rules keep (a space when a letter or
/// digit follows a break in a non-empty output, the letter or digit itself). Word boundaries
/// are unpredictable, so a branch per word was where the time went.
#[inline(always)]
fn ascii_run(b: &[u8], mut i: usize, table: &[u8; 256], out: &mut Vec<u8>, pending_space: &mut bool) -> usize {
    // Each byte adds at most one byte to the length, plus the one space before the first
    // letter; the writes reach one past the length.
    out.reserve(b.len() - i + 2);
    let base = out.as_mut_ptr();
    let mut len = out.len();
    let mut pending = *pending_space as usize;
    let mut nonempty = (len != 0) as usize;
    while i < b.len() {
        let x = b[i];
        if x >= 0x80 || x == b'-' {
            break;
        }
        let m = table[x as usize];
        let keep = (m != 0) as usize;
        // SAFETY: `len` ≤ the length at entry + bytes consumed + 1, and both writes are at
        // `len` or `len + 1`, within the capacity reserved above. Only ASCII is written, and
        // only below the final `len` does it become part of the string.
        unsafe {
            *base.add(len) = b' ';
            len += keep & pending & nonempty;
            *base.add(len) = m;
        }
        len += keep;
        // A break (anything kept nothing) leaves a space pending; a letter or digit clears it.
        pending = keep ^ 1;
        nonempty |= keep;
        i += 1;
    }
    // SAFETY: the bytes below `len` were written above (or were there), all ASCII.
    unsafe { out.set_len(len) };
    *pending_space = pending != 0;
    i
}

/// For each byte, what an ASCII letter or digit becomes under `opts`; 0 for everything else
/// (other ASCII, and every byte of a multi-byte char).
fn ascii_table(opts: Normalization) -> &'static [u8; 256] {
    const fn build(lowercase: bool, fold_digits: bool) -> [u8; 256] {
        let mut t = [0u8; 256];
        let mut b = 0;
        while b < 128 {
            let c = b as u8;
            t[b] = if c.is_ascii_uppercase() {
                if lowercase {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            } else if c.is_ascii_lowercase() {
                c
            } else if c.is_ascii_digit() {
                if fold_digits {
                    b'0'
                } else {
                    c
                }
            } else {
                0
            };
            b += 1;
        }
        t
    }
    static TABLES: [[u8; 256]; 4] = [build(false, false), build(false, true), build(true, false), build(true, true)];
    &TABLES[opts.lowercase as usize * 2 + opts.fold_digits as usize]
}

/// A normalized Latin-1 letter: its UTF-8 length (0: none) and bytes.
type Latin1Table = [(u8, [u8; 2]); 64];

/// For U+00C0..=U+00FF (UTF-8 `C3 80`..`C3 BF`), indexed by the low 6 bits of the second
/// byte: the normalized letter, encoded (length, bytes); length 0 for `×`, `÷` and anything
/// the general rules must see.
fn latin1_table(opts: Normalization) -> &'static Latin1Table {
    static TABLES: [std::sync::OnceLock<Latin1Table>; 4] = [const { std::sync::OnceLock::new() }; 4];
    let idx = opts.lowercase as usize * 2 + opts.strip_diacritics as usize;
    TABLES[idx].get_or_init(|| {
        std::array::from_fn(|k| {
            let c = char::from_u32(0xC0 + k as u32).expect("Latin-1 is all chars");
            let l = latin(c, opts);
            if l == '\0' || l.len_utf8() > 2 {
                return (0, [0; 2]);
            }
            let mut bytes = [0u8; 2];
            let len = l.encode_utf8(&mut bytes).len() as u8;
            (len, bytes)
        })
    })
}

/// The state of one normalization: a word break is pending, or a hyphen (possibly followed by
/// a line break) may join two halves of a word.
struct Normalizer {
    opts: Normalization,
    pending_space: bool,
    hyphen: bool,
    hyphen_newline: bool,
}

impl Normalizer {
    #[inline(always)]
    fn space_if_pending(&mut self, out: &mut Vec<u8>) {
        if self.pending_space && !out.is_empty() {
            out.push(b' ');
        }
        self.pending_space = false;
    }

    #[inline]
    fn push(&mut self, c: char, out: &mut Vec<u8>) {
        self.space_if_pending(out);
        let mut b = [0; 4];
        out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
    }

    /// One character by the general rules.
    fn char(&mut self, c: char, out: &mut Vec<u8>) {
        let opts = self.opts;
        // Hyphenation across line breaks: letter, hyphen, optional spaces, newline, spaces, letter.
        if self.hyphen {
            match c {
                '\n' | '\r' => {
                    self.hyphen_newline = true;
                    return;
                }
                ' ' | '\t' => return,
                _ => {
                    if !(self.hyphen_newline && c.is_alphanumeric()) {
                        self.pending_space = true;
                    }
                    self.hyphen = false;
                    self.hyphen_newline = false;
                }
            }
        }
        if c.is_ascii() {
            let c = c as u8;
            if c.is_ascii_alphabetic() {
                let c = if opts.lowercase { c.to_ascii_lowercase() } else { c };
                self.push(c as char, out);
            } else if c.is_ascii_digit() {
                self.push(if opts.fold_digits { '0' } else { c as char }, out);
            } else if c == b'-' && !out.is_empty() && !self.pending_space {
                self.hyphen = true;
            } else {
                self.pending_space = true;
            }
            return;
        }
        match c {
            'ſ' => self.push('s', out),
            '¬' | '⸗' | '\u{ad}' if !out.is_empty() && !self.pending_space => self.hyphen = true,
            '\u{ad}' => {}
            'ﬀ' | 'ﬁ' | 'ﬂ' | 'ﬃ' | 'ﬄ' | 'ﬅ' | 'ﬆ' => {
                let s = match c {
                    'ﬀ' => "ff",
                    'ﬁ' => "fi",
                    'ﬂ' => "fl",
                    'ﬃ' => "ffi",
                    'ﬄ' => "ffl",
                    _ => "st",
                };
                for l in s.chars() {
                    self.push(l, out);
                }
            }
            _ if ('\u{c0}'..='\u{24f}').contains(&c) && latin(c, opts) != '\0' => self.push(latin(c, opts), out),
            _ if canonical_combining_class(c) != 0 => {
                // A combining mark belongs to the letter before it: kept with it, or dropped.
                if !opts.strip_diacritics && !self.pending_space && !out.is_empty() {
                    let mut b = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                }
            }
            _ if c.is_alphabetic() => {
                let mut base = c;
                if opts.strip_diacritics {
                    let mut first = None;
                    decompose_canonical(c, |d| {
                        if first.is_none() {
                            first = Some(d);
                        }
                    });
                    base = first.unwrap_or(c);
                }
                if opts.lowercase {
                    for l in base.to_lowercase() {
                        self.push(l, out);
                    }
                } else {
                    self.push(base, out);
                }
            }
            _ if c.is_numeric() => self.push(if opts.fold_digits { '0' } else { c }, out),
            _ => self.pending_space = true,
        }
    }
}

/// The normalized form of a letter in U+00C0..=U+024F when it is a single character, else
/// `'\0'` (not a letter, or several characters: the general path handles those).
fn latin(c: char, opts: Normalization) -> char {
    static TABLES: [std::sync::OnceLock<Vec<char>>; 4] = [const { std::sync::OnceLock::new() }; 4];
    let idx = opts.lowercase as usize * 2 + opts.strip_diacritics as usize;
    let table = TABLES[idx].get_or_init(|| {
        (0xC0u32..=0x24F)
            .map(|u| {
                let Some(c) = char::from_u32(u) else { return '\0' };
                if !c.is_alphabetic() || canonical_combining_class(c) != 0 {
                    return '\0';
                }
                let mut base = c;
                if opts.strip_diacritics {
                    let mut first = None;
                    decompose_canonical(c, |d| {
                        first.get_or_insert(d);
                    });
                    base = first.unwrap_or(c);
                }
                if !opts.lowercase {
                    return base;
                }
                let mut l = base.to_lowercase();
                match (l.next(), l.next()) {
                    (Some(one), None) => one,
                    _ => '\0',
                }
            })
            .collect()
    });
    table[(c as u32 - 0xC0) as usize]
}

pub fn normalize(text: &str, opts: Normalization) -> String {
    let mut s = String::new();
    normalize_into(text, opts, &mut s);
    s
}

#[cfg(test)]
mod reference {
    //! The plain per-char normalization, which the fast one must equal.
    use super::{canonical_combining_class, decompose_canonical, latin, Normalization};

    pub fn normalize_into(text: &str, opts: Normalization, out: &mut String) {
        out.clear();
        out.reserve(text.len());
        let mut pending_space = false;
        // A hyphen seen at the end of a word, waiting to see whether a line break follows.
        let mut hyphen = false;
        let mut hyphen_newline = false;
        let push_char = |c: char, out: &mut String, pending_space: &mut bool| {
            if *pending_space && !out.is_empty() {
                out.push(' ');
            }
            *pending_space = false;
            out.push(c);
        };
        for c in text.chars() {
            // Hyphenation across line breaks: letter, hyphen, optional spaces, newline, spaces, letter.
            if hyphen {
                match c {
                    '\n' | '\r' => {
                        hyphen_newline = true;
                        continue;
                    }
                    ' ' | '\t' => continue,
                    _ => {
                        if !(hyphen_newline && c.is_alphanumeric()) {
                            pending_space = true;
                        }
                        hyphen = false;
                        hyphen_newline = false;
                    }
                }
            }
            if c.is_ascii() {
                let c = c as u8;
                if c.is_ascii_alphabetic() {
                    let c = if opts.lowercase { c.to_ascii_lowercase() } else { c };
                    push_char(c as char, out, &mut pending_space);
                } else if c.is_ascii_digit() {
                    push_char(if opts.fold_digits { '0' } else { c as char }, out, &mut pending_space);
                } else if c == b'-' && !out.is_empty() && !pending_space {
                    hyphen = true;
                } else {
                    pending_space = true;
                }
                continue;
            }
            match c {
                'ſ' => push_char('s', out, &mut pending_space),
                '¬' | '⸗' | '\u{ad}' if !out.is_empty() && !pending_space => hyphen = true,
                '\u{ad}' => {}
                'ﬀ' | 'ﬁ' | 'ﬂ' | 'ﬃ' | 'ﬄ' | 'ﬅ' | 'ﬆ' => {
                    let s = match c {
                        'ﬀ' => "ff",
                        'ﬁ' => "fi",
                        'ﬂ' => "fl",
                        'ﬃ' => "ffi",
                        'ﬄ' => "ffl",
                        _ => "st",
                    };
                    for l in s.chars() {
                        push_char(l, out, &mut pending_space);
                    }
                }
                // Latin-1 and Latin Extended letters (å, ä, ö, é, ü, ł, …) from a table: the
                // Unicode lookups below were half of the time of a signature on Swedish text.
                _ if ('\u{c0}'..='\u{24f}').contains(&c) && latin(c, opts) != '\0' => {
                    push_char(latin(c, opts), out, &mut pending_space)
                }
                _ if canonical_combining_class(c) != 0 => {
                    // A combining mark: part of the letter before it, or dropped.
                    if !opts.strip_diacritics && !pending_space && !out.is_empty() {
                        out.push(c);
                    }
                }
                _ if c.is_alphabetic() => {
                    let mut base = c;
                    if opts.strip_diacritics {
                        let mut first = None;
                        decompose_canonical(c, |d| {
                            if first.is_none() {
                                first = Some(d);
                            }
                        });
                        base = first.unwrap_or(c);
                    }
                    if opts.lowercase {
                        for l in base.to_lowercase() {
                            push_char(l, out, &mut pending_space);
                        }
                    } else {
                        push_char(base, out, &mut pending_space);
                    }
                }
                _ if c.is_numeric() => push_char(if opts.fold_digits { '0' } else { c }, out, &mut pending_space),
                _ => pending_space = true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocr_copies_meet() {
        let o = Normalization::default();
        assert_eq!(normalize("Berliniſche Monatsſchrift.", o), "berlinische monatsschrift");
        assert_eq!(normalize("Zwoͤlftes Stuͤk", o), "zwolftes stuk");
        assert_eq!(normalize("Zwölftes Stük", o), "zwolftes stuk");
        assert_eq!(normalize("des Men-\nſchen aus", o), "des menschen aus");
        assert_eq!(normalize("des Men⸗\n ſchen", o), "des menschen");
        assert_eq!(normalize("Unmuͤn¬\ndigkeit", o), "unmundigkeit");
        assert_eq!(normalize("Stockholm-Göteborg", o), "stockholm goteborg");
        assert_eq!(normalize("år 1897, sid. 4", o), "ar 0000 sid 0");
        assert_eq!(normalize("ﬁnna ﬂera", o), "finna flera");
        assert_eq!(normalize("  ", o), "");
        assert_eq!(normalize("slut-", o), "slut");
    }

    /// The table path gives what the general rules give, for every letter it covers.
    #[test]
    fn latin_table_agrees_with_the_general_rules() {
        for lowercase in [false, true] {
            for strip in [false, true] {
                let o = Normalization { lowercase, strip_diacritics: strip, fold_digits: true };
                for u in 0xC0u32..=0x24F {
                    let Some(c) = char::from_u32(u) else { continue };
                    if c == 'ſ' || !c.is_alphabetic() {
                        continue;
                    }
                    let mut want = String::new();
                    let mut base = String::new();
                    if strip {
                        decompose_canonical(c, |d| {
                            if canonical_combining_class(d) == 0 {
                                base.push(d);
                            }
                        });
                    } else {
                        base.push(c);
                    }
                    for b in base.chars() {
                        if lowercase {
                            want.extend(b.to_lowercase());
                        } else {
                            want.push(b);
                        }
                    }
                    assert_eq!(normalize(&c.to_string(), o), want, "U+{u:04X} {c} lowercase={lowercase} strip={strip}");
                }
            }
        }
        let o = Normalization::default();
        assert_eq!(normalize("ÅÄÖ åäö Ærø Łódź", o), "aao aao ærø łodz");
    }

    #[test]
    fn options_can_keep_case_diacritics_digits() {
        let o = Normalization { lowercase: false, strip_diacritics: false, fold_digits: false };
        assert_eq!(normalize("Åbo 1749: ſtad", o), "Åbo 1749 stad");
    }
}

#[cfg(test)]
mod fast_equals_reference {
    use super::*;
    use proptest::prelude::*;

    fn check(text: &str) {
        for k in 0..8 {
            let o = Normalization { lowercase: k & 1 != 0, strip_diacritics: k & 2 != 0, fold_digits: k & 4 != 0 };
            let mut want = String::new();
            super::reference::normalize_into(text, o, &mut want);
            assert_eq!(normalize(text, o), want, "{o:?} on {text:?}");
        }
    }

    /// Every text file of the shared samples: OCR'd pages in many languages, Fraktur,
    /// subtitles, XML.
    #[test]
    fn on_the_shared_data() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
        if !dir.exists() {
            eprintln!("skipping: {} not found", dir.display());
            return;
        }
        let (mut stack, mut bytes) = (vec![dir], 0);
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(t) = std::fs::read_to_string(&p) {
                    if t.len() <= 4 << 20 {
                        bytes += t.len();
                        check(&t);
                    }
                }
            }
        }
        assert!(bytes > 1 << 20, "only {bytes} bytes of text found");
    }

    #[test]
    fn on_hyphenation_marks_and_latin1() {
        for t in [
            "Men-\nſchen",
            "Men- \r\n  ſchen",
            "a-\n-b",
            "-a",
            "a--b",
            "a- 1",
            "x-\n\nY",
            "Zwoͤlftes",
            " ͤa",
            "A\u{ad}\nb",
            "ﬁ-\nﬂ",
            "Ǆemal İstanbul",
            "ß-\nẞ",
            "1-\n2",
            "\u{ad}",
            "-\n",
            "Å×Ä÷Ö",
            "ä-\nö",
            "é-\nÉ",
            "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿ",
            "Ä\u{301}b",
            "a\u{ad}ä",
        ] {
            check(t);
        }
    }

    proptest! {
        #[test]
        fn on_random_text(t in "[ a-zA-Z0-9\\-\\n\\r\\t.,;åäöÅÄÖéÉÿ×÷ſ¬⸗\u{ad}ﬁ\u{364}\u{301}ΣωЖжǅİß½²]{0,80}") {
            check(&t);
        }

        #[test]
        fn on_any_string(t in any::<String>()) {
            check(&t);
        }

        /// Running text: words, and the breaks between them that the byte loop handles.
        #[test]
        fn on_words(t in "([a-zA-Z]{1,14}( |  |, |\\. |-|\\n|ä| 1|@|\\[|`|\\{|Z ){1,2}){0,40}") {
            check(&t);
        }
    }
}

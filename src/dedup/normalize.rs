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

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
    #[cfg(target_arch = "x86_64")]
    let blocks = vector::Blocks::new(opts);
    // SAFETY: only whole UTF-8 sequences are appended below (ASCII bytes, a table entry that
    // holds one encoded char, chars encoded by `Normalizer`), so `out` stays valid UTF-8.
    let buf = unsafe { out.as_mut_vec() };
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !n.hyphen {
            #[cfg(target_arch = "x86_64")]
            if let Some(blocks) = &blocks {
                i = blocks.run(b, i, buf, &mut n.pending_space);
            }
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

/// Sixteen bytes at a time, where the CPU has SSSE3 (every x86-64 CPU since about 2008): a
/// block of ASCII letters, digits and breaks, and of two-byte letters of U+00C0..U+00FF that
/// normalize to one ASCII letter (`å ä ö é ü` under the default options), is normalized with
/// vector compares, a table lookup for the letters and a byte shuffle that drops what the rules
/// drop. Any other block (a hyphen, another non-ASCII character, a letter cut by the block's
/// end) is left to the byte loops. On the Swedish and Finnish newspaper text of the dedup
/// benchmark 9% of the bytes are non-ASCII and most 16-byte blocks hold one; only 42% are
/// plain ASCII, which is why an ASCII-only vector path was no faster.
#[cfg(target_arch = "x86_64")]
mod vector {
    use std::arch::x86_64::*;

    use super::{latin1_table, Normalization};

    /// For each 8-bit mask, the indices of its set bits, in order (then zeros): the shuffle
    /// that packs the kept bytes of half a block to its front.
    const fn pack_table(offset: u8) -> [[u8; 8]; 256] {
        let mut t = [[0u8; 8]; 256];
        let mut m = 0;
        while m < 256 {
            let (mut k, mut bit) = (0, 0);
            while bit < 8 {
                if m & (1 << bit) != 0 {
                    t[m][k] = bit as u8 + offset;
                    k += 1;
                }
                bit += 1;
            }
            m += 1;
        }
        t
    }
    static PACK_LO: [[u8; 8]; 256] = pack_table(0);
    static PACK_HI: [[u8; 8]; 256] = pack_table(8);

    pub(super) struct Blocks {
        lowercase: bool,
        fold_digits: bool,
        /// What the second byte of `C3 xx` becomes, by `xx & 0x3F` in four rows of 16: one ASCII
        /// letter, or 0 where the byte loops must handle it.
        c3: [__m128i; 4],
    }

    impl Blocks {
        /// `None` where the CPU lacks SSSE3.
        pub(super) fn new(opts: Normalization) -> Option<Blocks> {
            if !is_x86_feature_detected!("ssse3") {
                return None;
            }
            let latin1 = latin1_table(opts);
            let mut single = [0u8; 64];
            for (k, &(len, bytes)) in latin1.iter().enumerate() {
                if len == 1 && bytes[0].is_ascii_alphanumeric() {
                    single[k] = bytes[0];
                }
            }
            // SAFETY: each load reads 16 bytes inside the 64-byte array.
            let c3 = std::array::from_fn(|r| unsafe { _mm_loadu_si128(single.as_ptr().add(16 * r).cast()) });
            Some(Blocks { lowercase: opts.lowercase, fold_digits: opts.fold_digits, c3 })
        }

        /// Normalizes whole blocks from `b[i..]` while they qualify; returns where it stopped.
        /// `pending_space` is the byte loops' state, carried in and out.
        #[inline]
        pub(super) fn run(&self, b: &[u8], i: usize, out: &mut Vec<u8>, pending_space: &mut bool) -> usize {
            if i + 16 > b.len() {
                return i;
            }
            // SAFETY: a `Blocks` exists only where SSSE3 was detected.
            unsafe { self.run_ssse3(b, i, out, pending_space) }
        }

        /// [`Blocks::run`], compiled for SSSE3 so that `block` is inlined into the loop.
        #[target_feature(enable = "ssse3")]
        unsafe fn run_ssse3(&self, b: &[u8], mut i: usize, out: &mut Vec<u8>, pending_space: &mut bool) -> usize {
            // A block adds at most 17 bytes (a space, then 16), and its two 8-byte stores reach
            // 16 past the length: 32 bytes of room per block keeps every store in capacity.
            out.reserve((b.len() - i) * 2 + 32);
            let mut len = out.len();
            let mut pending = *pending_space;
            while i + 16 <= b.len() {
                // SAFETY: `b[i..i + 16]` is in bounds; the capacity reserved above covers
                // `len + 32` for every block (each block consumes 16 input bytes and adds at
                // most 17 to `len`).
                if !unsafe { self.block(b.as_ptr().add(i), out.as_mut_ptr(), &mut len, &mut pending) } {
                    break;
                }
                i += 16;
            }
            // SAFETY: every byte below `len` was written (ASCII) by `block` or was there before.
            unsafe { out.set_len(len) };
            *pending_space = pending;
            i
        }

        /// One block at `src`: appends its normalized form at `dst + *len` and returns true, or
        /// returns false (nothing written) when the block does not qualify.
        #[inline]
        #[target_feature(enable = "ssse3")]
        unsafe fn block(&self, src: *const u8, dst: *mut u8, len: &mut usize, pending: &mut bool) -> bool {
            let v = _mm_loadu_si128(src.cast());
            let high = _mm_movemask_epi8(v) as u32;
            let lead = _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(0xC3u8 as i8))) as u32;
            let hyphen = _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'-' as i8))) as u32;
            let second = lead << 1;
            // Hyphens need the byte loops' state; a letter must end inside the block; every
            // other non-ASCII byte must be a `C3 xx` letter.
            if hyphen != 0 || lead & 0x8000 != 0 || high & !(lead | second) != 0 {
                return false;
            }
            // The letters of `C3 xx`: look up `xx & 0x3F` in the row `(xx >> 4) & 3`.
            let idx = _mm_and_si128(v, _mm_set1_epi8(0x0F));
            let row = _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x03));
            let mut latin = _mm_setzero_si128();
            for (r, table) in self.c3.iter().enumerate() {
                let hit = _mm_cmpeq_epi8(row, _mm_set1_epi8(r as i8));
                latin = _mm_or_si128(latin, _mm_and_si128(hit, _mm_shuffle_epi8(*table, idx)));
            }
            let missing = _mm_movemask_epi8(_mm_cmpeq_epi8(latin, _mm_setzero_si128())) as u32;
            if second & missing != 0 {
                return false;
            }
            // ASCII letters and digits, mapped. Every byte here that is not `C3 xx` is ASCII,
            // so signed compares order them.
            let within = |lo: u8, hi: u8| {
                _mm_and_si128(
                    _mm_cmpgt_epi8(v, _mm_set1_epi8(lo as i8 - 1)),
                    _mm_cmplt_epi8(v, _mm_set1_epi8(hi as i8 + 1)),
                )
            };
            let (upper, lower, digit) = (within(b'A', b'Z'), within(b'a', b'z'), within(b'0', b'9'));
            let mut mapped = v;
            if self.lowercase {
                mapped = _mm_or_si128(mapped, _mm_and_si128(upper, _mm_set1_epi8(0x20)));
            }
            if self.fold_digits {
                mapped = _mm_or_si128(_mm_andnot_si128(digit, mapped), _mm_and_si128(digit, _mm_set1_epi8(b'0' as i8)));
            }
            let ascii_alnum = _mm_or_si128(_mm_or_si128(upper, lower), digit);
            let alnum = _mm_movemask_epi8(ascii_alnum) as u32 | second;
            let breaks = !(alnum | lead) & 0xFFFF;
            // A run of breaks becomes one space, kept at its last byte when a letter follows
            // in the block (a letter's lead byte counts); one at the block's end stays pending.
            let starts = alnum | lead;
            let mut keep_breaks = breaks & (starts >> 1);
            let nonempty = *len != 0;
            if !nonempty {
                // Nothing written yet: no space before the first letter.
                keep_breaks &= !((1u32 << alnum.trailing_zeros().min(16)) - 1) & 0xFFFF;
            }
            if starts & 1 != 0 && *pending && nonempty {
                *dst.add(*len) = b' ';
                *len += 1;
            }
            let second_mask = _mm_cmpgt_epi8(_mm_setzero_si128(), v); // every byte >= 0x80
            let letters = _mm_or_si128(_mm_and_si128(ascii_alnum, mapped), _mm_and_si128(second_mask, latin));
            let spaced = _mm_or_si128(
                letters,
                _mm_andnot_si128(_mm_or_si128(ascii_alnum, second_mask), _mm_set1_epi8(b' ' as i8)),
            );
            let keep = alnum | keep_breaks;
            let (lo, hi) = ((keep & 0xFF) as usize, (keep >> 8) as usize);
            let order = _mm_set_epi64x(i64::from_le_bytes(PACK_HI[hi]), i64::from_le_bytes(PACK_LO[lo]));
            let packed = _mm_shuffle_epi8(spaced, order);
            _mm_storel_epi64(dst.add(*len).cast(), packed);
            *len += lo.count_ones() as usize;
            _mm_storel_epi64(dst.add(*len).cast(), _mm_srli_si128(packed, 8));
            *len += hi.count_ones() as usize;
            *pending = breaks & 0x8000 != 0;
            true
        }
    }
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
        match rule(c, opts) {
            Rule::Emit(e) => {
                self.space_if_pending(out);
                out.extend_from_slice(e.bytes());
            }
            Rule::Break => self.pending_space = true,
            Rule::Hyphen if !out.is_empty() && !self.pending_space => self.hyphen = true,
            Rule::Hyphen => self.pending_space = true,
            Rule::SoftHyphen => self.hyphen |= !out.is_empty() && !self.pending_space,
            Rule::Combining => {
                // A combining mark belongs to the letter before it: kept with it, or dropped.
                if !opts.strip_diacritics && !self.pending_space && !out.is_empty() {
                    let mut b = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                }
            }
        }
    }
}

/// What one character does under the rules, hyphenation state aside: the rules of the module
/// docs, for one character. `Normalizer::char` applies it with the state; `rule_table` lays it
/// out for every code point, which is what the GPU kernel reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A letter or digit: these bytes are appended (after a space when a break is pending).
    Emit(Emitted),
    /// A word break.
    Break,
    /// `-`, `¬`, `⸗`: right after a letter or digit, a possible hyphenation (the word goes on
    /// if a line break and a letter follow); otherwise a break.
    Hyphen,
    /// The soft hyphen: a possible hyphenation like [`Rule::Hyphen`]; otherwise nothing.
    SoftHyphen,
    /// A combining mark: kept with the letter before it when diacritics are kept (and one
    /// directly precedes it), dropped otherwise.
    Combining,
}

/// The normalized form of one character: up to [`Emitted::MAX`] bytes of UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Emitted {
    bytes: [u8; Emitted::MAX],
    len: u8,
}

impl Emitted {
    /// Enough for any character's lower case (at most three chars) or a ligature's letters.
    pub const MAX: usize = 12;

    fn of(chars: impl IntoIterator<Item = char>) -> Self {
        let mut e = Emitted { bytes: [0; Self::MAX], len: 0 };
        for c in chars {
            let at = e.len as usize;
            e.len += c.encode_utf8(&mut e.bytes[at..]).len() as u8;
        }
        e
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// The [`Rule`] for `c` under `opts`.
pub fn rule(c: char, opts: Normalization) -> Rule {
    if c.is_ascii() {
        let b = c as u8;
        return if b.is_ascii_alphabetic() {
            Rule::Emit(Emitted::of([if opts.lowercase { c.to_ascii_lowercase() } else { c }]))
        } else if b.is_ascii_digit() {
            Rule::Emit(Emitted::of([if opts.fold_digits { '0' } else { c }]))
        } else if b == b'-' {
            Rule::Hyphen
        } else {
            Rule::Break
        };
    }
    match c {
        'ſ' => Rule::Emit(Emitted::of(['s'])),
        '¬' | '⸗' => Rule::Hyphen,
        '\u{ad}' => Rule::SoftHyphen,
        'ﬀ' => Rule::Emit(Emitted::of("ff".chars())),
        'ﬁ' => Rule::Emit(Emitted::of("fi".chars())),
        'ﬂ' => Rule::Emit(Emitted::of("fl".chars())),
        'ﬃ' => Rule::Emit(Emitted::of("ffi".chars())),
        'ﬄ' => Rule::Emit(Emitted::of("ffl".chars())),
        'ﬅ' | 'ﬆ' => Rule::Emit(Emitted::of("st".chars())),
        _ if ('\u{c0}'..='\u{24f}').contains(&c) && latin(c, opts) != '\0' => Rule::Emit(Emitted::of([latin(c, opts)])),
        _ if canonical_combining_class(c) != 0 => Rule::Combining,
        _ if c.is_alphabetic() => {
            let base = base_letter(c, opts);
            if opts.lowercase {
                Rule::Emit(Emitted::of(base.to_lowercase()))
            } else {
                Rule::Emit(Emitted::of([base]))
            }
        }
        _ if c.is_numeric() => Rule::Emit(Emitted::of([if opts.fold_digits { '0' } else { c }])),
        _ => Rule::Break,
    }
}

/// A letter without its diacritics (the first character of its canonical decomposition) when
/// `opts` strips them; the letter itself otherwise.
fn base_letter(c: char, opts: Normalization) -> char {
    if !opts.strip_diacritics {
        return c;
    }
    let mut first = None;
    decompose_canonical(c, |d| {
        first.get_or_insert(d);
    });
    first.unwrap_or(c)
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
                let base = base_letter(c, opts);
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

    /// The vector path takes the blocks it is meant for: on Swedish prose it consumes most of
    /// the text by itself, and what it writes is what the reference writes for those bytes.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_vector_path_takes_swedish_prose() {
        let Some(blocks) = vector::Blocks::new(Normalization::default()) else {
            crate::ingest::testing::skip("cpu-ssse3", "this CPU has no SSSE3");
            return;
        };
        let text = "Så här går det till: över ån, förbi ängen och upp till Östra gården. Ät väl! ".repeat(20);
        let b = text.as_bytes();
        let (mut out, mut pending) = (Vec::new(), false);
        let mut i = 0;
        // Like `normalize_into`: blocks where they qualify, one char by the reference otherwise.
        let mut by_blocks = 0;
        while i < b.len() {
            let j = blocks.run(b, i, &mut out, &mut pending);
            by_blocks += j - i;
            i = j;
            if i < b.len() {
                let c = text[i..].chars().next().unwrap();
                let mut s = String::from_utf8(out.clone()).unwrap();
                let mut one = String::new();
                reference::normalize_into(
                    &format!("{}{c}", if pending { " " } else { "" }),
                    Normalization::default(),
                    &mut one,
                );
                if !one.is_empty() {
                    if pending && !s.is_empty() {
                        s.push(' ');
                    }
                    s.push_str(&one);
                    pending = false;
                } else {
                    pending = true;
                }
                out = s.into_bytes();
                i += c.len_utf8();
            }
        }
        assert!(by_blocks * 10 >= b.len() * 7, "the vector path took only {by_blocks} of {} bytes", b.len());
        assert_eq!(String::from_utf8(out).unwrap(), normalize(&text, Normalization::default()));
    }

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
        let Some(dir) = crate::ingest::testing::shared_data("") else { return };
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

        /// Swedish-like running text long enough for many 16-byte blocks: letters of
        /// `C3 xx` anywhere in a block, cut by its end, next to breaks, and two-byte letters
        /// that stay two bytes (`æ ß`), which the vector path must leave to the byte loops.
        #[test]
        fn on_swedish_words(t in "([a-zA-ZåäöÅÄÖéüæß0-9]{1,12}( |, |\\. |\\n|\\n\\n| – |×|-|: |\\t|  ){1,2}){0,60}") {
            check(&t);
        }

        /// Running text: words, and the breaks between them that the byte loop handles.
        #[test]
        fn on_words(t in "([a-zA-Z]{1,14}( |  |, |\\. |-|\\n|ä| 1|@|\\[|`|\\{|Z ){1,2}){0,40}") {
            check(&t);
        }
    }
}

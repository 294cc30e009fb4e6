//! SubRip (`.srt`) and WebVTT (`.vtt`) subtitle readers, plus the cue helpers the other
//! transcript readers ([`super::ctm`], [`super::asr_json`]) share.
//!
//! One document per file. The text is the cue texts in time order, one cue per line (a cue's
//! own line breaks become spaces), with markup removed: HTML-ish tags (`<i>`, `</b>`,
//! `<font color=..>`, WebVTT `<c.x>`, `<v Name>`, `<00:00:01.500>`), ASS override blocks
//! (`{\an8}`) and the content of `<rt>` ruby annotations; entities are decoded.
//!
//! `meta` holds `format`, `n_segments`, `segments` (`[start_s, end_s]` per cue that has text,
//! in the order of the text's lines, so `text.lines().count() == n_segments`), `skipped_cues`
//! (cues whose timing could not be read, or that had no timing line), `empty_cues` (cues with a
//! valid timing line but no text; they still count for the duration) and, for WebVTT,
//! `speakers` (voice-tag names, first-seen order).
//!
//! Tolerated: a BOM, CRLF or CR line ends, cue numbers that start at 0, are missing or are not
//! numbers, missing or extra blank lines, zero-length cues (kept), tabs, timing lines with
//! missing milliseconds, `.` for `,`, omitted hours, `-->`/`->`/`- ->`/`→` arrows, trailing cue
//! settings or coordinates, and cues out of order (sorted by start, stably). A cue whose timing
//! line cannot be read (or whose end precedes its start) is skipped and counted.

use std::borrow::Cow;

use serde_json::{json, Map, Value};

use super::source::{decode_text, Emit, RawDoc, ReadContext, ReadError, TextBuilder};
use crate::reject::Reason;

/// Reads a SubRip file.
pub fn read_srt(bytes: &[u8], ctx: &ReadContext, out: &mut dyn FnMut(Emit)) -> Result<(), ReadError> {
    read_subtitles(bytes, ctx, out, false)
}

/// Reads a WebVTT file.
pub fn read_vtt(bytes: &[u8], ctx: &ReadContext, out: &mut dyn FnMut(Emit)) -> Result<(), ReadError> {
    read_subtitles(bytes, ctx, out, true)
}

/// Whether the start of a file (a few KB, decoded) looks like SubRip: not WebVTT, and one of
/// the first lines is a timing line `00:00:01,000 --> 00:00:02,000` preceded by at most a cue
/// number.
pub fn looks_like_srt(head: &str) -> bool {
    let head = head.trim_start_matches('\u{feff}');
    if looks_like_vtt(head) {
        return false;
    }
    for (before, line) in head.lines().map(str::trim).filter(|l| !l.is_empty()).take(4).enumerate() {
        if line.contains("-->") && parse_timing(line).is_some() {
            return before <= 1;
        }
    }
    false
}

/// Whether the start of a file looks like WebVTT: it begins with the `WEBVTT` signature.
pub fn looks_like_vtt(head: &str) -> bool {
    let head = head.trim_start_matches('\u{feff}');
    match head.strip_prefix("WEBVTT") {
        Some(rest) => rest.is_empty() || rest.starts_with([' ', '\t', '\n', '\r']),
        None => false,
    }
}

fn read_subtitles(bytes: &[u8], _ctx: &ReadContext, out: &mut dyn FnMut(Emit), vtt: bool) -> Result<(), ReadError> {
    let format = if vtt { "webvtt" } else { "srt" };
    let (text, repaired) = decode_text(bytes);
    if text.trim().is_empty() {
        return Err(ReadError::new(Reason::EmptyFile, format!("the {format} file has no text")));
    }
    let text = normalize_newlines(&text);
    let parsed = parse_cues(&text, vtt);
    if parsed.cues.is_empty() {
        let detail = match parsed.first_problem {
            Some(p) => format!("no usable {format} cue; {p}"),
            None => {
                let example = if vtt { "00:01.000 --> 00:02.000" } else { "00:00:01,000 --> 00:00:02,000" };
                let first = text
                    .lines()
                    .enumerate()
                    .find(|(_, l)| !l.trim().is_empty())
                    .map(|(i, l)| format!("; line {}: `{}`", i + 1, snippet(l.trim())))
                    .unwrap_or_default();
                format!("no {format} timing line (`{example}`) found{first}")
            }
        };
        return Err(ReadError::new(Reason::MalformedTranscript, detail));
    }
    let mut speakers = Vec::new();
    let n_cues = parsed.cues.len();
    let mut cues: Vec<Cue> = parsed
        .cues
        .into_iter()
        .map(|c| Cue { start: c.start, end: c.end, text: clean_markup(&c.lines.join(" "), Some(&mut speakers), ' ') })
        .collect();
    let built = build_cues(&mut cues);
    if built.segments.is_empty() {
        out(Emit::Reject {
            locator: String::new(),
            reason: Reason::EmptyText,
            detail: format!("all {n_cues} {format} cues have empty text"),
        });
        return Ok(());
    }
    let mut meta = Map::new();
    meta.insert("format".into(), json!(format));
    meta.insert("n_segments".into(), json!(built.segments.len()));
    meta.insert("segments".into(), Value::Array(built.segments));
    meta.insert("skipped_cues".into(), json!(parsed.skipped));
    if built.empty > 0 {
        meta.insert("empty_cues".into(), json!(built.empty));
    }
    if vtt || !speakers.is_empty() {
        meta.insert("speakers".into(), json!(speakers));
    }
    if repaired > 0 {
        meta.insert("utf8_repaired_bytes".into(), json!(repaired));
    }
    out(Emit::Doc(RawDoc {
        text: built.text,
        language: parsed.language,
        duration_s: Some(round_ms(built.end)),
        meta,
        ..Default::default()
    }));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Shared cue helpers
// ---------------------------------------------------------------------------------------------

/// One timed piece of text (a subtitle cue, an ASR segment), its text already cleaned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cue {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

/// Cues laid out as a document.
#[derive(Debug)]
pub(crate) struct BuiltCues {
    /// One line per cue that has text.
    pub text: String,
    /// `[start_s, end_s]` per cue that has text, rounded to ms.
    pub segments: Vec<Value>,
    /// Cues without text.
    pub empty: usize,
    /// The latest end over all cues (with or without text); 0 without cues.
    pub end: f64,
}

/// Sorts the cues by start time (stable: equal starts keep their file order) and lays them out.
pub(crate) fn build_cues(cues: &mut [Cue]) -> BuiltCues {
    cues.sort_by(|a, b| a.start.total_cmp(&b.start));
    let mut tb = TextBuilder::new();
    let mut segments = Vec::new();
    let mut empty = 0;
    let mut end = 0.0f64;
    for c in cues.iter() {
        end = end.max(c.end);
        if c.text.split_whitespace().next().is_none() {
            empty += 1;
            continue;
        }
        tb.words(&c.text);
        tb.end_line();
        segments.push(json!([round_ms(c.start), round_ms(c.end)]));
    }
    BuiltCues { text: tb.finish(), segments, empty, end }
}

/// Seconds rounded to the millisecond (values too large to scale are returned as they are).
pub(crate) fn round_ms(s: f64) -> f64 {
    let r = (s * 1000.0).round() / 1000.0;
    if r.is_finite() {
        r
    } else {
        s
    }
}

/// A line for an error message: at most 60 characters.
pub(crate) fn snippet(s: &str) -> String {
    let mut out: String = s.chars().take(60).collect();
    if s.chars().nth(60).is_some() {
        out.push('…');
    }
    out
}

/// Removes markup from subtitle/transcript text and decodes entities, in one pass (so `&lt;i&gt;`
/// stays as the literal text `<i>`):
/// - tags `<...>` whose name starts with a letter, `/` or a digit (WebVTT timestamps) are removed;
///   `<br>`, `<p>`, `</p>`, `<div>`, `</div>` become `block_sep`, other tags nothing;
/// - `<v Name>` / `<v.class Name>` records `Name` in `speakers` (distinct, first-seen order);
/// - `<rt>...</rt>` (ruby annotation, the reading of the base text) is removed with its content;
/// - `{\...}` ASS/SSA override blocks are removed;
/// - `&amp; &lt; &gt; &quot; &apos; &nbsp;` and numeric entities are decoded, `&lrm;`/`&rlm;`
///   (invisible direction marks) dropped; unknown entities stay as written.
///
/// `block_sep` is `' '` for cue text and `'\n'` for HTML paragraphs.
pub(crate) fn clean_markup(s: &str, mut speakers: Option<&mut Vec<String>>, block_sep: char) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find(['<', '{', '&']) {
        out.push_str(&rest[..pos]);
        let here = &rest[pos..];
        let c = here.as_bytes()[0];
        if c == b'<' {
            if let Some((tag, after)) = split_tag(here) {
                let name: String = tag
                    .trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
                    .to_ascii_lowercase();
                if !tag.starts_with('/') && name == "rt" {
                    rest = match find_ci(after, "</rt>") {
                        Some(p) => &after[p + 5..],
                        None => "",
                    };
                    continue;
                }
                if matches!(name.as_str(), "br" | "p" | "div") {
                    out.push(block_sep);
                }
                if name == "v" && !tag.starts_with('/') {
                    // `<v Name>` or `<v.loud Name>`: the annotation follows the first whitespace.
                    if let Some(ws) = tag.find(char::is_whitespace) {
                        let speaker = tag[ws..].split_whitespace().collect::<Vec<_>>().join(" ");
                        let speaker = decode_entities(&speaker).into_owned();
                        if let Some(list) = speakers.as_deref_mut() {
                            if !speaker.is_empty() && !list.contains(&speaker) {
                                list.push(speaker);
                            }
                        }
                    }
                }
                rest = after;
                continue;
            }
        } else if c == b'{' {
            if here.starts_with("{\\") {
                if let Some(end) = here.find('}') {
                    rest = &here[end + 1..];
                    continue;
                }
            }
        } else if let Some((decoded, len)) = entity(here) {
            out.push_str(decoded);
            rest = &here[len..];
            continue;
        } else if let Some((ch, len)) = numeric_entity(here) {
            out.push(ch);
            rest = &here[len..];
            continue;
        }
        // Not markup: keep the character literally.
        out.push(c as char);
        rest = &here[1..];
    }
    out.push_str(rest);
    out
}

/// `<tag ...>` at the start of `s`: the inside and what follows the `>`. `None` when `s` does not
/// start with something tag-like (`a < b`, `<3`, an unclosed `<`).
fn split_tag(s: &str) -> Option<(&str, &str)> {
    let inner = &s[1..];
    let first = inner.chars().next()?;
    if !(first.is_ascii_alphabetic() || first == '/' || first.is_ascii_digit()) {
        return None;
    }
    let end = inner.find(['>', '<'])?;
    if inner.as_bytes()[end] != b'>' {
        return None;
    }
    let tag = &inner[..end];
    if first.is_ascii_digit() && !tag.contains(':') {
        // `<3>` is not a WebVTT timestamp.
        return None;
    }
    Some((tag, &inner[end + 1..]))
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    if n.len() > h.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// An entity at the start of `s` (`&amp;`): its replacement and its length.
fn entity(s: &str) -> Option<(&'static str, usize)> {
    const NAMED: [(&str, &str); 8] = [
        ("&amp;", "&"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&apos;", "'"),
        ("&nbsp;", " "),
        ("&lrm;", ""),
        ("&rlm;", ""),
    ];
    for (name, rep) in NAMED {
        if s.len() >= name.len() && s.as_bytes()[..name.len()].eq_ignore_ascii_case(name.as_bytes()) {
            return Some((rep, name.len()));
        }
    }
    None
}

/// Decodes the entities [`clean_markup`] knows, nothing else.
fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let here = &rest[pos..];
        if let Some((rep, len)) = entity(here) {
            out.push_str(rep);
            rest = &here[len..];
        } else if let Some((ch, len)) = numeric_entity(here) {
            out.push(ch);
            rest = &here[len..];
        } else {
            out.push('&');
            rest = &here[1..];
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn numeric_entity(s: &str) -> Option<(char, usize)> {
    let body = s.strip_prefix("&#")?;
    let semi = body.find(';')?;
    if semi == 0 || semi > 8 {
        return None;
    }
    let digits = &body[..semi];
    let code = match digits.strip_prefix(['x', 'X']) {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<u32>().ok()?,
    };
    let ch = char::from_u32(code)?;
    let ch = if ch.is_control() && !ch.is_whitespace() { ' ' } else { ch };
    Some((ch, 2 + semi + 1))
}

/// CRLF and lone CR to LF.
fn normalize_newlines(s: &str) -> Cow<'_, str> {
    if s.contains('\r') {
        Cow::Owned(s.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(s)
    }
}

// ---------------------------------------------------------------------------------------------
// Timing lines
// ---------------------------------------------------------------------------------------------

/// A timestamp: `hh:mm:ss,mmm`, `hh:mm:ss.mmm`, `mm:ss.mmm`, `hh:mm:ss` (no fraction),
/// `hh:mm:ss:mmm`. The fraction is decimal (`,5` is half a second). Seconds, finite, >= 0.
pub(crate) fn parse_timestamp(s: &str) -> Option<f64> {
    let s = s.trim();
    let (main, frac) = match s.rfind([',', '.']) {
        Some(p) => (&s[..p], Some(&s[p + 1..])),
        None => (s, None),
    };
    let mut parts: Vec<&str> = main.split(':').collect();
    let frac = match (parts.len(), frac) {
        (2 | 3, f) => f,
        (4, None) => parts.pop(),
        _ => return None,
    };
    let digits = |p: &str, max: usize| !p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit());
    let mut secs = 0.0f64;
    for (i, p) in parts.iter().enumerate() {
        if !digits(p, if i == 0 { 6 } else { 2 }) {
            return None;
        }
        secs = secs * 60.0 + p.parse::<f64>().ok()?;
    }
    if let Some(f) = frac {
        if !digits(f, 9) {
            return None;
        }
        secs += f.parse::<f64>().ok()? / 10f64.powi(f.len() as i32);
    }
    secs.is_finite().then_some(secs)
}

/// Splits a line at its arrow (`-->`, `->`, `- ->`, `—>`, `→`): the text before and after.
fn split_arrow(line: &str) -> Option<(&str, &str)> {
    for (i, c) in line.char_indices() {
        if c == '→' {
            return Some((&line[..i], &line[i + c.len_utf8()..]));
        }
        if c == '>' {
            let left = line[..i].trim_end();
            if left.ends_with(['-', '–', '—']) {
                let start = left.trim_end_matches(['-', '–', '—', ' ', '\t']);
                return Some((start, &line[i + 1..]));
            }
        }
    }
    None
}

fn timestampish(s: &str) -> bool {
    s.contains(':')
        && s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes().all(|b| b.is_ascii_digit() || b":,.".contains(&b))
}

/// Whether a line is meant as a timing line (an arrow with a timestamp-like token on one side),
/// whether or not it parses.
fn is_timing_like(line: &str) -> bool {
    match split_arrow(line) {
        Some((l, r)) => {
            l.split_whitespace().next_back().is_some_and(timestampish)
                || r.split_whitespace().next().is_some_and(timestampish)
        }
        None => false,
    }
}

/// `start --> end [settings]` in seconds; `None` when either side does not parse or the end
/// precedes the start.
fn parse_timing(line: &str) -> Option<(f64, f64)> {
    let (l, r) = split_arrow(line)?;
    let start = parse_timestamp(l.split_whitespace().next_back()?)?;
    let end = parse_timestamp(r.split_whitespace().next()?)?;
    (end >= start).then_some((start, end))
}

// ---------------------------------------------------------------------------------------------
// Cue blocks
// ---------------------------------------------------------------------------------------------

struct RawCue<'a> {
    start: f64,
    end: f64,
    lines: Vec<&'a str>,
}

#[derive(Default)]
struct ParsedCues<'a> {
    cues: Vec<RawCue<'a>>,
    skipped: usize,
    /// The first skipped cue, for the error message when no cue is usable.
    first_problem: Option<String>,
    /// WebVTT `Language:` header.
    language: Option<String>,
}

impl ParsedCues<'_> {
    fn skip(&mut self, problem: impl FnOnce() -> String) {
        self.skipped += 1;
        if self.first_problem.is_none() {
            self.first_problem = Some(problem());
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// WebVTT header block.
    Header,
    /// Inside a cue's text.
    Text,
    /// After a blank line: the next lines are a cue identifier, or text without a timing line.
    Blank,
    /// Inside a cue whose timing line could not be read.
    Skip,
    /// Inside a WebVTT NOTE/STYLE/REGION block.
    SkipBlock,
}

fn is_integer(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_vtt_block_keyword(line: &str) -> bool {
    ["NOTE", "STYLE", "REGION"].iter().any(|k| match line.strip_prefix(k) {
        Some(rest) => rest.is_empty() || rest.starts_with([' ', '\t']),
        None => false,
    })
}

fn parse_cues(text: &str, vtt: bool) -> ParsedCues<'_> {
    let mut p = ParsedCues::default();
    let mut mode = Mode::Blank;
    let mut cur: Option<RawCue> = None;
    // Lines after a blank line and before the next timing line: (line number, line).
    let mut pending: Vec<(usize, &str)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let ln = i + 1;
        let line = raw.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        if i == 0 && vtt && looks_like_vtt(line) {
            mode = Mode::Header;
            continue;
        }
        if line.is_empty() {
            flush_orphans(&mut pending, &mut cur, &mut p);
            mode = Mode::Blank;
            continue;
        }
        if mode == Mode::SkipBlock {
            continue;
        }
        if is_timing_like(line) {
            match mode {
                // The line right before a timing line is the cue identifier.
                Mode::Blank => {
                    pending.pop();
                    flush_orphans(&mut pending, &mut cur, &mut p);
                }
                // No blank line before this cue: a bare number ending the previous cue's text is
                // this cue's number.
                Mode::Text => {
                    if let Some(c) = cur.as_mut() {
                        if c.lines.last().is_some_and(|l| is_integer(l)) {
                            c.lines.pop();
                        }
                    }
                }
                _ => {}
            }
            if let Some(c) = cur.take() {
                p.cues.push(c);
            }
            match parse_timing(line) {
                Some((start, end)) => {
                    cur = Some(RawCue { start, end, lines: Vec::new() });
                    mode = Mode::Text;
                }
                None => {
                    p.skip(|| format!("line {ln}: cannot read the timing line `{}`", snippet(line)));
                    mode = Mode::Skip;
                }
            }
            continue;
        }
        match mode {
            Mode::Header => {
                if let Some((k, v)) = line.split_once(':') {
                    if k.trim().eq_ignore_ascii_case("language") && !v.trim().is_empty() {
                        p.language = Some(v.trim().to_string());
                    }
                }
            }
            Mode::Text => {
                if let Some(c) = cur.as_mut() {
                    c.lines.push(line);
                }
            }
            Mode::Blank => {
                if vtt && pending.is_empty() && is_vtt_block_keyword(line) {
                    mode = Mode::SkipBlock;
                } else {
                    pending.push((ln, line));
                }
            }
            Mode::Skip | Mode::SkipBlock => {}
        }
    }
    flush_orphans(&mut pending, &mut cur, &mut p);
    if let Some(c) = cur.take() {
        p.cues.push(c);
    }
    p
}

/// A block of lines after a blank line that no timing line followed: a cue number plus text
/// is a cue without a timing line (skipped); a lone number is ignored; other text continues the
/// previous cue (a blank line inside a cue's text), or is ignored before the first cue.
fn flush_orphans<'a>(pending: &mut Vec<(usize, &'a str)>, cur: &mut Option<RawCue<'a>>, p: &mut ParsedCues<'a>) {
    if pending.is_empty() {
        return;
    }
    let (ln, first) = pending[0];
    if is_integer(first) {
        if pending.len() > 1 {
            p.skip(|| format!("line {ln}: cue `{first}` has no timing line"));
        }
    } else if let Some(c) = cur.as_mut() {
        c.lines.extend(pending.iter().map(|(_, l)| *l));
    }
    pending.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::ingest::testing::{one_doc, run_reader as run, segments as segs, shared_data};

    #[test]
    fn srt_basic() {
        let srt = "1\n00:00:01,000 --> 00:00:02,500\nHej och <i>välkommen</i>\ntill nyheterna.\n\n2\n00:00:03,000 --> 00:00:04,000\n{\\an8}<font color=\"#ffff00\">Stockholm</font> &amp; Göteborg\n";
        let d = one_doc(read_srt, srt.as_bytes());
        assert_eq!(d.text, "Hej och välkommen till nyheterna.\nStockholm & Göteborg");
        assert_eq!(d.duration_s, Some(4.0));
        assert_eq!(segs(&d), vec![(1.0, 2.5), (3.0, 4.0)]);
        assert_eq!(d.meta["n_segments"], 2);
        assert_eq!(d.meta["skipped_cues"], 0);
        assert_eq!(d.meta["format"], "srt");
        assert_eq!(d.locator, "");
        assert!(!d.meta.contains_key("utf8_repaired_bytes"));
    }

    #[test]
    fn srt_quirks_numbering_from_zero_zero_length_tabs_crlf_blank_lines() {
        let srt = "\u{feff}\r\n\r\n0\r\n00:00:00,800 --> 00:00:00,800\r\nSOMMAREN\t\t1924\tblev\r\n\r\n\r\n\r\n1\r\n00:00:44,600 --> 00:00:45,160\r\nExotiskt.\r\n\r\n";
        let d = one_doc(read_srt, srt.as_bytes());
        assert_eq!(d.text, "SOMMAREN 1924 blev\nExotiskt.");
        assert_eq!(segs(&d), vec![(0.8, 0.8), (44.6, 45.16)]);
        assert_eq!(d.duration_s, Some(45.16));
    }

    #[test]
    fn srt_missing_and_non_numeric_cue_numbers_and_missing_blank_lines() {
        let srt = "00:00:01,000 --> 00:00:02,000\nett\n\ncue-b\n00:00:02,000 --> 00:00:03,000\ntvå\n3\n00:00:03,000 --> 00:00:04,000\ntre\n";
        let d = one_doc(read_srt, srt.as_bytes());
        assert_eq!(d.text, "ett\ntvå\ntre");
        assert_eq!(d.meta["n_segments"], 3);
        assert_eq!(d.meta["skipped_cues"], 0);
    }

    #[test]
    fn srt_broken_timing_lines_recovered() {
        let srt = "1\n00:00:01,000 --> 00:00:02\nmissing ms\n\n2\n00:00:03.500 --> 00:00:04.000\ndot\n\n3\n00:05,000 --> 00:06,250\nno hours\n\n4\n00:00:07,000 - -> 00:00:08,000\nspaced arrow\n\n5\n00:00:09,000->00:00:10,000  X1:10 X2:20\narrow and coordinates\n\n6\n00:00:11,5 --> 00:00:12,25\nshort fractions\n";
        let d = one_doc(read_srt, srt.as_bytes());
        assert_eq!(d.text, "missing ms\ndot\nno hours\nspaced arrow\narrow and coordinates\nshort fractions");
        assert_eq!(segs(&d), vec![(1.0, 2.0), (3.5, 4.0), (5.0, 6.25), (7.0, 8.0), (9.0, 10.0), (11.5, 12.25)]);
        assert_eq!(d.meta["skipped_cues"], 0);
    }

    #[test]
    fn srt_unrecoverable_cues_are_skipped_and_counted() {
        let srt = "1\n00:00:01,000 --> 00:00:02,000\nbra\n\n2\n00:00:xx,000 --> garbage\nförlorad\n\n3\n00:00:05,000 --> 00:00:04,000\nbaklänges\n\n4\nutan tidsrad\n\n5\n00:00:06,000 --> 00:00:07,000\nockså bra\n";
        let d = one_doc(read_srt, srt.as_bytes());
        assert_eq!(d.text, "bra\nockså bra");
        assert_eq!(d.meta["skipped_cues"], 3);
        assert_eq!(d.duration_s, Some(7.0));
    }

    #[test]
    fn srt_out_of_order_cues_are_sorted_stably() {
        let srt = "1\n00:00:05,000 --> 00:00:06,000\nC\n\n2\n00:00:01,000 --> 00:00:02,000\nA\n\n3\n00:00:01,000 --> 00:00:01,500\nB\n";
        let d = one_doc(read_srt, srt.as_bytes());
        assert_eq!(d.text, "A\nB\nC");
        assert_eq!(segs(&d), vec![(1.0, 2.0), (1.0, 1.5), (5.0, 6.0)]);
        assert_eq!(d.duration_s, Some(6.0));
    }

    #[test]
    fn srt_blank_line_inside_cue_text_continues_the_cue() {
        let srt = "1\n00:00:01,000 --> 00:00:02,000\nförsta raden\n\nandra raden\n\n2\n00:00:03,000 --> 00:00:04,000\nnästa\n";
        let d = one_doc(read_srt, srt.as_bytes());
        assert_eq!(d.text, "första raden andra raden\nnästa");
    }

    #[test]
    fn srt_literal_angle_brackets_and_entities() {
        let srt = "1\n00:00:01,000 --> 00:00:02,000\na < b och 3 > 2, &lt;i&gt; <3\n";
        let d = one_doc(read_srt, srt.as_bytes());
        assert_eq!(d.text, "a < b och 3 > 2, <i> <3");
    }

    #[test]
    fn srt_repaired_utf8_is_recorded() {
        let d = one_doc(read_srt, b"1\n00:00:01,000 --> 00:00:02,000\nh\xE4r\n");
        assert_eq!(d.text, "h\u{FFFD}r");
        assert_eq!(d.meta["utf8_repaired_bytes"], 1);
    }

    #[test]
    fn srt_errors() {
        let e = run(read_srt, b"just some text\nno cues here\n").unwrap_err();
        assert_eq!(e.reason, Reason::MalformedTranscript);
        assert!(e.detail.contains("line 1"), "{}", e.detail);
        let e = run(read_srt, b"1\n00:00:0x,000 --> 00:00:02,000\ntext\n").unwrap_err();
        assert_eq!(e.reason, Reason::MalformedTranscript);
        assert!(e.detail.contains("line 2"), "{}", e.detail);
        let e = run(read_srt, b" \n\n").unwrap_err();
        assert_eq!(e.reason, Reason::EmptyFile);
    }

    #[test]
    fn srt_all_empty_cues_is_empty_text() {
        let out = run(read_srt, b"1\n00:00:01,000 --> 00:00:02,000\n<i></i>\n\n2\n00:00:03,000 --> 00:00:04,000\n\n")
            .unwrap();
        assert!(matches!(&out[..], [Emit::Reject { reason: Reason::EmptyText, .. }]), "{out:?}");
    }

    #[test]
    fn srt_empty_cue_counts_for_duration_not_segments() {
        let d =
            one_doc(read_srt, b"1\n00:00:01,000 --> 00:00:02,000\nhej\n\n2\n00:00:03,000 --> 00:00:09,000\n{\\an8}\n");
        assert_eq!(d.text, "hej");
        assert_eq!(d.meta["n_segments"], 1);
        assert_eq!(d.meta["empty_cues"], 1);
        assert_eq!(d.duration_s, Some(9.0));
    }

    #[test]
    fn vtt_basic() {
        let vtt = "WEBVTT - Sveriges Radio\nKind: captions\nLanguage: sv\n\nNOTE detta är en kommentar\n00:00:00.000 --> 00:00:09.000 ska inte synas\n\nSTYLE\n::cue { color: yellow }\n\nREGION\nid:fred width:40%\n\nintro\n00:01.000 --> 00:02.500 align:start position:10%\n<v Anna Svensson>God morgon &amp; välkommen</v>\n\n00:00:03.000 --> 00:00:04.000\n<v.loud Bo>Hej <c.highlight>på</c> <00:00:03.500>dig</v>\n\n3\n00:00:05.000 --> 00:00:06.000\n<v Anna Svensson><i>Tack</i>&nbsp;<b>och</b> <u>hej</u>&lrm;!\n\n00:00:06.000 --> 00:00:07.000\n<ruby>漢<rt>kan</rt></ruby>字 &lt;3 &gt;\n";
        let d = one_doc(read_vtt, vtt.as_bytes());
        assert_eq!(d.text, "God morgon & välkommen\nHej på dig\nTack och hej!\n漢字 <3 >");
        assert_eq!(segs(&d), vec![(1.0, 2.5), (3.0, 4.0), (5.0, 6.0), (6.0, 7.0)]);
        assert_eq!(d.duration_s, Some(7.0));
        assert_eq!(d.meta["speakers"], json!(["Anna Svensson", "Bo"]));
        assert_eq!(d.meta["format"], "webvtt");
        assert_eq!(d.language.as_deref(), Some("sv"));
    }

    #[test]
    fn vtt_without_voices_has_empty_speakers_and_errors() {
        let d = one_doc(read_vtt, b"WEBVTT\r\n\r\n00:00:01.000 --> 00:00:02.000\r\nhej\r\n");
        assert_eq!(d.text, "hej");
        assert_eq!(d.meta["speakers"], json!([]));
        let e = run(read_vtt, b"WEBVTT\n\nNOTE only a note\n").unwrap_err();
        assert_eq!(e.reason, Reason::MalformedTranscript);
        let e = run(read_vtt, b"WEBVTT\n\n00:00:01.000 --> 00:0x:02.000\nhej\n").unwrap_err();
        assert!(e.detail.contains("line 3"), "{}", e.detail);
    }

    #[test]
    fn sniffing() {
        assert!(looks_like_srt("1\n00:00:01,000 --> 00:00:02,000\nhej\n"));
        assert!(looks_like_srt("\u{feff}0\r\n00:00:00,800 --> 00:00:01,200\r\n"));
        assert!(looks_like_srt("00:00:01,000 --> 00:00:02,000\nhej\n"));
        assert!(!looks_like_srt("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhej\n"));
        assert!(!looks_like_srt("some prose\nthat mentions --> arrows\n"));
        assert!(looks_like_vtt("WEBVTT\n\n"));
        assert!(looks_like_vtt("\u{feff}WEBVTT - title\n"));
        assert!(!looks_like_vtt("WEBVTTX\n"));
        assert!(!looks_like_vtt("1\n00:00:01,000 --> 00:00:02,000\n"));
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("01:02:03,456"), Some(3723.456));
        assert_eq!(parse_timestamp("02:03.5"), Some(123.5));
        assert_eq!(parse_timestamp("00:00:02"), Some(2.0));
        assert_eq!(parse_timestamp("00:00:02:250"), Some(2.25));
        assert_eq!(parse_timestamp("2.5"), None);
        assert_eq!(parse_timestamp("00:00:02,"), None);
        assert_eq!(parse_timestamp("999999999999:00:00"), None);
    }

    #[test]
    fn never_panics_on_odd_input() {
        let inputs: [&[u8]; 10] = [
            b"-->",
            b"\xff\xfe",
            b"1\n-->\n",
            b"<",
            b"1\n00:00:01,000 --> 00:00:02,000\n<v\n",
            b"1\n00:00:01,000 --> 00:00:02,000\n&#xFFFFFFFF; &#0; &#; <rt>x\n",
            b"1\n00:00:01,000 --> 00:00:02,000\n{\\an8\n",
            b"WEBVTT\n\nNOTE\n",
            "1\n00:00:01,000 —> 00:00:02,000 → 3\nå <ä\n".as_bytes(),
            b"\r\r\r00:01.000 --> 00:02.000\r\rx",
        ];
        for input in inputs {
            let _ = run(read_srt, input);
            let _ = run(read_vtt, input);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

        /// No transcript reader panics, whatever the bytes; pieces of the formats make the
        /// generated input reach the parsers' deeper paths.
        #[test]
        fn transcript_readers_never_panic(
            raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "1\n", "\n", "\r\n", "WEBVTT\n", "NOTE x\n", "00:00:01,000", "00:02.5", " --> ", "->",
                "- ->", "<v Anna>", "</v>", "<rt>", "<i>", "<00:00:01.000>", "{\\an8}", "&amp;", "&#x", ";",
                "\t", "å", "r 1 0.5 0.2 ord 0.9\n", "<unk>", "r 1 1e308 1e307 x\n", "{\"duration\": 1e308, \"text\": \"z\"}", "{\"segments\": [", "{\"start\": 1, \"end\": 2, \"text\": \"x\"}",
                "]}", ",", "{\"videodata\": [{\"speakers\": [{\"anftext\": \"<p>a</p>\", \"start\": 1e308, \"duration\": 1e308}]}]}",
                "[{\"timestamp\": [0, null], \"text\": \"y\"}]", "9999999:99:99.999999999",
            ]), 0..40),
        ) {
            let text: String = pieces.concat();
            let readers: [crate::ingest::testing::ReaderFn; 4] = [read_srt, read_vtt, super::super::ctm::read, super::super::asr_json::read];
            for reader in readers {
                for input in [&raw[..], text.as_bytes()] {
                    if let Ok(out) = run(reader, input) {
                        for e in out {
                            if let Emit::Doc(d) = e {
                                proptest::prop_assert!(d.duration_s.is_none_or(f64::is_finite));
                                proptest::prop_assert!(!d.text.is_empty());
                            }
                        }
                    }
                }
            }
            let _ = (looks_like_srt(&text), looks_like_vtt(&text));
            let _ = super::super::ctm::looks_like_ctm(&text);
            let _ = super::super::asr_json::looks_like_asr_json(&text);
        }
    }

    fn data_dir() -> Option<std::path::PathBuf> {
        shared_data("transcripts")
    }

    #[test]
    fn real_newsreel_srts() {
        let Some(dir) = data_dir() else { return };
        for (file, cues, end) in [
            ("swedish_newsreel_asr_srt/1934_SF846.1.mpg.srt", 37, 316.572),
            ("swedish_newsreel_asr_srt/1946_SF1282.1.mpg.srt", 111, 631.741),
            ("swedish_newsreel_intertitle_ocr_srt/1924_SF444.1.mpg.srt", 16, 673.16),
        ] {
            let bytes = std::fs::read(dir.join(file)).unwrap();
            assert!(looks_like_srt(&String::from_utf8_lossy(&bytes)), "{file}");
            let d = one_doc(read_srt, &bytes);
            assert_eq!(d.meta["n_segments"], cues, "{file}");
            assert_eq!(d.meta["skipped_cues"], 0, "{file}");
            assert_eq!(d.text.lines().count(), cues, "{file}");
            let last = *segs(&d).last().unwrap();
            assert_eq!(d.duration_s, Some(last.1), "{file}");
            assert!((last.1 - end).abs() < 1e-9, "{file}: {}", last.1);
            assert!(!d.text.contains('\t') && !d.text.contains('<'), "{file}");
        }
        let d = one_doc(
            read_srt,
            &std::fs::read(dir.join("swedish_newsreel_intertitle_ocr_srt/1924_SF444.1.mpg.srt")).unwrap(),
        );
        assert!(d.text.starts_with("SVENSK FILMINDUSTRIS VECKOREVY SOMMAREN 1924 blev den vackraste"), "{}", d.text);
        assert_eq!(segs(&d)[0], (0.8, 1.2));
        let d = one_doc(read_srt, &std::fs::read(dir.join("swedish_newsreel_asr_srt/1934_SF846.1.mpg.srt")).unwrap());
        assert!(d.text.starts_with("Här kommer bräden.\nHon åker till staden"), "{}", d.text);
        assert_eq!(segs(&d)[0], (9.026, 18.332));
    }
}

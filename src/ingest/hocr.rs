//! hOCR reader (Tesseract, ABBYY-derived and MDZ/BSB flavours; XHTML or plain HTML).
//!
//! One document per file (locator `""`): pages are separated as blocks, `ocr_par`/`ocr_carea`
//! (and `ocrx_block`/`ocr_block`) are blocks, `ocr_line` and its siblings (`ocrx_line`,
//! `ocr_caption`, `ocr_textfloat`, `ocr_header`, `ocr_footer`) are lines and `ocrx_word` are
//! words. When a file has no word elements at all, the text of its lines is used instead.
//!
//! Confidence comes from the `title` properties: `x_wconf N` (Tesseract, 0–100), or the
//! ABBYY-derived `x_conf N` / `x_confs N N N …` (0–100); the document's `ocr_confidence` is the
//! mean confidence of the kept words, in 0..=1.
//!
//! A line-final word ending in `¬` or a soft hyphen is always joined with the first word of
//! the next line (on the same page, without the hyphen); one ending in `-` (or the Fraktur
//! `⸗`) only when the next line's first word starts in lowercase. A `¬`/soft hyphen that has
//! no following line is written as `-`; soft hyphens inside a word are dropped.
//!
//! hOCR is XHTML, read first with the hardened [`XmlReader`]. Real hOCR is sometimes plain
//! HTML (unclosed `<meta>`, mismatched end tags, `&nbsp;`): when the strict pass fails on
//! malformed XML or an undefined entity *reference*, a tolerant pass re-reads the file with
//! end-name checks off and HTML entities mapped (unknown ones become a space). A DTD that
//! declares entities is refused in both passes.

use std::borrow::Cow;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;
use serde_json::Value;

use super::source::{decode_text, Emit, RawDoc, ReadContext, ReadError, ReaderOptions, TextBuilder};
use super::xml::{local, resolve_ref, text_content, XmlReader};
use crate::reject::Reason;

/// Reads one hOCR file into one document.
pub fn read(bytes: &[u8], ctx: &ReadContext, out: &mut dyn FnMut(Emit)) -> Result<(), ReadError> {
    let (text, repaired) = decode_text(bytes);
    let (parsed, tolerant) = match parse(Source::Strict(XmlReader::new(&text))) {
        Ok(p) => (p, false),
        Err((err, retry)) => {
            if !retry {
                return Err(err);
            }
            match parse(Source::tolerant(&text)) {
                Ok(p) => (p, true),
                Err(_) => return Err(err),
            }
        }
    };
    let laid = layout(&parsed, ctx.options);
    if laid.text.is_empty() {
        out(Emit::Reject {
            locator: String::new(),
            reason: Reason::EmptyText,
            detail: format!("hOCR with {} page(s) and no text", parsed.page_count),
        });
        return Ok(());
    }
    let mut doc = RawDoc { text: laid.text, ocr_confidence: laid.confidence, ..Default::default() };
    doc.language = consistent(&parsed.langs);
    doc.meta.insert("pages".into(), Value::from(parsed.page_count.max(1)));
    if tolerant {
        doc.meta.insert("html_tolerant".into(), Value::Bool(true));
    }
    if repaired > 0 {
        doc.meta.insert("utf8_repaired_bytes".into(), Value::from(repaired));
    }
    out(Emit::Doc(doc));
    Ok(())
}

/// The same event stream from either the hardened XML reader or a tolerant HTML-ish one.
enum Source<'a> {
    Strict(XmlReader<'a>),
    Tolerant(Reader<&'a [u8]>),
}

impl<'a> Source<'a> {
    fn tolerant(text: &'a str) -> Self {
        let mut r = Reader::from_str(text);
        let c = r.config_mut();
        c.check_end_names = false;
        c.allow_unmatched_ends = true;
        c.allow_dangling_amp = true;
        c.expand_empty_elements = false;
        Source::Tolerant(r)
    }

    fn is_tolerant(&self) -> bool {
        matches!(self, Source::Tolerant(_))
    }

    /// The next event; the error says whether a tolerant re-read may help.
    fn next(&mut self) -> Result<Event<'a>, (ReadError, bool)> {
        match self {
            Source::Strict(r) => r.next().map_err(|e| {
                let retry = e.reason == Reason::MalformedXml;
                (e, retry)
            }),
            Source::Tolerant(r) => match r.read_event() {
                Ok(Event::DocType(d)) if d.contains("<!ENTITY") => {
                    Err((ReadError::new(Reason::XmlEntities, "the DTD declares entities; refused"), false))
                }
                Ok(ev) => Ok(ev),
                Err(e) => {
                    Err((ReadError::new(Reason::MalformedXml, format!("byte {}: {e}", r.error_position())), false))
                }
            },
        }
    }

    /// Replacement text of an entity or character reference.
    fn reference(&self, r: &BytesRef<'_>) -> Result<Cow<'static, str>, (ReadError, bool)> {
        match resolve_ref(r) {
            Ok(s) => Ok(s),
            // An undefined entity (`&nbsp;`, `&shy;`): plain HTML; the tolerant pass maps it.
            Err(e) if !self.is_tolerant() => {
                let retry = e.reason == Reason::XmlEntities || e.reason == Reason::MalformedXml;
                Err((e, retry))
            }
            Err(_) => Ok(Cow::Borrowed(html_entity(r))),
        }
    }
}

/// The few HTML entities that occur in hOCR; anything else reads as a space.
fn html_entity(r: &BytesRef<'_>) -> &'static str {
    let name: &str = r;
    match name {
        "shy" => "\u{AD}",
        "mdash" => "—",
        "ndash" => "–",
        "hellip" => "…",
        "laquo" => "«",
        "raquo" => "»",
        "ldquo" => "“",
        "rdquo" => "”",
        "bdquo" => "„",
        "lsquo" => "‘",
        "rsquo" => "’",
        "sbquo" => "‚",
        "auml" => "ä",
        "Auml" => "Ä",
        "ouml" => "ö",
        "Ouml" => "Ö",
        "aring" => "å",
        "Aring" => "Å",
        "uuml" => "ü",
        "Uuml" => "Ü",
        "eacute" => "é",
        "Eacute" => "É",
        "egrave" => "è",
        "szlig" => "ß",
        "aelig" => "æ",
        "AElig" => "Æ",
        "oslash" => "ø",
        "Oslash" => "Ø",
        "sect" => "§",
        "para" => "¶",
        "deg" => "°",
        "copy" => "©",
        "reg" => "®",
        "not" => "¬",
        "middot" => "·",
        "times" => "×",
        // nbsp, ensp, emsp, thinsp and anything unknown
        _ => " ",
    }
}

#[derive(Debug, Default)]
struct Word {
    text: String,
    conf: Option<f32>,
}

#[derive(Debug, Default)]
struct Line {
    words: Vec<Word>,
    /// All text inside the line element (used when the file has no word elements).
    text: String,
}

#[derive(Debug, Default)]
struct Page {
    blocks: Vec<Vec<Line>>,
}

#[derive(Debug, Default)]
struct Parsed {
    pages: Vec<Page>,
    page_count: usize,
    word_elems: usize,
    langs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Page,
    Block,
    Line,
    Word,
    Skip,
    Other,
}

/// HTML elements that never have an end tag.
fn is_void(name: &str) -> bool {
    matches!(
        name,
        "meta" | "br" | "img" | "link" | "hr" | "input" | "area" | "base" | "col" | "embed" | "source" | "wbr"
    )
}

/// The value of an attribute by case-insensitive local name; HTML-style unquoted values are
/// accepted and malformed attributes ignored.
fn hattr<'b>(e: &'b BytesStart<'_>, name: &str) -> Option<Cow<'b, str>> {
    for a in e.html_attributes().with_checks(false).flatten() {
        if local(a.key.into_inner()).eq_ignore_ascii_case(name) {
            return Some(a.normalized_value(quick_xml::XmlVersion::Implicit1_0).unwrap_or_else(|_| a.value.clone()));
        }
    }
    None
}

fn classify(name: &str, e: &BytesStart<'_>) -> Kind {
    if matches!(name, "head" | "title" | "script" | "style") {
        return Kind::Skip;
    }
    let Some(class) = hattr(e, "class") else {
        return Kind::Other;
    };
    let mut kind = Kind::Other;
    for c in class.split_whitespace() {
        let k = match c {
            "ocr_page" => Kind::Page,
            "ocr_par" | "ocr_carea" | "ocrx_block" | "ocr_block" => Kind::Block,
            "ocr_line" | "ocrx_line" | "ocr_caption" | "ocr_textfloat" | "ocr_header" | "ocr_footer" => Kind::Line,
            "ocrx_word" | "ocr_word" => Kind::Word,
            _ => continue,
        };
        kind = k;
        break;
    }
    kind
}

/// Word confidence (0..=1) from an hOCR `title`: `x_wconf`, `x_conf` or the mean of `x_confs`.
fn title_conf(title: &str) -> Option<f32> {
    for part in title.split(';') {
        let mut it = part.split_whitespace();
        let value = match it.next() {
            Some("x_wconf") | Some("x_conf") => it.next().and_then(|v| v.parse::<f32>().ok()),
            Some("x_confs") => {
                let vals: Vec<f32> = it.filter_map(|v| v.parse::<f32>().ok()).filter(|v| v.is_finite()).collect();
                if vals.is_empty() {
                    None
                } else {
                    Some(vals.iter().sum::<f32>() / vals.len() as f32)
                }
            }
            _ => continue,
        };
        if let Some(v) = value.filter(|v| v.is_finite()) {
            return Some((v / 100.0).clamp(0.0, 1.0));
        }
    }
    None
}

/// The `ocrp_lang` property of a `title`.
fn title_lang(title: &str) -> Option<String> {
    title.split(';').find_map(|part| {
        let mut it = part.split_whitespace();
        (it.next() == Some("ocrp_lang")).then(|| it.next().map(str::to_string)).flatten()
    })
}

struct State {
    p: Parsed,
    /// (element name lowercased, kind)
    stack: Vec<(String, Kind)>,
    skip: usize,
    in_line: usize,
    in_word: usize,
    need_block: bool,
    need_line: bool,
}

impl State {
    fn page(&mut self) -> &mut Page {
        if self.p.pages.is_empty() {
            self.p.pages.push(Page::default());
            self.p.page_count = self.p.page_count.max(1);
        }
        let n = self.p.pages.len();
        &mut self.p.pages[n - 1]
    }

    fn block(&mut self) -> &mut Vec<Line> {
        let need = self.need_block;
        self.need_block = false;
        let page = self.page();
        if need || page.blocks.is_empty() {
            page.blocks.push(Vec::new());
        }
        let n = page.blocks.len();
        &mut page.blocks[n - 1]
    }

    fn line(&mut self) -> &mut Line {
        let need = self.need_line;
        self.need_line = false;
        let block = self.block();
        if need || block.is_empty() {
            block.push(Line::default());
        }
        let n = block.len();
        &mut block[n - 1]
    }

    fn open(&mut self, kind: Kind, e: &BytesStart<'_>) {
        match kind {
            Kind::Page => {
                self.p.pages.push(Page::default());
                self.p.page_count += 1;
                self.need_block = true;
                self.need_line = true;
            }
            Kind::Block => {
                self.need_block = true;
                self.need_line = true;
            }
            Kind::Line => {
                self.need_line = true;
                self.line();
                self.in_line += 1;
            }
            Kind::Word => {
                self.p.word_elems += 1;
                let conf = hattr(e, "title").and_then(|t| title_conf(&t));
                self.line().words.push(Word { text: String::new(), conf });
                self.in_word += 1;
            }
            Kind::Skip => self.skip += 1,
            Kind::Other => {}
        }
        if matches!(kind, Kind::Page | Kind::Block) {
            let lang = hattr(e, "lang")
                .map(|l| l.trim().to_string())
                .or_else(|| hattr(e, "title").and_then(|t| title_lang(&t)));
            if let Some(l) = lang.filter(|l| !l.is_empty()) {
                self.p.langs.push(l);
            }
        }
    }

    fn close(&mut self, kind: Kind) {
        match kind {
            Kind::Page => {
                self.need_block = true;
                self.need_line = true;
            }
            Kind::Block => {
                self.need_block = true;
                self.need_line = true;
            }
            Kind::Line => {
                self.need_line = true;
                self.in_line = self.in_line.saturating_sub(1);
            }
            Kind::Word => self.in_word = self.in_word.saturating_sub(1),
            Kind::Skip => self.skip = self.skip.saturating_sub(1),
            Kind::Other => {}
        }
    }

    fn text(&mut self, s: &str) {
        if self.skip > 0 || (self.in_word == 0 && self.in_line == 0) {
            return;
        }
        let in_word = self.in_word > 0;
        // Text reaches the current line (created when the line or word element opened).
        let Some(line) = self.p.pages.last_mut().and_then(|p| p.blocks.last_mut()).and_then(|b| b.last_mut()) else {
            return;
        };
        if in_word {
            if let Some(w) = line.words.last_mut() {
                w.text.push_str(s);
            }
        }
        line.text.push_str(s);
    }
}

fn parse(mut src: Source<'_>) -> Result<Parsed, (ReadError, bool)> {
    let mut st = State {
        p: Parsed::default(),
        stack: Vec::new(),
        skip: 0,
        in_line: 0,
        in_word: 0,
        need_block: true,
        need_line: true,
    };
    loop {
        match src.next()? {
            Event::Start(e) => {
                let name = local(e.name().into_inner()).to_ascii_lowercase();
                let kind = classify(&name, &e);
                st.open(kind, &e);
                if is_void(&name) {
                    st.close(kind);
                } else {
                    st.stack.push((name, kind));
                }
            }
            Event::Empty(e) => {
                let name = local(e.name().into_inner()).to_ascii_lowercase();
                let kind = classify(&name, &e);
                st.open(kind, &e);
                st.close(kind);
            }
            Event::End(e) => {
                let name = local(e.name().into_inner()).to_ascii_lowercase();
                // Close up to the matching open element; a stray end tag is ignored.
                if let Some(pos) = st.stack.iter().rposition(|(n, _)| *n == name) {
                    while st.stack.len() > pos {
                        if let Some((_, kind)) = st.stack.pop() {
                            st.close(kind);
                        }
                    }
                }
            }
            Event::Text(t) => {
                let s = text_content(&t);
                st.text(&s);
            }
            Event::CData(t) => st.text(&t),
            Event::GeneralRef(r) => {
                let s = src.reference(&r)?;
                st.text(&s);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(st.p)
}

struct Laid {
    text: String,
    confidence: Option<f32>,
}

/// A kept line: (block index within its page, words).
type KeptLine = (usize, Vec<String>);

fn layout(p: &Parsed, opts: &ReaderOptions) -> Laid {
    let fallback = p.word_elems == 0;
    let mut tb = TextBuilder::new();
    let (mut conf_sum, mut conf_n) = (0f64, 0usize);
    for page in &p.pages {
        tb.end_block();
        let mut kept: Vec<KeptLine> = Vec::new();
        for (bi, block) in page.blocks.iter().enumerate() {
            for line in block {
                if fallback {
                    let words: Vec<String> = line.text.split_whitespace().map(str::to_string).collect();
                    if !words.is_empty() {
                        kept.push((bi, words));
                    }
                    continue;
                }
                let confs: Vec<f32> = line.words.iter().filter_map(|w| w.conf).collect();
                if let (Some(min), false) = (opts.min_line_confidence, confs.is_empty()) {
                    let mean = confs.iter().sum::<f32>() / confs.len() as f32;
                    if mean < min {
                        continue;
                    }
                }
                let mut words = Vec::new();
                for w in &line.words {
                    if let (Some(min), Some(c)) = (opts.min_word_confidence, w.conf) {
                        if c < min {
                            continue;
                        }
                    }
                    // A word element may hold inner spaces (rare): keep its parts as words.
                    let parts: Vec<&str> = w.text.split_whitespace().collect();
                    if parts.is_empty() {
                        continue;
                    }
                    if let Some(c) = w.conf {
                        conf_sum += f64::from(c);
                        conf_n += 1;
                    }
                    words.extend(parts.into_iter().map(str::to_string));
                }
                if !words.is_empty() {
                    kept.push((bi, words));
                }
            }
        }
        let mut carry = false;
        for (li, (bi, words)) in kept.iter().enumerate() {
            if li > 0 {
                if kept.get(li - 1).is_some_and(|(prev, _)| prev != bi) {
                    tb.end_block();
                } else {
                    tb.end_line();
                }
            }
            let next_first = kept.get(li + 1).and_then(|(_, w)| w.first());
            let n = words.len();
            for (wi, w) in words.iter().enumerate() {
                let last = wi + 1 == n;
                let joined = if last { next_first.and_then(|nf| hyphen_stem(w, nf)) } else { None };
                let text = match joined {
                    Some(stem) => strip_soft_hyphens(stem),
                    None => finish_word(w),
                };
                if wi == 0 && carry {
                    tb.glue(&text);
                } else {
                    tb.word(&text);
                }
                if last {
                    carry = joined.is_some();
                }
            }
        }
    }
    let confidence = (conf_n > 0).then(|| (conf_sum / conf_n as f64) as f32);
    Laid { text: tb.finish(), confidence }
}

/// The first half of a line-final hyphenated word, when it should be joined with `next`
/// (the first word of the following line).
fn hyphen_stem<'w>(word: &'w str, next: &str) -> Option<&'w str> {
    let last = word.chars().last()?;
    let stem = word.get(..word.len() - last.len_utf8())?;
    // A lone hyphen or a hyphen after punctuation is not a broken word.
    if !stem.trim_end_matches('\u{AD}').chars().last().is_some_and(char::is_alphabetic) {
        return None;
    }
    let stem = stem.trim_end_matches('\u{AD}');
    match last {
        '\u{AD}' | '¬' => Some(stem),
        '-' | '⸗' if next.chars().next().is_some_and(char::is_lowercase) => Some(stem),
        _ => None,
    }
}

fn strip_soft_hyphens(w: &str) -> String {
    w.chars().filter(|&c| c != '\u{AD}').collect()
}

/// A word that is not joined: a trailing `¬` or soft hyphen becomes a visible `-`, soft
/// hyphens inside are dropped.
fn finish_word(w: &str) -> String {
    if let Some(stem) = w.strip_suffix('¬').filter(|s| !s.is_empty()) {
        return format!("{}-", strip_soft_hyphens(stem));
    }
    if let Some(stem) = w.strip_suffix('\u{AD}') {
        let s = strip_soft_hyphens(stem);
        return if s.is_empty() { s } else { s + "-" };
    }
    strip_soft_hyphens(w)
}

/// The one language all pages/paragraphs declare, if they agree.
fn consistent(langs: &[String]) -> Option<String> {
    let first = langs.first()?;
    langs.iter().all(|l| l.eq_ignore_ascii_case(first)).then(|| first.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(input: &str, opts: &ReaderOptions) -> Result<Vec<Emit>, ReadError> {
        let ctx = ReadContext { path: "test.hocr", options: opts };
        let mut got = Vec::new();
        read(input.as_bytes(), &ctx, &mut |e| got.push(e))?;
        Ok(got)
    }

    fn doc(input: &str) -> RawDoc {
        doc_with(input, &ReaderOptions::default())
    }

    fn doc_with(input: &str, opts: &ReaderOptions) -> RawDoc {
        match run_with(input, opts).unwrap().pop() {
            Some(Emit::Doc(d)) => d,
            other => panic!("expected a document, got {other:?}"),
        }
    }

    const TESS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
    "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>Sida 1</title>
  <meta name='ocr-system' content='tesseract 5.3.0' />
 </head>
 <body>
  <div class='ocr_page' id='page_1' title='image "p1.png"; bbox 0 0 2000 3000; ppageno 0'>
   <div class='ocr_carea' id='block_1_1' title="bbox 10 10 900 300">
    <p class='ocr_par' id='par_1_1' lang='swe' title="bbox 10 10 900 300">
     <span class='ocr_line' id='line_1_1' title="bbox 10 10 900 40; baseline 0 -8">
      <span class='ocrx_word' id='word_1_1' title='bbox 10 10 100 40; x_wconf 90'>Stockholms</span>
      <span class='ocrx_word' id='word_1_2' title='bbox 110 10 200 40; x_wconf 80'>stads</span>
      <span class='ocrx_word' id='word_1_3' title='bbox 210 10 300 40; x_wconf 70'>huf-</span>
     </span>
     <span class='ocr_line' id='line_1_2' title="bbox 10 50 900 80">
      <span class='ocrx_word' id='word_1_4' title='bbox 10 50 100 80; x_wconf 60'>vudgata</span>
      <span class='ocrx_word' id='word_1_5' title='bbox 110 50 200 80; x_wconf 100'>Norr-</span>
     </span>
     <span class='ocr_line' id='line_1_3' title="bbox 10 90 900 120">
      <span class='ocrx_word' id='word_1_6' title='bbox 10 90 100 120; x_wconf 100'>Mälarstrand</span>
     </span>
    </p>
   </div>
   <div class='ocr_carea' id='block_1_2' title="bbox 10 400 900 500">
    <p class='ocr_par' id='par_1_2' lang='swe'>
     <span class='ocr_line' id='line_1_4'><span class='ocrx_word' title='x_wconf 10'>brus</span> <span class='ocrx_word' title='x_wconf 20'>&amp;</span></span>
    </p>
   </div>
  </div>
 </body>
</html>
"#;

    #[test]
    fn tesseract_text_confidence_language_and_hyphens() {
        let d = doc(TESS);
        assert_eq!(d.text, "Stockholms stads hufvudgata\nNorr-\nMälarstrand\n\nbrus &");
        assert_eq!(d.locator, "");
        assert_eq!(d.language.as_deref(), Some("swe"));
        let c = d.ocr_confidence.unwrap();
        assert!((c - 0.6625).abs() < 1e-4, "{c}");
        assert_eq!(d.meta["pages"], 1);
        assert!(!d.text.contains("Sida"), "the head title is not text");
    }

    #[test]
    fn word_and_line_confidence_thresholds() {
        let opts = ReaderOptions { min_word_confidence: Some(0.65), ..Default::default() };
        let d = doc_with(TESS, &opts);
        // "vudgata" (0.60) is dropped, so "huf-" has no continuation to join with.
        assert_eq!(d.text, "Stockholms stads huf-\nNorr-\nMälarstrand");
        let opts = ReaderOptions { min_line_confidence: Some(0.5), ..Default::default() };
        let d = doc_with(TESS, &opts);
        assert_eq!(d.text, "Stockholms stads hufvudgata\nNorr-\nMälarstrand");
        assert!((d.ocr_confidence.unwrap() - 0.8333).abs() < 1e-3);
    }

    #[test]
    fn abbyy_soft_hyphen_not_sign_and_x_confs() {
        let html = "<html><body><div class=\"ocr_page\" title=\"bbox 0 0 10 10\">\
            <p class=\"ocr_par\" lang=\"sv\"><span class=\"ocr_line\">\
            <span class=\"ocrx_word\" title=\"bbox 1 1 2 2; x_confs 50 70\">Kungl.</span> \
            <span class=\"ocrx_word\" title=\"x_confs 90\">bibli\u{AD}</span></span>\
            <span class=\"ocr_line\"><span class=\"ocrx_word\" title=\"x_conf 80\">oteket</span> \
            <span class=\"ocrx_word\" title=\"x_conf 80\">För¬</span></span>\
            <span class=\"ocr_line\"><span class=\"ocrx_word\" title=\"x_conf 80\">Ordet</span> \
            <span class=\"ocrx_word\" title=\"x_conf 80\">slut\u{AD}</span></span>\
            </p></div></body></html>";
        let d = doc(html);
        assert_eq!(d.text, "Kungl. biblioteket\nFörOrdet\nslut-");
        assert!((d.ocr_confidence.unwrap() - (0.6 + 0.9 + 0.8 * 4.0) / 6.0).abs() < 1e-4);
        assert_eq!(d.language.as_deref(), Some("sv"));
    }

    #[test]
    fn pages_are_blocks_and_languages_must_agree() {
        let html = r#"<html><body>
            <div class="ocr_page"><p class="ocr_par" lang="swe"><span class="ocr_line"><span class="ocrx_word">Ett</span></span></p></div>
            <div class="ocr_page"><p class="ocr_par" lang="fin"><span class="ocr_line"><span class="ocrx_word">Kaksi</span></span></p></div>
            </body></html>"#;
        let d = doc(html);
        assert_eq!(d.text, "Ett\n\nKaksi");
        assert_eq!(d.meta["pages"], 2);
        assert_eq!(d.language, None);
        assert_eq!(d.ocr_confidence, None);
    }

    #[test]
    fn line_text_when_no_word_elements() {
        let html = r#"<html><body><div class="ocr_page"><div class="ocr_carea">
            <span class="ocr_line">Första   raden</span>
            <span class="ocrx_line">andra <b>raden</b></span></div>
            <div class="ocr_carea"><span class="ocr_caption">Bildtext</span></div></div></body></html>"#;
        assert_eq!(doc(html).text, "Första raden\nandra raden\n\nBildtext");
    }

    #[test]
    fn plain_html_is_read_tolerantly() {
        let html = "<!DOCTYPE html>\n<html><head><meta charset=utf-8><title>x</title></head><body>\
            <div class=ocr_page><p class='ocr_par'><span class='ocr_line'>\
            <span class='ocrx_word' title='x_wconf 90'>God</span>&nbsp;<span class='ocrx_word'>jul</span><br>\
            </p></span><span class='ocr_line'><span class='ocrx_word'>Gl&auml;dje&shy;</span></span></div></body></html>";
        let d = doc(html);
        assert_eq!(d.text, "God jul\n\nGlädje-");
        assert_eq!(d.meta["html_tolerant"], true);
    }

    #[test]
    fn malformed_xml_is_an_error_when_even_tolerant_fails() {
        let err = run_with(
            "<html><body><div class=\"ocr_page\"><span class=\"ocr_line\" title=\"x</span>",
            &ReaderOptions::default(),
        )
        .unwrap_err();
        assert_eq!(err.reason, Reason::MalformedXml);
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE html [<!ENTITY a "aaaa">]><html><body>&a;</body></html>"#;
        assert_eq!(run_with(bomb, &ReaderOptions::default()).unwrap_err().reason, Reason::XmlEntities);
    }

    #[test]
    fn blank_page_is_rejected() {
        let html =
            r#"<html><body><div class="ocr_page" title="bbox 0 0 1 1"><div class="ocr_carea"/></div></body></html>"#;
        let got = run_with(html, &ReaderOptions::default()).unwrap();
        assert!(matches!(&got[..], [Emit::Reject { reason: Reason::EmptyText, .. }]), "{got:?}");
    }

    #[test]
    fn repaired_bytes_are_counted() {
        let mut bytes =
            b"<html><body><div class=\"ocr_page\"><span class=\"ocr_line\"><span class=\"ocrx_word\">h".to_vec();
        bytes.extend_from_slice(b"\xFFr</span></span></div></body></html>");
        let opts = ReaderOptions::default();
        let ctx = ReadContext { path: "t", options: &opts };
        let mut got = Vec::new();
        read(&bytes, &ctx, &mut |e| got.push(e)).unwrap();
        match got.pop() {
            Some(Emit::Doc(d)) => {
                assert_eq!(d.text, "h\u{FFFD}r");
                assert_eq!(d.meta["utf8_repaired_bytes"], 1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hyphen_rules() {
        assert_eq!(hyphen_stem("huf-", "vud"), Some("huf"));
        assert_eq!(hyphen_stem("Nord-", "Amerika"), None);
        assert_eq!(hyphen_stem("Nord¬", "Amerika"), Some("Nord"));
        assert_eq!(hyphen_stem("-", "och"), None);
        assert_eq!(hyphen_stem("1870-", "talet"), None);
        assert_eq!(hyphen_stem("a", "b"), None);
        assert_eq!(hyphen_stem("", "b"), None);
        assert_eq!(finish_word("¬"), "¬");
        assert_eq!(finish_word("me\u{AD}dan"), "medan");
    }

    fn data_dir() -> Option<std::path::PathBuf> {
        crate::ingest::testing::shared_data("hocr")
    }

    fn real(name: &str) -> Option<RawDoc> {
        let path = data_dir()?.join(name);
        let bytes = std::fs::read(&path).ok()?;
        match run_with(&String::from_utf8_lossy(&bytes), &ReaderOptions::default()).unwrap().pop() {
            Some(Emit::Doc(d)) => Some(d),
            other => panic!("{name}: {other:?}"),
        }
    }

    use crate::ingest::testing::in_order;

    #[test]
    fn real_files_never_fail() {
        let Some(dir) = data_dir() else { return };
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let bytes = std::fs::read(entry.path()).unwrap();
            let opts = ReaderOptions::default();
            let ctx = ReadContext { path: "x", options: &opts };
            let mut docs = 0;
            read(&bytes, &ctx, &mut |e| docs += matches!(e, Emit::Doc(_)) as usize)
                .unwrap_or_else(|e| panic!("{}: {e}", entry.path().display()));
            assert_eq!(docs, 1, "{}", entry.path().display());
            // Truncated input must never panic (it may be an error).
            for cut in [bytes.len() / 3, bytes.len() / 2] {
                let _ = read(&bytes[..cut], &ctx, &mut |_| {});
            }
            n += 1;
        }
        assert!(n >= 5);
    }

    #[test]
    fn real_tesseract_italian() {
        let Some(d) = real("tesseract_4.1.1_italian_issue_288.hocr") else {
            return;
        };
        assert!(d.text.starts_with("aveva un grande significato storico. ÉEra\nla prova che il proletariato esercitava non\nsolo più un dominio"), "{}", &d.text[..200]);
        assert_eq!(d.language.as_deref(), Some("ita"));
        let c = d.ocr_confidence.unwrap();
        assert!((0.7..0.99).contains(&c), "{c}");
        assert!(!d.text.contains("Ordine_Nuovo"));
    }

    #[test]
    fn real_bsb_soft_hyphens_joined() {
        let Some(d) = real("bsb00091144_p161_german_hyphen.hocr.html") else {
            return;
        };
        assert!(d.text.starts_with("162\n\nKONKLUSION\n\nDie Mehrstimmigkeit des Subjekts"), "{}", &d.text[..80]);
        assert!(in_order(&d.text, &["eng verbunden", "mit der Oszilliation", "Frisch drückt"]), "{}", &d.text[..400]);
        assert!(!d.text.contains('\u{AD}'));
        assert!(!d.text.contains("bsb00091144"), "head title leaked");
        assert_eq!(d.ocr_confidence, None);
    }

    #[test]
    fn real_chronam_x_conf_and_shy_entity() {
        let Some(d) = real("chronam_sn90050306_1921_02_10-8.hocr.html") else {
            return;
        };
        assert!(d.text.starts_with("THE BIGGEST AND GREATEST OF ALL\n"), "{}", &d.text[..80]);
        assert!(in_order(&d.text, &["This is more than an ordinary February sale,", "We need the Cash since we"]));
        let c = d.ocr_confidence.unwrap();
        assert!((0.5..1.0).contains(&c), "{c}");
        assert_eq!(d.meta["html_tolerant"], true, "&shy; needs the tolerant pass");
        assert!(!d.text.contains('\u{AD}'));
    }

    #[test]
    fn real_abbyy_chronam_and_fraktur() {
        let Some(d) = real("chronam_abbyy_seq-1.hocr.html") else {
            return;
        };
        assert!(
            d.text.starts_with("» IMPORTANT CHANGE\nIN ARKANSAS STATE BANS\nA. E. Waters of Shawnee."),
            "{}",
            &d.text[..100]
        );
        assert_eq!(d.language.as_deref(), Some("eng"));
        assert!(!d.text.contains("Image: 0766.tif"));
        assert!(!d.text.contains('\u{AD}'));
        let c = d.ocr_confidence.unwrap();
        assert!((0.3..0.95).contains(&c), "{c}");
        let Some(f) = real("bsb10049004_fraktur_multicolumn.hocr") else {
            return;
        };
        assert!(in_order(&f.text, &["Betriebsbeamte beiden", "dert zu Mittheilung alles Wiffens", "werthen in ihrem"]));
        assert_eq!(f.language.as_deref(), Some("de"));
    }
}

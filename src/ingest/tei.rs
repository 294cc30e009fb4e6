//! TEI P5 reader (ELTeC novels, DraCor plays, …): one document per file.
//!
//! Metadata from the `teiHeader`:
//! - title: the first `fileDesc/titleStmt/title` (the one with `@type="main"` when there are
//!   several); an ELTeC edition suffix (`Ett mosaikarbete: ELTeC-utgåvan`) is cut off.
//! - author: the `titleStmt/author`s (text with identifiers such as `idno` left out,
//!   whitespace collapsed, a trailing life span `(1864-1925)` removed), joined by `; `.
//! - date: the date of the work rather than of the electronic edition, by priority:
//!   `profileDesc/creation/date`, a DraCor `standOff` `event[@type="written"]`, a
//!   `sourceDesc` bibl of `@type="firstEdition"`, `event[@type="print"]`,
//!   `event[@type="premiere"]`, any other `sourceDesc` date (not of a `digitalSource`), and
//!   last `publicationStmt/date` (the electronic edition). `@when` (or `@when-iso`,
//!   `@notBefore`, `@from`, `@notAfter`, `@to`) before the element text; which one was used is
//!   in meta `date_source`.
//! - language: `profileDesc/langUsage/language/@ident` (or its text), else `text/@xml:lang`,
//!   else `TEI/@xml:lang`.
//!
//! Text from `<text>` (front, body, back): paragraph-like elements (`p`, `head`, `ab`,
//! `stage`, `item`, `castItem`, …) and containers (`div`, `lg`, `sp`, `quote`, `list`, …)
//! separate blocks; `l` and `<lb/>` end a line; inside a speech (`sp`) the parts are lines, so
//! the `speaker` stays as the first line of its speech. Nested paragraph-like elements (a
//! `stage` inside a `p`) are inline. Skipped: `note`, `fw`, `figDesc`, feature structures and
//! person/place lists, `sic`/`orig`/`abbr` inside `choice`, the title page, and editorial,
//! notes, index and advertisement divisions of the front and back matter. `pb`, `cb`,
//! `milestone` and `gap` are no-ops; `lb`/`pb` with `@break="no"` join the word halves (and
//! drop a soft hyphen before them). Whitespace is collapsed; soft hyphens are dropped.

use quick_xml::events::{BytesStart, Event};
use serde_json::Value;

use super::source::{decode_text, Emit, RawDoc, ReadContext, ReadError, TextBuilder};
use super::xml::{attr, resolve_ref, tag, text_content, XmlReader};
use crate::reject::Reason;

/// Reads one TEI file into one document.
pub fn read(bytes: &[u8], _ctx: &ReadContext, out: &mut dyn FnMut(Emit)) -> Result<(), ReadError> {
    let (text, repaired) = decode_text(bytes);
    let mut r = XmlReader::new(&text);
    let mut h = Header::default();
    let mut seen_header = false;
    let mut root_lang: Option<String> = None;
    let mut text_lang: Option<String> = None;
    let mut tei_id: Option<String> = None;
    let mut w = Writer::default();
    loop {
        match r.next()? {
            Event::Start(e) => match tag(&e) {
                "TEI" | "teiCorpus" => {
                    if root_lang.is_none() {
                        root_lang = nonempty(attr(&e, "lang").map(|s| s.into_owned()));
                    }
                    if tei_id.is_none() {
                        tei_id = nonempty(attr(&e, "id").map(|s| s.into_owned()));
                    }
                }
                "teiHeader" if !seen_header => {
                    seen_header = true;
                    read_header(&mut r, &mut h)?;
                }
                "teiHeader" | "facsimile" | "sourceDoc" => r.skip()?,
                "standOff" => read_events(&mut r, &mut h)?,
                "text" => {
                    if text_lang.is_none() {
                        text_lang = nonempty(attr(&e, "lang").map(|s| s.into_owned()));
                    }
                    read_text(&mut r, &mut w)?;
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    let body = w.finish();
    if body.is_empty() {
        out(Emit::Reject {
            locator: String::new(),
            reason: Reason::EmptyText,
            detail: "TEI without text in <text>".into(),
        });
        return Ok(());
    }
    let mut doc = RawDoc { text: body, ..Default::default() };
    doc.title = h.title();
    doc.author = (!h.authors.is_empty()).then(|| h.authors.join("; "));
    if let Some(d) = h.dates.iter().min_by_key(|d| d.0) {
        doc.date = Some(d.2.clone());
        doc.meta.insert("date_source".into(), Value::from(d.1));
    }
    doc.language = h.language.clone().or(text_lang).or(root_lang);
    if let Some(id) = tei_id {
        doc.meta.insert("tei_id".into(), Value::from(id));
    }
    if repaired > 0 {
        doc.meta.insert("utf8_repaired_bytes".into(), Value::from(repaired));
    }
    out(Emit::Doc(doc));
    Ok(())
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.map(|s| collapse(&s)).filter(|s| !s.is_empty())
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Debug, Default)]
struct Header {
    /// (`@type`, text) of the first titleStmt's titles.
    titles: Vec<(Option<String>, String)>,
    authors: Vec<String>,
    title_stmt_done: bool,
    /// (priority, source label, value); the lowest priority wins, the first of equals.
    dates: Vec<(u8, &'static str, String)>,
    language: Option<String>,
}

impl Header {
    fn title(&self) -> Option<String> {
        let (_, t) = self
            .titles
            .iter()
            .find(|(ty, _)| ty.as_deref() == Some("main"))
            .or_else(|| self.titles.iter().find(|(ty, _)| !matches!(ty.as_deref(), Some("sub" | "alt" | "short"))))
            .or_else(|| self.titles.first())?;
        let t = match t.rfind(':') {
            Some(i) if t.get(i + 1..).is_some_and(|rest| rest.to_lowercase().contains("eltec")) => {
                t.get(..i).unwrap_or(t)
            }
            _ => t,
        };
        Some(t.trim().to_string()).filter(|t| !t.is_empty())
    }
}

/// Reads the rest of the element just started as one line of text, whitespace collapsed.
/// `sep` puts a space at child element boundaries (for `<forename>A</forename><surname>…`);
/// children named in `skip` are left out.
fn read_inline(r: &mut XmlReader<'_>, sep: bool, skip: &[&str]) -> Result<String, ReadError> {
    let mut depth = 1usize;
    let mut out = String::new();
    loop {
        match r.next()? {
            Event::Start(e) => {
                if skip.contains(&tag(&e)) {
                    r.skip()?;
                } else {
                    depth += 1;
                }
                if sep {
                    out.push(' ');
                }
            }
            Event::Empty(_) if sep => out.push(' '),
            Event::End(_) => {
                depth -= 1;
                if depth == 0 {
                    return Ok(collapse(&out));
                }
                if sep {
                    out.push(' ');
                }
            }
            Event::Text(t) => out.push_str(&text_content(&t)),
            Event::CData(t) => out.push_str(&t),
            Event::GeneralRef(g) => out.push_str(&resolve_ref(&g)?),
            Event::Eof => return Err(ReadError::new(Reason::MalformedXml, "unexpected end of document")),
            _ => {}
        }
    }
}

/// A date element's value: a normalized attribute, else its text (without a trailing `.`).
fn date_attr(e: &BytesStart<'_>) -> Option<String> {
    ["when", "when-iso", "notBefore", "from", "notAfter", "to"]
        .iter()
        .find_map(|a| nonempty(attr(e, a).map(|s| s.into_owned())))
}

fn clean_date_text(s: &str) -> Option<String> {
    let s = collapse(s);
    let s = s.trim_end_matches('.').trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// What the open elements of a header say about a `date` inside them, carried down from
/// parent to child so that classifying a date costs the same at any depth (a crafted header
/// with deep nesting and many dates would otherwise be quadratic).
#[derive(Debug, Clone, Copy, Default)]
struct Ancestry {
    creation: bool,
    source_desc: bool,
    first_edition: bool,
    digital_source: bool,
    publication: bool,
}

impl Ancestry {
    fn child(self, name: &str, ty: Option<&str>) -> Ancestry {
        let typed = |t: &str| ty.is_some_and(|ty| ty.eq_ignore_ascii_case(t));
        Ancestry {
            creation: self.creation || name == "creation",
            source_desc: self.source_desc || name == "sourceDesc",
            first_edition: self.first_edition || typed("firstEdition"),
            digital_source: self.digital_source || typed("digitalSource"),
            publication: self.publication || name == "publicationStmt",
        }
    }

    /// Which kind of date a `date` element under these ancestors is.
    fn date_kind(self) -> Option<(u8, &'static str)> {
        if self.creation {
            Some((0, "creation"))
        } else if self.source_desc {
            if self.first_edition {
                Some((2, "source_first_edition"))
            } else if self.digital_source {
                None
            } else {
                Some((5, "source"))
            }
        } else if self.publication {
            Some((6, "publication"))
        } else {
            None
        }
    }
}

/// A DraCor-style `event` (`written`, `print`, `premiere`) as a date candidate.
fn event_date(e: &BytesStart<'_>, h: &mut Header) {
    let kind = match attr(e, "type").as_deref() {
        Some("written") => (1, "event_written"),
        Some("print") => (3, "event_print"),
        Some("premiere") => (4, "event_premiere"),
        _ => return,
    };
    if let Some(v) = date_attr(e) {
        h.dates.push((kind.0, kind.1, v));
    }
}

fn strip_lifespan(a: &str) -> String {
    let t = a.trim();
    if let (Some(i), true) = (t.rfind('('), t.ends_with(')')) {
        let inner = t.get(i + 1..t.len() - 1).unwrap_or("");
        if inner.chars().any(|c| c.is_ascii_digit())
            && inner.chars().all(|c| c.is_ascii_digit() || "-–—?., ".contains(c))
        {
            return t.get(..i).unwrap_or(t).trim().to_string();
        }
    }
    t.to_string()
}

/// Reads a `teiHeader` whose start tag was just returned.
fn read_header(r: &mut XmlReader<'_>, h: &mut Header) -> Result<(), ReadError> {
    let mut stack: Vec<(String, Ancestry)> = Vec::new();
    loop {
        match r.next()? {
            Event::Start(e) => {
                let name = tag(&e).to_string();
                let n = stack.len();
                let parent = stack.last().map(|s| s.0.as_str());
                let in_title_stmt = !h.title_stmt_done
                    && parent == Some("titleStmt")
                    && n >= 2
                    && stack.get(n - 2).is_some_and(|s| s.0 == "fileDesc");
                match name.as_str() {
                    "title" if in_title_stmt => {
                        let ty = attr(&e, "type").map(|s| s.into_owned());
                        let t = read_inline(r, false, &["note"])?;
                        if !t.is_empty() {
                            h.titles.push((ty, t));
                        }
                    }
                    "author" if in_title_stmt => {
                        let t = read_inline(r, true, &["idno", "note", "date", "birth", "death", "ptr", "ref"])?;
                        let t = strip_lifespan(&t);
                        if !t.is_empty() {
                            h.authors.push(t);
                        }
                    }
                    "date" => {
                        let kind = stack.last().map(|s| s.1).unwrap_or_default().date_kind();
                        let value = match date_attr(&e) {
                            Some(v) => {
                                r.skip()?;
                                Some(v)
                            }
                            None => clean_date_text(&read_inline(r, false, &[])?),
                        };
                        if let (Some((p, label)), Some(v)) = (kind, value) {
                            h.dates.push((p, label, v));
                        }
                    }
                    "language" if parent == Some("langUsage") => {
                        let ident = nonempty(attr(&e, "ident").map(|s| s.into_owned()));
                        let text = read_inline(r, false, &[])?;
                        if h.language.is_none() {
                            h.language = ident.or_else(|| nonempty(Some(text)));
                        }
                    }
                    "event" => {
                        event_date(&e, h);
                        r.skip()?;
                    }
                    _ => {
                        let up = stack.last().map(|s| s.1).unwrap_or_default();
                        let ancestry = up.child(&name, attr(&e, "type").as_deref());
                        stack.push((name, ancestry));
                    }
                }
            }
            Event::Empty(e) => match tag(&e) {
                "date" => {
                    let kind = stack.last().map(|s| s.1).unwrap_or_default().date_kind();
                    if let (Some((p, label)), Some(v)) = (kind, date_attr(&e)) {
                        h.dates.push((p, label, v));
                    }
                }
                "language" if h.language.is_none() && stack.last().is_some_and(|s| s.0 == "langUsage") => {
                    h.language = nonempty(attr(&e, "ident").map(|s| s.into_owned()));
                }
                "event" => event_date(&e, h),
                _ => {}
            },
            Event::End(_) => match stack.pop() {
                None => return Ok(()),
                Some((name, _)) if name == "titleStmt" => h.title_stmt_done = true,
                _ => {}
            },
            Event::Eof => return Err(ReadError::new(Reason::MalformedXml, "unexpected end of document")),
            _ => {}
        }
    }
}

/// Reads a `standOff` whose start tag was just returned, keeping its `event` dates.
fn read_events(r: &mut XmlReader<'_>, h: &mut Header) -> Result<(), ReadError> {
    let mut depth = 1usize;
    loop {
        match r.next()? {
            Event::Start(e) => {
                if tag(&e) == "event" {
                    event_date(&e, h);
                }
                depth += 1;
            }
            Event::Empty(e) if tag(&e) == "event" => event_date(&e, h),
            Event::End(_) => {
                depth -= 1;
                if depth == 0 {
                    return Ok(());
                }
            }
            Event::Eof => return Err(ReadError::new(Reason::MalformedXml, "unexpected end of document")),
            _ => {}
        }
    }
}

/// Lays out the text of `<text>` elements.
#[derive(Default)]
struct Writer {
    tb: TextBuilder,
    /// Raw text of the current line (inline markup does not separate words).
    buf: String,
    /// After `<lb break="no"/>`: the next text continues the word.
    glue_next: bool,
}

impl Writer {
    fn text(&mut self, s: &str) {
        if self.glue_next {
            let t = s.trim_start();
            if t.is_empty() {
                return;
            }
            self.glue_next = false;
            self.buf.push_str(t);
        } else {
            // Source indentation before closing markup is not a space before punctuation:
            // `<role>\n  <persName>FRU X.</persName>\n</role>, <roleDesc>` → `FRU X., `.
            if s.starts_with([',', '.', ';', ':', '!', '?', ')']) {
                let kept = self.buf.trim_end().len();
                if self.buf.get(kept..).is_some_and(|ws| ws.contains('\n')) {
                    self.buf.truncate(kept);
                }
            }
            self.buf.push_str(s);
        }
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            let s: String = self.buf.chars().filter(|&c| c != '\u{AD}').collect();
            self.tb.words(&s);
            self.buf.clear();
        }
        self.glue_next = false;
    }

    fn end_line(&mut self) {
        self.flush();
        self.tb.end_line();
    }

    fn end_block(&mut self) {
        self.flush();
        self.tb.end_block();
    }

    /// `<lb break="no"/>`: the word goes on after the break.
    fn join_word(&mut self) {
        let kept = self.buf.trim_end().trim_end_matches(['\u{AD}', '¬']).len();
        self.buf.truncate(kept);
        self.glue_next = true;
    }

    fn finish(mut self) -> String {
        self.flush();
        self.tb.finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    /// Inline markup.
    None,
    /// Separates blocks at start and end.
    Block,
    /// Ends a line at start and end.
    Line,
    /// A space at start and end (table cells).
    Space,
}

/// Elements whose content is never text of the work.
fn always_skipped(name: &str) -> bool {
    matches!(
        name,
        "note"
            | "fw"
            | "figDesc"
            | "interp"
            | "interpGrp"
            | "fs"
            | "fvLib"
            | "listPerson"
            | "listOrg"
            | "listPlace"
            | "listEvent"
            | "listRelation"
            | "teiHeader"
            | "facsimile"
            | "titlePage"
            | "metamark"
            | "surplus"
            | "del"
            | "index"
    )
}

/// Division types of front and back matter that are not the work's text.
fn skipped_div_type(ty: &str) -> bool {
    let t: String = ty.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect();
    matches!(
        t.as_str(),
        "titlepage"
            | "editorial"
            | "notes"
            | "index"
            | "toc"
            | "contents"
            | "advertisement"
            | "advertisements"
            | "ads"
            | "imprint"
    )
}

fn is_paragraph(name: &str) -> bool {
    matches!(
        name,
        "p" | "head"
            | "ab"
            | "l"
            | "stage"
            | "speaker"
            | "item"
            | "castItem"
            | "trailer"
            | "byline"
            | "dateline"
            | "salute"
            | "signed"
            | "docAuthor"
            | "docImprint"
            | "docDate"
            | "docEdition"
            | "titlePart"
            | "label"
            | "bibl"
            | "argument"
    )
}

fn is_container(name: &str) -> bool {
    matches!(
        name,
        "div"
            | "div1"
            | "div2"
            | "div3"
            | "div4"
            | "div5"
            | "div6"
            | "div7"
            | "lg"
            | "sp"
            | "spGroup"
            | "list"
            | "castList"
            | "castGroup"
            | "front"
            | "body"
            | "back"
            | "group"
            | "text"
            | "figure"
            | "table"
            | "floatingText"
            | "epigraph"
            | "opener"
            | "closer"
            | "performance"
            | "set"
            | "prologue"
            | "epilogue"
            | "postscript"
            | "quote"
            | "cit"
            | "docTitle"
    )
}

/// Reads a `<text>` whose start tag was just returned.
fn read_text(r: &mut XmlReader<'_>, w: &mut Writer) -> Result<(), ReadError> {
    // (name, action, counted as paragraph, counted as speech)
    let mut stack: Vec<(String, Act, bool, bool)> = Vec::new();
    let mut para_depth = 0usize;
    let mut sp_depth = 0usize;
    let mut matter_depth = 0usize; // inside front or back
    w.end_block();
    loop {
        match r.next()? {
            Event::Start(e) => {
                let name = tag(&e).to_string();
                let parent = stack.last().map(|s| s.0.as_str());
                let skip = always_skipped(&name)
                    || (parent == Some("choice") && matches!(name.as_str(), "sic" | "orig" | "abbr"))
                    || (matter_depth > 0
                        && name.starts_with("div")
                        && attr(&e, "type").is_some_and(|t| skipped_div_type(&t)));
                if skip {
                    r.skip()?;
                    continue;
                }
                if matches!(name.as_str(), "lb" | "pb" | "cb" | "milestone" | "gap") {
                    // Normally empty; content (if any) is not text.
                    milestone(&name, &e, w);
                    r.skip()?;
                    continue;
                }
                let para = is_paragraph(&name);
                let act = if name == "cell" {
                    Act::Space
                } else if name == "l" || name == "row" {
                    Act::Line
                } else if para_depth > 0 || !(para || is_container(&name)) {
                    Act::None
                } else if name == "speaker" || (sp_depth > 0 && name != "sp") {
                    Act::Line
                } else {
                    Act::Block
                };
                // A paragraph-like element makes everything nested in it inline.
                let para = para && act != Act::None;
                let speech = name == "sp" && act == Act::Block;
                open_close(act, w);
                para_depth += usize::from(para);
                sp_depth += usize::from(speech);
                if name == "front" || name == "back" {
                    matter_depth += 1;
                }
                stack.push((name, act, para, speech));
            }
            Event::Empty(e) => {
                let name = tag(&e);
                milestone(name, &e, w);
            }
            Event::End(_) => {
                let Some((name, act, para, speech)) = stack.pop() else {
                    w.end_block();
                    return Ok(());
                };
                open_close(act, w);
                para_depth = para_depth.saturating_sub(usize::from(para));
                sp_depth = sp_depth.saturating_sub(usize::from(speech));
                if name == "front" || name == "back" {
                    matter_depth = matter_depth.saturating_sub(1);
                }
            }
            Event::Text(t) => w.text(&text_content(&t)),
            Event::CData(t) => w.text(&t),
            Event::GeneralRef(g) => w.text(&resolve_ref(&g)?),
            Event::Eof => return Err(ReadError::new(Reason::MalformedXml, "unexpected end of document")),
            _ => {}
        }
    }
}

fn open_close(act: Act, w: &mut Writer) {
    match act {
        Act::None => {}
        Act::Block => w.end_block(),
        Act::Line => w.end_line(),
        Act::Space => w.text(" "),
    }
}

/// Empty elements in the text: line breaks, page/column breaks (no-ops unless they break a
/// word), `space`.
fn milestone(name: &str, e: &BytesStart<'_>, w: &mut Writer) {
    let no_break = attr(e, "break").is_some_and(|b| b == "no" || b == "false");
    match name {
        "lb" if no_break => w.join_word(),
        "lb" => w.end_line(),
        "pb" | "cb" if no_break => w.join_word(),
        "space" => w.text(" "),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::source::ReaderOptions;

    fn run(input: &str) -> Result<Vec<Emit>, ReadError> {
        let opts = ReaderOptions::default();
        let ctx = ReadContext { path: "test.xml", options: &opts };
        let mut got = Vec::new();
        read(input.as_bytes(), &ctx, &mut |e| got.push(e))?;
        Ok(got)
    }

    fn doc(input: &str) -> RawDoc {
        match run(input).unwrap().pop() {
            Some(Emit::Doc(d)) => d,
            other => panic!("expected a document, got {other:?}"),
        }
    }

    const NOVEL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<TEI xmlns="http://www.tei-c.org/ns/1.0" xml:id="SWE000" xml:lang="sw">
 <teiHeader>
  <fileDesc>
   <titleStmt>
    <title type="sub">En berättelse</title>
    <title type="main">Röda   rummet: ELTeC-utgåvan</title>
    <author ref="viaf:1">Strindberg,
       August (1849-1912)</author>
   </titleStmt>
   <publicationStmt><date when="2021-04-09"/></publicationStmt>
   <sourceDesc>
    <bibl type="digitalSource"><date when="2015"/></bibl>
    <bibl type="printSource"><date>1905.</date></bibl>
    <bibl type="firstEdition"><publisher>Stockholm <date>1879.</date></publisher></bibl>
   </sourceDesc>
  </fileDesc>
  <profileDesc><langUsage><language ident="swe"/></langUsage></profileDesc>
 </teiHeader>
 <text>
  <front><div type="titlepage"><p>RÖDA RUMMET</p></div>
   <div type="preface"><head>Förord</head><p>Till läsaren.</p></div></front>
  <body>
   <div type="chapter"><pb n="3"/>
    <head>FÖRSTA KAPITLET.
        Stockholm i fågelperspektiv.</head>
    <p>Det var en afton i <hi>början</hi> af maj.<note>En not.</note> Den lilla
       trädgården<pb n="4"/> på Mosebacke<fw type="pageNum">4</fw> hade ännu
       icke blif<lb break="no"/>vit öppnad.</p>
    <milestone unit="*"/>
    <lg><l>Första versraden,</l>
        <l>andra <choice><sic>verzraden</sic><corr>versraden</corr></choice>.</l></lg>
    <p>Slut&#x2014;punkt &amp; schagg&#xAD;<lb break="no"/>
       soffa<lb/>ny rad.</p>
   </div>
  </body>
  <back><div type="notes"><p>Kommentar</p></div></back>
 </text>
</TEI>"#;

    #[test]
    fn novel_text_layout() {
        let d = doc(NOVEL);
        assert_eq!(
            d.text,
            "Förord\n\nTill läsaren.\n\nFÖRSTA KAPITLET. Stockholm i fågelperspektiv.\n\n\
             Det var en afton i början af maj. Den lilla trädgården på Mosebacke hade ännu icke blifvit öppnad.\n\n\
             Första versraden,\nandra versraden.\n\nSlut—punkt & schaggsoffa\nny rad."
        );
        assert_eq!(d.locator, "");
    }

    #[test]
    fn novel_metadata() {
        let d = doc(NOVEL);
        assert_eq!(d.title.as_deref(), Some("Röda rummet"));
        assert_eq!(d.author.as_deref(), Some("Strindberg, August"));
        assert_eq!(d.date.as_deref(), Some("1879"));
        assert_eq!(d.meta["date_source"], "source_first_edition");
        assert_eq!(d.language.as_deref(), Some("swe"));
        assert_eq!(d.meta["tei_id"], "SWE000");
    }

    #[test]
    fn date_priorities() {
        let with = |src: &str| {
            let xml = format!(
                "<TEI><teiHeader><fileDesc><titleStmt><title>T</title></titleStmt>\
                 <publicationStmt><date when=\"2020\"/></publicationStmt><sourceDesc>{src}</sourceDesc></fileDesc>\
                 <profileDesc/></teiHeader><text><body><p>x</p></body></text></TEI>"
            );
            let d = doc(&xml);
            (d.date.unwrap_or_default(), d.meta.get("date_source").and_then(|v| v.as_str()).unwrap_or("").to_string())
        };
        assert_eq!(with(""), ("2020".into(), "publication".into()));
        assert_eq!(with("<bibl><date>[1749]</date></bibl>"), ("[1749]".into(), "source".into()));
        assert_eq!(
            with("<bibl type=\"digitalSource\"><date when=\"2001\"/></bibl>"),
            ("2020".into(), "publication".into())
        );
        let xml = "<TEI><teiHeader><fileDesc><titleStmt><title>T</title></titleStmt><sourceDesc><bibl><date when=\"1914\"/></bibl></sourceDesc></fileDesc>\
                   <profileDesc><creation><date notBefore=\"1887\" notAfter=\"1888\"/></creation></profileDesc></teiHeader>\
                   <standOff><listEvent><event type=\"print\" when=\"1890\"/></listEvent></standOff><text><body><p>x</p></body></text></TEI>";
        let d = doc(xml);
        assert_eq!((d.date.as_deref(), &d.meta["date_source"]), (Some("1887"), &Value::from("creation")));
        let xml = xml.replace("<creation><date notBefore=\"1887\" notAfter=\"1888\"/></creation>", "");
        let d = doc(&xml);
        assert_eq!((d.date.as_deref(), &d.meta["date_source"]), (Some("1890"), &Value::from("event_print")));
    }

    #[test]
    fn drama_speaker_starts_its_speech() {
        let xml = r##"<TEI xmlns="http://www.tei-c.org/ns/1.0" xml:lang="sv"><teiHeader><fileDesc><titleStmt>
            <title>Den starkare</title><author><persName><forename>August</forename><surname>Strindberg</surname></persName>
            <idno type="wikidata">Q7724</idno></author></titleStmt></fileDesc></teiHeader>
            <text><front><castList><head>Personer:</head><castItem><role>FRU X.</role>, <roleDesc>skådespelerska</roleDesc>.</castItem></castList></front>
            <body><div type="act"><head>Sceneri:</head>
            <stage>Ett hörn af ett damkafé.</stage>
            <sp who="#x"><speaker>FRU X.</speaker>
              <p>God dag, <persName>Amelie</persName> lilla! <stage>(Sätter sig.)</stage> Du sitter
              <lb/> här så ensam.</p>
              <p>Ja.</p></sp>
            <sp who="#y"><speaker>M:LLE Y.</speaker><stage>(tiger)</stage></sp>
            </div></body></text></TEI>"##;
        let d = doc(xml);
        assert_eq!(
            d.text,
            "Personer:\n\nFRU X., skådespelerska.\n\nSceneri:\n\nEtt hörn af ett damkafé.\n\n\
             FRU X.\nGod dag, Amelie lilla! (Sätter sig.) Du sitter\nhär så ensam.\nJa.\n\nM:LLE Y.\n(tiger)"
        );
        assert_eq!(d.author.as_deref(), Some("August Strindberg"));
        assert_eq!(d.title.as_deref(), Some("Den starkare"));
        assert_eq!(d.language.as_deref(), Some("sv"), "TEI@xml:lang when there is no langUsage");
        assert_eq!(d.date, None);
    }

    #[test]
    fn empty_text_is_rejected_and_malformed_is_an_error() {
        let got = run("<TEI><teiHeader/><text><body><p> </p><pb/></body></text></TEI>").unwrap();
        assert!(matches!(&got[..], [Emit::Reject { reason: Reason::EmptyText, .. }]), "{got:?}");
        let err = run("<TEI><text><body><p>a</div></body></text></TEI>").unwrap_err();
        assert_eq!(err.reason, Reason::MalformedXml);
        let err = run("<TEI><text><body><p>a").unwrap_err();
        assert_eq!(err.reason, Reason::MalformedXml);
        let err =
            run(r#"<!DOCTYPE TEI [<!ENTITY x "y">]><TEI><text><body><p>&x;</p></body></text></TEI>"#).unwrap_err();
        assert_eq!(err.reason, Reason::XmlEntities);
    }

    #[test]
    fn helpers() {
        assert_eq!(strip_lifespan("Lybeck, Mikael (1864-1925)"), "Lybeck, Mikael");
        assert_eq!(strip_lifespan("Anonym (pseud.)"), "Anonym (pseud.)");
        assert_eq!(strip_lifespan("(1864)"), "");
        assert_eq!(strip_lifespan(")"), ")");
        assert_eq!(clean_date_text(" 1892. "), Some("1892".into()));
        assert_eq!(clean_date_text(" . "), None);
    }

    fn real(rel: &str) -> Option<RawDoc> {
        let path = crate::ingest::testing::shared_data(&format!("tei/{rel}"))?;
        let bytes = std::fs::read(&path).ok()?;
        let opts = ReaderOptions::default();
        let ctx = ReadContext { path: rel, options: &opts };
        let mut got = Vec::new();
        read(&bytes, &ctx, &mut |e| got.push(e)).unwrap();
        for cut in [bytes.len() / 3, bytes.len() / 2] {
            let _ = read(&bytes[..cut], &ctx, &mut |_| {});
        }
        match got.pop() {
            Some(Emit::Doc(d)) if got.is_empty() => Some(d),
            other => panic!("{rel}: {other:?}"),
        }
    }

    use crate::ingest::testing::in_order;

    #[test]
    fn real_eltec_novel() {
        let Some(d) = real("eltec_swe/SWE1963958_Lybeck.xml") else {
            return;
        };
        assert_eq!(d.title.as_deref(), Some("Ett mosaikarbete"));
        assert_eq!(d.author.as_deref(), Some("Lybeck, Mikael"));
        assert_eq!(d.date.as_deref(), Some("1892"));
        assert_eq!(d.meta["date_source"], "source_first_edition");
        assert_eq!(d.language.as_deref(), Some("swe"));
        assert!(
            d.text.starts_with("En dag i augusti mottog jag följande bref:\n\n„Helsingfors d. ⅛ -91.\n\n"),
            "{}",
            &d.text[..200]
        );
        assert!(!d.text.contains("FÖRLAGSAKTIEBOLAG"), "title page is skipped");
        assert!(!d.text.contains("Göteborgs universitetsbibliotek"), "header note is not text");
        assert!(in_order(
            &d.text,
            &[
                "TILLGIFVENHET.\n\n1.\n\nJag kallar henne Céri",
                "„På afstånd sjömannen spanar\nförutan ro efter land;\n"
            ]
        ));
        assert!(d.text.contains("Du måste ha tålamod. Vi ha ju natten för oss"), "pb inside a paragraph is a no-op");
        let words = d.text.split_whitespace().count();
        // ~9,640 whitespace-separated tokens in <text> (the header's extent counts otherwise).
        assert!((9_000..10_500).contains(&words), "{words} words");
    }

    #[test]
    fn real_dracor_play() {
        let Some(d) = real("swedracor/strindberg-den-starkare.xml") else {
            return;
        };
        assert_eq!(d.title.as_deref(), Some("Den starkare"));
        assert_eq!(d.author.as_deref(), Some("August Strindberg"));
        assert_eq!(d.date.as_deref(), Some("1890"));
        assert_eq!(d.meta["date_source"], "event_print");
        assert_eq!(d.language.as_deref(), Some("sv"));
        assert!(
            in_order(
                &d.text,
                &[
                    "Personer:",
                    "Sceneri:\n\nEtt hörn af ett damkafé; två små järnbord, en röd schaggsoffa och några stolar.",
                    "FRU X.\n(inträder vinterklädd i hatt\noch kappa med en fin japansk\nkorg på armen).",
                    "M:LLE Y.\n(sitter framför en halfdrucken ölbutelj",
                    "FRU X.\nGod dag, Amelie lilla! — Du sitter här så\nensam på julafton",
                    "bruden satt och läste en skämttidning, medan brudgummen spelade biljard"
                ]
            ),
            "{}",
            &d.text[..1500.min(d.text.len())]
        );
        assert!(d.text.contains(
            "Personer:\n\nFRU X., skådespelerska, gift.\n\nM:LLE Y., skådespelerska, ogift.\n\nEN UPPASSERSKA.\n\n"
        ));
        assert!(d.text.ends_with("Nu går jag hem och älskar honom!\n(Går)"), "{}", d.text);
        assert!(!d.text.contains("264"), "running heads (fw) are skipped");
        assert!(!d.text.contains("skådespelerska\n"), "the editorial person list is skipped");
        assert!(!d.text.contains('\u{AD}'));
    }
}

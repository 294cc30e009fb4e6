//! PAGE XML reader (PRImA PAGE, namespaces 2009–2019; elements matched by local name).
//!
//! One document per `Page` (locator `""` when the file has one page, `page=N` otherwise).
//! Text regions come in reading order: the `ReadingOrder` (ordered groups sorted by `@index`,
//! unordered groups in document order, nested groups flattened in place) when present, else
//! document order; regions the reading order does not reference follow in document order (a
//! nested region that is not referenced itself follows its parent). Every `TextRegion` is a
//! block and every `TextLine` a line.
//!
//! A line's text is its own `TextEquiv/Unicode`; a line without one (or with an empty one)
//! joins the texts of its `Word`s. A region's own `TextEquiv` is used only for a region that
//! has neither lines nor nested text regions. Of several `TextEquiv`s, the one marked as
//! ground truth (a `dataType`/`dataTypeDetails`/`comments` value such as `groundTruth`, `gt`)
//! wins, else the one with the lowest `@index` (OCR-D: the lowest index is the primary
//! reading), else the first. `TextEquiv/@conf` is the line confidence (for word-built lines,
//! the mean of the words'); the document's `ocr_confidence` is the mean over kept lines.

use std::collections::{HashMap, HashSet};

use quick_xml::events::{BytesStart, Event};
use serde_json::Value;

use super::source::{decode_text, Emit, RawDoc, ReadContext, ReadError, ReaderOptions, TextBuilder};
use super::xml::{attr, tag, XmlReader};
use crate::reject::Reason;

/// Reading-order groups nested deeper than this are skipped (their regions then follow in
/// document order), so a hostile file cannot exhaust the stack.
const MAX_GROUP_DEPTH: usize = 64;

/// Reads one PAGE XML file: one document (or rejection) per `Page`.
pub fn read(bytes: &[u8], ctx: &ReadContext, out: &mut dyn FnMut(Emit)) -> Result<(), ReadError> {
    let (text, repaired) = decode_text(bytes);
    let pages = parse(&text)?;
    if pages.is_empty() {
        out(Emit::Reject {
            locator: String::new(),
            reason: Reason::EmptyText,
            detail: "PAGE XML without a Page element".into(),
        });
        return Ok(());
    }
    let many = pages.len() > 1;
    for (i, page) in pages.iter().enumerate() {
        let locator = if many { format!("page={}", i + 1) } else { String::new() };
        let (text, confidence) = layout(page, ctx.options);
        if text.is_empty() {
            out(Emit::Reject {
                locator,
                reason: Reason::EmptyText,
                detail: format!("page with {} text region(s) and no text", page.regions.len()),
            });
            continue;
        }
        let mut doc = RawDoc { text, locator, ocr_confidence: confidence, ..Default::default() };
        doc.language = page.language();
        if let Some(img) = &page.image {
            doc.meta.insert("image".into(), Value::from(img.clone()));
        }
        if repaired > 0 {
            doc.meta.insert("utf8_repaired_bytes".into(), Value::from(repaired));
        }
        out(Emit::Doc(doc));
    }
    Ok(())
}

#[derive(Debug, Default, Clone)]
struct Equiv {
    index: Option<i64>,
    conf: Option<f32>,
    ground_truth: bool,
    text: String,
}

#[derive(Debug, Default)]
struct Line {
    /// The words (with their confidence when the line was built from `Word`s).
    words: Vec<(String, Option<f32>)>,
    conf: Option<f32>,
}

#[derive(Debug, Default)]
struct Region {
    id: Option<String>,
    parent: Option<usize>,
    children: Vec<usize>,
    lines: Vec<Line>,
    equivs: Vec<Equiv>,
    language: Option<String>,
}

#[derive(Debug, Default)]
struct Page {
    image: Option<String>,
    language: Option<String>,
    regions: Vec<Region>,
    order: Vec<String>,
}

impl Page {
    /// `Page@primaryLanguage`, else the one language all regions declaring one agree on.
    fn language(&self) -> Option<String> {
        if self.language.is_some() {
            return self.language.clone();
        }
        let mut langs = self.regions.iter().filter_map(|r| r.language.as_deref());
        let first = langs.next()?;
        langs.all(|l| l == first).then(|| first.to_string())
    }
}

/// Picks the TextEquiv to use: ground truth, else the lowest `@index`, else the first.
fn choose(equivs: &[Equiv]) -> Option<&Equiv> {
    if let Some(gt) = equivs.iter().find(|e| e.ground_truth) {
        return Some(gt);
    }
    // min_by_key keeps the first of equal keys; unindexed ones sort after indexed ones.
    equivs.iter().min_by_key(|e| e.index.unwrap_or(i64::MAX))
}

fn is_ground_truth_hint(v: &str) -> bool {
    let norm: String = v.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect();
    norm == "gt" || norm.contains("groundtruth")
}

fn parse(text: &str) -> Result<Vec<Page>, ReadError> {
    let mut r = XmlReader::new(text);
    let mut pages: Vec<Page> = Vec::new();
    // Local names of the open elements (outside the subtrees read by the helpers).
    let mut stack: Vec<String> = Vec::new();
    // Indices of the open TextRegions in the current page.
    let mut open_regions: Vec<usize> = Vec::new();
    loop {
        match r.next()? {
            Event::Start(e) => {
                let name = tag(&e).to_string();
                match name.as_str() {
                    "Page" => {
                        pages.push(Page {
                            image: attr(&e, "imageFilename").map(|s| s.into_owned()),
                            language: nonempty(attr(&e, "primaryLanguage").map(|s| s.into_owned())),
                            ..Default::default()
                        });
                        open_regions.clear();
                    }
                    "ReadingOrder" => {
                        let order = read_reading_order(&mut r)?;
                        if let Some(p) = pages.last_mut() {
                            p.order = order;
                        }
                        continue;
                    }
                    "TextRegion" => {
                        if let Some(p) = pages.last_mut() {
                            let idx = new_region(p, &e, open_regions.last().copied());
                            open_regions.push(idx);
                        }
                    }
                    "TextLine" => {
                        let line = read_line(&mut r)?;
                        if let (Some(p), Some(&ri)) = (pages.last_mut(), open_regions.last()) {
                            if let Some(region) = p.regions.get_mut(ri) {
                                region.lines.push(line);
                            }
                        }
                        continue;
                    }
                    "TextEquiv" => {
                        let eq = read_equiv(&mut r, &e)?;
                        if stack.last().map(String::as_str) == Some("TextRegion") {
                            if let (Some(p), Some(&ri)) = (pages.last_mut(), open_regions.last()) {
                                if let Some(region) = p.regions.get_mut(ri) {
                                    region.equivs.push(eq);
                                }
                            }
                        }
                        continue;
                    }
                    _ => {}
                }
                stack.push(name);
            }
            Event::Empty(e) => {
                if tag(&e) == "TextRegion" {
                    if let Some(p) = pages.last_mut() {
                        new_region(p, &e, open_regions.last().copied());
                    }
                } else if tag(&e) == "Page" {
                    pages.push(Page { image: attr(&e, "imageFilename").map(|s| s.into_owned()), ..Default::default() });
                }
            }
            Event::End(_) => {
                let closed = stack.pop();
                if closed.as_deref() == Some("TextRegion") {
                    open_regions.pop();
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(pages)
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn new_region(p: &mut Page, e: &BytesStart<'_>, parent: Option<usize>) -> usize {
    let idx = p.regions.len();
    p.regions.push(Region {
        id: attr(e, "id").map(|s| s.into_owned()),
        parent,
        language: nonempty(attr(e, "primaryLanguage").map(|s| s.into_owned())),
        ..Default::default()
    });
    if let Some(parent) = parent.and_then(|i| p.regions.get_mut(i)) {
        parent.children.push(idx);
    }
    idx
}

/// Reads a `TextEquiv` whose start tag was just returned: its attributes and its `Unicode`
/// text (`PlainText` when there is no `Unicode`).
fn read_equiv(r: &mut XmlReader<'_>, e: &BytesStart<'_>) -> Result<Equiv, ReadError> {
    let mut eq = Equiv {
        index: attr(e, "index").and_then(|v| v.trim().parse().ok()),
        conf: attr(e, "conf")
            .and_then(|v| v.trim().parse::<f32>().ok())
            .filter(|c| c.is_finite())
            .map(|c| c.clamp(0.0, 1.0)),
        ground_truth: ["dataType", "dataTypeDetails", "comments"]
            .iter()
            .any(|a| attr(e, a).is_some_and(|v| is_ground_truth_hint(&v))),
        text: String::new(),
    };
    let mut plain: Option<String> = None;
    let mut unicode: Option<String> = None;
    loop {
        match r.next()? {
            Event::Start(c) => match tag(&c) {
                "Unicode" if unicode.is_none() => unicode = Some(r.read_text()?),
                "PlainText" if plain.is_none() => plain = Some(r.read_text()?),
                _ => r.skip()?,
            },
            Event::End(_) => break,
            Event::Eof => return Err(ReadError::new(Reason::MalformedXml, "unexpected end of document")),
            _ => {}
        }
    }
    eq.text = unicode.or(plain).unwrap_or_default();
    Ok(eq)
}

/// Reads a `TextLine` whose start tag was just returned.
fn read_line(r: &mut XmlReader<'_>) -> Result<Line, ReadError> {
    let mut equivs = Vec::new();
    let mut words: Vec<(String, Option<f32>)> = Vec::new();
    loop {
        match r.next()? {
            Event::Start(c) => match tag(&c) {
                "TextEquiv" => equivs.push(read_equiv(r, &c)?),
                "Word" => {
                    if let Some(w) = read_word(r)? {
                        words.push(w);
                    }
                }
                _ => r.skip()?,
            },
            Event::End(_) => break,
            Event::Eof => return Err(ReadError::new(Reason::MalformedXml, "unexpected end of document")),
            _ => {}
        }
    }
    if let Some(eq) = choose(&equivs).filter(|eq| !eq.text.trim().is_empty()) {
        let words = eq.text.split_whitespace().map(|w| (w.to_string(), None)).collect();
        return Ok(Line { words, conf: eq.conf });
    }
    let confs: Vec<f32> = words.iter().filter_map(|w| w.1).collect();
    let conf = (!confs.is_empty()).then(|| confs.iter().sum::<f32>() / confs.len() as f32);
    // A word's TextEquiv could hold several tokens; keep them as words.
    let words = words
        .into_iter()
        .flat_map(|(t, c)| t.split_whitespace().map(|w| (w.to_string(), c)).collect::<Vec<_>>())
        .collect();
    Ok(Line { words, conf })
}

/// Reads a `Word` whose start tag was just returned: its chosen text and confidence.
fn read_word(r: &mut XmlReader<'_>) -> Result<Option<(String, Option<f32>)>, ReadError> {
    let mut equivs = Vec::new();
    loop {
        match r.next()? {
            Event::Start(c) => match tag(&c) {
                "TextEquiv" => equivs.push(read_equiv(r, &c)?),
                _ => r.skip()?,
            },
            Event::End(_) => break,
            Event::Eof => return Err(ReadError::new(Reason::MalformedXml, "unexpected end of document")),
            _ => {}
        }
    }
    Ok(choose(&equivs).map(|eq| (eq.text.clone(), eq.conf)))
}

/// Reads a `ReadingOrder` whose start tag was just returned: the referenced region ids in
/// order.
fn read_reading_order(r: &mut XmlReader<'_>) -> Result<Vec<String>, ReadError> {
    let mut out = Vec::new();
    loop {
        match r.next()? {
            Event::Start(c) => {
                let name = tag(&c).to_string();
                if is_group(&name) {
                    if let Some(region) = attr(&c, "regionRef") {
                        out.push(region.into_owned());
                    }
                    out.extend(read_group(r, name.starts_with("Ordered"), 1)?);
                } else {
                    r.skip()?;
                }
            }
            Event::Empty(c) => {
                if let Some(region) = attr(&c, "regionRef") {
                    out.push(region.into_owned());
                }
            }
            Event::End(_) => return Ok(out),
            Event::Eof => return Err(ReadError::new(Reason::MalformedXml, "unexpected end of document")),
            _ => {}
        }
    }
}

fn is_group(name: &str) -> bool {
    matches!(name, "OrderedGroup" | "UnorderedGroup" | "OrderedGroupIndexed" | "UnorderedGroupIndexed")
}

/// Reads the members of a group whose start tag was just returned, flattened and sorted.
fn read_group(r: &mut XmlReader<'_>, ordered: bool, depth: usize) -> Result<Vec<String>, ReadError> {
    if depth > MAX_GROUP_DEPTH {
        r.skip()?;
        return Ok(Vec::new());
    }
    // (index, members)
    let mut entries: Vec<(Option<i64>, Vec<String>)> = Vec::new();
    loop {
        match r.next()? {
            Event::Start(c) => {
                let name = tag(&c).to_string();
                let index = attr(&c, "index").and_then(|v| v.trim().parse().ok());
                let mut members: Vec<String> = attr(&c, "regionRef").map(|s| s.into_owned()).into_iter().collect();
                if is_group(&name) {
                    members.extend(read_group(r, name.starts_with("Ordered"), depth + 1)?);
                    entries.push((index, members));
                } else {
                    r.skip()?;
                    if name.starts_with("RegionRef") {
                        entries.push((index, members));
                    }
                }
            }
            Event::Empty(c) => {
                let name = tag(&c);
                if name.starts_with("RegionRef") || is_group(name) {
                    let index = attr(&c, "index").and_then(|v| v.trim().parse().ok());
                    entries.push((index, attr(&c, "regionRef").map(|s| s.into_owned()).into_iter().collect()));
                }
            }
            Event::End(_) => break,
            Event::Eof => return Err(ReadError::new(Reason::MalformedXml, "unexpected end of document")),
            _ => {}
        }
    }
    if ordered {
        // Stable: equal or missing indices keep document order, missing ones last.
        entries.sort_by_key(|(i, _)| i.unwrap_or(i64::MAX));
    }
    Ok(entries.into_iter().flat_map(|(_, m)| m).collect())
}

/// The page's text and mean line confidence.
fn layout(page: &Page, opts: &ReaderOptions) -> (String, Option<f32>) {
    let n = page.regions.len();
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for (i, reg) in page.regions.iter().enumerate() {
        if let Some(id) = reg.id.as_deref() {
            by_id.entry(id).or_insert(i);
        }
    }
    let referenced: HashSet<usize> = page.order.iter().filter_map(|id| by_id.get(id.as_str()).copied()).collect();
    let mut sequence: Vec<usize> = Vec::with_capacity(n);
    let mut emitted = vec![false; n];
    let visit = |start: usize, sequence: &mut Vec<usize>, emitted: &mut Vec<bool>| {
        // Pre-order over the region and its unreferenced nested regions.
        let mut work = vec![start];
        while let Some(i) = work.pop() {
            match emitted.get_mut(i) {
                Some(done) if !*done => *done = true,
                _ => continue,
            }
            sequence.push(i);
            if let Some(reg) = page.regions.get(i) {
                work.extend(reg.children.iter().rev().filter(|c| !referenced.contains(c)));
            }
        }
    };
    for id in &page.order {
        if let Some(&i) = by_id.get(id.as_str()) {
            visit(i, &mut sequence, &mut emitted);
        }
    }
    for i in 0..n {
        // Top-level regions first; nested ones come with their parent unless referenced.
        if page.regions.get(i).is_some_and(|r| r.parent.is_none()) {
            visit(i, &mut sequence, &mut emitted);
        }
    }
    for i in 0..n {
        visit(i, &mut sequence, &mut emitted);
    }

    let mut tb = TextBuilder::new();
    let (mut conf_sum, mut conf_n) = (0f64, 0usize);
    for i in sequence {
        let Some(reg) = page.regions.get(i) else {
            continue;
        };
        tb.end_block();
        if reg.lines.is_empty() && reg.children.is_empty() {
            if let Some(eq) = choose(&reg.equivs) {
                if opts.min_line_confidence.is_some_and(|min| eq.conf.is_some_and(|c| c < min)) {
                    continue;
                }
                // Region-level text may itself have line breaks.
                for line in eq.text.lines() {
                    tb.words(line);
                    tb.end_line();
                }
                if let Some(c) = eq.conf {
                    conf_sum += f64::from(c);
                    conf_n += 1;
                }
            }
            continue;
        }
        for line in &reg.lines {
            if let (Some(min), Some(c)) = (opts.min_line_confidence, line.conf) {
                if c < min {
                    continue;
                }
            }
            let mut any = false;
            for (w, c) in &line.words {
                if let (Some(min), Some(c)) = (opts.min_word_confidence, c) {
                    if *c < min {
                        continue;
                    }
                }
                tb.word(w);
                any = true;
            }
            if any {
                if let Some(c) = line.conf {
                    conf_sum += f64::from(c);
                    conf_n += 1;
                }
            }
            tb.end_line();
        }
    }
    let conf = (conf_n > 0).then(|| (conf_sum / conf_n as f64) as f32);
    (tb.finish(), conf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(input: &str, opts: &ReaderOptions) -> Result<Vec<Emit>, ReadError> {
        let ctx = ReadContext { path: "test.page.xml", options: opts };
        let mut got = Vec::new();
        read(input.as_bytes(), &ctx, &mut |e| got.push(e))?;
        Ok(got)
    }

    fn docs(input: &str) -> Vec<RawDoc> {
        docs_with(input, &ReaderOptions::default())
    }

    fn docs_with(input: &str, opts: &ReaderOptions) -> Vec<RawDoc> {
        run_with(input, opts)
            .unwrap()
            .into_iter()
            .map(|e| match e {
                Emit::Doc(d) => d,
                other => panic!("expected documents, got {other:?}"),
            })
            .collect()
    }

    fn page(body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15">
  <Metadata><Creator>test</Creator></Metadata>
  <Page imageFilename="sida_0001.tif" imageWidth="100" imageHeight="100">{body}</Page>
</PcGts>"#
        )
    }

    const LINES: &str = r#"
    <ReadingOrder>
      <OrderedGroup id="ro1">
        <RegionRefIndexed index="2" regionRef="r3"/>
        <OrderedGroupIndexed id="g2" index="1">
          <RegionRefIndexed index="1" regionRef="r2b"/>
          <RegionRefIndexed index="0" regionRef="r2a"/>
        </OrderedGroupIndexed>
        <RegionRefIndexed index="0" regionRef="r1"/>
      </OrderedGroup>
    </ReadingOrder>
    <TextRegion id="r2a"><TextLine id="l3"><TextEquiv conf="0.5"><Unicode>andra   stycket</Unicode></TextEquiv></TextLine></TextRegion>
    <TextRegion id="r3"><TextLine id="l5"><TextEquiv><Unicode>sista</Unicode></TextEquiv></TextLine></TextRegion>
    <TextRegion id="unref"><TextEquiv><Unicode>utanför ordningen</Unicode></TextEquiv></TextRegion>
    <TextRegion id="r1">
      <TextLine id="l1"><TextEquiv conf="0.9"><Unicode>Rubrik</Unicode></TextEquiv></TextLine>
      <TextLine id="l2"><TextEquiv conf="0.7"><Unicode>första raden</Unicode></TextEquiv></TextLine>
      <TextEquiv><Unicode>REGIONTEXT SKA INTE MED</Unicode></TextEquiv>
    </TextRegion>
    <TextRegion id="r2b"><TextLine id="l4"><TextEquiv conf="0.3"><Unicode>tredje</Unicode></TextEquiv></TextLine></TextRegion>"#;

    #[test]
    fn reading_order_nested_groups_and_unreferenced_regions() {
        let d = docs(&page(LINES));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].text, "Rubrik\nförsta raden\n\nandra stycket\n\ntredje\n\nsista\n\nutanför ordningen");
        assert_eq!(d[0].locator, "");
        assert_eq!(d[0].meta["image"], "sida_0001.tif");
        assert!((d[0].ocr_confidence.unwrap() - 0.6).abs() < 1e-5);
    }

    #[test]
    fn line_confidence_threshold() {
        let opts = ReaderOptions { min_line_confidence: Some(0.6), ..Default::default() };
        let d = docs_with(&page(LINES), &opts);
        assert_eq!(d[0].text, "Rubrik\nförsta raden\n\nsista\n\nutanför ordningen");
        assert!((d[0].ocr_confidence.unwrap() - 0.8).abs() < 1e-5);
    }

    #[test]
    fn document_order_without_reading_order_and_nested_regions() {
        let body = r#"<TextRegion id="a"><TextLine><TextEquiv><Unicode>ett</Unicode></TextEquiv></TextLine>
            <TextRegion id="a1"><TextLine><TextEquiv><Unicode>inne</Unicode></TextEquiv></TextLine></TextRegion></TextRegion>
            <TableRegion id="t"><TextRegion id="c1"><TextLine><TextEquiv><Unicode>cell</Unicode></TextEquiv></TextLine></TextRegion></TableRegion>
            <TextRegion id="b"><TextEquiv><Unicode>bara regiontext</Unicode></TextEquiv></TextRegion>"#;
        assert_eq!(docs(&page(body))[0].text, "ett\n\ninne\n\ncell\n\nbara regiontext");
    }

    #[test]
    fn words_when_the_line_has_no_text_and_textequiv_choice() {
        let body = r#"<TextRegion id="r" primaryLanguage="Swedish"><TextLine id="l">
            <Word><TextEquiv conf="0.8"><Unicode>Kungl.</Unicode></TextEquiv>
              <Glyph><TextEquiv><Unicode>K</Unicode></TextEquiv></Glyph></Word>
            <Word><TextEquiv index="2" conf="0.1"><Unicode>Bibliotheket</Unicode></TextEquiv>
                  <TextEquiv index="1" conf="0.6"><Unicode>Biblioteket</Unicode></TextEquiv></Word>
            </TextLine>
            <TextLine><TextEquiv index="1" conf="0.9"><Unicode>ocr läsning</Unicode></TextEquiv>
              <TextEquiv dataType="xsd:string" dataTypeDetails="ground-truth" conf="0.2"><Unicode>rätt läsning</Unicode></TextEquiv></TextLine>
            </TextRegion>"#;
        let d = &docs(&page(body))[0];
        assert_eq!(d.text, "Kungl. Biblioteket\nrätt läsning");
        assert!((d.ocr_confidence.unwrap() - (0.7 + 0.2) / 2.0).abs() < 1e-5);
        assert_eq!(d.language.as_deref(), Some("Swedish"));
        let opts = ReaderOptions { min_word_confidence: Some(0.7), ..Default::default() };
        assert_eq!(docs_with(&page(body), &opts)[0].text, "Kungl.\nrätt läsning");
    }

    #[test]
    fn several_pages_get_locators_and_blank_page_is_rejected() {
        let xml = r#"<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2010-03-19">
            <Page imageFilename="a.png"><TextRegion id="r"><TextLine><TextEquiv><Unicode>ett</Unicode></TextEquiv></TextLine></TextRegion></Page>
            <Page imageFilename="b.png"><TextRegion id="r"><TextLine><TextEquiv><Unicode> </Unicode></TextEquiv></TextLine></TextRegion></Page>
            </PcGts>"#;
        let got = run_with(xml, &ReaderOptions::default()).unwrap();
        assert_eq!(got.len(), 2);
        match &got[0] {
            Emit::Doc(d) => assert_eq!((d.locator.as_str(), d.text.as_str()), ("page=1", "ett")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(&got[1], Emit::Reject { reason: Reason::EmptyText, locator, .. } if locator == "page=2"));
        let blank = page(r#"<TextRegion id="r"/><ImageRegion id="i"/>"#);
        let got = run_with(&blank, &ReaderOptions::default()).unwrap();
        assert!(matches!(&got[..], [Emit::Reject { reason: Reason::EmptyText, .. }]), "{got:?}");
    }

    #[test]
    fn malformed_xml_is_an_error() {
        let err = run_with(&page("<TextRegion><TextLine></TextRegion>"), &ReaderOptions::default()).unwrap_err();
        assert_eq!(err.reason, Reason::MalformedXml);
        let err = run_with("<PcGts><Page><TextRegion><TextLine><TextEquiv><Unicode>x", &ReaderOptions::default())
            .unwrap_err();
        assert_eq!(err.reason, Reason::MalformedXml);
    }

    #[test]
    fn ground_truth_hints() {
        assert!(is_ground_truth_hint("groundTruth"));
        assert!(is_ground_truth_hint("Ground truth"));
        assert!(is_ground_truth_hint("GT"));
        assert!(!is_ground_truth_hint("xsd:string"));
        let e = |index, gt| Equiv { index, ground_truth: gt, ..Default::default() };
        assert_eq!(choose(&[e(None, false), e(Some(3), false), e(Some(1), false)]).unwrap().index, Some(1));
        assert_eq!(choose(&[e(Some(0), false), e(Some(5), true)]).unwrap().index, Some(5));
        assert_eq!(choose(&[e(None, false), e(None, false)]).unwrap().index, None);
        assert!(choose(&[]).is_none());
    }

    fn data_dir() -> Option<std::path::PathBuf> {
        crate::ingest::testing::shared_data("page_xml/ocrd_kant_1784_multi_engine")
    }

    fn real(name: &str) -> Option<RawDoc> {
        let bytes = std::fs::read(data_dir()?.join(name)).ok()?;
        let opts = ReaderOptions::default();
        let ctx = ReadContext { path: name, options: &opts };
        let mut got = Vec::new();
        read(&bytes, &ctx, &mut |e| got.push(e)).unwrap();
        match got.pop() {
            Some(Emit::Doc(d)) if got.is_empty() => Some(d),
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn real_ground_truth_page() {
        let Some(d) = real("kant_1784_p17.groundtruth.page.xml") else {
            return;
        };
        assert!(
            d.text.starts_with(
                "Berliniſche Monatsſchrift.\n\n1784 .\n\nZwoͤlftes Stuͤk . December .\n\n1.\n\nBeantwortung der Frage:\nWas iſt Aufklaͤrung?\n\n(S. Decemb. 1783. S. 516.)\n\nA\n\nufklaͤrung"
            ),
            "{}",
            d.text
        );
        assert!(
            d.text.contains("A\n\nufklaͤrung iſt der Ausgang des Men-\nſchen aus ſeiner ſelbſt verſchuldeten Unmuͤn-"),
            "{}",
            d.text
        );
        assert!(d.text.contains("Sapere aude! Habe Muth"));
        assert!(d.text.ends_with("(na-"), "{}", d.text);
        assert_eq!(d.meta["image"], "OCR-D-IMG/INPUT_0017.tif");
        assert_eq!(d.ocr_confidence, None);
        assert_eq!(d.language.as_deref(), None);
    }

    #[test]
    fn real_ocr_engine_pages() {
        for name in [
            "kant_1784_p17.tesseract_frk.page.xml",
            "kant_1784_p17.calamari_gt4histocr.page.xml",
            "kant_1784_p17.ocropy_fraktur.page.xml",
        ] {
            let Some(d) = real(name) else { return };
            // 24 lines on the page; an engine may leave a few empty.
            let lines = d.text.lines().filter(|l| !l.is_empty()).count();
            assert!((20..=24).contains(&lines), "{name}: {lines} lines: {}", d.text);
            assert!(d.text.contains("der Frage:\nWas i"), "{name}: {}", d.text);
            let c = d.ocr_confidence.unwrap_or_else(|| panic!("{name}: no confidence"));
            assert!((0.3..=1.0).contains(&c), "{name}: {c}");
            assert!(d.text.contains("Aufkl"), "{name}: {}", d.text);
        }
    }

    #[test]
    fn real_non_page_files_do_not_panic() {
        let Some(dir) = data_dir() else { return };
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let bytes = std::fs::read(entry.path()).unwrap();
            let opts = ReaderOptions::default();
            let ctx = ReadContext { path: "x", options: &opts };
            let _ = read(&bytes, &ctx, &mut |_| {});
            for cut in [bytes.len() / 4, bytes.len() / 2] {
                let _ = read(&bytes[..cut], &ctx, &mut |_| {});
            }
        }
    }
}

//! ALTO 1.x–4.x (with or without namespace, including CCS docWORKS' ALTO 1.4): text in reading
//! order (TextBlock → TextLine → String), hyphenated words joined, word confidence (`WC`) as
//! the document's `ocr_confidence`, optional dropping of low-confidence words or lines.
//!
//! Hyphenation: a `String` with `SUBS_TYPE="HypPart1"` and a `SUBS_CONTENT` stands for the
//! whole word (the `HypPart2` half on the next line is then skipped). Without `SUBS_CONTENT`, a
//! line ending in `<HYP/>` has its last word's trailing hyphen removed and is glued to the first
//! word of the next line.

use quick_xml::events::{BytesStart, Event};
use serde_json::json;

use super::source::{decode_text, Emit, RawDoc, ReadContext, ReadError, ReaderOptions, TextBuilder};
use super::xml::{attr, local, tag, XmlReader};
use crate::reject::Reason;

/// One ALTO file, parsed.
#[derive(Debug, Default, Clone)]
pub struct AltoPage {
    /// Text blocks in document order (ALTO's reading order).
    pub blocks: Vec<AltoBlock>,
    pub pages: usize,
    pub words: usize,
    pub words_dropped: usize,
    pub lines_dropped: usize,
    /// Sum and count of word confidences of the kept words.
    pub wc_sum: f64,
    pub wc_n: usize,
    pub hyphens_joined: usize,
}

#[derive(Debug, Default, Clone)]
pub struct AltoBlock {
    pub id: String,
    /// Lines separated by `\n`.
    pub text: String,
}

impl AltoPage {
    pub fn mean_confidence(&self) -> Option<f32> {
        (self.wc_n > 0).then(|| (self.wc_sum / self.wc_n as f64) as f32)
    }

    /// All blocks' text, blocks separated by a blank line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for b in self.blocks.iter().filter(|b| !b.text.is_empty()) {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(&b.text);
        }
        out
    }
}

#[derive(Debug, PartialEq, Clone, Copy)]
enum Subs {
    None,
    Part1,
    Part2,
}

struct Word {
    content: String,
    wc: Option<f32>,
    subs: Subs,
    subs_content: Option<String>,
}

/// Reads a `String` element's attributes in one pass (this is the hot loop of ALTO ingest).
fn word_of(e: &BytesStart<'_>) -> Word {
    let mut w = Word { content: String::new(), wc: None, subs: Subs::None, subs_content: None };
    for a in e.attributes().with_checks(false).flatten() {
        let key = local(a.key.into_inner());
        let value = || a.normalized_value(quick_xml::XmlVersion::Implicit1_0).unwrap_or_else(|_| a.value.clone());
        match key {
            "CONTENT" => w.content = value().into_owned(),
            "WC" => {
                w.wc = value().trim().parse::<f32>().ok().filter(|v| v.is_finite() && *v >= 0.0).map(|v| {
                    // ALTO says 0..1; a few producers wrote percentages.
                    if v > 1.0 {
                        (v / 100.0).min(1.0)
                    } else {
                        v
                    }
                })
            }
            "SUBS_TYPE" => {
                w.subs = match &*a.value {
                    "HypPart1" => Subs::Part1,
                    "HypPart2" => Subs::Part2,
                    _ => Subs::None,
                }
            }
            "SUBS_CONTENT" => w.subs_content = Some(value().into_owned()).filter(|c| !c.trim().is_empty()),
            _ => {}
        }
    }
    w
}

/// State carried from line to line inside a block.
#[derive(Default)]
struct Flow {
    /// The previous line ended in a hyphen whose second half comes next: glue the next word.
    glue_next: bool,
    /// A HypPart1 was replaced by its SUBS_CONTENT: skip the next HypPart2.
    skip_part2: bool,
}

fn flush_line(
    words: &mut Vec<Word>,
    ends_with_hyp: bool,
    opts: &ReaderOptions,
    page: &mut AltoPage,
    flow: &mut Flow,
    out: &mut TextBuilder,
) {
    if words.is_empty() {
        return;
    }
    let line_wc: Vec<f32> = words.iter().filter_map(|w| w.wc).collect();
    if let (Some(min), false) = (opts.min_line_confidence, line_wc.is_empty()) {
        let mean = line_wc.iter().sum::<f32>() / line_wc.len() as f32;
        if mean < min {
            page.lines_dropped += 1;
            page.words_dropped += words.len();
            page.words += words.len();
            words.clear();
            flow.glue_next = false;
            flow.skip_part2 = false;
            return;
        }
    }
    let n = words.len();
    for (i, w) in words.drain(..).enumerate() {
        page.words += 1;
        if let (Some(min), Some(wc)) = (opts.min_word_confidence, w.wc) {
            if wc < min {
                page.words_dropped += 1;
                flow.glue_next = false;
                continue;
            }
        }
        if let Some(wc) = w.wc {
            page.wc_sum += wc as f64;
            page.wc_n += 1;
        }
        let last = i + 1 == n;
        match w.subs {
            Subs::Part1 if w.subs_content.is_some() => {
                out.word(w.subs_content.as_deref().unwrap_or_default());
                flow.skip_part2 = true;
                page.hyphens_joined += 1;
                continue;
            }
            Subs::Part2 if flow.skip_part2 => {
                flow.skip_part2 = false;
                flow.glue_next = false;
                continue;
            }
            _ => {}
        }
        let mut content = w.content.as_str();
        if last && (ends_with_hyp || w.subs == Subs::Part1) {
            content = content.trim_end_matches(['-', '¬', '\u{ad}', '⸗', '=']);
        }
        if flow.glue_next {
            out.glue(content);
            flow.glue_next = false;
            page.hyphens_joined += 1;
        } else {
            out.word(content);
        }
        if last && (ends_with_hyp || w.subs == Subs::Part1) {
            flow.glue_next = true;
        }
    }
    out.end_line();
}

/// Parses one ALTO document.
pub fn parse(text: &str, opts: &ReaderOptions) -> Result<AltoPage, ReadError> {
    let mut r = XmlReader::new(text);
    let mut page = AltoPage::default();
    let mut seen_alto = false;
    let mut seen_root = false;
    let mut block: Option<(String, TextBuilder)> = None;
    let mut flow = Flow::default();
    let mut line: Vec<Word> = Vec::new();
    let mut line_hyp = false;
    let mut in_line = false;
    loop {
        let ev = r.next()?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                if !seen_root {
                    seen_root = true;
                    // Some producers misname the root (`altox` in a Danish batch); the namespace still says ALTO.
                    seen_alto = tag(e) == "alto" || attr(e, "xmlns").is_some_and(|ns| ns.contains("/alto"));
                }
                match tag(e) {
                    "Page" => page.pages += 1,
                    "TextBlock" => {
                        if let Some((id, tb)) = block.take() {
                            page.blocks.push(AltoBlock { id, text: tb.finish() });
                        }
                        let id = attr(e, "ID").map(|s| s.into_owned()).unwrap_or_default();
                        block = Some((id, TextBuilder::new()));
                        flow = Flow::default();
                        if empty {
                            if let Some((id, tb)) = block.take() {
                                page.blocks.push(AltoBlock { id, text: tb.finish() });
                            }
                        }
                    }
                    "TextLine" => {
                        in_line = !empty;
                        line_hyp = false;
                        line.clear();
                    }
                    "String" => {
                        if in_line {
                            line.push(word_of(e));
                        }
                        if !empty {
                            // ALTERNATIVE / Glyph children carry no reading-order text.
                            r.skip()?;
                        }
                    }
                    "HYP" => {
                        line_hyp = true;
                        if !empty {
                            r.skip()?;
                        }
                    }
                    _ => {}
                }
            }
            Event::End(ref e) => match super::xml::local(e.name().into_inner()) {
                "TextLine" => {
                    in_line = false;
                    let tb = match block.as_mut() {
                        Some((_, tb)) => tb,
                        None => {
                            // A line outside any block: give it an anonymous block.
                            block = Some((String::new(), TextBuilder::new()));
                            &mut block.as_mut().expect("just set").1
                        }
                    };
                    flush_line(&mut line, line_hyp, opts, &mut page, &mut flow, tb);
                }
                "TextBlock" => {
                    if let Some((id, tb)) = block.take() {
                        page.blocks.push(AltoBlock { id, text: tb.finish() });
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some((id, tb)) = block.take() {
        page.blocks.push(AltoBlock { id, text: tb.finish() });
    }
    if !seen_alto {
        return Err(ReadError::new(Reason::MalformedXml, "no <alto> root element; is this ALTO?"));
    }
    Ok(page)
}

/// Reads a single ALTO file as one document (a page).
pub fn read(bytes: &[u8], ctx: &ReadContext, out: &mut dyn FnMut(Emit)) -> Result<(), ReadError> {
    let (text, repaired) = decode_text(bytes);
    let page = parse(&text, ctx.options)?;
    let body = page.text();
    if body.is_empty() {
        out(Emit::Reject {
            locator: String::new(),
            reason: Reason::EmptyText,
            detail: format!(
                "blank page: {} words, {} dropped below the confidence threshold",
                page.words, page.words_dropped
            ),
        });
        return Ok(());
    }
    let mut doc = RawDoc { text: body, ocr_confidence: page.mean_confidence(), ..Default::default() };
    doc.meta.insert("pages".into(), json!(page.pages));
    doc.meta.insert("words".into(), json!(page.words));
    if page.words_dropped > 0 {
        doc.meta.insert("words_dropped".into(), json!(page.words_dropped));
    }
    if page.lines_dropped > 0 {
        doc.meta.insert("lines_dropped".into(), json!(page.lines_dropped));
    }
    doc.meta.insert("hyphens_joined".into(), json!(page.hyphens_joined));
    if repaired > 0 {
        doc.meta.insert("utf8_repaired_bytes".into(), json!(repaired));
    }
    out(Emit::Doc(doc));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v2#"><Layout><Page ID="P1"><PrintSpace>
<TextBlock ID="TB1">
  <TextLine><String CONTENT="Stockholms" WC="0.9"/><SP/><String CONTENT="Kurir" WC="0.8"/></TextLine>
</TextBlock>
<TextBlock ID="TB2">
  <TextLine><String CONTENT="Igår" WC="1.0"/><SP/><String CONTENT="kom" WC="0.5"/><SP/><String CONTENT="tid-" SUBS_TYPE="HypPart1" SUBS_CONTENT="tidningen" WC="0.7"/><HYP CONTENT="-"/></TextLine>
  <TextLine><String CONTENT="ningen" SUBS_TYPE="HypPart2" SUBS_CONTENT="tidningen" WC="0.7"/><SP/><String CONTENT="ut" WC="0.2"/></TextLine>
  <TextLine><String CONTENT="tryck" WC="0.6"/><HYP CONTENT="-"/></TextLine>
  <TextLine><String CONTENT="eriet" WC="0.6"/><SP/><String CONTENT="brann." WC="0.6"/></TextLine>
</TextBlock>
</PrintSpace></Page></Layout></alto>"#;

    fn opts() -> ReaderOptions {
        ReaderOptions::default()
    }

    #[test]
    fn reading_order_and_hyphenation() {
        let page = parse(V2, &opts()).unwrap();
        assert_eq!(page.blocks.len(), 2);
        assert_eq!(page.blocks[1].id, "TB2");
        assert_eq!(page.text(), "Stockholms Kurir\n\nIgår kom tidningen\nut\ntryckeriet\nbrann.");
        assert_eq!(page.hyphens_joined, 2);
        let mean = page.mean_confidence().unwrap();
        assert!((mean - (0.9 + 0.8 + 1.0 + 0.5 + 0.7 + 0.7 + 0.2 + 0.6 + 0.6 + 0.6) / 10.0).abs() < 1e-5, "{mean}");
    }

    #[test]
    fn confidence_thresholds_drop_words_and_lines() {
        let o = ReaderOptions { min_word_confidence: Some(0.55), ..opts() };
        let page = parse(V2, &o).unwrap();
        assert_eq!(page.text(), "Stockholms Kurir\n\nIgår tidningen\ntryckeriet\nbrann.");
        assert_eq!(page.words_dropped, 2);
        let o = ReaderOptions { min_line_confidence: Some(0.7), ..opts() };
        let page = parse(V2, &o).unwrap();
        assert_eq!(page.text(), "Stockholms Kurir\n\nIgår kom tidningen");
        assert_eq!(page.lines_dropped, 3);
    }

    #[test]
    fn no_namespace_alto_1_and_blank_page() {
        let blank = r#"<alto><Layout><Page ID="P1"><PrintSpace/></Page></Layout></alto>"#;
        let mut got = vec![];
        let ctx = ReadContext { path: "blank.xml", options: &opts() };
        read(blank.as_bytes(), &ctx, &mut |e| got.push(e)).unwrap();
        assert!(matches!(&got[..], [Emit::Reject { reason: Reason::EmptyText, .. }]));
    }

    #[test]
    fn not_alto_and_malformed() {
        assert_eq!(parse("<html><p>x</p></html>", &opts()).unwrap_err().reason, Reason::MalformedXml);
        assert_eq!(parse("<alto><Layout></alto>", &opts()).unwrap_err().reason, Reason::MalformedXml);
    }

    use crate::ingest::testing::shared_data as shared;

    #[test]
    fn real_ccs_alto_1749_joins_hyphens() {
        let Some(p) = shared("alto/natlibfi_swedish_1749_oeconomisk_beskrifning_abo/0010.xml") else { return };
        let page = parse(&std::fs::read_to_string(p).unwrap(), &opts()).unwrap();
        let text = page.text();
        assert!(
            text.contains("Kungl. Wetentkaps\nAcaderaiens") || text.contains("Kungl. Wetentkaps Acaderaiens"),
            "{text}"
        );
        assert!(text.contains("wdlgerningar;"));
        assert!(!text.contains("tentkaps tentkaps") && !text.contains(" tentkaps"));
        let c = page.mean_confidence().unwrap();
        assert!((0.3..0.9).contains(&c), "{c}");
    }

    #[test]
    fn real_alto_files_of_every_version_parse() {
        let Some(dir) = shared("alto") else { return };
        let mut n = 0;
        for entry in glob::glob(&format!("{}/**/*.xml", dir.display())).unwrap().flatten() {
            let name = entry.file_name().unwrap().to_string_lossy().to_string();
            if name.contains("METS") || name == "mets.xml" || name == "imageIndex.xml" {
                continue;
            }
            let text = std::fs::read(&entry).unwrap();
            let page = parse(&decode_text(&text).0, &opts()).unwrap_or_else(|e| panic!("{}: {e}", entry.display()));
            assert!(page.pages >= 1, "{}", entry.display());
            n += 1;
        }
        assert!(n >= 70, "parsed {n} ALTO files");
    }
}

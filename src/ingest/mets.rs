//! METS packages (METS + MODS or embedded MARC21, pointing at ALTO pages): one document per
//! book or newspaper issue, or one per article where the logical structMap has article
//! divisions and `mets_split = "article"`.
//!
//! Pages the METS lists that are missing (or unreadable) are reported as warnings and in the
//! document's `meta.missing_pages`, never fatal. Page paths (`xlink:href`) are resolved relative
//! to the METS file and must stay inside its folder.

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

use quick_xml::events::Event;
use serde_json::{json, Map, Value};

use super::alto::{self, AltoPage};
use super::source::{decode_text, Emit, MetsSplit, RawDoc, ReadContext, ReadError};
use super::xml::{attr, tag, XmlReader};
use crate::reject::Reason;

/// Descriptive metadata from one `dmdSec` (MODS or MARC21).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Descriptive {
    pub title: Option<String>,
    pub author: Option<String>,
    pub date: Option<String>,
    pub language: Option<String>,
    pub genre: Option<String>,
    pub identifiers: Vec<String>,
    /// `mods` or `marc`.
    pub scheme: Option<&'static str>,
}

impl Descriptive {
    fn fill_from(&mut self, o: &Descriptive) {
        fn f(a: &mut Option<String>, b: &Option<String>) {
            if a.is_none() {
                a.clone_from(b);
            }
        }
        f(&mut self.title, &o.title);
        f(&mut self.author, &o.author);
        f(&mut self.date, &o.date);
        f(&mut self.language, &o.language);
        f(&mut self.genre, &o.genre);
        for i in &o.identifiers {
            if !self.identifiers.contains(i) {
                self.identifiers.push(i.clone());
            }
        }
        if self.scheme.is_none() {
            self.scheme = o.scheme;
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetsArticle {
    pub div_id: String,
    pub label: Option<String>,
    pub dmdids: Vec<String>,
    /// (FILEID, BEGIN block id) in order; BEGIN `None` means the whole page.
    pub areas: Vec<(String, Option<String>)>,
}

/// A METS file, parsed.
#[derive(Debug, Default, Clone)]
pub struct MetsPackage {
    pub label: Option<String>,
    pub mets_type: Option<String>,
    pub dmd: Vec<(String, Descriptive)>,
    /// Text (ALTO) files: FILEID → href, in fileSec order, from the one file group chosen as
    /// the package's text (see [`parse`]).
    pub text_files: Vec<(String, String)>,
    /// The chosen file group (`USE` or `ID`).
    pub text_group: Option<String>,
    /// FILEIDs of text files in physical order.
    pub page_order: Vec<String>,
    pub articles: Vec<MetsArticle>,
}

impl MetsPackage {
    /// Package-level metadata: dmdSecs not owned by an article, in document order, first value
    /// of each field wins.
    pub fn descriptive(&self) -> Descriptive {
        let article_dmd: BTreeSet<&str> =
            self.articles.iter().flat_map(|a| a.dmdids.iter().map(String::as_str)).collect();
        let mut d = Descriptive::default();
        for (id, m) in &self.dmd {
            if !article_dmd.contains(id.as_str()) {
                d.fill_from(m);
            }
        }
        if d.title.is_none() {
            d.title.clone_from(&self.label);
        }
        d
    }

    /// Text files in reading order: the physical structMap's order, then any text file it does
    /// not mention, in fileSec order.
    pub fn pages(&self) -> Vec<(String, String)> {
        let href: HashMap<&str, &str> = self.text_files.iter().map(|(i, h)| (i.as_str(), h.as_str())).collect();
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for id in self.page_order.iter().map(String::as_str).chain(self.text_files.iter().map(|(i, _)| i.as_str())) {
            if let Some(h) = href.get(id) {
                if seen.insert(id) {
                    out.push((id.to_string(), h.to_string()));
                }
            }
        }
        out
    }
}

fn is_text_file(href: &str, mimetype: Option<&str>, group_hint: bool) -> bool {
    let h = href.to_ascii_lowercase();
    let ext_xml = h.ends_with(".xml") || h.ends_with(".alto") || h.ends_with(".xml.gz");
    let mime_xml = mimetype.is_some_and(|m| m.contains("xml"));
    ext_xml
        || mime_xml
        || (group_hint && !h.ends_with(".jp2") && !h.ends_with(".tif") && !h.ends_with(".jpg") && !h.ends_with(".pdf"))
}

fn clean(s: &str) -> Option<String> {
    let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let t = t.trim_end_matches([' ', '/', ':', ';', ',']).trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Parses a METS document (MODS and MARC dmdSecs, fileSec, physical and logical structMaps).
pub fn parse(text: &str) -> Result<MetsPackage, ReadError> {
    let mut r = XmlReader::new(text);
    let mut pkg = MetsPackage::default();
    let mut stack: Vec<String> = Vec::new();
    let mut seen_mets = false;
    // dmdSec state
    let mut dmd: Option<(String, Descriptive)> = None;
    let mut marc_tag: Option<String> = None;
    // fileSec state
    // (group key, hint text) of the open fileGrps, innermost last
    let mut groups: Vec<(String, String)> = Vec::new();
    // (FILEID, href, group key, score)
    let mut candidates: Vec<(String, String, String, u8)> = Vec::new();
    let mut file: Option<(String, Option<String>)> = None;
    // structMap state
    let mut map_type = String::new();
    let mut article_depth: Option<usize> = None;
    loop {
        let ev = r.next()?;
        let (e, is_empty) = match &ev {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                match name.as_str() {
                    "dmdSec" => {
                        if let Some(d) = dmd.take() {
                            pkg.dmd.push(d);
                        }
                    }
                    "fileGrp" => {
                        groups.pop();
                    }
                    "file" => file = None,
                    "datafield" => marc_tag = None,
                    "div" if article_depth == Some(stack.len()) => article_depth = None,
                    "structMap" => map_type.clear(),
                    _ => {}
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = tag(e).to_string();
        if stack.is_empty() {
            if name != "mets" {
                return Err(ReadError::new(Reason::MalformedXml, format!("root element is <{name}>, not <mets>")));
            }
            seen_mets = true;
            pkg.label = attr(e, "LABEL").and_then(|v| clean(&v));
            pkg.mets_type = attr(e, "TYPE").map(|v| v.into_owned());
        }
        let in_mods = stack.iter().any(|s| s == "mods") || name == "mods";
        let in_related = stack.iter().any(|s| s == "relatedItem");
        let mut consumed = false;
        match name.as_str() {
            "dmdSec" => dmd = Some((attr(e, "ID").map(|v| v.into_owned()).unwrap_or_default(), Descriptive::default())),
            "mods" => {
                if let Some((_, d)) = dmd.as_mut() {
                    d.scheme.get_or_insert("mods");
                }
            }
            "title" | "namePart" | "dateIssued" | "dateCreated" | "languageTerm" | "genre" | "identifier"
                if in_mods && !in_related && !is_empty =>
            {
                let parent = stack.last().map(String::as_str).unwrap_or("");
                let value = r.read_text()?;
                consumed = true;
                if let (Some((_, d)), Some(v)) = (dmd.as_mut(), clean(&value)) {
                    match (name.as_str(), parent) {
                        ("title", "titleInfo") => {
                            d.title.get_or_insert(v);
                        }
                        ("namePart", "name") => {
                            d.author.get_or_insert(v);
                        }
                        ("dateIssued" | "dateCreated", "originInfo") => {
                            d.date.get_or_insert(v);
                        }
                        ("languageTerm", "language") => {
                            d.language.get_or_insert(v);
                        }
                        ("genre", _) => {
                            d.genre.get_or_insert(v);
                        }
                        ("identifier", _) => {
                            let ty = attr(e, "type").map(|t| format!("{t}:")).unwrap_or_default();
                            d.identifiers.push(format!("{ty}{v}"));
                        }
                        _ => {}
                    }
                }
            }
            "record" if dmd.is_some() && !in_mods => {
                if let Some((_, d)) = dmd.as_mut() {
                    d.scheme.get_or_insert("marc");
                }
            }
            "controlfield" | "leader" if dmd.is_some() && !in_mods && !is_empty => {
                let t = attr(e, "tag").map(|v| v.into_owned());
                let value = r.read_text()?;
                consumed = true;
                if let (Some((_, d)), Some("008")) = (dmd.as_mut(), t.as_deref()) {
                    // 008/07-10 date 1, 008/35-37 language
                    let chars: Vec<char> = value.chars().collect();
                    let date1: String = chars.get(7..11).map(|c| c.iter().collect()).unwrap_or_default();
                    if date1.chars().all(|c| c.is_ascii_digit()) && date1.len() == 4 {
                        d.date.get_or_insert(date1);
                    }
                    let lang: String = chars.get(35..38).map(|c| c.iter().collect()).unwrap_or_default();
                    if lang.chars().all(|c| c.is_ascii_lowercase()) && lang.len() == 3 {
                        d.language.get_or_insert(lang);
                    }
                }
                if let (Some((_, d)), true) = (dmd.as_mut(), name == "leader") {
                    let kind = value.get(6..8).unwrap_or("");
                    let genre = match kind {
                        "am" | "aa" | "ac" => Some("book"),
                        "as" => Some("periodical"),
                        "tm" => Some("manuscript"),
                        _ => None,
                    };
                    if let Some(g) = genre {
                        d.genre.get_or_insert(g.to_string());
                    }
                }
            }
            "datafield" if dmd.is_some() && !in_mods => marc_tag = attr(e, "tag").map(|v| v.into_owned()),
            "subfield" if dmd.is_some() && !in_mods && !is_empty => {
                let code = attr(e, "code").map(|v| v.into_owned()).unwrap_or_default();
                let value = r.read_text()?;
                consumed = true;
                if let (Some((_, d)), Some(t), Some(v)) = (dmd.as_mut(), marc_tag.as_deref(), clean(&value)) {
                    match (t, code.as_str()) {
                        ("245", "a") => d.title = Some(v),
                        ("245", "b") => {
                            if let Some(title) = d.title.as_mut() {
                                title.push_str(" : ");
                                title.push_str(&v);
                            }
                        }
                        ("100" | "110", "a") => {
                            d.author.get_or_insert(v);
                        }
                        ("260" | "264", "c") => {
                            // 260$c is the printed date; it beats 008's coded date.
                            d.date = Some(v);
                        }
                        ("041", "a") => {
                            d.language.get_or_insert(v);
                        }
                        ("024" | "015" | "035", "a") => d.identifiers.push(v),
                        _ => {}
                    }
                }
            }
            "fileGrp" => {
                let use_ = attr(e, "USE").map(|v| v.into_owned()).unwrap_or_default();
                let id = attr(e, "ID").map(|v| v.into_owned()).unwrap_or_default();
                let parent = groups.last().map(|g| g.1.clone()).unwrap_or_default();
                let key = if id.is_empty() { use_.clone() } else { id.clone() };
                if !is_empty {
                    groups.push((key, format!("{parent} {use_} {id}").to_ascii_uppercase()));
                }
            }
            "file" => {
                file = Some((
                    attr(e, "ID").map(|v| v.into_owned()).unwrap_or_default(),
                    attr(e, "MIMETYPE").map(|v| v.into_owned()),
                ))
            }
            "FLocat" => {
                if let Some((id, mime)) = &file {
                    let href = attr(e, "href").map(|v| v.into_owned()).unwrap_or_default();
                    let (key, hint) = groups.last().cloned().unwrap_or_default();
                    let m = mime.as_deref().unwrap_or("").to_ascii_lowercase();
                    let text_hint = hint.contains("ALTO") || hint.contains("TEXT") || hint.contains("OCR");
                    // PAGE XML pages are not ALTO; packages of them are read page by page instead.
                    if !href.is_empty() && !m.contains("page+xml") && is_text_file(&href, mime.as_deref(), text_hint) {
                        let score = if m.contains("alto") || hint.contains("ALTO") {
                            3
                        } else if text_hint {
                            2
                        } else {
                            1
                        };
                        candidates.push((id.clone(), href, key, score));
                    }
                }
            }
            "structMap" => map_type = attr(e, "TYPE").map(|v| v.to_ascii_uppercase()).unwrap_or_default(),
            "div" => {
                let ty = attr(e, "TYPE").map(|v| v.to_ascii_lowercase()).unwrap_or_default();
                if map_type == "LOGICAL" && article_depth.is_none() && ty == "article" {
                    article_depth = Some(stack.len());
                    pkg.articles.push(MetsArticle {
                        div_id: attr(e, "ID").map(|v| v.into_owned()).unwrap_or_default(),
                        label: attr(e, "LABEL").and_then(|v| clean(&v)),
                        dmdids: attr(e, "DMDID")
                            .map(|v| v.split_whitespace().map(str::to_string).collect())
                            .unwrap_or_default(),
                        areas: Vec::new(),
                    });
                    if is_empty {
                        article_depth = None;
                    }
                }
            }
            "fptr" | "area" => {
                if let Some(fid) = attr(e, "FILEID") {
                    if map_type == "PHYSICAL" || map_type.is_empty() {
                        pkg.page_order.push(fid.into_owned());
                    } else if map_type == "LOGICAL" && article_depth.is_some() {
                        if let Some(a) = pkg.articles.last_mut() {
                            a.areas.push((fid.into_owned(), attr(e, "BEGIN").map(|v| v.into_owned())));
                        }
                    }
                }
            }
            _ => {}
        }
        if !is_empty && !consumed {
            stack.push(name);
        }
    }
    if !seen_mets {
        return Err(ReadError::new(Reason::MalformedXml, "no <mets> root element"));
    }
    // A package can hold several versions of its text (OCR-D keeps one file group per
    // engine). Read one: the first ALTO group, else the first text-like group.
    if let Some(best) = candidates.iter().map(|c| c.3).max() {
        let group = candidates.iter().find(|c| c.3 == best).map(|c| c.2.clone()).unwrap_or_default();
        pkg.text_files = candidates.iter().filter(|c| c.2 == group).map(|c| (c.0.clone(), c.1.clone())).collect();
        pkg.text_group = Some(group);
    }
    Ok(pkg)
}

/// Resolves a METS `xlink:href` against the METS file's folder. `None` when the href is not a
/// local file or would leave the package folder.
pub fn resolve_href(mets_path: &Path, href: &str) -> Option<PathBuf> {
    let h = href.trim();
    let h = h.strip_prefix("file://").unwrap_or(h);
    if h.contains("://") {
        return None;
    }
    let rel = Path::new(h);
    let mut clean = PathBuf::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => clean.push(p),
            Component::CurDir => {}
            // absolute paths and `..` would leave the package
            _ => return None,
        }
    }
    (!clean.as_os_str().is_empty()).then(|| mets_path.parent().unwrap_or(Path::new("")).join(clean))
}

/// The text files a METS file points at (existing or not), resolved; used to keep the ingest
/// planner from reading the same pages again as standalone ALTO files.
pub fn referenced_files(mets_path: &Path, bytes: &[u8]) -> Vec<PathBuf> {
    let (text, _) = decode_text(bytes);
    match parse(&text) {
        Ok(pkg) => pkg.text_files.iter().filter_map(|(_, h)| resolve_href(mets_path, h)).collect(),
        Err(_) => Vec::new(),
    }
}

/// Reads a METS package whose METS file is at `mets_path` (pages are read from disk).
pub fn read_package(
    mets_path: &Path,
    bytes: &[u8],
    ctx: &ReadContext,
    out: &mut dyn FnMut(Emit),
) -> Result<(), ReadError> {
    let (text, repaired) = decode_text(bytes);
    let pkg = parse(&text)?;
    let desc = pkg.descriptive();
    let pages = pkg.pages();
    if pages.is_empty() {
        return Err(ReadError::new(Reason::EmptyText, "the METS fileSec lists no text (ALTO) files"));
    }
    let mut missing: Vec<String> = Vec::new();
    let mut parsed: Vec<(String, String, AltoPage)> = Vec::new();
    for (id, href) in &pages {
        let Some(path) = resolve_href(mets_path, href) else {
            out(Emit::Warning { kind: "page-outside-package".into(), detail: format!("{}: {href}", ctx.path) });
            missing.push(href.clone());
            continue;
        };
        // A page is markup around one page's text: the limit of a markup file.
        let limit = ctx.options.max_doc_bytes.saturating_mul(4);
        let bytes = match super::input::read_file_bounded(&path, limit) {
            Ok(Ok(b)) => b,
            Ok(Err(n)) => {
                let detail = format!("{}: {href}: more than {} bytes (the limit is {limit})", ctx.path, n - 1);
                out(Emit::Warning { kind: "unreadable-page".into(), detail });
                missing.push(href.clone());
                continue;
            }
            Err(e) => {
                out(Emit::Warning { kind: "missing-page".into(), detail: format!("{}: {href}: {e}", ctx.path) });
                missing.push(href.clone());
                continue;
            }
        };
        match alto::parse(&decode_text(&bytes).0, ctx.options) {
            Ok(p) => parsed.push((id.clone(), href.clone(), p)),
            Err(e) => {
                out(Emit::Warning { kind: "unreadable-page".into(), detail: format!("{}: {href}: {e}", ctx.path) });
                missing.push(href.clone());
            }
        }
    }
    let base_meta = |pages_read: usize| {
        let mut m = Map::new();
        m.insert("pages_listed".into(), json!(pages.len()));
        m.insert("pages_read".into(), json!(pages_read));
        if !missing.is_empty() {
            m.insert("missing_pages".into(), json!(missing));
        }
        if let Some(t) = &pkg.mets_type {
            m.insert("mets_type".into(), json!(t));
        }
        if let Some(g) = &pkg.text_group {
            m.insert("text_file_group".into(), json!(g));
        }
        if let Some(s) = desc.scheme {
            m.insert("metadata_from".into(), json!(s));
        }
        if !desc.identifiers.is_empty() {
            m.insert("identifiers".into(), json!(desc.identifiers));
        }
        if repaired > 0 {
            m.insert("utf8_repaired_bytes".into(), json!(repaired));
        }
        m
    };
    let make_doc = |text: String, locator: String, pages_used: &[&AltoPage], meta: Map<String, Value>| {
        let (sum, n) = pages_used.iter().fold((0.0, 0usize), |(s, n), p| (s + p.wc_sum, n + p.wc_n));
        let mut meta = meta;
        meta.insert("words".into(), json!(pages_used.iter().map(|p| p.words).sum::<usize>()));
        let dropped: usize = pages_used.iter().map(|p| p.words_dropped).sum();
        if dropped > 0 {
            meta.insert("words_dropped".into(), json!(dropped));
        }
        let lines_dropped: usize = pages_used.iter().map(|p| p.lines_dropped).sum();
        if lines_dropped > 0 {
            meta.insert("lines_dropped".into(), json!(lines_dropped));
        }
        meta.insert("hyphens_joined".into(), json!(pages_used.iter().map(|p| p.hyphens_joined).sum::<usize>()));
        RawDoc {
            text,
            locator,
            title: desc.title.clone(),
            author: desc.author.clone(),
            date: desc.date.clone(),
            language: desc.language.clone(),
            genre: desc.genre.clone(),
            ocr_confidence: (n > 0).then(|| (sum / n as f64) as f32),
            meta,
            ..Default::default()
        }
    };

    if ctx.options.mets_split == MetsSplit::Article && !pkg.articles.is_empty() {
        let by_id: HashMap<&str, &AltoPage> = parsed.iter().map(|(id, _, p)| (id.as_str(), p)).collect();
        let mut used: BTreeSet<(String, String)> = BTreeSet::new();
        for art in &pkg.articles {
            let mut text = String::new();
            let mut used_pages: Vec<&AltoPage> = Vec::new();
            for (fid, begin) in &art.areas {
                let Some(page) = by_id.get(fid.as_str()) else { continue };
                if !used_pages.iter().any(|p| std::ptr::eq(*p, *page)) {
                    used_pages.push(page);
                }
                for b in page.blocks.iter().filter(|b| begin.as_deref().is_none_or(|id| id == b.id)) {
                    used.insert((fid.clone(), b.id.clone()));
                    if b.text.is_empty() {
                        continue;
                    }
                    if !text.is_empty() {
                        text.push_str("\n\n");
                    }
                    text.push_str(&b.text);
                }
            }
            let locator = format!("article={}", art.div_id);
            if text.is_empty() {
                out(Emit::Reject {
                    locator,
                    reason: Reason::EmptyText,
                    detail: "article has no text on the pages that were read".into(),
                });
                continue;
            }
            let mut meta = base_meta(parsed.len());
            let mut art_desc = Descriptive::default();
            for (id, d) in &pkg.dmd {
                if art.dmdids.contains(id) {
                    art_desc.fill_from(d);
                }
            }
            meta.insert("issue_title".into(), json!(desc.title));
            let mut doc = make_doc(text, locator, &used_pages, meta);
            doc.title = art.label.clone().or(art_desc.title).or(doc.title);
            if let Some(l) = art_desc.language {
                doc.language = Some(l);
            }
            out(Emit::Doc(doc));
        }
        // Text outside every article is kept as one more document rather than lost.
        let mut rest = String::new();
        let mut rest_pages: Vec<&AltoPage> = Vec::new();
        for (fid, _, page) in &parsed {
            for b in &page.blocks {
                if b.text.is_empty() || used.contains(&(fid.clone(), b.id.clone())) {
                    continue;
                }
                if !rest_pages.iter().any(|p| std::ptr::eq(*p, page)) {
                    rest_pages.push(page);
                }
                if !rest.is_empty() {
                    rest.push_str("\n\n");
                }
                rest.push_str(&b.text);
            }
        }
        if !rest.is_empty() {
            let mut meta = base_meta(parsed.len());
            meta.insert("outside_articles".into(), json!(true));
            out(Emit::Doc(make_doc(rest, "article=none".into(), &rest_pages, meta)));
        }
        return Ok(());
    }

    let mut text = String::new();
    let mut blank = 0usize;
    for (_, _, p) in &parsed {
        let t = p.text();
        if t.is_empty() {
            blank += 1;
            continue;
        }
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&t);
    }
    let pages_used: Vec<&AltoPage> = parsed.iter().map(|(_, _, p)| p).collect();
    if text.is_empty() {
        out(Emit::Reject {
            locator: String::new(),
            reason: Reason::EmptyText,
            detail: format!(
                "{} pages listed, {} read, {} blank, {} missing",
                pages.len(),
                parsed.len(),
                blank,
                missing.len()
            ),
        });
        return Ok(());
    }
    let mut meta = base_meta(parsed.len());
    meta.insert("blank_pages".into(), json!(blank));
    out(Emit::Doc(make_doc(text, String::new(), &pages_used, meta)));
    Ok(())
}

/// Cheap sniff: is this XML a METS document?
pub fn looks_like_mets(head: &str) -> bool {
    let h = head.trim_start_matches('\u{feff}');
    h.contains("<mets") || h.contains(":mets ") || h.contains("http://www.loc.gov/METS/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::source::ReaderOptions;

    use crate::ingest::testing::shared_data as shared;

    fn run(path: &Path, options: &ReaderOptions) -> Vec<Emit> {
        let bytes = std::fs::read(path).unwrap();
        let mut got = vec![];
        let display = path.display().to_string();
        read_package(path, &bytes, &ReadContext { path: &display, options }, &mut |e| got.push(e)).unwrap();
        got
    }

    #[test]
    fn hrefs_stay_inside_the_package() {
        let m = Path::new("/data/pkg/mets.xml");
        assert_eq!(resolve_href(m, "file://./ALTO/0001.xml"), Some(PathBuf::from("/data/pkg/ALTO/0001.xml")));
        assert_eq!(resolve_href(m, "0001.xml"), Some(PathBuf::from("/data/pkg/0001.xml")));
        assert_eq!(resolve_href(m, "../other/0001.xml"), None);
        assert_eq!(resolve_href(m, "file:///etc/passwd"), None);
        assert_eq!(resolve_href(m, "http://example.org/a.xml"), None);
    }

    #[test]
    fn real_1749_book_is_one_document_with_marc_metadata() {
        let Some(p) = shared("alto/natlibfi_swedish_1749_oeconomisk_beskrifning_abo/mets.xml") else { return };
        let got = run(&p, &ReaderOptions::default());
        let docs: Vec<&RawDoc> = got.iter().filter_map(|e| if let Emit::Doc(d) = e { Some(d) } else { None }).collect();
        assert_eq!(docs.len(), 1, "{got:?}");
        let d = docs[0];
        assert!(d.title.as_deref().unwrap().starts_with("Oeconomisk beskrifning öfwer Åbo stad"), "{:?}", d.title);
        assert_eq!(crate::date::PartialDate::parse(d.date.as_deref().unwrap()).unwrap().year, 1749);
        assert_eq!(d.language.as_deref(), Some("swe"));
        assert_eq!(d.genre.as_deref(), Some("book"));
        assert_eq!(d.meta["pages_listed"], json!(63));
        assert_eq!(d.meta["pages_read"], json!(63));
        assert_eq!(d.meta["blank_pages"], json!(7));
        assert!(d.text.contains("Wetentkaps"), "hyphenated word joined");
        assert!(!d.text.contains("We tentkaps"));
        let c = d.ocr_confidence.unwrap();
        assert!((0.3..0.95).contains(&c), "{c}");
    }

    #[test]
    fn one_text_group_is_chosen_among_several() {
        let Some(p) = shared("page_xml/ocrd_kant_1784_multi_engine/mets.xml") else { return };
        let pkg = parse(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(pkg.text_group.as_deref(), Some("OCR-D-GT-ALTO"));
        assert_eq!(pkg.text_files.len(), 2, "{:?}", pkg.text_files);
        assert!(pkg.text_files.iter().all(|(_, h)| h.starts_with("OCR-D-GT-ALTO/")));
    }

    #[test]
    fn real_bnf_newspaper_splits_into_articles() {
        let Some(p) = shared("alto/europeana_newspapers_bnf_mets_alto/18140401_1/18140401_1-METS.xml") else { return };
        let pkg = parse(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(pkg.pages().len(), 2);
        assert!(pkg.articles.len() > 3);
        let d = pkg.descriptive();
        assert_eq!(d.title.as_deref(), Some("Le Journal des Débats politiques et littéraires"));
        assert_eq!(crate::date::PartialDate::parse(d.date.as_deref().unwrap()).unwrap().to_iso(), "1814-04-01");
        let whole = run(&p, &ReaderOptions::default());
        let opts = ReaderOptions { mets_split: MetsSplit::Article, ..Default::default() };
        let split = run(&p, &opts);
        let docs = |v: &[Emit]| v.iter().filter(|e| matches!(e, Emit::Doc(_))).count();
        assert_eq!(docs(&whole), 1);
        assert!(docs(&split) >= pkg.articles.len() - 1, "{} docs for {} articles", docs(&split), pkg.articles.len());
        // Every word of the issue is in exactly one article document (or the outside-articles one).
        let words = |v: &[Emit]| -> usize {
            v.iter().map(|e| if let Emit::Doc(d) = e { d.text.split_whitespace().count() } else { 0 }).sum()
        };
        assert_eq!(words(&whole), words(&split));
    }
}

//! A hardened pull parser over quick-xml for the XML readers (ALTO, METS/MODS, hOCR, PAGE, TEI).
//!
//! quick-xml never expands DTD entities nor fetches external ones; on top of that we refuse any
//! document whose DTD declares entities (`xml-entities`), so neither billion-laughs expansion nor
//! XXE can happen, and an undefined entity reference is an error rather than silently dropped
//! text. Element and attribute names are matched on their local name, so the same reader works
//! with and without namespaces (ALTO 1.x from docWORKS has none, ALTO 2–4 do).

use std::borrow::Cow;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

use super::source::ReadError;
use crate::reject::Reason;

/// A pull parser over a whole in-memory document.
pub struct XmlReader<'a> {
    inner: Reader<&'a [u8]>,
    text: &'a str,
}

impl<'a> XmlReader<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut inner = Reader::from_str(text);
        let config = inner.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        Self { inner, text }
    }

    /// The next event. `Event::DocType` declaring entities, and malformed XML, are errors.
    /// `Event::Eof` is returned once at the end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Event<'a>, ReadError> {
        match self.inner.read_event() {
            Ok(Event::DocType(d)) => {
                if d.contains("<!ENTITY") {
                    Err(ReadError::new(
                        Reason::XmlEntities,
                        "the DTD declares entities; kbcurate refuses entity declarations (entity expansion, external entities)",
                    ))
                } else {
                    Ok(Event::DocType(d))
                }
            }
            Ok(ev) => Ok(ev),
            Err(e) => Err(self.error(e)),
        }
    }

    fn error(&self, e: quick_xml::Error) -> ReadError {
        let pos = self.inner.error_position() as usize;
        let (line, col) = line_col(self.text, pos);
        ReadError::new(Reason::MalformedXml, format!("line {line}, column {col}: {e}"))
    }

    /// Byte offset of the parser in the input.
    pub fn position(&self) -> u64 {
        self.inner.buffer_position()
    }

    /// Reads to the end of the element just started (whose `Start` event was returned last),
    /// collecting its text content (all descendants, entity references resolved).
    pub fn read_text(&mut self) -> Result<String, ReadError> {
        let mut depth = 1usize;
        let mut out = String::new();
        loop {
            match self.next()? {
                Event::Start(_) => depth += 1,
                Event::End(_) => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(out);
                    }
                }
                Event::Text(t) => out.push_str(&t.xml_content(quick_xml::XmlVersion::Implicit1_0)),
                Event::CData(t) => out.push_str(&t),
                Event::GeneralRef(r) => out.push_str(&resolve_ref(&r)?),
                Event::Eof => return Err(ReadError::new(Reason::MalformedXml, "unexpected end of document")),
                _ => {}
            }
        }
    }

    /// Skips to the end of the element just started.
    pub fn skip(&mut self) -> Result<(), ReadError> {
        let mut depth = 1usize;
        loop {
            match self.next()? {
                Event::Start(_) => depth += 1,
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
}

/// A text chunk's content with XML line-end normalization.
pub fn text_content<'b>(t: &'b quick_xml::events::BytesText<'_>) -> Cow<'b, str> {
    t.xml_content(quick_xml::XmlVersion::Implicit1_0)
}

/// The replacement text of `&name;` / `&#NN;`: character references and the five predefined
/// entities. Anything else is undefined (we never read DTDs) and is an error.
pub fn resolve_ref(r: &BytesRef<'_>) -> Result<Cow<'static, str>, ReadError> {
    match r.resolve_char_ref() {
        Ok(Some(c)) => return Ok(Cow::Owned(c.to_string())),
        Ok(None) => {}
        Err(e) => return Err(ReadError::new(Reason::MalformedXml, format!("bad character reference &{};: {e}", &**r))),
    }
    match quick_xml::escape::resolve_predefined_entity(r) {
        Some(s) => Ok(Cow::Borrowed(s)),
        None => Err(ReadError::new(Reason::XmlEntities, format!("undefined entity &{};", &**r))),
    }
}

/// The local part of a (possibly prefixed) name: `mets:file` → `file`.
pub fn local(name: &str) -> &str {
    match name.rfind(':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// The local name of an element.
pub fn tag<'b>(e: &'b BytesStart<'_>) -> &'b str {
    local(e.name().into_inner())
}

/// The value of the attribute whose local name is `name` (first match), entity references
/// resolved. Malformed attributes are ignored rather than failing the page.
pub fn attr<'b>(e: &'b BytesStart<'_>, name: &str) -> Option<Cow<'b, str>> {
    for a in e.attributes().with_checks(false).flatten() {
        if local(a.key.into_inner()) == name {
            return Some(a.normalized_value(quick_xml::XmlVersion::Implicit1_0).unwrap_or_else(|_| a.value.clone()));
        }
    }
    None
}

/// The value of an attribute matched by its exact (prefixed) name, e.g. `xlink:href`.
pub fn attr_exact<'b>(e: &'b BytesStart<'_>, name: &str) -> Option<Cow<'b, str>> {
    for a in e.attributes().with_checks(false).flatten() {
        if a.key.into_inner() == name {
            return Some(a.normalized_value(quick_xml::XmlVersion::Implicit1_0).unwrap_or_else(|_| a.value.clone()));
        }
    }
    None
}

fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(text.len());
    let before = &text.as_bytes()[..pos];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = pos - before.iter().rposition(|&b| b == b'\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_text(xml: &str) -> Result<String, ReadError> {
        let mut r = XmlReader::new(xml);
        loop {
            match r.next()? {
                Event::Start(e) if tag(&e) == "p" => return r.read_text(),
                Event::Eof => return Ok(String::new()),
                _ => {}
            }
        }
    }

    #[test]
    fn resolves_predefined_and_char_refs() {
        assert_eq!(all_text("<a><p>x &amp; y &#246;&#x2014;<b>z</b></p></a>").unwrap(), "x & y ö—z");
    }

    #[test]
    fn refuses_entity_declarations() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><a><p>&lol2;</p></a>"#;
        assert_eq!(all_text(bomb).unwrap_err().reason, Reason::XmlEntities);
        let xxe = r#"<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a><p>&x;</p></a>"#;
        assert_eq!(all_text(xxe).unwrap_err().reason, Reason::XmlEntities);
        assert_eq!(all_text("<a><p>&nbsp;</p></a>").unwrap_err().reason, Reason::XmlEntities);
    }

    #[test]
    fn malformed_xml_names_the_position() {
        let err = all_text("<a>\n<p>text</q></a>").unwrap_err();
        assert_eq!(err.reason, Reason::MalformedXml);
        assert!(err.detail.starts_with("line 2"), "{}", err.detail);
    }

    #[test]
    fn attributes_by_local_name() {
        let mut r = XmlReader::new(r#"<x:a xmlns:x="u" x:ID="7" CONTENT="a&amp;b"/>"#);
        match r.next().unwrap() {
            Event::Empty(e) => {
                assert_eq!(tag(&e), "a");
                assert_eq!(attr(&e, "ID").unwrap(), "7");
                assert_eq!(attr(&e, "CONTENT").unwrap(), "a&b");
                assert!(attr(&e, "WC").is_none());
            }
            other => panic!("{other:?}"),
        }
    }
}

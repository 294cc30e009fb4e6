//! Input formats, and telling them apart by name and by content.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Alto,
    Mets,
    Hocr,
    Page,
    Tei,
    Srt,
    #[serde(alias = "webvtt")]
    Vtt,
    Ctm,
    AsrJson,
    Jsonl,
    #[serde(alias = "txt", alias = "plain")]
    Text,
    Parquet,
    /// A tar archive of any of the above (members detected one by one).
    Tar,
}

impl Format {
    pub const ALL: [Format; 13] = [
        Format::Alto,
        Format::Mets,
        Format::Hocr,
        Format::Page,
        Format::Tei,
        Format::Srt,
        Format::Vtt,
        Format::Ctm,
        Format::AsrJson,
        Format::Jsonl,
        Format::Text,
        Format::Parquet,
        Format::Tar,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Alto => "alto",
            Format::Mets => "mets",
            Format::Hocr => "hocr",
            Format::Page => "page",
            Format::Tei => "tei",
            Format::Srt => "srt",
            Format::Vtt => "vtt",
            Format::Ctm => "ctm",
            Format::AsrJson => "asr-json",
            Format::Jsonl => "jsonl",
            Format::Text => "text",
            Format::Parquet => "parquet",
            Format::Tar => "tar",
        }
    }

    /// Formats read as a stream of lines, in chunks, so a huge file uses all cores and bounded memory.
    pub fn is_line_oriented(self) -> bool {
        matches!(self, Format::Jsonl)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        if s == "webvtt" {
            return Ok(Format::Vtt);
        }
        if matches!(s.as_str(), "txt" | "plain") {
            return Ok(Format::Text);
        }
        Format::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| {
            format!("unknown format `{s}`; expected one of: {}", Format::ALL.map(|f| f.as_str()).join(", "))
        })
    }
}

/// Compression wrapped around a file, told by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// The file name without compression suffixes, lower-cased: `a.JSONL.gz` → `a.jsonl`.
pub fn inner_name(name: &str) -> String {
    let mut n = name.to_ascii_lowercase();
    for suffix in [".gz", ".zst", ".zstd"] {
        if let Some(s) = n.strip_suffix(suffix) {
            n = s.to_string();
        }
    }
    n
}

/// Detects a format from the (decompressed) file name and the first bytes of its content.
/// `None` when nothing fits.
pub fn detect(name: &str, head: &[u8]) -> Option<Format> {
    let n = inner_name(name);
    let ext = n.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    if n.ends_with(".tar") || name.to_ascii_lowercase().ends_with(".tgz") {
        return Some(Format::Tar);
    }
    let text = String::from_utf8_lossy(&head[..head.len().min(8192)]);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    match ext {
        "parquet" => return Some(Format::Parquet),
        "jsonl" | "ndjson" => return Some(Format::Jsonl),
        "srt" => return Some(Format::Srt),
        "vtt" => return Some(Format::Vtt),
        "ctm" => return Some(Format::Ctm),
        "hocr" => return Some(Format::Hocr),
        "txt" | "text" => return Some(Format::Text),
        _ => {}
    }
    if head.starts_with(b"PAR1") {
        return Some(Format::Parquet);
    }
    if head.len() > 262 && &head[257..262] == b"ustar" {
        return Some(Format::Tar);
    }
    if text.starts_with('<') {
        return detect_xml(text);
    }
    if text.starts_with("WEBVTT") {
        return Some(Format::Vtt);
    }
    if text.starts_with('{') || text.starts_with('[') {
        return Some(detect_json(text));
    }
    if super::subtitles::looks_like_srt(text) {
        return Some(Format::Srt);
    }
    if super::ctm::looks_like_ctm(text) {
        return Some(Format::Ctm);
    }
    if looks_like_text(head) {
        return Some(Format::Text);
    }
    None
}

fn detect_xml(text: &str) -> Option<Format> {
    // The root element's name, skipping the declaration, comments and doctype.
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("<?") {
            rest = r.split_once("?>").map(|(_, r)| r).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix("<!--") {
            rest = r.split_once("-->").map(|(_, r)| r).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix("<!") {
            rest = r.split_once('>').map(|(_, r)| r).unwrap_or("");
        } else {
            break;
        }
    }
    let root: String =
        rest.trim_start_matches('<').chars().take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/').collect();
    let local = root.rsplit(':').next().unwrap_or("").to_ascii_lowercase();
    match local.as_str() {
        "alto" => Some(Format::Alto),
        "mets" => Some(Format::Mets),
        "pcgts" => Some(Format::Page),
        "tei" | "tei.2" | "teicorpus" => Some(Format::Tei),
        "html" if text.contains("ocr_page") || text.contains("ocrx_word") || text.contains("ocr_line") => {
            Some(Format::Hocr)
        }
        _ if rest.contains("http://www.loc.gov/standards/alto") => Some(Format::Alto),
        _ => None,
    }
}

fn detect_json(text: &str) -> Format {
    if super::asr_json::looks_like_asr_json(text) {
        Format::AsrJson
    } else {
        Format::Jsonl
    }
}

/// UTF-8 (allowing a cut at the end) with few control characters.
fn looks_like_text(head: &[u8]) -> bool {
    if head.is_empty() {
        return false;
    }
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
        Err(_) => return false,
    };
    let control = valid.chars().filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}')).count();
    control * 100 <= valid.chars().count().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_name_and_content() {
        assert_eq!(detect("a.jsonl.gz", b"{}"), Some(Format::Jsonl));
        assert_eq!(detect("page.xml", b"\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<alto xmlns=\"x\">"), Some(Format::Alto));
        assert_eq!(
            detect("x.xml", b"<?xml version='1.0'?><!-- c --><mets:mets xmlns:mets=\"http://www.loc.gov/METS/\">"),
            Some(Format::Mets)
        );
        assert_eq!(
            detect("x.xml", b"<PcGts xmlns=\"http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15\">"),
            Some(Format::Page)
        );
        assert_eq!(detect("x.xml", b"<TEI xmlns=\"http://www.tei-c.org/ns/1.0\">"), Some(Format::Tei));
        assert_eq!(detect("x.html", b"<!DOCTYPE html><html><body><div class='ocr_page'>"), Some(Format::Hocr));
        assert_eq!(detect("x", b"WEBVTT\n\n00:01.000 --> 00:02.000\nhej"), Some(Format::Vtt));
        assert_eq!(detect("x.bin", b"\x00\x01\x02\xff\xfe\x80"), None);
        assert_eq!(detect("notes", "Hej på dig\nEn rad till".as_bytes()), Some(Format::Text));
        assert_eq!(detect("a.tgz", b""), Some(Format::Tar));
        assert_eq!("webvtt".parse::<Format>(), Ok(Format::Vtt));
        assert!("docx".parse::<Format>().unwrap_err().contains("expected one of"));
    }
}

//! Why a document (or an input that should have given documents) was not kept.
//!
//! The names are stable: they appear in `rejected/` parts, in manifests and in reports, and
//! later stages add their own. `in = kept + Σ rejected[reason]` holds for every stage.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The input could not be read from disk.
    IoError,
    /// The input file has no bytes (or only whitespace).
    EmptyFile,
    /// The input parsed but holds no text (a blank page, an empty record).
    EmptyText,
    /// A document's text is larger than `max_doc_bytes`.
    TooLarge,
    /// gzip/zstd stream is corrupt or truncated.
    CorruptCompression,
    /// A tar member whose path would leave the archive (`../`, absolute) or that is a link.
    UnsafeArchivePath,
    /// A tar archive that cannot be read (truncated, not a tar).
    CorruptArchive,
    /// No reader recognises the input.
    UnknownFormat,
    /// XML is not well-formed.
    MalformedXml,
    /// XML declares entities in a DTD; refused (entity expansion and external entities).
    XmlEntities,
    /// JSON (a JSONL line, an ASR JSON file) does not parse.
    MalformedJson,
    /// A record parsed but lacks the text field or has it in the wrong type.
    MalformedRecord,
    /// A transcript (SRT, WebVTT, CTM) has no usable cue.
    MalformedTranscript,
    /// A Parquet input could not be read.
    MalformedParquet,
    /// dedup: the same normalized text as the copy that was kept.
    ExactDuplicate,
    /// dedup: a near-duplicate (MinHash LSH, verified) of the copy that was kept.
    NearDuplicate,
    /// dedup (`--contained remove`): a passage of a longer document that was kept.
    Contained,
    /// filter: fewer words than `heuristics.min_words`.
    TooShort,
    /// filter: more words than `heuristics.max_words`.
    TooLong,
    /// filter: the document's language is not one of `language.keep`.
    Language,
    /// filter: mean OCR word confidence below `quality.min_ocr_confidence`.
    LowOcrConfidence,
    /// filter: too many tokens without a letter.
    NonAlpha,
    /// filter: too many tokens that do not look like words (OCR garbage).
    Gibberish,
    /// filter: too many tokens that are not in the lexicon of the document's language.
    UnknownWords,
    /// filter: mean word length outside the configured bounds.
    WordLength,
    /// filter: too much text in runs of one repeated character.
    RepeatedChars,
    /// filter: too many symbols (`#`, `…`, `|`, `■`) per word.
    SymbolRatio,
    /// filter: too few lines end in punctuation.
    Punctuation,
    /// filter: too many lines repeat an earlier line.
    DuplicateLines,
    /// filter: too many paragraphs repeat an earlier paragraph.
    DuplicateParagraphs,
    /// filter: too many lines start with a bullet.
    BulletLines,
    /// filter: a TV/radio listing (many time stamps such as `20.00`, `19.05-24.00`).
    Listing,
    /// balance: left out by the policy's selection (excluded values, minimum quality).
    Excluded,
    /// balance: down-sampled (repeated zero times) by the policy's weights.
    BalancedOut,
}

impl Reason {
    pub const ALL: [Reason; 34] = [
        Reason::IoError,
        Reason::EmptyFile,
        Reason::EmptyText,
        Reason::TooLarge,
        Reason::CorruptCompression,
        Reason::UnsafeArchivePath,
        Reason::CorruptArchive,
        Reason::UnknownFormat,
        Reason::MalformedXml,
        Reason::XmlEntities,
        Reason::MalformedJson,
        Reason::MalformedRecord,
        Reason::MalformedTranscript,
        Reason::MalformedParquet,
        Reason::ExactDuplicate,
        Reason::NearDuplicate,
        Reason::Contained,
        Reason::TooShort,
        Reason::TooLong,
        Reason::Language,
        Reason::LowOcrConfidence,
        Reason::NonAlpha,
        Reason::Gibberish,
        Reason::UnknownWords,
        Reason::WordLength,
        Reason::RepeatedChars,
        Reason::SymbolRatio,
        Reason::Punctuation,
        Reason::DuplicateLines,
        Reason::DuplicateParagraphs,
        Reason::BulletLines,
        Reason::Listing,
        Reason::Excluded,
        Reason::BalancedOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::IoError => "io-error",
            Reason::EmptyFile => "empty-file",
            Reason::EmptyText => "empty-text",
            Reason::TooLarge => "too-large",
            Reason::CorruptCompression => "corrupt-compression",
            Reason::UnsafeArchivePath => "unsafe-archive-path",
            Reason::CorruptArchive => "corrupt-archive",
            Reason::UnknownFormat => "unknown-format",
            Reason::MalformedXml => "malformed-xml",
            Reason::XmlEntities => "xml-entities",
            Reason::MalformedJson => "malformed-json",
            Reason::MalformedRecord => "malformed-record",
            Reason::MalformedTranscript => "malformed-transcript",
            Reason::MalformedParquet => "malformed-parquet",
            Reason::ExactDuplicate => "exact-duplicate",
            Reason::NearDuplicate => "near-duplicate",
            Reason::Contained => "contained",
            Reason::TooShort => "too-short",
            Reason::TooLong => "too-long",
            Reason::Language => "language",
            Reason::LowOcrConfidence => "low-ocr-confidence",
            Reason::NonAlpha => "non-alpha",
            Reason::Gibberish => "gibberish",
            Reason::UnknownWords => "unknown-words",
            Reason::WordLength => "word-length",
            Reason::RepeatedChars => "repeated-chars",
            Reason::SymbolRatio => "symbol-ratio",
            Reason::Punctuation => "punctuation",
            Reason::DuplicateLines => "duplicate-lines",
            Reason::DuplicateParagraphs => "duplicate-paragraphs",
            Reason::BulletLines => "bullet-lines",
            Reason::Listing => "listing",
            Reason::Excluded => "excluded",
            Reason::BalancedOut => "balanced-out",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde() {
        for r in Reason::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), serde_json::Value::String(r.as_str().into()));
        }
    }
}

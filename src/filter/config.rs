//! The filter configuration (TOML): one table per filter with its thresholds. Every key has a
//! default (documented in `schemas/filter.md`); unknown keys are refused, and errors name the
//! key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FilterConfig {
    pub language: LanguageConfig,
    pub quality: QualityConfig,
    pub heuristics: HeuristicsConfig,
    pub listing: ListingConfig,
    pub pii: PiiConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LanguageConfig {
    /// Keep documents in these languages (ISO 639-3); empty: keep every language.
    pub keep: Vec<String>,
    /// Languages the detector chooses between (ISO 639-3); empty: all whatlang knows.
    pub candidates: Vec<String>,
    /// Decide between Swedish, bokmål, nynorsk, Danish, Icelandic and Faroese with the
    /// function-word scorer.
    pub nordic: bool,
    /// Use the declared language (collection, MODS, TEI) unless the text clearly contradicts it.
    pub use_declared: bool,
    /// Detection is trusted only on at least this many letters.
    pub min_chars: usize,
    /// A window counts for a language only when the detector's margin (confidence) is at least this.
    pub min_confidence: f32,
    /// Detection is trusted only when the document's language score is at least this.
    pub min_score: f32,
    /// A trusted detection overrules the declared language only at this score or above.
    pub contradiction_score: f32,
    /// Detection windows are about this many bytes.
    pub window_bytes: usize,
    /// At most this many evenly spaced windows per document are detected (0: all).
    pub sample_windows: usize,
}

impl Default for LanguageConfig {
    fn default() -> Self {
        Self {
            keep: vec!["swe".into()],
            candidates: [
                "swe", "nob", "nno", "dan", "isl", "fao", "fin", "est", "eng", "deu", "fra", "lat", "nld", "ita",
                "spa", "pol", "rus",
            ]
            .map(String::from)
            .to_vec(),
            nordic: true,
            use_declared: true,
            min_chars: 40,
            min_confidence: 0.1,
            min_score: 0.3,
            contradiction_score: 0.6,
            window_bytes: 600,
            sample_windows: 4,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualityConfig {
    /// Remove documents whose mean word confidence (`ocr_confidence`) is below this (documents
    /// without one are not judged).
    pub min_ocr_confidence: f32,
    /// Remove documents where more than this share of tokens has no letter.
    pub max_non_alpha_share: f32,
    /// Remove documents where more than this share of tokens with letters do not look like words.
    pub max_non_word_share: f32,
    pub min_mean_word_length: f32,
    pub max_mean_word_length: f32,
    /// Remove documents where more than this share of letters and digits sit in runs of 4 or more
    /// of the same character.
    pub max_repeat_char_share: f32,
    /// Remove garbage lines from kept documents instead of judging only whole documents.
    pub drop_garbage_lines: bool,
    /// A line (of at least 3 tokens) is garbage when more than this share of its tokens are not
    /// words (no letter, or not word-like).
    pub garbage_line_share: f32,
    /// Word lists by language (ISO 639-3 → file built with `kbcurate lexicon`; relative paths
    /// are relative to the config file). Documents in a language with a lexicon get
    /// `unknown_word_share`.
    pub lexicons: BTreeMap<String, PathBuf>,
    /// Remove documents where more than this share of tokens with letters are not in the
    /// lexicon of their language (documents without a lexicon are not judged).
    pub max_unknown_word_share: f32,
}

impl Default for QualityConfig {
    fn default() -> Self {
        Self {
            min_ocr_confidence: 0.5,
            max_non_alpha_share: 0.4,
            max_non_word_share: 0.3,
            min_mean_word_length: 3.0,
            max_mean_word_length: 12.0,
            max_repeat_char_share: 0.02,
            drop_garbage_lines: false,
            garbage_line_share: 0.7,
            lexicons: BTreeMap::new(),
            max_unknown_word_share: 0.6,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeuristicsConfig {
    pub min_words: u32,
    pub max_words: u32,
    /// Symbols (`#`, `…`, `...`, `|`, `■`, …) per word.
    pub max_symbol_ratio: f32,
    /// Remove documents where fewer than this share of lines end in punctuation (0: off; OCR
    /// lines end where the column ended).
    pub min_punct_line_share: f32,
    pub max_dup_line_share: f32,
    pub max_dup_paragraph_share: f32,
    pub max_bullet_line_share: f32,
}

impl Default for HeuristicsConfig {
    fn default() -> Self {
        Self {
            min_words: 25,
            max_words: 5_000_000,
            max_symbol_ratio: 0.1,
            min_punct_line_share: 0.0,
            max_dup_line_share: 0.3,
            max_dup_paragraph_share: 0.3,
            max_bullet_line_share: 0.9,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListingConfig {
    pub enabled: bool,
    /// A listing has at least this many time stamps (`20.00`, `19.05-24.00`, `kl. 7`)…
    pub min_timestamps: u32,
    /// …and either at least this share of its lines start with one…
    pub min_timestamp_line_share: f32,
    /// …or at least this many time stamps per word.
    pub min_timestamps_per_word: f32,
}

impl Default for ListingConfig {
    fn default() -> Self {
        Self { enabled: true, min_timestamps: 6, min_timestamp_line_share: 0.25, min_timestamps_per_word: 0.06 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PiiConfig {
    pub enabled: bool,
    pub emails: bool,
    pub phones: bool,
    /// Swedish personnummer and samordningsnummer (valid check digit only).
    pub personnummer: bool,
    pub email_placeholder: String,
    pub phone_placeholder: String,
    pub personnummer_placeholder: String,
}

impl Default for PiiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            emails: true,
            phones: true,
            personnummer: true,
            email_placeholder: "<EMAIL>".into(),
            phone_placeholder: "<PHONE>".into(),
            personnummer_placeholder: "<PERSONNUMMER>".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

impl FilterConfig {
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Io { path: path.display().to_string(), source })?;
        let mut cfg = Self::from_toml(&text, &path.display().to_string())?;
        cfg.resolve_paths(path.parent().unwrap_or(Path::new("")));
        Ok(cfg)
    }

    /// Makes relative file names (the lexicons) relative to `base`, the folder of the file
    /// that named them.
    pub fn resolve_paths(&mut self, base: &Path) {
        for p in self.quality.lexicons.values_mut() {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }

    /// Parses and validates; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let cfg: FilterConfig = toml::from_str(text)
            .map_err(|e| ConfigError::Invalid { origin: origin.into(), message: e.to_string().trim().to_string() })?;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let bad =
            |key: &str, why: &str| ConfigError::Invalid { origin: origin.into(), message: format!("`{key}` {why}") };
        let shares = [
            ("language.min_confidence", self.language.min_confidence),
            ("language.min_score", self.language.min_score),
            ("language.contradiction_score", self.language.contradiction_score),
            ("quality.min_ocr_confidence", self.quality.min_ocr_confidence),
            ("quality.max_non_alpha_share", self.quality.max_non_alpha_share),
            ("quality.max_non_word_share", self.quality.max_non_word_share),
            ("quality.max_repeat_char_share", self.quality.max_repeat_char_share),
            ("quality.garbage_line_share", self.quality.garbage_line_share),
            ("quality.max_unknown_word_share", self.quality.max_unknown_word_share),
            ("heuristics.min_punct_line_share", self.heuristics.min_punct_line_share),
            ("heuristics.max_dup_line_share", self.heuristics.max_dup_line_share),
            ("heuristics.max_dup_paragraph_share", self.heuristics.max_dup_paragraph_share),
            ("heuristics.max_bullet_line_share", self.heuristics.max_bullet_line_share),
            ("listing.min_timestamp_line_share", self.listing.min_timestamp_line_share),
            ("listing.min_timestamps_per_word", self.listing.min_timestamps_per_word),
        ];
        for (k, v) in shares {
            if !(0.0..=1.0).contains(&v) {
                return Err(bad(k, &format!("must be between 0 and 1 (is {v})")));
            }
        }
        if !(self.quality.min_mean_word_length >= 0.0
            && self.quality.min_mean_word_length <= self.quality.max_mean_word_length)
        {
            return Err(bad("quality.min_mean_word_length", "must be ≥ 0 and ≤ `quality.max_mean_word_length`"));
        }
        if self.heuristics.min_words > self.heuristics.max_words {
            return Err(bad("heuristics.min_words", "must be ≤ `heuristics.max_words`"));
        }
        if self.language.window_bytes < 16 {
            return Err(bad("language.window_bytes", "must be at least 16"));
        }
        if self.heuristics.max_symbol_ratio < 0.0 {
            return Err(bad("heuristics.max_symbol_ratio", "must be ≥ 0"));
        }
        let lexicon_languages: Vec<String> = self.quality.lexicons.keys().cloned().collect();
        for (k, list) in [
            ("language.keep", &self.language.keep),
            ("language.candidates", &self.language.candidates),
            ("quality.lexicons", &lexicon_languages),
        ] {
            for code in list {
                if !crate::language::is_code(code) {
                    return Err(bad(k, &format!("holds `{code}`: expected lower-case ISO 639-3 codes such as `swe`")));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_the_default() {
        assert_eq!(FilterConfig::from_toml("", "t").unwrap(), FilterConfig::default());
    }

    #[test]
    fn errors_name_the_key() {
        let e = FilterConfig::from_toml("[quality]\nmax_non_word_shar = 0.5\n", "f.toml").unwrap_err().to_string();
        assert!(e.contains("f.toml") && e.contains("max_non_word_shar"), "{e}");
        let e = FilterConfig::from_toml("[quality]\nmax_non_word_share = 1.5\n", "f.toml").unwrap_err().to_string();
        assert!(e.contains("quality.max_non_word_share"), "{e}");
        let e = FilterConfig::from_toml("[language]\nkeep = [\"sv\"]\n", "f.toml").unwrap_err().to_string();
        assert!(e.contains("language.keep") && e.contains("`sv`"), "{e}");
        assert!(FilterConfig::from_toml("[langauge]\n", "f.toml").is_err());
    }
}

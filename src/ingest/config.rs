//! The collections config (`kbcurate ingest --config collections.toml`): which files belong to
//! which collection, in what format, with what genre, source, date and language.
//! `schemas/collections.schema.json` is its JSON Schema; `data-samples/collections.toml` an example.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::format::Format;
use super::source::{MetsSplit, ReaderOptions};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(rename = "collection", default)]
    pub collections: Vec<Collection>,
}

/// Settings every collection inherits unless it sets its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Language hint (any ISO 639 code or name) for documents that declare none.
    pub language: Option<String>,
    pub min_word_confidence: Option<f32>,
    pub min_line_confidence: Option<f32>,
    pub mets_split: Option<MetsSplit>,
    /// Documents with more text than this (MiB) are rejected as `too-large`. Default 64.
    pub max_doc_mb: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collection {
    pub name: String,
    /// Globs (or folders, read recursively), relative to the config file.
    pub paths: Vec<String>,
    /// Globs of files to leave out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Detected per file when left out.
    pub format: Option<Format>,
    pub genre: Option<String>,
    pub source: Option<String>,
    pub date: Option<DateRule>,
    pub language: Option<String>,
    pub text_field: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    pub min_word_confidence: Option<f32>,
    pub min_line_confidence: Option<f32>,
    pub mets_split: Option<MetsSplit>,
}

/// Where a document's date comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum DateRule {
    /// `{ fixed = "1923" }`: every document of the collection.
    Fixed { fixed: String },
    /// `{ from = "path", regex = '(\d{4})-(\d{2})-(\d{2})' }` or `{ from = "metadata" }`
    /// (with an optional `regex` on the path as a fallback).
    From { from: DateFrom, regex: Option<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DateFrom {
    Path,
    Metadata,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: collection `{collection}`: {message}")]
    Invalid { path: String, collection: String, message: String },
}

impl IngestConfig {
    pub fn from_file(path: &Path) -> Result<IngestConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses and validates; errors name the file, the line and the key.
    pub fn from_toml(text: &str, origin: &str) -> Result<IngestConfig, ConfigError> {
        let cfg: IngestConfig = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: origin.to_string(), message: e.to_string() })?;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |c: &Collection, message: String| ConfigError::Invalid {
            path: origin.to_string(),
            collection: c.name.clone(),
            message,
        };
        if self.collections.is_empty() {
            return Err(ConfigError::Parse { path: origin.into(), message: "no [[collection]] tables".into() });
        }
        let d = &self.defaults;
        for (k, v) in [("min_word_confidence", d.min_word_confidence), ("min_line_confidence", d.min_line_confidence)] {
            if v.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
                return Err(ConfigError::Parse {
                    path: origin.into(),
                    message: format!("[defaults] `{k}` must be between 0 and 1"),
                });
            }
        }
        if d.max_doc_mb.is_some_and(|mb| !(mb > 0.0 && mb.is_finite())) {
            return Err(ConfigError::Parse {
                path: origin.into(),
                message: "[defaults] `max_doc_mb` must be a positive number".into(),
            });
        }
        let mut names = std::collections::BTreeSet::new();
        for c in &self.collections {
            if c.name.trim().is_empty() {
                return Err(invalid(c, "`name` is empty".into()));
            }
            if !names.insert(&c.name) {
                return Err(invalid(c, "a collection of this name is defined twice".into()));
            }
            if c.paths.is_empty() {
                return Err(invalid(c, "`paths` is empty".into()));
            }
            for p in c.paths.iter().chain(&c.exclude) {
                glob::Pattern::new(p).map_err(|e| invalid(c, format!("bad glob `{p}`: {e}")))?;
            }
            if let Some(DateRule::From { from, regex }) = &c.date {
                if let Some(r) = regex {
                    Regex::new(r).map_err(|e| invalid(c, format!("bad date regex: {e}")))?;
                } else if *from == DateFrom::Path {
                    return Err(invalid(c, "date from \"path\" needs a `regex`".into()));
                }
            }
            for k in c.fields.keys() {
                if !super::jsonl::MAPPABLE.contains(&k.as_str()) {
                    return Err(invalid(
                        c,
                        format!(
                            "unknown document field `{k}` in [collection.fields]; expected one of {}",
                            super::jsonl::MAPPABLE.join(", ")
                        ),
                    ));
                }
            }
            for (k, v) in
                [("min_word_confidence", c.min_word_confidence), ("min_line_confidence", c.min_line_confidence)]
            {
                if v.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
                    return Err(invalid(c, format!("`{k}` must be between 0 and 1")));
                }
            }
        }
        Ok(())
    }
}

impl Collection {
    /// The reader options for this collection, defaults applied.
    pub fn reader_options(&self, d: &Defaults) -> ReaderOptions {
        let base = ReaderOptions::default();
        ReaderOptions {
            min_word_confidence: self.min_word_confidence.or(d.min_word_confidence),
            min_line_confidence: self.min_line_confidence.or(d.min_line_confidence),
            mets_split: self.mets_split.or(d.mets_split).unwrap_or(base.mets_split),
            text_field: self.text_field.clone().unwrap_or(base.text_field),
            fields: self.fields.clone(),
            max_doc_bytes: d.max_doc_mb.map(|mb| (mb * 1048576.0) as usize).unwrap_or(base.max_doc_bytes),
        }
    }
}

/// A compiled date rule.
#[derive(Debug, Clone)]
pub struct DateResolver {
    fixed: Option<String>,
    from_metadata: bool,
    regex: Option<Regex>,
}

impl DateResolver {
    pub fn new(rule: Option<&DateRule>) -> DateResolver {
        match rule {
            None => DateResolver { fixed: None, from_metadata: true, regex: None },
            Some(DateRule::Fixed { fixed }) => {
                DateResolver { fixed: Some(fixed.clone()), from_metadata: false, regex: None }
            }
            Some(DateRule::From { from, regex }) => DateResolver {
                fixed: None,
                from_metadata: *from == DateFrom::Metadata,
                regex: regex.as_deref().and_then(|r| Regex::new(r).ok()),
            },
        }
    }

    /// The date text to parse for a document at `path` whose own metadata says `own`.
    pub fn resolve(&self, path: &str, own: Option<&str>) -> Option<String> {
        if let Some(f) = &self.fixed {
            return Some(f.clone());
        }
        if self.from_metadata {
            if let Some(o) = own.filter(|o| crate::date::PartialDate::parse(o).is_some()) {
                return Some(o.to_string());
            }
        }
        let re = self.regex.as_ref()?;
        let caps = re.captures(path)?;
        let named = |n: &str| caps.name(n).map(|m| m.as_str());
        if let Some(y) = named("year") {
            return Some([Some(y), named("month"), named("day")].into_iter().flatten().collect::<Vec<_>>().join("-"));
        }
        let groups: Vec<&str> = caps.iter().skip(1).flatten().map(|m| m.as_str()).collect();
        if groups.is_empty() {
            return caps.get(0).map(|m| m.as_str().to_string());
        }
        Some(groups.join("-"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = r#"
[defaults]
language = "swe"

[[collection]]
name = "svd"
paths = ["news/**/*.xml"]
format = "alto"
genre = "newspaper"
date = { from = "path", regex = '(\d{4})-(\d{2})-(\d{2})' }

[[collection]]
name = "leaflets"
paths = ["leaflets"]
date = { fixed = "1923" }
"#;

    #[test]
    fn parses_and_resolves_dates() {
        let cfg = IngestConfig::from_toml(CFG, "c.toml").unwrap();
        assert_eq!(cfg.collections[0].format, Some(Format::Alto));
        let r = DateResolver::new(cfg.collections[0].date.as_ref());
        assert_eq!(r.resolve("news/1897-03-12/p1.xml", Some("1900")).as_deref(), Some("1897-03-12"));
        let r = DateResolver::new(cfg.collections[1].date.as_ref());
        assert_eq!(r.resolve("x", Some("1900")).as_deref(), Some("1923"));
        let r = DateResolver::new(None);
        assert_eq!(r.resolve("x", Some("1900")).as_deref(), Some("1900"));
        let named = DateRule::From { from: DateFrom::Metadata, regex: Some(r"_(?<year>\d{4})_".into()) };
        let r = DateResolver::new(Some(&named));
        assert_eq!(r.resolve("a_1934_b", None).as_deref(), Some("1934"));
        assert_eq!(r.resolve("a_1934_b", Some("1950-01-02")).as_deref(), Some("1950-01-02"));
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let err = IngestConfig::from_toml("[[collection]]\nname = \"a\"\npaths = [\"x\"]\ngenr = \"book\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 4") && err.contains("genr"), "{err}");
        let err =
            IngestConfig::from_toml("[[collection]]\nname = \"a\"\npaths = [\"x\"]\nformat = \"docx\"\n", "c.toml")
                .unwrap_err()
                .to_string();
        assert!(err.contains("docx"), "{err}");
        let err = IngestConfig::from_toml(
            "[[collection]]\nname = \"a\"\npaths = [\"x\"]\ndate = { from = \"path\" }\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("needs a `regex`"), "{err}");
        let err = IngestConfig::from_toml(
            "[[collection]]\nname = \"a\"\npaths = [\"x\"]\n[collection.fields]\ntitel = \"t\"\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("titel"), "{err}");
        let err = IngestConfig::from_toml(
            "[defaults]\nmax_doc_mb = -1\n[[collection]]\nname = \"a\"\npaths = [\"x\"]\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("max_doc_mb"), "{err}");
        let err = IngestConfig::from_toml(
            "[defaults]\nmin_word_confidence = 5\n[[collection]]\nname = \"a\"\npaths = [\"x\"]\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("min_word_confidence"), "{err}");
        let ok = IngestConfig::from_toml("[[collection]]\nname = \"a\"\npaths = [\"x\"]\nformat = \"txt\"\n", "c.toml")
            .unwrap();
        assert_eq!(ok.collections[0].format, Some(Format::Text));
    }
}

//! The balancing policy: a TOML file that people read, argue about and version. It says how
//! much of each genre, decade, source (or any metadata column) goes into the corpus, with
//! caps on repeats and shares. Parsing checks everything that can be checked without the
//! data and names the key and line of what is wrong; `solve` checks the rest against the data.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// What the budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    Documents,
    #[default]
    Chars,
    Words,
    /// Estimated from characters (`chars_per_token`) until the dataset carries token counts.
    Tokens,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    #[serde(default)]
    pub unit: Unit,
    /// The size of the balanced corpus in `unit`s; default: the size of the selected corpus
    /// (reweight without growing or shrinking).
    pub total: Option<f64>,
    /// Characters per token for the `tokens` estimate.
    #[serde(default = "default_chars_per_token")]
    pub chars_per_token: f64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { unit: Unit::default(), total: None, chars_per_token: default_chars_per_token() }
    }
}

fn default_chars_per_token() -> f64 {
    4.0
}

/// A value in a selection list: text or a number (`decade = [1660, 1670]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Int(i64),
    Text(String),
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Text(s) => f.write_str(s),
        }
    }
}

/// Documents taken out before balancing (they go to `rejected/` as `excluded`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// Column → values to leave out.
    #[serde(default)]
    pub exclude: BTreeMap<String, Vec<Scalar>>,
    /// Column → the only values to keep.
    #[serde(default)]
    pub include: BTreeMap<String, Vec<Scalar>>,
    /// Documents with a lower mean OCR word confidence are left out (documents without one,
    /// born-digital text and transcripts, are kept).
    pub min_ocr_confidence: Option<f64>,
    /// Documents with fewer characters are left out.
    pub min_chars: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Shares as in the (selected) corpus.
    #[default]
    Proportional,
    /// Every value the same share.
    Uniform,
    /// Share ∝ size^(1/temperature): 1 is proportional, larger flattens towards uniform.
    Temperature,
    /// As uniform as possible with at most `max_epochs` passes over any value (Chung et al.
    /// 2023, UniMax): small values are taken whole (up to the cap), the rest share the budget.
    Unimax,
    /// Explicit shares per value, `"*"` for the rest (split in proportion to size).
    Shares,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    /// The metadata column (default: the dimension's name).
    pub column: Option<String>,
    pub strategy: Option<Strategy>,
    pub temperature: Option<f64>,
    pub max_epochs: Option<f64>,
    pub shares: Option<BTreeMap<String, Spanned<f64>>>,
    /// No value of this dimension above this share (e.g. no single newspaper above 5%).
    pub max_share: Option<f64>,
    /// Every value present at least this share (as far as its repeats allow).
    pub min_share: Option<f64>,
    /// No document of this dimension's values repeated more often than this.
    pub max_repeats: Option<f64>,
}

impl Dimension {
    pub fn strategy(&self) -> Strategy {
        self.strategy.unwrap_or(if self.shares.is_some() { Strategy::Shares } else { Strategy::Proportional })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub description: Option<String>,
    /// Seeds the per-document sampling (a hash of seed and document id).
    #[serde(default)]
    pub seed: u64,
    /// No document repeated more often than this (1: down-sampling only).
    #[serde(default = "default_max_repeats")]
    pub max_repeats: f64,
    #[serde(default)]
    pub budget: Budget,
    #[serde(default)]
    pub select: Selection,
    /// Dimensions, balanced jointly; keyed by name (`[dimension.genre]`).
    #[serde(default)]
    pub dimension: BTreeMap<String, Spanned<Dimension>>,
    /// The dimensions from most to least important, for resolving conflicts between them
    /// (default: their order in the file).
    pub priority: Option<Vec<String>>,
    #[serde(default)]
    pub on_conflict: OnConflict,
}

/// What to do when the dimensions' targets cannot all be met together under the caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OnConflict {
    /// Move the lower-priority dimensions' targets as little as possible, and report it.
    #[default]
    RelaxLowerPriority,
    /// Refuse the policy.
    Fail,
}

fn default_max_repeats() -> f64 {
    1.0
}

impl Policy {
    pub fn read(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| PolicyError::Io { path: path.display().to_string(), source })?;
        Policy::parse(&text, &path.display().to_string())
    }

    /// Parses and validates a policy; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let invalid = |message: String| PolicyError::Invalid { path: origin.to_string(), message };
        let p: Policy = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| format!("line {}: ", line_of(text, s.start))).unwrap_or_default();
            invalid(format!("{line}{}", e.message()))
        })?;
        let at = |span: std::ops::Range<usize>| format!("line {}", line_of(text, span.start));
        let positive = |what: &str, v: f64, line: String| -> Result<(), PolicyError> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(invalid(format!("{line}: `{what}` must be a positive number, not {v}")))
            }
        };
        positive("max_repeats", p.max_repeats, "top level".into())?;
        positive("budget.chars_per_token", p.budget.chars_per_token, "[budget]".into())?;
        if let Some(t) = p.budget.total {
            positive("budget.total", t, "[budget]".into())?;
        }
        if let Some(c) = p.select.min_ocr_confidence {
            if !(0.0..=1.0).contains(&c) {
                return Err(invalid(format!("[select]: `min_ocr_confidence` must be between 0 and 1, not {c}")));
            }
        }
        for (name, d) in &p.dimension {
            let line = at(d.span());
            let key = |k: &str| format!("dimension.{name}.{k}");
            let strategy = d.get_ref().strategy();
            let d = d.get_ref();
            let only = |k: &str, set: bool, s: Strategy| -> Result<(), PolicyError> {
                if set && strategy != s {
                    return Err(invalid(format!(
                        "{line}: `{}` applies to strategy `{}`, but the strategy is `{}`",
                        key(k),
                        serde_plain(s),
                        serde_plain(strategy)
                    )));
                }
                Ok(())
            };
            only("temperature", d.temperature.is_some(), Strategy::Temperature)?;
            only("max_epochs", d.max_epochs.is_some(), Strategy::Unimax)?;
            only("shares", d.shares.is_some(), Strategy::Shares)?;
            match strategy {
                Strategy::Temperature => {
                    positive(&key("temperature"), d.temperature.unwrap_or(f64::NAN), line.clone())?
                }
                Strategy::Unimax => positive(&key("max_epochs"), d.max_epochs.unwrap_or(f64::NAN), line.clone())?,
                Strategy::Shares => {
                    let shares = d.shares.as_ref().ok_or_else(|| {
                        invalid(format!("{line}: strategy `shares` needs a `[{}]` table", key("shares")))
                    })?;
                    let mut sum = 0.0;
                    for (value, s) in shares {
                        let v = *s.get_ref();
                        if !(v.is_finite() && v >= 0.0) {
                            return Err(invalid(format!(
                                "{}: `{}.\"{value}\"` = {v}: shares must be between 0 and 1",
                                at(s.span()),
                                key("shares")
                            )));
                        }
                        sum += v;
                    }
                    if (sum - 1.0).abs() > 1e-6 {
                        return Err(invalid(format!(
                            "{line}: the shares of `{}` sum to {sum:.6}, not 1 (use \"*\" for the rest)",
                            key("shares")
                        )));
                    }
                }
                _ => {}
            }
            for (k, v) in [("max_share", d.max_share), ("min_share", d.min_share)] {
                if let Some(v) = v {
                    if !(0.0..=1.0).contains(&v) {
                        return Err(invalid(format!("{line}: `{}` must be between 0 and 1, not {v}", key(k))));
                    }
                }
            }
            if let (Some(lo), Some(hi)) = (d.min_share, d.max_share) {
                if lo > hi {
                    return Err(invalid(format!(
                        "{line}: `{}` {lo} is above `{}` {hi}",
                        key("min_share"),
                        key("max_share")
                    )));
                }
            }
            if let Some(r) = d.max_repeats {
                positive(&key("max_repeats"), r, line.clone())?;
            }
        }
        if let Some(order) = &p.priority {
            for name in order {
                if !p.dimension.contains_key(name) {
                    return Err(invalid(format!("`priority` names `{name}`, which is not a [dimension.{name}]")));
                }
            }
            for name in p.dimension.keys() {
                if !order.contains(name) {
                    return Err(invalid(format!("`priority` leaves out dimension `{name}`")));
                }
            }
        }
        Ok(p)
    }

    /// The dimensions in priority order (as in `priority`, else as in the file), with the
    /// column each reads.
    pub fn dimensions(&self) -> Vec<(String, String, &Dimension)> {
        let mut dims: Vec<(&String, &Spanned<Dimension>)> = self.dimension.iter().collect();
        match &self.priority {
            Some(order) => dims.sort_by_key(|(n, _)| order.iter().position(|o| o == *n)),
            None => dims.sort_by_key(|(_, d)| d.span().start),
        }
        dims.into_iter()
            .map(|(name, d)| {
                let d = d.get_ref();
                (name.clone(), d.column.clone().unwrap_or_else(|| name.clone()), d)
            })
            .collect()
    }
}

fn serde_plain(s: Strategy) -> String {
    serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Policy::parse(text, "p.toml").unwrap_err().to_string()
    }

    #[test]
    fn a_full_policy_parses() {
        let p = Policy::parse(
            r#"
seed = 7
max_repeats = 4
[budget]
unit = "tokens"
total = 1e9
[select]
exclude = { decade = [1660, 1670], genre = ["advert"] }
min_ocr_confidence = 0.5
[dimension.genre]
shares = { newspaper = 0.4, book = 0.3, "*" = 0.3 }
[dimension.decade]
strategy = "temperature"
temperature = 3.0
max_repeats = 3
[dimension.source]
max_share = 0.05
"#,
            "p.toml",
        )
        .unwrap();
        assert_eq!(p.seed, 7);
        assert_eq!(p.budget.unit, Unit::Tokens);
        assert_eq!(p.select.exclude["decade"][1].to_string(), "1670");
        let dims = p.dimensions();
        assert_eq!(dims.iter().map(|d| d.0.as_str()).collect::<Vec<_>>(), ["genre", "decade", "source"], "file order");
        assert_eq!(dims[0].2.strategy(), Strategy::Shares);
        assert_eq!(dims[2].2.strategy(), Strategy::Proportional);
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let e = err("[dimension.genre]\nshares = { a = 0.5, b = 0.4 }\n");
        assert!(e.contains("line 1") && e.contains("sum to 0.9") && e.contains("dimension.genre.shares"), "{e}");
        let e = err("seed = 1\n[dimension.genre]\nstrategy = \"uniform\"\ntemprature = 2\n");
        assert!(e.contains("line 4") && e.contains("temprature"), "{e}");
        let e = err("[dimension.genre]\nshares = { a = 1.5, b = -0.5 }\n");
        assert!(e.contains("line 2") && e.contains("between 0 and 1"), "{e}");
        let e = err("[dimension.decade]\nstrategy = \"uniform\"\ntemperature = 2.0\n");
        assert!(e.contains("applies to strategy `temperature`"), "{e}");
        let e = err("[dimension.decade]\nstrategy = \"temperature\"\n");
        assert!(e.contains("temperature` must be a positive number"), "{e}");
        let e = err("max_repeats = -1\n");
        assert!(e.contains("max_repeats"), "{e}");
        let e = err("[dimension.source]\nmin_share = 0.2\nmax_share = 0.1\n");
        assert!(e.contains("above"), "{e}");
        let e = err("[budget]\nunit = \"pages\"\n");
        assert!(e.contains("line 2") && e.contains("pages"), "{e}");
    }
}

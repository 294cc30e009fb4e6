//! The rules: each is a name (its rejection reason), a measured value and a threshold. The
//! measurements are computed once per document ([`Signals`]); the rules only compare.

use super::config::FilterConfig;
use super::heuristics::{self, LineMeasures};
use super::langid::LanguageResult;
use super::lexicon::UnknownWords;
use super::quality::{self, QualityMeasures};
use crate::reject::Reason;

/// Every signal of one document, computed once.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Signals {
    pub words: u32,
    pub quality: QualityMeasures,
    pub lines: LineMeasures,
    /// Measured against the lexicon of the document's language, when there is one.
    pub unknown_words: Option<UnknownWords>,
}

impl Signals {
    pub fn measure(text: &str) -> Self {
        // The token pass splits as `count_words` counts (runs of non-whitespace): its token
        // count is the word count, without a pass of its own.
        let quality = quality::measure(text);
        Self { words: quality.tokens, quality, lines: heuristics::measure(text), unknown_words: None }
    }

    pub fn symbol_ratio(&self) -> f32 {
        quality::ratio(self.lines.symbols as f64, self.words as f64)
    }
}

/// The rules in the order they are applied (the sequential table follows it).
pub const RULES: [Reason; 16] = [
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
    Reason::EmptyText,
];

/// One rule that a document breaks, with the detail for `rejected/`.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub reason: Reason,
    pub detail: String,
}

fn hit(reason: Reason, detail: String) -> Hit {
    Hit { reason, detail }
}

/// Every rule `s` breaks, in [`RULES`] order (the first is the one that removes the document).
pub fn check(s: &Signals, lang: &LanguageResult, ocr_confidence: Option<f32>, cfg: &FilterConfig) -> Vec<Hit> {
    let (q, h, l) = (&cfg.quality, &cfg.heuristics, &cfg.listing);
    let mut hits = Vec::new();
    if s.words < h.min_words {
        hits.push(hit(Reason::TooShort, format!("{} words < {}", s.words, h.min_words)));
    }
    if s.words > h.max_words {
        hits.push(hit(Reason::TooLong, format!("{} words > {}", s.words, h.max_words)));
    }
    let keep = &cfg.language.keep;
    if !keep.is_empty() {
        match &lang.language {
            Some(code) if keep.contains(code) => {}
            found => hits.push(hit(
                Reason::Language,
                format!(
                    "language {} (score {:.2}; {}) not in [{}]",
                    found.as_deref().unwrap_or("undetermined"),
                    lang.score,
                    lang.shares_string(),
                    keep.join(", ")
                ),
            )),
        }
    }
    if let Some(c) = ocr_confidence.filter(|c| c.is_finite()) {
        if c < q.min_ocr_confidence {
            hits.push(hit(Reason::LowOcrConfidence, format!("ocr confidence {c:.2} < {:.2}", q.min_ocr_confidence)));
        }
    }
    let mut above = |reason: Reason, what: &str, v: f32, max: f32| {
        if v > max {
            hits.push(hit(reason, format!("{what} {v:.2} > {max:.2}")));
        }
    };
    above(Reason::NonAlpha, "non-alphabetic token share", s.quality.non_alpha_share(), q.max_non_alpha_share);
    above(Reason::Gibberish, "non-word share", s.quality.non_word_share(), q.max_non_word_share);
    if let Some(u) = s.unknown_words {
        above(Reason::UnknownWords, "share of words not in the lexicon", u.share(), q.max_unknown_word_share);
    }
    let mwl = s.quality.mean_word_length();
    if s.quality.words > 0 && !(q.min_mean_word_length..=q.max_mean_word_length).contains(&mwl) {
        hits.push(hit(
            Reason::WordLength,
            format!("mean word length {mwl:.2} outside {:.2}..{:.2}", q.min_mean_word_length, q.max_mean_word_length),
        ));
    }
    let mut above = |reason: Reason, what: &str, v: f32, max: f32| {
        if v > max {
            hits.push(hit(reason, format!("{what} {v:.2} > {max:.2}")));
        }
    };
    above(Reason::RepeatedChars, "repeated-character share", s.quality.repeat_char_share(), q.max_repeat_char_share);
    above(Reason::SymbolRatio, "symbols per word", s.symbol_ratio(), h.max_symbol_ratio);
    let pl = s.lines.punct_line_share();
    if h.min_punct_line_share > 0.0 && pl < h.min_punct_line_share {
        hits.push(hit(
            Reason::Punctuation,
            format!("share of lines ending in punctuation {pl:.2} < {:.2}", h.min_punct_line_share),
        ));
    }
    let mut above = |reason: Reason, what: &str, v: f32, max: f32| {
        if v > max {
            hits.push(hit(reason, format!("{what} {v:.2} > {max:.2}")));
        }
    };
    above(Reason::DuplicateLines, "duplicate line share", s.lines.dup_line_share(), h.max_dup_line_share);
    above(
        Reason::DuplicateParagraphs,
        "duplicate paragraph share",
        s.lines.dup_paragraph_share(),
        h.max_dup_paragraph_share,
    );
    above(Reason::BulletLines, "bullet line share", s.lines.bullet_line_share(), h.max_bullet_line_share);
    if l.enabled && s.lines.timestamps >= l.min_timestamps {
        let per_word = quality::ratio(s.lines.timestamps as f64, s.words as f64);
        let line_share = s.lines.timestamp_line_share();
        if line_share >= l.min_timestamp_line_share || per_word >= l.min_timestamps_per_word {
            hits.push(hit(
                Reason::Listing,
                format!(
                    "{} time stamps ≥ {}; lines starting with one {line_share:.2} (≥ {:.2}?), per word {per_word:.3} (≥ {:.3}?)",
                    s.lines.timestamps, l.min_timestamps, l.min_timestamp_line_share, l.min_timestamps_per_word
                ),
            ));
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(code: &str) -> LanguageResult {
        LanguageResult {
            language: Some(code.into()),
            score: 0.9,
            shares: vec![(code.into(), 1.0)],
            flag: None,
            trusted: true,
            sampled_bytes: 100,
        }
    }

    const NEWS: &str = "Riksdagen beslöt i går att anslaget till de nya järnvägarna i Norrland skulle ökas med \
        två miljoner kronor. Regeringen hade föreslagit en mindre summa, men utskottet ansåg att behovet var större \
        än man tidigare trott, och kammaren följde utskottet utan votering. Beslutet väntas leda till att arbetet \
        med banan mellan Boden och Haparanda kan påbörjas redan nästa sommar.";

    fn reasons(text: &str, l: &str, ocr: Option<f32>, cfg: &FilterConfig) -> Vec<Reason> {
        check(&Signals::measure(text), &lang(l), ocr, cfg).into_iter().map(|h| h.reason).collect()
    }

    #[test]
    fn clean_swedish_news_passes() {
        assert_eq!(reasons(NEWS, "swe", Some(0.9), &FilterConfig::default()), vec![]);
    }

    #[test]
    fn each_rule_fires_with_its_value() {
        let cfg = FilterConfig::default();
        assert_eq!(reasons("För kort text.", "swe", None, &cfg), vec![Reason::TooShort]);
        assert_eq!(reasons(NEWS, "fin", None, &cfg), vec![Reason::Language]);
        let h = check(&Signals::measure(NEWS), &lang("swe"), Some(0.31), &cfg);
        assert_eq!(h[0].reason, Reason::LowOcrConfidence);
        assert_eq!(h[0].detail, "ocr confidence 0.31 < 0.50");
        let table = "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 kr öre 1.25 2.50 3.75 och 4 5 6 7 8 9";
        assert_eq!(reasons(table, "swe", None, &cfg)[0], Reason::NonAlpha);
        let garbage = "Rik5dagen bcſl^öt i gå1r a;tt an5laget tIll dc nya järnvägarna i Norr1and ſkul^le ökas";
        let g = check(&Signals::measure(&format!("{garbage} {garbage} {garbage}")), &lang("swe"), None, &cfg);
        let gib = g.iter().find(|h| h.reason == Reason::Gibberish).expect("gibberish");
        assert!(gib.detail.starts_with("non-word share ") && gib.detail.ends_with(" > 0.30"), "{}", gib.detail);
        // Words outside the lexicon of the language: judged only when there is one.
        let lex = crate::filter::lexicon::Lexicon::from_words("swe", NEWS.split_whitespace().take(40));
        let mut s = Signals::measure(NEWS);
        assert!(check(&s, &lang("swe"), None, &cfg).is_empty());
        s.unknown_words = Some(lex.measure(NEWS));
        assert!(check(&s, &lang("swe"), None, &cfg).is_empty(), "{:?}", s.unknown_words);
        let other =
            "Hallitus esitti eduskunnalle, että rautateiden määrärahaa korotetaan kahdella miljoonalla markalla";
        s.unknown_words = Some(lex.measure(other));
        let h = check(&s, &lang("swe"), None, &cfg);
        assert_eq!(h[0].reason, Reason::UnknownWords);
        assert_eq!(h[0].detail, "share of words not in the lexicon 1.00 > 0.60");
        let rep = format!("{NEWS} iiiiiiiiii llllllllll mmmmmmmmmm nnnnnnnnnnnn iiiiiiiii");
        assert!(reasons(&rep, "swe", None, &cfg).contains(&Reason::RepeatedChars));
        let sym = format!("{NEWS} {}", "# | ■ ... ".repeat(20));
        assert!(reasons(&sym, "swe", None, &cfg).contains(&Reason::SymbolRatio));
        let dup = format!("{NEWS}\n{}", "Annons: köp Sunlight tvål i dag hos er handlare\n".repeat(10));
        assert!(reasons(&dup, "swe", None, &cfg).contains(&Reason::DuplicateLines));
        let paras = format!("{NEWS}\n\nLäs mer i morgondagens nummer.\n\nLäs mer i morgondagens nummer.\n\nLäs mer i morgondagens nummer.");
        let h = check(&Signals::measure(&paras), &lang("swe"), None, &cfg);
        let d = h.iter().find(|h| h.reason == Reason::DuplicateParagraphs).expect("duplicate paragraphs");
        assert_eq!(d.detail, "duplicate paragraph share 0.50 > 0.30");
        let short_words = "Ja, nu är vi i en by på en ö och vi är nu i en ö by. ".repeat(4);
        let h = check(&Signals::measure(&short_words), &lang("swe"), None, &cfg);
        let w = h.iter().find(|h| h.reason == Reason::WordLength).expect("word length");
        assert!(
            w.detail.starts_with("mean word length 1.") && w.detail.ends_with("outside 3.00..12.00"),
            "{}",
            w.detail
        );
        let bullets = (0..30).map(|i| format!("• punkt nummer {i} i listan")).collect::<Vec<_>>().join("\n");
        assert!(reasons(&bullets, "swe", None, &cfg).contains(&Reason::BulletLines));
        let tv = "SVT 1\n17.00 Barnprogram för de minsta\n18.00 Rapport med nyheter\n18.15 Lördagskväll med musik\n\
            19.30 Sportnytt från helgen\n20.00 Hylands hörna direkt från Stockholm\n21.00 Dokumentär om Norrland\n\
            22.00 Aktuellt och väder\n22.30-24.00 Nattfilm: Hon dansade en sommar";
        assert_eq!(reasons(tv, "swe", None, &cfg), vec![Reason::Listing]);
        let mut strict = cfg.clone();
        strict.heuristics.min_punct_line_share = 0.5;
        assert!(reasons(tv, "swe", None, &strict).contains(&Reason::Punctuation));
        let long = FilterConfig {
            heuristics: crate::filter::config::HeuristicsConfig { max_words: 30, ..Default::default() },
            ..Default::default()
        };
        assert_eq!(reasons(NEWS, "swe", None, &long), vec![Reason::TooLong]);
    }
}

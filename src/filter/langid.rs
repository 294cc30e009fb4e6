//! Language identification: a [`LanguageDetector`] trait for one piece of text, the whatlang
//! implementation, a Nordic refinement on top of it, and the document-level decision (sampled
//! windows, shares per language, margin, minimum length, metadata prior).
//!
//! **Sampling.** whatlang runs at ~7 MB/s per core; the filter stage must run at ≥ 20 MB/s. A
//! document is cut into windows of about `window_bytes` (at whitespace); when it has more than
//! `sample_windows` of them, only `sample_windows` evenly spaced windows are detected (the first,
//! the last and the ones between at equal steps), so a long document costs the same as a short
//! one. The shares are the byte shares of the detected windows; a Finnish advert on a Swedish
//! page shows up when a window lands on it. `kbcurate eval langid` reports what sampling costs
//! against detecting every window.

use std::collections::BTreeMap;

use super::config::LanguageConfig;
use super::nordic;

/// One guess for one piece of text.
#[derive(Debug, Clone, PartialEq)]
pub struct Guess {
    /// ISO 639-3.
    pub lang: String,
    /// 0..1: how sure the detector is that `lang` beats the runner-up (the margin of top-1 over
    /// top-2 as the detector measures it).
    pub confidence: f32,
}

/// A language detector for one piece of text (a window, a sentence). Implementations must be
/// deterministic.
pub trait LanguageDetector: Send + Sync {
    /// The best guess, or `None` when the text gives nothing to go on (no letters).
    fn detect(&self, text: &str) -> Option<Guess>;
    /// A short name for reports.
    fn name(&self) -> String;
}

/// whatlang, restricted to an allowlist of languages (fewer candidates: fewer confusions and a
/// faster detector).
pub struct Whatlang {
    detector: whatlang::Detector,
}

impl Whatlang {
    /// `candidates`: ISO 639-3 codes; codes whatlang does not know (`nno`, `isl`, `fao`) are
    /// skipped. Empty: every language whatlang knows.
    pub fn new(candidates: &[String]) -> Self {
        let allow: Vec<whatlang::Lang> = candidates.iter().filter_map(whatlang::Lang::from_code).collect();
        let detector =
            if allow.is_empty() { whatlang::Detector::new() } else { whatlang::Detector::with_allowlist(allow) };
        Self { detector }
    }
}

impl LanguageDetector for Whatlang {
    fn detect(&self, text: &str) -> Option<Guess> {
        let info = self.detector.detect(text)?;
        Some(Guess { lang: info.lang().code().to_string(), confidence: info.confidence() as f32 })
    }

    fn name(&self) -> String {
        "whatlang".into()
    }
}

/// whatlang (or any detector) with the Nordic function-word scorer ([`nordic`]) deciding
/// between Swedish, bokmål, nynorsk, Danish, Icelandic and Faroese.
///
/// The scorer takes over when the inner detector says one of those languages, or when the text
/// is clearly Nordic running text whatever the inner detector says (at least `min_hits` function
/// words making up at least `min_hit_share` of the tokens: Fraktur OCR noise often makes Swedish
/// look like Estonian or Latin to a trigram model, while `och`, `att`, `som`, `af` survive).
pub struct Nordic<D> {
    pub inner: D,
    /// Only these of [`nordic::LANGS`] can be chosen (the configured candidates).
    pub allowed: Vec<&'static str>,
    pub min_hits: u32,
    pub min_hit_share: f32,
}

impl<D: LanguageDetector> Nordic<D> {
    pub fn new(inner: D, candidates: &[String]) -> Self {
        let allowed = nordic::LANGS
            .iter()
            .copied()
            .filter(|l| candidates.is_empty() || candidates.iter().any(|c| c == l))
            .collect();
        Self { inner, allowed, min_hits: 2, min_hit_share: 0.15 }
    }
}

impl<D: LanguageDetector> Nordic<D> {
    /// The scorer's choice among the allowed languages; ties go to `inner_lang`.
    fn decide(&self, s: &nordic::NordicScore, inner_lang: &str) -> Option<Guess> {
        let mut ranked: Vec<(&str, f32)> = nordic::LANGS
            .iter()
            .zip(s.scores)
            .filter(|(l, _)| self.allowed.contains(l))
            .map(|(l, v)| (*l, v))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then((b.0 == inner_lang).cmp(&(a.0 == inner_lang))));
        let (lang, s1) = ranked[0];
        let s2 = ranked.get(1).map_or(0.0, |r| r.1);
        if s1 <= 0.0 {
            return None;
        }
        // Margin of the winner over the runner-up, relative, and damped for little evidence.
        let margin = (s1 - s2) / s1;
        let evidence = (s1 / 3.0).min(1.0);
        let confidence = (margin * 2.0).min(1.0) * evidence;
        Some(Guess { lang: lang.to_string(), confidence })
    }
}

impl<D: LanguageDetector> LanguageDetector for Nordic<D> {
    fn detect(&self, text: &str) -> Option<Guess> {
        if self.allowed.len() < 2 {
            return self.inner.detect(text);
        }
        let s = nordic::score(text);
        let clearly_nordic = s.strong_hits >= self.min_hits && s.strong_share() >= self.min_hit_share;
        // Plenty of Nordic function words and a clear winner: no need to ask the (slower)
        // trigram detector. This is the common case for Swedish text.
        if clearly_nordic && s.strong_hits >= 3 {
            if let Some(g) = self.decide(&s, "").filter(|g| g.confidence >= 0.5) {
                return Some(g);
            }
        }
        // Finnish: few separate function words (an agglutinative language, and OCR glues words),
        // and `ä`/`ö` count for Swedish too and blur the margin. Judged on the words alone, a
        // window with several Finnish function words, a clear margin and a few `ä`/`ö` (English
        // has `he` and `me` too) needs no trigram detector either; `õ` (Estonian, which shares
        // `on`, `oli`, `ja`, `ei`) leaves it to the detector.
        let fin = nordic::LANGS.iter().position(|l| *l == "fin").expect("fin is scored");
        if s.strong_hits >= 3 && s.letter_scores[fin] >= 0.5 && self.allowed.contains(&"fin") && !text.contains('õ') {
            if let Some(g) = self.decide(&s.words_only(), "").filter(|g| g.lang == "fin" && g.confidence >= 0.5) {
                return Some(g);
            }
        }
        let inner = self.inner.detect(text);
        let inner_nordic = inner.as_ref().is_some_and(|g| nordic::LANGS.contains(&g.lang.as_str()));
        if !(inner_nordic || clearly_nordic) || s.hits == 0 {
            return inner;
        }
        let inner_lang = inner.as_ref().map(|g| g.lang.as_str()).unwrap_or("");
        self.decide(&s, inner_lang).or(inner)
    }

    fn name(&self) -> String {
        format!("{}+nordic", self.inner.name())
    }
}

/// The detector the config asks for.
pub fn detector(cfg: &LanguageConfig) -> Box<dyn LanguageDetector> {
    let w = Whatlang::new(&cfg.candidates);
    if cfg.nordic {
        Box::new(Nordic::new(w, &cfg.candidates))
    } else {
        Box::new(w)
    }
}

/// Byte ranges of the windows of `text`: pieces of about `window` bytes cut at whitespace (a
/// paragraph break ends a window early when the window is at least half full).
pub fn windows(text: &str, window: usize) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let window = window.max(16);
    let mut out = Vec::new();
    let mut start = 0;
    while start < b.len() {
        // Skip leading whitespace.
        while start < b.len() && b[start].is_ascii_whitespace() {
            start += 1;
        }
        if start >= b.len() {
            break;
        }
        let hard = (start + window).min(b.len());
        let mut end = hard;
        if hard < b.len() {
            // A paragraph break in the second half, else the last whitespace, else the hard cut.
            let slice = &text[start..floor_boundary(text, hard)];
            end = match memchr::memmem::rfind(slice.as_bytes(), b"\n\n").filter(|&k| k >= window / 2) {
                Some(k) => start + k,
                None => match slice.rfind(|c: char| c.is_whitespace()).filter(|&k| k > 0) {
                    Some(k) => start + k,
                    None => start + slice.len(),
                },
            };
            if end <= start {
                end = floor_boundary(text, hard).max(start + 1);
                while !text.is_char_boundary(end) {
                    end += 1;
                }
            }
        }
        out.push((start, end));
        start = end;
    }
    out
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `n` evenly spaced picks of `len` items (all when `n == 0` or `n >= len`), first and last
/// included.
pub fn sample_indices(len: usize, n: usize) -> Vec<usize> {
    if n == 0 || n >= len {
        return (0..len).collect();
    }
    if n == 1 {
        return vec![0];
    }
    (0..n).map(|k| k * (len - 1) / (n - 1)).collect()
}

/// What language identification decided for one document.
#[derive(Debug, Clone, PartialEq)]
pub struct LanguageResult {
    /// The document's language (ISO 639-3), `None` when nothing could be detected and none was
    /// declared.
    pub language: Option<String>,
    /// 0..1, see `schemas/filter.md`.
    pub score: f32,
    /// Byte share of the detected windows per language, largest first (ties by code).
    pub shares: Vec<(String, f32)>,
    /// Set when the declared language was overruled, or kept against the detector.
    pub flag: Option<String>,
    /// Whether detection was trusted (enough text, clear enough margin).
    pub trusted: bool,
    /// Bytes given to the detector.
    pub sampled_bytes: usize,
}

impl LanguageResult {
    /// `swe:0.92,fin:0.08`
    pub fn shares_string(&self) -> String {
        self.shares.iter().map(|(l, s)| format!("{l}:{s:.2}")).collect::<Vec<_>>().join(",")
    }
}

/// Identifies the language of a document. `declared` is the language the metadata gives
/// (collection, MODS, TEI; ISO 639-3), used as a prior.
pub fn identify(
    text: &str,
    declared: Option<&str>,
    det: &dyn LanguageDetector,
    cfg: &LanguageConfig,
) -> LanguageResult {
    let all = windows(text, cfg.window_bytes);
    let picks = sample_indices(all.len(), cfg.sample_windows);
    let mut bytes: BTreeMap<String, (usize, f32)> = BTreeMap::new();
    let (mut total, mut letters) = (0usize, 0usize);
    for &k in &picks {
        let (a, b) = all[k];
        let w = &text[a..b];
        total += w.len();
        letters += w.chars().filter(|c| c.is_alphabetic()).count();
        // Chunks the detector is unsure about (below the margin) are counted as undetermined.
        let (lang, conf) = match det.detect(w) {
            Some(g) if g.confidence >= cfg.min_confidence => (g.lang, g.confidence),
            _ => ("und".to_string(), 0.0),
        };
        let e = bytes.entry(lang).or_default();
        e.0 += w.len();
        e.1 += conf * w.len() as f32;
    }
    let mut shares: Vec<(String, f32)> =
        bytes.iter().map(|(l, (n, _))| (l.clone(), *n as f32 / total.max(1) as f32)).collect();
    shares.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let top = shares.iter().find(|(l, _)| l != "und").cloned();
    let declared = declared.filter(|d| !d.is_empty());
    let (detected, score) = match &top {
        Some((l, share)) => {
            let (n, conf_sum) = bytes[l];
            (Some(l.clone()), share * conf_sum / n.max(1) as f32)
        }
        None => (None, 0.0),
    };
    let trusted = letters >= cfg.min_chars && score >= cfg.min_score;
    let mut flag = None;
    let language = match (declared, &detected) {
        (Some(d), Some(l)) if cfg.use_declared => {
            if refines(d, l) && trusted {
                // `nor` declared, bokmål or nynorsk detected: the detector is more precise.
                Some(l.clone())
            } else if l == d || !trusted {
                Some(d.to_string())
            } else if score >= cfg.contradiction_score {
                flag = Some(format!("declared {d}, detected {l} ({score:.2})"));
                Some(l.clone())
            } else {
                // The detector disagrees but not clearly enough to overrule the catalogue.
                flag = Some(format!("declared {d} kept; detector says {l} ({score:.2})"));
                Some(d.to_string())
            }
        }
        (Some(d), None) if cfg.use_declared => Some(d.to_string()),
        (_, Some(l)) => Some(l.clone()),
        (_, None) => None,
    };
    LanguageResult { language, score, shares, flag, trusted, sampled_bytes: total }
}

/// Whether `detected` is a more precise code within the declared macrolanguage.
fn refines(declared: &str, detected: &str) -> bool {
    matches!((declared, detected), ("nor", "nob" | "nno"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> LanguageConfig {
        LanguageConfig::default()
    }

    #[test]
    fn windows_cover_the_text_at_whitespace() {
        let t = "ord ".repeat(1000);
        let w = windows(&t, 100);
        assert!(w.len() >= 38 && w.len() <= 42, "{}", w.len());
        for (a, b) in &w {
            assert!(b - a <= 100);
            assert!(!t[*a..*b].starts_with(' '));
        }
        let covered: usize = w.iter().map(|(a, b)| t[*a..*b].split_whitespace().count()).sum();
        assert_eq!(covered, 1000);
        // Multi-byte text without spaces still cuts at char boundaries.
        let t = "åäö".repeat(100);
        for (a, b) in windows(&t, 31) {
            assert!(t.is_char_boundary(a) && t.is_char_boundary(b));
        }
    }

    #[test]
    fn sampling_is_even_and_includes_ends() {
        assert_eq!(sample_indices(10, 4), vec![0, 3, 6, 9]);
        assert_eq!(sample_indices(3, 4), vec![0, 1, 2]);
        assert_eq!(sample_indices(5, 0), vec![0, 1, 2, 3, 4]);
    }

    const SV: &str = "Riksdagen beslöt i går att anslaget till de nya järnvägarna skulle ökas. Regeringen hade \
        föreslagit en mindre summa, men utskottet ansåg att behovet var större än man trott, och kammaren följde \
        utskottet utan votering.";
    const FI: &str = "Eduskunta päätti eilen, että uusien rautateiden määrärahaa korotetaan. Hallitus oli \
        ehdottanut pienempää summaa, mutta valiokunta katsoi, että tarve oli suurempi kuin oli luultu.";

    #[test]
    fn detects_and_flags_contradictions() {
        let det = detector(&cfg());
        let r = identify(SV, None, det.as_ref(), &cfg());
        assert_eq!(r.language.as_deref(), Some("swe"), "{r:?}");
        assert!(r.trusted && r.flag.is_none());
        // Declared Finnish, clearly Swedish: overruled and flagged.
        let r = identify(SV, Some("fin"), det.as_ref(), &cfg());
        assert_eq!(r.language.as_deref(), Some("swe"));
        assert!(r.flag.as_deref().unwrap().starts_with("declared fin, detected swe"), "{r:?}");
        // Too short to trust: the declared language stands.
        let r = identify("Ja, tack.", Some("swe"), det.as_ref(), &cfg());
        assert_eq!(r.language.as_deref(), Some("swe"));
        assert!(!r.trusted);
    }

    #[test]
    fn shares_show_a_finnish_advert_on_a_swedish_page() {
        let det = detector(&cfg());
        let mut c = cfg();
        c.window_bytes = 250;
        let page = format!("{SV}\n\n{SV}\n\n{FI}\n\n{SV}");
        let r = identify(&page, Some("swe"), det.as_ref(), &c);
        assert_eq!(r.language.as_deref(), Some("swe"));
        let fin = r.shares.iter().find(|(l, _)| l == "fin").map(|s| s.1).unwrap_or(0.0);
        assert!(fin > 0.1 && fin < 0.5, "{}", r.shares_string());
    }

    #[test]
    fn the_detector_is_pluggable() {
        struct Always;
        impl LanguageDetector for Always {
            fn detect(&self, _: &str) -> Option<Guess> {
                Some(Guess { lang: "lat".into(), confidence: 1.0 })
            }
            fn name(&self) -> String {
                "always-latin".into()
            }
        }
        let r = identify(SV, None, &Always, &cfg());
        assert_eq!(r.language.as_deref(), Some("lat"));
        assert_eq!(r.shares_string(), "lat:1.00");
    }

    /// [`windows`] as first written (`str::rfind` for the paragraph break).
    fn windows_reference(text: &str, window: usize) -> Vec<(usize, usize)> {
        let b = text.as_bytes();
        let window = window.max(16);
        let mut out = Vec::new();
        let mut start = 0;
        while start < b.len() {
            while start < b.len() && b[start].is_ascii_whitespace() {
                start += 1;
            }
            if start >= b.len() {
                break;
            }
            let hard = (start + window).min(b.len());
            let mut end = hard;
            if hard < b.len() {
                let slice = &text[start..floor_boundary(text, hard)];
                end = match slice.rfind("\n\n").filter(|&k| k >= window / 2) {
                    Some(k) => start + k,
                    None => match slice.rfind(|c: char| c.is_whitespace()).filter(|&k| k > 0) {
                        Some(k) => start + k,
                        None => start + slice.len(),
                    },
                };
                if end <= start {
                    end = floor_boundary(text, hard).max(start + 1);
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                }
            }
            out.push((start, end));
            start = end;
        }
        out
    }

    #[test]
    fn windows_agree_with_the_reference() {
        let pages = crate::filter::quality::newspaper_pages().unwrap_or_default();
        let made = ["a\n\n\nb ".repeat(300), "ord\n\n".repeat(500), format!("{SV}\n\n\n\n{FI}").repeat(20)];
        for t in pages.iter().chain(&made) {
            for w in [16, 100, 600] {
                assert_eq!(windows(t, w), windows_reference(t, w));
            }
        }
    }

    /// An inner detector that always says one language: shows whether the Nordic scorer asked it.
    struct Always(&'static str);

    impl LanguageDetector for Always {
        fn detect(&self, _: &str) -> Option<Guess> {
            Some(Guess { lang: self.0.into(), confidence: 1.0 })
        }
        fn name(&self) -> String {
            format!("always {}", self.0)
        }
    }

    #[test]
    fn clear_finnish_is_decided_without_the_trigram_detector() {
        let cands = LanguageConfig::default().candidates;
        let det = Nordic::new(Always("est"), &cands);
        // Long words, few function words (under the 15% that makes text "clearly Nordic").
        let fi = "Suomen hallituksen toimesta käsitelleet Ruotsin oikeudenkäyntikomissionin jäsenet ovat \
            tarkastelleet yhteistyökysymyksiä Suomen valtiollisten viranomaisten sekä Ruotsin kuninkaallisten \
            virastojen välisissä lainsäädäntöasioissa, ja keskustelut jatkuvat huomenna Helsingissä pidettävässä \
            kokouksessa, mutta lopullisia päätöksiä odotetaan vasta ensi vuoden alussa pidettävässä \
            yhteisistunnossa, koska valmistelutyö on vielä kesken.";
        let s = nordic::score(fi);
        assert!(s.strong_hits >= 3 && s.strong_share() < det.min_hit_share, "{s:?}");
        assert_eq!(det.detect(fi).unwrap().lang, "fin");
        // Estonian letters, English `he`/`me` without `ä`/`ö`, or Finnish not among the
        // candidates: the inner detector decides.
        assert_eq!(det.detect(&format!("{fi} õ")).unwrap().lang, "est");
        let en = "He said that the committee would meet again next week in London, and he asked me to write to \
            the members about the new rules for the railway companies before the meeting, which he expects to last \
            two days.";
        let s = nordic::score(en);
        assert!(s.strong_hits >= 3 && s.strong_share() < det.min_hit_share, "{s:?}");
        assert_eq!(det.detect(en).unwrap().lang, "est");
        let no_fin: Vec<String> = cands.iter().filter(|c| *c != "fin").cloned().collect();
        assert_eq!(Nordic::new(Always("est"), &no_fin).detect(fi).unwrap().lang, "est");
    }
}

//! Named parameter sets: `ocr` (the default, for OCR'd and transcribed text) and `web` (for
//! born-digital text). The figures behind them are in `schemas/dedup-profiles.md`.

use super::lsh::Banding;
use super::minhash::{Shingles, Sketch};
use super::normalize::Normalization;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub shingles: Shingles,
    pub normalization: Normalization,
    pub banding: Banding,
    /// How the signature values are drawn; profiles saved before this field existed used
    /// [`Sketch::MinHash`].
    #[serde(default)]
    pub sketch: Sketch,
    /// Candidate pairs whose estimated Jaccard similarity (share of equal signature values)
    /// is at least this go on to [`Verify`]; the others are dropped without reading text.
    pub threshold: f64,
    pub seed: u64,
    /// How a candidate is confirmed from the two texts. Profiles written without it get the
    /// default, the `ocr` profile's.
    #[serde(default)]
    pub verify: Verify,
}

/// How a candidate pair is confirmed, from the two normalized texts ([`super::align`]): no
/// document is removed on the estimate alone.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    /// The share of the longer text's words that align, in order, with words of the other
    /// (equal, or a near miss within a third of their letters) must be at least this.
    pub min_alignment: f64,
    /// Two texts with at least `min_figures` figures each are different documents (a price
    /// list of another day, a table of another year) when more than this share of their
    /// aligned figures differ.
    pub max_figure_conflict: f64,
    pub min_figures: u32,
}

impl Default for Verify {
    /// Measured on the planted corpora of `kbcurate eval dedup` (schemas/dedup-profiles.md):
    /// copies at 10–20% character noise align with their original at 0.62 and above (1 in
    /// 100 below 0.64), templated unique documents at up to 0.654 (banns drawn from short
    /// name lists; 6 of 10,000 were removed at 0.62, none at 0.66). A unique document lost
    /// weighs more than a copy kept, so the bar is 0.66. Copies change at most 0.17 of their
    /// figures into figures more than a digit off, price lists of other days 0.56 and more;
    /// with fewer than 8 figures the share says little (the Kant page's five figures, read by
    /// Tesseract, differ at 0.25).
    fn default() -> Self {
        Verify { min_alignment: 0.66, max_figure_conflict: 0.3, min_figures: 8 }
    }
}

impl Profile {
    /// OCR noise breaks every shingle that contains an error, so shingles are short and the
    /// threshold low. Heavy noise (10–20% of characters) leaves copies a word-2-gram Jaccard
    /// of 0.02–0.24, where unrelated pages also lie, but a character-5-gram Jaccard of
    /// 0.24–0.52; unrelated newspaper pages reach 0.19 at most. 64 bands × 2 rows make a
    /// pair at 0.24 a candidate with probability 0.98; candidates whose estimate is at least
    /// 0.15 are aligned ([`Verify`]), which decides. Digits are kept: figures tell a price
    /// list from the next day's.
    pub fn ocr() -> Profile {
        Profile {
            name: "ocr".into(),
            shingles: Shingles::Chars { n: 5 },
            normalization: Normalization { lowercase: true, strip_diacritics: true, fold_digits: false },
            banding: Banding { bands: 64, rows: 2 },
            sketch: Sketch::OnePermutation,
            threshold: 0.15,
            seed: 1,
            verify: Verify::default(),
        }
    }

    /// Born-digital text: word 5-grams, 14 bands × 8 rows (the common web setting, as in
    /// datatrove), threshold 0.7; diacritics kept.
    pub fn web() -> Profile {
        Profile {
            name: "web".into(),
            shingles: Shingles::Words { n: 5 },
            normalization: Normalization { lowercase: true, strip_diacritics: false, fold_digits: false },
            banding: Banding { bands: 14, rows: 8 },
            sketch: Sketch::OnePermutation,
            threshold: 0.7,
            seed: 1,
            verify: Verify::default(),
        }
    }

    pub fn by_name(name: &str) -> Option<Profile> {
        match name {
            "ocr" => Some(Self::ocr()),
            "web" => Some(Self::web()),
            _ => None,
        }
    }

    /// How lines are normalized to find boilerplate: the profile's, with digits folded, so
    /// that a running head with its page number recurs.
    pub fn line_normalization(&self) -> Normalization {
        Normalization { fold_digits: true, ..self.normalization }
    }

    pub fn hasher(&self) -> super::minhash::MinHasher {
        super::minhash::MinHasher::new(self.banding.perms(), self.seed, self.shingles, self.normalization)
            .with_sketch(self.sketch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::minhash::{estimated_jaccard, jaccard};

    fn kant() -> Option<serde_json::Value> {
        let p = crate::ingest::testing::shared_data("ocr_variants/kant_1784_p17_gt_plus_3_engines.json")?;
        Some(serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
    }

    /// The `ocr` profile finds every OCR engine's copy of the Kant page as a duplicate of the
    /// ground truth; the `web` profile misses the noisy ones, which is why `ocr` is the default.
    #[test]
    fn ocr_profile_matches_real_ocr_copies() {
        let Some(k) = kant() else { return };
        let gt = k["ground_truth_page"].as_str().unwrap();
        for engine in ["ocr_tesseract_frk", "ocr_calamari_gt4histocr", "ocr_ocropy_fraktur"] {
            let text = k[engine].as_str().unwrap();
            let p = Profile::ocr();
            let mut h = p.hasher();
            let ga = h.shingle_hashes(gt).to_vec();
            let exact = jaccard(&ga, h.shingle_hashes(text));
            assert!(exact > 0.2, "{engine}: character 5-gram Jaccard {exact:.2}");
            let (g, t) = (h.normalize(gt).to_string(), h.normalize(text).to_string());
            let a = crate::dedup::align::align(&g, &t, p.verify.min_figures);
            eprintln!(
                "{engine}: c5 Jaccard {exact:.3}, alignment {:.3}, figure conflict {:.2} of {:?}",
                a.score, a.figure_conflict, a.figures
            );
            assert!(a.score >= p.verify.min_alignment, "{engine}: alignment {a:?}");
            assert!(a.figure_conflict <= p.verify.max_figure_conflict, "{engine}: {a:?}");
            let (mut a, mut b) = (Vec::new(), Vec::new());
            h.signature(gt, &mut a);
            h.signature(text, &mut b);
            assert!(estimated_jaccard(&a, &b) >= p.threshold, "{engine}");
            let (mut ka, mut kb) = (Vec::new(), Vec::new());
            p.banding.keys(&a, &mut ka);
            p.banding.keys(&b, &mut kb);
            assert!(ka.iter().zip(&kb).any(|(x, y)| x == y), "{engine}: shares a band");
        }
        let web = Profile::web();
        let mut h = web.hasher();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        h.signature(gt, &mut a);
        h.signature(k["ocr_ocropy_fraktur"].as_str().unwrap(), &mut b);
        assert!(estimated_jaccard(&a, &b) < web.threshold);
    }

    /// A profile saved before `sketch` existed (an index's `--against` record) reads back as
    /// the textbook MinHash it was made with, so it no longer equals the shipped profile and an
    /// old index is not mixed with new signatures.
    #[test]
    fn profiles_saved_without_a_sketch_are_minhash() {
        let mut old = serde_json::to_value(Profile::ocr()).unwrap();
        old.as_object_mut().unwrap().remove("sketch");
        let read: Profile = serde_json::from_value(old).unwrap();
        assert_eq!(read.sketch, Sketch::MinHash);
        assert_ne!(read, Profile::ocr());
        assert_eq!(Profile { sketch: Sketch::OnePermutation, ..read }, Profile::ocr());
        let json = serde_json::to_string(&Profile::ocr()).unwrap();
        assert!(json.contains(r#""sketch":"one-permutation""#), "{json}");
    }

    /// Unrelated newspaper pages stay apart under the `ocr` profile: the few whose estimate
    /// makes them candidates do not align.
    #[test]
    fn ocr_profile_keeps_unrelated_pages_apart() {
        let Some(p) = crate::ingest::testing::shared_data("newspaper_text/newseye_sv_fi_pages.train_dev.jsonl") else {
            return;
        };
        let text = std::fs::read_to_string(p).unwrap();
        let pages: Vec<String> = text
            .lines()
            .take(40)
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap().to_string())
            .collect();
        let prof = Profile::ocr();
        let mut h = prof.hasher();
        let sigs: Vec<Vec<u32>> = pages
            .iter()
            .map(|t| {
                let mut s = Vec::new();
                h.signature(t, &mut s);
                s
            })
            .collect();
        let norm: Vec<String> = pages.iter().map(|t| h.normalize(t).to_string()).collect();
        let (mut max, mut aligned, mut candidates): (f64, f64, usize) = (0.0, 0.0, 0);
        for i in 0..sigs.len() {
            for j in i + 1..sigs.len() {
                // Pages that are the same page twice in the source are not unrelated.
                if pages[i] == pages[j] {
                    continue;
                }
                let e = estimated_jaccard(&sigs[i], &sigs[j]);
                max = max.max(e);
                if e >= prof.threshold {
                    candidates += 1;
                    aligned = aligned.max(crate::dedup::align::align(&norm[i], &norm[j], 4).score);
                }
            }
        }
        eprintln!("unrelated pages: estimate at most {max:.3}; {candidates} candidates, aligned at most {aligned:.3}");
        assert!(max < 0.3, "max estimated Jaccard between unrelated pages {max:.3}");
        assert!(aligned < prof.verify.min_alignment, "unrelated pages aligned at {aligned:.3}");
    }
}

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
    /// Candidate pairs are kept as duplicates when their estimated Jaccard similarity (share of
    /// equal signature values) is at least this.
    pub threshold: f64,
    pub seed: u64,
}

impl Profile {
    /// OCR noise breaks every shingle that contains an error, so shingles are short (word
    /// 2-grams) and the threshold low. On the Kant 1784 page, three OCR engines against the
    /// ground truth have word-2-gram Jaccard 0.26 (ocropy), 0.49 (tesseract) and 0.70
    /// (calamari), while unrelated Swedish newspaper pages (NewsEye, 300 pairs) reach at most
    /// 0.021. 64 bands × 2 rows find a pair at 0.26 with probability 0.987 and at 0.3 with
    /// 0.997; a pair at 0.02 becomes a candidate with probability 0.025 and is then dropped by
    /// the 0.15 threshold.
    pub fn ocr() -> Profile {
        Profile {
            name: "ocr".into(),
            shingles: Shingles::Words { n: 2 },
            normalization: Normalization { lowercase: true, strip_diacritics: true, fold_digits: true },
            banding: Banding { bands: 64, rows: 2 },
            sketch: Sketch::OnePermutation,
            threshold: 0.15,
            seed: 1,
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
        }
    }

    pub fn by_name(name: &str) -> Option<Profile> {
        match name {
            "ocr" => Some(Self::ocr()),
            "web" => Some(Self::web()),
            _ => None,
        }
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
            assert!(exact > 0.2, "{engine}: word 2-gram Jaccard {exact:.2}");
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

    /// Unrelated newspaper pages stay apart under the `ocr` profile.
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
        let mut max: f64 = 0.0;
        for i in 0..sigs.len() {
            for j in i + 1..sigs.len() {
                // Pages that are the same page twice in the source are not unrelated.
                if pages[i] == pages[j] {
                    continue;
                }
                max = max.max(estimated_jaccard(&sigs[i], &sigs[j]));
            }
        }
        assert!(max < prof.threshold, "max estimated Jaccard between unrelated pages {max:.3}");
    }
}

//! MinHash signature throughput and the figures behind the dedup profiles.
//!
//! ```sh
//! cargo bench --bench minhash
//! ```
//!
//! Prints: signatures per second and MB/s of text per core for each profile (NewsEye newspaper
//! pages from ../shared/data, repeated to ~50 MB, or generated text); what the GPU path leaves
//! on the CPU (preparing a batch of text or of shingle hashes) against that; the LSH detection curve
//! of each profile's bands × rows; and, on the Kant 1784 page, the Jaccard similarity between
//! the ground truth and three OCR engines (exact and estimated) with each profile.

use std::time::Instant;

use kbcurate::dedup::batch::{ShingleBatch, SignatureInput};
use kbcurate::dedup::minhash::{estimated_jaccard, jaccard};
use kbcurate::dedup::profile::Profile;

fn main() {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let pages: Vec<String> =
        match std::fs::read_to_string(shared.join("newspaper_text/newseye_sv_fi_pages.train_dev.jsonl")) {
            Ok(t) => t
                .lines()
                .map(|l| {
                    serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap_or("").to_string()
                })
                .collect(),
            Err(_) => (0..100)
                .map(|i| {
                    format!(
                        "Stockholm den {i} mars. Ångaren Freja anlände i går till Skeppsbron med last av trävaror. "
                    )
                    .repeat(80)
                })
                .collect(),
        };
    let bytes_per_round: usize = pages.iter().map(|p| p.len()).sum();
    let rounds = (50_000_000 / bytes_per_round).max(1);

    println!("# MinHash signatures (one thread, release build)\n");
    println!("| profile | shingles | perms | docs | MB | seconds | MB/s | docs/s |");
    println!("|---|---|---|---|---|---|---|---|");
    for p in [Profile::ocr(), Profile::web()] {
        let mut h = p.hasher();
        let mut sig = Vec::new();
        let mut keys = Vec::new();
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = Instant::now();
            for _ in 0..rounds {
                for page in &pages {
                    h.signature(page, &mut sig);
                    p.banding.keys(&sig, &mut keys);
                    std::hint::black_box(&keys);
                }
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        let mb = (bytes_per_round * rounds) as f64 / 1e6;
        println!(
            "| {} | {:?} | {} | {} | {:.1} | {:.2} | {:.1} | {:.0} |",
            p.name,
            p.shingles,
            p.banding.perms(),
            pages.len() * rounds,
            mb,
            best,
            mb / best,
            (pages.len() * rounds) as f64 / best
        );
    }

    // What the GPU path leaves on the CPU: preparing a batch. Of raw text (what the stage
    // sends), the CPU copies text and the GPU does the rest (the exact keys are taken from the
    // normalized text it sends back: ~10 GB/s per core, not counted here); of normalized text,
    // the CPU also normalizes and keys each document; of hashes, it also hashes the shingles.
    // Its rate per core against the CPU path's bounds what a GPU can gain on the same cores
    // (docs/gpu.md).
    println!("\n# The CPU side of a signature (one thread, MB/s of text)\n");
    println!(
        "| profile | full signature (CPU path) | GPU batch of hashes | of normalized text | of raw text | normalized / full | raw / full |"
    );
    println!("|---|---|---|---|---|---|---|");
    for p in [Profile::ocr(), Profile::web()] {
        let mut h = p.hasher();
        let mb = (bytes_per_round * rounds) as f64 / 1e6;
        let mut rate = |f: &mut dyn FnMut(&mut kbcurate::dedup::minhash::MinHasher, &str)| {
            let mut best = f64::INFINITY;
            for _ in 0..3 {
                let t = Instant::now();
                for _ in 0..rounds {
                    for page in &pages {
                        f(&mut h, page);
                    }
                }
                best = best.min(t.elapsed().as_secs_f64());
            }
            mb / best
        };
        let mut sig = Vec::new();
        let full = rate(&mut |h, t| {
            h.signature(t, &mut sig);
            std::hint::black_box(xxhash_rust::xxh3::xxh3_128(h.normalized().as_bytes()));
        });
        let mut batch = |input| {
            let mut b = ShingleBatch::of(input);
            rate(&mut |h, t| {
                if b.docs() == 1024 {
                    b.clear();
                }
                b.push(h, t);
            })
        };
        let (hashes, text, raw) =
            (batch(SignatureInput::Hashes), batch(SignatureInput::Text), batch(SignatureInput::Raw));
        println!(
            "| {} | {full:.1} | {hashes:.1} | {text:.1} | {raw:.1} | {:.1}× | {:.0}× |",
            p.name,
            text / full,
            raw / full
        );
    }

    println!("\n# Detection probability P(s) = 1 − (1 − s^r)^b\n");
    let ocr = Profile::ocr();
    let web = Profile::web();
    println!(
        "| s | ocr ({}×{}) | web ({}×{}) |",
        ocr.banding.bands, ocr.banding.rows, web.banding.bands, web.banding.rows
    );
    println!("|---|---|---|");
    for s in [0.02, 0.05, 0.1, 0.15, 0.2, 0.26, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] {
        println!("| {s:.2} | {:.4} | {:.4} |", ocr.banding.probability(s), web.banding.probability(s));
    }

    let Ok(k) = std::fs::read(shared.join("ocr_variants/kant_1784_p17_gt_plus_3_engines.json")) else { return };
    let k: serde_json::Value = serde_json::from_slice(&k).unwrap();
    println!("\n# Kant 1784 p. 17: ground truth vs OCR engines\n");
    println!("| engine | ocr exact | ocr estimate | web exact | web estimate |");
    println!("|---|---|---|---|---|");
    let gt = k["ground_truth_page"].as_str().unwrap();
    for e in ["ground_truth_alto", "ocr_calamari_gt4histocr", "ocr_tesseract_frk", "ocr_ocropy_fraktur"] {
        let t = k[e].as_str().unwrap();
        let mut row = format!("| {e} |");
        for p in [&ocr, &web] {
            let mut h = p.hasher();
            let ga = h.shingle_hashes(gt).to_vec();
            let ex = jaccard(&ga, h.shingle_hashes(t));
            let (mut a, mut b) = (Vec::new(), Vec::new());
            h.signature(gt, &mut a);
            h.signature(t, &mut b);
            row.push_str(&format!(" {ex:.2} | {:.2} |", estimated_jaccard(&a, &b)));
        }
        println!("{row}");
    }
    // Unrelated pages: the largest similarity between two different NewsEye pages.
    let mut h = ocr.hasher();
    let sigs: Vec<Vec<u32>> = pages
        .iter()
        .take(90)
        .map(|p| {
            let mut s = Vec::new();
            h.signature(p, &mut s);
            s
        })
        .collect();
    let mut max: f64 = 0.0;
    let mut pairs = 0;
    for i in 0..sigs.len() {
        for j in i + 1..sigs.len() {
            if pages[i] != pages[j] {
                max = max.max(estimated_jaccard(&sigs[i], &sigs[j]));
                pairs += 1;
            }
        }
    }
    println!(
        "\nUnrelated NewsEye pages ({pairs} pairs): largest estimated Jaccard with `ocr` = {max:.3} (threshold {})",
        ocr.threshold
    );
}

//! `kbcurate filter` on the bundled filter samples (one invented text per rule) and, when
//! present, on real OCR'd newspaper pages.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;
use kbcurate::filter::config::FilterConfig;
use kbcurate::filter::stage::{filter, FilterOptions};

fn ingest_samples(part_size: u64) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let dir = repo().join("data-samples/filter");
    let text = std::fs::read_to_string(dir.join("collections.toml")).unwrap();
    run(&config(&text), &dir, out.path(), |o| o.part_size = part_size);
    out
}

fn source_id(meta: &str) -> String {
    serde_json::from_str::<serde_json::Value>(meta).unwrap()["source_id"].as_str().unwrap().to_string()
}

#[test]
fn every_sample_is_kept_or_rejected_for_its_rule() {
    let input = ingest_samples(1 << 20);
    let out = tempfile::tempdir().unwrap();
    let s = filter(input.path(), &FilterOptions::new(out.path())).unwrap();
    assert!(s.counts.reconciles(), "{:?}", s.counts);
    assert_eq!(s.counts.input, 12);
    let docs = documents(out.path());
    assert_eq!(docs.len() as u64, s.counts.kept);
    let kept: BTreeMap<String, _> = docs.iter().map(|d| (source_id(&d.meta), d)).collect();
    assert_eq!(kept.keys().cloned().collect::<Vec<_>>(), ["blandad-1", "fel-metadata-1", "gammal-1", "nyhet-1"]);
    // Old Swedish spelling with the long s is Swedish.
    assert_eq!(kept["gammal-1"].language.as_deref(), Some("swe"));
    // PII is masked and the counts follow the new text.
    let nyhet = kept["nyhet-1"];
    assert!(nyhet.text.contains("e-post <EMAIL>, telefon <PHONE>"), "{}", nyhet.text);
    assert!(nyhet.text.contains("till exempel <PERSONNUMMER>,"), "{}", nyhet.text);
    assert_eq!(nyhet.n_chars as usize, nyhet.text.chars().count());
    assert_eq!(s.stats.pii_masked.values().sum::<u64>(), 3);
    // A Swedish text catalogued as Finnish: the text wins.
    assert_eq!(kept["fel-metadata-1"].language.as_deref(), Some("swe"));
    assert_eq!(s.stats.language_flags, 2, "Swedish-as-Finnish and Danish-as-Swedish");

    // Rejections: the rule and the measured value.
    let rej = rejections(out.path());
    assert_eq!(rej.len() as u64, s.counts.rejected.values().sum::<u64>());
    let by_title: BTreeMap<String, _> = rej.iter().map(|r| (r.locator.clone(), r)).collect();
    let reason_of = |needle: &str| -> (String, String) {
        let r =
            rej.iter().find(|r| r.text.as_deref().unwrap_or("").contains(needle)).unwrap_or_else(|| panic!("{needle}"));
        (r.reason.clone(), r.detail.clone())
    };
    assert!(by_title.len() == rej.len());
    let (r, d) = reason_of("TV 1\n17.00");
    assert_eq!(r, "listing", "{d}");
    let (r, d) = reason_of("København");
    assert_eq!(r, "language");
    assert!(d.starts_with("language dan "), "{d}");
    let (r, d) = reason_of("Stortinget vedtar");
    assert_eq!((r.as_str(), d.starts_with("language nob ")), ("language", true), "{d}");
    let (r, d) = reason_of("Stortinget vedtek");
    assert_eq!((r.as_str(), d.starts_with("language nno ")), ("language", true), "{d}");
    let (r, d) = reason_of("Eduskunta");
    assert_eq!((r.as_str(), d.starts_with("language fin ")), ("language", true), "{d}");
    let (r, d) = reason_of("Rik5dagen");
    assert_eq!((r.as_str(), d.as_str()), ("low-ocr-confidence", "ocr confidence 0.42 < 0.50"));
    let (r, d) = reason_of("Isen på Saltsjön");
    assert_eq!((r.as_str(), d.as_str()), ("too-short", "6 words < 25"));
    let (r, d) = reason_of("Sunlight");
    assert_eq!(r, "duplicate-lines", "{d}");
    for r in &rej {
        assert_eq!(r.stage, "filter");
    }

    // The manifest carries the sequential and marginal tables.
    let m = kbcurate::dataset::Manifest::read(out.path()).unwrap();
    assert_eq!(m.stage, "filter");
    let rules = m.stats.as_ref().unwrap()["rules"].as_array().unwrap().clone();
    let mut seq_total = 0;
    for row in &rules {
        let (seq, mar) = (row["sequential"].as_u64().unwrap(), row["marginal"].as_u64().unwrap());
        assert!(mar >= seq, "{row}");
        seq_total += seq;
    }
    assert_eq!(seq_total, s.counts.rejected_total());
    let gib = rules.iter().find(|r| r["rule"] == "gibberish").unwrap();
    assert!(gib["marginal"].as_u64().unwrap() >= 1, "the garbled page is gibberish too: {gib}");
}

#[test]
fn garbage_lines_can_be_dropped_instead_of_documents() {
    let input = ingest_samples(1 << 20);
    let out = tempfile::tempdir().unwrap();
    let mut opts = FilterOptions::new(out.path());
    opts.config.quality.drop_garbage_lines = true;
    opts.config.quality.garbage_line_share = 0.3;
    opts.config.language.keep = vec![];
    opts.config.quality.min_ocr_confidence = 0.0;
    let s = filter(input.path(), &opts).unwrap();
    assert!(s.counts.reconciles());
    assert_eq!(s.counts.lines_removed.get("garbage"), Some(&2), "{:?}", s.counts);
    let page = documents(out.path()).into_iter().find(|d| d.text.starts_with("Isen på Saltsjön har")).unwrap();
    assert!(!page.text.contains("=-=") && !page.text.contains("^i"), "{}", page.text);
    assert_eq!(page.text.lines().count(), 4);
}

#[test]
fn output_is_identical_on_any_thread_count_and_on_resume() {
    // Small parts, so that two threads really work on different parts.
    let input = ingest_samples(600);
    let parts = kbcurate::dataset::Manifest::read(input.path()).unwrap().parts.len();
    assert!(parts > 1, "{parts} parts");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut oa = FilterOptions::new(a.path());
    oa.threads = Some(1);
    let mut ob = FilterOptions::new(b.path());
    ob.threads = Some(2);
    filter(input.path(), &oa).unwrap();
    filter(input.path(), &ob).unwrap();
    assert_eq!(files(a.path()), files(b.path()));
    // A rerun (everything complete) and a rerun after losing a part give the same dataset.
    filter(input.path(), &oa).unwrap();
    assert_eq!(files(a.path()), files(b.path()));
    std::fs::remove_file(a.path().join("_parts/part-00001.json")).unwrap();
    filter(input.path(), &oa).unwrap();
    assert_eq!(files(a.path()), files(b.path()));
}

#[test]
fn the_cli_runs_the_sample_config_and_names_bad_input() {
    let input = ingest_samples(1 << 20);
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_kbcurate"))
        .args(["filter", &input.path().display().to_string(), "-o", &out.path().display().to_string(), "-j", "2"])
        .arg("--config")
        .arg(repo().join("data-samples/filter.toml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("filter: ") && err.contains("sequential"), "{err}");
    // A config with a typo names the file and the key.
    let bad = out.path().join("bad.toml");
    std::fs::write(&bad, "[heuristics]\nmin_word = 10\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_kbcurate"))
        .args(["filter", &input.path().display().to_string(), "-o", &out.path().join("x").display().to_string()])
        .arg("--config")
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("bad.toml") && err.contains("min_word"), "{err}");
    // Not a dataset: the error names the folder.
    let o = Command::new(env!("CARGO_BIN_EXE_kbcurate"))
        .args(["filter", "/nonexistent/ds", "-o", &out.path().join("y").display().to_string()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("/nonexistent/ds"), "{err}");
}

/// Real OCR'd Swedish newspaper pages (NewsEye, 1848–1918): nearly all detected as Swedish.
#[test]
fn real_swedish_newspaper_pages_are_swedish() {
    let Some(p) = shared("newspaper_text/newseye_sv_fi_pages.train_dev.jsonl") else { return };
    let pages = kbcurate::filter::eval::read_pages(&p).unwrap();
    let cfg = FilterConfig::default();
    let det = kbcurate::filter::langid::detector(&cfg.language);
    let sv: Vec<_> = pages.iter().filter(|(l, _)| l == "swe").collect();
    assert!(sv.len() >= 30);
    let ok = sv
        .iter()
        .filter(|(_, t)| {
            kbcurate::filter::langid::identify(t, None, det.as_ref(), &cfg.language).language.as_deref() == Some("swe")
        })
        .count();
    assert!(ok as f64 / sv.len() as f64 >= 0.99, "{ok} of {}", sv.len());
}

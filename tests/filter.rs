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
    let pages = kbcurate::eval::filter::read_pages(&p).unwrap();
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

/// Real pages: `kbcurate lexicon` builds the same word list on any thread count, and the
/// filter's `unknown_word_share` is higher on pages with planted OCR noise than on the same
/// pages clean; the lexicon path in a config file is relative to that file.
#[test]
fn lexicons_built_from_real_pages_flag_noised_pages() {
    use std::io::Write;
    let Some(p) = shared("newspaper_text/newseye_sv_fi_pages.train_dev.jsonl") else { return };
    let pages = kbcurate::eval::filter::read_pages(&p).unwrap();
    let sv: Vec<&str> = pages.iter().filter(|(l, _)| l == "swe").map(|(_, t)| t.as_str()).collect();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    // Every other Swedish page (and the Finnish pages) for the lexicon; the rest are judged.
    let write = |name: &str, rows: Vec<(String, String)>| {
        let mut f = std::fs::File::create(w.join(name)).unwrap();
        for (id, text) in rows {
            writeln!(f, "{}", serde_json::json!({ "title": id, "text": text })).unwrap();
        }
    };
    let mut base: Vec<(String, String)> =
        sv.iter().step_by(2).enumerate().map(|(i, t)| (format!("b{i}"), t.to_string())).collect();
    base.extend(pages.iter().filter(|(l, _)| l == "fin").enumerate().map(|(i, (_, t))| (format!("f{i}"), t.clone())));
    write("base.jsonl", base);
    let judged: Vec<&str> = sv.iter().skip(1).step_by(2).copied().collect();
    let mut rows: Vec<(String, String)> =
        judged.iter().enumerate().map(|(i, t)| (format!("clean{i:02}"), t.to_string())).collect();
    rows.extend(
        judged
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("noisy{i:02}"), kbcurate::eval::dedup::noisy_text(t, 0.3, i as u64))),
    );
    write("judged.jsonl", rows);
    let cfg = config("[[collection]]\nname = \"base\"\npaths = [\"base.jsonl\"]\nformat = \"jsonl\"\n");
    run(&cfg, w, &w.join("base"), |o| o.part_size = 60_000);
    assert!(kbcurate::dataset::Manifest::read(&w.join("base")).unwrap().parts.len() > 2);
    let cfg = config("[[collection]]\nname = \"judged\"\npaths = [\"judged.jsonl\"]\nformat = \"jsonl\"\n");
    run(&cfg, w, &w.join("judged"), |_| {});

    let lexicon = |out: &str, threads: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_kbcurate"))
            .args(["lexicon", "base", "-o", out, "--language", "swe", "--min-documents", "2", "-j", threads])
            .current_dir(w)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(o.status.success(), "{err}");
        err
    };
    // A language without documents: said, nothing written, and a failure when nothing at all is.
    let o = Command::new(env!("CARGO_BIN_EXE_kbcurate"))
        .args(["lexicon", "base", "-o", "lex0", "--language", "isl"])
        .current_dir(w)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("lexicon isl: no word") && !w.join("lex0/isl.tsv").exists(), "{err}");
    let err = lexicon("lex1", "1");
    assert!(err.contains("lexicon swe: ") && err.contains("lex1/swe.tsv"), "{err}");
    lexicon("lex2", "2");
    let text = std::fs::read_to_string(w.join("lex1/swe.tsv")).unwrap();
    assert_eq!(text, std::fs::read_to_string(w.join("lex2/swe.tsv")).unwrap(), "thread count changed the lexicon");
    // Only the Swedish pages were counted; the most common words lead.
    // The Swedish pages were counted (and one Finnish page the detector takes for Swedish).
    let docs: usize = text.lines().find_map(|l| l.strip_prefix("# documents\t")).unwrap().parse().unwrap();
    assert!((sv.len().div_ceil(2)..=sv.len().div_ceil(2) + 1).contains(&docs), "{docs} documents counted");
    let first: Vec<&str> =
        text.lines().filter(|l| !l.starts_with('#')).take(10).map(|l| l.split('\t').next().unwrap()).collect();
    assert!(first.contains(&"och") && first.contains(&"i"), "{first:?}");
    let top: Vec<&str> =
        text.lines().filter(|l| !l.starts_with('#')).take(200).map(|l| l.split('\t').next().unwrap()).collect();
    for fi in ["että", "ovat", "oli", "myös", "kanssa"] {
        assert!(!top.contains(&fi), "Finnish `{fi}` among the Swedish lexicon's 200 most common words");
    }

    // The config names the lexicon relative to itself.
    std::fs::create_dir(w.join("conf")).unwrap();
    std::fs::write(
        w.join("conf/f.toml"),
        "[language]\nkeep = []\n[quality]\nlexicons = { swe = \"../lex1/swe.tsv\" }\nmax_unknown_word_share = 1.0\n",
    )
    .unwrap();
    let fc = FilterConfig::from_file(&w.join("conf/f.toml")).unwrap();
    let mut opts = FilterOptions::new(w.join("out"));
    opts.config = fc.clone();
    let s = filter(&w.join("judged"), &opts).unwrap();
    assert!(s.counts.reconciles());
    let mut share: BTreeMap<String, f32> = BTreeMap::new();
    for part in kbcurate::dataset::Manifest::read(&w.join("out")).unwrap().parts {
        for b in kbcurate::dataset::read_parquet_projected(
            &w.join("out").join(&part.file),
            &["title", "language", "unknown_word_share"],
            1024,
        )
        .unwrap()
        {
            use arrow_array::{cast::AsArray, Array};
            let b = b.unwrap();
            let ids = b.column(0).as_string::<i32>();
            let u = b.column(2).as_primitive::<arrow_array::types::Float32Type>();
            for r in 0..b.num_rows() {
                if b.column(1).as_string::<i32>().value(r) == "swe" {
                    assert!(u.is_valid(r), "a Swedish page without unknown_word_share");
                    share.insert(ids.value(r).to_string(), u.value(r));
                } else {
                    assert!(u.is_null(r), "no lexicon, no share");
                }
            }
        }
    }
    let (mut pairs, mut higher) = (0, 0);
    for i in 0..judged.len() {
        if let (Some(c), Some(n)) = (share.get(&format!("clean{i:02}")), share.get(&format!("noisy{i:02}"))) {
            pairs += 1;
            higher += (n > c) as usize;
        }
    }
    assert!(pairs >= judged.len() * 3 / 4, "{pairs} of {} pairs kept as Swedish", judged.len());
    assert!(higher as f64 >= 0.9 * pairs as f64, "noise raised the share on {higher} of {pairs} pages");

    // As a rule: the threshold between the clean and the noised pages' means removes mostly noise.
    let mean = |p: &str| {
        let v: Vec<f32> = share.iter().filter(|(k, _)| k.starts_with(p)).map(|(_, v)| *v).collect();
        v.iter().sum::<f32>() / v.len() as f32
    };
    let mut opts = FilterOptions::new(w.join("out2"));
    opts.config = fc;
    opts.config.quality.max_unknown_word_share = (mean("clean") + mean("noisy")) / 2.0;
    let s = filter(&w.join("judged"), &opts).unwrap();
    let rej: Vec<_> = rejections(&w.join("out2")).into_iter().filter(|r| r.reason == "unknown-words").collect();
    assert_eq!(rej.len() as u64, s.counts.rejected["unknown-words"]);
    let title: BTreeMap<String, String> =
        documents(&w.join("judged")).into_iter().map(|d| (d.id, d.title.unwrap_or_default())).collect();
    let noisy = rej.iter().filter(|r| title[&r.id].starts_with("noisy")).count();
    assert!(noisy * 2 > rej.len() * 3 / 2 && noisy >= pairs / 3, "{noisy} noised of {} removed", rej.len());
    assert!(rej[0].detail.starts_with("share of words not in the lexicon "), "{}", rej[0].detail);

    // A missing lexicon names the file.
    let mut opts = FilterOptions::new(w.join("out3"));
    opts.config.quality.lexicons.insert("swe".into(), w.join("nope.tsv"));
    let e = filter(&w.join("judged"), &opts).unwrap_err().to_string();
    assert!(e.contains("nope.tsv"), "{e}");
}

//! `kbcurate dedup` on a corpus with planted exact and noisy duplicates.

mod common;

use std::io::Write;

use common::*;
use kbcurate::dedup::cluster::DEFAULT_KEEP_ORDER;
use kbcurate::dedup::stage::{dedup, DedupOptions};

/// Unrelated texts: NewsEye newspaper pages when present, else generated prose.
fn base_texts() -> Vec<String> {
    if let Some(p) = shared("newspaper_text/newseye_sv_fi_pages.train_dev.jsonl") {
        let mut seen = std::collections::BTreeSet::new();
        return std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap().to_string())
            .filter(|t| seen.insert(t.clone()))
            .take(30)
            .collect();
    }
    // Generated prose over a vocabulary of ~27,000 made-up words, so unrelated documents share
    // next to no word pairs (as real unrelated pages do), in lines of 12 words as on a page (the
    // boilerplate step counts lines; one 300-word line would be too long to count).
    let syl = [
        "ka", "lo", "ven", "dra", "mi", "su", "ber", "ång", "tor", "el", "sko", "gen", "ri", "fa", "nu", "hem", "sta",
        "vi", "ol", "pe", "dal", "ny", "bro", "än", "ta", "sel", "mo", "gå", "ut", "lin",
    ];
    (0..30u64)
        .map(|d| {
            let mut x = d.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut next = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            let words: Vec<String> = (0..300)
                .map(|_| (0..3).map(|_| syl[(next() % syl.len() as u64) as usize]).collect::<String>())
                .collect();
            words.chunks(12).map(|line| line.join(" ")).collect::<Vec<_>>().join("\n")
        })
        .collect()
}

/// A noisy OCR copy: every 6th word gets a character confusion, and the end is cut.
fn noisy(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let keep = words.len() * 9 / 10;
    words[..keep]
        .iter()
        .enumerate()
        .map(|(i, w)| if i % 6 == 0 { w.replacen('e', "c", 1).replacen('s', "f", 1) } else { w.to_string() })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes `rows` as the `text` of JSON Lines records to `dir/c.jsonl`.
fn write_jsonl(dir: &std::path::Path, rows: Vec<String>) {
    let mut f = std::fs::File::create(dir.join("c.jsonl")).unwrap();
    for t in rows {
        writeln!(f, "{}", serde_json::json!({ "text": t })).unwrap();
    }
}

fn corpus() -> (tempfile::TempDir, tempfile::TempDir) {
    let texts = base_texts();
    let input = tempfile::tempdir().unwrap();
    let mut f = std::fs::File::create(input.path().join("corpus.jsonl")).unwrap();
    for (i, t) in texts.iter().enumerate() {
        writeln!(f, "{}", serde_json::json!({"text": t, "title": format!("original {i}")})).unwrap();
        if i < 10 {
            writeln!(f, "{}", serde_json::json!({"text": t, "title": format!("exact {i}")})).unwrap();
            writeln!(f, "{}", serde_json::json!({"text": noisy(t), "title": format!("noisy {i}")})).unwrap();
        }
    }
    drop(f);
    let ingested = tempfile::tempdir().unwrap();
    let cfg = config("[[collection]]\nname = \"c\"\npaths = [\"corpus.jsonl\"]\n");
    run(&cfg, input.path(), ingested.path(), |o| o.part_size = 40_000);
    (input, ingested)
}

#[test]
fn planted_duplicates_are_found_and_the_best_copy_kept() {
    let (_input, ingested) = corpus();
    let out = tempfile::tempdir().unwrap();
    let s = dedup(ingested.path(), &DedupOptions::new(out.path())).unwrap();
    assert!(s.counts.reconciles(), "{:?}", s.counts);
    assert_eq!(s.counts.input, 50);
    assert_eq!(s.counts.rejected.get("exact-duplicate"), Some(&10), "{:?}", s.counts);
    assert_eq!(s.counts.rejected.get("near-duplicate"), Some(&10), "{:?}", s.counts);
    assert_eq!(s.clusters, 10);
    let docs = documents(out.path());
    assert_eq!(docs.len(), 30);
    // Exact copy and original tie on everything but the id; the noisy copy is shorter. So the
    // kept copy is the original or its exact copy, never the noisy one.
    assert!(docs.iter().all(|d| !d.title.as_deref().unwrap().starts_with("noisy")));
    let rej = rejections(out.path());
    let kept_ids: std::collections::BTreeSet<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    let mut near = Vec::new();
    for r in &rej {
        let kept = r.detail.strip_prefix("kept ").unwrap().split_whitespace().next().unwrap();
        assert!(kept_ids.contains(kept), "{} names a kept document", r.detail);
        assert!(r.text.is_some());
        // The measured similarity to the kept copy, in the detail and the `score` column.
        let score = r.score.expect("a dedup rejection has a score");
        assert!(r.detail.contains(&format!("similarity {score:.3}")), "{}", r.detail);
        if r.reason == "exact-duplicate" {
            assert_eq!(score, 1.0);
        } else {
            assert!((0.66..1.0).contains(&score), "{score}");
            near.push(score);
        }
    }
    assert_eq!(near.len(), 10);
    // The manifest's histogram counts every removal once, by its similarity.
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    let hist = &m["stats"]["removed_similarity"];
    let counts: Vec<u64> = hist["counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).collect();
    assert_eq!(counts.iter().sum::<u64>(), 20, "{hist}");
    assert_eq!(counts.last(), Some(&10), "the exact copies are in the last bin: {hist}");
    assert_eq!(hist["bins"].as_array().unwrap().len(), counts.len());
    // The new columns are there for every kept document.
    let batch = kbcurate::dataset::read_parquet_batches(&out.path().join("data/part-00000.parquet"), 100)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert!(batch.column_by_name("dup_cluster").is_some() && batch.column_by_name("dup_cluster_size").is_some());
}

#[test]
fn dedup_output_is_identical_on_any_thread_count() {
    let (_input, ingested) = corpus();
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let mut oa = DedupOptions::new(a.path());
    oa.threads = Some(1);
    let mut ob = DedupOptions::new(b.path());
    ob.threads = Some(3);
    dedup(ingested.path(), &oa).unwrap();
    dedup(ingested.path(), &ob).unwrap();
    assert_eq!(files(a.path()), files(b.path()));
}

/// The codecs of every column chunk of a dataset's Parquet files (kept and rejected).
fn codecs(dir: &std::path::Path) -> std::collections::BTreeSet<String> {
    let m = kbcurate::dataset::Manifest::read(dir).unwrap();
    let mut out = std::collections::BTreeSet::new();
    for p in m.parts.iter().chain(&m.rejected_parts) {
        let f = std::fs::File::open(dir.join(&p.file)).unwrap();
        let r = parquet::file::reader::SerializedFileReader::new(f).unwrap();
        use parquet::file::reader::FileReader;
        for rg in r.metadata().row_groups() {
            out.extend(rg.columns().iter().map(|c| format!("{:?}", c.compression())));
        }
    }
    out
}

#[test]
fn uncompressed_output_holds_the_same_documents() {
    let (_input, ingested) = corpus();
    let (zstd, none) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    dedup(ingested.path(), &DedupOptions::new(zstd.path())).unwrap();
    let mut o = DedupOptions::new(none.path());
    o.compression = "none".parse().unwrap();
    let s = dedup(ingested.path(), &o).unwrap();
    assert_eq!(s.counts.kept, 30);
    assert_eq!(codecs(none.path()), ["UNCOMPRESSED".to_string()].into());
    assert!(codecs(zstd.path()).iter().all(|c| c.starts_with("ZSTD")), "{:?}", codecs(zstd.path()));
    assert_eq!(documents(none.path()), documents(zstd.path()));
    assert_eq!(rejections(none.path()), rejections(zstd.path()));
    let m = kbcurate::dataset::Manifest::read(none.path()).unwrap();
    assert_eq!(m.compression.to_string(), "none");
    // Larger on disk: the text is stored as is.
    let bytes =
        |d: &std::path::Path| kbcurate::dataset::Manifest::read(d).unwrap().parts.iter().map(|p| p.bytes).sum::<u64>();
    assert!(bytes(none.path()) > bytes(zstd.path()));
}

#[test]
fn web_profile_misses_noisy_copies_the_ocr_profile_finds() {
    let (_input, ingested) = corpus();
    let out = tempfile::tempdir().unwrap();
    let mut o = DedupOptions::new(out.path());
    o.profile = kbcurate::dedup::profile::Profile::web();
    let s = dedup(ingested.path(), &o).unwrap();
    assert_eq!(s.counts.rejected.get("exact-duplicate"), Some(&10));
    let near = s.counts.rejected.get("near-duplicate").copied().unwrap_or(0);
    assert!(near < 10, "web profile found {near} of 10 noisy copies");
}

/// Planted OCR-noisy copies (plain word-3-gram Jaccard near 0.3, stray tokens added so that
/// a noisy copy is often the longest) without any ocr_confidence: found with F1 >= 0.95 and
/// ARI >= 0.9, no cluster mixes unrelated documents, and the keep order picks the clean copy
/// better than chance. Then the templated unique documents (issue 20's hard case) beside them.
#[test]
fn eval_on_planted_newspaper_duplicates() {
    let Some(p) = shared("newspaper_text/newseye_sv_fi_pages.train_dev.jsonl") else { return };
    let base: Vec<String> = std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap().to_string())
        .collect();
    let work = tempfile::tempdir().unwrap();
    use kbcurate::dedup::profile::Profile;
    use kbcurate::eval::dedup::{evaluate, Confidence, PlantParams};
    let params =
        PlantParams { originals: 150, confidence: Confidence::Absent, hard_negatives: 0, ..Default::default() };
    let r = evaluate(&base, &params, &Profile::ocr(), &DEFAULT_KEEP_ORDER, work.path()).unwrap();
    assert!((0.25..0.35).contains(&r.mean_jaccard_w3), "planted pairs at Jaccard {:.3}", r.mean_jaccard_w3);
    assert!(r.scores.f1 >= 0.95, "{r:?}");
    assert!(r.scores.ari >= 0.9, "{r:?}");
    assert_eq!(r.impure_clusters, 0, "{r:?}");
    assert_eq!(r.clusters_lost, 0, "{r:?}");
    // Chance is one copy in ~2.5; without a confidence, the copy with the most common words.
    assert!(r.kept_cleanest >= 0.85, "{r:?}");
    let web = evaluate(&base, &params, &Profile::web(), &DEFAULT_KEEP_ORDER, work.path()).unwrap();
    assert!(web.scores.recall < 0.5, "the web profile misses noisy copies: {web:?}");

    // The templated uniques: every one is its own document, and the evaluation counts each
    // one dedup removes. Neither profile removes any (the union-find of word-2-gram pairs
    // removed 196 of these 200 with `ocr`), and no planted cluster is left without a copy.
    let hard = PlantParams { hard_negatives: 200, ..params };
    let web = evaluate(&base, &hard, &Profile::web(), &DEFAULT_KEEP_ORDER, work.path()).unwrap();
    assert_eq!((web.negatives, web.negatives_removed), (200, 0), "{web:?}");
    let ocr = evaluate(&base, &hard, &Profile::ocr(), &DEFAULT_KEEP_ORDER, work.path()).unwrap();
    assert_eq!((ocr.negatives, ocr.negatives_removed, ocr.clusters_lost), (200, 0, 0), "{ocr:?}");
    assert!(ocr.scores.precision == 1.0 && ocr.scores.recall >= 0.95, "{ocr:?}");

    // Copies at 10–20% character noise (word-2-gram Jaccard 0.02–0.24), with no OCR
    // confidence to tell the clean copy: found, and the templated uniques still all kept.
    let heavy = PlantParams { char_noise: Some((0.10, 0.20)), ..hard };
    let r = evaluate(&base, &heavy, &Profile::ocr(), &DEFAULT_KEEP_ORDER, work.path()).unwrap();
    eprintln!("ocr profile at 10–20% character noise: {r:?}");
    assert!(r.mean_jaccard_w3 < 0.1, "heavy noise: word-3-gram Jaccard {:.3}", r.mean_jaccard_w3);
    assert_eq!((r.negatives_removed, r.clusters_lost, r.impure_clusters), (0, 0, 0), "{r:?}");
    assert!(r.scores.recall >= 0.9, "{r:?}");
    assert!(r.kept_cleanest >= 0.9, "the clean original is kept without a confidence: {r:?}");

    // Excerpts (a fifth to a half of an original, noisy like the copies) beside the templated
    // uniques: found contained in their original's cluster, and nothing else flagged.
    let excerpts = PlantParams { excerpts: 100, ..hard };
    let r = evaluate(&base, &excerpts, &Profile::ocr(), &DEFAULT_KEEP_ORDER, work.path()).unwrap();
    eprintln!("{}", r.render_excerpts().unwrap());
    assert_eq!(r.excerpts, 100);
    assert!(r.excerpts_found >= 80, "{r:?}");
    assert_eq!((r.others_flagged, r.negatives_removed, r.clusters_lost), (0, 0, 0), "{r:?}");
}

/// Mastheads and continuation lines that recur across a source's documents are removed from
/// the text, counted in the manifest; the same lines in another source stay.
#[test]
fn boilerplate_lines_are_removed_per_source() {
    let input = tempfile::tempdir().unwrap();
    let mut f = std::fs::File::create(input.path().join("c.jsonl")).unwrap();
    let texts = base_texts();
    for (i, t) in texts.iter().enumerate().take(25) {
        let body: String = t.split_whitespace().take(120).collect::<Vec<_>>().join(" ");
        let text = format!("STOCKHOLMS KURIR\n{body}\nFortsättning å sid. {}", i % 7 + 2);
        let source = if i < 22 { "Stockholms Kurir" } else { "Aftonbladet" };
        writeln!(f, "{}", serde_json::json!({"text": text, "source": source})).unwrap();
    }
    drop(f);
    let ingested = tempfile::tempdir().unwrap();
    run(&config("[[collection]]\nname = \"c\"\npaths = [\"c.jsonl\"]\n"), input.path(), ingested.path(), |_| {});
    let out = tempfile::tempdir().unwrap();
    let mut o = DedupOptions::new(out.path());
    o.boilerplate_min_docs = 20;
    let s = dedup(ingested.path(), &o).unwrap();
    assert_eq!(s.counts.lines_removed.get("boilerplate"), Some(&44), "{:?}", s.counts);
    let m = kbcurate::dataset::Manifest::read(out.path()).unwrap();
    assert_eq!(m.counts.lines_removed.get("boilerplate"), Some(&44));
    let docs = documents(out.path());
    assert_eq!(docs.len(), 25);
    for d in &docs {
        let kurir = d.source.as_deref() == Some("Stockholms Kurir");
        assert_eq!(d.text.contains("STOCKHOLMS KURIR"), !kurir, "{}", d.text);
        assert_eq!(d.text.contains("Fortsättning"), !kurir);
        assert_eq!(d.n_chars as usize, d.text.chars().count());
    }
}

/// `--against`: documents that duplicate an earlier release are removed and name the earlier
/// document; the earlier documents themselves are not written again.
#[test]
fn against_an_earlier_release() {
    let texts = base_texts();
    let (a_in, b_in) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_jsonl(a_in.path(), texts[..20].to_vec());
    let mut b_rows: Vec<String> = texts[10..30].to_vec();
    b_rows.extend(texts[..5].iter().map(|t| noisy(t)));
    write_jsonl(b_in.path(), b_rows);
    let cfg = config("[[collection]]\nname = \"c\"\npaths = [\"c.jsonl\"]\n");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run(&cfg, a_in.path(), a.path(), |_| {});
    run(&cfg, b_in.path(), b.path(), |_| {});
    let a_ids: std::collections::BTreeSet<String> = documents(a.path()).into_iter().map(|d| d.id).collect();
    let out = tempfile::tempdir().unwrap();
    let mut o = DedupOptions::new(out.path());
    o.against = vec![a.path().to_path_buf()];
    let s = dedup(b.path(), &o).unwrap();
    assert_eq!(s.counts.input, 25);
    assert_eq!(s.counts.kept, 10, "{:?}", s.counts);
    let rej = rejections(out.path());
    assert_eq!(rej.len(), 15);
    for r in &rej {
        assert!(r.detail.contains("in the earlier dataset"), "{}", r.detail);
        let kept = r.detail.strip_prefix("kept ").unwrap().split_whitespace().next().unwrap();
        assert!(a_ids.contains(kept), "names a document of the earlier dataset");
    }
    let kept: Vec<String> = documents(out.path()).into_iter().map(|d| d.text).collect();
    assert!(kept.iter().all(|t| texts[20..30].contains(t)));
}

/// Many exact copies of a few documents: their lines are not boilerplate (copies count once),
/// the kept copies keep their whole text.
#[test]
fn repeated_documents_are_duplicates_not_boilerplate() {
    let texts = base_texts();
    let input = tempfile::tempdir().unwrap();
    let mut f = std::fs::File::create(input.path().join("c.jsonl")).unwrap();
    for _ in 0..25 {
        for t in &texts[..3] {
            writeln!(f, "{}", serde_json::json!({"text": t, "source": "Kuriren"})).unwrap();
        }
    }
    drop(f);
    let ingested = tempfile::tempdir().unwrap();
    run(&config("[[collection]]\nname = \"c\"\npaths = [\"c.jsonl\"]\n"), input.path(), ingested.path(), |_| {});
    let out = tempfile::tempdir().unwrap();
    let s = dedup(ingested.path(), &DedupOptions::new(out.path())).unwrap();
    assert_eq!(s.counts.kept, 3, "{:?}", s.counts);
    assert_eq!(s.counts.rejected.get("exact-duplicate"), Some(&72));
    assert!(s.counts.lines_removed.is_empty(), "{:?}", s.counts.lines_removed);
    let mut kept: Vec<String> = documents(out.path()).into_iter().map(|d| d.text).collect();
    kept.sort();
    let mut want: Vec<String> = texts[..3].iter().map(|t| t.trim().to_string()).collect();
    want.sort();
    assert_eq!(kept, want);
}

/// An interrupted dedup run, rerun, gives the same dataset.
#[test]
fn an_interrupted_dedup_resumes_to_the_same_dataset() {
    let (_input, ingested) = corpus();
    let full = tempfile::tempdir().unwrap();
    dedup(ingested.path(), &DedupOptions::new(full.path())).unwrap();
    let again = tempfile::tempdir().unwrap();
    dedup(ingested.path(), &DedupOptions::new(again.path())).unwrap();
    let dir = again.path();
    std::fs::remove_file(dir.join("manifest.json")).unwrap();
    std::fs::remove_file(dir.join("_parts/part-00000.json")).unwrap();
    std::fs::rename(dir.join("data/part-00000.parquet"), dir.join("data/.tmp-part-00000.parquet")).unwrap();
    dedup(ingested.path(), &DedupOptions::new(dir)).unwrap();
    assert_eq!(files(full.path()), files(dir));
}

/// Files are not synced as they are written, so a machine crash can leave a step's file empty
/// or short while its completion marker survives. The marker names its files' sizes: a file
/// cut short voids it and the work is redone, giving the same dataset as an undisturbed run.
#[test]
fn files_cut_short_by_a_crash_are_redone_not_trusted() {
    use kbcurate::dedup::stage::{dedup_step, Shard, Step};
    let (_input, ingested) = corpus();
    let whole = tempfile::tempdir().unwrap();
    dedup(ingested.path(), &DedupOptions::new(whole.path())).unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = DedupOptions::new(out.path());
    let step = |s: Step| dedup_step(ingested.path(), &o, s, Shard::WHOLE).unwrap();
    for s in [Step::Lines, Step::Boilerplate, Step::Signatures, Step::Cluster] {
        step(s);
    }
    let work = out.path().join("_work");
    let cut = |name: &str, len: u64| {
        let f = std::fs::OpenOptions::new().write(true).open(work.join(name)).unwrap();
        assert!(f.metadata().unwrap().len() > len, "{name} is already that short");
        f.set_len(len).unwrap();
    };
    cut("lines-0.run", 0);
    cut("sig-1.bin", 100);
    cut("keys-2.run", 0);
    let decisions = std::fs::metadata(work.join("decisions-0.bin")).unwrap().len();
    cut("decisions-0.bin", decisions / 2);
    // Only the parts whose files were cut are redone.
    assert_eq!(step(Step::Lines).parts, 1);
    step(Step::Boilerplate);
    assert_eq!(step(Step::Signatures).parts, 2);
    step(Step::Cluster);
    assert_eq!(std::fs::metadata(work.join("decisions-0.bin")).unwrap().len(), decisions);
    step(Step::Filter);
    let s = step(Step::Finalize).summary.unwrap();
    assert!(s.counts.reconciles());
    assert_eq!(files(whole.path()), files(out.path()));
}

/// A dataset whose part is not the size its manifest records (cut short by a crash before it
/// reached the disk) is refused when opened, naming the part, before a stage reads from it.
#[test]
fn a_dataset_part_cut_short_is_named_when_opened() {
    let (_input, ingested) = corpus();
    let part = ingested.path().join("data/part-00001.parquet");
    let len = std::fs::metadata(&part).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&part).unwrap().set_len(len - 10).unwrap();
    let out = tempfile::tempdir().unwrap();
    let e = dedup(ingested.path(), &DedupOptions::new(out.path())).unwrap_err().to_string();
    assert!(e.contains("data/part-00001.parquet") && e.contains("cut short"), "{e}");
    assert!(e.contains(&format!("{} bytes, the manifest says {len}", len - 10)), "{e}");
}

/// The steps run as separate processes, the per-part ones in shards (as Slurm array tasks
/// would), give the same dataset as one `kbcurate dedup`.
#[test]
fn steps_in_shards_give_the_same_dataset_as_one_run() {
    use kbcurate::dedup::stage::{dedup_step, Shard, Step};
    let (_input, ingested) = corpus();
    let n_parts = kbcurate::dataset::Dataset::open(ingested.path()).unwrap().manifest.parts.len();
    assert!(n_parts >= 3, "the test needs several parts, got {n_parts}");
    let whole = tempfile::tempdir().unwrap();
    dedup(ingested.path(), &DedupOptions::new(whole.path())).unwrap();
    let stepped = tempfile::tempdir().unwrap();
    let o = DedupOptions::new(stepped.path());
    // Out of order: a clear error naming the step to run first.
    let e = dedup_step(ingested.path(), &o, Step::Cluster, Shard::WHOLE).unwrap_err().to_string();
    assert!(e.contains("run step `signatures`"), "{e}");
    let e = dedup_step(ingested.path(), &o, Step::Cluster, Shard { index: 0, count: 2 }).unwrap_err().to_string();
    assert!(e.contains("single job"), "{e}");
    let mut summary = None;
    for step in Step::ALL {
        let shards = if step.per_part() { 2 } else { 1 };
        // Shards in reverse order: no shard may depend on another having run first.
        for index in (0..shards).rev() {
            let r = dedup_step(ingested.path(), &o, step, Shard { index, count: shards }).unwrap();
            summary = r.summary.or(summary);
        }
    }
    let s = summary.unwrap();
    assert!(s.counts.reconciles());
    assert_eq!(s.counts.rejected.values().sum::<u64>(), 20, "{:?}", s.counts);
    assert_eq!(files(whole.path()), files(stepped.path()));
}

/// `--save-index` writes the kept documents' signatures; `--against` the index gives the same
/// decisions as `--against` the dataset, and a bare index folder works too.
#[test]
fn against_a_saved_index() {
    let texts = base_texts();
    let (a_in, b_in) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // The first release has its own duplicates (5 noisy copies), which the index must not hold.
    let mut a_rows = texts[..20].to_vec();
    a_rows.extend(texts[..5].iter().map(|t| noisy(t)));
    write_jsonl(a_in.path(), a_rows);
    let mut b_rows: Vec<String> = texts[10..30].to_vec();
    b_rows.extend(texts[..5].iter().map(|t| noisy(t)));
    write_jsonl(b_in.path(), b_rows);
    let cfg = config("[[collection]]\nname = \"c\"\npaths = [\"c.jsonl\"]\n");
    let (a_ing, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run(&cfg, a_in.path(), a_ing.path(), |_| {});
    run(&cfg, b_in.path(), b.path(), |_| {});
    // Release A, deduplicated, with its index.
    let a = tempfile::tempdir().unwrap();
    let mut oa = DedupOptions::new(a.path());
    oa.save_index = true;
    let sa = dedup(a_ing.path(), &oa).unwrap();
    assert_eq!(sa.counts.kept, 20);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.path().join("index/index.json")).unwrap()).unwrap();
    let rows: u64 = index["parts"].as_array().unwrap().iter().map(|p| p["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, 20, "the index holds the kept documents only");

    let decisions = |against: &std::path::Path| {
        let out = tempfile::tempdir().unwrap();
        let mut o = DedupOptions::new(out.path());
        o.against = vec![against.to_path_buf()];
        let s = dedup(b.path(), &o).unwrap();
        let mut rej: Vec<(String, String)> = rejections(out.path()).into_iter().map(|r| (r.id, r.detail)).collect();
        rej.sort();
        let manifest = std::fs::read_to_string(out.path().join("manifest.json")).unwrap();
        (s.counts, rej, manifest.contains("\"index\""))
    };
    // A's folder: read through its index. A copy of A without the index: from the text.
    let (via_index, rej_index, used_index) = decisions(a.path());
    assert!(used_index, "the dataset's saved index is used");
    let plain = tempfile::tempdir().unwrap();
    for (name, bytes) in files(a.path()) {
        if !name.starts_with("index/") {
            let p = plain.path().join(&name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
    }
    let (via_text, rej_text, used) = decisions(plain.path());
    assert!(!used);
    assert_eq!(via_index.kept, 10, "{via_index:?}");
    assert_eq!(via_index, via_text);
    assert_eq!(rej_index, rej_text);
    // The index folder alone.
    let (alone, rej_alone, _) = decisions(&a.path().join("index"));
    assert_eq!(alone, via_index);
    assert_eq!(rej_alone, rej_index);
    // An index made with another profile is refused, naming it.
    let out = tempfile::tempdir().unwrap();
    let mut o = DedupOptions::new(out.path());
    o.profile = kbcurate::dedup::profile::Profile::web();
    o.against = vec![a.path().join("index")];
    let e = dedup(b.path(), &o).unwrap_err().to_string();
    assert!(e.contains("another dedup profile"), "{e}");
}

/// `(id, title, contained_in, contained_score)` of every kept document.
fn containment_columns(dir: &std::path::Path) -> Vec<(String, String, Option<String>, Option<f32>)> {
    use arrow_array::cast::AsArray;
    use arrow_array::Array;
    let ds = kbcurate::dataset::Dataset::open(dir).unwrap();
    let mut out = Vec::new();
    for p in &ds.manifest.parts {
        for b in ds.batches(p).unwrap() {
            let b = b.unwrap();
            let s = |n: &str| b.column_by_name(n).unwrap().as_string::<i32>().clone();
            let (ids, titles, within) = (s("id"), s("title"), s("contained_in"));
            let score =
                b.column_by_name("contained_score").unwrap().as_primitive::<arrow_array::types::Float32Type>().clone();
            for r in 0..b.num_rows() {
                out.push((
                    ids.value(r).to_string(),
                    titles.value(r).to_string(),
                    within.is_valid(r).then(|| within.value(r).to_string()),
                    score.is_valid(r).then(|| score.value(r)),
                ));
            }
        }
    }
    out
}

/// Pages of two articles each, a noisy excerpt of each page's first article (one of them
/// twice), and templated notices: a page of ship arrivals and short lists of other arrivals.
fn containment_corpus() -> (tempfile::TempDir, tempfile::TempDir) {
    let texts = base_texts();
    let input = tempfile::tempdir().unwrap();
    let mut f = std::fs::File::create(input.path().join("corpus.jsonl")).unwrap();
    let mut put = |text: String, title: String| {
        writeln!(f, "{}", serde_json::json!({"text": text, "title": title})).unwrap();
    };
    for k in 0..5 {
        put(format!("{}\n{}", texts[2 * k], texts[2 * k + 1]), format!("page {k}"));
        put(noisy(&texts[2 * k]), format!("excerpt {k}"));
    }
    put(noisy(&texts[0]), "excerpt 0 again".into());
    // Arrivals drawn from short lists: a long page of them, and short lists that share its
    // form and its words but not its entries.
    let (ships, masters, ports, cargo) = (
        ["Vega", "Oscar", "Freja", "Svea", "Drott", "Thule", "Ceres", "Hoppet"],
        ["Berg", "Holm", "Lind", "Ek", "Dahl", "Fors", "Ström", "Wik"],
        ["Riga", "Hull", "Kiel", "Memel", "Reval", "Åbo", "Danzig", "Lübeck"],
        ["salt", "sill", "tegel", "vin", "kaffe", "socker", "spannmål", "stenkol"],
    );
    let mut x = 7u64;
    let mut pick = move |n: usize| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((x >> 33) % n as u64) as usize
    };
    let mut arrivals = |n: usize| {
        (0..n)
            .map(|_| {
                format!(
                    "{}, kapten {}, från {}, med {}.",
                    ships[pick(8)],
                    masters[pick(8)],
                    ports[pick(8)],
                    cargo[pick(8)]
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    put(format!("Ankomne fartyg till Stockholm. {}", arrivals(60)), "arrivals page".into());
    for k in 0..4 {
        put(format!("Ankomne fartyg. {}", arrivals(14)), format!("arrivals list {k}"));
    }
    drop(f);
    let ingested = tempfile::tempdir().unwrap();
    let cfg = config("[[collection]]\nname = \"c\"\npaths = [\"corpus.jsonl\"]\n");
    run(&cfg, input.path(), ingested.path(), |_| {});
    (input, ingested)
}

#[test]
fn a_passage_of_a_longer_document_is_flagged_or_removed() {
    use kbcurate::dedup::containment::ContainedPolicy;
    let (_input, ingested) = containment_corpus();

    // Flag (the default): every document kept but the exact copy of an excerpt; each excerpt
    // names its page, and nothing else is flagged.
    let out = tempfile::tempdir().unwrap();
    let s = dedup(ingested.path(), &DedupOptions::new(out.path())).unwrap();
    assert!(s.counts.reconciles(), "{:?}", s.counts);
    assert_eq!((s.counts.input, s.counts.kept), (16, 15), "{:?}", s.counts);
    let kept = containment_columns(out.path());
    let id_of = |title: &str| kept.iter().find(|d| d.1 == title).map(|d| d.0.clone()).unwrap();
    for (_, title, within, score) in &kept {
        match title.strip_prefix("excerpt ").map(|k| k.split(' ').next().unwrap()) {
            Some(k) => {
                assert_eq!(within.as_deref(), Some(id_of(&format!("page {k}")).as_str()), "{title}");
                assert!(score.is_some_and(|s| (0.66..=1.0).contains(&s)), "{title}: {score:?}");
            }
            None => assert_eq!((within, score), (&None, &None), "{title} is in no longer document"),
        }
    }
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["stats"]["contained"], 5, "{}", m["stats"]);
    // More passages were measured than excerpts found: the arrival lists met the page as
    // candidates and were turned away by the alignment, not left unseen.
    assert!(m["stats"]["contained_pairs"].as_u64().unwrap() > 5, "{}", m["stats"]);

    // Remove: the excerpts and the excerpt's copy go to `rejected/`, each naming its page.
    let out = tempfile::tempdir().unwrap();
    let mut o = DedupOptions::new(out.path());
    o.contained = ContainedPolicy::Remove;
    let s = dedup(ingested.path(), &o).unwrap();
    assert!(s.counts.reconciles(), "{:?}", s.counts);
    assert_eq!(s.counts.rejected.get("contained"), Some(&6), "{:?}", s.counts);
    assert_eq!(s.counts.kept, 10);
    let pages: std::collections::BTreeMap<String, String> = containment_columns(out.path())
        .into_iter()
        .filter(|d| d.1.starts_with("page "))
        .map(|d| (d.1.clone(), d.0.clone()))
        .collect();
    let titles: std::collections::BTreeMap<String, String> =
        documents(ingested.path()).into_iter().map(|d| (d.id, d.title.unwrap())).collect();
    for r in rejections(out.path()) {
        let k = titles[&r.id].strip_prefix("excerpt ").unwrap().split(' ').next().unwrap().to_string();
        let page = &pages[&format!("page {k}")];
        assert!(r.detail.starts_with(&format!("contained in {page} ")), "{}", r.detail);
        assert!(r.score.is_some_and(|s| s >= 0.66), "{:?}", r.score);
        assert!(r.text.is_some());
    }

    // Against an earlier release that holds the pages: a new release's excerpts are removed
    // in favour of the earlier pages, and say so.
    let texts = base_texts();
    let (a_in, b_in) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_jsonl(a_in.path(), (0..5).map(|k| format!("{}\n{}", texts[2 * k], texts[2 * k + 1])).collect());
    write_jsonl(b_in.path(), (0..5).map(|k| noisy(&texts[2 * k])).collect());
    let cfg = config("[[collection]]\nname = \"c\"\npaths = [\"c.jsonl\"]\n");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run(&cfg, a_in.path(), a.path(), |_| {});
    run(&cfg, b_in.path(), b.path(), |_| {});
    let a_ids: std::collections::BTreeSet<String> = documents(a.path()).into_iter().map(|d| d.id).collect();
    let out = tempfile::tempdir().unwrap();
    let mut o = DedupOptions::new(out.path());
    o.contained = ContainedPolicy::Remove;
    o.against = vec![a.path().to_path_buf()];
    let s = dedup(b.path(), &o).unwrap();
    assert_eq!((s.counts.input, s.counts.kept), (5, 0), "{:?}", s.counts);
    for r in rejections(out.path()) {
        assert_eq!(r.reason, "contained");
        let page = r.detail.strip_prefix("contained in ").unwrap().split_whitespace().next().unwrap();
        assert!(a_ids.contains(page) && r.detail.ends_with("; in the earlier dataset)"), "{}", r.detail);
    }

    // Off: nothing looked for, nothing flagged.
    let out = tempfile::tempdir().unwrap();
    let mut o = DedupOptions::new(out.path());
    o.contained = ContainedPolicy::Off;
    dedup(ingested.path(), &o).unwrap();
    assert!(containment_columns(out.path()).iter().all(|d| d.2.is_none()));
}

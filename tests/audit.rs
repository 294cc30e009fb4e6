//! `kbcurate audit` on the demo pipeline (ingest → dedup → balance), and the report in a
//! real browser (Debian's chromium, headless) where one is installed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn demo_run() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo();
    let cfg = kbcurate::ingest::config::IngestConfig::from_file(&repo.join("data-samples/collections.toml")).unwrap();
    let ingested = dir.path().join("ingested");
    run(&cfg, &repo.join("data-samples"), &ingested, |_| {});
    let deduped = dir.path().join("deduped");
    kbcurate::dedup::stage::dedup(&ingested, &kbcurate::dedup::stage::DedupOptions::new(&deduped)).unwrap();
    let balanced = dir.path().join("balanced");
    let policy = kbcurate::balance::policy::Policy::read(&repo.join("policies/democratic.toml")).unwrap();
    kbcurate::balance::stage::balance(&deduped, &policy, &kbcurate::balance::stage::BalanceOptions::new(&balanced))
        .unwrap();
    // Shards beside the balanced dataset, with a built-in (offline) vocabulary.
    let mut t = kbcurate::tokenize::stage::TokenizeOptions::new(dir.path().join("shards"), "cl100k_base", 512);
    t.eos = Some("<|endoftext|>".parse().unwrap());
    t.pad = Some("<|endoftext|>".parse().unwrap());
    kbcurate::tokenize::stage::tokenize(&balanced, &t).unwrap();
    (dir, balanced)
}

#[test]
fn report_numbers_follow_the_manifests_and_the_data() {
    let (dir, balanced) = demo_run();
    let out = dir.path().join("audit");
    // The run folder is accepted too: its most downstream stage is audited.
    let r = kbcurate::audit::audit(dir.path(), &out).unwrap();
    assert_eq!(r.stage, "balance");
    let stages: Vec<&str> = r.stages.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(stages, ["ingest", "dedup", "balance"]);
    for (s, name) in r.stages.iter().zip(["ingested", "deduped", "balanced"]) {
        let m = kbcurate::dataset::Manifest::read(&dir.path().join(name)).unwrap();
        assert_eq!(s.counts, m.counts, "{name}");
    }
    // Composition counts the balanced documents with their repeats.
    let docs = documents(&balanced);
    let ds = kbcurate::dataset::Dataset::open(&balanced).unwrap();
    let mut repeats = 0u64;
    for p in &ds.manifest.parts {
        for b in ds.batches(p).unwrap() {
            let b = b.unwrap();
            let c = b.column_by_name("repeats").unwrap();
            repeats += arrow_array::cast::AsArray::as_primitive::<arrow_array::types::UInt32Type>(c)
                .values()
                .iter()
                .map(|v| *v as u64)
                .sum::<u64>();
        }
    }
    let c = &r.composition;
    assert!(c.repeats);
    assert_eq!(c.total.docs, docs.len() as u64);
    assert_eq!(c.total.docs_repeated, repeats);
    assert_eq!(c.total.chars, docs.iter().map(|d| d.n_chars as u64).sum::<u64>());
    let by_genre: u64 = c.by["genre"].values().map(|t| t.docs).sum();
    assert_eq!(by_genre, docs.len() as u64);
    assert!(c.by["ocr_confidence"].contains_key("(none)"), "born-digital documents have no confidence");
    assert!(!r.dup_examples.is_empty(), "the demo has near-duplicates");
    assert!(r.rejected_examples.contains_key("balanced-out") && r.rejected_examples.contains_key("near-duplicate"));
    // Files: JSON parses back; HTML is self-contained; the datasheet has its sections.
    let json: kbcurate::audit::Report =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(json.composition.total, c.total);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.matches("<svg").count() >= 8, "charts are inline SVG");
    assert!(!html.contains("<script") && !html.contains("src=\"http") && !html.contains("href=\"http"));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for section in ["## Motivation", "## Composition", "## Collection and preprocessing", "## Uses", "## Provenance"] {
        assert!(md.contains(section), "{section}");
    }
    // Compare: the deduped dataset against the balanced one.
    // Tokens from the shards' manifest, per split and per genre.
    let shards: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("shards/manifest.json")).unwrap()).unwrap();
    let tokens = r.tokens.as_ref().expect("the shards beside the dataset are found");
    assert_eq!(tokens["splits"]["train"]["packing"]["tokens"], shards["splits"]["train"]["packing"]["tokens"]);
    let by_genre: u64 = tokens["splits"]["train"]["tokens_by"]["genre"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(by_genre > 0);
    assert!(html.contains("id=\"tokens\"") && html.contains("Training tokens by genre"));
    let cmp = kbcurate::audit::compare(&dir.path().join("deduped"), &balanced).unwrap();
    assert!(cmp.contains("genre (share of characters)") && cmp.contains(" pp"), "{cmp}");
}

/// The browser: `KBCURATE_CHROMIUM` when set (a path that does not exist stands for a machine
/// without one), else Debian's or Ubuntu's; otherwise skips (component `chromium`).
fn chromium() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var_os("KBCURATE_CHROMIUM") {
        Some(p) => vec![PathBuf::from(p)],
        None => ["/usr/bin/chromium", "/usr/bin/chromium-browser"].iter().map(PathBuf::from).collect(),
    };
    candidates.iter().find(|p| p.exists()).cloned().or_else(|| {
        let names: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        skip(
            "chromium",
            &format!("chromium is not installed ({}; .ci/run installs Debian's chromium package)", names.join(", ")),
        );
        None
    })
}

fn headless(chromium: &Path, profile: &Path, args: &[String]) -> std::process::Output {
    Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--enable-logging=stderr", "--v=0", "--window-size=1200,2400", "--hide-scrollbars"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn report_renders_in_a_real_browser() {
    let Some(chromium) = chromium() else { return };
    let (dir, balanced) = demo_run();
    let out = dir.path().join("audit");
    kbcurate::audit::audit(&balanced, &out).unwrap();
    let url = format!("file://{}", out.join("report.html").display());
    let shot = dir.path().join("report.png");
    let o =
        headless(&chromium, &dir.path().join("profile-1"), &[format!("--screenshot={}", shot.display()), url.clone()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(!stderr.contains("CONSOLE"), "console messages: {stderr}");
    // The same size of screenshot of a blank page, for scale.
    let blank_page = dir.path().join("blank.html");
    std::fs::write(&blank_page, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let blank = dir.path().join("blank.png");
    let o2 = headless(
        &chromium,
        &dir.path().join("profile-2"),
        &[format!("--screenshot={}", blank.display()), format!("file://{}", blank_page.display())],
    );
    assert!(o2.status.success());
    let (png, blank_png) = (std::fs::read(&shot).unwrap(), std::fs::read(&blank).unwrap());
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 8 * blank_png.len(), "the report is not blank: {} vs {} bytes", png.len(), blank_png.len());
    // It prints: a PDF of several pages.
    let pdf = dir.path().join("report.pdf");
    let o =
        headless(&chromium, &dir.path().join("profile-4"), &[format!("--print-to-pdf={}", pdf.display()), url.clone()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pdf = std::fs::read(&pdf).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    // Page objects: `/Type /Page` (or `/Type/Page`) not followed by `s` (`/Pages` is the tree).
    let pages = [&b"/Type /Page"[..], &b"/Type/Page"[..]]
        .iter()
        .map(|pat| pdf.windows(pat.len() + 1).filter(|w| w.starts_with(pat) && w[pat.len()] != b's').count())
        .sum::<usize>();
    assert!(pages >= 2, "{pages} pages");
    // The rendered DOM: charts with bars, the sections, text laid out.
    let o = headless(&chromium, &dir.path().join("profile-3"), &["--dump-dom".to_string(), url]);
    let dom = String::from_utf8_lossy(&o.stdout);
    assert!(dom.matches("<svg").count() >= 8 && dom.matches("<rect").count() >= 30, "{}", &dom[..dom.len().min(500)]);
    for id in ["funnel", "composition", "dedup", "balance", "tokens", "examples", "provenance"] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "section {id}");
    }
}

/// `schemas/report.schema.json` lists exactly the keys `report.json` has, at every level.
#[test]
fn report_schema_matches_what_is_written() {
    let (dir, balanced) = demo_run();
    let r = kbcurate::audit::audit(&balanced, &dir.path().join("a")).unwrap();
    let v = serde_json::to_value(&r).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("schemas/report.schema.json")).unwrap()).unwrap();
    let keys = |o: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = o.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let props = &schema["properties"];
    assert_eq!(keys(&v), keys(props));
    assert_eq!(keys(&v["stages"][0]), keys(&props["stages"]["items"]["properties"]));
    assert_eq!(keys(&v["composition"]), keys(&props["composition"]["properties"]));
    assert_eq!(keys(&v["composition"]["total"]), keys(&schema["$defs"]["tally"]["properties"]));
    assert_eq!(keys(&v["kept_examples"][0]), keys(&schema["$defs"]["example"]["properties"]));
    assert_eq!(keys(&v["dup_examples"][0]), keys(&props["dup_examples"]["items"]["properties"]));
}

/// The report reads a tokenize manifest it finds beside the dataset, a file it did not write:
/// a crafted value in it reaches the page as text, never as markup.
#[test]
fn values_from_a_sibling_manifest_are_not_markup() {
    let (dir, balanced) = demo_run();
    let path = dir.path().join("shards/manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let evil = "<script>alert(1)</script>";
    m["seq_len"] = evil.into();
    m["format"] = evil.into();
    for (_, s) in m["splits"].as_object_mut().unwrap() {
        s["documents_with_repeats"] = evil.into();
        s["packing"]["windows"] = evil.into();
        s["packing"]["truncated_documents"] = evil.into();
    }
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    let out = dir.path().join("audit");
    kbcurate::audit::audit(&balanced, &out).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("id=\"tokens\""), "the tokens section is still there");
    assert!(!html.contains("<script"), "a manifest value became markup");
    assert!(html.contains("&lt;script&gt;"), "the string value is shown, escaped");
}

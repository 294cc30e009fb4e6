//! Ingest of the real public samples in `../shared/data` (skipped with a printed reason when
//! the folder is absent): every file under alto, hocr, page_xml, tei and transcripts.

mod common;

use common::*;
use kbcurate::document::Document;

fn ingest_folder(rel: &str) -> Option<(tempfile::TempDir, Vec<Document>, Vec<kbcurate::document::Rejection>)> {
    let dir = shared(rel)?;
    let cfg = config(&format!("[[collection]]\nname = \"{rel}\"\npaths = [\"{}\"]\n", dir.display()));
    let out = tempfile::tempdir().unwrap();
    let s = run(&cfg, &dir, out.path(), |_| {});
    assert!(s.counts.reconciles(), "{:?}", s.counts);
    let docs = documents(out.path());
    let rej = rejections(out.path());
    assert_eq!(docs.len() as u64, s.counts.kept);
    Some((out, docs, rej))
}

fn by_path<'a>(docs: &'a [Document], suffix: &str) -> &'a Document {
    docs.iter().find(|d| d.path.ends_with(suffix)).unwrap_or_else(|| panic!("no document from {suffix}"))
}

/// Words as alphanumeric runs: ALTO ground truth tokenizes punctuation separately, PAGE does not.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect()
}

#[test]
fn alto_and_mets_packages() {
    let Some((_out, docs, rej)) = ingest_folder("alto") else { return };
    // The 1749 book is one document from its mets.xml; its 63 pages are not read again alone.
    let book = by_path(&docs, "natlibfi_swedish_1749_oeconomisk_beskrifning_abo/mets.xml");
    assert!(!docs.iter().any(|d| d.path.ends_with("natlibfi_swedish_1749_oeconomisk_beskrifning_abo/0010.xml")));
    assert_eq!(book.title.as_deref(), Some("Oeconomisk beskrifning öfwer Åbo stad"), "title from MARC 245");
    assert_eq!(book.year, Some(1749), "year from MARC 260$c");
    assert_eq!(book.decade, Some(1740));
    assert_eq!(book.genre.as_deref(), Some("book"), "MARC leader: language material, monograph");
    assert_eq!(book.language.as_deref(), Some("swe"));
    assert_eq!(book.author.as_deref(), Some("Mennander, Carl Fredrik"));
    assert!(book.text.contains("Wetentkaps"), "hyphenated word joined across lines");
    assert!(!book.text.split_whitespace().any(|w| w == "tentkaps"));
    let c = book.ocr_confidence.expect("ocr_confidence from WC");
    assert!((0.5..0.9).contains(&c), "{c}");
    let meta: serde_json::Value = serde_json::from_str(&book.meta).unwrap();
    assert_eq!(meta["pages_listed"], 63);
    assert_eq!(meta["blank_pages"], 7);
    assert_eq!(meta["metadata_from"], "marc");

    // The BnF issue: MODS metadata from its METS.
    let bnf = by_path(&docs, "18140401_1-METS.xml");
    assert_eq!(bnf.date, Some(kbcurate::date::days_from_civil(1814, 4, 1)));
    assert_eq!(bnf.language.as_deref(), Some("fra"));

    // Every ALTO page outside a package is its own document, with confidence.
    for p in [
        "lunion_1860-11-30_01-00001.alto3.xml",
        "AdresseContoirsEfterretninger-1795-06-16-0018B.alto2.xml",
        "es-scbg_bblg_18950101_0006.alto4.xml",
        "sn86069133_1910-10-31_ed-1_seq-1.alto_ccs.xml",
    ] {
        let d = by_path(&docs, p);
        assert!(d.n_words > 100, "{p}: {} words", d.n_words);
        assert!(d.ocr_confidence.is_some(), "{p}");
    }
    // Only the illustration index of the 1749 package is not text.
    let reasons: Vec<(&str, &str)> =
        rej.iter().map(|r| (r.path.rsplit('/').next().unwrap(), r.reason.as_str())).collect();
    assert_eq!(reasons, [("imageIndex.xml", "unknown-format")]);
}

#[test]
fn kant_ground_truth_page_and_alto_agree() {
    let Some((_out, docs, _)) = ingest_folder("page_xml") else { return };
    let page = by_path(&docs, "kant_1784_p17.groundtruth.page.xml");
    let alto = by_path(&docs, "kant_1784_p17.groundtruth.alto.xml");
    assert_eq!(page.format, "page");
    assert_eq!(alto.format, "alto");
    let (wp, wa) = (words(&page.text), words(&alto.text));
    assert!(wp.len() > 100);
    assert_eq!(wp, wa, "same words in the same order");
    // The three engines' outputs of the same page are each one document.
    for e in ["tesseract_frk", "ocropy_fraktur", "calamari_gt4histocr"] {
        let d = by_path(&docs, &format!("kant_1784_p17.{e}.page.xml"));
        assert!(d.n_words > 80, "{e}");
    }
}

#[test]
fn hocr_files() {
    let Some((_out, docs, rej)) = ingest_folder("hocr") else { return };
    assert!(rej.is_empty(), "{rej:?}");
    assert_eq!(docs.len(), 5);
    for d in &docs {
        assert_eq!(d.format, "hocr");
        assert!(d.n_words > 50, "{}: {} words", d.path, d.n_words);
    }
    let abbyy = by_path(&docs, "chronam_abbyy_seq-1.hocr.html");
    assert!(abbyy.text.contains("IMPORTANT CHANGE"));
    assert!(abbyy.ocr_confidence.is_some(), "x_wconf");
}

#[test]
fn tei_files() {
    let Some((_out, docs, _)) = ingest_folder("tei") else { return };
    let lybeck = by_path(&docs, "SWE1963958_Lybeck.xml");
    assert_eq!(lybeck.year, Some(1892));
    assert_eq!(lybeck.language.as_deref(), Some("swe"));
    assert!(lybeck.n_words > 5000);
    let strindberg = by_path(&docs, "strindberg-den-starkare.xml");
    assert!(strindberg.title.as_deref().unwrap().contains("starkare"), "{:?}", strindberg.title);
    assert_eq!(strindberg.language.as_deref(), Some("swe"));
}

#[test]
fn transcripts_give_one_document_per_recording_with_duration() {
    let Some((_out, docs, rej)) = ingest_folder("transcripts") else { return };
    assert!(rej.is_empty(), "{rej:?}");
    let expect = [
        ("1934_SF846.1.mpg.srt", "srt", 316.572),
        ("1946_SF1282.1.mpg.srt", "srt", 631.741),
        ("1924_SF444.1.mpg.srt", "srt", 673.16),
        ("H001CU21.riksdag_webtv_api.json", "asr-json", 252.0),
        ("2442207160019927321_480p.asr.ctm", "ctm", 251.9),
    ];
    assert_eq!(docs.len(), expect.len());
    for (file, format, duration) in expect {
        let d = by_path(&docs, file);
        assert_eq!(d.format, format, "{file}");
        let got = d.duration_s.unwrap_or_else(|| panic!("{file}: no duration"));
        assert!((got as f64 - duration).abs() < 0.5, "{file}: {got} s, expected {duration}");
        let meta: serde_json::Value = serde_json::from_str(&d.meta).unwrap();
        assert!(meta["segments"].as_array().is_some_and(|s| !s.is_empty()), "{file}: segment timings");
    }
    let riksdag = by_path(&docs, "H001CU21.riksdag_webtv_api.json");
    assert_eq!(riksdag.date, Some(kbcurate::date::days_from_civil(2013, 5, 22)));
    assert_eq!(by_path(&docs, "2442207160019927321_480p.asr.ctm").n_words, 596);
}

#[test]
fn newspaper_jsonl_with_metadata_mapping() {
    let Some(file) = shared("newspaper_text/newseye_sv_fi_pages.train_dev.jsonl") else { return };
    let cfg = config(&format!(
        "[[collection]]\nname = \"newseye\"\npaths = [\"{}\"]\ngenre = \"newspaper\"\n[collection.fields]\nid = \"document_id\"\n",
        file.display()
    ));
    let out = tempfile::tempdir().unwrap();
    let s = run(&cfg, file.parent().unwrap(), out.path(), |o| o.chunk = 64 << 10);
    assert!(s.counts.reconciles());
    let docs = documents(out.path());
    assert_eq!(docs.len(), 90);
    let langs: std::collections::BTreeSet<_> = docs.iter().filter_map(|d| d.language.clone()).collect();
    assert_eq!(langs, ["fin".to_string(), "swe".to_string()].into());
    for d in &docs {
        match d.year {
            Some(y) => assert!((1848..=1918).contains(&y), "{y}"),
            // A few pages have the date "--": kept as written, not guessed.
            None => assert!(d.meta.contains("\"date_text\":\"--\""), "{}", d.meta),
        }
    }
    assert!(docs.iter().filter(|d| d.year.is_some()).count() > 80);
    assert!(docs.iter().all(|d| d.meta.contains("\"source_id\"")));
}

//! `kbcurate balance` on skewed corpora where the right answer is known.

mod common;

use std::collections::BTreeMap;
use std::io::Write;

use common::*;
use kbcurate::balance::policy::Policy;
use kbcurate::balance::stage::{balance, plan, BalanceOptions};

/// 3,000 documents: 2,700 newspaper pages from the 1920s (long), 300 books from the 1880s,
/// a few short fragments. Text is made up, each document distinct.
fn skewed(part_size: u64) -> (tempfile::TempDir, tempfile::TempDir) {
    let input = tempfile::tempdir().unwrap();
    let mut f = std::fs::File::create(input.path().join("c.jsonl")).unwrap();
    for i in 0..3000u64 {
        let (genre, date, source) = if i % 10 == 0 {
            ("book", "1884", "Bonniers")
        } else if i % 2 == 0 {
            ("newspaper", "1923", "Dagens Nyheter")
        } else {
            ("newspaper", "1925", "Svenska Dagbladet")
        };
        let words = if i % 97 == 0 { 3 } else { 40 };
        let text: Vec<String> = (0..words).map(|w| format!("ord{}x{}", i, w % 7)).collect();
        writeln!(
            f,
            "{}",
            serde_json::json!({ "text": text.join(" "), "genre": genre, "date": date, "source": source })
        )
        .unwrap();
    }
    drop(f);
    let out = tempfile::tempdir().unwrap();
    let cfg = config("[[collection]]\nname = \"c\"\npaths = [\"c.jsonl\"]\n");
    run(&cfg, input.path(), out.path(), |o| o.part_size = part_size);
    (input, out)
}

const POLICY: &str = r#"
seed = 42
max_repeats = 4
[budget]
unit = "documents"
[select]
min_chars = 60
[dimension.genre]
strategy = "uniform"
[dimension.source]
max_share = 0.6
"#;

fn repeats(dir: &std::path::Path) -> BTreeMap<String, u32> {
    let ds = kbcurate::dataset::Dataset::open(dir).unwrap();
    let mut out = BTreeMap::new();
    for p in &ds.manifest.parts {
        for b in ds.batches(p).unwrap() {
            let b = b.unwrap();
            let ids = b.column_by_name("id").unwrap();
            let ids = arrow_array::cast::AsArray::as_string::<i32>(ids);
            let r = b.column_by_name("repeats").unwrap();
            let r = arrow_array::cast::AsArray::as_primitive::<arrow_array::types::UInt32Type>(r);
            for i in 0..b.num_rows() {
                out.insert(ids.value(i).to_string(), r.value(i));
            }
        }
    }
    out
}

#[test]
fn a_skewed_corpus_is_balanced_as_planned() {
    let (_i, ingested) = skewed(1 << 30);
    let policy = Policy::parse(POLICY, "p.toml").unwrap();
    let out = tempfile::tempdir().unwrap();
    let s = balance(ingested.path(), &policy, &BalanceOptions::new(out.path())).unwrap();
    assert!(s.counts.reconciles(), "{:?}", s.counts);
    assert_eq!(s.counts.input, 3000);
    // 31 fragments (every 97th document) are below min_chars.
    assert_eq!(s.counts.rejected.get("excluded"), Some(&31), "{:?}", s.counts);
    // Uniform genres: books (≈ 300) can give at most 4 × 300 of the 2,969 documents, so
    // their target moves from 50% to ≈ 40%, and the plan says so.
    let genre = &s.plan.dimensions[0];
    let book = genre.values.iter().find(|v| v.value == "book").unwrap();
    assert!((book.target - book.achieved).abs() < 0.005);
    // Analytically: 300 books less the 4 fragments among them (i ≡ 0 mod 970) leave 296, at
    // most 4 × 296 = 1,184 of the 2,969 documents the budget asks for: 0.3988.
    let analytic = 4.0 * 296.0 / 2969.0;
    assert!((book.target - analytic).abs() < 0.002, "target {} vs analytic {analytic}", book.target);
    assert!(s.plan.moved.iter().any(|m| m.starts_with("genre = book: 50.0%")), "{:?}", s.plan.moved);
    // Realized: counting repeats, the books' share of documents is near the target.
    let docs = documents(out.path());
    let reps = repeats(out.path());
    let (mut books, mut all) = (0u64, 0u64);
    for d in &docs {
        let r = reps[&d.id] as u64;
        assert!((1..=4).contains(&r), "repeats within the cap");
        all += r;
        if d.genre.as_deref() == Some("book") {
            books += r;
        }
    }
    assert_eq!(all, s.documents_with_repeats);
    let realized = books as f64 / all as f64;
    assert!((realized - book.target).abs() < 0.03, "realized {realized} vs target {}", book.target);
    assert!((all as f64 - 2969.0).abs() < 120.0, "budget: {all}");
    // Down-sampled newspapers are in rejected/ with their weight.
    let rej = rejections(out.path());
    assert_eq!(rej.len() as u64, s.counts.input - s.counts.kept);
    let out_of_balance: Vec<_> = rej.iter().filter(|r| r.reason == "balanced-out").collect();
    assert!(!out_of_balance.is_empty());
    assert!(out_of_balance.iter().all(|r| r.detail.contains("genre = newspaper") && r.detail.contains("seed 42")));
    assert!(std::fs::read_to_string(out.path().join("plan.json")).unwrap().contains("\"moved\""));
}

/// The same policy and seed give the same documents and repeats on any thread count and any
/// part layout (repeats come from a hash of the id, not the row).
#[test]
fn balancing_is_the_same_on_any_threads_and_parts() {
    let (_i, one_part) = skewed(1 << 30);
    let (_j, many_parts) = skewed(20_000);
    assert!(kbcurate::dataset::Dataset::open(many_parts.path()).unwrap().manifest.parts.len() > 3);
    let policy = Policy::parse(POLICY, "p.toml").unwrap();
    let run_with = |input: &std::path::Path, threads| {
        let out = tempfile::tempdir().unwrap();
        let mut o = BalanceOptions::new(out.path());
        o.threads = Some(threads);
        balance(input, &policy, &o).unwrap();
        out
    };
    let (a, b) = (run_with(one_part.path(), 1), run_with(one_part.path(), 3));
    assert_eq!(files(a.path()), files(b.path()), "byte-identical on 1 and 3 threads");
    let c = run_with(many_parts.path(), 2);
    assert_eq!(repeats(a.path()), repeats(c.path()), "same documents and repeats whatever the parts");
    // Another seed gives another sample.
    let mut other = policy.clone();
    other.seed = 43;
    let out = tempfile::tempdir().unwrap();
    balance(one_part.path(), &other, &BalanceOptions::new(out.path())).unwrap();
    assert_ne!(repeats(a.path()), repeats(out.path()));
}

/// Planning reads metadata only and reports strata the policy names but the data lacks.
#[test]
fn dry_run_plan_and_unknown_columns() {
    let (_i, ingested) = skewed(1 << 30);
    let p =
        Policy::parse("[dimension.genre]\nshares = { newspaper = 0.5, bok = 0.3, \"*\" = 0.2 }\n", "p.toml").unwrap();
    let (strata, planned) = plan(ingested.path(), &p).unwrap();
    assert_eq!(strata.input.docs, 3000);
    assert!(planned.warnings.iter().any(|w| w.contains("`bok` is not in the data") && w.contains("`book`")));
    let table = kbcurate::balance::solve::render(&planned);
    assert!(table.contains("genre (column `genre`, shares)") && table.contains("newspaper"), "{table}");
    let bad = Policy::parse("[dimension.era]\n", "p.toml").unwrap();
    let e = plan(ingested.path(), &bad).unwrap_err().to_string();
    assert!(e.contains("column `era`") && e.contains("decade"), "{e}");
    let date = Policy::parse("[dimension.date]\n", "p.toml").unwrap();
    let e = plan(ingested.path(), &date).unwrap_err().to_string();
    assert!(e.contains("`decade`, not `date`"), "{e}");
}

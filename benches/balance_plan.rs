//! Time and memory to plan a balance over a large corpus: writes a synthetic dataset of N
//! documents (metadata as in a library corpus: 8 genres, 36 decades, 400 sources with a
//! skewed size distribution; one-word texts, since planning never reads text), then runs
//! `balance::stage::plan` with `policies/democratic.toml` and reports wall time and the peak
//! resident memory of planning alone (the peak is reset after the data is written).
//!
//! It then times the audit's composition (`audit::composition`) over the same dataset.
//!
//!     cargo bench --bench balance_plan -- 10000000 /var/tmp/kbcurate-balance-bench

use std::sync::Arc;
use std::time::Instant;

use arrow_array::builder::{Float32Builder, Int16Builder, LargeStringBuilder, StringBuilder, UInt32Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use kbcurate::dataset::{self, Counts, Manifest, ParquetPartWriter};

fn peak_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| !a.starts_with("--")).collect();
    let n: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000_000);
    let dir = std::path::PathBuf::from(args.get(2).cloned().unwrap_or("/var/tmp/kbcurate-balance-bench".into()));
    let per_part = 500_000u64;
    let manifest_ok = Manifest::read(&dir).is_ok_and(|m| m.counts.input == n);
    if !manifest_ok {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("text", DataType::LargeUtf8, false),
            Field::new("genre", DataType::Utf8, true),
            Field::new("decade", DataType::Int16, true),
            Field::new("source", DataType::Utf8, true),
            Field::new("ocr_confidence", DataType::Float32, true),
            Field::new("n_chars", DataType::UInt32, false),
            Field::new("n_words", DataType::UInt32, false),
        ]));
        let genres = ["newspaper", "newspaper", "newspaper", "newspaper", "book", "periodical", "letter", "leaflet"];
        let mut parts = Vec::new();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let t = Instant::now();
        for p in 0..n.div_ceil(per_part) {
            let rows = per_part.min(n - p * per_part);
            let props = dataset::writer_properties(dataset::Codec::default());
            let mut w = ParquetPartWriter::create(&dir, &dataset::part_name(p as u32), schema.clone(), props).unwrap();
            let mut done = 0;
            while done < rows {
                let b = 65_536.min(rows - done);
                let (mut id, mut text, mut genre, mut decade, mut source) = (
                    StringBuilder::new(),
                    LargeStringBuilder::new(),
                    StringBuilder::new(),
                    Int16Builder::new(),
                    StringBuilder::new(),
                );
                let (mut conf, mut chars, mut words) =
                    (Float32Builder::new(), UInt32Builder::new(), UInt32Builder::new());
                for _ in 0..b {
                    let r = next();
                    id.append_value(format!("{:032x}", r as u128 * 0x1_0000_0001));
                    text.append_value("ord");
                    genre.append_value(genres[(r % 8) as usize]);
                    // Skewed towards recent decades: 1660..2010.
                    let d = 35 - ((r >> 8) % 36).min((r >> 16) % 36);
                    decade.append_value(1660 + 10 * d as i16);
                    // Source sizes follow a rough Zipf law.
                    let s = ((r >> 24) % 400) * ((r >> 40) % 400) / 400;
                    source.append_value(format!("source-{s}"));
                    conf.append_value(((r >> 50) % 100) as f32 / 100.0);
                    chars.append_value(500 + ((r >> 32) % 8000) as u32);
                    words.append_value(100);
                }
                let cols: Vec<ArrayRef> = vec![
                    Arc::new(id.finish()),
                    Arc::new(text.finish()),
                    Arc::new(genre.finish()),
                    Arc::new(decade.finish()),
                    Arc::new(source.finish()),
                    Arc::new(conf.finish()),
                    Arc::new(chars.finish()),
                    Arc::new(words.finish()),
                ];
                w.write_row_group(&RecordBatch::try_new(schema.clone(), cols).unwrap()).unwrap();
                done += b;
            }
            parts.push(w.finish().unwrap());
        }
        let m = Manifest {
            stage: "ingest".into(),
            kbcurate_version: env!("CARGO_PKG_VERSION").into(),
            config: serde_json::json!({ "synthetic": n }),
            inputs: serde_json::json!({}),
            counts: Counts { input: n, kept: n, ..Default::default() },
            parts,
            rejected_parts: Vec::new(),
            text_bytes: 3 * n,
            compression: dataset::Codec::default(),
            stats: None,
        };
        m.write(&dir, false).unwrap();
        eprintln!("wrote {n} synthetic documents in {:.1}s", t.elapsed().as_secs_f64());
    }
    // Reset the peak resident size, so that it measures planning alone.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = peak_kb();
    let policy = kbcurate::balance::policy::Policy::read(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/democratic.toml"),
    )
    .unwrap();
    let t = Instant::now();
    let ds = kbcurate::dataset::Dataset::open(&dir).unwrap();
    let strata = kbcurate::balance::strata::strata(&ds, &policy).unwrap();
    let aggregate = t.elapsed().as_secs_f64();
    let plan = kbcurate::balance::solve::solve(&policy, &strata).unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "| {n} documents | {} strata | plan {:.2} s (aggregation {aggregate:.2} s, solver {:.2} s, {} raking rounds) | {:.0} k docs/s | peak RSS {:.0} MB (before: {:.0} MB) |",
        strata.cells.len(),
        secs,
        secs - aggregate,
        plan.iterations,
        n as f64 / secs / 1000.0,
        peak_kb() as f64 / 1024.0,
        before as f64 / 1024.0
    );
    println!("{}", kbcurate::balance::solve::render(&plan).lines().take(14).collect::<Vec<_>>().join("\n"));
    // The audit's composition over the same metadata (six breakdowns and the heat map).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let t = Instant::now();
    let c = kbcurate::audit::composition::composition(&ds).unwrap();
    println!(
        "| audit composition | {} documents | {:.2} s | {:.0} k docs/s | peak RSS {:.0} MB |",
        c.total.docs,
        t.elapsed().as_secs_f64(),
        c.total.docs as f64 / t.elapsed().as_secs_f64() / 1000.0,
        peak_kb() as f64 / 1024.0
    );
}

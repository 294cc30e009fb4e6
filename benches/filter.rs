//! Filter throughput per core, by component, on real OCR'd newspaper pages.
//!
//! ```sh
//! cargo bench --bench filter
//! ```
//!
//! Reads the NewsEye pages from ../shared/data (Swedish and Finnish, 1848–1918; generated text
//! when absent), repeats them to ~30 MB and times on one thread: language identification as
//! configured (sampled windows) and on every window, the quality and line signals, PII
//! masking, and all of it together (what the stage does per document, without Parquet I/O).

use std::time::Instant;

use kbcurate::filter::config::{FilterConfig, LanguageConfig};
use kbcurate::filter::langid;
use kbcurate::filter::pii::Masker;
use kbcurate::filter::rules::{self, Signals};

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
            Err(_) => {
                eprintln!("../shared/data not found: generated text");
                (0..100)
                    .map(|i| {
                        format!("Stockholm den {i} mars. Ångaren Freja anlände i går till Skeppsbron med trävaror. ")
                            .repeat(80)
                    })
                    .collect()
            }
        };
    let per_round: usize = pages.iter().map(|p| p.len()).sum();
    let rounds = (30_000_000 / per_round).max(1);
    let total = (per_round * rounds) as f64 / 1e6;
    let docs = pages.len() * rounds;
    let cfg = FilterConfig::default();
    let det = langid::detector(&cfg.language);
    let all = LanguageConfig { sample_windows: 0, ..cfg.language.clone() };
    let masker = Masker::new(&cfg.pii);
    println!(
        "# Filter throughput (one thread, release build): {docs} pages, {total:.1} MB, mean {:.0} bytes/page\n",
        per_round as f64 / pages.len() as f64
    );
    println!("| component | seconds | MB/s | docs/s |");
    println!("|---|---|---|---|");
    let time = |name: &str, f: &mut dyn FnMut(&str) -> usize| {
        let start = Instant::now();
        let mut sink = 0usize;
        for _ in 0..rounds {
            for p in &pages {
                sink = sink.wrapping_add(f(p));
            }
        }
        let s = start.elapsed().as_secs_f64();
        println!("| {name} | {s:.2} | {:.1} | {:.0} |", total / s, docs as f64 / s);
        std::hint::black_box(sink);
    };
    time(
        &format!("language id, {} windows of ~{} bytes", cfg.language.sample_windows, cfg.language.window_bytes),
        &mut |t| langid::identify(t, None, det.as_ref(), &cfg.language).sampled_bytes,
    );
    time("language id, every window", &mut |t| langid::identify(t, None, det.as_ref(), &all).sampled_bytes);
    time("signals: word count", &mut |t| kbcurate::document::count_words(t) as usize);
    time("signals: tokens (quality)", &mut |t| kbcurate::filter::quality::measure(t).words as usize);
    time("signals: lines (heuristics)", &mut |t| kbcurate::filter::heuristics::measure(t).lines as usize);
    time("signals (all)", &mut |t| Signals::measure(t).words as usize);
    time("PII masking", &mut |t| masker.mask(t).map_or(0, |(m, _)| m.len()));
    // A lexicon of the pages' own words (seen on 2+ pages), as `kbcurate lexicon` builds it.
    let mut counter = kbcurate::filter::lexicon::WordCounter::new(4_000_000);
    for p in &pages {
        counter.add_document(p);
    }
    let words = counter.top(2, 200_000);
    let lex = kbcurate::filter::lexicon::Lexicon::from_words("swe", words.iter().map(|(w, _)| w.as_str()));
    time(&format!("lexicon lookup ({} words; only with quality.lexicons)", lex.len()), &mut |t| {
        lex.measure(t).unknown as usize
    });
    time("all (as the stage, without I/O)", &mut |t| {
        let l = langid::identify(t, None, det.as_ref(), &cfg.language);
        let s = Signals::measure(t);
        let hits = rules::check(&s, &l, None, &cfg);
        hits.len() + masker.mask(t).map_or(0, |(m, _)| m.len())
    });
}

//! `kbcurate tokenize` end to end: ingest → balance (repeats) → tokenize → verify, read back
//! through the real formats (Megatron .bin/.idx bytes, Parquet).

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use common::*;
use kbcurate::balance::policy::Policy;
use kbcurate::balance::stage::{balance, BalanceOptions};
use kbcurate::tokenize::encoder;
use kbcurate::tokenize::pack::Strategy;
use kbcurate::tokenize::stage::{tokenize, Format, ShardsManifest, TokenizeOptions};
use kbcurate::tokenize::verify::{self, read_shard};

/// 600 made-up Swedish-ish documents of varied length (a few longer than the windows used),
/// ingested and balanced so that books are repeated.
fn balanced() -> (tempfile::TempDir, std::path::PathBuf) {
    let work = tempfile::tempdir().unwrap();
    let mut f = std::fs::File::create(work.path().join("c.jsonl")).unwrap();
    for i in 0..600u64 {
        let (genre, date) = if i % 6 == 0 { ("book", "1884") } else { ("newspaper", "1923") };
        let words = 5 + (i * 37 % 90) as usize + if i % 50 == 0 { 300 } else { 0 };
        let text: Vec<String> = (0..words).map(|w| format!("ord{} år{} Stockholm", i, w % 11)).collect();
        writeln!(f, "{}", serde_json::json!({ "text": text.join(" "), "genre": genre, "date": date, "source": "kb" }))
            .unwrap();
    }
    drop(f);
    let ingested = work.path().join("ingested");
    let cfg = config("[[collection]]\nname = \"c\"\npaths = [\"c.jsonl\"]\n");
    run(&cfg, work.path(), &ingested, |o| o.part_size = 40_000);
    let policy = Policy::parse(
        "seed = 1\nmax_repeats = 3\n[budget]\nunit = \"documents\"\n[dimension.genre]\nstrategy = \"uniform\"\n",
        "t.toml",
    )
    .unwrap();
    let out = work.path().join("balanced");
    balance(&ingested, &policy, &BalanceOptions::new(&out)).unwrap();
    (work, out)
}

/// (id → (text, repeats)) of a balanced dataset.
fn docs(dir: &Path) -> BTreeMap<String, (String, u32)> {
    use arrow_array::cast::AsArray;
    let ds = kbcurate::dataset::Dataset::open(dir).unwrap();
    let mut out = BTreeMap::new();
    for p in &ds.manifest.parts {
        for b in ds.batches(p).unwrap() {
            let b = b.unwrap();
            let ids = b.column_by_name("id").unwrap().as_string::<i32>().clone();
            let text = b.column_by_name("text").unwrap().as_string::<i64>().clone();
            let reps = b.column_by_name("repeats").unwrap().as_primitive::<arrow_array::types::UInt32Type>().clone();
            for r in 0..b.num_rows() {
                out.insert(ids.value(r).to_string(), (text.value(r).to_string(), reps.value(r)));
            }
        }
    }
    out
}

fn opts(out: &Path, packing: Strategy, format: Format) -> TokenizeOptions {
    let mut o = TokenizeOptions::new(out, "cl100k_base", 64);
    o.packing = packing;
    o.format = format;
    o.eos = Some("<|endoftext|>".parse().unwrap());
    o.val_fraction = 0.1;
    o.seed = 7;
    o.bucket_bytes = 20_000; // several buckets on a small corpus
    o
}

/// Every (document, repeat) is in the shards exactly once, its pieces in order giving exactly
/// encode(text) + EOS; repeats land in one split only.
fn check_round_trip(shards: &Path, dataset: &Path, bos: Option<u32>) -> ShardsManifest {
    let m = ShardsManifest::read(shards).unwrap();
    let enc = encoder::load("cl100k_base").unwrap();
    let want = docs(dataset);
    // Per document: its pieces (start, tokens), over all windows.
    let mut got: BTreeMap<String, Vec<(i32, Vec<u32>)>> = BTreeMap::new();
    let mut split_of: BTreeMap<String, String> = BTreeMap::new();
    for (split, sp) in &m.splits {
        for shard in &sp.shards {
            for w in read_shard(shards, &m, shard).unwrap() {
                assert!(w.tokens.len() <= m.seq_len as usize);
                for (k, id) in w.doc_ids.iter().enumerate() {
                    let piece = w.tokens[w.cu_seqlens[k] as usize..w.cu_seqlens[k + 1] as usize].to_vec();
                    got.entry(id.clone()).or_default().push((w.doc_starts[k], piece));
                    let prev = split_of.insert(id.clone(), split.clone());
                    assert!(prev.is_none_or(|p| &p == split), "{id} in two splits");
                }
            }
        }
    }
    assert_eq!(got.len(), want.len(), "every kept document is in the shards");
    let mut n_docs = 0u64;
    for (id, (text, reps)) in &want {
        let mut expect: Vec<u32> = bos.into_iter().collect();
        expect.extend(enc.encode(text).unwrap());
        expect.push(100257);
        let mut pieces = got.remove(id).unwrap();
        // Repeats: `reps` copies, each starting at token 0.
        assert_eq!(pieces.iter().filter(|(s, _)| *s == 0).count() as u32, *reps, "{id}");
        pieces.sort_by_key(|(s, _)| *s);
        let mut copies = vec![Vec::new(); *reps as usize];
        for (s, p) in pieces {
            let c = copies.iter_mut().find(|c| c.len() == s as usize);
            c.unwrap_or_else(|| panic!("{id}: a piece from token {s} continues no copy")).extend(p);
        }
        for c in copies {
            assert_eq!(c, expect, "{id}");
        }
        n_docs += *reps as u64;
    }
    let with_repeats: u64 = m.splits.values().map(|s| s.documents_with_repeats).sum();
    assert_eq!(with_repeats, n_docs);
    m
}

#[test]
fn megatron_concat_round_trips_repeats_and_split() {
    let (work, ds) = balanced();
    let reps: Vec<u32> = docs(&ds).values().map(|(_, r)| *r).collect();
    assert!(reps.iter().any(|&r| r > 1), "the balance policy repeats books");
    let out = work.path().join("shards");
    let s = tokenize(&ds, &opts(&out, Strategy::Concat, Format::Megatron)).unwrap();
    eprint!("{}", s.render());
    let m = check_round_trip(&out, &ds, None);
    assert!(m.buckets > 1, "several buckets: {}", m.buckets);
    assert!(m.splits.contains_key("train") && m.splits.contains_key("validation"));
    let train = &m.splits["train"];
    let val = &m.splits["validation"];
    // Stratified by genre with exact counts: round(10%) of each genre's documents.
    let present: Vec<(String, u32)> = docs(&ds).into_values().filter(|(_, r)| *r > 0).collect();
    assert_eq!(m.validation_by_genre.values().map(|s| s.documents).sum::<u64>(), present.len() as u64);
    for (g, st) in &m.validation_by_genre {
        assert_eq!(st.validation, (0.1 * st.documents as f64).round() as u64, "{g}: {st:?}");
    }
    assert!(m.validation_by_genre.len() == 2, "{:?}", m.validation_by_genre);
    assert_eq!(val.documents, m.validation_by_genre.values().map(|s| s.validation).sum::<u64>());
    assert_eq!(train.documents + val.documents, present.len() as u64);
    // Token counts by genre add up; concat fills every window but the last of each shard.
    for dim in ["genre", "decade", "source"] {
        assert_eq!(train.tokens_by[dim].values().sum::<u64>(), train.packing.tokens, "{dim}");
    }
    assert!(train.packing.truncated_documents > 0);
    assert_eq!(m.dtype, kbcurate::tokenize::megatron::DType::Int32, "cl100k needs int32");
    assert_eq!(m.special_tokens.eos.as_ref().unwrap().id, 100257);
    assert!(m.special_tokens.bos.is_none() && m.special_tokens.pad.is_none());
    let rep = verify::verify(&out).unwrap();
    assert!(rep.ok(), "{}", rep.render());
    assert_eq!(rep.tokens, m.splits.values().map(|s| s.packing.tokens).sum::<u64>());
    // Sequence → documents.
    let (shard, k, w) = verify::locate(&out, "train", 0).unwrap();
    assert_eq!((shard.as_str(), k), (m.splits["train"].shards[0].name.as_str(), 0));
    assert!(!w.doc_ids.is_empty());
    // Damage a .bin: verify names the shard and the checksum.
    let bin = out.join(format!("{}.bin", train.shards[0].name));
    let mut b = std::fs::read(&bin).unwrap();
    b[0] ^= 1;
    std::fs::write(&bin, b).unwrap();
    let rep = verify::verify(&out).unwrap();
    assert!(!rep.ok() && rep.problems[0].contains(".bin") && rep.problems[0].contains("xxh3"), "{}", rep.render());
}

#[test]
fn best_fit_parquet_pads_and_never_cuts_short_documents() {
    let (work, ds) = balanced();
    let out = work.path().join("shards");
    let mut o = opts(&out, Strategy::BestFit, Format::Parquet);
    let err = tokenize(&ds, &o).unwrap_err().to_string();
    assert!(err.contains("--pad"), "{err}");
    o.pad = Some("100257".parse().unwrap());
    o.bos = Some("<|endofprompt|>".parse().unwrap());
    tokenize(&ds, &o).unwrap();
    let m = ShardsManifest::read(&out).unwrap();
    let enc = encoder::load("cl100k_base").unwrap();
    let lens: BTreeMap<String, usize> =
        docs(&ds).into_iter().map(|(id, (t, _))| (id, enc.encode(&t).unwrap().len() + 2)).collect();
    for sp in m.splits.values() {
        for shard in &sp.shards {
            for w in read_shard(&out, &m, shard).unwrap() {
                assert_eq!(w.tokens.len(), 64, "best-fit windows are padded to seq_len");
                for (k, id) in w.doc_ids.iter().enumerate() {
                    let piece = w.cu_seqlens[k + 1] - w.cu_seqlens[k];
                    if lens[id] <= 64 {
                        assert_eq!((w.doc_starts[k], piece as usize), (0, lens[id]), "{id} cut");
                    }
                }
                if w.doc_starts[0] == 0 {
                    assert_eq!(w.tokens[0], 100276, "a window starting a document starts with BOS");
                }
            }
        }
        assert!(sp.padding_share < 0.25, "padding {}", sp.padding_share);
    }
    let rep = verify::verify(&out).unwrap();
    assert!(rep.ok(), "{}", rep.render());
    // Reads back the tokens written: BOS + encode + EOS per document, each repeat.
    let m = check_round_trip(&out, &ds, Some(100276));
    assert_eq!(m.special_tokens.bos.as_ref().unwrap().name, "<|endofprompt|>");
}

#[test]
fn same_shards_on_any_thread_count() {
    let (work, ds) = balanced();
    let mut outs = Vec::new();
    for threads in [1, 3] {
        let out = work.path().join(format!("shards-{threads}"));
        let mut o = opts(&out, Strategy::BestFit, Format::Megatron);
        o.pad = Some("<|endoftext|>".parse().unwrap());
        o.threads = Some(threads);
        tokenize(&ds, &o).unwrap();
        outs.push(files(&out));
    }
    assert!(outs[0].len() > 4);
    assert_eq!(outs[0], outs[1]);
    // Another seed shuffles differently.
    let out = work.path().join("shards-seed");
    let mut o = opts(&out, Strategy::BestFit, Format::Megatron);
    o.pad = Some("<|endoftext|>".parse().unwrap());
    o.seed = 8;
    tokenize(&ds, &o).unwrap();
    assert_ne!(files(&out), outs[0]);
}

#[test]
fn a_missing_special_token_is_an_error_naming_it() {
    let (work, ds) = balanced();
    let out = work.path().join("shards");
    let mut o = opts(&out, Strategy::Concat, Format::Megatron);
    o.eos = Some("</s>".parse().unwrap());
    let err = tokenize(&ds, &o).unwrap_err().to_string();
    assert!(err.contains("--eos `</s>`") && err.contains("<|endoftext|> (100257)"), "{err}");
    o.eos = None;
    let err = tokenize(&ds, &o).unwrap_err().to_string();
    assert!(err.contains("give --eos"), "{err}");
    assert!(!out.join("manifest.json").exists());
}

#[test]
fn trained_tokenizer_loads_round_trips_and_counts_repeats() {
    use kbcurate::tokenize::train::{train, TrainOptions};
    let (work, ds) = balanced();
    let d = docs(&ds);
    let fed: u64 = d.values().map(|(_, n)| u64::from(*n)).sum();
    assert!(d.values().any(|(_, n)| *n > 1), "the fixture repeats some documents");
    let out = work.path().join("tok.json");
    let mut o = TrainOptions::new(&out, 500);
    o.threads = Some(2);
    let s = train(&ds, &o).unwrap();
    assert_eq!(s.documents, d.len() as u64);
    assert_eq!(s.documents_fed, fed, "each document counted as often as its repeats");
    assert_eq!(s.vocab_size, 500);

    // The file is a tokenizer.json that the tokenizers crate (and so kbcurate tokenize) loads.
    let enc = encoder::load(out.to_str().unwrap()).unwrap();
    assert_eq!(enc.vocab_size(), 500);
    assert_eq!(enc.token_to_id("<|endoftext|>"), Some(0));
    let tok = tokenizers::Tokenizer::from_file(&out).unwrap();
    for (text, _) in d.values().take(200) {
        let ids = enc.encode(text).unwrap();
        assert!(ids.len() < text.len() / 2, "merges learned: {} ids for {} bytes", ids.len(), text.len());
        assert_eq!(&tok.decode(&ids, false).unwrap(), text, "byte-level: decoding gives the text back");
    }
    // Text it never saw (any bytes) still encodes, through the byte tokens.
    let odd = "Ðǂ 🙂 ſkola\u{0}\t—";
    assert_eq!(tok.decode(&enc.encode(odd).unwrap(), false).unwrap(), odd);
    // Frequent words of the corpus became single tokens.
    assert_eq!(enc.encode(" Stockholm").unwrap().len(), 1);

    // One thread or several: the same bytes. A sample feeds fewer documents.
    o.threads = Some(1);
    o.output = work.path().join("tok1.json");
    train(&ds, &o).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&o.output).unwrap());
    o.sample = 0.5;
    o.output = work.path().join("half.json");
    let half = train(&ds, &o).unwrap();
    assert!(half.documents_fed < fed && half.documents_fed > fed / 4, "{} of {fed}", half.documents_fed);
    // Too small a vocabulary is refused, naming the minimum.
    o.vocab_size = 100;
    let e = train(&ds, &o).unwrap_err().to_string();
    assert!(e.contains("at least 257"), "{e}");
}

/// A spill file cut short after its part was marked spilled (a machine crash: spill files are
/// not synced one by one) voids that part's marker: the next run spills that part again, keeps
/// the others, and writes the shards a run without the crash writes.
#[test]
fn a_spill_file_cut_short_is_spilled_again() {
    use kbcurate::tokenize::stage::tokenize_encode_shard;
    let (work, ds) = balanced();
    let whole = work.path().join("whole");
    tokenize(&ds, &opts(&whole, Strategy::Concat, Format::Megatron)).unwrap();
    let out = work.path().join("sharded");
    for index in 0..2 {
        let mut o = opts(&out, Strategy::Concat, Format::Megatron);
        o.shard = kbcurate::dataset::Shard { index, count: 2 };
        tokenize_encode_shard(&ds, &o).unwrap();
    }
    let mut spills: Vec<_> = glob::glob(&format!("{}/.spill/*/*.spill", out.display())).unwrap().flatten().collect();
    spills.sort();
    assert!(spills.len() > 2, "several spill files: {spills:?}");
    let victim = &spills[spills.len() / 2];
    let f = std::fs::OpenOptions::new().write(true).open(victim).unwrap();
    f.set_len(f.metadata().unwrap().len() - 5).unwrap();
    drop(f);
    let s = tokenize(&ds, &opts(&out, Strategy::Concat, Format::Megatron)).unwrap();
    let parts = kbcurate::dataset::Dataset::open(&ds).unwrap().manifest.parts.len();
    assert!(parts > 2);
    assert_eq!(s.parts_resumed, parts - 1, "only the part of {} is spilled again", victim.display());
    assert!(files(&out) == files(&whole), "the shards differ from a run without the crash");
}

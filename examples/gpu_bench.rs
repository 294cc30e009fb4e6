//! GPU against all CPU cores of the same machine, for BPE encoding and MinHash signatures:
//! MB/s of text, where the time goes, and a check that the outputs are identical.
//!
//! ```sh
//! cargo run --release --features cuda --example gpu_bench            # ~256 MB of text
//! cargo run --release --features cuda --example gpu_bench -- --mb 64
//! ```
//!
//! Text: ../shared/data (as `tests/gpu.rs` reads it), repeated to the size asked for, or
//! generated text when it is absent. Both sides get the same documents in the same order. The
//! CPU side is kbcurate's CPU path on rayon's pool (one thread per core): `Encoder::encode_batch`
//! of the CPU encoder, `MinHasher::signature` per document. The GPU side is what the stages run
//! with `--device cuda`: batches prepared on all cores at once, each sent to the GPU.
//! `scripts/gpu-check.sh` runs it after the GPU tests.

#[path = "../tests/common/texts.rs"]
mod texts;

use std::time::Instant;

use rayon::prelude::*;

use kbcurate::dedup::batch::{BatchSigner, ShingleBatch, SignatureInput};
use kbcurate::dedup::profile::Profile;
use kbcurate::gpu::{bpe::GpuBpe, encode::GpuSplitBpe, minhash::GpuMinHash, Device};
use kbcurate::tokenize::encoder::{Encoder, TiktokenEncoder};
use kbcurate::tokenize::merge::{MergeEncoder, MergeTable, SplitEncoder};
use kbcurate::tokenize::pretokenize::Scanner;

/// Documents per GPU call (as the tokenize stage's record batches).
const BATCH_DOCS: usize = 1024;

fn corpus(mb: usize) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let mut base = if dir.exists() { texts::all_texts(&dir) } else { Vec::new() };
    if base.is_empty() {
        println!("../shared/data not found: generated text");
        let mut state = 1u64;
        let words = ["stockholm", "ångaren", "freja", "anlände", "i", "går", "till", "skeppsbron", "med", "last"];
        base = (0..4000)
            .map(|i| {
                let mut t = format!("Den {i} mars 1897. ");
                for _ in 0..400 {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    t.push_str(words[(state >> 59) as usize % words.len()]);
                    t.push(if state >> 63 == 1 { ' ' } else { '\n' });
                }
                t
            })
            .collect();
    }
    let mut out = base.clone();
    while out.iter().map(String::len).sum::<usize>() < mb << 20 {
        out.extend(base.iter().cloned());
    }
    out
}

fn secs(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut mb = 256usize;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--mb" => mb = args.next().and_then(|v| v.parse().ok()).expect("--mb N"),
            _ => panic!("unknown argument {a}; usage: gpu_bench [--mb N]"),
        }
    }
    let gpu = match Device::Cuda(0).open() {
        Ok(Some(g)) => g,
        Ok(None) => unreachable!("cuda:0 is a GPU"),
        Err(e) => {
            eprintln!("gpu_bench: {e}");
            std::process::exit(2);
        }
    };
    let texts = corpus(mb);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let total = refs.iter().map(|t| t.len()).sum::<usize>() as f64 / 1e6;
    let cores = rayon::current_num_threads();
    println!("device: {}; CPU: {cores} threads; text: {} documents, {total:.1} MB", gpu.describe(), refs.len());
    let mut rows = Vec::new();

    // Encoding, cl100k_base.
    let cpu = TiktokenEncoder::cl100k_base();
    let table = MergeTable::for_encoder(&cpu).unwrap();
    let merger = GpuBpe::new(&gpu, &table).unwrap();
    let enc = MergeEncoder::new(Box::new(TiktokenEncoder::cl100k_base()), table, merger);
    enc.encode_batch(&refs[..refs.len().min(BATCH_DOCS)]).unwrap(); // compile, JIT, first lanes
    let (mut want, mut got) = (Vec::new(), Vec::new());
    let cpu_s = secs(|| want = refs.par_chunks(BATCH_DOCS).map(|b| cpu.encode_batch(b).unwrap()).collect());
    let tok = cpu.rank_bpe().unwrap();
    let split_s = secs(|| {
        refs.par_iter().map(|t| tok.split(t).count()).sum::<usize>();
    });
    let gpu_s = secs(|| got = refs.par_chunks(BATCH_DOCS).map(|b| enc.encode_batch(b).unwrap()).collect());
    assert!(want == got, "GPU ids differ from the CPU encoder's");
    let tokens: usize = want.iter().flatten().map(Vec::len).sum();
    println!("\nencoding (cl100k_base): {tokens} tokens, ids identical");
    println!("  CPU encoder, {cores} threads             {:>8.1} MB/s", total / cpu_s);
    println!("  split on the CPU, merges on the GPU:");
    println!("    pre-tokenization alone (CPU)      {:>8.1} MB/s  (its ceiling)", total / split_s);
    println!("    GPU path                          {:>8.1} MB/s", total / gpu_s);
    println!("    {}", enc.times().render());
    println!("    GPU side: {}", enc.merger().times().render());
    rows.push(("encoding cl100k_base (merges on the GPU)".to_string(), total / cpu_s, total / gpu_s));
    // Split, merges and packing on the GPU: what `--device cuda` runs for the built-ins.
    let copy_s = secs(|| {
        refs.par_chunks(BATCH_DOCS).for_each(|b| {
            let mut text = Vec::new();
            b.iter().for_each(|t| text.extend_from_slice(t.as_bytes()));
            std::hint::black_box(text);
        })
    });
    for (name, scanner, builtin) in [
        ("cl100k_base", Scanner::Cl100k, TiktokenEncoder::cl100k_base as fn() -> TiktokenEncoder),
        ("o200k_base", Scanner::O200k, TiktokenEncoder::o200k_base),
    ] {
        let cpu = builtin();
        let split = SplitEncoder::new(
            Box::new(builtin()),
            GpuSplitBpe::new(&gpu, &MergeTable::for_encoder(&cpu).unwrap(), scanner).unwrap(),
        );
        split.encode_batch(&refs[..refs.len().min(BATCH_DOCS)]).unwrap();
        let (mut want, mut got) = (Vec::new(), Vec::new());
        let cpu_s = secs(|| want = refs.par_chunks(BATCH_DOCS).map(|b| cpu.encode_batch(b).unwrap()).collect());
        let all_s = secs(|| got = refs.par_chunks(BATCH_DOCS).map(|b| split.encode_batch(b).unwrap()).collect());
        assert!(want == got, "{name}: GPU split-and-merge ids differ from the CPU encoder's");
        let tokens: usize = want.iter().flatten().map(Vec::len).sum();
        println!("\nencoding ({name}), split, merges and packing on the GPU: {tokens} tokens, ids identical");
        println!("  CPU encoder, {cores} threads             {:>8.1} MB/s", total / cpu_s);
        println!("  copying text alone (CPU)            {:>8.1} MB/s  (its ceiling)", total / copy_s);
        println!("  GPU path                            {:>8.1} MB/s", total / all_s);
        println!("  GPU side: {}", split.device().times().render());
        rows.push((format!("encoding {name} (all on the GPU)"), total / cpu_s, total / all_s));
    }

    // Signatures, both profiles.
    for profile in [Profile::ocr(), Profile::web()] {
        let signer = GpuMinHash::new(&gpu, &profile.hasher()).unwrap();
        let mut warm = ShingleBatch::of(signer.input());
        warm.push(&mut profile.hasher(), refs[0]);
        signer.sign(&mut warm, &mut Vec::new()).unwrap();
        let perms = profile.banding.perms();
        // The CPU path as the dedup stage runs it: signature and exact key per document.
        let mut want: Vec<(Vec<u32>, u128)> = Vec::new();
        let cpu_s = secs(|| {
            want = refs
                .par_iter()
                .map_init(
                    || profile.hasher(),
                    |h, t| {
                        let mut s = Vec::with_capacity(perms);
                        h.signature(t, &mut s);
                        (s, xxhash_rust::xxh3::xxh3_128(h.normalized().as_bytes()))
                    },
                )
                .collect()
        });
        let flat_want: Vec<u32> = want.iter().flat_map(|(s, _)| s.iter().copied()).collect();
        let exact_want: Vec<u128> = want.iter().map(|(_, e)| *e).collect();
        println!("\nsignatures ({} profile, {perms} hash functions)", profile.name);
        println!("  CPU path, {cores} threads                      {:>8.1} MB/s", total / cpu_s);
        // Raw text (what the stage sends: normalized on the GPU), then normalized text (the
        // CPU normalizes), each checked against the CPU path.
        let mut gpu_rate = 0.0;
        for input in [SignatureInput::Raw, SignatureInput::Text] {
            let prep_s = secs(|| {
                refs.par_chunks(BATCH_DOCS).for_each_init(
                    || profile.hasher(),
                    |h, b| {
                        let mut sb = ShingleBatch::of(input);
                        b.iter().for_each(|t| sb.push(h, t));
                    },
                )
            });
            let mut got: Vec<(Vec<u32>, Vec<u128>)> = Vec::new();
            let gpu_s = secs(|| {
                got = refs
                    .par_chunks(BATCH_DOCS)
                    .map_init(
                        || profile.hasher(),
                        |h, b| {
                            let mut sb = ShingleBatch::of(input);
                            b.iter().for_each(|t| sb.push(h, t));
                            let mut flat = Vec::new();
                            signer.sign(&mut sb, &mut flat).unwrap();
                            (flat, sb.exact)
                        },
                    )
                    .collect()
            });
            let flat: Vec<u32> = got.iter().flat_map(|(f, _)| f.iter().copied()).collect();
            let exact: Vec<u128> = got.iter().flat_map(|(_, e)| e.iter().copied()).collect();
            assert!(flat_want == flat && exact_want == exact, "GPU signatures or exact keys differ from the CPU's");
            println!("  GPU path from {input:?} text: identical");
            println!("    batch prep alone (CPU)                  {:>8.1} MB/s  (its ceiling)", total / prep_s);
            println!("    GPU path                                {:>8.1} MB/s", total / gpu_s);
            if input == SignatureInput::Raw {
                gpu_rate = total / gpu_s;
            }
        }
        println!("  GPU side (both runs): {}", signer.times().render());
        let gpu_s = total / gpu_rate;
        rows.push((format!("signatures ({})", profile.name), total / cpu_s, total / gpu_s));
    }

    println!("\n| step | CPU ({cores} threads) MB/s | GPU path MB/s | GPU / CPU |");
    println!("|---|---:|---:|---:|");
    for (what, c, g) in &rows {
        println!("| {what} | {c:.1} | {g:.1} | {:.2}× |", g / c);
    }
    println!("\ntarget: ≥ 5× for encoding and signatures; where a ratio is lower, the GPU path is bound by its CPU side (the 'ceiling' lines above).");
}

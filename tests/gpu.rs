//! The GPU path's equivalence with the CPU path.
//!
//! On every machine (CI has no GPU): the CPU references of the two kernels' algorithms — the
//! flat-batch MinHash loop and the lowest-rank merge loop over a pair table — give exactly the
//! CPU path's signatures and ids on all text in ../shared/data (skipped with a printed reason
//! when absent), and `--device` behaves as documented without a GPU.
//!
//! On a GPU machine, `cargo test --release --features cuda -- --ignored gpu` (or
//! `scripts/gpu-check.sh`) runs the `gpu_*` tests: the kernels against the CPU on the same
//! text, and whole dedup/tokenize runs with `--device cuda` against `--device cpu`. They are
//! `#[ignore]`d, and fail, saying why, where they are run without a driver or device.

mod common;
#[path = "cuda_emu/emulator.rs"]
mod emulator;

use std::sync::Arc;

use common::*;
use kbcurate::dedup::batch::{BatchSigner, ReferenceSigner, ShingleBatch, SignatureInput};
use kbcurate::dedup::profile::Profile;
use kbcurate::gpu::Device;
use kbcurate::tokenize::encoder::{Encoder, TiktokenEncoder};
use kbcurate::tokenize::merge::{MergeEncoder, MergeTable, ReferenceMerger};
use kbcurate::tokenize::pretokenize::Scanner;

/// Documents of ~1 MB per batch, as the stages give them.
fn batches(texts: &[String]) -> Vec<&[String]> {
    let mut out = Vec::new();
    let (mut from, mut size) = (0, 0);
    for (i, t) in texts.iter().enumerate() {
        size += t.len();
        if size > 1 << 20 {
            out.push(&texts[from..=i]);
            (from, size) = (i + 1, 0);
        }
    }
    out.push(&texts[from..]);
    out
}

/// Signatures from `signer` over flat batches equal `MinHasher::signature`, document by
/// document; returns (documents, bytes).
fn check_signer(texts: &[String], profile: &Profile, signer: &dyn BatchSigner) -> (usize, usize) {
    check_signer_with(texts, profile, signer, signer.input())
}

/// [`check_signer`] with batches of `input`.
fn check_signer_with(
    texts: &[String],
    profile: &Profile,
    signer: &dyn BatchSigner,
    input: kbcurate::dedup::batch::SignatureInput,
) -> (usize, usize) {
    let mut hasher = profile.hasher();
    let (perms, mut flat, mut sig) = (hasher.perms(), Vec::new(), Vec::new());
    let (mut docs, mut bytes) = (0, 0);
    for batch in batches(texts) {
        let mut sb = ShingleBatch::of(input);
        for t in batch {
            sb.push(&mut hasher, t);
        }
        signer.sign(&mut sb, &mut flat).unwrap();
        assert_eq!(flat.len(), batch.len() * perms);
        assert_eq!(sb.exact.len(), batch.len(), "{}: an exact key per document", signer.describe());
        for (d, t) in batch.iter().enumerate() {
            hasher.signature(t, &mut sig);
            assert!(
                flat[d * perms..(d + 1) * perms] == sig[..],
                "{}: document {} differs",
                signer.describe(),
                docs + d
            );
            let exact = xxhash_rust::xxh3::xxh3_128(hasher.normalized().as_bytes());
            assert!(sb.exact[d] == exact, "{}: document {}'s exact key differs", signer.describe(), docs + d);
        }
        docs += batch.len();
        bytes += sb.text_bytes;
    }
    (docs, bytes)
}

/// `enc`'s ids equal `cpu`'s on every text; returns (texts, bytes, tokens).
fn check_encoder(texts: &[String], enc: &dyn Encoder, cpu: &dyn Encoder) -> (usize, usize, usize) {
    let mut tokens = 0;
    for batch in batches(texts) {
        let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
        let got = enc.encode_batch(&refs).unwrap();
        for (t, g) in refs.iter().zip(&got) {
            let want = cpu.encode(t).unwrap();
            if g != &want {
                let i = g.iter().zip(&want).position(|(x, y)| x != y).unwrap_or(g.len().min(want.len()));
                panic!("{}: ids differ at token {i} of a {}-byte text", cpu.describe(), t.len());
            }
            tokens += g.len();
        }
    }
    (texts.len(), texts.iter().map(String::len).sum(), tokens)
}

fn shared_texts() -> Option<Vec<String>> {
    let dir = shared("")?;
    let texts = texts::all_texts(&dir);
    assert!(texts.iter().map(String::len).sum::<usize>() > 1_000_000, "expected megabytes of text");
    Some(texts)
}

#[test]
fn reference_minhash_kernel_equals_cpu_signatures_on_shared_text() {
    let Some(texts) = shared_texts() else { return };
    for profile in [Profile::ocr(), Profile::web()] {
        let signer = ReferenceSigner::new(&profile.hasher());
        for input in [SignatureInput::Hashes, SignatureInput::Text, SignatureInput::Raw] {
            let (docs, bytes) = check_signer_with(&texts, &profile, &signer, input);
            eprintln!(
                "{}: flat-batch reference signatures from {input:?} identical on {docs} documents, {:.1} MB",
                profile.name,
                bytes as f64 / 1e6
            );
        }
    }
}

fn reference_encoder(cpu: TiktokenEncoder) -> MergeEncoder<ReferenceMerger> {
    let table = Arc::new(MergeTable::for_encoder(&cpu).unwrap());
    let mb = table.device_bytes() as f64 / (1 << 20) as f64;
    eprintln!("{}: merge table of {} pairs, {mb:.1} MiB", cpu.describe(), table.pairs);
    MergeEncoder::new(Box::new(cpu), table.clone(), ReferenceMerger::new(table))
}

#[test]
fn reference_bpe_kernel_equals_cpu_encoder_on_shared_text() {
    let Some(texts) = shared_texts() else { return };
    for (cpu, same) in [
        (TiktokenEncoder::cl100k_base(), TiktokenEncoder::cl100k_base()),
        (TiktokenEncoder::o200k_base(), TiktokenEncoder::o200k_base()),
    ] {
        let enc = reference_encoder(same);
        let (n, bytes, tokens) = check_encoder(&texts, &enc, &cpu);
        eprintln!(
            "{}: reference merges identical on {n} texts, {:.1} MB, {tokens} tokens ({})",
            cpu.describe(),
            bytes as f64 / 1e6,
            enc.times().render()
        );
    }
}

/// The built-ins and the pattern each splits with on the device.
fn split_builtins() -> [(TiktokenEncoder, TiktokenEncoder, Scanner); 2] {
    [
        (TiktokenEncoder::cl100k_base(), TiktokenEncoder::cl100k_base(), Scanner::Cl100k),
        (TiktokenEncoder::o200k_base(), TiktokenEncoder::o200k_base(), Scanner::O200k),
    ]
}

/// The split-and-merge path (the built-ins' pre-tokenization, merges and packing all on the
/// device), in its CPU reference: the CPU encoder's ids on all of ../shared/data.
#[test]
fn reference_split_bpe_equals_cpu_encoder_on_shared_text() {
    use kbcurate::tokenize::merge::{ReferenceSplitBpe, SplitEncoder};
    let Some(shared) = shared_texts() else { return };
    let texts = [edge_texts(), shared].concat();
    for (cpu, same, scanner) in split_builtins() {
        assert_eq!(kbcurate::gpu::builtin_scanner(&same), Some(scanner));
        let table = Arc::new(MergeTable::for_encoder(&same).unwrap());
        let enc = SplitEncoder::new(Box::new(same), ReferenceSplitBpe::new(table, scanner));
        let (n, bytes, tokens) = check_encoder(&texts, &enc, &cpu);
        eprintln!(
            "{}: split-and-merge reference identical on {n} texts, {:.1} MB, {tokens} tokens",
            cpu.describe(),
            bytes as f64 / 1e6
        );
    }
}

/// Pieces the text of ../shared/data may lack: every kind of the pre-tokenizer's pieces, long
/// ones (past the merge kernel's limit) and pieces that are not valid UTF-8 on their own.
#[test]
fn reference_bpe_kernel_equals_cpu_encoder_on_generated_text() {
    let mut texts: Vec<String> = vec![
        "x".repeat(127),
        "x".repeat(128),
        "x".repeat(129),
        "ab".repeat(400),
        " ".repeat(1000) + "slut",
        "1234567890".repeat(20),
        "\u{1F600}\u{1F44D}\u{1F3FD}".repeat(30),
        "Ꙭ ꙮ 𝔉𝔯𝔞𝔨𝔱𝔲𝔯 ǅemal ǈ ǋ — ‐ ‑ ‒ – — ― ⸺ ⸻".to_string(),
    ];
    let mut state = 7u64;
    for _ in 0..300 {
        let mut t = String::new();
        for _ in 0..200 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let c = match (state >> 60) % 8 {
                0 => char::from_u32(0x20 + (state >> 32) as u32 % 0x5f),
                1 => char::from_u32(0xC0 + (state >> 32) as u32 % 0x180),
                2 => char::from_u32(0x400 + (state >> 32) as u32 % 0x100),
                3 => Some([' ', '\n', '\t', '\r'][(state >> 40) as usize % 4]),
                4 => char::from_u32(0x4E00 + (state >> 32) as u32 % 0x500),
                _ => Some((b'a' + (state >> 32) as u8 % 26) as char),
            };
            t.extend(c);
        }
        texts.push(t);
    }
    for (cpu, same) in [
        (TiktokenEncoder::cl100k_base(), TiktokenEncoder::cl100k_base()),
        (TiktokenEncoder::o200k_base(), TiktokenEncoder::o200k_base()),
    ] {
        check_encoder(&texts, &reference_encoder(same), &cpu);
    }
}

/// Texts that stress the signature kernels: empty, one word, fewer words than a shingle,
/// words of every XXH3 length class (up to 3,000 bytes: the long-input path), many tiles.
fn edge_texts() -> Vec<String> {
    let mut texts: Vec<String> = vec![String::new(), "ett".into(), "  ".into(), "a b c d e f".into(), "å ä ö".into()];
    texts.push((0..5000).map(|i| format!("ord{i}")).collect::<Vec<_>>().join(" "));
    // A long document whose ~1 KB chunks (normalization, the split) are cut at every kind of
    // place: inside words, hyphenations across line breaks, combining marks, spaces.
    let unit = "Ångaren Freja anlände i går till Skeppsbron, Men-\n  ſchen aus ſeiner Zwoͤlftes Stuͤk ¬\nord 1897: \
                don't — «citat» ﬁnal 𝔉raktur \u{ad}delning   \r\n";
    texts.push(unit.repeat(1500));
    for len in [3, 4, 8, 9, 16, 17, 32, 33, 64, 65, 96, 97, 128, 129, 200, 240, 241, 300, 1024, 1025, 3000] {
        texts.push(format!("före {} efter och sedan", "x".repeat(len)));
        texts.push("y".repeat(len));
    }
    texts
}

/// Profiles that take every signature kernel (by sketch, and from text or from hashes), with
/// permutation counts at and off the kernels' block sizes, and the batch each is given.
fn kernel_variants() -> Vec<(Profile, kbcurate::dedup::batch::SignatureInput)> {
    use kbcurate::dedup::batch::SignatureInput::{Hashes, Raw, Text};
    use kbcurate::dedup::minhash::{Shingles, Sketch};
    [
        (Shingles::Words { n: 5 }, Sketch::MinHash, Raw, 128),
        (Shingles::Words { n: 1 }, Sketch::OnePermutation, Raw, 33),
        (Shingles::Words { n: 5 }, Sketch::MinHash, Text, 128),
        (Shingles::Words { n: 1 }, Sketch::MinHash, Text, 250),
        (Shingles::Words { n: 3 }, Sketch::OnePermutation, Text, 1024),
        (Shingles::Words { n: 2 }, Sketch::OnePermutation, Text, 1),
        (Shingles::Words { n: 5 }, Sketch::MinHash, Hashes, 96),
        (Shingles::Chars { n: 5 }, Sketch::MinHash, Hashes, 31),
        (Shingles::Chars { n: 5 }, Sketch::OnePermutation, Hashes, 128),
    ]
    .into_iter()
    .map(|(shingles, sketch, input, perms)| {
        let banding = kbcurate::dedup::lsh::Banding { bands: perms, rows: 1 };
        (Profile { banding, shingles, sketch, ..Profile::ocr() }, input)
    })
    .collect()
}

/// The first texts of `texts` up to about `bytes`.
fn first_bytes(texts: &[String], bytes: usize) -> Vec<String> {
    let mut n = 0;
    texts
        .iter()
        .take_while(|t| {
            let before = n;
            n += t.len();
            before < bytes
        })
        .cloned()
        .collect()
}

/// The kernels' own source, run on the CPU under `tests/cuda_emu` (CI has no GPU).
mod emulated {
    use super::emulator::{EmulatedMerger, EmulatedSigner, Emulator, Kernels};
    use super::*;

    /// XXH3-64 on the device equals xxhash-rust's for every length to 1,100 bytes and longer
    /// ones around the 1,024-byte blocks, on pseudo-random bytes.
    #[test]
    fn emulated_xxh3_equals_xxhash_rust() {
        let Some(emu) = Emulator::build(Kernels::Signatures) else { return };
        let mut state = 0x1234_5678u64;
        let mut bytes = Vec::new();
        let mut starts = vec![0u32];
        let lens = (0..=1100).chain([2047, 2048, 2049, 3072, 3073, 5000, 9000]);
        for len in lens {
            for _ in 0..len {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                bytes.push((state >> 56) as u8);
            }
            starts.push(bytes.len() as u32);
        }
        let got = emu.xxh3(&bytes, &starts);
        assert_eq!(got.len(), starts.len() - 1);
        for (k, w) in starts.windows(2).enumerate() {
            let slice = &bytes[w[0] as usize..w[1] as usize];
            assert_eq!(got[k], xxhash_rust::xxh3::xxh3_64(slice), "a slice of {} bytes", slice.len());
        }
    }

    /// The signature kernels give `MinHasher::signature`'s signatures: the shipped profiles
    /// (raw text normalized and its word shingles hashed on the device, one permutation
    /// hashing) on all of ../shared/data, and the other kernels (`minhash` sketch; normalized
    /// text or shingle hashes from the CPU) on part of it.
    #[test]
    fn emulated_signature_kernels_equal_cpu_signatures() {
        let Some(emu) = Emulator::build(Kernels::Signatures) else { return };
        let emu = std::sync::Arc::new(emu);
        let mut texts = edge_texts();
        let shared = shared_texts();
        if let Some(s) = &shared {
            texts.extend(s.iter().cloned());
        }
        // Each shipped profile as the GPU signs it (`ocr`'s character shingles are hashed on the
        // CPU, its minima taken on the device), and word 2-grams under `ocr`'s normalization
        // through the text kernels.
        use kbcurate::dedup::minhash::Shingles;
        let words2 = Profile { name: "ocr, word 2-grams".into(), shingles: Shingles::Words { n: 2 }, ..Profile::ocr() };
        for profile in [Profile::ocr(), Profile::web(), words2] {
            let input = match profile.shingles {
                Shingles::Words { .. } => SignatureInput::Raw,
                Shingles::Chars { .. } => SignatureInput::Hashes,
            };
            let signer = EmulatedSigner::new(emu.clone(), &profile.hasher(), input);
            let (docs, bytes) = check_signer(&texts, &profile, &signer);
            eprintln!(
                "{}: emulated kernels from {input:?} identical on {docs} documents, {:.1} MB",
                profile.name,
                bytes as f64 / 1e6
            );
        }
        let some = [edge_texts(), shared.map_or_else(Vec::new, |s| first_bytes(&s, 1 << 20))].concat();
        for (profile, input) in kernel_variants() {
            let signer = EmulatedSigner::new(emu.clone(), &profile.hasher(), input);
            let (docs, _) = check_signer(&some, &profile, &signer);
            eprintln!(
                "{:?} {:?} from {input:?}, {} functions: identical on {docs} documents",
                profile.shingles,
                profile.sketch,
                profile.banding.perms()
            );
        }
    }

    /// The split-and-merge kernels (each built-in's pre-tokenization, merges of every piece,
    /// long ones included, packing), in the encoder where the GPU's would be, give the CPU
    /// encoder's ids.
    #[test]
    fn emulated_split_bpe_kernels_equal_cpu_encoder() {
        use super::emulator::EmulatedSplitBpe;
        use kbcurate::tokenize::merge::SplitEncoder;
        let Some(emu) = Emulator::build(Kernels::Encode) else { return };
        let emu = std::sync::Arc::new(emu);
        let mut texts = edge_texts();
        texts.extend([
            "x".repeat(127),
            "x".repeat(129),
            " ".repeat(300) + "slut",
            "ab".repeat(400),
            "Ꙭ ꙮ 𝔉𝔯𝔞𝔨𝔱𝔲𝔯 ǅemal don't I'LL ſ's".to_string(),
            "CamelCase HTTPServer McDONALD'S a/b\n/c \u{301}x".to_string(),
            String::new(),
        ]);
        if let Some(s) = shared_texts() {
            texts.extend(first_bytes(&s, 2 << 20));
        }
        for (cpu, same, scanner) in split_builtins() {
            let table = MergeTable::for_encoder(&same).unwrap();
            let enc = SplitEncoder::new(Box::new(same), EmulatedSplitBpe::new(emu.clone(), &table, scanner));
            let (n, bytes, tokens) = check_encoder(&texts, &enc, &cpu);
            eprintln!(
                "{}: emulated split-and-merge identical on {n} texts, {:.1} MB, {tokens} tokens",
                cpu.describe(),
                bytes as f64 / 1e6
            );
        }
    }

    /// The merge kernel, in the encoder where the GPU's would be, gives the CPU encoder's ids.
    #[test]
    fn emulated_bpe_kernel_equals_cpu_encoder() {
        let Some(emu) = Emulator::build(Kernels::Bpe) else { return };
        let mut texts = vec!["x".repeat(127), "x".repeat(128), "ab".repeat(400), "Ꙭ ꙮ 𝔉𝔯𝔞𝔨𝔱𝔲𝔯 ǅemal".to_string()];
        if let Some(s) = shared_texts() {
            texts.extend(first_bytes(&s, 3 << 20));
        }
        let (cpu, same) = (TiktokenEncoder::cl100k_base(), TiktokenEncoder::cl100k_base());
        let table = MergeTable::for_encoder(&same).unwrap();
        let merger = EmulatedMerger::new(emu, &table);
        let enc = MergeEncoder::new(Box::new(same), table, merger);
        let (n, bytes, tokens) = check_encoder(&texts, &enc, &cpu);
        eprintln!(
            "{}: emulated merges identical on {n} texts, {:.1} MB, {tokens} tokens",
            cpu.describe(),
            bytes as f64 / 1e6
        );
    }
}

/// An ingested dataset of real newspaper pages, each also as an exact and a lightly altered
/// copy, in parts of ~2 MB; `None` (saying why) without ../shared/data.
fn duplicated_pages(work: &std::path::Path) -> Option<std::path::PathBuf> {
    let dir = shared("newspaper_text")?;
    let mut rows = String::new();
    for f in texts::files(&dir) {
        for (i, t) in texts::texts(&f).iter().enumerate() {
            for v in [t.clone(), t.clone(), t.replacen('e', "c", 3)] {
                rows.push_str(&serde_json::json!({ "text": v, "title": format!("{i}") }).to_string());
                rows.push('\n');
            }
        }
    }
    std::fs::write(work.join("c.jsonl"), rows).unwrap();
    let ds = work.join("ds");
    run(&config("[[collection]]\nname = \"c\"\npaths = [\"c.jsonl\"]\n"), work, &ds, |o| o.part_size = 2_000_000);
    Some(ds)
}

/// The dedup stage's batched path (what `--device cuda` takes) writes what the CPU path
/// writes: with the CPU reference of the GPU kernels, and with the kernels themselves under the
/// emulation, both on batches of raw text as the GPU signer asks for them.
#[test]
fn batched_dedup_writes_what_the_cpu_writes() {
    use kbcurate::dedup::minhash::Shingles;
    use kbcurate::dedup::stage::{dedup, DedupOptions, Signer};
    let work = tempfile::tempdir().unwrap();
    let Some(ds) = duplicated_pages(work.path()) else { return };
    let emu = emulator::Emulator::build(emulator::Kernels::Signatures).map(std::sync::Arc::new);
    // `ocr` as the GPU signs it (character shingles hashed on the CPU), and word 2-grams from
    // raw text (normalized and hashed on the device).
    let words2 = Profile { name: "ocr-words".into(), shingles: Shingles::Words { n: 2 }, ..Profile::ocr() };
    for (profile, input) in [(Profile::ocr(), SignatureInput::Hashes), (words2, SignatureInput::Raw)] {
        let mut signers: Vec<Option<std::sync::Arc<dyn BatchSigner>>> =
            vec![None, Some(std::sync::Arc::new(ReferenceSigner::new(&profile.hasher()).taking(input)))];
        if let Some(emu) = &emu {
            signers.push(Some(std::sync::Arc::new(emulator::EmulatedSigner::new(
                emu.clone(),
                &profile.hasher(),
                input,
            ))));
        }
        let mut outs = Vec::new();
        for (k, signer) in signers.into_iter().enumerate() {
            let mut o = DedupOptions::new(work.path().join(format!("dedup-{}-{k}", profile.name)));
            o.profile = profile.clone();
            let name = signer.as_ref().map_or("the CPU path".to_string(), |s| s.describe());
            o.signer = signer.map(Signer);
            let s = dedup(&ds, &o).unwrap();
            eprintln!("{}: dedup by {name}: {} of {} kept", profile.name, s.counts.kept, s.counts.input);
            assert!(s.counts.kept < s.counts.input, "the copies are found");
            let mut files = common::files(&o.output);
            files.retain(|(name, _)| !name.starts_with("work"));
            outs.push((name, files));
        }
        for (name, files) in &outs[1..] {
            assert!(files == &outs[0].1, "{}: {name} wrote other files than the CPU path", profile.name);
        }
    }
}

/// A tokenizer.json is not a rank BPE: the GPU path refuses it by name.
#[test]
fn merge_table_needs_a_rank_bpe() {
    let json = kbcurate::tokenize::convert::cl100k_base_json();
    let hf = kbcurate::tokenize::encoder::HfEncoder::from_bytes(json.as_bytes()).unwrap();
    let e = MergeTable::for_encoder(&hf).err().unwrap();
    assert!(e.contains("not a tiktoken-style byte-level BPE") && e.contains("--device cpu"), "{e}");
}

/// `--device` on the command line: a bad name is refused, `cuda` without the feature or the
/// driver says what is missing, before any work.
#[test]
fn device_flag_errors() {
    let bin = env!("CARGO_BIN_EXE_kbcurate");
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("c.jsonl"), "{\"text\": \"Stockholm den 12 mars\"}\n").unwrap();
    let ds = work.path().join("ds");
    run(&config("[[collection]]\nname = \"c\"\npaths = [\"c.jsonl\"]\n"), work.path(), &ds, |_| {});
    let out = std::process::Command::new(bin)
        .args(["tokenize", ds.to_str().unwrap(), "-o"])
        .arg(work.path().join("t"))
        .args(["--tokenizer", "cl100k_base", "--seq-len", "8", "--eos", "<|endoftext|>", "--device", "tpu"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("expected a device: cpu, cuda, cuda:N"), "{err}");
    let gpu_found = Device::Cuda(0).open().is_ok();
    if gpu_found {
        eprintln!("a GPU is present: the no-GPU messages are not tested here");
        return;
    }
    for cmd in
        [vec!["tokenize", "--tokenizer", "cl100k_base", "--seq-len", "8", "--eos", "<|endoftext|>"], vec!["dedup"]]
    {
        let with_device = |device: &str| {
            std::process::Command::new(bin)
                .args(&cmd[..1])
                .arg(&ds)
                .arg("-o")
                .arg(work.path().join(format!("{}-{device}", cmd[0])))
                .args(&cmd[1..])
                .args(["--device", device])
                .output()
                .unwrap()
        };
        let out = with_device("cuda");
        let err = String::from_utf8_lossy(&out.stderr);
        let want = if cfg!(feature = "cuda") {
            "no CUDA driver (libcuda) found; use --device cpu"
        } else {
            "this kbcurate was built without the `cuda` feature; rebuild with `cargo build --release --features cuda`"
        };
        assert!(!out.status.success() && err.contains(want), "{}: {err}", cmd[0]);
        // `auto` falls back to the CPU and succeeds.
        let out = with_device("auto");
        assert!(out.status.success(), "{}: {}", cmd[0], String::from_utf8_lossy(&out.stderr));
    }
}

/// NVRTC's dialect, checked without a GPU (NVRTC compiles to PTX with no device): every module
/// the GPU code loads, compiled for the devices kbcurate meets (A100, H100/H200) and for
/// NVRTC's default. The emulation compiles the same source with the host's C++ compiler, which
/// accepts things NVRTC refuses. `.ci/run` fetches NVRTC (`scripts/nvrtc-venv.sh`) and runs
/// this; without libnvrtc it skips, saying why.
#[cfg(feature = "cuda")]
#[test]
fn nvrtc_compiles_every_kernel() {
    use kbcurate::gpu::{compile_ptx, kernels::Module, nvrtc_present};
    if !nvrtc_present() {
        skip(
            "nvrtc",
            "no libnvrtc on the library path (scripts/nvrtc-venv.sh fetches one and prints its folder, for \
             LD_LIBRARY_PATH)",
        );
        return;
    }
    // The signature module is one source for both sketches: compile it once, for all its kernels.
    let mut modules: Vec<Module> = Vec::new();
    for m in Module::all() {
        match modules.iter_mut().find(|k| k.source == m.source) {
            Some(k) => k.kernels.extend(m.kernels.into_iter().filter(|n| !k.kernels.contains(n)).collect::<Vec<_>>()),
            None => modules.push(m),
        }
    }
    for arch in [Some("compute_80"), Some("compute_90"), None] {
        for m in &modules {
            let ptx = compile_ptx(m, arch).unwrap_or_else(|e| panic!("{} for {arch:?}: {e}", m.name)).to_src();
            for k in &m.kernels {
                assert!(ptx.contains(&format!(".entry {k}(")), "{}: no kernel {k} in the PTX for {arch:?}", m.name);
            }
            eprintln!(
                "{} for {}: {} kernels, {} KB of PTX",
                m.name,
                arch.unwrap_or("NVRTC's default"),
                m.kernels.len(),
                ptx.len() >> 10
            );
            if arch == Some("compute_90") {
                assemble_for_sm90(m, &ptx);
            }
        }
    }
}

/// With `KBCURATE_PTXAS` naming NVIDIA's PTX assembler (`scripts/nvrtc-venv.sh` fetches it):
/// `ptx` assembled for sm_90 (H100/H200), as the driver does when it loads the module, and
/// each kernel's registers, stack and spills printed (the figures in docs/gpu.md).
#[cfg(feature = "cuda")]
fn assemble_for_sm90(m: &kbcurate::gpu::kernels::Module, ptx: &str) {
    let Some(ptxas) = std::env::var_os("KBCURATE_PTXAS") else {
        eprintln!("  (no KBCURATE_PTXAS: not assembled for sm_90)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{}.ptx", m.name));
    std::fs::write(&file, ptx).unwrap();
    let out = std::process::Command::new(&ptxas)
        .args(["-arch=sm_90", "-v"])
        .arg(&file)
        .arg("-o")
        .arg(dir.path().join(format!("{}.cubin", m.name)))
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", std::path::Path::new(&ptxas).display()));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ptxas refused {} for sm_90:\n{log}", m.name);
    // ptxas -v: "Compiling entry function 'K'", then "Function properties for F" (entries and
    // device functions alike) with "N bytes stack frame, ..." under it, and "Used N registers"
    // for the entry.
    let (mut entry, mut props) = (String::new(), String::new());
    let mut usage: std::collections::BTreeMap<String, (u32, String)> = Default::default();
    let quoted = |line: &str| line.split('\'').nth(1).unwrap_or("").to_string();
    for line in log.lines() {
        if line.contains("Compiling entry function") {
            entry = quoted(line);
        } else if let Some(f) = line.split("Function properties for ").nth(1) {
            props = f.trim().to_string();
        } else if line.contains("stack frame") && m.kernels.contains(&props.as_str()) {
            usage.entry(props.clone()).or_default().1 = line.trim().to_string();
        } else if let Some(used) = line.split("Used ").nth(1) {
            let regs: u32 = used.split(' ').next().and_then(|n| n.parse().ok()).expect("a register count");
            usage.entry(entry.clone()).or_default().0 = regs;
        }
    }
    for k in &m.kernels {
        let Some((regs, stack)) = usage.get(*k) else { panic!("ptxas did not assemble {k} of {}:\n{log}", m.name) };
        eprintln!("  sm_90 {k}: {regs} registers; {stack}");
        // An SM has 64K registers: a block asking for more does not launch at all.
        let block = kbcurate::gpu::kernels::MAX_BLOCK as u32;
        assert!(regs * block <= 65_536, "{k}: {regs} registers × {block} threads exceed an SM's 64K");
    }
}

/// The GPU tests: kernels against the CPU on a device.
#[cfg(feature = "cuda")]
mod on_device {
    use super::*;
    use kbcurate::dedup::batch::SignatureInput::{Hashes, Raw};
    use kbcurate::dedup::minhash::Shingles;
    use kbcurate::gpu::{bpe::GpuBpe, minhash::GpuMinHash, Gpu};

    /// The GPU. These tests are `#[ignore]`d, so they run only when asked for (`--ignored`),
    /// and then a machine without a GPU is a failure, not a pass.
    fn gpu() -> Gpu {
        match Device::Cuda(0).open() {
            Ok(Some(g)) => g,
            Ok(None) => unreachable!("cuda:0 opens a GPU or fails"),
            Err(e) => panic!(
                "no GPU here ({e}): the `gpu_*` tests are ignored by default and fail where one is asked for \
                 without a device (run them on a GPU machine: scripts/gpu-check.sh)"
            ),
        }
    }

    #[test]
    #[ignore = "needs a GPU: cargo test --release --features cuda -- --ignored gpu"]
    fn gpu_minhash_equals_cpu_on_shared_text() {
        let gpu = gpu();
        let Some(texts) = shared_texts() else { return };
        for profile in [Profile::ocr(), Profile::web()] {
            let signer = GpuMinHash::new(&gpu, &profile.hasher()).unwrap();
            let (docs, bytes) = check_signer(&texts, &profile, &signer);
            eprintln!(
                "{}: GPU signatures identical on {docs} documents, {:.1} MB; {}",
                profile.name,
                bytes as f64 / 1e6,
                signer.times().render()
            );
        }
    }

    #[test]
    #[ignore = "needs a GPU: cargo test --release --features cuda -- --ignored gpu"]
    fn gpu_minhash_edge_cases() {
        let gpu = gpu();
        // Empty documents, an empty batch, words of every hash length class, many shingles
        // (several tiles), every kernel, odd permutation counts.
        let texts = edge_texts();
        for (profile, input) in kernel_variants() {
            let signer = GpuMinHash::new(&gpu, &profile.hasher()).unwrap();
            assert_eq!(signer.input(), if profile.shingles == (Shingles::Chars { n: 5 }) { Hashes } else { Raw });
            check_signer(&texts, &profile, &signer);
            // Batches of normalized text or of hashes for word shingles take the other kernels:
            // the same signatures.
            if input != signer.input() {
                check_signer_with(&texts, &profile, &signer, input);
            }
            let mut out = vec![1];
            signer.sign(&mut ShingleBatch::new(), &mut out).unwrap();
            assert!(out.is_empty());
        }
    }

    #[test]
    #[ignore = "needs a GPU: cargo test --release --features cuda -- --ignored gpu"]
    fn gpu_bpe_equals_cpu_encoder_on_shared_text() {
        let gpu = gpu();
        let Some(texts) = shared_texts() else { return };
        for (cpu, same) in [
            (TiktokenEncoder::cl100k_base(), TiktokenEncoder::cl100k_base()),
            (TiktokenEncoder::o200k_base(), TiktokenEncoder::o200k_base()),
        ] {
            let table = MergeTable::for_encoder(&same).unwrap();
            let merger = GpuBpe::new(&gpu, &table).unwrap();
            let enc = MergeEncoder::new(Box::new(same), table, merger);
            let (n, bytes, tokens) = check_encoder(&texts, &enc, &cpu);
            eprintln!(
                "{}: GPU ids identical on {n} texts, {:.1} MB, {tokens} tokens; {}; GPU {}",
                cpu.describe(),
                bytes as f64 / 1e6,
                enc.times().render(),
                enc.merger().times().render()
            );
        }
    }

    #[test]
    #[ignore = "needs a GPU: cargo test --release --features cuda -- --ignored gpu"]
    fn gpu_split_bpe_equals_cpu_encoder_on_shared_text() {
        use kbcurate::gpu::encode::GpuSplitBpe;
        use kbcurate::tokenize::merge::SplitEncoder;
        let gpu = gpu();
        let mut texts = vec![
            "x".repeat(129),
            " ".repeat(3000) + "slut",
            "ab".repeat(400),
            "Ꙭ ꙮ 𝔉𝔯𝔞𝔨𝔱𝔲𝔯 ǅemal don't I'LL ſ's".to_string(),
            String::new(),
        ];
        texts.extend(shared_texts().unwrap_or_default());
        for (cpu, same, scanner) in split_builtins() {
            let device = GpuSplitBpe::new(&gpu, &MergeTable::for_encoder(&same).unwrap(), scanner).unwrap();
            let enc = SplitEncoder::new(Box::new(same), device);
            let (n, bytes, tokens) = check_encoder(&texts, &enc, &cpu);
            eprintln!(
                "{}: GPU split-and-merge ids identical on {n} texts, {:.1} MB, {tokens} tokens; GPU {}",
                cpu.describe(),
                bytes as f64 / 1e6,
                enc.device().times().render()
            );
        }
    }

    /// Whole stages: `--device cuda` writes what `--device cpu` writes.
    #[test]
    #[ignore = "needs a GPU: cargo test --release --features cuda -- --ignored gpu"]
    fn gpu_stages_write_what_the_cpu_writes() {
        use kbcurate::dedup::stage::{dedup, DedupOptions};
        use kbcurate::tokenize::stage::{tokenize, TokenizeOptions};
        gpu(); // fails here, saying why, without a device
        let work = tempfile::tempdir().unwrap();
        let Some(ds) = duplicated_pages(work.path()) else { return };
        let read_all = |d: &std::path::Path| {
            let mut files: Vec<_> = texts::files(d).into_iter().filter(|p| !p.ends_with("manifest.json")).collect();
            files.retain(|p| !p.to_string_lossy().contains("work"));
            files.iter().map(|p| (p.strip_prefix(d).unwrap().to_owned(), std::fs::read(p).unwrap())).collect::<Vec<_>>()
        };
        let mut outs = Vec::new();
        for device in [Device::Cpu, Device::Cuda(0)] {
            let mut o = DedupOptions::new(work.path().join(format!("dedup-{device}")));
            o.device = kbcurate::gpu::signer_source(device);
            let s = dedup(&ds, &o).unwrap();
            eprintln!("dedup on {device}: {} of {} kept", s.counts.kept, s.counts.input);
            let mut t = TokenizeOptions::new(work.path().join(format!("tok-{device}")), "cl100k_base", 2048);
            t.eos = Some("<|endoftext|>".parse().unwrap());
            t.device = kbcurate::gpu::encoder_placement(device);
            tokenize(&o.output, &t).unwrap();
            outs.push((documents(&o.output), read_all(&t.output)));
        }
        assert!(outs[0].0 == outs[1].0, "dedup kept other documents");
        assert!(!outs[0].1.is_empty() && outs[0].1 == outs[1].1, "token shards differ");
    }
}

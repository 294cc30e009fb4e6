//! Real readers: Megatron-LM's own `IndexedDataset` (megatron-core) reads the `.bin/.idx` shards
//! and pyarrow the Parquet shards, and both get back exactly the tokens kbcurate wrote.
//!
//! Needs the venv made by `scripts/megatron-venv.sh` (cached under /var/tmp; override with
//! KBCURATE_MEGATRON_VENV). Skips, saying why, where it is missing.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use kbcurate::tokenize::pack::Strategy;
use kbcurate::tokenize::stage::{tokenize, Format, ShardsManifest, TokenizeOptions};
use kbcurate::tokenize::verify::read_shard;

fn venv_python() -> Option<PathBuf> {
    let venv = std::env::var("KBCURATE_MEGATRON_VENV").unwrap_or_else(|_| "/var/tmp/kbcurate-megatron-venv".into());
    let py = Path::new(&venv).join("bin/python");
    if !py.exists() {
        skip("megatron", &format!("{} not found (run scripts/megatron-venv.sh to build it)", py.display()));
        return None;
    }
    let ok = Command::new(&py)
        .args(["-c", "import pyarrow; from megatron.core.datasets.indexed_dataset import IndexedDataset"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        skip(
            "megatron",
            &format!("{} cannot import megatron-core and pyarrow (rerun scripts/megatron-venv.sh)", py.display()),
        );
        return None;
    }
    Some(py)
}

const READ: &str = r#"
import sys, json
from megatron.core.datasets.indexed_dataset import IndexedDataset
import pyarrow.parquet as pq
fmt, out = sys.argv[1], {}
for stem in sys.argv[2:]:
    if fmt == "megatron":
        ds = IndexedDataset(stem, multimodal=False, mmap=True)
        out[stem] = {"seqs": [ds[i].tolist() for i in range(len(ds))],
                     "doc_idx": ds.document_indices.tolist(), "dtype": str(ds.index.dtype.__name__)}
    else:
        t = pq.read_table(stem + ".parquet")
        out[stem] = {"seqs": t.column("input_ids").to_pylist(), "cu": t.column("cu_seqlens").to_pylist()}
print(json.dumps(out))
"#;

fn corpus(work: &Path) -> PathBuf {
    let mut f = std::fs::File::create(work.join("c.jsonl")).unwrap();
    for i in 0..300u64 {
        let words = 3 + (i * 53 % 120) as usize;
        let text: Vec<String> = (0..words).map(|w| format!("Göteborg {i} tidning{}", w % 13)).collect();
        writeln!(f, "{}", serde_json::json!({ "text": text.join(" "), "genre": "newspaper" })).unwrap();
    }
    drop(f);
    let ds = work.join("ds");
    run(&config("[[collection]]\nname = \"c\"\npaths = [\"c.jsonl\"]\n"), work, &ds, |_| {});
    ds
}

#[test]
fn megatron_and_pyarrow_read_back_the_tokens_written() {
    let Some(py) = venv_python() else { return };
    let work = tempfile::tempdir().unwrap();
    let ds = corpus(work.path());
    // A vocabulary under 65,500 tokens (trained here: 2,000) gives uint16 shards, which every
    // GPT-2-sized or smaller vocabulary does; cl100k_base gives int32.
    let small = work.path().join("small.json");
    let mut t = kbcurate::tokenize::train::TrainOptions::new(&small, 2000);
    t.threads = Some(2);
    kbcurate::tokenize::train::train(&ds, &t).unwrap();
    let small = small.display().to_string();
    for (format, packing, tokenizer, dtype) in [
        (Format::Megatron, Strategy::Concat, "cl100k_base", "int32"),
        (Format::Megatron, Strategy::BestFit, "cl100k_base", "int32"),
        (Format::Parquet, Strategy::BestFit, "cl100k_base", ""),
        (Format::Megatron, Strategy::Concat, small.as_str(), "uint16"),
        (Format::Megatron, Strategy::BestFit, small.as_str(), "uint16"),
    ] {
        let out = work.path().join(format!("shards-{format:?}-{}-{dtype}", packing.as_str()));
        let mut o = TokenizeOptions::new(&out, tokenizer, 128);
        o.format = format;
        o.packing = packing;
        o.eos = Some("<|endoftext|>".parse().unwrap());
        o.pad = Some("<|endoftext|>".parse().unwrap());
        o.val_fraction = 0.2;
        o.bucket_bytes = 30_000;
        tokenize(&ds, &o).unwrap();
        let m = ShardsManifest::read(&out).unwrap();
        let shards: Vec<_> = m.splits.values().flat_map(|s| s.shards.clone()).collect();
        assert!(shards.len() > 2);
        let stems: Vec<String> = shards.iter().map(|s| out.join(&s.name).display().to_string()).collect();
        let fmt = if format == Format::Megatron { "megatron" } else { "parquet" };
        let o = Command::new(&py).arg("-c").arg(READ).arg(fmt).args(&stems).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        for (shard, stem) in shards.iter().zip(&stems) {
            let windows = read_shard(&out, &m, shard).unwrap();
            let seqs: Vec<Vec<u32>> = serde_json::from_value(got[stem]["seqs"].clone()).unwrap();
            assert_eq!(seqs.len(), windows.len(), "{stem}");
            for (i, (s, w)) in seqs.iter().zip(&windows).enumerate() {
                assert_eq!(s, &w.tokens, "{stem} window {i}");
            }
            if format == Format::Megatron {
                assert_eq!(got[stem]["dtype"], dtype);
                let di: Vec<u64> = serde_json::from_value(got[stem]["doc_idx"].clone()).unwrap();
                assert_eq!(di, (0..=windows.len() as u64).collect::<Vec<_>>());
            }
        }
    }
}

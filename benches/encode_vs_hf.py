#!/usr/bin/env python3
"""kbcurate's tokenizer.json encoder against Hugging Face `tokenizers` in Python, one core each.

Same machine, same text, same tokenizer.json files, one run:

- text: every file of ../shared/data as documents (JSONL `text` fields; other files whole, cut
  into ~16 KB pieces at line ends, as tests/common/texts.rs does), repeated to --mb megabytes;
- tokenizers: a 32k byte-level BPE trained as `kbcurate tokenizer train` trains (the same
  pre-tokenizer, trainer settings and special token, here through Python's `tokenizers`, which
  is the same trainer; or --tok32k FILE for a file `kbcurate tokenizer train` wrote) and
  cl100k_base as a tokenizer.json (100k; written by kbcurate's `convert`);
- Python: `Tokenizer.encode_batch(docs, add_special_tokens=False)` with RAYON_NUM_THREADS=1 and
  TOKENIZERS_PARALLELISM=false, pinned to one CPU; its CPU time is checked against wall time;
- kbcurate: `benches/hf_harness` (release; kbcurate's own encoder source files, without polars
  and arrow, so it builds in minutes), pinned to the same CPU, encoding on one thread;
- ids: the harness checks its ids against the `tokenizers` crate on the first --check documents,
  and this script checks them against Python's.

    python3 -m venv /var/tmp/kbcurate-hf-venv && /var/tmp/kbcurate-hf-venv/bin/pip install tokenizers
    /var/tmp/kbcurate-hf-venv/bin/python benches/encode_vs_hf.py --mb 30
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def shared_texts(data: Path):
    out = []
    for p in sorted(q for q in data.rglob("*") if q.is_file()):
        raw = p.read_bytes().decode("utf-8", errors="replace")
        if p.suffix == ".jsonl":
            for line in raw.splitlines():
                try:
                    t = json.loads(line).get("text")
                except (json.JSONDecodeError, AttributeError):
                    continue
                if isinstance(t, str):
                    out.append(t)
            continue
        cur = ""
        for line in raw.splitlines(keepends=True):
            cur += line
            if len(cur.encode()) > 16_000:
                out.append(cur)
                cur = ""
        out.append(cur)
    return out


def train_32k(docs, out: Path):
    """A byte-level BPE as kbcurate's tokenize::train builds it (src/tokenize/train.rs)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    pattern = CL100K_PATTERN
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=32000,
        min_frequency=2,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(docs, trainer)
    tok.save(str(out))


# src/tokenize/train.rs SPLIT_PATTERN (= pretokenize::CL100K_PATTERN).
CL100K_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

PY_CHILD = r"""
import json, os, resource, sys, time
os.sched_setaffinity(0, {int(sys.argv[3])})
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
tok.no_truncation(); tok.no_padding()
docs = [json.loads(l)["text"] for l in open(sys.argv[2], encoding="utf-8")]
check = int(sys.argv[4])
tok.encode_batch(docs[:50], add_special_tokens=False)
r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.perf_counter()
tokens = 0
ids_check = []
for i in range(0, len(docs), 1000):
    enc = tok.encode_batch(docs[i:i + 1000], add_special_tokens=False)
    for k, e in enumerate(enc):
        tokens += len(e.ids)
        if i + k < check:
            ids_check.append(e.ids)
secs = time.perf_counter() - t0; r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
json.dump({"seconds": secs, "cpu_seconds": cpu, "tokens": tokens, "ids": ids_check}, sys.stdout)
"""


def read_ids(path: Path):
    b = path.read_bytes()
    out, at = [], 0
    while at < len(b):
        (n,) = struct.unpack_from("<I", b, at)
        at += 4
        out.append(list(struct.unpack_from(f"<{n}I", b, at)))
        at += 4 * n
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=30.0)
    ap.add_argument("--work", default="/var/tmp/kbcurate-encode-bench")
    ap.add_argument("--tok32k", help="a tokenizer.json from `kbcurate tokenizer train` (else trained here)")
    ap.add_argument("--check", type=int, default=3000, help="documents whose ids are compared")
    ap.add_argument("--cpu", type=int, default=0, help="the CPU both are pinned to")
    ap.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", "/var/tmp/kbcurate-tokbench-target"))
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    import tokenizers

    base = shared_texts(REPO.parent / "shared" / "data")
    if not base:
        sys.exit("no text under ../shared/data")
    docs, size = [], 0
    while size < a.mb * 1e6:
        for t in base:
            docs.append(t)
            size += len(t.encode())
    docs_path = work / "docs.jsonl"
    with open(docs_path, "w", encoding="utf-8") as f:
        for t in docs:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    text_bytes = sum(len(t.encode()) for t in docs)

    env = dict(os.environ, CARGO_TARGET_DIR=a.target_dir, CARGO_INCREMENTAL="0")
    manifest = REPO / "benches" / "hf_harness" / "Cargo.toml"
    subprocess.run(["cargo", "build", "--release", "--manifest-path", str(manifest)], check=True, env=env)
    harness = Path(a.target_dir) / "release" / "encode_harness"

    tok100k = work / "cl100k_base.json"
    subprocess.run([str(harness), "cl100k-json", str(tok100k)], check=True)
    tok32k = Path(a.tok32k) if a.tok32k else work / "trained32k.json"
    if not a.tok32k:
        train_32k(base, tok32k)

    print(f"text: {len(docs)} documents, {text_bytes / 1e6:.1f} MB (../shared/data repeated); "
          f"Python tokenizers {tokenizers.__version__}; one CPU (#{a.cpu}) each")
    rows = []
    for name, tok in [("32k (trained)", tok32k), ("100k (cl100k_base)", tok100k)]:
        ids_path = work / "ids.bin"
        r = subprocess.run(
            ["taskset", "-c", str(a.cpu), str(harness), "encode", str(tok), str(docs_path), str(ids_path),
             str(a.check)], check=True, capture_output=True, text=True)
        rust = json.loads(r.stdout.strip().splitlines()[-1])
        penv = dict(os.environ, RAYON_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
        p = subprocess.run([sys.executable, "-c", PY_CHILD, str(tok), str(docs_path), str(a.cpu), str(a.check)],
                           check=True, capture_output=True, text=True, env=penv)
        py = json.loads(p.stdout)
        if py["cpu_seconds"] > 1.1 * py["seconds"]:
            sys.exit(f"Python used more than one core: {py['cpu_seconds']:.1f} s CPU in {py['seconds']:.1f} s")
        mine = read_ids(ids_path)
        if mine != py["ids"] or rust["tokens"] != py["tokens"]:
            bad = next((i for i, (x, y) in enumerate(zip(mine, py["ids"])) if x != y), None)
            sys.exit(f"{name}: ids differ from Python's (document {bad}; tokens {rust['tokens']} vs {py['tokens']})")
        mb = text_bytes / 1e6
        rows.append((name, rust, py, mb))
        print(f"  {name}: kbcurate: {rust['describe']}; ids identical to Python's on {len(mine)} documents "
              f"and in total count ({py['tokens']} tokens), to the Rust crate's on the same documents; "
              f"Python CPU {py['cpu_seconds']:.1f} s in {py['seconds']:.1f} s wall")
    print()
    print("| vocabulary | encoder | MB/s per core | tokens/s per core | ratio |")
    print("|---|---|---:|---:|---:|")
    for name, rust, py, mb in rows:
        k_mb, p_mb = mb / rust["seconds"], mb / py["seconds"]
        print(f"| {name} | HF tokenizers {tokenizers.__version__} (Python, encode_batch) | {p_mb:.2f} | "
              f"{py['tokens'] / py['seconds']:,.0f} | 1 |")
        print(f"| {name} | kbcurate fast path | {k_mb:.2f} | {rust['tokens'] / rust['seconds']:,.0f} | "
              f"{k_mb / p_mb:.1f}× |")
    for name, rust, py, mb in rows:
        print(f"(the Rust tokenizers crate, on the {rust['checked_docs']} checked documents, {name}: "
              f"{rust['rust_crate_mb_s_on_checked']:.2f} MB/s)")


if __name__ == "__main__":
    main()

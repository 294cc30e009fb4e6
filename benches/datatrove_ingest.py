#!/usr/bin/env python3
"""JSONL → Parquet, kbcurate ingest against datatrove's JsonlReader → ParquetWriter, in one run
on the same file and machine, one core each (and two); and the memory of a single huge line.

The figures of benches/ingest.md come from this script (issue 27: every figure names the command
that gives it; peers are measured in the same run, pinned):

    python3 benches/datatrove_ingest.py --mb 200 --repeats 3       # the side-by-side table
    python3 benches/datatrove_ingest.py --long-line-mb 500          # one 500 MB line: peak memory

The first run creates a venv with datatrove (pinned, as in benches/datatrove_dedup.py, whose
helpers it shares) and re-executes itself inside it. kbcurate is the release binary
(`cargo build --release`); a copy is timed, so a concurrent build cannot swap it mid-run.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datatrove_dedup import DEFAULT_BIN, DEFAULT_TEXTS, DEFAULT_VENV, ensure_venv, log, timed, versions  # noqa: E402


def corpus(texts, mb, out):
    """The NewsEye pages repeated (with a running id) until the file holds `mb` MB."""
    pages = [json.loads(line)["text"] for line in open(texts, encoding="utf-8")]
    want, n = mb * 1_000_000, 0
    with open(out, "w", encoding="utf-8") as f:
        while f.tell() < want:
            for t in pages:
                f.write(json.dumps({"id": f"d{n}", "text": t}, ensure_ascii=False) + "\n")
                n += 1
                if f.tell() >= want:
                    break
    return n


def dt_child(cfg_path):
    """Runs datatrove's JSONL → Parquet pipeline in this (venv) process; writes its wall time."""
    cfg = json.load(open(cfg_path))
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import ParquetWriter

    out = Path(cfg["out"])
    ex = LocalPipelineExecutor(
        pipeline=[JsonlReader(cfg["input"], text_key="text", id_key="id"),
                  ParquetWriter(str(out / "parquet"), compression=cfg["compression"])],
        tasks=cfg["tasks"], workers=cfg["workers"], logging_dir=str(out / "logs"), skip_completed=False)
    t0 = time.perf_counter()
    ex.run()
    json.dump({"wall_s": time.perf_counter() - t0}, open(out / "result.json", "w"))


def run_dt(py, me, work, name, inp, tasks, workers, compression):
    out = work / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cfg = out / "cfg.json"
    json.dump({"input": str(inp), "out": str(out), "tasks": tasks, "workers": workers,
               "compression": compression}, open(cfg, "w"))
    wall, rss = timed([py, me, "--_dt-child", str(cfg)])
    return wall, rss, json.load(open(out / "result.json"))["wall_s"]


def run_kb(kb, work, inp, threads, compression):
    out = work / f"kb-j{threads}"
    shutil.rmtree(out, ignore_errors=True)
    return timed([kb, "ingest", str(inp), "--format", "jsonl", "-j", str(threads), "--compression", compression,
                  "-o", str(out)])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kbcurate", default=DEFAULT_BIN)
    ap.add_argument("--texts", default=DEFAULT_TEXTS)
    ap.add_argument("--work", default="/var/tmp/kbcurate-datatrove-ingest")
    ap.add_argument("--venv", default=DEFAULT_VENV)
    ap.add_argument("--datatrove", default="datatrove[processing]==0.10.1", help="pip spec of the peer measured")
    ap.add_argument("--mb", type=int, default=200, help="MB of JSONL to convert")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per config (best is reported)")
    ap.add_argument("--long-line-mb", type=int, default=0,
                    help="instead: one JSON line of this many MB, ingested by kbcurate alone (peak memory)")
    ap.add_argument("--_dt-child", dest="dt_child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.dt_child:
        return dt_child(a.dt_child)

    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    if not os.path.exists(a.kbcurate):
        sys.exit(f"kbcurate binary missing: {a.kbcurate} (cargo build --release)")
    kb = str(work / "kbcurate")
    shutil.copy2(a.kbcurate, kb)

    if a.long_line_mb:
        inp = work / "long" / "one-line.jsonl"
        inp.parent.mkdir(exist_ok=True)
        with open(inp, "w") as f:
            f.write('{"text": "')
            chunk = "ord " * 250_000
            for _ in range(a.long_line_mb):
                f.write(chunk)
            f.write('"}\n')
        wall, rss = run_kb(kb, work, inp.parent, 1, "zstd")
        rej = subprocess.run([kb, "inspect", "-n", "0", str(work / "kb-j1")], capture_output=True, text=True).stdout
        print(f"| one {a.long_line_mb} MB line | {wall:.2f} s | peak RSS {rss / 1024:.0f} MB |")
        print(rej)
        return

    me = os.path.abspath(__file__)
    if Path(sys.prefix).resolve() != Path(a.venv).resolve():
        py = ensure_venv(a.venv, a.datatrove)
        os.execv(py, [py, me] + sys.argv[1:])
    py = sys.executable
    inp_dir = work / "jsonl"
    shutil.rmtree(inp_dir, ignore_errors=True)
    inp_dir.mkdir()
    docs = corpus(a.texts, a.mb, inp_dir / "corpus.jsonl")
    log("versions", versions(), "documents", docs)

    rows = []
    for label, fn in [
        ("kbcurate, -j1, zstd", lambda: run_kb(kb, work, inp_dir, 1, "zstd")),
        ("datatrove, 1 task, zstd", lambda: run_dt(py, me, work, "dt-1", inp_dir, 1, 1, "zstd")[:2]),
        ("datatrove, 1 task, snappy", lambda: run_dt(py, me, work, "dt-1s", inp_dir, 1, 1, "snappy")[:2]),
        ("kbcurate, -j2, zstd", lambda: run_kb(kb, work, inp_dir, 2, "zstd")),
        ("datatrove, 2 tasks, zstd", lambda: run_dt(py, me, work, "dt-2", inp_dir, 2, 2, "zstd")[:2]),
    ]:
        runs = [fn() for _ in range(a.repeats)]
        best = min(r[0] for r in runs)
        rows.append((label, best, max(r[1] or 0 for r in runs), runs))
        log(label, [round(r[0], 2) for r in runs])
    kb1 = rows[0][1]
    print(f"\n{a.mb} MB of JSONL, {docs} documents; best of {a.repeats}, all in this run\n")
    print("| tool / config | wall s (best) | runs | peak RSS MB | ÷ kbcurate -j1 |")
    print("|---|---|---|---|---|")
    for label, best, rss, runs in rows:
        print(f"| {label} | {best:.2f} | {'/'.join(f'{r[0]:.2f}' for r in runs)} | {rss / 1024:.0f} | "
              f"{best / kb1:.2f}× |")


if __name__ == "__main__":
    main()

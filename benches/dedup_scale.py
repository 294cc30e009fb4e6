#!/usr/bin/env python3
"""Peak memory and wall time of `kbcurate dedup` as the corpus grows (1x and 10x).

Builds corpora of N documents of 380 words drawn independently from the word frequencies of
the NewsEye newspaper pages in ../shared/data (Zipf-like, as in real text: unrelated documents
share the frequent word pairs only), with 10% of documents followed by a noisy copy
(character confusions, a cut end),
ingests them and runs dedup with the release binary, and prints a table of documents, MB,
seconds and peak RSS (from /usr/bin/time -v).

    python3 benches/dedup_scale.py --docs 20000,200000 --work /var/tmp/scale
"""
import argparse, itertools, json, os, random, subprocess, sys, time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "newspaper_text" / "newseye_sv_fi_pages.train_dev.jsonl"


def words():
    if not SHARED.exists():
        sys.exit(f"skipped: {SHARED} is absent")
    out = []
    for line in SHARED.open(encoding="utf-8"):
        out.extend(json.loads(line)["text"].split())
    return out


def noisy(text, rng):
    ws = text.split()
    ws = ws[: len(ws) * 9 // 10]
    conf = {"e": "c", "s": "f", "n": "u", "i": "l"}
    return " ".join(
        "".join(conf.get(ch, ch) if rng.random() < 0.05 else ch for ch in w) for w in ws
    )


def build(path, n, vocab, seed):
    rng = random.Random(seed)
    counts = {}
    for w in vocab:
        counts[w] = counts.get(w, 0) + 1
    words_ = list(counts)
    cum = list(itertools.accumulate(counts.values()))
    with path.open("w", encoding="utf-8") as f:
        i = 0
        while i < n:
            text = " ".join(rng.choices(words_, cum_weights=cum, k=380))
            f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
            i += 1
            if i < n and rng.random() < 0.1:
                f.write(json.dumps({"text": noisy(text, rng)}, ensure_ascii=False) + "\n")
                i += 1


def timed(cmd):
    t = time.time()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(p.stderr)
    rss = next(int(l.split()[-1]) for l in p.stderr.splitlines() if "Maximum resident" in l)
    return time.time() - t, rss / 1024, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", default="20000,200000")
    ap.add_argument("--work", default="/var/tmp/kbcurate-dedup-scale")
    ap.add_argument("--bin", default=os.environ.get("KBCURATE", "/var/tmp/kbcurate-target/release/kbcurate"))
    ap.add_argument("-j", "--threads", default="2")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    vocab = words()
    print("| documents | MB | ingest s | dedup s | dedup peak MB | kept | removed |")
    print("|---|---|---|---|---|---|---|")
    for n in [int(x) for x in a.docs.split(",")]:
        src = work / f"corpus-{n}.jsonl"
        if not src.exists():
            build(src, n, vocab, 42)
        mb = src.stat().st_size / 1e6
        ing, ded = work / f"ing-{n}", work / f"dedup-{n}"
        subprocess.run(["rm", "-rf", str(ing), str(ded)], check=True)
        ti, _, _ = timed([a.bin, "ingest", str(src), "--format", "jsonl", "-o", str(ing), "-j", a.threads, "--quiet"])
        td, rss, _ = timed([a.bin, "dedup", str(ing), "-o", str(ded), "-j", a.threads])
        m = json.loads((ded / "manifest.json").read_text())
        removed = sum(m["counts"]["rejected"].values())
        print(f"| {n:,} | {mb:.0f} | {ti:.1f} | {td:.1f} | {rss:.0f} | {m['counts']['kept']:,} | {removed:,} |", flush=True)


if __name__ == "__main__":
    main()

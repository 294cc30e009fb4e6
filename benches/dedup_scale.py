#!/usr/bin/env python3
"""Peak memory and wall time of `kbcurate dedup` as the corpus grows (1x and 10x).

Builds corpora of N documents of 380 words drawn independently from the word frequencies of
the NewsEye newspaper pages in ../shared/data (Zipf-like, as in real text: unrelated documents
share the frequent word pairs only), with 10% of documents followed by a noisy copy
(character confusions, a cut end),
ingests them and runs dedup with the release binary, and prints a table of documents, MB,
seconds and peak memory: the peak RSS (from /usr/bin/time -v), and its two kinds sampled from
/proc/PID/status every 20 ms: anonymous memory (what the process allocated: the bound that
matters) and mapped file pages (the cluster step reads the signature files and band-key runs
mapped; those pages are the page cache's, clean, and dropped by the kernel under pressure).

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


def status_kb(pid, key):
    """A `key:` line of /proc/PID/status, in kB (0 once the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def timed(cmd):
    """Wall seconds, peak RSS MB, peak anonymous MB, peak mapped-file MB."""
    t = time.time()
    p = subprocess.Popen(["/usr/bin/time", "-v"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # The child of /usr/bin/time is the kbcurate process.
    anon = file_ = 0
    child = None
    while p.poll() is None:
        if child is None:
            try:
                child = int(open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()[0])
            except (OSError, IndexError, ValueError):
                pass
        if child is not None:
            anon = max(anon, status_kb(child, "RssAnon"))
            file_ = max(file_, status_kb(child, "RssFile"))
        time.sleep(0.02)
    err = p.stderr.read()
    if p.returncode != 0:
        sys.exit(err)
    rss = next(int(l.split()[-1]) for l in err.splitlines() if "Maximum resident" in l)
    return time.time() - t, rss / 1024, anon / 1024, file_ / 1024


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
    print("| documents | MB | ingest s | dedup s | dedup peak RSS MB | of it: anonymous, mapped files (peaks) | kept | removed |")
    print("|---|---|---|---|---|---|---|---|")
    for n in [int(x) for x in a.docs.split(",")]:
        src = work / f"corpus-{n}.jsonl"
        if not src.exists():
            build(src, n, vocab, 42)
        mb = src.stat().st_size / 1e6
        ing, ded = work / f"ing-{n}", work / f"dedup-{n}"
        subprocess.run(["rm", "-rf", str(ing), str(ded)], check=True)
        ti, _, _, _ = timed([a.bin, "ingest", str(src), "--format", "jsonl", "-o", str(ing), "-j", a.threads, "--quiet"])
        td, rss, anon, mapped = timed([a.bin, "dedup", str(ing), "-o", str(ded), "-j", a.threads])
        m = json.loads((ded / "manifest.json").read_text())
        removed = sum(m["counts"]["rejected"].values())
        print(
            f"| {n:,} | {mb:.0f} | {ti:.1f} | {td:.1f} | {rss:.0f} | {anon:.0f}, {mapped:.0f} "
            f"| {m['counts']['kept']:,} | {removed:,} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Runs every stage on the bundled samples and, where present, on all of ../shared/data, then
# prints the sha256 of every output file: a refactor must leave this list unchanged.
#
#   scripts/output-digest.sh [KBCURATE_BINARY] > before.sha256
#   ... change the code ...
#   scripts/output-digest.sh [KBCURATE_BINARY] > after.sha256 && diff before.sha256 after.sha256
#
# Left out of the list: the resume state (`_parts/`, `_work/`, `_spill/`, the run's `_state/`),
# which records how work was done rather than what it produced, and log files.
set -euo pipefail
cd "$(dirname "$0")/.."
kbc=${1:-target/debug/kbcurate}
[ -x "$kbc" ] || { echo "no kbcurate binary at $kbc: build it (cargo build) or name it" >&2; exit 1; }
kbc=$(realpath "$kbc")
# A fixed folder: manifests name their input folders, so a random one would differ every run.
work=${KBCURATE_DIGEST_DIR:-/tmp/kbcurate-digest}
rm -rf "$work"
mkdir -p "$work"
quiet() { "$@" > "$work/log" 2>&1 || { cat "$work/log" >&2; echo "failed: $*" >&2; exit 1; }; }

# The demo pipeline, and the same stages one command at a time (the README's commands).
quiet "$kbc" run data-samples/pipeline.toml --run-dir "$work/demo/run"
d=$work/demo/stages
quiet "$kbc" ingest --config data-samples/collections.toml -o "$d/ingested"
quiet "$kbc" dedup "$d/ingested" -o "$d/deduped"
quiet "$kbc" filter "$d/deduped" -o "$d/filtered" --config data-samples/filter.toml
quiet "$kbc" balance "$d/filtered" --policy policies/democratic.toml -o "$d/balanced"
quiet "$kbc" tokenize "$d/balanced" -o "$d/shards" --tokenizer cl100k_base --seq-len 512 --packing best-fit \
  --eos '<|endoftext|>' --pad '<|endoftext|>'
quiet "$kbc" audit "$d/balanced" -o "$d/audit"

# All of the real samples: every reader, then every stage on what they give.
shared=$(realpath ../shared/data 2>/dev/null || true)
if [ -n "$shared" ] && [ -d "$shared" ]; then
  s=$work/shared
  mkdir -p "$s"
  cat > "$s/collections.toml" <<TOML
[defaults]
language = "swe"
[[collection]]
name = "alto-pages"
paths = ["$shared/alto/danish_kb_adresseavis_1795/**/*.xml", "$shared/alto/misc_alto_v4/*.xml",
         "$shared/alto/bnl_luxembourg_lunion/*.xml", "$shared/alto/chronicling_america/*.xml"]
format = "alto"
genre = "newspaper"
source = "alto samples"
date = { fixed = "1850" }
[[collection]]
name = "mets"
paths = ["$shared/alto/europeana_newspapers_bnf_mets_alto/*/*-METS.xml", "$shared/alto/natlibfi_swedish_1749_oeconomisk_beskrifning_abo/mets.xml"]
format = "mets"
genre = "book"
source = "mets samples"
date = { from = "metadata" }
[[collection]]
name = "page"
paths = ["$shared/page_xml/**/*.page.xml"]
format = "page"
genre = "book"
source = "kant"
date = { fixed = "1784" }
[[collection]]
name = "hocr"
paths = ["$shared/hocr/*"]
format = "hocr"
genre = "newspaper"
source = "hocr samples"
date = { fixed = "1921" }
[[collection]]
name = "tei"
paths = ["$shared/tei/**/*.xml"]
format = "tei"
genre = "book"
source = "tei samples"
date = { from = "metadata" }
[[collection]]
name = "srt"
paths = ["$shared/transcripts/**/*.srt"]
format = "srt"
genre = "transcript"
source = "newsreels"
date = { from = "path", regex = '(\d{4})_' }
[[collection]]
name = "ctm"
paths = ["$shared/transcripts/**/*.ctm"]
format = "ctm"
genre = "transcript"
source = "riksdag"
date = { fixed = "2021" }
[[collection]]
name = "asr-json"
paths = ["$shared/transcripts/**/*.json"]
format = "asr-json"
genre = "transcript"
source = "riksdag"
date = { fixed = "2021" }
[[collection]]
name = "newseye"
paths = ["$shared/newspaper_text/*.jsonl"]
format = "jsonl"
genre = "newspaper"
source = "newseye"
date = { fixed = "1900" }
text_field = "text"
TOML
  quiet "$kbc" ingest --config "$s/collections.toml" -o "$s/ingested" --part-size-mb 1
  quiet "$kbc" dedup "$s/ingested" -o "$s/deduped"
  quiet "$kbc" filter "$s/deduped" -o "$s/filtered"
  quiet "$kbc" balance "$s/filtered" --policy policies/democratic.toml -o "$s/balanced"
  quiet "$kbc" tokenize "$s/balanced" -o "$s/shards" --tokenizer cl100k_base --seq-len 1024 --packing best-fit \
    --eos '<|endoftext|>' --pad '<|endoftext|>'
  quiet "$kbc" audit "$s/balanced" -o "$s/audit"
else
  echo "note: ../shared/data not found; only the bundled samples are digested" >&2
fi

cd "$work"
find . -type f ! -path '*/_parts/*' ! -path '*/_work/*' ! -path '*/_spill/*' ! -path '*/_state/*' \
  ! -name '*.log' ! -name log ! -path '*/_run/lock' -print0 | sort -z | xargs -0 sha256sum

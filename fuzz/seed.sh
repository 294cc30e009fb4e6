#!/usr/bin/env bash
# Builds the seed corpora fuzz/corpus/<target>/ from the sample data (never committed: .gitignore
# ignores fuzz/corpus and fuzz/artifacts). Sources, where they exist:
#   <repo>/../shared/data, <repo>/shared/data   the shared reference samples
#   <repo>/data-samples                          the crate's own samples
# Files over 64 KiB are cut to their first 64 KiB (still good seeds; keeps the fuzzer fast).
# Usage: fuzz/seed.sh            (from anywhere; re-running replaces files of the same name)
set -euo pipefail
FUZZ="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$FUZZ")"
CORPUS="$FUZZ/corpus"
MAX=65536
mkdir -p "$CORPUS"/{xml_readers,transcripts,jsonl,detect}

sources=()
for d in "$ROOT/../shared/data" "$ROOT/shared/data" "$ROOT/data-samples"; do
  [ -d "$d" ] && sources+=("$(cd "$d" && pwd)")
done
if [ ${#sources[@]} -eq 0 ]; then
  echo "seed.sh: no sample folders found (looked for ../shared/data, shared/data, data-samples)" >&2
  exit 1
fi

# copy SRC DEST: the first $MAX bytes of SRC.
copy() { head -c "$MAX" "$1" >"$2"; }

n=0
while IFS= read -r -d '' f; do
  # a flat, stable name: the path below its source folder with / → _
  name=""
  for s in "${sources[@]}"; do
    case "$f" in "$s"/*) name="$(basename "$s")_${f#"$s"/}";; esac
  done
  name="${name//\//_}"
  lower="$(printf '%s' "$f" | tr 'A-Z' 'a-z')"
  case "$lower" in
    *.xml|*.hocr|*.html|*.htm) copy "$f" "$CORPUS/xml_readers/$name" ;;
    *.srt|*.vtt|*.ctm) copy "$f" "$CORPUS/transcripts/$name" ;;
    *.json) copy "$f" "$CORPUS/transcripts/$name"; copy "$f" "$CORPUS/jsonl/$name" ;;
    *.jsonl|*.ndjson) copy "$f" "$CORPUS/jsonl/$name" ;;
  esac
  # detect: every file's first 8 KiB, behind a name byte (0x0d: a name without an extension,
  # so only the content decides)
  { printf '\x0d'; head -c 8192 "$f"; } >"$CORPUS/detect/$name"
  n=$((n + 1))
done < <(find "${sources[@]}" -type f ! -name '.*' -print0 | sort -z)

for t in xml_readers transcripts jsonl detect; do
  echo "seed.sh: $t: $(find "$CORPUS/$t" -type f | wc -l) seeds"
done
echo "seed.sh: $n sample files from ${sources[*]}"

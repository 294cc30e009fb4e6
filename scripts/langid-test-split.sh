#!/usr/bin/env bash
# The held-out language-ID sentences: the `# text = ` lines of the Universal Dependencies *test*
# splits, at the commits whose *dev* splits are in ../shared/data/langid (the tuning set), plus
# North Sámi (Giella; it has no dev split). Writes OUT/<label>_<treebank>-ud-test.tsv in the
# same `label<TAB>sentence` format, for `kbcurate eval langid --sentences OUT`. Needs git and
# access to github.com, or UD_MIRROR: a folder of bare clones named
# `UniversalDependencies+<repo>/repo` (as the tool library's `fetch` leaves them). Licences:
# CC BY-SA 4.0 / CC BY-NC-SA 4.0 (see each treebank).
#
#   scripts/langid-test-split.sh /var/tmp/langid-test
#   UD_MIRROR=../.mirror scripts/langid-test-split.sh /var/tmp/langid-test
set -euo pipefail
out=${1:?usage: $0 OUT_DIR}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
while read -r repo label commit; do
  if [ -n "${UD_MIRROR:-}" ]; then
    gd="$UD_MIRROR/UniversalDependencies+$repo/repo"
    rev=$commit
  else
    gd="$tmp/$repo/.git"
    git -C "$tmp" init -q "$repo"
    git --git-dir="$gd" fetch -q --depth 1 "https://github.com/UniversalDependencies/$repo" "$commit"
    rev=FETCH_HEAD
  fi
  file=$(git --git-dir="$gd" ls-tree -r --name-only "$rev" | grep -- '-ud-test.conllu$' | head -n 1)
  git --git-dir="$gd" show "$rev:$file" | sed -n 's/^# text = //p' \
    | awk -v l="$label" '{print l "\t" $0}' > "$out/${label}_$(basename "$file" .conllu).tsv"
  echo "$label: $(wc -l < "$out/${label}_$(basename "$file" .conllu).tsv") sentences from $repo@$commit:$file"
done <<'LIST'
UD_Swedish-Talbanken sv 30067217d275233ed460d0c0abafeaf22d63a3d2
UD_Danish-DDT da 85faf86dc39f735722925fb1e822070d83649068
UD_Norwegian-Bokmaal nb e83586ff8b324f147e767dccd7ed801b3666ca08
UD_Norwegian-Nynorsk nn d332ca7108148ceb6d38859affdc17462bcd9860
UD_Finnish-TDT fi 5e3a88a671ea673fa330e10cc59f54da587a95a7
UD_Icelandic-Modern is 1544211214896c757bde3d09beeb06cfc4c5a965
UD_Faroese-FarPaHC fo 65e3d0ad051167ff508e7b13175deab5ba5d7c09
UD_German-GSD de 297fcf350481058d0737a27f0f8fd03b2eadd67a
UD_English-EWT en 15d613d8447b3478787d4c278730a1e48a945efb
UD_North_Sami-Giella se 5d84ca5b1c0498dfdb78482a79363c1cca61bb5f
LIST

#!/usr/bin/env bash
# Builds (once) a Python venv with the Parquet readers users point at kbcurate's datasets:
# pyarrow, polars, DuckDB and Hugging Face datasets (tests/dataset_layout.rs checks that each reads
# exactly the kept documents from DATASET/data). Cached under /var/tmp, outside the clone: the
# first run downloads about 150 MB of wheels; later runs return at once. Prints the venv's
# python and the readers' versions on success (the python alone on the last line).
#
#   scripts/readers-venv.sh             # build if missing
#   KBCURATE_READERS_VENV=/path ...     # elsewhere
set -euo pipefail
VENV="${KBCURATE_READERS_VENV:-/var/tmp/kbcurate-readers-venv}"
PY="$VENV/bin/python"
CHECK="import pyarrow, polars, duckdb, datasets; print('pyarrow', pyarrow.__version__, 'polars', polars.__version__, 'duckdb', duckdb.__version__, 'datasets', datasets.__version__)"
if [ -x "$PY" ] && "$PY" -c "$CHECK" >&2 2>/dev/null; then
    echo "$PY"
    exit 0
fi
python3 -m venv "$VENV"
"$PY" -m pip install --quiet --upgrade pip
"$PY" -m pip install --quiet pyarrow polars duckdb datasets
"$PY" -c "$CHECK" >&2
echo "$PY"

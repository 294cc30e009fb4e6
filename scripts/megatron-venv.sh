#!/usr/bin/env bash
# Builds (once) a Python venv with megatron-core and CPU torch for the real-reader test
# (tests/megatron_reader.rs). Cached under /var/tmp, outside the clone: the first run downloads
# torch (~200 MB with the CPU wheel index, ~5.4 GB with the default wheel); later runs return
# at once. Prints the venv's python on success.
#
#   scripts/megatron-venv.sh            # build if missing
#   KBCURATE_MEGATRON_VENV=/path ...    # elsewhere
set -euo pipefail
VENV="${KBCURATE_MEGATRON_VENV:-/var/tmp/kbcurate-megatron-venv}"
PY="$VENV/bin/python"
if [ -x "$PY" ] && "$PY" -c "import torch, numpy, pyarrow; from megatron.core.datasets.indexed_dataset import IndexedDataset" 2>/dev/null; then
    echo "$PY"
    exit 0
fi
python3 -m venv "$VENV"
"$PY" -m pip install --quiet --upgrade pip
# The CPU-only wheel is much smaller; fall back to the default wheel where its index is unreachable.
"$PY" -m pip install --quiet --retries 0 --timeout 15 torch --index-url https://download.pytorch.org/whl/cpu \
    || "$PY" -m pip install --quiet torch
"$PY" -m pip install --quiet megatron-core numpy pyarrow
"$PY" -c "import torch; from megatron.core.datasets.indexed_dataset import IndexedDataset" >&2
echo "$PY"

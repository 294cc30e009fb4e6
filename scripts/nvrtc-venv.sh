#!/usr/bin/env bash
# Fetches (once) NVIDIA's NVRTC, the CUDA runtime compiler, as NVIDIA's own PyPI wheel, so that
# CI can compile every GPU kernel to PTX without a GPU or a CUDA toolkit (tests/gpu.rs,
# `nvrtc_compiles_every_kernel`): NVRTC needs no device, and its dialect is what the emulation
# in tests/cuda_emu cannot check. Cached under /var/tmp, outside the clone (~240 MB). Prints the
# folder holding libnvrtc.so.12, for LD_LIBRARY_PATH.
#
#   scripts/nvrtc-venv.sh              # fetch if missing
#   KBCURATE_NVRTC_VENV=/path ...      # elsewhere
set -euo pipefail
VENV="${KBCURATE_NVRTC_VENV:-/var/tmp/kbcurate-nvrtc-venv}"
# CUDA 12.8: the API cudarc is built against (`cuda-12080` in Cargo.toml).
WHEEL="nvidia-cuda-nvrtc-cu12==12.8.*"
find_lib() { [ -d "$VENV" ] && find "$VENV" -name 'libnvrtc.so.12' -printf '%h\n' | head -n 1 || true; }
LIB="$(find_lib)"
if [ -z "$LIB" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet "$WHEEL"
    LIB="$(find_lib)"
fi
[ -n "$LIB" ] || { echo "no libnvrtc.so.12 in $VENV after installing $WHEEL" >&2; exit 1; }
echo "$LIB"

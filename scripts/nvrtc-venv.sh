#!/usr/bin/env bash
# Fetches (once) NVIDIA's NVRTC (the CUDA runtime compiler) and ptxas (the PTX assembler) as
# NVIDIA's own PyPI wheels, so that CI can compile every GPU kernel to PTX and assemble it for
# sm_90 without a GPU or a CUDA toolkit (tests/gpu.rs, `nvrtc_compiles_every_kernel`): neither
# needs a device, and NVRTC's dialect and the kernels' register use are what the emulation in
# tests/cuda_emu cannot check. Cached under /var/tmp, outside the clone (~330 MB).
# Prints two lines: the folder holding libnvrtc.so.12 (for LD_LIBRARY_PATH), then ptxas (for
# KBCURATE_PTXAS).
#
#   scripts/nvrtc-venv.sh              # fetch if missing
#   KBCURATE_NVRTC_VENV=/path ...      # elsewhere
set -euo pipefail
VENV="${KBCURATE_NVRTC_VENV:-/var/tmp/kbcurate-nvrtc-venv}"
# CUDA 12.8: the API cudarc is built against (`cuda-12080` in Cargo.toml).
WHEELS=("nvidia-cuda-nvrtc-cu12==12.8.*" "nvidia-cuda-nvcc-cu12==12.8.*")
find_in_venv() { [ -d "$VENV" ] && find "$VENV" -name "$1" -type f | head -n 1 || true; }
LIB="$(find_in_venv libnvrtc.so.12)"
PTXAS="$(find_in_venv ptxas)"
if [ -z "$LIB" ] || [ -z "$PTXAS" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet "${WHEELS[@]}"
    LIB="$(find_in_venv libnvrtc.so.12)"
    PTXAS="$(find_in_venv ptxas)"
fi
[ -n "$LIB" ] && [ -n "$PTXAS" ] || { echo "no libnvrtc.so.12 or ptxas in $VENV after installing ${WHEELS[*]}" >&2; exit 1; }
dirname "$LIB"
echo "$PTXAS"

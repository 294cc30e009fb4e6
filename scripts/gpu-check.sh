#!/usr/bin/env bash
# The GPU check of issue 9, as one command on a machine with an NVIDIA GPU (H100/H200 class,
# 16 cores, CUDA driver and toolkit (NVRTC) present, no network). Budget: 8 minutes.
#
#   scripts/gpu-check.sh            # build, GPU equivalence tests, benchmark (~256 MB of text)
#   MB=64 scripts/gpu-check.sh      # a smaller benchmark
#
# 1. builds the GPU tests and the benchmark with `--features cuda` (profile `gpu-check`: release
#    with polars/arrow at opt-level 1 so a cold build fits; see Cargo.toml),
# 2. runs the GPU equivalence tests: `cargo test --features cuda -- --ignored gpu` (kernels
#    against the CPU on all of ../shared/data, and whole dedup/tokenize runs cuda vs cpu),
# 3. runs `examples/gpu_bench.rs`: GPU vs all CPU cores, MB/s for encoding and signatures,
#    with where the GPU path's time goes.
#
# No network at run time: cargo builds --offline, so the dependencies must already be in the
# cargo registry cache (run `cargo fetch` with network beforehand, on that machine or into a
# CARGO_HOME copied there) or vendored (`cargo vendor` + .cargo/config.toml). ../shared/data is
# read when present (the tests skip their real-text part otherwise; the benchmark generates text).
# Output goes to the terminal and to $OUT/gpu-check.log when OUT is set (else ./gpu-check.log).
set -euo pipefail
cd "$(dirname "$0")/.."

LOG="${OUT:-.}/gpu-check.log"
exec > >(tee "$LOG") 2>&1
start=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - start ))s)"; }
CARGO=(cargo --offline --locked)
PROFILE=(--profile gpu-check --features cuda)

step "machine"
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
cargo --version
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
  || echo "note: nvidia-smi failed; the tests will say whether a driver is found"
echo "cores: $(nproc)"
ls /usr/local/cuda*/lib64/libnvrtc.so* 2>/dev/null | head -3 \
  || echo "note: libnvrtc not under /usr/local/cuda*; it must be on the loader path (LD_LIBRARY_PATH)"
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
[ -d ../shared/data ] || echo "note: ../shared/data not found: tests skip their real-text part, the benchmark generates text"

step "dependencies (offline)"
"${CARGO[@]}" fetch >/dev/null || {
  echo "the dependencies are not in the cargo cache: run \`cargo fetch\` with network first" >&2
  exit 1
}

step "build (tests and benchmark, --features cuda)"
timeout 300 "${CARGO[@]}" build "${PROFILE[@]}" --test gpu --example gpu_bench

# A failed step does not stop the next: the benchmark's figures are wanted either way (it
# checks equality too). The exit status says whether everything passed.
failed=()
step "GPU equivalence tests: cargo test --features cuda -- --ignored gpu"
timeout 100 "${CARGO[@]}" test "${PROFILE[@]}" --test gpu -- --ignored gpu --nocapture --test-threads 1 \
  || failed+=("tests")

step "benchmark: GPU vs all CPU cores"
timeout 75 "${CARGO[@]}" run "${PROFILE[@]}" --example gpu_bench -- --mb "${MB:-256}" || failed+=("benchmark")

step "done"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all GPU checks passed"

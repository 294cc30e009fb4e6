// A host emulation of the part of CUDA that kbcurate's kernels use, so that their source
// (src/gpu/kernels/*.cu) compiles with the host's C++ compiler and runs on the CPU.
//
// The execution model: a launch runs its blocks one after another; a block's threads are OS
// threads that meet at a barrier for __syncthreads, so a kernel that needs a barrier and lacks
// one, or reads shared memory another thread has not written yet, shows it here too (as a
// wrong or varying result, or a hang, not as silent luck). __shared__ variables are statics:
// one block runs at a time, so a static is its shared memory; `extern __shared__` arrays are
// rewritten by the test to point at `emu_dynamic_shared`. Atomics are std::atomic_ref.
//
// What this cannot show: NVRTC's dialect (the GPU tests compile with NVRTC), warp timing, and
// the device's weaker memory model. It shows the kernels' logic, indexing and synchronization
// on real inputs, in CI, without a GPU.
#pragma once

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

inline thread_local dim3 threadIdx;
inline thread_local dim3 blockIdx;
inline dim3 blockDim;
inline dim3 gridDim;
inline std::barrier<>* emu_barrier = nullptr;
alignas(16) inline unsigned char emu_dynamic_shared[64 * 1024];

#define __global__
#define __device__
#define __host__
#define __noinline__ __attribute__((noinline))
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static
#define __constant__ static const

inline void __syncthreads() { emu_barrier->arrive_and_wait(); }

inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}

inline unsigned atomicMin(unsigned* p, unsigned v) {
    std::atomic_ref<unsigned> a(*p);
    unsigned old = a.load();
    while (v < old && !a.compare_exchange_weak(old, v)) {
    }
    return old;
}

inline unsigned atomicAdd(unsigned* p, unsigned v) { return std::atomic_ref<unsigned>(*p).fetch_add(v); }

// A flag many threads set to the same value at once (minhash.cu): benign on the GPU, a data
// race to C++ unless atomic.
#define SET_FLAG(p) std::atomic_ref<unsigned>(*(p)).store(1u, std::memory_order_relaxed)

// CUDA's integer min/max overloads (std::min would need both arguments of one type).
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline int min(int a, int b) { return a < b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }

// Runs `kernel()` over the grid: blockDim.x threads, each taking every block in turn, with a
// barrier between blocks so that no thread starts the next block (and reuses its statics)
// before the whole block is done.
template <class Kernel>
void emu_launch(unsigned grid, unsigned block, unsigned shared_bytes, Kernel kernel) {
    if (shared_bytes > sizeof(emu_dynamic_shared)) throw "dynamic shared memory over the emulator's 64 KB";
    gridDim.x = grid;
    blockDim.x = block;
    std::barrier<> bar(block);
    emu_barrier = &bar;
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < block; t++) {
        threads.emplace_back([&, t] {
            threadIdx.x = t;
            for (unsigned b = 0; b < grid; b++) {
                blockIdx.x = b;
                kernel();
                bar.arrive_and_wait();
            }
        });
    }
    for (auto& th : threads) th.join();
    emu_barrier = nullptr;
}

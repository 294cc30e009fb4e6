/* Signatures, one thread block per document: `minhash` and `oph` over shingle hashes computed
 * on the CPU, `text_minhash` and `text_oph` over normalized text whose word shingles they find
 * and hash themselves (needs xxh3.cu first). */
#define TILE 512
#define PER_THREAD 4
typedef unsigned int u32;
typedef unsigned long long u64;

/* ---- The `minhash` sketch: each thread owns up to PER_THREAD permutations. ---- */

struct Perms {
    u32 lo[PER_THREAD], hi[PER_THREAD], m[PER_THREAD];
    u64 b[PER_THREAD];
};

/* This thread's permutations' functions, and their minima reset. */
__device__ __forceinline__ void perms_load(Perms& s, const u32* a_lo, const u32* a_hi, const u64* b, u32 perms) {
    for (int k = 0; k < PER_THREAD; k++) {
        const u32 p = threadIdx.x + k * blockDim.x;
        s.m[k] = 0xffffffffu;
        if (p < perms) { s.lo[k] = a_lo[p]; s.hi[k] = a_hi[p]; s.b[k] = b[p]; }
    }
}

/* The minima over a tile of folded shingle hashes in shared memory:
 * hi32(a_lo·x + b) + a_hi·x (mod 2^32), the CPU's arithmetic. */
__device__ __forceinline__ void perms_scan(Perms& s, const u32* xs, u32 n, u32 perms) {
    for (int k = 0; k < PER_THREAD; k++) {
        if (threadIdx.x + k * blockDim.x >= perms) break;
        u32 mk = s.m[k];
        for (u32 i = 0; i < n; i++) {
            const u32 x = xs[i];
            const u64 prod = (u64)s.lo[k] * x + s.b[k];
            mk = min(mk, (u32)(prod >> 32) + s.hi[k] * x);
        }
        s.m[k] = mk;
    }
}

__device__ __forceinline__ void perms_store(const Perms& s, u32* sig, u32 d, u32 perms) {
    for (int k = 0; k < PER_THREAD; k++) {
        const u32 p = threadIdx.x + k * blockDim.x;
        if (p < perms) sig[(u64)d * perms + p] = s.m[k];
    }
}

__device__ __forceinline__ u32 fold32(u64 h) { return (u32)(h ^ (h >> 32)); }

extern "C" __global__ void minhash(
    const u64* __restrict__ hashes, const u32* __restrict__ offsets, u32 docs,
    const u32* __restrict__ a_lo, const u32* __restrict__ a_hi, const u64* __restrict__ b, u32 perms,
    u32* __restrict__ sig)
{
    __shared__ u32 xs[TILE];
    for (u32 d = blockIdx.x; d < docs; d += gridDim.x) {
        const u32 start = offsets[d], end = offsets[d + 1];
        Perms s;
        perms_load(s, a_lo, a_hi, b, perms);
        for (u32 t0 = start; t0 < end; t0 += TILE) {
            const u32 n = min((u32)TILE, end - t0);
            __syncthreads();
            for (u32 i = threadIdx.x; i < n; i += blockDim.x) xs[i] = fold32(hashes[t0 + i]);
            __syncthreads();
            perms_scan(s, xs, n, perms);
        }
        perms_store(s, sig, d, perms);
    }
}

/* ---- One permutation hashing: bins in shared memory. ---- */

__device__ __forceinline__ u64 mix64(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

__device__ __forceinline__ u32 bin_of(u64 x, u32 n) {
    return (u32)(((x >> 32) * (u64)n) >> 32);
}

__device__ __forceinline__ void bins_reset(u32* vals, u32* filled, u32 perms) {
    for (u32 p = threadIdx.x; p < perms; p += blockDim.x) { vals[p] = 0xffffffffu; filled[p] = 0; }
}

/* Many threads may set one flag at once, all to 1: on the GPU one of the identical stores
 * lands, and no atomic is needed. The CPU emulation defines it as a relaxed atomic store (C++
 * makes racing plain stores undefined, and ThreadSanitizer reports them). */
#ifndef SET_FLAG
#define SET_FLAG(p) (*(p) = 1u)
#endif

/* A shingle hash into its bin; the minimum does not depend on the order the atomics land in. */
__device__ __forceinline__ void bins_add(u32* vals, u32* filled, u64 h, u64 key, u32 perms) {
    const u64 g = mix64(h ^ key);
    const u32 bin = bin_of(g, perms);
    atomicMin(&vals[bin], (u32)g);
    SET_FLAG(&filled[bin]);
}

/* Document d's signature: each bin's minimum, an empty bin filled by the CPU's densification
 * sequence (when the document has shingles at all). */
__device__ __forceinline__ void bins_store(const u32* vals, const u32* filled, bool any, u64 key, u32 perms,
                                           u32* sig, u32 d) {
    for (u32 p = threadIdx.x; p < perms; p += blockDim.x) {
        u32 v = vals[p];
        if (any && !filled[p]) {
            for (u64 attempt = 1;; attempt++) {
                const u32 j = bin_of(mix64(key ^ ((u64)p << 32) ^ attempt), perms);
                if (filled[j]) { v = vals[j]; break; }
            }
        }
        sig[(u64)d * perms + p] = v;
    }
}

/* Dynamic shared memory: perms values, then perms filled flags. */
extern "C" __global__ void oph(
    const u64* __restrict__ hashes, const u32* __restrict__ offsets, u32 docs,
    u64 key, u32 perms, u32* __restrict__ sig)
{
    extern __shared__ u32 smem[];
    u32* vals = smem;
    u32* filled = smem + perms;
    for (u32 d = blockIdx.x; d < docs; d += gridDim.x) {
        bins_reset(vals, filled, perms);
        __syncthreads();
        const u32 start = offsets[d], end = offsets[d + 1];
        for (u32 i = start + threadIdx.x; i < end; i += blockDim.x) bins_add(vals, filled, hashes[i], key, perms);
        __syncthreads();
        bins_store(vals, filled, end > start, key, perms, sig, d);
        __syncthreads();
    }
}

/* ---- From normalized text: word shingles found and hashed here. ---- */

/* The hash of the word shingle that starts at byte p of text[0..len), if one does: the CPU's
 * `shingle_into` for `Words { n }`, one start at a time (`dedup::batch::word_shingle_at`).
 * Words are what lies between spaces (normalized text has single spaces, but any bytes give
 * the CPU's shingles); a shingle is n words and the spaces between them; a text of fewer than
 * n words is one shingle, the whole text. p == len is a start when the text ends in a space
 * (an empty last word, as on the CPU). */
__device__ __forceinline__ bool word_shingle_at(const unsigned char* text, u32 len, u32 p, u32 n, u64* h) {
    if (p > 0 && text[p - 1] != ' ') return false;
    u32 spaces = 0, q = p;
    for (; q < len; q++) {
        if (text[q] == ' ' && ++spaces == n) break;
    }
    if (spaces == n) { *h = xxh3_64(text + p, q - p); return true; }
    if (spaces == n - 1) { *h = xxh3_64(text + p, len - p); return true; }
    if (p == 0) { *h = xxh3_64(text, len); return true; }
    return false;
}

/* `minhash` over the word shingles of each document's normalized text: a tile of TILE start
 * positions at a time, its shingles hashed and folded into shared memory (in any order: a
 * minimum does not care), then scanned by each permutation's thread. */
extern "C" __global__ void text_minhash(
    const unsigned char* __restrict__ text, const u32* __restrict__ offsets, u32 docs, u32 n,
    const u32* __restrict__ a_lo, const u32* __restrict__ a_hi, const u64* __restrict__ b, u32 perms,
    u32* __restrict__ sig)
{
    __shared__ u32 xs[TILE];
    __shared__ u32 count;
    for (u32 d = blockIdx.x; d < docs; d += gridDim.x) {
        const u32 start = offsets[d], len = offsets[d + 1] - start;
        Perms s;
        perms_load(s, a_lo, a_hi, b, perms);
        /* Start positions 0..=len of a non-empty text; an empty text has no shingles. */
        for (u32 t0 = 0; len > 0 && t0 <= len; t0 += TILE) {
            __syncthreads();
            if (threadIdx.x == 0) count = 0;
            __syncthreads();
            const u32 stop = min(t0 + TILE, len + 1);
            for (u32 p = t0 + threadIdx.x; p < stop; p += blockDim.x) {
                u64 h;
                if (word_shingle_at(text + start, len, p, n, &h)) xs[atomicAdd(&count, 1u)] = fold32(h);
            }
            __syncthreads();
            perms_scan(s, xs, count, perms);
        }
        perms_store(s, sig, d, perms);
    }
}

/* `oph` over the word shingles of each document's normalized text: every start position is a
 * thread's, its shingle hashed and binned. */
extern "C" __global__ void text_oph(
    const unsigned char* __restrict__ text, const u32* __restrict__ offsets, u32 docs, u32 n,
    u64 key, u32 perms, u32* __restrict__ sig)
{
    extern __shared__ u32 smem[];
    u32* vals = smem;
    u32* filled = smem + perms;
    for (u32 d = blockIdx.x; d < docs; d += gridDim.x) {
        bins_reset(vals, filled, perms);
        __syncthreads();
        const u32 start = offsets[d], len = offsets[d + 1] - start;
        for (u32 p = threadIdx.x; len > 0 && p <= len; p += blockDim.x) {
            u64 h;
            if (word_shingle_at(text + start, len, p, n, &h)) bins_add(vals, filled, h, key, perms);
        }
        __syncthreads();
        bins_store(vals, filled, len > 0, key, perms, sig, d);
        __syncthreads();
    }
}

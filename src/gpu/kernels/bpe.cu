typedef unsigned int u32;
typedef unsigned long long u64;
#define NONE 0xffffffffffffffffULL

__device__ __forceinline__ u64 lookup(const u64* __restrict__ keys, const u64* __restrict__ vals, u32 bits,
                                      u32 l, u32 r)
{
    const u64 key = ((u64)l << 32) | r;
    u64 h = key;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    const u64 mask = (1ULL << bits) - 1;
    u64 s = h >> (64 - bits);
    for (;;) {
        const u64 k = keys[s];
        if (k == key) return vals[s];
        if (k == NONE) return NONE;
        s = (s + 1) & mask;
    }
}

extern "C" __global__ void bpe_merge(
    const unsigned char* __restrict__ bytes, const u32* __restrict__ starts, u32 pieces,
    const u64* __restrict__ keys, const u64* __restrict__ vals, u32 bits, const u32* __restrict__ byte_ids,
    u32* __restrict__ ids_out, u32* __restrict__ counts)
{
    const u32 k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= pieces) return;
    const u32 s = starts[k];
    u32 n = starts[k + 1] - s;
    u32 ids[MAX_PIECE];
    u64 ranks[MAX_PIECE];
    for (u32 i = 0; i < n; i++) ids[i] = byte_ids[bytes[s + i]];
    for (u32 i = 0; i + 1 < n; i++) ranks[i] = lookup(keys, vals, bits, ids[i], ids[i + 1]);
    while (n > 1) {
        u64 best = NONE;
        u32 j = 0;
        for (u32 i = 0; i + 1 < n; i++) {
            if (ranks[i] < best) { best = ranks[i]; j = i; }
        }
        if (best == NONE) break;
        ids[j] = (u32)best;
        for (u32 i = j + 1; i + 1 < n; i++) ids[i] = ids[i + 1];
        for (u32 i = j; i + 2 < n; i++) ranks[i] = ranks[i + 1];
        n -= 1;
        if (j > 0) ranks[j - 1] = lookup(keys, vals, bits, ids[j - 1], ids[j]);
        if (j + 1 < n) ranks[j] = lookup(keys, vals, bits, ids[j], ids[j + 1]);
    }
    for (u32 i = 0; i < n; i++) ids_out[s + i] = ids[i];
    counts[k] = n;
}

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

/* Lowest-rank merges of the piece `piece[0..n)` (n <= MAX_PIECE) in registers and local
 * memory; its ids to out, their number returned. */
__device__ __forceinline__ u32 merge_short(const unsigned char* piece, u32 n, const u64* __restrict__ keys,
                                           const u64* __restrict__ vals, u32 bits, const u32* __restrict__ byte_ids,
                                           u32* out)
{
    u32 ids[MAX_PIECE];
    u64 ranks[MAX_PIECE];
    for (u32 i = 0; i < n; i++) ids[i] = byte_ids[piece[i]];
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
    for (u32 i = 0; i < n; i++) out[i] = ids[i];
    return n;
}

/* The same merges for a piece of any length, worked in `ids` (n words of global memory, which
 * end up holding the result): every round looks up every adjacent pair again. Quadratic, for the
 * rare long piece (a run of letters or spaces). */
__device__ u32 merge_long(const unsigned char* piece, u32 n, const u64* __restrict__ keys,
                          const u64* __restrict__ vals, u32 bits, const u32* __restrict__ byte_ids, u32* ids)
{
    for (u32 i = 0; i < n; i++) ids[i] = byte_ids[piece[i]];
    while (n > 1) {
        u64 best = NONE;
        u32 j = 0;
        for (u32 i = 0; i + 1 < n; i++) {
            const u64 r = lookup(keys, vals, bits, ids[i], ids[i + 1]);
            if (r < best) { best = r; j = i; }
        }
        if (best == NONE) break;
        ids[j] = (u32)best;
        for (u32 i = j + 1; i + 1 < n; i++) ids[i] = ids[i + 1];
        n -= 1;
    }
    return n;
}

extern "C" __global__ void bpe_merge(
    const unsigned char* __restrict__ bytes, const u32* __restrict__ starts, u32 pieces,
    const u64* __restrict__ keys, const u64* __restrict__ vals, u32 bits, const u32* __restrict__ byte_ids,
    u32* __restrict__ ids_out, u32* __restrict__ counts)
{
    const u32 k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= pieces) return;
    const u32 s = starts[k];
    counts[k] = merge_short(bytes + s, starts[k + 1] - s, keys, vals, bits, byte_ids, ids_out + s);
}

/* Every piece of a batch split on the GPU (`split.cu`): piece k is bytes[starts[k]..] up to the
 * next start (the last up to `len`); their number is piece_offsets[chunks], known only on the
 * device. Its ids go to ids_out[starts[k]..], their number to counts[k]. */
extern "C" __global__ void bpe_merge_all(
    const unsigned char* __restrict__ bytes, u32 len, const u32* __restrict__ starts,
    const u32* __restrict__ piece_offsets, u32 chunks,
    const u64* __restrict__ keys, const u64* __restrict__ vals, u32 bits, const u32* __restrict__ byte_ids,
    u32* __restrict__ ids_out, u32* __restrict__ counts)
{
    const u32 k = blockIdx.x * blockDim.x + threadIdx.x, pieces = piece_offsets[chunks];
    if (k >= pieces) return;
    const u32 s = starts[k], n = (k + 1 < pieces ? starts[k + 1] : len) - s;
    counts[k] = n <= MAX_PIECE ? merge_short(bytes + s, n, keys, vals, bits, byte_ids, ids_out + s)
                               : merge_long(bytes + s, n, keys, vals, bits, byte_ids, ids_out + s);
}

/* Piece k's ids to tokens[tok_offsets[k]..]: the batch's ids packed in order. */
extern "C" __global__ void pack_ids(
    const u32* __restrict__ starts, const u32* __restrict__ piece_offsets, u32 chunks,
    const u32* __restrict__ ids_out, const u32* __restrict__ counts, const u32* __restrict__ tok_offsets,
    u32* __restrict__ tokens)
{
    const u32 k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= piece_offsets[chunks]) return;
    const u32 s = starts[k], at = tok_offsets[k];
    for (u32 i = 0; i < counts[k]; i++) tokens[at + i] = ids_out[s + i];
}

/* Document d's first token (d in 0..=docs): the first of its first chunk's first piece. */
extern "C" __global__ void doc_tokens(
    const u32* __restrict__ piece_offsets, const u32* __restrict__ first_chunk, const u32* __restrict__ tok_offsets,
    u32 docs, u32* __restrict__ doc_tok)
{
    const u32 d = blockIdx.x * blockDim.x + threadIdx.x;
    if (d <= docs) doc_tok[d] = tok_offsets[piece_offsets[first_chunk[d]]];
}

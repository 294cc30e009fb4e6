/* Normalization on the GPU: `dedup::rule_table`'s loop (`RuleTable::normalize_chunk`) over
 * the documents' raw UTF-8 text, one thread per chunk of about a kilobyte, so that a long
 * document is normalized by many threads; then the chunks' parts packed one after the other, as
 * the text signature kernels (minhash.cu) read them. The rules come as a table of one u32 per
 * code point (kind, alphanumeric bit, length and pool offset of the normalized bytes), so the
 * kernel needs no Unicode knowledge; the hyphenation state is the CPU's.
 *
 * A chunk needs no state from the one before: right after a character that emits (a letter or
 * digit) the state is known (no break pending, no hyphenation, output not empty). So a chunk
 * other than a document's first starts right after its first emitting character, and each
 * chunk runs past its end up to and including the first emitting character there. Two passes:
 * one counts each chunk's bytes, a scan turns counts into offsets, the second writes. */
typedef unsigned int u32;
typedef unsigned long long u64;

#define KIND_BREAK 0u
#define KIND_EMIT 1u
#define KIND_HYPHEN 2u
#define KIND_SOFT_HYPHEN 3u
#define KIND_COMBINING 4u
#define RULE_ALNUM 8u

__device__ __forceinline__ u32 utf8_decode(const unsigned char* s, u32 i, u32* n) {
    const u32 lead = s[i];
    if (lead < 0x80) { *n = 1; return lead; }
    if (lead < 0xE0) { *n = 2; return ((lead & 0x1F) << 6) | (s[i + 1] & 0x3F); }
    if (lead < 0xF0) { *n = 3; return ((lead & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F); }
    *n = 4;
    return ((lead & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
}

/* Chunk k is bytes [chunk_begin[k], end) of document chunk_doc[k] (raw[raw_offsets[d]..
 * raw_offsets[d + 1]], valid UTF-8: Arrow strings), `end` being the next chunk's begin in the
 * same document or the document's end. write == 0: its part's length to lens[k]. write == 1:
 * its part to text + offsets[k]. */
extern "C" __global__ void normalize_chunks(
    const unsigned char* __restrict__ raw, const u32* __restrict__ raw_offsets,
    const u32* __restrict__ chunk_begin, const u32* __restrict__ chunk_doc, u32 chunks,
    const u32* __restrict__ rules, const unsigned char* __restrict__ pool, u32 strip_diacritics,
    u32 write, const u32* __restrict__ offsets, unsigned char* __restrict__ text, u32* __restrict__ lens)
{
    const u32 k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= chunks) return;
    const u32 d = chunk_doc[k], doc_begin = raw_offsets[d], doc_end = raw_offsets[d + 1];
    const u32 begin = chunk_begin[k];
    const u32 end = (k + 1 < chunks && chunk_doc[k + 1] == d) ? chunk_begin[k + 1] : doc_end;
    unsigned char* out = text + (write ? offsets[k] : 0);
    u32 len = 0, i = begin, n;
    bool pending = false, hyphen = false, hyphen_newline = false, nonempty = false;
    if (begin > doc_begin) {
        while (i < doc_end && (raw[i] & 0xC0) == 0x80) i++;
        for (;;) {
            if (i >= end || i >= doc_end) {
                if (!write) lens[k] = 0;
                return;
            }
            const u32 c = utf8_decode(raw, i, &n);
            i += n;
            if ((rules[c] & 7u) == KIND_EMIT) break;
        }
        nonempty = true;
    }
    while (i < doc_end) {
        const u32 c = utf8_decode(raw, i, &n);
        const bool past_end = i >= end;
        const u32 at = i;
        i += n;
        const u32 r = rules[c];
        if (hyphen) {
            if (c == '\n' || c == '\r') { hyphen_newline = true; continue; }
            if (c == ' ' || c == '\t') continue;
            if (!(hyphen_newline && (r & RULE_ALNUM))) pending = true;
            hyphen = false;
            hyphen_newline = false;
        }
        const bool joined = nonempty && !pending;
        const u32 kind = r & 7u;
        if (kind == KIND_EMIT) {
            if (pending && nonempty) { if (write) out[len] = ' '; len++; }
            pending = false;
            nonempty = true;
            const u32 m = (r >> 4) & 15u, from = r >> 8;
            for (u32 j = 0; j < m; j++) { if (write) out[len] = pool[from + j]; len++; }
            if (past_end) break;
        } else if (kind == KIND_HYPHEN) {
            if (joined) hyphen = true; else pending = true;
        } else if (kind == KIND_SOFT_HYPHEN) {
            hyphen = joined;
        } else if (kind == KIND_COMBINING) {
            if (!strip_diacritics && joined)
                for (u32 j = 0; j < n; j++) { if (write) out[len] = raw[at + j]; len++; }
        } else {
            pending = true;
        }
    }
    if (!write) lens[k] = len;
}

/* offsets[i] = lens[0] + ... + lens[i - 1] for i in 0..=n: one block; each thread sums a
 * stretch, thread 0 scans the stretch sums in shared memory, each thread writes its stretch. */
#define SCAN_BLOCK 256
__device__ __forceinline__ void scan_block(const u32* __restrict__ lens, u32 n, u32* __restrict__ offsets)
{
    __shared__ u32 part[SCAN_BLOCK];
    const u32 t = threadIdx.x, per = (n + blockDim.x - 1) / blockDim.x;
    const u32 lo = min(t * per, n), hi = min(lo + per, n);
    u32 sum = 0;
    for (u32 i = lo; i < hi; i++) sum += lens[i];
    part[t] = sum;
    __syncthreads();
    if (t == 0) {
        u32 acc = 0;
        for (u32 j = 0; j < blockDim.x; j++) { const u32 v = part[j]; part[j] = acc; acc += v; }
        offsets[n] = acc;
    }
    __syncthreads();
    u32 acc = part[t];
    for (u32 i = lo; i < hi; i++) { offsets[i] = acc; acc += lens[i]; }
}

extern "C" __global__ void scan_exclusive(const u32* __restrict__ lens, u32 n, u32* __restrict__ offsets)
{
    scan_block(lens, n, offsets);
}

/* The same, n being counted on the device: n = count_at[index]. */
extern "C" __global__ void scan_exclusive_at(const u32* __restrict__ lens, const u32* __restrict__ count_at, u32 index,
                                             u32* __restrict__ offsets)
{
    scan_block(lens, count_at[index], offsets);
}

/* Document d's normalized text starts where its first chunk's part does (d in 0..=docs; the
 * last entry of first_chunk is the number of chunks, whose offset is the total). */
extern "C" __global__ void gather_offsets(
    const u32* __restrict__ chunk_offsets, const u32* __restrict__ first_chunk, u32 docs, u32* __restrict__ doc_offsets)
{
    const u32 d = blockIdx.x * blockDim.x + threadIdx.x;
    if (d <= docs) doc_offsets[d] = chunk_offsets[first_chunk[d]];
}

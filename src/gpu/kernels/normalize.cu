/* Normalization on the GPU: `dedup::rule_table`'s loop, one thread per document, over the
 * documents' raw UTF-8 text; then the normalized texts packed one after the other, as the
 * text signature kernels (minhash.cu) read them. The rules come as a table of one u32 per code
 * point (kind, alphanumeric bit, length and pool offset of the normalized bytes), so the
 * kernel needs no Unicode knowledge; the hyphenation state is the CPU's. */
typedef unsigned int u32;
typedef unsigned long long u64;

#define KIND_BREAK 0u
#define KIND_EMIT 1u
#define KIND_HYPHEN 2u
#define KIND_SOFT_HYPHEN 3u
#define KIND_COMBINING 4u
#define RULE_ALNUM 8u

/* Document d's raw text is raw[raw_offsets[d]..raw_offsets[d + 1]] (valid UTF-8: Arrow
 * strings); its normalized text goes to scratch + expansion * raw_offsets[d], its length to
 * lens[d]. */
extern "C" __global__ void normalize_docs(
    const unsigned char* __restrict__ raw, const u32* __restrict__ raw_offsets, u32 docs,
    const u32* __restrict__ rules, const unsigned char* __restrict__ pool, u32 strip_diacritics, u32 expansion,
    unsigned char* __restrict__ scratch, u32* __restrict__ lens)
{
    const u32 d = blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= docs) return;
    const u32 end = raw_offsets[d + 1];
    unsigned char* out = scratch + (u64)expansion * raw_offsets[d];
    u32 len = 0;
    bool pending = false, hyphen = false, hyphen_newline = false;
    for (u32 i = raw_offsets[d]; i < end;) {
        /* Decode one character. */
        const u32 lead = raw[i];
        u32 c, n;
        if (lead < 0x80) { c = lead; n = 1; }
        else if (lead < 0xE0) { c = ((lead & 0x1F) << 6) | (raw[i + 1] & 0x3F); n = 2; }
        else if (lead < 0xF0) { c = ((lead & 0x0F) << 12) | ((raw[i + 1] & 0x3F) << 6) | (raw[i + 2] & 0x3F); n = 3; }
        else {
            c = ((lead & 0x07) << 18) | ((raw[i + 1] & 0x3F) << 12) | ((raw[i + 2] & 0x3F) << 6) | (raw[i + 3] & 0x3F);
            n = 4;
        }
        const u32 r = rules[c];
        if (hyphen) {
            if (c == '\n' || c == '\r') { hyphen_newline = true; i += n; continue; }
            if (c == ' ' || c == '\t') { i += n; continue; }
            if (!(hyphen_newline && (r & RULE_ALNUM))) pending = true;
            hyphen = false;
            hyphen_newline = false;
        }
        const bool joined = len > 0 && !pending;
        switch (r & 7u) {
        case KIND_EMIT: {
            if (pending && len > 0) out[len++] = ' ';
            pending = false;
            const u32 k = (r >> 4) & 15u, at = r >> 8;
            for (u32 j = 0; j < k; j++) out[len++] = pool[at + j];
            break;
        }
        case KIND_HYPHEN:
            if (joined) hyphen = true; else pending = true;
            break;
        case KIND_SOFT_HYPHEN:
            hyphen = joined;
            break;
        case KIND_COMBINING:
            if (!strip_diacritics && joined)
                for (u32 j = 0; j < n; j++) out[len++] = raw[i + j];
            break;
        default:
            pending = true;
        }
        i += n;
    }
    lens[d] = len;
}

/* offsets[0] = 0, offsets[d + 1] = offsets[d] + lens[d]: one thread (a batch has a few
 * thousand documents at most; this is not where the time goes). */
extern "C" __global__ void scan_offsets(const u32* __restrict__ lens, u32 docs, u32* __restrict__ offsets)
{
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    u32 sum = 0;
    offsets[0] = 0;
    for (u32 d = 0; d < docs; d++) {
        sum += lens[d];
        offsets[d + 1] = sum;
    }
}

/* Document d's normalized text from its scratch slot to text[offsets[d]..offsets[d + 1]]: one
 * block per document, its threads copying in turn (coalesced). */
extern "C" __global__ void compact_docs(
    const unsigned char* __restrict__ scratch, const u32* __restrict__ raw_offsets, u32 expansion,
    const u32* __restrict__ offsets, u32 docs, unsigned char* __restrict__ text)
{
    for (u32 d = blockIdx.x; d < docs; d += gridDim.x) {
        const unsigned char* from = scratch + (u64)expansion * raw_offsets[d];
        const u32 at = offsets[d], n = offsets[d + 1] - at;
        for (u32 j = threadIdx.x; j < n; j += blockDim.x) text[at + j] = from[j];
    }
}

/* cl100k's pre-tokenization on the GPU: `tokenize::fastbpe::cl100k_piece_end` and
 * `cl100k_chunk_pieces` in CUDA C, one thread per ~1 KB chunk of a document, counting pieces
 * and then writing their starts (with `scan_exclusive` between, from normalize.cu). A chunk
 * other than a document's first starts at its first space between two letters, where a piece
 * always starts, and each runs on to the first such piece start past its end. Character
 * classes (\p{L}, \p{N}, \s) come as a table of one byte per code point. Needs normalize.cu
 * first (its `utf8_decode` and scans). */
typedef unsigned int u32;
typedef unsigned long long u64;

#define CL_L 1u
#define CL_N 2u
#define CL_S 4u

/* End of the run from i of characters whose class has a bit of `bits`. */
__device__ __forceinline__ u32 cl_run(const unsigned char* t, u32 len, u32 i, u32 bits, const unsigned char* cls) {
    u32 n;
    while (i < len) {
        const u32 c = utf8_decode(t, i, &n);
        if ((cls[c] & bits) == 0) break;
        i += n;
    }
    return i;
}

__device__ __forceinline__ u32 cl_lower(u32 b) { return (b >= 'A' && b <= 'Z') ? b + 32 : b; }

/* The end of the piece cl100k's pattern matches at byte i of t[0..len) (i < len). */
__device__ u32 cl100k_piece_end(const unsigned char* t, u32 len, u32 i, const unsigned char* cls) {
    u32 n;
    const u32 c = utf8_decode(t, i, &n);
    /* (?i:'s|'t|'re|'ve|'m|'ll|'d), `s` also matching U+017F */
    if (c == '\'' && i + 1 < len) {
        const u32 a = cl_lower(t[i + 1]);
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if (i + 2 < len) {
            const u32 b = cl_lower(t[i + 2]);
            if ((a == 'r' || a == 'v') && b == 'e') return i + 3;
            if (a == 'l' && b == 'l') return i + 3;
            if (t[i + 1] == 0xC5 && t[i + 2] == 0xBF) return i + 3;
        }
    }
    const u32 k = cls[c];
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (k & CL_L) return cl_run(t, len, i + n, CL_L, cls);
    if (!(k & CL_N) && c != '\r' && c != '\n' && i + n < len) {
        u32 m;
        const u32 d = utf8_decode(t, i + n, &m);
        if (cls[d] & CL_L) return cl_run(t, len, i + n + m, CL_L, cls);
    }
    /* \p{N}{1,3} */
    if (k & CL_N) {
        u32 e = i + n;
        for (int r = 0; r < 2 && e < len; r++) {
            u32 m;
            const u32 d = utf8_decode(t, e, &m);
            if (!(cls[d] & CL_N)) break;
            e += m;
        }
        return e;
    }
    /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    const u32 from = c == ' ' ? i + 1 : i;
    if (from < len) {
        u32 m;
        const u32 d = utf8_decode(t, from, &m);
        if (cls[d] == 0) {
            u32 e = from;
            while (e < len) {
                const u32 x = utf8_decode(t, e, &m);
                if (cls[x] != 0) break;
                e += m;
            }
            while (e < len && (t[e] == '\r' || t[e] == '\n')) e++;
            return e;
        }
    }
    /* c is whitespace. \s*[\r\n]+: up to the run's last line break. */
    const u32 end = cl_run(t, len, i, CL_S, cls);
    for (u32 j = end; j > i; j--) {
        if (t[j - 1] == '\r' || t[j - 1] == '\n') return j;
    }
    /* \s+(?!\S): the run, at the end of the text; less its last character before a non-space. */
    if (end == len) return end;
    u32 last = end - 1;
    while (last > i && (t[last] & 0xC0) == 0x80) last--;
    if (last > i) return last;
    /* \s+ */
    return end;
}

/* A space between two letters at byte i: a piece starts there, whatever came before. */
__device__ __forceinline__ bool cl100k_sync_at(const unsigned char* t, u32 len, u32 i, const unsigned char* cls) {
    if (i == 0 || i + 1 >= len || t[i] != ' ') return false;
    u32 b = i - 1, n;
    while (b > 0 && (t[b] & 0xC0) == 0x80) b--;
    if (!(cls[utf8_decode(t, b, &n)] & CL_L)) return false;
    return (cls[utf8_decode(t, i + 1, &n)] & CL_L) != 0;
}

/* Chunk k is bytes [chunk_begin[k], end) of document chunk_doc[k] (text[offsets[d]..
 * offsets[d + 1]], valid UTF-8), `end` being the next chunk's begin in the same document or
 * the document's end. write == 0: its number of pieces to counts[k]. write == 1: its pieces'
 * starts (batch byte positions) to starts + piece_offsets[k]. */
extern "C" __global__ void split_chunks(
    const unsigned char* __restrict__ text, const u32* __restrict__ offsets,
    const u32* __restrict__ chunk_begin, const u32* __restrict__ chunk_doc, u32 chunks,
    const unsigned char* __restrict__ cls, u32 write, const u32* __restrict__ piece_offsets,
    u32* __restrict__ starts, u32* __restrict__ counts)
{
    const u32 k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= chunks) return;
    const u32 d = chunk_doc[k], base = offsets[d], len = offsets[d + 1] - base;
    const unsigned char* t = text + base;
    const u32 begin = chunk_begin[k] - base;
    const u32 end = (k + 1 < chunks && chunk_doc[k + 1] == d) ? chunk_begin[k + 1] - base : len;
    u32 p = begin, found = 0;
    u32* out = starts + (write ? piece_offsets[k] : 0);
    if (begin > 0) {
        while (p < end && !cl100k_sync_at(t, len, p, cls)) p++;
        if (p >= end) p = len;
    }
    while (p < len) {
        if (p >= end && cl100k_sync_at(t, len, p, cls)) break;
        if (write) out[found] = base + p;
        found++;
        p = cl100k_piece_end(t, len, p, cls);
    }
    if (!write) counts[k] = found;
}

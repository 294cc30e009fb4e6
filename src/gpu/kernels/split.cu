/* The built-ins' pre-tokenization on the GPU: `tokenize::pretokenize`'s scanners for
 * cl100k's and o200k's patterns (`cl100k_piece_end`, `o200k_piece_end`) and
 * `Scanner::chunk_pieces` in CUDA C, one thread per ~1 KB chunk of a document, counting pieces
 * and then writing their starts (with `scan_exclusive` between, from normalize.cu). A chunk
 * other than a document's first starts at its first position where a piece always starts
 * (`Scanner::sync_at`), and each runs on to the first such piece start past its end.
 * Character classes come as a table of one byte per code point (`pretokenize::char_classes`).
 * Needs normalize.cu first (its `utf8_decode` and scans). */
typedef unsigned int u32;
typedef unsigned long long u64;

/* Class bits: \p{L}, \p{N}, \s, o200k's leading letters [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and
 * its trailing letters [\p{Ll}\p{Lm}\p{Lo}\p{M}]. */
#define CL_L 1u
#define CL_N 2u
#define CL_S 4u
#define CL_UP 8u
#define CL_LOW 16u

/* The `pattern` argument of `split_chunks` (`gpu::kernels::split_pattern`). */
#define SPLIT_CL100K 0u
#define SPLIT_O200K 1u

#define NO_END 0xFFFFFFFFu

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

/* [^\s\p{L}\p{N}] */
__device__ __forceinline__ bool cl_other(u32 k) { return (k & (CL_L | CL_N | CL_S)) == 0; }

/* [^\r\n\p{L}\p{N}]: the one character that may open a letters piece. */
__device__ __forceinline__ bool cl_opens(u32 c, u32 k) { return (k & (CL_L | CL_N)) == 0 && c != '\r' && c != '\n'; }

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)? at i, `s` also matching U+017F: the match's end, i if none. */
__device__ __forceinline__ u32 cl_contraction(const unsigned char* t, u32 len, u32 i) {
    if (i + 1 < len && t[i] == '\'') {
        const u32 a = cl_lower(t[i + 1]);
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if (i + 2 < len) {
            const u32 b = cl_lower(t[i + 2]);
            if ((a == 'r' || a == 'v') && b == 'e') return i + 3;
            if (a == 'l' && b == 'l') return i + 3;
            if (t[i + 1] == 0xC5 && t[i + 2] == 0xBF) return i + 3;
        }
    }
    return i;
}

/* \p{N}{1,3} at i, whose character (n bytes) is a number. */
__device__ __forceinline__ u32 cl_digits(const unsigned char* t, u32 len, u32 i, u32 n, const unsigned char* cls) {
    u32 e = i + n;
    for (int r = 0; r < 2 && e < len; r++) {
        u32 m;
        const u32 d = utf8_decode(t, e, &m);
        if (!(cls[d] & CL_N)) break;
        e += m;
    }
    return e;
}

/*  ?[^\s\p{L}\p{N}]+ then [\r\n]* (or [\r\n/]* with `slash`) at i, whose character is c. */
__device__ __forceinline__ u32 cl_punctuation(const unsigned char* t, u32 len, u32 i, u32 c, const unsigned char* cls,
                                              bool slash) {
    const u32 from = c == ' ' ? i + 1 : i;
    if (from >= len) return NO_END;
    u32 m;
    if (!cl_other(cls[utf8_decode(t, from, &m)])) return NO_END;
    u32 e = from;
    while (e < len) {
        const u32 x = utf8_decode(t, e, &m);
        if (!cl_other(cls[x])) break;
        e += m;
    }
    while (e < len && (t[e] == '\r' || t[e] == '\n' || (slash && t[e] == '/'))) e++;
    return e;
}

/* \s*[\r\n]+|\s+(?!\S)|\s+ at i, whose character is whitespace (both patterns end so). */
__device__ __forceinline__ u32 cl_whitespace(const unsigned char* t, u32 len, u32 i, const unsigned char* cls) {
    /* \s*[\r\n]+: up to the run's last line break. */
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

/* The end of the piece cl100k's pattern matches at byte i of t[0..len) (i < len). */
__device__ u32 cl100k_piece_end(const unsigned char* t, u32 len, u32 i, const unsigned char* cls) {
    u32 n;
    const u32 c = utf8_decode(t, i, &n);
    /* (?i:'s|'t|'re|'ve|'m|'ll|'d) */
    if (c == '\'') {
        const u32 e = cl_contraction(t, len, i);
        if (e != i) return e;
    }
    const u32 k = cls[c];
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (k & CL_L) return cl_run(t, len, i + n, CL_L, cls);
    if (cl_opens(c, k) && i + n < len) {
        u32 m;
        const u32 d = utf8_decode(t, i + n, &m);
        if (cls[d] & CL_L) return cl_run(t, len, i + n + m, CL_L, cls);
    }
    /* \p{N}{1,3} */
    if (k & CL_N) return cl_digits(t, len, i, n, cls);
    /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    const u32 e = cl_punctuation(t, len, i, c, cls, false);
    if (e != NO_END) return e;
    return cl_whitespace(t, len, i, cls);
}

/* o200k's first letters alternative from j: [UP]*[LOW]+ and a contraction. The greedy [UP]*
 * gives back characters until [LOW]+ can start: the match runs to the end of the LOW run from
 * the last position of the UP run (or the one just past it) whose character is LOW. */
__device__ __forceinline__ u32 o200k_cased(const unsigned char* t, u32 len, u32 j, const unsigned char* cls) {
    u32 p = j, last = NO_END, n;
    while (p < len) {
        const u32 k = cls[utf8_decode(t, p, &n)];
        if (k & CL_LOW) last = p;
        if (!(k & CL_UP)) break;
        p += n;
    }
    if (last == NO_END) return NO_END;
    return cl_contraction(t, len, cl_run(t, len, last, CL_LOW, cls));
}

/* o200k's second letters alternative from j: [UP]+[LOW]* and a contraction. */
__device__ __forceinline__ u32 o200k_upper(const unsigned char* t, u32 len, u32 j, const unsigned char* cls) {
    const u32 e = cl_run(t, len, j, CL_UP, cls);
    if (e == j) return NO_END;
    return cl_contraction(t, len, cl_run(t, len, e, CL_LOW, cls));
}

/* The end of the piece o200k's pattern matches at byte i of t[0..len) (i < len). Both letters
 * alternatives try with the opening character taken first, then without it. */
__device__ u32 o200k_piece_end(const unsigned char* t, u32 len, u32 i, const unsigned char* cls) {
    u32 n;
    const u32 c = utf8_decode(t, i, &n);
    const u32 k = cls[c];
    const bool opens = cl_opens(c, k);
    if ((k & (CL_UP | CL_LOW)) || opens) {
        const u32 from[2] = {opens ? i + n : i, opens ? i : NO_END};
        for (int a = 0; a < 2; a++) {
            for (int s = 0; s < 2; s++) {
                if (from[s] >= len) continue;
                const u32 e = a == 0 ? o200k_cased(t, len, from[s], cls) : o200k_upper(t, len, from[s], cls);
                if (e != NO_END) return e;
            }
        }
    }
    /* \p{N}{1,3} */
    if (k & CL_N) return cl_digits(t, len, i, n, cls);
    /*  ?[^\s\p{L}\p{N}]+[\r\n/]* */
    const u32 e = cl_punctuation(t, len, i, c, cls, true);
    if (e != NO_END) return e;
    return cl_whitespace(t, len, i, cls);
}

/* Whether a piece starts at byte i whatever came before: a space after a character that is
 * not whitespace (o200k), or a space between two letters (cl100k, the narrower rule it was
 * first written with). */
__device__ __forceinline__ bool split_sync_at(const unsigned char* t, u32 len, u32 i, const unsigned char* cls,
                                              u32 pattern) {
    if (i == 0 || i >= len || t[i] != ' ') return false;
    u32 b = i - 1, n;
    while (b > 0 && (t[b] & 0xC0) == 0x80) b--;
    const u32 before = cls[utf8_decode(t, b, &n)];
    if (pattern == SPLIT_O200K) return (before & CL_S) == 0;
    if (!(before & CL_L) || i + 1 >= len) return false;
    return (cls[utf8_decode(t, i + 1, &n)] & CL_L) != 0;
}

__device__ __forceinline__ u32 split_piece_end(const unsigned char* t, u32 len, u32 i, const unsigned char* cls,
                                               u32 pattern) {
    return pattern == SPLIT_O200K ? o200k_piece_end(t, len, i, cls) : cl100k_piece_end(t, len, i, cls);
}

/* Chunk k is bytes [chunk_begin[k], end) of document chunk_doc[k] (text[offsets[d]..
 * offsets[d + 1]], valid UTF-8), `end` being the next chunk's begin in the same document or
 * the document's end; `pattern` is SPLIT_CL100K or SPLIT_O200K. write == 0: its number of
 * pieces to counts[k]. write == 1: its pieces' starts (batch byte positions) to starts +
 * piece_offsets[k]. */
extern "C" __global__ void split_chunks(
    const unsigned char* __restrict__ text, const u32* __restrict__ offsets,
    const u32* __restrict__ chunk_begin, const u32* __restrict__ chunk_doc, u32 chunks,
    const unsigned char* __restrict__ cls, u32 pattern, u32 write, const u32* __restrict__ piece_offsets,
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
        while (p < end && !split_sync_at(t, len, p, cls, pattern)) p++;
        if (p >= end) p = len;
    }
    while (p < len) {
        if (p >= end && split_sync_at(t, len, p, cls, pattern)) break;
        if (write) out[found] = base + p;
        found++;
        p = split_piece_end(t, len, p, cls, pattern);
    }
    if (!write) counts[k] = found;
}

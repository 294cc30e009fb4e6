/* XXH3-64 (seed 0, the default secret) as a device function: the shingle hash of the CPU path
 * (`xxhash_rust::xxh3::xxh3_64`), written from the XXH3 specification. Every length class is
 * here (0, 1-3, 4-8, 9-16, 17-128, 129-240, longer), since a shingle of OCR text can be any
 * length. Bytes are read one at a time and assembled little-endian: a shingle starts at any
 * byte, and the hash is a small part of a kernel that is bound by reading the text. */
typedef unsigned int u32;
typedef unsigned long long u64;

#define XXH_P32_1 0x9E3779B1ULL
#define XXH_P32_2 0x85EBCA77ULL
#define XXH_P32_3 0xC2B2AE3DULL
#define XXH_P64_1 0x9E3779B185EBCA87ULL
#define XXH_P64_2 0xC2B2AE3D27D4EB4FULL
#define XXH_P64_3 0x165667B19E3779F9ULL
#define XXH_P64_4 0x85EBCA77C2B2AE63ULL
#define XXH_P64_5 0x27D4EB2F165667C5ULL

__constant__ unsigned char XXH_SECRET[192] = {
    0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
    0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
    0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
    0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
    0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
    0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
    0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
    0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
    0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
    0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
    0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
    0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
};

__device__ __forceinline__ u64 xxh_read64(const unsigned char* p) {
    u64 v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

__device__ __forceinline__ u32 xxh_read32(const unsigned char* p) {
    return (u32)p[0] | ((u32)p[1] << 8) | ((u32)p[2] << 16) | ((u32)p[3] << 24);
}

__device__ __forceinline__ u64 xxh_secret64(int at) {
    u64 v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | XXH_SECRET[at + i];
    return v;
}

__device__ __forceinline__ u64 xxh_rotl64(u64 x, int r) { return (x << r) | (x >> (64 - r)); }

__device__ __forceinline__ u64 xxh_swap64(u64 x) {
    u64 r = 0;
    for (int i = 0; i < 8; i++) { r = (r << 8) | (x & 0xff); x >>= 8; }
    return r;
}

__device__ __forceinline__ u64 xxh_fold(u64 a, u64 b) { return (a * b) ^ __umul64hi(a, b); }

__device__ __forceinline__ u64 xxh3_avalanche(u64 h) {
    h ^= h >> 37;
    h *= 0x165667919E3779F9ULL;
    return h ^ (h >> 32);
}

__device__ __forceinline__ u64 xxh64_avalanche(u64 h) {
    h ^= h >> 33;
    h *= XXH_P64_2;
    h ^= h >> 29;
    h *= XXH_P64_3;
    return h ^ (h >> 32);
}

__device__ __forceinline__ u64 xxh_mix16(const unsigned char* p, int secret_at) {
    return xxh_fold(xxh_read64(p) ^ xxh_secret64(secret_at), xxh_read64(p + 8) ^ xxh_secret64(secret_at + 8));
}

__device__ __forceinline__ void xxh_accumulate(u64* acc, const unsigned char* p, int secret_at) {
    for (int i = 0; i < 8; i++) {
        const u64 v = xxh_read64(p + 8 * i);
        const u64 k = v ^ xxh_secret64(secret_at + 8 * i);
        acc[i ^ 1] += v;
        acc[i] += (k & 0xffffffffULL) * (k >> 32);
    }
}

/* Longer than 240 bytes: 64-byte stripes into eight accumulators, scrambled every 1,024 bytes. */
__device__ __noinline__ u64 xxh3_long(const unsigned char* p, u32 len) {
    u64 acc[8] = {XXH_P32_3, XXH_P64_1, XXH_P64_2, XXH_P64_3, XXH_P64_4, XXH_P32_2, XXH_P64_5, XXH_P32_1};
    const u32 stripes_per_block = (192 - 64) / 8, block_len = 64 * stripes_per_block;
    const u32 blocks = (len - 1) / block_len;
    for (u32 b = 0; b < blocks; b++) {
        for (u32 s = 0; s < stripes_per_block; s++) xxh_accumulate(acc, p + b * block_len + s * 64, s * 8);
        for (int i = 0; i < 8; i++) {
            u64 a = acc[i];
            a ^= a >> 47;
            a ^= xxh_secret64(192 - 64 + 8 * i);
            acc[i] = a * XXH_P32_1;
        }
    }
    const u32 stripes = ((len - 1) - block_len * blocks) / 64;
    for (u32 s = 0; s < stripes; s++) xxh_accumulate(acc, p + blocks * block_len + s * 64, s * 8);
    xxh_accumulate(acc, p + len - 64, 192 - 64 - 7);
    u64 h = (u64)len * XXH_P64_1;
    for (int i = 0; i < 4; i++)
        h += xxh_fold(acc[2 * i] ^ xxh_secret64(11 + 16 * i), acc[2 * i + 1] ^ xxh_secret64(11 + 16 * i + 8));
    return xxh3_avalanche(h);
}

__device__ u64 xxh3_64(const unsigned char* p, u32 len) {
    if (len <= 16) {
        if (len > 8) {
            const u64 lo = xxh_read64(p) ^ (xxh_secret64(24) ^ xxh_secret64(32));
            const u64 hi = xxh_read64(p + len - 8) ^ (xxh_secret64(40) ^ xxh_secret64(48));
            return xxh3_avalanche((u64)len + xxh_swap64(lo) + hi + xxh_fold(lo, hi));
        }
        if (len >= 4) {
            const u64 in64 = (u64)xxh_read32(p + len - 4) + ((u64)xxh_read32(p) << 32);
            u64 h = in64 ^ (xxh_secret64(8) ^ xxh_secret64(16));
            h ^= xxh_rotl64(h, 49) ^ xxh_rotl64(h, 24);
            h *= 0x9FB21C651E98DF25ULL;
            h ^= (h >> 35) + len;
            h *= 0x9FB21C651E98DF25ULL;
            return h ^ (h >> 28);
        }
        if (len > 0) {
            const u32 combo = ((u32)p[0] << 16) | ((u32)p[len >> 1] << 24) | (u32)p[len - 1] | (len << 8);
            const u32 flip = xxh_read32(XXH_SECRET) ^ xxh_read32(XXH_SECRET + 4);
            return xxh64_avalanche((u64)combo ^ (u64)flip);
        }
        return xxh64_avalanche(xxh_secret64(56) ^ xxh_secret64(64));
    }
    u64 acc = (u64)len * XXH_P64_1;
    if (len <= 128) {
        if (len > 32) {
            if (len > 64) {
                if (len > 96) {
                    acc += xxh_mix16(p + 48, 96);
                    acc += xxh_mix16(p + len - 64, 112);
                }
                acc += xxh_mix16(p + 32, 64);
                acc += xxh_mix16(p + len - 48, 80);
            }
            acc += xxh_mix16(p + 16, 32);
            acc += xxh_mix16(p + len - 32, 48);
        }
        acc += xxh_mix16(p, 0);
        acc += xxh_mix16(p + len - 16, 16);
        return xxh3_avalanche(acc);
    }
    if (len <= 240) {
        const u32 rounds = len / 16;
        for (u32 i = 0; i < 8; i++) acc += xxh_mix16(p + 16 * i, 16 * i);
        acc = xxh3_avalanche(acc);
        for (u32 i = 8; i < rounds; i++) acc += xxh_mix16(p + 16 * i, 16 * (i - 8) + 3);
        acc += xxh_mix16(p + len - 16, 136 - 17);
        return xxh3_avalanche(acc);
    }
    return xxh3_long(p, len);
}

/* For the tests: the hash of each slice `bytes[starts[k]..starts[k + 1]]`. */
extern "C" __global__ void xxh3_slices(const unsigned char* __restrict__ bytes, const u32* __restrict__ starts,
                                       u32 slices, u64* __restrict__ out)
{
    const u32 k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k < slices) out[k] = xxh3_64(bytes + starts[k], starts[k + 1] - starts[k]);
}

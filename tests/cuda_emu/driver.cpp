// Runs one of kbcurate's kernels under the host emulation (emu.h) on arrays read from files:
// what the `emulated` tests of tests/gpu.rs call (through tests/cuda_emu/emulator.rs). The kernel
// source is "kernels.cu", written by the test from gpu::kernels (with `extern __shared__` arrays
// pointed at the emulator's buffer).
//
//   driver xxh3 DIR GRID BLOCK                                  bytes, starts -> out
//   driver sig DIR ENTRY GRID BLOCK SHARED DOCS N KEY PERMS     text|hashes, offsets, a_lo, a_hi, b -> sig
//   driver raw DIR TABLE ENTRY GRID BLOCK SHARED DOCS N KEY PERMS STRIP EXPANSION CHUNKS
//              NGRID NBLOCK SGRID SBLOCK GGRID GBLOCK
//              raw, raw_offsets, chunk_begin, chunk_doc, first_chunk, a_lo, a_hi, b; TABLE/rules, pool
//              -> sig, offsets, text (normalize_chunks counting, scan_exclusive, normalize_chunks
//              writing, gather_offsets, then the text kernel ENTRY)
//   driver encode DIR TABLE CHUNKS DOCS BITS PATTERN SGRID SBLOCK PGRID PBLOCK GGRID GBLOCK
//              text, offsets, chunk_begin, chunk_doc, first_chunk; TABLE/keys, vals, byte_ids,
//              classes -> tokens, doc_tok (split_chunks counting, scan_exclusive, split_chunks
//              writing, bpe_merge_all, scan_exclusive_at, pack_ids, doc_tokens)
//   driver bpe DIR TABLE GRID BLOCK PIECES BITS                 bytes, starts; TABLE/keys, vals, byte_ids -> ids, counts
//
// Every array is DIR/NAME.bin, little-endian, as the test wrote it.
#include "emu.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "kernels.cu"

template <class T>
static std::vector<T> load(const std::string& dir, const char* name) {
    std::string path = dir + "/" + name + ".bin";
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
        std::fprintf(stderr, "cannot open %s\n", path.c_str());
        std::exit(2);
    }
    std::vector<T> v;
    T x;
    while (std::fread(&x, sizeof(T), 1, f) == 1) v.push_back(x);
    std::fclose(f);
    v.push_back(T());  // one spare element: an empty array still has a valid pointer
    return v;
}

template <class T>
static void store(const std::string& dir, const char* name, const std::vector<T>& v, size_t n) {
    std::string path = dir + "/" + name + ".bin";
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || std::fwrite(v.data(), sizeof(T), n, f) != n) {
        std::fprintf(stderr, "cannot write %s\n", path.c_str());
        std::exit(2);
    }
    std::fclose(f);
}

static unsigned long long arg(char** argv, int i) { return std::strtoull(argv[i], nullptr, 10); }

int main(int argc, char** argv) {
    if (argc < 3) return 2;
    const std::string cmd = argv[1], dir = argv[2];
#ifdef EMU_SIGNATURES
    if (cmd == "xxh3" && argc == 5) {
        auto bytes = load<unsigned char>(dir, "bytes");
        auto starts = load<u32>(dir, "starts");
        const u32 slices = (u32)starts.size() - 2;
        std::vector<u64> out(slices + 1);
        emu_launch((u32)arg(argv, 3), (u32)arg(argv, 4), 0,
                   [&] { xxh3_slices(bytes.data(), starts.data(), slices, out.data()); });
        store(dir, "out", out, slices);
        return 0;
    }
    if (cmd == "raw" && argc == 21) {
        const std::string table = argv[3], entry = argv[4];
        const u32 grid = arg(argv, 5), block = arg(argv, 6), shared = arg(argv, 7), docs = arg(argv, 8),
                  n = arg(argv, 9), perms = arg(argv, 11), strip = arg(argv, 12), expansion = arg(argv, 13),
                  chunks = arg(argv, 14), ngrid = arg(argv, 15), nblock = arg(argv, 16), sgrid = arg(argv, 17),
                  sblock = arg(argv, 18), ggrid = arg(argv, 19), gblock = arg(argv, 20);
        const u64 key = arg(argv, 10);
        auto raw = load<unsigned char>(dir, "raw");
        auto raw_offsets = load<u32>(dir, "raw_offsets");
        auto chunk_begin = load<u32>(dir, "chunk_begin");
        auto chunk_doc = load<u32>(dir, "chunk_doc");
        auto first_chunk = load<u32>(dir, "first_chunk");
        auto a_lo = load<u32>(dir, "a_lo");
        auto a_hi = load<u32>(dir, "a_hi");
        auto b = load<u64>(dir, "b");
        auto rules = load<u32>(table, "rules");
        auto pool = load<unsigned char>(table, "pool");
        std::vector<unsigned char> text((size_t)expansion * raw.size() + 1);
        std::vector<u32> lens(chunks + 1), chunk_offsets(chunks + 2), offsets(docs + 2), sig((size_t)docs * perms + 1);
        for (u32 write = 0; write < 2; write++) {
            emu_launch(ngrid, nblock, 0, [&] {
                normalize_chunks(raw.data(), raw_offsets.data(), chunk_begin.data(), chunk_doc.data(), chunks,
                                 rules.data(), pool.data(), strip, write, chunk_offsets.data(), text.data(), lens.data());
            });
            if (write == 0) emu_launch(sgrid, sblock, 0, [&] { scan_exclusive(lens.data(), chunks, chunk_offsets.data()); });
        }
        emu_launch(ggrid, gblock, 0, [&] { gather_offsets(chunk_offsets.data(), first_chunk.data(), docs, offsets.data()); });
        if (entry == "text_oph")
            emu_launch(grid, block, shared, [&] { text_oph(text.data(), offsets.data(), docs, n, key, perms, sig.data()); });
        else if (entry == "text_minhash")
            emu_launch(grid, block, shared, [&] {
                text_minhash(text.data(), offsets.data(), docs, n, a_lo.data(), a_hi.data(), b.data(), perms, sig.data());
            });
        else
            return 3;
        store(dir, "sig", sig, (size_t)docs * perms);
        store(dir, "offsets", offsets, docs + 1);
        store(dir, "text", text, offsets[docs]);
        return 0;
    }
    if (cmd == "sig" && argc == 11) {
        const std::string entry = argv[3];
        const u32 grid = arg(argv, 4), block = arg(argv, 5), shared = arg(argv, 6), docs = arg(argv, 7),
                  n = arg(argv, 8), perms = arg(argv, 10);
        const u64 key = arg(argv, 9);
        auto offsets = load<u32>(dir, "offsets");
        auto a_lo = load<u32>(dir, "a_lo");
        auto a_hi = load<u32>(dir, "a_hi");
        auto b = load<u64>(dir, "b");
        std::vector<u32> sig((size_t)docs * perms + 1);
        if (entry == "text_oph" || entry == "text_minhash") {
            auto text = load<unsigned char>(dir, "text");
            if (entry == "text_oph")
                emu_launch(grid, block, shared, [&] { text_oph(text.data(), offsets.data(), docs, n, key, perms, sig.data()); });
            else
                emu_launch(grid, block, shared, [&] {
                    text_minhash(text.data(), offsets.data(), docs, n, a_lo.data(), a_hi.data(), b.data(), perms, sig.data());
                });
        } else {
            auto hashes = load<u64>(dir, "hashes");
            if (entry == "oph")
                emu_launch(grid, block, shared, [&] { oph(hashes.data(), offsets.data(), docs, key, perms, sig.data()); });
            else if (entry == "minhash")
                emu_launch(grid, block, shared, [&] {
                    minhash(hashes.data(), offsets.data(), docs, a_lo.data(), a_hi.data(), b.data(), perms, sig.data());
                });
            else
                return 3;
        }
        store(dir, "sig", sig, (size_t)docs * perms);
        return 0;
    }
#endif
#ifdef EMU_BPE
    if (cmd == "bpe" && argc == 8) {
        const std::string table = argv[3];
        const u32 grid = arg(argv, 4), block = arg(argv, 5), pieces = arg(argv, 6), bits = arg(argv, 7);
        auto bytes = load<unsigned char>(dir, "bytes");
        auto starts = load<u32>(dir, "starts");
        auto keys = load<u64>(table, "keys");
        auto vals = load<u64>(table, "vals");
        auto byte_ids = load<u32>(table, "byte_ids");
        std::vector<u32> ids(bytes.size()), counts(pieces + 1);
        emu_launch(grid, block, 0, [&] {
            bpe_merge(bytes.data(), starts.data(), pieces, keys.data(), vals.data(), bits, byte_ids.data(), ids.data(),
                      counts.data());
        });
        store(dir, "ids", ids, bytes.size() - 1);
        store(dir, "counts", counts, pieces);
        return 0;
    }
#endif
#ifdef EMU_ENCODE
    if (cmd == "encode" && argc == 14) {
        const std::string table = argv[3];
        const u32 chunks = arg(argv, 4), docs = arg(argv, 5), bits = arg(argv, 6), pattern = arg(argv, 7),
                  sgrid = arg(argv, 8), sblock = arg(argv, 9), pgrid = arg(argv, 10), pblock = arg(argv, 11),
                  ggrid = arg(argv, 12), gblock = arg(argv, 13);
        auto text = load<unsigned char>(dir, "text");
        auto offsets = load<u32>(dir, "offsets");
        auto chunk_begin = load<u32>(dir, "chunk_begin");
        auto chunk_doc = load<u32>(dir, "chunk_doc");
        auto first_chunk = load<u32>(dir, "first_chunk");
        auto keys = load<u64>(table, "keys");
        auto vals = load<u64>(table, "vals");
        auto byte_ids = load<u32>(table, "byte_ids");
        auto classes = load<unsigned char>(table, "classes");
        const u32 len = (u32)text.size() - 1;
        std::vector<u32> chunk_counts(chunks + 1), piece_offsets(chunks + 2), starts(len + 1), ids(len + 1),
            counts(len + 1), tok_offsets(len + 2), tokens(len + 1), doc_tok(docs + 2);
        for (u32 write = 0; write < 2; write++) {
            emu_launch(sgrid, sblock, 0, [&] {
                split_chunks(text.data(), offsets.data(), chunk_begin.data(), chunk_doc.data(), chunks, classes.data(),
                             pattern, write, piece_offsets.data(), starts.data(), chunk_counts.data());
            });
            if (write == 0) emu_launch(1, 256, 0, [&] { scan_exclusive(chunk_counts.data(), chunks, piece_offsets.data()); });
        }
        emu_launch(pgrid, pblock, 0, [&] {
            bpe_merge_all(text.data(), len, starts.data(), piece_offsets.data(), chunks, keys.data(), vals.data(), bits,
                          byte_ids.data(), ids.data(), counts.data());
        });
        emu_launch(1, 256, 0, [&] { scan_exclusive_at(counts.data(), piece_offsets.data(), chunks, tok_offsets.data()); });
        emu_launch(pgrid, pblock, 0, [&] {
            pack_ids(starts.data(), piece_offsets.data(), chunks, ids.data(), counts.data(), tok_offsets.data(),
                     tokens.data());
        });
        emu_launch(ggrid, gblock, 0, [&] {
            doc_tokens(piece_offsets.data(), first_chunk.data(), tok_offsets.data(), docs, doc_tok.data());
        });
        store(dir, "doc_tok", doc_tok, docs + 1);
        store(dir, "tokens", tokens, doc_tok[docs]);
        return 0;
    }
#endif
    std::fprintf(stderr, "unknown command or arguments: %s (%d arguments)\n", cmd.c_str(), argc);
    return 2;
}

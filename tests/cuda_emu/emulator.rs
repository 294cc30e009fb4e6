//! The GPU kernels run on the CPU: `gpu::kernels`' CUDA C compiled by the host C++ compiler
//! against `emu.h` (see there for the execution model), driven by `driver.cpp`, and wrapped
//! here as the same traits the GPU code implements ([`BatchSigner`], [`PieceMerger`]), so the
//! tests can put them where the GPU would go.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use kbcurate::dedup::batch::{BatchSigner, ShingleBatch, SignatureInput};
use kbcurate::dedup::minhash::{MinHasher, Shingles};
use kbcurate::dedup::rule_table::RuleTable;
use kbcurate::gpu::kernels::{self, Launch};
use kbcurate::gpu::GpuError;
use kbcurate::tokenize::merge::{BatchEncoder, MergeTable, PieceMerger};
use kbcurate::tokenize::pretokenize::Scanner;

/// Which kernel source a driver is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// xxh3.cu + minhash.cu
    Signatures,
    /// bpe.cu
    Bpe,
    /// normalize.cu (its scans) + split.cu + bpe.cu
    Encode,
}

/// A driver binary built from the kernels' source, and a folder for its calls.
pub struct Emulator {
    dir: tempfile::TempDir,
    driver: PathBuf,
    calls: AtomicUsize,
}

/// Points each `extern __shared__ T name[];` at the emulator's dynamic shared memory.
fn emulable(src: &str) -> String {
    src.lines()
        .map(|line| {
            let t = line.trim();
            match t.strip_prefix("extern __shared__ ").and_then(|r| r.strip_suffix("[];")) {
                Some(decl) => {
                    let (ty, name) = decl.rsplit_once(' ').expect("`extern __shared__ TYPE NAME[];`");
                    format!("{ty}* {name} = reinterpret_cast<{ty}*>(emu_dynamic_shared);")
                }
                None => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Emulator {
    /// Builds the driver; `None`, saying why, where there is no C++20 compiler.
    pub fn build(kernels: Kernels) -> Option<Self> {
        let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
        let dir = tempfile::tempdir().unwrap();
        let (src, define) = match kernels {
            Kernels::Signatures => (kernels::signature_source(), "-DEMU_SIGNATURES"),
            Kernels::Bpe => (kernels::bpe_source(), "-DEMU_BPE"),
            Kernels::Encode => (kernels::encode_source(), "-DEMU_ENCODE"),
        };
        std::fs::write(dir.path().join("kernels.cu"), emulable(&src)).unwrap();
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cuda_emu");
        let driver = dir.path().join("driver");
        // KBCURATE_EMU_SANITIZE=thread builds the driver with ThreadSanitizer: a block's threads
        // touching the same shared or global memory without a __syncthreads between them is
        // then a reported race (the driver exits non-zero), not only a chance wrong answer.
        let sanitize: Vec<String> = match std::env::var("KBCURATE_EMU_SANITIZE") {
            Ok(s) if !s.is_empty() => vec![format!("-fsanitize={s}"), "-g".into(), "-O1".into()],
            _ => vec!["-O2".into()],
        };
        let out = Command::new(&cxx)
            .args(["-std=c++20", "-pthread", "-Wall", "-Wno-unused-function", define])
            .args(&sanitize)
            .arg("-I")
            .arg(dir.path())
            .arg("-I")
            .arg(&here)
            .arg(here.join("driver.cpp"))
            .arg("-o")
            .arg(&driver)
            .output();
        match out {
            Err(e) => {
                crate::common::skip("emu", &format!("no C++ compiler to emulate the kernels with ({cxx}: {e})"));
                None
            }
            Ok(o) if !o.status.success() => {
                let log = String::from_utf8_lossy(&o.stderr);
                // A compiler without C++20's <barrier> cannot run the emulator; a kernel that
                // does not compile is a failure.
                if log.contains("barrier") && log.contains("No such file") {
                    crate::common::skip("emu", &format!("{cxx} lacks C++20 <barrier>: {log}"));
                    return None;
                }
                panic!("the kernels do not compile under the emulator ({cxx}):\n{log}");
            }
            Ok(_) => Some(Self { dir, driver, calls: AtomicUsize::new(0) }),
        }
    }

    /// A fresh folder for one call (calls may come from many threads).
    fn call_dir(&self) -> PathBuf {
        let d = self.dir.path().join(format!("call-{}", self.calls.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir(&d).unwrap();
        d
    }

    /// Writes `inputs`, runs the driver with `args` and reads back `outputs`.
    pub fn run(&self, cmd: &str, args: &[String], inputs: &[(&str, &[u8])], outputs: &[&str]) -> Vec<Vec<u8>> {
        let dir = self.call_dir();
        for (name, bytes) in inputs {
            std::fs::write(dir.join(format!("{name}.bin")), bytes).unwrap();
        }
        // Under ThreadSanitizer the first race ends the run (and fails the test) at once.
        let tsan = std::env::var("TSAN_OPTIONS").unwrap_or_else(|_| "halt_on_error=1".into());
        let o = Command::new(&self.driver).arg(cmd).arg(&dir).args(args).env("TSAN_OPTIONS", tsan).output().unwrap();
        assert!(o.status.success(), "emulated kernel {cmd} {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
        let got = outputs.iter().map(|name| std::fs::read(dir.join(format!("{name}.bin"))).unwrap()).collect();
        std::fs::remove_dir_all(&dir).unwrap();
        got
    }

    /// A folder that stays for the emulator's life (a merge table read by every call).
    fn keep(&self, name: &str) -> PathBuf {
        let d = self.dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}

pub fn bytes_of<T: Copy>(v: &[T]) -> &[u8] {
    // SAFETY: only the plain integer types of the kernels' arrays are passed here; any bytes
    // of them are valid u8s, and the length covers exactly the slice.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}

fn u32s(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect()
}

fn u64s(b: &[u8]) -> Vec<u64> {
    b.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect()
}

fn launch_args(l: Launch) -> Vec<String> {
    vec![l.grid.to_string(), l.block.to_string(), l.shared_bytes.to_string()]
}

impl Emulator {
    /// `xxh3_slices`: the hash of each `bytes[starts[k]..starts[k + 1]]`.
    pub fn xxh3(&self, bytes: &[u8], starts: &[u32]) -> Vec<u64> {
        let l = kernels::xxh3_launch(starts.len() - 1);
        let args = vec![l.grid.to_string(), l.block.to_string()];
        let out = self.run("xxh3", &args, &[("bytes", bytes), ("starts", bytes_of(starts))], &["out"]);
        u64s(&out[0])
    }
}

/// The signature kernels under the emulator, as a [`BatchSigner`] taking the batches the GPU
/// signer takes.
pub struct EmulatedSigner {
    emu: Arc<Emulator>,
    hasher: MinHasher,
    input: SignatureInput,
    /// For raw text: the rule table's folder, and the table.
    rules: Option<(PathBuf, RuleTable)>,
}

impl EmulatedSigner {
    pub fn new(emu: Arc<Emulator>, hasher: &MinHasher, input: SignatureInput) -> Self {
        let rules = (input == SignatureInput::Raw).then(|| {
            let table = RuleTable::new(hasher.normalization());
            let dir = emu.keep(&format!("rules-{:?}", hasher.normalization()).replace([' ', '{', '}', ':', ','], ""));
            std::fs::write(dir.join("rules.bin"), bytes_of(&table.rules)).unwrap();
            std::fs::write(dir.join("pool.bin"), &table.pool).unwrap();
            (dir, table)
        });
        Self { emu, hasher: hasher.clone(), input, rules }
    }

    /// Chunked normalization, packing and the text kernel, as `GpuMinHash` runs them on raw text.
    fn sign_raw(&self, batch: &mut ShingleBatch, out: &mut Vec<u32>) {
        let (dir, table) = self.rules.as_ref().expect("built for raw text");
        let (sketch, perms, docs) = (self.hasher.sketch(), self.hasher.perms(), batch.docs());
        let Shingles::Words { n } = self.hasher.shingles() else { panic!("raw text takes word shingles") };
        let mut args =
            vec![dir.display().to_string(), kernels::signature_entry(sketch, SignatureInput::Raw).to_string()];
        args.extend(launch_args(kernels::signature_launch(sketch, SignatureInput::Raw, perms, docs)));
        args.extend([docs.to_string(), n.max(1).to_string(), self.hasher.key().to_string(), perms.to_string()]);
        args.extend([(table.strip_diacritics as u32).to_string(), table.expansion.to_string()]);
        let chunks = kernels::Chunks::of(&batch.offsets, kernels::NORMALIZE_CHUNK);
        args.push(chunks.len().to_string());
        let (nl, sl, gl) =
            (kernels::normalize_launch(chunks.len()), kernels::scan_launch(), kernels::gather_launch(docs));
        args.extend([nl.grid, nl.block, sl.grid, sl.block, gl.grid, gl.block].map(|x| x.to_string()));
        let (a_lo, a_hi, b) = self.hasher.family();
        let inputs = [
            ("raw", &batch.text[..]),
            ("raw_offsets", bytes_of(&batch.offsets)),
            ("chunk_begin", bytes_of(&chunks.begin)),
            ("chunk_doc", bytes_of(&chunks.doc)),
            ("first_chunk", bytes_of(&chunks.first)),
            ("a_lo", bytes_of(a_lo)),
            ("a_hi", bytes_of(a_hi)),
            ("b", bytes_of(b)),
        ];
        let got = self.emu.run("raw", &args, &inputs, &["sig", "offsets", "text"]);
        *out = u32s(&got[0]);
        // The exact keys, from the normalized text the GPU sends back (as `GpuMinHash` does).
        let offsets = u32s(&got[1]);
        batch.exact =
            offsets.windows(2).map(|w| xxhash_rust::xxh3::xxh3_128(&got[2][w[0] as usize..w[1] as usize])).collect();
    }
}

impl BatchSigner for EmulatedSigner {
    fn describe(&self) -> String {
        format!("{:?} signature kernel under the CPU emulation of CUDA", self.input)
    }

    fn perms(&self) -> usize {
        self.hasher.perms()
    }

    fn input(&self) -> SignatureInput {
        self.input
    }

    fn sign(&self, batch: &mut ShingleBatch, out: &mut Vec<u32>) -> Result<(), GpuError> {
        let (sketch, perms, docs) = (self.hasher.sketch(), self.hasher.perms(), batch.docs());
        let input = batch.input();
        if input == SignatureInput::Raw {
            self.sign_raw(batch, out);
            return Ok(());
        }
        let n = match self.hasher.shingles() {
            Shingles::Words { n } => n.max(1),
            Shingles::Chars { .. } => 0,
        };
        let mut args = vec![kernels::signature_entry(sketch, input).to_string()];
        args.extend(launch_args(kernels::signature_launch(sketch, input, perms, docs)));
        args.extend([docs.to_string(), n.to_string(), self.hasher.key().to_string(), perms.to_string()]);
        let (a_lo, a_hi, b) = self.hasher.family();
        let items = match input {
            SignatureInput::Text => ("text", &batch.text[..]),
            SignatureInput::Hashes => ("hashes", bytes_of(&batch.hashes)),
            SignatureInput::Raw => unreachable!("signed above"),
        };
        let inputs = [
            items,
            ("offsets", bytes_of(&batch.offsets)),
            ("a_lo", bytes_of(a_lo)),
            ("a_hi", bytes_of(a_hi)),
            ("b", bytes_of(b)),
        ];
        let got = self.emu.run("sig", &args, &inputs, &["sig"]);
        *out = u32s(&got[0]);
        Ok(())
    }
}

/// The merge kernel under the emulator, with `table` written once.
pub struct EmulatedMerger {
    emu: Emulator,
    table_dir: PathBuf,
    bits: u32,
}

impl EmulatedMerger {
    pub fn new(emu: Emulator, table: &MergeTable) -> Self {
        let table_dir = emu.keep("table");
        std::fs::write(table_dir.join("keys.bin"), bytes_of(&table.keys)).unwrap();
        std::fs::write(table_dir.join("vals.bin"), bytes_of(&table.values)).unwrap();
        std::fs::write(table_dir.join("byte_ids.bin"), bytes_of(&table.byte_ids[..])).unwrap();
        Self { emu, table_dir, bits: table.bits }
    }
}

impl PieceMerger for EmulatedMerger {
    fn describe(&self) -> String {
        "merge kernel under the CPU emulation of CUDA".into()
    }

    fn merge(&self, bytes: &[u8], starts: &[u32], ids: &mut Vec<u32>, counts: &mut Vec<u32>) -> Result<(), GpuError> {
        let pieces = starts.len().saturating_sub(1);
        ids.clear();
        counts.clear();
        if pieces == 0 {
            return Ok(());
        }
        let l = kernels::bpe_launch(pieces);
        let args = vec![
            self.table_dir.display().to_string(),
            l.grid.to_string(),
            l.block.to_string(),
            pieces.to_string(),
            self.bits.to_string(),
        ];
        let got = self.emu.run("bpe", &args, &[("bytes", bytes), ("starts", bytes_of(starts))], &["ids", "counts"]);
        *ids = u32s(&got[0]);
        *counts = u32s(&got[1]);
        Ok(())
    }
}

/// Split, merges and packing under the emulator, as `GpuSplitBpe` runs them: a [`BatchEncoder`].
pub struct EmulatedSplitBpe {
    emu: Arc<Emulator>,
    table_dir: PathBuf,
    bits: u32,
    pattern: u32,
}

impl EmulatedSplitBpe {
    /// `table` splits with `scanner`'s pattern.
    pub fn new(emu: Arc<Emulator>, table: &MergeTable, scanner: Scanner) -> Self {
        let table_dir = emu.keep(&format!("encode-table-{}", scanner.name()));
        std::fs::write(table_dir.join("keys.bin"), bytes_of(&table.keys)).unwrap();
        std::fs::write(table_dir.join("vals.bin"), bytes_of(&table.values)).unwrap();
        std::fs::write(table_dir.join("byte_ids.bin"), bytes_of(&table.byte_ids[..])).unwrap();
        std::fs::write(table_dir.join("classes.bin"), kbcurate::tokenize::pretokenize::char_classes()).unwrap();
        Self { emu, table_dir, bits: table.bits, pattern: kernels::split_pattern(scanner) }
    }
}

impl BatchEncoder for EmulatedSplitBpe {
    fn describe(&self) -> String {
        "split-and-merge kernels under the CPU emulation of CUDA".into()
    }

    fn encode_texts(&self, text: &[u8], offsets: &[u32]) -> Result<Vec<Vec<u32>>, GpuError> {
        let docs = offsets.len() - 1;
        let chunks = kernels::Chunks::of(offsets, kernels::NORMALIZE_CHUNK);
        let (sl, pl, gl) = (
            kernels::normalize_launch(chunks.len()),
            kernels::per_piece_launch(text.len()),
            kernels::gather_launch(docs),
        );
        let mut args = vec![self.table_dir.display().to_string()];
        args.extend([chunks.len() as u32, docs as u32, self.bits, self.pattern].map(|x| x.to_string()));
        args.extend([sl.grid, sl.block, pl.grid, pl.block, gl.grid, gl.block].map(|x| x.to_string()));
        let inputs = [
            ("text", text),
            ("offsets", bytes_of(offsets)),
            ("chunk_begin", bytes_of(&chunks.begin)),
            ("chunk_doc", bytes_of(&chunks.doc)),
            ("first_chunk", bytes_of(&chunks.first)),
        ];
        let got = self.emu.run("encode", &args, &inputs, &["doc_tok", "tokens"]);
        let (doc_tok, tokens) = (u32s(&got[0]), u32s(&got[1]));
        Ok(doc_tok.windows(2).map(|w| tokens[w[0] as usize..w[1] as usize].to_vec()).collect())
    }
}

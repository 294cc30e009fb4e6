//! Packing 10 M document lengths: time, padding share and truncated documents for concat and
//! best-fit, on a log-normal length distribution (median ~700 tokens, long tail of books).
//!
//! ```sh
//! cargo bench --bench pack            # 10 M documents, seq_len 2048 and 8192
//! cargo bench --bench pack -- 1000000 # fewer
//! ```

use std::time::Instant;

use kbcurate::tokenize::pack::{best_fit, concat};

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Log-normal lengths: exp(N(ln 700, 1.2)), at least 8 tokens, at most 200k.
fn lengths(n: usize, seed: u64) -> Vec<u32> {
    let mut s = seed;
    let u = |s: &mut u64| ((splitmix(s) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    (0..n)
        .map(|_| {
            let z = (-2.0 * u(&mut s).ln()).sqrt() * (2.0 * std::f64::consts::PI * u(&mut s)).cos();
            (700f64.ln() + 1.2 * z).exp().clamp(8.0, 200_000.0) as u32
        })
        .collect()
}

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10_000_000);
    let lens = lengths(n, 42);
    let total: u64 = lens.iter().map(|&l| l as u64).sum();
    println!("{n} documents, {total} tokens, mean {:.0}", total as f64 / n as f64);
    println!(
        "{:<10} {:>7} {:>9} {:>12} {:>9} {:>11}",
        "packing", "seq_len", "seconds", "windows", "padding", "truncated"
    );
    for seq_len in [2048u32, 8192] {
        for (name, f) in [("concat", concat as fn(&[u32], u32) -> _), ("best-fit", best_fit)] {
            let t = Instant::now();
            let p = f(&lens, seq_len);
            let secs = t.elapsed().as_secs_f64();
            let s = p.stats(&lens);
            let pad = if name == "concat" { 0 } else { s.pad_tokens };
            println!(
                "{name:<10} {seq_len:>7} {secs:>9.2} {:>12} {:>8.3}% {:>11}",
                s.windows,
                100.0 * pad as f64 / (s.tokens + pad) as f64,
                s.truncated_documents
            );
        }
    }
}

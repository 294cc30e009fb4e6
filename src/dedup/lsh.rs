//! Locality-sensitive hashing over MinHash signatures: the signature is cut into `bands` bands
//! of `rows` values; two documents become candidates when they agree on all rows of at least
//! one band, which happens with probability `1 − (1 − s^rows)^bands` at Jaccard similarity `s`.

/// Bands × rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Banding {
    pub bands: usize,
    pub rows: usize,
}

impl Banding {
    /// Probability that a pair of Jaccard similarity `s` shares at least one band.
    pub fn probability(&self, s: f64) -> f64 {
        1.0 - (1.0 - s.powi(self.rows as i32)).powi(self.bands as i32)
    }

    /// Signature length this banding uses.
    pub fn perms(&self) -> usize {
        self.bands * self.rows
    }

    /// The bands × rows (with `bands·rows ≤ perms`) that minimize
    /// `fp_weight · ∫₀ᵗ P(s) ds + fn_weight · ∫ₜ¹ (1 − P(s)) ds`: the area of false candidates below
    /// the threshold and of missed pairs above it.
    pub fn for_threshold(threshold: f64, perms: usize, fp_weight: f64, fn_weight: f64) -> Banding {
        let t = threshold.clamp(0.0, 1.0);
        let mut best = (f64::INFINITY, Banding { bands: 1, rows: perms.max(1) });
        for bands in 1..=perms.max(1) {
            for rows in 1..=perms / bands {
                let b = Banding { bands, rows };
                let fp = integrate(|s| b.probability(s), 0.0, t);
                let fnr = integrate(|s| 1.0 - b.probability(s), t, 1.0);
                let cost = fp_weight * fp + fn_weight * fnr;
                if cost < best.0 - 1e-12 {
                    best = (cost, b);
                }
            }
        }
        best.1
    }

    /// The band keys of a signature: one 64-bit key per band, salted with the band index so
    /// that equal values in different bands do not collide.
    pub fn keys(&self, sig: &[u32], out: &mut Vec<u64>) {
        out.clear();
        // One-shot xxh3 over the band's bytes: the same digest as a streaming `Xxh3` fed the
        // values one by one (the tests hold them equal), without building a streaming state
        // (its secret and buffer) per band, which was most of the time here.
        let mut bytes = Vec::with_capacity(self.rows * 4);
        for (band, rows) in sig.chunks_exact(self.rows).take(self.bands).enumerate() {
            bytes.clear();
            bytes.extend(rows.iter().flat_map(|v| v.to_le_bytes()));
            out.push(xxhash_rust::xxh3::xxh3_64_with_seed(&bytes, band as u64));
        }
    }
}

fn integrate(f: impl Fn(f64) -> f64, a: f64, b: f64) -> f64 {
    // Simpson's rule; the integrands are smooth polynomials in s.
    let n = 200;
    if b <= a {
        return 0.0;
    }
    let h = (b - a) / n as f64;
    let mut sum = f(a) + f(b);
    for i in 1..n {
        let x = a + i as f64 * h;
        sum += if i % 2 == 1 { 4.0 } else { 2.0 } * f(x);
    }
    sum * h / 3.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Band keys are a streaming xxh3 of the band's values, seeded with the band: saved indexes
    /// and earlier runs depend on that definition.
    #[test]
    fn band_keys_are_streaming_xxh3_of_the_rows() {
        let sig: Vec<u32> = (0..130u32).map(|i| i.wrapping_mul(0x9E37_79B9) ^ 0xDEAD).collect();
        for (bands, rows) in [(64, 2), (14, 8), (3, 40), (1, 1)] {
            let mut keys = Vec::new();
            Banding { bands, rows }.keys(&sig, &mut keys);
            assert_eq!(keys.len(), bands);
            for (band, key) in keys.iter().enumerate() {
                let mut h = xxhash_rust::xxh3::Xxh3::with_seed(band as u64);
                sig[band * rows..(band + 1) * rows].iter().for_each(|v| h.update(&v.to_le_bytes()));
                assert_eq!(*key, h.digest(), "{bands}x{rows} band {band}");
            }
        }
    }

    #[test]
    fn probability_curve() {
        let web = Banding { bands: 14, rows: 8 };
        // The figure: datatrove's default detects a pair at Jaccard 0.3 with p ~ 0.001.
        assert!((web.probability(0.3) - 0.00092).abs() < 0.0002, "{}", web.probability(0.3));
        assert!(web.probability(0.9) > 0.99);
        let ocr = Banding { bands: 64, rows: 2 };
        assert!(ocr.probability(0.3) > 0.997);
        assert!(ocr.probability(0.02) < 0.03);
        assert_eq!(ocr.perms(), 128);
    }

    #[test]
    fn optimal_banding_moves_with_the_threshold() {
        let low = Banding::for_threshold(0.3, 128, 0.5, 0.5);
        let high = Banding::for_threshold(0.8, 128, 0.5, 0.5);
        assert!(low.rows < high.rows, "{low:?} {high:?}");
        assert!(low.perms() <= 128 && high.perms() <= 128);
        // The curve crosses 1/2 near the threshold.
        let mid = |b: Banding| (0..=1000).map(|i| i as f64 / 1000.0).find(|&s| b.probability(s) >= 0.5).unwrap();
        assert!((mid(low) - 0.3).abs() < 0.1, "{low:?} crosses at {}", mid(low));
        assert!((mid(high) - 0.8).abs() < 0.1, "{high:?} crosses at {}", mid(high));
    }

    #[test]
    fn keys_differ_by_band_and_content() {
        let b = Banding { bands: 2, rows: 2 };
        let mut k1 = Vec::new();
        let mut k2 = Vec::new();
        b.keys(&[1, 2, 1, 2], &mut k1);
        assert_eq!(k1.len(), 2);
        assert_ne!(k1[0], k1[1], "same values, different bands");
        b.keys(&[1, 2, 9, 9], &mut k2);
        assert_eq!(k1[0], k2[0]);
        assert_ne!(k1[1], k2[1]);
    }
}

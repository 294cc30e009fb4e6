//! Byte counts and rates as people read them: with the SI unit that fits (`33.0 kB`, not
//! `0.0 MB`), for summaries and `inspect`.

use std::fmt;

/// A number of bytes, shown with the largest SI unit under which it is at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

/// Bytes per second, shown like [`Bytes`] with `/s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub bytes: u64,
    pub seconds: f64,
}

fn scaled(x: f64, f: &mut fmt::Formatter<'_>, suffix: &str) -> fmt::Result {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if x < 1000.0 {
        // Whole bytes need no decimals.
        return write!(f, "{} B{suffix}", x.round() as u64);
    }
    let mut v = x / 1000.0;
    let mut unit = 0;
    // Rounded as printed, so 999.96 kB reads `1.0 MB`, not `1000.0 kB`.
    while (v * 10.0).round() / 10.0 >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    write!(f, "{v:.1} {}{suffix}", UNITS[unit])
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        scaled(self.0 as f64, f, "")
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per_s = if self.seconds > 0.0 { self.bytes as f64 / self.seconds } else { 0.0 };
        scaled(per_s, f, "/s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_fits() {
        let s = |n| Bytes(n).to_string();
        assert_eq!(s(0), "0 B");
        assert_eq!(s(999), "999 B");
        assert_eq!(s(33_000), "33.0 kB");
        assert_eq!(s(999_960), "1.0 MB");
        assert_eq!(s(54_321_000), "54.3 MB");
        assert_eq!(s(2_500_000_000), "2.5 GB");
        assert_eq!(s(u64::MAX), "18446.7 PB");
        assert_eq!(Rate { bytes: 3_000_000, seconds: 2.0 }.to_string(), "1.5 MB/s");
        assert_eq!(Rate { bytes: 10, seconds: 0.0 }.to_string(), "0 B/s");
    }
}

//! Dates as libraries write them: `1749`, `1749.`, `[1749]`, `ca 1750`, `1795-06-01`,
//! `18140401`, `1897-03`, `2013-05-22 13:00:00`, MARC 008 `1749    `. A date may be known only
//! to the year or month; it is stored as a full `date32` only when the day is known.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PartialDate {
    pub year: i16,
    pub month: Option<u8>,
    pub day: Option<u8>,
}

/// The most bytes of a field searched for a date: a date field is short, and a field of
/// megabytes (crafted or misparsed) must cost no more than a short one.
pub const MAX_FIELD: usize = 256;

/// `s` cut to at most `max` bytes, at a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl PartialDate {
    /// Finds the first plausible date in the first [`MAX_FIELD`] bytes of `s` (years
    /// 1000–2999). Returns `None` when there is none.
    pub fn parse(s: &str) -> Option<PartialDate> {
        let s = prefix(s, MAX_FIELD);
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_digit()) {
                i += 1;
                continue;
            }
            let run = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            let digits = &s[i..i + run];
            // `31.12.1899` and a little after it: a window, so that each digit run costs O(1).
            if let Some(d) = Self::day_first(prefix(&s[i..], 16)) {
                return Some(d);
            }
            if run == 8 {
                // YYYYMMDD
                if let Some(d) = Self::from_parts(&digits[..4], Some(&digits[4..6]), Some(&digits[6..8])) {
                    return Some(d);
                }
            } else if run == 4 {
                let rest = &s[i + 4..];
                let mut month = None;
                let mut day = None;
                if let Some(r) =
                    rest.strip_prefix('-').or_else(|| rest.strip_prefix('/')).or_else(|| rest.strip_prefix('.'))
                {
                    let m: String = r.chars().take_while(|c| c.is_ascii_digit()).collect();
                    if (1..=2).contains(&m.len()) {
                        month = Some(m.clone());
                        let r2 = &r[m.len()..];
                        if let Some(r3) =
                            r2.strip_prefix('-').or_else(|| r2.strip_prefix('/')).or_else(|| r2.strip_prefix('.'))
                        {
                            let d: String = r3.chars().take_while(|c| c.is_ascii_digit()).collect();
                            if (1..=2).contains(&d.len()) {
                                day = Some(d);
                            }
                        }
                    }
                }
                if let Some(d) = Self::from_parts(digits, month.as_deref(), day.as_deref()) {
                    return Some(d);
                }
                if let Some(d) = Self::from_parts(digits, None, None) {
                    return Some(d);
                }
            }
            i += run;
        }
        None
    }

    /// `01.04.1814`, `1/4/1814`, `1-4-1814`: day, month, year (the European order).
    fn day_first(s: &str) -> Option<PartialDate> {
        let mut it = s.splitn(3, ['.', '/', '-']);
        let d = it.next()?;
        let m = it.next()?;
        let rest = it.next()?;
        let y: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if !(1..=2).contains(&d.len())
            || !(1..=2).contains(&m.len())
            || y.len() != 4
            || !d.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        Self::from_parts(&y, Some(m), Some(d))
    }

    fn from_parts(y: &str, m: Option<&str>, d: Option<&str>) -> Option<PartialDate> {
        let year: i16 = y.parse().ok()?;
        if !(1000..=2999).contains(&year) {
            return None;
        }
        let month = match m {
            Some(m) => Some(m.parse::<u8>().ok().filter(|m| (1..=12).contains(m))?),
            None => None,
        };
        let day = match (month, d) {
            (Some(mo), Some(d)) => d.parse::<u8>().ok().filter(|d| *d >= 1 && *d <= days_in_month(year, mo)),
            _ => None,
        };
        Some(PartialDate { year, month, day })
    }

    pub fn decade(&self) -> i16 {
        self.year.div_euclid(10) * 10
    }

    /// Days since 1970-01-01 when the full date is known (Arrow `date32`).
    pub fn days_since_epoch(&self) -> Option<i32> {
        Some(days_from_civil(self.year as i32, self.month? as u32, self.day? as u32))
    }

    pub fn to_iso(&self) -> String {
        match (self.month, self.day) {
            (Some(m), Some(d)) => format!("{:04}-{:02}-{:02}", self.year, m, d),
            (Some(m), None) => format!("{:04}-{:02}", self.year, m),
            _ => format!("{:04}", self.year),
        }
    }
}

fn is_leap(y: i16) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i16, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Proleptic Gregorian days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i32 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The inverse of [`days_from_civil`].
pub fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Option<String> {
        PartialDate::parse(s).map(|d| d.to_iso())
    }

    #[test]
    fn library_date_spellings() {
        assert_eq!(p("1749."), Some("1749".into()));
        assert_eq!(p("[1749]"), Some("1749".into()));
        assert_eq!(p("ca 1750-talet"), Some("1750".into()));
        assert_eq!(p("1795-06-01"), Some("1795-06-01".into()));
        assert_eq!(p("18140401"), Some("1814-04-01".into()));
        assert_eq!(p("1897-03"), Some("1897-03".into()));
        assert_eq!(p("2013-05-22 13:00:00"), Some("2013-05-22".into()));
        assert_eq!(p("1900-02-29"), Some("1900-02".into()), "1900 is not a leap year: the day is dropped");
        assert_eq!(p("no date"), None);
        assert_eq!(p("12345"), None);
        assert_eq!(p("01.04.1814"), Some("1814-04-01".into()));
        assert_eq!(PartialDate::parse("1749").unwrap().decade(), 1740);
    }

    /// A field of megabytes of digit runs with no date: each run is looked at through a small
    /// window, and only the field's first MAX_FIELD bytes are searched (it took ~10^12 steps
    /// when every run scanned the rest of the field for a separator).
    #[test]
    fn long_fields_cost_no_more_than_short_ones() {
        let junk = "1 22 333 ".repeat(500_000);
        assert_eq!(PartialDate::parse(&junk), None);
        let late = format!("{}1897-03-12", "x".repeat(MAX_FIELD));
        assert_eq!(PartialDate::parse(&late), None, "a date past the first {MAX_FIELD} bytes is not looked for");
        let early = format!("{}1897-03-12 {}", "x".repeat(MAX_FIELD - 11), "ö".repeat(100));
        assert_eq!(PartialDate::parse(&early).map(|d| d.to_iso()), Some("1897-03-12".into()));
        // The cut falls inside a two-byte character without a panic.
        assert_eq!(PartialDate::parse(&format!("x{}", "ö".repeat(200))), None);
    }

    #[test]
    fn epoch_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1795, 6, 1), -63766);
        assert_eq!(PartialDate::parse("1749").unwrap().days_since_epoch(), None);
    }

    proptest! {
        #[test]
        fn civil_roundtrip(z in -500_000i32..500_000) {
            let (y, m, d) = civil_from_days(z);
            prop_assert_eq!(days_from_civil(y, m, d), z);
        }
    }
}

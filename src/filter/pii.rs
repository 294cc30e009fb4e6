//! PII masking: e-mail addresses, phone numbers and Swedish personal identity numbers
//! (personnummer and samordningsnummer), replaced by placeholders and counted.
//!
//! A personal identity number is `YYMMDD-NNNC` or `YYYYMMDD-NNNC` (`-`, `+` for 100 years or
//! older, or no separator), with a valid month, a day of 01–31 (personnummer) or 61–91
//! (samordningsnummer: day + 60), and `C` the Luhn check digit over the ten digits
//! `YYMMDDNNN`. Ten- and twelve-digit numbers that fail the check are left alone: in a
//! newspaper they are far more often something else.

use regex::Regex;

use super::config::PiiConfig;

/// What was masked in one text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PiiCounts {
    pub emails: u32,
    pub phones: u32,
    pub personnummer: u32,
}

impl PiiCounts {
    pub fn total(&self) -> u32 {
        self.emails + self.phones + self.personnummer
    }
}

/// The Luhn check over the digits of `s` (the last is the check digit).
pub fn luhn_ok(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut v = d as u32;
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Whether `s` (digits with an optional `-`/`+` before the last four) is a valid Swedish
/// personnummer or samordningsnummer.
pub fn is_personnummer(s: &str) -> bool {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect();
    let sep = s.bytes().filter(|b| !b.is_ascii_digit()).collect::<Vec<_>>();
    if sep.len() > 1 || sep.first().is_some_and(|&b| b != b'-' && b != b'+') {
        return false;
    }
    if let Some(k) = s.find(['-', '+']) {
        if s.len() - k != 5 {
            return false;
        }
    }
    let ten: &[u8] = match digits.len() {
        10 => &digits,
        12 => {
            let century = digits[0] * 10 + digits[1];
            if !(18..=20).contains(&century) {
                return false;
            }
            &digits[2..]
        }
        _ => return false,
    };
    let month = ten[2] * 10 + ten[3];
    let day = ten[4] * 10 + ten[5];
    (1..=12).contains(&month) && ((1..=31).contains(&day) || (61..=91).contains(&day)) && luhn_ok(ten)
}

/// Finds and masks PII.
pub struct Masker {
    cfg: PiiConfig,
    email: Regex,
    pnr: Regex,
    phone: Regex,
}

impl Masker {
    pub fn new(cfg: &PiiConfig) -> Self {
        Self {
            cfg: cfg.clone(),
            email: Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}").expect("regex"),
            // ASCII word boundaries and digits: Unicode `\b` keeps the regex off its fast DFA on
            // non-ASCII text.
            pnr: Regex::new(r"(?-u:\b)(?:[0-9]{2})?[0-9]{6}[-+]?[0-9]{4}(?-u:\b)").expect("regex"),
            phone: Regex::new(
                r"(?-u)(?:(?:\+|\b00)[0-9]{2,3}[ -]?(?:\(0\)[ -]?)?[0-9]{1,4}|\b0[0-9]{1,3})(?:[- /]?[0-9]{2,4}){2,4}\b|(?i:\b(?:tel|telefon|tfn|rikstelefon)\.?:?) ?[0-9]{2,4}(?:[ -][0-9]{2,4}){0,3}\b",
            )
            .expect("regex"),
        }
    }

    /// `text` with PII replaced, and the counts; `None` when nothing was found.
    pub fn mask(&self, text: &str) -> Option<(String, PiiCounts)> {
        if !self.cfg.enabled {
            return None;
        }
        // (start, end, kind) with 0 = e-mail, 1 = personnummer, 2 = phone; earlier kinds win overlaps.
        let mut spans: Vec<(usize, usize, u8)> = Vec::new();
        if self.cfg.emails && memchr::memchr(b'@', text.as_bytes()).is_some() {
            spans.extend(self.email.find_iter(text).map(|m| (m.start(), m.end(), 0)));
        }
        let has_digits = text.bytes().any(|b| b.is_ascii_digit());
        if self.cfg.personnummer && has_digits {
            spans.extend(
                self.pnr.find_iter(text).filter(|m| is_personnummer(m.as_str())).map(|m| (m.start(), m.end(), 1)),
            );
        }
        if self.cfg.phones && has_digits {
            for m in self.phone.find_iter(text) {
                // Keep a leading keyword (`Tel.`) and mask the number only.
                let s = m.as_str();
                let off = s.find(|c: char| c.is_ascii_digit() || c == '+').unwrap_or(0);
                let digits = s.bytes().filter(u8::is_ascii_digit).count();
                if digits >= 4 {
                    spans.push((m.start() + off, m.end(), 2));
                }
            }
        }
        if spans.is_empty() {
            return None;
        }
        spans.sort_by_key(|&(a, b, k)| (k, a, b));
        let mut chosen: Vec<(usize, usize, u8)> = Vec::new();
        for s in spans {
            if !chosen.iter().any(|c| s.0 < c.1 && c.0 < s.1) {
                chosen.push(s);
            }
        }
        chosen.sort();
        let mut out = String::with_capacity(text.len());
        let mut counts = PiiCounts::default();
        let mut at = 0;
        for (a, b, k) in chosen {
            out.push_str(&text[at..a]);
            out.push_str(match k {
                0 => {
                    counts.emails += 1;
                    &self.cfg.email_placeholder
                }
                1 => {
                    counts.personnummer += 1;
                    &self.cfg.personnummer_placeholder
                }
                _ => {
                    counts.phones += 1;
                    &self.cfg.phone_placeholder
                }
            });
            at = b;
        }
        out.push_str(&text[at..]);
        Some((out, counts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Masker {
        Masker::new(&PiiConfig::default())
    }

    #[test]
    fn luhn() {
        // Skatteverket's example number 811218-9876.
        assert!(luhn_ok(&[8, 1, 1, 2, 1, 8, 9, 8, 7, 6]));
        assert!(!luhn_ok(&[8, 1, 1, 2, 1, 8, 9, 8, 7, 5]));
    }

    #[test]
    fn personnummer_forms() {
        for ok in ["811218-9876", "8112189876", "19811218-9876", "198112189876", "811218+9876", "811278-9873"] {
            assert!(is_personnummer(ok), "{ok}");
        }
        for bad in [
            "811218-9875",   // wrong check digit
            "19811218-9875", // wrong check digit, 12 digits
            "811318-9871",   // month 13
            "811200-9874",   // day 0
            "811250-9872",   // day 50: neither person- nor samordningsnummer
            "17811218-9876", // century 17
            "81121-89876",   // separator in the wrong place
        ] {
            assert!(!is_personnummer(bad), "{bad}");
        }
    }

    #[test]
    fn masks_and_counts() {
        let (t, c) = m()
            .mask("Skriv till anna.svensson@example.se eller ring 08-123 45 67. Pnr 19811218-9876, samnr 811278-9873.")
            .unwrap();
        assert_eq!(t, "Skriv till <EMAIL> eller ring <PHONE>. Pnr <PERSONNUMMER>, samnr <PERSONNUMMER>.");
        assert_eq!(c, PiiCounts { emails: 1, phones: 1, personnummer: 2 });
        // A number with a bad check digit is not a personnummer; nor is a year or a price.
        assert!(m().mask("Nummer 811218-9875 år 1898 kostar 12.50 kr.").is_none());
        let (t, c) = m().mask("Ring +46 70 123 45 67 eller Tel. 123 45.").unwrap();
        assert_eq!(t, "Ring <PHONE> eller Tel. <PHONE>.");
        assert_eq!(c.phones, 2);
    }

    #[test]
    fn disabled_kinds_are_left_alone() {
        let cfg = PiiConfig { emails: false, ..PiiConfig::default() };
        assert!(Masker::new(&cfg).mask("a@b.se").is_none());
        let cfg = PiiConfig { enabled: false, ..PiiConfig::default() };
        assert!(Masker::new(&cfg).mask("811218-9876").is_none());
    }
}

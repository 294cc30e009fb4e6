//! Language codes: sources write `sv`, `swe`, `Swedish`, `svenska`, `sv-SE`; the dataset stores
//! ISO 639-3. Unknown values are kept as written (lower-cased) so nothing is lost.

/// (ISO 639-3, ISO 639-1, ISO 639-2/B when different, English name, native name)
const LANGS: &[(&str, &str, &str, &str, &str)] = &[
    ("swe", "sv", "", "swedish", "svenska"),
    ("fin", "fi", "", "finnish", "suomi"),
    ("nob", "nb", "", "norwegian bokmål", "bokmål"),
    ("nno", "nn", "", "norwegian nynorsk", "nynorsk"),
    ("nor", "no", "", "norwegian", "norsk"),
    ("dan", "da", "", "danish", "dansk"),
    ("isl", "is", "ice", "icelandic", "íslenska"),
    ("fao", "fo", "", "faroese", "føroyskt"),
    ("sme", "se", "", "northern sami", "davvisámegiella"),
    ("eng", "en", "", "english", "english"),
    ("deu", "de", "ger", "german", "deutsch"),
    ("fra", "fr", "fre", "french", "français"),
    ("lat", "la", "", "latin", "latina"),
    ("nld", "nl", "dut", "dutch", "nederlands"),
    ("ita", "it", "", "italian", "italiano"),
    ("spa", "es", "", "spanish", "español"),
    ("est", "et", "", "estonian", "eesti"),
    ("rus", "ru", "", "russian", "русский"),
    ("pol", "pl", "", "polish", "polski"),
    ("ltz", "lb", "", "luxembourgish", "lëtzebuergesch"),
    ("yid", "yi", "", "yiddish", "ייִדיש"),
    ("fit", "", "", "meänkieli", "meänkieli"),
    ("rom", "", "", "romani", "romani"),
    ("ara", "ar", "", "arabic", "العربية"),
];

/// Whether `code` is already a lower-case ISO 639-3 code as the project writes it (`swe`), as
/// configs and flags must give one.
pub fn is_code(code: &str) -> bool {
    code.len() == 3 && normalize(code).as_deref() == Some(code)
}

/// Normalizes a declared language to ISO 639-3. Returns `None` for empty input and for
/// "undetermined"/"multiple" codes (`und`, `mul`, `zxx`).
pub fn normalize(code: &str) -> Option<String> {
    let c = code.trim().to_lowercase();
    let c = c.split(['-', '_']).next().unwrap_or("").trim();
    if c.is_empty() || matches!(c, "und" | "mul" | "zxx" | "mis") {
        return None;
    }
    for (iso3, iso1, iso2b, en, native) in LANGS {
        if c == *iso3
            || (!iso1.is_empty() && c == *iso1)
            || (!iso2b.is_empty() && c == *iso2b)
            || c == *en
            || c == *native
        {
            return Some((*iso3).to_string());
        }
    }
    Some(c.to_string())
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn normalizes_common_spellings() {
        assert_eq!(normalize("sv").as_deref(), Some("swe"));
        assert_eq!(normalize("sv-SE").as_deref(), Some("swe"));
        assert_eq!(normalize("SWE").as_deref(), Some("swe"));
        assert_eq!(normalize("Svenska").as_deref(), Some("swe"));
        assert_eq!(normalize("ger").as_deref(), Some("deu"));
        assert_eq!(normalize("und"), None);
        assert_eq!(normalize("xyz").as_deref(), Some("xyz"));
    }
}

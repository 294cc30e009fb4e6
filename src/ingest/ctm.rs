//! Kaldi CTM (word-level ASR output): `utt chan start dur word [conf]` per line, comment lines
//! starting with `;;` or `#`.
//!
//! One document per recording id (column 1) in first-seen order; the locator is empty when the
//! file has one id, else `recording=<id>`. Words are put in time order (stable); a pause of more
//! than [`PAUSE_S`] between one word's end and the next word's start starts a new line, so the
//! text reads as utterances, and each pause-separated run is one entry of `meta.segments`.
//! Non-speech tokens (`<unk>`, `[noise]`, `<sil>`, `!SIL`, `%hesitation`) are left out of the text
//! and counted in `skipped_tokens`; they still count for the duration. A line that cannot be read
//! (too few fields, a start or duration that is not a non-negative number) is skipped and counted
//! in `skipped_cues` of its recording (or of the first document when its id has no words).

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::source::{decode_text, Emit, RawDoc, ReadContext, ReadError, TextBuilder};
use super::subtitles::{round_ms, snippet};
use crate::reject::Reason;

/// A gap between words longer than this (seconds) is a pause: a new line and a new segment.
pub const PAUSE_S: f64 = 1.0;

/// Whether the start of a file looks like CTM: its first (up to 5) non-comment lines all have
/// at least 5 fields with numeric start and duration, and there is at least one.
pub fn looks_like_ctm(head: &str) -> bool {
    let head = head.trim_start_matches('\u{feff}');
    // The last line of a head may be cut off.
    let complete = match head.rfind('\n') {
        Some(p) if !head.ends_with('\n') => &head[..p],
        _ => head,
    };
    let mut seen = 0;
    for line in complete.lines().map(str::trim).filter(|l| !l.is_empty() && !is_comment(l)).take(5) {
        if parse_line(line).is_err() {
            return false;
        }
        seen += 1;
    }
    seen > 0
}

struct Word<'a> {
    start: f64,
    end: f64,
    word: &'a str,
    conf: Option<f64>,
}

struct Recording<'a> {
    id: &'a str,
    words: Vec<Word<'a>>,
    skipped_cues: usize,
}

fn is_comment(line: &str) -> bool {
    line.starts_with(";;") || line.starts_with('#')
}

/// Non-speech tokens: `<unk>`, `<sil>`, `<eps>`, `[noise]`, `[laughter]`, `!SIL`, `%hesitation`.
fn is_non_speech(w: &str) -> bool {
    (w.len() >= 2 && ((w.starts_with('<') && w.ends_with('>')) || (w.starts_with('[') && w.ends_with(']'))))
        || w.eq_ignore_ascii_case("!sil")
        || (w.len() > 1 && w.starts_with('%') && w[1..].chars().all(|c| c.is_alphabetic() || c == '_'))
}

/// `(id, word)` or why the line cannot be read.
fn parse_line(line: &str) -> Result<(&str, Word<'_>), String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 5 {
        return Err(format!("{} fields, expected `utt chan start dur word [conf]`", f.len()));
    }
    let num = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
    let start = num(f[2]).ok_or_else(|| format!("start `{}` is not a number of seconds", snippet(f[2])))?;
    let dur = num(f[3]).ok_or_else(|| format!("duration `{}` is not a number of seconds", snippet(f[3])))?;
    // A 6th field that is not a confidence in 0..=1 (some CTMs have a type or speaker there) is ignored.
    let conf = f.get(5).and_then(|s| s.parse::<f64>().ok()).filter(|c| (0.0..=1.0).contains(c));
    let end = start + dur;
    if !end.is_finite() {
        return Err("start + duration is too large".to_string());
    }
    Ok((f[0], Word { start, end, word: f[4], conf }))
}

/// Reads a CTM file.
pub fn read(bytes: &[u8], _ctx: &ReadContext, out: &mut dyn FnMut(Emit)) -> Result<(), ReadError> {
    let (text, repaired) = decode_text(bytes);
    if text.trim().is_empty() {
        return Err(ReadError::new(Reason::EmptyFile, "the CTM file has no text"));
    }
    let mut recs: Vec<Recording> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut broken: Vec<&str> = Vec::new();
    let mut first_problem: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || is_comment(line) {
            continue;
        }
        match parse_line(line) {
            Ok((id, word)) => {
                let k = *index.entry(id).or_insert_with(|| {
                    recs.push(Recording { id, words: Vec::new(), skipped_cues: 0 });
                    recs.len() - 1
                });
                recs[k].words.push(word);
            }
            Err(why) => {
                broken.push(line.split_whitespace().next().unwrap_or(""));
                if first_problem.is_none() {
                    first_problem = Some(format!("line {}: {why}: `{}`", i + 1, snippet(line)));
                }
            }
        }
    }
    if recs.is_empty() {
        let detail = match first_problem {
            Some(p) => format!("no CTM word line (`utt chan start dur word [conf]`); {p}"),
            None => "no CTM word line (`utt chan start dur word [conf]`): only comments".to_string(),
        };
        return Err(ReadError::new(Reason::MalformedTranscript, detail));
    }
    for id in broken {
        let k = index.get(id).copied().unwrap_or(0);
        recs[k].skipped_cues += 1;
    }
    let several = recs.len() > 1;
    for rec in recs {
        let locator = if several { format!("recording={}", rec.id) } else { String::new() };
        emit_recording(rec, locator, repaired, out);
    }
    Ok(())
}

fn emit_recording(mut rec: Recording, locator: String, repaired: usize, out: &mut dyn FnMut(Emit)) {
    rec.words.sort_by(|a, b| a.start.total_cmp(&b.start));
    let duration = rec.words.iter().map(|w| w.end).fold(0.0f64, f64::max);
    let mut tb = TextBuilder::new();
    let mut segments: Vec<Value> = Vec::new();
    let mut run: Option<(f64, f64)> = None;
    let (mut n_words, mut skipped_tokens) = (0usize, 0usize);
    let (mut conf_sum, mut conf_n) = (0.0f64, 0usize);
    for w in &rec.words {
        if is_non_speech(w.word) {
            skipped_tokens += 1;
            continue;
        }
        match run.as_mut() {
            Some((_, end)) if w.start - *end <= PAUSE_S => *end = end.max(w.end),
            _ => {
                if let Some((s, e)) = run.take() {
                    segments.push(json!([round_ms(s), round_ms(e)]));
                    tb.end_line();
                }
                run = Some((w.start, w.end));
            }
        }
        tb.word(w.word);
        n_words += 1;
        if let Some(c) = w.conf {
            conf_sum += c;
            conf_n += 1;
        }
    }
    if let Some((s, e)) = run {
        segments.push(json!([round_ms(s), round_ms(e)]));
    }
    if n_words == 0 {
        out(Emit::Reject {
            locator,
            reason: Reason::EmptyText,
            detail: format!(
                "recording `{}`: all {} tokens are non-speech (<unk>, [noise], <sil>...)",
                rec.id,
                rec.words.len()
            ),
        });
        return;
    }
    let mut meta = Map::new();
    meta.insert("format".into(), json!("ctm"));
    meta.insert("recording_id".into(), json!(rec.id));
    meta.insert("n_words".into(), json!(n_words));
    meta.insert("n_segments".into(), json!(segments.len()));
    meta.insert("segments".into(), Value::Array(segments));
    meta.insert("skipped_tokens".into(), json!(skipped_tokens));
    meta.insert("skipped_cues".into(), json!(rec.skipped_cues));
    if repaired > 0 {
        meta.insert("utf8_repaired_bytes".into(), json!(repaired));
    }
    out(Emit::Doc(RawDoc {
        text: tb.finish(),
        locator,
        // For ASR this is the mean word confidence (column 6) over the kept words; the field's
        // name is historical (OCR came first).
        ocr_confidence: (conf_n > 0).then(|| (conf_sum / conf_n as f64) as f32),
        duration_s: Some(round_ms(duration)),
        meta,
        ..Default::default()
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::source::ReaderOptions;

    fn run(bytes: &[u8]) -> Result<Vec<Emit>, ReadError> {
        let options = ReaderOptions::default();
        let ctx = ReadContext { path: "test.ctm", options: &options };
        let mut out = Vec::new();
        read(bytes, &ctx, &mut |e| out.push(e))?;
        Ok(out)
    }

    fn docs(bytes: &[u8]) -> Vec<RawDoc> {
        run(bytes)
            .expect("reads")
            .into_iter()
            .map(|e| match e {
                Emit::Doc(d) => d,
                other => panic!("expected a document, got {other:?}"),
            })
            .collect()
    }

    use crate::ingest::testing::{segments as segs, shared_data};

    #[test]
    fn words_pauses_confidence_and_non_speech() {
        let ctm = ";; a comment\n# another\nrec1 1 0.50 0.30 herr 0.9\nrec1 1 0.90 0.40 talman 0.7\nrec1 1 1.40 0.20 <unk> 0.1\nrec1 1 3.00 0.50 tack 1.0\nrec1 1 3.60 0.20 [noise]\nrec1 1 3.40 0.10 så 0.8\nrec1 1 5.00 0.50 <sil>\n";
        let d = &docs(ctm.as_bytes())[0];
        // `så` (3.40) sorts before the noise at 3.60; 1.30 -> 3.00 is a pause (1.7 s).
        assert_eq!(d.text, "herr talman\ntack så");
        assert_eq!(segs(d), vec![(0.5, 1.3), (3.0, 3.5)]);
        assert_eq!(d.duration_s, Some(5.5));
        assert_eq!(d.meta["skipped_tokens"], 3);
        assert_eq!(d.meta["n_words"], 4);
        assert_eq!(d.meta["skipped_cues"], 0);
        assert_eq!(d.locator, "");
        assert_eq!(d.meta["recording_id"], "rec1");
        assert!((d.ocr_confidence.unwrap() - 0.85).abs() < 1e-6);
    }

    #[test]
    fn gap_of_exactly_one_second_is_not_a_pause() {
        let d = &docs(b"r 1 0 0.5 a\nr 1 1.5 0.5 b\nr 1 3.01 0.5 c\n")[0];
        assert_eq!(d.text, "a b\nc");
        assert_eq!(d.ocr_confidence, None);
    }

    #[test]
    fn several_recordings_give_several_documents() {
        let ds = docs(b"B 1 0.0 0.5 hej 0.5\nA 1 0.0 0.5 hopp\nB 1 0.6 0.5 da\nA 1 0.7 0.2 san\n");
        assert_eq!(ds.len(), 2);
        assert_eq!((ds[0].locator.as_str(), ds[0].text.as_str()), ("recording=B", "hej da"));
        assert_eq!((ds[1].locator.as_str(), ds[1].text.as_str()), ("recording=A", "hopp san"));
        assert_eq!(ds[1].duration_s, Some(0.9));
    }

    #[test]
    fn broken_lines_are_skipped_and_counted() {
        let d = &docs(b"r 1 0.0 0.5 ett 0.9\nr 1 x 0.5 tva\nr 1 1.0\nr 1 1.0 -0.5 fyra\nr 1 1.0 0.5 fem 7\n")[0];
        assert_eq!(d.text, "ett fem");
        assert_eq!(d.meta["skipped_cues"], 3);
        // A 6th field outside 0..=1 is not a confidence.
        assert!((d.ocr_confidence.unwrap() - 0.9).abs() < 1e-6);
    }

    #[test]
    fn errors_and_empty_text() {
        let e = run(b";; only comments\n").unwrap_err();
        assert_eq!(e.reason, Reason::MalformedTranscript);
        let e = run(b";; header\nhello world\n").unwrap_err();
        assert_eq!(e.reason, Reason::MalformedTranscript);
        assert!(e.detail.contains("line 2"), "{}", e.detail);
        assert_eq!(run(b"\n").unwrap_err().reason, Reason::EmptyFile);
        let out = run(b"r 1 0 1 <unk>\nr 1 1 1 [noise]\n").unwrap();
        assert!(matches!(&out[..], [Emit::Reject { reason: Reason::EmptyText, .. }]), "{out:?}");
        for odd in [&b"r 1 nan 1 a\n"[..], b"r 1 inf 1 a\n", b"r 1 1e308 1e308 a\n", b"\xff\xfe\x00"] {
            assert_eq!(run(odd).unwrap_err().reason, Reason::MalformedTranscript, "{odd:?}");
        }
    }

    #[test]
    fn sniffing() {
        assert!(looks_like_ctm(";; comment\nutt 1 0.06 0.04 a 1.0\nutt 1 0.26 1.16 b 1.0\nutt 1 0.2"));
        assert!(looks_like_ctm("utt A 0.06 0.04 a\n"));
        assert!(!looks_like_ctm("1\n00:00:01,000 --> 00:00:02,000\nhej\n"));
        assert!(!looks_like_ctm("{\"segments\": []}"));
        assert!(!looks_like_ctm(";; only\n"));
    }

    #[test]
    fn real_riksdag_ctm() {
        let Some(dir) = shared_data("transcripts/riksdag_asr_vs_reference") else { return };
        let bytes = std::fs::read(dir.join("2442207160019927321_480p.asr.ctm")).unwrap();
        assert!(looks_like_ctm(&String::from_utf8_lossy(&bytes[..4096])));
        let ds = docs(&bytes);
        assert_eq!(ds.len(), 1);
        let d = &ds[0];
        assert_eq!(d.locator, "");
        assert_eq!(d.text.split_whitespace().count(), 596);
        assert_eq!(d.meta["n_words"], 596);
        assert_eq!(d.meta["skipped_tokens"], 0);
        assert_eq!(d.meta["skipped_cues"], 0);
        assert!(d.text.starts_with("a bygksanktionsavgift ola johanssons se amförande\ntack här talman"), "{}", d.text);
        assert!(d.text.ends_with("på tänkande tjugo"), "{}", d.text);
        assert_eq!(d.duration_s, Some(251.9));
        assert_eq!(d.ocr_confidence, Some(1.0));
        let s = segs(d);
        assert_eq!(s.len(), d.text.lines().count());
        assert_eq!(s[0], (0.06, 3.28));
        assert_eq!(s.last().unwrap().1, 251.9);
    }
}

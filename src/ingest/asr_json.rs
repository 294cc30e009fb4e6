//! ASR and transcript JSON: one document per file. The layout is chosen by its keys:
//!
//! - Riksdag web-TV API record (`{"videodata": [{"dokid", "title", "debatedate",
//!   "debateseconds", "speakers": [{"start", "duration", "text": "Name (P)", "party",
//!   "anftext": "<p>...</p>"}]}]}`, or one such video object on its own): the official
//!   transcript, one block per speech headed by a line with the speaker and party; `language`
//!   `sv`; `duration_s` from `debateseconds`, else the latest speaker start + duration;
//!   `meta.speakers` `[{name, party, start_s, duration_s}]`, `meta.segments` one per speaker.
//! - Whisper / whisper-timestamped / faster-whisper / WhisperX (`{"text", "segments": [{"start",
//!   "end", "text"}], "language"}`).
//! - Hugging Face ASR pipeline (`{"text", "chunks": [{"timestamp": [s, e], "text"}]}`); a `null`
//!   end (the last chunk) is taken as the chunk's start.
//! - A top-level array of segments (either of the two segment shapes).
//! - An object with only `text` (Whisper without timestamps): the text, no segments.
//!
//! For the segment layouts the text is one line per segment in time order (as the subtitle
//! readers do), `duration_s` is the declared `duration` (top level or `info.duration`) when
//! present, else the latest segment end; a segment without a readable start (or with its end
//! before its start) is skipped and counted in `skipped_cues`. Word confidences
//! (`words[].probability`/`confidence`/`score`) give `ocr_confidence` as their mean.

use serde_json::{json, Map, Value};

use super::source::{decode_text, Emit, RawDoc, ReadContext, ReadError, TextBuilder};
use super::subtitles::{build_cues, clean_markup, parse_timestamp, round_ms, Cue};
use crate::reject::Reason;

const UNKNOWN_SHAPE: &str = "no segments/chunks/text found; expected Whisper, HF pipeline or Riksdag web-TV JSON";

/// Cheap sniffing of the start of a file: JSON that mentions the keys of one of the layouts.
pub fn looks_like_asr_json(head: &str) -> bool {
    let head = head.trim_start_matches('\u{feff}').trim_start();
    let has = |k: &str| head.contains(&format!("\"{k}\""));
    if head.starts_with('{') {
        has("videodata")
            || has("anftext")
            || (has("speakers") && has("debateseconds"))
            || has("segments")
            || has("chunks")
    } else if head.starts_with('[') {
        // An array of segments; the first element is near the start.
        (has("start") && (has("end") || has("text"))) || has("timestamp")
    } else {
        false
    }
}

/// Reads an ASR/transcript JSON file.
pub fn read(bytes: &[u8], _ctx: &ReadContext, out: &mut dyn FnMut(Emit)) -> Result<(), ReadError> {
    let (text, repaired) = decode_text(bytes);
    if text.trim().is_empty() {
        return Err(ReadError::new(Reason::EmptyFile, "the JSON file has no text"));
    }
    let v: Value =
        serde_json::from_str(&text).map_err(|e| ReadError::new(Reason::MalformedJson, format!("invalid JSON: {e}")))?;
    let emit = match &v {
        Value::Object(m) if is_riksdag(m) => riksdag(m)?,
        Value::Object(m) if m.get("segments").is_some_and(Value::is_array) => segment_doc(
            m.get("segments").and_then(Value::as_array).map_or(&[][..], Vec::as_slice),
            Some(m),
            "whisper-json",
        )?,
        Value::Object(m) if m.get("chunks").is_some_and(Value::is_array) => segment_doc(
            m.get("chunks").and_then(Value::as_array).map_or(&[][..], Vec::as_slice),
            Some(m),
            "hf-pipeline-json",
        )?,
        Value::Object(m) if m.get("text").is_some_and(Value::is_string) => segment_doc(&[], Some(m), "whisper-json")?,
        Value::Array(a) => segment_doc(a, None, "segment-array-json")?,
        _ => return Err(ReadError::new(Reason::MalformedTranscript, UNKNOWN_SHAPE)),
    };
    out(match emit {
        Emit::Doc(mut d) => {
            if repaired > 0 {
                d.meta.insert("utf8_repaired_bytes".into(), json!(repaired));
            }
            Emit::Doc(d)
        }
        other => other,
    });
    Ok(())
}

/// A number of seconds: a JSON number, or a string holding a number or a timestamp.
fn seconds(v: &Value) -> Option<f64> {
    let x = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok().or_else(|| parse_timestamp(s))?,
        _ => return None,
    };
    (x.is_finite() && x >= 0.0).then_some(x)
}

fn str_of<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Whisper, HF pipeline, segment arrays
// ---------------------------------------------------------------------------------------------

/// One segment/chunk: start, end (`None` when absent or null) and text. `None` when it has no
/// readable start.
fn segment(seg: &Map<String, Value>) -> Option<(f64, Option<f64>, &str)> {
    let text = seg.get("text").and_then(Value::as_str).unwrap_or("");
    if let Some(ts) = seg.get("timestamp").and_then(Value::as_array) {
        let start = seconds(ts.first()?)?;
        return Some((start, ts.get(1).and_then(seconds), text));
    }
    let start = seconds(seg.get("start")?)?;
    Some((start, seg.get("end").and_then(seconds), text))
}

fn segment_doc(segs: &[Value], top: Option<&Map<String, Value>>, format: &str) -> Result<Emit, ReadError> {
    let mut cues = Vec::with_capacity(segs.len());
    let mut skipped = 0usize;
    let mut first_problem: Option<String> = None;
    let mut speakers: Vec<String> = Vec::new();
    let (mut conf_sum, mut conf_n) = (0.0f64, 0usize);
    for (i, s) in segs.iter().enumerate() {
        let parsed = s.as_object().and_then(|m| segment(m).map(|t| (m, t)));
        let Some((m, (start, end, text))) = parsed else {
            skipped += 1;
            first_problem.get_or_insert_with(|| format!("segment {i}: no readable start time"));
            continue;
        };
        let end = end.unwrap_or(start);
        if end < start {
            skipped += 1;
            first_problem.get_or_insert_with(|| format!("segment {i}: end {end} before start {start}"));
            continue;
        }
        if let Some(sp) = str_of(m, "speaker") {
            if !speakers.iter().any(|x| x == sp) {
                speakers.push(sp.to_string());
            }
        }
        for w in m.get("words").and_then(Value::as_array).into_iter().flatten() {
            let c = ["probability", "confidence", "score"].iter().find_map(|k| w.get(*k).and_then(Value::as_f64));
            if let Some(c) = c.filter(|c| (0.0..=1.0).contains(c)) {
                conf_sum += c;
                conf_n += 1;
            }
        }
        cues.push(Cue { start, end, text: text.to_string() });
    }
    let n_cues = cues.len();
    let built = build_cues(&mut cues);
    let top_text = top.and_then(|m| str_of(m, "text"));
    let (text, segments) = if !built.segments.is_empty() {
        (built.text, built.segments)
    } else if let Some(t) = top_text {
        // No segment has text (or there are none): the top-level text, as one line per line.
        let mut tb = TextBuilder::new();
        for line in t.lines() {
            tb.words(line);
            tb.end_line();
        }
        (tb.finish(), Vec::new())
    } else if n_cues == 0 && skipped > 0 {
        let p = first_problem.unwrap_or_default();
        return Err(ReadError::new(Reason::MalformedTranscript, format!("no usable segment in {format}; {p}")));
    } else if n_cues == 0 && top.is_none() && segs.is_empty() {
        return Err(ReadError::new(Reason::MalformedTranscript, format!("{UNKNOWN_SHAPE} (an empty array)")));
    } else {
        return Ok(Emit::Reject {
            locator: String::new(),
            reason: Reason::EmptyText,
            detail: format!("{format}: no text in {n_cues} segments"),
        });
    };
    let declared = top.and_then(|m| {
        m.get("duration").and_then(seconds).or_else(|| m.get("info").and_then(|i| i.get("duration")).and_then(seconds))
    });
    let duration = declared.or((n_cues > 0).then_some(built.end));
    let language = top.and_then(|m| {
        str_of(m, "language")
            .or_else(|| m.get("info").and_then(Value::as_object).and_then(|i| str_of(i, "language")))
            .map(str::to_string)
    });
    let mut meta = Map::new();
    meta.insert("format".into(), json!(format));
    meta.insert("n_segments".into(), json!(segments.len()));
    meta.insert("segments".into(), Value::Array(segments));
    meta.insert("skipped_cues".into(), json!(skipped));
    if built.empty > 0 {
        meta.insert("empty_cues".into(), json!(built.empty));
    }
    if !speakers.is_empty() {
        meta.insert("speakers".into(), json!(speakers));
    }
    Ok(Emit::Doc(RawDoc {
        text,
        language,
        // For ASR this is the mean word confidence; the field's name is historical.
        ocr_confidence: (conf_n > 0).then(|| (conf_sum / conf_n as f64) as f32),
        duration_s: duration.map(round_ms),
        meta,
        ..Default::default()
    }))
}

// ---------------------------------------------------------------------------------------------
// Riksdag web-TV
// ---------------------------------------------------------------------------------------------

fn is_video(m: &Map<String, Value>) -> bool {
    m.get("speakers").and_then(Value::as_array).is_some_and(|s| {
        m.contains_key("dokid") || m.contains_key("debateseconds") || s.iter().any(|x| x.get("anftext").is_some())
    })
}

fn is_riksdag(m: &Map<String, Value>) -> bool {
    m.contains_key("videodata") || is_video(m)
}

/// `2013-05-22 10:00` → `2013-05-22`; `22 maj 2013` → `2013-05-22`; anything else as written.
fn riksdag_date(s: &str) -> String {
    let t = s.trim();
    if let Some(d) = t.get(..10) {
        let b = d.as_bytes();
        if b[4] == b'-' && b[7] == b'-' && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit()) {
            return d.to_string();
        }
    }
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec"];
    let f: Vec<&str> = t.split_whitespace().collect();
    if let [day, month, year] = f[..] {
        let month = month.trim_end_matches('.').to_lowercase();
        let m = MONTHS.iter().position(|p| month.starts_with(p));
        let day: Option<u32> = day.trim_end_matches('.').parse().ok().filter(|d| (1..=31).contains(d));
        let year_ok = year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit());
        if let (Some(m), Some(day), true) = (m, day, year_ok) {
            return format!("{year}-{:02}-{day:02}", m + 1);
        }
    }
    t.to_string()
}

fn riksdag(m: &Map<String, Value>) -> Result<Emit, ReadError> {
    let videos: Vec<&Map<String, Value>> = match m.get("videodata") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).collect(),
        Some(Value::Object(v)) => vec![v],
        Some(_) => Vec::new(),
        None => vec![m],
    };
    let Some(first) = videos.first() else {
        return Err(ReadError::new(
            Reason::MalformedTranscript,
            "Riksdag web-TV JSON: `videodata` holds no video record",
        ));
    };
    let mut tb = TextBuilder::new();
    let mut speakers: Vec<Value> = Vec::new();
    let mut segments: Vec<Value> = Vec::new();
    let mut extent: Option<f64> = None;
    let mut n_speeches = 0usize;
    for video in &videos {
        for sp in video.get("speakers").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_object) {
            let label = str_of(sp, "text").unwrap_or("");
            let party = str_of(sp, "party").or_else(|| str_of(sp, "partycode")).unwrap_or("");
            let suffix = format!("({party})");
            let name = match label.strip_suffix(&suffix) {
                Some(n) if !party.is_empty() => n.trim_end(),
                _ => label,
            };
            let header = match (name.is_empty(), party.is_empty()) {
                (false, false) => format!("{name} ({party})"),
                (false, true) => name.to_string(),
                (true, false) => format!("({party})"),
                (true, true) => String::new(),
            };
            let start = sp.get("start").and_then(seconds);
            let duration = sp.get("duration").and_then(seconds).filter(|d| (start.unwrap_or(0.0) + d).is_finite());
            if let (Some(s), Some(d)) = (start, duration) {
                extent = Some(extent.unwrap_or(0.0).max(s + d));
            }
            let speech =
                sp.get("anftext").and_then(Value::as_str).map(|h| clean_markup(h, None, '\n')).unwrap_or_default();
            if speech.split_whitespace().next().is_some() {
                tb.words(&header);
                tb.end_line();
                for line in speech.lines() {
                    tb.words(line);
                    tb.end_line();
                }
                tb.end_block();
                n_speeches += 1;
                if let (Some(s), Some(d)) = (start, duration) {
                    segments.push(json!([round_ms(s), round_ms(s + d)]));
                }
            }
            speakers.push(json!({
                "name": name,
                "party": party,
                "start_s": start.map(round_ms),
                "duration_s": duration.map(round_ms),
            }));
        }
    }
    if speakers.is_empty() {
        return Err(ReadError::new(
            Reason::MalformedTranscript,
            "Riksdag web-TV JSON: the video record has no speakers",
        ));
    }
    if n_speeches == 0 {
        return Ok(Emit::Reject {
            locator: String::new(),
            reason: Reason::EmptyText,
            detail: format!("Riksdag web-TV JSON: none of the {} speakers has a transcript (anftext)", speakers.len()),
        });
    }
    let declared = first.get("debateseconds").and_then(seconds).filter(|d| *d > 0.0);
    let mut meta = Map::new();
    meta.insert("format".into(), json!("riksdag-webtv-json"));
    if let Some(id) = str_of(first, "dokid") {
        meta.insert("debate_id".into(), json!(id));
    }
    if let Some(n) = str_of(first, "debatename") {
        meta.insert("debate_name".into(), json!(n));
    }
    if let Some(t) = str_of(first, "debatetype") {
        meta.insert("debate_type".into(), json!(t));
    }
    meta.insert("n_segments".into(), json!(segments.len()));
    meta.insert("segments".into(), Value::Array(segments));
    meta.insert("speakers".into(), Value::Array(speakers));
    Ok(Emit::Doc(RawDoc {
        text: tb.finish(),
        title: str_of(first, "title").map(str::to_string),
        date: str_of(first, "debatedate").or_else(|| str_of(first, "date")).map(riksdag_date),
        language: Some("sv".to_string()),
        duration_s: declared.or(extent).map(round_ms),
        meta,
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::ingest::testing::{self, segments as segs};

    fn run(bytes: &[u8]) -> Result<Vec<Emit>, ReadError> {
        testing::run_reader(super::read, bytes)
    }

    fn one_doc(bytes: &[u8]) -> RawDoc {
        testing::one_doc(super::read, bytes)
    }

    #[test]
    fn whisper() {
        let j = r#"{"text": " Hej och välkommen. Nu börjar vi.", "language": "sv",
            "segments": [
              {"id": 1, "start": 2.5, "end": 4.0, "text": " Nu börjar vi.",
               "words": [{"word": " Nu", "start": 2.5, "end": 2.7, "probability": 0.5}]},
              {"id": 0, "start": 0.0, "end": 2.4567, "text": " Hej och välkommen.",
               "words": [{"word": " Hej", "start": 0.0, "end": 0.3, "probability": 0.9}]},
              {"id": 2, "end": 5.0, "text": " trasig"}
            ]}"#;
        let d = one_doc(j.as_bytes());
        assert_eq!(d.text, "Hej och välkommen.\nNu börjar vi.");
        assert_eq!(segs(&d), vec![(0.0, 2.457), (2.5, 4.0)]);
        assert_eq!(d.duration_s, Some(4.0));
        assert_eq!(d.language.as_deref(), Some("sv"));
        assert_eq!(d.meta["skipped_cues"], 1);
        assert_eq!(d.meta["format"], "whisper-json");
        assert!((d.ocr_confidence.unwrap() - 0.7).abs() < 1e-6);
    }

    #[test]
    fn faster_whisper_declared_duration_and_speakers() {
        let j = r#"{"info": {"language": "sv", "duration": 12.0},
            "segments": [{"start": "0.5", "end": "1.5", "text": "ja", "speaker": "SPEAKER_00"},
                         {"start": 2, "end": 3, "text": "nej", "speaker": "SPEAKER_01"},
                         {"start": 4, "end": 5, "text": "jo", "speaker": "SPEAKER_00"}]}"#;
        let d = one_doc(j.as_bytes());
        assert_eq!(d.text, "ja\nnej\njo");
        assert_eq!(d.duration_s, Some(12.0));
        assert_eq!(d.language.as_deref(), Some("sv"));
        assert_eq!(d.meta["speakers"], json!(["SPEAKER_00", "SPEAKER_01"]));
    }

    #[test]
    fn hf_pipeline_chunks_with_open_end() {
        let j = r#"{"text": "ett två tre", "chunks": [
            {"timestamp": [0.0, 1.25], "text": " ett"},
            {"timestamp": [1.5, 2.0], "text": " två"},
            {"timestamp": [29.0, null], "text": " tre"}]}"#;
        let d = one_doc(j.as_bytes());
        assert_eq!(d.text, "ett\ntvå\ntre");
        assert_eq!(segs(&d), vec![(0.0, 1.25), (1.5, 2.0), (29.0, 29.0)]);
        assert_eq!(d.duration_s, Some(29.0));
        assert_eq!(d.language, None);
        assert_eq!(d.meta["format"], "hf-pipeline-json");
    }

    #[test]
    fn top_level_array_and_text_only() {
        let d = one_doc(br#"[{"start": 1, "end": 2, "text": "a"}, {"timestamp": [0, 0.5], "text": "b"}]"#);
        assert_eq!(d.text, "b\na");
        assert_eq!(d.duration_s, Some(2.0));
        assert_eq!(d.meta["format"], "segment-array-json");
        let d = one_doc(br#"{"text": " Bara text.", "language": "sv"}"#);
        assert_eq!(d.text, "Bara text.");
        assert_eq!(d.duration_s, None);
        assert_eq!(d.meta["n_segments"], 0);
    }

    #[test]
    fn errors_and_empty_text() {
        let e = run(b"{\"segments\": [\n  {\"start\": 1,}\n]}").unwrap_err();
        assert_eq!(e.reason, Reason::MalformedJson);
        assert!(e.detail.contains("line 2 column"), "{}", e.detail);
        let e = run(br#"{"foo": 1}"#).unwrap_err();
        assert_eq!(e.reason, Reason::MalformedTranscript);
        assert_eq!(e.detail, UNKNOWN_SHAPE);
        assert_eq!(run(b"42").unwrap_err().detail, UNKNOWN_SHAPE);
        let e = run(br#"{"segments": [{"text": "no times"}, 3]}"#).unwrap_err();
        assert_eq!(e.reason, Reason::MalformedTranscript);
        assert!(e.detail.contains("segment 0"), "{}", e.detail);
        assert_eq!(run(b"[]").unwrap_err().reason, Reason::MalformedTranscript);
        let out = run(br#"{"text": "", "segments": [], "language": "sv"}"#).unwrap();
        assert!(matches!(&out[..], [Emit::Reject { reason: Reason::EmptyText, .. }]), "{out:?}");
        let out = run(br#"{"segments": [{"start": 0, "end": 1, "text": "  "}]}"#).unwrap();
        assert!(matches!(&out[..], [Emit::Reject { reason: Reason::EmptyText, .. }]), "{out:?}");
        let deep = "[".repeat(100_000);
        assert_eq!(run(deep.as_bytes()).unwrap_err().reason, Reason::MalformedJson);
        assert_eq!(run(b"  ").unwrap_err().reason, Reason::EmptyFile);
    }

    #[test]
    fn riksdag_inline() {
        let j = r#"{"videodata": [{"dokid": "H0X", "title": "En debatt", "debatedate": "2013-05-22 13:00:00",
            "speakers": [
              {"start": 10, "duration": 50, "text": "Anna Andersson (S)", "party": "S",
               "anftext": "<p>Herr talman! Jag &amp; mina kolleger&nbsp;yrkar bifall.</p><p>Tack.</p>"},
              {"start": 60, "duration": 30.5, "text": "Talmannen", "party": "", "anftext": null},
              {"start": 95, "duration": 20, "text": "Bo Berg", "party": "M", "anftext": "Jag<br/>instämmer."}
            ]}]}"#;
        let d = one_doc(j.as_bytes());
        assert_eq!(
            d.text,
            "Anna Andersson (S)\nHerr talman! Jag & mina kolleger yrkar bifall.\nTack.\n\nBo Berg (M)\nJag\ninstämmer."
        );
        assert_eq!(d.duration_s, Some(115.0));
        assert_eq!(d.date.as_deref(), Some("2013-05-22"));
        assert_eq!(d.title.as_deref(), Some("En debatt"));
        assert_eq!(d.language.as_deref(), Some("sv"));
        assert_eq!(segs(&d), vec![(10.0, 60.0), (95.0, 115.0)]);
        assert_eq!(d.meta["speakers"].as_array().unwrap().len(), 3);
        assert_eq!(
            d.meta["speakers"][1],
            json!({"name": "Talmannen", "party": "", "start_s": 60.0, "duration_s": 30.5})
        );
        assert_eq!(d.meta["debate_id"], "H0X");
        let e = run(br#"{"videodata": []}"#).unwrap_err();
        assert_eq!(e.reason, Reason::MalformedTranscript);
    }

    #[test]
    fn riksdag_dates() {
        assert_eq!(riksdag_date("22 maj 2013"), "2013-05-22");
        assert_eq!(riksdag_date("3 december 2020"), "2020-12-03");
        assert_eq!(riksdag_date("2013-05-22 10:00"), "2013-05-22");
        assert_eq!(riksdag_date("våren 2013"), "våren 2013");
        assert_eq!(riksdag_date("ö"), "ö");
    }

    #[test]
    fn sniffing() {
        assert!(looks_like_asr_json(r#"{"text": " hej", "segments": [{"start": 0"#));
        assert!(looks_like_asr_json(r#"{"text": "hej", "chunks": [{"timestamp": [0"#));
        assert!(looks_like_asr_json(r#"[{"start": 0.0, "end": 1.0, "text": "x"}]"#));
        assert!(looks_like_asr_json("{\r\n  \"videodata\": [\r\n"));
        assert!(!looks_like_asr_json(r#"{"id": 1, "text": "a jsonl record"}"#));
        assert!(!looks_like_asr_json("1\n00:00:01,000 --> 00:00:02,000\n"));
    }

    #[test]
    fn real_riksdag_json() {
        let Some(dir) = testing::shared_data("transcripts/riksdag_asr_vs_reference") else { return };
        let bytes = std::fs::read(dir.join("H001CU21.riksdag_webtv_api.json")).unwrap();
        assert!(looks_like_asr_json(&String::from_utf8_lossy(&bytes[..bytes.len().min(4096)])));
        let d = one_doc(&bytes);
        assert_eq!(d.duration_s, Some(252.0));
        assert_eq!(d.title.as_deref(), Some("Nedsättning av en byggsanktionsavgift"));
        assert_eq!(d.date.as_deref(), Some("2013-05-22"));
        assert_eq!(d.language.as_deref(), Some("sv"));
        assert_eq!(d.meta["debate_id"], "H001CU21");
        assert_eq!(
            d.meta["speakers"],
            json!([{"name": "Ola Johansson", "party": "C", "start_s": 14.0, "duration_s": 233.0}])
        );
        assert_eq!(segs(&d), vec![(14.0, 247.0)]);
        assert!(
            d.text.starts_with("Ola Johansson (C)\nHerr talman! Det blir lite favorit i repris här.\nI debatten om"),
            "{}",
            d.text
        );
        assert!(d.text.ends_with("till propositionen.\n(Applåder)"), "{}", d.text);
        assert!(!d.text.contains('\r'));
        // The speaker line and the 10 paragraphs of `anftext`.
        assert_eq!(d.text.lines().count(), 11);
    }
}

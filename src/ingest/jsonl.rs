//! JSON Lines: one record per line, the text in a configurable field (`text_field`), document
//! fields mapped from record fields (`fields`; by default each document field is read from the
//! record field of the same name). Other fields go to `meta`; a record `id` is kept as
//! `meta.source_id` (the document id is always kbcurate's own, so it stays unique).
//!
//! The driver hands this reader chunks of whole lines, so a huge file is parsed on every core.
//! A line's locator is `offset=N`, the byte offset where it starts in the (decompressed) file:
//! unlike a line number it is known for a chunk in the middle of a file without reading what
//! comes before, and `tail -c +N+1 FILE | head -1` finds the line.

use serde_json::{Map, Value};

use super::source::{decode_text, Emit, RawDoc, ReadContext, ReadError};
use crate::reject::Reason;

/// Document fields a record can fill.
pub const MAPPABLE: [&str; 8] = ["title", "author", "date", "language", "genre", "source", "id", "ocr_confidence"];

/// Reads a chunk of complete lines that starts at byte `offset` of the input.
pub fn read_lines(bytes: &[u8], offset: u64, ctx: &ReadContext, out: &mut dyn FnMut(Emit)) -> Result<(), ReadError> {
    let mut pos = offset;
    let mut from = 0;
    while from < bytes.len() {
        // memchr: a per-byte split loop was 5% of ingest.
        let end = memchr::memchr(b'\n', &bytes[from..]).map_or(bytes.len(), |k| from + k);
        let line = &bytes[from..end];
        from = end + 1;
        let start = pos;
        pos += line.len() as u64 + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let locator = format!("offset={start}");
        match record(line, ctx) {
            Ok(doc) => out(Emit::Doc(RawDoc { locator, ..doc })),
            Err(e) => out(Emit::Reject { locator, reason: e.reason, detail: e.detail }),
        }
    }
    Ok(())
}

fn record(line: &[u8], ctx: &ReadContext) -> Result<RawDoc, ReadError> {
    let opts = ctx.options;
    if line.len() > opts.max_doc_bytes {
        return Err(ReadError::new(
            Reason::TooLarge,
            format!("record of {} bytes exceeds max_doc_bytes {}", line.len(), opts.max_doc_bytes),
        ));
    }
    let (text, repaired) = decode_text(line);
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| ReadError::new(Reason::MalformedJson, format!("column {}: {e}", e.column())))?;
    let Value::Object(mut obj) = value else {
        return Err(ReadError::new(Reason::MalformedRecord, "the line is valid JSON but not an object"));
    };
    let body = match obj.remove(&opts.text_field) {
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(ReadError::new(
                Reason::MalformedRecord,
                format!("field `{}` is a {}, expected a string", opts.text_field, json_type(&other)),
            ))
        }
        None => {
            let keys: Vec<&str> = obj.keys().map(String::as_str).take(8).collect();
            return Err(ReadError::new(
                Reason::MalformedRecord,
                format!("no field `{}` (set text_field); the record has: {}", opts.text_field, keys.join(", ")),
            ));
        }
    };
    let mut doc = RawDoc { text: body, ..Default::default() };
    let mut meta = Map::new();
    for field in MAPPABLE {
        let key = opts.fields.get(field).map(String::as_str).unwrap_or(field);
        let Some(v) = obj.remove(key).filter(|v| !v.is_null()) else { continue };
        let s = match &v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        if field == "ocr_confidence" {
            // A number in 0..=1 (or a percentage); anything else stays in meta.
            match v.as_f64().filter(|c| c.is_finite() && *c >= 0.0) {
                Some(c) => doc.ocr_confidence = Some(if c > 1.0 { (c / 100.0).min(1.0) } else { c } as f32),
                None => {
                    meta.insert(key.to_string(), v);
                }
            }
            continue;
        }
        let slot = match field {
            "title" => &mut doc.title,
            "author" => &mut doc.author,
            "date" => &mut doc.date,
            "language" => &mut doc.language,
            "genre" => &mut doc.genre,
            "source" => &mut doc.source,
            _ => {
                meta.insert("source_id".into(), v);
                continue;
            }
        };
        match s {
            Some(s) if !s.trim().is_empty() => *slot = Some(s),
            Some(_) | None if v.is_null() => {}
            _ => {
                meta.insert(key.to_string(), v);
            }
        }
    }
    meta.extend(obj);
    if repaired > 0 {
        meta.insert("utf8_repaired_bytes".into(), repaired.into());
    }
    doc.meta = meta;
    Ok(doc)
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::source::ReaderOptions;

    fn run(input: &str, opts: &ReaderOptions) -> Vec<Emit> {
        let mut got = vec![];
        read_lines(input.as_bytes(), 10, &ReadContext { path: "x.jsonl", options: opts }, &mut |e| got.push(e))
            .unwrap();
        got
    }

    #[test]
    fn maps_fields_and_keeps_the_rest_in_meta() {
        let mut opts = ReaderOptions { text_field: "body".into(), ..Default::default() };
        opts.fields.insert("title".into(), "headline".into());
        let got = run(
            "{\"id\": 7, \"body\": \"Hej\", \"headline\": \"Rubrik\", \"date\": \"1905-06-14\", \"lang\": \"sv\", \"pages\": [1,2]}\n\n",
            &opts,
        );
        let [Emit::Doc(d)] = &got[..] else { panic!("{got:?}") };
        assert_eq!(d.text, "Hej");
        assert_eq!(d.locator, "offset=10");
        assert_eq!(d.title.as_deref(), Some("Rubrik"));
        assert_eq!(d.date.as_deref(), Some("1905-06-14"));
        assert_eq!(d.meta["source_id"], 7);
        assert_eq!(d.meta["lang"], "sv");
        assert_eq!(d.meta["pages"], serde_json::json!([1, 2]));
    }

    #[test]
    fn bad_lines_are_rejected_with_their_line_number() {
        let got = run(
            "{\"text\": \"ok\"}\r\n{\"text\": \"cut\n{\"title\": \"no text\"}\n[1]\n{\"text\": 5}\n",
            &ReaderOptions::default(),
        );
        let reasons: Vec<(String, Reason)> = got
            .iter()
            .map(|e| match e {
                Emit::Doc(d) => (d.locator.clone(), Reason::EmptyFile),
                Emit::Reject { locator, reason, .. } => (locator.clone(), *reason),
                Emit::Warning { .. } => unreachable!(),
            })
            .collect();
        assert_eq!(
            reasons,
            vec![
                ("offset=10".into(), Reason::EmptyFile),
                ("offset=26".into(), Reason::MalformedJson),
                ("offset=40".into(), Reason::MalformedRecord),
                ("offset=61".into(), Reason::MalformedRecord),
                ("offset=65".into(), Reason::MalformedRecord),
            ]
        );
    }
}

//! Keeps `schemas/` (the documented on-disk contract) in step with the code: the JSON Schemas of
//! the document and rejected rows against the Arrow schemas, the manifest and marker
//! schemas against what `dataset` serializes, the collections config schema against what
//! `IngestConfig` accepts, and `schemas/document.md` against the reasons, warnings and `meta`
//! keys the code writes.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use arrow_schema::Schema;
use kbcurate::dataset::{Counts, Manifest, PartFile, PartRecord};
use kbcurate::document::{self, count_words, document_id, Document, Rejection};
use kbcurate::ingest::config::{Collection, DateFrom, DateRule, Defaults, IngestConfig};
use kbcurate::ingest::format::Format;
use kbcurate::ingest::jsonl::MAPPABLE;
use kbcurate::reject::Reason;
use kbcurate::stage::{FileMark, Marker, PartReport};
use serde_json::Value;

/// Config aliases the collections schema lists besides `Format::ALL` (serde aliases of `Format`).
const CONFIG_FORMAT_ALIASES: [&str; 3] = ["webvtt", "txt", "plain"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_text(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn read_json(rel: &str) -> Value {
    serde_json::from_str(&read_text(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_else(|| panic!("not a string: {s}")).to_string())
        .collect()
}

fn format_names() -> Vec<String> {
    Format::ALL.iter().map(|f| f.as_str().to_string()).collect()
}

/// Property names and order, `x-arrow-type`, `required` and nullability against an Arrow schema.
fn check_against_arrow(file: &str, arrow: &Schema) {
    let s = read_json(file);
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema", "{file}: draft 2020-12");
    assert_eq!(s["additionalProperties"], false, "{file}: rows have exactly the columns");
    let props = s["properties"].as_object().unwrap_or_else(|| panic!("{file}: no properties"));
    let names: Vec<&str> = props.keys().map(String::as_str).collect();
    let fields: Vec<&str> = arrow.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, fields, "{file}: property names and order must be the Arrow schema's");
    for f in arrow.fields() {
        let p = &props[f.name()];
        assert_eq!(
            p["x-arrow-type"].as_str(),
            Some(format!("{:?}", f.data_type()).as_str()),
            "{file}: x-arrow-type of `{}`",
            f.name()
        );
        let types: Vec<String> = match &p["type"] {
            Value::String(t) => vec![t.clone()],
            Value::Array(_) => strings(&p["type"]),
            other => panic!("{file}: `{}` has type {other}", f.name()),
        };
        assert_eq!(
            types.iter().any(|t| t == "null"),
            f.is_nullable(),
            "{file}: `{}`: type admits null exactly when the column is nullable",
            f.name()
        );
        assert!(p["description"].is_string(), "{file}: `{}` needs a description", f.name());
    }
    let required = strings(&s["required"]);
    let non_nullable: Vec<String> =
        arrow.fields().iter().filter(|f| !f.is_nullable()).map(|f| f.name().clone()).collect();
    assert_eq!(required, non_nullable, "{file}: `required` lists the non-nullable columns in column order");
}

#[test]
fn document_schema_matches_arrow() {
    check_against_arrow("schemas/document.schema.json", &document::schema());
    let s = read_json("schemas/document.schema.json");
    let props = &s["properties"];
    assert_eq!(props["date"]["format"], "date");
    assert_eq!(props["meta"]["contentMediaType"], "application/json");
    for (col, min, max) in [("year", -32768, 32767), ("decade", -32768, 32767), ("n_chars", 0, u32::MAX as i64)] {
        assert_eq!(props[col]["minimum"], min, "{col}");
        assert_eq!(props[col]["maximum"], max, "{col}");
    }
    assert_eq!(strings(&props["format"]["enum"]), format_names());
    // A serialized Document has the same fields in the same order.
    assert_eq!(keys(&serde_json::to_value(Document::default()).unwrap()), keys(props));
}

#[test]
fn rejected_schema_matches_arrow() {
    check_against_arrow("schemas/rejected.schema.json", &document::rejected_schema());
    let s = read_json("schemas/rejected.schema.json");
    let props = &s["properties"];
    let r = Rejection {
        id: String::new(),
        collection: String::new(),
        path: String::new(),
        locator: String::new(),
        format: None,
        stage: String::new(),
        reason: String::new(),
        detail: String::new(),
        score: None,
        text: None,
    };
    assert_eq!(keys(&serde_json::to_value(r).unwrap()), keys(props));
    let mut formats = format_names().into_iter().map(Value::from).collect::<Vec<_>>();
    formats.push(Value::Null);
    assert_eq!(props["format"]["enum"], Value::Array(formats));
    let reasons: Vec<String> = Reason::ALL.iter().map(|r| r.as_str().to_string()).collect();
    assert_eq!(strings(&props["reason"]["examples"]), reasons);
}

#[test]
fn reasons_warnings_and_meta_keys_are_documented() {
    let md = read_text("schemas/document.md");
    for r in Reason::ALL {
        assert!(md.contains(&format!("`{}`", r.as_str())), "schemas/document.md does not document reason `{r}`");
    }
    // Warning kinds and `meta` keys the readers and the driver write, found in the source.
    let warning = regex::Regex::new(r#"Emit::Warning \{\s*kind: "([a-z0-9-]+)""#).unwrap();
    let meta_key = regex::Regex::new(r#"\b(?:meta|m)\.insert\(\s*"([A-Za-z0-9_]+)""#).unwrap();
    let mut warnings = BTreeSet::new();
    let mut meta_keys = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("src/ingest")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let src = std::fs::read_to_string(&path).unwrap();
        // Only the code, not its unit tests.
        let code = src.split("#[cfg(test)]").next().unwrap_or("");
        warnings.extend(warning.captures_iter(code).map(|c| c[1].to_string()));
        meta_keys.extend(meta_key.captures_iter(code).map(|c| c[1].to_string()));
    }
    assert!(warnings.contains("missing-page"), "the warning scan found {warnings:?}");
    assert!(meta_keys.contains("genre_declared") && meta_keys.contains("utf8_repaired_bytes"), "{meta_keys:?}");
    for w in &warnings {
        assert!(md.contains(&format!("`{w}`")), "schemas/document.md does not document warning `{w}`");
    }
    for k in &meta_keys {
        assert!(md.contains(&format!("`{k}`")), "schemas/document.md does not document meta key `{k}`");
    }
}

/// The example row in document.md (the ```json block after `<!-- example-row -->`) is a valid
/// row: the schema's columns in order, the id computed as documented, counts as documented.
#[test]
fn example_row_follows_the_documented_rules() {
    let md = read_text("schemas/document.md");
    let after = md.split("<!-- example-row -->").nth(1).expect("document.md has an <!-- example-row --> marker");
    let block = after.split("```json").nth(1).and_then(|b| b.split("```").next()).expect("a ```json block");
    let row: Value = serde_json::from_str(block).expect("the example row is JSON");
    let schema = read_json("schemas/document.schema.json");
    assert_eq!(keys(&row), keys(&schema["properties"]));
    let s = |k: &str| row[k].as_str().unwrap_or_else(|| panic!("example row: `{k}` is not a string"));
    assert_eq!(s("id"), document_id(s("collection"), s("path"), s("locator")), "example row id");
    assert_eq!(row["n_chars"], s("text").chars().count());
    assert_eq!(row["n_words"], count_words(s("text")));
    let meta: Value = serde_json::from_str(s("meta")).expect("meta holds JSON");
    assert!(meta.is_object());
    if let Some(y) = row["year"].as_i64() {
        assert_eq!(row["decade"], y.div_euclid(10) * 10);
    }
}

#[test]
fn manifest_schema_matches_what_is_written() {
    let s = read_json("schemas/manifest.schema.json");
    let part = PartFile { file: "data/part-00000.parquet".into(), rows: 0, bytes: 0, xxh3: "0".repeat(16) };
    let mut counts = Counts::default();
    counts.warnings.insert("missing-page".into(), 1);
    counts.lines_removed.insert("boilerplate".into(), 2);
    let m = Manifest {
        stage: "ingest".into(),
        kbcurate_version: env!("CARGO_PKG_VERSION").into(),
        config: Value::Null,
        inputs: Value::Null,
        counts: counts.clone(),
        parts: vec![part.clone()],
        rejected_parts: vec![],
        text_bytes: 0,
        compression: kbcurate::dataset::Codec::default(),
        stats: Some(serde_json::json!({"rules": []})),
    };
    let v = serde_json::to_value(&m).unwrap();
    assert_eq!(keys(&v), keys(&s["properties"]), "manifest.json keys");
    let always: Vec<String> = keys(&v).into_iter().filter(|k| k != "stats").collect();
    assert_eq!(strings(&s["required"]), always, "every manifest key but `stats` is always written");
    let no_stats = serde_json::to_value(Manifest { stats: None, ..m.clone() }).unwrap();
    assert_eq!(keys(&no_stats), always, "`stats` is left out when a stage has none");
    let counts_def = &s["$defs"]["Counts"];
    assert_eq!(keys(&v["counts"]), keys(&counts_def["properties"]), "Counts keys (with warnings and lines removed)");
    let no_warnings = serde_json::to_value(Counts::default()).unwrap();
    assert_eq!(
        strings(&counts_def["required"]),
        keys(&no_warnings),
        "warnings and lines_removed are left out when empty"
    );
    assert_eq!(keys(&v["parts"][0]), keys(&s["$defs"]["PartFile"]["properties"]));
    assert_eq!(strings(&s["$defs"]["PartFile"]["required"]), keys(&v["parts"][0]));

    // The example is a manifest kbcurate reads, whose counts reconcile, whose config is a valid
    // collections config.
    for ex in s["examples"].as_array().unwrap() {
        let m: Manifest = serde_json::from_value(ex.clone()).expect("the manifest example deserializes");
        assert!(m.counts.reconciles());
        let cfg: IngestConfig = serde_json::from_value(m.config.clone()).expect("example config deserializes");
        cfg.validate("manifest example").unwrap();
        let props: Vec<String> = keys(&s["properties"]).into_iter().filter(|k| k != "stats").collect();
        assert_eq!(keys(ex), props);
    }

    let p = read_json("schemas/marker.schema.json");
    let rec =
        PartRecord { part: 0, counts, documents: part.clone(), rejected: part.clone(), input_bytes: 0, text_bytes: 0 };
    let marker = Marker {
        plan: "0".repeat(32),
        files: vec![FileMark::from(&part)],
        data: PartReport { record: rec, stats: 3u64 },
    };
    let mv = serde_json::to_value(&marker).unwrap();
    assert_eq!(keys(&mv), keys(&p["properties"]), "_parts/part-NNNNN.json keys");
    assert_eq!(strings(&p["required"]), keys(&mv));
    assert_eq!(keys(&mv["files"][0]), keys(&p["$defs"]["FileMark"]["properties"]));
    let report = &p["$defs"]["PartReport"];
    assert_eq!(keys(&mv["data"]), keys(&report["properties"]), "a dataset part's report");
    assert_eq!(strings(&report["required"]), keys(&mv["data"]));
    assert_eq!(p["$defs"]["Counts"]["required"], counts_def["required"]);
    assert_eq!(keys(&p["$defs"]["Counts"]["properties"]), keys(&counts_def["properties"]));
    assert_eq!(keys(&p["$defs"]["PartFile"]["properties"]), keys(&s["$defs"]["PartFile"]["properties"]));
}

fn collection_toml(extra: &str) -> String {
    format!("[[collection]]\nname = \"a\"\npaths = [\"x\"]\n{extra}\n")
}

#[test]
fn collections_schema_matches_the_config() {
    let s = read_json("schemas/collections.schema.json");
    let defs = &s["$defs"];

    // Formats: every name of Format::ALL plus the serde aliases; each one parses in a config.
    let mut expected = format_names();
    expected.extend(CONFIG_FORMAT_ALIASES.iter().map(|a| a.to_string()));
    let listed = strings(&defs["format"]["enum"]);
    assert_eq!(listed, expected, "collections.schema.json format enum");
    for f in &listed {
        let cfg = IngestConfig::from_toml(&collection_toml(&format!("format = \"{f}\"")), "t.toml")
            .unwrap_or_else(|e| panic!("format `{f}` listed in the schema but refused: {e}"));
        assert_eq!(Some(f.parse::<Format>().unwrap()), cfg.collections[0].format, "{f}");
    }

    // Keys of [defaults], [[collection]] and the top level, in the order the structs serialize.
    let top = serde_json::to_value(IngestConfig::default()).unwrap();
    assert_eq!(keys(&top), keys(&s["properties"]));
    let d = serde_json::to_value(Defaults::default()).unwrap();
    assert_eq!(keys(&d), keys(&s["properties"]["defaults"]["properties"]));
    let mut c = Collection { exclude: vec!["y".into()], ..Default::default() };
    c.fields.insert("title".into(), "t".into());
    let cv = serde_json::to_value(&c).unwrap();
    assert_eq!(keys(&cv), keys(&defs["collection"]["properties"]));
    for (name, obj) in [("top", &s), ("defaults", &s["properties"]["defaults"]), ("collection", &defs["collection"])] {
        assert_eq!(obj["additionalProperties"], false, "{name}: deny_unknown_fields");
    }
    assert_eq!(strings(&defs["collection"]["required"]), ["name", "paths"]);
    let mappable: Vec<String> = MAPPABLE.iter().map(|m| m.to_string()).collect();
    assert_eq!(strings(&defs["collection"]["properties"]["fields"]["propertyNames"]["enum"]), mappable);
    assert_eq!(strings(&defs["date"]["oneOf"][1]["properties"]["from"]["enum"]), ["path", "metadata"]);
    for (v, from) in [("path", DateFrom::Path), ("metadata", DateFrom::Metadata)] {
        assert_eq!(serde_json::to_value(from).unwrap(), v);
    }
    let dr = serde_json::to_value(DateRule::Fixed { fixed: "1923".into() }).unwrap();
    assert_eq!(keys(&dr), keys(&defs["date"]["oneOf"][0]["properties"]));
    let dr = serde_json::to_value(DateRule::From { from: DateFrom::Path, regex: None }).unwrap();
    assert_eq!(keys(&dr), keys(&defs["date"]["oneOf"][1]["properties"]));

    // What the schema forbids, the config refuses.
    for bad in [
        collection_toml("genr = \"book\""),
        collection_toml("format = \"docx\""),
        collection_toml("date = { from = \"path\" }"),
        collection_toml("date = { fixed = \"1923\", regex = 'x' }"),
        collection_toml("date = { from = \"metadata\", fixed = \"1923\" }"),
        collection_toml("date = { fixed = 1923 }"),
        collection_toml("date = { from = \"file\", regex = '(\\d{4})' }"),
        collection_toml("min_word_confidence = 1.5"),
        collection_toml("mets_split = \"page\""),
        collection_toml("[collection.fields]\ntitel = \"t\""),
        format!("[defaults]\nlanguag = \"swe\"\n{}", collection_toml("")),
        format!("colection = []\n{}", collection_toml("")),
        "[defaults]\nlanguage = \"swe\"\n".to_string(),
        "[[collection]]\nname = \"a\"\n".to_string(),
        "[[collection]]\nname = \" \"\npaths = [\"x\"]\n".to_string(),
        format!("{}{}", collection_toml(""), collection_toml("")),
    ] {
        assert!(IngestConfig::from_toml(&bad, "t.toml").is_err(), "accepted, but the schema forbids it:\n{bad}");
    }
    // The three date forms parse.
    for ok in [
        "date = { fixed = \"1923\" }",
        "date = { from = \"path\", regex = '(?<year>\\d{4})-(?<month>\\d{2})' }",
        "date = { from = \"metadata\" }",
        "date = { from = \"metadata\", regex = '_(\\d{4})_' }",
    ] {
        IngestConfig::from_toml(&collection_toml(ok), "t.toml").unwrap_or_else(|e| panic!("{ok}: {e}"));
    }

    // The schema's examples are configs kbcurate accepts.
    for ex in s["examples"].as_array().unwrap() {
        let toml_text = toml::to_string(ex).expect("example converts to TOML");
        IngestConfig::from_toml(&toml_text, "example").unwrap_or_else(|e| panic!("schema example refused: {e}"));
    }
}

#[test]
fn sample_config_parses() {
    let text = read_text("data-samples/collections.toml");
    let cfg = IngestConfig::from_toml(&text, "data-samples/collections.toml").unwrap();
    assert!(!cfg.collections.is_empty());
}

/// collections.md's TOML example parses, and every `--flag` it names is a flag of `ingest`.
#[test]
fn collections_md_example_and_flags() {
    let md = read_text("schemas/collections.md");
    let after =
        md.split("<!-- example-config -->").nth(1).expect("collections.md has an <!-- example-config --> marker");
    let block = after.split("```toml").nth(1).and_then(|b| b.split("```").next()).expect("a ```toml block");
    let cfg =
        IngestConfig::from_toml(block, "collections.md").unwrap_or_else(|e| panic!("collections.md example: {e}"));
    assert!(cfg.collections.len() >= 2);

    let out = Command::new(env!("CARGO_BIN_EXE_kbcurate")).args(["ingest", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let flag = regex::Regex::new(r"`(--[a-z][a-z-]*)").unwrap();
    let flags: BTreeSet<String> = flag.captures_iter(&md).map(|c| c[1].to_string()).collect();
    assert!(flags.contains("--format") && flags.contains("--config"), "{flags:?}");
    for f in flags {
        assert!(help.contains(&format!("{f} ")) || help.contains(&format!("{f}\n")), "`{f}` is not a flag of ingest");
    }
}

/// The policy schema, its documentation and the parser agree; every shipped policy parses.
#[test]
fn balance_policy_schema_matches_the_parser() {
    use kbcurate::balance::policy::Policy;
    let s = read_json("schemas/balance-policy.schema.json");
    let md = read_text("schemas/balance-policy.md");
    let props = &s["properties"];
    let sections = [
        ("", props.clone()),
        ("budget", props["budget"]["properties"].clone()),
        ("select", props["select"]["properties"].clone()),
        ("dimension", props["dimension"]["additionalProperties"]["properties"].clone()),
    ];
    for (section, p) in &sections {
        for key in keys(p) {
            let documented = md.contains(&format!("`{key}`")) || md.contains(&format!("`[{key}"));
            assert!(documented, "balance-policy.md does not document `{key}`");
            // A key the schema lists is one the parser knows (unknown keys are errors).
            let value = match p[&key]["type"].as_str() {
                Some("string") => "\"x\"".to_string(),
                Some("integer") => "1".to_string(),
                Some("number") => "0.5".to_string(),
                Some("array") => "[]".to_string(),
                Some("object") | None => continue,
                Some(other) => panic!("{other}"),
            };
            let toml = match *section {
                "" => format!("{key} = {value}\n"),
                "dimension" => continue,
                sec => format!("[{sec}]\n{key} = {value}\n"),
            };
            if let Err(e) = Policy::parse(&toml, "schema-check.toml") {
                assert!(!e.to_string().contains("unknown field"), "`{key}`: {e}");
            }
        }
    }
    let e = Policy::parse("[budget]\ntotl = 5\n", "x.toml").unwrap_err().to_string();
    assert!(e.contains("unknown field") && e.contains("line 2"), "{e}");
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("policies")).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml") {
            Policy::read(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 4, "policies/ ships democratic, proportional, uniform-decades, unimax");
}

/// `schemas/filter.md` lists every key of the filter config with its default, its example
/// parses, the sample config is the defaults written out, every `--flag` it names is a flag of
/// `filter` or `lexicon`, and the columns the stage adds are documented in document.md.
#[test]
fn filter_md_documents_the_config() {
    use kbcurate::filter::config::FilterConfig;
    let md = read_text("schemas/filter.md");
    let render = |v: &Value| -> String {
        match v {
            Value::Number(n) if n.is_f64() => format!("{}", n.as_f64().unwrap() as f32),
            Value::Array(a) => format!("[{}]", a.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")),
            other => other.to_string(),
        }
    };
    let defaults = serde_json::to_value(FilterConfig::default()).unwrap();
    let keys_md = md.split("<!-- keys -->").nth(1).expect("filter.md has a <!-- keys --> marker");
    let mut n = 0;
    for (table, t) in defaults.as_object().unwrap() {
        for (key, v) in t.as_object().unwrap() {
            let row = format!("| `{table}.{key}` | `{}` |", render(v));
            assert!(keys_md.contains(&row), "schemas/filter.md lacks the row starting {row}");
            n += 1;
        }
        // Unknown keys in every table are refused, naming the key.
        let e = FilterConfig::from_toml(&format!("[{table}]\nno_such_key = 1\n"), "f.toml").unwrap_err().to_string();
        assert!(e.contains("no_such_key") && e.contains("f.toml"), "{e}");
    }
    let rows = keys_md.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(rows, n, "filter.md documents a key the config does not have");

    let after = md.split("<!-- example-config -->").nth(1).expect("filter.md has an <!-- example-config --> marker");
    let block = after.split("```toml").nth(1).and_then(|b| b.split("```").next()).expect("a ```toml block");
    let ex = FilterConfig::from_toml(block, "filter.md").unwrap_or_else(|e| panic!("filter.md example: {e}"));
    assert!(ex.quality.drop_garbage_lines);
    let sample = FilterConfig::from_toml(&read_text("data-samples/filter.toml"), "data-samples/filter.toml").unwrap();
    assert_eq!(sample, FilterConfig::default(), "data-samples/filter.toml writes out the defaults");

    // The page documents `filter` and `lexicon` (which builds the filter's word lists).
    let help: String = ["filter", "lexicon"]
        .iter()
        .map(|c| {
            let out = Command::new(env!("CARGO_BIN_EXE_kbcurate")).args([c, "--help"]).output().unwrap();
            String::from_utf8_lossy(&out.stdout).to_string()
        })
        .collect();
    let flag = regex::Regex::new(r"(--[a-z][a-z-]*)").unwrap();
    let flags: BTreeSet<String> = flag.captures_iter(&md).map(|c| c[1].to_string()).collect();
    assert!(flags.contains("--config") && flags.contains("--threads"), "{flags:?}");
    for f in flags {
        assert!(
            help.contains(&format!("{f} ")) || help.contains(&format!("{f}\n")),
            "`{f}` is not a flag of filter or lexicon"
        );
    }

    let doc = read_text("schemas/document.md");
    for (col, ty, nullable) in kbcurate::filter::stage::ADDED_COLUMNS {
        let row = format!("| filter | `{col}` | `{ty:?}`{} |", if nullable { ", nullable" } else { "" });
        assert!(doc.contains(&row), "schemas/document.md lacks {row}");
    }
}

#[test]
fn shards_md_documents_the_manifest_and_columns() {
    use kbcurate::tokenize::megatron::DType;
    use kbcurate::tokenize::pack::{PackStats, Strategy};
    use kbcurate::tokenize::special::Specials;
    use kbcurate::tokenize::stage::{shard_schema, Format, Shard, ShardsManifest, SplitSummary, TokenizerInfo};
    let md = read_text("schemas/shards.md");
    let sp = SplitSummary {
        shards: vec![Shard {
            name: "train/shard-00000".into(),
            windows: 0,
            tokens: 0,
            pad_tokens: 0,
            documents: 0,
            files: vec![],
        }],
        ..Default::default()
    };
    let m = ShardsManifest {
        stage: "tokenize".into(),
        kbcurate_version: "0".into(),
        input: Value::Null,
        tokenizer: TokenizerInfo { spec: "x".into(), backend: "y".into(), fingerprint: "z".into(), vocab_size: 1 },
        special_tokens: Specials::default(),
        seq_len: 2,
        packing: Strategy::BestFit,
        format: Format::Megatron,
        dtype: DType::Uint16,
        seed: 0,
        val_fraction: 0.0,
        validation_by_genre: Default::default(),
        shuffle: String::new(),
        buckets: 1,
        splits: [("train".to_string(), sp)].into_iter().collect(),
    };
    let v = serde_json::to_value(&m).unwrap();
    for k in keys(&v) {
        assert!(md.contains(&format!("| `{k}` |")), "schemas/shards.md: manifest key `{k}` undocumented");
    }
    for k in keys(&v["splits"]["train"]).iter().chain(&keys(&serde_json::to_value(PackStats::default()).unwrap())) {
        assert!(md.contains(&format!("`{k}`")), "schemas/shards.md: split key `{k}` undocumented");
    }
    for k in keys(&v["splits"]["train"]["shards"][0]) {
        assert!(md.contains(&format!("`{k}`")), "schemas/shards.md: shard key `{k}` undocumented");
    }
    for f in shard_schema(true).fields() {
        assert!(md.contains(&format!("| `{}` |", f.name())), "schemas/shards.md: column `{}` undocumented", f.name());
    }
    for (code, name) in [(DType::Uint16.code(), "uint16"), (DType::Int32.code(), "int32")] {
        assert!(md.contains(&format!("{code} = {name}")), "schemas/shards.md: dtype code {code}");
    }
}

//! The library's dependency picture (docs/development.md, "Layers"), checked on the source:
//! every `crate::` path points to a lower layer (stages never to another stage, nothing to a
//! layer above it), and inside each module folder no file reaches itself again through its
//! siblings. Test-only code (`#[cfg(test)]` items) may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The layer of each top-level module, lowest first.
fn layer(module: &str) -> Option<u32> {
    Some(match module {
        "date" | "language" | "reject" | "device" | "document" | "size" => 0,
        "dataset" => 1,
        "stage" => 2,
        "ingest" | "dedup" | "filter" | "balance" | "tokenize" | "inspect" => 3,
        "gpu" | "audit" | "eval" => 4,
        "pipeline" => 5,
        _ => return None,
    })
}

/// `text` without comments and without `#[cfg(test)]` items.
fn production_code(text: &str) -> String {
    let mut out = String::new();
    let mut skip_depth: Option<i32> = None;
    let mut pending_cfg_test = false;
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        if let Some(depth) = skip_depth.as_mut() {
            *depth += code.matches('{').count() as i32 - code.matches('}').count() as i32;
            if *depth <= 0 && (code.contains('}') || code.trim_end().ends_with(';')) {
                skip_depth = None;
            }
            continue;
        }
        if code.trim() == "#[cfg(test)]" {
            pending_cfg_test = true;
            continue;
        }
        if pending_cfg_test {
            pending_cfg_test = false;
            let depth = code.matches('{').count() as i32 - code.matches('}').count() as i32;
            if depth > 0 {
                skip_depth = Some(depth);
            }
            // A one-line item (`mod testing;`) is skipped whole.
            continue;
        }
        out.push_str(code);
        out.push('\n');
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The identifiers after `prefix` in `code` (`prefix::name` and `prefix::{a, b::c}`).
fn targets(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(inner.split(',').map(|t| ident(t.trim())).filter(|t| !t.is_empty()));
        } else {
            let t = ident(rest);
            if !t.is_empty() {
                out.insert(t);
            }
        }
    }
    out
}

#[test]
fn every_import_points_to_a_lower_layer() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut wrong = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(src()).unwrap();
        let top = rel.iter().next().unwrap().to_string_lossy().trim_end_matches(".rs").to_string();
        let Some(own) = layer(&top) else { continue };
        let code = production_code(&std::fs::read_to_string(f).unwrap());
        for t in targets(&code, "crate::") {
            let Some(theirs) = layer(&t) else { continue };
            let leaves = own == 0 && theirs == 0;
            if t != top && theirs >= own && !leaves {
                wrong.push(format!("src/{} (layer {own}) uses crate::{t} (layer {theirs})", rel.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "imports that do not point down:\n{}", wrong.join("\n"));
}

#[test]
fn no_module_folder_has_a_cycle() {
    let mut cycles = Vec::new();
    for e in std::fs::read_dir(src()).unwrap().flatten() {
        let dir = e.path();
        if !dir.is_dir() {
            continue;
        }
        let top = dir.file_name().unwrap().to_string_lossy().into_owned();
        let files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        let names: BTreeSet<String> =
            files.iter().map(|p| p.file_stem().unwrap().to_string_lossy().into_owned()).collect();
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in &files {
            let me = f.file_stem().unwrap().to_string_lossy().into_owned();
            if me == "mod" {
                continue; // the module's front declares its files; that is not a use
            }
            let code = production_code(&std::fs::read_to_string(f).unwrap());
            let mut used = targets(&code, "super::");
            used.extend(targets(&code, &format!("crate::{top}::")));
            used.retain(|t| t != &me && t != "mod" && names.contains(t));
            edges.insert(me, used);
        }
        for start in edges.keys() {
            let mut seen = BTreeSet::new();
            let mut stack: Vec<&String> = edges[start].iter().collect();
            while let Some(x) = stack.pop() {
                if x == start {
                    cycles.push(format!("src/{top}/{start}.rs reaches itself"));
                    break;
                }
                if seen.insert(x.clone()) {
                    stack.extend(edges.get(x).into_iter().flatten());
                }
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

/// The checks themselves see what they look for.
#[test]
fn the_scanner_finds_imports_and_skips_test_code() {
    let code = "use crate::dataset::{self, Counts};\nuse super::{a, b::c};\nfn f() { crate::stage::run(); }\n\
                #[cfg(test)]\nmod tests {\n    use crate::pipeline::x;\n}\n// crate::gpu in a comment\n";
    let prod = production_code(code);
    assert_eq!(targets(&prod, "crate::"), ["dataset", "stage"].map(String::from).into());
    assert_eq!(targets(&prod, "super::"), ["a", "b"].map(String::from).into());
    assert!(!prod.contains("pipeline") && !prod.contains("gpu"));
}

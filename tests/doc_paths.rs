//! Every repository path named in the docs and in comments exists.
//!
//! Read: README.md; every Markdown file under docs/, schemas/, benches/, policies/ and
//! data-samples/; the comments (doc comments included) of Cargo.toml and of every Rust, TOML,
//! shell, Python, C++ and CUDA file (a file without an extension counts when its first line is
//! a `#!` line) under src/, bin/, tests/, benches/, examples/, scripts/ and .ci/. Code and string literals are not
//! read: they hold made-up paths for tests and paths inside other folders. In what is read, a
//! *named path* is a run of path characters that starts with a top-level entry of the repository
//! (`src/`, `docs/`, ..., `README.md`, `Cargo.toml`) at the start of a word. It must name a file or folder that exists, relative to the repository root
//! (or, in a Cargo.toml below the root, relative to that file's folder, as Cargo reads it).
//! Before the check a `#anchor`, a `:line` or `:line-line` suffix and trailing punctuation are
//! cut off; a pattern (`*`, `{`, `<`, `$`, `NNNNN`, `...`) is checked up to its last folder
//! before the first wildcard. Paths under `out/` or `../shared` are not repository paths and
//! are not read as such (they do not start with a top-level entry).
//!
//! In the Markdown files, links `[text](target)` and images are also checked: the target
//! relative to the file's folder, and a `#anchor` into a Markdown file against its headings.
//!
//! Only the standard library. Also builds on its own, from the repository root:
//! `rustc --edition 2021 --test tests/doc_paths.rs -o /tmp/doc_paths && /tmp/doc_paths`.

use std::fs;
use std::path::{Path, PathBuf};

/// The repository's top-level folders, as a named path starts.
const TOP_DIRS: &[&str] = &[
    "src/",
    "bin/",
    "tests/",
    "benches/",
    "docs/",
    "schemas/",
    "policies/",
    "data-samples/",
    "scripts/",
    "examples/",
    "fuzz/",
    ".ci/",
];
/// The repository's top-level files that docs name.
const TOP_FILES: &[&str] = &["README.md", "Cargo.toml"];

/// Folders whose Markdown is read.
const MARKDOWN_DIRS: &[&str] = &["docs", "schemas", "benches", "policies", "data-samples"];
/// Folders whose code, configs and scripts are read.
const CODE_DIRS: &[&str] = &["src", "bin", "tests", "benches", "examples", "scripts", ".ci"];
/// Extensions of the files read in `CODE_DIRS`: Rust and C-like (`//`, `/* */` comments), and
/// `#` comments.
const C_LIKE_EXTENSIONS: &[&str] = &["rs", "cpp", "h", "cu"];
const HASH_COMMENT_EXTENSIONS: &[&str] = &["toml", "sh", "py"];

fn repo_root() -> PathBuf {
    let root = match option_env!("CARGO_MANIFEST_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_dir().expect("the current directory"),
    };
    assert!(
        root.join("Cargo.toml").is_file() && root.join("README.md").is_file(),
        "{} is not the repository root (built without cargo: run the test from the root)",
        root.display()
    );
    root
}

/// Words that look like named paths and are not.
const NOT_PATHS: &[&str] = &[
    "docs/s", // documents per second
];

/// One file read: its path relative to the root (with `/`), the text that is read (in a code
/// file, its comments, everything else blanked, lines kept), and whether it is Markdown.
struct Source {
    rel: String,
    text: String,
    markdown: bool,
}

fn read_source(root: &Path, rel: &str, markdown: bool) -> Option<Source> {
    let bytes = fs::read(root.join(rel)).ok()?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let text = if markdown {
        text
    } else if extension(rel).is_some_and(|ext| C_LIKE_EXTENSIONS.contains(&ext)) {
        rust_comments(&text)
    } else {
        hash_comments(&text)
    };
    Some(Source { rel: rel.to_string(), text, markdown })
}

/// The comments of Rust (or C++, CUDA) source (`//`, `///`, `//!`, `/* */` nested), everything else blanked
/// to spaces; newlines are kept, so line numbers stay.
fn rust_comments(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out: Vec<char> = c.iter().map(|&ch| if ch == '\n' { '\n' } else { ' ' }).collect();
    let ident = |i: usize| i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_');
    let mut i = 0;
    while i < c.len() {
        let next = c.get(i + 1).copied();
        match c[i] {
            '/' if next == Some('/') => {
                while i < c.len() && c[i] != '\n' {
                    out[i] = c[i];
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                let mut depth = 0;
                while i < c.len() {
                    if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        out[i] = c[i];
                        i += 1;
                    }
                }
            }
            // Raw strings: r"..", r#".."#, br#".."#.
            'r' if (!ident(i) || (c[i - 1] == 'b' && !ident(i - 1))) && matches!(next, Some('"') | Some('#')) => {
                let mut j = i + 1;
                while j < c.len() && c[j] == '#' {
                    j += 1;
                }
                if c.get(j) != Some(&'"') {
                    i += 1;
                    continue;
                }
                let hashes = j - i - 1;
                i = j + 1;
                while i < c.len() && !(c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#'))) {
                    i += 1;
                }
                i += 1 + hashes;
            }
            '"' => {
                i += 1;
                while i < c.len() && c[i] != '"' {
                    i += if c[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
            }
            // A character literal ('"', '\'', 'x'); otherwise a lifetime.
            '\'' => {
                if next == Some('\\') {
                    i += 3;
                    while i < c.len() && c[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if c.get(i + 2) == Some(&'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out.into_iter().collect()
}

/// The `#` comments of a shell or TOML file (from a `#` at the start of a line or after a
/// space to the end of the line), everything else blanked; lines are kept.
fn hash_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    for (n, line) in src.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let at = line.char_indices().find(|&(i, ch)| ch == '#' && (i == 0 || line[..i].ends_with(char::is_whitespace)));
        match at {
            Some((i, _)) => {
                out.extend(line[..i].chars().map(|_| ' '));
                out.push_str(&line[i..]);
            }
            None => out.extend(line.chars().map(|_| ' ')),
        }
    }
    out
}

/// Files under `dir` (relative to `root`), recursively, sorted; build folders and hidden
/// folders below `dir` are skipped, links are not followed.
fn walk(root: &Path, dir: &str, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(root.join(dir)) else { return };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{dir}/{name}");
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            if name != "target" && !name.starts_with('.') {
                walk(root, &rel, out);
            }
        } else if kind.is_file() {
            out.push(rel);
        }
    }
}

fn extension(rel: &str) -> Option<&str> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.rsplit_once('.').map(|(_, ext)| ext)
}

fn has_shebang(root: &Path, rel: &str) -> bool {
    fs::read(root.join(rel)).map(|b| b.starts_with(b"#!")).unwrap_or(false)
}

/// Every file this test reads, each once.
fn sources(root: &Path) -> Vec<Source> {
    let mut md = vec!["README.md".to_string()];
    for dir in MARKDOWN_DIRS {
        let mut files = Vec::new();
        walk(root, dir, &mut files);
        md.extend(files.into_iter().filter(|f| extension(f) == Some("md")));
    }
    let mut code = vec!["Cargo.toml".to_string()];
    for dir in CODE_DIRS {
        let mut files = Vec::new();
        walk(root, dir, &mut files);
        code.extend(files.into_iter().filter(|f| match extension(f) {
            Some(ext) => C_LIKE_EXTENSIONS.contains(&ext) || HASH_COMMENT_EXTENSIONS.contains(&ext),
            None => has_shebang(root, f),
        }));
    }
    md.dedup();
    code.dedup();
    let mut out: Vec<Source> = md.iter().filter_map(|f| read_source(root, f, true)).collect();
    out.extend(code.iter().filter_map(|f| read_source(root, f, false)));
    out
}

/// What a named path asks for.
#[derive(Debug, PartialEq)]
enum Named {
    /// A file or folder that must exist.
    Path(String),
    /// A pattern: the folder before its first wildcard must exist.
    Pattern(String),
}

fn is_path_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '*' | '{' | '}' | ',' | '<' | '>' | ':' | '#' | '$')
}

fn starts_named_path(token: &str) -> bool {
    TOP_DIRS.iter().any(|d| token.starts_with(d))
        || TOP_FILES.iter().any(|f| {
            token.strip_prefix(f).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            })
        })
}

/// The named paths in one line of text.
fn named_paths(line: &str) -> Vec<Named> {
    let mut out = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        let Some(start) = rest.find(is_path_char) else { break };
        let from_start = &rest[start..];
        let len = from_start.find(|c: char| !is_path_char(c)).unwrap_or(from_start.len());
        let token = &from_start[..len];
        rest = &from_start[len..];
        if starts_named_path(token) && !NOT_PATHS.contains(&token.trim_end_matches(['.', ',', ';', ':'])) {
            if let Some(named) = clean(token) {
                out.push(named);
            }
        }
    }
    out
}

/// A token cut down to the path it names: no anchor, no `:line`, no trailing punctuation.
fn clean(token: &str) -> Option<Named> {
    let mut path = token;
    const WILDCARDS: &[&str] = &["*", "{", "}", "<", ">", "$", "NNNNN", "..."];
    if let Some(at) = WILDCARDS.iter().filter_map(|w| path.find(w)).min() {
        let literal = &path[..at];
        let folder = &literal[..literal.rfind('/').map_or(0, |i| i + 1)];
        return (!folder.is_empty()).then(|| Named::Pattern(folder.to_string()));
    }
    for cut in ['#', ':', ','] {
        if let Some(at) = path.find(cut) {
            path = &path[..at];
        }
    }
    let path = path.trim_end_matches(['.', ',', ';', ':', '-']);
    (!path.is_empty()).then(|| Named::Path(path.to_string()))
}

/// Whether `path`, named in `source`, exists.
fn exists(root: &Path, source: &str, named: &Named) -> bool {
    let path = match named {
        Named::Path(p) | Named::Pattern(p) => p,
    };
    if root.join(path).exists() {
        return true;
    }
    // A Cargo manifest below the root names its paths relative to its own folder.
    let below_root_manifest = source.ends_with("/Cargo.toml");
    below_root_manifest && Path::new(source).parent().is_some_and(|dir| root.join(dir).join(path).exists())
}

/// `file:line → path` for every named path in the sources that does not exist.
fn missing_named_paths(root: &Path, sources: &[Source]) -> Vec<String> {
    let mut missing = Vec::new();
    for source in sources {
        for (n, line) in source.text.lines().enumerate() {
            for named in named_paths(line) {
                if !exists(root, &source.rel, &named) {
                    let (Named::Path(p) | Named::Pattern(p)) = &named;
                    let what = if matches!(named, Named::Pattern(_)) { " (the folder of a pattern)" } else { "" };
                    missing.push(format!("{}:{} → {p}{what}", source.rel, n + 1));
                }
            }
        }
    }
    missing
}

/// The links `[text](target)` of a Markdown text outside fenced code blocks, with their line
/// numbers (from 1).
fn markdown_links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            // The target ends at the `)` that closes the link (targets may hold balanced parens).
            let mut depth = 0usize;
            let mut end = None;
            for (i, c) in after.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' if depth == 0 => {
                        end = Some(i);
                        break;
                    }
                    ')' => depth -= 1,
                    _ => {}
                }
            }
            let Some(end) = end else { break };
            let mut target = after[..end].trim();
            // `[x](<target> "title")` and `[x](target "title")`
            if let Some(inner) = target.strip_prefix('<') {
                target = inner.split('>').next().unwrap_or("");
            } else if let Some((t, _title)) = target.split_once(char::is_whitespace) {
                target = t;
            }
            out.push((n + 1, target.to_string()));
            rest = &after[end..];
        }
    }
    out
}

/// GitHub's anchors for the headings of a Markdown text.
fn heading_anchors(text: &str) -> Vec<String> {
    let mut anchors: Vec<String> = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#');
        if !title.starts_with(' ') && !title.is_empty() {
            continue;
        }
        let base: String = title
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let mut anchor = base.clone();
        let mut k = 1;
        while anchors.contains(&anchor) {
            anchor = format!("{base}-{k}");
            k += 1;
        }
        anchors.push(anchor);
    }
    anchors
}

/// `file:line → target` for every Markdown link whose file or anchor does not exist.
fn broken_links(root: &Path, sources: &[Source]) -> Vec<String> {
    let mut broken = Vec::new();
    for source in sources.iter().filter(|s| s.markdown) {
        let folder = Path::new(&source.rel).parent().unwrap_or(Path::new(""));
        for (line, target) in markdown_links(&source.text) {
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                root.join(&source.rel)
            } else if let Some(from_root) = path.strip_prefix('/') {
                root.join(from_root)
            } else {
                root.join(folder).join(path)
            };
            let problem = if !file.exists() {
                Some("no such file or folder")
            } else if let Some(anchor) = anchor.filter(|_| file.extension().is_some_and(|e| e == "md")) {
                let text = fs::read_to_string(&file).unwrap_or_default();
                (!heading_anchors(&text).iter().any(|a| a == anchor)).then_some("no such heading")
            } else {
                None
            };
            if let Some(problem) = problem {
                broken.push(format!("{}:{line} → {target} ({problem})", source.rel));
            }
        }
    }
    broken
}

#[test]
fn every_named_repository_path_exists() {
    let root = repo_root();
    let sources = sources(&root);
    // Not vacuous: the README, the stage manuals and the code are all read.
    for must in ["README.md", "docs/gpu.md", "src/lib.rs", "tests/doc_paths.rs", ".ci/run"] {
        assert!(sources.iter().any(|s| s.rel == must), "{must} was not read");
    }
    let named: usize = sources.iter().map(|s| s.text.lines().map(|l| named_paths(l).len()).sum::<usize>()).sum();
    assert!(named > 100, "only {named} named paths found: is the scanner broken?");
    let missing = missing_named_paths(&root, &sources);
    assert!(
        missing.is_empty(),
        "{} named path(s) that do not exist (file:line → path):\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
}

#[test]
fn every_markdown_link_resolves() {
    let root = repo_root();
    let sources = sources(&root);
    let links: usize = sources.iter().filter(|s| s.markdown).map(|s| markdown_links(&s.text).len()).sum();
    assert!(links > 20, "only {links} Markdown links found: is the scanner broken?");
    let broken = broken_links(&root, &sources);
    assert!(
        broken.is_empty(),
        "{} Markdown link(s) that do not resolve (file:line → target):\n  {}",
        broken.len(),
        broken.join("\n  ")
    );
}

/// The scanner itself, on made-up text. The missing names are built with `concat!` so that
/// this file does not name them itself.
#[test]
fn the_scanner_reads_paths_as_intended() {
    let p = |s: &str| Named::Path(s.to_string());
    let pat = |s: &str| Named::Pattern(s.to_string());
    assert_eq!(
        named_paths("see `src/lib.rs:12`, (tests/gpu.rs:3-9) and [x](docs/gpu.md#the-check)."),
        vec![p("src/lib.rs"), p("tests/gpu.rs"), p("docs/gpu.md")]
    );
    assert_eq!(
        named_paths("kernels in src/gpu/kernels/*.cu, parts `_parts/part-NNNNN.json`, docs/<stage>.md"),
        vec![pat("src/gpu/kernels/"), pat("docs/")]
    );
    assert_eq!(named_paths("README.md, Cargo.toml: and README.mdx"), vec![p("README.md"), p("Cargo.toml")]);
    // Not repository paths: run folders, ../shared, absolute paths, words that end in a prefix.
    assert!(named_paths("out/run/tokenize ../shared/data /var/tmp/src/x ../schemas/x.md subtests/x").is_empty());

    let root = repo_root();
    let text = format!("a fine one: src/lib.rs\nand a missing one: `{}`.\n", concat!("src", "/nonexistent.rs"));
    let fake = Source { rel: "docs/made-up.md".into(), text, markdown: true };
    let missing = missing_named_paths(&root, &[fake]);
    assert_eq!(missing, vec![format!("docs/made-up.md:2 → {}", concat!("src", "/nonexistent.rs"))]);

    let text = format!(
        "[ok](../README.md) [gone]({}) [anchor](gpu.md#{})\n",
        concat!("../src", "/nonexistent.rs"),
        "no-such-heading"
    );
    let fake = Source { rel: "docs/made-up.md".into(), text, markdown: true };
    assert_eq!(broken_links(&root, &[fake]).len(), 2);

    // In code only comments are read; lines are kept.
    let rust = "let a = \"src/x\"; // see src/lib.rs\nlet b = '\\''; let c = r#\"// docs/y\"#; /* tests/\n /* bin/ */ */ 'l: loop {}\n";
    let comments = rust_comments(rust);
    assert_eq!(comments.lines().count(), 3);
    let found: Vec<Named> = comments.lines().flat_map(named_paths).collect();
    assert_eq!(found, vec![p("src/lib.rs"), p("tests/"), p("bin/")]);
    let shell = "bash scripts/x.sh # runs scripts/gpu-check.sh\necho ${#a} \"#\" src/\n";
    let found: Vec<Named> = hash_comments(shell).lines().flat_map(named_paths).collect();
    assert_eq!(found, vec![p("scripts/gpu-check.sh")]);
}

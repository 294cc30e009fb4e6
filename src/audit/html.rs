//! `report.html`: one self-contained page (no scripts, no network), charts as inline SVG,
//! styles that print.

use super::composition::{Tally, DIMENSIONS};
use super::report::{Example, Report};
use super::svg::{bars, esc, heatmap, human, Bars, PALETTE};

const STYLE: &str = r#"
body{font-family:"Source Sans 3","Segoe UI",Helvetica,Arial,sans-serif;color:#1b1b1b;max-width:1060px;margin:2em auto;padding:0 1.2em;line-height:1.45;font-size:16px}
h1{font-size:1.9em;margin-bottom:.1em}h2{margin-top:2em;border-bottom:2px solid #0072B2;padding-bottom:.2em}h3{margin-bottom:.3em}
.sub{color:#555}table{border-collapse:collapse;margin:.6em 0 1.2em;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #ddd;padding:.25em .7em;text-align:right;vertical-align:top}th{background:#f3f6f9}
td:first-child,th:first-child{text-align:left}.chart{max-width:100%;height:auto;display:block;margin:.4em 0 1em}
.ct{font-weight:600;font-size:14px}.cl{font-size:12px;fill:#333}.cv{font-size:11px;fill:#333}.cu{font-size:11px;fill:#666}.hv{font-size:10px}
.ex{border-left:4px solid #0072B2;padding:.3em .8em;margin:.6em 0;background:#fafafa;font-size:.92em;white-space:pre-wrap}
.ex.rej{border-color:#D55E00}.meta{color:#555;font-size:.85em}.pair{display:grid;grid-template-columns:1fr 1fr;gap:1em}
del{background:#fde0d0;text-decoration:line-through}ins{background:#d8ecf8;text-decoration:none}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:0 1.5em}
details pre{font-size:.8em;background:#f6f6f6;padding:.6em;overflow:auto}.note{color:#555;font-size:.9em}
@media print{body{max-width:none;font-size:11pt}h2{break-after:avoid}.chart,table,.ex,.pair{break-inside:avoid}details{display:none}}
"#;

/// A count from a manifest the report did not write (a sibling tokenize manifest): printed
/// only when it is a number, so a crafted value never reaches the page as markup.
fn count(v: &serde_json::Value) -> String {
    match v.as_u64() {
        Some(n) => n.to_string(),
        None => "?".into(),
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn int(n: u64) -> String {
    crate::balance::solve::fmt_num(n as f64)
}

/// Word-level differences between two excerpts (LCS), as HTML with `<del>`/`<ins>`.
pub fn diff(a: &str, b: &str) -> String {
    let (x, y): (Vec<&str>, Vec<&str>) = (a.split_whitespace().collect(), b.split_whitespace().collect());
    let (n, m) = (x.len(), y.len());
    let mut l = vec![vec![0u16; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            l[i][j] = if x[i] == y[j] { l[i + 1][j + 1] + 1 } else { l[i + 1][j].max(l[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && x[i] == y[j] {
            out.push(esc(x[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || l[i][j + 1] >= l[i + 1][j]) {
            out.push(format!("<ins>{}</ins>", esc(y[j])));
            j += 1;
        } else {
            out.push(format!("<del>{}</del>", esc(x[i])));
            i += 1;
        }
    }
    out.join(" ")
}

fn example(e: &Example, rejected: bool) -> String {
    let mut meta = vec![format!("id {}", crate::document::cut_at_char(&e.id, 12))];
    if let Some(g) = &e.genre {
        meta.push(esc(g));
    }
    if let Some(s) = &e.source {
        meta.push(esc(s));
    }
    if let Some(d) = &e.detail {
        meta.push(esc(d));
    }
    format!(
        r#"<div class="ex{}"><div class="meta">{}</div>{}</div>"#,
        if rejected { " rej" } else { "" },
        meta.join(" · "),
        esc(&e.excerpt)
    )
}

/// The values of a dimension in display order: decades and buckets by value, others by size,
/// the tail folded into "other".
fn ordered(dim: &str, values: &std::collections::BTreeMap<String, Tally>, top: usize) -> Vec<(String, Tally)> {
    let mut v: Vec<(String, Tally)> = values.iter().map(|(k, t)| (k.clone(), t.clone())).collect();
    if !matches!(dim, "decade" | "ocr_confidence" | "length") {
        v.sort_by(|a, b| b.1.chars_repeated.cmp(&a.1.chars_repeated).then(a.0.cmp(&b.0)));
    }
    if v.len() > top {
        let rest = v.split_off(top - 1);
        let mut t = Tally::default();
        for (_, r) in &rest {
            t.docs += r.docs;
            t.chars += r.chars;
            t.docs_repeated += r.docs_repeated;
            t.chars_repeated += r.chars_repeated;
        }
        v.push((format!("other ({} values)", rest.len()), t));
    }
    v.into_iter()
        .map(|(k, t)| (k.split_once(": ").filter(|_| dim == "length").map_or(k.clone(), |(_, l)| l.to_string()), t))
        .collect()
}

pub fn render(r: &Report) -> String {
    let c = &r.composition;
    let mut h = String::new();
    h.push_str(&format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>Corpus audit — {}</title><style>{STYLE}</style></head><body>",
        esc(&r.dataset)
    ));
    let rep = if c.repeats { " counting balance repeats" } else { "" };
    h.push_str(&format!(
        "<h1>Corpus audit</h1><p class=\"sub\"><b>{}</b> — a <code>{}</code> dataset; {} documents, {} characters{}. kbcurate {}.</p>",
        esc(&r.dataset),
        esc(&r.stage),
        int(c.total.docs_repeated),
        human(c.total.chars_repeated as f64),
        rep,
        esc(&r.kbcurate_version)
    ));

    // Funnel
    h.push_str("<h2 id=\"funnel\">Through the stages</h2><table><tr><th>stage</th><th>in</th><th>kept</th><th>rejected</th><th>by reason</th></tr>");
    for s in &r.stages {
        let rejected: u64 = s.counts.rejected.values().sum();
        let why: Vec<String> = s.counts.rejected.iter().map(|(k, n)| format!("{} {}", esc(k), int(*n))).collect();
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
            esc(&s.stage),
            int(s.counts.input),
            int(s.counts.kept),
            int(rejected),
            why.join(", ")
        ));
    }
    h.push_str("</table>");
    let funnel = Bars {
        title: "Documents kept after each stage",
        unit: "documents",
        rows: r.stages.iter().map(|s| (s.stage.clone(), s.counts.kept as f64, None)).collect(),
        percent: false,
        colour: PALETTE[0],
    };
    h.push_str(&bars(&funnel));

    // Composition
    h.push_str(&format!(
        "<h2 id=\"composition\">Composition</h2><p class=\"note\">Shares of characters{rep}; the tables add documents.</p><div class=\"grid\">"
    ));
    for (k, dim) in DIMENSIONS.iter().enumerate() {
        let Some(values) = c.by.get(*dim) else { continue };
        let rows = ordered(dim, values, 15);
        let total = c.total.chars_repeated.max(1) as f64;
        let title = match *dim {
            "ocr_confidence" => "OCR confidence (mean word confidence, by tenths)".to_string(),
            "length" => "Document length (characters)".to_string(),
            d => format!("By {d}"),
        };
        let chart = Bars {
            title: &title,
            unit: "share of characters",
            rows: rows.iter().map(|(v, t)| (v.clone(), t.chars_repeated as f64 / total, None)).collect(),
            percent: true,
            colour: PALETTE[k % PALETTE.len()],
        };
        h.push_str("<div>");
        h.push_str(&bars(&chart));
        h.push_str("<table><tr><th>value</th><th>documents</th><th>characters</th><th>share</th></tr>");
        for (v, t) in &rows {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(v),
                int(t.docs_repeated),
                human(t.chars_repeated as f64),
                pct(t.chars_repeated as f64 / total)
            ));
        }
        h.push_str("</table></div>");
    }
    h.push_str("</div>");
    let genres: Vec<String> = c.genre_decade.keys().cloned().collect();
    let mut decades: Vec<String> = c.genre_decade.values().flat_map(|m| m.keys().cloned()).collect();
    decades.sort();
    decades.dedup();
    let cells: Vec<Vec<f64>> = genres
        .iter()
        .map(|g| decades.iter().map(|d| c.genre_decade[g].get(d).copied().unwrap_or(0) as f64).collect())
        .collect();
    h.push_str(&heatmap("Genre × decade", "characters", &genres, &decades, &cells));

    // Dedup
    if !c.cluster_sizes.is_empty() || !r.dup_examples.is_empty() {
        h.push_str("<h2 id=\"dedup\">Duplicates</h2>");
        let sizes = Bars {
            title: "Kept documents by the size of their duplicate cluster",
            unit: "kept documents (cluster size 1: no duplicate)",
            rows: c.cluster_sizes.iter().map(|(s, n)| (format!("{s}"), *n as f64, None)).collect(),
            percent: false,
            colour: PALETTE[2],
        };
        h.push_str(&bars(&sizes));
        for d in &r.dup_examples {
            h.push_str("<h3>A cluster: the kept copy and a removed one</h3><div class=\"pair\">");
            h.push_str(&example(&d.kept, false));
            if let Some(first) = d.removed.first() {
                h.push_str(&format!(
                    r#"<div class="ex rej"><div class="meta">removed {} · {}</div>{}</div>"#,
                    crate::document::cut_at_char(&first.id, 12),
                    esc(first.reason.as_deref().unwrap_or("")),
                    diff(&d.kept.excerpt, &first.excerpt)
                ));
            }
            h.push_str("</div>");
        }
        if !r.dup_examples.is_empty() {
            h.push_str("<p class=\"note\">In the removed copy, <del>struck</del> words are the kept copy's, <ins>marked</ins> words the removed copy's own.</p>");
        }
    }

    // Balance
    if let Some(plan) = r.balance.as_ref().and_then(|b| b.get("plan")) {
        h.push_str("<h2 id=\"balance\">Balance: target and achieved shares</h2>");
        h.push_str(&format!(
            "<p>Budget {} {}.</p>",
            human(plan["budget"].as_f64().unwrap_or(0.0)),
            esc(plan["unit_label"].as_str().unwrap_or(""))
        ));
        for d in plan["dimensions"].as_array().into_iter().flatten() {
            let name = d["name"].as_str().unwrap_or("");
            let values: Vec<&serde_json::Value> = d["values"].as_array().into_iter().flatten().take(20).collect();
            let title = format!("{name}: achieved share (bars) and target (black marks)");
            let chart = Bars {
                title: &title,
                unit: "share of the budget",
                rows: values
                    .iter()
                    .map(|v| {
                        (
                            v["value"].as_str().unwrap_or("").to_string(),
                            v["achieved"].as_f64().unwrap_or(0.0),
                            v["target"].as_f64(),
                        )
                    })
                    .collect(),
                percent: true,
                colour: PALETTE[4],
            };
            h.push_str(&bars(&chart));
            h.push_str("<table><tr><th>value</th><th>current</th><th>asked</th><th>target</th><th>achieved</th><th>weight</th></tr>");
            for v in values {
                let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
                h.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td></tr>",
                    esc(v["value"].as_str().unwrap_or("")),
                    pct(f("current")),
                    pct(f("asked")),
                    pct(f("target")),
                    pct(f("achieved")),
                    f("weight")
                ));
            }
            h.push_str("</table>");
        }
        let moved: Vec<&str> = plan["moved"].as_array().into_iter().flatten().filter_map(|m| m.as_str()).collect();
        if !moved.is_empty() {
            h.push_str("<h3>Targets moved to make the policy feasible</h3><ul>");
            for m in moved {
                h.push_str(&format!("<li>{}</li>", esc(m)));
            }
            h.push_str("</ul>");
        }
    }

    // Tokens
    if let Some(t) = &r.tokens {
        h.push_str(&format!(
            "<h2 id=\"tokens\">Tokens</h2><p>Shards in <code>{}</code>: {}, sequence length {}, {} packing, {} format.</p>",
            esc(t["path"].as_str().unwrap_or("")),
            esc(t["tokenizer"]["spec"].as_str().unwrap_or("")),
            count(&t["seq_len"]),
            esc(t["packing"].as_str().unwrap_or("")),
            esc(t["format"].as_str().unwrap_or(""))
        ));
        h.push_str("<table><tr><th>split</th><th>documents (with repeats)</th><th>tokens</th><th>windows</th><th>padding</th><th>documents split</th></tr>");
        for (name, s) in t["splits"].as_object().into_iter().flatten() {
            let p = &s["packing"];
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(name),
                count(&s["documents_with_repeats"]),
                human(p["tokens"].as_f64().unwrap_or(0.0)),
                count(&p["windows"]),
                pct(s["padding_share"].as_f64().unwrap_or(0.0)),
                count(&p["truncated_documents"])
            ));
        }
        h.push_str("</table><div class=\"grid\">");
        if let Some(train) = t["splits"].get("train") {
            for (k, dim) in ["genre", "decade", "source"].iter().enumerate() {
                let Some(by) = train["tokens_by"][dim].as_object() else { continue };
                let total: f64 = by.values().filter_map(|v| v.as_f64()).sum::<f64>().max(1.0);
                let title = format!("Training tokens by {dim}");
                let chart = Bars {
                    title: &title,
                    unit: "share of training tokens",
                    rows: by.iter().map(|(v, n)| (v.clone(), n.as_f64().unwrap_or(0.0) / total, None)).collect(),
                    percent: true,
                    colour: PALETTE[(k + 5) % PALETTE.len()],
                };
                h.push_str(&format!("<div>{}</div>", bars(&chart)));
            }
        }
        h.push_str("</div>");
    }

    // Examples
    h.push_str("<h2 id=\"examples\">Examples</h2><h3>Kept</h3>");
    for e in &r.kept_examples {
        h.push_str(&example(e, false));
    }
    for (reason, list) in &r.rejected_examples {
        h.push_str(&format!("<h3>Rejected: {}</h3>", esc(reason)));
        for e in list {
            h.push_str(&example(e, true));
        }
    }

    // Provenance
    h.push_str("<h2 id=\"provenance\">Provenance</h2><table><tr><th>stage</th><th>folder</th><th>kbcurate</th><th>config hash</th><th>parts</th><th>text</th></tr>");
    for s in &r.stages {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}B</td></tr>",
            esc(&s.stage),
            esc(&s.path),
            esc(&s.kbcurate_version),
            s.config_hash,
            s.parts,
            human(s.text_bytes as f64)
        ));
    }
    h.push_str("</table>");
    for s in &r.stages {
        h.push_str(&format!(
            "<details><summary>{} configuration</summary><pre>{}</pre></details>",
            esc(&s.stage),
            esc(&serde_json::to_string_pretty(&s.config).unwrap_or_default())
        ));
    }
    h.push_str("</body></html>\n");
    h
}

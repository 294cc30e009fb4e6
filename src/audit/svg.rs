//! Hand-made inline SVG charts: horizontal bars and a heat map. Colours from the Okabe–Ito
//! palette (distinguishable with the common colour-vision deficiencies); every chart has a
//! title, axis labels with units, and the numbers as text, so it also reads printed in grey.

/// Okabe–Ito.
pub const PALETTE: [&str; 8] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub fn human(x: f64) -> String {
    let a = x.abs();
    if a >= 1e9 {
        format!("{:.1} G", x / 1e9)
    } else if a >= 1e6 {
        format!("{:.1} M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.1} k", x / 1e3)
    } else {
        format!("{}", x.round())
    }
}

/// One bar series per row: label, value; optionally a second value drawn as a thin marker
/// (e.g. a target share next to the achieved one).
pub struct Bars<'a> {
    pub title: &'a str,
    pub unit: &'a str,
    pub rows: Vec<(String, f64, Option<f64>)>,
    pub percent: bool,
    pub colour: &'a str,
}

pub fn bars(b: &Bars) -> String {
    let label_w = 150.0;
    let bar_w = 260.0;
    let row_h = 22.0;
    let top = 34.0;
    let h = top + row_h * b.rows.len() as f64 + 30.0;
    let max = b.rows.iter().map(|r| r.1.max(r.2.unwrap_or(0.0))).fold(0.0, f64::max).max(1e-12);
    let mut s = format!(
        r#"<svg class="chart" role="img" viewBox="0 0 480 {h}" width="480" height="{h}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title><text x="0" y="18" class="ct">{t}</text>"#,
        t = esc(b.title)
    );
    for (i, (label, v, marker)) in b.rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let w = (v / max * bar_w).max(if *v > 0.0 { 1.0 } else { 0.0 });
        let shown: String = label.chars().take(22).collect();
        let value = if b.percent { format!("{:.1}%", v * 100.0) } else { human(*v) };
        s.push_str(&format!(
            r#"<text x="{lx}" y="{ty}" text-anchor="end" class="cl">{l}</text><rect x="{x}" y="{y}" width="{w:.1}" height="{bh}" fill="{c}"><title>{l}: {value}</title></rect><text x="{vx:.1}" y="{ty}" class="cv">{value}</text>"#,
            lx = label_w - 8.0,
            ty = y + 15.0,
            l = esc(&shown),
            x = label_w,
            bh = row_h - 6.0,
            c = b.colour,
            vx = label_w + w + 6.0,
        ));
        if let Some(m) = marker {
            let mx = label_w + m / max * bar_w;
            s.push_str(&format!(
                r##"<line x1="{mx:.1}" x2="{mx:.1}" y1="{y1}" y2="{y2}" stroke="#000" stroke-width="2.5"><title>target {t}</title></line>"##,
                y1 = y - 1.0,
                y2 = y + row_h - 5.0,
                t = if b.percent { format!("{:.1}%", m * 100.0) } else { human(*m) }
            ));
        }
    }
    let axis_y = top + row_h * b.rows.len() as f64 + 14.0;
    s.push_str(&format!(r#"<text x="{}" y="{axis_y}" class="cu">{}</text></svg>"#, label_w, esc(b.unit)));
    s
}

/// A heat map of `cells[row][col]`, shaded by value (sequential blue), numbers in the cells.
pub fn heatmap(title: &str, unit: &str, rows: &[String], cols: &[String], cells: &[Vec<f64>]) -> String {
    let (lw, cw, ch, top) = (130.0, 58.0, 24.0, 50.0);
    let w = lw + cw * cols.len() as f64 + 10.0;
    let h = top + ch * rows.len() as f64 + 30.0;
    let max = cells.iter().flatten().copied().fold(0.0, f64::max).max(1e-12);
    let mut s = format!(
        r#"<svg class="chart" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title><text x="0" y="18" class="ct">{t}</text>"#,
        t = esc(title)
    );
    for (j, c) in cols.iter().enumerate() {
        s.push_str(&format!(
            r#"<text x="{x}" y="{y}" text-anchor="middle" class="cl">{c}</text>"#,
            x = lw + cw * j as f64 + cw / 2.0,
            y = top - 8.0,
            c = esc(c)
        ));
    }
    for (i, r) in rows.iter().enumerate() {
        let y = top + ch * i as f64;
        s.push_str(&format!(
            r#"<text x="{}" y="{}" text-anchor="end" class="cl">{}</text>"#,
            lw - 8.0,
            y + 16.0,
            esc(r)
        ));
        for (j, v) in cells[i].iter().enumerate() {
            let t = (v / max).sqrt();
            // From near-white to #08306b.
            let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
            let fill = format!("#{:02x}{:02x}{:02x}", mix(247.0, 8.0), mix(251.0, 48.0), mix(255.0, 107.0));
            let fg = if t > 0.55 { "#fff" } else { "#222" };
            let x = lw + cw * j as f64;
            s.push_str(&format!(
                r#"<rect x="{x}" y="{y}" width="{cw1}" height="{ch1}" fill="{fill}"><title>{r} × {c}: {val} {u}</title></rect>"#,
                cw1 = cw - 2.0,
                ch1 = ch - 2.0,
                r = esc(r),
                c = esc(&cols[j]),
                val = human(*v),
                u = esc(unit)
            ));
            if *v > 0.0 {
                s.push_str(&format!(
                    r#"<text x="{}" y="{}" text-anchor="middle" class="hv" fill="{fg}">{}</text>"#,
                    x + cw / 2.0 - 1.0,
                    y + 16.0,
                    human(*v)
                ));
            }
        }
    }
    s.push_str(&format!(r#"<text x="{lw}" y="{}" class="cu">{}</text></svg>"#, h - 8.0, esc(unit)));
    s
}

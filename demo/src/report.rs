//! Turning [`Report`]s into the side-by-side table, JSON, and the RSS chart (SVG).

use crate::Report;
use serde_json::{Map, Value, json};
use std::fmt::Write as _;

/// How a row compares the two stacks.
#[derive(Clone, Copy)]
enum Better {
    /// Smaller is better: the ratio is baseline ÷ slackwater.
    Lower,
    /// Larger is better: the ratio is slackwater ÷ baseline.
    Higher,
    /// No ratio (counts that must be zero, say).
    None,
}

const ROWS: &[(&str, &str, Better)] = &[
    (
        "idle: RSS per connection (B)",
        "idle.rss_per_conn",
        Better::Lower,
    ),
    (
        "idle: read-buffer bytes pinned per conn",
        "idle.pinned_read_per_conn",
        Better::Lower,
    ),
    (
        "idle: write-buffer bytes pinned per conn",
        "idle.pinned_write_per_conn",
        Better::Lower,
    ),
    (
        "idle: conns holding an h2 read buffer",
        "idle.h2_holding",
        Better::None,
    ),
    (
        "idle: conns holding an ALTS read buffer",
        "idle.alts_holding",
        Better::None,
    ),
    (
        "idle: pool buffers in use",
        "idle.pool_in_use",
        Better::None,
    ),
    (
        "burst: echo throughput (MB/s)",
        "burst.mb_s",
        Better::Higher,
    ),
    (
        "burst: frames received (frames/s)",
        "burst.frames_s",
        Better::Higher,
    ),
    (
        "burst: PING round trip p50 (ms)",
        "burst.ping_p50_ms",
        Better::Lower,
    ),
    (
        "burst: PING round trip p99 (ms)",
        "burst.ping_p99_ms",
        Better::Lower,
    ),
    ("burst: corrupt DATA frames", "burst.corrupt", Better::None),
    (
        "burst: writes that waited for the socket",
        "burst.write_waits",
        Better::None,
    ),
    (
        "idle again: RSS per connection (B)",
        "again.rss_per_conn",
        Better::Lower,
    ),
    (
        "idle again: read-buffer bytes pinned/conn",
        "again.pinned_read_per_conn",
        Better::Lower,
    ),
    (
        "idle again: write-buffer bytes pinned/conn",
        "again.pinned_write_per_conn",
        Better::Lower,
    ),
    (
        "idle again: pool buffers in use",
        "again.pool_in_use",
        Better::None,
    ),
    (
        "idle again: pool bytes retained",
        "again.pool_retained",
        Better::None,
    ),
    (
        "after trim: RSS per connection (B)",
        "trimmed.rss_per_conn",
        Better::Lower,
    ),
    (
        "after trim: pool bytes retained",
        "trimmed.pool_retained",
        Better::None,
    ),
    ("connection errors", "errors", Better::None),
];

fn num(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v.abs() >= 100.0 || v.fract() == 0.0 {
        let s = format!("{:.0}", v);
        // Thousands separators for readability.
        let (sign, digits) = s.split_at(usize::from(s.starts_with('-')));
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else {
        format!("{v:.2}")
    }
}

fn ratio(sw: f64, base: f64, better: Better) -> String {
    let r = match better {
        Better::Lower => base / sw,
        Better::Higher => sw / base,
        Better::None => return String::new(),
    };
    if r.is_finite() {
        format!("{r:.2}x")
    } else if base > 0.0 && sw == 0.0 {
        "inf (0 vs >0)".into()
    } else {
        String::new()
    }
}

/// The side-by-side table of a slackwater run and a baseline run. The ratio column is
/// "how many times better slackwater is": baseline ÷ slackwater for memory and latency,
/// slackwater ÷ baseline for throughput.
///
/// ```
/// use slackwater_demo::{Mode, Report, report::table};
/// let sw = Report { mode: Mode::Slackwater, values: vec![("idle.rss_per_conn".into(), 1000.0)] };
/// let base = Report { mode: Mode::Baseline, values: vec![("idle.rss_per_conn".into(), 66000.0)] };
/// assert!(table(&sw, &base).contains("66.00x"));
/// ```
pub fn table(sw: &Report, base: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| {:<44} | {:>14} | {:>14} | {:>10} |",
        "measure", "slackwater", "baseline", "ratio"
    );
    let _ = writeln!(s, "|{:-<46}|{:->16}|{:->16}|{:->12}|", "", "", "", "");
    for (label, key, better) in ROWS {
        let (a, b) = (sw.get(key), base.get(key));
        let _ = writeln!(
            s,
            "| {:<44} | {:>14} | {:>14} | {:>10} |",
            label,
            num(a),
            num(b),
            ratio(a, b, *better)
        );
    }
    s
}

/// One report as JSON: `{"mode": …, "values": {name: number or null, …}}` (NaN, a value
/// that was not measured, is `null`).
///
/// ```
/// use slackwater_demo::{Mode, Report, report::report_json};
/// let r = Report { mode: Mode::Slackwater, values: vec![("conns".into(), 3.0)] };
/// assert_eq!(report_json(&r).to_string(), r#"{"mode":"slackwater","values":{"conns":3.0}}"#);
/// ```
pub fn report_json(r: &Report) -> Value {
    let values: Map<String, Value> = r
        .values
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(*v)))
        .collect();
    json!({ "mode": r.mode.name(), "values": values })
}

/// Reads [`report_json`]'s output back (`null` becomes NaN).
///
/// # Errors
/// Text that is not such an object.
///
/// ```
/// use slackwater_demo::{Mode, Report, report::{report_json, report_from_json}};
/// let r = Report { mode: Mode::Baseline, values: vec![("x".into(), f64::NAN)] };
/// let back = report_from_json(&report_json(&r).to_string()).unwrap();
/// assert_eq!(back.mode, Mode::Baseline);
/// assert!(back.get("x").is_nan());
/// ```
pub fn report_from_json(text: &str) -> Result<Report, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mode = v["mode"]
        .as_str()
        .and_then(crate::Mode::parse)
        .ok_or("no mode")?;
    let values = v["values"]
        .as_object()
        .ok_or("no values")?
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(f64::NAN)))
        .collect();
    Ok(Report { mode, values })
}

/// One JSON object: `{"runs": [{"mode": …, "values": {name: number, …}}, …], …}` plus the
/// given top-level string fields (date, CPU, …).
///
/// ```
/// use slackwater_demo::{Mode, Report, report::json};
/// let r = Report { mode: Mode::Slackwater, values: vec![("conns".into(), 3.0)] };
/// assert_eq!(json(&[r], &[("cpu", "x")]),
///            r#"{"cpu":"x","runs":[{"mode":"slackwater","values":{"conns":3.0}}]}"#);
/// ```
pub fn json(runs: &[Report], meta: &[(&str, &str)]) -> String {
    let mut o: Map<String, Value> = meta
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    o.insert("runs".into(), runs.iter().map(report_json).collect());
    Value::Object(o).to_string()
}

/// One line of the chart: a name, a colour, a dash pattern, and `(connections, MiB)` points.
pub struct Series {
    /// Legend text.
    pub name: String,
    /// SVG colour.
    pub color: &'static str,
    /// Dashed line.
    pub dashed: bool,
    /// `(connections, resident MiB)` points, by connections.
    pub points: Vec<(f64, f64)>,
}

/// An SVG line chart of resident memory against open connections.
///
/// ```
/// use slackwater_demo::report::{Series, svg_chart};
/// let s = Series { name: "a".into(), color: "#000", dashed: false,
///                  points: vec![(1000.0, 5.0), (10000.0, 40.0)] };
/// let svg = svg_chart("RSS", &[s]);
/// assert!(svg.starts_with("<svg") && svg.contains("polyline"));
/// ```
pub fn svg_chart(title: &str, series: &[Series]) -> String {
    let (w, h, l, r, t, b) = (960.0, 460.0, 80.0, 320.0, 60.0, 60.0);
    let all = series.iter().flat_map(|s| s.points.iter());
    let xmax = all.clone().map(|p| p.0).fold(1.0, f64::max);
    let ymax = nice(all.map(|p| p.1).fold(1.0, f64::max));
    let xmax = nice(xmax);
    let px = |x: f64| l + x / xmax * (w - l - r);
    let py = |y: f64| h - b - y / ymax * (h - t - b);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    // The title's first line, then the rest (date, machine) smaller.
    let (head, rest) = title.split_once('\n').unwrap_or((title, ""));
    let _ = writeln!(
        s,
        r##"<text x="{}" y="24" text-anchor="middle" font-size="16">{}</text><text x="{}" y="44" text-anchor="middle" font-size="12" fill="#555">{}</text>"##,
        w / 2.0,
        xml(head),
        w / 2.0,
        xml(rest)
    );
    for i in 0..=5 {
        let (x, y) = (xmax * i as f64 / 5.0, ymax * i as f64 / 5.0);
        let _ = writeln!(
            s,
            r##"<line x1="{l}" y1="{yy}" x2="{x2}" y2="{yy}" stroke="#ddd"/><text x="{tx}" y="{ty}" text-anchor="end">{}</text>"##,
            num(y),
            yy = py(y),
            x2 = w - r,
            tx = l - 8.0,
            ty = py(y) + 4.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            px(x),
            h - b + 20.0,
            num(x)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">open connections</text>"#,
        (l + w - r) / 2.0,
        h - 15.0
    );
    let _ = writeln!(
        s,
        r#"<text x="20" y="{}" text-anchor="middle" transform="rotate(-90 20 {})">resident memory (MiB)</text>"#,
        (t + h - b) / 2.0,
        (t + h - b) / 2.0
    );
    for (i, se) in series.iter().enumerate() {
        let pts: Vec<String> = se
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let dash = if se.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="2.5"{dash} points="{}"/>"#,
            se.color,
            pts.join(" ")
        );
        for &(x, y) in &se.points {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{}"/>"#,
                px(x),
                py(y),
                se.color
            );
        }
        if let Some(&(x, y)) = se.points.last() {
            // The last value, next to its point.
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="11" fill="{}">{y:.1}</text>"#,
                px(x) + 6.0,
                py(y) - 6.0,
                se.color,
            );
        }
        let ly = t + 20.0 + 22.0 * i as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{}" stroke-width="2.5"{dash}/><text x="{}" y="{}">{}</text>"#,
            w - r + 70.0,
            w - r + 98.0,
            se.color,
            w - r + 104.0,
            ly + 4.0,
            xml(&se.name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A round axis maximum at or above `v` (1, 2 or 5 times a power of ten).
fn nice(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|&c| c >= v)
        .unwrap_or(10.0 * p)
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_axes() {
        assert_eq!(num(1234567.0), "1,234,567");
        assert_eq!(num(-1234.0), "-1,234");
        assert_eq!(num(0.5), "0.50");
        assert_eq!(num(f64::NAN), "-");
        assert_eq!(nice(7.0), 10.0);
        assert_eq!(nice(130.0), 200.0);
        assert_eq!(nice(20000.0), 20000.0);
        assert_eq!(ratio(0.0, 5.0, Better::Lower), "inf (0 vs >0)");
        assert_eq!(ratio(2.0, 1.0, Better::Higher), "2.00x");
    }
}

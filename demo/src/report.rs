//! Turning [`Report`]s into the side-by-side table (medians and ranges over runs), JSON, and
//! the RSS chart (SVG).

use crate::{Mode, Report};
use serde_json::{Map, Value, json};
use std::fmt::Write as _;

/// How a row compares two stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// Smaller is better: the ratio is other ÷ slackwater.
    Lower,
    /// Larger is better: the ratio is slackwater ÷ other.
    Higher,
    /// No ratio (counts that must be zero, pinned bytes that are 0 by design, …).
    None,
}

/// The table's rows: a label, the report keys shown in one cell (joined by " / "), and how
/// the stacks compare.
pub const ROWS: &[(&str, &[&str], Better)] = &[
    (
        "idle: RSS per connection (bytes)",
        &["idle.rss_per_conn"],
        Better::Lower,
    ),
    (
        "idle: live heap per connection (bytes, malloc's count)",
        &["idle.heap_per_conn"],
        Better::Lower,
    ),
    (
        "idle: read-buffer bytes pinned per connection",
        &["idle.pinned_read_per_conn"],
        Better::None,
    ),
    (
        "idle: write-buffer bytes pinned per connection",
        &["idle.pinned_write_per_conn"],
        Better::None,
    ),
    (
        "idle: connections holding an HTTP/2 / ALTS read buffer",
        &["idle.h2_holding", "idle.alts_holding"],
        Better::None,
    ),
    (
        "idle: pool buffers in use",
        &["idle.pool_in_use"],
        Better::None,
    ),
    (
        "burst: echo throughput (MB/s)",
        &["burst.mb_s"],
        Better::Higher,
    ),
    (
        "burst: frames received (frames/s)",
        &["burst.frames_s"],
        Better::Higher,
    ),
    (
        "burst: PING round trip p50 (ms)",
        &["burst.ping_p50_ms"],
        Better::Lower,
    ),
    (
        "burst: PING round trip p99 (ms)",
        &["burst.ping_p99_ms"],
        Better::Lower,
    ),
    (
        "idle again: RSS per connection (bytes)",
        &["again.rss_per_conn"],
        Better::Lower,
    ),
    (
        "idle again: read / write-buffer bytes pinned per connection",
        &["again.pinned_read_per_conn", "again.pinned_write_per_conn"],
        Better::None,
    ),
    (
        "idle again: pool buffers in use",
        &["again.pool_in_use"],
        Better::None,
    ),
    (
        "idle again: pool bytes retained",
        &["again.pool_retained"],
        Better::None,
    ),
    (
        "after `trim()`: RSS per connection (bytes)",
        &["trimmed.rss_per_conn"],
        Better::Lower,
    ),
    (
        "after `trim()`: pool bytes retained",
        &["trimmed.pool_retained"],
        Better::None,
    ),
    (
        "corrupt DATA frames / connection errors",
        &["burst.corrupt", "errors"],
        Better::None,
    ),
];

/// A number for the table: thousands separators at 100 and above or for whole numbers, two
/// decimals below; `-` for NaN (not measured).
pub fn num(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v.abs() >= 100.0 || v.fract() == 0.0 {
        let s = format!("{:.0}", v);
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

/// Median, minimum and maximum of the finite values (`None` if there is none).
///
/// ```
/// use slackwater_demo::report::spread;
/// assert_eq!(spread(&[3.0, 1.0, 2.0, f64::NAN]), Some((2.0, 1.0, 3.0)));
/// assert_eq!(spread(&[1.0, 2.0]), Some((1.5, 1.0, 2.0)));
/// assert_eq!(spread(&[f64::NAN]), None);
/// ```
pub fn spread(values: &[f64]) -> Option<(f64, f64, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((median, v[0], v[n - 1]))
}

/// "how many times better slackwater is" for one run: other ÷ slackwater for what should be
/// low, slackwater ÷ other for what should be high (NaN when it has no meaning).
pub fn ratio(sw: f64, other: f64, better: Better) -> f64 {
    let r = match better {
        Better::Lower => other / sw,
        Better::Higher => sw / other,
        Better::None => f64::NAN,
    };
    if r.is_finite() { r } else { f64::NAN }
}

/// One cell: the value of a single run, or "median (min–max)" (just the value when every run
/// gave the same).
fn cell(values: &[f64], fmt: impl Fn(f64) -> String) -> String {
    match spread(values) {
        None => "-".into(),
        Some((m, lo, hi)) if values.len() == 1 || lo == hi => fmt(m),
        Some((m, lo, hi)) => format!("{} ({}–{})", fmt(m), fmt(lo), fmt(hi)),
    }
}

/// `2.00` → `2.00×`, `2.00 (1.00–3.00)` → `2.00× (1.00–3.00)`.
fn times(cell: &str) -> String {
    match cell.split_once(' ') {
        _ if cell == "-" => String::new(),
        Some((m, rest)) => format!("{m}× {rest}"),
        None => format!("{cell}×"),
    }
}

/// The reports of one stack, in run order.
fn of(runs: &[Report], mode: Mode) -> Vec<&Report> {
    runs.iter().filter(|r| r.mode == mode).collect()
}

/// The stacks present in `runs`, in first-seen order.
pub fn modes_of(runs: &[Report]) -> Vec<Mode> {
    let mut m: Vec<Mode> = Vec::new();
    for r in runs {
        if !m.contains(&r.mode) {
            m.push(r.mode);
        }
    }
    m
}

/// A column heading: the stack, what drives it if not the default, and what it speaks.
pub fn heading(r: &Report) -> String {
    let on = match (r.mode, r.runtime) {
        (Mode::Slackwater, crate::Runtime::Tokio) => " on tokio",
        _ => "",
    };
    format!("{}{on} ({})", r.mode.title(), r.transport.label())
}

/// The side-by-side table (Markdown) of every run in `runs`: per stack the value of each row,
/// or with several runs the median and "(min–max)" range; then, for each other stack, the
/// ratio "how many times better slackwater is" (baseline ÷ slackwater for memory and latency,
/// slackwater ÷ baseline for throughput), computed per run (the i-th run of each stack) and
/// summarised the same way.
///
/// ```
/// use slackwater_demo::{Mode, Report, Runtime, Transport, report::table};
/// let r = |mode, v: f64| Report { mode, transport: Transport::Alts, runtime: mode.runtime(Runtime::Poller),
///                                 values: vec![("idle.rss_per_conn".into(), v)] };
/// let runs = [r(Mode::Slackwater, 1000.0), r(Mode::Baseline, 66000.0),
///             r(Mode::Slackwater, 2000.0), r(Mode::Baseline, 66000.0)];
/// let t = table(&runs);
/// assert!(t.contains("1,500 (1,000–2,000)") && t.contains("49.50× (33.00–66.00)"), "{t}");
/// ```
pub fn table(runs: &[Report]) -> String {
    let modes = modes_of(runs);
    let per: Vec<Vec<&Report>> = modes.iter().map(|&m| of(runs, m)).collect();
    let n = per.iter().map(Vec::len).max().unwrap_or(0);
    let conns = runs.first().map_or(f64::NAN, |r| r.get("conns"));
    let sw = modes.iter().position(|&m| m == Mode::Slackwater);
    let others: Vec<usize> = (0..modes.len()).filter(|&i| Some(i) != sw).collect();
    let what = if n == 1 {
        "one run".to_string()
    } else {
        format!("median of {n} runs, range")
    };
    let mut head = vec![format!("measure ({} connections; {what})", num(conns))];
    head.extend(per.iter().map(|rs| heading(rs[0])));
    if sw.is_some() {
        head.extend(
            others
                .iter()
                .map(|&i| format!("ratio vs {}", modes[i].name())),
        );
    }
    let mut rows = vec![head];
    for (label, keys, better) in ROWS {
        let mut row = vec![label.to_string()];
        for rs in &per {
            let cells: Vec<String> = keys
                .iter()
                .map(|k| cell(&rs.iter().map(|r| r.get(k)).collect::<Vec<_>>(), num))
                .collect();
            row.push(cells.join(" / "));
        }
        if let Some(s) = sw {
            for &o in &others {
                let ratios: Vec<f64> = per[s]
                    .iter()
                    .zip(&per[o])
                    .map(|(a, b)| ratio(a.get(keys[0]), b.get(keys[0]), *better))
                    .collect();
                row.push(if *better == Better::None {
                    String::new()
                } else {
                    times(&cell(&ratios, |r| format!("{r:.2}")))
                });
            }
        }
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut s = String::new();
    for (i, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let pad = widths[c] - v.chars().count();
            if c == 0 {
                let _ = write!(s, "| {v}{} ", " ".repeat(pad));
            } else {
                let _ = write!(s, "| {}{v} ", " ".repeat(pad));
            }
        }
        s.push_str("|\n");
        if i == 0 {
            // Numbers right-aligned (`---:`), the label column left.
            for (c, w) in widths.iter().enumerate() {
                let tail = if c == 0 { "-" } else { ":" };
                let _ = write!(s, "|{}{tail}", "-".repeat(w + 1));
            }
            s.push_str("|\n");
        }
    }
    s
}

/// The summary of [`table`] as JSON: for each row key, each stack's `{median, min, max}` and
/// each ratio's (`"ratio_vs_baseline"`, …).
pub fn summary_json(runs: &[Report]) -> Value {
    let modes = modes_of(runs);
    let sw = of(runs, Mode::Slackwater);
    let mut out = Map::new();
    let stat = |v: &[f64]| match spread(v) {
        Some((m, lo, hi)) => json!({ "median": m, "min": lo, "max": hi }),
        None => Value::Null,
    };
    for (_, keys, better) in ROWS {
        for k in *keys {
            let mut o = Map::new();
            for &m in &modes {
                let v: Vec<f64> = of(runs, m).iter().map(|r| r.get(k)).collect();
                o.insert(m.name().into(), stat(&v));
                if m != Mode::Slackwater && *better != Better::None && !sw.is_empty() {
                    let r: Vec<f64> = sw
                        .iter()
                        .zip(of(runs, m))
                        .map(|(a, b)| ratio(a.get(k), b.get(k), *better))
                        .collect();
                    o.insert(format!("ratio_vs_{}", m.name()), stat(&r));
                }
            }
            out.insert(k.to_string(), Value::Object(o));
        }
    }
    Value::Object(out)
}

/// One report as JSON: `{"mode": …, "values": {name: number or null, …}}` (NaN, a value
/// that was not measured, is `null`).
///
/// ```
/// use slackwater_demo::{Mode, Report, Runtime, Transport, report::report_json};
/// let r = Report { mode: Mode::Slackwater, transport: Transport::Tcp, runtime: Runtime::Tokio,
///                  values: vec![("conns".into(), 3.0)] };
/// assert_eq!(report_json(&r).to_string(),
///            r#"{"mode":"slackwater","runtime":"tokio","transport":"tcp","values":{"conns":3.0}}"#);
/// ```
pub fn report_json(r: &Report) -> Value {
    let values: Map<String, Value> = r
        .values
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(*v)))
        .collect();
    json!({
        "mode": r.mode.name(),
        "transport": r.transport.name(),
        "runtime": r.runtime.name(),
        "values": values,
    })
}

/// Reads [`report_json`]'s output back (`null` becomes NaN).
///
/// # Errors
/// Text that is not such an object.
///
/// ```
/// use slackwater_demo::{Mode, Report, Runtime, Transport, report::{report_json, report_from_json}};
/// let r = Report { mode: Mode::Baseline, transport: Transport::Alts, runtime: Runtime::Poller,
///                  values: vec![("x".into(), f64::NAN)] };
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
    let transport = v["transport"]
        .as_str()
        .and_then(crate::Transport::parse)
        .ok_or("no transport")?;
    let runtime = v["runtime"]
        .as_str()
        .and_then(crate::Runtime::parse)
        .ok_or("no runtime")?;
    let values = v["values"]
        .as_object()
        .ok_or("no values")?
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(f64::NAN)))
        .collect();
    Ok(Report {
        mode,
        transport,
        runtime,
        values,
    })
}

/// One JSON object: the given top-level string fields (date, CPU, command, …), `"runs"`:
/// every run's report (`{"mode", "transport", "values": {name: number or null}}`, in the
/// order they ran), and `"summary"` ([`summary_json`]).
///
/// ```
/// use slackwater_demo::{Mode, Report, Runtime, Transport, report::json};
/// let r = Report { mode: Mode::Slackwater, transport: Transport::Alts, runtime: Runtime::Poller,
///                  values: vec![("idle.rss_per_conn".into(), 3.0)] };
/// let v: serde_json::Value = serde_json::from_str(&json(&[r], &[("cpu", "x")])).unwrap();
/// assert_eq!(v["cpu"], "x");
/// assert_eq!(v["runs"][0]["values"]["idle.rss_per_conn"], 3.0);
/// assert_eq!(v["summary"]["idle.rss_per_conn"]["slackwater"]["median"], 3.0);
/// ```
pub fn json(runs: &[Report], meta: &[(&str, &str)]) -> String {
    let mut o: Map<String, Value> = meta
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    o.insert("runs".into(), runs.iter().map(report_json).collect());
    o.insert("summary".into(), summary_json(runs));
    Value::Object(o).to_string()
}

/// One line of the chart: a name, a colour, a dash pattern, and `(connections, bytes per
/// connection)` points.
pub struct Series {
    /// Its end label (the last value is appended).
    pub name: String,
    /// SVG colour.
    pub color: &'static str,
    /// Dashed line.
    pub dashed: bool,
    /// `(connections, bytes per connection)` points, by connections.
    pub points: Vec<(f64, f64)>,
}

/// Tick values of a log axis covering `lo..=hi`: 1, 2 and 5 times each power of ten.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut t = Vec::new();
    let mut p = 10f64.powf(lo.log10().floor());
    while p <= hi * 1.0001 {
        for m in [1.0, 2.0, 5.0] {
            let v = m * p;
            if v >= lo * 0.9999 && v <= hi * 1.0001 {
                t.push(v);
            }
        }
        p *= 10.0;
    }
    t
}

/// Spreads label positions (sorted by `y`, in place) so that no two are closer than `gap`,
/// moving them as little as possible and keeping them within `top..=bottom`.
///
/// ```
/// use slackwater_demo::report::spread_labels;
/// let mut y = vec![100.0, 101.0, 102.0, 300.0];
/// spread_labels(&mut y, 14.0, 0.0, 400.0);
/// assert!(y.windows(2).all(|w| w[1] - w[0] >= 14.0 - 1e-9));
/// assert_eq!(y[3], 300.0);
/// ```
pub fn spread_labels(y: &mut [f64], gap: f64, top: f64, bottom: f64) {
    // Push down from the top, then back up from the bottom, then down again: each pass keeps
    // the order and the gap.
    for _ in 0..3 {
        for i in 1..y.len() {
            y[i] = y[i].max(y[i - 1] + gap);
        }
        if let Some(last) = y.last_mut() {
            *last = last.min(bottom);
        }
        for i in (0..y.len().saturating_sub(1)).rev() {
            y[i] = y[i].min(y[i + 1] - gap);
        }
        if let Some(first) = y.first_mut() {
            *first = first.max(top);
        }
    }
}

/// An SVG line chart of resident memory per connection (log scale) against open
/// connections, every line labelled at its end (labels spread so that none overlaps).
///
/// ```
/// use slackwater_demo::report::{Series, svg_chart};
/// let s = |name: &str, y: f64| Series { name: name.into(), color: "#000", dashed: false,
///                                      points: vec![(1000.0, y), (10000.0, y)] };
/// let svg = svg_chart("RSS", &[s("a", 2000.0), s("b", 2100.0), s("c", 96000.0)]);
/// assert!(svg.starts_with("<svg") && svg.contains("polyline") && svg.contains("a: 2,000 B"));
/// ```
pub fn svg_chart(title: &str, series: &[Series]) -> String {
    let (w, h, l, r, t, b) = (1040.0, 520.0, 90.0, 370.0, 70.0, 60.0);
    let all = || series.iter().flat_map(|s| s.points.iter());
    let xmax = nice(all().map(|p| p.0).fold(1.0, f64::max));
    let ys = || all().map(|p| p.1).filter(|y| *y > 0.0);
    let ylo = 10f64.powf(ys().fold(f64::INFINITY, f64::min).max(1.0).log10().floor());
    let yhi = nice(ys().fold(1.0, f64::max));
    let px = |x: f64| l + x / xmax * (w - l - r);
    let py = |y: f64| {
        let f = (y.max(ylo).log10() - ylo.log10()) / (yhi.log10() - ylo.log10());
        h - b - f * (h - t - b)
    };
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
    for y in log_ticks(ylo, yhi) {
        let _ = writeln!(
            s,
            r##"<line x1="{l}" y1="{yy:.1}" x2="{x2}" y2="{yy:.1}" stroke="#ddd"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{}</text>"##,
            num(y),
            yy = py(y),
            x2 = w - r,
            tx = l - 8.0,
            ty = py(y) + 4.0
        );
    }
    for i in 0..=5 {
        let x = xmax * i as f64 / 5.0;
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" y1="{}" x2="{xx:.1}" y2="{}" stroke="#eee"/><text x="{xx:.1}" y="{}" text-anchor="middle">{}</text>"##,
            t,
            h - b,
            h - b + 20.0,
            num(x),
            xx = px(x),
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
        r#"<text x="22" y="{0}" text-anchor="middle" transform="rotate(-90 22 {0})">server RSS per connection, bytes (log scale)</text>"#,
        (t + h - b) / 2.0
    );
    for se in series {
        let pts: Vec<String> = se
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let dash = if se.dashed {
            r#" stroke-dasharray="7 4""#
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
    }
    // End labels: the series' name and last value beside its last point, spread apart.
    let mut ends: Vec<(f64, f64, f64, &Series)> = series
        .iter()
        .filter_map(|se| se.points.last().map(|&(x, y)| (py(y), px(x), y, se)))
        .collect();
    ends.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut ly: Vec<f64> = ends.iter().map(|e| e.0).collect();
    spread_labels(&mut ly, 15.0, t, h - b);
    for (&(y0, x, v, se), y) in ends.iter().zip(ly) {
        let lx = x + 14.0;
        let _ = writeln!(
            s,
            r#"<line x1="{:.1}" y1="{y0:.1}" x2="{:.1}" y2="{y:.1}" stroke="{}" stroke-width="1"/><text x="{:.1}" y="{:.1}" font-size="12" fill="{}">{}: {} B</text>"#,
            x + 4.0,
            lx - 2.0,
            se.color,
            lx,
            y + 4.0,
            se.color,
            xml(&se.name),
            num(v),
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
        assert!(ratio(0.0, 5.0, Better::Lower).is_nan());
        assert_eq!(ratio(2.0, 1.0, Better::Higher), 2.0);
        assert_eq!(ratio(2.0, 1.0, Better::Lower), 0.5);
        assert_eq!(cell(&[1.0, 1.0], num), "1");
        assert_eq!(cell(&[f64::NAN], num), "-");
    }
}

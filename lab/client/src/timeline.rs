//! `timeline.html`: one self-contained page (inline SVG and CSS, no script, no fetch) drawn from a
//! [`Report`]: operations per second and failures over time, one lane per node with its ok, failed
//! and timed-out operations per time bucket, markers for faults, heals, znode removals and ring
//! updates, and a legend. Lanes carry `class="lane" data-node="<ip:port>"`, markers
//! `class="marker" data-kind="fault|heal|znode-removed|znode-added|ring-update"` (one per marker
//! and one per ring change, the initial ring included), so a test can count them.

use std::fmt::Write as _;

use crate::report::{MarkerKind, Report};

/// Width of the name column, px.
const LABEL_W: f64 = 170.0;
/// Width of the plot, px.
const PLOT_W: f64 = 1000.0;
/// Height of the throughput chart, px.
const CHART_H: f64 = 150.0;
/// Height of one node's lane, px.
const LANE_H: f64 = 26.0;
/// Room above the chart for marker labels, px.
const LABELS_H: f64 = 70.0;
/// Room below the lanes for the time axis, px.
const AXIS_H: f64 = 30.0;

/// One vertical marker line.
struct Line {
    kind: &'static str,
    at_ms: f64,
    label: String,
    detail: String,
}

/// The page for `report`.
pub fn render(report: &Report) -> String {
    let lines = lines(report);
    let start = lines.iter().map(|l| l.at_ms).fold(0.0, f64::min);
    let series_end = report.series.buckets.len() as f64 * report.series.bucket_ms;
    let end = lines.iter().map(|l| l.at_ms).fold(report.duration_ms.max(series_end), f64::max).max(start + 1.0);
    let x = |ms: f64| LABEL_W + (ms - start) / (end - start) * PLOT_W;
    let lanes_top = LABELS_H + CHART_H + 20.0;
    let height = lanes_top + LANE_H * report.series.nodes.len() as f64 + AXIS_H;
    let width = LABEL_W + PLOT_W + 20.0;

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="client operations over time">"#
    );
    chart(&mut svg, report, &x);
    lanes(&mut svg, report, lanes_top, &x);
    axis(&mut svg, start, end, height - AXIS_H, &x);
    markers(&mut svg, &lines, height - AXIS_H, &x);
    svg.push_str("</svg>");

    let mut page = String::new();
    page.push_str(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>arcus-lab: client timeline</title>
<style>
body { font: 13px/1.4 system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 18px; margin: 0 0 4px; }
p.figures { margin: 0 0 10px; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
svg .lane-name { font-family: ui-monospace, monospace; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 12px; height: 12px; vertical-align: -2px; margin-right: 4px; }
table { border-collapse: collapse; margin-top: 12px; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
td:first-child, th:first-child { text-align: left; font-family: ui-monospace, monospace; }
</style></head>
<body>
"#,
    );
    let secs = report.duration_ms / 1000.0;
    let _ = write!(
        page,
        "<h1>What the client saw</h1>\n<p class=\"figures\">{} operations in {:.1} s, {} failed ({} timed out), \
         availability {:.3} %; {} of {} keys affected; {} lost values.</p>\n",
        report.ops,
        secs,
        report.failed,
        report.timeouts,
        100.0 * report.availability(),
        report.keys_affected,
        report.keys,
        report.lost_values
    );
    page.push_str(&svg);
    page.push_str(
        r##"
<div class="legend">
<span><i style="background:#2e8b57"></i>ok</span>
<span><i style="background:#d62728"></i>failed (error, refused)</span>
<span><i style="background:#ff9f1c"></i>timed out</span>
<span><i style="background:#eee"></i>no operations</span>
<span><i style="background:#d62728;width:3px"></i>fault</span>
<span><i style="background:#2ca02c;width:3px"></i>heal</span>
<span><i style="background:#9467bd;width:3px"></i>znode removed</span>
<span><i style="background:#1f77b4;width:3px"></i>znode added</span>
<span><i style="background:#555;width:3px"></i>ring update</span>
</div>
"##,
    );
    table(&mut page, report);
    page.push_str("</body></html>\n");
    page
}

/// The report's markers and ring changes as vertical lines, in time order.
fn lines(report: &Report) -> Vec<Line> {
    let mut lines: Vec<Line> = report
        .markers
        .iter()
        .map(|m| Line {
            kind: match m.kind {
                MarkerKind::Fault => "fault",
                MarkerKind::Heal => "heal",
                MarkerKind::ZnodeRemoved => "znode-removed",
                MarkerKind::ZnodeAdded => "znode-added",
            },
            at_ms: m.at_ms,
            label: m.name.clone(),
            detail: m.nodes.join(", "),
        })
        .collect();
    for (i, change) in report.ring_changes.iter().enumerate() {
        let mut what: Vec<String> = change.removed.iter().map(|n| format!("−{n}")).collect();
        what.extend(change.added.iter().map(|n| format!("+{n}")));
        let count = change.nodes.len();
        let label = if i == 0 {
            format!("ring: {count} node{}", if count == 1 { "" } else { "s" })
        } else {
            format!("ring {}", what.join(" "))
        };
        lines.push(Line { kind: "ring-update", at_ms: change.at_ms, label, detail: change.nodes.join(", ") });
    }
    lines.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    lines
}

fn color(kind: &str) -> &'static str {
    match kind {
        "fault" => "#d62728",
        "heal" => "#2ca02c",
        "znode-removed" => "#9467bd",
        "znode-added" => "#1f77b4",
        _ => "#555",
    }
}

/// Operations and failures per second, as two areas.
fn chart(svg: &mut String, report: &Report, x: &impl Fn(f64) -> f64) {
    let series = &report.series;
    let per_sec = 1000.0 / series.bucket_ms;
    let totals: Vec<(f64, f64, f64)> = series
        .buckets
        .iter()
        .map(|b| {
            let ok: u32 = b.per_node.iter().map(|c| c[0]).sum();
            let failed: u32 = b.per_node.iter().map(|c| c[1] + c[2]).sum::<u32>() + b.unrouted;
            // The last bucket may be cut short by the end of the run: its rate is over what it covers.
            let covered = (report.duration_ms - b.t_ms).clamp(1.0, series.bucket_ms);
            let per_sec = per_sec * series.bucket_ms / covered;
            (b.t_ms, (ok + failed) as f64 * per_sec, failed as f64 * per_sec)
        })
        .collect();
    let peak = totals.iter().map(|t| t.1).fold(1.0, f64::max);
    let y = |v: f64| LABELS_H + CHART_H - v / peak * CHART_H;
    let _ = write!(
        svg,
        r##"<g class="chart"><rect x="{LABEL_W}" y="{LABELS_H}" width="{PLOT_W}" height="{CHART_H}" fill="#fafafa" stroke="#ccc"/>"##
    );
    for (name, pick, fill) in [("ops", 1usize, "#2e8b57"), ("failures", 2, "#d62728")] {
        let mut points = format!("{:.1},{:.1}", x(0.0), y(0.0));
        for (t, all, failed) in &totals {
            let v = if pick == 1 { *all } else { *failed };
            let _ = write!(points, " {:.1},{:.1} {:.1},{:.1}", x(*t), y(v), x(t + series.bucket_ms), y(v));
        }
        let last = totals.last().map_or(0.0, |t| t.0 + series.bucket_ms);
        let _ = write!(points, " {:.1},{:.1}", x(last), y(0.0));
        let _ = write!(
            svg,
            r#"<polygon class="series" data-series="{name}" points="{points}" fill="{fill}" fill-opacity="0.55" stroke="{fill}"/>"#
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="end">{:.0} ops/s</text><text x="{}" y="{}" text-anchor="end">0</text>"#,
        LABEL_W - 6.0,
        LABELS_H + 10.0,
        peak,
        LABEL_W - 6.0,
        LABELS_H + CHART_H
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="end">ops/s, failures/s</text></g>"#,
        LABEL_W - 6.0,
        LABELS_H + CHART_H / 2.0
    );
}

/// One lane per node: a cell per bucket, coloured by its operations' outcomes.
fn lanes(svg: &mut String, report: &Report, top: f64, x: &impl Fn(f64) -> f64) {
    let series = &report.series;
    for (i, node) in series.nodes.iter().enumerate() {
        let y = top + i as f64 * LANE_H;
        let faulted = report.nodes.iter().any(|n| &n.node == node && n.faulted);
        let _ = write!(
            svg,
            r##"<g class="lane" data-node="{node}" data-faulted="{faulted}"><rect x="{LABEL_W}" y="{y}" width="{PLOT_W}" height="{h}" fill="#eee"/><text class="lane-name" x="{lx}" y="{ty}" text-anchor="end">{name}</text>"##,
            node = escape(node),
            h = LANE_H - 4.0,
            lx = LABEL_W - 6.0,
            ty = y + LANE_H / 2.0 + 2.0,
            name = escape(node),
        );
        for bucket in &series.buckets {
            let [ok, failed, timeout] = bucket.per_node[i];
            let all = ok + failed + timeout;
            if all == 0 {
                continue;
            }
            let fill = if failed + timeout == 0 {
                "#2e8b57"
            } else if timeout > failed {
                "#ff9f1c"
            } else {
                "#d62728"
            };
            let share_bad = (failed + timeout) as f64 / all as f64;
            let opacity = if failed + timeout == 0 { 0.85 } else { 0.35 + 0.65 * share_bad };
            let _ = write!(
                svg,
                r#"<rect class="cell" x="{:.1}" y="{y}" width="{:.1}" height="{}" fill="{fill}" fill-opacity="{opacity:.2}"><title>{:.2} s: {ok} ok, {failed} failed, {timeout} timed out</title></rect>"#,
                x(bucket.t_ms),
                (x(bucket.t_ms + series.bucket_ms) - x(bucket.t_ms)).max(0.5),
                LANE_H - 4.0,
                bucket.t_ms / 1000.0,
            );
        }
        svg.push_str("</g>");
    }
}

/// Seconds along the bottom.
fn axis(svg: &mut String, start: f64, end: f64, y: f64, x: &impl Fn(f64) -> f64) {
    let span_s = (end - start) / 1000.0;
    let step = [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0]
        .into_iter()
        .find(|s| span_s / s <= 15.0)
        .unwrap_or(1200.0);
    let _ = write!(
        svg,
        r##"<g class="axis"><line x1="{LABEL_W}" y1="{y}" x2="{}" y2="{y}" stroke="#999"/>"##,
        LABEL_W + PLOT_W
    );
    let mut t = (start / 1000.0 / step).ceil() * step;
    while t * 1000.0 <= end {
        let tx = x(t * 1000.0);
        let _ = write!(
            svg,
            r##"<line x1="{tx:.1}" y1="{y}" x2="{tx:.1}" y2="{}" stroke="#999"/><text x="{tx:.1}" y="{}" text-anchor="middle">{label} s</text>"##,
            y + 4.0,
            y + 16.0,
            label = if t == 0.0 { 0.0 } else { t },
        );
        t += step;
    }
    svg.push_str("</g>");
}

/// A vertical line per marker, its label above the chart (staggered so neighbours do not overlap).
fn markers(svg: &mut String, lines: &[Line], bottom: f64, x: &impl Fn(f64) -> f64) {
    let mut last_x = f64::NEG_INFINITY;
    let mut row = 0;
    for line in lines {
        let lx = x(line.at_ms);
        row = if lx - last_x < 120.0 { (row + 1) % 5 } else { 0 };
        last_x = lx;
        let ty = 12.0 + row as f64 * 12.0;
        let stroke = color(line.kind);
        let dash = if line.kind == "ring-update" { r#" stroke-dasharray="4 3""# } else { "" };
        // Labels near the right edge run leftwards from their line.
        let (tx, anchor) = if lx > LABEL_W + PLOT_W - 220.0 { (lx - 3.0, "end") } else { (lx + 3.0, "start") };
        let _ = write!(
            svg,
            r#"<g class="marker" data-kind="{kind}" data-t-ms="{at:.1}"><title>{label} at {secs:.3} s{detail}</title><line x1="{lx:.1}" y1="{ty}" x2="{lx:.1}" y2="{bottom}" stroke="{stroke}" stroke-width="1.5"{dash}/><text x="{tx:.1}" y="{ty}" fill="{stroke}" text-anchor="{anchor}">{label}</text></g>"#,
            kind = line.kind,
            at = line.at_ms,
            label = escape(&line.label),
            secs = line.at_ms / 1000.0,
            detail = if line.detail.is_empty() { String::new() } else { format!(" ({})", escape(&line.detail)) },
        );
    }
}

/// The per-node figures under the picture.
fn table(page: &mut String, report: &Report) {
    page.push_str(
        "<table><tr><th>node</th><th>ops</th><th>failed</th><th>timeouts</th><th>unavailable</th>\
         <th>keys moved away / back</th><th>lost</th></tr>\n",
    );
    for n in &report.nodes {
        let _ = writeln!(
            page,
            "<tr><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2} s</td><td>{} / {}</td><td>{}</td></tr>",
            escape(&n.node),
            if n.faulted { " (faulted)" } else { "" },
            n.ops,
            n.failed,
            n.timeouts,
            n.unavailable_ms / 1000.0,
            n.keys_moved_away,
            n.keys_moved_back,
            n.lost_values
        );
    }
    page.push_str("</table>\n");
}

/// Text for HTML and SVG content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{FaultMarker, Record};
    use crate::{Moment, Op, Outcome};

    #[test]
    fn a_lane_per_node_a_marker_per_marker_and_ring_change_and_no_script() {
        let origin = Moment::now();
        let record = |t_ms: f64, node: &str, outcome: Outcome| Record {
            t_ms,
            wall_ms: 0,
            key: "k".to_string(),
            node: Some(node.to_string()),
            op: Op::Get,
            outcome,
            latency_us: 100,
            check: None,
        };
        let records = [
            record(0.0, "10.0.0.1:11211", Outcome::Hit),
            record(300.0, "10.0.0.2:11211", Outcome::Timeout),
            record(600.0, "10.0.0.2:11211", Outcome::Refused),
        ];
        let markers = [
            FaultMarker::at(origin, "kill <b> & \"c\"", MarkerKind::Fault, vec!["10.0.0.2:11211".to_string()]),
            FaultMarker::at(origin, "heal", MarkerKind::Heal, vec![]),
        ];
        let report = Report::compute(records.into_iter().map(Ok), &[], &markers, origin).unwrap();
        let page = render(&report);
        assert_eq!(page.matches(r#"<g class="lane""#).count(), 2);
        assert_eq!(page.matches(r#"<g class="marker" data-kind="fault""#).count(), 1);
        assert_eq!(page.matches(r#"<g class="marker" data-kind="heal""#).count(), 1);
        assert!(page.contains("kill &lt;b&gt; &amp; &quot;c&quot;"));
        assert!(!page.contains("<b>"));
        // self-contained: nothing to run, nothing to fetch
        assert!(!page.contains("<script") && !page.contains("src=") && !page.contains("href="));
        // a timed-out cell and a failed cell on the second lane
        assert!(page.contains(r##"fill="#ff9f1c""##) && page.contains(r##"fill="#d62728" fill-opacity"##));
    }
}

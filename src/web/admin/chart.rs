//! The dashboard's growth chart, drawn on the server as SVG: no script, no library, and
//! it scales with the page.

use std::fmt::Write;

use crate::db::stats::Growth;
use crate::templates::escape_html;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 52.0;

/// The three series, their colours and labels.
const SERIES: [(&str, &str); 3] = [
    ("#0b5cad", "Sign-ups"),
    ("#1b7f3b", "Confirmations"),
    ("#b3261e", "Unsubscribes"),
];

/// An SVG chart of sign-ups (bars), confirmations and unsubscribes (lines) a day, with axes,
/// gridlines, date labels and a legend; the numbers also in a `<title>` for screen
/// readers.
pub fn growth_svg(growth: &Growth) -> String {
    let days = growth.days.len().max(1);
    let series = [&growth.signups, &growth.confirmations, &growth.unsubscribes];
    let max = series
        .iter()
        .flat_map(|s| s.iter())
        .copied()
        .max()
        .unwrap_or(0);
    let top_value = nice_ceiling(max.max(1));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    // Each day has a slot of the plot's width; its bar and its points sit in the middle,
    // so the first and the last day (today) are drawn whole, never cut at an edge.
    let x = |i: usize| LEFT + plot_w * (i as f64 + 0.5) / days as f64;
    let y = |v: i64| TOP + plot_h - plot_h * v as f64 / top_value as f64;

    let total = |s: &[i64]| s.iter().sum::<i64>();
    let summary = format!(
        "Last {} days: {} sign-ups, {} confirmations, {} unsubscribes",
        growth.days.len(),
        total(&growth.signups),
        total(&growth.confirmations),
        total(&growth.unsubscribes)
    );
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="11"><title id="chart-title">{}</title>"#,
        escape_html(&summary)
    );
    // Horizontal gridlines and y labels: 0, ¼, ½, ¾, max.
    for step in 0..=4 {
        let value = top_value * step / 4;
        let gy = y(value);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="#e4e0d8"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#5b6475">{value}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            gy + 4.0
        );
    }
    // X axis with a date every 15 days and at the end.
    let axis_y = TOP + plot_h;
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{axis_y}" x2="{:.1}" y2="{axis_y}" stroke="#9aa1ad"/>"##,
        WIDTH - RIGHT
    );
    let last = growth.days.len().saturating_sub(1);
    for (i, day) in growth.days.iter().enumerate() {
        // A date every 15 days, and the last day (right-aligned, so it is not cut off).
        let labelled = (i % 15 == 0 && i + 7 < last) || i == last;
        if labelled {
            let anchor = if i == last { "end" } else { "middle" };
            let _ = write!(
                svg,
                r##"<line x1="{0:.1}" y1="{axis_y}" x2="{0:.1}" y2="{1:.1}" stroke="#9aa1ad"/><text x="{0:.1}" y="{2:.1}" text-anchor="{anchor}" fill="#5b6475">{3}</text>"##,
                x(i),
                axis_y + 4.0,
                axis_y + 17.0,
                day.format("%-d %b")
            );
        }
    }
    // Sign-ups as bars, confirmations and unsubscribes as lines over them.
    let bar = (plot_w / days as f64 * 0.7).max(1.0);
    for (i, v) in growth.signups.iter().enumerate().filter(|(_, v)| **v > 0) {
        let _ = write!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="{bar:.1}" height="{:.1}" fill="{}" opacity="0.45"/>"#,
            x(i) - bar / 2.0,
            y(*v),
            axis_y - y(*v),
            SERIES[0].0
        );
    }
    for ((colour, _), values) in SERIES.iter().zip(series).skip(1) {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" stroke-linejoin="round" points="{}"/>"#,
            points.join(" ")
        );
    }
    // Legend under the axis.
    let legend_y = HEIGHT - 12.0;
    for (n, (colour, label)) in SERIES.iter().enumerate() {
        let lx = LEFT + n as f64 * 150.0;
        let _ = write!(
            svg,
            r##"<rect x="{lx:.1}" y="{:.1}" width="14" height="4" fill="{colour}"/><text x="{:.1}" y="{legend_y:.1}" fill="#1d2330">{label}</text>"##,
            legend_y - 4.0,
            lx + 20.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The top of the y axis: four gridline steps, each a 1, 2 or 5 × 10ⁿ, together at least
/// `value`.
fn nice_ceiling(value: i64) -> i64 {
    let needed = (value + 3) / 4;
    let mut magnitude = 1;
    loop {
        for step in [1, 2, 5] {
            if step * magnitude >= needed {
                return 4 * step * magnitude;
            }
        }
        magnitude *= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn the_chart_has_a_line_per_series_axes_labels_and_a_legend() {
        let start = NaiveDate::from_ymd_opt(2026, 8, 29).unwrap();
        let days: Vec<NaiveDate> = start.iter_days().take(90).collect();
        let growth = Growth {
            signups: (0..90).map(|i| i % 7).collect(),
            confirmations: (0..90).map(|i| i % 5).collect(),
            unsubscribes: vec![0; 90],
            days,
        };
        let svg = growth_svg(&growth);
        assert_eq!(
            svg.matches("<polyline").count(),
            2,
            "confirmations and unsubscribes"
        );
        assert_eq!(
            svg.matches("<rect").count(),
            77 + 3,
            "a bar a day with sign-ups, and the legend"
        );
        for label in [
            "Sign-ups",
            "Confirmations",
            "Unsubscribes",
            "29 Aug",
            "26 Nov",
        ] {
            assert!(svg.contains(label), "{label} in {svg}");
        }
        assert!(svg.contains("Last 90 days: 267 sign-ups"), "{svg}");
    }

    #[test]
    fn todays_bar_lies_inside_the_plot() {
        let start = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
        let growth = Growth {
            signups: (0..90)
                .map(|i| if i == 0 || i == 89 { 40 } else { 0 })
                .collect(),
            confirmations: vec![0; 90],
            unsubscribes: vec![0; 90],
            days: start.iter_days().take(90).collect(),
        };
        let svg = growth_svg(&growth);
        let bars: Vec<(f64, f64)> = svg
            .split("<rect x=\"")
            .skip(1)
            .filter(|rect| rect.contains("opacity"))
            .map(|rect| {
                let number = |after: &str| -> f64 {
                    let from = &rect[rect.find(after).unwrap() + after.len()..];
                    from[..from.find('"').unwrap()].parse().unwrap()
                };
                (number(""), number("width=\""))
            })
            .collect();
        assert_eq!(bars.len(), 2, "{svg}");
        for (x, width) in bars {
            assert!(
                x >= LEFT && x + width <= WIDTH - RIGHT,
                "{x} + {width} in {svg}"
            );
        }
    }

    #[test]
    fn the_y_axis_rounds_up_to_a_readable_number() {
        assert_eq!(nice_ceiling(1), 4);
        assert_eq!(nice_ceiling(7), 8);
        assert_eq!(nice_ceiling(37), 40);
        assert_eq!(nice_ceiling(130), 200);
        assert_eq!(nice_ceiling(4100), 8000);
    }
}

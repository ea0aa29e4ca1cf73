//! Charts as inline SVG, drawn on the server: a line of an account's balance over time and
//! bars of counts. Hand-built rather than with a plotting crate: two chart shapes, a few dozen
//! lines, no fonts or image backends to compile. Every text in them is escaped.

use std::fmt::Write;

use chrono::NaiveDate;
use rust_decimal::{Decimal, prelude::ToPrimitive};

const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 26.0;

/// A chart's drawing size in SVG units, close to the size it is shown at, so that its text
/// (12 units, in the stylesheet) reads at about 12 px.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub width: f64,
    pub height: f64,
}

impl Frame {
    /// An account card's balance chart.
    pub const CARD: Frame = Frame {
        width: 520.0,
        height: 200.0,
    };
    /// A chart across the page.
    pub const WIDE: Frame = Frame {
        width: 1100.0,
        height: 240.0,
    };
    /// A chart in half the page.
    pub const HALF: Frame = Frame {
        width: 540.0,
        height: 220.0,
    };

    fn plot_width(self) -> f64 {
        self.width - LEFT - RIGHT
    }

    fn plot_height(self) -> f64 {
        self.height - TOP - BOTTOM
    }
}

/// A line chart of `points` (day, balance), oldest first; `None` with fewer than two points.
pub fn balance_line(
    frame: Frame,
    points: &[(NaiveDate, Decimal)],
    currency: &str,
) -> Option<String> {
    let (first, last) = (points.first()?, points.last()?);
    if points.len() < 2 {
        return None;
    }
    let values: Vec<f64> = points
        .iter()
        .map(|(_, v)| v.to_f64().unwrap_or(0.0))
        .collect();
    // The axis labels are money, read from the decimals; floats only place pixels.
    let (mut lowest, mut highest) = points
        .iter()
        .fold((Decimal::MAX, Decimal::MIN), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    if lowest == highest {
        lowest -= Decimal::ONE;
        highest += Decimal::ONE;
    }
    let (low, high) = (
        lowest.to_f64().unwrap_or(0.0),
        highest.to_f64().unwrap_or(0.0),
    );
    let span_days = (last.0 - first.0).num_days().max(1) as f64;
    let x =
        |day: NaiveDate| LEFT + (day - first.0).num_days() as f64 / span_days * frame.plot_width();
    let y = |value: f64| TOP + (high - value) / (high - low) * frame.plot_height();

    let mut svg = open_svg(frame, "Balance over time");
    for (value, label) in [(high, fmt_amount(highest)), (low, fmt_amount(lowest))] {
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{tx}" y="{ty:.1}" text-anchor="end">{label}</text>"#,
            x2 = frame.width - RIGHT,
            y = y(value),
            tx = LEFT - 6.0,
            ty = y(value) + 4.0,
        );
    }
    let path: Vec<String> = points
        .iter()
        .zip(&values)
        .map(|((day, _), value)| format!("{:.1},{:.1}", x(*day), y(*value)))
        .collect();
    let _ = write!(
        svg,
        r#"<polyline class="line" points="{}"/>"#,
        path.join(" ")
    );
    for (day, anchor) in [(first.0, "start"), (last.0, "end")] {
        let _ = write!(
            svg,
            r#"<text class="axis" x="{:.1}" y="{}" text-anchor="{anchor}">{day}</text>"#,
            x(day),
            frame.height - 8.0,
        );
    }
    let _ = write!(
        svg,
        r#"<text class="axis unit" x="{LEFT}" y="{}">{}</text></svg>"#,
        TOP - 2.0,
        escape(currency)
    );
    Some(svg)
}

/// One bar's segments: (value, css class) stacked bottom up.
pub struct Bar {
    pub label: String,
    pub segments: Vec<(i64, &'static str)>,
}

/// Vertical stacked bars, one per label, left to right.
pub fn columns(frame: Frame, title: &str, bars: &[Bar]) -> String {
    let max = bars
        .iter()
        .map(|bar| bar.segments.iter().map(|(v, _)| *v).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let mut svg = open_svg(frame, title);
    let slot = frame.plot_width() / bars.len().max(1) as f64;
    let bar_width = (slot * 0.7).min(40.0);
    let _ = write!(
        svg,
        r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{TOP}" y2="{TOP}"/><text class="axis" x="{}" y="{}" text-anchor="end">{max}</text><text class="axis" x="{}" y="{}" text-anchor="end">0</text>"#,
        frame.width - RIGHT,
        LEFT - 6.0,
        TOP + 4.0,
        LEFT - 6.0,
        TOP + frame.plot_height() + 4.0,
    );
    for (i, bar) in bars.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar_width) / 2.0;
        let mut base = TOP + frame.plot_height();
        for (value, class) in &bar.segments {
            let h = *value as f64 / max * frame.plot_height();
            base -= h;
            let _ = write!(
                svg,
                r#"<rect class="{class}" x="{x:.1}" y="{base:.1}" width="{bar_width:.1}" height="{h:.1}"><title>{} {value}</title></rect>"#,
                escape(&bar.label)
            );
        }
        // Every label when they fit; otherwise every few.
        let every = (bars.len() / 10).max(1);
        if i % every == 0 {
            let _ = write!(
                svg,
                r#"<text class="axis" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                x + bar_width / 2.0,
                frame.height - 8.0,
                escape(&bar.label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn open_svg(frame: Frame, title: &str) -> String {
    format!(
        r#"<svg class="chart" viewBox="0 0 {} {}" role="img" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        frame.width,
        frame.height,
        escape(title)
    )
}

fn fmt_amount(value: Decimal) -> String {
    format!("{:.2}", value.round_dp(2))
}

/// Text for SVG or HTML.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// End-of-day balances of an account from its booked rows' daily sums (newest day first) and
/// a balance known at `reference` (after every booked row): walking back from the reference,
/// each day's closing balance is the reference less everything booked after that day.
pub fn balance_history(
    reference: (NaiveDate, Decimal),
    daily_net: &[(NaiveDate, Decimal)],
) -> Vec<(NaiveDate, Decimal)> {
    let (reference_day, mut balance) = reference;
    let mut points = vec![(reference_day, balance)];
    for (day, net) in daily_net {
        if *day < reference_day {
            points.push((*day, balance));
        }
        balance -= net;
    }
    if let Some(earliest) = daily_net.last().and_then(|(day, _)| day.pred_opt())
        && earliest < reference_day
    {
        points.push((earliest, balance));
    }
    points.reverse();
    points.dedup_by_key(|(day, _)| *day);
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    #[test]
    fn a_balance_charts_axis_labels_are_exact_to_the_cent() {
        // 17 significant digits: through a float the high label would read ...992.00.
        let high: Decimal = "9007199254740993.01".parse().unwrap();
        let low: Decimal = "0.07".parse().unwrap();
        let frame = Frame {
            width: 400.0,
            height: 200.0,
        };
        let svg = balance_line(frame, &[(day(1), low), (day(2), high)], "EUR").unwrap();
        assert!(svg.contains(">9007199254740993.01<"), "{svg}");
        assert!(svg.contains(">0.07<"), "{svg}");
    }

    #[test]
    fn balances_walk_back_from_the_reference_through_each_days_bookings() {
        let history = balance_history(
            (day(10), Decimal::new(100, 0)),
            &[
                (day(8), Decimal::new(-20, 0)),
                (day(5), Decimal::new(50, 0)),
            ],
        );
        assert_eq!(
            history,
            vec![
                (day(4), Decimal::new(70, 0)),
                (day(5), Decimal::new(120, 0)),
                (day(8), Decimal::new(100, 0)),
                (day(10), Decimal::new(100, 0)),
            ]
        );
    }

    #[test]
    fn chart_text_is_escaped() {
        let svg = columns(
            Frame::HALF,
            "t",
            &[Bar {
                label: "<script>".into(),
                segments: vec![(1, "ok")],
            }],
        );
        assert!(!svg.contains("<script>"), "{svg}");
    }
}

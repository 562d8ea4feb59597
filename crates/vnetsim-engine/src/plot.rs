//! Latency CDF and throughput-over-time plots as SVG text.
//!
//! What it is for: drawing what a replay measured, one line per flow direction, as a
//! self-contained SVG document (plotters' SVG backend; text stays SVG `<text>`, so no font files
//! are read). [`cdf_points`] turns the (value, count) pairs of a latency histogram into
//! cumulative points in microseconds; [`latency_cdf_svg`] draws them; [`throughput_svg`] draws
//! delivered bits per second over simulated time. Lines differ by colour, dash pattern and
//! marker (the CDF marks each line's median and 99th percentile), so identical lines stay
//! tellable apart; tick labels are rounded numbers; a chart with nothing to draw says so in
//! its middle instead of drawing empty axes. The same input gives the same bytes: nothing
//! depends on the clock, the machine or its fonts.
//!
//! What it is not: a measurement (the replay records latencies and deliveries) or a general
//! plotting API; it draws two kinds of chart with fixed size and colours.

use std::fmt;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Width and height of the chart in SVG pixels.
const SIZE: (u32, u32) = (900, 560);

/// Label of the horizontal axis.
pub const X_LABEL: &str = "one-way latency (µs)";

/// Label of the vertical axis.
pub const Y_LABEL: &str = "fraction of packets";

/// Why a plot could not be drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum PlotError {
    /// A point is not a latency of zero or more microseconds with a cumulative fraction in
    /// 0..=1 (or is not a finite number).
    InvalidPoint {
        /// The series' name.
        series: String,
        /// Index of the point in the series.
        index: usize,
        /// Its latency in µs.
        x: f64,
        /// Its fraction.
        y: f64,
    },
    /// The drawing backend failed.
    Draw(String),
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlotError::InvalidPoint {
                series,
                index,
                x,
                y,
            } => write!(
                f,
                "point {index} of series `{series}` is ({x}, {y}); a CDF point is a latency of 0 µs or more and a fraction from 0 to 1"
            ),
            PlotError::Draw(e) => write!(f, "drawing the latency CDF failed: {e}"),
        }
    }
}

impl std::error::Error for PlotError {}

fn draw_error(e: impl fmt::Display) -> PlotError {
    PlotError::Draw(e.to_string())
}

/// Turns (latency in ns, count) pairs, as a histogram's iteration over recorded values gives
/// them, into CDF points: (latency in µs, fraction of packets at or below it). Pairs are sorted
/// by value if they are not, equal values are merged and zero counts skipped; the last point's
/// fraction is exactly 1.0. No pairs (or only zero counts) give no points.
pub fn cdf_points(sorted_latencies_ns: impl Iterator<Item = (u64, u64)>) -> Vec<(f64, f64)> {
    let mut pairs: Vec<(u64, u64)> = sorted_latencies_ns.filter(|(_, c)| *c > 0).collect();
    pairs.sort_by_key(|(v, _)| *v);
    let total: u128 = pairs.iter().map(|(_, c)| u128::from(*c)).sum();
    let mut points: Vec<(f64, f64)> = Vec::with_capacity(pairs.len());
    let mut cumulative: u128 = 0;
    let mut last_value = None;
    for (value, count) in pairs {
        cumulative += u128::from(count);
        let point = (value as f64 / 1000.0, cumulative as f64 / total as f64);
        match points.last_mut() {
            Some(last) if last_value == Some(value) => *last = point,
            _ => points.push(point),
        }
        last_value = Some(value);
    }
    points
}

/// The step line of an empirical CDF: up from zero at the first latency, then flat to each next
/// latency and up to its fraction.
fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    let mut level = 0.0;
    for &(x, y) in points {
        out.push((x, level));
        out.push((x, y));
        level = y;
    }
    out
}

/// A tick label: the value rounded to at most 4 significant digits after the point that
/// matters, without trailing zeros (`0.3`, not `0.30000000000000004`; `1250`, `2.5`).
pub fn tick_label(value: f64) -> String {
    if !value.is_finite() {
        return String::new();
    }
    if value == 0.0 {
        return "0".into();
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (3 - magnitude).clamp(0, 9) as usize;
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    if text == "-0" { "0".into() } else { text }
}

/// How series `i` is drawn: its colour, its dash pattern (solid, dashed, dotted, dash-dot in
/// turn) and its marker shape (circle, triangle, square, cross in turn, offset from the dash
/// cycle so that two series share neither both).
#[derive(Clone, Copy)]
struct Look {
    color: RGBAColor,
    /// Dash length and gap in pixels; `None` is a solid line.
    dash: Option<(u32, u32)>,
    marker: usize,
}

impl Look {
    fn of(i: usize) -> Look {
        const DASHES: [Option<(u32, u32)>; 4] = [None, Some((10, 5)), Some((2, 4)), Some((14, 4))];
        Look {
            color: Palette99::pick(i).to_rgba(),
            dash: DASHES[i % DASHES.len()],
            marker: (i + i / DASHES.len()) % 4,
        }
    }

    fn style(self) -> ShapeStyle {
        self.color.stroke_width(2)
    }
}

/// The message a chart with nothing to draw shows in its middle.
fn empty_chart(title: &str, message: &str) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let root = root.titled(title, ("sans-serif", 22)).map_err(draw_error)?;
        let (w, h) = root.dim_in_pixel();
        let style = TextStyle::from(("sans-serif", 18).into_font())
            .pos(Pos::new(HPos::Center, VPos::Center));
        root.draw(&Text::new(
            message.to_string(),
            (w as i32 / 2, h as i32 / 2),
            style,
        ))
        .map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

/// What an empty latency chart says.
pub const NO_LATENCY: &str = "no packet of any flow was delivered: no latency to plot";

/// What an empty throughput chart says.
pub const NO_THROUGHPUT: &str = "no flow delivered any traffic: no throughput to plot";

fn check_points(series: &[(String, Vec<(f64, f64)>)], y_unit: bool) -> Result<(), PlotError> {
    for (name, points) in series {
        if let Some((index, &(x, y))) = points.iter().enumerate().find(|(_, (x, y))| {
            !(x.is_finite() && y.is_finite() && *x >= 0.0 && *y >= 0.0 && (!y_unit || *y <= 1.0))
        }) {
            return Err(PlotError::InvalidPoint {
                series: name.clone(),
                index,
                x,
                y,
            });
        }
    }
    Ok(())
}

/// The value of the CDF `points` at `fraction`: the first latency whose cumulative fraction
/// reaches it.
fn quantile(points: &[(f64, f64)], fraction: f64) -> Option<(f64, f64)> {
    points.iter().copied().find(|&(_, y)| y >= fraction)
}

/// Draws latency CDFs, one line per `(name, points)` series with a legend, and returns the SVG
/// document. Points are (one-way latency in µs, cumulative fraction from 0 to 1) in increasing
/// latency, as [`cdf_points`] gives them. Each line carries its marker at its median and its
/// 99th percentile. The horizontal axis runs from 0 to a little past the largest latency. No
/// point in any series draws [`NO_LATENCY`] instead of empty axes. A non-finite point, a
/// negative latency or a fraction outside 0..=1 is refused with [`PlotError::InvalidPoint`].
pub fn latency_cdf_svg(
    title: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<String, PlotError> {
    check_points(series, true)?;
    if series.iter().all(|(_, p)| p.is_empty()) {
        return empty_chart(title, NO_LATENCY);
    }
    let largest = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(x, _)| *x))
        .fold(0.0_f64, f64::max);
    let x_max = if largest > 0.0 { largest * 1.05 } else { 1.0 };
    line_chart(
        title,
        (X_LABEL, Y_LABEL),
        (x_max, 1.0),
        series
            .iter()
            .map(|(name, points)| {
                let marks = [0.5, 0.99]
                    .into_iter()
                    .filter_map(|q| quantile(points, q))
                    .collect();
                (name.as_str(), steps(points), marks)
            })
            .collect(),
        SeriesLabelPosition::LowerRight,
    )
}

/// One series of a line chart: its name, its line and where its markers go.
type Line<'a> = (&'a str, Vec<(f64, f64)>, Vec<(f64, f64)>);

/// A line chart from 0 to `max` on both axes with rounded tick labels, one line per series in
/// its [`Look`], markers where each series asks, and a legend.
fn line_chart(
    title: &str,
    (x_label, y_label): (&str, &str),
    (x_max, y_max): (f64, f64),
    lines: Vec<Line<'_>>,
    legend_at: SeriesLabelPosition,
) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .axis_desc_style(("sans-serif", 16))
            .label_style(("sans-serif", 13))
            .x_label_formatter(&|x| tick_label(*x))
            .y_label_formatter(&|y| tick_label(*y))
            .draw()
            .map_err(draw_error)?;
        for (i, (name, points, marks)) in lines.into_iter().enumerate() {
            let look = Look::of(i);
            let style = look.style();
            let drawn = match look.dash {
                None => chart
                    .draw_series(LineSeries::new(points, style))
                    .map_err(draw_error)?,
                Some((dash, gap)) => chart
                    .draw_series(DashedLineSeries::new(points, dash, gap, style))
                    .map_err(draw_error)?,
            };
            // The legend's sample: a short stretch of line with the marker in its middle (the
            // marker tells dashed lines apart at legend size).
            let filled = look.color.filled();
            let line = move |x: i32, y: i32| {
                EmptyElement::at((x + 14, y)) + PathElement::new(vec![(-14, 0), (14, 0)], style)
            };
            let drawn = drawn.label(name);
            match look.marker {
                0 => drawn.legend(move |(x, y)| line(x, y) + Circle::new((0, 0), 5, filled)),
                1 => {
                    drawn.legend(move |(x, y)| line(x, y) + TriangleMarker::new((0, 0), 6, filled))
                }
                2 => drawn
                    .legend(move |(x, y)| line(x, y) + Rectangle::new([(-4, -4), (4, 4)], filled)),
                _ => drawn.legend(move |(x, y)| {
                    line(x, y) + Cross::new((0, 0), 5, look.color.stroke_width(2))
                }),
            };
            match look.marker {
                0 => chart.draw_series(marks.into_iter().map(|at| Circle::new(at, 5, filled))),
                1 => chart.draw_series(
                    marks
                        .into_iter()
                        .map(|at| TriangleMarker::new(at, 6, filled)),
                ),
                2 => {
                    chart.draw_series(marks.into_iter().map(|at| {
                        EmptyElement::at(at) + Rectangle::new([(-4, -4), (4, 4)], filled)
                    }))
                }
                _ => chart.draw_series(
                    marks
                        .into_iter()
                        .map(|at| Cross::new(at, 5, look.color.stroke_width(2))),
                ),
            }
            .map_err(draw_error)?;
        }
        chart
            .configure_series_labels()
            .position(legend_at)
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

/// A unit for bits per second that keeps the largest value between 1 and 1000.
fn rate_unit(max_bps: f64) -> (f64, &'static str) {
    match max_bps {
        m if m >= 1e9 => (1e9, "Gbps"),
        m if m >= 1e6 => (1e6, "Mbps"),
        m if m >= 1e3 => (1e3, "Kbps"),
        _ => (1.0, "bps"),
    }
}

/// Draws delivered throughput over simulated time, one line per `(name, points)` series, and
/// returns the SVG document. Points are (simulated seconds, delivered bits per second over the
/// interval ending there). The rate axis takes the unit that keeps the largest value between 1
/// and 1000. No series with a point above zero draws [`NO_THROUGHPUT`]. A non-finite or
/// negative point is refused with [`PlotError::InvalidPoint`].
pub fn throughput_svg(
    title: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<String, PlotError> {
    check_points(series, false)?;
    let max_bps = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
        .fold(0.0_f64, f64::max);
    if max_bps <= 0.0 {
        return empty_chart(title, NO_THROUGHPUT);
    }
    let x_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(x, _)| *x))
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let (scale, unit) = rate_unit(max_bps);
    let y_label = format!("delivered throughput ({unit})");
    line_chart(
        title,
        ("simulated time (s)", &y_label),
        (x_max, max_bps / scale * 1.08),
        series
            .iter()
            .map(|(name, points)| {
                let scaled: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (x, y / scale)).collect();
                // A marker every tenth of the line, so that dashes over few points still show
                // whose line it is.
                let every = (scaled.len() / 10).max(1);
                let marks = scaled.iter().copied().step_by(every).collect();
                (name.as_str(), scaled, marks)
            })
            .collect(),
        SeriesLabelPosition::UpperRight,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small well-formedness check: every element opened is closed in order, and the
    /// document is one `<svg>` element.
    fn assert_xmlish(svg: &str) {
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = svg;
        let mut roots = 0;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').expect("tag closes") + start;
            let tag = &rest[start + 1..end];
            rest = &rest[end + 1..];
            if tag.starts_with('?') || tag.starts_with('!') {
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name.trim()), "closing </{name}>");
                continue;
            }
            let name = tag.split_whitespace().next().expect("tag name");
            if stack.is_empty() {
                roots += 1;
                assert_eq!(name, "svg", "root element");
            }
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        assert_eq!(roots, 1);
        assert!(!rest.contains('>'), "stray text after the root");
    }

    fn two_series() -> Vec<(String, Vec<(f64, f64)>)> {
        vec![
            (
                "web-to-db".to_owned(),
                cdf_points([(30_000, 10), (31_000, 80), (45_000, 10)].into_iter()),
            ),
            (
                "branch <via gw> & nva".to_owned(),
                cdf_points([(5_230_000, 50), (5_400_000, 50)].into_iter()),
            ),
        ]
    }

    #[test]
    fn svg_has_axes_labels_and_every_series() {
        let svg = latency_cdf_svg("hub-spoke: one-way latency CDF", &two_series()).expect("svg");
        assert!(svg.contains("<svg"), "{svg}");
        assert_xmlish(&svg);
        assert!(svg.contains(X_LABEL), "x axis label");
        assert!(svg.contains(Y_LABEL), "y axis label");
        assert!(svg.contains("hub-spoke: one-way latency CDF"), "title");
        assert!(svg.contains("web-to-db"), "first series");
        assert!(
            svg.contains("branch &lt;via gw&gt; &amp; nva"),
            "second series, escaped"
        );
        assert!(
            svg.matches("<polyline").count() >= 4,
            "two lines and two legend marks"
        );
    }

    #[test]
    fn same_input_same_bytes() {
        let a = latency_cdf_svg("t", &two_series()).expect("svg");
        assert_eq!(a, latency_cdf_svg("t", &two_series()).expect("svg"));
        let mut other = two_series();
        other[0].1[0].1 = 0.5;
        let b = latency_cdf_svg("t", &other).expect("svg");
        assert!(a != b, "a different CDF draws a different line");
    }

    /// A chart with nothing to draw says so in its middle, with its title, and draws no axes.
    #[test]
    fn empty_input_says_so_instead_of_drawing() {
        for series in [vec![], vec![("idle".to_owned(), vec![])]] {
            let svg = latency_cdf_svg("nothing delivered", &series).expect("svg");
            assert_xmlish(&svg);
            assert!(svg.contains(NO_LATENCY), "{svg}");
            assert!(svg.contains("nothing delivered"), "title");
            assert!(!svg.contains(X_LABEL), "no axes");
            let svg = throughput_svg("idle", &series).expect("svg");
            assert!(svg.contains(NO_THROUGHPUT), "{svg}");
        }
        let zeros = vec![("f".to_owned(), vec![(0.0, 0.0), (1.0, 0.0)])];
        assert!(
            throughput_svg("t", &zeros)
                .expect("svg")
                .contains(NO_THROUGHPUT)
        );
    }

    /// Tick labels are rounded numbers, never a float's long tail.
    #[test]
    fn tick_labels_are_round() {
        assert_eq!(tick_label(0.1 + 0.2), "0.3");
        assert_eq!(tick_label(0.0), "0");
        assert_eq!(tick_label(1.0), "1");
        assert_eq!(tick_label(1250.0), "1250");
        assert_eq!(tick_label(2.5), "2.5");
        assert_eq!(tick_label(0.000_123_456), "0.0001235");
        assert_eq!(tick_label(123_456.7), "123457");
        assert_eq!(tick_label(-0.000_000_000_1), "0");
        assert_eq!(tick_label(f64::NAN), "");
        let svg = latency_cdf_svg("t", &two_series()).expect("svg");
        assert!(!svg.contains("0000000"), "a long tick label in {svg}");
    }

    /// Two series with the same points stay tellable apart: different dash patterns (a dashed
    /// line is drawn as many short segments) and different markers.
    #[test]
    fn identical_lines_differ_by_dash_and_marker() {
        let same = cdf_points([(30_000, 10), (31_000, 80), (45_000, 10)].into_iter());
        let series = vec![("a".to_owned(), same.clone()), ("b".to_owned(), same)];
        let svg = latency_cdf_svg("t", &series).expect("svg");
        assert_xmlish(&svg);
        let first = Look::of(0);
        let second = Look::of(1);
        assert!(first.dash.is_none() && second.dash.is_some());
        assert_ne!(first.marker, second.marker);
        // a's solid line is one polyline; b's dashed one is many segments.
        assert!(svg.matches("<polyline").count() > 6, "{svg}");
        // a marks its median and p99 with circles (and its legend sample with one more).
        assert!(svg.matches("<circle").count() >= 3, "{svg}");
        // b's triangles are polygons.
        assert!(svg.contains("<polygon"), "{svg}");
        // Series i and i+4 share the dash pattern but not the marker.
        for i in 0..8 {
            assert_ne!(Look::of(i).marker, Look::of(i + 4).marker, "{i}");
        }
    }

    /// The throughput chart picks the unit that keeps the largest value in 1..1000 and labels
    /// its axes.
    #[test]
    fn throughput_chart_has_units_and_every_series() {
        let series = vec![
            (
                "bulk".to_owned(),
                vec![(0.1, 9.0e8), (0.2, 1.0e9), (0.3, 9.5e8)],
            ),
            (
                "bulk (replies)".to_owned(),
                vec![(0.1, 1.0e6), (0.2, 2.0e6)],
            ),
        ];
        let svg = throughput_svg("shaping: throughput", &series).expect("svg");
        assert_xmlish(&svg);
        assert!(svg.contains("delivered throughput (Gbps)"), "{svg}");
        assert!(svg.contains("simulated time (s)"));
        assert!(svg.contains("bulk (replies)"));
        assert_eq!(rate_unit(5.0e5), (1e3, "Kbps"));
        assert_eq!(rate_unit(12.0), (1.0, "bps"));
        let bad = vec![("f".to_owned(), vec![(0.1, -1.0)])];
        assert!(throughput_svg("t", &bad).is_err());
    }

    #[test]
    fn bad_points_are_refused() {
        for (x, y) in [
            (f64::NAN, 0.5),
            (1.0, f64::INFINITY),
            (-1.0, 0.5),
            (1.0, 1.5),
            (1.0, -0.1),
        ] {
            let series = vec![("f".to_owned(), vec![(0.5, 0.2), (x, y)])];
            let err = latency_cdf_svg("t", &series).unwrap_err();
            assert!(
                matches!(err, PlotError::InvalidPoint { index: 1, ref series, .. } if series == "f"),
                "{err:?}"
            );
            assert!(err.to_string().contains("point 1 of series `f`"), "{err}");
        }
    }

    #[test]
    fn cdf_points_are_cumulative_fractions_in_microseconds() {
        let points = cdf_points([(1_000, 1), (2_000, 2), (5_500, 1)].into_iter());
        assert_eq!(points, vec![(1.0, 0.25), (2.0, 0.75), (5.5, 1.0)]);
    }

    #[test]
    fn cdf_points_take_any_order_and_odd_counts() {
        assert!(cdf_points(std::iter::empty()).is_empty());
        assert!(cdf_points([(5, 0)].into_iter()).is_empty());
        let points = cdf_points([(3_000, 1), (1_000, 1), (3_000, 2), (2_000, 0)].into_iter());
        assert_eq!(points, vec![(1.0, 0.25), (3.0, 1.0)]);
        let huge = cdf_points([(1, u64::MAX), (2, u64::MAX)].into_iter());
        assert_eq!(huge.len(), 2);
        assert_eq!(huge[0].1, 0.5);
        assert_eq!(huge[1].1, 1.0);
    }

    #[test]
    fn cdf_of_a_histogram_is_monotonic_and_ends_at_one() {
        let mut h = hdrhistogram::Histogram::<u64>::new(3).expect("histogram");
        let mut x: u64 = 12345;
        for _ in 0..10_000 {
            // A fixed linear congruential sequence: latencies between 30 and 2030 µs.
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            h.record(30_000 + (x >> 33) % 2_000_000).expect("record");
        }
        let points = cdf_points(
            h.iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value())),
        );
        assert!(points.len() > 100);
        assert_eq!(points.last().map(|p| p.1), Some(1.0));
        assert!(
            points
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1)
        );
        assert!(points[0].0 >= 30.0 && points[0].1 > 0.0);
        let median = points.iter().find(|p| p.1 >= 0.5).expect("a median");
        assert!((900.0..1160.0).contains(&median.0), "median {median:?}");
        let svg = latency_cdf_svg("h", &[("flow".to_owned(), points)]).expect("svg");
        assert_xmlish(&svg);
    }
}

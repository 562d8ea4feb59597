//! Latency CDF plots as SVG text.
//!
//! What it is for: drawing the one-way latency distributions a replay measured, one line per
//! flow, as a self-contained SVG document (plotters' SVG backend; text stays SVG `<text>`, so
//! no font files are read). [`cdf_points`] turns the (value, count) pairs of a latency
//! histogram into cumulative points in microseconds; [`latency_cdf_svg`] draws them. The same
//! input gives the same bytes: nothing depends on the clock, the machine or its fonts.
//!
//! What it is not: a measurement (the replay records latencies) or a general plotting API; it
//! draws one kind of chart with fixed size and colours.

use std::fmt;

use plotters::prelude::*;

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

/// Draws latency CDFs, one line per `(name, points)` series with a legend, and returns the SVG
/// document. Points are (one-way latency in µs, cumulative fraction from 0 to 1) in increasing
/// latency, as [`cdf_points`] gives them. The horizontal axis runs from 0 to a little past the
/// largest latency. A non-finite point, a negative latency or a fraction outside 0..=1 is
/// refused with [`PlotError::InvalidPoint`].
pub fn latency_cdf_svg(
    title: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<String, PlotError> {
    for (name, points) in series {
        if let Some((index, &(x, y))) = points.iter().enumerate().find(|(_, (x, y))| {
            !(x.is_finite() && y.is_finite() && *x >= 0.0 && (0.0..=1.0).contains(y))
        }) {
            return Err(PlotError::InvalidPoint {
                series: name.clone(),
                index,
                x,
                y,
            });
        }
    }
    let largest = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(x, _)| *x))
        .fold(0.0_f64, f64::max);
    let x_max = if largest > 0.0 { largest * 1.05 } else { 1.0 };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..x_max, 0.0..1.0)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc(X_LABEL)
            .y_desc(Y_LABEL)
            .axis_desc_style(("sans-serif", 16))
            .label_style(("sans-serif", 13))
            .x_label_formatter(&|x| format!("{x}"))
            .draw()
            .map_err(draw_error)?;
        for (i, (name, points)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(steps(points), color.stroke_width(2)))
                .map_err(draw_error)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2))
                });
        }
        if !series.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .label_font(("sans-serif", 14))
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .draw()
                .map_err(draw_error)?;
        }
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
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

    #[test]
    fn empty_input_still_draws_the_axes() {
        for series in [vec![], vec![("idle".to_owned(), vec![])]] {
            let svg = latency_cdf_svg("nothing delivered", &series).expect("svg");
            assert_xmlish(&svg);
            assert!(svg.contains(X_LABEL) && svg.contains(Y_LABEL));
        }
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

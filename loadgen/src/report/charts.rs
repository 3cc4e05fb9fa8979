//! The report's SVG charts, drawn with plotters' SVG backend only. Without plotters' `ttf`
//! feature, text is laid out by estimate and written as SVG `<text>`, so no font files are read
//! and the charts render the same on any machine. A chart with no data is not written.

use std::path::Path;

use anyhow::Context;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::results::{RunResults, SaturationEnd, WorkloadResult};

/// Committed TPS in each second of each workload's window.
pub const TPS_TIMELINE_SVG: &str = "tps_timeline.svg";
/// Latency CDF of each workload.
pub const LATENCY_CDF_SVG: &str = "latency_cdf.svg";
/// Saturation search: offered vs committed, the y = x line and the knee.
pub const SATURATION_SVG: &str = "saturation.svg";
/// Every file this module may write, so a rerun can clear stale ones first.
pub const CHART_FILES: [&str; 3] = [TPS_TIMELINE_SVG, LATENCY_CDF_SVG, SATURATION_SVG];

const SIZE_PX: (u32, u32) = (960, 540);
const FONT: &str = "sans-serif";

/// A chart that was written: its file name in the report directory and its title.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub file: &'static str,
    pub title: &'static str,
}

/// Draws every chart that has data into `dir`; returns the ones written, in report order.
pub fn write_all(dir: &Path, results: &RunResults) -> anyhow::Result<Vec<Chart>> {
    let drawn = [
        (
            TPS_TIMELINE_SVG,
            "Committed TPS over time",
            tps_timeline(results)?,
        ),
        (LATENCY_CDF_SVG, "Latency CDF", latency_cdf(results)?),
        (
            SATURATION_SVG,
            "Saturation: offered vs committed TPS",
            saturation(results)?,
        ),
    ];
    let mut charts = Vec::new();
    for (file, title, svg) in drawn {
        let Some(svg) = svg else { continue };
        let path = dir.join(file);
        std::fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))?;
        charts.push(Chart { file, title });
    }
    Ok(charts)
}

/// plotters' errors borrow the backend's error type; keep only their message.
fn pe<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing chart: {e}")
}

/// Legend labels: the workload name, plus the offered rate where a name repeats (one result
/// per load level).
fn labels(results: &RunResults) -> Vec<String> {
    results
        .workloads
        .iter()
        .map(|w| {
            let repeats = results
                .workloads
                .iter()
                .filter(|o| o.workload == w.workload)
                .count()
                > 1;
            if repeats {
                format!("{} @ {:.0} offered", w.workload, w.offered_tps)
            } else {
                w.workload.clone()
            }
        })
        .collect()
}

/// Rates are labelled as whole transactions per second.
fn whole(v: &f64) -> String {
    format!("{v:.0}")
}

fn finite_max(values: impl Iterator<Item = f64>) -> f64 {
    values.filter(|v| v.is_finite()).fold(0.0, f64::max)
}

/// Headroom above the largest value, and a non-empty range when everything is zero.
fn axis_max(max: f64) -> f64 {
    if max > 0.0 {
        max * 1.1
    } else {
        1.0
    }
}

fn series_style(i: usize) -> ShapeStyle {
    Palette99::pick(i).stroke_width(2)
}

fn legend<'a, DB: DrawingBackend + 'a, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> anyhow::Result<()>
where
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()
        .map_err(pe)
}

fn new_area<'a>(svg: &'a mut String) -> anyhow::Result<DrawingArea<SVGBackend<'a>, Shift>> {
    let root = SVGBackend::with_string(svg, SIZE_PX).into_drawing_area();
    root.fill(&WHITE).map_err(pe)?;
    Ok(root)
}

/// Committed TPS per second of the window, one line per workload result.
pub fn tps_timeline(results: &RunResults) -> anyhow::Result<Option<String>> {
    let series: Vec<(String, &WorkloadResult)> = labels(results)
        .into_iter()
        .zip(&results.workloads)
        .filter(|(_, w)| w.tps_timeline.iter().any(|v| v.is_finite()))
        .collect();
    if series.is_empty() {
        return Ok(None);
    }
    let x_max = series
        .iter()
        .map(|(_, w)| w.tps_timeline.len())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let y_max = axis_max(finite_max(
        series
            .iter()
            .flat_map(|(_, w)| w.tps_timeline.iter().copied()),
    ));
    let mut svg = String::new();
    {
        let root = new_area(&mut svg)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Committed TPS over time", (FONT, 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(pe)?;
        chart
            .configure_mesh()
            .x_desc("time in window (s)")
            .y_desc("committed TPS")
            .y_label_formatter(&whole)
            .draw()
            .map_err(pe)?;
        for (i, (label, w)) in series.iter().enumerate() {
            // Second i covers (i, i+1]; plot its count at its end.
            let points = w
                .tps_timeline
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(s, v)| ((s + 1) as f64, *v));
            let style = series_style(i);
            chart
                .draw_series(LineSeries::new(points, style))
                .map_err(pe)?
                .label(label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        legend(&mut chart)?;
        root.present().map_err(pe)?;
    }
    Ok(Some(svg))
}

/// Fraction of transactions committed within a latency, one curve per workload result; the
/// latency axis is logarithmic because tails span orders of magnitude.
pub fn latency_cdf(results: &RunResults) -> anyhow::Result<Option<String>> {
    let usable = |&(ms, frac): &(f64, f64)| ms.is_finite() && ms > 0.0 && frac.is_finite();
    let series: Vec<(String, &WorkloadResult)> = labels(results)
        .into_iter()
        .zip(&results.workloads)
        .filter(|(_, w)| w.latency_cdf.iter().any(usable))
        .collect();
    if series.is_empty() {
        return Ok(None);
    }
    let all_ms = || {
        series
            .iter()
            .flat_map(|(_, w)| w.latency_cdf.iter().filter(|p| usable(p)).map(|p| p.0))
    };
    let x_min = all_ms().fold(f64::INFINITY, f64::min);
    let mut x_max = all_ms().fold(0.0, f64::max);
    if x_max <= x_min {
        x_max = x_min * 10.0;
    }
    let mut svg = String::new();
    {
        let root = new_area(&mut svg)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Latency CDF", (FONT, 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d((x_min..x_max).log_scale(), 0f64..1.0)
            .map_err(pe)?;
        chart
            .configure_mesh()
            .x_desc("latency (ms, log scale)")
            .y_desc("fraction committed within")
            .draw()
            .map_err(pe)?;
        for (i, (label, w)) in series.iter().enumerate() {
            let points = w
                .latency_cdf
                .iter()
                .copied()
                .filter(|p| usable(p))
                .map(|(ms, f)| (ms, f.clamp(0.0, 1.0)));
            let style = series_style(i);
            chart
                .draw_series(LineSeries::new(points, style))
                .map_err(pe)?
                .label(label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        legend(&mut chart)?;
        root.present().map_err(pe)?;
    }
    Ok(Some(svg))
}

/// The saturation search: each step's (offered, committed), the y = x line a node that keeps
/// up would follow, and each workload's knee as a vertical marker.
pub fn saturation(results: &RunResults) -> anyhow::Result<Option<String>> {
    let usable = |&(o, c): &(f64, f64)| o.is_finite() && c.is_finite();
    let series: Vec<(String, &WorkloadResult)> = labels(results)
        .into_iter()
        .zip(&results.workloads)
        .filter(|(_, w)| w.saturation.iter().any(usable))
        .collect();
    if series.is_empty() {
        return Ok(None);
    }
    let max = axis_max(finite_max(series.iter().flat_map(|(_, w)| {
        w.saturation
            .iter()
            .flat_map(|&(o, c)| [o, c])
            .chain(w.knee_tps)
    })));
    let mut svg = String::new();
    {
        let root = new_area(&mut svg)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Saturation: offered vs committed TPS", (FONT, 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(0f64..max, 0f64..max)
            .map_err(pe)?;
        chart
            .configure_mesh()
            .x_desc("offered TPS")
            .y_desc("committed TPS")
            .x_label_formatter(&whole)
            .y_label_formatter(&whole)
            .draw()
            .map_err(pe)?;
        let ideal = BLACK.mix(0.4).stroke_width(1);
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (max, max)], ideal))
            .map_err(pe)?
            .label("y = x (keeps up)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], ideal));
        for (i, (label, w)) in series.iter().enumerate() {
            let mut steps: Vec<(f64, f64)> =
                w.saturation.iter().copied().filter(|p| usable(p)).collect();
            steps.sort_by(|a, b| a.0.total_cmp(&b.0));
            let style = series_style(i);
            chart
                .draw_series(LineSeries::new(steps.clone(), style))
                .map_err(pe)?
                .label(label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            chart
                .draw_series(steps.iter().map(|&p| Circle::new(p, 4, style.filled())))
                .map_err(pe)?;
            if let Some(knee) = w.knee_tps.filter(|k| k.is_finite()) {
                chart
                    .draw_series([PathElement::new(vec![(knee, 0.0), (knee, max)], style)])
                    .map_err(pe)?;
                // A capped search found no knee: mark its lower bound as such.
                let label = if w.saturation_end() == Some(SaturationEnd::StepsExhausted) {
                    format!("knee not reached; ≥ {knee:.0}")
                } else {
                    format!("knee {knee:.0}")
                };
                chart
                    .draw_series([Text::new(
                        label,
                        (knee, max * (0.95 - 0.05 * (i % 10) as f64)),
                        (FONT, 14).into_font().color(&Palette99::pick(i)),
                    )])
                    .map_err(pe)?;
            }
        }
        legend(&mut chart)?;
        root.present().map_err(pe)?;
    }
    Ok(Some(svg))
}

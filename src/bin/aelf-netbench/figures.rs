//! The report's figures, drawn as SVG with plotters: the propagation latency CDF (one line per
//! network size and block size) and the sync rate chart (ours beside raw RequestBlocks for
//! each sync and follow case). `docs/bench.md` links them from `docs/bench/`.
//!
//! Owns only drawing: the figures come from what the scenarios put in the [`Report`]; it must
//! not measure anything.

use crate::report::{Figure, Report};
use plotters::prelude::*;
use std::path::Path;

const SIZE: (u32, u32) = (900, 520);
const CDF_FILE: &str = "propagation-cdf.svg";
const SYNC_FILE: &str = "sync-rate.svg";

/// Draws every figure the report has data for into `dir` (created if missing).
pub fn write(report: &Report, dir: &Path) -> Result<Vec<Figure>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut written = Vec::new();
    let cdfs: Vec<(&str, &[f64])> = report
        .series()
        .iter()
        .filter(|s| s.scenario == "propagate" && !s.samples.is_empty())
        .map(|s| (s.label.as_str(), s.samples.as_slice()))
        .collect();
    if !cdfs.is_empty() {
        propagation_cdf(&dir.join(CDF_FILE), &cdfs).map_err(|e| e.to_string())?;
        written.push(Figure {
            title: "Propagation: mined → accepted, CDF per network",
            file: CDF_FILE,
        });
    }
    let rates: Vec<(String, f64, f64)> = report
        .rows()
        .iter()
        .filter(|r| r.scenario == "sync" || r.scenario == "follow")
        .filter_map(|r| {
            let figure = |name: &str| r.figures.iter().find(|(k, _)| *k == name).map(|f| f.1);
            Some((
                format!("{}: {}", r.scenario, r.case),
                figure("ours_blocks_per_s")?,
                figure("raw_blocks_per_s")?,
            ))
        })
        .collect();
    if !rates.is_empty() {
        sync_rates(&dir.join(SYNC_FILE), &rates).map_err(|e| e.to_string())?;
        written.push(Figure {
            title: "Sync and follow: blocks per second, ours and raw",
            file: SYNC_FILE,
        });
    }
    Ok(written)
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// One line per case: the share of deliveries within x ms.
fn propagation_cdf(path: &Path, series: &[(&str, &[f64])]) -> DrawResult {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let max_ms = series
        .iter()
        .flat_map(|(_, s)| s.iter().copied())
        .fold(1.0_f64, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Propagation latency CDF (mined → accepted)",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..max_ms * 1.05, 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc("milliseconds")
        .y_desc("share of deliveries")
        .draw()?;
    for (i, (label, samples)) in series.iter().enumerate() {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len() as f64;
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                sorted
                    .iter()
                    .enumerate()
                    .map(|(k, ms)| (*ms, (k + 1) as f64 / n)),
                color.stroke_width(2),
            ))?
            .label(label.to_string())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Two bars per case: ours and raw RequestBlocks, blocks per second.
fn sync_rates(path: &Path, cases: &[(String, f64, f64)]) -> DrawResult {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let max_rate = cases
        .iter()
        .map(|(_, ours, raw)| ours.max(*raw))
        .fold(1.0_f64, f64::max);
    let n = cases.len();
    let mut chart = ChartBuilder::on(&root)
        .caption("Sync rate: ours and raw RequestBlocks", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..n as f64, 0.0..max_rate * 1.1)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .y_desc("blocks per second")
        .draw()?;
    // Each case named above its pair of bars.
    chart.draw_series(cases.iter().enumerate().map(|(i, (name, ours, raw))| {
        Text::new(
            name.clone(),
            (i as f64 + 0.1, ours.max(*raw) + max_rate * 0.03),
            ("sans-serif", 11),
        )
    }))?;
    let ours_color = Palette99::pick(0).to_rgba();
    let raw_color = Palette99::pick(1).to_rgba();
    chart
        .draw_series(cases.iter().enumerate().map(|(i, (_, ours, _))| {
            let x = i as f64;
            Rectangle::new([(x + 0.1, 0.0), (x + 0.48, *ours)], ours_color.filled())
        }))?
        .label("ours")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], ours_color.filled()));
    chart
        .draw_series(cases.iter().enumerate().map(|(i, (_, _, raw))| {
            let x = i as f64;
            Rectangle::new([(x + 0.52, 0.0), (x + 0.9, *raw)], raw_color.filled())
        }))?
        .label("raw")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], raw_color.filled()));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}

//! Line panels: learning curves, overlaid and aggregated curves (with ±std
//! bands) and F1 by threshold, in a grid through plotters' charts.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::common::{e, legend, text_style, titled, Area, Key, Result, TITLE_H};
use crate::report::style::{self, FONT, LABEL, LEGEND_WIDTH, TICK};

/// A line on a panel, with an optional ±band (x, low, high).
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub colour: RGBColor,
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
    pub band: Vec<(f64, f64, f64)>,
}

/// A vertical marker (best epoch, early stop, divergence).
#[derive(Debug, Clone)]
pub struct Mark {
    pub x: f64,
    pub label: String,
    pub colour: RGBColor,
}

#[derive(Debug, Clone)]
pub struct Panel {
    pub title: String,
    pub y_desc: String,
    pub series: Vec<Series>,
    pub marks: Vec<Mark>,
    /// Epochs (1, 2, ...) or a threshold in [0, 1].
    pub x: XAxis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    Epoch,
    Threshold,
}

const PANEL_W: u32 = 420;
const PANEL_H: u32 = 320;

fn finite_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    let pad = if hi > lo {
        (hi - lo) * 0.06
    } else {
        lo.abs() * 0.1 + 1e-3
    };
    Some((lo - pad, hi + pad))
}

fn tenths(x: &f64) -> String {
    format!("{x:.1}")
}

fn integer_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{:.0}", x)
    } else {
        String::new()
    }
}

/// A tick label with three significant digits (scientific below 0.01, as
/// learning rates are, and when huge).
fn y_label(y: &f64) -> String {
    let a = y.abs();
    if a < 1e-12 {
        "0".to_string()
    } else if !(1e-2..1e5).contains(&a) {
        format!("{y:.1e}")
    } else {
        let digits = (2 - a.log10().floor() as i32).max(0) as usize;
        format!("{y:.digits$}")
    }
}

fn draw_panel(area: &Area, panel: &Panel, max_x: f64) -> Result<()> {
    let values = panel.series.iter().flat_map(|s| {
        s.points
            .iter()
            .map(|p| p.1)
            .chain(s.band.iter().flat_map(|b| [b.1, b.2]))
    });
    let Some((y0, y1)) = finite_range(values) else {
        area.draw(&Text::new(
            format!("{}: no epochs recorded", panel.title),
            (PANEL_W as i32 / 2, PANEL_H as i32 / 2),
            text_style(LABEL, style::GREY, HPos::Center, VPos::Center),
        ))
        .map_err(e)?;
        return Ok(());
    };
    let (x_range, x_desc, x_labels) = match panel.x {
        XAxis::Epoch => (
            0.5..max_x.max(1.0) + 0.5,
            "epoch",
            (max_x as usize).clamp(1, 10) + 1,
        ),
        XAxis::Threshold => (0.0..1.0, "threshold", 11),
    };
    let mut chart = ChartBuilder::on(area)
        .caption(
            &panel.title,
            (FONT, style::CAPTION).into_font().color(&style::TEXT),
        )
        .margin(10)
        .x_label_area_size(50)
        .y_label_area_size(82)
        .build_cartesian_2d(x_range, y0..y1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(panel.y_desc.as_str())
        .x_labels(x_labels)
        .y_labels(6)
        .x_label_formatter(if panel.x == XAxis::Epoch {
            &integer_label
        } else {
            &tenths
        })
        .y_label_formatter(&y_label)
        .label_style((FONT, TICK).into_font().color(&style::TEXT))
        .axis_desc_style((FONT, LABEL).into_font().color(&style::TEXT))
        .bold_line_style(style::LIGHT_GREY)
        .light_line_style(WHITE)
        .draw()
        .map_err(e)?;
    for mark in &panel.marks {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(mark.x, y0), (mark.x, y1)],
                5,
                4,
                mark.colour.stroke_width(1),
            ))
            .map_err(e)?;
    }
    for s in &panel.series {
        if s.band.len() > 1 {
            let mut outline: Vec<(f64, f64)> = s.band.iter().map(|b| (b.0, b.2)).collect();
            outline.extend(s.band.iter().rev().map(|b| (b.0, b.1)));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    outline,
                    s.colour.mix(0.22).filled(),
                )))
                .map_err(e)?;
        }
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|p| p.1.is_finite())
            .collect();
        let line = s.colour.stroke_width(2);
        if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(points.clone(), 7, 4, line))
                .map_err(e)?;
        } else {
            chart
                .draw_series(LineSeries::new(points.clone(), line))
                .map_err(e)?;
        }
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&p| Circle::new(p, 2.5, s.colour.filled())),
            )
            .map_err(e)?;
    }
    Ok(())
}

/// Panels in a grid of `cols` columns, a legend column on the right.
pub fn panels(
    title: &str,
    panels: &[Panel],
    cols: usize,
    keys: &[(String, Key)],
) -> Result<String> {
    let rows = panels.len().div_ceil(cols).max(1);
    // Wide enough for the title (about 12 px a character at its size).
    let size = (
        (cols as u32 * PANEL_W + LEGEND_WIDTH).max(12 * title.chars().count() as u32 + 40),
        rows as u32 * PANEL_H + TITLE_H,
    );
    let max_x = panels
        .iter()
        .flat_map(|p| p.series.iter().flat_map(|s| s.points.iter().map(|q| q.0)))
        .fold(1.0f64, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let body = titled(&root, title)?;
        let (plots, keys_area) = body.split_horizontally(cols as u32 * PANEL_W);
        for (area, panel) in plots.split_evenly((rows, cols)).iter().zip(panels) {
            draw_panel(area, panel, max_x)?;
        }
        legend(&keys_area, keys)?;
        root.present().map_err(e)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_have_three_significant_digits() {
        assert_eq!(y_label(&0.0015), "1.5e-3");
        assert_eq!(y_label(&0.012), "0.0120");
        assert_eq!(y_label(&2.4), "2.40");
        assert_eq!(y_label(&0.45), "0.450");
        assert_eq!(y_label(&0.0), "0");
        assert_eq!(y_label(&5e-4), "5.0e-4");
    }
}

//! Forest plots: one row per item (a configuration, a factor's level), one
//! panel per metric, each value a point with its interval as a line; a
//! reference line at zero for differences. Laid out by hand, like the bars,
//! so that long labels get the room they need.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::common::{e, legend, nice_step, text_style, titled, Key, Result, TITLE_H};
use crate::report::style::{self, CAPTION, LABEL, LEGEND_WIDTH, SMALL, TICK};

/// A value with its interval; `strong` draws it filled (significant).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub value: f64,
    pub low: f64,
    pub high: f64,
    pub strong: bool,
}

/// A row: an item, or a heading over the items below it.
#[derive(Debug, Clone)]
pub struct ForestRow {
    pub label: String,
    pub heading: bool,
}

/// One metric: a value per row (`None` for headings and missing values).
#[derive(Debug, Clone)]
pub struct ForestPanel {
    pub title: String,
    pub values: Vec<Option<Interval>>,
}

#[derive(Debug, Clone)]
pub struct Forest {
    pub title: String,
    pub rows: Vec<ForestRow>,
    pub panels: Vec<ForestPanel>,
    /// Draw a reference line at zero (for differences).
    pub zero: bool,
    /// What the point styles mean, for the legend column.
    pub keys: Vec<(String, Key)>,
}

const ROW_H: i32 = 26;
const PANEL_W: i32 = 210;
const GAP: i32 = 24;

/// Round steps (1, 2 or 5 × 10^k) inside [lo, hi], three to six of them.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(1e-9);
    let step = nice_step(span / 5.0);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// The panel's value range: every interval, zero when drawn, padded.
fn range(panel: &ForestPanel, zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = if zero {
        (0.0, 0.0)
    } else {
        (f64::INFINITY, f64::NEG_INFINITY)
    };
    for v in panel.values.iter().flatten() {
        for x in [v.low, v.high, v.value] {
            if x.is_finite() {
                lo = lo.min(x);
                hi = hi.max(x);
            }
        }
    }
    if lo > hi {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(1e-3);
    (lo - pad, hi + pad)
}

pub fn forest(f: &Forest) -> Result<String> {
    let longest = f
        .rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0) as i32;
    let left = (longest * 8 + 24).clamp(120, 420);
    let top = 34;
    let plot_h = ROW_H * f.rows.len().max(1) as i32;
    let panels = f.panels.len().max(1) as i32;
    let width = left + panels * (PANEL_W + GAP) + LEGEND_WIDTH as i32;
    let size = (width as u32, (top + plot_h + 60) as u32 + TITLE_H);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let body = titled(&root, &f.title)?;
        let (plot, keys) = body.split_horizontally((width - LEGEND_WIDTH as i32) as u32);
        for (r, row) in f.rows.iter().enumerate() {
            let y = top + r as i32 * ROW_H + ROW_H / 2;
            let (x, h, size, colour) = if row.heading {
                (10, HPos::Left, LABEL, style::TEXT)
            } else {
                (left - 10, HPos::Right, TICK, style::TEXT)
            };
            plot.draw(&Text::new(
                row.label.clone(),
                (x, y),
                text_style(size, colour, h, VPos::Center),
            ))
            .map_err(e)?;
        }
        for (i, panel) in f.panels.iter().enumerate() {
            let x0 = left + i as i32 * (PANEL_W + GAP);
            let (lo, hi) = range(panel, f.zero);
            let x_of = |v: f64| {
                x0 + (((v - lo) / (hi - lo)).clamp(0.0, 1.0) * PANEL_W as f64).round() as i32
            };
            for r in (1..f.rows.len()).step_by(2).filter(|&r| !f.rows[r].heading) {
                let y = top + r as i32 * ROW_H;
                plot.draw(&Rectangle::new(
                    [(x0, y), (x0 + PANEL_W, y + ROW_H)],
                    RGBColor(246, 246, 246).filled(),
                ))
                .map_err(e)?;
            }
            plot.draw(&Text::new(
                panel.title.clone(),
                (x0 + PANEL_W / 2, top - 10),
                text_style(CAPTION, style::TEXT, HPos::Center, VPos::Bottom),
            ))
            .map_err(e)?;
            let steps = ticks(lo, hi);
            let decimals = steps
                .windows(2)
                .next()
                .map_or(2, |w| (-(w[1] - w[0]).log10().floor()).max(0.0) as usize);
            for v in steps {
                let x = x_of(v);
                plot.draw(&PathElement::new(
                    vec![(x, top), (x, top + plot_h)],
                    style::LIGHT_GREY.stroke_width(1),
                ))
                .map_err(e)?;
                let v = if v.abs() < 1e-12 { 0.0 } else { v };
                plot.draw(&Text::new(
                    format!("{v:.decimals$}").replace('-', "−"),
                    (x, top + plot_h + 6),
                    text_style(SMALL, style::TEXT, HPos::Center, VPos::Top),
                ))
                .map_err(e)?;
            }
            if f.zero {
                let x = x_of(0.0);
                let mut y = top;
                while y < top + plot_h {
                    plot.draw(&PathElement::new(
                        vec![(x, y), (x, (y + 6).min(top + plot_h))],
                        style::TEXT.stroke_width(1),
                    ))
                    .map_err(e)?;
                    y += 10;
                }
            }
            plot.draw(&Rectangle::new(
                [(x0, top), (x0 + PANEL_W, top + plot_h)],
                style::GREY.stroke_width(1),
            ))
            .map_err(e)?;
            for (r, value) in panel.values.iter().enumerate() {
                let Some(v) = value.filter(|v| v.value.is_finite()) else {
                    continue;
                };
                let y = top + r as i32 * ROW_H + ROW_H / 2;
                let colour = if v.strong {
                    style::PALETTE[1]
                } else {
                    style::GREY
                };
                let (a, z) = (x_of(v.low), x_of(v.high));
                for path in [
                    vec![(a, y), (z, y)],
                    vec![(a, y - 5), (a, y + 5)],
                    vec![(z, y - 5), (z, y + 5)],
                ] {
                    plot.draw(&PathElement::new(path, colour.stroke_width(2)))
                        .map_err(e)?;
                }
                let centre = (x_of(v.value), y);
                plot.draw(&Circle::new(centre, 5, WHITE.filled()))
                    .map_err(e)?;
                let style = if v.strong {
                    colour.filled()
                } else {
                    colour.stroke_width(2)
                };
                plot.draw(&Circle::new(centre, 5, style)).map_err(e)?;
            }
        }
        legend(&keys, &f.keys)?;
        root.present().map_err(e)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside() {
        let rounded =
            |lo, hi| -> Vec<String> { ticks(lo, hi).iter().map(|t| format!("{t:.3}")).collect() };
        assert_eq!(
            rounded(-0.031, 0.052),
            ["-0.020", "0.000", "0.020", "0.040"]
        );
        assert_eq!(rounded(0.38, 0.51), ["0.400", "0.450", "0.500"]);
    }
}

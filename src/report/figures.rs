//! The figures, as SVG text: line panels (learning curves, overlaid and
//! aggregated curves) through plotters' charts, and bar charts and heatmaps
//! laid out by hand on a plotters drawing area, so that every label lands
//! where it is meant to. Legends always get their own column.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{self, FONT, LABEL, LEGEND_WIDTH, SMALL, TICK, TITLE};

pub type Result<T> = std::result::Result<T, String>;

fn e(err: impl std::fmt::Display) -> String {
    format!("cannot draw: {err}")
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

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

/// What a legend row shows.
#[derive(Debug, Clone)]
pub enum Key {
    Line { colour: RGBColor, dashed: bool },
    Band { colour: RGBColor },
    Mark { colour: RGBColor },
    Box { colour: RGBColor },
}

const PANEL_W: u32 = 420;
const PANEL_H: u32 = 320;
const TITLE_H: u32 = 44;

fn text_style(size: u32, colour: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    (FONT, size).into_font().color(&colour).pos(Pos::new(h, v))
}

/// Draws the figure title and returns the area below it.
fn titled<'a>(root: &Area<'a>, title: &str) -> Result<Area<'a>> {
    root.fill(&WHITE).map_err(e)?;
    root.titled(title, (FONT, TITLE).into_font().color(&style::TEXT))
        .map_err(e)
}

fn legend(area: &Area, entries: &[(String, Key)]) -> Result<()> {
    let mut y = 30;
    for (label, key) in entries {
        let (x0, x1, mid) = (10, 40, y + 7);
        match key {
            Key::Line { colour, dashed } => {
                if *dashed {
                    for s in [x0, x0 + 12, x0 + 24] {
                        area.draw(&PathElement::new(
                            vec![(s, mid), ((s + 7).min(x1), mid)],
                            colour.stroke_width(2),
                        ))
                        .map_err(e)?;
                    }
                } else {
                    area.draw(&PathElement::new(
                        vec![(x0, mid), (x1, mid)],
                        colour.stroke_width(2),
                    ))
                    .map_err(e)?;
                }
            }
            Key::Band { colour } | Key::Box { colour } => {
                let fill = if matches!(key, Key::Band { .. }) {
                    colour.mix(0.25).filled()
                } else {
                    colour.filled()
                };
                area.draw(&Rectangle::new([(x0, y + 1), (x1, y + 13)], fill))
                    .map_err(e)?;
            }
            Key::Mark { colour } => {
                area.draw(&PathElement::new(
                    vec![((x0 + x1) / 2, y - 2), ((x0 + x1) / 2, y + 16)],
                    colour.stroke_width(2),
                ))
                .map_err(e)?;
            }
        }
        // Long labels wrap at 26 characters, on word boundaries.
        for (i, line) in wrap(label, 26).into_iter().enumerate() {
            area.draw(&Text::new(
                line,
                (x1 + 8, mid + 17 * i as i32),
                text_style(TICK, style::TEXT, HPos::Left, VPos::Center),
            ))
            .map_err(e)?;
            y += 17;
        }
        y += 8;
    }
    Ok(())
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last_mut().expect("one line");
        if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

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

/// Round tick steps (1, 2 or 5 × 10^k) covering [0, max]: (step, count).
fn nice_ticks(max: f64) -> (f64, usize) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / 5.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    (step, (max / step).ceil() as usize)
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

/// One bar per category, with optional error bars (± this much).
pub struct BarSeries {
    pub label: String,
    pub colour: RGBColor,
    pub values: Vec<f64>,
    pub errors: Option<Vec<f64>>,
}

/// One group of horizontal bars per category (e.g. precision, recall and F1
/// of each genre), values in [0, `max`], with optional error bars.
pub struct Bars {
    pub title: String,
    pub x_desc: String,
    pub categories: Vec<String>,
    pub series: Vec<BarSeries>,
    /// Upper end of the value axis (`None`: from the data).
    pub max: Option<f64>,
}

pub fn bars(b: &Bars) -> Result<String> {
    let n = b.categories.len().max(1);
    let k = b.series.len().max(1);
    let row_h = (10 * k as u32 + 8).max(22);
    let (left, top, plot_w) = (200i32, 20i32, 620i32);
    let plot_h = row_h as i32 * n as i32;
    let size = (
        left as u32 + plot_w as u32 + 30 + LEGEND_WIDTH,
        plot_h as u32 + TITLE_H + 80,
    );
    let data_max = b.max.unwrap_or_else(|| {
        b.series
            .iter()
            .flat_map(|s| {
                s.values
                    .iter()
                    .zip(
                        s.errors
                            .clone()
                            .unwrap_or_else(|| vec![0.0; s.values.len()]),
                    )
                    .map(|(v, d)| v + d)
            })
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max)
            .max(1e-9)
    });
    let (step, ticks) = nice_ticks(data_max);
    let max = step * ticks as f64;
    let x_of = |v: f64| left + ((v / max).clamp(0.0, 1.0) * plot_w as f64).round() as i32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let body = titled(&root, &b.title)?;
        let (plot, keys) = body.split_horizontally(left as u32 + plot_w as u32 + 30);
        // Grid and value axis.
        for i in 0..=ticks {
            let v = step * i as f64;
            let x = x_of(v);
            plot.draw(&PathElement::new(
                vec![(x, top), (x, top + plot_h)],
                style::LIGHT_GREY.stroke_width(1),
            ))
            .map_err(e)?;
            let decimals = (-step.log10().floor()).max(0.0) as usize;
            plot.draw(&Text::new(
                format!("{v:.decimals$}"),
                (x, top + plot_h + 6),
                text_style(TICK, style::TEXT, HPos::Center, VPos::Top),
            ))
            .map_err(e)?;
        }
        plot.draw(&Text::new(
            b.x_desc.clone(),
            (left + plot_w / 2, top + plot_h + 30),
            text_style(LABEL, style::TEXT, HPos::Center, VPos::Top),
        ))
        .map_err(e)?;
        for (c, category) in b.categories.iter().enumerate() {
            let y = top + c as i32 * row_h as i32;
            plot.draw(&Text::new(
                category.clone(),
                (left - 8, y + row_h as i32 / 2),
                text_style(TICK, style::TEXT, HPos::Right, VPos::Center),
            ))
            .map_err(e)?;
            for (s, series) in b.series.iter().enumerate() {
                let (colour, stds) = (series.colour, &series.errors);
                let v = series.values.get(c).copied().unwrap_or(f64::NAN);
                let y0 = y + 4 + s as i32 * 10;
                if v.is_finite() {
                    plot.draw(&Rectangle::new(
                        [(left, y0), (x_of(v), y0 + 9)],
                        colour.filled(),
                    ))
                    .map_err(e)?;
                }
                if let Some(d) = stds.as_ref().and_then(|d| d.get(c)).filter(|d| **d > 0.0) {
                    let (a, z) = (x_of(v - d), x_of(v + d));
                    let mid = y0 + 4;
                    for path in [
                        vec![(a, mid), (z, mid)],
                        vec![(a, mid - 4), (a, mid + 4)],
                        vec![(z, mid - 4), (z, mid + 4)],
                    ] {
                        plot.draw(&PathElement::new(path, style::TEXT.stroke_width(1)))
                            .map_err(e)?;
                    }
                }
            }
        }
        plot.draw(&PathElement::new(
            vec![(left, top), (left, top + plot_h)],
            style::TEXT.stroke_width(1),
        ))
        .map_err(e)?;
        let entries: Vec<(String, Key)> = b
            .series
            .iter()
            .map(|s| (s.label.clone(), Key::Box { colour: s.colour }))
            .collect();
        legend(&keys, &entries)?;
        root.present().map_err(e)?;
    }
    Ok(svg)
}

/// A table-like heatmap: `rows × cols` cells coloured by `shade` in [0, 1]
/// and labelled with `text` (an empty string leaves a cell grey).
pub struct Heatmap {
    pub title: String,
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    pub text: Vec<Vec<String>>,
    pub shade: Vec<Vec<f64>>,
    /// What the rows and columns are, and what the shade means.
    pub row_desc: String,
    pub col_desc: String,
    pub note: String,
    /// Column labels turned vertical (many columns).
    pub vertical_cols: bool,
}

pub fn heatmap(h: &Heatmap) -> Result<String> {
    let cell_w: i32 = if h.vertical_cols { 30 } else { 84 };
    let cell_h: i32 = 22;
    let head: i32 = if h.vertical_cols { 110 } else { 34 };
    let left: i32 = 175;
    let (w, hgt) = (
        left + cell_w * h.cols.len() as i32 + 30,
        head + cell_h * h.rows.len() as i32 + 70,
    );
    // Wide enough for the title (about 12 px a character at its size).
    let title_w = 12 * h.title.chars().count() as i32 + 40;
    let size = (w.max(520).max(title_w) as u32, hgt as u32 + TITLE_H);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let body = titled(&root, &h.title)?;
        for (j, col) in h.cols.iter().enumerate() {
            let x = left + j as i32 * cell_w + cell_w / 2;
            let label = if h.vertical_cols {
                Text::new(
                    col.clone(),
                    (x, head - 6),
                    (FONT, TICK)
                        .into_font()
                        .color(&style::TEXT)
                        .transform(FontTransform::Rotate270)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                )
            } else {
                Text::new(
                    col.clone(),
                    (x, head - 8),
                    text_style(TICK, style::TEXT, HPos::Center, VPos::Bottom),
                )
            };
            body.draw(&label).map_err(e)?;
        }
        for (i, row) in h.rows.iter().enumerate() {
            let y = head + i as i32 * cell_h;
            body.draw(&Text::new(
                row.clone(),
                (left - 8, y + cell_h / 2),
                text_style(TICK, style::TEXT, HPos::Right, VPos::Center),
            ))
            .map_err(e)?;
            for j in 0..h.cols.len() {
                let x = left + j as i32 * cell_w;
                let text = h
                    .text
                    .get(i)
                    .and_then(|r| r.get(j))
                    .cloned()
                    .unwrap_or_default();
                let shade = h
                    .shade
                    .get(i)
                    .and_then(|r| r.get(j))
                    .copied()
                    .unwrap_or(f64::NAN);
                let fill = if text.is_empty() || !shade.is_finite() {
                    style::LIGHT_GREY
                } else {
                    style::viridis(shade)
                };
                body.draw(&Rectangle::new(
                    [(x, y), (x + cell_w - 1, y + cell_h - 1)],
                    fill.filled(),
                ))
                .map_err(e)?;
                if !text.is_empty() {
                    body.draw(&Text::new(
                        text,
                        (x + cell_w / 2, y + cell_h / 2),
                        text_style(
                            if h.vertical_cols { SMALL } else { TICK },
                            style::ink_on(fill),
                            HPos::Center,
                            VPos::Center,
                        ),
                    ))
                    .map_err(e)?;
                }
            }
        }
        let bottom = head + cell_h * h.rows.len() as i32;
        body.draw(&Text::new(
            format!("rows: {}; columns: {}", h.row_desc, h.col_desc),
            (10, bottom + 24),
            text_style(TICK, style::TEXT, HPos::Left, VPos::Center),
        ))
        .map_err(e)?;
        body.draw(&Text::new(
            h.note.clone(),
            (10, bottom + 46),
            text_style(TICK, style::GREY, HPos::Left, VPos::Center),
        ))
        .map_err(e)?;
        root.present().map_err(e)?;
    }
    Ok(svg)
}

/// A panel's title when there is nothing to draw (a figure still appears,
/// saying why, so that index pages never link to a missing file).
pub fn placeholder(title: &str, message: &str) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (700, 200)).into_drawing_area();
        let body = titled(&root, title)?;
        body.draw(&Text::new(
            message.to_string(),
            (350, 60),
            text_style(LABEL, style::GREY, HPos::Center, VPos::Center),
        ))
        .map_err(e)?;
        root.present().map_err(e)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_labels_distinct() {
        assert_eq!(nice_ticks(1.0), (0.2, 5));
        assert_eq!(nice_ticks(1274.0), (500.0, 3));
        assert_eq!(nice_ticks(722.0), (200.0, 4));
        assert_eq!(y_label(&0.0015), "1.5e-3");
        assert_eq!(y_label(&0.012), "0.0120");
        assert_eq!(y_label(&2.4), "2.40");
        assert_eq!(y_label(&0.45), "0.450");
        assert_eq!(y_label(&0.0), "0");
        assert_eq!(y_label(&5e-4), "5.0e-4");
        assert_eq!(
            wrap("best epoch (11, by val_loss)", 26),
            vec!["best epoch (11, by", "val_loss)"]
        );
    }
}

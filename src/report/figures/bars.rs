//! Bar charts: one group of horizontal bars per category, laid out by hand
//! on a plotters drawing area so that every label lands where it is meant
//! to.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::common::{e, legend, nice_step, text_style, titled, Key, Result, TITLE_H};
use crate::report::style::{self, LABEL, LEGEND_WIDTH, TICK};

/// Round tick steps (1, 2 or 5 × 10^k) covering [0, max]: (step, count).
fn nice_ticks(max: f64) -> (f64, usize) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let step = nice_step(max / 5.0);
    (step, (max / step).ceil() as usize)
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
    // Room for the longest category label (about 7 px a character).
    let longest = b
        .categories
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0) as i32;
    let (left, top, plot_w) = ((longest * 7 + 24).clamp(200, 480), 20i32, 620i32);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(nice_ticks(1.0), (0.2, 5));
        assert_eq!(nice_ticks(1274.0), (500.0, 3));
        assert_eq!(nice_ticks(722.0), (200.0, 4));
    }
}

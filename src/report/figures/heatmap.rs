//! Table-like heatmaps (confusion counts, genre × genre), cells shaded with
//! viridis and labelled, laid out by hand on a plotters drawing area.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::common::{e, text_style, titled, Result, TITLE_H};
use crate::report::style::{self, FONT, SMALL, TICK};

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

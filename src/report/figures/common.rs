//! What every kind of figure shares: the title row, the legend column,
//! text styles, wrapping, and the placeholder figure drawn when there is
//! nothing to show.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::style::{self, FONT, LABEL, TICK, TITLE};

pub type Result<T> = std::result::Result<T, String>;

pub(super) fn e(err: impl std::fmt::Display) -> String {
    format!("cannot draw: {err}")
}

pub(super) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// What a legend row shows.
#[derive(Debug, Clone)]
pub enum Key {
    Line {
        colour: RGBColor,
        dashed: bool,
    },
    Band {
        colour: RGBColor,
    },
    Mark {
        colour: RGBColor,
    },
    Box {
        colour: RGBColor,
    },
    /// A point: filled, or a ring.
    Point {
        colour: RGBColor,
        filled: bool,
    },
}

/// The round step (1, 2 or 5 × 10^k) at least `raw`: what every value
/// axis ticks by.
pub(super) fn nice_step(raw: f64) -> f64 {
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power)
}

/// Height of the figure's title row.
pub(super) const TITLE_H: u32 = 44;

pub(super) fn text_style(size: u32, colour: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    (FONT, size).into_font().color(&colour).pos(Pos::new(h, v))
}

/// Draws the figure title and returns the area below it.
pub(super) fn titled<'a>(root: &Area<'a>, title: &str) -> Result<Area<'a>> {
    root.fill(&WHITE).map_err(e)?;
    root.titled(title, (FONT, TITLE).into_font().color(&style::TEXT))
        .map_err(e)
}

pub(super) fn legend(area: &Area, entries: &[(String, Key)]) -> Result<()> {
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
            Key::Point { colour, filled } => {
                let centre = ((x0 + x1) / 2, mid);
                area.draw(&Circle::new(centre, 5, WHITE.filled()))
                    .map_err(e)?;
                let style = if *filled {
                    colour.filled()
                } else {
                    colour.stroke_width(2)
                };
                area.draw(&Circle::new(centre, 5, style)).map_err(e)?;
            }
            Key::Mark { colour } => {
                area.draw(&PathElement::new(
                    vec![((x0 + x1) / 2, y - 2), ((x0 + x1) / 2, y + 16)],
                    colour.stroke_width(2),
                ))
                .map_err(e)?;
            }
        }
        // Long labels wrap at 22 characters, on word boundaries: the most
        // the column holds at this size.
        for (i, line) in wrap(label, 22).into_iter().enumerate() {
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
    fn long_legend_labels_wrap_on_word_boundaries() {
        assert_eq!(
            wrap("best epoch (11, by val_loss)", 26),
            vec!["best epoch (11, by", "val_loss)"]
        );
    }
}

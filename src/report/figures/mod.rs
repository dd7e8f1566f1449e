//! The figures, as SVG text: line panels (learning curves, overlaid and
//! aggregated curves) through plotters' charts, and bar charts and heatmaps
//! laid out by hand on a plotters drawing area, so that every label lands
//! where it is meant to. Legends always get their own column; what the
//! three kinds share (the title, the legend, text styles, the placeholder
//! figure) is in `common`.

mod bars;
mod common;
mod forest;
mod heatmap;
mod lines;

pub use bars::{bars, BarSeries, Bars};
pub use common::{placeholder, Key, Result};
pub use forest::{forest, Forest, ForestPanel, ForestRow, Interval};
pub use heatmap::{heatmap, Heatmap};
pub use lines::{panels, Mark, Panel, Series, XAxis};

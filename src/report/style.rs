//! One look for every figure: sizes, fonts, the colour-blind-safe palette
//! (Okabe & Ito) and a perceptually uniform sequential map (viridis) for
//! heatmaps.

use plotters::style::RGBColor;

pub const FONT: &str = "sans-serif";
// plotters sizes (a line's height: the SVG font-size is about 0.65 of it).
pub const TITLE: u32 = 24;
pub const CAPTION: u32 = 20;
pub const LABEL: u32 = 18;
pub const TICK: u32 = 16;
pub const SMALL: u32 = 14;
// Font sizes in the hand-written gallery, in pixels.
pub const GALLERY_TITLE: u32 = 16;
pub const GALLERY_TEXT: u32 = 12;
pub const GALLERY_SMALL: u32 = 10;

/// Width of the legend column drawn beside a chart (never over the data).
pub const LEGEND_WIDTH: u32 = 230;

/// Okabe–Ito, without yellow (too light on white) and black (kept for text):
/// distinguishable with every common colour-vision deficiency.
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
];

pub const TRAIN: RGBColor = PALETTE[0];
pub const VAL: RGBColor = PALETTE[1];
pub const GREY: RGBColor = RGBColor(110, 110, 110);
pub const LIGHT_GREY: RGBColor = RGBColor(225, 225, 225);
pub const TEXT: RGBColor = RGBColor(20, 20, 20);
/// Hits and misses in the gallery (blue / vermillion: safe for red-green
/// colour blindness, unlike green / red).
pub const HIT: RGBColor = PALETTE[0];
pub const MISS: RGBColor = PALETTE[1];

/// The i-th series colour (cycling).
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

pub fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// Viridis at `t` in [0, 1] (linear between nine stops of the original).
pub fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 45, 123),
        (59, 82, 139),
        (44, 114, 142),
        (33, 145, 140),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Black or white, whichever reads better on `c`.
pub fn ink_on(c: RGBColor) -> RGBColor {
    let luma = 0.299 * c.0 as f64 + 0.587 * c.1 as f64 + 0.114 * c.2 as f64;
    if luma > 140.0 {
        TEXT
    } else {
        RGBColor(255, 255, 255)
    }
}

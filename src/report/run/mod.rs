//! One run's figures, in the order the index page shows them: the learning
//! curves, then, for a tested run, what its best checkpoint made of the
//! test split: per-genre scores and frequencies, F1 by threshold, the
//! confusion counts, what each genre is mistaken for, and the gallery.

mod curves;
pub(super) mod gallery;
mod genres;
mod tested;
mod threshold;

use self::gallery::Thumbnails;
use self::tested::Tested;
use super::load::RunData;

pub(super) use self::tested::status_line;

/// One run's figures: (file name under the output folder, SVG text).
pub(super) fn figures(
    d: &RunData,
    thumbnails: &Thumbnails,
) -> Result<Vec<(String, String)>, String> {
    let dir = d.folder();
    let file = |name: &str| format!("{dir}/{name}.svg");
    let mut out = vec![(file("curves"), curves::figure(d)?)];
    // Before the first epoch ends, the curves figure says why there is none.
    if d.epochs.is_empty() {
        return Ok(out);
    }
    let Some(test) = &d.test else {
        return Ok(out);
    };
    let t = Tested::new(d, test);
    out.push((file("genres"), genres::scores(&t)?));
    out.push((file("frequency"), genres::frequency(&t)?));
    out.push((file("threshold"), threshold::figure(&t)?));
    out.push((file("confusion"), genres::confusion(&t)?));
    out.push((file("genre-by-genre"), genres::mistaken_for(&t)?));
    out.push((file("gallery"), gallery::figure(&t, &d.images, thumbnails)));
    Ok(out)
}
